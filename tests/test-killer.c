/* SPDX-License-Identifier: MIT */
/*
 * The killer on real processes: children of this test, acted on only
 * through pidfds, in a real sd-event loop. What needs root (PID reuse
 * through ns_last_pid, cgroups) is skipped with the reason when not root.
 *
 * "Unkillable" is shown for real with a cgroup v1 freezer: a frozen task
 * with SIGKILL pending stays in D state until thawed (the v2 freezer, unlike
 * v1, lets SIGKILL through). After every kill the test checks that the
 * callback ran exactly once, that the loop's epoll set is back to what it
 * watched before, and that nothing more is dispatched.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "fileio.h"
#include "killer.h"
#include "macro.h"
#include "test.h"

#define MSEC(x) ((uint64_t)(x) * USEC_PER_MSEC)
#define TEST_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define MAX_TEST_PROCS 8

static int procfd = -1;
static int report_wfd = -1; /* in a CHILD_REPORT_TERM child */

typedef enum ChildKind {
        CHILD_PLAIN,       /* SIGTERM's default action: exits */
        CHILD_IGNORE_TERM, /* SIG_IGN, then pause() */
        CHILD_REPORT_TERM, /* writes 'T' to a pipe on SIGTERM and stays */
} ChildKind;

typedef struct Child {
        pid_t pid;
        int pidfd;
        int report_fd; /* CHILD_REPORT_TERM: the read end */
        ProcEntry entry;
} Child;

typedef struct Outcome {
        unsigned calls;
        KillResult res; /* its pointers are cleared: they are valid only during the callback */
        KillProcResult procs[MAX_TEST_PROCS];
} Outcome;

static uint64_t now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static void on_term(int sig)
{
        char c = 'T';

        (void)!write(report_wfd, &c, 1);
}

static void entry_fill(Child *c)
{
        char path[32], buf[2048];
        ProcStat st;
        ssize_t n;

        snprintf(path, sizeof(path), "%d/stat", (int)c->pid);
        n = read_file_at(procfd, path, buf, sizeof(buf));
        ASSERT_OK(n);
        ASSERT_OK(proc_stat_parse(buf, (size_t)n, &st));
        c->entry = (ProcEntry){ .pid = c->pid, .uid = getuid(), .start_time = st.start_time, .pidfd = c->pidfd };
        snprintf(c->entry.comm, sizeof(c->entry.comm), "test-child");
}

/*
 * Fork a child of the given kind that pauses until killed (alarm(30) bounds
 * it). With cgfd >= 0 it first moves itself into that cgroup; with
 * grandchild it then forks one more process there (which inherits its
 * SIGTERM disposition and is not listed anywhere).
 */
static void spawn(ChildKind kind, int cgfd, bool grandchild, Child *ret)
{
        int ready[2], report[2] = { -1, -1 };
        char c;
        pid_t pid;

        ASSERT_OK(pipe2(ready, O_CLOEXEC));
        if (kind == CHILD_REPORT_TERM)
                ASSERT_OK(pipe2(report, O_CLOEXEC | O_NONBLOCK));

        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                if (cgfd >= 0 && write_string_file_at(cgfd, "cgroup.procs", "0", 0) < 0)
                        _exit(3);
                if (kind == CHILD_IGNORE_TERM)
                        signal(SIGTERM, SIG_IGN);
                else if (kind == CHILD_REPORT_TERM) {
                        report_wfd = report[1];
                        signal(SIGTERM, on_term);
                }
                if (grandchild && fork() == 0) {
                        alarm(30);
                        for (;;)
                                pause();
                }
                alarm(30);
                (void)!write(ready[1], "R", 1);
                for (;;)
                        pause();
        }

        safe_close(ready[1]);
        safe_close(report[1]);
        ASSERT_EQ_INT(read(ready[0], &c, 1), 1);
        safe_close(ready[0]);

        *ret = (Child){ .pid = pid, .report_fd = report[0] };
        ret->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        ASSERT_TRUE(ret->pidfd >= 0);
        entry_fill(ret);
}

static bool child_alive(const Child *c)
{
        struct pollfd p = { .fd = c->pidfd, .events = POLLIN };

        return poll(&p, 1, 0) == 0;
}

/* Reap the child (killing it first if asked) and return its wait status. */
static int child_reap(Child *c, bool kill_first)
{
        int status;

        if (kill_first)
                ASSERT_OK(syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0));
        ASSERT_EQ_INT(waitpid(c->pid, &status, 0), c->pid);
        c->pidfd = safe_close(c->pidfd);
        c->report_fd = safe_close(c->report_fd);
        return status;
}

