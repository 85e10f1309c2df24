/* SPDX-License-Identifier: MIT */
/*
 * memguardctl status, frozen and reload.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "ctl.h"
#include "format.h"
#include "macro.h"

/* Call a method (or Properties.GetAll) whose reply is one a{sv}, and return it as a JSON object. */
static int call_dict(Ctl *c, const char *interface, const char *method, sd_bus_error *e, json_object **ret)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_json_ json_object *o = NULL;
        int r;

        if (strcmp(interface, MEMGUARD_INTERFACE) == 0)
                r = ctl_call(c, method, e, &reply);
        else
                r = sd_bus_call_method(c->bus, MEMGUARD_BUS_NAME, MEMGUARD_OBJECT, interface, method, e,
                                       &reply, "s", MEMGUARD_INTERFACE);
        if (r < 0)
                return r;
        r = bus_message_read_json(reply, &o);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        *ret = TAKE_PTR(o);
        return 0;
}

/* The property if the daemon has it, else the GetStatus key. */
static json_object *pick(json_object *props, const char *property, json_object *status, const char *key)
{
        json_object *v = NULL;

        if (props && json_object_object_get_ex(props, property, &v))
                return v;
        if (status && key && json_object_object_get_ex(status, key, &v))
                return v;
        return NULL;
}

static const char *json_text(json_object *v)
{
        if (!v)
                return "n/a";
        if (json_object_is_type(v, json_type_string))
                return json_object_get_string(v);
        return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void print_field(const char *label, const char *value)
{
        _cleanup_free_ char *safe_label = text_sanitize(label), *safe = text_sanitize(value);

        printf("%12s: %s\n", safe_label, safe);
}

static void print_signals(json_object *signals)
{
        char line[1024] = "";
        size_t n = 0;

        if (!signals || !json_object_is_type(signals, json_type_object)) {
                print_field("Signals", json_text(signals));
                return;
        }
        json_object_object_foreach(signals, key, v)
        {
                int k = snprintf(line + n, sizeof(line) - n, "%s%s %.3g", n ? ", " : "", key,
                                 json_object_get_double(v));

                if (k < 0 || (size_t)k >= sizeof(line) - n)
                        break;
                n += (size_t)k;
        }
        print_field("Signals", n ? line : "none");
}

static void print_foreground(json_object *fg)
{
        char line[1024];

        /* (uss): pid, app id, cgroup; pid 0 when none is known. */
        if (!fg || !json_object_is_type(fg, json_type_array) || json_object_array_length(fg) != 3) {
                print_field("Foreground", json_text(fg));
                return;
        }
        if (json_object_get_int64(json_object_array_get_idx(fg, 0)) == 0) {
                print_field("Foreground", "none");
                return;
        }
        snprintf(line, sizeof(line), "%s (pid %" PRId64 ", %s)", json_text(json_object_array_get_idx(fg, 1)),
                 json_object_get_int64(json_object_array_get_idx(fg, 0)),
                 json_text(json_object_array_get_idx(fg, 2)));
        print_field("Foreground", line);
}

static const char *const status_keys_shown[] = {
        "level",   "score",  "signals",      "mode",       "dry_run",
        "version", "frozen", "frozen_count", "foreground", "acting",
};

CtlExit cmd_status(Ctl *c, int argc, char **argv)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_json_ json_object *status = NULL, *props = NULL;
        json_object *v, *frozen;
        char buf[64];
        CtlExit x;
        int r;

        if (argc > 0)
                return ctl_fail(CTL_EXIT_USAGE, "status takes no arguments (see --help)");
        x = ctl_connect(c);
        if (x != CTL_EXIT_OK)
                return x;

        r = call_dict(c, MEMGUARD_INTERFACE, "GetStatus", &e, &status);
        if (r < 0)
                return ctl_bus_error(c, &e, r, "get the status");
        if (c->json) {
                json_print(status, false);
                return CTL_EXIT_OK;
        }
        r = call_dict(c, "org.freedesktop.DBus.Properties", "GetAll", &e, &props);
        if (r < 0)
                return ctl_bus_error(c, &e, r, "read the properties");

        print_field("Level", json_text(pick(props, "PressureLevel", status, "level")));
        v = pick(props, "PressureScore", status, "score");
        snprintf(buf, sizeof(buf), "%.3f", v ? json_object_get_double(v) : 0.0);
        print_field("Score", v ? buf : "n/a");
        print_signals(pick(props, "Signals", status, "signals"));
        print_field("Mode", json_text(pick(props, "Mode", status, "mode")));
        v = pick(props, "DryRun", status, "dry_run");
        print_field("Dry run", v ? yes_no(json_object_get_boolean(v)) : "n/a");
        v = pick(NULL, NULL, status, "acting");
        print_field("Acting", !v                           ? "n/a"
                              : json_object_get_boolean(v) ? "yes"
                                                           : "no (invalid configuration: monitoring only)");

        frozen = pick(NULL, NULL, status, "frozen_count") ?: pick(NULL, NULL, status, "frozen");
        if (frozen && json_object_is_type(frozen, json_type_int))
                snprintf(buf, sizeof(buf), "%" PRId64, json_object_get_int64(frozen));
        else if ((frozen = pick(props, "FrozenProcesses", NULL, NULL)) &&
                 json_object_is_type(frozen, json_type_array))
                snprintf(buf, sizeof(buf), "%zu", json_object_array_length(frozen));
        else
                snprintf(buf, sizeof(buf), "n/a");
        print_field("Frozen", buf);
        print_foreground(pick(props, "Foreground", status, "foreground"));
        print_field("Version", json_text(pick(props, "Version", status, "version")));
        print_field("Bus", ctl_bus_name(c));

        /* Whatever else the daemon reports, as it is. */
        json_object_object_foreach(status, key, val)
        {
                bool shown = false;

                for (size_t i = 0; i < ELEMENTSOF(status_keys_shown); i++)
                        shown = shown || strcmp(key, status_keys_shown[i]) == 0;
                if (!shown)
                        print_field(key, json_text(val));
        }
        return CTL_EXIT_OK;
}

