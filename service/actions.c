/* SPDX-License-Identifier: MIT */
/*
 * Carrying out a plan. Each PlanAction becomes one call into the freezer,
 * the killer or the cgroup controls, and one ActionRecord for the notify
 * callback. What was done is tracked per app (by its key) so that it can be
 * undone: thaw, unthrottle, uncap; everything at once on a clean stop.
 *
 * Throttling and capping need a cgroup that holds only the app and has the
 * controller enabled; where it does not (a single process, a hybrid cgroup
 * setup), the action is reported unavailable (-EOPNOTSUPP) once per app and
 * skipped, never pretended.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/pidfd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "time-util.h"
#include "actions.h"
#include "cgroup-ctl.h"
#include "checkpointer.h"
#include "zram.h"
#include "freezer.h"
#include "killer.h"
#include "log.h"
#include "macro.h"

#define ACTOR_MAX_PROCS 4096
#define THROTTLE_WEIGHT 10      /* cpu.weight of a throttled app (default 100) */
#define THROTTLE_QUOTA_PCT 50   /* cpu.max: half a CPU */
#define CAP_MIN_BYTES (64u << 20)
#define ZRAM_COMPACT_INTERVAL_USEC (60 * USEC_PER_SEC)
#define DRY_RUN_REPEAT_USEC (30 * USEC_PER_SEC)

typedef struct Tracked {
        char key[KILLER_KEY_MAX]; /* app_key_to_string() */
        char *cgroup;             /* the unit's cgroup path (relative to the v2 mount), or NULL */
        pid_t pid;
        uint64_t start_time;
        unsigned flags;           /* AppStateFlags */
        unsigned unavailable;     /* 1 << PlanActionType already reported unavailable */
        uint64_t frozen_since_boot;
        CgctlSaved saved;
} Tracked;

struct Actor {
        ActorOptions opts;
        actor_notify_t notify;
        void *userdata;

        Freezer *freezer;
        Killer *killer;

        Tracked *tracked;
        size_t n_tracked, allocated;
        AppState *states; /* view for the planner, rebuilt by actor_states() */

        const ProcEntry **procs; /* scratch: the members of one app */
        char cgroup_buf[4096];   /* scratch: an app's absolute cgroup path */

        uint64_t last_kill_usec, last_kill_bytes, last_thaw_usec, last_restore_usec;

        /* Dry run: nothing changes, so the same plan comes back every cycle;
         * report each (action, app) once per DRY_RUN_REPEAT_USEC. */
        struct {
                uint64_t hash, at;
        } dry_seen[64];
        unsigned dry_next;
        uint64_t last_zram_compact;
        DropCacheLimit drop_limit;
};

static Tracked *tracked_find(Actor *a, const char *key)
{
        for (size_t i = 0; i < a->n_tracked; i++)
                if (strcmp(a->tracked[i].key, key) == 0)
                        return &a->tracked[i];
        return NULL;
}

static Tracked *tracked_get(Actor *a, const char *key, const AppKey *k)
{
        Tracked *t = tracked_find(a, key);

        if (t)
                return t;
        if (a->n_tracked == a->allocated) {
                size_t n = MAX(a->allocated * 2, 16);
                Tracked *nt = realloc(a->tracked, n * sizeof(*nt));
                AppState *ns = realloc(a->states, n * sizeof(*ns));
                if (!nt || !ns)
                        abort();
                a->tracked = nt;
                a->states = ns;
                a->allocated = n;
        }
        t = &a->tracked[a->n_tracked++];
        *t = (Tracked){ .pid = k->pid, .start_time = k->start_time };
        snprintf(t->key, sizeof(t->key), "%s", key);
        if (k->cgroup)
                t->cgroup = strndup(k->cgroup, k->cgroup_len);
        return t;
}

static void tracked_drop_if_idle(Actor *a, Tracked *t)
{
        size_t i = (size_t)(t - a->tracked);

        if (t->flags != 0)
                return;
        free(t->cgroup);
        a->tracked[i] = a->tracked[--a->n_tracked];
}

/* Absolute path of an app's cgroup in the actor's scratch buffer, or NULL. */
static const char *app_cgroup_path(Actor *a, const char *cgroup, size_t len)
{
        if (!cgroup || !a->opts.v2_mount)
                return NULL;
        if ((size_t)snprintf(a->cgroup_buf, sizeof(a->cgroup_buf), "%s%.*s", a->opts.v2_mount, (int)len, cgroup) >=
            sizeof(a->cgroup_buf))
                return NULL;
        return a->cgroup_buf;
}

