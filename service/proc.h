/* SPDX-License-Identifier: MIT */
/*
 * The process table: what memguard knows about each process it may manage,
 * read from a proc root (a dir fd, so tests use fake trees).
 *
 * Identity: when a process is read, a pidfd is opened for it and kept in the
 * entry; every later action goes through that pidfd, so a process that exited
 * or whose PID was reused is never confused with the one read. Entries from
 * a BPF snapshot on Linux 6.9+ carry instead the inode number of the process's
 * struct pid on pidfs (pid_ino: 64 bits, never reused while the system runs,
 * what fstat() of any pidfd of that process says): an action opens a pidfd
 * then and checks its inode number (proc_entry_open_pidfd), which names the
 * process read just as exactly, without holding 10,000 pidfds (about 1 KiB
 * of kernel memory each, and the fd limit) or paying ~1.4 µs per new
 * process to open one. Where pidfd_open(2) is unavailable (ENOSYS), entries
 * carry pidfd = -1 and callers must re-read and compare start_time right
 * before acting (proc_entry_verify, proc_entry_open_pidfd).
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 * Processes that vanish mid-scan are skipped quietly (debug log at most).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_COMM_MAX 64 /* comm is 16 bytes today; kernel threads' names can be longer */
#define PROC_CMDLINE_MAX 4096 /* bytes of /proc/PID/cmdline kept in ProcEntry.cmdline */
#define PROC_PF_KTHREAD 0x00200000U /* PF_KTHREAD in stat field 9 */

typedef struct ProcEntry {
        pid_t pid;
        pid_t ppid;
        uid_t uid;              /* real uid (status Uid:; the directory owner is only an early filter) */
        char comm[PROC_COMM_MAX];
        char state;             /* R, S, D, T, t, Z, ... */
        bool kthread;           /* PF_KTHREAD in stat flags */
        unsigned threads;
        uint64_t start_time;    /* stat field 22, clock ticks since boot */

        char *exe;              /* readlink of /proc/PID/exe; NULL if unreadable (kernel thread, other user) */
        char *cmdline;          /* NUL separators replaced by spaces, at most 4 KiB; NULL if empty */
        char *cgroup;           /* cgroup v2 path ("0::" line), NULL if none */
        char *unit;             /* innermost systemd unit (*.service / *.scope) in the cgroup path, or NULL */
        char *app_id;           /* desktop app id from the unit name (app-<launcher>-<appid>-<n>.scope,
                                   app-<appid>@<x>.service, app-<launcher>-<appid>@<x>.service), or NULL */

        uint64_t rss_anon;      /* bytes (status RssAnon) */
        uint64_t rss_file;      /* bytes (status RssFile) */
        uint64_t rss_shmem;     /* bytes (status RssShmem) */
        uint64_t swap;          /* bytes (status VmSwap) */
        uint64_t pss;           /* bytes (smaps_rollup Pss), 0 until proc_entry_read_pss() */
        int oom_score;
        int oom_score_adj;

        int pidfd;              /* -1 if pidfd_open is unavailable or failed, or not needed (pid_ino) */
        uint64_t pid_ino;       /* the struct pid's pidfs inode number (a pidfd's st_ino), 0 if unknown */

        /* Known only from a snapshot (proc_table_refresh_snapshot); 0 otherwise. */
        uint32_t exec_id;       /* the kernel's self_exec_id: changes with every exec */
        uint64_t cgroup_id;     /* the cgroup v2 directory's id */
        uint64_t exe_key;       /* which exe file (ProcSnapshotEntry.exe_key) */
} ProcEntry;

/* An empty entry: note pidfd -1, so proc_entry_done() never closes fd 0. */
#define PROC_ENTRY_NULL ((ProcEntry){ .pidfd = -1 })

typedef struct ProcIdCache ProcIdCache;

typedef struct ProcTable {
        ProcEntry *entries;
        size_t n;
        size_t allocated;
        bool pidfd_supported; /* false once pidfd_open returned ENOSYS */

        /* Snapshot refreshes only: the cgroup2 mount's dir fd (the caller's;
         * <= 0 for none, so a zeroed table has none) lets cgroup paths be cached
         * by cgroup id, each path checked once against the directory's inode
         * number (the id). The cache is the table's (freed by proc_table_done). */
        int cgroup_fd;
        ProcIdCache *cgroup_cache;
        /* Exe paths by the snapshot's exe_key, each checked once against the
         * file's inode number and device (proc-id-cache.c). The table's too. */
        ProcIdCache *exe_cache;
        /* Processes the last snapshot refresh needed details for (new, exec'd, moved, young). */
        size_t n_detailed;
} ProcTable;



