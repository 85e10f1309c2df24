/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "fileio.h"
#include "gpu.h"
#include "log.h"
#include "manager.h"
#include "meminfo.h"
#include "psi.h"

/* In fast mode the GPU walk (every fd of every process) is the costly part. */
#define GPU_FAST_INTERVAL_USEC (2 * USEC_PER_SEC)

static uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static void manager_close_triggers(Manager *m)
{
        for (unsigned i = 0; i < m->n_triggers; i++) {
                m->trigger_source[i] = sd_event_source_disable_unref(m->trigger_source[i]);
                m->trigger_fd[i] = safe_close(m->trigger_fd[i]);
        }
        m->n_triggers = 0;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        manager_close_triggers(m);
        sd_event_source_disable_unref(m->timer);
        sd_event_unref(m->event);
        config_done(&m->config);
        safe_close(m->procfd);
        safe_close(m->sysfd);
        safe_close(m->scope_fd);
        free(m->v2_mount);
        free(m->scope);
        free(m);
        return NULL;
}

static int manager_resolve_scope(Manager *m)
{
        const char *arg = m->opts.scope ? m->opts.scope : m->config.scope;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        if (!arg || !*arg)
                return 0;
        if (!m->v2_mount)
                return log_error_errno(-ENOENT, "--scope %s: no cgroup2 filesystem is mounted", arg);
        r = cg_resolve_scope(m->v2_mount, arg, &path);
        if (r < 0)
                return log_error_errno(r, "--scope %s: not a cgroup v2 path under %s: %m", arg, m->v2_mount);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "--scope %s: cannot open %s: %m", arg, path);
        if (faccessat(fd, "memory.pressure", R_OK, 0) < 0)
                return log_error_errno(-errno, "--scope %s: %s/memory.pressure is not readable: %m", arg, path);
        m->scope = TAKE_PTR(path);
        m->scope_fd = TAKE_FD(fd);
        return 0;
}

int manager_new(const ManagerOptions *opts, Manager **ret)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        m = xmalloc0(sizeof(*m));
        m->opts = *opts;
        m->procfd = m->sysfd = m->scope_fd = -1;
        for (unsigned i = 0; i < MANAGER_MAX_TRIGGERS; i++)
                m->trigger_fd[i] = -1;
        pressure_state_init(&m->pstate);
        level_machine_init(&m->lm);

        r = config_load_all(opts->system_mode, opts->config_path, &m->config, &error);
        if (r < 0) {
                /* Monitor with the defaults, act on nothing, and say so loudly. */
                log_error("%s", error ? error : "invalid configuration");
                log_error("configuration is invalid: monitoring only, no action will be taken until a "
                          "valid configuration is loaded (fix it and send SIGHUP)");
                config_init(&m->config);
                m->config_valid = false;
        } else
                m->config_valid = true;
        log_set_max_level(opts->verbose ? LOG_DEBUG : m->config.log_level);

        m->procfd = open(opts->proc_root ? opts->proc_root : "/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->procfd < 0)
                return log_error_errno(-errno, "cannot open %s: %m", opts->proc_root ? opts->proc_root : "/proc");
        m->sysfd = open(opts->sys_root ? opts->sys_root : "/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->sysfd < 0)
                log_warning_errno(-errno, "cannot open /sys, zram statistics unavailable: %m");

        r = cg_v2_mount_find_at(m->procfd, &m->v2_mount);
        if (r < 0)
                log_notice("no cgroup2 mount found; cgroup features unavailable");

        r = manager_resolve_scope(m);
        if (r < 0)
                return r;

        m->gpu_possible = access("/dev/dri", F_OK) == 0;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "cannot create event loop: %m");

        *ret = TAKE_PTR(m);
        return 0;
}

static int manager_arm_timer(Manager *m, uint64_t usec);

/* Which file the PSI data comes from: the managed cgroup, or the whole machine. */
static int psi_source(Manager *m, const char **ret_path)
{
        if (m->scope_fd >= 0) {
                *ret_path = "memory.pressure";
                return m->scope_fd;
        }
        *ret_path = "pressure/memory";
        return m->procfd;
}

static void manager_enter_fast(Manager *m)
{
        if (!m->fast)
                log_debug("pressure trigger: sampling every %" PRIu64 " ms",
                          m->config.trigger.fast_interval_usec / USEC_PER_MSEC);
        m->fast = true;
        m->calm_since = 0;
}

