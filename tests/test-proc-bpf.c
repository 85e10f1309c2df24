/* SPDX-License-Identifier: MIT */
/*
 * The BPF task iterator against the real kernel: its snapshot must say what
 * /proc says (comm, ppid, start time, uid, state, threads, oom_score_adj and
 * memory) for a process started here and for every other process, notice an
 * exec through exec_id, and drive proc_table_refresh_snapshot() so that the
 * exec'd process is read again. The full iterator's command lines (a
 * setproctitle-style title included), the exe paths cached by exe file and
 * the cgroup paths cached by id must match what procfs says, also for renamed
 * and unlinked executables, and a table refreshed from a full snapshot with
 * warm caches must need no procfs at all. Entries with a pid_ino hold
 * no pidfd: one opened later must have that inode number. Skips (77) where
 * BPF cannot load: a build without libbpf, not root, no BTF, or under
 * valgrind.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "macro.h"
#include "proc-bpf.h"
#include "proc-internal.h"
#include "proc.h"
#include "test.h"

#define TITLE "mgtitle: hello"

static const ProcSnapshotEntry *snap_find(const ProcSnapshot *s, pid_t pid)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->entries[i].pid == pid)
                        return &s->entries[i];
        return NULL;
}

static bool kernel_at_least(int major, int minor)
{
        struct utsname u;
        int ma = 0, mi = 0;

        ASSERT_OK(uname(&u));
        ASSERT_TRUE(sscanf(u.release, "%d.%d", &ma, &mi) == 2);
        return ma > major || (ma == major && mi >= minor);
}

static bool streq_null(const char *a, const char *b)
{
        return (!a || !b) ? a == b : strcmp(a, b) == 0;
}

/* Did p stay the same process, unchanged, from snapshot a to b? */
static bool stable(const ProcSnapshot *a, const ProcSnapshot *b, pid_t pid)
{
        const ProcSnapshotEntry *s = snap_find(a, pid), *s2 = snap_find(b, pid);

        return s && s2 && s->stat.start_time == s2->stat.start_time && s->exec_id == s2->exec_id &&
               s->cgroup_id == s2->cgroup_id && s->stat.ppid == s2->stat.ppid && s->uid == s2->uid &&
               strcmp(s->stat.comm, s2->stat.comm) == 0;
}

/*
 * A child that wrote a title over its argument area, ending it with a non-NUL
 * byte, as setproctitle(3) does. *ret_titled: whether /proc/PID/cmdline shows
 * it (not under valgrind, whose argv is not the kernel's argument area).
 */
static pid_t spawn_titled(char **argv, int argc, bool *ret_titled)
{
        int ready[2];
        pid_t pid;
        char c;

        ASSERT_OK(pipe2(ready, O_CLOEXEC));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                char *start = argv[0], *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;

                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                if ((size_t)(end - start) < sizeof(TITLE) + 1)
                        _exit(1);
                memset(start, 'x', (size_t)(end - start));
                memcpy(start, TITLE, sizeof(TITLE)); /* with its NUL; the area's last byte stays 'x' */
                {
                        char buf[64] = "";
                        int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
                        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

                        (void)write(ready[1], n == sizeof(TITLE) && memcmp(buf, TITLE, sizeof(TITLE)) == 0 ? "r" : "n", 1);
                }
                pause();
                _exit(0);
        }
        close(ready[1]);
        ASSERT_EQ_INT(read(ready[0], &c, 1), 1);
        close(ready[0]);
        *ret_titled = c == 'r';
        return pid;
}

/* Removed on a failed assertion too: the cgroups need their process gone first. */
static int abort_cgfd = -1;
static pid_t abort_pid = -1;
static char abort_cg[2][64];
static char abort_dir[64]; /* an empty directory of the test's */
static char abort_files[2][96]; /* files in it, removed first */
static pid_t abort_pids[3];

