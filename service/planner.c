/* SPDX-License-Identifier: MIT */
/*
 * The planner's second half: the action ladder, the amount to free, the
 * kill cool-down and thawing. Apps and ranking are in planner-apps.c; the
 * rules are in planner.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-stall.h"
#include "macro.h"
#include "planner-internal.h"

void planner_params_default(PlannerParams *p)
{
        *p = (PlannerParams){
                .headroom_percent =
                        {
                                [LEVEL_NORMAL] = 20,
                                [LEVEL_ELEVATED] = 10,
                                [LEVEL_HIGH] = 10,
                                [LEVEL_CRITICAL] = 12,
                                [LEVEL_EMERGENCY] = 15,
                        },
                .fg_priority_drop = 25,
                .kill_cooldown_usec = 5 * USEC_PER_SEC,
                .grace_usec = 30 * USEC_PER_SEC,
                .thaw_cap = 2,
                .thaw_interval_usec = 5 * USEC_PER_SEC,
                .thaw_reserve_bytes = 64 * MIB,
                .checkpoint = false,
        };
}

const char *plan_action_to_string(PlanActionType t)
{
        static const char *const names[_PLAN_ACTION_MAX] = {
                [PLAN_THROTTLE] = "throttle",
                [PLAN_UNTHROTTLE] = "unthrottle",
                [PLAN_CAP] = "cap",
                [PLAN_UNCAP] = "uncap",
                [PLAN_FREEZE] = "freeze",
                [PLAN_THAW] = "thaw",
                [PLAN_CHECKPOINT] = "checkpoint",
                [PLAN_KILL] = "kill",
                [PLAN_RESTORE] = "restore",
        };
        return (unsigned)t < _PLAN_ACTION_MAX ? names[t] : NULL;
}

void plan_init(Plan *p)
{
        *p = (Plan){};
}

void plan_done(Plan *p)
{
        free(p->apps);
        free(p->members);
        free(p->actions);
        free(p->entries);
        free(p->order);
        rule_memo_done(&p->memo);
        plan_init(p);
}

static void *realloc_array(void *p, size_t n, size_t size)
{
        p = reallocarray(p, n, size);
        if (!p)
                abort(); /* out of memory is fatal */
        return p;
}

/* Grow the buffers to hold a table of n processes (only when it outgrows them). */
static void plan_reserve(Plan *p, size_t n)
{
        size_t c;

        if (n <= p->capacity && p->apps)
                return;
        c = MAX(MAX(n, p->capacity * 2), (size_t)64);
        p->apps = realloc_array(p->apps, c, sizeof(PlanApp));
        p->members = realloc_array(p->members, c, sizeof(size_t));
        /* At most three actions per app: thaw, uncap and unthrottle, or freeze/kill alone, or cap and
         * throttle. */
        p->actions = realloc_array(p->actions, c, 3 * sizeof(PlanAction));
        p->entries = realloc_array(p->entries, c, sizeof(PlanEntry));
        p->order = realloc_array(p->order, c, sizeof(size_t));
        p->capacity = c;
}

typedef struct Planning {
        const PlannerParams *params;
        const PlannerInput *in;
        Plan *plan;
        uint64_t target_bytes; /* MemAvailable to aim for at this level */
        size_t largest;        /* the app with the most reclaimable memory, or SIZE_MAX */
        bool largest_ungraced; /* at critical: the older apps could not cover the need */
} Planning;

_printf_(4, 5) static void plan_add(Planning *c, PlanActionType type, size_t app, const char *fmt, ...)
{
        Plan *plan = c->plan;
        PlanApp *a = &plan->apps[app];
        PlanAction *act = &plan->actions[plan->n_actions++];
        size_t n;
        va_list ap;
        int r;

        *act = (PlanAction){.type = type, .app = app};
        if (type == PLAN_KILL || type == PLAN_CHECKPOINT)
                act->expected_bytes = a->reclaim_bytes;
        plan->planned_bytes += act->expected_bytes;
        a->planned |= 1u << type;

        va_start(ap, fmt);
        r = vsnprintf(act->reason, sizeof(act->reason), fmt, ap);
        va_end(ap);
        n = r > 0 ? MIN((size_t)r, sizeof(act->reason) - 1) : 0;
        /* Then the app's own reason (rule and figures), as much as fits. */
        if (n + 3 < sizeof(act->reason)) {
                size_t m = MIN(strlen(a->reason), sizeof(act->reason) - n - 3);

                memcpy(act->reason + n, "; ", 2);
                memcpy(act->reason + n + 2, a->reason, m);
                act->reason[n + 2 + m] = '\0';
        }
}