static void log_level_change(Manager *m, Level old, Level new)
{
        char f_level[32], f_prev[32], f_score[32], f_trend[32], f_some[32], f_full[32], f_avail[32],
                f_floor[32], f_mode[32];
        const PressureResult *r = &m->last;

        snprintf(f_level, sizeof(f_level), "level=%s", level_to_string(new));
        snprintf(f_prev, sizeof(f_prev), "previous=%s", level_to_string(old));
        snprintf(f_score, sizeof(f_score), "score=%.3f", r->score);
        snprintf(f_trend, sizeof(f_trend), "trend=%+.3f", r->trend);
        snprintf(f_some, sizeof(f_some), "psi_some=%.3f", r->psi_some_rate);
        snprintf(f_full, sizeof(f_full), "psi_full=%.3f", r->psi_full_rate);
        snprintf(f_avail, sizeof(f_avail), "mem_available_pct=%.1f", r->mem_available_percent);
        snprintf(f_floor, sizeof(f_floor), "floor=%s", level_to_string(r->floor));
        snprintf(f_mode, sizeof(f_mode), "acting=%s",
                 !m->config_valid ? "no-invalid-config" : (m->opts.dry_run || m->config.dry_run) ? "dry-run" : "yes");
        log_struct(new > old ? LOG_WARNING : LOG_NOTICE, new > old ? "pressure rising" : "pressure falling",
                   f_level, f_prev, f_score, f_trend, f_some, f_full, f_avail, f_floor, f_mode, NULL);
}

int manager_sample(Manager *m)
{
        PressureSample s = { .timestamp_usec = now_usec() };
        const char *path;
        int dirfd, r;
        bool changed;
        Level old = m->lm.level, new;

        dirfd = psi_source(m, &path);
        r = psi_read_at(dirfd, path, &s.psi);
        if (r < 0)
                log_debug_errno(r, "cannot read PSI from %s, ignoring: %m", path);
        else
                s.has_psi = true;

        r = meminfo_read_at(m->procfd, &s.mem);
        if (r < 0)
                log_debug_errno(r, "cannot read /proc/meminfo, ignoring: %m");
        else
                s.has_mem = true;

        r = vmstat_read_at(m->procfd, &s.vm);
        if (r < 0)
                log_debug_errno(r, "cannot read /proc/vmstat, ignoring: %m");
        else
                s.has_vm = true;

        if (m->gpu_possible &&
            (!m->fast || m->gpu_sampled_at == 0 || s.timestamp_usec - m->gpu_sampled_at >= GPU_FAST_INTERVAL_USEC)) {
                uint64_t bytes;
                r = gpu_uma_read_at(m->procfd, &bytes);
                m->gpu_known = r >= 0;
                m->gpu_bytes = r >= 0 ? bytes : 0;
                m->gpu_sampled_at = s.timestamp_usec;
        }
        s.has_gpu = m->gpu_known;
        s.gpu_bytes = m->gpu_bytes;

        pressure_update(&m->pstate, &m->config.pressure, &s, &m->last);
        new = level_machine_feed(&m->lm, &m->config.level, s.timestamp_usec, m->last.score, m->last.floor,
                                 &changed);
        m->n_samples++;

        log_debug("sample score=%.3f psi=%.3f some=%.3f full=%.3f level=%s", m->last.score,
                  m->last.signal[SIGNAL_PSI], m->last.psi_some_rate, m->last.psi_full_rate,
                  level_to_string(new));

        if (changed)
                log_level_change(m, old, new);

        /* Leave fast mode once the level is normal and the score stayed calm long enough. */
        if (m->fast) {
                bool calm = new == LEVEL_NORMAL &&
                            m->last.score < m->config.level.threshold[LEVEL_ELEVATED] - m->config.level.hysteresis;
                if (!calm)
                        m->calm_since = 0;
                else if (m->calm_since == 0)
                        m->calm_since = s.timestamp_usec;
                else if (s.timestamp_usec - m->calm_since >= m->config.level.calm_usec) {
                        m->fast = false;
                        log_debug("calm again: back to waiting for triggers");
                }
        }
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Manager *m = userdata;

        m->n_wakeups++;
        (void)manager_sample(m);
        return manager_arm_timer(m, m->fast ? m->config.trigger.fast_interval_usec : m->config.trigger.heartbeat_usec);
}

static int manager_arm_timer(Manager *m, uint64_t usec)
{
        int r;

        if (!m->timer) {
                r = sd_event_add_time_relative(m->event, &m->timer, CLOCK_MONOTONIC, usec, 10 * USEC_PER_MSEC,
                                               on_timer, m);
                if (r < 0)
                        return log_error_errno(r, "cannot add timer: %m");
                return sd_event_source_set_description(m->timer, "sample-timer");
        }
        r = sd_event_source_set_time_relative(m->timer, usec);
        if (r < 0)
                return log_error_errno(r, "cannot rearm timer: %m");
        return sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
}

static int on_trigger(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Manager *m = userdata;

        m->n_wakeups++;
        if (revents & (EPOLLERR | EPOLLHUP)) {
                /* The cgroup went away, or the kernel dropped the trigger. */
                log_warning("PSI trigger fd %d reported an error; falling back to timed sampling", fd);
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
                manager_enter_fast(m);
                return manager_arm_timer(m, m->config.trigger.fast_interval_usec);
        }
        if (!(revents & EPOLLPRI))
                return 0;

        manager_enter_fast(m);
        (void)manager_sample(m);
        /* Keep sampling fast from now on; the timer takes over. */
        return manager_arm_timer(m, m->config.trigger.fast_interval_usec);
}