static void on_done(void *userdata, const KillResult *r)
{
        Outcome *o = userdata;
        size_t sum = 0;

        o->calls++;
        ASSERT_TRUE(r->n_procs <= MAX_TEST_PROCS);
        for (unsigned i = 0; i < _KILL_PROC_OUTCOME_MAX; i++)
                sum += r->count[i];
        ASSERT_EQ_INT(sum, r->n_procs);
        ASSERT_TRUE(r->key && r->name);
        fprintf(stderr, "  %s: %zu procs, %" PRIu64 " ms, escalated=%s cgroup_killed=%s cgroup_error=%d "
                "populated=%d cancelled=%s\n", r->key, r->n_procs, r->total_usec / USEC_PER_MSEC,
                yes_no(r->escalated), yes_no(r->cgroup_killed), r->cgroup_error, r->cgroup_populated,
                yes_no(r->cancelled));
        for (size_t i = 0; i < r->n_procs; i++) {
                const KillProcResult *p = &r->procs[i];
                fprintf(stderr, "    PID %d: %s error=%d term=%s kill=%s mrelease=%s/%d exit=%" PRIu64
                        "ms state=%c\n", (int)p->pid, kill_proc_outcome_to_string(p->outcome), p->error,
                        yes_no(p->sigterm_sent), yes_no(p->sigkill_sent), yes_no(p->mrelease_tried),
                        p->mrelease_error, p->exit_usec / USEC_PER_MSEC, p->state ? p->state : '-');
        }
        o->res = *r;
        o->res.key = o->res.name = o->res.cgroup = NULL;
        o->res.procs = NULL;
        memcpy(o->procs, r->procs, r->n_procs * sizeof(KillProcResult));
}

static void run_until_called(sd_event *e, const Outcome *o)
{
        uint64_t end = now() + TEST_TIMEOUT_USEC;

        while (o->calls == 0) {
                ASSERT_TRUE(now() < end);
                ASSERT_OK(sd_event_run(e, MSEC(100)));
        }
}

/* How many fds the loop's epoll set watches (its fdinfo has one "tfd:" line each). */
static unsigned loop_watches(sd_event *e)
{
        _cleanup_free_ char *buf = NULL;
        char path[64];
        unsigned n = 0;

        snprintf(path, sizeof(path), "self/fdinfo/%d", sd_event_get_fd(e));
        ASSERT_OK(read_full_file_at(procfd, path, 1 << 20, &buf, NULL));
        for (const char *p = buf; (p = strstr(p, "tfd:")); p++)
                n++;
        return n;
}

static unsigned idle_watches; /* with a killer made and no kill in flight */

/* Called back exactly once, nothing in flight or watched, nothing left to dispatch. */
static void assert_finished(sd_event *e, Killer *k, const Outcome *o)
{
        ASSERT_EQ_INT(o->calls, 1);
        ASSERT_EQ_INT(killer_n_active(k), 0);
        ASSERT_EQ_INT(loop_watches(e), idle_watches);
        ASSERT_EQ_INT(sd_event_run(e, MSEC(50)), 0);
        ASSERT_EQ_INT(o->calls, 1);
}

static Killer *killer_make(sd_event *e, uint64_t kill_wait, const char *protect)
{
        KillerOptions opts = { .procfd = procfd, .kill_wait_usec = kill_wait, .protect_cgroup = protect };
        Killer *k;

        ASSERT_OK(killer_new(e, &opts, &k));
        idle_watches = loop_watches(e);
        return k;
}

/* (a) A process that exits on SIGTERM is reported exited-after-TERM, long before the deadline. */
static void test_term_exits(sd_event *e)
{
        Killer *k = killer_make(e, 0, NULL);
        Outcome o = {};
        Child c;
        const ProcEntry *procs[1];
        int status;

        spawn(CHILD_PLAIN, -1, false, &c);
        procs[0] = &c.entry;
        ASSERT_OK(killer_kill_app(k, "app-plain", "Plain", NULL, procs, 1, 5 * USEC_PER_SEC, on_done, &o));
        ASSERT_TRUE(killer_is_killing(k, "app-plain"));
        ASSERT_EQ_INT(o.calls, 0);
        ASSERT_EQ_INT(loop_watches(e), idle_watches + 1); /* the kill's epoll set */
        run_until_called(e, &o);
        assert_finished(e, k, &o);

        ASSERT_EQ_INT(o.procs[0].outcome, KILL_PROC_EXITED_TERM);
        ASSERT_TRUE(o.procs[0].sigterm_sent);
        ASSERT_FALSE(o.procs[0].sigkill_sent);
        ASSERT_FALSE(o.procs[0].mrelease_tried);
        ASSERT_FALSE(o.res.escalated);
        ASSERT_TRUE(o.procs[0].exit_usec > 0 && o.procs[0].exit_usec < 2 * USEC_PER_SEC);
        ASSERT_TRUE(o.res.total_usec < 2 * USEC_PER_SEC);
        ASSERT_EQ_INT(o.res.count[KILL_PROC_EXITED_TERM], 1);

        status = child_reap(&c, false);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        killer_free(k);
}

