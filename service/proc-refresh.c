/* SPDX-License-Identifier: MIT */
/*
 * Incremental refresh of a process table (see proc.h). The table and the
 * PID listing are both sorted, so the two are merged in one pass.
 *
 * What a kept entry costs: pidfd_send_signal(0), the PID directory, stat,
 * the exe link, oom_score_adj and statm. status and oom_score, the dearest
 * files, are re-read only when statm's resident or shared size no longer
 * matches the memory figures kept from status (both are exact sums on current
 * kernels, unlike stat's RSS, which is a per-CPU approximation and would
 * disagree with status forever) or when oom_score_adj moved. One case slips
 * through: swap freed while RSS stays put shows on the next RSS change.
 *
 * Exec detection: comm changed, or the exe link changed. comm alone misses an
 * exec of a binary with the same name (or the same first 15 characters); the
 * exe link costs one readlinkat() and catches those. What neither catches is
 * an exec of the same binary with other arguments (python a.py → python b.py):
 * the cmdline stays stale until the process changes otherwise. Catching it for
 * free needs stat's startstack (field 28, new after every exec under ASLR)
 * kept in the entry, which ProcEntry has no field for yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "proc-internal.h"
#include "proc.h"

enum {
        OWN_NONE,    /* shares strings and pidfd with the old entry */
        OWN_STRINGS, /* fresh strings, pidfd shared with the old entry */
        OWN_ALL,     /* a new process */
};

enum {
        FATE_DROP,
        FATE_KEEP,         /* moved as a whole into the new table */
        FATE_KEEP_PIDFD,   /* re-read: only its pidfd moved */
};

enum {
        REFRESH_KEPT,
        REFRESH_GONE,     /* exited, or the PID names another process now */
        REFRESH_FILTERED, /* the same process, but no longer passes the filter */
};

typedef struct NewTable {
        ProcEntry *entries;
        unsigned char *own;
        size_t n, allocated;
} NewTable;

static void new_table_abort(NewTable *nt)
{
        for (size_t i = 0; i < nt->n; i++) {
                if (nt->own[i] == OWN_ALL)
                        proc_entry_done(&nt->entries[i]);
                else if (nt->own[i] == OWN_STRINGS)
                        proc_entry_free_strings(&nt->entries[i]);
        }
        free(nt->entries);
        free(nt->own);
        *nt = (NewTable){};
}

