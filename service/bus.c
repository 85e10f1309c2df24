/* SPDX-License-Identifier: MIT */
/*
 * The connection: connect (and reconnect with backoff, watching for the
 * socket to come back), request org.memguard, rate-limit every incoming
 * call; the Bus's lifecycle. Tracking peers is in bus-track.c, signals in
 * bus-emit.c, method calls in bus-manager.c and bus-calls.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus-internal.h"
#include "log.h"

#define RECONNECT_MIN_USEC (500 * USEC_PER_MSEC)
/* No more often than the heartbeat: without a bus, the daemon stays as quiet as with one. */
#define RECONNECT_MAX_USEC (10 * USEC_PER_SEC)

uint64_t bus_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

void bus_limits_default(BusLimits *ret)
{
        *ret = (BusLimits){
                .calls_per_sec = 50,
                .calls_burst = 100,
                .max_pending = 256,
                .max_pending_caller = 16,
                .max_polkit = 64,
                .max_agents_per_uid = 8,
                .polkit_timeout_usec = 25 * USEC_PER_SEC,
                .polkit_interactive_timeout_usec = 120 * USEC_PER_SEC,
                .properties_interval_usec = 250 * USEC_PER_MSEC,
        };
}

static const char *const action_names[_BUS_ACTION_MAX] = {
        [BUS_ACTION_FREEZE] = "freeze",
        [BUS_ACTION_THAW] = "thaw",
        [BUS_ACTION_KILL] = "kill",
        [BUS_ACTION_CHECKPOINT] = "checkpoint",
        [BUS_ACTION_PROTECT] = "protect",
        [BUS_ACTION_UNPROTECT] = "unprotect",
        [BUS_ACTION_FOREGROUND] = "foreground",
};

const char *bus_action_to_string(BusAction a)
{
        return a >= 0 && a < _BUS_ACTION_MAX ? action_names[a] : NULL;
}

BusWarningResponse bus_warning_response_from_string(const char *s)
{
        static const char *const names[_BUS_RESPONSE_MAX] = {"allow", "postpone", "protect"};

        for (int i = 0; s && i < _BUS_RESPONSE_MAX; i++)
                if (strcmp(s, names[i]) == 0)
                        return (BusWarningResponse)i;
        return _BUS_RESPONSE_INVALID;
}

/* The named error for a -errno that a callback returned without naming one. */
static const char *error_name_for_errno(int r)
{
        switch (-r) {
        case ESRCH:
                return BUS_ERROR_NO_SUCH_PROCESS;
        case EPERM:
        case EACCES:
                return BUS_ERROR_NOT_AUTHORIZED;
        case EINVAL:
        case ERANGE:
                return BUS_ERROR_INVALID_ARGUMENT;
        case EBUSY:
        case ENOBUFS:
                return BUS_ERROR_RATE_LIMITED;
        case EOPNOTSUPP:
        case ENOSYS:
                return BUS_ERROR_NOT_SUPPORTED;
        default:
                return BUS_ERROR_FAILED;
        }
}

int bus_set_errno(sd_bus_error *error, int r, const char *what)
{
        if (r >= 0)
                r = -EIO;
        return sd_bus_error_setf(error, error_name_for_errno(r), "%s: %s", what, STRERROR(r));
}

int bus_reply_error(sd_bus_message *m, int r, sd_bus_error *error)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        if (error && sd_bus_error_is_set(error))
                return sd_bus_reply_method_error(m, error);
        (void)bus_set_errno(&e, r, "failed");
        return sd_bus_reply_method_error(m, &e);
}

/* ---- connection ---- */

static void bus_schedule_reconnect(Bus *b, uint64_t delay);

static void on_connected(Bus *b)
{
        int r;

        b->state = BUS_CONNECTED;
        b->n_connects++;
        b->reconnect_delay_usec = RECONNECT_MIN_USEC;
        log_info("connected to the %s bus", b->system_mode ? "system" : "session");

        bus_track_connected(b);
        if (b->system_mode && b->lowmem_enabled) {
                r = lowmem_attach(b->lowmem, b->bus);
                if (r < 0)
                        log_warning_errno(r, "cannot provide %s: %m", LOWMEM_NAME);
        }
        bus_properties_changed(b, _BUS_PROP_ALL); /* whoever watched us before may have missed changes */
}

