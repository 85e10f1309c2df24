/* SPDX-License-Identifier: MIT */
/*
 * Who is on the bus: callers (their uid, asked of the bus once per unique
 * name), registered agents, eviction warnings awaiting an answer, and the
 * infrastructure peers that are never targets (bus daemon, polkitd, logind).
 * Everything about a unique name is forgotten when it leaves the bus.
 */
#include <errno.h>
#include <string.h>

#include "bus-internal.h"
#include "log.h"

#define DBUS_MATCH_NAME_OWNER_CHANGED                                                                       \
        "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"                         \
        "interface='org.freedesktop.DBus',member='NameOwnerChanged'"

void bus_track_init(Bus *b)
{
        static const char *const peer_names[_BUS_PEER_MAX] = {
                [BUS_PEER_DBUS] = "org.freedesktop.DBus",
                [BUS_PEER_POLKIT] = "org.freedesktop.PolicyKit1",
                [BUS_PEER_LOGIND] = "org.freedesktop.login1",
        };

        caller_table_init(&b->callers, BUS_MAX_CALLERS);
        for (int i = 0; i < _BUS_PEER_MAX; i++)
                b->peers[i] = (BusPeer){.bus = b, .name = peer_names[i]};
}

void bus_track_done(Bus *b)
{
        bus_track_reset(b);
        caller_table_done(&b->callers);
}

/* ---- infrastructure peers ---- */

static int on_peer_pid(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        BusPeer *p = userdata;
        uint32_t pid;

        p->slot = sd_bus_slot_unref(p->slot);
        if (sd_bus_is_open(sd_bus_message_get_bus(m)) <= 0)
                return 0; /* the connection is going away: keep what we knew */
        if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "u", &pid) < 0)
                p->pid = 0;
        else
                p->pid = (pid_t)pid;
        log_debug("%s is pid %d", p->name, (int)p->pid);
        return 0;
}

static void peer_query(BusPeer *p, const char *owner)
{
        int r;

        p->slot = sd_bus_slot_unref(p->slot);
        r = sd_bus_call_method_async(p->bus->bus, &p->slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetConnectionUnixProcessID", on_peer_pid, p,
                                     "s", owner);
        if (r < 0)
                log_debug_errno(r, "cannot ask for the pid of %s: %m", p->name);
}

bool bus_is_infrastructure_pid(Bus *b, pid_t pid)
{
        if (!b || pid <= 0)
                return false;
        for (int i = 0; i < _BUS_PEER_MAX; i++)
                if (b->peers[i].pid == pid)
                        return true;
        return false;
}

/* ---- callers and agents ---- */

static void agents_drop_sender(Bus *b, const char *sender)
{
        for (int i = 0; i < BUS_MAX_AGENTS; i++)
                if (b->agents[i].name[0] && strcmp(b->agents[i].name, sender) == 0) {
                        log_debug("agent %s (uid %u) left", sender, (unsigned)b->agents[i].uid);
                        b->agents[i].name[0] = 0;
                }
}

int bus_agent_register(Bus *b, const char *sender, uid_t uid, sd_bus_error *error)
{
        unsigned same_uid = 0;
        int free_slot = -1;

        if (strlen(sender) >= CALLER_NAME_MAX)
                return sd_bus_error_set(error, BUS_ERROR_INVALID_ARGUMENT, "bus name too long");
        for (int i = 0; i < BUS_MAX_AGENTS; i++) {
                BusAgent *a = &b->agents[i];

                if (!a->name[0]) {
                        if (free_slot < 0)
                                free_slot = i;
                        continue;
                }
                if (strcmp(a->name, sender) == 0) {
                        a->uid = uid;
                        return 0;
                }
                if (a->uid == uid)
                        same_uid++;
        }
        if (same_uid >= b->limits.max_agents_per_uid)
                return sd_bus_error_setf(error, BUS_ERROR_RATE_LIMITED, "uid %u already has %u agents",
                                         (unsigned)uid, same_uid);
        if (free_slot < 0)
                return sd_bus_error_set(error, BUS_ERROR_RATE_LIMITED, "too many agents");
        strcpy(b->agents[free_slot].name, sender);
        b->agents[free_slot].uid = uid;
        log_debug("agent %s registered for uid %u", sender, (unsigned)uid);
        return 0;
}

bool bus_agent_is(Bus *b, const char *sender, uid_t uid)
{
        for (int i = 0; sender && i < BUS_MAX_AGENTS; i++)
                if (b->agents[i].name[0] && b->agents[i].uid == uid &&
                    strcmp(b->agents[i].name, sender) == 0)
                        return true;
        return false;
}

const BusWarning *bus_warning_find(Bus *b, const char *id)
{
        uint64_t now = bus_now();

        for (int i = 0; id && *id && i < BUS_MAX_WARNINGS; i++) {
                const BusWarning *w = &b->warnings[i];

                if (w->id[0] && strcmp(w->id, id) == 0)
                        return now <= w->expires_usec ? w : NULL;
        }
        return NULL;
}