static void fill_record(ActionRecord *rec, const Plan *plan, const ProcTable *table, const PlanAction *act)
{
        const PlanApp *app = &plan->apps[act->app];
        const ProcEntry *e = &table->entries[app->leader];

        *rec = (ActionRecord){
                .type = act->type,
                .action = plan_action_to_string(act->type),
                .pid = e->pid,
                .uid = e->uid,
                .name = e->app_id ? e->app_id : e->unit ? e->unit : e->comm,
                .comm = e->comm,
                .unit = e->unit,
                .reason = act->reason,
                .expected_bytes = act->expected_bytes,
                .rss_bytes = app->rss_anon + app->rss_file + app->rss_shmem,
                .swap_bytes = app->swap,
                .level = plan->level,
        };
}

typedef struct KillContext {
        Actor *actor;
        ActionRecord rec;
        char name[256], comm[PROC_COMM_MAX], unit[256], reason[PLAN_REASON_MAX];
} KillContext;

static void on_kill_done(void *userdata, const KillResult *r)
{
        KillContext *kc = userdata;
        char detail[160];

        snprintf(detail, sizeof(detail), "exited after TERM %u, killed %u, still present %u, skipped %u%s, %" PRIu64 " ms",
                 r->count[KILL_PROC_EXITED_TERM], r->count[KILL_PROC_KILLED], r->count[KILL_PROC_PRESENT],
                 r->count[KILL_PROC_SKIPPED], r->cgroup_killed ? ", cgroup.kill" : "",
                 r->total_usec / USEC_PER_MSEC);
        kc->rec.action = "kill-result";
        kc->rec.result = r->cancelled ? -ECANCELED : r->count[KILL_PROC_PRESENT] > 0 ? -EBUSY : 0;
        kc->rec.detail = detail;
        kc->rec.trigger_to_action_usec = 0;
        kc->actor->notify(kc->actor->userdata, &kc->rec);
        free(kc);
}

/* Kill an app through the killer; `procs` are its processes (the killer dups their pidfds). */
static int kill_app(Actor *a, Level level, const char *key, const char *cgroup, const ProcEntry *const *procs,
                    size_t n, uint64_t reclaim_bytes, ActionRecord *rec, uint64_t now_boot)
{
        uint64_t deadline = a->opts.term_deadline_usec[level];
        KillContext *kc;
        Tracked *t;
        int r;

        /* A frozen app cannot handle SIGTERM: thaw its registry entry and kill at once. */
        t = tracked_find(a, key);
        if (t && (t->flags & APP_FROZEN)) {
                (void)freezer_thaw(a->freezer, key);
                t->flags &= ~APP_FROZEN;
                deadline = 0;
        }

        kc = xmalloc0(sizeof(*kc));
        kc->actor = a;
        kc->rec = *rec;
        snprintf(kc->name, sizeof(kc->name), "%s", rec->name);
        snprintf(kc->comm, sizeof(kc->comm), "%s", rec->comm);
        snprintf(kc->unit, sizeof(kc->unit), "%s", strempty(rec->unit));
        snprintf(kc->reason, sizeof(kc->reason), "%s", rec->reason);
        kc->rec.name = kc->name;
        kc->rec.comm = kc->comm;
        kc->rec.unit = rec->unit ? kc->unit : NULL;
        kc->rec.reason = kc->reason;
        kc->rec.detail = NULL;

        /* The killer's slots hold KILLER_DEFAULT_MAX_PROCS processes; a whole-app kill's
         * cgroup.kill takes the rest, and a bigger process-by-process app is cut down. */
        if (n > KILLER_DEFAULT_MAX_PROCS)
                n = KILLER_DEFAULT_MAX_PROCS;
        r = killer_kill_app(a->killer, key, rec->name, cgroup, procs, n, deadline, on_kill_done, kc);
        if (r < 0) {
                free(kc);
                return r;
        }
        a->last_kill_usec = now_boot;
        a->last_kill_bytes = reclaim_bytes;
        return 0;
}

/* ---- checkpoints ---- */

/* What a checkpoint needs to fall back to a kill when criu ends: the table will have moved on. */
typedef struct CheckpointContext {
        Actor *actor;
        ActionRecord rec;
        char name[256], comm[PROC_COMM_MAX], unit[256], reason[PLAN_REASON_MAX];
        char key[KILLER_KEY_MAX];
        char cgroup[4096];
        bool has_cgroup;
        Level level;
        uint64_t reclaim_bytes;
        size_t n;
        ProcEntry *procs;          /* copies: pid, start_time, comm, kthread and a dup of the pidfd */
        const ProcEntry **pointers;
} CheckpointContext;

