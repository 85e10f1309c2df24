/* SPDX-License-Identifier: MIT */
/*
 * The actor carries out the planner's actions on real processes, cheapest
 * first, and remembers what it did so that it can be undone: frozen apps
 * (through the freezer and its registry), throttled and capped cgroups (with
 * the values to restore). Kills run asynchronously through the killer.
 *
 * With dry_run nothing is done to any process: every action is reported
 * (log, event log, bus) as "dry-run" and no state is kept.
 *
 * Checkpoints (PLAN_CHECKPOINT) go through the checkpointer when one is
 * given and criu works: the record "checkpoint" when criu starts, then
 * "checkpoint-result" when it ends. When the checkpoint cannot be made (no
 * checkpointer, criu unusable, the app is not one process tree, criu failed or
 * timed out), that is reported with the reason ("checkpoint failed (criu exit
 * 1: ...), killing instead") and the app is killed through the ordinary kill
 * path ("kill", then "kill-result"). A dump in flight counts as a kill in
 * flight: the app is neither killed nor dumped again meanwhile, and the kill
 * cool-down starts when the dump starts. Restores (Plan.restores) report
 * "restore", then "restore-result".
 *
 * Every action, done or not, is reported once through the notify callback
 * (the manager turns it into the structured log line, the JSON event, the
 * bus signal and the incident note).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "level.h"
#include "planner.h"
#include "proc.h"

typedef struct ActorOptions {
        sd_event *event;
        int procfd;
        int sysfd;                 /* -1 if /sys is unavailable */
        const char *v2_mount;      /* cgroup2 mount, NULL if none */
        const char *self_cgroup;   /* memguard's own cgroup (absolute path), never killed */
        const char *registry_path; /* the frozen registry */
        bool system_mode;
        bool whole_machine;        /* no --scope: machine-wide reclaim (zram, page cache) is ours to do */
        bool dry_run;
        uint64_t term_deadline_usec[_LEVEL_MAX]; /* SIGTERM → SIGKILL deadline per level */
        uint64_t max_frozen_usec;  /* thaw anything frozen longer than this; 0 = no cap */
        struct Checkpointer *checkpointer; /* borrowed (outlives the actor), or NULL: checkpoints are kills */
} ActorOptions;

typedef struct ActionRecord {
        PlanActionType type;
        const char *action;    /* "freeze", "kill", ... and "kill-result", "checkpoint-result", "restore",
                                  "restore-result", "thaw" (cap, shutdown) */
        pid_t pid;             /* the app's leader */
        uid_t uid;
        const char *name;      /* app id, unit or comm */
        const char *comm;
        const char *unit;      /* or NULL */
        const char *reason;
        uint64_t expected_bytes;
        uint64_t rss_bytes, swap_bytes;
        Level level;
        bool dry_run;
        int result;            /* 0 done, -errno failed or unavailable (-EOPNOTSUPP) */
        const char *detail;    /* e.g. "sigstop", "cgroup", "killed 3, exited after TERM 1", or NULL */
        uint64_t trigger_to_action_usec; /* from the trigger's sample to the action's system call */
} ActionRecord;

typedef void (*actor_notify_t)(void *userdata, const ActionRecord *rec);

typedef struct Actor Actor;

/*
 * Create the actor (the strings in opts are copied). Thaws everything a previous run left frozen (its
 * registry) first; *ret_thawed (may be NULL) says how many apps.
 */
int actor_new(const ActorOptions *opts, actor_notify_t notify, void *userdata, Actor **ret,
              int *ret_thawed);
/* Free; does not thaw (call actor_undo_all() first on a clean stop). */
Actor *actor_free(Actor *a);

/* Thaw every frozen app and restore every throttled/capped one (SIGTERM, --thaw-all). */
int actor_undo_all(Actor *a, const char *why);

/* What the planner must know: the apps memguard froze, throttled or capped. */
int actor_states(Actor *a, const AppState **ret, size_t *ret_n);

/* The last kill (CLOCK_BOOTTIME µs, 0 if none) and what it was expected to return. */
void actor_last_kill(const Actor *a, uint64_t *ret_usec, uint64_t *ret_bytes);
uint64_t actor_last_thaw(const Actor *a);
uint64_t actor_last_restore(const Actor *a);
size_t actor_n_frozen(const Actor *a);
bool actor_has_state(const Actor *a);

/* One action on one app of `plan`, asked for by a user (the D-Bus methods). */
int actor_act_app(Actor *a, const Plan *plan, const ProcTable *table, size_t app, PlanActionType type,
                  const char *reason);
bool actor_is_frozen(Actor *a, const AppKey *key);
/* A kill or a checkpoint of this app is in flight (so it is not warned about or hooked again). */
bool actor_is_killing(Actor *a, const AppKey *key);

/* Thaw what was frozen longer than max_frozen_usec (also called when nothing else is planned). */
void actor_thaw_expired(Actor *a, Level level);

/* Switch dry run on or off (a reload); -errno if the freezer cannot be set up. */
int actor_set_dry_run(Actor *a, bool dry_run);

/* Use this checkpointer from now on (borrowed; NULL: checkpoints are kills). */
void actor_set_checkpointer(Actor *a, struct Checkpointer *c);

/* The freezer, for the bus's FrozenProcesses property. */
struct Freezer *actor_freezer(Actor *a);

/*
 * Carry out `plan` (made from `table`). `trigger_usec` is the CLOCK_MONOTONIC
 * time of the sample that led to it, for the trigger-to-action latency.
 * `now_boot_usec` is the planner's clock (CLOCK_BOOTTIME). Returns how many
 * actions were reported (unavailable ones already reported are not counted).
 */
int actor_execute(Actor *a, const Plan *plan, const ProcTable *table, uint64_t trigger_usec,
                  uint64_t now_boot_usec);
