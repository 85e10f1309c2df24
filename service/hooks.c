/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "hooks.h"
#include "log.h"

#define HOOK_ENV_MAX 12
#define HOOK_ENV_VALUE_MAX 1024

typedef struct HookSlot {
        HookRunner *runner;
        bool used;
        bool reported; /* the outcome was reported (at the timeout, before reaping) */
        pid_t pid;
        int pidfd;
        sd_event_source *exit_source;
        sd_event_source *timer_source;
        HookEvent event;
        uint64_t started_usec;
        hook_done_t done;
        void *userdata;
        char path[256];
} HookSlot;

struct HookRunner {
        sd_event *event;
        uint64_t timeout_usec;
        unsigned max_running;
        bool inherit_stderr;
        bool reset_oom_score_adj;
        HookSlot slots[HOOK_MAX_RUNNING];
};

static const char *const hook_event_table[_HOOK_EVENT_MAX] = {
        [HOOK_EVENT_LEVEL_CHANGE] = "level-change",
        [HOOK_EVENT_BEFORE_KILL] = "before-kill",
};

const char *hook_event_to_string(HookEvent e)
{
        return e >= 0 && e < _HOOK_EVENT_MAX ? hook_event_table[e] : NULL;
}

/* For messages: a helper started without facts is no hook event. */
static const char *slot_event_name(HookEvent e)
{
        return hook_event_to_string(e) ?: "helper";
}

void hook_facts_init(HookFacts *f, HookEvent event)
{
        *f = (HookFacts){
                .event = event,
                .level = _LEVEL_INVALID,
                .previous_level = _LEVEL_INVALID,
                .score = NAN,
        };
}

static uint64_t runner_now(HookRunner *r)
{
        uint64_t t = 0;

        (void)sd_event_now(r->event, CLOCK_MONOTONIC, &t);
        return t;
}

int hook_runner_new(sd_event *event, uint64_t timeout_usec, unsigned max_running, bool inherit_stderr,
                    HookRunner **ret)
{
        HookRunner *r;
        char buf[32];

        if (!event || timeout_usec == 0 || max_running < 1 || max_running > HOOK_MAX_RUNNING)
                return -EINVAL;
        r = xmalloc0(sizeof(*r));
        r->event = sd_event_ref(event);
        r->timeout_usec = timeout_usec;
        r->max_running = max_running;
        r->inherit_stderr = inherit_stderr;
        /* A daemon protected from the OOM killer must not pass that on to its hooks. */
        r->reset_oom_score_adj =
                read_file_at(AT_FDCWD, "/proc/self/oom_score_adj", buf, sizeof(buf)) > 0 && atoi(buf) < 0;
        for (unsigned i = 0; i < HOOK_MAX_RUNNING; i++)
                r->slots[i].pidfd = -1;
        *ret = r;
        return 0;
}

static void slot_release(HookSlot *s)
{
        s->exit_source = sd_event_source_disable_unref(s->exit_source);
        s->timer_source = sd_event_source_disable_unref(s->timer_source);
        s->pidfd = safe_close(s->pidfd);
        s->used = false;
        s->reported = false;
        s->done = NULL;
        s->userdata = NULL;
}

/* Kill the hook and everything it started. Only while it is unreaped, so
 * neither its PID nor its process group can have been reused. */
