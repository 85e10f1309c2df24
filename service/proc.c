/* SPDX-License-Identifier: MIT */
/*
 * The process table: listing a proc root, scanning it into a table sorted by
 * PID, and the per-entry operations (verify, Pss, cleanup). Reading one
 * process is proc-read.c; the incremental refresh is proc-refresh.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "parse-util.h"
#include "proc-internal.h"
#include "proc.h"

static int pid_compare(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
        return (x > y) - (x < y);
}

/* A canonical decimal PID ("1", not "01", "+1" or "self"). */
static bool parse_pid_name(const char *s, pid_t *ret)
{
        uint64_t v;

        if (s[0] < '1' || s[0] > '9' || safe_atou64(s, &v) < 0 || v > INT_MAX)
                return false;
        *ret = (pid_t)v;
        return true;
}

int proc_list_pids(int procfd, pid_t **ret, size_t *ret_n)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, allocated = 0;
        bool sorted = true;
        union {
                struct dirent64 de;
                char buf[32768];
        } u;

        /* A fresh fd, so procfd's own position is never consumed. */
        fd = openat(procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        for (;;) {
                ssize_t k = getdents64(fd, u.buf, sizeof(u.buf));

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                for (ssize_t off = 0; off < k;) {
                        struct dirent64 *de = (struct dirent64 *)(u.buf + off);
                        pid_t pid;

                        off += de->d_reclen;
                        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                                continue;
                        if (!parse_pid_name(de->d_name, &pid))
                                continue;
                        if (n == allocated) {
                                pid_t *np;
                                allocated = MAX(allocated * 2, (size_t)256);
                                np = reallocarray(pids, allocated, sizeof(pid_t));
                                if (!np)
                                        abort();
                                pids = np;
                        }
                        if (n > 0 && pids[n - 1] > pid)
                                sorted = false;
                        pids[n++] = pid;
                }
        }

        /* procfs lists PIDs in order already; fixture trees do not. */
        if (!sorted)
                qsort(pids, n, sizeof(pid_t), pid_compare);
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

int proc_filter_validate(const ProcScanFilter *filter)
{
        if (!filter)
                return -EINVAL;
        switch (filter->mode) {
        case PROC_SCAN_ALL:
        case PROC_SCAN_UID:
                return 0;
        case PROC_SCAN_CGROUP:
                return filter->cgroup && filter->cgroup[0] == '/' ? 0 : -EINVAL;
        default:
                return -EINVAL;
        }
}

int proc_table_scan_at(int procfd, const ProcScanFilter *filter, ProcTable *ret)
{
        _cleanup_(proc_table_done) ProcTable t = { .pidfd_supported = true };
        _cleanup_free_ pid_t *pids = NULL;
        size_t n_pids;
        int r;

        if (!ret || (procfd < 0 && procfd != AT_FDCWD))
                return -EINVAL;
        r = proc_filter_validate(filter);
        if (r < 0)
                return r;

        r = proc_list_pids(procfd, &pids, &n_pids);
        if (r < 0)
                return r;

        t.allocated = MAX(n_pids, (size_t)1);
        t.entries = reallocarray(NULL, t.allocated, sizeof(ProcEntry));
        if (!t.entries)
                abort();

        for (size_t i = 0; i < n_pids; i++) {
                r = proc_read_new(procfd, pids[i], filter, NULL, &t, &t.entries[t.n]);
                if (r < 0)
                        return r;
                if (r > 0)
                        t.n++;
        }

        *ret = t;
        t = (ProcTable){};
        return 0;
}

ProcEntry *proc_table_find(const ProcTable *t, pid_t pid)
{
        size_t lo = 0, hi;

        if (!t)
                return NULL;
        hi = t->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (t->entries[mid].pid == pid)
                        return &t->entries[mid];
                if (t->entries[mid].pid < pid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* Does the start time of the process now named by e->pid match e's? 0, -ESRCH, -ESTALE, -errno. */
static int start_time_matches(int procfd, const ProcEntry *e)
{
        _cleanup_close_ int dfd = -1;
        ProcStat st;
        int r;

        dfd = proc_open_pid_dir(procfd, e->pid);
        if (dfd < 0)
                return dfd == -ENOENT ? -ESRCH : dfd;
        r = proc_read_stat_at(dfd, &st);
        if (r == -ENOENT || r == -ESRCH)
                return -ESRCH;
        if (r < 0)
                return r;
        return st.start_time == e->start_time ? 0 : -ESTALE;
}

int proc_entry_open_pidfd(int procfd, const ProcEntry *e)
{
        _cleanup_close_ int fd = -1;
        int r;

        if (!e || e->pid <= 0)
                return -EINVAL;
        if (e->pidfd >= 0) {
                fd = fcntl(e->pidfd, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? -errno : TAKE_FD(fd);
        }
        fd = proc_pidfd_open(e->pid);
        if (fd < 0)
                return fd == -EINVAL ? -ESRCH : fd; /* EINVAL: a thread's TID now */
        /* Checked after the open: if it matches, the pidfd names e's process. */
        if (e->pid_ino != 0) {
                struct stat sb;

                if (fstat(fd, &sb) < 0)
                        return -errno;
                if ((uint64_t)sb.st_ino != e->pid_ino)
                        return -ESTALE;
        } else {
                r = start_time_matches(procfd, e);
                if (r < 0)
                        return r;
        }
        return TAKE_FD(fd);
}

int proc_entry_verify(int procfd, const ProcEntry *e)
{
        _cleanup_close_ int fd = -1;
        int r;

        if (!e || e->pid <= 0)
                return -EINVAL;

        /* A pidfd names one process for its whole life: no PID reuse can fool this. */
        if (e->pidfd >= 0)
                return proc_pidfd_alive(e->pidfd);
        if (e->pid_ino != 0) {
                fd = proc_entry_open_pidfd(procfd, e);
                if (fd != -ENOSYS)
                        return fd == -ESTALE ? -ESRCH : fd < 0 ? fd : 0;
        }
        r = start_time_matches(procfd, e);
        return r == -ESTALE ? -ESRCH : r;
}

int proc_entry_read_pss(int procfd, ProcEntry *e)
{
        _cleanup_close_ int dfd = -1;
        char buf[4096];
        uint64_t pss;
        ProcStat st;
        ssize_t n;
        int r;

        if (!e || e->pid <= 0)
                return -EINVAL;

        /* Check identity through the pinned dir first; then smaps_rollup read
         * through it is this process's or fails. */
        dfd = proc_open_pid_dir(procfd, e->pid);
        if (dfd < 0)
                return dfd == -ENOENT ? -ESRCH : dfd;
        r = proc_read_stat_at(dfd, &st);
        if (r == -ENOENT)
                return -ESRCH;
        if (r < 0)
                return r;
        if (st.start_time != e->start_time)
                return -ESRCH;

        n = proc_read_small_at(dfd, "smaps_rollup", buf, sizeof(buf));
        if (n == -ENOENT)
                return -ESRCH;
        if (n < 0)
                return (int)n;
        if ((size_t)n >= sizeof(buf) - 1)
                return -EBADMSG;
        if (n == 0) {
                /* No mm: kernel thread or zombie. */
                e->pss = 0;
                return 0;
        }
        r = proc_smaps_rollup_parse_pss(buf, (size_t)n, &pss);
        if (r < 0)
                return r;
        e->pss = pss;
        return 0;
}

void proc_entry_free_strings(ProcEntry *e)
{
        free(e->exe);
        free(e->cmdline);
        free(e->cgroup);
        free(e->unit);
        free(e->app_id);
        e->exe = e->cmdline = e->cgroup = e->unit = e->app_id = NULL;
}

void proc_entry_done(ProcEntry *e)
{
        if (!e)
                return;
        proc_entry_free_strings(e);
        e->pidfd = safe_close(e->pidfd);
}

void proc_table_done(ProcTable *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n; i++)
                proc_entry_done(&t->entries[i]);
        free(t->entries);
        t->entries = NULL;
        t->n = t->allocated = 0;
        t->cgroup_cache = proc_id_cache_free(t->cgroup_cache);
        t->exe_cache = proc_id_cache_free(t->exe_cache);
}

void proc_snapshot_done(ProcSnapshot *s)
{
        if (!s)
                return;
        free(s->entries);
        free(s->buf);
        if (s->buf2)
                (void)munmap(s->buf2, s->buf2_size);
        *s = (ProcSnapshot){};
}

int proc_oom_score_compute(const ProcSnapshotEntry *s, uint64_t total_pages, uint64_t page_size)
{
        int64_t points, adj, total;

        /* oom_badness(): LONG_MIN (shown as 0) for OOM_SCORE_ADJ_MIN, kernel
         * threads, init and processes without an mm. */
        if (!s || !s->has_mm || s->oom_score_adj <= -1000 || s->pid == 1 || (s->stat.flags & PROC_PF_KTHREAD) ||
            total_pages == 0 || page_size == 0 || total_pages > INT64_MAX / 2000)
                return 0;
        total = (int64_t)total_pages;
        points = (int64_t)((s->rss_anon + s->rss_file + s->rss_shmem + s->swap + s->pgtables) / page_size);
        adj = (int64_t)s->oom_score_adj * (total / 1000);
        points += adj;
        /* proc_oom_score(): (1000 + badness * 1000 / totalpages) * 2 / 3 */
        if (points > total * 2)
                points = total * 2;
        points = (1000 + points * 1000 / total) * 2 / 3;
        return (int)CLAMP(points, (int64_t)0, (int64_t)2000);
}
