/* SPDX-License-Identifier: MIT */
/*
 * The planner's first half: grouping processes into apps, judging each app
 * (rules, never-target list, foreground, grace, what was already done to it)
 * and ranking them. The rules are in planner.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "planner-internal.h"

/* Processes that make a unit a terminal's session (interactive shells and multiplexers). */
static const char *const session_comms[] = {
        "bash",  "zsh",    "fish",         "ksh",          "mksh",   "tcsh",   "csh",    "nu",
        "xonsh", "elvish", "tmux: server", "tmux: client", "screen", "SCREEN", "zellij",
};

static bool is_session_comm(const char *comm)
{
        for (size_t i = 0; i < ELEMENTSOF(session_comms); i++)
                if (strcmp(comm, session_comms[i]) == 0)
                        return true;
        return false;
}

bool app_key_equal(const AppKey *a, const AppKey *b)
{
        if (!a->cgroup != !b->cgroup)
                return false;
        if (a->cgroup)
                return a->cgroup_len == b->cgroup_len && memcmp(a->cgroup, b->cgroup, a->cgroup_len) == 0;
        return a->pid == b->pid && a->start_time == b->start_time;
}

int app_key_to_string(const AppKey *k, char *buf, size_t size)
{
        int n;

        if (k->cgroup)
                n = snprintf(buf, size, "cgroup:%.*s", (int)MIN(k->cgroup_len, (size_t)INT_MAX), k->cgroup);
        else
                n = snprintf(buf, size, "pid:%d@%" PRIu64, (int)k->pid, k->start_time);
        if (n < 0 || (size_t)n >= size)
                return -ENAMETOOLONG;
        return n;
}

typedef struct SortContext {
        const ProcEntry *e;
        const PlanEntry *pe;
} SortContext;

static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb)
{
        int r = memcmp(a, b, MIN(na, nb));
        return r != 0 ? r : (na > nb) - (na < nb);
}

/* Order table indices by app unit (units first, by cgroup), then by pid. */
static int entry_cmp(const void *x, const void *y, void *userdata)
{
        const SortContext *c = userdata;
        size_t i = *(const size_t *)x, j = *(const size_t *)y;
        size_t li = c->pe[i].unit_len, lj = c->pe[j].unit_len;

        if (!li != !lj)
                return li ? -1 : 1;
        if (li) {
                int r = cmp_bytes(c->e[i].cgroup, li, c->e[j].cgroup, lj);
                if (r != 0)
                        return r;
        }
        return (c->e[i].pid > c->e[j].pid) - (c->e[i].pid < c->e[j].pid);
}

static bool same_unit(const ProcEntry *e, const PlanEntry *pe, size_t i, size_t j)
{
        return pe[i].unit_len && pe[i].unit_len == pe[j].unit_len &&
               memcmp(e[i].cgroup, e[j].cgroup, pe[i].unit_len) == 0;
}

static PlanApp *app_new(Plan *plan, size_t *n_members)
{
        PlanApp *a = &plan->apps[plan->n_apps++];

        *a = (PlanApp){.first_member = *n_members};
        return a;
}

static void app_add(Plan *plan, PlanApp *a, size_t *n_members, size_t idx)
{
        plan->members[(*n_members)++] = idx;
        a->n_members++;
}

/* Does the process belong to its unit's whole-app unit (rather than being acted on alone)? */
static bool in_whole_app(const PlanEntry *pe, bool session)
{
        return pe->unit_len && !session && !pe->match.split;
}

/* Split the sorted entries into apps (members stay in pid order). */
static void group_apps(const PlannerInput *in, Plan *plan, size_t m)
{
        const ProcEntry *e = in->table->entries;
        PlanEntry *pe = plan->entries;
        size_t n_members = 0;

        for (size_t s = 0, t; s < m; s = t) {
                const char *never = NULL;
                bool session = false;
                PlanApp *whole = NULL;

                for (t = s + 1; t < m && same_unit(e, pe, plan->order[s], plan->order[t]); t++)
                        ;
                for (size_t k = s; k < t; k++) {
                        size_t i = plan->order[k];
                        session = session || (pe[i].unit_len && is_session_comm(e[i].comm));
                        never = never ? never : pe[i].never;
                }
                /* First the unit as one app (its members contiguous), then the processes acted on alone. */
                for (size_t k = s; k < t; k++) {
                        size_t i = plan->order[k];

                        if (!in_whole_app(&pe[i], session))
                                continue;
                        if (!whole) {
                                whole = app_new(plan, &n_members);
                                whole->key = (AppKey){.cgroup = e[i].cgroup, .cgroup_len = pe[i].unit_len};
                                /* A cgroup kill would take every process of the unit. */
                                whole->never_why = never;
                        }
                        app_add(plan, whole, &n_members, i);
                }
                for (size_t k = s; k < t; k++) {
                        size_t i = plan->order[k];
                        PlanApp *a;

                        if (in_whole_app(&pe[i], session))
                                continue;
                        a = app_new(plan, &n_members);
                        a->key = (AppKey){.pid = e[i].pid, .start_time = e[i].start_time};
                        a->split = pe[i].unit_len && !session;
                        a->never_why = pe[i].never;
                        app_add(plan, a, &n_members, i);
                }
        }
}

