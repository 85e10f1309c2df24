/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "time-util.h"
#include "fileio.h"
#include "freezer.h"
#include "proc.h"
#include "log.h"
#include "parse-util.h"

#define CGROUP_DEPTH_MAX 32
#define CGROUP_PIDS_MAX 65536
#define ANCESTRY_MAX 64
#define THREADS_MAX 4096
#define SIGSTOP_BIT (UINT64_C(1) << (SIGSTOP - 1))

/* A listed process, made ready to be signalled: a pidfd checked against start_time. */
typedef struct Target {
        pid_t pid;
        uint64_t start_time;
        char state;
        int pidfd;
        bool own_fd;
} Target;

typedef struct Targets {
        Target *t;
        size_t n;
} Targets;

static void targets_done(Targets *ts)
{
        for (size_t i = 0; i < ts->n; i++)
                if (ts->t[i].own_fd)
                        safe_close(ts->t[i].pidfd);
        free(ts->t);
}

static int pidfd_signal(int pidfd, int sig)
{
        return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

/* State, ppid and start time from /proc/PID/stat text (parsed from the last ')'). */
static int parse_stat(const char *buf, size_t len, char *ret_state, pid_t *ret_ppid, uint64_t *ret_start_time)
{
        ProcStat st;
        int r = proc_stat_parse(buf, len, &st);

        if (r < 0)
                return r;
        if (ret_state)
                *ret_state = st.state;
        if (ret_ppid)
                *ret_ppid = st.ppid;
        if (ret_start_time)
                *ret_start_time = st.start_time;
        return 0;
}

int freezer_parse_pending(const char *buf, size_t len, uint64_t *ret_mask)
{
        const char *end = buf + len;
        uint64_t mask = 0;
        bool found = false;

        for (const char *l = buf; l < end;) {
                const char *nl = memchr(l, '\n', (size_t)(end - l)), *le = nl ? nl : end;

                if ((size_t)(le - l) > 7 && (memcmp(l, "SigPnd:", 7) == 0 || memcmp(l, "ShdPnd:", 7) == 0)) {
                        const char *s = l + 7;
                        uint64_t v = 0;
                        unsigned digits = 0;

                        while (s < le && (*s == ' ' || *s == '\t'))
                                s++;
                        for (; s < le; s++, digits++) {
                                int d = *s >= '0' && *s <= '9'   ? *s - '0'
                                        : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
                                                                 : -1;
                                if (d < 0 || digits >= 16)
                                        return -EBADMSG;
                                v = v << 4 | (uint64_t)d;
                        }
                        if (digits == 0)
                                return -EBADMSG;
                        mask |= v;
                        found = true;
                }
                l = le + 1;
        }
        if (!found)
                return -EBADMSG;
        *ret_mask = mask;
        return 0;
}

static int proc_stat_at(int procfd, pid_t pid, char *ret_state, pid_t *ret_ppid, uint64_t *ret_start_time)
{
        char path[32], buf[2048];
        ssize_t n;

        snprintf(path, sizeof(path), "%d/stat", (int)pid);
        n = read_file_at(procfd, path, buf, sizeof(buf));
        if (n == -ENOENT)
                return -ESRCH;
        if (n < 0)
                return (int)n;
        return parse_stat(buf, (size_t)n, ret_state, ret_ppid, ret_start_time);
}

/*
 * pidfd_open(), then make sure the PID still names the process that started
 * at start_time and, if pid_ino is known (proc.h), that the pidfd's inode
 * number is pid_ino: exact where start times (clock ticks) could collide.
 */
static int pidfd_open_verified(int procfd, pid_t pid, uint64_t start_time, uint64_t pid_ino, char *ret_state)
{
        _cleanup_close_ int fd = -1;
        struct stat sb;
        uint64_t st;
        char state;
        int r;

        fd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return errno == EINVAL ? -ESRCH : -errno; /* EINVAL: a thread, not a process */
        if (pid_ino != 0 && (fstat(fd, &sb) < 0 || (uint64_t)sb.st_ino != pid_ino))
                return -ESRCH;
        r = proc_stat_at(procfd, pid, &state, NULL, &st);
        if (r < 0)
                return r;
        if (st != start_time)
                return -ESRCH; /* the PID was reused: someone else */
        if (ret_state)
                *ret_state = state;
        return TAKE_FD(fd);
}

static int target_prepare(Freezer *f, const ProcEntry *p, Target *ret)
{
        uint64_t st;
        char state;
        int r;

        if (!p || p->pid <= 1 || p->pid == getpid())
                return -EINVAL;
        if (p->pidfd < 0) {
                r = pidfd_open_verified(f->procfd, p->pid, p->start_time, p->pid_ino, &state);
                if (r < 0)
                        return r;
                *ret = (Target){p->pid, p->start_time, state, r, true};
                return 0;
        }
        /* The caller's pidfd names the process; the PID must still name it too. */
        r = proc_stat_at(f->procfd, p->pid, &state, NULL, &st);
        if (r < 0)
                return r;
        if (st != p->start_time)
                return -ESRCH;
        *ret = (Target){p->pid, p->start_time, state, p->pidfd, false};
        return 0;
}

static int cgroup_open(const char *path)
{
        _cleanup_close_ int fd = -1;
        struct statfs sfs;

        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstatfs(fd, &sfs) < 0)
                return -errno;
        if (sfs.f_type != CGROUP2_SUPER_MAGIC)
                return -EMEDIUMTYPE;
        return TAKE_FD(fd);
}

