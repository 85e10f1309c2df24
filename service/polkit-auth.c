/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <gio/gio.h>
#include <polkit/polkit.h>

#include "log.h"
#include "polkit-auth.h"

typedef enum AuthState {
        AUTH_NONE,       /* no authority; the next check fetches one */
        AUTH_CONNECTING, /* g_bus_get / polkit_authority_get_async in flight */
        AUTH_READY,
} AuthState;

struct PolkitCheck {
        PolkitAuth *auth; /* NULL once the PolkitAuth is gone */
        char *action_id;
        char *sender;
        bool interactive;
        bool started; /* handed to polkit: its callback will come and free us */
        GCancellable *cancellable;
        guint timeout_id;
        polkit_auth_callback_t callback; /* NULL once answered or cancelled */
        void *userdata;
        PolkitCheck *prev, *next;
};

/* One attempt at getting the authority. It outlives a reset or free of the
 * PolkitAuth (auth is then NULL) until its last GLib callback has run. */
typedef struct AuthSetup {
        PolkitAuth *auth;
        GCancellable *cancellable;
} AuthSetup;

struct PolkitAuth {
        AuthState state;
        AuthSetup *setup;
        GDBusConnection *connection;
        gulong closed_handler;
        PolkitAuthority *authority;
        PolkitCheck *checks; /* every live check */
        unsigned n_pending;
};

static void check_unlink(PolkitCheck *c)
{
        PolkitAuth *a = c->auth;

        if (!a)
                return;
        if (c->prev)
                c->prev->next = c->next;
        else
                a->checks = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        c->auth = NULL;
}

static void check_free(PolkitCheck *c)
{
        check_unlink(c);
        if (c->timeout_id)
                g_source_remove(c->timeout_id);
        g_clear_object(&c->cancellable);
        g_free(c->action_id);
        g_free(c->sender);
        g_free(c);
}

/* Stop caring about c: no callback, and no polkit request (cancelled if started). */
static void check_abandon(PolkitCheck *c)
{
        if (c->callback) {
                c->callback = NULL;
                if (c->auth)
                        c->auth->n_pending--;
        }
        if (c->timeout_id) {
                g_source_remove(c->timeout_id);
                c->timeout_id = 0;
        }
        if (c->started) {
                check_unlink(c);
                g_cancellable_cancel(c->cancellable); /* polkit's callback frees c */
        } else
                check_free(c);
}

/* Deliver the answer, then abandon the rest of the check. */
static void check_answer(PolkitCheck *c, int result)
{
        polkit_auth_callback_t cb = c->callback;
        void *userdata = c->userdata;

        if (cb) {
                c->callback = NULL;
                if (c->auth)
                        c->auth->n_pending--;
        }
        check_abandon(c);
        if (cb)
                cb(result, userdata);
}

/* Answer every check that has not been handed to polkit yet (or all of them). */
static void answer_all(PolkitAuth *a, bool only_queued, int result)
{
        for (;;) {
                PolkitCheck *c;

                for (c = a->checks; c; c = c->next)
                        if (c->callback && (!only_queued || !c->started))
                                break;
                if (!c)
                        return;
                check_answer(c, result); /* the callback may add or cancel checks: start over */
        }
}

static void on_check_done(GObject *source, GAsyncResult *res, gpointer userdata)
{
        PolkitCheck *c = userdata;
        g_autoptr(GError) error = NULL;
        g_autoptr(PolkitAuthorizationResult) result = NULL;
        int answer;

        result = polkit_authority_check_authorization_finish(POLKIT_AUTHORITY(source), res, &error);
        c->started = false; /* polkit is done with it */
        if (!result) {
                log_debug("polkit check of %s for %s failed: %s", c->action_id, c->sender, error->message);
                answer = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? -ECANCELED : -EIO;
        } else {
                answer = polkit_authorization_result_get_is_authorized(result) ? 1 : 0;
                log_debug("polkit: %s for %s: %s%s", c->action_id, c->sender, answer ? "yes" : "no",
                          polkit_authorization_result_get_is_challenge(result) ? " (challenge)" : "");
        }
        if (c->callback)
                check_answer(c, answer);
        else
                check_free(c);
}

static void check_start(PolkitAuth *a, PolkitCheck *c)
{
        g_autoptr(PolkitSubject) subject = polkit_system_bus_name_new(c->sender);

        c->started = true;
        polkit_authority_check_authorization(
                a->authority, subject, c->action_id, NULL,
                c->interactive ? POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION
                               : POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE,
                c->cancellable, on_check_done, c);
}

static gboolean on_check_timeout(gpointer userdata)
{
        PolkitCheck *c = userdata;

        c->timeout_id = 0;
        log_debug("polkit check of %s for %s timed out", c->action_id, c->sender);
        check_answer(c, -ETIMEDOUT);
        return G_SOURCE_REMOVE;
}

static void setup_free(AuthSetup *s)
{
        g_clear_object(&s->cancellable);
        g_free(s);
}