static void on_disconnected(Bus *b)
{
        if (b->state == BUS_CONNECTED)
                log_warning("lost the %s bus; still protecting the machine, reconnecting in the background",
                            b->system_mode ? "system" : "session");
        else
                log_debug("bus connection failed before it was up");
        b->state = BUS_DISCONNECTED;
        b->name_owned = false;
        bus_calls_drop_all(b);
        bus_track_reset(b); /* unique names mean nothing on the next connection */
        b->name_slot = sd_bus_slot_unref(b->name_slot);
        lowmem_detach(b->lowmem);
        polkit_auth_reset(b->polkit); /* GLib's own connection went down with the bus too */
        /* The connection itself is dropped from the timer, outside its own callbacks. */
        bus_schedule_reconnect(b, b->reconnect_delay_usec);
        b->reconnect_delay_usec = MIN(b->reconnect_delay_usec * 2, RECONNECT_MAX_USEC);
}

/* Every incoming message passes here first: local connection events, and the rate limit. */
static int bus_filter(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Bus *b = userdata;
        const char *sender;
        uint8_t type = 0;
        Caller *c;

        if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Connected")) {
                on_connected(b);
                return 0;
        }
        if (sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Disconnected")) {
                on_disconnected(b);
                return 0;
        }
        if (sd_bus_message_get_type(m, &type) < 0 || type != SD_BUS_MESSAGE_METHOD_CALL)
                return 0;
        sender = sd_bus_message_get_sender(m);
        if (!sender || strcmp(sender, "org.freedesktop.DBus") == 0)
                return 0;

        c = caller_table_get(&b->callers, sender, bus_now());
        if (!c) {
                (void)sd_bus_reply_method_errorf(m, BUS_ERROR_RATE_LIMITED,
                                                 "too many callers, try again later");
                return 1;
        }
        if (!token_bucket_take(&c->bucket, b->limits.calls_per_sec, b->limits.calls_burst, bus_now())) {
                (void)sd_bus_reply_method_errorf(m, BUS_ERROR_RATE_LIMITED, "more than %g calls per second",
                                                 b->limits.calls_per_sec);
                return 1;
        }
        return 0;
}

static int on_name_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Bus *b = userdata;
        uint32_t result = 0;

        b->name_slot = sd_bus_slot_unref(b->name_slot);
        if (sd_bus_message_is_method_error(m, NULL)) {
                if (sd_bus_is_open(sd_bus_message_get_bus(m)) <= 0)
                        return 0; /* the connection went away first; we will ask again */
                log_error("cannot own %s, the D-Bus API is unavailable: %s", BUS_NAME,
                          sd_bus_message_get_error(m)->message);
                return 0;
        }
        (void)sd_bus_message_read(m, "u", &result);
        if (result != 1 && result != 4) {
                log_error("%s is owned by another process, the D-Bus API is unavailable", BUS_NAME);
                return 0;
        }
        b->name_owned = true;
        log_info("acquired %s", BUS_NAME);
        return 0;
}

static int bus_address(bool system_mode, char **ret)
{
        const char *e = getenv(system_mode ? "DBUS_SYSTEM_BUS_ADDRESS" : "DBUS_SESSION_BUS_ADDRESS");
        const char *runtime;
        char *s;

        if (e && *e) {
                *ret = xstrdup(e);
                return 0;
        }
        if (system_mode) {
                *ret = xstrdup("unix:path=/run/dbus/system_bus_socket");
                return 0;
        }
        runtime = getenv("XDG_RUNTIME_DIR");
        if (!runtime || runtime[0] != '/')
                return -ENXIO;
        s = xmalloc0(strlen(runtime) + 16);
        sprintf(s, "unix:path=%s/bus", runtime);
        *ret = s;
        return 0;
}

static int bus_connect(Bus *b)
{
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *address = NULL;
        int r;

        r = bus_address(b->system_mode, &address);
        if (r < 0)
                return r;
        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        (void)sd_bus_set_description(bus, "memguard");
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        (void)sd_bus_set_bus_client(bus, true);
        (void)sd_bus_set_watch_bind(bus, true); /* no socket (yet): wait for it to appear */
        (void)sd_bus_set_connected_signal(bus, true);
        (void)sd_bus_set_exit_on_disconnect(bus, false);

        r = sd_bus_add_filter(bus, NULL, bus_filter, b);
        if (r < 0)
                return r;
        r = bus_manager_add_vtable(b, bus);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, b->event, BUS_EVENT_PRIORITY);
        if (r < 0)
                return r;

        /* Queued until the connection is up. */
        r = bus_track_attach(b, bus);
        if (r >= 0)
                r = sd_bus_request_name_async(bus, &b->name_slot, BUS_NAME, 0, on_name_reply, b);
        if (r < 0) {
                (void)sd_bus_detach_event(bus);
                return r;
        }

        b->bus = TAKE_PTR(bus);
        b->state = BUS_CONNECTING;
        return 0;
}

