/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous polkit checks (polkit-gobject, driven by the GLib context that
 * glib-loop.h embeds in sd-event). The subject is the caller's system bus
 * name. Whatever goes wrong -- polkitd absent, the bus gone, an error, a
 * timeout -- the answer is no.
 *
 * The authority is fetched asynchronously on first use (polkit_authority_get_async
 * runs its blocking setup in a GLib worker thread). Before that, this module
 * takes GLib's shared system bus connection itself and turns off its
 * exit-on-close: by default GLib raise()s SIGTERM when the system bus goes
 * away, and the daemon must survive a bus restart. When that connection
 * closes, the authority is dropped and fetched again for the next check.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

typedef struct PolkitAuth PolkitAuth;
typedef struct PolkitCheck PolkitCheck;

/*
 * The answer: 1 authorized, 0 not authorized, -errno when polkit could not
 * answer (treat as no). The check is freed right after the callback returns.
 */
typedef void (*polkit_auth_callback_t)(int result, void *userdata);

int polkit_auth_new(PolkitAuth **ret);
/* Cancels every pending check without calling its callback. */
PolkitAuth *polkit_auth_free(PolkitAuth *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(PolkitAuth *, polkit_auth_free)

/*
 * Start a check of `action_id` for the bus name `sender`. `interactive` lets
 * polkit ask the user (through their authentication agent). After
 * `timeout_usec` the check is cancelled and answers -ETIMEDOUT. On success
 * *ret (may be NULL) is a handle for polkit_check_cancel(), valid until the
 * callback has been called.
 */
int polkit_auth_check_async(PolkitAuth *a, const char *action_id, const char *sender, bool interactive,
                            uint64_t timeout_usec, polkit_auth_callback_t callback, void *userdata,
                            PolkitCheck **ret);

/* Cancel a pending check (the caller left): polkitd is told
 * (CancelCheckAuthorization) and the callback is never called. */
void polkit_check_cancel(PolkitCheck *c);

/* The system bus went away: drop the authority and its connection; pending
 * checks answer no. The next check starts afresh. */
void polkit_auth_reset(PolkitAuth *a);

/* Checks started and not yet answered or cancelled. */
unsigned polkit_auth_n_pending(PolkitAuth *a);
