/* SPDX-License-Identifier: MIT */
/*
 * The daemon's D-Bus side: org.memguard.Manager at /org/memguard, bus name
 * org.memguard (contract: dbus/org.memguard.Manager.xml), and in system mode
 * org.freedesktop.LowMemoryMonitor (lowmem.h).
 *
 * The Bus owns its sd_bus connection and everything tied to it: the vtable,
 * the name, per-caller rate limits, registered agents, pending calls and
 * their polkit checks. The manager owns the state; the Bus reads it through
 * BusOps callbacks and the manager tells the Bus about events through the
 * bus_emit_*() functions.
 *
 * Nothing here blocks: credentials are asked of the bus asynchronously,
 * polkit is checked asynchronously (GLib embedded in sd-event, glib-loop.h),
 * and when the bus goes away the Bus reconnects in the background while the
 * daemon keeps working. Emitters called while disconnected return -ENOTCONN
 * and drop the event; callers may ignore their return value.
 *
 * Contract: 0 (or a count) on success, -errno on failure; outputs written
 * only on success.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "level.h"
#include "macro.h"
#include "pressure.h"

#define BUS_NAME "org.memguard"
#define BUS_PATH "/org/memguard"
#define BUS_INTERFACE "org.memguard.Manager"

#define BUS_ERROR_NOT_AUTHORIZED "org.memguard.Error.NotAuthorized"
#define BUS_ERROR_NO_SUCH_PROCESS "org.memguard.Error.NoSuchProcess"
#define BUS_ERROR_NEVER_TARGET "org.memguard.Error.NeverTarget"
#define BUS_ERROR_INVALID_ARGUMENT "org.memguard.Error.InvalidArgument"
#define BUS_ERROR_RATE_LIMITED "org.memguard.Error.RateLimited"
#define BUS_ERROR_NOT_SUPPORTED "org.memguard.Error.NotSupported"
#define BUS_ERROR_UNKNOWN_WARNING "org.memguard.Error.UnknownWarning"
#define BUS_ERROR_FAILED "org.memguard.Error.Failed"

/* polkit actions (polkit/org.memguard.policy.in) */
#define BUS_POLKIT_MANAGE_OWN "org.memguard.manage-own"
#define BUS_POLKIT_MANAGE_ANY "org.memguard.manage-any"
#define BUS_POLKIT_CHANGE_RULES "org.memguard.change-rules"
#define BUS_POLKIT_RELOAD "org.memguard.reload"

typedef enum BusAction {
        BUS_ACTION_FREEZE,
        BUS_ACTION_THAW,
        BUS_ACTION_KILL,
        BUS_ACTION_CHECKPOINT, /* only in EvictionWarning: there is no Checkpoint method */
        BUS_ACTION_PROTECT,
        BUS_ACTION_UNPROTECT,
        BUS_ACTION_FOREGROUND, /* SetForeground: validated like the others, acted on by set_foreground */
        _BUS_ACTION_MAX,
} BusAction;

const char *bus_action_to_string(BusAction a); /* "freeze", ..., NULL when out of range */

typedef enum BusProcessEvent {
        BUS_EVENT_FROZEN,
        BUS_EVENT_THAWED,
        BUS_EVENT_CHECKPOINTED,
        BUS_EVENT_KILLED,
        _BUS_EVENT_MAX,
} BusProcessEvent;

typedef enum BusWarningResponse {
        BUS_RESPONSE_ALLOW,
        BUS_RESPONSE_POSTPONE,
        BUS_RESPONSE_PROTECT,
        _BUS_RESPONSE_MAX,
        _BUS_RESPONSE_INVALID = -1,
} BusWarningResponse;

BusWarningResponse bus_warning_response_from_string(const char *s);

/* What validate_target found out about a process. */
typedef struct BusTarget {
        pid_t pid;
        uid_t uid;           /* its owner (real uid) */
        uint64_t start_time; /* identity (/proc/PID/stat starttime): if it differs between the check
                                before and the one after authorization, the call fails NoSuchProcess */
} BusTarget;