/* (b) One that ignores SIGTERM is SIGKILLed at the deadline and its memory released. */
static void test_ignore_term(sd_event *e)
{
        Killer *k = killer_make(e, USEC_PER_SEC, NULL);
        Outcome o = {};
        Child c;
        const ProcEntry *procs[1];
        int status;

        spawn(CHILD_IGNORE_TERM, -1, false, &c);
        procs[0] = &c.entry;
        ASSERT_OK(killer_kill_app(k, "app-stubborn", "Stubborn", NULL, procs, 1, MSEC(300), on_done, &o));
        run_until_called(e, &o);
        assert_finished(e, k, &o);

        ASSERT_EQ_INT(o.procs[0].outcome, KILL_PROC_KILLED);
        ASSERT_TRUE(o.res.escalated);
        ASSERT_TRUE(o.procs[0].sigterm_sent && o.procs[0].sigkill_sent);
        ASSERT_TRUE(o.procs[0].mrelease_tried);
        /* 0: released; -ESRCH: it had already dropped its memory itself. Never EINVAL after SIGKILL. */
        ASSERT_TRUE(o.procs[0].mrelease_error == 0 || o.procs[0].mrelease_error == -ESRCH);
        ASSERT_TRUE(o.procs[0].exit_usec >= MSEC(300));
        ASSERT_TRUE(o.res.total_usec >= MSEC(300) && o.res.total_usec < MSEC(300) + USEC_PER_SEC);

        status = child_reap(&c, false);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        killer_free(k);
}

/* (e) Deadline 0: SIGKILL inside the call, no SIGTERM at all. */
static void test_deadline_zero(sd_event *e)
{
        Killer *k = killer_make(e, 0, NULL);
        struct pollfd p;
        Outcome o = {};
        Child c;
        const ProcEntry *procs[1];
        char ch;
        int status;

        spawn(CHILD_REPORT_TERM, -1, false, &c);
        procs[0] = &c.entry;
        ASSERT_OK(killer_kill_app(k, "app-now", "Now", NULL, procs, 1, 0, on_done, &o));
        /* Dead without the loop having run once. */
        p = (struct pollfd){ .fd = c.pidfd, .events = POLLIN };
        ASSERT_EQ_INT(poll(&p, 1, 2000), 1);
        ASSERT_EQ_INT(o.calls, 0);
        run_until_called(e, &o);
        assert_finished(e, k, &o);

        ASSERT_EQ_INT(o.procs[0].outcome, KILL_PROC_KILLED);
        ASSERT_FALSE(o.procs[0].sigterm_sent);
        ASSERT_TRUE(o.procs[0].sigkill_sent && o.procs[0].mrelease_tried);
        ASSERT_TRUE(o.res.total_usec < MSEC(500));
        status = child_reap(&c, false);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        ASSERT_TRUE(read(c.report_fd, &ch, 1) <= 0); /* never saw SIGTERM */
        killer_free(k);
}

