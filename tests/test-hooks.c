/* SPDX-License-Identifier: MIT */
/*
 * Hook commands, run for real: hook scripts written here record the
 * environment and argv they got. Facts must arrive only in the environment,
 * byte for byte, argv exactly as configured (no shell ever sees either); a
 * hook that outlives its timeout is killed with everything it started; a
 * missing executable is an error; at most max_running run at once.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fileio.h"
#include "hooks.h"
#include "log.h"
#include "test.h"

static char tmp[] = "/tmp/memguard-test-hooks.XXXXXX";

static uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static void path_in_tmp(char *buf, size_t size, const char *name)
{
        snprintf(buf, size, "%s/%s", tmp, name);
}

/* Write an executable script; "@D@" in body stands for the temp dir. */
static void write_script(const char *name, const char *body, mode_t mode)
{
        char path[256], text[4096];
        size_t o = 0;
        FILE *f;

        for (const char *b = body; *b && o + 64 < sizeof(text); b++) {
                if (strncmp(b, "@D@", 3) == 0) {
                        o += (size_t)snprintf(text + o, sizeof(text) - o, "%s", tmp);
                        b += 2;
                } else
                        text[o++] = *b;
        }
        text[o] = 0;
        path_in_tmp(path, sizeof(path), name);
        f = fopen(path, "we");
        ASSERT_TRUE(f);
        fputs(text, f);
        ASSERT_EQ_INT(fclose(f), 0);
        ASSERT_EQ_INT(chmod(path, mode), 0);
}

static bool exists_in_tmp(const char *name)
{
        char path[256];
        path_in_tmp(path, sizeof(path), name);
        return access(path, F_OK) == 0;
}

/* Read a file from the temp dir; *ret_size gets its length (it may hold NULs). */
static char *slurp(const char *name, size_t *ret_size)
{
        char path[256], *buf;

        path_in_tmp(path, sizeof(path), name);
        ASSERT_OK(read_full_file_at(AT_FDCWD, path, 1 << 20, &buf, ret_size));
        return buf;
}

/* Compare a block of NUL-terminated strings with a NULL-terminated list. */
static void assert_strv_block(const char *block, size_t size, const char *const *expect)
{
        size_t o = 0, i = 0;

        for (; expect[i]; i++) {
                fprintf(stderr, "  [%zu] %s\n", i, block + o);
                ASSERT_TRUE(o < size);
                ASSERT_STREQ(block + o, expect[i]);
                o += strlen(block + o) + 1;
        }
        ASSERT_EQ_INT(o, size); /* nothing more */
}

typedef struct Done {
        unsigned calls;
        HookResult last;
        uint64_t at;
        HookRunner *runner; /* for the callback that starts another hook */
        char *const *again; /* argv to start from the callback, or NULL */
        int again_r;
} Done;

static void on_done(const HookResult *res, void *userdata)
{
        Done *d = userdata;

        d->calls++;
        d->last = *res;
        d->last.path = NULL;
        d->at = now_usec();
        if (d->again) {
                HookFacts f;
                hook_facts_init(&f, HOOK_EVENT_LEVEL_CHANGE);
                d->again_r = hook_run(d->runner, d->again, &f, NULL, NULL);
        }
}

/* Run the loop until cond() holds or the deadline passes. */
static void run_until(sd_event *e, bool (*cond)(void *), void *userdata, uint64_t max_usec)
{
        uint64_t end = now_usec() + max_usec;

        while (!cond(userdata)) {
                ASSERT_TRUE(now_usec() < end);
                ASSERT_OK(sd_event_run(e, 50 * USEC_PER_MSEC));
        }
}

static bool done_called(void *userdata)
{
        return ((Done *)userdata)->calls > 0;
}

static bool runner_idle(void *userdata)
{
        return hook_runner_n_running(userdata) == 0;
}

/* The signal state is read first, with builtins only: while dash waits for a
 * child it blocks every signal itself. */
