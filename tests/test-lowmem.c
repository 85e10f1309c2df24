/* SPDX-License-Identifier: MIT */
/*
 * LowMemoryWarning levels: which level maps to which warning (the values
 * GMemoryMonitor knows: 50, 100, 255), only upward changes warn, and each
 * value is sent at most once per 10 s whatever the level does meanwhile.
 * Also the small string tables of the bus API.
 */
#include "bus.h"
#include "lowmem.h"
#include "test.h"

static void test_mapping(void)
{
        ASSERT_EQ_INT(lowmem_warning_for_level(LEVEL_NORMAL), 0);
        ASSERT_EQ_INT(lowmem_warning_for_level(LEVEL_ELEVATED), 50);
        ASSERT_EQ_INT(lowmem_warning_for_level(LEVEL_HIGH), 100);
        ASSERT_EQ_INT(lowmem_warning_for_level(LEVEL_CRITICAL), 100);
        ASSERT_EQ_INT(lowmem_warning_for_level(LEVEL_EMERGENCY), 255);
        ASSERT_EQ_INT(lowmem_warning_for_level(_LEVEL_MAX), 0);
        ASSERT_EQ_INT(lowmem_warning_for_level(_LEVEL_INVALID), 0);
}

static void test_changes(void)
{
        ASSERT_EQ_INT(lowmem_warning_for_change(LEVEL_NORMAL, LEVEL_ELEVATED), 50);
        ASSERT_EQ_INT(lowmem_warning_for_change(LEVEL_NORMAL, LEVEL_EMERGENCY), 255);
        ASSERT_EQ_INT(lowmem_warning_for_change(LEVEL_HIGH, LEVEL_CRITICAL), 100);
        ASSERT_EQ_INT(lowmem_warning_for_change(LEVEL_EMERGENCY, LEVEL_HIGH), 0); /* downward */
        ASSERT_EQ_INT(lowmem_warning_for_change(LEVEL_HIGH, LEVEL_HIGH), 0);
        ASSERT_EQ_INT(lowmem_warning_for_change(LEVEL_ELEVATED, LEVEL_NORMAL), 0);
}

static void test_limiter(void)
{
        LowMemLimiter l = {};
        uint64_t t = 0; /* the very first instant counts too */

        ASSERT_TRUE(lowmem_limiter_allow(&l, 100, t));
        ASSERT_FALSE(lowmem_limiter_allow(&l, 100, t + USEC_PER_SEC));
        ASSERT_TRUE(lowmem_limiter_allow(&l, 50, t + USEC_PER_SEC)); /* values are independent */
        ASSERT_TRUE(lowmem_limiter_allow(&l, 255, t + USEC_PER_SEC));
        ASSERT_FALSE(lowmem_limiter_allow(&l, 255, t + 2 * USEC_PER_SEC));
        ASSERT_FALSE(lowmem_limiter_allow(&l, 100, t + LOWMEM_MIN_INTERVAL_USEC - 1));
        ASSERT_TRUE(lowmem_limiter_allow(&l, 100, t + LOWMEM_MIN_INTERVAL_USEC + 1));
        ASSERT_FALSE(lowmem_limiter_allow(&l, 7, t)); /* not a GMemoryMonitor level */
        ASSERT_FALSE(lowmem_limiter_allow(&l, 0, t));
}

static void test_strings(void)
{
        ASSERT_STREQ(bus_action_to_string(BUS_ACTION_FREEZE), "freeze");
        ASSERT_STREQ(bus_action_to_string(BUS_ACTION_UNPROTECT), "unprotect");
        ASSERT_TRUE(bus_action_to_string(_BUS_ACTION_MAX) == NULL);
        ASSERT_TRUE(bus_action_to_string((BusAction)-1) == NULL);
        ASSERT_EQ_INT(bus_warning_response_from_string("allow"), BUS_RESPONSE_ALLOW);
        ASSERT_EQ_INT(bus_warning_response_from_string("postpone"), BUS_RESPONSE_POSTPONE);
        ASSERT_EQ_INT(bus_warning_response_from_string("protect"), BUS_RESPONSE_PROTECT);
        ASSERT_EQ_INT(bus_warning_response_from_string("Allow"), _BUS_RESPONSE_INVALID);
        ASSERT_EQ_INT(bus_warning_response_from_string(""), _BUS_RESPONSE_INVALID);
        ASSERT_EQ_INT(bus_warning_response_from_string(NULL), _BUS_RESPONSE_INVALID);
}

int main(void)
{
        RUN(test_mapping);
        RUN(test_changes);
        RUN(test_limiter);
        RUN(test_strings);
        return 0;
}