static void auth_drop(PolkitAuth *a)
{
        if (a->setup) {
                a->setup->auth = NULL;
                g_cancellable_cancel(a->setup->cancellable);
                a->setup = NULL;
        }
        if (a->connection && a->closed_handler)
                g_signal_handler_disconnect(a->connection, a->closed_handler);
        a->closed_handler = 0;
        g_clear_object(&a->connection);
        g_clear_object(&a->authority);
        a->state = AUTH_NONE;
}

void polkit_auth_reset(PolkitAuth *a)
{
        if (!a)
                return;
        auth_drop(a);
        answer_all(a, false, -ENOTCONN);
}

static void on_connection_closed(GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
                                 gpointer userdata)
{
        log_debug("polkit: the system bus connection closed");
        polkit_auth_reset(userdata);
}

static void on_authority(GObject *source, GAsyncResult *res, gpointer userdata)
{
        AuthSetup *setup = userdata;
        g_autoptr(GError) error = NULL;
        PolkitAuthority *authority;
        PolkitAuth *a = setup->auth;

        authority = polkit_authority_get_finish(res, &error);
        setup_free(setup);
        if (!a) { /* reset or freed meanwhile */
                g_clear_object(&authority);
                return;
        }
        a->setup = NULL;
        if (!authority) {
                log_debug("polkit: no authority: %s", error->message);
                auth_drop(a);
                answer_all(a, true, -ENOTCONN);
                return;
        }
        a->authority = authority;
        a->state = AUTH_READY;
        for (PolkitCheck *c = a->checks; c; c = c->next)
                if (c->callback && !c->started)
                        check_start(a, c);
}

static void on_bus(GObject *source, GAsyncResult *res, gpointer userdata)
{
        AuthSetup *setup = userdata;
        g_autoptr(GError) error = NULL;
        GDBusConnection *connection;
        PolkitAuth *a = setup->auth;

        connection = g_bus_get_finish(res, &error);
        if (!a) {
                g_clear_object(&connection);
                setup_free(setup);
                return;
        }
        if (!connection || g_dbus_connection_is_closed(connection)) {
                log_debug("polkit: no system bus: %s", connection ? "connection closed" : error->message);
                g_clear_object(&connection);
                setup_free(setup);
                a->setup = NULL;
                a->state = AUTH_NONE;
                answer_all(a, true, -ENOTCONN);
                return;
        }
        /* Survive the bus going away: the default for GLib's shared connection is raise(SIGTERM). */
        g_dbus_connection_set_exit_on_close(connection, FALSE);
        a->connection = connection;
        a->closed_handler = g_signal_connect(connection, "closed", G_CALLBACK(on_connection_closed), a);
        polkit_authority_get_async(setup->cancellable, on_authority, setup);
}

int polkit_auth_new(PolkitAuth **ret)
{
        *ret = g_new0(PolkitAuth, 1);
        return 0;
}

PolkitAuth *polkit_auth_free(PolkitAuth *a)
{
        if (!a)
                return NULL;
        auth_drop(a);
        while (a->checks)
                check_abandon(a->checks);
        g_free(a);
        return NULL;
}

int polkit_auth_check_async(PolkitAuth *a, const char *action_id, const char *sender, bool interactive,
                            uint64_t timeout_usec, polkit_auth_callback_t callback, void *userdata,
                            PolkitCheck **ret)
{
        PolkitCheck *c;
        uint64_t msec = timeout_usec / USEC_PER_MSEC;

        if (!a || !action_id || !sender || !*sender || !callback)
                return -EINVAL;

        c = g_new0(PolkitCheck, 1);
        c->auth = a;
        c->action_id = g_strdup(action_id);
        c->sender = g_strdup(sender);
        c->interactive = interactive;
        c->cancellable = g_cancellable_new();
        c->callback = callback;
        c->userdata = userdata;
        c->next = a->checks;
        if (a->checks)
                a->checks->prev = c;
        a->checks = c;
        a->n_pending++;
        c->timeout_id = g_timeout_add_full(G_PRIORITY_DEFAULT, (guint)MIN(msec, (uint64_t)G_MAXUINT),
                                           on_check_timeout, c, NULL);

        switch (a->state) {
        case AUTH_READY:
                check_start(a, c);
                break;
        case AUTH_NONE:
                a->state = AUTH_CONNECTING;
                a->setup = g_new0(AuthSetup, 1);
                a->setup->auth = a;
                a->setup->cancellable = g_cancellable_new();
                g_bus_get(G_BUS_TYPE_SYSTEM, a->setup->cancellable, on_bus, a->setup);
                break;
        case AUTH_CONNECTING:
                break; /* started when the authority arrives */
        }

        if (ret)
                *ret = c;
        return 0;
}

void polkit_check_cancel(PolkitCheck *c)
{
        if (c)
                check_abandon(c);
}

unsigned polkit_auth_n_pending(PolkitAuth *a)
{
        return a ? a->n_pending : 0;
}
