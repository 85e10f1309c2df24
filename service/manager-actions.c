/* SPDX-License-Identifier: MIT */
/*
 * The manager's wiring of the two optional last resorts: checkpoints with
 * criu (checkpointer.h) and emergency hibernation through logind
 * (hibernate.h). Both are off by default and both say once, at start or
 * reload, why they are off when they were asked for.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "build-config.h"
#include "checkpointer.h"
#include "hibernate.h"
#include "hooks.h"
#include "log.h"
#include "manager.h"
#include "time-util.h"

static void checkpoint_off(Manager *m, const char *why)
{
        char f_why[600];

        m->config.planner.checkpoint = false;
        if (m->checkpoint_off_logged)
                return;
        m->checkpoint_off_logged = true;
        snprintf(f_why, sizeof(f_why), "why=%s", why);
        log_struct(LOG_WARNING, "checkpoints unavailable: planned checkpoints are kills", f_why, NULL);
}

static void on_checkpoint_ready(void *userdata, bool available, const char *why)
{
        Manager *m = userdata;
        char f_why[CHECKPOINT_SUMMARY_MAX + 80], f_criu[4200];
        char text[CHECKPOINT_SUMMARY_MAX + 80];

        m->config.planner.checkpoint = available && m->config.actions.checkpoint && m->config_valid;
        snprintf(f_criu, sizeof(f_criu), "criu=%s", checkpointer_criu_path(m->checkpointer));
        if (available) {
                snprintf(f_why, sizeof(f_why), "check=%s", why);
                log_struct(LOG_NOTICE, "checkpoints available", f_criu, f_why, NULL);
                return;
        }
        m->checkpoint_off_logged = false; /* this is news: say it */
        snprintf(text, sizeof(text), "criu check failed (%s)", why);
        checkpoint_off(m, text);
}

/* Whether checkpoints can work here at all, before criu is asked. */
static const char *checkpoint_blocker(Manager *m)
{
        if (!ENABLE_CRIU)
                return "memguard was built without CRIU support (-Dcriu=disabled)";
        if (!m->opts.system_mode)
                return "checkpoints need system mode (criu runs as root)";
        if (geteuid() != 0)
                return "checkpoints need root";
        if (!m->state_dir)
                return "no state directory for the images";
        return NULL;
}

int manager_checkpoint_setup(Manager *m)
{
        _cleanup_free_ char *dir = NULL, *index = NULL;
        const char *blocker;
        char why[512];
        int r;

        m->config.planner.checkpoint = false;
        if (m->checkpointer) {
                /* Already running: a reload keeps it (criu= applies at the next start). */
                r = checkpointer_available(m->checkpointer, NULL);
                m->config.planner.checkpoint = r > 0 && m->config.actions.checkpoint;
                return 0;
        }
        blocker = checkpoint_blocker(m);
        if (blocker) {
                if (m->config.actions.checkpoint)
                        checkpoint_off(m, blocker);
                return 0;
        }
        if (asprintf(&dir, "%s/checkpoints", m->state_dir) < 0 || asprintf(&index, "%s/" CHECKPOINT_INDEX, dir) < 0)
                abort();
        /* Without checkpoint=true, only to restore (and drop) what an earlier run checkpointed. */
        if (!m->config.actions.checkpoint && access(index, F_OK) < 0)
                return 0;

        r = checkpointer_new(&(CheckpointerOptions){
                                     .event = m->event,
                                     .dir = dir,
                                     .criu = m->config.actions.criu ? m->config.actions.criu : "criu",
                                     .timeout_usec = m->config.actions.checkpoint_timeout_usec,
                                     .keep = m->config.actions.checkpoint_keep,
                                     .max_age_usec = m->config.actions.checkpoint_max_age_usec,
                                     .ready = on_checkpoint_ready,
                                     .userdata = m,
                             },
                             &m->checkpointer);
        if (r < 0) {
                if (r == -ENOENT)
                        snprintf(why, sizeof(why), "criu not found (criu=%s, PATH=%s)",
                                 m->config.actions.criu ? m->config.actions.criu : "criu", HOOK_PATH);
                else
                        snprintf(why, sizeof(why), "cannot use %s: %s", dir, STRERROR(r));
                if (m->config.actions.checkpoint)
                        checkpoint_off(m, why);
                else
                        log_warning("checkpoints of an earlier run cannot be restored: %s", why);
                return r;
        }
        if (m->actor)
                actor_set_checkpointer(m->actor, m->checkpointer);
        log_debug("checkpoints: %s, criu %s, asking `criu check`", dir, checkpointer_criu_path(m->checkpointer));
        return 0;
}

