/* SPDX-License-Identifier: MIT */
/*
 * The manager's side of the bus: the BusOps the Bus calls (thin: they read
 * the manager's state, or plan one cycle and hand one action to the actor),
 * and the calls that tell the Bus what happened. The Bus itself (bus*.c)
 * owns the connection, the vtable, polkit and the rate limits.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "time-util.h"
#include "cgroup-util.h"
#include "fileio.h"
#include "freezer.h"
#include "log.h"
#include "manager.h"

static void get_state(void *userdata, BusState *ret)
{
        Manager *m = userdata;
        FrozenProcess *rows = NULL;
        size_t n = 0;

        free(m->bus_frozen);
        m->bus_frozen = NULL;
        m->n_bus_frozen = 0;
        if (m->actor && actor_freezer(m->actor) && freezer_list(actor_freezer(m->actor), &rows, &n) >= 0 && n > 0) {
                m->bus_frozen = xmalloc0(n * sizeof(BusFrozen));
                for (size_t i = 0; i < n; i++) {
                        const ProcEntry *e = proc_table_find(&m->table, rows[i].pid);
                        m->bus_frozen[i] = (BusFrozen){
                                .pid = rows[i].pid,
                                .app = rows[i].name ? rows[i].name : rows[i].key,
                                .uid = rows[i].uid,
                                .since_usec = rows[i].since * USEC_PER_SEC,
                                .bytes = e ? e->rss_anon + e->rss_file + e->rss_shmem + e->swap : 0,
                        };
                }
                m->n_bus_frozen = n;
        }
        free(rows);

        *ret = (BusState){
                .level = m->lm.level,
                .pressure = m->n_samples > 0 ? &m->last : NULL,
                .dry_run = m->opts.dry_run || m->config.dry_run,
                .acting = m->config_valid,
                .frozen = m->bus_frozen,
                .n_frozen = m->n_bus_frozen,
                .fg_pid = m->fg_pid,
                .fg_app_id = m->fg_app_id,
                .fg_cgroup = m->fg_cgroup,
        };
}

static int list_candidates(void *userdata, const BusCandidate **ret, size_t *ret_n, sd_bus_error *error)
{
        Manager *m = userdata;
        int r;

        r = manager_plan(m, m->lm.level);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_FAILED, "cannot read the process table: %s", STRERROR(r));

        free(m->bus_candidates);
        m->bus_candidates = xmalloc0(MAX(m->plan.n_apps, (size_t)1) * sizeof(BusCandidate));
        m->n_bus_candidates = 0;
        for (size_t i = 0; i < m->plan.n_apps; i++) {
                const PlanApp *app = &m->plan.apps[i];
                const ProcEntry *e = &m->table.entries[app->leader];
                PlanCandidate c;

                if (plan_get_candidate(&m->plan, &m->table, i, &c) < 0)
                        continue;
                m->bus_candidates[m->n_bus_candidates++] = (BusCandidate){
                        .pid = c.pid,
                        .uid = c.uid,
                        .comm = c.comm,
                        .exe = c.exe,
                        .unit = c.unit,
                        .app_id = e->app_id,
                        .rss_bytes = c.rss_bytes,
                        .swap_bytes = c.swap_bytes,
                        .priority = (unsigned)MAX(c.priority, 0),
                        .protected_ = c.protected,
                        .reason = c.reason,
                };
        }
        *ret = m->bus_candidates;
        *ret_n = m->n_bus_candidates;
        return 0;
}

/* The process as the kernel shows it now: stat (identity, kernel thread) and status (owner). */
static int read_target(Manager *m, pid_t pid, ProcStat *ret_stat, ProcStatus *ret_status)
{
        char path[64], buf[4096];
        ssize_t n;
        int r;

        snprintf(path, sizeof(path), "%d/stat", (int)pid);
        n = read_file_at(m->procfd, path, buf, sizeof(buf));
        if (n < 0)
                return -ESRCH;
        r = proc_stat_parse(buf, (size_t)n, ret_stat);
        if (r < 0)
                return -ESRCH;
        snprintf(path, sizeof(path), "%d/status", (int)pid);
        n = read_file_at(m->procfd, path, buf, sizeof(buf));
        if (n < 0)
                return -ESRCH;
        r = proc_status_parse(buf, (size_t)n, ret_status);
        return r < 0 ? -ESRCH : 0;
}

