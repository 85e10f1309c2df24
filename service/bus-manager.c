/* SPDX-License-Identifier: MIT */
/*
 * org.memguard.Manager: the vtable, the property getters, the replies that
 * serialize the manager's state, and the method handlers, which check their
 * arguments and hand anything that needs the caller's uid or polkit to
 * bus-calls.c.
 */
#include <errno.h>
#include <string.h>

#include "build-config.h"
#include "bus-internal.h"
#include "log.h"

#define APP_ID_MAX 255

static const char *const method_names[_BUS_METHOD_MAX] = {
        [BUS_METHOD_GET_STATUS] = "GetStatus",
        [BUS_METHOD_LIST_CANDIDATES] = "ListCandidates",
        [BUS_METHOD_FREEZE] = "Freeze",
        [BUS_METHOD_THAW] = "Thaw",
        [BUS_METHOD_KILL] = "Kill",
        [BUS_METHOD_PROTECT] = "Protect",
        [BUS_METHOD_SET_FOREGROUND] = "SetForeground",
        [BUS_METHOD_REGISTER_AGENT] = "RegisterAgent",
        [BUS_METHOD_RELOAD] = "Reload",
};

const char *bus_method_name(BusMethod m)
{
        return m >= 0 && m < _BUS_METHOD_MAX ? method_names[m] : "?";
}

static void bus_get_state(Bus *b, BusState *ret)
{
        *ret = (BusState){.level = LEVEL_NORMAL};
        b->ops.get_state(b->userdata, ret);
}

/* ---- properties ---- */

static int append_signals(sd_bus_message *m, const PressureResult *p)
{
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sd}");
        if (r < 0)
                return r;
        for (int i = 0; p && i < _SIGNAL_MAX; i++)
                if (p->has[i]) {
                        r = sd_bus_message_append(m, "{sd}", signal_to_string(i), p->signal[i]);
                        if (r < 0)
                                return r;
                }
        if (p) {
                r = sd_bus_message_append(m, "{sd}{sd}", "psi_some_rate", p->psi_some_rate, "psi_full_rate",
                                          p->psi_full_rate);
                if (r >= 0 && p->mem_available_percent >= 0)
                        r = sd_bus_message_append(m, "{sd}", "mem_available_percent",
                                                  p->mem_available_percent);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int append_frozen(sd_bus_message *m, const BusState *s)
{
        int r;

        r = sd_bus_message_open_container(m, 'a', "(usutt)");
        for (size_t i = 0; r >= 0 && i < s->n_frozen; i++) {
                const BusFrozen *f = &s->frozen[i];
                r = sd_bus_message_append(m, "(usutt)", (uint32_t)f->pid, strempty(f->app), (uint32_t)f->uid,
                                          f->since_usec, f->bytes);
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int append_foreground(sd_bus_message *m, const BusState *s)
{
        return sd_bus_message_append(m, "(uss)", (uint32_t)(s->fg_pid > 0 ? s->fg_pid : 0),
                                     strempty(s->fg_app_id), strempty(s->fg_cgroup));
}

static const char *mode_string(Bus *b)
{
        return b->system_mode ? "system" : "user";
}

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Bus *b = userdata;
        BusState s;

        bus_get_state(b, &s);
        if (strcmp(property, "PressureLevel") == 0)
                return sd_bus_message_append(reply, "s", level_to_string(s.level) ?: "normal");
        if (strcmp(property, "PressureScore") == 0)
                return sd_bus_message_append(reply, "d", s.pressure ? s.pressure->score : 0.0);
        if (strcmp(property, "Signals") == 0)
                return append_signals(reply, s.pressure);
        if (strcmp(property, "FrozenProcesses") == 0)
                return append_frozen(reply, &s);
        if (strcmp(property, "Foreground") == 0)
                return append_foreground(reply, &s);
        if (strcmp(property, "Mode") == 0)
                return sd_bus_message_append(reply, "s", mode_string(b));
        if (strcmp(property, "DryRun") == 0)
                return sd_bus_message_append(reply, "b", (int)s.dry_run);
        if (strcmp(property, "Version") == 0)
                return sd_bus_message_append(reply, "s", VERSION);
        return -ENOENT;
}

int bus_reply_status(Bus *b, sd_bus_message *call)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        BusState s;
        int r;

        bus_get_state(b, &s);
        r = sd_bus_message_new_method_return(call, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}", "level", "s",
                                          level_to_string(s.level) ?: "normal", "score", "d",
                                          s.pressure ? s.pressure->score : 0.0);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", "signals");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', "a{sd}");
        if (r >= 0)
                r = append_signals(reply, s.pressure);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}", "mode", "s", mode_string(b),
                                          "dry_run", "b", (int)s.dry_run, "version", "s", VERSION,
                                          "frozen_count", "u", (uint32_t)s.n_frozen, "acting", "b",
                                          (int)s.acting);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "foreground", "(uss)",
                                          (uint32_t)(s.fg_pid > 0 ? s.fg_pid : 0), strempty(s.fg_app_id),
                                          strempty(s.fg_cgroup));
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

