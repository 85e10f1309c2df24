/* SPDX-License-Identifier: MIT */
/*
 * The planner: from (level, process table, rules, foreground, what is
 * already frozen or throttled) to an ordered list of actions, each with a
 * reason naming the rule and the figures. Pure: no I/O, no clock (time is
 * passed in), no allocation except growing the Plan's own buffers when the
 * table outgrows them (so none in steady state).
 *
 * Apps. Processes are grouped into apps, the unit every action applies to:
 *  - A process whose cgroup lies in an app's own unit (a *.scope or *.service
 *    that is not session-*.scope, init.scope, user@*.service, a terminal's
 *    vte-spawn-*.scope / tmux-spawn-*.scope, see rules_cgroup_app_unit())
 *    belongs to the app of that unit: one app, acted on through its cgroup.
 *  - A unit that holds an interactive shell or terminal multiplexer (bash,
 *    zsh, fish, tmux, screen, ...) is a terminal's session too, whatever it is
 *    called (a terminal emulator whose tabs share its app scope).
 *  - Everything else (login sessions, terminals, no systemd) and processes
 *    whose rule says split=true is acted on one process at a time, through
 *    its pidfd. Not with its process group: the table has no pgid, and in a
 *    terminal a process group is a shell job, whose other processes are the
 *    user's.
 * An app is as safe as its safest process: its priority is the lowest of its
 * (non-split) processes', it allows only the actions all of them allow, it
 * prefers freezing if any of them does, and it is never targeted if any of
 * its processes is (a cgroup kill would take that process too).
 *
 * Memory. An app's reclaimable memory is RssAnon + RssShmem + VmSwap of its
 * processes (only RssAnon + VmSwap for a single process: the shared memory
 * it maps usually outlives it). RssFile is left out: file pages are page
 * cache the kernel reclaims without killing anyone, and MemAvailable already
 * counts most of them as available. Swap is counted as the issue asks: with
 * zram it is RAM, and PSI stalls on swap-in; with disk swap this overstates
 * what MemAvailable gains, and the next cycle re-measures.
 *
 * Ranking (deterministic, whatever the table's order): effective priority
 * descending (most expendable first), reclaimable memory descending,
 * oom_score descending, then the pid of the app's oldest process ascending.
 *
 * The ladder, per app, by priority class (after the foreground drop); each
 * level keeps what the lower ones do:
 *                 elevated   high                critical               emergency
 *   heavy         throttle   freeze              + kill for the amount  same
 *   expendable    throttle   cap                 freeze, kill for amt   same, prefer-freeze too
 *   normal        -          throttle            cap, kill for amount   same, prefer-freeze too
 *   protected     -          -                   -                      throttle
 *   never touched nothing, ever
 * Each action needs the rule to allow it (cap needs "throttle"); an app that
 * may not be frozen is capped and throttled instead. At critical an app that
 * prefers freezing and may be frozen is frozen instead of killed; at
 * emergency it is killed too. Checkpoint replaces kill at critical for apps
 * that allow it when PlannerParams.checkpoint says CRIU works (at emergency
 * there is no time for a dump). An app that is killed gets no other action;
 * a frozen one is not throttled or capped.
 *
 * Amount. need = headroom_percent[level] * MemTotal / 100 - MemAvailable (0
 * if negative). At critical and emergency, kills are planned in rank order
 * until their expected return (the app's reclaimable memory; freeze, cap and
 * throttle count 0) covers need. If need is 0 there (PSI says tasks stall
 * although MemAvailable looks fine: page-cache thrash, a cgroup limit), one
 * app is acted on: frozen if its rule allows freezing (a kill would return
 * little; stopping its load is what helps), killed only at emergency once it
 * is frozen already (or when it may not be frozen).
 *
 * Cool-down. PSI lags: within kill_cooldown_usec of the last kill no kill
 * is planned, except at emergency for what remains of need after counting
 * what the last kill is expected to return.
 *
 * Foreground. The foreground app (its whole unit) gets its priority lowered
 * by fg_priority_drop and is shielded: below emergency nothing is done to it,
 * and a frozen, throttled or capped foreground app is thawed, unthrottled
 * and uncapped at once (below critical). At emergency it is the last resort:
 * it is killed only if every other candidate is planned and need remains.
 *
 * Grace. An app whose oldest process started less than grace_usec ago is
 * not frozen, checkpointed or killed below emergency (users lose what they
 * just opened otherwise); throttle and cap still apply. At emergency it loses
 * its grace if it is the largest consumer of all apps, so a runaway that
 * just started can still be stopped. Default 30 s: long enough to open a
 * document or a project, short enough that a runaway which is not the
 * largest app cannot hide for long.
 *
 * Thaw. At normal: throttled and capped apps are unthrottled and uncapped;
 * frozen apps are thawed at most thaw_cap per cycle, no sooner than
 * thaw_interval_usec after the previous batch, and only while MemAvailable
 * minus what the thawed apps need (their swap, which faults back in, plus
 * thaw_reserve_bytes each for growth) stays above headroom_percent[normal].
 * Order: the foreground app, then the most important (lowest priority
 * number), then the longest frozen.
 *
 * Restore. At normal, once no frozen app waits to be thawed, checkpointed
 * apps (PlannerInput.checkpoints) are restored like thaws: oldest checkpoint
 * first, at most one per cycle, no sooner than thaw_interval_usec after the
 * previous restore, and only while MemAvailable minus what the thaws of this
 * plan need minus what the app held (its bytes) and thaw_reserve_bytes stays
 * above headroom_percent[normal]. Restores are listed in Plan.restores,
 * apart from Plan.actions (a checkpointed app has no process in the table).
 *
 * A Plan points into the table and the rules it was made from: keep them
 * alive while the plan is used.
 *
 * Contract: 0 on success, -errno on failure; outputs only on success.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "level.h"
#include "meminfo.h"
#include "proc.h"
#include "rules.h"

#define PLAN_REASON_MAX 256

typedef struct PlannerParams {
        /* MemAvailable, in percent of MemTotal, to aim for at each level. Defaults:
         * elevated 10, high 10, critical 12, emergency 15 (the worse it got, the more
         * room one round of kills makes, so the next round is not needed), and
         * normal 20: the headroom thawing must keep, above every kill target so
         * that a thaw does not bring back the pressure it follows. */
        unsigned headroom_percent[_LEVEL_MAX];
        int fg_priority_drop;        /* 25 */
        uint64_t kill_cooldown_usec; /* 5 s */
        uint64_t grace_usec;         /* 30 s */
        unsigned thaw_cap;           /* 2 apps per cycle */
        uint64_t thaw_interval_usec; /* 5 s between thaw batches */
        uint64_t thaw_reserve_bytes; /* 64 MiB per thawed app */
        bool checkpoint;             /* CRIU works and checkpointing is asked for (false) */
} PlannerParams;

