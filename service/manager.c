/* SPDX-License-Identifier: MIT */
#include <dirent.h>
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

#include "time-util.h"
#include "candidates.h"
#include "cgroup-mem.h"
#include "cgroup-stall.h"
#include "cgroup-util.h"
#include "checkpointer.h"
#include "hibernate.h"
#include "freezer.h"
#include "build-config.h"
#include "registry.h"
#include "fileio.h"
#include "gpu.h"
#include "log.h"
#include "manager.h"
#include "meminfo.h"
#include "psi.h"

/* While calm, a snapshot of the largest processes this often (the incident ring covers a minute). */
#define INCIDENT_SNAPSHOT_INTERVAL_USEC (10 * USEC_PER_SEC)

/* In fast mode the GPU walk (every fd of every process) is the costly part. */
#define GPU_FAST_INTERVAL_USEC (2 * USEC_PER_SEC)

static uint64_t now_usec(void)
{
        return clock_usec(CLOCK_MONOTONIC);
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
        manager_bus_stop(m);
        actor_free(m->actor);
        checkpointer_free(m->checkpointer); /* after the actor, which borrows it */
        hibernator_free(m->hibernator);
        hook_runner_free(m->hooks);
        free(m->fg_app_id);
        free(m->fg_own_app_id);
        free(m->fg_cgroup);
        strv_free(m->protected_cgroups);
        free(m->protected_pids);
        free(m->protected_start_times);
        free(m->protected_pid_temp);
        free(m->protected_cgroup_temp);
        incident_recorder_free(m->incidents);
        eventlog_close(m->eventlog);
        free(m->state_dir);
        plan_done(&m->plan);
        proc_table_done(&m->table);
        proc_bpf_free(m->proc_bpf);
        stall_history_done(&m->stall_history);
        sd_event_unref(m->event);
        config_done(&m->config);
        free(m->self_cgroup);
        free(m->scope_cgroup);
        free(m->v1_memory_mount);
        free(m->scope_v1_dir);
        free(m->registry_path);
        safe_close(m->procfd);
        safe_close(m->sysfd);
        safe_close(m->scope_fd);
        safe_close(m->cgroup2_fd);
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
        /* The same cgroup as /proc/PID/cgroup names it, for the process filter. */
        m->scope_cgroup = xstrdup(m->scope[strlen(m->v2_mount)] ? m->scope + strlen(m->v2_mount) : "/");
        return 0;
}

int manager_new(const ManagerOptions *opts, Manager **ret)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        m = xmalloc0(sizeof(*m));
        m->opts = *opts;
        m->procfd = m->sysfd = m->scope_fd = m->cgroup2_fd = -1;
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
        else {
                m->cgroup2_fd = open(m->v2_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (m->cgroup2_fd < 0)
                        log_warning_errno(-errno, "cannot open %s: %m", m->v2_mount);
        }
        /* Lets snapshot refreshes cache cgroup paths by id (the table is zeroed: no fd yet). */
        m->table.cgroup_fd = m->cgroup2_fd;

        r = manager_resolve_scope(m);
        if (r < 0)
                return r;
        if (m->scope)
                (void)cg_v1_mount_find_at(m->procfd, "memory", &m->v1_memory_mount);

        m->gpu_possible = access("/dev/dri", F_OK) == 0;

        {
                _cleanup_free_ char *buf = NULL;
                size_t size;
                if (read_full_file_at(m->procfd, "self/cgroup", 1 << 16, &buf, &size) >= 0)
                        (void)cg_v2_path_parse(buf, size, &m->self_cgroup);
        }
        m->never = (NeverTargetContext){ .self_pid = getpid(), .self_cgroup = m->self_cgroup };
        plan_init(&m->plan);

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "cannot create event loop: %m");

        *ret = TAKE_PTR(m);
        return 0;
}

static int manager_arm_timer(Manager *m, uint64_t usec);

