/* SPDX-License-Identifier: MIT */
/*
 * Where a memory stall comes from. Pressure Stall Information counts a task
 * stalled in its cgroup's reclaim (a cgroup at its memory limit) in that
 * cgroup, in every ancestor and in /proc/pressure/memory: the machine-wide
 * figure alone cannot tell a container thrashing against its own limit from
 * a machine out of memory, nor the app that thrashes from the largest one.
 * Walking down the cgroup tree along the branches whose memory.pressure
 * carries the stall finds the cgroups it comes from, so that a stall
 * without memory shortage is answered there.
 *
 * Rates: a cgroup's stall rate is the growth of its "some" total since the
 * previous walk (kept in a StallHistory), the same measure as the caller's
 * own PSI rate; "avg10" (a 10 s average, late at the onset of a stall)
 * stands in only for a cgroup seen for the first time, and the result says
 * so (exact = false).
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct StallPoint {
        char *path;
        uint64_t total_usec; /* memory.pressure "some" total */
        uint64_t when_usec;  /* the caller's clock when it was read */
} StallPoint;

typedef struct StallHistory {
        StallPoint *points;
        size_t n;
} StallHistory;

void stall_history_done(StallHistory *h);

/*
 * Below the cgroup directory `rootfd` (whose v2 path is `root`, e.g. "/" or
 * "/user.slice"), the cgroups whose stall rate is at least half of
 * `root_rate` (a fraction 0..1, the caller's own PSI "some" rate; and at
 * least 1 %) while no child of theirs reaches that: where the stall is.
 * Only stalling branches are descended (at most 32 levels, at most `max`
 * results); the root itself is assumed to stall, so when none of its
 * children does, *ret is { root }. *ret is a NULL-terminated list of v2
 * paths. `history` (may be NULL) gives and keeps the totals of the cgroups
 * read, at `now_usec`; *ret_exact (may be NULL) is false when a rate that
 * mattered came from avg10. Unreadable or vanished cgroups are skipped.
 */
int cg_stall_find_at(int rootfd, const char *root, double root_rate, StallHistory *history, uint64_t now_usec,
                     size_t max, char ***ret, bool *ret_exact);

/* The entry of `list` that cgroup path `path` is equal to or below, or NULL. */
const char *cg_stall_match(char *const *list, const char *path);

void cg_stall_list_free(char **list);
