/* SPDX-License-Identifier: MIT */
/*
 * A small org.memguard.Manager client for the bus tests (sd-bus, on the bus
 * that DBUS_SYSTEM_BUS_ADDRESS names, or the session bus with --user). It
 * prints error *names*, which busctl does not.
 *
 *   bus-client [--user] call METHOD [ARGS...]
 *       GetStatus | ListCandidates | RegisterAgent | Reload
 *       Freeze|Thaw|Kill PID [KEY=TYPE:VALUE...]     options, TYPE one of b i s
 *       Protect PID true|false [KEY=TYPE:VALUE...]
 *       SetForeground PID APP_ID
 *       RespondToWarning ID RESPONSE
 *     prints "OK ..." (exit 0) or "ERROR <name>: <message>" (exit 1)
 *   bus-client agent [RESPONSE] [TIMEOUT_S]
 *     RegisterAgent, print "registered", wait for an EvictionWarning and print
 *     "warning ID PID APP ACTION DEADLINE_MS REASON"; answer it if RESPONSE
 *     is given ("answer OK" / "answer ERROR name"). Exit 2 on timeout.
 *   bus-client watch SECONDS
 *     print every signal from org.memguard and LowMemoryWarning for SECONDS,
 *     then "properties-changed N"
 *   bus-client hold NAME SECONDS
 *     own NAME (print "holding", or "ERROR name" and exit 1) for SECONDS
 *   bus-client flood N METHOD [PID]
 *     N calls of GetStatus or Freeze PID, up to 64 in flight; prints
 *     "sent N ok A rate_limited B other C" and the other error names
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#define NAME "org.memguard"
#define PATH "/org/memguard"
#define IFACE "org.memguard.Manager"

#define _cleanup_(f) __attribute__((cleanup(f)))

static bool user_bus;

static void freep(void *p)
{
        free(*(void **)p);
}

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int open_bus(sd_bus **ret)
{
        int r = user_bus ? sd_bus_open_user(ret) : sd_bus_open_system(ret);

        if (r < 0)
                fprintf(stderr, "cannot connect to the bus: %s\n", strerror(-r));
        return r;
}

static int append_options(sd_bus_message *m, int argc, char **argv)
{
        int r = sd_bus_message_open_container(m, 'a', "{sv}");

        for (int i = 0; r >= 0 && i < argc; i++) {
                char key[64], type;
                const char *value;

                if (sscanf(argv[i], "%63[^=]=%c:", key, &type) != 2 || !(value = strchr(argv[i], ':')))
                        return -EINVAL;
                value++;
                if (type == 'b')
                        r = sd_bus_message_append(m, "{sv}", key, "b", (int)(strcmp(value, "true") == 0));
                else if (type == 'i')
                        r = sd_bus_message_append(m, "{sv}", key, "i", (int32_t)atoi(value));
                else
                        r = sd_bus_message_append(m, "{sv}", key, "s", value);
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int build_call(sd_bus *bus, const char *method, int argc, char **argv, sd_bus_message **ret)
{
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, NAME, PATH, IFACE, method);
        if (r < 0)
                return r;
        if (!strcmp(method, "Freeze") || !strcmp(method, "Thaw") || !strcmp(method, "Kill")) {
                if (argc < 1)
                        return -EINVAL;
                r = sd_bus_message_append(m, "u", (uint32_t)strtoul(argv[0], NULL, 0));
                if (r >= 0)
                        r = append_options(m, argc - 1, argv + 1);
        } else if (!strcmp(method, "Protect")) {
                if (argc < 2)
                        return -EINVAL;
                r = sd_bus_message_append(m, "ub", (uint32_t)strtoul(argv[0], NULL, 0),
                                          (int)(strcmp(argv[1], "true") == 0));
                if (r >= 0)
                        r = append_options(m, argc - 2, argv + 2);
        } else if (!strcmp(method, "SetForeground")) {
                if (argc < 2)
                        return -EINVAL;
                r = sd_bus_message_append(m, "us", (uint32_t)strtoul(argv[0], NULL, 0), argv[1]);
        } else if (!strcmp(method, "RespondToWarning")) {
                if (argc < 2)
                        return -EINVAL;
                r = sd_bus_message_append(m, "ss", argv[0], argv[1]);
        }
        if (r < 0) {
                sd_bus_message_unref(m);
                return r;
        }
        *ret = m;
        return 0;
}

static void print_reply(const char *method, sd_bus_message *reply)
{
        if (!strcmp(method, "GetStatus")) {
                const char *key;

                printf("OK");
                if (sd_bus_message_enter_container(reply, 'a', "{sv}") < 0)
                        goto out;
                while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                        const char *contents, *s;
                        char type;
                        double d;
                        uint32_t u;
                        int b;

                        sd_bus_message_read(reply, "s", &key);
                        sd_bus_message_peek_type(reply, &type, &contents);
                        if (!strcmp(contents, "s") && sd_bus_message_read(reply, "v", "s", &s) >= 0)
                                printf(" %s=%s", key, s);
                        else if (!strcmp(contents, "d") && sd_bus_message_read(reply, "v", "d", &d) >= 0)
                                printf(" %s=%g", key, d);
                        else if (!strcmp(contents, "u") && sd_bus_message_read(reply, "v", "u", &u) >= 0)
                                printf(" %s=%u", key, u);
                        else if (!strcmp(contents, "b") && sd_bus_message_read(reply, "v", "b", &b) >= 0)
                                printf(" %s=%s", key, b ? "true" : "false");
                        else
                                sd_bus_message_skip(reply, "v");
                        sd_bus_message_exit_container(reply);
                }
        } else if (!strcmp(method, "ListCandidates")) {
                uint32_t pid, uid, prio;
                const char *comm, *exe, *unit, *app, *reason;
                uint64_t rss, swap;
                int prot;
                unsigned n = 0;

                printf("OK\n");
                if (sd_bus_message_enter_container(reply, 'a', "(uussssttubs)") < 0)
                        goto out;
                while (sd_bus_message_read(reply, "(uussssttubs)", &pid, &uid, &comm, &exe, &unit, &app,
                                           &rss, &swap, &prio, &prot, &reason) > 0) {
                        printf("candidate pid=%u uid=%u comm=%s\n", pid, uid, comm);
                        n++;
                }
                printf("candidates %u", n);
        } else
                printf("OK");
out:
        printf("\n");
}

static int cmd_call(int argc, char **argv)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (argc < 1)
                return 2;
        if (open_bus(&bus) < 0)
                return 3;
        r = build_call(bus, argv[0], argc - 1, argv + 1, &m);
        if (r < 0) {
                fprintf(stderr, "bad arguments for %s\n", argv[0]);
                return 2;
        }
        r = sd_bus_call(bus, m, 10 * 1000000, &error, &reply);
        if (r < 0) {
                printf("ERROR %s: %s\n", error.name ? error.name : "(none)",
                       error.message ? error.message : "");
                r = 1;
        } else {
                print_reply(argv[0], reply);
                r = 0;
        }
        return r;
}

static int on_warning(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        char **id = userdata;
        const char *wid, *app, *action, *reason;
        uint32_t pid, deadline;

        if (sd_bus_message_read(m, "sussus", &wid, &pid, &app, &action, &deadline, &reason) < 0)
                return 0;
        printf("warning %s %u %s %s %u %s\n", wid, pid, app, action, deadline, reason);
        fflush(stdout);
        *id = strdup(wid);
        return 0;
}

static int cmd_agent(int argc, char **argv)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *response = argc > 0 ? argv[0] : NULL;
        uint64_t deadline = now_usec() + (uint64_t)(argc > 1 ? atoi(argv[1]) : 20) * 1000000;
        _cleanup_(freep) char *id = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (open_bus(&bus) < 0)
                return 3;
        r = sd_bus_match_signal(bus, NULL, NULL, PATH, IFACE, "EvictionWarning", on_warning, &id);
        if (r >= 0)
                r = sd_bus_call_method(bus, NAME, PATH, IFACE, "RegisterAgent", &error, NULL, NULL);
        if (r < 0) {
                printf("ERROR %s: %s\n", error.name ? error.name : "(none)",
                       error.message ? error.message : "");
                return 1;
        }
        printf("registered\n");
        fflush(stdout);
        while (!id && now_usec() < deadline) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return 3;
                if (r == 0)
                        (void)sd_bus_wait(bus, 100000);
        }
        if (!id)
                return 2;
        if (response) {
                r = sd_bus_call_method(bus, NAME, PATH, IFACE, "RespondToWarning", &error, NULL, "ss", id,
                                       response);
                if (r < 0)
                        printf("answer ERROR %s\n", error.name ? error.name : "(none)");
                else
                        printf("answer OK\n");
        }
        return 0;
}

static int on_any_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        unsigned *n_props = userdata;
        const char *member = sd_bus_message_get_member(m);

        if (!member)
                return 0;
        if (!strcmp(member, "PropertiesChanged")) {
                (*n_props)++;
                return 0;
        }
        printf("signal %s", member);
        if (!strcmp(member, "LowMemoryWarning")) {
                uint8_t level;
                if (sd_bus_message_read(m, "y", &level) >= 0)
                        printf(" %u", level);
        } else if (!strcmp(member, "PressureLevelChanged")) {
                const char *level, *previous;
                double score;
                if (sd_bus_message_read(m, "ssd", &level, &previous, &score) >= 0)
                        printf(" %s %s", level, previous);
        } else if (!strncmp(member, "Process", 7)) {
                const char *app, *reason;
                uint32_t pid, uid;
                if (sd_bus_message_read(m, "usus", &pid, &app, &uid, &reason) >= 0)
                        printf(" pid=%u uid=%u reason=%s", pid, uid, reason);
        }
        printf("\n");
        fflush(stdout);
        return 0;
}

static int cmd_watch(int argc, char **argv)
{
        uint64_t end = now_usec() + (uint64_t)(argc > 0 ? atof(argv[0]) * 1e6 : 5e6);
        unsigned n_props = 0;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (open_bus(&bus) < 0)
                return 3;
        r = sd_bus_add_match(bus, NULL, "type='signal',sender='" NAME "',path='" PATH "'", on_any_signal,
                             &n_props);
        if (r >= 0)
                r = sd_bus_add_match(bus, NULL,
                                     "type='signal',sender='org.freedesktop.LowMemoryMonitor',"
                                     "member='LowMemoryWarning'",
                                     on_any_signal, &n_props);
        if (r < 0)
                return 3;
        printf("watching\n");
        fflush(stdout);
        while (now_usec() < end) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return 3;
                if (r == 0)
                        (void)sd_bus_wait(bus, 50000);
        }
        printf("properties-changed %u\n", n_props);
        return 0;
}

static int cmd_hold(int argc, char **argv)
{
        uint64_t end;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (argc < 2)
                return 2;
        end = now_usec() + (uint64_t)(atof(argv[1]) * 1e6);
        if (open_bus(&bus) < 0)
                return 3;
        r = sd_bus_request_name(bus, argv[0], 0);
        if (r < 0) {
                printf("ERROR %s\n", strerror(-r));
                return 1;
        }
        printf("holding\n");
        fflush(stdout);
        while (now_usec() < end) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return 3;
                if (r == 0)
                        (void)sd_bus_wait(bus, 100000);
        }
        return 0;
}

typedef struct Flood {
        unsigned in_flight, ok, limited, other;
        char other_names[256];
} Flood;

static int on_flood_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Flood *f = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        f->in_flight--;
        if (!e)
                f->ok++;
        else if (!strcmp(e->name, "org.memguard.Error.RateLimited"))
                f->limited++;
        else {
                f->other++;
                if (!strstr(f->other_names, e->name) && strlen(f->other_names) + strlen(e->name) + 2 < 256) {
                        strcat(f->other_names, " ");
                        strcat(f->other_names, e->name);
                }
        }
        return 0;
}

static int cmd_flood(int argc, char **argv)
{
        Flood f = {};
        unsigned n, sent = 0;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (argc < 2)
                return 2;
        n = (unsigned)atoi(argv[0]);
        if (open_bus(&bus) < 0)
                return 3;
        while (sent < n || f.in_flight > 0) {
                while (sent < n && f.in_flight < 64) {
                        sd_bus_message *m = NULL;

                        r = build_call(bus, argv[1], argc - 2, argv + 2, &m);
                        if (r < 0)
                                return 2;
                        r = sd_bus_call_async(bus, NULL, m, on_flood_reply, &f, 30 * 1000000);
                        sd_bus_message_unref(m);
                        if (r < 0)
                                return 3;
                        sent++;
                        f.in_flight++;
                }
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return 3;
                if (r == 0)
                        (void)sd_bus_wait(bus, 100000);
        }
        printf("sent %u ok %u rate_limited %u other %u%s\n", sent, f.ok, f.limited, f.other, f.other_names);
        return 0;
}

int main(int argc, char **argv)
{
        int i = 1;

        if (i < argc && !strcmp(argv[i], "--user")) {
                user_bus = true;
                i++;
        }
        if (i >= argc)
                return 2;
        if (!strcmp(argv[i], "call"))
                return cmd_call(argc - i - 1, argv + i + 1);
        if (!strcmp(argv[i], "agent"))
                return cmd_agent(argc - i - 1, argv + i + 1);
        if (!strcmp(argv[i], "watch"))
                return cmd_watch(argc - i - 1, argv + i + 1);
        if (!strcmp(argv[i], "hold"))
                return cmd_hold(argc - i - 1, argv + i + 1);
        if (!strcmp(argv[i], "flood"))
                return cmd_flood(argc - i - 1, argv + i + 1);
        return 2;
}