/* The app `pid` belongs to in a fresh plan, or -ESRCH (not managed, or a different process now). */
static int find_app(Manager *m, pid_t pid, uint64_t start_time, size_t *ret_app)
{
        int r = manager_plan(m, m->lm.level);

        if (r < 0)
                return r;
        for (size_t k = 0; k < m->plan.n_apps; k++) {
                const PlanApp *a = &m->plan.apps[k];
                for (size_t i = 0; i < a->n_members; i++) {
                        const ProcEntry *e = &m->table.entries[m->plan.members[a->first_member + i]];
                        if (e->pid == pid && e->start_time == start_time) {
                                *ret_app = k;
                                return 0;
                        }
                }
        }
        return -ESRCH;
}

static int validate_target(void *userdata, BusAction action, pid_t pid, uid_t caller_uid, BusTarget *ret,
                           sd_bus_error *error)
{
        Manager *m = userdata;
        ProcStatus status;
        ProcStat st;
        size_t k;
        int r;

        if (pid <= 0)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "no process %d", (int)pid);
        r = read_target(m, pid, &st, &status);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "no process %d", (int)pid);
        if (pid == 1)
                return sd_bus_error_setf(error, BUS_ERROR_NEVER_TARGET, "process 1 is never a target");
        if (st.flags & PROC_PF_KTHREAD)
                return sd_bus_error_setf(error, BUS_ERROR_NEVER_TARGET, "process %d is a kernel thread", (int)pid);
        if (pid == getpid())
                return sd_bus_error_setf(error, BUS_ERROR_NEVER_TARGET, "process %d is memguard itself", (int)pid);
        if (m->bus && bus_is_infrastructure_pid(m->bus, pid))
                return sd_bus_error_setf(error, BUS_ERROR_NEVER_TARGET,
                                         "process %d is the bus daemon, polkitd or logind", (int)pid);

        /* Acting needs the process among those memguard manages, and not on the never-target list. */
        if (action == BUS_ACTION_FREEZE || action == BUS_ACTION_KILL || action == BUS_ACTION_PROTECT) {
                const char *why = NULL;
                const PlanApp *app;

                r = find_app(m, pid, st.start_time, &k);
                if (r == -ESRCH)
                        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS,
                                                 "process %d is not among the processes this memguard manages",
                                                 (int)pid);
                if (r < 0)
                        return sd_bus_error_setf(error, BUS_ERROR_FAILED, "cannot read the process table: %s",
                                                 STRERROR(r));
                app = &m->plan.apps[k];
                why = app->never_why;
                if (why && action != BUS_ACTION_PROTECT)
                        return sd_bus_error_setf(error, BUS_ERROR_NEVER_TARGET, "process %d is never a target: %s",
                                                 (int)pid, why);
        }

        *ret = (BusTarget){ .pid = pid, .uid = status.uid, .start_time = st.start_time };
        return 0;
}