static void test_wrong_start_time(sd_event *e)
{
        Killer *k = killer_make(e, 0, NULL);
        Outcome o = {}, o2 = {};
        ProcEntry wrong;
        Child c;
        const ProcEntry *procs[1];

        spawn(CHILD_PLAIN, -1, false, &c);

        /* pidfd -1 and a start time that is not this process's: not signalled. */
        wrong = c.entry;
        wrong.pidfd = -1;
        wrong.start_time++;
        procs[0] = &wrong;
        ASSERT_OK(killer_kill_app(k, "app-x", "X", NULL, procs, 1, USEC_PER_SEC, on_done, &o));
        run_until_called(e, &o);
        assert_finished(e, k, &o);
        ASSERT_EQ_INT(o.procs[0].outcome, KILL_PROC_SKIPPED);
        ASSERT_ERR(o.procs[0].error, -ESTALE);
        ASSERT_FALSE(o.procs[0].sigterm_sent);
        ASSERT_TRUE(o.res.total_usec < MSEC(500)); /* nothing to wait for */
        usleep(100 * 1000);
        ASSERT_TRUE(child_alive(&c));

        /* pidfd -1, the right start time but another struct pid's inode number
         * (what a PID reused within one clock tick looks like): not signalled. */
        wrong.start_time--;
        {
                Outcome o3 = {};
                struct stat sb;
                int fd = (int)syscall(SYS_pidfd_open, c.pid, 0);

                ASSERT_TRUE(fd >= 0);
                ASSERT_OK(fstat(fd, &sb));
                close(fd);
                wrong.pid_ino = (uint64_t)sb.st_ino + 1;
                ASSERT_OK(killer_kill_app(k, "app-x", "X", NULL, procs, 1, USEC_PER_SEC, on_done, &o3));
                run_until_called(e, &o3);
                assert_finished(e, k, &o3);
                ASSERT_EQ_INT(o3.procs[0].outcome, KILL_PROC_SKIPPED);
                ASSERT_ERR(o3.procs[0].error, -ESTALE);
                ASSERT_TRUE(child_alive(&c));
                wrong.pid_ino = (uint64_t)sb.st_ino; /* its own: used below */
        }

        /* pidfd -1 and the right start time and inode number: a pidfd is opened, checked and used. */
        ASSERT_OK(killer_kill_app(k, "app-x", "X", NULL, procs, 1, USEC_PER_SEC, on_done, &o2));
        run_until_called(e, &o2);
        assert_finished(e, k, &o2);
        ASSERT_EQ_INT(o2.procs[0].outcome, KILL_PROC_EXITED_TERM);
        child_reap(&c, false);
        killer_free(k);
}

/* A process that has exited but is not reaped yet (a zombie) is gone: nothing is sent to it. */
static void test_zombie(sd_event *e)
{
        Killer *k = killer_make(e, 0, NULL);
        struct pollfd p;
        Outcome o = {}, o2 = {};
        ProcEntry by_pid;
        Child c;
        const ProcEntry *procs[1];

        spawn(CHILD_IGNORE_TERM, -1, false, &c);
        ASSERT_OK(syscall(SYS_pidfd_send_signal, c.pidfd, SIGKILL, NULL, 0));
        p = (struct pollfd){ .fd = c.pidfd, .events = POLLIN };
        ASSERT_EQ_INT(poll(&p, 1, 2000), 1);

        procs[0] = &c.entry;
        ASSERT_OK(killer_kill_app(k, "app-zombie", "Zombie", NULL, procs, 1, USEC_PER_SEC, on_done, &o));
        run_until_called(e, &o);
        assert_finished(e, k, &o);
        ASSERT_EQ_INT(o.procs[0].outcome, KILL_PROC_GONE);
        ASSERT_FALSE(o.procs[0].sigterm_sent);

        by_pid = c.entry;
        by_pid.pidfd = -1;
        procs[0] = &by_pid;
        ASSERT_OK(killer_kill_app(k, "app-zombie", "Zombie", NULL, procs, 1, USEC_PER_SEC, on_done, &o2));
        run_until_called(e, &o2);
        assert_finished(e, k, &o2);
        ASSERT_EQ_INT(o2.procs[0].outcome, KILL_PROC_GONE);
        ASSERT_FALSE(o2.procs[0].sigterm_sent);

        child_reap(&c, false);
        killer_free(k);
}

/* Make the next fork() get `pid` through ns_last_pid; returns the child or -1. */
static int spawn_at_pid(pid_t pid, Child *ret)
{
        char buf[32];

        for (unsigned attempt = 0; attempt < 100; attempt++) {
                Child c;

                snprintf(buf, sizeof(buf), "%d", (int)pid - 1);
                if (write_string_file_at(procfd, "sys/kernel/ns_last_pid", buf, 0) < 0)
                        return -1;
                spawn(CHILD_PLAIN, -1, false, &c);
                if (c.pid == pid) {
                        *ret = c;
                        return 0;
                }
                child_reap(&c, true); /* someone else forked in between: again */
        }
        return -1;
}