/* The first process in the cgroup cgfd or below it (depth-first, at most `depth` levels), or 0. */
static pid_t cgroup_first_pid(int cgfd, unsigned depth)
{
        char buf[4096];
        ssize_t n;
        DIR *d;
        pid_t pid = 0;
        int fd;

        n = read_file_at(cgfd, "cgroup.procs", buf, sizeof(buf));
        if (n == -EFBIG)
                n = (ssize_t)strlen(buf); /* the first line is all we need */
        if (n > 0 && (pid = (pid_t)atoi(buf)) > 0)
                return pid;
        if (depth == 0 || (fd = openat(cgfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return 0;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return 0;
        }
        for (struct dirent *de; pid <= 0 && (de = readdir(d));) {
                _cleanup_close_ int child = -1;

                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                child = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (child >= 0)
                        pid = cgroup_first_pid(child, depth - 1);
        }
        closedir(d);
        return pid > 0 ? pid : 0;
}

/*
 * On a hybrid host the scope's memory limit lives in the v1 memory cgroup of
 * its processes: find it from the first process in the scope, or in a cgroup
 * below it when the scope itself holds none (apps in their own sub-cgroups).
 */
static int scope_find_v1_dir(Manager *m)
{
        char buf[4096], path[64];
        ssize_t n;
        pid_t pid;

        if (!m->v1_memory_mount)
                return -ENOENT;
        pid = cgroup_first_pid(m->scope_fd, 8);
        if (pid <= 0)
                return -ENOENT;
        snprintf(path, sizeof(path), "%d/cgroup", (int)pid);
        n = read_file_at(m->procfd, path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = 0;
                if (strcmp(c1 + 1, "memory") != 0 && !strstr(c1 + 1, "memory,") && !strstr(c1 + 1, ",memory"))
                        continue;
                free(m->scope_v1_dir);
                if (asprintf(&m->scope_v1_dir, "%s%s", m->v1_memory_mount, c2 + 1) < 0)
                        abort();
                return 0;
        }
        return -ENOENT;
}

/* With --scope, MemTotal/MemAvailable become the cgroup's limit and headroom. */
static void scope_meminfo(Manager *m, MemInfo *mem)
{
        CgroupMem c;
        int r;

        r = cgroup_mem_read_v2(m->v2_mount, m->scope, &c);
        if (r < 0) {
                if (!m->scope_v1_dir && scope_find_v1_dir(m) < 0)
                        return;
                r = cgroup_mem_read_v1(m->scope_v1_dir, &c);
                if (r < 0) {
                        m->scope_v1_dir = mfree(m->scope_v1_dir);
                        return;
                }
        }
        cgroup_mem_to_meminfo(&c, mem, mem);
}

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

/* Where the event log and incident reports go: --state-dir, or the mode's state directory. */
static int state_dir_path(bool system_mode, const char *state_dir, char **ret)
{
        const char *base;
        char *p;

        if (state_dir)
                p = xstrdup(state_dir);
        else if (system_mode)
                p = xstrdup(STATEDIR);
        else if ((base = getenv("XDG_STATE_HOME")) && base[0] == '/') {
                if (asprintf(&p, "%s/memguard", base) < 0)
                        abort();
        } else if ((base = getenv("HOME")) && base[0] == '/') {
                if (asprintf(&p, "%s/.local/state/memguard", base) < 0)
                        abort();
        } else
                return -ENXIO;
        *ret = p;
        return 0;
}

int manager_registry_path(bool system_mode, const char *state_dir, char **ret)
{
        char *p;

        if (!state_dir)
                return registry_default_path(system_mode, ret);
        if (asprintf(&p, "%s/frozen.json", state_dir) < 0)
                abort();
        *ret = p;
        return 0;
}

static ProcScanFilter manager_filter(const Manager *m)
{
        if (m->scope_cgroup)
                return (ProcScanFilter){ .mode = PROC_SCAN_CGROUP, .cgroup = m->scope_cgroup, .open_pidfds = true };
        if (!m->opts.system_mode)
                return (ProcScanFilter){ .mode = PROC_SCAN_UID, .uid = getuid(), .open_pidfds = true };
        return (ProcScanFilter){ .mode = PROC_SCAN_ALL, .open_pidfds = true };
}

/*
 * Bring the process table up to date: from one BPF snapshot where that works
 * (the real /proc, root, and for --scope the cgroup2 mount), else from procfs. The
 * snapshot is a full one (exe and command lines read by the iterator) when
 * the table is cold.
 */
static int manager_refresh_table(Manager *m, const ProcScanFilter *f)
{
        int r;

        if (!m->proc_bpf_tried) {
                m->proc_bpf_tried = true;
                /* --scope needs the cgroup2 mount: processes are placed by their cgroup id's path. */
                if ((f->mode != PROC_SCAN_CGROUP || m->cgroup2_fd >= 0) && !m->opts.proc_root) {
                        r = proc_bpf_new(m->procfd, &m->proc_bpf);
                        if (r >= 0)
                                log_info("process table: refreshed from a BPF task iterator%s",
                                         proc_bpf_can_full(m->proc_bpf) ? ""
                                                                        : " (command lines from /proc: "
                                                                          "no sleepable iterator here)");
                        else if (r == -EOPNOTSUPP)
                                log_info("process table: reading /proc (built without BPF)");
                        else
                                log_info_errno(r, "process table: reading /proc (BPF task iterator unavailable: %m)");
                }
        }
        if (m->proc_bpf) {
                _cleanup_(proc_snapshot_done) ProcSnapshot snap = {};

                /* A cold table: every process is new, and the full iterator reads
                 * their exe and command lines in the same pass. Only then: it reads
                 * every process's command line from its memory, which swaps in
                 * the argument pages of idle processes, under pressure too; a
                 * warm refresh reads those of new processes alone. */
                r = proc_bpf_snapshot(m->proc_bpf, !m->table_loaded, &snap);
                if (r >= 0)
                        r = proc_table_refresh_snapshot(m->procfd, f, &snap, &m->table);
                if (r >= 0) {
                        m->table_loaded = true;
                        return 0;
                }
                if (r == -EMFILE || r == -ENFILE || r == -ENOMEM) /* procfs would fail the same way */
                        return log_warning_errno(r, "cannot refresh the process table: %m");
                log_warning_errno(r, "BPF process snapshot failed, reading /proc from now on: %m");
                m->proc_bpf = proc_bpf_free(m->proc_bpf);
        }

        if (!m->table_loaded) {
                r = proc_table_scan_at(m->procfd, f, &m->table);
                if (r < 0)
                        return log_error_errno(r, "cannot read the process table: %m");
                m->table_loaded = true;
                return 0;
        }
        r = proc_table_refresh_at(m->procfd, f, &m->table);
        if (r < 0)
                return log_warning_errno(r, "cannot refresh the process table: %m");
        return 0;
}

/*
 * Where a stall comes from (cgroup-stall.h), for the planner's answer to a
 * stall without memory shortage: the cgroups below the managed root whose
 * own stall rate is at least half of the root's. Walked at every decision
 * above normal so that rates come from totals, not from avg10; at the
 * onset, before a second reading, the answer is "nowhere yet" (an empty
 * list: no stall-freeze this cycle). NULL when unknown (no cgroup2).
 */
static char **manager_stall_cgroups(Manager *m)
{
        _cleanup_close_ int fd = -1;
        char **list;
        bool exact;
        int r;

        if (!m->v2_mount || !m->last_sample.has_psi)
                return NULL;
        fd = fcntl(m->scope_fd >= 0 ? m->scope_fd : m->cgroup2_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return NULL;
        r = cg_stall_find_at(fd, m->scope_cgroup ? m->scope_cgroup : "/", m->last.psi_some_rate, &m->stall_history,
                             clock_usec(CLOCK_MONOTONIC), 64, &list, &exact);
        if (r < 0) {
                log_debug_errno(r, "cannot tell where the stall comes from: %m");
                return NULL;
        }
        if (log_get_max_level() >= LOG_DEBUG) {
                _cleanup_free_ char *joined = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&joined, &len);

                if (f) {
                        for (char **p = list; *p; p++)
                                fprintf(f, "%s%s", p == list ? "" : ",", *p);
                        fclose(f);
                        log_debug("stall rate=%.3f exact=%s in=%s", m->last.psi_some_rate, yes_no(exact),
                                  strempty(joined));
                }
        }
        if (!exact) {
                cg_stall_list_free(list);
                list = calloc(1, sizeof(char *));
                if (!list)
                        abort();
        }
        return list;
}

int manager_plan(Manager *m, Level level)
{
        ProcScanFilter f = manager_filter(m);
        char **stall = NULL;
        PlannerForeground fg;
        const AppState *states = NULL;
        size_t n_states = 0;
        PlannerInput in;
        int r;

        r = manager_refresh_table(m, &f);
        if (r < 0)
                return r;

        if (!m->last_sample.has_mem) {
                r = meminfo_read_at(m->procfd, &m->last_sample.mem);
                if (r < 0)
                        return log_error_errno(r, "cannot read /proc/meminfo: %m");
                m->last_sample.has_mem = true;
                if (m->scope)
                        scope_meminfo(m, &m->last_sample.mem);
        }
        if (m->actor)
                (void)actor_states(m->actor, &states, &n_states);

        m->never.protected_cgroups = (const char *const *)m->protected_cgroups;
        m->never.protected_pids = m->protected_pids;
        m->never.protected_start_times = m->protected_start_times;
        m->never.n_protected_pids = m->n_protected_pids;
        if (m->fg_pid > 0) {
                fg = (PlannerForeground){ .cgroup = m->fg_cgroup, .app_id = m->fg_own_app_id, .pids = &m->fg_pid,
                                          .n_pids = 1 };
        }

        in = (PlannerInput){
                .level = level,
                .foreground = m->fg_pid > 0 ? &fg : NULL,
                .mem = m->last_sample.mem,
                .table = &m->table,
                .rules = &m->config.rules,
                .never = &m->never,
                .states = states,
                .n_states = n_states,
                .now_usec = clock_usec(CLOCK_BOOTTIME),
                .clk_tck = (unsigned)sysconf(_SC_CLK_TCK),
        };
        if (m->actor) {
                actor_last_kill(m->actor, &in.last_kill_usec, &in.last_kill_expected_bytes);
                in.last_thaw_usec = actor_last_thaw(m->actor);
                in.last_restore_usec = actor_last_restore(m->actor);
        }
        if (m->checkpointer && level == LEVEL_NORMAL)
                (void)checkpointer_restorable(m->checkpointer, &in.checkpoints, &in.n_checkpoints);
        /* A stall is answered by freezing at critical and above; the walk
         * starts earlier so that its rates are measured by then. */
        if (level >= LEVEL_ELEVATED)
                stall = manager_stall_cgroups(m);
        in.stall_cgroups = stall;
        r = planner_plan(&m->config.planner, &in, &m->plan);
        cg_stall_list_free(stall);
        return r;
}

/*
 * Every action: one structured log line and one JSON event (eventlog_append
 * does both, so they never disagree), and a note in the open incident.
 */
static void on_action(void *userdata, const ActionRecord *rec)
{
        Manager *m = userdata;
        char reason[PLAN_REASON_MAX + 200];
        Event ev = {
                .action = rec->action,
                .target = { .pid = rec->pid, .has_uid = rec->pid > 0, .uid = rec->uid, .comm = rec->comm,
                            .app = rec->name, .unit = rec->unit },
                .reason = reason,
                .dry_run = rec->dry_run,
                .error = rec->result,
        };

        snprintf(reason, sizeof(reason), "%s%s%s", strempty(rec->reason), rec->detail ? "; " : "",
                 strempty(rec->detail));
        ev.figures[ev.n_figures++] = EVENT_FIGURE_U64("level", (uint64_t)rec->level);
        if (rec->expected_bytes > 0)
                ev.figures[ev.n_figures++] = EVENT_FIGURE_U64("expected_bytes", rec->expected_bytes);
        if (rec->rss_bytes > 0)
                ev.figures[ev.n_figures++] = EVENT_FIGURE_U64("rss_bytes", rec->rss_bytes);
        if (rec->swap_bytes > 0)
                ev.figures[ev.n_figures++] = EVENT_FIGURE_U64("swap_bytes", rec->swap_bytes);
        if (rec->trigger_to_action_usec > 0)
                ev.figures[ev.n_figures++] = EVENT_FIGURE_U64("trigger_to_action_us", rec->trigger_to_action_usec);
        (void)eventlog_append(m->eventlog, &ev);
        if (m->incidents)
                incident_note_action(m->incidents, &ev);
        manager_bus_action(m, rec);
}

/* Hooks are optional and never delay an action: fire and forget. */
static void run_hook(Manager *m, char **argv, const HookFacts *f)
{
        int r;

        if (!argv || !m->hooks)
                return;
        r = hook_run(m->hooks, argv, f, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "%s hook %s not run: %m", hook_event_to_string(f->event), argv[0]);
}

static void before_kills(Manager *m)
{
        for (size_t i = 0; i < m->plan.n_actions; i++) {
                const PlanAction *act = &m->plan.actions[i];
                const PlanApp *app = &m->plan.apps[act->app];
                const ProcEntry *e = &m->table.entries[app->leader];
                HookFacts f;

                if (act->type != PLAN_KILL && act->type != PLAN_CHECKPOINT)
                        continue;
                if (actor_is_killing(m->actor, &app->key))
                        continue; /* hooked when this kill started */
                hook_facts_init(&f, HOOK_EVENT_BEFORE_KILL);
                f.level = m->plan.level;
                f.pid = e->pid;
                f.has_uid = true;
                f.uid = e->uid;
                f.comm = e->comm;
                f.app = e->app_id ? e->app_id : e->unit;
                f.reason = act->reason;
                run_hook(m, m->config.hooks.before_kill, &f);
        }
}

/*
 * Before evicting: LowMemoryWarning 255 (GMemoryMonitor tells apps to free
 * memory), and an EvictionWarning to the owner's agents. memguard does not
 * wait for an answer under pressure; an answer within EVICTION_ANSWER_MS
 * (protect, postpone) applies to what comes next.
 */
#define EVICTION_ANSWER_MS 60000
static void warn_before_evictions(Manager *m)
{
        bool any = false;

        if (!m->bus)
                return;
        for (size_t i = 0; i < m->plan.n_actions; i++) {
                const PlanAction *act = &m->plan.actions[i];
                const PlanApp *app = &m->plan.apps[act->app];
                const ProcEntry *e = &m->table.entries[app->leader];
                BusAction what;

                switch (act->type) {
                case PLAN_FREEZE:
                        what = BUS_ACTION_FREEZE;
                        break;
                case PLAN_CHECKPOINT:
                        what = BUS_ACTION_CHECKPOINT;
                        break;
                case PLAN_KILL:
                        what = BUS_ACTION_KILL;
                        break;
                default:
                        continue;
                }
                if (actor_is_killing(m->actor, &app->key))
                        continue; /* warned when this kill started */
                if (!any)
                        (void)bus_lowmem_before_eviction(m->bus);
                any = true;
                (void)bus_emit_eviction_warning(m->bus, e->uid, e->pid, e->app_id ? e->app_id : e->comm, what,
                                                EVICTION_ANSWER_MS, act->reason, NULL);
        }
}

/* A snapshot of who uses memory now, for the incident report. */
static void take_snapshot(Manager *m, IncidentSnapshot *snap)
{
        incident_snapshot_init(snap, now_usec(), clock_usec(CLOCK_REALTIME));
        snap->score = m->last.score;
        if (m->last_sample.has_psi) {
                snap->psi_some_avg10 = m->last_sample.psi.some.avg10;
                snap->psi_full_avg10 = m->last_sample.psi.full.avg10;
        }
        if (m->last_sample.has_mem)
                incident_snapshot_set_mem(snap, &m->last_sample.mem);
        incident_snapshot_add_table(snap, &m->table);
}

/* Plan and act: called after a sample whenever pressure is up or something is frozen/throttled. */
static void manager_decide(Manager *m, uint64_t sample_usec, bool level_changed)
{
        Level level = m->lm.level;
        int r;

        /*
         * The damped level falls slowly on purpose (it is what users and apps
         * see). Killing is different: once the score itself no longer supports
         * critical (say a kill just relieved the pressure, and PSI and the
         * damped level lag), plan no further kills: act at high at most.
         */
        if (level >= LEVEL_CRITICAL &&
            MAX(level_for_score(&m->config.level, m->last.score), m->last.floor) < LEVEL_CRITICAL)
                level = LEVEL_HIGH;

        r = manager_plan(m, level);
        if (r < 0)
                return;
        if (m->incident_pending && m->incidents) {
                /* Static: 12 KiB, no allocation on the way to an action. */
                static IncidentSnapshot snap;
                take_snapshot(m, &snap);
                incident_begin(m->incidents, m->lm.level, &snap);
                m->incident_pending = false;
        }
        if (m->config_valid)
                manager_hibernate_check(m);
        if (m->plan.n_actions == 0 && m->plan.n_restores == 0) {
                if (m->config_valid)
                        actor_thaw_expired(m->actor, m->lm.level);
                return;
        }

        if (!m->config_valid) {
                if (level_changed) {
                        log_warning("monitoring only (invalid configuration): %zu planned action(s) not taken",
                                    m->plan.n_actions);
                        candidates_log(&m->plan, &m->table, 3);
                }
                return;
        }

        if (!(m->opts.dry_run || m->config.dry_run)) {
                before_kills(m);
                warn_before_evictions(m);
        }
        r = actor_execute(m->actor, &m->plan, &m->table, sample_usec, clock_usec(CLOCK_BOOTTIME));
        if (r > 0 || level_changed) {
                char f_level[32], f_need[48], f_planned[48], f_actions[32];
                snprintf(f_level, sizeof(f_level), "level=%s", level_to_string(m->plan.level));
                snprintf(f_need, sizeof(f_need), "need_bytes=%" PRIu64, m->plan.need_bytes);
                snprintf(f_planned, sizeof(f_planned), "planned_bytes=%" PRIu64, m->plan.planned_bytes);
                snprintf(f_actions, sizeof(f_actions), "actions=%zu", m->plan.n_actions);
                log_struct(LOG_INFO, "decision", f_level, f_need, f_planned, f_actions, NULL);
                candidates_log(&m->plan, &m->table, 3);
        }
}

/* A level change: the event log, the incident report and the hook. */
static void manager_level_records(Manager *m, Level old, Level new)
{
        char reason[64];
        Event ev = { .action = "level", .reason = reason };
        HookFacts f;

        snprintf(reason, sizeof(reason), "%s -> %s", level_to_string(old), level_to_string(new));
        ev.figures[ev.n_figures++] = EVENT_FIGURE_U64("level", (uint64_t)new);
        ev.figures[ev.n_figures++] = EVENT_FIGURE_U64("previous", (uint64_t)old);
        ev.figures[ev.n_figures++] = EVENT_FIGURE_DOUBLE("score", m->last.score);
        ev.figures[ev.n_figures++] = EVENT_FIGURE_DOUBLE("mem_available_pct", m->last.mem_available_percent);
        if (m->eventlog)
                (void)eventlog_append(m->eventlog, &ev) ;

        if (m->incidents) {
                if (old == LEVEL_NORMAL && !incident_active(m->incidents))
                        m->incident_pending = true;
                else
                        incident_level(m->incidents, new, m->last.score, now_usec());
                if (new == LEVEL_NORMAL && incident_active(m->incidents)) {
                        _cleanup_free_ char *path = NULL;
                        int r = incident_end(m->incidents, now_usec(), &path);
                        if (r > 0)
                                log_notice("incident report written: %s", path);
                        else if (r < 0)
                                log_warning_errno(r, "cannot write the incident report: %m");
                }
                if (new == LEVEL_NORMAL)
                        m->incident_pending = false;
        }

        hook_facts_init(&f, HOOK_EVENT_LEVEL_CHANGE);
        f.level = new;
        f.previous_level = old;
        f.score = m->last.score;
        run_hook(m, m->config.hooks.on_level_change, &f);
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
        else {
                s.has_mem = true;
                if (m->scope)
                        scope_meminfo(m, &s.mem);
        }

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

        log_debug("sample score=%.3f psi=%.3f some=%.3f full=%.3f avail=%.1f%% level=%s", m->last.score,
                  m->last.signal[SIGNAL_PSI], m->last.psi_some_rate, m->last.psi_full_rate,
                  m->last.mem_available_percent, level_to_string(new));

        m->last_sample = s;
        manager_bus_sample(m);
        if (changed) {
                /* For the hibernation decision: how long emergency has lasted. */
                m->emergency_since = new == LEVEL_EMERGENCY ? clock_usec(CLOCK_BOOTTIME) : 0;
                log_level_change(m, old, new);
                manager_level_records(m, old, new);
                manager_bus_level_changed(m, old, new);
        } else if (new == LEVEL_NORMAL && m->incidents && !m->fast &&
                   s.timestamp_usec - m->last_snapshot >= INCIDENT_SNAPSHOT_INTERVAL_USEC) {
                /* While calm, keep the last minute of who used memory (at heartbeat pace). */
                static IncidentSnapshot snap;
                m->last_snapshot = s.timestamp_usec;
                if (manager_plan(m, LEVEL_NORMAL) >= 0) {
                        take_snapshot(m, &snap);
                        incident_record(m->incidents, &snap);
                }
        }

        /* Decide at most once per fast interval, and only when there is something to decide. */
        if ((new > LEVEL_NORMAL || (m->actor && actor_has_state(m->actor))) &&
            (changed || s.timestamp_usec - m->last_decision >= m->config.trigger.fast_interval_usec)) {
                m->last_decision = s.timestamp_usec;
                manager_decide(m, s.timestamp_usec, changed);
        }

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
        if (m->actor)
                (void)actor_undo_all(m->actor, "memguard is stopping");
        return sd_event_exit(m->event, 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        return manager_reload(userdata, NULL), 0;
}

int manager_reload(Manager *m, char **ret_error)
{
        _cleanup_free_ char *error = NULL;
        Config c;
        TriggerParams old_trigger = m->config.trigger;
        int r;

        r = config_load_all(m->opts.system_mode, m->opts.config_path, &c, &error);
        if (r < 0) {
                log_error("reload failed, keeping the last good configuration: %s", strna(error));
                if (ret_error)
                        *ret_error = TAKE_PTR(error);
                return r;
        }
        config_done(&m->config);
        m->config = c;
        if (!m->config_valid)
                log_notice("valid configuration loaded: actions enabled again");
        m->config_valid = true;
        if (m->actor) {
                r = actor_set_dry_run(m->actor, m->opts.dry_run || m->config.dry_run);
                if (r < 0)
                        log_error_errno(r, "cannot leave dry-run mode (no frozen registry): %m");
        }
        log_set_max_level(m->opts.verbose ? LOG_DEBUG : m->config.log_level);
        log_info("configuration reloaded");
        if (m->bus)
                bus_properties_changed(m->bus, BUS_PROP_DRY_RUN);
        (void)manager_checkpoint_setup(m); /* the new config's planner params start without checkpoints */
        manager_hibernate_setup(m);

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

        {
                bool dry = m->opts.dry_run || m->config.dry_run;
                ActorOptions ao = {
                        .event = m->event,
                        .procfd = m->procfd,
                        .sysfd = m->sysfd,
                        .v2_mount = m->v2_mount,
                        .registry_path = NULL,
                        .system_mode = m->opts.system_mode,
                        .whole_machine = !m->scope,
                        .dry_run = dry,
                        .term_deadline_usec = {
                                [LEVEL_NORMAL] = m->config.actions.kill_timeout_usec,
                                [LEVEL_ELEVATED] = m->config.actions.kill_timeout_usec,
                                [LEVEL_HIGH] = m->config.actions.kill_timeout_usec,
                                [LEVEL_CRITICAL] = m->config.actions.kill_timeout_critical_usec,
                                [LEVEL_EMERGENCY] = m->config.actions.kill_timeout_emergency_usec,
                        },
                        .max_frozen_usec = m->config.actions.max_frozen_usec,
                };
                _cleanup_free_ char *self_abs = NULL;
                int thawed = 0;

                if (m->v2_mount && m->self_cgroup &&
                    asprintf(&self_abs, "%s%s", m->v2_mount, strcmp(m->self_cgroup, "/") == 0 ? "" : m->self_cgroup) < 0)
                        abort();
                ao.self_cgroup = self_abs;
                r = manager_registry_path(m->opts.system_mode, m->opts.state_dir, &m->registry_path);
                if (r < 0)
                        log_warning_errno(r, "no place for the frozen registry (no XDG_RUNTIME_DIR or HOME?): "
                                             "freezing disabled: %m");
                ao.registry_path = m->registry_path;
                r = actor_new(&ao, on_action, m, &m->actor, &thawed);
                if (r < 0)
                        return log_error_errno(r, "cannot set up actions: %m");
                if (thawed > 0)
                        log_notice("thawed %d app(s) a previous run left frozen", thawed);
        }

        r = state_dir_path(m->opts.system_mode, m->opts.state_dir, &m->state_dir);
        if (r < 0)
                log_warning("no state directory (XDG_STATE_HOME and HOME unset): no event log or incident reports");
        else {
                _cleanup_free_ char *incidents = NULL;
                r = eventlog_open(m->state_dir, m->config.records.event_log_max_bytes, m->config.records.event_log_keep,
                                  &m->eventlog);
                if (r < 0)
                        log_warning_errno(r, "cannot open the event log in %s, logging actions to the journal only: %m",
                                          m->state_dir);
                if (asprintf(&incidents, "%s/incidents", m->state_dir) < 0)
                        abort();
                r = incident_recorder_new(incidents, m->config.records.incidents_keep, &m->incidents);
                if (r < 0)
                        log_warning_errno(r, "cannot keep incident reports in %s: %m", incidents);
        }
        if (m->config_valid)
                (void)manager_checkpoint_setup(m);
        manager_hibernate_setup(m);
        r = hook_runner_new(m->event, m->config.hooks.timeout_usec, 4, true, &m->hooks);
        if (r < 0)
                log_warning_errno(r, "hooks unavailable: %m");

        (void)manager_bus_start(m);

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