typedef struct BusFrozen {
        pid_t pid;
        const char *app;
        uid_t uid;
        uint64_t since_usec; /* CLOCK_REALTIME */
        uint64_t bytes;
} BusFrozen;

/* A snapshot of the manager's state. Pointers are borrowed: valid until
 * control returns to the event loop (the Bus serializes them at once). */
typedef struct BusState {
        Level level;
        const PressureResult *pressure; /* NULL before the first sample */
        bool dry_run;
        bool acting; /* false while the configuration is invalid */
        const BusFrozen *frozen;
        size_t n_frozen;
        pid_t fg_pid; /* 0 when no foreground app is known */
        const char *fg_app_id;
        const char *fg_cgroup;
} BusState;

typedef struct BusCandidate {
        pid_t pid;
        uid_t uid;
        const char *comm, *exe, *unit, *app_id; /* NULL is sent as "" */
        uint64_t rss_bytes, swap_bytes;
        unsigned priority; /* 0-100, higher = evicted sooner */
        bool protected_;
        const char *reason;
} BusCandidate;

/*
 * What the manager implements (get_state, validate_target and act are
 * required; a missing optional one answers NotSupported). Callbacks that take an sd_bus_error should
 * set a named error (BUS_ERROR_*) when they fail; a bare -errno is mapped to
 * one (ESRCH NoSuchProcess, EPERM/EACCES NotAuthorized, EINVAL InvalidArgument,
 * EOPNOTSUPP NotSupported, anything else Failed). They are called from the
 * event loop and must not block.
 */
typedef struct BusOps {
        /* Required. Fill *ret (see BusState for the lifetime of its pointers). */
        void (*get_state)(void *userdata, BusState *ret);

        /* Ranked candidates, most expendable first; borrowed like BusState.
         * The Bus filters them by caller when the caller may not see all. */
        int (*list_candidates)(void *userdata, const BusCandidate **ret, size_t *ret_n, sd_bus_error *error);

        /*
         * May `pid` be the target of `action`? Called before authorization and
         * again after it. Must check that the process exists (NoSuchProcess),
         * that it is not on the never-target list (NeverTarget: PID 1, kernel
         * threads, memguard itself, bus_is_infrastructure_pid(), ...), and fill
         * *ret with its owner and identity. Ownership is the Bus's business: it
         * picks the polkit action from ret->uid and caller_uid, and in user mode
         * refuses processes of other users itself.
         */
        int (*validate_target)(void *userdata, BusAction action, pid_t pid, uid_t caller_uid, BusTarget *ret,
                               sd_bus_error *error);

        /* Freeze, thaw, kill, protect or unprotect the app the target belongs to.
         * The caller is authorized; the target was validated just now. */
        int (*act)(void *userdata, BusAction action, const BusTarget *target, uid_t caller_uid,
                   sd_bus_error *error);

        /* A foreground hint for the caller's own process (authorized, validated). */
        int (*set_foreground)(void *userdata, const BusTarget *target, const char *app_id, uid_t caller_uid,
                              sd_bus_error *error);

        /* An agent of the warned user answered a warning (id as returned by
         * bus_emit_eviction_warning). Optional: NULL answers NotSupported. */
        int (*respond_to_warning)(void *userdata, const char *warning_id, pid_t pid,
                                  BusWarningResponse response, uid_t caller_uid, sd_bus_error *error);

        /* Re-read the configuration; on failure set BUS_ERROR_FAILED with the reason. */
        int (*reload)(void *userdata, sd_bus_error *error);
} BusOps;

