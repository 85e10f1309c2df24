/* SPDX-License-Identifier: MIT */
/*
 * memguardctl and the bus: choosing the bus, calls, error messages and exit
 * codes, and D-Bus values as JSON.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "format.h"
#include "macro.h"

CtlExit ctl_fail(CtlExit code, const char *fmt, ...)
{
        va_list ap;

        fputs("memguardctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return code;
}

int bus_open(bool system, sd_bus **ret)
{
        return system ? sd_bus_open_system(ret) : sd_bus_open_user(ret);
}

int bus_name_has_owner(sd_bus *bus, const char *name)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r, b;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &e, &reply, "s", name);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "b", &b);
        if (r < 0)
                return r;
        return !!b;
}

int bus_name_activatable(sd_bus *bus, const char *name)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char **names = NULL;
        int r, found = 0;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "ListActivatableNames", NULL, &reply, NULL);
        if (r >= 0)
                r = sd_bus_message_read_strv(reply, &names);
        if (r < 0)
                return r;
        for (char **n = names; n && *n; n++) {
                found = found || strcmp(*n, name) == 0;
                free(*n);
        }
        free(names);
        return found;
}

int bus_memguard_summary(sd_bus *bus, char **ret_version, char **ret_mode, int *ret_dry_run)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *version = NULL, *mode = NULL;
        int dry = 0, r;

        r = sd_bus_call_method(bus, MEMGUARD_BUS_NAME, MEMGUARD_OBJECT, "org.freedesktop.DBus.Properties",
                               "GetAll", NULL, &reply, "s", MEMGUARD_INTERFACE);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key, *s;

                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        break;
                if (strcmp(key, "Version") == 0 && (r = sd_bus_message_read(reply, "v", "s", &s)) > 0) {
                        free(version);
                        version = xstrdup(s);
                } else if (strcmp(key, "Mode") == 0 && (r = sd_bus_message_read(reply, "v", "s", &s)) > 0) {
                        free(mode);
                        mode = xstrdup(s);
                } else if (strcmp(key, "DryRun") == 0)
                        r = sd_bus_message_read(reply, "v", "b", &dry);
                else
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0)
                return r;
        *ret_version = TAKE_PTR(version);
        *ret_mode = TAKE_PTR(mode);
        *ret_dry_run = !!dry;
        return 0;
}

static const char *connect_error(int r)
{
        if (r == -ENOMEDIUM)
                return "no address known, DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR are unset";
        return STRERROR(r);
}

CtlExit ctl_connect(Ctl *c)
{
        bool order[2];
        size_t n = 0;
        int errors[2] = {0, 0};
        sd_bus *fallback = NULL;
        bool fallback_system = false;

        if (c->bus_choice == BUS_SYSTEM)
                order[n++] = true;
        else if (c->bus_choice == BUS_USER)
                order[n++] = false;
        else {
                order[n++] = geteuid() == 0;
                order[n++] = geteuid() != 0;
        }

        for (size_t i = 0; i < n; i++) {
                sd_bus *bus = NULL;
                int r;

                r = bus_open(order[i], &bus);
                if (r < 0) {
                        errors[i] = r;
                        continue;
                }
                r = n == 1 ? 1 : bus_name_has_owner(bus, MEMGUARD_BUS_NAME);
                if (r > 0) {
                        sd_bus_flush_close_unref(fallback);
                        c->bus = bus;
                        c->on_system = order[i];
                        c->also_checked = NULL;
                        return CTL_EXIT_OK;
                }
                if (!fallback) {
                        fallback = bus;
                        fallback_system = order[i];
                } else {
                        c->also_checked = order[i] ? "system" : "session";
                        sd_bus_flush_close_unref(bus);
                }
        }

        if (fallback) {
                /* Nobody owns the name: call anyway, D-Bus activation may start memguard. */
                c->bus = fallback;
                c->on_system = fallback_system;
                return CTL_EXIT_OK;
        }
        if (n == 1)
                return ctl_fail(CTL_EXIT_NOT_RUNNING,
                                "memguard is not running: cannot connect to the %s bus: %s",
                                order[0] ? "system" : "session", connect_error(errors[0]));
        return ctl_fail(CTL_EXIT_NOT_RUNNING,
                        "memguard is not running: no bus to reach it on (%s bus: %s; %s bus: %s)",
                        order[0] ? "system" : "session", connect_error(errors[0]),
                        order[1] ? "system" : "session", connect_error(errors[1]));
}

void ctl_disconnect(Ctl *c)
{
        c->bus = sd_bus_flush_close_unref(c->bus);
}

static bool error_is(const sd_bus_error *e, const char *name)
{
        return sd_bus_error_has_name(e, name);
}

