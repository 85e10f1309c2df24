/* SPDX-License-Identifier: MIT */
/*
 * Rules: which processes memguard may act on, how expendable each is, and
 * which actions it allows. Parsed from GKeyFile groups at load time; matched
 * in the decision loop without GLib, allocation or I/O.
 *
 * Groups
 *   [rule:NAME]  One rule. NAME is [A-Za-z0-9_.@-]{1,64}; "default" and
 *                "protect" are reserved. The first group with a NAME appends
 *                a rule at the end of the list. A later group with the same
 *                NAME (in the same file or a later file or drop-in) overrides
 *                the earlier one key by key: keys it sets replace the earlier
 *                values, keys it leaves out keep them, and the rule keeps its
 *                place in the order. An empty value ("exe=") unsets a key.
 *   [protect]    The protect list: processes matched here are never targeted
 *                (like PID 1). Keys: exe, unit, cgroup, app-id, comm (glob
 *                lists) and trust-comm. Entries from every [protect] group of
 *                every file add up; a later file cannot remove an entry, so a
 *                drop-in can only protect more.
 *
 * Matching keys of a rule (all given ones must match; a field the process
 * lacks, e.g. no exe for another user's process, never matches):
 *   exe      glob list on the full executable path, FNM_PATHNAME ('*' stays
 *            inside one directory). A " (deleted)" suffix (binary replaced by
 *            an upgrade) is ignored.
 *   comm     glob list on the process name
 *   cmdline  POSIX extended regex on the command line (arguments joined by
 *            spaces, at most 4 KiB); no back-references
 *   cgroup   glob list on the cgroup v2 path ('*' crosses '/')
 *   unit     glob list on the innermost systemd unit
 *   uid      list of uids or user names (resolved when the file is read; an
 *            unknown user is an error)
 *   app-id   glob list on the desktop app id
 * Settings:
 *   priority       0..100: 0-19 never touched, 20-49 protected, 50-59 normal,
 *                  60-79 expendable, 80-100 expendable heavy
 *   actions        list of throttle;freeze;checkpoint;kill ("" = none)
 *   prefer-freeze  the app may be frozen rather than killed
 *   split          act on each matching process alone instead of its whole app
 *                  (a browser's content process can die without the browser)
 *   trust-comm     see "weak rules" below
 *   enabled        false turns a rule off (to disable a shipped one by NAME)
 *
 * Evaluation: rules are tried in order; for every setting, the last matching
 * rule that sets it wins. The rule named in RuleMatch.rule is the one that set
 * the priority. Unmatched: priority 50, all actions, prefer-freeze false,
 * rule "default". A [protect] match overrides everything: priority 0, rule
 * "protect".
 *
 * Weak rules. comm and cmdline are chosen by the process itself
 * (prctl(PR_SET_NAME), exec -a, writing argv): any user can call a process
 * "gnome-shell". A rule whose only matchers are comm and/or cmdline is weak
 * unless it sets trust-comm=true: it may make a process more expendable
 * (raise its priority, allow more actions, clear prefer-freeze) but never
 * safer. Likewise [protect] comm entries protect nothing unless the [protect]
 * list sets trust-comm=true. Protect by exe path (only root can write
 * /usr/bin) or by cgroup under /system.slice (only root creates those); unit
 * names of user services are chosen by the user too.
 *
 * Contract: 0 on success, -errno on failure; outputs only on success. Parse
 * errors are -EINVAL with *ret_error (if not NULL) set to a newly allocated
 * "FILE: [GROUP] KEY: what is wrong"; the RuleSet is then unchanged.
 */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proc.h"

typedef struct _GKeyFile GKeyFile;

#define RULE_PRIORITY_DEFAULT 50
#define RULE_PRIORITY_MAX 100
#define RULE_NAME_MAX 64

typedef enum PriorityClass {
        PRIORITY_NEVER,      /* 0-19: never touched */
        PRIORITY_PROTECTED,  /* 20-49: throttled at most */
        PRIORITY_NORMAL,     /* 50-59 */
        PRIORITY_EXPENDABLE, /* 60-79 */
        PRIORITY_HEAVY,      /* 80-100: expendable heavy */
} PriorityClass;

