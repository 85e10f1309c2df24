/* SPDX-License-Identifier: MIT */
/*
 * Shared by the bus's files: bus.c (connection, reconnection, rate limit,
 * lifecycle), bus-track.c (callers, agents, warnings, infrastructure peers),
 * bus-emit.c (signals, coalesced PropertiesChanged), bus-manager.c (vtable,
 * properties, method handlers) and bus-calls.c (calls waiting for a uid or
 * polkit). Not for use outside the bus.
 */
#pragma once

#include "bus.h"
#include "lowmem.h"
#include "polkit-auth.h"
#include "ratelimit.h"

#define BUS_MAX_CALLERS 512
#define BUS_MAX_AGENTS 64
#define BUS_MAX_WARNINGS 64
#define BUS_MAX_UID_QUERIES 64 /* dbus-daemon allows a connection 128 pending replies */

typedef enum BusConnState {
        BUS_DISCONNECTED, /* no connection; the reconnect timer is armed */
        BUS_CONNECTING,   /* sd_bus started (maybe waiting for the socket to appear) */
        BUS_CONNECTED,    /* Hello answered */
} BusConnState;

typedef enum BusMethod {
        BUS_METHOD_GET_STATUS,
        BUS_METHOD_LIST_CANDIDATES,
        BUS_METHOD_FREEZE,
        BUS_METHOD_THAW,
        BUS_METHOD_KILL,
        BUS_METHOD_PROTECT,
        BUS_METHOD_SET_FOREGROUND,
        BUS_METHOD_REGISTER_AGENT,
        BUS_METHOD_RELOAD,
        _BUS_METHOD_MAX,
} BusMethod;

/* A method call waiting for the caller's uid or for polkit. */
typedef struct BusCall {
        Bus *bus;
        sd_bus_message *message; /* replied to when done */
        char sender[CALLER_NAME_MAX];
        BusMethod method;
        BusAction action; /* for the methods that act on a process */
        bool interactive;
        pid_t pid;
        char *app_id;
        bool have_uid;
        uid_t caller_uid;
        BusTarget target;
        bool see_all; /* ListCandidates: may see every user's processes */
        PolkitCheck *check;
        struct BusCall *prev, *next;
} BusCall;

typedef struct BusAgent {
        char name[CALLER_NAME_MAX]; /* "" = free */
        uid_t uid;
} BusAgent;

/* GetConnectionUnixUser in flight for one caller. */
typedef struct BusUidQuery {
        Bus *bus;
        char sender[CALLER_NAME_MAX]; /* "" = free */
        sd_bus_slot *slot;
} BusUidQuery;

/* A bus peer that is never a target: the bus daemon, polkitd, logind. */
typedef struct BusPeer {
        Bus *bus;
        const char *name;
        pid_t pid; /* 0 = unknown or absent */
        sd_bus_slot *slot;
} BusPeer;

enum {
        BUS_PEER_DBUS,
        BUS_PEER_POLKIT,
        BUS_PEER_LOGIND,
        _BUS_PEER_MAX,
};

typedef struct BusWarning {
        char id[BUS_WARNING_ID_MAX]; /* "" = free */
        uid_t uid;
        pid_t pid;
        uint64_t expires_usec; /* CLOCK_MONOTONIC */
} BusWarning;

struct Bus {
        sd_event *event;
        bool system_mode;
        BusOps ops;
        void *userdata;
        BusLimits limits;
        uid_t own_uid;

        sd_bus *bus;
        BusConnState state;
        bool name_owned;
        unsigned n_connects;
        sd_event_source *reconnect_timer;
        uint64_t reconnect_delay_usec;
        sd_bus_slot *name_slot;

        sd_event_source *flush_timer;
        unsigned dirty;
        uint64_t last_flush_usec;

        CallerTable callers;
        BusCall *calls;
        unsigned n_calls;
        BusUidQuery uid_queries[BUS_MAX_UID_QUERIES];

        BusAgent agents[BUS_MAX_AGENTS];
        BusWarning warnings[BUS_MAX_WARNINGS];
        uint64_t warning_counter;

        BusPeer peers[_BUS_PEER_MAX];

        PolkitAuth *polkit;
        LowMem *lowmem;
        bool lowmem_enabled;
};

/* Bus work waits behind the manager's own sources (PSI triggers, timers). */
#define BUS_EVENT_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)

/* bus.c */
uint64_t bus_now(void); /* CLOCK_MONOTONIC, usec */
int bus_reply_error(sd_bus_message *m, int r,
                    sd_bus_error *error);                        /* named error from error, or from -errno */
int bus_set_errno(sd_bus_error *error, int r, const char *what); /* a named error for -errno; returns it */

/* bus-track.c */
void bus_track_init(Bus *b);
void bus_track_done(Bus *b);
int bus_track_attach(Bus *b, sd_bus *bus); /* matches on a new connection */
void bus_track_connected(Bus *b);          /* it is up: learn the peers' pids */
void bus_track_reset(Bus *b);              /* forget every unique name */
int bus_query_caller_uid(Bus *b,
                         const char *sender); /* async, then bus_calls_uid_known(); -EBUSY if too many */
int bus_agent_register(Bus *b, const char *sender, uid_t uid, sd_bus_error *error);
bool bus_agent_is(Bus *b, const char *sender, uid_t uid);
const BusWarning *bus_warning_find(Bus *b, const char *id); /* NULL if unknown or expired */

/* bus-manager.c */
int bus_manager_add_vtable(Bus *b, sd_bus *bus);
const char *bus_method_name(BusMethod m);
int bus_reply_status(Bus *b, sd_bus_message *call);
int bus_reply_candidates(Bus *b, BusCall *call, sd_bus_error *error);

/* bus-calls.c */
/* Queue a call and start it: 1 when the reply follows (or was sent), or a
 * negative errno with error set, which sd-bus sends as the reply. */
int bus_call_start(Bus *b, sd_bus_message *m, BusMethod method, BusAction action, pid_t pid,
                   bool interactive, const char *app_id, sd_bus_error *error);
void bus_calls_drop_sender(Bus *b, const char *sender); /* it left: cancel, no reply */
void bus_calls_drop_all(Bus *b);
void bus_calls_uid_known(Bus *b, const char *sender, int error, uid_t uid);
