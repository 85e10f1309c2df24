/* SPDX-License-Identifier: MIT */
/* Shared between planner.c (the ladder) and planner-apps.c (apps and ranking). */
#pragma once

#include "planner.h"

/* What the planner works out once per process. */
typedef struct PlanEntry {
        RuleMatch match;
        const char *never; /* why it is never targeted, or NULL */
        size_t unit_len;   /* length of its app unit's cgroup prefix; 0 if not in an app unit */
} PlanEntry;

#define MIB (UINT64_C(1024) * 1024)
/* Bytes to MiB, rounded to nearest, for reasons. */
static inline unsigned long long mib(uint64_t bytes)
{
        return (unsigned long long)((bytes + MIB / 2) / MIB);
}

/* Group the table into apps, rank them and fill in everything but `planned`. */
void planner_build_apps(const PlannerParams *params, const PlannerInput *in, Plan *plan);