static bool allows(const PlanApp *a, unsigned action)
{
        return (a->actions & action) != 0;
}

static const char *level_name(const Planning *c)
{
        return level_to_string(c->in->level);
}

/* Kill (or checkpoint) app k for the amount. */
static void plan_kill(Planning *c, size_t k, uint64_t need, bool force_one)
{
        const PlanApp *a = &c->plan->apps[k];
        bool checkpoint = allows(a, RULE_ACTION_CHECKPOINT) && c->params->checkpoint &&
                          (c->in->level < LEVEL_EMERGENCY || !allows(a, RULE_ACTION_KILL));
        PlanActionType t = checkpoint ? PLAN_CHECKPOINT : PLAN_KILL;

        if (force_one)
                plan_add(c, t, k,
                         "level %s: memory stalls although %llu MiB is available; %s returns ~%llu MiB",
                         level_name(c), mib(c->in->mem.mem_available), plan_action_to_string(t),
                         mib(a->reclaim_bytes));
        else
                plan_add(c, t, k,
                         "level %s: need %llu MiB for %u%% available; %s returns ~%llu MiB (%llu MiB "
                         "planned)",
                         level_name(c), mib(need), c->params->headroom_percent[c->in->level],
                         plan_action_to_string(t), mib(a->reclaim_bytes),
                         mib(c->plan->planned_bytes + a->reclaim_bytes));
}

/* The largest consumer among the apps that may be targeted at all. */
static size_t largest_app(const Plan *plan)
{
        size_t best = SIZE_MAX;

        for (size_t k = 0; k < plan->n_apps; k++)
                if (!plan->apps[k].never_why &&
                    (best == SIZE_MAX || plan->apps[k].reclaim_bytes > plan->apps[best].reclaim_bytes))
                        best = k;
        return best;
}

/* Young apps are not frozen or killed, but at emergency (or at critical when the
 * others cannot cover the need) the largest consumer loses its grace. */
static bool graced(const Planning *c, size_t k)
{
        return c->plan->apps[k].young &&
               !(k == c->largest && (c->in->level >= LEVEL_EMERGENCY || c->largest_ungraced));
}

/* The cgroup the stall comes from that app a has a process in; "" if unknown, NULL if none. */
static const char *app_in_stall(const Planning *c, const PlanApp *a)
{
        const ProcEntry *e = c->in->table->entries;

        if (!c->in->stall_cgroups)
                return "";
        for (size_t m = 0; m < a->n_members; m++) {
                const ProcEntry *p = &e[c->plan->members[a->first_member + m]];
                const char *where = cg_stall_match(c->in->stall_cgroups, p->cgroup);

                if (where)
                        return where;
        }
        return NULL;
}

/* May app k be killed for an amount (the filters of plan_kills' walk)? */
static bool killable(const Planning *c, size_t k, bool foreground_pass)
{
        const PlanApp *a = &c->plan->apps[k];

        return !a->never_why && priority_class(a->priority) >= PRIORITY_NORMAL && a->foreground == foreground_pass &&
               !graced(c, k) && allows(a, RULE_ACTION_KILL | RULE_ACTION_CHECKPOINT);
}

/*
 * Small kills make no difference: an app whose kill returns less than 1/64
 * of the need is skipped, unless all such small apps together could return
 * half of it (many small processes, a fork bomb split into apps). Otherwise
 * a large need that the big apps cannot meet (they are shielded, or memory
 * is locked away) is "met" by killing one small bystander after another.
 */
static uint64_t small_kill_floor(const Planning *c, uint64_t need)
{
        uint64_t floor = need / 64, small_total = 0;

        for (size_t k = 0; k < c->plan->n_apps; k++) {
                const PlanApp *a = &c->plan->apps[k];

                if (a->reclaim_bytes < floor && (killable(c, k, false) || killable(c, k, true)))
                        small_total += a->reclaim_bytes;
        }
        return small_total >= need / 2 ? 0 : floor;
}

