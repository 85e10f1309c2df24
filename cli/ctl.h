/* SPDX-License-Identifier: MIT */
/*
 * memguardctl: what the commands share. Each command returns the process
 * exit code (CtlExit) and prints its own error message, once.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#define MEMGUARD_BUS_NAME "org.memguard"
#define MEMGUARD_OBJECT "/org/memguard"
#define MEMGUARD_INTERFACE "org.memguard.Manager"
#define MEMGUARD_ERROR_PREFIX "org.memguard.Error."

/* Exit codes, documented in memguardctl(1). */
typedef enum CtlExit {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILED = 1,         /* org.memguard.Error.Failed, NotSupported, anything else */
        CTL_EXIT_USAGE = 2,          /* bad arguments, ambiguous app name, InvalidArgument */
        CTL_EXIT_NOT_RUNNING = 3,    /* no bus, or org.memguard not on it */
        CTL_EXIT_NOT_AUTHORIZED = 4, /* NotAuthorized, or the bus policy said AccessDenied */
        CTL_EXIT_NO_PROCESS = 5,     /* NoSuchProcess, or no process matches an app name */
        CTL_EXIT_NEVER_TARGET = 6,   /* NeverTarget */
        CTL_EXIT_RATE_LIMITED = 7,   /* RateLimited */
} CtlExit;

typedef enum BusChoice {
        BUS_AUTO,
        BUS_SYSTEM,
        BUS_USER,
} BusChoice;

typedef struct Ctl {
        /* from the command line */
        BusChoice bus_choice;
        bool json;
        bool follow;
        int interactive; /* -1: when stdin is a terminal */
        bool remove;

        /* set by ctl_connect() */
        sd_bus *bus;
        bool on_system;           /* the bus in use is the system bus */
        const char *also_checked; /* auto mode: "session"/"system" bus also reached, no memguard there */
} Ctl;

static inline const char *ctl_bus_name(const Ctl *c)
{
        return c->on_system ? "system" : "session";
}

/*
 * Connect to the bus memguard is on. --system/--user pick one; otherwise
 * root looks on the system bus first and anyone else on the session bus
 * first, and the first bus where org.memguard has an owner wins. If neither
 * has one, the first bus reached is used (D-Bus activation may still start
 * memguard there). Returns CTL_EXIT_OK or prints why and returns
 * CTL_EXIT_NOT_RUNNING.
 */
CtlExit ctl_connect(Ctl *c);
void ctl_disconnect(Ctl *c);

/* Open the system or session bus (with a short method-call timeout). -errno on failure. */
int bus_open(bool system, sd_bus **ret);

/* 1 if `name` has an owner on `bus`, 0 if not, -errno on failure. */
int bus_name_has_owner(sd_bus *bus, const char *name);

/* 1 if `name` can be started by D-Bus activation on `bus`, 0 if not, -errno on failure. */
int bus_name_activatable(sd_bus *bus, const char *name);

/*
 * memguard's Version, Mode and DryRun from one GetAll call. Version and
 * mode are NULL if the daemon does not have them.
 */
int bus_memguard_summary(sd_bus *bus, char **ret_version, char **ret_mode, int *ret_dry_run);

/*
 * Print why a call failed and return the exit code for it. `what` says what
 * was tried, as in "not authorized to <what>" ("freeze pid 1234").
 */
CtlExit ctl_bus_error(const Ctl *c, const sd_bus_error *e, int r, const char *what);

/* Call a method of org.memguard.Manager without arguments. */
int ctl_call(Ctl *c, const char *method, sd_bus_error *e, sd_bus_message **ret_reply);

/* Get one property of org.memguard.Manager; the reply is positioned at the variant. */
int ctl_get_property(Ctl *c, const char *property, sd_bus_error *e, sd_bus_message **ret_reply);

/*
 * Convert the complete value at the message's read position (of any D-Bus
 * type) to JSON: dictionaries with string keys become objects, other arrays
 * and structs become arrays, variants are unwrapped.
 */
int bus_message_read_json(sd_bus_message *m, json_object **ret);

/* The commands. argv holds the arguments after the command name. */
CtlExit cmd_status(Ctl *c, int argc, char **argv);
CtlExit cmd_frozen(Ctl *c, int argc, char **argv);
CtlExit cmd_reload(Ctl *c, int argc, char **argv);
CtlExit cmd_candidates(Ctl *c, int argc, char **argv);
CtlExit cmd_action(Ctl *c, const char *verb, int argc, char **argv); /* freeze thaw kill protect */
CtlExit cmd_events(Ctl *c, int argc, char **argv);
CtlExit cmd_doctor(Ctl *c, int argc, char **argv);

/*
 * Start pkttyagent as this session's fallback polkit agent when a password
 * may be asked for on this terminal (stdin and stdout are terminals, not
 * root, polkit is on `bus`). Returns its pid, or 0 if none was started;
 * polkit_agent_close() stops it.
 */
pid_t polkit_agent_open(sd_bus *bus);
void polkit_agent_close(pid_t pid);

/* Print "memguardctl: MESSAGE" to stderr; returns `code`. */
CtlExit ctl_fail(CtlExit code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