/* Protect an app at runtime; `temporary` ones (a "postpone" answer) end when pressure is normal again. */
static int add_runtime_protect(Manager *m, const PlanApp *app, bool temporary)
{
        if (app->key.cgroup) {
                char *cg = strndup(app->key.cgroup, app->key.cgroup_len);
                char **n;
                bool *t;
                if (!cg)
                        abort();
                for (size_t i = 0; i < m->n_protected_cgroups; i++)
                        if (strcmp(m->protected_cgroups[i], cg) == 0) {
                                m->protected_cgroup_temp[i] = m->protected_cgroup_temp[i] && temporary;
                                free(cg);
                                return 0;
                        }
                n = realloc(m->protected_cgroups, (m->n_protected_cgroups + 2) * sizeof(char *));
                t = realloc(m->protected_cgroup_temp, (m->n_protected_cgroups + 1) * sizeof(bool));
                if (!n || !t)
                        abort();
                m->protected_cgroups = n;
                m->protected_cgroup_temp = t;
                t[m->n_protected_cgroups] = temporary;
                n[m->n_protected_cgroups++] = cg;
                n[m->n_protected_cgroups] = NULL;
        } else {
                pid_t *p = realloc(m->protected_pids, (m->n_protected_pids + 1) * sizeof(pid_t));
                uint64_t *t = realloc(m->protected_start_times, (m->n_protected_pids + 1) * sizeof(uint64_t));
                bool *tmp = realloc(m->protected_pid_temp, (m->n_protected_pids + 1) * sizeof(bool));
                if (!p || !t || !tmp)
                        abort();
                m->protected_pids = p;
                m->protected_start_times = t;
                m->protected_pid_temp = tmp;
                p[m->n_protected_pids] = app->key.pid;
                tmp[m->n_protected_pids] = temporary;
                t[m->n_protected_pids++] = app->key.start_time;
        }
        return 0;
}

/* Drop entry i of the runtime protect lists (pids or cgroups). */
static void drop_protected_pid(Manager *m, size_t i)
{
        size_t last = --m->n_protected_pids;
        m->protected_pids[i] = m->protected_pids[last];
        m->protected_start_times[i] = m->protected_start_times[last];
        m->protected_pid_temp[i] = m->protected_pid_temp[last];
}

static void drop_protected_cgroup(Manager *m, size_t i)
{
        size_t last = --m->n_protected_cgroups;
        free(m->protected_cgroups[i]);
        m->protected_cgroups[i] = m->protected_cgroups[last];
        m->protected_cgroup_temp[i] = m->protected_cgroup_temp[last];
        m->protected_cgroups[last] = NULL;
}

static void remove_runtime_protect(Manager *m, const ProcEntry *e)
{
        for (size_t i = 0; i < m->n_protected_pids;)
                if (m->protected_pids[i] == e->pid && m->protected_start_times[i] == e->start_time)
                        drop_protected_pid(m, i);
                else
                        i++;
        for (size_t i = 0; i < m->n_protected_cgroups;) {
                size_t len = strlen(m->protected_cgroups[i]);
                if (e->cgroup && strncmp(e->cgroup, m->protected_cgroups[i], len) == 0 &&
                    (e->cgroup[len] == 0 || e->cgroup[len] == '/'))
                        drop_protected_cgroup(m, i);
                else
                        i++;
        }
}

static int act(void *userdata, BusAction action, const BusTarget *target, uid_t caller_uid, sd_bus_error *error)
{
        Manager *m = userdata;
        char reason[128];
        size_t k;
        int r;

        r = find_app(m, target->pid, target->start_time, &k);
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS,
                                         "process %d is gone or not managed by this memguard", (int)target->pid);
        snprintf(reason, sizeof(reason), "asked over D-Bus by uid %u", (unsigned)caller_uid);

        switch (action) {
        case BUS_ACTION_FREEZE:
                if (actor_is_frozen(m->actor, &m->plan.apps[k].key))
                        return 0;
                r = actor_act_app(m->actor, &m->plan, &m->table, k, PLAN_FREEZE, reason);
                break;
        case BUS_ACTION_THAW:
                /* In a dry run nothing was frozen: report what would be done, as for freeze. */
                if (!(m->opts.dry_run || m->config.dry_run) && !actor_is_frozen(m->actor, &m->plan.apps[k].key))
                        return sd_bus_error_setf(error, BUS_ERROR_FAILED, "process %d is not frozen by memguard",
                                                 (int)target->pid);
                r = actor_act_app(m->actor, &m->plan, &m->table, k, PLAN_THAW, reason);
                break;
        case BUS_ACTION_KILL:
                r = actor_act_app(m->actor, &m->plan, &m->table, k, PLAN_KILL, reason);
                break;
        case BUS_ACTION_PROTECT:
                r = add_runtime_protect(m, &m->plan.apps[k], false);
                log_notice("app of process %d protected at runtime (%s)", (int)target->pid, reason);
                break;
        case BUS_ACTION_UNPROTECT: {
                const ProcEntry *e = proc_table_find(&m->table, target->pid);
                if (e)
                        remove_runtime_protect(m, e);
                log_notice("app of process %d no longer protected at runtime (%s)", (int)target->pid, reason);
                r = 0;
                break;
        }
        default:
                return sd_bus_error_set(error, BUS_ERROR_NOT_SUPPORTED, "not supported");
        }
        if (r == -EOPNOTSUPP)
                return sd_bus_error_setf(error, BUS_ERROR_NOT_SUPPORTED, "%s is not available for this process here",
                                         bus_action_to_string(action));
        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_FAILED, "%s failed: %s", bus_action_to_string(action),
                                         STRERROR(r));
        return 0;
}

