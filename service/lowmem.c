/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "lowmem.h"

struct LowMem {
        sd_bus *bus;
        sd_bus_slot *match_slot;   /* NameOwnerChanged for our name */
        sd_bus_slot *request_slot; /* RequestName in flight */
        sd_bus_slot *vtable_slot;  /* exported while we own the name */
        bool owner;
        LowMemLimiter limiter;
};

uint8_t lowmem_warning_for_level(Level l)
{
        switch (l) {
        case LEVEL_ELEVATED:
                return LOWMEM_WARNING_LOW;
        case LEVEL_HIGH:
        case LEVEL_CRITICAL:
                return LOWMEM_WARNING_MEDIUM;
        case LEVEL_EMERGENCY:
                return LOWMEM_WARNING_CRITICAL;
        default:
                return 0;
        }
}

uint8_t lowmem_warning_for_change(Level old, Level new)
{
        if (new <= old)
                return 0;
        return lowmem_warning_for_level(new);
}

static int limiter_index(uint8_t value)
{
        switch (value) {
        case LOWMEM_WARNING_LOW:
                return 0;
        case LOWMEM_WARNING_MEDIUM:
                return 1;
        case LOWMEM_WARNING_CRITICAL:
                return 2;
        default:
                return -1;
        }
}

bool lowmem_limiter_allow(LowMemLimiter *l, uint8_t value, uint64_t now_usec)
{
        int i = limiter_index(value);

        if (i < 0)
                return false;
        if (l->last_usec[i] != 0 && now_usec >= l->last_usec[i] &&
            now_usec - l->last_usec[i] < LOWMEM_MIN_INTERVAL_USEC)
                return false;
        l->last_usec[i] = now_usec ? now_usec : 1;
        return true;
}

static const sd_bus_vtable lowmem_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_SIGNAL_WITH_ARGS("LowMemoryWarning", SD_BUS_ARGS("y", level), 0),
        SD_BUS_VTABLE_END,
};

int lowmem_new(LowMem **ret)
{
        *ret = xmalloc0(sizeof(LowMem));
        return 0;
}

void lowmem_detach(LowMem *l)
{
        if (!l)
                return;
        l->match_slot = sd_bus_slot_unref(l->match_slot);
        l->request_slot = sd_bus_slot_unref(l->request_slot);
        l->vtable_slot = sd_bus_slot_unref(l->vtable_slot);
        if (l->owner && l->bus && sd_bus_is_open(l->bus) > 0)
                (void)sd_bus_release_name_async(l->bus, NULL, LOWMEM_NAME, NULL, NULL);
        l->owner = false;
        l->bus = sd_bus_unref(l->bus);
}

LowMem *lowmem_free(LowMem *l)
{
        if (!l)
                return NULL;
        lowmem_detach(l);
        free(l);
        return NULL;
}

bool lowmem_is_owner(LowMem *l)
{
        return l && l->owner;
}

static int lowmem_request(LowMem *l);

static int on_request_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        LowMem *l = userdata;
        uint32_t result;
        int r;

        l->request_slot = sd_bus_slot_unref(l->request_slot);
        if (sd_bus_message_is_method_error(m, NULL)) {
                log_debug("cannot request %s: %s", LOWMEM_NAME, sd_bus_message_get_error(m)->message);
                return 0;
        }
        r = sd_bus_message_read(m, "u", &result);
        if (r < 0)
                return log_debug_errno(r, "bad RequestName reply: %m"), 0;
        if (result != 1 /* primary owner */ && result != 4 /* already owner */) {
                log_debug("%s is owned by someone else; not providing it", LOWMEM_NAME);
                return 0;
        }
        if (!l->vtable_slot) {
                r = sd_bus_add_object_vtable(l->bus, &l->vtable_slot, LOWMEM_PATH, LOWMEM_INTERFACE,
                                             lowmem_vtable, l);
                if (r < 0)
                        return log_debug_errno(r, "cannot export %s: %m", LOWMEM_PATH), 0;
        }
        l->owner = true;
        log_info("providing %s (GMemoryMonitor and the portal hear our warnings)", LOWMEM_NAME);
        return 0;
}

static int lowmem_request(LowMem *l)
{
        if (l->request_slot || l->owner)
                return 0;
        return sd_bus_request_name_async(l->bus, &l->request_slot, LOWMEM_NAME, 0, on_request_reply, l);
}

/* NameOwnerChanged(LOWMEM_NAME, old, new): ask again when it is released. */
static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        LowMem *l = userdata;
        const char *name, *old, *new, *unique = NULL;
        int r;

        r = sd_bus_message_read(m, "sss", &name, &old, &new);
        if (r < 0)
                return 0;
        (void)sd_bus_get_unique_name(l->bus, &unique);
        if (l->owner && unique && strcmp(old, unique) == 0 && strcmp(new, unique) != 0) {
                l->owner = false; /* lost it */
                l->vtable_slot = sd_bus_slot_unref(l->vtable_slot);
        }
        if (!*new && !l->owner) {
                r = lowmem_request(l);
                if (r < 0)
                        log_debug_errno(r, "cannot request %s: %m", LOWMEM_NAME);
        }
        return 0;
}

int lowmem_attach(LowMem *l, sd_bus *bus)
{
        int r;

        lowmem_detach(l);
        l->bus = sd_bus_ref(bus);
        r = sd_bus_add_match_async(
                bus, &l->match_slot,
                "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                "arg0='" LOWMEM_NAME "'",
                on_owner_changed, NULL, l);
        if (r < 0)
                return r;
        return lowmem_request(l);
}

static int lowmem_emit(LowMem *l, uint8_t value, uint64_t now_usec)
{
        int r;

        if (!l || !l->owner || !l->bus || value == 0)
                return 0;
        if (!lowmem_limiter_allow(&l->limiter, value, now_usec))
                return 0;
        r = sd_bus_emit_signal(l->bus, LOWMEM_PATH, LOWMEM_INTERFACE, "LowMemoryWarning", "y", value);
        if (r < 0)
                return log_debug_errno(r, "cannot emit LowMemoryWarning(%u): %m", value);
        log_debug("LowMemoryWarning(%u) sent", value);
        return 1;
}

int lowmem_level_changed(LowMem *l, Level old, Level new, uint64_t now_usec)
{
        return lowmem_emit(l, lowmem_warning_for_change(old, new), now_usec);
}

int lowmem_before_eviction(LowMem *l, uint64_t now_usec)
{
        return lowmem_emit(l, LOWMEM_WARNING_CRITICAL, now_usec);
}
