/* SPDX-License-Identifier: MIT */
/*
 * Method calls that wait: for the caller's uid (asked of the bus once per
 * unique name) and for polkit. Each is a BusCall that moves on as answers
 * arrive:
 *
 *   caller uid -> validate the target -> authorize (uid 0: yes; user mode:
 *   the daemon's uid; system mode: polkit) -> validate the target again
 *   -> act -> reply.
 *
 * A call whose caller leaves the bus is dropped without a reply and its
 * polkit check cancelled; so is every call when the bus itself goes away.
 */
#include <errno.h>
#include <string.h>

#include "bus-internal.h"
#include "log.h"

/* ---- pending calls ---- */

static void call_free(BusCall *call)
{
        Bus *b = call->bus;
        Caller *c = caller_table_find(&b->callers, call->sender);

        if (call->prev)
                call->prev->next = call->next;
        else
                b->calls = call->next;
        if (call->next)
                call->next->prev = call->prev;
        b->n_calls--;
        if (c && c->n_pending > 0)
                c->n_pending--;
        polkit_check_cancel(call->check);
        sd_bus_message_unref(call->message);
        free(call->app_id);
        free(call);
}

static void call_reply_error(BusCall *call, int r, sd_bus_error *error)
{
        (void)bus_reply_error(call->message, r, error);
        call_free(call);
}

static void call_fail(BusCall *call, const char *name, const char *message)
{
        (void)sd_bus_reply_method_errorf(call->message, name, "%s", message);
        call_free(call);
}

void bus_calls_drop_sender(Bus *b, const char *sender)
{
        for (BusCall *call = b->calls, *next; call; call = next) {
                next = call->next;
                if (strcmp(call->sender, sender) == 0) {
                        log_debug("%s left with a call pending, dropping it", sender);
                        call_free(call);
                }
        }
}

void bus_calls_drop_all(Bus *b)
{
        while (b->calls)
                call_free(b->calls);
}

static int call_validate(BusCall *call, BusTarget *ret, sd_bus_error *error)
{
        Bus *b = call->bus;
        BusTarget t = {.pid = call->pid};
        int r;

        r = b->ops.validate_target(b->userdata, call->action, call->pid, call->caller_uid, &t, error);
        if (r < 0)
                return sd_bus_error_is_set(error) ? r : bus_set_errno(error, r, "invalid target");
        t.pid = call->pid;
        *ret = t;
        return 0;
}

/* Authorized: check the target again, then act. */
static void call_finish(BusCall *call)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Bus *b = call->bus;
        BusTarget again;
        int r;

        switch (call->method) {
        case BUS_METHOD_RELOAD:
                r = b->ops.reload
                            ? b->ops.reload(b->userdata, &error)
                            : sd_bus_error_set(&error, BUS_ERROR_NOT_SUPPORTED, "reload is not supported");
                break;
        case BUS_METHOD_LIST_CANDIDATES:
                r = bus_reply_candidates(b, call, &error);
                if (r >= 0) {
                        call_free(call);
                        return;
                }
                break;
        default:
                r = call_validate(call, &again, &error);
                if (r < 0)
                        break;
                if (again.start_time != call->target.start_time) {
                        r = sd_bus_error_setf(&error, BUS_ERROR_NO_SUCH_PROCESS,
                                              "process %d exited while the call was being authorized",
                                              call->pid);
                        break;
                }
                if (again.uid != call->target.uid) {
                        r = sd_bus_error_setf(&error, BUS_ERROR_NOT_AUTHORIZED,
                                              "process %d changed owner while the call was being authorized",
                                              call->pid);
                        break;
                }
                if (call->method == BUS_METHOD_SET_FOREGROUND)
                        r = b->ops.set_foreground(b->userdata, &again, strempty(call->app_id),
                                                  call->caller_uid, &error);
                else
                        r = b->ops.act(b->userdata, call->action, &again, call->caller_uid, &error);
                if (r < 0 && !sd_bus_error_is_set(&error))
                        r = bus_set_errno(&error, r, bus_action_to_string(call->action));
        }
        if (r < 0) {
                call_reply_error(call, r, &error);
                return;
        }
        (void)sd_bus_reply_method_return(call->message, NULL);
        call_free(call);
}

static void on_polkit_answer(int result, void *userdata)
{
        BusCall *call = userdata;

        call->check = NULL; /* freed by polkit-auth once we return */
        if (call->method == BUS_METHOD_LIST_CANDIDATES) {
                call->see_all = result > 0; /* a "no" only narrows the list */
                call_finish(call);
                return;
        }
        if (result > 0) {
                call_finish(call);
                return;
        }
        log_debug("%s (uid %u) not authorized for %s(%d)%s", call->sender, (unsigned)call->caller_uid,
                  bus_method_name(call->method), call->pid, result < 0 ? ": polkit could not answer" : "");
        call_fail(call, BUS_ERROR_NOT_AUTHORIZED,
                  result < 0 ? "not authorized (polkit could not answer)" : "not authorized");
}