/* Limits; bus_new() starts from bus_limits_default(). */
typedef struct BusLimits {
        double calls_per_sec;        /* per caller (unique name): token bucket rate... */
        double calls_burst;          /* ...and depth */
        unsigned max_pending;        /* calls waiting for credentials or polkit, all callers */
        unsigned max_pending_caller; /* the same, per caller */
        unsigned max_polkit;         /* polkit checks in flight */
        unsigned max_agents_per_uid;
        uint64_t polkit_timeout_usec;             /* a check that takes longer is a "no" */
        uint64_t polkit_interactive_timeout_usec; /* the same when the user may be asked */
        uint64_t properties_interval_usec;        /* PropertiesChanged at most this often */
} BusLimits;

void bus_limits_default(BusLimits *ret);

typedef struct Bus Bus;

/*
 * Create the Bus and start connecting (system bus in system mode, session bus
 * in user mode). Not finding a bus is not an error: the Bus keeps retrying
 * (and watches for the socket to appear) while the daemon runs. In system
 * mode a GLib main context must be embedded in `e` (glib_loop_attach) for
 * polkit to answer; without one every privileged call is refused.
 */
int bus_new(sd_event *e, bool system_mode, const BusOps *ops, void *userdata, Bus **ret);
Bus *bus_free(Bus *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Bus *, bus_free)

void bus_set_limits(Bus *b, const BusLimits *limits);

/* Own org.freedesktop.LowMemoryMonitor when nobody else does (system mode
 * only; on by default). Takes effect at once and on every reconnect. */
void bus_set_low_memory_monitor(Bus *b, bool enable);

/* Connected and org.memguard acquired. */
bool bus_is_ready(Bus *b);
/* The connection while it is up (NULL otherwise), for calls to other services (logind). */
sd_bus *bus_connection(Bus *b);
/* How many times a connection came up (1 after the first; tests use it). */
unsigned bus_n_connects(Bus *b);

/* Is pid the bus daemon, polkitd or logind, as far as the bus told us? While
 * the bus is away the last known pids are kept. */
bool bus_is_infrastructure_pid(Bus *b, pid_t pid);

/* Properties, for bus_properties_changed(). Mode and Version are constant. */
enum {
        BUS_PROP_PRESSURE_LEVEL = 1u << 0,
        BUS_PROP_PRESSURE_SCORE = 1u << 1,
        BUS_PROP_SIGNALS = 1u << 2,
        BUS_PROP_FROZEN_PROCESSES = 1u << 3,
        BUS_PROP_FOREGROUND = 1u << 4,
        BUS_PROP_DRY_RUN = 1u << 5,
        _BUS_PROP_ALL = (1u << 6) - 1,
};

/* Mark properties changed. Cheap: the PropertiesChanged signal is coalesced
 * and sent at most once per properties_interval_usec (250 ms). */
void bus_properties_changed(Bus *b, unsigned mask);

/* PressureLevelChanged, at once; also marks PressureLevel changed and feeds
 * LowMemoryWarning (upward changes only, rate-limited). */
int bus_emit_level_changed(Bus *b, Level old, Level new, double score);

/* ProcessFrozen / ProcessThawed / ProcessCheckpointed / ProcessKilled;
 * also marks FrozenProcesses changed. */
int bus_emit_process_event(Bus *b, BusProcessEvent kind, pid_t pid, const char *app, uid_t uid,
                           const char *reason);

#define BUS_WARNING_ID_MAX 32

/*
 * EvictionWarning, unicast to every agent registered by `uid`. Writes the
 * warning id to ret_id (at least BUS_WARNING_ID_MAX bytes; may be NULL) and
 * returns how many agents were told (0: nobody to wait for). The warning
 * can be answered until deadline_ms has passed.
 */
int bus_emit_eviction_warning(Bus *b, uid_t uid, pid_t pid, const char *app, BusAction action,
                              uint32_t deadline_ms, const char *reason, char *ret_id);

/* LowMemoryWarning(255) right before evicting background processes
 * (rate-limited; a no-op unless we own org.freedesktop.LowMemoryMonitor). */
int bus_lowmem_before_eviction(Bus *b);
