/* SPDX-License-Identifier: MIT */
/*
 * Per-caller token buckets and the caller table: refill and burst, clocks
 * that go backwards, eviction of idle callers when full, refusal when every
 * caller has calls pending, and deletion inside probe runs (the table must
 * still find every other name afterwards).
 */
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "ratelimit.h"
#include "test.h"

#define MS USEC_PER_MSEC

static void test_bucket_burst_and_refill(void)
{
        TokenBucket b = {};
        uint64_t t = 1000 * USEC_PER_SEC;

        for (int i = 0; i < 100; i++)
                ASSERT_TRUE(token_bucket_take(&b, 50, 100, t));
        ASSERT_FALSE(token_bucket_take(&b, 50, 100, t));
        /* 50 per second: one token per 20 ms. */
        ASSERT_FALSE(token_bucket_take(&b, 50, 100, t + 10 * MS));
        ASSERT_TRUE(token_bucket_take(&b, 50, 100, t + 20 * MS));
        ASSERT_FALSE(token_bucket_take(&b, 50, 100, t + 20 * MS));
        /* A long pause refills to the burst, not beyond. */
        t += 3600 * USEC_PER_SEC;
        for (int i = 0; i < 100; i++)
                ASSERT_TRUE(token_bucket_take(&b, 50, 100, t));
        ASSERT_FALSE(token_bucket_take(&b, 50, 100, t));
}

static void test_bucket_clock_backwards(void)
{
        TokenBucket b = {};
        uint64_t t = 5 * USEC_PER_SEC;

        ASSERT_TRUE(token_bucket_take(&b, 1, 1, t));
        ASSERT_FALSE(token_bucket_take(&b, 1, 1, t - USEC_PER_SEC)); /* no refill from the past */
        ASSERT_FALSE(token_bucket_take(&b, 1, 1, t));                /* and no credit for it later */
        ASSERT_TRUE(token_bucket_take(&b, 1, 1, t + USEC_PER_SEC));
}

static void test_bucket_steady_rate(void)
{
        TokenBucket b = {};
        unsigned ok = 0;

        /* 10 000 calls over 10 s at 1 ms intervals: burst + rate * time. */
        for (uint64_t i = 0; i < 10000; i++)
                ok += token_bucket_take(&b, 50, 100, USEC_PER_SEC + i * MS);
        ASSERT_TRUE(ok >= 100 + 499 && ok <= 100 + 501);
}

static void test_table_basics(void)
{
        CallerTable t;
        Caller *c;
        char longname[CALLER_NAME_MAX + 8];

        caller_table_init(&t, 4);
        ASSERT_TRUE(caller_table_find(&t, ":1.1") == NULL);
        c = caller_table_get(&t, ":1.1", 1);
        ASSERT_TRUE(c);
        ASSERT_STREQ(c->name, ":1.1");
        ASSERT_EQ_INT(c->uid_state, CALLER_UID_UNKNOWN);
        c->uid_state = CALLER_UID_KNOWN;
        c->uid = 1000;
        c = caller_table_get(&t, ":1.1", 2);
        ASSERT_EQ_INT(c->uid, 1000); /* the same entry */
        ASSERT_EQ_INT(t.n, 1);

        memset(longname, 'x', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        ASSERT_TRUE(caller_table_get(&t, longname, 3) == NULL);
        ASSERT_TRUE(caller_table_get(&t, "", 3) == NULL);
        ASSERT_TRUE(caller_table_get(&t, NULL, 3) == NULL);

        ASSERT_TRUE(caller_table_remove(&t, ":1.1"));
        ASSERT_FALSE(caller_table_remove(&t, ":1.1"));
        ASSERT_EQ_INT(t.n, 0);
        caller_table_done(&t);
}

static void test_table_full(void)
{
        CallerTable t;
        Caller *c;

        caller_table_init(&t, 3);
        ASSERT_TRUE(caller_table_get(&t, ":1.1", 10));
        ASSERT_TRUE(caller_table_get(&t, ":1.2", 20));
        ASSERT_TRUE(caller_table_get(&t, ":1.3", 30));
        caller_table_get(&t, ":1.1", 40); /* :1.2 is now the least recently used */
        c = caller_table_get(&t, ":1.4", 50);
        ASSERT_TRUE(c);
        ASSERT_TRUE(caller_table_find(&t, ":1.2") == NULL);
        ASSERT_TRUE(caller_table_find(&t, ":1.1"));
        ASSERT_EQ_INT(t.n, 3);

        /* Callers with calls pending are never evicted. */
        caller_table_find(&t, ":1.1")->n_pending = 1;
        caller_table_find(&t, ":1.3")->n_pending = 2;
        caller_table_find(&t, ":1.4")->n_pending = 1;
        ASSERT_TRUE(caller_table_get(&t, ":1.5", 60) == NULL);
        caller_table_find(&t, ":1.3")->n_pending = 0;
        ASSERT_TRUE(caller_table_get(&t, ":1.5", 70));
        ASSERT_TRUE(caller_table_find(&t, ":1.3") == NULL);

        caller_table_clear(&t);
        ASSERT_EQ_INT(t.n, 0);
        ASSERT_TRUE(caller_table_find(&t, ":1.1") == NULL);
        caller_table_done(&t);
}

static void test_table_churn(void)
{
        CallerTable t;
        char name[32];
        bool present[2000] = {};
        unsigned seed = 12345;

        caller_table_init(&t, 256);
        for (int round = 0; round < 20000; round++) {
                unsigned k;

                seed = seed * 1103515245 + 12345;
                k = (seed >> 8) % 2000;
                snprintf(name, sizeof(name), ":1.%u", k);
                if (present[k]) {
                        ASSERT_TRUE(caller_table_remove(&t, name));
                        present[k] = false;
                } else if (t.n < 256) {
                        ASSERT_TRUE(caller_table_get(&t, name, (uint64_t)round + 1));
                        present[k] = true;
                }
                if (round % 997 == 0)
                        for (unsigned j = 0; j < 2000; j++) {
                                snprintf(name, sizeof(name), ":1.%u", j);
                                ASSERT_EQ_INT(caller_table_find(&t, name) != NULL, present[j]);
                        }
        }
        caller_table_done(&t);
}

int main(void)
{
        RUN(test_bucket_burst_and_refill);
        RUN(test_bucket_clock_backwards);
        RUN(test_bucket_steady_rate);
        RUN(test_table_basics);
        RUN(test_table_full);
        RUN(test_table_churn);
        return 0;
}
