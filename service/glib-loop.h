/* SPDX-License-Identifier: MIT */
/*
 * GLib's default main context, embedded in an sd-event loop, so the daemon
 * has one loop (STYLE.md 12) and never runs a GMainLoop.
 *
 * Each iteration, right before sd-event polls, a prepare hook finishes the
 * previous GLib cycle (check the fds GLib asked for with a zero-timeout
 * poll, dispatch what is ready), then starts the next one
 * (g_main_context_prepare + query): GLib's fds become sd-event io sources
 * and its timeout an sd-event timer, so whichever wakes first wakes both.
 * Wakeups from GLib's worker threads (GDBus, GTask) arrive through the
 * context's wakeup fd like any other fd.
 *
 * GLib callbacks therefore run inside the event loop, between sd-event
 * dispatches; like every other callback there, they must not block.
 */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

typedef struct GlibLoop GlibLoop;

/*
 * Acquire GLib's default main context for this thread and drive it from `e`.
 * -EBUSY if another thread owns the context.
 */
int glib_loop_attach(sd_event *e, GlibLoop **ret);

/* Detach and release the context (GLib sources stay where they are). */
GlibLoop *glib_loop_free(GlibLoop *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(GlibLoop *, glib_loop_free)