static void call_authorize(BusCall *call, const char *action_id)
{
        Bus *b = call->bus;
        int r;

        if (!b->system_mode || call->caller_uid == 0) {
                call->see_all = true;
                call_finish(call);
                return;
        }
        if (polkit_auth_n_pending(b->polkit) >= b->limits.max_polkit) {
                call_fail(call, BUS_ERROR_RATE_LIMITED, "too many authorizations pending, try again later");
                return;
        }
        r = polkit_auth_check_async(b->polkit, action_id, call->sender, call->interactive,
                                    call->interactive ? b->limits.polkit_interactive_timeout_usec
                                                      : b->limits.polkit_timeout_usec,
                                    on_polkit_answer, call, &call->check);
        if (r < 0)
                call_fail(call, BUS_ERROR_NOT_AUTHORIZED, "not authorized (polkit unavailable)");
}

/* The caller's uid is known: decide what authorization the call needs. */
static void call_step(BusCall *call)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Bus *b = call->bus;
        const char *action_id;
        int r;

        if (!b->system_mode && call->caller_uid != b->own_uid) {
                call_fail(call, BUS_ERROR_NOT_AUTHORIZED, "this memguard serves only its own user");
                return;
        }

        switch (call->method) {
        case BUS_METHOD_GET_STATUS:
                r = bus_reply_status(b, call->message);
                if (r < 0)
                        call_reply_error(call, r, NULL);
                else
                        call_free(call);
                return;
        case BUS_METHOD_REGISTER_AGENT:
                r = bus_agent_register(b, call->sender, call->caller_uid, &error);
                if (r < 0)
                        call_reply_error(call, r, &error);
                else {
                        (void)sd_bus_reply_method_return(call->message, NULL);
                        call_free(call);
                }
                return;
        case BUS_METHOD_LIST_CANDIDATES:
                call_authorize(call, BUS_POLKIT_MANAGE_ANY);
                return;
        case BUS_METHOD_RELOAD:
                call_authorize(call, BUS_POLKIT_RELOAD);
                return;
        default:
                break;
        }

        r = call_validate(call, &call->target, &error);
        if (r < 0) {
                call_reply_error(call, r, &error);
                return;
        }
        if (!b->system_mode && call->target.uid != b->own_uid) {
                call_fail(call, BUS_ERROR_NOT_AUTHORIZED, "not your process");
                return;
        }
        switch (call->action) {
        case BUS_ACTION_FOREGROUND:
                if (call->target.uid != call->caller_uid) {
                        call_fail(call, BUS_ERROR_NOT_AUTHORIZED,
                                  "a foreground hint must name your own process");
                        return;
                }
                action_id = BUS_POLKIT_MANAGE_OWN;
                break;
        case BUS_ACTION_PROTECT:
        case BUS_ACTION_UNPROTECT:
                action_id = BUS_POLKIT_CHANGE_RULES;
                break;
        default:
                action_id =
                        call->target.uid == call->caller_uid ? BUS_POLKIT_MANAGE_OWN : BUS_POLKIT_MANAGE_ANY;
        }
        call_authorize(call, action_id);
}

void bus_calls_uid_known(Bus *b, const char *sender, int error, uid_t uid)
{
        for (;;) {
                BusCall *call = NULL;

                /* The oldest first (new calls are added at the head), so replies keep their order. */
                for (BusCall *c = b->calls; c; c = c->next)
                        if (!c->have_uid && strcmp(c->sender, sender) == 0)
                                call = c;
                if (!call)
                        return;
                if (error < 0) {
                        call_fail(call, BUS_ERROR_NOT_AUTHORIZED, "cannot identify the caller");
                        continue;
                }
                call->have_uid = true;
                call->caller_uid = uid;
                call_step(call); /* may free calls: start over */
        }
}

int bus_call_start(Bus *b, sd_bus_message *m, BusMethod method, BusAction action, pid_t pid,
                   bool interactive, const char *app_id, sd_bus_error *error)
{
        const char *sender = sd_bus_message_get_sender(m);
        BusCall *call;
        Caller *c;
        int r;

        if (!sender)
                return sd_bus_error_set(error, BUS_ERROR_NOT_AUTHORIZED, "calls must come through a bus");
        c = caller_table_get(&b->callers, sender, bus_now());
        if (!c || b->n_calls >= b->limits.max_pending || c->n_pending >= b->limits.max_pending_caller)
                return sd_bus_error_set(error, BUS_ERROR_RATE_LIMITED,
                                        "too many calls pending, try again later");

        call = xmalloc0(sizeof(*call));
        call->bus = b;
        call->message = sd_bus_message_ref(m);
        strcpy(call->sender, sender);
        call->method = method;
        call->action = action;
        call->pid = pid;
        call->interactive = interactive || sd_bus_message_get_allow_interactive_authorization(m) > 0;
        call->app_id = app_id ? xstrdup(app_id) : NULL;
        call->next = b->calls;
        if (b->calls)
                b->calls->prev = call;
        b->calls = call;
        b->n_calls++;
        c->n_pending++;

        if (c->uid_state == CALLER_UID_KNOWN) {
                call->have_uid = true;
                call->caller_uid = c->uid;
                call_step(call);
                return 1;
        }
        r = bus_query_caller_uid(b, sender);
        if (r < 0) {
                call_free(call);
                if (r == -EBUSY)
                        return sd_bus_error_set(error, BUS_ERROR_RATE_LIMITED, "too many callers waiting");
                return bus_set_errno(error, r, "cannot identify the caller");
        }
        return 1; /* the reply follows when the uid is known */
}
