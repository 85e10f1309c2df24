/* SPDX-License-Identifier: MIT */
/*
 * Hook commands: programs the administrator configures to run when the
 * level changes and before a kill.
 *
 * A hook is run without a shell: argv comes from the configuration as is
 * (argv[0] an absolute path), and it is started with posix_spawn(3) (vfork
 * semantics: nothing of the daemon is copied). The facts are passed only as
 * environment variables, never spliced into arguments. The environment is
 * clean: PATH plus
 *   MEMGUARD_EVENT           level-change | before-kill
 *   MEMGUARD_LEVEL           new level (normal ... emergency)
 *   MEMGUARD_PREVIOUS_LEVEL  level before the change
 *   MEMGUARD_SCORE           pressure score, e.g. 0.412
 *   MEMGUARD_PID, MEMGUARD_COMM, MEMGUARD_UID, MEMGUARD_APP   the victim (before-kill)
 *   MEMGUARD_REASON          why
 * each one present only when the caller knows it. Values are passed byte for
 * byte (they may hold anything, newlines included, from a hostile process
 * name); a hook must treat them as data.
 *
 * The child gets stdin from /dev/null, stdout and stderr to the daemon's
 * stderr (or /dev/null), no other fds, default signal handling and an empty
 * signal mask, its own process group, and oom_score_adj 0 if the daemon's
 * is negative (a hook must not inherit the daemon's protection).
 *
 * Hooks run asynchronously in the sd-event loop: the exit is watched
 * through a pidfd. A hook still running after the timeout is killed with
 * SIGKILL (its whole process group), and reported as timed out at once.
 * At most max_running hooks run at a time; hook_run() refuses more with
 * -EBUSY (the caller logs that the hook was skipped).
 *
 * Two ways to use it:
 *  - fire and forget (done == NULL), e.g. on a level change: the runner
 *    logs a failure, a timeout or a non-zero exit itself (warning);
 *  - wait with a callback, e.g. before a kill: start the hook with a `done`
 *    callback and start the kill from that callback. It is called exactly
 *    once, when the hook exits or as soon as the timeout expires, so the
 *    kill is delayed by at most the timeout. If hook_run() fails (-EBUSY,
 *    -ENOENT, ...) `done` is never called: kill at once.
 * Starting a hook allocates and spawns; a configured before-kill hook puts
 * that (bounded by its timeout) on the path to the kill by choice.
 *
 * The same runner starts helper programs that are not hooks (criu, see
 * checkpointer.h): hook_run_output() with facts NULL gives the child PATH
 * alone as its environment, and may send its stdout and stderr to a file the
 * caller reads afterwards. Everything else (no shell, clean fds and signals,
 * own process group, pidfd, timeout) is the same.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "level.h"
#include "macro.h"

#define HOOK_MAX_RUNNING 8
#define HOOK_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef enum HookEvent {
        HOOK_EVENT_LEVEL_CHANGE,
        HOOK_EVENT_BEFORE_KILL,
        _HOOK_EVENT_MAX,
} HookEvent;

const char *hook_event_to_string(HookEvent e); /* "level-change", "before-kill" */

typedef struct HookFacts {
        HookEvent event;
        Level level;          /* _LEVEL_INVALID: not passed */
        Level previous_level; /* _LEVEL_INVALID: not passed */
        double score;         /* NAN: not passed */
        pid_t pid;            /* 0: not passed */
        bool has_uid;
        uid_t uid;
        const char *comm; /* NULL: not passed (likewise app, reason) */
        const char *app;
        const char *reason;
} HookFacts;

/* Facts for `event` with nothing known yet. */
void hook_facts_init(HookFacts *f, HookEvent event);

typedef enum HookOutcome {
        HOOK_EXITED,    /* status = exit code */
        HOOK_SIGNALED,  /* status = the signal that ended it */
        HOOK_TIMED_OUT, /* killed after the timeout */
} HookOutcome;

typedef struct HookResult {
        HookEvent event;  /* _HOOK_EVENT_MAX for a helper started without facts */
        const char *path; /* argv[0]; valid during the callback */
        pid_t pid;
        HookOutcome outcome;
        int status;
        uint64_t duration_usec;
} HookResult;

/* Success is HOOK_EXITED with status 0. */
static inline bool hook_result_ok(const HookResult *r)
{
        return r->outcome == HOOK_EXITED && r->status == 0;
}

typedef void (*hook_done_t)(const HookResult *result, void *userdata);

typedef struct HookRunner HookRunner;

/*
 * A runner on `event` (referenced). timeout_usec > 0; 1 <= max_running <=
 * HOOK_MAX_RUNNING; with inherit_stderr hooks write to the daemon's stderr
 * (the journal), else to /dev/null.
 */
int hook_runner_new(sd_event *event, uint64_t timeout_usec, unsigned max_running, bool inherit_stderr,
                    HookRunner **ret);

/* Kills (SIGKILL) hooks still running, without calling their callbacks. Not from a callback. */
HookRunner *hook_runner_free(HookRunner *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(HookRunner *, hook_runner_free)

/*
 * Start argv (NULL-terminated; argv[0] an absolute path) with the facts in
 * its environment. -EINVAL for a bad argv; -EBUSY when max_running hooks
 * are running; -ENOENT, -EACCES, -ENOEXEC... when it cannot be executed.
 * `done` (may be NULL) is called once when it ends or times out.
 */
int hook_run(HookRunner *r, char *const argv[], const HookFacts *facts, hook_done_t done, void *userdata);

/*
 * hook_run(), except that `facts` may be NULL (a helper program: its
 * environment is PATH alone) and, with output_fd >= 0, the child's stdout
 * and stderr both go to output_fd (which the caller keeps and closes).
 */
int hook_run_output(HookRunner *r, char *const argv[], const HookFacts *facts, int output_fd, hook_done_t done,
                    void *userdata);

/* Hooks started and not yet reaped (a killed one counts until it is gone). */
unsigned hook_runner_n_running(const HookRunner *r);