static CheckpointContext *checkpoint_context_free(CheckpointContext *cc)
{
        if (!cc)
                return NULL;
        for (size_t i = 0; i < cc->n; i++)
                safe_close(cc->procs[i].pidfd);
        free(cc->procs);
        free(cc->pointers);
        free(cc);
        return NULL;
}

static CheckpointContext *checkpoint_context_new(Actor *a, const ActionRecord *rec, Level level, const char *key,
                                                 const char *cgroup, size_t n, uint64_t reclaim_bytes)
{
        CheckpointContext *cc = xmalloc0(sizeof(*cc));

        cc->actor = a;
        cc->rec = *rec;
        snprintf(cc->name, sizeof(cc->name), "%s", rec->name);
        snprintf(cc->comm, sizeof(cc->comm), "%s", rec->comm);
        snprintf(cc->unit, sizeof(cc->unit), "%s", strempty(rec->unit));
        snprintf(cc->reason, sizeof(cc->reason), "%s", rec->reason);
        cc->rec.name = cc->name;
        cc->rec.comm = cc->comm;
        cc->rec.unit = rec->unit ? cc->unit : NULL;
        cc->rec.reason = cc->reason;
        snprintf(cc->key, sizeof(cc->key), "%s", key);
        cc->has_cgroup = cgroup && strlen(cgroup) < sizeof(cc->cgroup);
        if (cc->has_cgroup)
                snprintf(cc->cgroup, sizeof(cc->cgroup), "%s", cgroup);
        cc->level = level;
        cc->reclaim_bytes = reclaim_bytes;
        cc->procs = xmalloc0(MAX(n, (size_t)1) * sizeof(ProcEntry));
        cc->pointers = xmalloc0(MAX(n, (size_t)1) * sizeof(ProcEntry *));
        for (size_t i = 0; i < n; i++) {
                const ProcEntry *e = a->procs[i];
                ProcEntry *c = &cc->procs[i];

                *c = (ProcEntry){.pid = e->pid, .ppid = e->ppid, .uid = e->uid, .start_time = e->start_time,
                                 .kthread = e->kthread, .pidfd = -1, .pid_ino = e->pid_ino};
                memcpy(c->comm, e->comm, sizeof(c->comm));
                if (e->pidfd >= 0)
                        c->pidfd = fcntl(e->pidfd, F_DUPFD_CLOEXEC, 3);
                cc->pointers[i] = c;
                cc->n++;
        }
        return cc;
}

/* The checkpoint could not be made: say so, then kill the app through the ordinary kill path. */
static int checkpoint_fall_back(Actor *a, ActionRecord *rec, Level level, const char *key, const char *cgroup,
                                const ProcEntry *const *procs, size_t n, uint64_t reclaim_bytes, int error,
                                const char *why, uint64_t now_boot)
{
        char detail[PLAN_REASON_MAX + 64], reason[PLAN_REASON_MAX];
        ActionRecord kill = *rec;
        int r;

        snprintf(detail, sizeof(detail), "%s, killing instead", why);
        rec->result = error;
        rec->detail = detail;
        a->notify(a->userdata, rec);

        snprintf(reason, sizeof(reason), "%s; instead of a checkpoint", strempty(rec->reason));
        kill.type = PLAN_KILL;
        kill.action = "kill";
        kill.reason = reason;
        kill.detail = NULL;
        kill.result = 0;
        if (killer_is_killing(a->killer, key))
                return -EALREADY;
        r = kill_app(a, level, key, cgroup, procs, n, reclaim_bytes, &kill, now_boot);
        kill.result = r;
        a->notify(a->userdata, &kill);
        return r;
}

static void on_checkpoint_done(void *userdata, const CheckpointResult *res)
{
        CheckpointContext *cc = userdata;
        Actor *a = cc->actor;
        char detail[PLAN_REASON_MAX + 200], why[PLAN_REASON_MAX + 64];

        cc->rec.action = "checkpoint-result";
        cc->rec.trigger_to_action_usec = 0;
        if (res->result >= 0) {
                snprintf(detail, sizeof(detail), "%s, %" PRIu64 " MiB of images in %s, %" PRIu64 " ms", res->id,
                         res->image_bytes >> 20, res->dir, res->duration_usec / USEC_PER_MSEC);
                cc->rec.result = 0;
                cc->rec.detail = detail;
                a->notify(a->userdata, &cc->rec);
        } else {
                snprintf(why, sizeof(why), "checkpoint failed (%s)", res->summary);
                (void)checkpoint_fall_back(a, &cc->rec, cc->level, cc->key, cc->has_cgroup ? cc->cgroup : NULL,
                                           cc->pointers, cc->n, cc->reclaim_bytes, res->result, why,
                                           clock_usec(CLOCK_BOOTTIME));
        }
        checkpoint_context_free(cc);
}