PriorityClass priority_class(int priority);
const char *priority_class_to_string(PriorityClass c);

typedef enum RuleAction {
        RULE_ACTION_THROTTLE = 1u << 0, /* CPU throttle and memory.high cap */
        RULE_ACTION_FREEZE = 1u << 1,
        RULE_ACTION_CHECKPOINT = 1u << 2,
        RULE_ACTION_KILL = 1u << 3,
        RULE_ACTIONS_ALL = (1u << 4) - 1,
} RuleAction;

/* Which keys a rule (or an override of it) sets. */
typedef enum RuleKey {
        RULE_KEY_EXE = 1u << 0,
        RULE_KEY_COMM = 1u << 1,
        RULE_KEY_CMDLINE = 1u << 2,
        RULE_KEY_CGROUP = 1u << 3,
        RULE_KEY_UNIT = 1u << 4,
        RULE_KEY_UID = 1u << 5,
        RULE_KEY_APP_ID = 1u << 6,
        RULE_KEY_PRIORITY = 1u << 7,
        RULE_KEY_ACTIONS = 1u << 8,
        RULE_KEY_PREFER_FREEZE = 1u << 9,
        RULE_KEY_SPLIT = 1u << 10,
        RULE_KEY_TRUST_COMM = 1u << 11,
        RULE_KEY_ENABLED = 1u << 12,
        RULE_KEYS_MATCH = (1u << 7) - 1,
        RULE_KEYS_ALL = (1u << 13) - 1,
        RULE_KEYS_SELF_CHOSEN = RULE_KEY_COMM | RULE_KEY_CMDLINE,
} RuleKey;

typedef struct Rule {
        char *name;
        unsigned set; /* RuleKey bits for the keys this rule sets */
        /* Matchers: NULL-terminated glob lists (GLib-allocated), NULL when unset. */
        char **exe, **comm, **cgroup, **unit, **app_id;
        char *cmdline; /* regex source; cmdline_re is compiled when RULE_KEY_CMDLINE is set */
        regex_t cmdline_re;
        char cmdline_lit[32]; /* a string every match contains (regex_required_literal), "" if none */
        uid_t *uids;
        size_t n_uids;
        /* Settings, meaningful when their bit is in `set`. */
        int priority;
        unsigned actions; /* RuleAction bits */
        bool prefer_freeze, split, trust_comm, enabled;
} Rule;

typedef struct ProtectList {
        char **exe, **unit, **cgroup, **app_id, **comm;
        bool trust_comm;
} ProtectList;

typedef struct RuleSet {
        Rule *rules;
        size_t n;
        ProtectList protect;
} RuleSet;

void rules_init(RuleSet *rs);
void rules_done(RuleSet *rs);
/* Deep copy into *dst (initialised here). */
int rules_copy(RuleSet *dst, const RuleSet *src);

/* True for "protect" and "rule:*": the groups config.c hands to rules_parse_group(). */
bool rules_is_rules_group(const char *group);

/* Apply one group of `kf` to *rs. `filename` is for messages only. */
int rules_parse_group(RuleSet *rs, GKeyFile *kf, const char *group, const char *filename, char **ret_error);

/*
 * Apply every group of a GKeyFile text (all must be rules groups). On error
 * nothing of this text is applied.
 */
int rules_parse_data(RuleSet *rs, const char *data, size_t len, const char *filename, char **ret_error);

/* The shipped defaults (data/default-rules.conf, embedded at build time). */
extern const char memguard_default_rules[];
int rules_load_defaults(RuleSet *rs, char **ret_error);

/* A weak rule: only comm/cmdline matchers and no trust-comm (see above). */
bool rule_is_weak(const Rule *r);

typedef struct RuleMatch {
        int priority;
        unsigned actions;
        bool prefer_freeze;
        bool split;        /* act on this process alone, not its whole app */
        bool protect;      /* matched the [protect] list */
        bool weak_ignored; /* a weak rule matched but was not allowed to make it safer */
        const char *rule;  /* rule that set the priority: a NAME in rs, "default" or "protect" */
} RuleMatch;

