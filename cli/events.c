/* SPDX-License-Identifier: MIT */
/*
 * memguardctl events: one line per signal from memguard, with a timestamp
 * (or one JSON object per line with --json).
 *
 * The first line is the current level ("Current"), read after the matches
 * are in place so that nothing between the two is lost. With -f the stream
 * goes on until SIGINT or SIGTERM, and across restarts of memguard
 * (MemguardStopped / MemguardStarted lines); without -f it ends after the
 * first event, so a script can wait for the next thing memguard does.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "ctl.h"
#include "format.h"
#include "macro.h"

typedef struct Events {
        Ctl *ctl;
        sd_event *event;
        char *level; /* the last level reported, to print a change once */
        int dry_run; /* the last DryRun reported, -1 if unknown */
        CtlExit exit;
} Events;

/* Print one event. `fields` (consumed) go into the JSON object; `fmt` makes the text line. */
static void emit(Events *ev, const char *name, const char *tag, json_object *fields, bool initial,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void emit(Events *ev, const char *name, const char *tag, json_object *fields, bool initial,
                 const char *fmt, ...)
{
        uint64_t now = now_realtime_usec();
        char when[48];

        if (ev->ctl->json) {
                _cleanup_json_ json_object *o = json_object_new_object();

                format_iso8601(when, sizeof(when), now);
                json_object_object_add(o, "time", json_object_new_string(when));
                json_object_object_add(o, "timestamp_usec", json_object_new_uint64(now));
                json_object_object_add(o, "event", json_object_new_string(name));
                if (fields) {
                        json_object_object_foreach(fields, k, v)
                                json_object_object_add(o, k, json_object_get(v));
                }
                json_print(o, true);
        } else {
                _cleanup_free_ char *safe = NULL;
                char text[2048];
                va_list ap;

                va_start(ap, fmt);
                vsnprintf(text, sizeof(text), fmt, ap);
                va_end(ap);
                safe = text_sanitize(text);
                format_local_time(when, sizeof(when), now, true);
                printf("%s  %-12s %s\n", when, tag, safe);
        }
        fflush(stdout);
        json_object_put(fields);

        if (!initial && !ev->ctl->follow)
                sd_event_exit(ev->event, 0);
}

static void set_level(Events *ev, const char *level)
{
        free(ev->level);
        ev->level = xstrdup(level);
}

static bool level_is_new(const Events *ev, const char *level)
{
        return !ev->level || strcmp(ev->level, level) != 0;
}

static json_object *fields_process(uint32_t pid, const char *app, uint32_t uid, const char *reason)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "pid", json_object_new_int64(pid));
        json_object_object_add(o, "app", json_object_new_string(app));
        json_object_object_add(o, "uid", json_object_new_int64(uid));
        json_object_object_add(o, "reason", json_object_new_string(reason));
        return o;
}

