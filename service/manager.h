/* SPDX-License-Identifier: MIT */
/*
 * The manager owns the daemon's state and its one event loop (sd-event):
 * PSI trigger fds, the sampling timer, signal handlers, the pressure engine
 * and the level state machine.
 *
 * Sampling: while calm the daemon sleeps on its trigger fds, waking only for
 * a heartbeat (>= 10 s). When a trigger fires it samples every
 * fast-interval until the level is normal and the score has stayed calm for
 * calm-seconds, then goes back to sleep.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "actions.h"
#include "bus.h"
#include "glib-loop.h"
#include "config.h"
#include "eventlog.h"
#include "hooks.h"
#include "incident.h"
#include "macro.h"
#include "level.h"
#include "planner.h"
#include "pressure.h"
#include "cgroup-stall.h"
#include "proc-bpf.h"
#include "proc.h"

typedef struct ManagerOptions {
        bool system_mode;
        bool dry_run;            /* --dry-run: decide and log, never act */
        bool verbose;            /* -v: debug logging whatever log-level= says */
        const char *config_path; /* --config, or NULL for the mode's default files */
        const char *scope;       /* --scope, or NULL (then [daemon] scope= applies) */
        const char *state_dir;   /* --state-dir, or NULL for the mode's default */
        const char *proc_root;   /* "/proc" (tests may point elsewhere) */
        const char *sys_root;    /* "/sys" */
} ManagerOptions;

#define MANAGER_MAX_TRIGGERS 2

typedef struct Manager {
        sd_event *event;
        ManagerOptions opts;

        Config config;
        bool config_valid; /* false: started with a bad config, monitoring only */

        int procfd;
        int sysfd;
        char *v2_mount;  /* NULL if there is no cgroup2 mount */
        char *scope;     /* absolute path of the managed cgroup, or NULL */
        char *v1_memory_mount; /* hybrid hosts: the v1 memory hierarchy, or NULL */
        char *scope_v1_dir;    /* hybrid hosts: the v1 memory cgroup of the scope's processes */
        int scope_fd;    /* dir fd of the managed cgroup, or -1 */
        int cgroup2_fd;  /* dir fd of the cgroup2 mount, or -1 */

        int trigger_fd[MANAGER_MAX_TRIGGERS];
        sd_event_source *trigger_source[MANAGER_MAX_TRIGGERS];
        unsigned n_triggers;
        bool fallback_logged;

        sd_event_source *timer;
        bool fast;             /* sampling fast after a trigger */
        uint64_t calm_since;   /* fast mode: when the score went calm, 0 if not calm */

        bool gpu_possible;     /* /dev/dri exists */
        uint64_t gpu_sampled_at;
        bool gpu_known;
        uint64_t gpu_bytes;

        PressureState pstate;
        LevelMachine lm;
        PressureResult last;
        PressureSample last_sample;

        /* Deciding and acting. */
        char *self_cgroup;       /* our own v2 cgroup path (relative to the mount) */
        char *scope_cgroup;      /* the --scope cgroup path relative to the mount, or NULL */
        ProcTable table;
        bool table_loaded;
        ProcBpf *proc_bpf;       /* the BPF task iterator, when it works here */
        StallHistory stall_history; /* memory.pressure totals from the last stall walk */
        bool proc_bpf_tried;
        Plan plan;
        NeverTargetContext never;
        Actor *actor;
        struct Checkpointer *checkpointer; /* NULL: checkpoints are kills (checkpoint=false, no criu, ...) */
        bool checkpoint_off_logged;        /* why checkpoints are off was said */
        struct Hibernator *hibernator;     /* emergency hibernation (manager-actions.c) */
        uint64_t emergency_since;          /* CLOCK_BOOTTIME when the level became emergency, 0 if not */
        uint64_t last_hibernate;           /* CLOCK_BOOTTIME of the last request (dry run: the last log) */
        bool hibernate_off_logged;
        bool hibernate_nobus_logged;
        char *registry_path;
        uint64_t last_decision;  /* CLOCK_MONOTONIC */

        /* Records. */
        char *state_dir;
        EventLog *eventlog;
        IncidentRecorder *incidents;
        bool incident_pending;   /* the level left normal: begin the incident at the next decision */
        uint64_t last_snapshot;  /* CLOCK_MONOTONIC of the last calm snapshot */
        HookRunner *hooks;

        /* The bus (manager-bus.c). */
        GlibLoop *glib;
        Bus *bus;
        BusCandidate *bus_candidates;
        size_t n_bus_candidates;
        BusFrozen *bus_frozen;
        size_t n_bus_frozen;

        /* The foreground app (SetForeground): shielded by the planner. */
        pid_t fg_pid;
        char *fg_app_id;      /* as the hint named it (the Foreground property) */
        char *fg_own_app_id;  /* the process's own app id: the only one the planner shields */
        char *fg_cgroup;

        /* Protected at runtime (Protect): app cgroups and single processes. */
        char **protected_cgroups;   /* NULL-terminated */
        size_t n_protected_cgroups;
        pid_t *protected_pids;
        uint64_t *protected_start_times;
        size_t n_protected_pids;
        bool *protected_cgroup_temp; /* per entry: from a "postpone" answer, dropped at normal */
        bool *protected_pid_temp;
        uint64_t n_samples;
        uint64_t n_wakeups;
} Manager;

int manager_new(const ManagerOptions *opts, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free)

/* Open the signal sources, arm triggers and timers; 0 or -errno. */
int manager_start(Manager *m);

/* Run the loop until SIGTERM/SIGINT; returns the exit code of the loop. */
int manager_run(Manager *m);

/* Take one sample and feed the engine (exported for tests and --once style use). */
int manager_sample(Manager *m);

/* Re-read the configuration; a bad one is logged and the last good one kept
 * (its message in *ret_error, which may be NULL). */
int manager_reload(Manager *m, char **ret_error);

/* Scan the managed processes and plan at `level` into m->plan (for --list-candidates and decisions). */
int manager_plan(Manager *m, Level level);

/* The bus: connect (system or session bus, reconnecting in the background). */
int manager_bus_start(Manager *m);
void manager_bus_stop(Manager *m);
/* Tell the bus: after every sample, a level change, an action. */
void manager_bus_sample(Manager *m);
void manager_bus_level_changed(Manager *m, Level old, Level new);
void manager_bus_action(Manager *m, const ActionRecord *rec);

/* manager-actions.c: checkpoints (at start and after a reload; says once why they are off). */
int manager_checkpoint_setup(Manager *m);
/* ...and emergency hibernation: say once why hibernate=true cannot apply. */
void manager_hibernate_setup(Manager *m);
/* After each decision: hibernate if the plan cannot help at emergency. */
void manager_hibernate_check(Manager *m);

/* The registry path for --thaw-all and the actor (--state-dir, or the mode's runtime dir). */
int manager_registry_path(bool system_mode, const char *state_dir, char **ret);
