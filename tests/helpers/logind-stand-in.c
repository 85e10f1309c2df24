/* SPDX-License-Identifier: MIT */
/*
 * logind-stand-in: org.freedesktop.login1 for the hibernation test, on the
 * bus DBUS_SYSTEM_BUS_ADDRESS names (the test's private system bus).
 *
 * systemd-logind cannot run on the test machine (PID 1 is not systemd), so
 * this stands in for the two methods memguardd calls, and records every call:
 *
 *   logind-stand-in RECORD_FILE CAN_HIBERNATE_ANSWER
 *
 * org.freedesktop.login1.Manager at /org/freedesktop/login1:
 *   CanHibernate() -> s   answers CAN_HIBERNATE_ANSWER ("yes", "no", "na", ...)
 *   Hibernate(b)          answers at once (nothing is hibernated)
 * Each call appends one line to RECORD_FILE, flushed at once:
 *   "CanHibernate uid=0" / "Hibernate interactive=0 uid=0"
 * (uid: the caller's, from the bus). It runs until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

static FILE *record;
static const char *answer;

static void note(sd_bus_message *m, const char *what)
{
        sd_bus_creds *creds = NULL;
        uid_t uid = (uid_t)-1;

        if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds) >= 0)
                (void)sd_bus_creds_get_euid(creds, &uid);
        sd_bus_creds_unref(creds);
        fprintf(record, "%s uid=%d\n", what, (int)uid);
        fflush(record);
}

static int method_can_hibernate(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        note(m, "CanHibernate");
        return sd_bus_reply_method_return(m, "s", answer);
}

static int method_hibernate(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        char what[64];
        int interactive = -1, r;

        r = sd_bus_message_read(m, "b", &interactive);
        if (r < 0)
                return r;
        snprintf(what, sizeof(what), "Hibernate interactive=%d", interactive);
        note(m, what);
        return sd_bus_reply_method_return(m, "");
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("CanHibernate", "", "s", method_can_hibernate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Hibernate", "b", "", method_hibernate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv)
{
        sd_event *e = NULL;
        sd_bus *bus = NULL;
        sigset_t mask;
        int r;

        if (argc != 3) {
                fprintf(stderr, "usage: logind-stand-in RECORD_FILE CAN_HIBERNATE_ANSWER\n");
                return 2;
        }
        record = fopen(argv[1], "ae");
        if (!record) {
                fprintf(stderr, "cannot open %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        answer = argv[2];
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&e);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                                             manager_vtable, NULL);
        if (r >= 0)
                r = sd_bus_request_name(bus, "org.freedesktop.login1", 0);
        if (r >= 0)
                r = sd_bus_attach_event(bus, e, 0);
        if (r >= 0)
                r = sd_event_loop(e);
        if (r < 0)
                fprintf(stderr, "logind-stand-in: %s\n", strerror(-r));
        sd_bus_flush_close_unref(bus);
        sd_event_unref(e);
        fclose(record);
        return r < 0 ? 1 : 0;
}