void planner_params_default(PlannerParams *p);

/* An app's identity across cycles. */
typedef struct AppKey {
        const char *cgroup;  /* whole-app unit: its cgroup; NULL for a single process */
        size_t cgroup_len;   /* length of the unit's cgroup path within `cgroup` */
        pid_t pid;           /* single process: its pid (0 for a whole-app unit) */
        uint64_t start_time; /* single process: its start time, so a reused PID is another app */
} AppKey;

bool app_key_equal(const AppKey *a, const AppKey *b);

/*
 * A stable text form, for registries and the killer's keys: "cgroup:PATH" or
 * "pid:PID@START_TIME". Returns the length, or -ENAMETOOLONG if it does not
 * fit in `size` bytes (NUL included).
 */
int app_key_to_string(const AppKey *k, char *buf, size_t size);

typedef enum AppStateFlags {
        APP_FROZEN = 1u << 0,
        APP_THROTTLED = 1u << 1,
        APP_CAPPED = 1u << 2,
} AppStateFlags;

/* What memguard has already done to an app (from its registry). */
typedef struct AppState {
        AppKey key;
        unsigned flags;             /* AppStateFlags */
        uint64_t frozen_since_usec; /* same clock as now_usec */
} AppState;

typedef struct PlannerForeground {
        const char *cgroup; /* the focused app's cgroup, or NULL */
        const char *app_id; /* its desktop app id, or NULL */
        const pid_t *pids;  /* its pids (X11, KWin), may be empty */
        size_t n_pids;
} PlannerForeground;

/* An app memguard checkpointed (checkpointer.h) and may restore at normal. */
typedef struct PlanCheckpoint {
        const char *id;
        const char *name; /* or NULL */
        uid_t uid;
        uint64_t bytes;   /* what it held: what restoring it takes */
        uint64_t created; /* CLOCK_REALTIME seconds: the oldest is restored first */
} PlanCheckpoint;