static bool streq_ptr(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

static uint64_t clock_ticks_per_sec(void)
{
        static uint64_t cached = 0;

        if (cached == 0) {
                long hz = sysconf(_SC_CLK_TCK);
                cached = hz > 0 ? (uint64_t)hz : 100;
        }
        return cached;
}

/* Now, in the unit of stat's start_time: clock ticks since boot. */
static uint64_t boot_ticks_now(void)
{
        struct timespec ts;
        uint64_t hz = clock_ticks_per_sec();

        if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return UINT64_MAX;
        return (uint64_t)ts.tv_sec * hz + (uint64_t)ts.tv_nsec / (1000000000U / hz);
}

/* Started less than PROC_REFRESH_SETTLE_SEC ago (or after `now`): re-read in full. */
static bool young(uint64_t start_time, uint64_t now)
{
        return now < start_time || now - start_time < PROC_REFRESH_SETTLE_SEC * clock_ticks_per_sec();
}

static uint64_t page_size(void)
{
        static uint64_t cached = 0;

        if (cached == 0) {
                long p = sysconf(_SC_PAGESIZE);
                cached = p > 0 ? (uint64_t)p : 4096;
        }
        return cached;
}

/* Do statm's exact sizes still match the figures read from status? */
static int memory_unchanged(int dfd, const ProcEntry *e, bool *ret)
{
        char buf[256];
        uint64_t resident, shared, res_bytes, shared_bytes;
        ssize_t n;
        int r;

        n = proc_read_small_at(dfd, "statm", buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        r = proc_statm_parse(buf, (size_t)n, &resident, &shared);
        if (r < 0)
                return r;
        if (__builtin_mul_overflow(resident, page_size(), &res_bytes) ||
            __builtin_mul_overflow(shared, page_size(), &shared_bytes)) {
                *ret = false;
                return 0;
        }
        *ret = res_bytes == e->rss_anon + e->rss_file + e->rss_shmem && shared_bytes == e->rss_file + e->rss_shmem;
        return 0;
}

/* A failed read of a kept process: fatal errors end the refresh, others drop it. */
static int gone(pid_t pid, int r)
{
        r = proc_skip(pid, r);
        return r < 0 ? r : REFRESH_GONE;
}

static int refresh_one(int procfd, const ProcScanFilter *filter, const ProcEntry *old, uint64_t now,
                       ProcEntry *ret, unsigned char *ret_own, unsigned char *ret_fate)
{
        _cleanup_close_ int dfd = -1;
        ProcEntry e;
        ProcStat st;
        bool exec, same_memory = false;
        int r;

        if (old->pidfd >= 0 && proc_pidfd_alive(old->pidfd) == -ESRCH)
                return REFRESH_GONE;

        dfd = proc_open_pid_dir(procfd, old->pid);
        if (dfd < 0)
                return gone(old->pid, dfd);
        r = proc_read_stat_at(dfd, &st);
        if (r < 0)
                return gone(old->pid, r);
        if (st.start_time != old->start_time)
                return REFRESH_GONE;

        exec = strcmp(st.comm, old->comm) != 0;
        if (!exec && !(st.flags & PROC_PF_KTHREAD)) {
                _cleanup_free_ char *exe = proc_read_exe_at(dfd);
                exec = !streq_ptr(exe, old->exe);
        }

        if (exec || young(st.start_time, now)) {
                r = proc_read_full(dfd, old->pid, filter, NULL, &e);
                if (r == 0)
                        return REFRESH_FILTERED;
                if (r < 0)
                        return gone(old->pid, r);
                if (e.start_time != old->start_time) {
                        proc_entry_done(&e);
                        return REFRESH_GONE;
                }
                e.pidfd = old->pidfd;
                *ret = e;
                *ret_own = OWN_STRINGS;
                *ret_fate = FATE_KEEP_PIDFD;
                return REFRESH_KEPT;
        }

        e = *old; /* shares strings and pidfd */
        proc_entry_set_stat(&e, &st);
        r = proc_read_int_at(dfd, "oom_score_adj", -1000, 1000, &e.oom_score_adj);
        if (r < 0)
                return gone(old->pid, r);

        if (!e.kthread) {
                r = memory_unchanged(dfd, old, &same_memory);
                if (r < 0)
                        return gone(old->pid, r);
                if (!same_memory) {
                        ProcStatus status;

                        r = proc_read_status_at(dfd, &status);
                        if (r < 0)
                                return gone(old->pid, r);
                        if (filter->mode == PROC_SCAN_UID && status.uid != filter->uid)
                                return REFRESH_FILTERED;
                        proc_entry_set_status(&e, &status);
                }
                if (!same_memory || e.oom_score_adj != old->oom_score_adj) {
                        r = proc_read_int_at(dfd, "oom_score", 0, INT_MAX, &e.oom_score);
                        if (r < 0)
                                return gone(old->pid, r);
                }
        }

        *ret = e;
        *ret_own = OWN_NONE;
        *ret_fate = FATE_KEEP;
        return REFRESH_KEPT;
}

static int entry_compare(const void *a, const void *b)
{
        pid_t x = ((const ProcEntry *)a)->pid, y = ((const ProcEntry *)b)->pid;
        return (x > y) - (x < y);
}

static int append_new(int procfd, pid_t pid, const ProcScanFilter *filter, ProcTable *t, NewTable *nt)
{
        int r;

        r = proc_read_new(procfd, pid, filter, NULL, t, &nt->entries[nt->n]);
        if (r > 0)
                nt->own[nt->n++] = OWN_ALL;
        return r;
}

/* Sort a table by pid if a caller reordered it: the merges need it sorted. */
static void table_sort(ProcTable *t)
{
        for (size_t k = 1; k < t->n; k++)
                if (t->entries[k - 1].pid > t->entries[k].pid) {
                        qsort(t->entries, t->n, sizeof(ProcEntry), entry_compare);
                        return;
                }
}

static void new_table_init(NewTable *nt, size_t n, const ProcTable *t, unsigned char **ret_fate)
{
        /* Each listed PID yields at most one entry. */
        nt->allocated = MAX(n, (size_t)1);
        nt->entries = reallocarray(NULL, nt->allocated, sizeof(ProcEntry));
        nt->own = malloc(nt->allocated);
        *ret_fate = calloc(MAX(t->n, (size_t)1), 1); /* FATE_DROP */
        if (!nt->entries || !nt->own || !*ret_fate)
                abort();
}

/* Replace t's entries by nt's: nothing can fail here. */
static void new_table_commit(NewTable *nt, const unsigned char *fate, ProcTable *t)
{
        for (size_t k = 0; k < t->n; k++) {
                if (fate[k] == FATE_DROP)
                        proc_entry_done(&t->entries[k]);
                else if (fate[k] == FATE_KEEP_PIDFD)
                        proc_entry_free_strings(&t->entries[k]);
        }
        free(t->entries);
        free(nt->own);
        t->entries = TAKE_PTR(nt->entries);
        t->n = nt->n;
        t->allocated = nt->allocated;
        *nt = (NewTable){};
}

int proc_table_refresh_at(int procfd, const ProcScanFilter *filter, ProcTable *t)
{
        _cleanup_(new_table_abort) NewTable nt = {};
        _cleanup_free_ unsigned char *fate = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n_pids, i = 0, j = 0;
        uint64_t now;
        int r;

        if (!t || (procfd < 0 && procfd != AT_FDCWD))
                return -EINVAL;
        r = proc_filter_validate(filter);
        if (r < 0)
                return r;

        table_sort(t);
        r = proc_list_pids(procfd, &pids, &n_pids);
        if (r < 0)
                return r;
        new_table_init(&nt, n_pids, t, &fate);
        now = boot_ticks_now();

        while (j < n_pids) {
                pid_t pid = pids[j];

                if (i < t->n && t->entries[i].pid < pid) {
                        i++; /* no longer listed: exited */
                        continue;
                }
                if (i < t->n && t->entries[i].pid == pid) {
                        r = refresh_one(procfd, filter, &t->entries[i], now, &nt.entries[nt.n], &nt.own[nt.n],
                                        &fate[i]);
                        i++;
                        if (r < 0)
                                return r;
                        if (r == REFRESH_KEPT) {
                                nt.n++;
                                j++;
                                continue;
                        }
                        if (r == REFRESH_FILTERED) {
                                j++;
                                continue;
                        }
                        /* REFRESH_GONE: the PID may name a new process now. */
                }
                r = append_new(procfd, pid, filter, t, &nt);
                if (r < 0)
                        return r;
                j++;
        }

        new_table_commit(&nt, fate, t);
        return 0;
}

/* What the snapshot says, into a kept or new entry. */
static void entry_set_snapshot(ProcEntry *e, const ProcSnapshotEntry *s, uint64_t total_pages)
{
        proc_entry_set_stat(e, &s->stat);
        e->uid = s->uid;
        e->rss_anon = s->rss_anon;
        e->rss_file = s->rss_file;
        e->rss_shmem = s->rss_shmem;
        e->swap = s->swap;
        e->oom_score_adj = s->oom_score_adj;
        e->oom_score = proc_oom_score_compute(s, total_pages, page_size()); /* 0 for kernel threads */
        e->exec_id = s->exec_id;
        e->cgroup_id = s->cgroup_id;
        e->pid_ino = s->pid_ino;
        e->exe_key = s->exe_key;
}

/* Is old still the process the snapshot describes, unchanged but for its figures? */
static bool snapshot_same(const ProcEntry *old, const ProcSnapshotEntry *s, uint64_t now)
{
        return s->stat.start_time == old->start_time && s->exec_id == old->exec_id &&
               s->cgroup_id == old->cgroup_id && strcmp(s->stat.comm, old->comm) == 0 && !young(s->stat.start_time, now);
}

/*
 * A process that a full snapshot describes in full, its exe and cgroup cached:
 * nothing to read from procfd. For a new process (new_identity) the snapshot
 * must also say who it is (pid_ino) unless no pidfds are wanted; a kept one
 * keeps its pidfd. false if it cannot be taken this way (read procfd).
 */
static bool snapshot_only(const ProcScanFilter *filter, const ProcSnapshotEntry *s, bool new_identity, ProcTable *t,
                          ProcEntry *ret)
{
        ProcEntry e = { .pid = s->pid, .pidfd = -1 };

        if (!s->has_exe || !s->has_cmdline || (new_identity && filter->open_pidfds && s->pid_ino == 0))
                return false;
        if (!proc_cgroup_cache_get(t->cgroup_cache, s->cgroup_id, &e))
                return false;
        proc_entry_set_stat(&e, &s->stat);
        proc_entry_set_snapshot_strings(&e, s);
        *ret = e;
        return true;
}

/*
 * With a cgroup filter, is a process the table does not keep in the scope?
 * Its cgroup id's path from the cache, or from /proc/PID/cgroup, cached
 * once it checks out against the id (so the path is right whoever it was
 * read from). 1 in, 0 out, -1 unknown (the reads that follow filter again).
 */
static int snapshot_in_scope(int procfd, const ProcScanFilter *filter, const ProcSnapshotEntry *s, ProcTable *t)
{
        const char *path = proc_id_cache_path(t->cgroup_cache, s->cgroup_id);

        if (!path) {
                _cleanup_(proc_entry_done) ProcEntry e = PROC_ENTRY_NULL;
                _cleanup_close_ int dfd = proc_open_pid_dir(procfd, s->pid);

                if (dfd < 0 || proc_read_cgroup_at(dfd, &(const ProcScanFilter){ .mode = PROC_SCAN_ALL }, &e.cgroup) < 0)
                        return -1;
                (void)proc_unit_from_cgroup(e.cgroup, &e.unit, &e.app_id);
                proc_cgroup_cache_put(&t->cgroup_cache, t->cgroup_fd, s->cgroup_id, &e);
                path = proc_id_cache_path(t->cgroup_cache, s->cgroup_id);
                if (!path)
                        return -1;
        }
        return proc_cgroup_is_below(path, strlen(path), filter->cgroup);
}

/*
 * A process not kept: read what the snapshot lacks from procfd (1 appended,
 * 0 skipped, -errno fatal). With a full snapshot its exe path comes from the
 * table's exe cache if a process of the same exe file was read before; if
 * not, the path read from procfd is cached once it checks out against the
 * file. Only then: the entry is the snapshot's picture of the process (its
 * comm and command line are the snapshot's too), and an exec since shows as
 * a new exec_id next time. From a light snapshot, comm, exe and command line
 * are all read from procfd, after any exec: never the old exe with the new
 * command line.
 */
static int snapshot_read(int procfd, const ProcScanFilter *filter, const ProcSnapshotEntry *snap_entry,
                         const ProcEntry *old, uint64_t total_pages, ProcTable *t, NewTable *nt,
                         unsigned char *ret_fate)
{
        _cleanup_close_ int dfd = -1;
        ProcSnapshotEntry with_exe = *snap_entry;
        const ProcSnapshotEntry *s = &with_exe;
        const char *exe = NULL;
        ProcEntry e;
        int r;

        if (filter->mode == PROC_SCAN_UID && s->uid != filter->uid)
                return 0;
        if (filter->mode == PROC_SCAN_CGROUP && snapshot_in_scope(procfd, filter, s, t) == 0)
                return 0;
        t->n_detailed++;
        if (s->has_cmdline && !s->has_exe && (exe = proc_id_cache_path(t->exe_cache, s->exe_key))) {
                with_exe.has_exe = true;
                with_exe.exe = exe;
                with_exe.exe_len = (uint16_t)MIN(strlen(exe), (size_t)UINT16_MAX);
        }
        if (!old) {
                if (!snapshot_only(filter, s, true, t, &e)) {
                        r = proc_read_new(procfd, s->pid, filter, s, t, &e);
                        if (r <= 0)
                                return r;
                        proc_cgroup_cache_put(&t->cgroup_cache, t->cgroup_fd, s->cgroup_id, &e);
                        proc_exe_cache_put(&t->exe_cache, e.exe_key, e.exe);
                }
                nt->own[nt->n] = OWN_ALL;
        } else {
                /* The same process, exec'd, moved or young: fresh strings, same pidfd. */
                if (!snapshot_only(filter, s, false, t, &e)) {
                        dfd = proc_open_pid_dir(procfd, s->pid);
                        if (dfd < 0)
                                return proc_skip(s->pid, dfd);
                        r = proc_read_full(dfd, s->pid, filter, s, &e);
                        if (r <= 0)
                                return proc_skip(s->pid, r);
                        proc_cgroup_cache_put(&t->cgroup_cache, t->cgroup_fd, s->cgroup_id, &e);
                        proc_exe_cache_put(&t->exe_cache, e.exe_key, e.exe);
                }
                e.pidfd = old->pidfd;
                nt->own[nt->n] = OWN_STRINGS;
                *ret_fate = FATE_KEEP_PIDFD;
        }
        /* A PID reused after the snapshot failed the read above (-ESRCH: its
         * start time is not the snapshot's). The snapshot's figures and stamps:
         * an exec or a move after the snapshot shows as a changed stamp next
         * time and is read again. */
        entry_set_snapshot(&e, s, total_pages);
        nt->entries[nt->n++] = e;
        return 1;
}

int proc_table_refresh_snapshot(int procfd, const ProcScanFilter *filter, const ProcSnapshot *snap, ProcTable *t)
{
        _cleanup_(new_table_abort) NewTable nt = {};
        _cleanup_free_ unsigned char *fate = NULL;
        uint64_t now, last_cgroup_id = 0, last_exe_key = 0;
        size_t i = 0;
        int r;

        if (!t || !snap || (procfd < 0 && procfd != AT_FDCWD))
                return -EINVAL;
        r = proc_filter_validate(filter);
        if (r < 0)
                return r;
        if (filter->mode == PROC_SCAN_CGROUP && t->cgroup_fd <= 0)
                return -EOPNOTSUPP; /* every process's cgroup would be read at every refresh */
        for (size_t k = 1; k < snap->n; k++)
                if (snap->entries[k - 1].pid >= snap->entries[k].pid)
                        return -EINVAL;

        table_sort(t);
        new_table_init(&nt, snap->n, t, &fate);
        now = boot_ticks_now();
        t->n_detailed = 0;

        for (size_t j = 0; j < snap->n; j++) {
                const ProcSnapshotEntry *s = &snap->entries[j];
                const ProcEntry *old = NULL;

                while (i < t->n && t->entries[i].pid < s->pid)
                        i++; /* not in the snapshot: exited */
                if (i < t->n && t->entries[i].pid == s->pid) {
                        old = &t->entries[i++];
                        if (old->start_time != s->stat.start_time || (old->pid_ino && old->pid_ino != s->pid_ino))
                                old = NULL; /* the PID names a new process now: old is dropped */
                }
                if (old && snapshot_same(old, s, now)) {
                        if (filter->mode == PROC_SCAN_UID && s->uid != filter->uid)
                                continue; /* dropped */
                        if (s->cgroup_id != last_cgroup_id) /* keep its cgroup and exe in the caches */
                                proc_id_cache_mark(t->cgroup_cache, last_cgroup_id = s->cgroup_id);
                        if (s->exe_key != last_exe_key)
                                proc_id_cache_mark(t->exe_cache, last_exe_key = s->exe_key);
                        ProcEntry e = *old; /* shares strings and pidfd */
                        entry_set_snapshot(&e, s, snap->total_pages);
                        nt.entries[nt.n] = e;
                        nt.own[nt.n++] = OWN_NONE;
                        fate[old - t->entries] = FATE_KEEP;
                        continue;
                }
                r = snapshot_read(procfd, filter, s, old, snap->total_pages, t, &nt,
                                  old ? &fate[old - t->entries] : &(unsigned char){ 0 });
                if (r < 0)
                        return r;
        }

        new_table_commit(&nt, fate, t);
        proc_id_cache_sweep(t->cgroup_cache);
        proc_id_cache_sweep(t->exe_cache);
        return 0;
}