static int set_foreground(void *userdata, const BusTarget *target, const char *app_id, uid_t caller_uid,
                          sd_bus_error *error)
{
        Manager *m = userdata;
        char path[64];
        _cleanup_free_ char *buf = NULL, *cg = NULL, *unit = NULL, *own_app_id = NULL;
        size_t size, len;

        snprintf(path, sizeof(path), "%d/cgroup", (int)target->pid);
        if (read_full_file_at(m->procfd, path, 1 << 16, &buf, &size) >= 0)
                (void)cg_v2_path_parse(buf, size, &cg);

        /*
         * The hint shields the app of this process, nothing more: its own app
         * unit if it has one (never a login session or a terminal's cgroup),
         * else the process alone. The app id is taken from the process's own
         * unit name, never from the caller, who could name someone else's app.
         */
        if (cg) {
                (void)proc_unit_from_cgroup(cg, &unit, &own_app_id);
                if (rules_cgroup_app_unit(cg, &len))
                        cg[len] = 0;
                else
                        cg = mfree(cg);
        }
        if (app_id && *app_id && (!own_app_id || strcmp(app_id, own_app_id) != 0))
                log_debug("foreground hint names app %s, but process %d belongs to %s: shielding the process's",
                          app_id, (int)target->pid, strna(own_app_id));

        m->fg_pid = target->pid;
        free(m->fg_app_id);
        m->fg_app_id = app_id && *app_id ? xstrdup(app_id) : xstrdup(own_app_id); /* shown as the hint said */
        free(m->fg_own_app_id);
        m->fg_own_app_id = TAKE_PTR(own_app_id); /* what the planner matches */
        free(m->fg_cgroup);
        m->fg_cgroup = TAKE_PTR(cg);
        log_info("foreground: pid %d app %s cgroup %s (from uid %u)", (int)target->pid, strna(m->fg_app_id),
                 strna(m->fg_cgroup), (unsigned)caller_uid);
        bus_properties_changed(m->bus, BUS_PROP_FOREGROUND);

        /* A frozen app that becomes foreground is thawed at once. */
        if (m->actor && actor_has_state(m->actor) && manager_plan(m, m->lm.level) >= 0 && m->plan.n_actions > 0 &&
            m->config_valid)
                (void)actor_execute(m->actor, &m->plan, &m->table, clock_usec(CLOCK_MONOTONIC),
                                    clock_usec(CLOCK_BOOTTIME));
        return 0;
}

/*
 * An agent answered an EvictionWarning. memguard does not wait under
 * pressure (the warning's deadline is 0), so the answer is about what
 * happens next: "protect" protects the app for the rest of this run,
 * "postpone" protects it until pressure is back to normal, "allow" changes
 * nothing.
 */