int bus_reply_candidates(Bus *b, BusCall *call, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const BusCandidate *c = NULL;
        size_t n = 0;
        int r;

        if (!b->ops.list_candidates)
                return sd_bus_error_set(error, BUS_ERROR_NOT_SUPPORTED, "no candidate list here");
        r = b->ops.list_candidates(b->userdata, &c, &n, error);
        if (r < 0)
                return sd_bus_error_is_set(error) ? r : bus_set_errno(error, r, "cannot list candidates");

        r = sd_bus_message_new_method_return(call->message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(uussssttubs)");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (!call->see_all && c[i].uid != call->caller_uid)
                        continue;
                r = sd_bus_message_append(reply, "(uussssttubs)", (uint32_t)c[i].pid, (uint32_t)c[i].uid,
                                          strempty(c[i].comm), strempty(c[i].exe), strempty(c[i].unit),
                                          strempty(c[i].app_id), c[i].rss_bytes, c[i].swap_bytes,
                                          (uint32_t)MIN(c[i].priority, 100u), (int)c[i].protected_,
                                          strempty(c[i].reason));
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        return r < 0 ? bus_set_errno(error, r, "cannot send the candidates") : 0;
}

/* ---- method handlers ---- */

static int read_pid(sd_bus_message *m, pid_t *ret, sd_bus_error *error)
{
        uint32_t pid;
        int r;

        r = sd_bus_message_read(m, "u", &pid);
        if (r < 0)
                return sd_bus_error_set(error, BUS_ERROR_INVALID_ARGUMENT, "bad pid argument");
        if (pid == 0 || pid > INT32_MAX)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT, "%u is not a valid pid", pid);
        *ret = (pid_t)pid;
        return 0;
}

/* a{sv}: "interactive" (b); unknown keys are ignored. */
static int read_options(sd_bus_message *m, bool *ret_interactive, sd_bus_error *error)
{
        bool interactive = false;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                goto bad;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        goto bad;
                if (strcmp(key, "interactive") == 0) {
                        int b;

                        r = sd_bus_message_read(m, "v", "b", &b);
                        if (r < 0)
                                return sd_bus_error_set(error, BUS_ERROR_INVALID_ARGUMENT,
                                                        "option interactive must be a boolean");
                        interactive = b;
                } else {
                        r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                goto bad;
                }
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        goto bad;
        }
        if (r < 0)
                goto bad;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                goto bad;
        *ret_interactive = interactive;
        return 0;
bad:
        return sd_bus_error_set(error, BUS_ERROR_INVALID_ARGUMENT, "bad options argument");
}

static int method_get_status(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Bus *b = userdata;

        if (b->system_mode)
                return bus_reply_status(b, m); /* public: no need to know who asks */
        return bus_call_start(b, m, BUS_METHOD_GET_STATUS, _BUS_ACTION_MAX, 0, false, NULL, error);
}

static int method_list_candidates(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return bus_call_start(userdata, m, BUS_METHOD_LIST_CANDIDATES, _BUS_ACTION_MAX, 0, false, NULL,
                              error);
}

static int method_act(sd_bus_message *m, Bus *b, BusMethod method, BusAction action, sd_bus_error *error)
{
        bool interactive = false;
        pid_t pid;
        int r;

        r = read_pid(m, &pid, error);
        if (r < 0)
                return r;
        if (method == BUS_METHOD_PROTECT) {
                int protect;

                r = sd_bus_message_read(m, "b", &protect);
                if (r < 0)
                        return sd_bus_error_set(error, BUS_ERROR_INVALID_ARGUMENT, "bad protect argument");
                action = protect ? BUS_ACTION_PROTECT : BUS_ACTION_UNPROTECT;
        }
        r = read_options(m, &interactive, error);
        if (r < 0)
                return r;
        return bus_call_start(b, m, method, action, pid, interactive, NULL, error);
}

static int method_freeze(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return method_act(m, userdata, BUS_METHOD_FREEZE, BUS_ACTION_FREEZE, error);
}

static int method_thaw(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return method_act(m, userdata, BUS_METHOD_THAW, BUS_ACTION_THAW, error);
}

static int method_kill(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return method_act(m, userdata, BUS_METHOD_KILL, BUS_ACTION_KILL, error);
}

static int method_protect(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return method_act(m, userdata, BUS_METHOD_PROTECT, BUS_ACTION_PROTECT, error);
}

