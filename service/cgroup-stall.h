/* SPDX-License-Identifier: MIT */
/*
 * Where a memory stall comes from. Pressure Stall Information counts a task
 * stalled in its cgroup's reclaim (a cgroup at its memory limit) in that
 * cgroup, in every ancestor and in /proc/pressure/memory: the machine-wide
 * figure alone cannot tell a container thrashing against its own limit from
 * a machine out of memory. Walking down the cgroup tree along the branches
 * whose memory.pressure shows the stall finds the cgroups it comes from, so
 * that a stall without memory shortage is answered there and not by
 * freezing whatever app is the largest on the machine.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 */
#pragma once

#include <stddef.h>

/*
 * Below the cgroup directory `rootfd` (whose v2 path is `root`, e.g. "/" or
 * "/user.slice"), the cgroups whose memory.pressure "some avg10" is at least
 * `threshold` percent while no child of theirs reaches it: where the stall
 * is. Only stalling branches are descended (at most 32 levels, at most
 * `max` results). The root itself is assumed to stall (the caller knows it
 * from its own PSI): when none of its children does, *ret is { root }.
 * *ret is a NULL-terminated list of v2 paths. Unreadable or vanished
 * cgroups are skipped.
 */
int cg_stall_find_at(int rootfd, const char *root, double threshold, size_t max, char ***ret);

/* The entry of `list` that cgroup path `path` is equal to or below, or NULL. */
const char *cg_stall_match(char *const *list, const char *path);