typedef struct PlannerInput {
        Level level;
        MemInfo mem;
        const ProcTable *table;
        const RuleSet *rules;                /* NULL = no rules */
        const NeverTargetContext *never;     /* NULL = nothing known beyond the built-in list */
        const PlannerForeground *foreground; /* NULL = none */
        const AppState *states;
        size_t n_states;
        uint64_t now_usec;       /* CLOCK_BOOTTIME, like process start times */
        unsigned clk_tck;        /* sysconf(_SC_CLK_TCK), for start_time */
        uint64_t last_kill_usec; /* 0 = never */
        uint64_t last_kill_expected_bytes;
        uint64_t last_thaw_usec; /* 0 = never */
        /* Where a stall comes from (cgroup-stall.h): a stall without memory
         * shortage is answered only on apps in these cgroups. NULL = unknown
         * (no cgroup v2): any app. */
        char *const *stall_cgroups;
        const PlanCheckpoint *checkpoints; /* restorable checkpoints (may be NULL) */
        size_t n_checkpoints;
        uint64_t last_restore_usec; /* 0 = never */
} PlannerInput;

typedef struct PlanApp {
        AppKey key;
        size_t leader;       /* table index of the oldest process (for pid, comm, exe, uid, unit) */
        size_t first_member; /* its processes: Plan.members[first_member .. + n_members] */
        size_t n_members;
        uint64_t rss_anon, rss_file, rss_shmem, swap;
        uint64_t reclaim_bytes; /* what killing it is expected to return */
        int oom_score;          /* the highest of its processes */
        int base_priority;      /* from the rules */
        int priority;           /* after the foreground drop; 0 when never targeted */
        unsigned actions;       /* RuleAction bits allowed */
        bool prefer_freeze;
        const char *rule;      /* rule that decided the priority */
        const char *never_why; /* why it is never targeted, or NULL */
        bool foreground, young, split;
        bool stall_freeze;      /* frozen for a stall without memory shortage (instead of a kill) */
        unsigned state;   /* AppStateFlags from the input */
        unsigned planned; /* 1 << PlanActionType for each action planned for it */
        uint64_t frozen_since_usec;
        char reason[PLAN_REASON_MAX]; /* "rule firefox-content priority 85, 812 MiB anon+shmem + 0 MiB swap"
                                       */
} PlanApp;

typedef enum PlanActionType {
        PLAN_THROTTLE,
        PLAN_UNTHROTTLE,
        PLAN_CAP,
        PLAN_UNCAP,
        PLAN_FREEZE,
        PLAN_THAW,
        PLAN_CHECKPOINT,
        PLAN_KILL,
        PLAN_RESTORE, /* only in Plan.restores and the actor's records, never in Plan.actions */
        _PLAN_ACTION_MAX,
} PlanActionType;

const char *plan_action_to_string(PlanActionType t);

typedef struct PlanAction {
        PlanActionType type;
        size_t app;              /* index into Plan.apps */
        uint64_t expected_bytes; /* memory it is expected to return (0 but for kill and checkpoint) */
        char reason[PLAN_REASON_MAX];
} PlanAction;

typedef struct PlanRestore {
        size_t checkpoint; /* index into PlannerInput.checkpoints */
        char id[64];       /* its id (copied: the plan outlives the input's list) */
        char reason[PLAN_REASON_MAX];
} PlanRestore;

#define PLAN_MAX_RESTORES 1 /* per cycle */

typedef struct Plan {
        Level level;
        uint64_t need_bytes;    /* how much must come back to reach the headroom target */
        uint64_t planned_bytes; /* what the planned actions are expected to return */
        bool cooldown;          /* kills were held back by the cool-down */

        PlanApp *apps; /* every app, ranked: most expendable first */
        size_t n_apps;
        size_t *members;     /* table indices, grouped by app */
        PlanAction *actions; /* in the order to carry them out */
        size_t n_actions;
        PlanRestore restores[PLAN_MAX_RESTORES]; /* checkpoints to restore, after the actions */
        size_t n_restores;

        /* Scratch, sized to the table; grown only when it grows. */
        size_t capacity;
        struct PlanEntry *entries;
        size_t *order;
        RuleMemo memo; /* exe pattern results per exe path, for one plan */
} Plan;

void plan_init(Plan *p);
void plan_done(Plan *p);

/* Plan one cycle into *plan (which is reset, keeping its buffers). */
int planner_plan(const PlannerParams *params, const PlannerInput *in, Plan *plan);

/* The fields `memguardctl --list-candidates` prints for one ranked app. */
typedef struct PlanCandidate {
        pid_t pid;              /* the app's oldest process */
        const char *comm, *exe; /* exe may be NULL */
        uid_t uid;
        const char *unit; /* may be NULL */
        size_t n_processes;
        uint64_t rss_bytes; /* RssAnon + RssFile + RssShmem, as ps shows it */
        uint64_t swap_bytes;
        uint64_t reclaim_bytes;
        int priority;
        bool protected; /* never targeted, or priority below 50: never killed */
        bool foreground;
        const char *reason;
} PlanCandidate;

int plan_get_candidate(const Plan *p, const ProcTable *t, size_t rank, PlanCandidate *ret);