static void on_abort(int sig)
{
        if (abort_pid > 0) { /* kill(2), waitpid(2) and unlinkat(2) are async-signal-safe */
                (void)kill(abort_pid, SIGKILL);
                (void)waitpid(abort_pid, NULL, 0);
        }
        for (int i = 0; i < 2; i++)
                if (abort_cg[i][0])
                        (void)unlinkat(abort_cgfd, abort_cg[i], AT_REMOVEDIR);
        for (int i = 0; i < 3; i++)
                if (abort_pids[i] > 0) {
                        (void)kill(abort_pids[i], SIGKILL);
                        (void)waitpid(abort_pids[i], NULL, 0);
                }
        for (int i = 0; i < 2; i++)
                if (abort_files[i][0])
                        (void)unlink(abort_files[i]);
        if (abort_dir[0])
                (void)rmdir(abort_dir);
        signal(sig, SIG_DFL);
        raise(sig);
}

/* mkdir a test cgroup under the v2 mount; false if that is not possible here. */
static bool cg_make(int cgfd, const char *name)
{
        return mkdirat(cgfd, name, 0755) == 0;
}

static void cg_move(int cgfd, const char *name, pid_t pid)
{
        char path[256], buf[16];
        _cleanup_close_ int fd = -1;

        snprintf(path, sizeof(path), "%s/cgroup.procs", name);
        fd = openat(cgfd, path, O_WRONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        snprintf(buf, sizeof(buf), "%d", (int)pid);
        ASSERT_EQ_INT(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
}

static uint64_t cg_id(int cgfd, const char *name)
{
        struct stat st;
        ASSERT_OK(fstatat(cgfd, name, &st, 0));
        return (uint64_t)st.st_ino;
}

/*
 * A process moved from cgroup a to b after the snapshot: its entry says b
 * (read from procfs), and b's path is never cached under a's id.
 */
static void test_moved(ProcBpf *b, int procfd, int cgfd, pid_t pid)
{
        _cleanup_(proc_snapshot_done) ProcSnapshot snap = {};
        _cleanup_(proc_table_done) ProcTable t = {};
        const ProcScanFilter all = { .mode = PROC_SCAN_ALL, .open_pidfds = true };
        char a[64], bn[64], want_b[80];
        ProcEntry probe = PROC_ENTRY_NULL;

        snprintf(a, sizeof(a), "memguard-test-procbpf-a-%d", (int)getpid());
        snprintf(bn, sizeof(bn), "memguard-test-procbpf-b-%d", (int)getpid());
        abort_cgfd = cgfd;
        if (!cg_make(cgfd, a)) {
                printf("cannot make a test cgroup (%s): the moved-process check is skipped\n", strerror(errno));
                return;
        }
        memcpy(abort_cg[0], a, sizeof(a));
        ASSERT_TRUE(cg_make(cgfd, bn));
        memcpy(abort_cg[1], bn, sizeof(bn));
        cg_move(cgfd, a, pid);
        ASSERT_OK(proc_bpf_snapshot(b, true, &snap));
        ASSERT_EQ_U64(snap_find(&snap, pid)->cgroup_id, cg_id(cgfd, a));
        cg_move(cgfd, bn, pid);

        t = (ProcTable){ .pidfd_supported = true, .cgroup_fd = cgfd };
        ASSERT_OK(proc_table_refresh_snapshot(procfd, &all, &snap, &t));
        snprintf(want_b, sizeof(want_b), "/%s", bn);
        ASSERT_STREQ(proc_table_find(&t, pid)->cgroup, want_b);
        ASSERT_TRUE(!proc_cgroup_cache_get(t.cgroup_cache, cg_id(cgfd, a), &probe));

        /* Once read where it is, b is cached under b's id, and a later full refresh finds it there. */
        ASSERT_OK(proc_bpf_snapshot(b, true, &snap));
        ASSERT_OK(proc_table_refresh_snapshot(procfd, &all, &snap, &t));
        ASSERT_TRUE(proc_cgroup_cache_get(t.cgroup_cache, cg_id(cgfd, bn), &probe));
        ASSERT_STREQ(probe.cgroup, want_b);
        proc_entry_done(&probe);

        /* A table of b's processes alone (--scope): exactly this one. */
        {
                _cleanup_(proc_table_done) ProcTable scoped = { .pidfd_supported = true, .cgroup_fd = cgfd };
                const ProcScanFilter in_b = { .mode = PROC_SCAN_CGROUP, .cgroup = want_b };

                ASSERT_OK(proc_table_refresh_snapshot(procfd, &in_b, &snap, &scoped));
                ASSERT_EQ_INT(scoped.n, 1);
                ASSERT_EQ_INT(scoped.entries[0].pid, pid);
                ASSERT_OK(proc_table_refresh_snapshot(procfd, &in_b, &snap, &scoped));
                ASSERT_EQ_INT(scoped.n, 1); /* still only it (re-read: it is young) */
        }

        cg_move(cgfd, ".", pid); /* back to the root, so that the cgroups can go */
        ASSERT_OK(unlinkat(cgfd, a, AT_REMOVEDIR));
        ASSERT_OK(unlinkat(cgfd, bn, AT_REMOVEDIR));
        abort_cg[0][0] = abort_cg[1][0] = 0;
        printf("moved after the snapshot: read where it is, never cached under the old id\n");
}

/*
 * The full iterator: exe, cmdline and cached cgroup paths as procfs shows
 * them, then a refresh that cannot read procfs at all (an empty directory)
 * and still has every process whose cgroup is cached.
 */
static void test_full(ProcBpf *b, int procfd, char **argv, int argc)
{
        _cleanup_(proc_snapshot_done) ProcSnapshot sf = {}, after = {};
        _cleanup_(proc_table_done) ProcTable tp = {}, tf = {}, blind = {};
        const ProcScanFilter all = { .mode = PROC_SCAN_ALL, .open_pidfds = true };
        _cleanup_free_ char *v2 = NULL;
        _cleanup_close_ int cgfd = -1, emptyfd = -1;
        char empty[] = "/tmp/memguard-test-procbpf.XXXXXX";
        size_t compared = 0, titles = 0;
        bool title_shown;
        pid_t titled;

        if (!proc_bpf_can_full(b)) {
                printf("the full iterator does not load on this kernel: its checks skipped\n");
                return;
        }
        if (cg_v2_mount_find_at(procfd, &v2) >= 0)
                cgfd = open(v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        titled = spawn_titled(argv, argc, &title_shown);
        abort_pid = titled; /* killed, and the test's cgroups and directory removed, on a failed assertion */
        signal(SIGABRT, on_abort);
        if (!title_shown)
                printf("the kernel does not show the child's title (valgrind?): title checks skipped\n");

        ASSERT_OK(proc_bpf_snapshot(b, true, &sf));
        ASSERT_OK(proc_table_scan_at(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_ALL }, &tp));
        tf = (ProcTable){ .pidfd_supported = true, .cgroup_fd = cgfd };
        ASSERT_OK(proc_table_refresh_snapshot(procfd, &all, &sf, &tf));
        ASSERT_OK(proc_bpf_snapshot(b, false, &after));

        for (size_t i = 0; i < tp.n; i++) {
                const ProcEntry *p = &tp.entries[i], *f = proc_table_find(&tf, p->pid);

                if (!f || !stable(&sf, &after, p->pid) || f->start_time != p->start_time)
                        continue;
                if (!streq_null(f->exe, p->exe) || !streq_null(f->cmdline, p->cmdline) ||
                    !streq_null(f->cgroup, p->cgroup))
                        fprintf(stderr, "pid %d: exe %s / %s, cmdline %s / %s, cgroup %s / %s\n", (int)p->pid,
                                strna(f->exe), strna(p->exe), strna(f->cmdline), strna(p->cmdline), strna(f->cgroup),
                                strna(p->cgroup));
                ASSERT_TRUE(streq_null(f->exe, p->exe));
                ASSERT_TRUE(streq_null(f->cmdline, p->cmdline));
                ASSERT_TRUE(streq_null(f->cgroup, p->cgroup));
                ASSERT_TRUE(streq_null(f->unit, p->unit));
                ASSERT_TRUE(streq_null(f->app_id, p->app_id));
                titles += f->pid == titled;
                compared++;
        }
        printf("full snapshot: %zu processes' exe, cmdline and cgroup compared with procfs, %zu cgroups cached\n",
               compared, proc_id_cache_size(tf.cgroup_cache));
        ASSERT_TRUE(compared >= tp.n / 2);
        ASSERT_EQ_INT(titles, 1);
        if (title_shown) {
                ASSERT_STREQ(proc_table_find(&tf, titled)->cmdline, TITLE);
                ASSERT_STREQ(proc_table_find(&tp, titled)->cmdline, TITLE);
        }

        /* With the cache warm, a refresh needs nothing from procfs. */
        if (cgfd >= 0) {
                const ProcEntry *e;

                ASSERT_TRUE(proc_id_cache_size(tf.cgroup_cache) > 0);
                ASSERT_TRUE(mkdtemp(empty));
                snprintf(abort_dir, sizeof(abort_dir), "%s", empty);
                emptyfd = open(empty, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                ASSERT_TRUE(emptyfd >= 0);
                blind = (ProcTable){ .pidfd_supported = true,
                                     .cgroup_fd = cgfd,
                                     .cgroup_cache = TAKE_PTR(tf.cgroup_cache),
                                     .exe_cache = TAKE_PTR(tf.exe_cache) };
                /* Without pid_ino (no pidfd_open here) new processes need procfs for their pidfds: none wanted then. */
                ASSERT_OK(proc_table_refresh_snapshot(emptyfd,
                                                      snap_find(&sf, getpid())->pid_ino
                                                              ? &all
                                                              : &(const ProcScanFilter){ .mode = PROC_SCAN_ALL },
                                                      &sf, &blind));
                printf("refresh without procfs: %zu of %zu processes\n", blind.n, sf.n);
                ASSERT_TRUE(blind.n >= sf.n * 9 / 10);
                e = proc_table_find(&blind, titled);
                ASSERT_TRUE(e);
                ASSERT_STREQ(e->cmdline, proc_table_find(&tp, titled)->cmdline);
                ASSERT_STREQ(e->cgroup, proc_table_find(&tp, titled)->cgroup);
                ASSERT_TRUE(e->pidfd < 0);
                ASSERT_OK(rmdir(empty));
                abort_dir[0] = 0;
                test_moved(b, procfd, cgfd, titled);
        } else
                printf("no cgroup2 mount: the procfs-free refresh and cgroup moves are not checked\n");

        ASSERT_OK(kill(titled, SIGKILL));
        ASSERT_EQ_INT(waitpid(titled, NULL, 0), titled);
        abort_pid = -1;
}

/* An entry with a pid_ino: a pidfd opened for it names it, a wrong inode number is refused, a reaped one is gone. */
static void test_identity(int procfd, const ProcEntry *e)
{
        ProcEntry copy = *e;
        struct stat sb;
        int fd;

        ASSERT_TRUE(e->pid_ino != 0);
        ASSERT_EQ_INT(e->pidfd, -1);
        fd = proc_entry_open_pidfd(procfd, e);
        if (fd == -ENOSYS) {
                /* valgrind 3.19 does not know pidfd_open: verify falls back to the start time. */
                printf("pidfd_open unavailable here (valgrind?): pid_ino checks skipped\n");
                ASSERT_OK(proc_entry_verify(procfd, e));
                return;
        }
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(fstat(fd, &sb));
        ASSERT_EQ_U64((uint64_t)sb.st_ino, e->pid_ino);
        ASSERT_OK((int)syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0));
        close(fd);
        ASSERT_OK(proc_entry_verify(procfd, e));
        /* Another struct pid under the same PID (what reuse looks like): refused. */
        copy.pid_ino++;
        ASSERT_EQ_INT(proc_entry_open_pidfd(procfd, &copy), -ESTALE);
        ASSERT_EQ_INT(proc_entry_verify(procfd, &copy), -ESRCH);
}

static int test_procfd = -1; /* main's /proc */

/* /proc/PID/exe as the table reads it (readlinkat on the pid directory, which
 * valgrind does not rewrite as it does readlink("/proc/PID/exe")), or NULL. */
static char *exe_of(pid_t pid)
{
        _cleanup_close_ int dfd = proc_open_pid_dir(test_procfd, pid);

        return dfd >= 0 ? proc_read_exe_at(dfd) : NULL;
}

static void copy_file(const char *from, const char *to)
{
        _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC), out = -1;
        char buf[65536];
        ssize_t n;

        ASSERT_TRUE(in >= 0);
        out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        ASSERT_TRUE(out >= 0);
        while ((n = read(in, buf, sizeof(buf))) > 0)
                ASSERT_EQ_INT(write(out, buf, (size_t)n), n);
        ASSERT_EQ_INT(n, 0);
}

/* path run as a child (it dies with this test); returns once /proc shows it exec'd. */
static pid_t spawn_exe(const char *path)
{
        pid_t pid = fork();

        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                execl(path, "mg-exe", "60", (char *)NULL);
                _exit(127);
        }
        for (int i = 0; i < 200; i++) {
                _cleanup_free_ char *exe = exe_of(pid);
                if (exe && strcmp(exe, path) == 0)
                        return pid;
                usleep(10000);
        }
        ASSERT_TRUE(!"the child did not exec");
        return -1;
}