static int on_manager_signal(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        static const struct {
                const char *member, *tag;
        } process_signals[] = {
                {"ProcessFrozen", "frozen"},
                {"ProcessThawed", "thawed"},
                {"ProcessCheckpointed", "checkpointed"},
                {"ProcessKilled", "killed"},
        };
        Events *ev = userdata;
        const char *member = strempty(sd_bus_message_get_member(m));
        const char *s1, *s2, *s3, *s4;
        uint32_t u1, u2, u3;
        double d;

        if (strcmp(member, "PressureLevelChanged") == 0 && sd_bus_message_read(m, "ssd", &s1, &s2, &d) > 0) {
                json_object *o;

                if (!level_is_new(ev, s1))
                        return 0; /* reported already from PropertiesChanged */
                set_level(ev, s1);
                o = json_object_new_object();
                json_object_object_add(o, "level", json_object_new_string(s1));
                json_object_object_add(o, "previous", json_object_new_string(s2));
                json_object_object_add(o, "score", json_object_new_double(d));
                emit(ev, member, "level", o, false, "%s (was %s, score %.2f)", s1, s2, d);
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(process_signals); i++)
                if (strcmp(member, process_signals[i].member) == 0 &&
                    sd_bus_message_read(m, "usus", &u1, &s1, &u2, &s2) > 0) {
                        emit(ev, member, process_signals[i].tag, fields_process(u1, s1, u2, s2), false,
                             "pid %" PRIu32 " %s (uid %" PRIu32 "): %s", u1, s1, u2, s2);
                        return 0;
                }
        if (strcmp(member, "EvictionWarning") == 0 &&
            sd_bus_message_read(m, "susuus", &s1, &u1, &s2, &s3, &u2, &s4) > 0) {
                json_object *o = fields_process(u1, s2, 0, s4);

                json_object_object_del(o, "uid");
                json_object_object_add(o, "warning_id", json_object_new_string(s1));
                json_object_object_add(o, "action", json_object_new_string(s3));
                json_object_object_add(o, "deadline_ms", json_object_new_int64(u2));
                emit(ev, member, "warning", o, false, "%s pid %" PRIu32 " %s in %" PRIu32 " ms: %s", s3, u1,
                     s2, u2, s4);
                return 0;
        }

        /* A signal this memguardctl does not know (or with unexpected arguments): print it as it is. */
        (void)sd_bus_message_rewind(m, true);
        {
                json_object *args = json_object_new_array(), *o = json_object_new_object();

                while (sd_bus_message_at_end(m, true) == 0) {
                        json_object *v = NULL;

                        if (bus_message_read_json(m, &v) < 0)
                                break;
                        json_object_array_add(args, v);
                }
                u3 = (uint32_t)json_object_array_length(args);
                json_object_object_add(o, "args", args);
                emit(ev, member, member, o, false, "%s (%" PRIu32 " arguments)",
                     json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN), u3);
        }
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Events *ev = userdata;
        const char *interface, *name;
        int r;

        r = sd_bus_message_read(m, "s", &interface);
        if (r <= 0 || strcmp(interface, MEMGUARD_INTERFACE) != 0)
                return 0;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return 0;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *s;
                int b;

                if (sd_bus_message_read(m, "s", &name) <= 0)
                        return 0;
                if (strcmp(name, "PressureLevel") == 0 && sd_bus_message_read(m, "v", "s", &s) > 0) {
                        if (level_is_new(ev, s)) {
                                json_object *o = json_object_new_object();

                                json_object_object_add(o, "property", json_object_new_string(name));
                                json_object_object_add(o, "level", json_object_new_string(s));
                                if (ev->level)
                                        json_object_object_add(o, "previous",
                                                               json_object_new_string(ev->level));
                                emit(ev, "PropertiesChanged", "level", o, false, "%s (was %s)", s,
                                     strna(ev->level));
                                set_level(ev, s);
                        }
                } else if (strcmp(name, "DryRun") == 0 && sd_bus_message_read(m, "v", "b", &b) > 0) {
                        if (ev->dry_run != !!b) {
                                json_object *o = json_object_new_object();

                                ev->dry_run = !!b;
                                json_object_object_add(o, "property", json_object_new_string(name));
                                json_object_object_add(o, "dry_run", json_object_new_boolean(b));
                                emit(ev, "PropertiesChanged", "dry-run", o, false, "%s", b ? "on" : "off");
                        }
                } else if (sd_bus_message_skip(m, "v") < 0)
                        return 0;
                if (sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        return 0;
}

/* DryRun, or -1 if it cannot be read. */
static int read_dry_run(Ctl *c)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int b;

        if (ctl_get_property(c, "DryRun", NULL, &reply) < 0 || sd_bus_message_read(reply, "v", "b", &b) <= 0)
                return -1;
        return !!b;
}

