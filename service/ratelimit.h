/* SPDX-License-Identifier: MIT */
/*
 * Per-caller bookkeeping for the bus: a token bucket per D-Bus unique name,
 * the caller's uid once the bus told us, and how many of its calls are
 * pending. Pure: no I/O, time is passed in, memory is allocated once.
 *
 * The table is an open-addressing hash (linear probing, backward-shift
 * deletion) with a fixed capacity. When it is full, the least recently used
 * caller without pending calls makes room; if every caller has calls pending,
 * there is no room and the new caller is refused.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct TokenBucket {
        double tokens;
        uint64_t last_usec;
        bool primed;
} TokenBucket;

/* Take one token from a bucket refilled at `rate` per second up to `burst`.
 * A new bucket starts full. Returns true if a token was there. */
bool token_bucket_take(TokenBucket *b, double rate, double burst, uint64_t now_usec);

#define CALLER_NAME_MAX 64 /* unique names are ":1.N"; longer ones are refused */

typedef enum CallerUidState {
        CALLER_UID_UNKNOWN,
        CALLER_UID_PENDING, /* the bus was asked */
        CALLER_UID_KNOWN,
} CallerUidState;

typedef struct Caller {
        char name[CALLER_NAME_MAX]; /* "" = free slot */
        TokenBucket bucket;
        uint64_t last_used_usec;
        CallerUidState uid_state;
        uid_t uid;
        unsigned n_pending;
} Caller;

typedef struct CallerTable {
        Caller *slots;
        size_t n_slots; /* a power of two, twice the capacity */
        size_t n;
        size_t capacity;
} CallerTable;

/* Allocate a table for `capacity` callers (out of memory is fatal). */
void caller_table_init(CallerTable *t, size_t capacity);
void caller_table_done(CallerTable *t);
void caller_table_clear(CallerTable *t);

/* The entry for `name`, or NULL. */
Caller *caller_table_find(CallerTable *t, const char *name);

/*
 * The entry for `name`, created (fresh bucket, uid unknown) if missing.
 * Updates its last use. NULL when the name is too long or the table is full
 * of callers with pending calls. Pointers stay valid until the next
 * get/remove/clear.
 */
Caller *caller_table_get(CallerTable *t, const char *name, uint64_t now_usec);

/* Forget `name` (it left the bus). Returns true if it was there. */
bool caller_table_remove(CallerTable *t, const char *name);
