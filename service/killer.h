/* SPDX-License-Identifier: MIT */
/*
 * Killing an app, asynchronously in the daemon's sd-event loop:
 *
 *   SIGTERM to each process through its pidfd, then a wait (the deadline)
 *   during which each pidfd is watched for its exit; at the deadline
 *   cgroup.kill for an app that owns its cgroup and SIGKILL through the
 *   pidfd of every survivor, process_mrelease(2) on each; then a second,
 *   bounded wait, after which the kill is reported finished whatever
 *   happened. A deadline of 0 sends SIGKILL at once (emergency).
 *
 * A kill always finishes: its callback is called exactly once, from the
 * event loop (never from inside killer_kill_app()), and a kill never loops
 * or retries by itself. Processes that outlive SIGKILL (typically in D
 * state) are reported KILL_PROC_PRESENT, "unkillable so far".
 *
 * Identity: a process is acted on only through a pidfd. An entry's pidfd is
 * duplicated (the caller keeps its own); an entry without one (pidfd -1) gets
 * one opened here (proc_entry_open_pidfd), which is kept only if its inode
 * number is the entry's pid_ino or, without one, if /proc/PID/stat, read
 * after opening it, still shows the entry's start_time. A PID that now names
 * another process is never signalled.
 *
 * No allocation on the kill path: every kill slot, its epoll set and its
 * event sources are made in killer_new(); a kill only enables them.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "proc.h"

#define KILLER_KEY_MAX 256  /* including the NUL */
#define KILLER_NAME_MAX 256 /* longer names are truncated (display only) */
#define KILLER_DEFAULT_MAX_KILLS 4u
#define KILLER_DEFAULT_MAX_PROCS 256u
#define KILLER_DEFAULT_KILL_WAIT_USEC (2 * USEC_PER_SEC)
#define KILLER_MAX_TERM_DEADLINE_USEC (300 * USEC_PER_SEC) /* longer deadlines are clamped to this */

typedef enum KillProcOutcome {
        KILL_PROC_GONE,        /* had already exited when the kill began: nothing was sent */
        KILL_PROC_SKIPPED,     /* not signalled; error says why (-ESTALE: the PID names another
                                  process now, -EPERM: refused or not permitted, -ENOSYS: no pidfds) */
        KILL_PROC_EXITED_TERM, /* exited after SIGTERM, before the deadline */
        KILL_PROC_KILLED,      /* exited after the escalation to SIGKILL */
        KILL_PROC_PRESENT,     /* still there when the kill finished: unkillable so far */
        _KILL_PROC_OUTCOME_MAX,
} KillProcOutcome;

const char *kill_proc_outcome_to_string(KillProcOutcome o);

typedef struct KillProcResult {
        pid_t pid;
        uint64_t start_time;
        char comm[PROC_COMM_MAX];
        KillProcOutcome outcome;
        int error;            /* KILL_PROC_SKIPPED: why; otherwise a SIGTERM/SIGKILL error, or 0 */
        bool sigterm_sent;
        bool sigkill_sent;    /* through its pidfd (cgroup.kill is reported in KillResult) */
        bool mrelease_tried;
        int mrelease_error;   /* 0: memory released; -ENOSYS (kernel < 5.15), -EINVAL (not dying),
                                 -ESRCH (its memory was already gone), ... */
        uint64_t exit_usec;   /* from the start of the kill until its exit was seen; 0 if not seen */
        char state;           /* KILL_PROC_PRESENT: state letter at the end ('D', ...), 0 if unknown */
} KillProcResult;

typedef struct KillResult {
        const char *key;
        const char *name;
        const char *cgroup;       /* as given, or NULL */
        uint64_t term_deadline_usec;
        uint64_t total_usec;      /* from the start of the kill until it finished */
        bool cancelled;           /* ended early by killer_free() */
        bool escalated;           /* SIGKILL was sent (survivors at the deadline, or deadline 0) */
        bool cgroup_killed;       /* "1" was written to cgroup.kill */
        int cgroup_error;         /* why cgroup.kill was not used or failed (-EPERM: memguard's own
                                     cgroup or an ancestor of it, -ENOENT: gone or no cgroup.kill), or 0 */
        int cgroup_populated;     /* with a cgroup: 1 or 0 at the end, -errno if unknown */
        unsigned count[_KILL_PROC_OUTCOME_MAX];
        size_t n_procs;
        const KillProcResult *procs; /* in the order given */
} KillResult;

/* The result and everything it points to are valid only during the call. */
typedef void (*killer_callback_t)(void *userdata, const KillResult *result);

typedef struct KillerOptions {
        int procfd;                 /* proc root for start_time checks and end states; duplicated */
        uint64_t kill_wait_usec;    /* the bounded wait after SIGKILL; 0: KILLER_DEFAULT_KILL_WAIT_USEC */
        const char *protect_cgroup; /* absolute path of memguard's own cgroup, or NULL: it and its
                                       ancestors are never written to cgroup.kill */
        unsigned max_kills;         /* kills in flight at once; 0: KILLER_DEFAULT_MAX_KILLS */
        unsigned max_procs;         /* processes per kill; 0: KILLER_DEFAULT_MAX_PROCS */
} KillerOptions;

typedef struct Killer Killer;

int killer_new(sd_event *event, const KillerOptions *opts, Killer **ret);

/*
 * Finishes every kill in flight at once (callback with cancelled = true;
 * whatever was already signalled stays signalled, nothing is escalated),
 * then frees. Call it while the callbacks' userdata is still valid, and
 * never from inside a callback.
 */
Killer *killer_free(Killer *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(Killer *, killer_free)

/*
 * Start killing the app `key` (e.g. its unit or app id; at most one kill per
 * key is in flight), described as `name` in results. `cgroup` is the
 * absolute path of a v2 cgroup that holds only this app (an app-*.scope, or
 * one memguard created), or NULL: with it, survivors of the deadline are
 * killed with cgroup.kill (the whole app, including processes not listed),
 * and the kill waits for the cgroup to empty as well. `procs` are the app's
 * processes (n may be 0 when a cgroup is given). PID 1, memguard itself and
 * kernel threads are skipped whatever the caller asks.
 *
 * Returns 0 when the kill has started; `callback` will then be called exactly
 * once. On failure nothing was signalled and there will be no callback:
 * -EINVAL (bad arguments, a relative or unnormalised cgroup path), -EALREADY
 * (a kill of `key` is in flight), -EBUSY (max_kills in flight), -E2BIG
 * (more than max_procs processes), -ENAMETOOLONG (key or cgroup too long).
 */
int killer_kill_app(Killer *k, const char *key, const char *name, const char *cgroup,
                    const ProcEntry *const *procs, size_t n, uint64_t term_deadline_usec,
                    killer_callback_t callback, void *userdata);

bool killer_is_killing(const Killer *k, const char *key);
unsigned killer_n_active(const Killer *k);

