/* SPDX-License-Identifier: MIT */
/*
 * Each kill slot owns an epoll set holding the pidfds it waits on (a pidfd
 * polls readable once its process has exited) and, for an app with its own
 * cgroup, that cgroup's cgroup.events (EPOLLPRI when "populated" changes).
 * One sd-event io source watches the epoll set and one time source drives
 * the phases: TERM (until the deadline), KILL (the bounded wait after
 * SIGKILL), DONE (calling back). All are made in killer_new() and only
 * enabled by a kill, so the path from trigger to kill allocates nothing,
 * forks nothing and never waits: the waits are the event loop's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "time-util.h"
#include "fileio.h"
#include "killer.h"
#include "log.h"
#include "parse-util.h"
#include "proc.h"

#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#ifndef __NR_process_mrelease
#define __NR_process_mrelease 448
#endif

#define EPOLL_TAG_CGROUP UINT64_MAX

typedef enum KillPhase {
        KILL_IDLE, /* the slot is free */
        KILL_TERM, /* SIGTERM sent, waiting until the deadline */
        KILL_KILL, /* SIGKILL sent, the bounded wait */
        KILL_DONE, /* calling back */
} KillPhase;

typedef struct Kill {
        Killer *killer;
        KillPhase phase;
        int epfd;
        sd_event_source *io, *timer;

        char key[KILLER_KEY_MAX];
        char name[KILLER_NAME_MAX];
        char cgroup[PATH_MAX];
        bool has_cgroup; /* a cgroup was given */
        int cgfd;        /* that cgroup, pinned at the start; -1 if gone, protected or none */
        int events_fd;   /* its cgroup.events while watched, else -1 */
        int populated;   /* 1, 0, or -errno when unknown */

        KillProcResult *procs;
        int *pidfds;     /* >= 0 while the process is waited on */
        size_t n, n_waiting;

        uint64_t started, term_deadline;
        bool escalated, cgroup_killed;
        int cgroup_error;

        killer_callback_t callback;
        void *userdata;
} Kill;

struct Killer {
        sd_event *event;
        int procfd;
        uint64_t kill_wait;
        char *protect;
        unsigned max_kills, max_procs;
        Kill *kills;
};

static const char *const outcome_names[_KILL_PROC_OUTCOME_MAX] = {
        [KILL_PROC_GONE] = "gone",
        [KILL_PROC_SKIPPED] = "skipped",
        [KILL_PROC_EXITED_TERM] = "exited-after-term",
        [KILL_PROC_KILLED] = "killed",
        [KILL_PROC_PRESENT] = "still-present",
};

const char *kill_proc_outcome_to_string(KillProcOutcome o)
{
        return o >= 0 && o < _KILL_PROC_OUTCOME_MAX ? outcome_names[o] : NULL;
}