/* A table built from snap afresh, with *cache as its exe cache (handed back after). */
static void table_with_cache(int procfd, const ProcSnapshot *snap, ProcIdCache **cache, ProcTable *t)
{
        const ProcScanFilter all = { .mode = PROC_SCAN_ALL, .open_pidfds = true };

        proc_table_done(t);
        *t = (ProcTable){ .pidfd_supported = true, .exe_cache = TAKE_PTR(*cache) };
        ASSERT_OK(proc_table_refresh_snapshot(procfd, &all, snap, t));
        *cache = TAKE_PTR(t->exe_cache);
}

/* The entry for pid says what /proc/PID/exe says. */
static void assert_exe(const ProcTable *t, pid_t pid)
{
        _cleanup_free_ char *exe = exe_of(pid);
        const ProcEntry *e = proc_table_find(t, pid);

        ASSERT_TRUE(e && exe);
        if (!streq_null(e->exe, exe))
                fprintf(stderr, "pid %d: exe %s, /proc says %s\n", (int)pid, strna(e->exe), exe);
        ASSERT_STREQ(e->exe, exe);
}

/* Fork a child of this test that execs sleep when told (a byte on its
 * stdin-like pipe); a full snapshot taken while it waits goes to *snap. */
static int execing_go = -1;

static pid_t spawn_execing(ProcBpf *b, ProcSnapshot *snap)
{
        int go[2];
        pid_t pid;
        char c;

        ASSERT_OK(pipe2(go, O_CLOEXEC));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (read(go[0], &c, 1) == 1)
                        execl("/bin/sleep", "sleep", "60", (char *)NULL);
                _exit(1);
        }
        abort_pids[2] = pid;
        close(go[0]);
        execing_go = go[1];
        ASSERT_OK(proc_bpf_snapshot(b, true, snap));
        ASSERT_TRUE(snap_find(snap, pid));
        return pid;
}