static int on_uid_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        BusUidQuery *q = userdata;
        char sender[CALLER_NAME_MAX];
        Bus *b = q->bus;
        Caller *c;
        uint32_t uid;
        int r = 0;

        strcpy(sender, q->sender);
        q->slot = sd_bus_slot_unref(q->slot);
        q->sender[0] = 0;

        if (sd_bus_message_is_method_error(m, NULL)) {
                r = -ESRCH;
                log_debug("cannot identify %s: %s", sender, sd_bus_message_get_error(m)->message);
        } else if (sd_bus_message_read(m, "u", &uid) < 0)
                r = -EBADMSG;

        c = caller_table_find(&b->callers, sender);
        if (c) {
                c->uid_state = r < 0 ? CALLER_UID_UNKNOWN : CALLER_UID_KNOWN;
                c->uid = r < 0 ? 0 : (uid_t)uid;
        }
        bus_calls_uid_known(b, sender, r, r < 0 ? 0 : (uid_t)uid);
        return 0;
}

int bus_query_caller_uid(Bus *b, const char *sender)
{
        Caller *c = caller_table_find(&b->callers, sender);
        BusUidQuery *q = NULL;
        int r;

        if (!c)
                return -ENOENT;
        if (c->uid_state != CALLER_UID_UNKNOWN)
                return 0;
        for (int i = 0; i < BUS_MAX_UID_QUERIES && !q; i++)
                if (!b->uid_queries[i].sender[0])
                        q = &b->uid_queries[i];
        if (!q)
                return -EBUSY;

        q->bus = b;
        r = sd_bus_call_method_async(b->bus, &q->slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetConnectionUnixUser", on_uid_reply, q, "s",
                                     sender);
        if (r < 0)
                return r;
        strcpy(q->sender, sender);
        c->uid_state = CALLER_UID_PENDING;
        return 0;
}

static void uid_queries_drop(Bus *b, const char *sender)
{
        for (int i = 0; i < BUS_MAX_UID_QUERIES; i++) {
                BusUidQuery *q = &b->uid_queries[i];

                if (q->sender[0] && (!sender || strcmp(q->sender, sender) == 0)) {
                        q->slot = sd_bus_slot_unref(q->slot);
                        q->sender[0] = 0;
                }
        }
}

/* NameOwnerChanged(name, old, "") for every name that lost its owner. */
static int on_name_lost(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Bus *b = userdata;
        const char *name, *old, *new;

        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || *new)
                return 0;
        if (name[0] == ':') {
                bus_calls_drop_sender(b, name); /* cancels their polkit checks */
                uid_queries_drop(b, name);
                agents_drop_sender(b, name);
                caller_table_remove(&b->callers, name);
                return 0;
        }
        for (int i = 0; i < _BUS_PEER_MAX; i++)
                if (strcmp(name, b->peers[i].name) == 0)
                        b->peers[i].pid = 0;
        return 0;
}

/* NameOwnerChanged for polkitd's and logind's names: learn the new owner's pid. */
static int on_peer_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Bus *b = userdata;
        const char *name, *old, *new;

        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || !*new)
                return 0;
        for (int i = 0; i < _BUS_PEER_MAX; i++)
                if (strcmp(name, b->peers[i].name) == 0)
                        peer_query(&b->peers[i], new);
        return 0;
}

int bus_track_attach(Bus *b, sd_bus *bus)
{
        int r;

        r = sd_bus_add_match_async(bus, NULL, DBUS_MATCH_NAME_OWNER_CHANGED ",arg2=''", on_name_lost, NULL,
                                   b);
        if (r >= 0)
                r = sd_bus_add_match_async(
                        bus, NULL, DBUS_MATCH_NAME_OWNER_CHANGED ",arg0='org.freedesktop.PolicyKit1'",
                        on_peer_owner, NULL, b);
        if (r >= 0)
                r = sd_bus_add_match_async(bus, NULL,
                                           DBUS_MATCH_NAME_OWNER_CHANGED ",arg0='org.freedesktop.login1'",
                                           on_peer_owner, NULL, b);
        return r;
}

void bus_track_connected(Bus *b)
{
        for (int i = 0; i < _BUS_PEER_MAX; i++)
                peer_query(&b->peers[i], b->peers[i].name);
}

void bus_track_reset(Bus *b)
{
        uid_queries_drop(b, NULL);
        /* Peer pids are kept: while the bus is away polkitd and logind still run and
         * must still be spared. The next connection refreshes them. */
        for (int i = 0; i < _BUS_PEER_MAX; i++)
                b->peers[i].slot = sd_bus_slot_unref(b->peers[i].slot);
        if (b->callers.slots)
                caller_table_clear(&b->callers);
        memset(b->agents, 0, sizeof(b->agents));
        memset(b->warnings, 0, sizeof(b->warnings));
}
