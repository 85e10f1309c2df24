/* SPDX-License-Identifier: MIT */
/*
 * Emergency hibernation through logind, the last resort ([actions]
 * hibernate=true; off by default).
 *
 * The decision is pure (hibernate_decide()): hibernate only
 *  - when enabled, in system mode, without a scope (a scoped daemon manages
 *    one cgroup, not the machine), with a valid configuration;
 *  - at emergency;
 *  - when nothing memguard does can be expected to return enough: the plan's
 *    evictions (kills, checkpoints, freezes) plus what kills in flight will
 *    still return fall short of the need, or nothing at all is planned or in
 *    flight; or when emergency has lasted after_usec in spite of them (the
 *    kills did not bring relief);
 *  - at most once per interval_usec (a request that failed counts too: no
 *    retry storm against logind).
 * A dry run decides the same way and only logs.
 *
 * The request (Hibernator) is asynchronous on the system bus:
 * org.freedesktop.login1.Manager.CanHibernate() must answer "yes", then
 * Hibernate(false) (not interactive: no polkit dialog at emergency).
 *
 * Contract: 0 on success, -errno on failure.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "level.h"
#include "macro.h"

typedef struct HibernateParams {
        bool enabled;
        uint64_t after_usec;    /* emergency this long in spite of the plan */
        uint64_t interval_usec; /* at most one request per this */
} HibernateParams;

typedef struct HibernateInput {
        Level level;            /* the level the plan was made at */
        bool system_mode, scoped, acting;
        uint64_t now_usec;             /* CLOCK_BOOTTIME: hibernation stops CLOCK_MONOTONIC */
        uint64_t emergency_since_usec; /* when the level became emergency; 0 = not at emergency */
        uint64_t last_request_usec;    /* 0 = never */
        uint64_t need_bytes;           /* what must come back (Plan.need_bytes) */
        uint64_t planned_bytes;        /* what the plan's evictions are expected to return */
        uint64_t inflight_bytes;       /* what kills still in their cool-down are expected to return */
        unsigned n_evictions;          /* evictions planned now or still in flight */
} HibernateInput;

typedef enum HibernateDecision {
        HIBERNATE_NO,   /* not allowed here or now (off, mode, level, rate limit) */
        HIBERNATE_WAIT, /* allowed, but the plan is expected to do: give it after_usec */
        HIBERNATE_NOW,
} HibernateDecision;

/* The decision, and why in `why` (size > 0). */
HibernateDecision hibernate_decide(const HibernateParams *p, const HibernateInput *in, char *why, size_t size);

typedef struct Hibernator Hibernator;

/* result 0: Hibernate was accepted by logind; else -errno, and `what` says what failed. */
typedef void (*hibernate_done_t)(void *userdata, int result, const char *what);

Hibernator *hibernator_new(void);
Hibernator *hibernator_free(Hibernator *h); /* cancels a request in flight (no callback) */
DEFINE_TRIVIAL_CLEANUP_FUNC(Hibernator *, hibernator_free)

/*
 * Ask logind on `bus` (the system bus): CanHibernate, then Hibernate(false).
 * -EALREADY while a request is in flight, -ENOTCONN without a bus. `done` is
 * called once, from the event loop.
 */
int hibernator_request(Hibernator *h, sd_bus *bus, hibernate_done_t done, void *userdata);