/* (c) PID reuse: the old entry's pidfd, or its start time, never reaches the new process. */
static void test_pid_reuse(sd_event *e)
{
        Killer *k;
        Outcome o = {}, o2 = {};
        ProcEntry old, by_pid;
        Child a, b;
        const ProcEntry *procs[1];

        if (geteuid() != 0) {
                fprintf(stderr, "  skipped: writing ns_last_pid needs root\n");
                return;
        }
        k = killer_make(e, 0, NULL);

        spawn(CHILD_PLAIN, -1, false, &a);
        old = a.entry;
        old.pidfd = fcntl(a.pidfd, F_DUPFD_CLOEXEC, 3); /* the entry keeps its pidfd past the exit */
        ASSERT_TRUE(old.pidfd >= 0);
        child_reap(&a, true);
        usleep(50 * 1000); /* start times are clock ticks: make the new one differ */

        if (spawn_at_pid(old.pid, &b) < 0) {
                fprintf(stderr, "  skipped: could not get PID %d again through ns_last_pid\n", (int)old.pid);
                safe_close(old.pidfd);
                killer_free(k);
                return;
        }
        fprintf(stderr, "  PID %d reused (start time %" PRIu64 " -> %" PRIu64 ")\n", (int)old.pid,
                old.start_time, b.entry.start_time);
        ASSERT_TRUE(b.entry.start_time != old.start_time);

        procs[0] = &old;
        ASSERT_OK(killer_kill_app(k, "app-reused", "Reused", NULL, procs, 1, USEC_PER_SEC, on_done, &o));
        run_until_called(e, &o);
        assert_finished(e, k, &o);
        ASSERT_EQ_INT(o.procs[0].outcome, KILL_PROC_GONE);
        ASSERT_FALSE(o.procs[0].sigterm_sent);

        by_pid = old;
        by_pid.pidfd = -1;
        procs[0] = &by_pid;
        ASSERT_OK(killer_kill_app(k, "app-reused", "Reused", NULL, procs, 1, USEC_PER_SEC, on_done, &o2));
        run_until_called(e, &o2);
        assert_finished(e, k, &o2);
        ASSERT_EQ_INT(o2.procs[0].outcome, KILL_PROC_SKIPPED);
        ASSERT_ERR(o2.procs[0].error, -ESTALE);

        usleep(100 * 1000);
        ASSERT_TRUE(child_alive(&b)); /* never signalled: a PLAIN child would have died of SIGTERM */
        child_reap(&b, true);
        safe_close(old.pidfd);
        killer_free(k);
}

static void rmdir_retry(const char *path)
{
        for (unsigned i = 0; i < 100; i++) {
                if (rmdir(path) == 0 || errno == ENOENT)
                        return;
                usleep(20 * 1000);
        }
        fprintf(stderr, "  could not remove %s: %s\n", path, strerror(errno));
        ASSERT_TRUE(false);
}

static int read_procs(const char *cg, char *buf, size_t size)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
        return (int)read_file_at(AT_FDCWD, path, buf, size);
}

/* A fresh v2 cgroup with cgroup.kill, or NULL (the reason printed). */
static char *v2_cgroup_make(const char *tag)
{
        _cleanup_free_ char *mnt = NULL;
        char *cg, path[4096];

        if (geteuid() != 0) {
                fprintf(stderr, "  skipped: creating cgroups needs root\n");
                return NULL;
        }
        if (cg_v2_mount_find_at(procfd, &mnt) < 0) {
                fprintf(stderr, "  skipped: no cgroup2 mount\n");
                return NULL;
        }
        snprintf(path, sizeof(path), "%s/memguard-test-%s-%d", mnt, tag, (int)getpid());
        cg = xstrdup(path);
        ASSERT_OK(mkdir(cg, 0755));
        snprintf(path, sizeof(path), "%s/cgroup.kill", cg);
        if (access(path, W_OK) < 0) {
                fprintf(stderr, "  skipped: no cgroup.kill (Linux < 5.14)\n");
                rmdir_retry(cg);
                free(cg);
                return NULL;
        }
        return cg;
}