static int respond_to_warning(void *userdata, const char *warning_id, pid_t pid, BusWarningResponse response,
                              uid_t caller_uid, sd_bus_error *error)
{
        Manager *m = userdata;
        ProcStatus status;
        ProcStat st;
        size_t k;

        if (response == BUS_RESPONSE_ALLOW)
                return 0;
        if (read_target(m, pid, &st, &status) < 0 || find_app(m, pid, st.start_time, &k) < 0)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS,
                                         "process %d of warning %s is gone", (int)pid, warning_id);
        (void)add_runtime_protect(m, &m->plan.apps[k], response == BUS_RESPONSE_POSTPONE);
        log_notice("warning %s answered %s by uid %u: app of process %d protected%s", warning_id,
                   response == BUS_RESPONSE_POSTPONE ? "postpone" : "protect", (unsigned)caller_uid, (int)pid,
                   response == BUS_RESPONSE_POSTPONE ? " until pressure is normal again" : "");
        return 0;
}

static int reload(void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        _cleanup_free_ char *msg = NULL;
        int r = manager_reload(m, &msg);

        if (r < 0)
                return sd_bus_error_setf(error, BUS_ERROR_FAILED, "%s", msg ? msg : "reload failed");
        return 0;
}

static const BusOps bus_ops = {
        .get_state = get_state,
        .list_candidates = list_candidates,
        .validate_target = validate_target,
        .act = act,
        .set_foreground = set_foreground,
        .respond_to_warning = respond_to_warning,
        .reload = reload,
};

int manager_bus_start(Manager *m)
{
        int r;

        if (m->opts.system_mode) {
                /* polkit-gobject needs GLib's main context: it runs inside our sd-event loop. */
                r = glib_loop_attach(m->event, &m->glib);
                if (r < 0)
                        return log_warning_errno(r, "cannot embed GLib in the event loop, no D-Bus API: %m");
        }
        r = bus_new(m->event, m->opts.system_mode, &bus_ops, m, &m->bus);
        if (r < 0)
                return log_warning_errno(r, "no D-Bus API: %m");
        return 0;
}

void manager_bus_stop(Manager *m)
{
        m->bus = bus_free(m->bus);
        m->glib = glib_loop_free(m->glib);
        free(m->bus_candidates);
        m->bus_candidates = NULL;
        free(m->bus_frozen);
        m->bus_frozen = NULL;
}

void manager_bus_sample(Manager *m)
{
        if (m->bus)
                bus_properties_changed(m->bus, BUS_PROP_PRESSURE_SCORE | BUS_PROP_SIGNALS);
}

void manager_bus_level_changed(Manager *m, Level old, Level new)
{
        /* "Postpone" answers last until pressure is normal again. */
        if (new == LEVEL_NORMAL) {
                for (size_t i = m->n_protected_pids; i > 0; i--)
                        if (m->protected_pid_temp[i - 1])
                                drop_protected_pid(m, i - 1);
                for (size_t i = m->n_protected_cgroups; i > 0; i--)
                        if (m->protected_cgroup_temp[i - 1])
                                drop_protected_cgroup(m, i - 1);
        }
        if (!m->bus)
                return;
        (void)bus_emit_level_changed(m->bus, old, new, m->last.score);
        bus_properties_changed(m->bus, BUS_PROP_PRESSURE_LEVEL);
}

void manager_bus_action(Manager *m, const ActionRecord *rec)
{
        BusProcessEvent kind;

        if (!m->bus || rec->dry_run || rec->result < 0)
                return;
        switch (rec->type) {
        case PLAN_FREEZE:
                kind = BUS_EVENT_FROZEN;
                break;
        case PLAN_THAW:
                kind = BUS_EVENT_THAWED;
                break;
        case PLAN_KILL:
        case PLAN_CHECKPOINT:
                /* The signal goes out when the kill has finished. */
                if (strcmp(rec->action, "kill-result") != 0)
                        return;
                kind = BUS_EVENT_KILLED;
                break;
        default:
                return;
        }
        (void)bus_emit_process_event(m->bus, kind, rec->pid, rec->name ? rec->name : strna(rec->comm), rec->uid,
                                     strempty(rec->reason));
        if (kind == BUS_EVENT_FROZEN || kind == BUS_EVENT_THAWED)
                bus_properties_changed(m->bus, BUS_PROP_FROZEN_PROCESSES);
}