/* Bytes of /proc/PID/cmdline now (0 while an exec has not set up the new arguments). */
static ssize_t cmdline_bytes(pid_t pid)
{
        _cleanup_close_ int dfd = proc_open_pid_dir(test_procfd, pid);
        char buf[64];

        return dfd >= 0 ? proc_read_small_at(dfd, "cmdline", buf, sizeof(buf)) : -1;
}

/* Tell it to exec, and wait until the exec is done: its exe link is no longer
 * `before` and its new command line is there (exec installs the new exe
 * before it sets up the arguments). */
static void exec_and_wait(pid_t pid, const char *before)
{
        char *now = NULL;
        int i;

        ASSERT_EQ_INT(write(execing_go, "x", 1), 1);
        close(execing_go);
        execing_go = -1;
        for (i = 0; i < 200; i++) {
                now = exe_of(pid);
                if (!streq_null(now, before) && cmdline_bytes(pid) > 0)
                        break;
                free(now);
                now = NULL;
                usleep(10000);
        }
        ASSERT_TRUE(now && !streq_null(now, before));
        free(now);
}

static void kill_child(pid_t pid)
{
        ASSERT_OK(kill(pid, SIGKILL));
        ASSERT_EQ_INT(waitpid(pid, NULL, 0), pid);
        if (abort_pids[2] == pid)
                abort_pids[2] = 0;
}