static void slot_kill(HookSlot *s)
{
        (void)killpg(s->pid, SIGKILL);
        if (pidfd_send_signal(s->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                log_debug_errno(-errno, "hook %s (pid %d): cannot kill, ignoring: %m", s->path, (int)s->pid);
}

HookRunner *hook_runner_free(HookRunner *r)
{
        if (!r)
                return NULL;
        for (unsigned i = 0; i < HOOK_MAX_RUNNING; i++) {
                HookSlot *s = &r->slots[i];
                siginfo_t si;

                if (!s->used)
                        continue;
                slot_kill(s);
                /* SIGKILL is quick; do not hang shutdown on a hook stuck in D state. */
                (void)poll(&(struct pollfd){.fd = s->pidfd, .events = POLLIN}, 1, 100);
                (void)waitid(P_PIDFD, (id_t)s->pidfd, &si, WEXITED | WNOHANG);
                slot_release(s);
        }
        sd_event_unref(r->event);
        free(r);
        return NULL;
}

unsigned hook_runner_n_running(const HookRunner *r)
{
        unsigned n = 0;

        for (unsigned i = 0; i < HOOK_MAX_RUNNING; i++)
                n += r->slots[i].used;
        return n;
}

/* Report from a copy of the slot: the slot itself may already be free. */
static void hook_report(const HookSlot *s, HookOutcome outcome, int status)
{
        HookResult res = {
                .event = s->event,
                .path = s->path,
                .pid = s->pid,
                .outcome = outcome,
                .status = status,
                .duration_usec = runner_now(s->runner) - s->started_usec,
        };
        char hook[300], ev[32], st[32], dur[32];

        if (s->done) {
                s->done(&res, s->userdata);
                return;
        }

        snprintf(hook, sizeof(hook), "hook=%s", s->path);
        snprintf(ev, sizeof(ev), "event=%s", slot_event_name(s->event));
        snprintf(st, sizeof(st), "status=%d", status);
        snprintf(dur, sizeof(dur), "duration_ms=%llu",
                 (unsigned long long)(res.duration_usec / USEC_PER_MSEC));
        if (outcome == HOOK_TIMED_OUT)
                log_struct(LOG_WARNING, "hook timed out and was killed", hook, ev, dur, NULL);
        else if (outcome == HOOK_SIGNALED)
                log_struct(LOG_WARNING, "hook was killed by a signal", hook, ev, st, dur, NULL);
        else if (status != 0)
                log_struct(LOG_WARNING, "hook failed", hook, ev, st, dur, NULL);
        else
                log_debug("hook %s finished in %llu ms", s->path,
                          (unsigned long long)(res.duration_usec / USEC_PER_MSEC));
}

static int on_hook_exit(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        HookSlot *s = userdata, copy;
        siginfo_t si = {};
        bool reported = s->reported;

        if (waitid(P_PIDFD, (id_t)s->pidfd, &si, WEXITED | WNOHANG) < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return 0;
                log_debug_errno(-errno, "hook %s (pid %d): waitid failed, dropping it: %m", s->path,
                                (int)s->pid);
                si.si_pid = s->pid;
                si.si_code = CLD_KILLED;
                si.si_status = SIGKILL;
        }
        if (si.si_pid == 0)
                return 0; /* not yet */

        /* Free the slot before the callback runs, so that it may start another hook. */
        copy = *s;
        slot_release(s);
        if (!reported)
                hook_report(&copy, si.si_code == CLD_EXITED ? HOOK_EXITED : HOOK_SIGNALED, si.si_status);
        return 0;
}

static int on_hook_timeout(sd_event_source *source, uint64_t usec, void *userdata)
{
        HookSlot *s = userdata, copy;

        /* Killed now, reaped when its pidfd says so; the slot stays taken until then. */
        slot_kill(s);
        s->timer_source = sd_event_source_disable_unref(s->timer_source);
        s->reported = true;
        copy = *s;
        s->done = NULL;
        hook_report(&copy, HOOK_TIMED_OUT, SIGKILL);
        return 0;
}

/* Append "KEY=value" to the environment block; values longer than the buffer are cut. */
static void env_add(char env[][HOOK_ENV_VALUE_MAX], char **envp, size_t *n, const char *key, const char *fmt,
                    ...) _printf_(5, 6);
static void env_add(char env[][HOOK_ENV_VALUE_MAX], char **envp, size_t *n, const char *key, const char *fmt,
                    ...)
{
        va_list ap;
        int k;

        k = snprintf(env[*n], HOOK_ENV_VALUE_MAX, "%s=", key);
        va_start(ap, fmt);
        vsnprintf(env[*n] + k, HOOK_ENV_VALUE_MAX - (size_t)k, fmt, ap);
        va_end(ap);
        envp[*n] = env[*n];
        (*n)++;
        envp[*n] = NULL;
}

static void build_env(const HookFacts *f, char env[][HOOK_ENV_VALUE_MAX], char **envp)
{
        size_t n = 0;

        env_add(env, envp, &n, "PATH", "%s", HOOK_PATH);
        if (!f)
                return; /* a helper program: PATH alone */
        env_add(env, envp, &n, "MEMGUARD_EVENT", "%s", hook_event_to_string(f->event));
        if (level_to_string(f->level))
                env_add(env, envp, &n, "MEMGUARD_LEVEL", "%s", level_to_string(f->level));
        if (level_to_string(f->previous_level))
                env_add(env, envp, &n, "MEMGUARD_PREVIOUS_LEVEL", "%s", level_to_string(f->previous_level));
        if (isfinite(f->score)) {
                char *comma;
                env_add(env, envp, &n, "MEMGUARD_SCORE", "%.3f", f->score);
                comma = strchr(envp[n - 1], ','); /* a locale with a decimal comma */
                if (comma)
                        *comma = '.';
        }
        if (f->pid > 0)
                env_add(env, envp, &n, "MEMGUARD_PID", "%d", (int)f->pid);
        if (f->comm)
                env_add(env, envp, &n, "MEMGUARD_COMM", "%s", f->comm);
        if (f->has_uid)
                env_add(env, envp, &n, "MEMGUARD_UID", "%u", (unsigned)f->uid);
        if (f->app)
                env_add(env, envp, &n, "MEMGUARD_APP", "%s", f->app);
        if (f->reason)
                env_add(env, envp, &n, "MEMGUARD_REASON", "%s", f->reason);
}

static int spawn(const HookRunner *r, char *const argv[], char *const envp[], int output_fd, pid_t *ret_pid)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int e;

        sigemptyset(&none);
        sigfillset(&all);
        e = posix_spawnattr_init(&attr);
        if (e != 0)
                return -e;
        e = posix_spawn_file_actions_init(&fa);
        if (e != 0) {
                posix_spawnattr_destroy(&attr);
                return -e;
        }
        /* Default signal handling, nothing blocked (the daemon blocks what sd-event watches). */
        e = posix_spawnattr_setflags(&attr,
                                     POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
        if (!e)
                e = posix_spawnattr_setsigmask(&attr, &none);
        if (!e)
                e = posix_spawnattr_setsigdefault(&attr, &all);
        if (!e)
                e = posix_spawnattr_setpgroup(&attr, 0);
        if (!e)
                e = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (!e && output_fd >= 0) {
                e = posix_spawn_file_actions_adddup2(&fa, output_fd, STDOUT_FILENO);
                if (!e)
                        e = posix_spawn_file_actions_adddup2(&fa, output_fd, STDERR_FILENO);
        } else if (!e && r->inherit_stderr)
                e = posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
        else if (!e) {
                e = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
                if (!e)
                        e = posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
        }
        if (!e)
                e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
        if (!e)
                e = posix_spawn(ret_pid, argv[0], &fa, &attr, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        return -e;
}

int hook_run(HookRunner *r, char *const argv[], const HookFacts *facts, hook_done_t done, void *userdata)
{
        if (!facts)
                return -EINVAL;
        return hook_run_output(r, argv, facts, -1, done, userdata);
}

int hook_run_output(HookRunner *r, char *const argv[], const HookFacts *facts, int output_fd, hook_done_t done,
                    void *userdata)
{
        char env[HOOK_ENV_MAX][HOOK_ENV_VALUE_MAX];
        char *envp[HOOK_ENV_MAX + 1];
        char oom_path[64];
        HookSlot *s = NULL;
        pid_t pid;
        int pidfd, k;

        if (!argv || !argv[0] || argv[0][0] != '/' || (facts && !hook_event_to_string(facts->event)))
                return -EINVAL;
        if (hook_runner_n_running(r) >= r->max_running)
                return -EBUSY;
        for (unsigned i = 0; i < HOOK_MAX_RUNNING && !s; i++)
                if (!r->slots[i].used)
                        s = &r->slots[i];

        build_env(facts, env, envp);
        k = spawn(r, argv, envp, output_fd, &pid);
        if (k < 0)
                return k;

        /* Our unreaped child: its PID cannot be reused before we wait for it. */
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0) {
                k = -errno;
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                return k;
        }
        *s = (HookSlot){
                .runner = r,
                .used = true,
                .pid = pid,
                .pidfd = pidfd,
                .event = facts ? facts->event : _HOOK_EVENT_MAX,
                .started_usec = runner_now(r),
                .done = done,
                .userdata = userdata,
        };
        snprintf(s->path, sizeof(s->path), "%s", argv[0]);

        k = sd_event_add_io(r->event, &s->exit_source, pidfd, EPOLLIN, on_hook_exit, s);
        if (k >= 0)
                k = sd_event_add_time_relative(r->event, &s->timer_source, CLOCK_MONOTONIC, r->timeout_usec,
                                               USEC_PER_MSEC, on_hook_timeout, s);
        if (k < 0) {
                slot_kill(s);
                (void)waitid(P_PIDFD, (id_t)pidfd, &(siginfo_t){}, WEXITED);
                slot_release(s);
                return k;
        }

        if (r->reset_oom_score_adj) {
                snprintf(oom_path, sizeof(oom_path), "/proc/%d/oom_score_adj", (int)pid);
                k = write_string_file_at(AT_FDCWD, oom_path, "0", false);
                if (k < 0)
                        log_debug_errno(k, "hook %s (pid %d): cannot reset oom_score_adj, ignoring: %m",
                                        s->path, (int)pid);
        }
        log_debug("hook %s (%s) started as pid %d", s->path, slot_event_name(s->event), (int)pid);
        return 0;
}