static int print_current(Events *ev, bool restarted)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *level, *dry;
        json_object *o;
        int r;

        r = ctl_get_property(ev->ctl, "PressureLevel", &e, &reply);
        if (r >= 0)
                r = sd_bus_message_read(reply, "v", "s", &level);
        if (r < 0) {
                if (restarted)
                        return 0; /* gone again already; its NameOwnerChanged will follow */
                ev->exit = ctl_bus_error(ev->ctl, &e, r, "read the pressure level");
                return r;
        }
        set_level(ev, level);
        ev->dry_run = read_dry_run(ev->ctl);
        dry = ev->dry_run > 0 ? ", dry run" : "";
        o = json_object_new_object();
        json_object_object_add(o, "level", json_object_new_string(level));
        if (ev->dry_run >= 0)
                json_object_object_add(o, "dry_run", json_object_new_boolean(ev->dry_run));
        if (restarted)
                emit(ev, "MemguardStarted", "memguard", o, true, "started on the %s bus: level %s%s",
                     ctl_bus_name(ev->ctl), level, dry);
        else
                emit(ev, "Current", "level", o, true, "%s (current%s, on the %s bus)", level, dry,
                     ctl_bus_name(ev->ctl));
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Events *ev = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) <= 0)
                return 0;
        if (strcmp(name, MEMGUARD_BUS_NAME) != 0)
                return 0;
        if (*old_owner && !*new_owner) {
                free(ev->level);
                ev->level = NULL;
                ev->dry_run = -1;
                if (!ev->ctl->follow) {
                        ev->exit = ctl_fail(CTL_EXIT_NOT_RUNNING, "memguard left the %s bus",
                                            ctl_bus_name(ev->ctl));
                        sd_event_exit(ev->event, 0);
                        return 0;
                }
                emit(ev, "MemguardStopped", "memguard", NULL, true, "left the %s bus",
                     ctl_bus_name(ev->ctl));
        } else if (*new_owner)
                (void)print_current(ev, true);
        return 0;
}

CtlExit cmd_events(Ctl *c, int argc, char **argv)
{
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Events ev = {.ctl = c, .dry_run = -1, .exit = CTL_EXIT_OK};
        sigset_t mask;
        CtlExit x;
        int r;

        if (argc > 0)
                return ctl_fail(CTL_EXIT_USAGE, "events takes no arguments (see --help)");
        x = ctl_connect(c);
        if (x != CTL_EXIT_OK)
                return x;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_new(&event);
        if (r < 0)
                return ctl_fail(CTL_EXIT_FAILED, "cannot create the event loop: %s", STRERROR(r));
        ev.event = event;
        r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_bus_attach_event(c->bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0) /* a lost connection ends the loop with EXIT_FAILURE */
                r = sd_bus_set_exit_on_disconnect(c->bus, true);
        if (r < 0)
                return ctl_fail(CTL_EXIT_FAILED, "cannot set up the event loop: %s", STRERROR(r));

        /* Floating matches: they live as long as the connection. */
        r = sd_bus_match_signal(c->bus, NULL, MEMGUARD_BUS_NAME, MEMGUARD_OBJECT, MEMGUARD_INTERFACE, NULL,
                                on_manager_signal, &ev);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, NULL, MEMGUARD_BUS_NAME, MEMGUARD_OBJECT,
                                        "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                        on_properties_changed, &ev);
        if (r >= 0)
                r = sd_bus_add_match(
                        c->bus, NULL,
                        "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                        "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" MEMGUARD_BUS_NAME
                        "'",
                        on_name_owner_changed, &ev);
        if (r < 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                return ctl_bus_error(c, &e, r, "subscribe to memguard's signals");
        }

        r = print_current(&ev, false);
        if (r < 0) {
                free(ev.level);
                return ev.exit;
        }

        r = sd_event_loop(event);
        free(ev.level);
        if (ev.exit != CTL_EXIT_OK)
                return ev.exit;
        if (r < 0)
                return ctl_fail(CTL_EXIT_FAILED, "event loop failed: %s", STRERROR(r));
        if (r == EXIT_FAILURE)
                return ctl_fail(CTL_EXIT_NOT_RUNNING, "lost the connection to the %s bus", ctl_bus_name(c));
        return CTL_EXIT_OK;
}
