/* SPDX-License-Identifier: MIT */
/*
 * The BPF task iterator against the real kernel: its snapshot must say what
 * /proc says (comm, ppid, start time, uid, state, threads, oom_score_adj and
 * memory) for a process started here and for every other process, notice an
 * exec through exec_id, and drive proc_table_refresh_snapshot() so that the
 * exec'd process is read again. Skips (77) where BPF cannot load: a build
 * without libbpf, not root, no BTF, or under valgrind.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "proc-bpf.h"
#include "proc.h"
#include "test.h"

static const ProcSnapshotEntry *snap_find(const ProcSnapshot *s, pid_t pid)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->entries[i].pid == pid)
                        return &s->entries[i];
        return NULL;
}

static void write_file(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ_INT(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

int main(void)
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
                ASSERT_OK(proc_bpf_snapshot(b, &snap));
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

                ASSERT_OK(proc_bpf_snapshot(b, &after));
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
                ASSERT_OK(proc_bpf_snapshot(b, &snap));
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
        /* A pidfd where pidfd_open works (valgrind 3.19 lacks it: then none, and the table says so). */
        ASSERT_EQ_INT(proc_table_find(&t, child)->pidfd >= 0, t.pidfd_supported);

        /* Gone from the next snapshot once it exits. */
        ASSERT_OK(kill(child, SIGKILL));
        ASSERT_EQ_INT(waitpid(child, NULL, 0), child);
        ASSERT_OK(proc_bpf_snapshot(b, &snap));
        ASSERT_TRUE(!snap_find(&snap, child));
        ASSERT_OK(proc_table_refresh_snapshot(procfd, &all, &snap, &t));
        ASSERT_TRUE(!proc_table_find(&t, child));

        proc_bpf_free(b);
        return 0;
}