/* Start a dump; on failure return why in `why` (the caller falls back to a kill). */
static int do_checkpoint(Actor *a, const Plan *plan, const ProcTable *table, const PlanApp *app, const char *key,
                         const char *cgroup, size_t n, ActionRecord *rec, uint64_t now_boot, char *why,
                         size_t why_size)
{
        const ProcEntry *leader = &table->entries[app->leader];
        _cleanup_close_ int pidfd = -1;
        CheckpointContext *cc;
        CheckpointRequest req;
        const char *reason;
        int r;

        if (!a->opts.checkpointer) {
                snprintf(why, why_size, "checkpoint unavailable (no checkpoint directory)");
                return -EOPNOTSUPP;
        }
        r = checkpointer_available(a->opts.checkpointer, &reason);
        if (r <= 0) {
                snprintf(why, why_size, "checkpoint unavailable (%s)", reason);
                return r == -EAGAIN ? -EAGAIN : -EOPNOTSUPP;
        }
        r = checkpoint_app_dumpable(a->procs, n, leader->pid);
        if (r < 0) {
                snprintf(why, why_size, "checkpoint unavailable (%s)",
                         r == -E2BIG    ? "more processes than criu is asked to dump"
                         : r == -EXDEV ? "its processes are not one process tree"
                                        : "no root process");
                return r;
        }
        /* The entry's pidfd, or one checked against its pid_ino or start time. */
        pidfd = proc_entry_open_pidfd(a->opts.procfd, leader);
        if (pidfd < 0 && pidfd != -ENOSYS) {
                snprintf(why, why_size, "checkpoint failed to start (the process is gone)");
                return -ESRCH;
        }
        req = (CheckpointRequest){
                .key = key,
                .name = rec->name,
                .pid = leader->pid,
                .pidfd = pidfd,
                .uid = leader->uid,
                .exe = leader->exe,
                .cmdline = leader->cmdline,
                .bytes = app->reclaim_bytes,
        };
        cc = checkpoint_context_new(a, rec, plan->level, key, cgroup, n, app->reclaim_bytes);
        r = checkpointer_dump(a->opts.checkpointer, &req, on_checkpoint_done, cc);
        if (r < 0) {
                checkpoint_context_free(cc);
                snprintf(why, why_size, "checkpoint failed to start (%s)",
                         r == -ESRCH ? "the process is gone" : STRERROR(r));
                return r;
        }
        /* The app is stopped by criu from now on; count it like a kill for the cool-down. */
        a->last_kill_usec = now_boot;
        a->last_kill_bytes = app->reclaim_bytes;
        return 0;
}

/* ---- restores ---- */

typedef struct RestoreContext {
        Actor *actor;
        ActionRecord rec;
        char name[256], reason[PLAN_REASON_MAX];
} RestoreContext;

static void on_restore_done(void *userdata, const CheckpointResult *res)
{
        RestoreContext *rc = userdata;
        char detail[PLAN_REASON_MAX + 200];

        rc->rec.action = "restore-result";
        rc->rec.result = res->result;
        if (res->result >= 0) {
                snprintf(detail, sizeof(detail), "%s restored as pid %d (uid %u) in %" PRIu64 " ms", res->id,
                         (int)res->restored_pid, (unsigned)res->restored_uid, res->duration_usec / USEC_PER_MSEC);
                rc->rec.pid = res->restored_pid;
        } else
                snprintf(detail, sizeof(detail), "restore of %s failed (%s); images kept in %s", res->id,
                         res->summary, res->dir);
        rc->rec.detail = detail;
        rc->actor->notify(rc->actor->userdata, &rc->rec);
        free(rc);
}

static int do_throttle_or_cap(Actor *a, const PlanAction *act, const PlanApp *app, Tracked *t, const char *cgroup)
{
        _cleanup_close_ int fd = -1;
        int r;

        if (!cgroup)
                return -EOPNOTSUPP; /* a single process: no cgroup of its own to throttle */
        fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        switch (act->type) {
        case PLAN_THROTTLE:
                r = cgctl_throttle(fd, THROTTLE_WEIGHT, THROTTLE_QUOTA_PCT, &t->saved);
                if (r >= 0)
                        t->flags |= APP_THROTTLED;
                return r;
        case PLAN_CAP: {
                uint64_t high = MAX(app->rss_anon + app->rss_file + app->rss_shmem, (uint64_t)CAP_MIN_BYTES);
                r = cgctl_cap_memory(fd, high, &t->saved);
                if (r >= 0)
                        t->flags |= APP_CAPPED;
                return r;
        }
        case PLAN_UNTHROTTLE:
        case PLAN_UNCAP:
                r = cgctl_restore(fd, &t->saved);
                t->flags &= ~(APP_THROTTLED | APP_CAPPED);
                return r;
        default:
                return -EINVAL;
        }
}

