/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hibernate.h"

#define LOGIND_NAME "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"
#define MiB (UINT64_C(1024) * 1024)

HibernateDecision hibernate_decide(const HibernateParams *p, const HibernateInput *in, char *why, size_t size)
{
        uint64_t covered, since;

        if (!p->enabled) {
                snprintf(why, size, "hibernate=false");
                return HIBERNATE_NO;
        }
        if (!in->system_mode || in->scoped) {
                snprintf(why, size, "%s", !in->system_mode ? "user mode" : "a scope is managed, not the machine");
                return HIBERNATE_NO;
        }
        if (!in->acting) {
                snprintf(why, size, "monitoring only (invalid configuration)");
                return HIBERNATE_NO;
        }
        if (in->level != LEVEL_EMERGENCY || in->emergency_since_usec == 0) {
                snprintf(why, size, "level %s%s", strna(level_to_string(in->level)),
                         in->level == LEVEL_EMERGENCY ? " not yet confirmed" : "");
                return HIBERNATE_NO;
        }
        if (in->last_request_usec && in->now_usec < in->last_request_usec + p->interval_usec) {
                snprintf(why, size, "rate limit: asked %" PRIu64 " s ago, at most once per %" PRIu64 " s",
                         (in->now_usec - in->last_request_usec) / USEC_PER_SEC, p->interval_usec / USEC_PER_SEC);
                return HIBERNATE_NO;
        }

        since = in->now_usec > in->emergency_since_usec ? in->now_usec - in->emergency_since_usec : 0;
        covered = in->planned_bytes + in->inflight_bytes;
        if (in->n_evictions == 0) {
                snprintf(why, size, "emergency and nothing left to free, kill or checkpoint (need %" PRIu64 " MiB)",
                         in->need_bytes / MiB);
                return HIBERNATE_NOW;
        }
        if (covered < in->need_bytes) {
                snprintf(why, size,
                         "emergency and what can be done returns ~%" PRIu64 " MiB of the %" PRIu64 " MiB needed",
                         covered / MiB, in->need_bytes / MiB);
                return HIBERNATE_NOW;
        }
        if (since >= p->after_usec) {
                snprintf(why, size, "emergency for %" PRIu64 " s in spite of kills (hibernate-after-seconds=%" PRIu64
                                    ")",
                         since / USEC_PER_SEC, p->after_usec / USEC_PER_SEC);
                return HIBERNATE_NOW;
        }
        snprintf(why, size, "the plan should return enough; waiting %" PRIu64 " s more",
                 (p->after_usec - since + USEC_PER_SEC - 1) / USEC_PER_SEC);
        return HIBERNATE_WAIT;
}

struct Hibernator {
        sd_bus_slot *slot;
        hibernate_done_t done;
        void *userdata;
};

Hibernator *hibernator_new(void)
{
        return xmalloc0(sizeof(Hibernator));
}

Hibernator *hibernator_free(Hibernator *h)
{
        if (!h)
                return NULL;
        sd_bus_slot_unref(h->slot);
        free(h);
        return NULL;
}

static void finish(Hibernator *h, int r, const char *what)
{
        hibernate_done_t done = h->done;

        h->slot = sd_bus_slot_unref(h->slot);
        h->done = NULL;
        if (done)
                done(h->userdata, r, what);
}

static int on_hibernate(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Hibernator *h = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        char what[512];

        if (e) {
                snprintf(what, sizeof(what), "Hibernate failed: %s: %s", e->name, strna(e->message));
                finish(h, -sd_bus_message_get_errno(m) ?: -EIO, what);
        } else
                finish(h, 0, "logind accepted Hibernate");
        return 0;
}

static int on_can_hibernate(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Hibernator *h = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        sd_bus *bus = sd_bus_message_get_bus(m);
        const char *answer = NULL;
        char what[512];
        int r;

        h->slot = sd_bus_slot_unref(h->slot);
        if (e) {
                snprintf(what, sizeof(what), "CanHibernate failed: %s: %s", e->name, strna(e->message));
                finish(h, -sd_bus_message_get_errno(m) ?: -EIO, what);
                return 0;
        }
        r = sd_bus_message_read(m, "s", &answer);
        if (r < 0) {
                finish(h, r, "CanHibernate gave no answer");
                return 0;
        }
        if (strcmp(answer, "yes") != 0) {
                /* "challenge" would need a polkit dialog nobody can answer at emergency. */
                snprintf(what, sizeof(what), "CanHibernate answered \"%.64s\", not \"yes\"", answer);
                finish(h, -EOPNOTSUPP, what);
                return 0;
        }
        r = sd_bus_call_method_async(bus, &h->slot, LOGIND_NAME, LOGIND_PATH, LOGIND_MANAGER, "Hibernate",
                                     on_hibernate, h, "b", 0);
        if (r < 0)
                finish(h, r, "cannot call Hibernate");
        return 0;
}

int hibernator_request(Hibernator *h, sd_bus *bus, hibernate_done_t done, void *userdata)
{
        int r;

        if (!done)
                return -EINVAL;
        if (h->done)
                return -EALREADY;
        if (!bus)
                return -ENOTCONN;
        r = sd_bus_call_method_async(bus, &h->slot, LOGIND_NAME, LOGIND_PATH, LOGIND_MANAGER, "CanHibernate",
                                     on_can_hibernate, h, "");
        if (r < 0)
                return r;
        h->done = done;
        h->userdata = userdata;
        return 0;
}