static int sys_pidfd_send_signal(int pidfd, int sig)
{
        return syscall(__NR_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

static int sys_process_mrelease(int pidfd)
{
        return syscall(__NR_process_mrelease, pidfd, 0) < 0 ? -errno : 0;
}

static void copy_truncated(char *dst, size_t size, const char *src, size_t max)
{
        size_t n = src ? strnlen(src, MIN(size - 1, max)) : 0;

        memcpy(dst, src ? src : "", n);
        dst[n] = 0;
}

/* Read /proc/PID/stat into state and start time; -errno if it cannot be read or parsed. */
static int read_stat(int procfd, pid_t pid, char *ret_state, uint64_t *ret_start_time)
{
        char path[32], buf[2048];
        ProcStat st;
        ssize_t n;
        int r;

        snprintf(path, sizeof(path), "%d/stat", (int)pid);
        n = read_file_at(procfd, path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        r = proc_stat_parse(buf, (size_t)n, &st);
        if (r < 0)
                return r;
        *ret_state = st.state;
        *ret_start_time = st.start_time;
        return 0;
}

/* Absolute, no empty, "." or ".." segments, no trailing '/', not "/" itself. */
static int cgroup_path_check(const char *path)
{
        const char *p;

        if (!path || path[0] != '/' || path[1] == 0)
                return -EINVAL;
        if (strlen(path) >= PATH_MAX)
                return -ENAMETOOLONG;
        for (p = path; *p;) {
                size_t seg;

                p++; /* the '/' */
                seg = strcspn(p, "/");
                if (seg == 0 || (seg == 1 && p[0] == '.') || (seg == 2 && p[0] == '.' && p[1] == '.'))
                        return -EINVAL;
                p += seg;
        }
        return 0;
}

static bool cgroup_is_self_or_ancestor(const char *cg, const char *of)
{
        size_t l = strlen(cg);

        return of && strncmp(of, cg, l) == 0 && (of[l] == 0 || of[l] == '/');
}

/* The "populated" value of cgroup.events read through fd: 1, 0, or -errno. A removed cgroup is empty. */
static int cgroup_events_populated(int fd)
{
        char buf[256];
        ssize_t n;

        n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return errno == ENODEV || errno == ENOENT ? 0 : -errno;
        buf[n] = 0;
        for (const char *p = buf; *p;) {
                if (strncmp(p, "populated ", 10) == 0 && (p[10] == '0' || p[10] == '1') &&
                    (p[11] == '\n' || p[11] == 0))
                        return p[10] == '1';
                p = strchrnul(p, '\n');
                if (*p)
                        p++;
        }
        return -EBADMSG;
}

static void kill_unwatch_cgroup(Kill *kill)
{
        if (kill->events_fd < 0)
                return;
        (void)epoll_ctl(kill->epfd, EPOLL_CTL_DEL, kill->events_fd, NULL);
        kill->events_fd = safe_close(kill->events_fd);
}

static void kill_cgroup_changed(Kill *kill)
{
        kill->populated = cgroup_events_populated(kill->events_fd);
        if (kill->populated != 1)
                kill_unwatch_cgroup(kill);
}

static void kill_open_cgroup(Kill *kill)
{
        struct epoll_event ev = { .events = EPOLLPRI, .data.u64 = EPOLL_TAG_CGROUP };

        if (cgroup_is_self_or_ancestor(kill->cgroup, kill->killer->protect)) {
                log_debug("kill %s: %s holds memguard itself, not using cgroup.kill", kill->key,
                          kill->cgroup);
                kill->cgroup_error = kill->populated = -EPERM;
                return;
        }
        kill->cgfd = open(kill->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (kill->cgfd < 0) {
                kill->cgroup_error = -errno;
                kill->populated = errno == ENOENT ? 0 : -errno;
                return;
        }
        kill->events_fd = openat(kill->cgfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
        if (kill->events_fd < 0) {
                kill->populated = -errno; /* not v2: emptiness cannot be watched */
                return;
        }
        kill->populated = cgroup_events_populated(kill->events_fd);
        if (kill->populated != 1 || epoll_ctl(kill->epfd, EPOLL_CTL_ADD, kill->events_fd, &ev) < 0)
                kill->events_fd = safe_close(kill->events_fd);
}

/* Record why a process will not be signalled; returns -1 for "no pidfd". */
static int proc_refuse(KillProcResult *r, KillProcOutcome outcome, int error)
{
        r->outcome = outcome;
        r->error = error;
        return -1;
}

/* A pidfd polls readable once its process has exited (a zombie included). */
static bool pidfd_exited(int pidfd)
{
        struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

        return poll(&pfd, 1, 0) > 0;
}

/* A pidfd for the entry's live process, or -1 with the reason recorded in r. */
static int proc_pidfd(Killer *k, const ProcEntry *e, KillProcResult *r)
{
        _cleanup_close_ int fd = -1;

        if (e->pid <= 1 || e->pid == getpid() || e->kthread)
                return proc_refuse(r, KILL_PROC_SKIPPED, -EPERM);

        /* The entry's own pidfd, or one opened now and checked against its
         * pid_ino or start time: then it names the entry's process. */
        fd = proc_entry_open_pidfd(k->procfd, e);
        if (fd == -ESRCH)
                return proc_refuse(r, KILL_PROC_GONE, 0);
        if (fd == -ESTALE)
                log_debug("kill: PID %d now names another process, not signalling it", (int)e->pid);
        if (fd < 0)
                return proc_refuse(r, KILL_PROC_SKIPPED, fd);
        if (pidfd_exited(fd))
                return proc_refuse(r, KILL_PROC_GONE, 0);
        return TAKE_FD(fd);
}

static void kill_proc_exited(Kill *kill, size_t i)
{
        KillProcResult *r;

        if (i >= kill->n || kill->pidfds[i] < 0)
                return;
        r = &kill->procs[i];
        (void)epoll_ctl(kill->epfd, EPOLL_CTL_DEL, kill->pidfds[i], NULL);
        kill->pidfds[i] = safe_close(kill->pidfds[i]);
        kill->n_waiting--;
        r->outcome = kill->escalated ? KILL_PROC_KILLED : KILL_PROC_EXITED_TERM;
        r->exit_usec = MAX(clock_usec(CLOCK_MONOTONIC) - kill->started, UINT64_C(1));
        log_debug("kill %s: PID %d exited (%s)", kill->key, (int)r->pid,
                  kill_proc_outcome_to_string(r->outcome));
}

/* Take every pending readiness from the slot's epoll set, without waiting. */
static void kill_drain(Kill *kill)
{
        struct epoll_event ev[16];

        for (;;) {
                int n = epoll_wait(kill->epfd, ev, ELEMENTSOF(ev), 0);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        log_debug_errno(-errno, "kill %s: epoll_wait failed, ignoring: %m", kill->key);
                        return;
                }
                for (int j = 0; j < n; j++) {
                        if (ev[j].data.u64 == EPOLL_TAG_CGROUP)
                                kill_cgroup_changed(kill);
                        else
                                kill_proc_exited(kill, (size_t)ev[j].data.u64);
                }
                if (n < (int)ELEMENTSOF(ev))
                        return;
        }
}

static bool kill_is_done(const Kill *kill)
{
        return kill->n_waiting == 0 && kill->populated != 1;
}

static void kill_arm(Kill *kill, uint64_t when)
{
        int r;

        r = sd_event_source_set_time(kill->timer, when);
        if (r >= 0)
                r = sd_event_source_set_enabled(kill->timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_debug_errno(r, "kill %s: cannot re-arm its timer, ignoring: %m", kill->key);
}

static void kill_escalate(Kill *kill)
{
        int r;

        kill->escalated = true;
        kill->phase = KILL_KILL;

        /* The whole app first, so that nothing it forks in the meantime survives. */
        if (kill->cgfd >= 0 && kill->populated != 0) {
                r = write_string_file_at(kill->cgfd, "cgroup.kill", "1", 0);
                if (r < 0) {
                        kill->cgroup_error = r;
                        log_debug_errno(r, "kill %s: cannot write %s/cgroup.kill: %m", kill->key,
                                        kill->cgroup);
                } else
                        kill->cgroup_killed = true;
        }

        for (size_t i = 0; i < kill->n; i++) {
                if (kill->pidfds[i] < 0)
                        continue;
                r = sys_pidfd_send_signal(kill->pidfds[i], SIGKILL);
                if (r == 0)
                        kill->procs[i].sigkill_sent = true;
                else if (r != -ESRCH) /* ESRCH: it has just exited */
                        kill->procs[i].error = r;
        }

        /* Only a process with a SIGKILL pending may have its memory released (EINVAL otherwise). */
        for (size_t i = 0; i < kill->n; i++) {
                KillProcResult *p = &kill->procs[i];

                if (kill->pidfds[i] < 0 || !(p->sigkill_sent || kill->cgroup_killed))
                        continue;
                p->mrelease_tried = true;
                p->mrelease_error = sys_process_mrelease(kill->pidfds[i]);
                if (p->mrelease_error < 0)
                        log_debug_errno(p->mrelease_error,
                                        "kill %s: process_mrelease(%d) failed, ignoring: %m", kill->key,
                                        (int)p->pid);
        }

        kill_arm(kill, clock_usec(CLOCK_MONOTONIC) + kill->killer->kill_wait);
}

/* Close everything the kill holds and free the slot. */
static void kill_release(Kill *kill)
{
        for (size_t i = 0; i < kill->n; i++)
                if (kill->pidfds[i] >= 0) {
                        /* Our pidfd is a dup: remove it from epoll before closing it. */
                        (void)epoll_ctl(kill->epfd, EPOLL_CTL_DEL, kill->pidfds[i], NULL);
                        kill->pidfds[i] = safe_close(kill->pidfds[i]);
                }
        kill_unwatch_cgroup(kill);
        kill->cgfd = safe_close(kill->cgfd);
        kill->n = kill->n_waiting = 0;
        kill->phase = KILL_IDLE;
}

static void kill_finish(Kill *kill, bool cancelled)
{
        Killer *k = kill->killer;
        KillResult res = {};

        (void)sd_event_source_set_enabled(kill->io, SD_EVENT_OFF);
        (void)sd_event_source_set_enabled(kill->timer, SD_EVENT_OFF);
        kill_drain(kill);
        kill->phase = KILL_DONE;

        for (size_t i = 0; i < kill->n; i++) {
                KillProcResult *p = &kill->procs[i];
                uint64_t start;
                char state;

                if (kill->pidfds[i] < 0)
                        continue;
                if (pidfd_exited(kill->pidfds[i])) { /* not seen through epoll */
                        kill_proc_exited(kill, i);
                        continue;
                }
                p->outcome = KILL_PROC_PRESENT;
                /* Not exited, so the PID is still this process's. */
                if (read_stat(k->procfd, p->pid, &state, &start) >= 0 && start == p->start_time)
                        p->state = state;
        }

        if (kill->cgfd >= 0) {
                _cleanup_close_ int fd = openat(kill->cgfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
                kill->populated = fd >= 0 ? cgroup_events_populated(fd) : (errno == ENOENT ? 0 : -errno);
        }

        res = (KillResult){
                .key = kill->key,
                .name = kill->name,
                .cgroup = kill->has_cgroup ? kill->cgroup : NULL,
                .term_deadline_usec = kill->term_deadline,
                .total_usec = clock_usec(CLOCK_MONOTONIC) - kill->started,
                .cancelled = cancelled,
                .escalated = kill->escalated,
                .cgroup_killed = kill->cgroup_killed,
                .cgroup_error = kill->cgroup_error,
                .cgroup_populated = kill->has_cgroup ? kill->populated : -ENOENT,
                .n_procs = kill->n,
                .procs = kill->procs,
        };
        for (size_t i = 0; i < kill->n; i++)
                res.count[kill->procs[i].outcome]++;

        kill->callback(kill->userdata, &res);
        kill_release(kill);
}

static int on_kill_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Kill *kill = userdata;

        kill_drain(kill);
        if (kill_is_done(kill))
                kill_finish(kill, false);
        return 0;
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Kill *kill = userdata;

        kill_drain(kill);
        if (kill_is_done(kill) || kill->phase != KILL_TERM)
                kill_finish(kill, false);
        else
                kill_escalate(kill);
        return 0;
}

bool killer_is_killing(const Killer *k, const char *key)
{
        if (!k || !key)
                return false;
        for (unsigned i = 0; i < k->max_kills; i++) {
                const Kill *kill = &k->kills[i];
                if ((kill->phase == KILL_TERM || kill->phase == KILL_KILL) && strcmp(kill->key, key) == 0)
                        return true;
        }
        return false;
}

unsigned killer_n_active(const Killer *k)
{
        unsigned n = 0;

        for (unsigned i = 0; k && i < k->max_kills; i++)
                n += k->kills[i].phase != KILL_IDLE;
        return n;
}

static int kill_args_check(Killer *k, const char *key, const char *cgroup, const ProcEntry *const *procs,
                           size_t n, killer_callback_t callback)
{
        int r;

        if (!k || !key || !key[0] || !callback || (n > 0 && !procs) || (n == 0 && !cgroup))
                return -EINVAL;
        if (strlen(key) >= KILLER_KEY_MAX)
                return -ENAMETOOLONG;
        if (cgroup) {
                r = cgroup_path_check(cgroup);
                if (r < 0)
                        return r;
        }
        if (n > k->max_procs)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                if (!procs[i])
                        return -EINVAL;
        if (killer_is_killing(k, key))
                return -EALREADY;
        return 0;
}

int killer_kill_app(Killer *k, const char *key, const char *name, const char *cgroup,
                    const ProcEntry *const *procs, size_t n, uint64_t term_deadline_usec,
                    killer_callback_t callback, void *userdata)
{
        Kill *kill = NULL;
        int r;

        r = kill_args_check(k, key, cgroup, procs, n, callback);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < k->max_kills && !kill; i++)
                if (k->kills[i].phase == KILL_IDLE)
                        kill = &k->kills[i];
        if (!kill)
                return -EBUSY;

        copy_truncated(kill->key, sizeof(kill->key), key, SIZE_MAX);
        copy_truncated(kill->name, sizeof(kill->name), name ? name : key, SIZE_MAX);
        copy_truncated(kill->cgroup, sizeof(kill->cgroup), cgroup, SIZE_MAX);
        kill->has_cgroup = cgroup != NULL;
        kill->populated = -ENOENT;
        kill->started = clock_usec(CLOCK_MONOTONIC);
        kill->term_deadline = MIN(term_deadline_usec, KILLER_MAX_TERM_DEADLINE_USEC);
        kill->escalated = kill->cgroup_killed = false;
        kill->cgroup_error = 0;
        kill->callback = callback;
        kill->userdata = userdata;
        kill->n = n;
        kill->n_waiting = 0;

        /* Arm first: if that fails nothing has been signalled yet. */
        r = sd_event_source_set_time(kill->timer, kill->started + kill->term_deadline);
        if (r >= 0)
                r = sd_event_source_set_enabled(kill->timer, SD_EVENT_ONESHOT);
        if (r >= 0)
                r = sd_event_source_set_enabled(kill->io, SD_EVENT_ON);
        if (r < 0) {
                (void)sd_event_source_set_enabled(kill->timer, SD_EVENT_OFF);
                kill->n = 0;
                return r;
        }
        kill->phase = KILL_TERM;

        for (size_t i = 0; i < n; i++) {
                const ProcEntry *e = procs[i];
                KillProcResult *p = &kill->procs[i];

                *p = (KillProcResult){ .pid = e->pid, .start_time = e->start_time };
                copy_truncated(p->comm, sizeof(p->comm), e->comm, sizeof(e->comm));
                kill->pidfds[i] = proc_pidfd(k, e, p);
        }
        if (cgroup)
                kill_open_cgroup(kill);

        for (size_t i = 0; i < n; i++) {
                struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i };
                KillProcResult *p = &kill->procs[i];

                if (kill->pidfds[i] < 0)
                        continue;
                if (kill->term_deadline > 0) {
                        r = sys_pidfd_send_signal(kill->pidfds[i], SIGTERM);
                        if (r < 0) {
                                proc_refuse(p, r == -ESRCH ? KILL_PROC_GONE : KILL_PROC_SKIPPED, r);
                                kill->pidfds[i] = safe_close(kill->pidfds[i]);
                                continue;
                        }
                        p->sigterm_sent = true;
                }
                /* If it cannot be watched, the deadline and the final check still see it. */
                if (epoll_ctl(kill->epfd, EPOLL_CTL_ADD, kill->pidfds[i], &ev) < 0)
                        log_debug_errno(-errno, "kill %s: cannot watch PID %d, ignoring: %m", kill->key,
                                        (int)p->pid);
                kill->n_waiting++;
        }

        if (kill->term_deadline == 0)
                kill_escalate(kill);
        if (kill_is_done(kill))
                kill_arm(kill, kill->started); /* nothing to wait for: report from the loop */
        log_debug("kill %s: started, watching %zu of %zu processes, deadline %" PRIu64 " ms", kill->key,
                  kill->n_waiting, n, kill->term_deadline / USEC_PER_MSEC);
        return 0;
}

static int kill_slot_init(Killer *k, Kill *kill)
{
        int r;

        kill->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (kill->epfd < 0)
                return -errno;
        r = sd_event_add_io(k->event, &kill->io, kill->epfd, EPOLLIN, on_kill_io, kill);
        if (r < 0)
                return r;
        r = sd_event_add_time(k->event, &kill->timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_kill_timer,
                              kill);
        if (r < 0)
                return r;
        (void)sd_event_source_set_description(kill->io, "kill-exits");
        (void)sd_event_source_set_description(kill->timer, "kill-deadline");
        r = sd_event_source_set_priority(kill->io, SD_EVENT_PRIORITY_IMPORTANT);
        if (r >= 0)
                r = sd_event_source_set_priority(kill->timer, SD_EVENT_PRIORITY_IMPORTANT);
        if (r >= 0)
                r = sd_event_source_set_enabled(kill->io, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_source_set_enabled(kill->timer, SD_EVENT_OFF);
        return r;
}

int killer_new(sd_event *event, const KillerOptions *opts, Killer **ret)
{
        _cleanup_(killer_freep) Killer *k = NULL;
        int r;

        if (!event || !opts || opts->procfd < 0 || !ret)
                return -EINVAL;
        if (opts->protect_cgroup && opts->protect_cgroup[0] != '/')
                return -EINVAL;

        k = xmalloc0(sizeof(*k));
        k->procfd = -1;
        k->event = sd_event_ref(event);
        k->kill_wait = opts->kill_wait_usec ? opts->kill_wait_usec : KILLER_DEFAULT_KILL_WAIT_USEC;
        k->protect = xstrdup(opts->protect_cgroup);
        k->max_kills = opts->max_kills ? opts->max_kills : KILLER_DEFAULT_MAX_KILLS;
        k->max_procs = opts->max_procs ? opts->max_procs : KILLER_DEFAULT_MAX_PROCS;
        k->kills = xmalloc0(k->max_kills * sizeof(Kill));
        for (unsigned i = 0; i < k->max_kills; i++)
                k->kills[i] = (Kill){ .killer = k, .epfd = -1, .cgfd = -1, .events_fd = -1 };

        k->procfd = fcntl(opts->procfd, F_DUPFD_CLOEXEC, 3);
        if (k->procfd < 0)
                return -errno;

        for (unsigned i = 0; i < k->max_kills; i++) {
                Kill *kill = &k->kills[i];

                kill->procs = xmalloc0(k->max_procs * sizeof(KillProcResult));
                kill->pidfds = xmalloc0(k->max_procs * sizeof(int));
                for (unsigned j = 0; j < k->max_procs; j++)
                        kill->pidfds[j] = -1;
                r = kill_slot_init(k, kill);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(k);
        return 0;
}

Killer *killer_free(Killer *k)
{
        if (!k)
                return NULL;

        for (unsigned i = 0; k->kills && i < k->max_kills; i++)
                if (k->kills[i].phase == KILL_TERM || k->kills[i].phase == KILL_KILL)
                        kill_finish(&k->kills[i], true);

        for (unsigned i = 0; k->kills && i < k->max_kills; i++) {
                Kill *kill = &k->kills[i];

                sd_event_source_disable_unref(kill->io);
                sd_event_source_disable_unref(kill->timer);
                safe_close(kill->epfd);
                free(kill->procs);
                free(kill->pidfds);
        }
        free(k->kills);
        free(k->protect);
        safe_close(k->procfd);
        sd_event_unref(k->event);
        free(k);
        return NULL;
}