/* (d) Whole app through cgroup.kill: listed and unlisted processes, and a cgroup given alone. */
static void test_cgroup_kill(sd_event *e)
{
        _cleanup_free_ char *cg = v2_cgroup_make("kill");
        _cleanup_close_ int cgfd = -1;
        Killer *k;
        Outcome o = {}, o2 = {};
        Child c[3], lone;
        const ProcEntry *procs[3];
        char buf[4096], protect[4096];

        if (!cg)
                return;
        cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(cgfd >= 0);
        /* A sibling whose name extends ours is not an ancestor: cgroup.kill stays allowed. */
        snprintf(protect, sizeof(protect), "%s-memguard", cg);
        k = killer_make(e, USEC_PER_SEC, protect);

        spawn(CHILD_PLAIN, cgfd, false, &c[0]);
        spawn(CHILD_IGNORE_TERM, cgfd, true, &c[1]); /* plus an unlisted grandchild ignoring SIGTERM */
        spawn(CHILD_PLAIN, cgfd, false, &c[2]);
        for (unsigned i = 0; i < 3; i++)
                procs[i] = &c[i].entry;
        ASSERT_OK(read_procs(cg, buf, sizeof(buf)));
        fprintf(stderr, "  cgroup.procs before: %s", buf);

        ASSERT_OK(killer_kill_app(k, "app-cg", "Cgroup app", cg, procs, 3, MSEC(300), on_done, &o));
        run_until_called(e, &o);
        assert_finished(e, k, &o);
        ASSERT_EQ_INT(o.procs[0].outcome, KILL_PROC_EXITED_TERM);
        ASSERT_EQ_INT(o.procs[1].outcome, KILL_PROC_KILLED);
        ASSERT_EQ_INT(o.procs[2].outcome, KILL_PROC_EXITED_TERM);
        ASSERT_TRUE(o.res.cgroup_killed);
        ASSERT_EQ_INT(o.res.cgroup_error, 0);
        ASSERT_EQ_INT(o.res.cgroup_populated, 0);
        ASSERT_EQ_INT(read_procs(cg, buf, sizeof(buf)), 0); /* the grandchild is gone too */
        for (unsigned i = 0; i < 3; i++)
                child_reap(&c[i], false);

        /* No process listed: the cgroup alone, killed at the deadline. */
        spawn(CHILD_IGNORE_TERM, cgfd, false, &lone);
        ASSERT_OK(killer_kill_app(k, "app-cg", "Cgroup app", cg, NULL, 0, MSEC(200), on_done, &o2));
        run_until_called(e, &o2);
        assert_finished(e, k, &o2);
        ASSERT_TRUE(o2.res.cgroup_killed && o2.res.escalated);
        ASSERT_EQ_INT(o2.res.cgroup_populated, 0);
        ASSERT_TRUE(o2.res.total_usec >= MSEC(200));
        ASSERT_EQ_INT(read_procs(cg, buf, sizeof(buf)), 0);
        child_reap(&lone, false);

        killer_free(k);
        rmdir_retry(cg);
}

/* cgroup.kill is never written to memguard's own cgroup or an ancestor of it. */
static void test_cgroup_protected(sd_event *e)
{
        _cleanup_free_ char *cg = v2_cgroup_make("protect");
        _cleanup_close_ int cgfd = -1;
        char protect[4096], buf[4096];
        Killer *k;
        Outcome o = {};
        Child c;
        const ProcEntry *procs[1];

        if (!cg)
                return;
        cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(cgfd >= 0);
        snprintf(protect, sizeof(protect), "%s/memguard", cg);
        k = killer_make(e, MSEC(500), protect);

        spawn(CHILD_IGNORE_TERM, cgfd, true, &c);
        procs[0] = &c.entry;
        ASSERT_OK(killer_kill_app(k, "app-p", "Protected", cg, procs, 1, MSEC(100), on_done, &o));
        run_until_called(e, &o);
        assert_finished(e, k, &o);
        ASSERT_FALSE(o.res.cgroup_killed);
        ASSERT_ERR(o.res.cgroup_error, -EPERM);
        ASSERT_EQ_INT(o.procs[0].outcome, KILL_PROC_KILLED); /* through its pidfd */
        ASSERT_TRUE(read_procs(cg, buf, sizeof(buf)) > 0);  /* the unlisted grandchild lives on */
        child_reap(&c, false);

        ASSERT_OK(write_string_file_at(cgfd, "cgroup.kill", "1", 0));
        for (unsigned i = 0; i < 100 && read_procs(cg, buf, sizeof(buf)) > 0; i++)
                usleep(20 * 1000);
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        killer_free(k);
        rmdir_retry(cg);
}

/* The v1 freezer's mount point, or NULL. */
static char *v1_freezer_mount(void)
{
        _cleanup_free_ char *buf = NULL;
        char mnt[1024];

        ASSERT_OK(read_full_file_at(procfd, "self/mountinfo", 1 << 20, &buf, NULL));
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
                const char *sep = strstr(line, " - cgroup ");

                if (sep && strstr(sep, "freezer") && sscanf(line, "%*s %*s %*s %*s %1023s", mnt) == 1)
                        return xstrdup(mnt);
        }
        return NULL;
}