static bool app_id_valid(const char *s)
{
        size_t n = strlen(s);

        if (n > APP_ID_MAX)
                return false;
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

static int method_set_foreground(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        const char *app_id;
        pid_t pid;
        int r;

        r = read_pid(m, &pid, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "s", &app_id);
        if (r < 0 || !app_id_valid(app_id))
                return sd_bus_error_set(error, BUS_ERROR_INVALID_ARGUMENT,
                                        "app_id must be at most 255 printable characters");
        if (!((Bus *)userdata)->ops.set_foreground)
                return sd_bus_error_set(error, BUS_ERROR_NOT_SUPPORTED,
                                        "foreground hints are not supported");
        return bus_call_start(userdata, m, BUS_METHOD_SET_FOREGROUND, BUS_ACTION_FOREGROUND, pid, false,
                              app_id, error);
}

static int method_register_agent(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return bus_call_start(userdata, m, BUS_METHOD_REGISTER_AGENT, _BUS_ACTION_MAX, 0, false, NULL,
                              error);
}

static int method_respond_to_warning(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Bus *b = userdata;
        const char *id, *response;
        const BusWarning *w;
        BusWarningResponse resp;
        int r;

        r = sd_bus_message_read(m, "ss", &id, &response);
        if (r < 0)
                return sd_bus_error_set(error, BUS_ERROR_INVALID_ARGUMENT, "bad arguments");
        resp = bus_warning_response_from_string(response);
        if (resp < 0)
                return sd_bus_error_setf(error, BUS_ERROR_INVALID_ARGUMENT,
                                         "response must be allow, postpone or protect");
        w = bus_warning_find(b, id);
        if (!w)
                return sd_bus_error_set(error, BUS_ERROR_UNKNOWN_WARNING, "no such warning (expired?)");
        /* Agents registered with the warned uid only; their uid came from the bus. */
        if (!bus_agent_is(b, sd_bus_message_get_sender(m), w->uid))
                return sd_bus_error_set(error, BUS_ERROR_NOT_AUTHORIZED,
                                        "only the warned user's registered agents may answer");
        if (!b->ops.respond_to_warning)
                return sd_bus_error_set(error, BUS_ERROR_NOT_SUPPORTED, "answers are not supported");
        r = b->ops.respond_to_warning(b->userdata, w->id, w->pid, resp, w->uid, error);
        if (r < 0)
                return sd_bus_error_is_set(error) ? r : bus_set_errno(error, r, "cannot take the answer");
        return sd_bus_reply_method_return(m, NULL);
}

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return bus_call_start(userdata, m, BUS_METHOD_RELOAD, _BUS_ACTION_MAX, 0, false, NULL, error);
}

#define PROCESS_SIGNAL(name)                                                                                \
        SD_BUS_SIGNAL_WITH_ARGS(name, SD_BUS_ARGS("u", pid, "s", app, "u", uid, "s", reason), 0)

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("PressureLevel", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PressureScore", "d", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Signals", "a{sd}", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("FrozenProcesses", "a(usutt)", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Foreground", "(uss)", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Mode", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DryRun", "b", property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Version", "s", property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),

        /* UNPRIVILEGED everywhere: authorization is ours (uid, polkit), and
         * sd-bus's own check would ask the bus for credentials synchronously. */
        SD_BUS_METHOD_WITH_ARGS("GetStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", status),
                                method_get_status, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListCandidates", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(uussssttubs)", candidates), method_list_candidates,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Freeze", SD_BUS_ARGS("u", pid, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_freeze, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Thaw", SD_BUS_ARGS("u", pid, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_thaw, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_ARGS("u", pid, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_kill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Protect", SD_BUS_ARGS("u", pid, "b", protect, "a{sv}", options),
                                SD_BUS_NO_RESULT, method_protect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetForeground", SD_BUS_ARGS("u", pid, "s", app_id), SD_BUS_NO_RESULT,
                                method_set_foreground, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RegisterAgent", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_register_agent,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RespondToWarning", SD_BUS_ARGS("s", warning_id, "s", response),
                                SD_BUS_NO_RESULT, method_respond_to_warning, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload,
                                SD_BUS_VTABLE_UNPRIVILEGED),

        SD_BUS_SIGNAL_WITH_ARGS("PressureLevelChanged", SD_BUS_ARGS("s", level, "s", previous, "d", score),
                                0),
        PROCESS_SIGNAL("ProcessFrozen"),
        PROCESS_SIGNAL("ProcessThawed"),
        PROCESS_SIGNAL("ProcessCheckpointed"),
        PROCESS_SIGNAL("ProcessKilled"),
        SD_BUS_SIGNAL_WITH_ARGS(
                "EvictionWarning",
                SD_BUS_ARGS("s", warning_id, "u", pid, "s", app, "s", action, "u", deadline_ms, "s", reason),
                0),
        SD_BUS_VTABLE_END,
};

int bus_manager_add_vtable(Bus *b, sd_bus *bus)
{
        return sd_bus_add_object_vtable(bus, NULL, BUS_PATH, BUS_INTERFACE, manager_vtable, b);
}