static const char record_script[] =
        "#!/bin/sh\n"
        "while read -r k v; do case $k in SigBlk:|SigIgn:) echo \"$k $v\";; esac; done < /proc/$$/status > "
        "'@D@/sig'\n"
        "cat /proc/$$/environ > '@D@/env'\n"
        "printf '%s\\0' \"$0\" \"$@\" > '@D@/argv'\n"
        "readlink /proc/$$/fd/0 > '@D@/stdin'\n"
        "if [ -e /proc/$$/fd/57 ]; then echo leaked; else echo none; fi > '@D@/fd'\n"
        "cat /proc/$$/oom_score_adj > '@D@/oom'\n"
        "exit 3\n";

static void test_env_and_argv(sd_event *e)
{
        _cleanup_(hook_runner_freep) HookRunner *r = NULL;
        _cleanup_free_ char *env = NULL, *argv_block = NULL, *sig = NULL, *in = NULL, *fd = NULL,
                            *oom = NULL;
        char script[256], hostile_comm[512], arg_subst[300], arg_semi[300];
        sigset_t block, saved;
        int old_adj = 0, devnull;
        bool lowered = false;
        Done d = {};
        HookFacts f;
        size_t size;

        write_script("record.sh", record_script, 0755);
        path_in_tmp(script, sizeof(script), "record.sh");
        snprintf(hostile_comm, sizeof(hostile_comm),
                 "a b;rm -rf /;touch %s/pwned1 $(touch %s/pwned2) `touch %s/pwned3` \"'\n\x01", tmp, tmp,
                 tmp);
        snprintf(arg_subst, sizeof(arg_subst), "$(touch %s/pwned4)", tmp);
        snprintf(arg_semi, sizeof(arg_semi), ";touch %s/pwned5", tmp);
        char *const argv[] = {script, (char *)"two words", arg_subst, arg_semi, (char *)"", NULL};

        /* What the daemon has and a hook must not: blocked and ignored signals,
         * an inheritable fd, OOM protection. */
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGUSR1);
        ASSERT_EQ_INT(sigprocmask(SIG_BLOCK, &block, &saved), 0);
        signal(SIGUSR2, SIG_IGN);
        devnull = open("/dev/null", O_RDONLY);
        ASSERT_TRUE(dup2(devnull, 57) == 57);
        close(devnull);
        if (geteuid() == 0) {
                char buf[32];
                ASSERT_TRUE(read_file_at(AT_FDCWD, "/proc/self/oom_score_adj", buf, sizeof(buf)) > 0);
                old_adj = atoi(buf);
                lowered = write_string_file_at(AT_FDCWD, "/proc/self/oom_score_adj", "-100", false) == 0;
        }

        ASSERT_OK(hook_runner_new(e, 5 * USEC_PER_SEC, 2, true, &r));
        hook_facts_init(&f, HOOK_EVENT_BEFORE_KILL);
        f.level = LEVEL_CRITICAL;
        f.score = 0.4123;
        f.pid = 4242;
        f.has_uid = true;
        f.uid = 1000;
        f.comm = hostile_comm;
        f.app = "org.example.App";
        f.reason = "largest growth\nin the last minute";
        ASSERT_OK(hook_run(r, argv, &f, on_done, &d));
        ASSERT_EQ_INT(hook_runner_n_running(r), 1);
        run_until(e, done_called, &d, 10 * USEC_PER_SEC);
        ASSERT_EQ_INT(d.calls, 1);
        ASSERT_EQ_INT(d.last.outcome, HOOK_EXITED);
        ASSERT_EQ_INT(d.last.status, 3);
        ASSERT_EQ_INT(d.last.event, HOOK_EVENT_BEFORE_KILL);
        ASSERT_FALSE(hook_result_ok(&d.last));
        ASSERT_EQ_INT(hook_runner_n_running(r), 0);

        sigprocmask(SIG_SETMASK, &saved, NULL);
        signal(SIGUSR2, SIG_DFL);
        close(57);
        if (lowered) {
                char buf[32];
                snprintf(buf, sizeof(buf), "%d", old_adj);
                ASSERT_OK(write_string_file_at(AT_FDCWD, "/proc/self/oom_score_adj", buf, false));
        }

        env = slurp("env", &size);
        {
                char comm_var[600];
                snprintf(comm_var, sizeof(comm_var), "MEMGUARD_COMM=%s", hostile_comm);
                const char *const expect[] = {
                        "PATH=" HOOK_PATH,
                        "MEMGUARD_EVENT=before-kill",
                        "MEMGUARD_LEVEL=critical",
                        "MEMGUARD_SCORE=0.412",
                        "MEMGUARD_PID=4242",
                        comm_var,
                        "MEMGUARD_UID=1000",
                        "MEMGUARD_APP=org.example.App",
                        "MEMGUARD_REASON=largest growth\nin the last minute",
                        NULL,
                };
                assert_strv_block(env, size, expect);
        }
        argv_block = slurp("argv", &size);
        assert_strv_block(argv_block, size, (const char *const *)argv);
        for (int i = 1; i <= 5; i++) {
                char name[16];
                snprintf(name, sizeof(name), "pwned%d", i);
                ASSERT_FALSE(exists_in_tmp(name));
        }
        sig = slurp("sig", NULL);
        {
                unsigned long long blocked, ignored;
                ASSERT_EQ_INT(sscanf(sig, "SigBlk: %llx SigIgn: %llx", &blocked, &ignored), 2);
                ASSERT_EQ_U64(blocked, 0);
                /* glibc's posix_spawn leaves its own internal signals (32 and 33, which
                 * glibc programs never see) ignored across exec; nothing else may be. */
                ASSERT_EQ_U64(ignored & ~(3ULL << 31), 0);
        }
        in = slurp("stdin", NULL);
        ASSERT_STREQ(in, "/dev/null\n");
        fd = slurp("fd", NULL);
        ASSERT_STREQ(fd, "none\n");
        oom = slurp("oom", NULL);
        fprintf(stderr, "  daemon oom_score_adj lowered: %s; in the hook: %s", yes_no(lowered), oom);
        if (lowered)
                ASSERT_STREQ(oom, "0\n");

        /* A level change passes only what it knows. */
        d = (Done){};
        hook_facts_init(&f, HOOK_EVENT_LEVEL_CHANGE);
        f.level = LEVEL_HIGH;
        f.previous_level = LEVEL_ELEVATED;
        f.score = 0.5;
        ASSERT_OK(hook_run(r, (char *const[]){script, NULL}, &f, on_done, &d));
        run_until(e, done_called, &d, 10 * USEC_PER_SEC);
        free(env);
        env = slurp("env", &size);
        assert_strv_block(env, size,
                          (const char *const[]){"PATH=" HOOK_PATH, "MEMGUARD_EVENT=level-change",
                                                "MEMGUARD_LEVEL=high", "MEMGUARD_PREVIOUS_LEVEL=elevated",
                                                "MEMGUARD_SCORE=0.500", NULL});
        free(argv_block);
        argv_block = slurp("argv", &size);
        assert_strv_block(argv_block, size, (const char *const[]){script, NULL});
}