/* At critical and emergency: kill in rank order until the expected return covers the need. */
static void plan_kills(Planning *c)
{
        const PlannerInput *in = c->in;
        Plan *plan = c->plan;
        uint64_t need = plan->need_bytes, covered = 0, small;
        bool force_one = need == 0, any = false;

        if (in->last_kill_usec && in->now_usec < in->last_kill_usec + c->params->kill_cooldown_usec) {
                plan->cooldown = true;
                if (in->level < LEVEL_EMERGENCY)
                        return;
                /* Only what the last kill will not cover. */
                need = need > in->last_kill_expected_bytes ? need - in->last_kill_expected_bytes : 0;
                force_one = false;
        }
        small = force_one ? 0 : small_kill_floor(c, need);
        /* The foreground app is the last resort, at emergency only. */
        for (int pass = 0; pass < (in->level >= LEVEL_EMERGENCY ? 2 : 1); pass++)
                for (size_t k = 0; k < plan->n_apps && (covered < need || (force_one && !any)); k++) {
                        PlanApp *a = &plan->apps[k];

                        if (!killable(c, k, pass == 1) || a->reclaim_bytes < small)
                                continue;
                        if (in->level < LEVEL_EMERGENCY && a->prefer_freeze &&
                            allows(a, RULE_ACTION_FREEZE)) {
                                /* Frozen rather than killed; this returns nothing, so go on. */
                                if (!(a->state & APP_FROZEN))
                                        a->planned |= 1u << PLAN_FREEZE;
                                continue;
                        }
                        /*
                         * Tasks stall although memory is available (thrashing page
                         * cache, a cgroup limit): killing returns little, stopping the
                         * load is what helps. Freeze the top app among those where the
                         * stall is (not the machine's largest app because a container
                         * thrashes against its own limit); kill only at emergency, once
                         * it is frozen already.
                         */
                        if (force_one && !app_in_stall(c, a))
                                continue;
                        if (force_one && allows(a, RULE_ACTION_FREEZE)) {
                                if (!(a->state & APP_FROZEN)) {
                                        a->planned |= 1u << PLAN_FREEZE;
                                        a->stall_freeze = true;
                                        any = true;
                                        continue;
                                }
                                if (in->level < LEVEL_EMERGENCY)
                                        continue;
                        }
                        plan_kill(c, k, need, force_one);
                        covered += a->reclaim_bytes;
                        any = true;
                }

        /*
         * Still short at critical: the largest consumer of all loses its grace
         * too, as it does at emergency. A just-started app that alone holds what
         * is needed (a fork swarm, a runaway) is stoppable while the machine
         * stalls; one that older apps can make room for keeps its grace.
         */
        if (!force_one && covered < need && in->level == LEVEL_CRITICAL && c->largest < plan->n_apps &&
            plan->apps[c->largest].young) {
                size_t k = c->largest;
                PlanApp *a = &plan->apps[k];

                c->largest_ungraced = true;
                if (killable(c, k, false) && a->reclaim_bytes >= small &&
                    !(a->planned & (1u << PLAN_KILL | 1u << PLAN_CHECKPOINT)) &&
                    !(a->prefer_freeze && allows(a, RULE_ACTION_FREEZE)))
                        plan_kill(c, k, need, false);
        }
}

/* Freeze, cap and throttle as the level calls for, for apps not killed. */
static void plan_growth_stops(Planning *c)
{
        Level l = c->in->level;

        for (size_t k = 0; k < c->plan->n_apps; k++) {
                PlanApp *a = &c->plan->apps[k];
                PriorityClass cls = priority_class(a->priority);

                if (a->never_why || a->foreground || cls == PRIORITY_NEVER ||
                    (a->planned & (1u << PLAN_KILL | 1u << PLAN_CHECKPOINT)))
                        continue;
                if (allows(a, RULE_ACTION_FREEZE) && !graced(c, k) && !(a->state & APP_FROZEN) &&
                    ((cls == PRIORITY_HEAVY && l >= LEVEL_HIGH) ||
                     (cls == PRIORITY_EXPENDABLE && l >= LEVEL_CRITICAL)))
                        a->planned |= 1u << PLAN_FREEZE;
                if ((a->state & APP_FROZEN) || (a->planned & (1u << PLAN_FREEZE)) ||
                    !allows(a, RULE_ACTION_THROTTLE))
                        continue;
                if (!(a->state & APP_CAPPED) && ((cls >= PRIORITY_EXPENDABLE && l >= LEVEL_HIGH) ||
                                                 (cls == PRIORITY_NORMAL && l >= LEVEL_CRITICAL)))
                        a->planned |= 1u << PLAN_CAP;
                if (!(a->state & APP_THROTTLED) && ((cls >= PRIORITY_EXPENDABLE && l >= LEVEL_ELEVATED) ||
                                                    (cls == PRIORITY_NORMAL && l >= LEVEL_HIGH) ||
                                                    (cls == PRIORITY_PROTECTED && l >= LEVEL_EMERGENCY)))
                        a->planned |= 1u << PLAN_THROTTLE;
        }
}