static int on_reconnect_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Bus *b = userdata;
        int r;

        if (b->bus) {
                (void)sd_bus_detach_event(b->bus);
                b->bus = sd_bus_close_unref(b->bus);
        }
        r = bus_connect(b);
        if (r < 0) {
                log_debug_errno(r, "cannot connect to the bus yet, retrying in %" PRIu64 " ms: %m",
                                b->reconnect_delay_usec / USEC_PER_MSEC);
                bus_schedule_reconnect(b, b->reconnect_delay_usec);
                b->reconnect_delay_usec = MIN(b->reconnect_delay_usec * 2, RECONNECT_MAX_USEC);
        }
        return 0;
}

static void bus_schedule_reconnect(Bus *b, uint64_t delay)
{
        int r;

        if (!b->reconnect_timer) {
                r = sd_event_add_time_relative(b->event, &b->reconnect_timer, CLOCK_MONOTONIC, delay,
                                               10 * USEC_PER_MSEC, on_reconnect_timer, b);
                if (r < 0) {
                        log_error_errno(r, "cannot arm the bus reconnect timer: %m");
                        return;
                }
                (void)sd_event_source_set_description(b->reconnect_timer, "bus-reconnect");
                return;
        }
        (void)sd_event_source_set_time_relative(b->reconnect_timer, delay);
        (void)sd_event_source_set_enabled(b->reconnect_timer, SD_EVENT_ONESHOT);
}

/* ---- lifecycle ---- */

int bus_new(sd_event *e, bool system_mode, const BusOps *ops, void *userdata, Bus **ret)
{
        _cleanup_(bus_freep) Bus *b = NULL;
        int r;

        if (!e || !ops || !ops->get_state || !ops->validate_target || !ops->act)
                return -EINVAL;

        b = xmalloc0(sizeof(*b));
        b->event = sd_event_ref(e);
        b->system_mode = system_mode;
        b->ops = *ops;
        b->userdata = userdata;
        b->own_uid = getuid();
        b->lowmem_enabled = true;
        b->reconnect_delay_usec = RECONNECT_MIN_USEC;
        bus_limits_default(&b->limits);
        bus_track_init(b);
        r = lowmem_new(&b->lowmem);
        if (r < 0)
                return r;
        if (system_mode) {
                r = polkit_auth_new(&b->polkit);
                if (r < 0)
                        return r;
        }

        r = bus_connect(b);
        if (r < 0) {
                log_full_errno(LOG_NOTICE, r, "no %s bus yet (%m); working without it and retrying",
                               system_mode ? "system" : "session");
                /* No bus at all: check back at the heartbeat's pace, not in a fast backoff
                 * (that is for a bus that just went away and is likely coming back). */
                b->reconnect_delay_usec = RECONNECT_MAX_USEC;
                bus_schedule_reconnect(b, b->reconnect_delay_usec);
        }
        *ret = TAKE_PTR(b);
        return 0;
}

Bus *bus_free(Bus *b)
{
        if (!b)
                return NULL;
        bus_calls_drop_all(b);
        bus_track_reset(b);
        b->name_slot = sd_bus_slot_unref(b->name_slot);
        lowmem_free(b->lowmem);
        polkit_auth_free(b->polkit);
        if (b->bus) {
                (void)sd_bus_detach_event(b->bus);
                b->bus = sd_bus_flush_close_unref(b->bus);
        }
        sd_event_source_disable_unref(b->reconnect_timer);
        sd_event_source_disable_unref(b->flush_timer);
        bus_track_done(b);
        sd_event_unref(b->event);
        free(b);
        return NULL;
}

void bus_set_limits(Bus *b, const BusLimits *limits)
{
        if (b && limits)
                b->limits = *limits;
}

void bus_set_low_memory_monitor(Bus *b, bool enable)
{
        if (!b || b->lowmem_enabled == enable)
                return;
        b->lowmem_enabled = enable;
        if (!enable)
                lowmem_detach(b->lowmem);
        else if (b->system_mode && b->state == BUS_CONNECTED)
                (void)lowmem_attach(b->lowmem, b->bus);
}

bool bus_is_ready(Bus *b)
{
        return b && b->state == BUS_CONNECTED && b->name_owned;
}

sd_bus *bus_connection(Bus *b)
{
        return b && b->state == BUS_CONNECTED ? b->bus : NULL;
}

unsigned bus_n_connects(Bus *b)
{
        return b ? b->n_connects : 0;
}