static int manager_open_triggers(Manager *m)
{
        const TriggerParams *t = &m->config.trigger;
        const struct {
                PsiKind kind;
                uint64_t stall;
        } want[] = {
                { PSI_SOME, t->some_stall_usec },
                { PSI_FULL, t->full_stall_usec },
        };
        const char *path;
        int dirfd = psi_source(m, &path);

        manager_close_triggers(m);
        for (unsigned i = 0; i < ELEMENTSOF(want); i++) {
                uint64_t stall, window;
                int fd, r;

                fd = psi_trigger_open_at(dirfd, path, want[i].kind, want[i].stall, t->window_usec, &stall, &window);
                if (fd < 0) {
                        log_warning_errno(fd, "cannot set a PSI %s trigger on %s%s%s: %m",
                                          want[i].kind == PSI_SOME ? "some" : "full", m->scope ? m->scope : "/proc",
                                          "/", path);
                        continue;
                }
                if (window != t->window_usec && !m->fallback_logged) {
                        char f_req[48], f_used[48], f_stall[48];
                        snprintf(f_req, sizeof(f_req), "requested_window_ms=%" PRIu64, t->window_usec / USEC_PER_MSEC);
                        snprintf(f_used, sizeof(f_used), "window_ms=%" PRIu64, window / USEC_PER_MSEC);
                        snprintf(f_stall, sizeof(f_stall), "stall_ms=%" PRIu64, stall / USEC_PER_MSEC);
                        log_struct(LOG_NOTICE,
                                   "PSI trigger window refused by the kernel (needs CAP_SYS_RESOURCE), "
                                   "using the nearest 2 s multiple",
                                   f_req, f_used, f_stall, NULL);
                        m->fallback_logged = true;
                }
                r = sd_event_add_io(m->event, &m->trigger_source[m->n_triggers], fd, EPOLLPRI, on_trigger, m);
                if (r < 0) {
                        safe_close(fd);
                        return log_error_errno(r, "cannot watch PSI trigger: %m");
                }
                m->trigger_fd[m->n_triggers++] = fd;
        }
        if (m->n_triggers == 0)
                log_warning("no PSI trigger available (kernel without PSI, or psi=0?): sampling every %" PRIu64
                            " ms instead", m->config.trigger.fast_interval_usec / USEC_PER_MSEC);
        return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Manager *m = userdata;

        log_info("received %s, stopping", strsignal((int)si->ssi_signo));
        return sd_event_exit(m->event, 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        return manager_reload(userdata), 0;
}

int manager_reload(Manager *m)
{
        _cleanup_free_ char *error = NULL;
        Config c;
        TriggerParams old_trigger = m->config.trigger;
        int r;

        r = config_load_all(m->opts.system_mode, m->opts.config_path, &c, &error);
        if (r < 0) {
                log_error("reload failed, keeping the last good configuration: %s", strna(error));
                return r;
        }
        config_done(&m->config);
        m->config = c;
        if (!m->config_valid)
                log_notice("valid configuration loaded: actions enabled again");
        m->config_valid = true;
        log_set_max_level(m->opts.verbose ? LOG_DEBUG : m->config.log_level);
        log_info("configuration reloaded");

        if (memcmp(&old_trigger, &m->config.trigger, sizeof(old_trigger)) != 0) {
                m->fallback_logged = false;
                r = manager_open_triggers(m);
                if (r < 0)
                        return r;
        }
        return 0;
}

int manager_start(Manager *m)
{
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(-errno, "cannot block signals: %m");

        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "cannot watch signals: %m");

        r = manager_open_triggers(m);
        if (r < 0)
                return r;

        /* A first sample gives the baseline for rates. */
        (void)manager_sample(m);
        if (m->n_triggers == 0)
                m->fast = true;
        r = manager_arm_timer(m, m->fast ? m->config.trigger.fast_interval_usec : m->config.trigger.heartbeat_usec);
        if (r < 0)
                return r;

        {
                char f_mode[32], f_psi[512], f_trig[32], f_dry[32];
                snprintf(f_mode, sizeof(f_mode), "mode=%s", m->opts.system_mode ? "system" : "user");
                snprintf(f_psi, sizeof(f_psi), "psi=%s%s", m->scope ? m->scope : "/proc/pressure/memory",
                         m->scope ? "/memory.pressure" : "");
                snprintf(f_trig, sizeof(f_trig), "triggers=%u", m->n_triggers);
                snprintf(f_dry, sizeof(f_dry), "dry_run=%s", yes_no(m->opts.dry_run || m->config.dry_run));
                log_struct(LOG_INFO, "memguardd started", f_mode, f_psi, f_trig, f_dry, NULL);
        }
        (void)sd_notify(0, "READY=1\nSTATUS=watching memory pressure");
        return 0;
}

int manager_run(Manager *m)
{
        int r = sd_event_loop(m->event);
        (void)sd_notify(0, "STOPPING=1");
        return r;
}