/* Dry run: was (type, key) reported within DRY_RUN_REPEAT_USEC? Remembers it if not. */
static bool dry_run_seen(Actor *a, PlanActionType type, const char *key, bool from_plan)
{
        uint64_t h = 1469598103934665603ULL ^ (uint64_t)type, now = clock_usec(CLOCK_MONOTONIC);

        for (const char *c = key; *c; c++)
                h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        for (size_t i = 0; from_plan && i < ELEMENTSOF(a->dry_seen); i++)
                if (a->dry_seen[i].hash == h && now - a->dry_seen[i].at < DRY_RUN_REPEAT_USEC)
                        return true;
        a->dry_seen[a->dry_next].hash = h;
        a->dry_seen[a->dry_next].at = now;
        a->dry_next = (a->dry_next + 1) % ELEMENTSOF(a->dry_seen);
        return false;
}

static int execute_one(Actor *a, const Plan *plan, const ProcTable *table, const PlanAction *act,
                       uint64_t trigger_usec, uint64_t now_boot, bool from_plan)
{
        const PlanApp *app = &plan->apps[act->app];
        char key[KILLER_KEY_MAX];
        ActionRecord rec;
        const char *cgroup;
        Tracked *t;
        size_t n = 0;
        int r;

        fill_record(&rec, plan, table, act);
        if (app_key_to_string(&app->key, key, sizeof(key)) < 0)
                return -ENAMETOOLONG;

        for (size_t i = 0; i < app->n_members && n < ACTOR_MAX_PROCS; i++)
                a->procs[n++] = &table->entries[plan->members[app->first_member + i]];
        cgroup = app->split ? NULL : app_cgroup_path(a, app->key.cgroup, app->key.cgroup_len);

        if (a->opts.dry_run) {
                if (dry_run_seen(a, act->type, key, from_plan))
                        return -EOPNOTSUPP; /* reported recently: not again */
                rec.dry_run = true;
                rec.trigger_to_action_usec = clock_usec(CLOCK_MONOTONIC) - trigger_usec;
                a->notify(a->userdata, &rec);
                return 0;
        }

        t = tracked_get(a, key, &app->key);
        switch (act->type) {
        case PLAN_FREEZE:
                if (!a->freezer) {
                        r = -EOPNOTSUPP; /* no registry: never freeze without one */
                        break;
                }
                rec.trigger_to_action_usec = clock_usec(CLOCK_MONOTONIC) - trigger_usec;
                r = freezer_freeze(a->freezer, key, rec.name, rec.uid, cgroup, a->procs, n, act->reason);
                if (r >= 0) {
                        t->flags |= APP_FROZEN;
                        t->frozen_since_boot = now_boot;
                        /* A freeze instead of a kill (a stall without memory shortage) gets the
                         * kill's cool-down too: PSI needs time to show its effect. */
                        if (app->stall_freeze) {
                                a->last_kill_usec = now_boot;
                                a->last_kill_bytes = 0;
                        }
                        rec.detail = r == FREEZE_METHOD_CGROUP ? "cgroup.freeze" : "SIGSTOP";
                        r = 0;
                }
                break;
        case PLAN_THAW:
                r = a->freezer ? freezer_thaw(a->freezer, key) : -ENOENT;
                if (r >= 0 || r == -ENOENT) {
                        t->flags &= ~APP_FROZEN;
                        a->last_thaw_usec = now_boot;
                        r = 0;
                }
                break;
        case PLAN_CHECKPOINT:
        case PLAN_KILL:
                /* Already being killed or dumped (the planner does not see either): nothing new to report. */
                if (killer_is_killing(a->killer, key) || checkpointer_is_dumping(a->opts.checkpointer, key)) {
                        tracked_drop_if_idle(a, t);
                        return -EOPNOTSUPP;
                }
                rec.trigger_to_action_usec = clock_usec(CLOCK_MONOTONIC) - trigger_usec;
                if (act->type == PLAN_KILL) {
                        r = kill_app(a, plan->level, key, cgroup, a->procs, n, app->reclaim_bytes, &rec, now_boot);
                        break;
                }
                {
                        char why[PLAN_REASON_MAX];

                        r = do_checkpoint(a, plan, table, app, key, cgroup, n, &rec, now_boot, why, sizeof(why));
                        if (r >= 0) {
                                rec.detail = "criu dump started";
                                break;
                        }
                        r = checkpoint_fall_back(a, &rec, plan->level, key, cgroup, a->procs, n, app->reclaim_bytes,
                                                 r, why, now_boot);
                        t = tracked_find(a, key);
                        if (t)
                                tracked_drop_if_idle(a, t);
                        return r; /* both records reported */
                }
        case PLAN_THROTTLE:
        case PLAN_CAP:
        case PLAN_UNTHROTTLE:
        case PLAN_UNCAP:
                r = do_throttle_or_cap(a, act, app, t, cgroup);
                if (r == -EOPNOTSUPP) {
                        /* Report once per app, then skip quietly. */
                        bool first = !(t->unavailable & (1u << act->type));
                        t->unavailable |= 1u << act->type;
                        if (!first)
                                return r;
                        rec.detail = cgroup ? "controller unavailable in this cgroup" : "no cgroup of its own";
                }
                break;
        default:
                r = -EINVAL;
        }
        rec.result = r;
        a->notify(a->userdata, &rec);
        t = tracked_find(a, key);
        if (t && t->unavailable == 0)
                tracked_drop_if_idle(a, t);
        return r;
}

