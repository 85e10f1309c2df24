/* SPDX-License-Identifier: MIT */
/* Reading clocks in microseconds, the unit the whole daemon uses. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "macro.h"

static inline uint64_t clock_usec(clockid_t id)
{
        struct timespec ts;

        clock_gettime(id, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}
