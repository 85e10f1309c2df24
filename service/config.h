/* SPDX-License-Identifier: MIT */
/*
 * Configuration: GKeyFile files, later ones overriding earlier ones key by
 * key. Every key and its default is documented in data/memguard.conf.
 *
 * Contract: 0 on success, -errno on failure. On failure *ret_error (when
 * not NULL) receives a newly allocated message naming the file, group and
 * key ("FILE: [group] key: what is wrong"), and the Config passed in is left
 * exactly as it was: a bad file changes nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "level.h"
#include "planner.h"
#include "pressure.h"
#include "rules.h"

typedef struct TriggerParams {
        uint64_t some_stall_usec; /* PSI "some" trigger: stall per window */
        uint64_t full_stall_usec; /* PSI "full" trigger: stall per window */
        uint64_t window_usec;     /* trigger window; 2 s multiples without CAP_SYS_RESOURCE */
        uint64_t fast_interval_usec; /* sampling period after a trigger, until calm */
        uint64_t heartbeat_usec;  /* sampling period while calm (>= 10 s) */
} TriggerParams;

void trigger_params_default(TriggerParams *p);

typedef struct ActionParams {
        /* SIGTERM → SIGKILL deadline: at normal to high, at critical, at emergency. */
        uint64_t kill_timeout_usec, kill_timeout_critical_usec, kill_timeout_emergency_usec;
        uint64_t max_frozen_usec; /* thaw anything frozen longer than this; 0 = no cap */

        /* Checkpoints (checkpointer.h): asked for, and used only where criu works. */
        bool checkpoint;               /* [actions] checkpoint (false) */
        char *criu;                    /* the criu program; NULL = "criu" in PATH */
        uint64_t checkpoint_timeout_usec; /* a dump or restore running longer is killed (60 s) */
        unsigned checkpoint_keep;      /* checkpoints kept (5) */
        uint64_t checkpoint_max_age_usec; /* dropped after this; 0 = never (7 days) */

        /* Emergency hibernation through logind (hibernate.h). */
        bool hibernate;                /* [actions] hibernate (false) */
        uint64_t hibernate_after_usec; /* emergency this long in spite of the kills (30 s) */
        uint64_t hibernate_interval_usec; /* at most once per this (30 min) */
} ActionParams;

void action_params_default(ActionParams *p);

typedef struct RecordParams {
        uint64_t event_log_max_bytes; /* one events.jsonl file */
        unsigned event_log_keep;      /* rotated files kept */
        unsigned incidents_keep;      /* incident reports kept */
} RecordParams;

void record_params_default(RecordParams *p);

typedef struct HookParams {
        char **on_level_change; /* argv, or NULL */
        char **before_kill;     /* argv, or NULL */
        uint64_t timeout_usec;
} HookParams;

void hook_params_default(HookParams *p);

typedef struct Config {
        PressureParams pressure;
        LevelParams level;
        TriggerParams trigger;
        bool dry_run;     /* [daemon] dry-run */
        char *scope;      /* [daemon] scope, NULL = whole machine / the user's processes */
        int log_level;    /* [daemon] log-level as a syslog priority */
        PlannerParams planner; /* [planner] */
        ActionParams actions;  /* [actions] */
        RecordParams records;  /* [records] */
        HookParams hooks;      /* [hooks] */
        RuleSet rules;    /* the shipped rules, then [rule:NAME] and [protect] from the files */
} Config;

/* Fill in the built-in defaults (the values documented in data/memguard.conf). */
void config_init(Config *c);
/* Free what the config owns; leaves it re-initialisable. */
void config_done(Config *c);
/* Deep copy; `dst` is overwritten (call config_done() first if it holds a config). */
void config_copy(Config *dst, const Config *src);
/* Move `src` into `dst` (which must be empty or done), leaving `src` empty. */
void config_move(Config *dst, Config *src);

/*
 * Apply one file's text on top of *c. `filename` is used in messages only.
 * Unknown groups and keys are errors (a typo must not silently do nothing).
 * Values are checked both alone and together (e.g. thresholds increasing).
 */
int config_parse_data(Config *c, const char *data, size_t len, const char *filename, char **ret_error);

/* Read and apply `path`. */
int config_load_file(Config *c, const char *path, char **ret_error);

/*
 * The files to read, in order: the main file, then `<dir>/memguard.conf.d/<name>.conf`
 * sorted by name. System mode: SYSCONFDIR/memguard; user mode:
 * $XDG_CONFIG_HOME/memguard (default ~/.config/memguard). With `override`
 * (--config PATH) only that file. Files that do not exist are left out;
 * returns a NULL-terminated, newly allocated list (possibly empty).
 */
int config_files_for_mode(bool system_mode, const char *override, char ***ret_files);

/*
 * Load defaults + every file from config_files_for_mode() into *ret (which
 * is initialised here). On error *ret is untouched and *ret_error says why.
 */
int config_load_all(bool system_mode, const char *override, Config *ret, char **ret_error);

/* Free a NULL-terminated string list. */
void strv_free(char **l);