/* Idle entries only remember "unavailable, already reported": keep them bounded. */
static void prune_idle(Actor *a)
{
        if (a->n_tracked <= 256)
                return;
        for (size_t i = a->n_tracked; i > 0; i--)
                tracked_drop_if_idle(a, &a->tracked[i - 1]);
}

/* Cheap kernel-side reclaim at high (not on the path to a kill: these writes block). */
static void reclaim_extra(Actor *a, const Plan *plan, uint64_t now_mono)
{
        ActionRecord rec = { .action = "reclaim", .level = plan->level, .reason = "level high" };
        int r;

        /* Machine-wide: never when memguard only manages one cgroup (--scope). */
        if (plan->level != LEVEL_HIGH || a->opts.dry_run || !a->opts.whole_machine)
                return;
        if (a->opts.sysfd >= 0 && now_mono - a->last_zram_compact >= ZRAM_COMPACT_INTERVAL_USEC) {
                a->last_zram_compact = now_mono;
                r = zram_compact_all(a->opts.sysfd);
                if (r > 0) {
                        rec.detail = "zram compaction";
                        a->notify(a->userdata, &rec);
                }
        }
        if (a->opts.system_mode) {
                r = drop_page_cache(a->opts.procfd, &a->drop_limit, now_mono);
                if (r >= 0) {
                        rec.detail = "page cache dropped";
                        a->notify(a->userdata, &rec);
                }
        }
}

void actor_thaw_expired(Actor *a, Level level)
{
        char **expired = NULL;

        /* The cap on how long anything stays frozen. */
        if (!a->freezer || a->opts.max_frozen_usec == 0 ||
            freezer_expired(a->freezer, clock_usec(CLOCK_MONOTONIC), a->opts.max_frozen_usec, &expired) <= 0) {
                freezer_keys_free(expired);
                return;
        }
        for (char **k = expired; *k; k++) {
                ActionRecord rec = { .action = "thaw", .type = PLAN_THAW, .level = level,
                                     .reason = "frozen for longer than max-frozen-seconds" };
                const RegistryEntry *e = freezer_get(a->freezer, *k);
                char name[256] = "";
                Tracked *t;

                /* Copied: freezer_thaw() frees the registry entry. */
                if (e) {
                        snprintf(name, sizeof(name), "%s", e->name ? e->name : *k);
                        rec.uid = e->uid;
                        rec.pid = e->n_procs > 0 ? e->procs[0].pid : 0;
                }
                rec.name = name;
                rec.result = freezer_thaw(a->freezer, *k);
                t = tracked_find(a, *k);
                if (t) {
                        t->flags &= ~APP_FROZEN;
                        tracked_drop_if_idle(a, t);
                }
                a->notify(a->userdata, &rec);
        }
        freezer_keys_free(expired);
}