CtlExit ctl_bus_error(const Ctl *c, const sd_bus_error *e, int r, const char *what)
{
        _cleanup_free_ char *msg = text_sanitize(e && e->message ? e->message : NULL);
        const char *detail = *msg ? msg : NULL;
        const char *bus = ctl_bus_name(c);

        /* Local failures: sd-bus names them System.Error.<errno>. */
        if (!e || !sd_bus_error_is_set(e) || strncmp(e->name, "System.Error.", 13) == 0) {
                if (r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE)
                        return ctl_fail(
                                CTL_EXIT_NOT_RUNNING,
                                "cannot %s: the %s bus closed the connection (not allowed to connect?)",
                                what, bus);
                if (r == -ETIMEDOUT)
                        return ctl_fail(CTL_EXIT_FAILED, "cannot %s: memguard did not answer in time", what);
                return ctl_fail(CTL_EXIT_FAILED, "cannot %s: %s", what, STRERROR(r));
        }

        if (error_is(e, SD_BUS_ERROR_SERVICE_UNKNOWN) || error_is(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
                if (c->also_checked)
                        return ctl_fail(CTL_EXIT_NOT_RUNNING,
                                        "memguard is not running on the %s bus (nor on the %s bus)", bus,
                                        c->also_checked);
                return ctl_fail(CTL_EXIT_NOT_RUNNING, "memguard is not running on the %s bus", bus);
        }
        if (strncmp(e->name, "org.freedesktop.DBus.Error.Spawn.", 33) == 0)
                return ctl_fail(CTL_EXIT_NOT_RUNNING,
                                "memguard is not running on the %s bus, and starting it failed: %s", bus,
                                strna(detail));
        if (error_is(e, SD_BUS_ERROR_DISCONNECTED))
                return ctl_fail(CTL_EXIT_NOT_RUNNING, "cannot %s: lost the connection to the %s bus", what,
                                bus);

        if (error_is(e, MEMGUARD_ERROR_PREFIX "NotAuthorized"))
                return ctl_fail(CTL_EXIT_NOT_AUTHORIZED, "not authorized to %s (%s)", what,
                                detail         ? detail
                                : c->on_system ? "polkit said no"
                                               : "not your process");
        if (error_is(e, SD_BUS_ERROR_ACCESS_DENIED))
                return ctl_fail(CTL_EXIT_NOT_AUTHORIZED,
                                "not authorized to %s (the %s bus policy refused the call)", what, bus);
        if (error_is(e, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED))
                return ctl_fail(CTL_EXIT_NOT_AUTHORIZED,
                                "not authorized to %s without authenticating: run it from a terminal or "
                                "with --interactive",
                                what);
        if (error_is(e, MEMGUARD_ERROR_PREFIX "NoSuchProcess"))
                return ctl_fail(CTL_EXIT_NO_PROCESS, "cannot %s: no such process%s%s%s", what,
                                detail ? " (" : "", strempty(detail), detail ? ")" : "");
        if (error_is(e, MEMGUARD_ERROR_PREFIX "NeverTarget"))
                return ctl_fail(CTL_EXIT_NEVER_TARGET, "refused to %s: %s", what,
                                detail ? detail : "memguard never acts on this process");
        if (error_is(e, MEMGUARD_ERROR_PREFIX "RateLimited"))
                return ctl_fail(CTL_EXIT_RATE_LIMITED, "cannot %s: rate limited, try again later%s%s%s",
                                what, detail ? " (" : "", strempty(detail), detail ? ")" : "");
        if (error_is(e, MEMGUARD_ERROR_PREFIX "InvalidArgument"))
                return ctl_fail(CTL_EXIT_USAGE, "cannot %s: invalid argument: %s", what, strna(detail));
        if (error_is(e, MEMGUARD_ERROR_PREFIX "NotSupported"))
                return ctl_fail(CTL_EXIT_FAILED, "cannot %s: not supported here: %s", what, strna(detail));
        if (error_is(e, MEMGUARD_ERROR_PREFIX "Failed"))
                return ctl_fail(CTL_EXIT_FAILED, "cannot %s: %s", what, detail ? detail : "it failed");
        if (error_is(e, SD_BUS_ERROR_UNKNOWN_METHOD) || error_is(e, SD_BUS_ERROR_UNKNOWN_PROPERTY) ||
            error_is(e, SD_BUS_ERROR_UNKNOWN_INTERFACE) || error_is(e, SD_BUS_ERROR_UNKNOWN_OBJECT))
                return ctl_fail(CTL_EXIT_FAILED,
                                "cannot %s: the memguard on the %s bus does not implement it (older than "
                                "memguardctl?): %s",
                                what, bus, strna(detail));
        if (error_is(e, SD_BUS_ERROR_NO_REPLY) || error_is(e, SD_BUS_ERROR_TIMEOUT))
                return ctl_fail(CTL_EXIT_FAILED, "cannot %s: memguard did not answer in time", what);

        {
                _cleanup_free_ char *name = text_sanitize(e->name);

                return ctl_fail(CTL_EXIT_FAILED, "cannot %s: %s%s%s", what, name, detail ? ": " : "",
                                strempty(detail));
        }
}

int ctl_call(Ctl *c, const char *method, sd_bus_error *e, sd_bus_message **ret_reply)
{
        return sd_bus_call_method(c->bus, MEMGUARD_BUS_NAME, MEMGUARD_OBJECT, MEMGUARD_INTERFACE, method, e,
                                  ret_reply, NULL);
}

int ctl_get_property(Ctl *c, const char *property, sd_bus_error *e, sd_bus_message **ret_reply)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call_method(c->bus, MEMGUARD_BUS_NAME, MEMGUARD_OBJECT, "org.freedesktop.DBus.Properties",
                               "Get", e, &reply, "ss", MEMGUARD_INTERFACE, property);
        if (r < 0)
                return r;
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

static int read_basic_json(sd_bus_message *m, char type, json_object **ret)
{
        union {
                uint8_t u8;
                int16_t i16;
                uint16_t u16;
                int32_t i32;
                uint32_t u32;
                int64_t i64;
                uint64_t u64;
                double d;
                int b;
                const char *s;
        } v;
        json_object *o;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        switch (type) {
        case 'y':
                o = json_object_new_int(v.u8);
                break;
        case 'n':
                o = json_object_new_int(v.i16);
                break;
        case 'q':
                o = json_object_new_int(v.u16);
                break;
        case 'i':
        case 'h':
                o = json_object_new_int(v.i32);
                break;
        case 'u':
                o = json_object_new_int64(v.u32);
                break;
        case 'x':
                o = json_object_new_int64(v.i64);
                break;
        case 't':
                o = json_object_new_uint64(v.u64);
                break;
        case 'd':
                o = json_object_new_double(v.d);
                break;
        case 'b':
                o = json_object_new_boolean(v.b);
                break;
        case 's':
        case 'o':
        case 'g':
                o = json_object_new_string(v.s);
                break;
        default:
                return -EBADMSG;
        }
        if (!o)
                abort();
        *ret = o;
        return 0;
}

int bus_message_read_json(sd_bus_message *m, json_object **ret)
{
        _cleanup_json_ json_object *o = NULL;
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENXIO;

        switch (type) {
        case SD_BUS_TYPE_VARIANT:
        case SD_BUS_TYPE_STRUCT: {
                bool is_variant = type == SD_BUS_TYPE_VARIANT;

                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                if (!is_variant)
                        o = json_object_new_array();
                while ((r = sd_bus_message_at_end(m, false)) == 0) {
                        json_object *v = NULL;

                        r = bus_message_read_json(m, &v);
                        if (r < 0)
                                return r;
                        if (is_variant) {
                                o = v;
                                continue;
                        }
                        json_object_array_add(o, v);
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                break;
        }
        case SD_BUS_TYPE_ARRAY: {
                /* a{s...} and a{o...} read as objects; any other array as an array. */
                bool dict = contents[0] == '{' && (contents[1] == 's' || contents[1] == 'o');

                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, contents);
                if (r < 0)
                        return r;
                o = dict ? json_object_new_object() : json_object_new_array();
                while ((r = sd_bus_message_at_end(m, false)) == 0) {
                        json_object *v = NULL;

                        if (dict) {
                                const char *key, *entry;

                                r = sd_bus_message_peek_type(m, NULL, &entry);
                                if (r < 0)
                                        return r;
                                r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, entry);
                                if (r < 0)
                                        return r;
                                r = sd_bus_message_read_basic(m, contents[1], &key);
                                if (r < 0)
                                        return r;
                                r = bus_message_read_json(m, &v);
                                if (r < 0)
                                        return r;
                                json_object_object_add(o, key, v);
                                r = sd_bus_message_exit_container(m);
                        } else {
                                r = bus_message_read_json(m, &v);
                                if (r >= 0)
                                        json_object_array_add(o, v);
                        }
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                break;
        }
        case SD_BUS_TYPE_DICT_ENTRY:
                /* A dict entry outside a{s..}: [key, value]. */
                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                o = json_object_new_array();
                for (int i = 0; i < 2; i++) {
                        json_object *v = NULL;

                        r = bus_message_read_json(m, &v);
                        if (r < 0)
                                return r;
                        json_object_array_add(o, v);
                }
                r = sd_bus_message_exit_container(m);
                break;
        default:
                r = read_basic_json(m, type, &o);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}