typedef enum ProcScanMode {
        PROC_SCAN_ALL,    /* every process (system mode) */
        PROC_SCAN_UID,    /* processes whose uid is `uid` (user mode) */
        PROC_SCAN_CGROUP, /* processes in `cgroup` (a v2 path like "/foo/bar") or below it */
} ProcScanMode;

typedef struct ProcScanFilter {
        ProcScanMode mode;
        uid_t uid;
        const char *cgroup;
        bool open_pidfds; /* false for fixture trees whose PIDs are not real */
} ProcScanFilter;

/* Parsed /proc/PID/stat (parsed from the LAST ')', since comm is attacker-controlled). */
typedef struct ProcStat {
        char comm[PROC_COMM_MAX];
        char state;
        pid_t ppid;
        unsigned flags;
        unsigned threads;
        uint64_t start_time;
        uint64_t rss_pages;
} ProcStat;

int proc_stat_parse(const char *buf, size_t len, ProcStat *ret);

/* Parsed /proc/PID/status: the fields stat lacks. Missing Rss* lines leave 0 (kernel threads). */
typedef struct ProcStatus {
        uid_t uid;
        uint64_t rss_anon, rss_file, rss_shmem, swap; /* bytes */
} ProcStatus;

int proc_status_parse(const char *buf, size_t len, ProcStatus *ret);

/* The "Pss:" line of /proc/PID/smaps_rollup, in bytes. -EBADMSG if absent or malformed. */
int proc_smaps_rollup_parse_pss(const char *buf, size_t len, uint64_t *ret);

/* /proc/PID/statm's resident and shared sizes, in pages. */
int proc_statm_parse(const char *buf, size_t len, uint64_t *ret_resident, uint64_t *ret_shared);

/*
 * From a cgroup v2 path, the innermost systemd unit and the desktop app id
 * it carries. Either output may be set to NULL when absent; returns 0.
 */
int proc_unit_from_cgroup(const char *cgroup, char **ret_unit, char **ret_app_id);

/*
 * Scan `procfd` into *ret (which is initialised here). Fills every field of
 * every process that passes the filter, except pss.
 */
int proc_table_scan_at(int procfd, const ProcScanFilter *filter, ProcTable *ret);

/*
 * Additions to the contract above (proc.c, proc-read.c):
 *
 * - Entries of a scanned or refreshed table are sorted by pid, ascending.
 * - proc_entry_done() closes pidfd if it is >= 0: an entry built by hand
 *   must set pidfd = -1, not leave it 0.
 * - Kernel threads are not read beyond stat, cgroup and oom_score_adj: their
 *   uid is 0, they have no memory, exe, cmdline or oom_score. They still get a
 *   pidfd or a pid_ino (and are never to be acted on: kthread is set).
 * - Running out of file descriptors (pidfds are kept open unless pid_ino
 *   stands in) fails the scan with -EMFILE/-ENFILE; the caller raises
 *   RLIMIT_NOFILE, the library does not.
 * - The per-process reads go through a directory fd of /proc/PID, which pins
 *   that process: if it exits mid-read the remaining reads fail (and the
 *   process is skipped) instead of reading a new process that reused the PID.
 */

/*
 * Bring a table from proc_table_scan_at() up to date, cheaply (the filter
 * should be the one it was scanned with):
 * - an entry stays if its process is still the same one: with a pidfd,
 *   pidfd_send_signal(0) succeeds; in any case pid and start_time are unchanged;
 * - for a kept entry only what changes is re-read: state, ppid, threads from
 *   stat, oom_score_adj and statm every time; status (memory, uid) and
 *   oom_score only when statm's sizes no longer match the kept memory figures
 *   or oom_score_adj moved;
 * - an entry is re-read in full (exe, cmdline, cgroup, unit, app id; the pidfd
 *   is kept) when the process exec'd, detected as a changed comm or a changed
 *   exe link, or when it is younger than PROC_REFRESH_SETTLE_SEC (launchers
 *   move a new process into its app scope and daemons drop privileges right
 *   after starting);
 * - new processes are read in full, gone ones are dropped (pidfds closed).
 * On failure (-EMFILE, an unreadable proc root) the table is left as it was.
 */
#define PROC_REFRESH_SETTLE_SEC 5
int proc_table_refresh_at(int procfd, const ProcScanFilter *filter, ProcTable *t);

/*
 * A snapshot: what stat, status and oom_score_adj say for every process at
 * once, from a source that reads them all in one go (the BPF task iterator
 * of proc-bpf.c). Sorted by pid; kernel threads included.
 */