static bool file_exists(void *userdata)
{
        return exists_in_tmp(userdata);
}

/* Is the process gone (or a zombie waiting for init)? */
static bool process_gone(pid_t pid)
{
        char path[64], buf[1024], *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
                return true;
        p = strrchr(buf, ')');
        return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static const char sleeper_script[] = "#!/bin/sh\n"
                                     "sleep 30 &\n"
                                     "echo $! > '@D@/sleep.pid.tmp'\n"
                                     "mv '@D@/sleep.pid.tmp' '@D@/sleep.pid'\n"
                                     "wait\n"
                                     "echo survived > '@D@/survived'\n";

static void test_timeout(sd_event *e)
{
        _cleanup_(hook_runner_freep) HookRunner *r = NULL;
        _cleanup_free_ char *pidtext = NULL;
        char script[256];
        uint64_t start, took;
        pid_t sleep_pid;
        Done d = {};
        HookFacts f;

        write_script("sleeper.sh", sleeper_script, 0755);
        path_in_tmp(script, sizeof(script), "sleeper.sh");
        hook_facts_init(&f, HOOK_EVENT_BEFORE_KILL);

        ASSERT_OK(hook_runner_new(e, 500 * USEC_PER_MSEC, 2, true, &r));
        start = now_usec();
        ASSERT_OK(hook_run(r, (char *const[]){script, NULL}, &f, on_done, &d));
        run_until(e, done_called, &d, 5 * USEC_PER_SEC);
        took = d.at - start;
        fprintf(stderr, "  timed out after %llu ms (reported %llu ms)\n", (unsigned long long)(took / 1000),
                (unsigned long long)(d.last.duration_usec / 1000));
        ASSERT_EQ_INT(d.last.outcome, HOOK_TIMED_OUT);
        ASSERT_EQ_INT(d.last.status, SIGKILL);
        /* Not killed at once, nor long after the timeout (loop time is cached, so allow a margin). */
        ASSERT_TRUE(took >= 400 * USEC_PER_MSEC && took < 2 * USEC_PER_SEC);

        /* Reaped soon after; the callback is not called again. */
        run_until(e, runner_idle, r, 5 * USEC_PER_SEC);
        ASSERT_EQ_INT(d.calls, 1);
        ASSERT_FALSE(exists_in_tmp("survived"));

        /* What the hook started died with it (the whole process group). */
        pidtext = slurp("sleep.pid", NULL);
        sleep_pid = atoi(pidtext);
        ASSERT_TRUE(sleep_pid > 1);
        start = now_usec();
        while (!process_gone(sleep_pid)) {
                ASSERT_TRUE(now_usec() - start < 5 * USEC_PER_SEC);
                usleep(10000);
        }

        /* Fire and forget: the runner itself reports the timeout. */
        {
                char logpath[256], *logged;
                int fd, saved = dup(STDERR_FILENO);

                path_in_tmp(logpath, sizeof(logpath), "stderr");
                fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                ASSERT_TRUE(fd >= 0 && saved >= 0);
                fflush(stderr);
                dup2(fd, STDERR_FILENO);
                close(fd);
                ASSERT_OK(hook_run(r, (char *const[]){script, NULL}, &f, NULL, NULL));
                run_until(e, runner_idle, r, 5 * USEC_PER_SEC);
                fflush(stderr);
                dup2(saved, STDERR_FILENO);
                close(saved);
                logged = slurp("stderr", NULL);
                fprintf(stderr, "  logged: %s", logged);
                ASSERT_TRUE(strstr(logged, "warning: hook timed out and was killed hook="));
                ASSERT_TRUE(strstr(logged, " event=before-kill duration_ms="));
                free(logged);
        }

        /* Freeing the runner kills what still runs, without callbacks. */
        {
                char path[256];
                path_in_tmp(path, sizeof(path), "sleep.pid");
                unlink(path);
        }
        d = (Done){};
        ASSERT_OK(hook_run(r, (char *const[]){script, NULL}, &f, on_done, &d));
        run_until(e, file_exists, (void *)"sleep.pid", 5 * USEC_PER_SEC);
        r = hook_runner_free(r);
        ASSERT_EQ_INT(d.calls, 0);
        free(pidtext);
        pidtext = slurp("sleep.pid", NULL);
        sleep_pid = atoi(pidtext);
        start = now_usec();
        while (!process_gone(sleep_pid)) {
                ASSERT_TRUE(now_usec() - start < 5 * USEC_PER_SEC);
                usleep(10000);
        }
}

static void test_bad_commands(sd_event *e)
{
        _cleanup_(hook_runner_freep) HookRunner *r = NULL;
        char noexec[256], badinterp[256], signaled[256];
        HookFacts f;
        Done d = {};

        hook_facts_init(&f, HOOK_EVENT_LEVEL_CHANGE);
        ASSERT_OK(hook_runner_new(e, USEC_PER_SEC, 2, false, &r));

        ASSERT_ERR(hook_run(r, (char *const[]){(char *)"/nonexistent/memguard-hook", NULL}, &f, on_done, &d),
                   -ENOENT);
        write_script("noexec.sh", "#!/bin/sh\nexit 0\n", 0644);
        path_in_tmp(noexec, sizeof(noexec), "noexec.sh");
        ASSERT_ERR(hook_run(r, (char *const[]){noexec, NULL}, &f, on_done, &d), -EACCES);
        write_script("badinterp.sh", "#!/nonexistent/sh\nexit 0\n", 0755);
        path_in_tmp(badinterp, sizeof(badinterp), "badinterp.sh");
        ASSERT_ERR(hook_run(r, (char *const[]){badinterp, NULL}, &f, on_done, &d), -ENOENT);
        ASSERT_ERR(hook_run(r, (char *const[]){tmp, NULL}, &f, on_done, &d), -EACCES); /* a directory */
        ASSERT_ERR(hook_run(r, (char *const[]){(char *)"record.sh", NULL}, &f, on_done, &d), -EINVAL);
        ASSERT_ERR(hook_run(r, (char *const[]){NULL}, &f, on_done, &d), -EINVAL);
        ASSERT_ERR(hook_run(r, NULL, &f, on_done, &d), -EINVAL);
        f.event = _HOOK_EVENT_MAX;
        ASSERT_ERR(hook_run(r, (char *const[]){noexec, NULL}, &f, on_done, &d), -EINVAL);
        ASSERT_EQ_INT(hook_runner_n_running(r), 0);
        ASSERT_EQ_INT(d.calls, 0);

        /* A hook that dies of a signal (signals are at their defaults in the hook). */
        hook_facts_init(&f, HOOK_EVENT_LEVEL_CHANGE);
        write_script("signaled.sh", "#!/bin/sh\nkill -TERM $$\nsleep 5\n", 0755);
        path_in_tmp(signaled, sizeof(signaled), "signaled.sh");
        ASSERT_OK(hook_run(r, (char *const[]){signaled, NULL}, &f, on_done, &d));
        run_until(e, done_called, &d, 5 * USEC_PER_SEC);
        ASSERT_EQ_INT(d.last.outcome, HOOK_SIGNALED);
        ASSERT_EQ_INT(d.last.status, SIGTERM);

        ASSERT_ERR(hook_runner_new(e, 0, 2, false, &(HookRunner *){NULL}), -EINVAL);
        ASSERT_ERR(hook_runner_new(e, USEC_PER_SEC, 0, false, &(HookRunner *){NULL}), -EINVAL);
        ASSERT_ERR(hook_runner_new(e, USEC_PER_SEC, HOOK_MAX_RUNNING + 1, false, &(HookRunner *){NULL}),
                   -EINVAL);
}

static void test_concurrency_cap(sd_event *e)
{
        _cleanup_(hook_runner_freep) HookRunner *r = NULL;
        char script[256], quick[256];
        Done d1 = {}, d2 = {}, d3 = {};
        HookFacts f;

        write_script("nap.sh", "#!/bin/sh\nexec sleep 0.3\n", 0755);
        path_in_tmp(script, sizeof(script), "nap.sh");
        write_script("quick.sh", "#!/bin/sh\nexit 0\n", 0755);
        path_in_tmp(quick, sizeof(quick), "quick.sh");
        char *const argv[] = {script, NULL};
        char *const quick_argv[] = {quick, NULL};
        hook_facts_init(&f, HOOK_EVENT_LEVEL_CHANGE);

        ASSERT_OK(hook_runner_new(e, 5 * USEC_PER_SEC, 2, false, &r));
        ASSERT_OK(hook_run(r, argv, &f, on_done, &d1));
        ASSERT_OK(hook_run(r, argv, &f, on_done, &d2));
        ASSERT_ERR(hook_run(r, argv, &f, on_done, &d3), -EBUSY);
        ASSERT_EQ_INT(hook_runner_n_running(r), 2);

        /* The first callback can start another hook at once: its slot is already free. */
        d1.runner = r;
        d1.again = quick_argv;
        d1.again_r = 1;
        run_until(e, done_called, &d1, 5 * USEC_PER_SEC);
        ASSERT_EQ_INT(d1.again_r, 0);
        ASSERT_TRUE(hook_result_ok(&d1.last));
        ASSERT_TRUE(d1.last.duration_usec >= 300 * USEC_PER_MSEC);
        run_until(e, runner_idle, r, 5 * USEC_PER_SEC);
        ASSERT_TRUE(hook_result_ok(&d2.last));
        ASSERT_EQ_INT(d3.calls, 0);
        ASSERT_OK(hook_run(r, argv, &f, on_done, &d3));
        run_until(e, done_called, &d3, 5 * USEC_PER_SEC);
        ASSERT_TRUE(hook_result_ok(&d3.last));
}

/* A helper (no facts): PATH alone in its environment, stdout and stderr into the caller's file. */
static void test_helper_output(sd_event *e)
{
        _cleanup_(hook_runner_freep) HookRunner *r = NULL;
        _cleanup_close_ int out = -1;
        char script[256], outpath[256], *text, *env;
        size_t size;
        Done d = {};

        write_script("helper.sh",
                     "#!/bin/sh\ncat /proc/$$/environ > '@D@/helper-env'\necho to-stdout\necho to-stderr >&2\n"
                     "exit 1\n",
                     0755);
        path_in_tmp(script, sizeof(script), "helper.sh");
        path_in_tmp(outpath, sizeof(outpath), "helper.out");
        out = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_TRUE(out >= 0);

        ASSERT_OK(hook_runner_new(e, 5 * USEC_PER_SEC, 1, false, &r));
        ASSERT_ERR(hook_run(r, (char *const[]){script, NULL}, NULL, on_done, &d), -EINVAL); /* hooks need facts */
        ASSERT_OK(hook_run_output(r, (char *const[]){script, NULL}, NULL, out, on_done, &d));
        run_until(e, done_called, &d, 5 * USEC_PER_SEC);
        ASSERT_EQ_INT(d.last.outcome, HOOK_EXITED);
        ASSERT_EQ_INT(d.last.status, 1);
        ASSERT_EQ_INT(d.last.event, _HOOK_EVENT_MAX);

        text = slurp("helper.out", NULL);
        ASSERT_STREQ(text, "to-stdout\nto-stderr\n");
        free(text);
        env = slurp("helper-env", &size);
        assert_strv_block(env, size, (const char *const[]){"PATH=" HOOK_PATH, NULL});
        free(env);
}

int main(void)
{
        sd_event *e = NULL;
        int fd;

        log_setup(LOG_TARGET_CONSOLE);
        /* Hooks are watched and killed through pidfds (valgrind 3.19 does not know pidfd_open). */
        fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        if (fd < 0 && errno == ENOSYS)
                test_skip("pidfd_open(2) is unavailable here (kernel < 5.3, or running under valgrind < 3.20)");
        if (fd >= 0)
                close(fd);
        ASSERT_TRUE(mkdtemp(tmp));
        ASSERT_TRUE(chmod(tmp, 0755) == 0);
        ASSERT_OK(sd_event_new(&e));

        fprintf(stderr, "== test_env_and_argv\n");
        test_env_and_argv(e);
        fprintf(stderr, "== test_timeout\n");
        test_timeout(e);
        fprintf(stderr, "== test_bad_commands\n");
        test_bad_commands(e);
        fprintf(stderr, "== test_concurrency_cap\n");
        test_concurrency_cap(e);
        fprintf(stderr, "== test_helper_output\n");
        test_helper_output(e);

        sd_event_unref(e);
        {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
                ASSERT_EQ_INT(system(cmd), 0);
        }
        return 0;
}