/*
 * Exe paths of full snapshots come from the table's cache, keyed by which
 * file the iterator saw: a process read once fills it, a renamed or unlinked
 * file gets a new key (and the path procfs shows, " (deleted)" included). A
 * process that exec'd between the snapshot and the /proc read is either the
 * snapshot's picture (its exe cached: old exe, old command line) or read
 * from /proc whole (new exe, new command line), never a mix, and its new
 * exe is never filed under the old key.
 */
static void test_exe_cache(ProcBpf *b, int procfd)
{
        _cleanup_(proc_snapshot_done) ProcSnapshot snap = {};
        _cleanup_(proc_table_done) ProcTable t = {};
        _cleanup_free_ char *mine = exe_of(getpid()), *self_cmdline = NULL;
        ProcIdCache *cache = NULL;
        char dir[] = "/tmp/memguard-test-exe.XXXXXX", *a = abort_files[0], *bp = abort_files[1];
        uint64_t key_a, key_b;
        pid_t p1, p2;

        if (!proc_bpf_can_full(b)) {
                printf("the full iterator does not load on this kernel: the exe cache is not used, its checks skipped\n");
                return;
        }
        signal(SIGABRT, on_abort);
        ASSERT_TRUE(mkdtemp(dir));
        snprintf(abort_dir, sizeof(abort_dir), "%s", dir);
        snprintf(a, sizeof(abort_files[0]), "%s/a", dir);
        snprintf(bp, sizeof(abort_files[1]), "%s/b", dir);
        copy_file("/bin/sleep", a);
        abort_pids[0] = p1 = spawn_exe(a);

        /* Read once: cached under its key. */
        ASSERT_OK(proc_bpf_snapshot(b, true, &snap));
        key_a = snap_find(&snap, p1)->exe_key;
        ASSERT_TRUE(key_a != 0);
        table_with_cache(procfd, &snap, &cache, &t);
        assert_exe(&t, p1);
        ASSERT_STREQ(proc_id_cache_path(cache, key_a), a);

        /* Renamed: a new key, whose path is the new name for both processes. */
        ASSERT_OK(rename(a, bp));
        abort_pids[1] = p2 = spawn_exe(bp);
        ASSERT_OK(proc_bpf_snapshot(b, true, &snap));
        key_b = snap_find(&snap, p1)->exe_key;
        ASSERT_TRUE(key_b != key_a);
        ASSERT_EQ_U64(snap_find(&snap, p2)->exe_key, key_b);
        table_with_cache(procfd, &snap, &cache, &t);
        assert_exe(&t, p1);
        assert_exe(&t, p2);
        ASSERT_STREQ(proc_table_find(&t, p1)->exe, bp);

        /* Unlinked: another key, and " (deleted)" as procfs says. */
        ASSERT_OK(unlink(bp));
        ASSERT_OK(proc_bpf_snapshot(b, true, &snap));
        ASSERT_TRUE(snap_find(&snap, p1)->exe_key != key_b);
        table_with_cache(procfd, &snap, &cache, &t);
        assert_exe(&t, p1);
        ASSERT_TRUE(strstr(proc_table_find(&t, p1)->exe, " (deleted)"));
        ASSERT_OK(rmdir(dir));
        abort_dir[0] = abort_files[0][0] = abort_files[1][0] = 0;

        /* Exec'd after the snapshot, its old exe cached (this test's binary,
         * read for this process): the snapshot's picture, whole. */
        ASSERT_STREQ(proc_id_cache_path(cache, snap_find(&snap, getpid())->exe_key), mine);
        self_cmdline = strdup(proc_table_find(&t, getpid())->cmdline);
        ASSERT_TRUE(self_cmdline);
        {
                pid_t p3 = spawn_execing(b, &snap);
                ProcSnapshotEntry only = *snap_find(&snap, p3);
                ProcSnapshot one = { .entries = &only, .n = 1, .total_pages = snap.total_pages };
                const ProcEntry *e;

                ASSERT_EQ_U64(only.exe_key, snap_find(&snap, getpid())->exe_key);
                exec_and_wait(p3, mine);
                table_with_cache(procfd, &one, &cache, &t);
                e = proc_table_find(&t, p3);
                ASSERT_STREQ(e->exe, mine);
                ASSERT_STREQ(e->comm, only.stat.comm);
                ASSERT_STREQ(e->cmdline, self_cmdline); /* a fork of this test: its argument area */
                kill_child(p3);
        }

        /* The same with nothing cached: read from /proc, new exe and new
         * command line, and the new exe not filed under the old key. */
        proc_id_cache_free(cache);
        cache = NULL;
        {
                pid_t p3 = spawn_execing(b, &snap);
                ProcSnapshotEntry only = *snap_find(&snap, p3);
                ProcSnapshot one = { .entries = &only, .n = 1, .total_pages = snap.total_pages };
                _cleanup_free_ char *now = NULL;
                const ProcEntry *e;

                exec_and_wait(p3, mine);
                now = exe_of(p3);
                table_with_cache(procfd, &one, &cache, &t);
                e = proc_table_find(&t, p3);
                ASSERT_STREQ(e->exe, now);
                ASSERT_STREQ(e->cmdline, "sleep 60");
                ASSERT_TRUE(proc_id_cache_path(cache, only.exe_key) == NULL);
                kill_child(p3);
        }
        for (int i = 0; i < 2; i++) {
                kill_child(abort_pids[i]);
                abort_pids[i] = 0;
        }
        proc_id_cache_free(cache);
        printf("exe cache: filled once per file, renamed and unlinked files re-read, an exec after the snapshot "
               "never mixed with the old exe nor cached under its key\n");
}