/* Never fails; no allocation, no GLib. */
void rules_match(const RuleSet *rs, const ProcEntry *e, RuleMatch *ret);

/*
 * Which exe patterns match, by exe path: thousands of processes run a few
 * hundred executables, and trying every rule's exe patterns and the protect
 * list's on each process is most of what matching costs. A memo holds, for
 * up to RULE_MEMO_MAX distinct exe strings of one table, whether each rule's
 * exe list and the protect list match; further exes are matched directly.
 * It points at the table's strings: reset it before each pass over a table
 * (rule_memo_reset allocates only when the rules outgrow it).
 */
#define RULE_MEMO_MAX 256
#define RULE_MEMO_SLOTS 512 /* open addressing, at most half full */
typedef struct RuleMemoSlot {
        const char *exe; /* NULL: empty */
        uint64_t hash;
        uint32_t idx;    /* its bits: words [idx * words, (idx + 1) * words) */
} RuleMemoSlot;
typedef struct RuleMemo {
        const RuleSet *rs;
        size_t words;     /* per exe: rs->n + 1 bits (rule i, then the protect list) */
        size_t n;         /* exes memoized */
        RuleMemoSlot *slots;
        uint64_t *bits;
        size_t bits_allocated; /* words */
} RuleMemo;

void rule_memo_reset(RuleMemo *m, const RuleSet *rs);
void rule_memo_done(RuleMemo *m);
/* rules_match(), with exe pattern results from (and into) *m (NULL: none). */
void rules_match_memo(const RuleSet *rs, const ProcEntry *e, RuleMemo *m, RuleMatch *ret);

/* Does the [protect] list match? *ret_entry (may be NULL) gets the matching pattern. */
bool rules_protect_match(const RuleSet *rs, const ProcEntry *e, const char **ret_entry);

/* What the daemon knows about the processes it must never act on. Zero/NULL = unknown. */
typedef struct NeverTargetContext {
        pid_t self_pid;
        const char *self_cgroup; /* memguard's cgroup; protected with its subtree if it is its own unit */
        pid_t bus_pid;           /* the bus daemon */
        const pid_t *agent_pids; /* registered memguard agents */
        size_t n_agent_pids;
        const pid_t *compositor_pids;
        size_t n_compositor_pids;
        const char *const *compositor_cgroups; /* NULL-terminated */
        /* Protected at runtime (memguardctl protect / the Protect method): whole
         * app cgroups (NULL-terminated, exact match on the process's cgroup or
         * below it) and single processes (pid with its start time). */
        const char *const *protected_cgroups;
        const pid_t *protected_pids;
        const uint64_t *protected_start_times;
        size_t n_protected_pids;
} NeverTargetContext;

/*
 * The never-target list of DESIGN.md, whatever the rules say: PID 1, kernel
 * threads, memguard itself and its cgroup, oom_score_adj -1000, the bus
 * daemon, polkitd, logind, journald, the session compositor and display
 * server, memguard agents, and the [protect] list of `rs` (may be NULL).
 * Known system daemons and compositors are also recognised by their exe
 * path in root-owned directories. *ret_why (may be NULL) gets a static
 * string saying which entry of the list applies.
 */
bool rules_never_target(const RuleSet *rs, const ProcEntry *e, const NeverTargetContext *ctx,
                        const char **ret_why);

/*
 * Is this cgroup v2 path inside an app's own unit (a *.scope or *.service),
 * as opposed to a login session (session-*.scope), a user manager
 * (user@*.service), init.scope, a terminal's session (vte-spawn-*.scope,
 * tmux-spawn-*.scope), a slice or the root? The innermost unit decides:
 * sub-cgroups of a delegated unit belong to it. *ret_len (may be NULL) gets
 * the length of the prefix that names the unit's cgroup.
 */
bool rules_cgroup_app_unit(const char *cgroup, size_t *ret_len);
bool rules_cgroup_is_app(const char *cgroup);