/* (f) A process that survives SIGKILL (frozen: D state) is reported present; the kill still ends. */
static void test_unkillable(sd_event *e)
{
        _cleanup_free_ char *mnt = NULL;
        _cleanup_close_ int cgfd = -1;
        char cg[4096], state[32];
        Killer *k;
        Outcome o = {};
        Child c;
        const ProcEntry *procs[1];
        int status;

        if (geteuid() != 0 || !(mnt = v1_freezer_mount())) {
                fprintf(stderr, "  skipped: needs root and a cgroup v1 freezer\n");
                return;
        }
        snprintf(cg, sizeof(cg), "%s/memguard-test-frozen-%d", mnt, (int)getpid());
        ASSERT_OK(mkdir(cg, 0755));
        cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(cgfd >= 0);
        spawn(CHILD_IGNORE_TERM, cgfd, false, &c);
        ASSERT_OK(write_string_file_at(cgfd, "freezer.state", "FROZEN", 0));
        for (unsigned i = 0; i < 100; i++) {
                ASSERT_OK(read_file_at(cgfd, "freezer.state", state, sizeof(state)));
                if (strncmp(state, "FROZEN", 6) == 0)
                        break;
                usleep(20 * 1000);
        }
        ASSERT_TRUE(strncmp(state, "FROZEN", 6) == 0);

        k = killer_make(e, MSEC(300), NULL);
        procs[0] = &c.entry;
        ASSERT_OK(killer_kill_app(k, "app-frozen", "Frozen", NULL, procs, 1, MSEC(100), on_done, &o));
        run_until_called(e, &o);
        assert_finished(e, k, &o);
        ASSERT_EQ_INT(o.procs[0].outcome, KILL_PROC_PRESENT);
        ASSERT_EQ_INT(o.procs[0].state, 'D');
        ASSERT_TRUE(o.procs[0].sigkill_sent && o.procs[0].mrelease_tried);
        ASSERT_TRUE(o.res.total_usec >= MSEC(400) && o.res.total_usec < MSEC(400) + USEC_PER_SEC);
        ASSERT_TRUE(child_alive(&c));
        killer_free(k);

        /* Thawed, the pending SIGKILL takes it. */
        ASSERT_OK(write_string_file_at(cgfd, "freezer.state", "THAWED", 0));
        status = child_reap(&c, false);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        rmdir_retry(cg);
}

typedef struct Chain {
        Outcome first, second;
        Killer *killer;
        const ProcEntry *next;
        int restart;
} Chain;

static void on_done_chain(void *userdata, const KillResult *r)
{
        Chain *ch = userdata;

        on_done(&ch->first, r);
        /* The key is free again inside the callback: a caller may decide to try once more. */
        ch->restart = killer_kill_app(ch->killer, r->key, r->name, NULL, &ch->next, 1, USEC_PER_SEC, on_done,
                                      &ch->second);
}

/* A callback may start the next kill, even of the same key. */
static void test_callback_restarts(sd_event *e)
{
        ProcEntry pid1 = { .pid = 1, .pidfd = -1 };
        const ProcEntry *refused[1] = { &pid1 };
        Chain ch = {};
        Child c;

        ch.killer = killer_make(e, 0, NULL);
        spawn(CHILD_PLAIN, -1, false, &c);
        ch.next = &c.entry;
        ASSERT_OK(killer_kill_app(ch.killer, "app-chain", "Chain", NULL, refused, 1, USEC_PER_SEC,
                                  on_done_chain, &ch));
        run_until_called(e, &ch.first);
        ASSERT_OK(ch.restart);
        run_until_called(e, &ch.second);
        assert_finished(e, ch.killer, &ch.second);
        ASSERT_EQ_INT(ch.first.calls, 1);
        ASSERT_EQ_INT(ch.second.procs[0].outcome, KILL_PROC_EXITED_TERM);
        child_reap(&c, false);
        killer_free(ch.killer);
}