/* Is the path (len bytes) `top` itself or below it? */
static bool path_within(const char *path, size_t len, const char *top, size_t top_len)
{
        return top_len <= len && memcmp(path, top, top_len) == 0 && (top_len == len || path[top_len] == '/');
}

static bool app_is_foreground(const PlannerForeground *fg, const ProcEntry *e, const PlanApp *a,
                              const size_t *members)
{
        const char *fgc = fg->cgroup;
        size_t fgl = fgc ? strlen(fgc) : 0;

        while (fgl > 0 && fgc[fgl - 1] == '/')
                fgl--;
        /* A cgroup hint of "/" would shield the whole machine: ignore it. */
        if (fgl == 0)
                fgc = NULL;

        /* The app lies in the hinted cgroup (the unit itself, or a slice above it), or the hint
         * names a cgroup inside the app's unit. */
        if (fgc && a->key.cgroup &&
            (path_within(a->key.cgroup, a->key.cgroup_len, fgc, fgl) ||
             path_within(fgc, fgl, a->key.cgroup, a->key.cgroup_len)))
                return true;
        for (size_t k = 0; k < a->n_members; k++) {
                const ProcEntry *p = &e[members[a->first_member + k]];

                if (fgc && !a->key.cgroup && p->cgroup &&
                    path_within(p->cgroup, strlen(p->cgroup), fgc, fgl))
                        return true;
                if (fg->app_id && p->app_id && strcmp(fg->app_id, p->app_id) == 0)
                        return true;
                for (size_t j = 0; j < fg->n_pids; j++)
                        if (fg->pids[j] == p->pid)
                                return true;
        }
        return false;
}

/* When a process started, in microseconds since boot. */
static uint64_t start_usec(const ProcEntry *e, unsigned clk_tck)
{
        unsigned tck = clk_tck ? clk_tck : 100;

        return e->start_time / tck * USEC_PER_SEC + e->start_time % tck * USEC_PER_SEC / tck;
}

static void app_judge(const PlannerParams *params, const PlannerInput *in, Plan *plan, PlanApp *a)
{
        const ProcEntry *e = in->table->entries;
        const PlanEntry *pe = plan->entries;
        uint64_t started;

        a->actions = RULE_ACTIONS_ALL;
        for (size_t k = 0; k < a->n_members; k++) {
                size_t i = plan->members[a->first_member + k];
                const ProcEntry *p = &e[i];
                const RuleMatch *m = &pe[i].match;

                a->rss_anon += p->rss_anon;
                a->rss_file += p->rss_file;
                a->rss_shmem += p->rss_shmem;
                a->swap += p->swap;
                if (k == 0 || p->oom_score > a->oom_score)
                        a->oom_score = p->oom_score;
                if (k == 0 || p->start_time < e[a->leader].start_time ||
                    (p->start_time == e[a->leader].start_time && p->pid < e[a->leader].pid))
                        a->leader = i;
                /* As safe as its safest process. */
                if (k == 0 || m->priority < a->base_priority) {
                        a->base_priority = m->priority;
                        a->rule = m->rule;
                }
                a->actions &= m->actions;
                a->prefer_freeze = a->prefer_freeze || m->prefer_freeze;
        }
        /* A lone process's shared memory usually outlives it. */
        a->reclaim_bytes = a->rss_anon + a->swap + (a->key.cgroup ? a->rss_shmem : 0);

        a->foreground = in->foreground && app_is_foreground(in->foreground, e, a, plan->members);
        a->priority = a->base_priority;
        if (a->foreground)
                a->priority = MAX(0, a->base_priority - params->fg_priority_drop);
        if (a->never_why)
                a->priority = 0;

        started = start_usec(&e[a->leader], in->clk_tck);
        a->young = in->now_usec < started + params->grace_usec;

        for (size_t s = 0; s < in->n_states; s++)
                if (app_key_equal(&in->states[s].key, &a->key)) {
                        a->state = in->states[s].flags;
                        a->frozen_since_usec = in->states[s].frozen_since_usec;
                        break;
                }
}

/* Appending to a reason without printf: formatting 10,000 apps' reasons with
 * snprintf cost a seventh of the planner's time. Output cut at the end. */
typedef struct Out {
        char *p, *end; /* end: the last byte, kept for the NUL */
} Out;

static void out_str(Out *o, const char *s)
{
        while (*s && o->p < o->end)
                *o->p++ = *s++;
        *o->p = 0;
}