/* Restore one checkpointed app (asynchronously: "restore" now, "restore-result" when criu ends). */
static int restore_one(Actor *a, const Plan *plan, const PlanRestore *pr, uint64_t now_boot)
{
        const CheckpointRecord *c = a->opts.checkpointer ? checkpointer_get(a->opts.checkpointer, pr->id) : NULL;
        ActionRecord rec = {
                .type = PLAN_RESTORE,
                .action = "restore",
                .reason = pr->reason,
                .level = plan->level,
        };
        RestoreContext *rc;
        int r;

        if (!c)
                return -EOPNOTSUPP; /* dropped meanwhile */
        rec.pid = c->pid;
        rec.uid = c->uid;
        rec.name = c->name ? c->name : c->id;
        rec.expected_bytes = c->bytes;
        if (a->opts.dry_run) {
                if (dry_run_seen(a, PLAN_RESTORE, pr->id, true))
                        return -EOPNOTSUPP;
                rec.dry_run = true;
                a->notify(a->userdata, &rec);
                return 0;
        }
        rc = xmalloc0(sizeof(*rc));
        rc->actor = a;
        rc->rec = rec;
        snprintf(rc->name, sizeof(rc->name), "%s", rec.name);
        snprintf(rc->reason, sizeof(rc->reason), "%s", rec.reason);
        rc->rec.name = rc->name;
        rc->rec.reason = rc->reason;
        r = checkpointer_restore(a->opts.checkpointer, pr->id, on_restore_done, rc);
        if (r < 0)
                free(rc);
        else {
                a->last_restore_usec = now_boot;
                rec.detail = "criu restore started";
        }
        rec.result = r;
        a->notify(a->userdata, &rec);
        return r;
}

int actor_execute(Actor *a, const Plan *plan, const ProcTable *table, uint64_t trigger_usec, uint64_t now_boot_usec)
{
        bool killed = false;
        int r, reported = 0;

        for (size_t i = 0; i < plan->n_actions; i++) {
                const PlanAction *act = &plan->actions[i];
                r = execute_one(a, plan, table, act, trigger_usec, now_boot_usec, true);
                if (r != -EOPNOTSUPP)
                        reported++;
                if (act->type == PLAN_KILL || act->type == PLAN_CHECKPOINT)
                        killed = true;
                if (r < 0 && r != -EOPNOTSUPP)
                        log_debug_errno(r, "%s failed: %m", plan_action_to_string(act->type));
        }
        if (!killed)
                reclaim_extra(a, plan, clock_usec(CLOCK_MONOTONIC));
        for (size_t i = 0; i < plan->n_restores; i++) {
                r = restore_one(a, plan, &plan->restores[i], now_boot_usec);
                if (r != -EOPNOTSUPP)
                        reported++;
        }
        prune_idle(a);

        actor_thaw_expired(a, plan->level);
        return reported;
}

int actor_act_app(Actor *a, const Plan *plan, const ProcTable *table, size_t app, PlanActionType type,
                  const char *reason)
{
        PlanAction act = { .type = type, .app = app };
        uint64_t now = clock_usec(CLOCK_MONOTONIC);

        if (app >= plan->n_apps)
                return -EINVAL;
        if (type == PLAN_KILL || type == PLAN_CHECKPOINT)
                act.expected_bytes = plan->apps[app].reclaim_bytes;
        snprintf(act.reason, sizeof(act.reason), "%s", reason);
        return execute_one(a, plan, table, &act, now, clock_usec(CLOCK_BOOTTIME), false);
}

bool actor_is_killing(Actor *a, const AppKey *key)
{
        char k[KILLER_KEY_MAX];

        return app_key_to_string(key, k, sizeof(k)) >= 0 &&
               (killer_is_killing(a->killer, k) || checkpointer_is_dumping(a->opts.checkpointer, k));
}

bool actor_is_frozen(Actor *a, const AppKey *key)
{
        char k[KILLER_KEY_MAX];

        if (!a->freezer || app_key_to_string(key, k, sizeof(k)) < 0)
                return false;
        return freezer_get(a->freezer, k) != NULL;
}