/* ---- emergency hibernation ---- */

void manager_hibernate_setup(Manager *m)
{
        const char *why = NULL;

        if (!m->config.actions.hibernate) {
                m->hibernate_off_logged = false;
                return;
        }
        if (!m->opts.system_mode)
                why = "user mode: only the system service may hibernate the machine";
        else if (m->scope)
                why = "a scope is managed (--scope or scope=), not the whole machine";
        if (why && !m->hibernate_off_logged) {
                char f_why[256];
                snprintf(f_why, sizeof(f_why), "why=%s", why);
                log_struct(LOG_NOTICE, "hibernate=true does not apply", f_why, NULL);
                m->hibernate_off_logged = true;
        }
        if (!why && !m->hibernator)
                m->hibernator = hibernator_new();
}

static void hibernate_event(Manager *m, const char *action, const char *reason, bool dry_run, int error)
{
        Event ev = {
                .action = action,
                .reason = reason,
                .dry_run = dry_run,
                .error = error,
        };

        ev.figures[ev.n_figures++] = EVENT_FIGURE_U64("level", (uint64_t)m->lm.level);
        ev.figures[ev.n_figures++] = EVENT_FIGURE_DOUBLE("score", m->last.score);
        (void)eventlog_append(m->eventlog, &ev);
}

static void on_hibernate_done(void *userdata, int result, const char *what)
{
        hibernate_event(userdata, "hibernate-result", what, false, result);
}

void manager_hibernate_check(Manager *m)
{
        HibernateParams p = {
                .enabled = m->config.actions.hibernate,
                .after_usec = m->config.actions.hibernate_after_usec,
                .interval_usec = m->config.actions.hibernate_interval_usec,
        };
        uint64_t now = clock_usec(CLOCK_BOOTTIME), last_kill, last_kill_bytes;
        bool dry_run = m->opts.dry_run || m->config.dry_run;
        HibernateInput in;
        char why[256];
        int r;

        if (!p.enabled || m->lm.level != LEVEL_EMERGENCY)
                return;
        if (m->emergency_since == 0)
                m->emergency_since = now; /* started at emergency */

        in = (HibernateInput){
                .level = m->plan.level,
                .system_mode = m->opts.system_mode,
                .scoped = m->scope != NULL,
                .acting = m->config_valid,
                .now_usec = now,
                .emergency_since_usec = m->emergency_since,
                .last_request_usec = m->last_hibernate,
                .need_bytes = m->plan.need_bytes,
                .planned_bytes = m->plan.planned_bytes,
        };
        for (size_t i = 0; i < m->plan.n_actions; i++) {
                PlanActionType t = m->plan.actions[i].type;
                in.n_evictions += t == PLAN_KILL || t == PLAN_CHECKPOINT || t == PLAN_FREEZE;
        }
        if (m->actor) {
                actor_last_kill(m->actor, &last_kill, &last_kill_bytes);
                if (last_kill && now < last_kill + m->config.planner.kill_cooldown_usec) {
                        in.inflight_bytes = last_kill_bytes;
                        in.n_evictions++;
                }
        }
        if (hibernate_decide(&p, &in, why, sizeof(why)) != HIBERNATE_NOW)
                return;

        if (dry_run) {
                m->last_hibernate = now;
                hibernate_event(m, "hibernate", why, true, 0);
                return;
        }
        if (!bus_connection(m->bus)) {
                /* Not a request: try again once the bus is (back) up. */
                if (!m->hibernate_nobus_logged)
                        log_warning("cannot hibernate (%s): no system bus connection yet", why);
                m->hibernate_nobus_logged = true;
                return;
        }
        m->hibernate_nobus_logged = false;
        m->last_hibernate = now;
        r = m->hibernator ? hibernator_request(m->hibernator, bus_connection(m->bus), on_hibernate_done, m)
                          : -EOPNOTSUPP;
        hibernate_event(m, "hibernate", why, false, r);
}