static void emit_growth_stops(Planning *c)
{
        static const PlanActionType order[] = {PLAN_FREEZE, PLAN_CAP, PLAN_THROTTLE};
        static const char *const what[] = {"freeze it to stop its growth", "cap its memory.high",
                                           "throttle it"};

        for (size_t o = 0; o < ELEMENTSOF(order); o++)
                for (size_t k = 0; k < c->plan->n_apps; k++) {
                        PlanApp *a = &c->plan->apps[k];

                        if (!(a->planned & (1u << order[o])))
                                continue;
                        a->planned &= ~(1u << order[o]); /* plan_add() sets it again */
                        if (order[o] == PLAN_FREEZE && a->stall_freeze) {
                                const char *where = app_in_stall(c, a);

                                plan_add(c, order[o], k,
                                         "level %s: memory stalls%s%s although %llu MiB is available: freeze "
                                         "the top app there to stop its load rather than kill it",
                                         level_name(c), where && *where ? " in " : "", where ? where : "",
                                         mib(c->in->mem.mem_available));
                        } else if (order[o] == PLAN_FREEZE && a->prefer_freeze && c->in->level == LEVEL_CRITICAL &&
                                 allows(a, RULE_ACTION_KILL))
                                plan_add(c, order[o], k,
                                         "level %s: frozen rather than killed (prefer-freeze)",
                                         level_name(c));
                        else
                                plan_add(c, order[o], k, "level %s: %s app, %s", level_name(c),
                                         priority_class_to_string(priority_class(a->priority)), what[o]);
                }
}

/* The foreground app is shielded: undo what was done to it (below critical). */
static void plan_foreground_undo(Planning *c)
{
        for (size_t k = 0; k < c->plan->n_apps; k++) {
                const PlanApp *a = &c->plan->apps[k];

                if (!a->foreground)
                        continue;
                if (a->state & APP_FROZEN)
                        plan_add(c, PLAN_THAW, k, "level %s: thaw the foreground app", level_name(c));
                if (a->state & APP_CAPPED)
                        plan_add(c, PLAN_UNCAP, k, "level %s: uncap the foreground app", level_name(c));
                if (a->state & APP_THROTTLED)
                        plan_add(c, PLAN_UNTHROTTLE, k, "level %s: unthrottle the foreground app",
                                 level_name(c));
        }
}

/* Thaw order: the foreground first, then the most important, then the longest frozen. */
static int thaw_cmp(const void *x, const void *y, void *userdata)
{
        const PlanApp *apps = userdata, *a = &apps[*(const size_t *)x], *b = &apps[*(const size_t *)y];

        if (a->foreground != b->foreground)
                return a->foreground ? -1 : 1;
        if (a->priority != b->priority)
                return a->priority < b->priority ? -1 : 1;
        if (a->frozen_since_usec != b->frozen_since_usec)
                return a->frozen_since_usec < b->frozen_since_usec ? -1 : 1;
        return (*(const size_t *)x > *(const size_t *)y) - (*(const size_t *)x < *(const size_t *)y);
}

