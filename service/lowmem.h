/* SPDX-License-Identifier: MIT */
/*
 * org.freedesktop.LowMemoryMonitor at /org/freedesktop/LowMemoryMonitor, the
 * interface GLib's GMemoryMonitor (gio/gmemorymonitordbus.c) and the desktop
 * portal listen to on the system bus: signal LowMemoryWarning(y level) with
 * 50 (low), 100 (medium) or 255 (critical).
 *
 * memguard owns the name only when nobody else does (no replacement, no
 * queueing); if the owner leaves later, it asks again. The warning is sent on
 * upward level changes (elevated 50, high and critical 100, emergency 255)
 * and with 255 right before background processes are evicted, each value at
 * most once per LOWMEM_MIN_INTERVAL_USEC.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "level.h"
#include "macro.h"

#define LOWMEM_NAME "org.freedesktop.LowMemoryMonitor"
#define LOWMEM_PATH "/org/freedesktop/LowMemoryMonitor"
#define LOWMEM_INTERFACE "org.freedesktop.LowMemoryMonitor"

#define LOWMEM_MIN_INTERVAL_USEC (10 * USEC_PER_SEC)

enum {
        LOWMEM_WARNING_LOW = 50,
        LOWMEM_WARNING_MEDIUM = 100,
        LOWMEM_WARNING_CRITICAL = 255,
};

/* The warning a level maps to; 0 for normal (or out of range). */
uint8_t lowmem_warning_for_level(Level l);

/* Per-value rate limit. Pure. */
typedef struct LowMemLimiter {
        uint64_t last_usec[3]; /* 50, 100, 255; 0 = never sent */
} LowMemLimiter;

/* Should `value` be sent now? Records it if so. */
bool lowmem_limiter_allow(LowMemLimiter *l, uint8_t value, uint64_t now_usec);

/* The warning a level change calls for (0: none; only upward changes count). */
uint8_t lowmem_warning_for_change(Level old, Level new);

typedef struct LowMem LowMem;

int lowmem_new(LowMem **ret);
LowMem *lowmem_free(LowMem *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(LowMem *, lowmem_free)

/* Start on a (new) connection: watch the name, request it when free. */
int lowmem_attach(LowMem *l, sd_bus *bus);
/* Forget the connection (it went away, or the feature was turned off). */
void lowmem_detach(LowMem *l);

bool lowmem_is_owner(LowMem *l);

/* Emit for a level change / before an eviction, if owned and allowed.
 * Return 1 if sent, 0 if not, -errno on failure. */
int lowmem_level_changed(LowMem *l, Level old, Level new, uint64_t now_usec);
int lowmem_before_eviction(LowMem *l, uint64_t now_usec);
