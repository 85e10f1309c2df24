/* SPDX-License-Identifier: MIT */
/*
 * Reading one process from a proc root into a ProcEntry (proc.c builds the
 * table from these; proc-parse.c parses what is read here).
 *
 * Speed: every process is read through an O_PATH fd of its /proc/PID
 * directory (one path lookup of the PID instead of one per file, about 1 µs
 * saved per file), each file with a single read(2) into a stack buffer (procfs
 * hands a whole record to one read that is large enough), no stdio, no
 * allocation but the strings kept in the entry. The directory fd also pins the
 * process: once it has exited every later read through it fails, so what is
 * read cannot mix two processes that shared a PID.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "proc-internal.h"
#include "proc.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int proc_pidfd_open(pid_t pid)
{
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);
        return fd < 0 ? -errno : fd;
}

int proc_pidfd_alive(int pidfd)
{
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) >= 0)
                return 0;
        /* EPERM: it exists, we may just not signal it. */
        return errno == EPERM ? 0 : -errno;
}

bool proc_errno_is_fatal(int r)
{
        return r == -EMFILE || r == -ENFILE || r == -ENOMEM;
}

/* Decimal PID into buf (at least 12 bytes). */
static void format_pid(char *buf, pid_t pid)
{
        char tmp[12];
        size_t n = 0;
        unsigned v = (unsigned)pid;

        do
                tmp[n++] = (char)('0' + v % 10);
        while ((v /= 10) > 0);
        for (size_t i = 0; i < n; i++)
                buf[i] = tmp[n - 1 - i];
        buf[n] = 0;
}