/* Thaw frozen apps; returns MemAvailable once they are thawed, or 0 if a frozen app still waits. */
static uint64_t plan_thaws(Planning *c)
{
        const PlannerInput *in = c->in;
        Plan *plan = c->plan;
        uint64_t avail = in->mem.mem_available;
        bool batch_due =
                !in->last_thaw_usec || in->now_usec >= in->last_thaw_usec + c->params->thaw_interval_usec;
        size_t n = 0;
        unsigned thawed = 0;
        bool waiting = false;

        for (size_t k = 0; k < plan->n_apps; k++)
                if (plan->apps[k].state & APP_FROZEN)
                        plan->order[n++] = k;
        qsort_r(plan->order, n, sizeof(size_t), thaw_cmp, plan->apps);
        for (size_t i = 0; i < n; i++) {
                size_t k = plan->order[i];
                const PlanApp *a = &plan->apps[k];
                uint64_t cost = a->swap + c->params->thaw_reserve_bytes;

                if (a->foreground) {
                        plan_add(c, PLAN_THAW, k, "level normal: thaw the foreground app");
                        avail -= MIN(avail, cost);
                        continue;
                }
                /* Staggered, capped, and only while the headroom holds; never skip ahead. */
                if (!batch_due || thawed >= c->params->thaw_cap || avail < c->target_bytes + cost) {
                        waiting = true;
                        break;
                }
                avail -= cost;
                thawed++;
                plan_add(c, PLAN_THAW, k, "level normal: thaw, %llu MiB available after it, target %llu MiB",
                         mib(avail), mib(c->target_bytes));
        }
        for (size_t k = 0; k < plan->n_apps; k++)
                if (plan->apps[k].state & APP_CAPPED)
                        plan_add(c, PLAN_UNCAP, k, "level normal: uncap");
        for (size_t k = 0; k < plan->n_apps; k++)
                if (plan->apps[k].state & APP_THROTTLED)
                        plan_add(c, PLAN_UNTHROTTLE, k, "level normal: unthrottle");
        return waiting ? 0 : avail;
}

/* The checkpoint to restore first: the oldest (then the first listed). */
static size_t oldest_checkpoint(const PlannerInput *in)
{
        size_t best = SIZE_MAX;

        for (size_t i = 0; i < in->n_checkpoints; i++)
                if (best == SIZE_MAX || in->checkpoints[i].created < in->checkpoints[best].created)
                        best = i;
        return best;
}

/* After the thaws: restore one checkpointed app while the headroom holds. */
static void plan_restores(Planning *c, uint64_t avail)
{
        const PlannerInput *in = c->in;
        Plan *plan = c->plan;
        uint64_t cost;
        size_t i;

        if (avail == 0 || in->n_checkpoints == 0 || !in->checkpoints)
                return;
        if (in->last_restore_usec && in->now_usec < in->last_restore_usec + c->params->thaw_interval_usec)
                return;
        i = oldest_checkpoint(in);
        cost = in->checkpoints[i].bytes + c->params->thaw_reserve_bytes;
        if (avail < c->target_bytes + cost)
                return; /* the oldest first: never skip ahead */
        plan->restores[0].checkpoint = i;
        snprintf(plan->restores[0].id, sizeof(plan->restores[0].id), "%s", in->checkpoints[i].id);
        snprintf(plan->restores[0].reason, sizeof(plan->restores[0].reason),
                 "level normal: restore checkpoint %s, %llu MiB available after it, target %llu MiB",
                 in->checkpoints[i].id, mib(avail - cost), mib(c->target_bytes));
        plan->n_restores = 1;
}

int planner_plan(const PlannerParams *params, const PlannerInput *in, Plan *plan)
{
        Planning c = {.params = params, .in = in, .plan = plan};

        if (!params || !in || !in->table || !plan || in->level < 0 || in->level >= _LEVEL_MAX)
                return -EINVAL;
        if (in->mem.mem_available > in->mem.mem_total || params->headroom_percent[in->level] > 100)
                return -EINVAL;

        plan_reserve(plan, in->table->n);
        plan->level = in->level;
        plan->n_apps = plan->n_actions = plan->n_restores = 0;
        plan->planned_bytes = 0;
        plan->cooldown = false;
        c.target_bytes = in->mem.mem_total / 100 * params->headroom_percent[in->level] +
                         in->mem.mem_total % 100 * params->headroom_percent[in->level] / 100;
        plan->need_bytes =
                c.target_bytes > in->mem.mem_available ? c.target_bytes - in->mem.mem_available : 0;

        planner_build_apps(params, in, plan);

        if (in->level == LEVEL_NORMAL) {
                plan_restores(&c, plan_thaws(&c));
                return 0;
        }
        if (in->level < LEVEL_CRITICAL)
                plan_foreground_undo(&c);
        c.largest = largest_app(plan);
        if (in->level >= LEVEL_CRITICAL)
                plan_kills(&c);
        plan_growth_stops(&c);
        emit_growth_stops(&c);
        return 0;
}