CtlExit cmd_frozen(Ctl *c, int argc, char **argv)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_json_ json_object *array = json_object_new_array();
        _cleanup_table_ Table *t = NULL;
        uint64_t now = now_realtime_usec();
        uint32_t pid, uid;
        uint64_t since, memory;
        const char *app;
        CtlExit x;
        int r;

        if (argc > 0)
                return ctl_fail(CTL_EXIT_USAGE, "frozen takes no arguments (see --help)");
        x = ctl_connect(c);
        if (x != CTL_EXIT_OK)
                return x;
        r = ctl_get_property(c, "FrozenProcesses", &e, &reply);
        if (r < 0)
                return ctl_bus_error(c, &e, r, "list the frozen processes");

        t = table_new(5, (const char *const[]){"PID", "APP", "UID", "SINCE", "MEMORY"},
                      (const bool[]){true, false, true, false, true});
        r = sd_bus_message_enter_container(reply, 'v', "a(usutt)");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(usutt)");
        while (r >= 0 &&
               (r = sd_bus_message_read(reply, "(usutt)", &pid, &app, &uid, &since, &memory)) > 0) {
                char spid[16], suid[16], when[32], ago[32], ssince[80], smem[32], iso[48];
                json_object *o = json_object_new_object();

                format_local_time(when, sizeof(when), since, false);
                format_ago(ago, sizeof(ago), since, now);
                format_iso8601(iso, sizeof(iso), since);
                snprintf(ssince, sizeof(ssince), "%s (%s)", when, ago);
                snprintf(spid, sizeof(spid), "%" PRIu32, pid);
                snprintf(suid, sizeof(suid), "%" PRIu32, uid);
                format_bytes(smem, sizeof(smem), memory);
                table_add_row(t, (const char *const[]){spid, app, suid, ssince, smem});

                json_object_object_add(o, "pid", json_object_new_int64(pid));
                json_object_object_add(o, "app", json_object_new_string(app));
                json_object_object_add(o, "uid", json_object_new_int64(uid));
                json_object_object_add(o, "since_usec", json_object_new_uint64(since));
                json_object_object_add(o, "since", json_object_new_string(iso));
                json_object_object_add(o, "memory_bytes", json_object_new_uint64(memory));
                json_object_array_add(array, o);
        }
        if (r < 0)
                return ctl_fail(CTL_EXIT_FAILED, "cannot parse the FrozenProcesses property: %s",
                                STRERROR(r));

        if (c->json)
                json_print(array, false);
        else if (table_n_rows(t) == 0)
                printf("No frozen processes.\n");
        else
                table_print(t, stdout);
        return CTL_EXIT_OK;
}

CtlExit cmd_reload(Ctl *c, int argc, char **argv)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        CtlExit x;
        int r;

        if (argc > 0)
                return ctl_fail(CTL_EXIT_USAGE, "reload takes no arguments (see --help)");
        x = ctl_connect(c);
        if (x != CTL_EXIT_OK)
                return x;
        r = ctl_call(c, "Reload", &e, NULL);
        if (r < 0) {
                if (sd_bus_error_has_name(&e, MEMGUARD_ERROR_PREFIX "Failed")) {
                        _cleanup_free_ char *why = text_sanitize(e.message);

                        return ctl_fail(
                                CTL_EXIT_FAILED,
                                "cannot reload the configuration: %s; memguard keeps the last good one",
                                *why ? why : "it is invalid");
                }
                return ctl_bus_error(c, &e, r, "reload the configuration");
        }
        return CTL_EXIT_OK;
}