int proc_open_pid_dir(int procfd, pid_t pid)
{
        char name[12];
        int fd;

        format_pid(name, pid);
        fd = openat(procfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* One openat + read + close. Returns the length read; if it equals size - 1 the file may not have fit. */
ssize_t proc_read_small_at(int dfd, const char *name, char *buf, size_t size)
{
        _cleanup_close_ int fd = -1;
        ssize_t n;

        fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        do
                n = read(fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return n;
}

int proc_read_stat_at(int dfd, ProcStat *ret)
{
        char buf[2048];
        ssize_t n;

        n = proc_read_small_at(dfd, "stat", buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        if ((size_t)n >= sizeof(buf) - 1)
                return -EBADMSG;
        return proc_stat_parse(buf, (size_t)n, ret);
}

int proc_read_status_at(int dfd, ProcStatus *ret)
{
        _cleanup_free_ char *big = NULL;
        char buf[4096];
        size_t len;
        ssize_t n;
        int r;

        n = proc_read_small_at(dfd, "status", buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        if ((size_t)n < sizeof(buf) - 1)
                return proc_status_parse(buf, (size_t)n, ret);

        /* A long "Groups:" line pushed it past the stack buffer. */
        r = read_full_file_at(dfd, "status", 1024 * 1024, &big, &len);
        if (r < 0)
                return r;
        return proc_status_parse(big, len, ret);
}

int proc_read_int_at(int dfd, const char *name, int min, int max, int *ret)
{
        char buf[32];
        const char *p = buf;
        ssize_t n;
        uint64_t v;
        int64_t x;

        n = proc_read_small_at(dfd, name, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        if (n > 0 && buf[n - 1] == '\n')
                n--;
        if (n > 0 && *p == '-') {
                p++;
                n--;
        }
        if (safe_atou64_n(p, (size_t)n, &v) < 0 || v > (uint64_t)INT_MAX)
                return -EBADMSG;
        x = p > buf ? -(int64_t)v : (int64_t)v;
        if (x < min || x > max)
                return -EBADMSG;
        *ret = (int)x;
        return 0;
}

/* The path of the "0::" line of /proc/PID/cgroup, as a view into buf. -ENOENT if there is none. */
static int cgroup_v2_line(const char *buf, size_t len, const char **ret, size_t *ret_len)
{
        const char *p = buf, *end = buf + len;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));

                if (!eol)
                        eol = end;
                if (eol - p >= 3 && memcmp(p, "0::", 3) == 0) {
                        const char *path = p + 3;
                        if (path == eol || *path != '/' || memchr(path, 0, (size_t)(eol - path)))
                                return -EBADMSG;
                        *ret = path;
                        *ret_len = (size_t)(eol - path);
                        return 0;
                }
                p = eol + 1;
        }
        return -ENOENT;
}

/* Is path equal to prefix or below it? "/a/b" is below "/a" but "/a/bc" is not below "/a/b". */
bool proc_cgroup_is_below(const char *path, size_t len, const char *prefix)
{
        size_t k = strlen(prefix);

        while (k > 0 && prefix[k - 1] == '/')
                k--;
        if (k == 0)
                return true;
        return len >= k && memcmp(path, prefix, k) == 0 && (len == k || path[k] == '/');
}

/* 1 and *ret set (NULL without a v2 line) if the process passes a cgroup filter, 0 if not, -errno. */
int proc_read_cgroup_at(int dfd, const ProcScanFilter *filter, char **ret)
{
        _cleanup_free_ char *big = NULL;
        char buf[4096];
        const char *data = buf, *path;
        size_t len, plen;
        ssize_t n;
        int r;

        n = proc_read_small_at(dfd, "cgroup", buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        len = (size_t)n;
        if (len >= sizeof(buf) - 1) {
                r = read_full_file_at(dfd, "cgroup", 256 * 1024, &big, &len);
                if (r < 0)
                        return r;
                data = big;
        }

        r = cgroup_v2_line(data, len, &path, &plen);
        if (r == -ENOENT) {
                if (filter->mode == PROC_SCAN_CGROUP)
                        return 0;
                *ret = NULL;
                return 1;
        }
        if (r < 0)
                return r;
        if (filter->mode == PROC_SCAN_CGROUP && !proc_cgroup_is_below(path, plen, filter->cgroup))
                return 0;
        *ret = strndup(path, plen);
        if (!*ret)
                abort();
        return 1;
}

char *proc_read_exe_at(int dfd)
{
        char buf[PATH_MAX + 1];
        ssize_t n;

        /* ENOENT for kernel threads and zombies, EACCES for other users' processes. */
        n = readlinkat(dfd, "exe", buf, sizeof(buf));
        if (n <= 0 || (size_t)n >= sizeof(buf))
                return NULL;
        buf[n] = 0;
        return xstrdup(buf);
}

char *proc_cmdline_from_raw(char *buf, size_t len)
{
        char *s;

        for (size_t i = 0; i < len; i++)
                if (buf[i] == 0)
                        buf[i] = ' ';
        while (len > 0 && buf[len - 1] == ' ')
                len--;
        if (len == 0)
                return NULL;
        s = strndup(buf, len);
        if (!s)
                abort();
        return s;
}

static int read_cmdline_at(int dfd, char **ret)
{
        char buf[PROC_CMDLINE_MAX + 1];
        ssize_t n;

        n = proc_read_small_at(dfd, "cmdline", buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        /* at most PROC_CMDLINE_MAX: longer ones are cut */
        *ret = proc_cmdline_from_raw(buf, (size_t)n);
        return 0;
}

void proc_entry_set_stat(ProcEntry *e, const ProcStat *st)
{
        memcpy(e->comm, st->comm, sizeof(e->comm));
        e->ppid = st->ppid;
        e->state = st->state;
        e->kthread = st->flags & PROC_PF_KTHREAD;
        e->threads = st->threads;
        e->start_time = st->start_time;
}

void proc_entry_set_status(ProcEntry *e, const ProcStatus *s)
{
        e->uid = s->uid;
        e->rss_anon = s->rss_anon;
        e->rss_file = s->rss_file;
        e->rss_shmem = s->rss_shmem;
        e->swap = s->swap;
}

static void set_snapshot_exe(ProcEntry *e, const ProcSnapshotEntry *s)
{
        if (s->exe && s->exe_len > 0) {
                e->exe = strndup(s->exe, s->exe_len);
                if (!e->exe)
                        abort();
        }
}

static void set_snapshot_cmdline(ProcEntry *e, const ProcSnapshotEntry *s)
{
        char buf[PROC_CMDLINE_MAX + 1];
        size_t len = s->cmdline ? MIN((size_t)s->cmdline_len, (size_t)PROC_CMDLINE_MAX) : 0;

        if (len > 0)
                memcpy(buf, s->cmdline, len);
        if (s->cmdline_title) /* the title is one string: cut at its NUL, as procfs does */
                len = strnlen(buf, len);
        e->cmdline = proc_cmdline_from_raw(buf, len);
}

/* Does the exe link (just read: exe) still name the file the snapshot saw? */
static bool exe_is_snapshots(int dfd, const ProcSnapshotEntry *s, const char *exe)
{
        struct stat st;

        if (s->exe_key == 0 || !exe)
                return false;
        return fstatat(dfd, "exe", &st, 0) == 0 && (uint64_t)st.st_ino == s->exe_ino && st.st_dev == s->exe_dev;
}

/*
 * The exe link and the command line, which kernel threads do not have: from
 * the snapshot's entry where it has them (s may be NULL), else from dfd. A
 * full snapshot's command line goes with its exe only: if the exe link read
 * here names another file, the process exec'd since the snapshot and its
 * command line is read here too. *ret_snapshot: whether the strings are the
 * snapshot's (its comm goes with them).
 */
static int read_exe_cmdline(int dfd, const ProcSnapshotEntry *s, ProcEntry *e, bool *ret_snapshot)
{
        *ret_snapshot = false;
        if (e->kthread)
                return 0;
        if (s && s->has_exe)
                set_snapshot_exe(e, s);
        else
                e->exe = proc_read_exe_at(dfd);
        if (s && s->has_cmdline && (s->has_exe || exe_is_snapshots(dfd, s, e->exe))) {
                set_snapshot_cmdline(e, s);
                *ret_snapshot = true;
                return 0;
        }
        return read_cmdline_at(dfd, &e->cmdline);
}

/* exe and cmdline from a full snapshot's entry (kernel threads have none). */
void proc_entry_set_snapshot_strings(ProcEntry *e, const ProcSnapshotEntry *s)
{
        if (e->kthread)
                return;
        set_snapshot_exe(e, s);
        set_snapshot_cmdline(e, s);
}

/*
 * What a snapshot lacks: the cgroup, plus exe and cmdline unless it is a
 * full one, and stat to check that the PID still names the process the
 * snapshot saw (the caller takes the figures from the snapshot). A uid
 * filter is the caller's; a cgroup filter applies to the cgroup read here
 * (0: not in the scope). See proc_table_refresh_snapshot().
 */
static int read_details(int dfd, pid_t pid, const ProcScanFilter *filter, const ProcSnapshotEntry *known,
                        ProcEntry *ret)
{
        _cleanup_(proc_entry_done) ProcEntry e = { .pid = pid, .pidfd = -1 };
        bool from_snapshot;
        ProcStat st;
        int r;

        r = proc_read_stat_at(dfd, &st);
        if (r < 0)
                return r;
        if (st.start_time != known->stat.start_time)
                return -ESRCH; /* the PID was reused since the snapshot */
        proc_entry_set_stat(&e, &st);
        r = proc_read_cgroup_at(dfd, filter, &e.cgroup);
        if (r <= 0)
                return r;
        r = read_exe_cmdline(dfd, known, &e, &from_snapshot);
        if (r < 0)
                return r;
        if (from_snapshot) {
                proc_entry_set_stat(&e, &known->stat); /* the strings are the snapshot's process's */
                if (!known->has_exe)
                        e.exe_key = known->exe_key; /* the exe read here is its file's: it may be cached */
        }
        (void)proc_unit_from_cgroup(e.cgroup, &e.unit, &e.app_id);
        *ret = e;
        e = (ProcEntry){ .pidfd = -1 };
        return 1;
}

int proc_read_full(int dfd, pid_t pid, const ProcScanFilter *filter, const ProcSnapshotEntry *known,
                   ProcEntry *ret)
{
        _cleanup_(proc_entry_done) ProcEntry e = { .pid = pid, .pidfd = -1 };
        ProcStatus status = {};
        ProcStat st;
        int r;

        if (known)
                return read_details(dfd, pid, filter, known, ret);

        if (filter->mode == PROC_SCAN_UID) {
                struct stat sb;

                /* The directory owner is the euid, or root for non-dumpable
                 * processes: anything else cannot be the uid's process. */
                if (fstat(dfd, &sb) < 0)
                        return -errno;
                if (sb.st_uid != filter->uid && sb.st_uid != 0)
                        return 0;
        }
        if (filter->mode == PROC_SCAN_CGROUP) {
                r = proc_read_cgroup_at(dfd, filter, &e.cgroup);
                if (r <= 0)
                        return r;
        }

        /* A uid filter needs status first: most processes it rejects are
         * never read further. Otherwise stat first: kernel threads need no status. */
        if (filter->mode == PROC_SCAN_UID) {
                r = proc_read_status_at(dfd, &status);
                if (r < 0)
                        return r;
                if (status.uid != filter->uid)
                        return 0;
        }

        r = proc_read_stat_at(dfd, &st);
        if (r < 0)
                return r;
        proc_entry_set_stat(&e, &st);

        if (e.kthread)
                e.uid = 0; /* kernel threads run as root and have no mm */
        else {
                if (filter->mode != PROC_SCAN_UID) {
                        r = proc_read_status_at(dfd, &status);
                        if (r < 0)
                                return r;
                }
                proc_entry_set_status(&e, &status);
        }

        if (filter->mode != PROC_SCAN_CGROUP) {
                r = proc_read_cgroup_at(dfd, filter, &e.cgroup);
                if (r < 0)
                        return r;
        }
        r = read_exe_cmdline(dfd, NULL, &e, &(bool){ false });
        if (r < 0)
                return r;
        if (!e.kthread) {
                r = proc_read_int_at(dfd, "oom_score", 0, INT_MAX, &e.oom_score);
                if (r < 0)
                        return r;
        }
        /* Last, so that an exit during the reads above shows up here. */
        r = proc_read_int_at(dfd, "oom_score_adj", -1000, 1000, &e.oom_score_adj);
        if (r < 0)
                return r;

        (void)proc_unit_from_cgroup(e.cgroup, &e.unit, &e.app_id);

        *ret = e;
        e = (ProcEntry){ .pidfd = -1 };
        return 1;
}

int proc_attach_pidfd(int dfd, ProcTable *t, ProcEntry *e)
{
        static bool logged_enosys = false;
        _cleanup_close_ int fd = -1;
        ProcStat again;
        int r;

        if (!t->pidfd_supported)
                return 1;

        fd = proc_pidfd_open(e->pid);
        if (fd == -ENOSYS) {
                t->pidfd_supported = false;
                if (!logged_enosys) {
                        log_notice("pidfd_open unavailable, falling back to start-time verification");
                        logged_enosys = true;
                }
                return 1;
        }
        if (fd == -ESRCH || proc_errno_is_fatal(fd))
                return fd;
        if (fd < 0) {
                log_debug_errno(fd, "pidfd_open(%d) failed, continuing without a pidfd: %m", (int)e->pid);
                return 1;
        }

        /* The PID may have been reused between the reads and pidfd_open():
         * re-read stat and compare start times. (Through the pinned dir fd an
         * exited process fails the read outright, which is just as good.) */
        r = proc_read_stat_at(dfd, &again);
        if (r < 0)
                return r;
        if (again.start_time != e->start_time)
                return -ESRCH;
        proc_entry_set_stat(e, &again);
        e->pidfd = TAKE_FD(fd);
        return 1;
}

int proc_skip(pid_t pid, int r)
{
        if (proc_errno_is_fatal(r))
                return r;
        if (r == -ENOENT || r == -ESRCH)
                log_debug("Process %d vanished while being read, ignoring", (int)pid);
        else
                log_debug_errno(r, "Failed to read process %d, ignoring: %m", (int)pid);
        return 0;
}

int proc_read_new(int procfd, pid_t pid, const ProcScanFilter *filter, const ProcSnapshotEntry *known,
                  ProcTable *t, ProcEntry *ret)
{
        _cleanup_(proc_entry_done) ProcEntry e = { .pidfd = -1 };
        _cleanup_close_ int dfd = -1;
        int r;

        dfd = proc_open_pid_dir(procfd, pid);
        if (dfd < 0)
                return proc_skip(pid, dfd);
        r = proc_read_full(dfd, pid, filter, known, &e);
        if (r == 0)
                return 0; /* filtered out */
        if (r < 0)
                return proc_skip(pid, r);
        /* With the snapshot's pid_ino the entry needs no pidfd (see proc.h). */
        if (filter->open_pidfds && !(known && known->pid_ino != 0)) {
                r = proc_attach_pidfd(dfd, t, &e);
                if (r < 0)
                        return proc_skip(pid, r);
        }
        *ret = e;
        e = (ProcEntry){ .pidfd = -1 };
        return 1;
}