int actor_undo_all(Actor *a, const char *why)
{
        int n = 0;

        for (size_t i = 0; i < a->n_tracked; i++) {
                Tracked *t = &a->tracked[i];

                if ((t->flags & (APP_THROTTLED | APP_CAPPED)) && t->cgroup &&
                    app_cgroup_path(a, t->cgroup, strlen(t->cgroup))) {
                        _cleanup_close_ int fd = open(a->cgroup_buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (fd >= 0)
                                (void)cgctl_restore(fd, &t->saved);
                }
                t->flags &= ~(APP_THROTTLED | APP_CAPPED);
        }
        if (a->freezer) {
                size_t before = freezer_n_frozen(a->freezer);
                int r = freezer_thaw_all(a->freezer);
                if (r < 0)
                        log_error_errno(r, "thawing everything (%s) failed: %m", why);
                else if (before > 0)
                        log_notice("thawed %d frozen app(s): %s", r, why);
                n = r < 0 ? 0 : r;
        }
        for (size_t i = 0; i < a->n_tracked; i++)
                a->tracked[i].flags &= ~APP_FROZEN;
        while (a->n_tracked > 0)
                tracked_drop_if_idle(a, &a->tracked[a->n_tracked - 1]);
        return n;
}

int actor_states(Actor *a, const AppState **ret, size_t *ret_n)
{
        size_t n = 0;

        for (size_t i = 0; i < a->n_tracked; i++) {
                const Tracked *t = &a->tracked[i];
                if (t->flags == 0)
                        continue;
                a->states[n++] = (AppState){
                        .key = { .cgroup = t->cgroup, .cgroup_len = t->cgroup ? strlen(t->cgroup) : 0,
                                 .pid = t->cgroup ? 0 : t->pid, .start_time = t->cgroup ? 0 : t->start_time },
                        .flags = t->flags,
                        .frozen_since_usec = t->frozen_since_boot,
                };
        }
        *ret = a->states;
        *ret_n = n;
        return 0;
}

void actor_last_kill(const Actor *a, uint64_t *ret_usec, uint64_t *ret_bytes)
{
        *ret_usec = a->last_kill_usec;
        *ret_bytes = a->last_kill_bytes;
}

uint64_t actor_last_thaw(const Actor *a)
{
        return a->last_thaw_usec;
}

uint64_t actor_last_restore(const Actor *a)
{
        return a->last_restore_usec;
}

size_t actor_n_frozen(const Actor *a)
{
        return a->freezer ? freezer_n_frozen(a->freezer) : 0;
}

bool actor_has_state(const Actor *a)
{
        for (size_t i = 0; i < a->n_tracked; i++)
                if (a->tracked[i].flags != 0)
                        return true;
        /* Checkpointed apps wait for calm: decisions go on at normal until they are restored. */
        return actor_n_frozen(a) > 0 || checkpointer_n_restorable(a->opts.checkpointer) > 0;
}

int actor_set_dry_run(Actor *a, bool dry_run)
{
        int r;

        if (a->opts.dry_run == dry_run)
                return 0;
        /* Acting needs the freezer and its registry, which a dry run never opened. */
        if (!dry_run && !a->freezer && a->opts.registry_path) {
                r = freezer_new(a->opts.registry_path, &a->freezer);
                if (r < 0)
                        return r;
                (void)freezer_thaw_all(a->freezer);
        }
        a->opts.dry_run = dry_run;
        return 0;
}

void actor_set_checkpointer(Actor *a, struct Checkpointer *c)
{
        a->opts.checkpointer = c;
}

struct Freezer *actor_freezer(Actor *a)
{
        return a->freezer;
}

int actor_new(const ActorOptions *opts, actor_notify_t notify, void *userdata, Actor **ret, int *ret_thawed)
{
        Actor *a;
        KillerOptions ko = {
                .procfd = opts->procfd,
                .protect_cgroup = opts->self_cgroup,
        };
        int r, thawed = 0;

        a = xmalloc0(sizeof(*a));
        a->opts = *opts;
        a->opts.registry_path = xstrdup(opts->registry_path);
        a->opts.v2_mount = xstrdup(opts->v2_mount);
        a->opts.self_cgroup = xstrdup(opts->self_cgroup);
        a->notify = notify;
        a->userdata = userdata;
        a->procs = xmalloc0(ACTOR_MAX_PROCS * sizeof(*a->procs));

        r = killer_new(opts->event, &ko, &a->killer);
        if (r < 0) {
                actor_free(a);
                return r;
        }
        if (!opts->dry_run && opts->registry_path) {
                r = freezer_new(opts->registry_path, &a->freezer);
                if (r < 0) {
                        actor_free(a);
                        return r;
                }
                /* Whatever a previous run left frozen is thawed first. */
                thawed = freezer_thaw_all(a->freezer);
                if (thawed < 0)
                        thawed = 0;
        }
        if (ret_thawed)
                *ret_thawed = thawed;
        *ret = a;
        return 0;
}

Actor *actor_free(Actor *a)
{
        if (!a)
                return NULL;
        killer_free(a->killer);
        freezer_free(a->freezer);
        for (size_t i = 0; i < a->n_tracked; i++)
                free(a->tracked[i].cgroup);
        free(a->tracked);
        free(a->states);
        free(a->procs);
        free((char *)a->opts.registry_path);
        free((char *)a->opts.v2_mount);
        free((char *)a->opts.self_cgroup);
        free(a);
        return NULL;
}
