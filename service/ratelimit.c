/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "macro.h"
#include "ratelimit.h"

bool token_bucket_take(TokenBucket *b, double rate, double burst, uint64_t now_usec)
{
        if (!b->primed) {
                b->tokens = burst;
                b->last_usec = now_usec;
                b->primed = true;
        } else if (now_usec > b->last_usec) {
                b->tokens += (double)(now_usec - b->last_usec) / (double)USEC_PER_SEC * rate;
                if (b->tokens > burst)
                        b->tokens = burst;
                b->last_usec = now_usec;
        }
        /* A clock that went backwards refills nothing. */

        if (b->tokens < 1.0)
                return false;
        b->tokens -= 1.0;
        return true;
}

static uint64_t hash_name(const char *s)
{
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */

        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

void caller_table_init(CallerTable *t, size_t capacity)
{
        size_t n_slots = 8;

        if (capacity < 1)
                capacity = 1;
        while (n_slots < capacity * 2)
                n_slots *= 2;
        *t = (CallerTable){
                .slots = xmalloc0(n_slots * sizeof(Caller)),
                .n_slots = n_slots,
                .capacity = capacity,
        };
}

void caller_table_done(CallerTable *t)
{
        free(t->slots);
        *t = (CallerTable){};
}

void caller_table_clear(CallerTable *t)
{
        memset(t->slots, 0, t->n_slots * sizeof(Caller));
        t->n = 0;
}

/* The slot holding `name`, or the free slot where it would go. */
static size_t find_slot(const CallerTable *t, const char *name)
{
        size_t mask = t->n_slots - 1, i = hash_name(name) & mask;

        while (t->slots[i].name[0] && strcmp(t->slots[i].name, name) != 0)
                i = (i + 1) & mask;
        return i;
}

Caller *caller_table_find(CallerTable *t, const char *name)
{
        size_t i;

        if (!t->slots || !name || !*name || strlen(name) >= CALLER_NAME_MAX)
                return NULL;
        i = find_slot(t, name);
        return t->slots[i].name[0] ? &t->slots[i] : NULL;
}

/* Remove the entry in slot i, shifting later entries of the same probe run back. */
static void remove_slot(CallerTable *t, size_t i)
{
        size_t mask = t->n_slots - 1, j = i;

        t->slots[i].name[0] = 0;
        for (;;) {
                size_t home;

                j = (j + 1) & mask;
                if (!t->slots[j].name[0])
                        break;
                home = hash_name(t->slots[j].name) & mask;
                /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
                if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
                        continue;
                t->slots[i] = t->slots[j];
                t->slots[j].name[0] = 0;
                i = j;
        }
        memset(&t->slots[i], 0, sizeof(Caller));
        t->n--;
}

bool caller_table_remove(CallerTable *t, const char *name)
{
        Caller *c = caller_table_find(t, name);

        if (!c)
                return false;
        remove_slot(t, (size_t)(c - t->slots));
        return true;
}

/* Make room by dropping the least recently used caller with nothing pending. */
static bool evict_one(CallerTable *t)
{
        size_t victim = SIZE_MAX;

        for (size_t i = 0; i < t->n_slots; i++) {
                const Caller *c = &t->slots[i];

                if (!c->name[0] || c->n_pending > 0)
                        continue;
                if (victim == SIZE_MAX || c->last_used_usec < t->slots[victim].last_used_usec)
                        victim = i;
        }
        if (victim == SIZE_MAX)
                return false;
        remove_slot(t, victim);
        return true;
}

Caller *caller_table_get(CallerTable *t, const char *name, uint64_t now_usec)
{
        Caller *c;
        size_t i;

        if (!t->slots || !name || !*name || strlen(name) >= CALLER_NAME_MAX)
                return NULL;

        c = caller_table_find(t, name);
        if (c) {
                c->last_used_usec = now_usec;
                return c;
        }
        if (t->n >= t->capacity && !evict_one(t))
                return NULL;

        i = find_slot(t, name);
        c = &t->slots[i];
        memset(c, 0, sizeof(*c));
        strcpy(c->name, name);
        c->last_used_usec = now_usec;
        c->uid_state = CALLER_UID_UNKNOWN;
        t->n++;
        return c;
}