typedef struct PidList {
        pid_t *p;
        size_t n, allocated;
} PidList;

static void pid_list_done(PidList *l)
{
        free(l->p);
}

static int pid_cmp(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
        return x < y ? -1 : x > y;
}

static bool pid_in(const pid_t *sorted, size_t n, pid_t pid)
{
        return bsearch(&pid, sorted, n, sizeof(pid_t), pid_cmp);
}

/* Every PID in cgroup.procs of the cgroup and of all its descendants. */
static int cgroup_collect(int cgfd, unsigned depth, PidList *l)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r, fd;

        if (depth > CGROUP_DEPTH_MAX)
                return -ELOOP;
        r = read_full_file_at(cgfd, "cgroup.procs", 1024 * 1024, &buf, NULL);
        if (r < 0)
                return r;
        for (char *s = buf, *nl; *s; s = nl + 1) {
                uint64_t pid;

                nl = strchrnul(s, '\n');
                if (safe_atou64_n(s, (size_t)(nl - s), &pid) < 0 || pid > REGISTRY_PID_MAX)
                        return -EBADMSG;
                if (l->n >= CGROUP_PIDS_MAX)
                        return -E2BIG;
                if (l->n >= l->allocated) {
                        l->allocated = MAX(l->allocated * 2, (size_t)64);
                        l->p = reallocarray(l->p, l->allocated, sizeof(pid_t));
                        if (!l->p)
                                abort();
                }
                l->p[l->n++] = (pid_t)pid;
                if (!*nl)
                        break;
        }

        fd = openat(cgfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                _cleanup_close_ int sub = -1;

                if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                sub = openat(cgfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                r = sub < 0 ? -errno : cgroup_collect(sub, depth + 1, l);
                if (r == -ENOENT || r == -ENODEV)
                        continue; /* removed meanwhile */
                if (r < 0)
                        return r;
        }
        return errno > 0 ? -errno : 0;
}

/*
 * May this cgroup be frozen for these targets? Everything in its subtree must
 * be listed or descend from a listed process, and every target must be in it.
 * On success, returns an fd of its cgroup.freeze open for writing.
 */