typedef struct ProcSnapshotEntry {
        pid_t pid;
        ProcStat stat;          /* comm, state, ppid, flags, threads, start_time (rss_pages unset) */
        uid_t uid;
        uint32_t exec_id;
        uint64_t cgroup_id;
        uint64_t rss_anon, rss_file, rss_shmem, swap; /* bytes */
        uint64_t pgtables;      /* bytes */
        int oom_score_adj;
        bool has_mm;

        uint64_t pid_ino;       /* the struct pid's pidfs inode number (a pidfd's st_ino), never reused; 0 unknown */

        /* What a full snapshot adds (proc_bpf_snapshot(..., true)); unset otherwise. */
        uint64_t exe_key;       /* which file /proc/PID/exe names (same key, same path), 0 if unknown */
        uint64_t exe_ino;       /* that file's inode number and device */
        dev_t exe_dev;
        bool has_exe;           /* exe (exe_len bytes, no NUL; NULL/0 where readlink fails) is known:
                                   set by the refresh from its exe cache, and by any snapshot for
                                   processes without an mm (kernel threads, zombies: none) */
        bool has_cmdline;       /* cmdline (cmdline_len raw bytes, NUL-separated as in /proc) is known */
        bool cmdline_title;     /* setproctitle(3) wrote over it: the command line ends at the first NUL */
        const char *exe, *cmdline; /* point into the snapshot's buffer */
        uint16_t exe_len, cmdline_len;
} ProcSnapshotEntry;

typedef struct ProcSnapshot {
        ProcSnapshotEntry *entries;
        size_t n, allocated;
        uint64_t total_pages;   /* RAM + swap in pages: oom_score's scale */
        char *buf;              /* what the source read (malloc()ed); the entries' strings point there */
        size_t buf_size;
        char *buf2;             /* a full snapshot's second half (mmap()ed: munmap() it) */
        size_t buf2_size;
} ProcSnapshot;

void proc_snapshot_done(ProcSnapshot *s);

/*
 * The kernel's oom_score for a process (fs/proc/base.c proc_oom_score and
 * mm/oom_kill.c oom_badness of Linux 5.9 to 6.x): its RSS, swap and page
 * tables, adjusted by oom_score_adj, scaled to 0-1000 with 666 for none.
 * Only used to break ties in the ranking.
 */
int proc_oom_score_compute(const ProcSnapshotEntry *s, uint64_t total_pages, uint64_t page_size);

/*
 * proc_table_refresh_at(), but the cheap part comes from a snapshot instead
 * of per-process files: a kept entry (same pid and start time, no exec since:
 * same exec_id and comm, same cgroup id, older than PROC_REFRESH_SETTLE_SEC)
 * is updated from the snapshot alone, with no /proc read at all. New, exec'd
 * and moved processes are read from procfd for what the snapshot lacks: the
 * cgroup path, and exe and cmdline unless it is a full snapshot. With a full
 * snapshot and t->cgroup_fd, a new process whose cgroup id is cached is not
 * read from procfd at all, and its pidfd is checked against pid_ino (fstat)
 * instead of a re-read of stat. A process in procfd's listing but not in the
 * snapshot, or the other way round, is treated as exited or new. A cgroup
 * filter needs t->cgroup_fd (-EOPNOTSUPP otherwise): processes outside the
 * scope are told by their cgroup id's cached path, each cgroup's path read
 * once. On failure the table is left as it was.
 */
int proc_table_refresh_snapshot(int procfd, const ProcScanFilter *filter, const ProcSnapshot *snap,
                                ProcTable *t);

/* Binary search of a sorted table; NULL if pid is not in it. */
ProcEntry *proc_table_find(const ProcTable *t, pid_t pid);

/* Read smaps_rollup Pss for one entry (only done for the few top candidates). */
int proc_entry_read_pss(int procfd, ProcEntry *e);

/*
 * Is the entry still the same live process? With a pidfd: pidfd_send_signal(0)
 * says whether it is alive (a reused PID cannot fool it). With pid_ino: a
 * pidfd opened now must have that inode number. Without either: re-read
 * /proc/PID/stat and compare start_time. Returns 0 if it is, -ESRCH if it
 * exited or the PID now names another process.
 */
int proc_entry_verify(int procfd, const ProcEntry *e);

/*
 * A new pidfd (the caller's to close) for the entry's process: a dup of the
 * entry's own, or pidfd_open(pid) checked against pid_ino (exact) or, without
 * it, against start_time re-read through procfd after the open. -ESRCH if
 * the process is gone or the PID names another one (-ESTALE for the latter
 * when it is known), -ENOSYS without pidfd_open, -errno otherwise.
 */
int proc_entry_open_pidfd(int procfd, const ProcEntry *e);

void proc_entry_done(ProcEntry *e);
void proc_table_done(ProcTable *t);