/* Bad arguments, limits, refusals, and killer_free() finishing what is in flight. */
static void test_limits_and_cancel(sd_event *e)
{
        KillerOptions opts = { .procfd = procfd, .max_kills = 1, .max_procs = 2 };
        ProcEntry pid1 = { .pid = 1, .pidfd = -1 }, self = { .pid = getpid(), .pidfd = -1 };
        const ProcEntry *refused[2] = { &pid1, &self };
        Outcome o = {}, o2 = {};
        Killer *k;
        Child c;
        const ProcEntry *procs[3];

        ASSERT_OK(killer_new(e, &opts, &k));
        idle_watches = loop_watches(e);
        spawn(CHILD_IGNORE_TERM, -1, false, &c);
        procs[0] = procs[1] = procs[2] = &c.entry;

        ASSERT_ERR(killer_kill_app(k, "a", "A", NULL, procs, 0, 0, on_done, &o), -EINVAL);
        ASSERT_ERR(killer_kill_app(k, "", "A", NULL, procs, 1, 0, on_done, &o), -EINVAL);
        ASSERT_ERR(killer_kill_app(k, "a", "A", "relative/cg", procs, 1, 0, on_done, &o), -EINVAL);
        ASSERT_ERR(killer_kill_app(k, "a", "A", "/sys/fs/cgroup/../x", procs, 1, 0, on_done, &o), -EINVAL);
        ASSERT_ERR(killer_kill_app(k, "a", "A", "/sys//x", procs, 1, 0, on_done, &o), -EINVAL);
        ASSERT_ERR(killer_kill_app(k, "a", "A", "/x/", procs, 1, 0, on_done, &o), -EINVAL);
        ASSERT_ERR(killer_kill_app(k, "a", "A", "/", procs, 1, 0, on_done, &o), -EINVAL);
        ASSERT_ERR(killer_kill_app(k, "a", "A", NULL, procs, 3, 0, on_done, &o), -E2BIG);
        ASSERT_EQ_INT(o.calls, 0);
        ASSERT_TRUE(child_alive(&c));

        /* PID 1 and memguard itself are refused before any syscall touches them. */
        ASSERT_OK(killer_kill_app(k, "refused", "Refused", NULL, refused, 2, USEC_PER_SEC, on_done, &o));
        ASSERT_EQ_INT(o.calls, 0); /* reported from the loop, never from inside the call */
        run_until_called(e, &o);
        assert_finished(e, k, &o);
        ASSERT_EQ_INT(o.res.count[KILL_PROC_SKIPPED], 2);
        ASSERT_ERR(o.procs[0].error, -EPERM);
        ASSERT_ERR(o.procs[1].error, -EPERM);
        ASSERT_TRUE(o.res.total_usec < MSEC(500));

        /* The same at deadline 0: nothing to wait for after the (empty) escalation either. */
        o = (Outcome){};
        ASSERT_OK(killer_kill_app(k, "refused", "Refused", NULL, refused, 2, 0, on_done, &o));
        run_until_called(e, &o);
        assert_finished(e, k, &o);
        ASSERT_EQ_INT(o.res.count[KILL_PROC_SKIPPED], 2);
        ASSERT_TRUE(o.res.total_usec < MSEC(500));

        /* One kill in flight: the same key is refused, and there is no second slot. */
        ASSERT_OK(killer_kill_app(k, "app-c", "C", NULL, procs, 1, 10 * USEC_PER_SEC, on_done, &o2));
        ASSERT_ERR(killer_kill_app(k, "app-c", "C", NULL, procs, 1, 0, on_done, &o), -EALREADY);
        ASSERT_ERR(killer_kill_app(k, "app-d", "D", NULL, procs, 1, 0, on_done, &o), -EBUSY);
        ASSERT_OK(sd_event_run(e, MSEC(100)));
        ASSERT_EQ_INT(o2.calls, 0);

        /* Freed in flight: called back once, cancelled; SIGTERM was sent, nothing escalated. */
        killer_free(k);
        ASSERT_EQ_INT(o2.calls, 1);
        ASSERT_TRUE(o2.res.cancelled);
        ASSERT_FALSE(o2.res.escalated);
        ASSERT_EQ_INT(o2.procs[0].outcome, KILL_PROC_PRESENT);
        ASSERT_TRUE(o2.procs[0].sigterm_sent);
        ASSERT_TRUE(child_alive(&c));
        ASSERT_EQ_INT(sd_event_run(e, MSEC(50)), 0);
        child_reap(&c, true);
}

#define RUN_LOOP(t)                                                                                        \
        do {                                                                                               \
                fprintf(stderr, "== %s\n", #t);                                                            \
                t(e);                                                                                      \
        } while (0)

int main(void)
{
        sd_event *e = NULL;

        procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(procfd >= 0);
        if (syscall(SYS_pidfd_open, getpid(), 0) < 0 && errno == ENOSYS)
                test_skip("no pidfd_open (Linux < 5.3)");
        /* Orphaned grandchildren come back to us, to be reaped. */
        ASSERT_OK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
        ASSERT_OK(sd_event_new(&e));

        RUN_LOOP(test_term_exits);
        RUN_LOOP(test_ignore_term);
        RUN_LOOP(test_deadline_zero);
        RUN_LOOP(test_wrong_start_time);
        RUN_LOOP(test_zombie);
        RUN_LOOP(test_pid_reuse);
        RUN_LOOP(test_cgroup_kill);
        RUN_LOOP(test_cgroup_protected);
        RUN_LOOP(test_unkillable);
        RUN_LOOP(test_callback_restarts);
        RUN_LOOP(test_limits_and_cancel);

        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        sd_event_unref(e);
        safe_close(procfd);
        return 0;
}