static int cgroup_prepare(Freezer *f, const char *cgroup, const Targets *ts)
{
        _cleanup_(pid_list_done) PidList l = {};
        _cleanup_free_ pid_t *listed = NULL;
        _cleanup_close_ int cgfd = -1, fd = -1;
        char buf[16];
        ssize_t n;
        int r;

        cgfd = cgroup_open(cgroup);
        if (cgfd < 0)
                return cgfd;
        n = read_file_at(cgfd, "cgroup.freeze", buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        if (buf[0] == '1')
                return -EALREADY;
        fd = openat(cgfd, "cgroup.freeze", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;

        r = cgroup_collect(cgfd, 0, &l);
        if (r < 0)
                return r;
        qsort(l.p, l.n, sizeof(pid_t), pid_cmp);
        listed = xmalloc0(ts->n * sizeof(pid_t));
        for (size_t i = 0; i < ts->n; i++)
                listed[i] = ts->t[i].pid;
        qsort(listed, ts->n, sizeof(pid_t), pid_cmp);

        for (size_t i = 0; i < ts->n; i++)
                if (!pid_in(l.p, l.n, listed[i]))
                        return log_debug_errno(-ENXIO, "freezer: pid %d is not in %s", (int)listed[i],
                                               cgroup);
        for (size_t i = 0; i < l.n; i++) {
                pid_t cur = l.p[i], ppid = 0;
                bool ok = false;

                for (unsigned k = 0; k < ANCESTRY_MAX; k++) {
                        if (pid_in(listed, ts->n, cur)) {
                                ok = true;
                                break;
                        }
                        r = proc_stat_at(f->procfd, cur, NULL, &ppid, NULL);
                        if (r == -ESRCH && k == 0)
                                ok = true; /* exited meanwhile */
                        if (r < 0 || ppid <= 1)
                                break;
                        cur = ppid;
                }
                if (!ok)
                        return log_debug_errno(-EPERM, "freezer: %s also holds pid %d, not part of the app",
                                               cgroup, (int)l.p[i]);
        }
        return TAKE_FD(fd);
}

static int write_fd(int fd, const char *s)
{
        ssize_t k = write(fd, s, strlen(s));
        return k < 0 ? -errno : (size_t)k == strlen(s) ? 0 : -EIO;
}

int freezer_cgroup_frozen(const char *cgroup)
{
        _cleanup_close_ int cgfd = cgroup_open(cgroup);
        char buf[512];
        ssize_t n;

        if (cgfd < 0)
                return cgfd;
        n = read_file_at(cgfd, "cgroup.events", buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        for (char *l = buf; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
                if (strncmp(l, "frozen ", 7) == 0)
                        return l[7] == '1';
        return -EBADMSG;
}

/* A stop we may undo: SIGSTOP still pending, or a thread already stopped ('T'). */
static bool stop_in_progress(int procfd, pid_t pid)
{
        _cleanup_closedir_ DIR *d = NULL;
        char path[32], buf[16384];
        struct dirent *de;
        uint64_t mask;
        ssize_t n;
        unsigned k = 0;
        int fd;

        snprintf(path, sizeof(path), "%d/status", (int)pid);
        n = read_file_at(procfd, path, buf, sizeof(buf));
        if (n >= 0 && freezer_parse_pending(buf, (size_t)n, &mask) >= 0 && (mask & SIGSTOP_BIT))
                return true;
        snprintf(path, sizeof(path), "%d/task", (int)pid);
        fd = open_dir_at(procfd, path);
        if (fd < 0)
                return false;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return false;
        }
        while ((de = readdir(d)) && k++ < THREADS_MAX) {
                char state;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%.16s/stat", de->d_name);
                n = read_file_at(dirfd(d), path, buf, sizeof(buf));
                if (n >= 0 && parse_stat(buf, (size_t)n, &state, NULL, NULL) >= 0 && state == 'T')
                        return true;
        }
        return false;
}

static int thaw_proc(Freezer *f, const char *key, const RegistryProc *p)
{
        _cleanup_close_ int fd = -1;
        char state;
        int r;

        fd = pidfd_open_verified(f->procfd, p->pid, p->start_time, 0, &state);
        if (fd == -ESRCH)
                return log_debug_errno(0, "freezer: %s: pid %d is gone or someone else now, skipping", key,
                                       (int)p->pid);
        if (fd < 0)
                return fd;
        if (state != 'T' && !stop_in_progress(f->procfd, p->pid))
                return log_debug_errno(0, "freezer: %s: pid %d was continued meanwhile, leaving it alone",
                                       key, (int)p->pid);
        r = pidfd_signal(fd, SIGCONT);
        return r == -ESRCH ? 0 : r;
}

static int thaw_cgroup(const char *key, const char *cgroup)
{
        _cleanup_close_ int cgfd = cgroup_open(cgroup), fd = -1;
        int r;

        if (cgfd == -ENOENT || cgfd == -ENOTDIR || cgfd == -EMEDIUMTYPE)
                return log_debug_errno(0, "freezer: %s: cgroup %s is gone (or no cgroup), dropping", key,
                                       cgroup);
        if (cgfd < 0)
                return cgfd;
        fd = openat(cgfd, "cgroup.freeze", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT)
                return log_debug_errno(0, "freezer: %s: %s has no cgroup.freeze, dropping", key, cgroup);
        if (fd < 0)
                return -errno;
        r = write_fd(fd, "0");
        return r == -ENODEV || r == -ENOENT ? 0 : r;
}

static int thaw_entry(Freezer *f, const RegistryEntry *e)
{
        int ret = 0;

        if (e->method == FREEZE_METHOD_CGROUP)
                return thaw_cgroup(e->key, e->cgroup);
        for (size_t i = 0; i < e->n_procs; i++) {
                int r = thaw_proc(f, e->key, &e->procs[i]);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

/* Forget `key` after a failed freeze; the registry file goes back to what it was. */
static int forget(Freezer *f, const char *key, int error)
{
        registry_remove(&f->registry, key);
        (void)registry_save(&f->registry, f->registry_path);
        return error;
}

static void entry_set_procs(RegistryEntry *e, const Targets *ts)
{
        free(e->procs);
        e->procs = xmalloc0(MAX(ts->n, (size_t)1) * sizeof(RegistryProc));
        for (size_t i = 0; i < ts->n; i++)
                e->procs[i] = (RegistryProc){ts->t[i].pid, ts->t[i].start_time};
        e->n_procs = ts->n;
}

/* Leave out processes stopped by someone else: a thaw must not continue them. */
static void targets_drop_stopped(Targets *ts)
{
        size_t j = 0;

        for (size_t i = 0; i < ts->n; i++) {
                if (ts->t[i].state != 'T') {
                        ts->t[j++] = ts->t[i];
                        continue;
                }
                log_debug("freezer: pid %d is stopped already, leaving it out", (int)ts->t[i].pid);
                if (ts->t[i].own_fd)
                        safe_close(ts->t[i].pidfd);
        }
        ts->n = j;
}

static int stop_targets(Targets *ts)
{
        size_t stopped = 0;

        for (size_t i = 0; i < ts->n; i++) {
                int r = pidfd_signal(ts->t[i].pidfd, SIGSTOP);
                if (r == -ESRCH) {
                        ts->t[i].state = 'X'; /* exited */
                        continue;
                }
                if (r < 0) {
                        for (size_t j = 0; j < i; j++)
                                if (ts->t[j].state != 'X')
                                        (void)pidfd_signal(ts->t[j].pidfd, SIGCONT);
                        return r;
                }
                stopped++;
        }
        return stopped > 0 ? 0 : -ESRCH;
}

int freezer_freeze(Freezer *f, const char *key, const char *name, uid_t uid, const char *cgroup,
                   const ProcEntry *const procs[], size_t n, const char *reason)
{
        _cleanup_(targets_done) Targets ts = {};
        _cleanup_(registry_entry_done) RegistryEntry e = {};
        _cleanup_close_ int freeze_fd = -1;
        RegistryEntry *reg;
        int r;

        if (!key || !*key || n == 0 || (cgroup && cgroup[0] != '/'))
                return -EINVAL;
        if (strlen(key) > REGISTRY_STRING_MAX || (name && strlen(name) > REGISTRY_STRING_MAX) ||
            (reason && strlen(reason) > REGISTRY_STRING_MAX) ||
            (cgroup && strlen(cgroup) > REGISTRY_STRING_MAX))
                return -EINVAL;
        if (n > REGISTRY_MAX_PROCS || f->registry.n >= REGISTRY_MAX_ENTRIES)
                return -E2BIG;
        if (registry_find(&f->registry, key))
                return -EEXIST;

        ts.t = xmalloc0(n * sizeof(Target));
        for (size_t i = 0; i < n; i++) {
                r = target_prepare(f, procs[i], &ts.t[ts.n]);
                if (r == -ESRCH) {
                        log_debug("freezer: %s: pid %d is gone, skipping", key,
                                  procs[i] ? (int)procs[i]->pid : 0);
                        continue;
                }
                if (r < 0)
                        return r;
                ts.n++; /* owns the pidfd now */
                if (freezer_key_for_pid(f, procs[i]->pid))
                        return log_debug_errno(-EBUSY, "freezer: %s: pid %d is frozen as %s already", key,
                                               (int)procs[i]->pid, freezer_key_for_pid(f, procs[i]->pid));
        }
        if (ts.n == 0)
                return -ESRCH;

        e = (RegistryEntry){.key = xstrdup(key),
                            .name = xstrdup(name),
                            .uid = uid,
                            .method = FREEZE_METHOD_SIGSTOP,
                            .reason = xstrdup(reason),
                            .frozen_since = clock_usec(CLOCK_REALTIME) / USEC_PER_SEC,
                            .frozen_since_mono = clock_usec(CLOCK_MONOTONIC)};
        if (cgroup) {
                freeze_fd = cgroup_prepare(f, cgroup, &ts);
                if (freeze_fd == -EALREADY)
                        return -EALREADY;
                if (freeze_fd >= 0) {
                        e.method = FREEZE_METHOD_CGROUP;
                        e.cgroup = xstrdup(cgroup);
                } else
                        log_debug_errno(freeze_fd, "freezer: %s: not freezing cgroup %s, using SIGSTOP: %m",
                                        key, cgroup);
        }
        if (e.method == FREEZE_METHOD_SIGSTOP) {
                targets_drop_stopped(&ts);
                if (ts.n == 0)
                        return -EALREADY;
        }
        entry_set_procs(&e, &ts);

        /* The registry entry first: if it cannot be written, nothing is frozen. */
        r = registry_add(&f->registry, &e);
        if (r < 0)
                return r;
        r = registry_save(&f->registry, f->registry_path);
        if (r < 0) {
                registry_remove(&f->registry, key);
                return r;
        }
        reg = registry_find(&f->registry, key);

        if (reg->method == FREEZE_METHOD_CGROUP) {
                r = write_fd(freeze_fd, "1");
                if (r == -ENODEV || r == -ENOENT)
                        return forget(f, key, -ESRCH); /* removed: its processes are gone */
                if (r >= 0) {
                        if (freezer_cgroup_frozen(cgroup) <= 0)
                                log_debug("freezer: %s: %s is freezing (asynchronously)", key, cgroup);
                        return FREEZE_METHOD_CGROUP;
                }
                log_debug_errno(r, "freezer: %s: cannot write %s/cgroup.freeze, using SIGSTOP: %m", key,
                                cgroup);
                reg->method = FREEZE_METHOD_SIGSTOP;
                free(reg->cgroup);
                reg->cgroup = NULL;
                targets_drop_stopped(&ts);
                entry_set_procs(reg, &ts);
                if (ts.n == 0)
                        return forget(f, key, -EALREADY);
                r = registry_save(&f->registry, f->registry_path);
                if (r < 0)
                        return forget(f, key, r);
        }

        r = stop_targets(&ts);
        if (r < 0)
                return forget(f, key, r);
        return FREEZE_METHOD_SIGSTOP;
}

int freezer_thaw(Freezer *f, const char *key)
{
        RegistryEntry *e = registry_find(&f->registry, key);
        int r;

        if (!e)
                return -ENOENT;
        r = thaw_entry(f, e);
        if (r < 0)
                return log_debug_errno(r, "freezer: cannot thaw %s, keeping it: %m", key);
        registry_remove(&f->registry, key);
        return registry_save(&f->registry, f->registry_path);
}

int freezer_thaw_all(Freezer *f)
{
        int n = 0, r;

        for (size_t i = f->registry.n; i > 0; i--) {
                RegistryEntry *e = &f->registry.entries[i - 1];

                r = thaw_entry(f, e);
                if (r < 0) {
                        log_debug_errno(r, "freezer: cannot thaw %s, keeping it: %m", e->key);
                        continue;
                }
                registry_remove(&f->registry, e->key);
                n++;
        }
        if (n > 0 || f->load_skipped > 0) {
                r = registry_save(&f->registry, f->registry_path);
                if (r < 0)
                        return r;
                f->load_skipped = 0;
        }
        return n;
}

int freezer_new(const char *registry_path, Freezer **ret)
{
        _cleanup_(freezer_freep) Freezer *f = NULL;
        int r;

        f = xmalloc0(sizeof(Freezer));
        f->registry_path = xstrdup(registry_path);
        f->procfd = open_dir_at(AT_FDCWD, "/proc");
        if (f->procfd < 0)
                return f->procfd;

        r = registry_load(registry_path, &f->registry, &f->load_skipped);
        if (r == -EBADMSG || r == -EFBIG) {
                _cleanup_free_ char *aside = NULL;

                if (asprintf(&aside, "%s.corrupt", registry_path) < 0)
                        abort();
                if (rename(registry_path, aside) < 0)
                        log_debug_errno(-errno, "freezer: cannot move %s aside, ignoring: %m",
                                        registry_path);
                f->load_error = r;
        } else if (r < 0)
                return r;
        *ret = TAKE_PTR(f);
        return 0;
}

Freezer *freezer_free(Freezer *f)
{
        if (!f)
                return NULL;
        registry_done(&f->registry);
        safe_close(f->procfd);
        free(f->registry_path);
        free(f);
        return NULL;
}

int freezer_load_and_thaw_all(const char *registry_path)
{
        _cleanup_(freezer_freep) Freezer *f = NULL;
        int r;

        r = freezer_new(registry_path, &f);
        if (r < 0)
                return r;
        r = freezer_thaw_all(f);
        return f->load_error < 0 ? f->load_error : r;
}

size_t freezer_n_frozen(const Freezer *f)
{
        return f->registry.n;
}

const RegistryEntry *freezer_get(Freezer *f, const char *key)
{
        return registry_find(&f->registry, key);
}

const char *freezer_key_for_pid(Freezer *f, pid_t pid)
{
        for (size_t i = 0; i < f->registry.n; i++)
                for (size_t j = 0; j < f->registry.entries[i].n_procs; j++)
                        if (f->registry.entries[i].procs[j].pid == pid)
                                return f->registry.entries[i].key;
        return NULL;
}

const char *freezer_oldest(Freezer *f)
{
        const RegistryEntry *best = NULL;

        for (size_t i = 0; i < f->registry.n; i++)
                if (!best || f->registry.entries[i].frozen_since_mono < best->frozen_since_mono)
                        best = &f->registry.entries[i];
        return best ? best->key : NULL;
}

int freezer_expired(Freezer *f, uint64_t now_mono, uint64_t max_usec, char ***ret_keys)
{
        char **keys = xmalloc0((f->registry.n + 1) * sizeof(char *));
        size_t k = 0;

        for (size_t i = 0; i < f->registry.n; i++) {
                const RegistryEntry *e = &f->registry.entries[i];
                if (e->frozen_since_mono <= now_mono && now_mono - e->frozen_since_mono >= max_usec)
                        keys[k++] = xstrdup(e->key);
        }
        *ret_keys = keys;
        return (int)k;
}

char **freezer_keys_free(char **keys)
{
        for (char **k = keys; k && *k; k++)
                free(*k);
        free(keys);
        return NULL;
}

int freezer_list(Freezer *f, FrozenProcess **ret, size_t *ret_n)
{
        FrozenProcess *rows;
        size_t n = 0, k = 0;

        for (size_t i = 0; i < f->registry.n; i++)
                n += f->registry.entries[i].n_procs;
        rows = xmalloc0(MAX(n, (size_t)1) * sizeof(FrozenProcess));
        for (size_t i = 0; i < f->registry.n; i++) {
                const RegistryEntry *e = &f->registry.entries[i];
                for (size_t j = 0; j < e->n_procs; j++)
                        rows[k++] = (FrozenProcess){.pid = e->procs[j].pid,
                                                    .key = e->key,
                                                    .name = e->name,
                                                    .uid = e->uid,
                                                    .method = e->method,
                                                    .since = e->frozen_since,
                                                    .memory = UINT64_MAX};
        }
        *ret = rows;
        *ret_n = n;
        return 0;
}