static void write_file(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ_INT(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

int main(int argc, char **argv)
{
        _cleanup_(proc_snapshot_done) ProcSnapshot snap = {};
        _cleanup_(proc_table_done) ProcTable t = { .pidfd_supported = true };
        const ProcScanFilter all = { .mode = PROC_SCAN_ALL, .open_pidfds = true };
        _cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        const ProcSnapshotEntry *c;
        ProcBpf *b = NULL;
        int go[2], ready[2], r;
        size_t compared = 0;
        uint32_t exec_before;
        pid_t child;
        char path[64];

        ASSERT_TRUE(procfd >= 0);
        test_procfd = procfd;
        r = proc_bpf_new(procfd, &b);
        if (r == -EOPNOTSUPP)
                test_skip("built without BPF (-Dbpf)");
        if (r < 0) {
                char why[128];
                snprintf(why, sizeof(why), "BPF task iterator cannot load here: %s", strerror(-r));
                test_skip(why);
        }

        /* A child named here, with its own oom_score_adj and 8 MiB of anon memory;
         * it execs sleep when told to. */
        ASSERT_OK(pipe2(go, O_CLOEXEC));
        ASSERT_OK(pipe2(ready, O_CLOEXEC));
        child = fork();
        ASSERT_TRUE(child >= 0);
        if (child == 0) {
                char c1;
                char *mem = malloc(8 << 20);

                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                (void)prctl(PR_SET_NAME, "bpf-child");
                memset(mem, 1, 8 << 20);
                __asm__ volatile("" : : "r"(mem) : "memory"); /* keep the stores */
                (void)write(ready[1], "r", 1);
                if (read(go[0], &c1, 1) == 1)
                        execl("/bin/sleep", "sleep", "60", (char *)NULL);
                _exit(1);
        }
        {
                char c1;
                ASSERT_EQ_INT(read(ready[0], &c1, 1), 1);
        }
        snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)child);
        write_file(path, "123");

        /* Once it blocks in read(2), it sleeps: S. */
        for (int i = 0; i < 200; i++) {
                ASSERT_OK(proc_bpf_snapshot(b, false, &snap));
                c = snap_find(&snap, child);
                ASSERT_TRUE(c);
                if (c->stat.state == 'S')
                        break;
                usleep(10000);
        }
        ASSERT_OK(proc_table_scan_at(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_ALL }, &t));
        ASSERT_STREQ(c->stat.comm, "bpf-child");
        ASSERT_EQ_INT(c->stat.ppid, getpid());
        ASSERT_EQ_INT(c->uid, getuid());
        ASSERT_EQ_INT(c->stat.threads, 1);
        ASSERT_EQ_INT(c->oom_score_adj, 123);
        ASSERT_EQ_INT(c->stat.state, 'S');
        /* status shows the same (approximate) counters: within 1 MiB of each other. */
        {
                const ProcEntry *e = proc_table_find(&t, child);
                ASSERT_TRUE(e);
                ASSERT_EQ_U64(c->stat.start_time, e->start_time);
                printf("child: snapshot anon %" PRIu64 " bytes, status %" PRIu64 "\n", c->rss_anon, e->rss_anon);
                ASSERT_TRUE(c->rss_anon >= 7 << 20);
                ASSERT_TRUE(c->rss_anon + (1 << 20) >= e->rss_anon && e->rss_anon + (1 << 20) >= c->rss_anon);
        }

        /* Every process that did not change while /proc was read (two snapshots
         * around the scan agree: no exec, exit, reparenting or rename): the
         * same identity facts in the snapshot as in /proc. */
        {
                _cleanup_(proc_snapshot_done) ProcSnapshot after = {};

                ASSERT_OK(proc_bpf_snapshot(b, false, &after));
                for (size_t i = 0; i < t.n; i++) {
                        const ProcEntry *e = &t.entries[i];
                        const ProcSnapshotEntry *s = snap_find(&snap, e->pid), *s2 = snap_find(&after, e->pid);

                        if (!s || !s2 || s->stat.start_time != s2->stat.start_time || s->exec_id != s2->exec_id ||
                            s->stat.ppid != s2->stat.ppid || s->uid != s2->uid ||
                            strcmp(s->stat.comm, s2->stat.comm) != 0)
                                continue;
                        ASSERT_EQ_U64(s->stat.start_time, e->start_time);
                        ASSERT_EQ_INT(s->stat.ppid, e->ppid);
                        ASSERT_EQ_INT(!!(s->stat.flags & PROC_PF_KTHREAD), e->kthread);
                        if (!e->kthread) {
                                ASSERT_EQ_INT(s->uid, e->uid);
                                ASSERT_STREQ(s->stat.comm, e->comm); /* kernel threads' names carry more in stat */
                        }
                        compared++;
                }
        }
        printf("%zu processes compared, %zu in the snapshot\n", compared, snap.n);
        ASSERT_TRUE(compared >= t.n / 2);

        /* A table from snapshots: the exec shows as a new exec_id and the entry is read again. */
        proc_table_done(&t);
        t = (ProcTable){ .pidfd_supported = true };
        ASSERT_OK(proc_table_refresh_snapshot(procfd, &all, &snap, &t));
        ASSERT_STREQ(proc_table_find(&t, child)->comm, "bpf-child");
        exec_before = proc_table_find(&t, child)->exec_id;
        ASSERT_EQ_INT(write(go[1], "x", 1), 1);
        for (int i = 0; i < 200; i++) {
                ASSERT_OK(proc_bpf_snapshot(b, false, &snap));
                c = snap_find(&snap, child);
                ASSERT_TRUE(c);
                if (c->exec_id != exec_before)
                        break;
                usleep(10000);
        }
        ASSERT_TRUE(c->exec_id != exec_before);
        ASSERT_STREQ(c->stat.comm, "sleep");
        ASSERT_OK(proc_table_refresh_snapshot(procfd, &all, &snap, &t));
        ASSERT_STREQ(proc_table_find(&t, child)->comm, "sleep");
        ASSERT_STREQ(proc_table_find(&t, child)->cmdline, "sleep 60");
        /* Identity: a pid_ino (Linux 6.9+ pidfs) and no pidfd held, or a pidfd. */
        {
                ProcEntry e = *proc_table_find(&t, child);

                /* pidfs inode numbers since 6.9: there the table must use them (unless pidfd_open is missing). */
                r = proc_pidfd_open(getpid());
                if (r >= 0)
                        close(r);
                if (kernel_at_least(6, 9) && r != -ENOSYS)
                        ASSERT_TRUE(e.pid_ino != 0);
                if (e.pid_ino != 0)
                        test_identity(procfd, &e);
                else /* a pidfd where pidfd_open works (valgrind 3.19 lacks it: then none, and the table says so) */
                        ASSERT_EQ_INT(e.pidfd >= 0, t.pidfd_supported);

                /* Gone from the next snapshot once it exits; its entry is gone too. */
                ASSERT_OK(kill(child, SIGKILL));
                ASSERT_EQ_INT(waitpid(child, NULL, 0), child);
                e.pidfd = -1;
                r = proc_entry_open_pidfd(procfd, &e);
                ASSERT_TRUE(r == -ESRCH || (r == -ENOSYS && proc_pidfd_open(getpid()) == -ENOSYS));
                ASSERT_EQ_INT(proc_entry_verify(procfd, &e), -ESRCH);
        }
        ASSERT_OK(proc_bpf_snapshot(b, false, &snap));
        ASSERT_TRUE(!snap_find(&snap, child));
        ASSERT_OK(proc_table_refresh_snapshot(procfd, &all, &snap, &t));
        ASSERT_TRUE(!proc_table_find(&t, child));

        test_full(b, procfd, argv, argc);
        test_exe_cache(b, procfd);
        proc_bpf_free(b);
        return 0;
}
