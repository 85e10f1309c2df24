/* SPDX-License-Identifier: MIT */
/*
 * What the manager tells the bus: PropertiesChanged (coalesced: marked
 * dirty, flushed at most once per properties_interval_usec), the level and
 * process signals, and EvictionWarning, unicast to the owner's agents.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bus-internal.h"
#include "log.h"

/* ---- properties, coalesced ---- */

static int on_flush(sd_event_source *s, uint64_t usec, void *userdata)
{
        static const char *const names[] = {"PressureLevel",   "PressureScore", "Signals",
                                            "FrozenProcesses", "Foreground",    "DryRun"};
        Bus *b = userdata;
        const char *changed[ELEMENTSOF(names) + 1];
        size_t n = 0;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (b->dirty & (1u << i))
                        changed[n++] = names[i];
        changed[n] = NULL;
        b->dirty = 0;
        b->last_flush_usec = bus_now();
        if (n == 0 || b->state != BUS_CONNECTED)
                return 0;
        r = sd_bus_emit_properties_changed_strv(b->bus, BUS_PATH, BUS_INTERFACE, (char **)changed);
        if (r < 0)
                log_debug_errno(r, "cannot emit PropertiesChanged: %m");
        return 0;
}

void bus_properties_changed(Bus *b, unsigned mask)
{
        uint64_t when;
        int enabled = SD_EVENT_OFF, r;

        if (!b || !(mask & _BUS_PROP_ALL))
                return;
        b->dirty |= mask & _BUS_PROP_ALL;
        if (b->flush_timer && sd_event_source_get_enabled(b->flush_timer, &enabled) >= 0 &&
            enabled != SD_EVENT_OFF)
                return; /* a flush is already due */

        when = MAX(bus_now(), b->last_flush_usec + b->limits.properties_interval_usec);
        if (!b->flush_timer) {
                r = sd_event_add_time(b->event, &b->flush_timer, CLOCK_MONOTONIC, when, USEC_PER_MSEC,
                                      on_flush, b);
                if (r < 0) {
                        log_debug_errno(r, "cannot arm the properties timer: %m");
                        return;
                }
                (void)sd_event_source_set_priority(b->flush_timer, BUS_EVENT_PRIORITY);
                return;
        }
        (void)sd_event_source_set_time(b->flush_timer, when);
        (void)sd_event_source_set_enabled(b->flush_timer, SD_EVENT_ONESHOT);
}

/* ---- signals ---- */

int bus_emit_level_changed(Bus *b, Level old, Level new, double score)
{
        int r;

        if (!b)
                return -ENOTCONN;
        (void)lowmem_level_changed(b->lowmem, old, new, bus_now());
        bus_properties_changed(b, BUS_PROP_PRESSURE_LEVEL | BUS_PROP_PRESSURE_SCORE);
        if (b->state != BUS_CONNECTED)
                return -ENOTCONN;
        r = sd_bus_emit_signal(b->bus, BUS_PATH, BUS_INTERFACE, "PressureLevelChanged", "ssd",
                               strempty(level_to_string(new)), strempty(level_to_string(old)), score);
        return r < 0 ? log_debug_errno(r, "cannot emit PressureLevelChanged: %m") : 0;
}

int bus_emit_process_event(Bus *b, BusProcessEvent kind, pid_t pid, const char *app, uid_t uid,
                           const char *reason)
{
        static const char *const names[_BUS_EVENT_MAX] = {
                [BUS_EVENT_FROZEN] = "ProcessFrozen",
                [BUS_EVENT_THAWED] = "ProcessThawed",
                [BUS_EVENT_CHECKPOINTED] = "ProcessCheckpointed",
                [BUS_EVENT_KILLED] = "ProcessKilled",
        };
        int r;

        if (!b || kind < 0 || kind >= _BUS_EVENT_MAX)
                return -EINVAL;
        bus_properties_changed(b, BUS_PROP_FROZEN_PROCESSES);
        if (b->state != BUS_CONNECTED)
                return -ENOTCONN;
        r = sd_bus_emit_signal(b->bus, BUS_PATH, BUS_INTERFACE, names[kind], "usus", (uint32_t)pid,
                               strempty(app), (uint32_t)uid, strempty(reason));
        return r < 0 ? log_debug_errno(r, "cannot emit %s: %m", names[kind]) : 0;
}

static BusWarning *warning_slot(Bus *b)
{
        BusWarning *oldest = &b->warnings[0];
        uint64_t now = bus_now();

        for (int i = 0; i < BUS_MAX_WARNINGS; i++) {
                BusWarning *w = &b->warnings[i];

                if (!w->id[0] || w->expires_usec < now)
                        return w;
                if (w->expires_usec < oldest->expires_usec)
                        oldest = w;
        }
        return oldest;
}

int bus_emit_eviction_warning(Bus *b, uid_t uid, pid_t pid, const char *app, BusAction action,
                              uint32_t deadline_ms, const char *reason, char *ret_id)
{
        BusWarning *w;
        int sent = 0, r;

        if (!b || b->state != BUS_CONNECTED)
                return -ENOTCONN;

        w = warning_slot(b);
        snprintf(w->id, sizeof(w->id), "%" PRIu64, ++b->warning_counter);
        w->uid = uid;
        w->pid = pid;
        w->expires_usec = bus_now() + (uint64_t)deadline_ms * USEC_PER_MSEC;

        for (int i = 0; i < BUS_MAX_AGENTS; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                const BusAgent *a = &b->agents[i];

                if (!a->name[0] || a->uid != uid)
                        continue;
                r = sd_bus_message_new_signal(b->bus, &m, BUS_PATH, BUS_INTERFACE, "EvictionWarning");
                if (r >= 0)
                        r = sd_bus_message_set_destination(m, a->name);
                if (r >= 0)
                        r = sd_bus_message_append(m, "sussus", w->id, (uint32_t)pid, strempty(app),
                                                  strempty(bus_action_to_string(action)), deadline_ms,
                                                  strempty(reason));
                if (r >= 0)
                        r = sd_bus_send(b->bus, m, NULL);
                if (r < 0) {
                        log_debug_errno(r, "cannot warn agent %s: %m", a->name);
                        continue;
                }
                sent++;
        }
        if (ret_id)
                strcpy(ret_id, w->id);
        return sent;
}

int bus_lowmem_before_eviction(Bus *b)
{
        return b ? lowmem_before_eviction(b->lowmem, bus_now()) : -EINVAL;
}