static void out_int(Out *o, long long v)
{
        char tmp[24];
        size_t n = 0;
        unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

        do
                tmp[n++] = (char)('0' + u % 10);
        while ((u /= 10) > 0);
        if (v < 0)
                tmp[n++] = '-';
        while (n > 0 && o->p < o->end)
                *o->p++ = tmp[--n];
        *o->p = 0;
}

static void app_format_reason(const PlannerInput *in, PlanApp *a)
{
        Out o = { a->reason, a->reason + sizeof(a->reason) - 1 };
        uint64_t started = start_usec(&in->table->entries[a->leader], in->clk_tck);

        *o.p = 0;
        if (a->never_why) {
                out_str(&o, "never targeted: ");
                out_str(&o, a->never_why);
                out_str(&o, "; ");
        }
        out_str(&o, "rule ");
        out_str(&o, a->rule);
        out_str(&o, " priority ");
        out_int(&o, a->base_priority);
        if (a->foreground && !a->never_why) {
                out_str(&o, " (foreground: ");
                out_int(&o, a->priority);
                out_str(&o, ")");
        }
        out_str(&o, ", ");
        out_int(&o, (long long)mib(a->reclaim_bytes - a->swap));
        out_str(&o, a->key.cgroup ? " MiB anon+shmem + " : " MiB anon + ");
        out_int(&o, (long long)mib(a->swap));
        out_str(&o, " MiB swap");
        if (a->n_members > 1) {
                out_str(&o, ", ");
                out_int(&o, (long long)a->n_members);
                out_str(&o, " processes");
        }
        if (a->young) {
                out_str(&o, ", started ");
                out_int(&o, (long long)((in->now_usec - MIN(in->now_usec, started)) / USEC_PER_SEC));
                out_str(&o, " s ago");
        }
}

/* Most expendable first: priority, reclaimable memory, oom_score, then the oldest process's pid. */
static int app_rank_cmp(const void *x, const void *y, void *userdata)
{
        const PlanApp *a = x, *b = y;
        const ProcEntry *e = userdata;

        if (a->priority != b->priority)
                return a->priority > b->priority ? -1 : 1;
        if (a->reclaim_bytes != b->reclaim_bytes)
                return a->reclaim_bytes > b->reclaim_bytes ? -1 : 1;
        if (a->oom_score != b->oom_score)
                return a->oom_score > b->oom_score ? -1 : 1;
        return (e[a->leader].pid > e[b->leader].pid) - (e[a->leader].pid < e[b->leader].pid);
}

void planner_build_apps(const PlannerParams *params, const PlannerInput *in, Plan *plan)
{
        const ProcTable *t = in->table;
        SortContext sc = {.e = t->entries, .pe = plan->entries};
        size_t m = 0;

        rule_memo_reset(&plan->memo, in->rules);
        for (size_t i = 0; i < t->n; i++) {
                const ProcEntry *e = &t->entries[i];
                PlanEntry *pe = &plan->entries[i];

                /* Kernel threads hold no memory to return and are never targets: leave them out. */
                if (e->kthread || e->pid == 2 || e->ppid == 2)
                        continue;
                *pe = (PlanEntry){};
                rules_match_memo(in->rules, e, &plan->memo, &pe->match);
                (void)rules_never_target(in->rules, e, in->never, &pe->never);
                (void)rules_cgroup_app_unit(e->cgroup, &pe->unit_len);
                plan->order[m++] = i;
        }
        qsort_r(plan->order, m, sizeof(size_t), entry_cmp, &sc);
        group_apps(in, plan, m);
        for (size_t k = 0; k < plan->n_apps; k++)
                app_judge(params, in, plan, &plan->apps[k]);
        qsort_r(plan->apps, plan->n_apps, sizeof(PlanApp), app_rank_cmp, (void *)t->entries);
        for (size_t k = 0; k < plan->n_apps; k++)
                app_format_reason(in, &plan->apps[k]);
}

int plan_get_candidate(const Plan *p, const ProcTable *t, size_t rank, PlanCandidate *ret)
{
        const PlanApp *a;
        const ProcEntry *e;

        if (rank >= p->n_apps)
                return -ERANGE;
        a = &p->apps[rank];
        if (a->leader >= t->n)
                return -EINVAL;
        e = &t->entries[a->leader];
        *ret = (PlanCandidate){
                .pid = e->pid,
                .comm = e->comm,
                .exe = e->exe,
                .uid = e->uid,
                .unit = e->unit,
                .n_processes = a->n_members,
                .rss_bytes = a->rss_anon + a->rss_file + a->rss_shmem,
                .swap_bytes = a->swap,
                .reclaim_bytes = a->reclaim_bytes,
                .priority = a->priority,
                .protected = a->never_why || priority_class(a->priority) < PRIORITY_NORMAL,
                .foreground = a->foreground,
                .reason = a->reason,
        };
        return 0;
}
