/* SPDX-License-Identifier: MIT */
/*
 * Memory of a managed cgroup (--scope), as a MemInfo: the limit plays
 * MemTotal and "limit - usage + reclaimable file cache" plays MemAvailable,
 * so that the hard floor and the planner's amount work inside a cgroup the
 * way they work for the whole machine.
 *
 * Reclaimable file cache: all of the inactive and half of the active file
 * pages. The kernel's MemAvailable counts all page cache but a reserve;
 * counting only inactive_file (as memguard first did) made a cgroup full of
 * recently used cache (a build) look out of memory and tripped the hard floor.
 *
 * cgroup v2: memory.max (the smallest on the way up to the mount),
 * memory.current and memory.stat's inactive_file and active_file. Hybrid
 * hosts (v2 without controllers): the v1 memory cgroup of the scope's
 * processes: hierarchical_memory_limit, memory.usage_in_bytes,
 * total_inactive_file, total_active_file.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meminfo.h"

typedef struct CgroupMem {
        uint64_t limit;         /* bytes; UINT64_MAX when unlimited */
        uint64_t usage;         /* bytes */
        uint64_t inactive_file; /* bytes */
        uint64_t active_file;   /* bytes */
        uint64_t swap_limit;    /* bytes the cgroup may swap; UINT64_MAX when unlimited or unknown */
        uint64_t swap_usage;    /* bytes swapped out (0 when unknown) */
} CgroupMem;

/*
 * Parse memory.stat text for `key` ("inactive_file", "total_inactive_file",
 * "hierarchical_memory_limit"). -ENOENT if absent, -EBADMSG if malformed.
 */
int cgroup_mem_stat_get(const char *buf, size_t len, const char *key, uint64_t *ret);

/* Read a v2 cgroup (absolute directory path; ancestors up to `mount` count for the limit). */
int cgroup_mem_read_v2(const char *mount, const char *dir, CgroupMem *ret);

/* Read a v1 memory cgroup (absolute directory path). */
int cgroup_mem_read_v1(const char *dir, CgroupMem *ret);

/*
 * The cgroup as a MemInfo: MemTotal = min(limit, system MemTotal),
 * MemAvailable = min(limit - usage + inactive_file + active_file / 2,
 * limit, system MemAvailable), SwapTotal = min(swap_limit, system SwapTotal)
 * and SwapFree what of it is unused (bounded by the system's SwapFree),
 * swap from the system. An unlimited cgroup gives the system's figures.
 */
void cgroup_mem_to_meminfo(const CgroupMem *c, const MemInfo *sys, MemInfo *ret);
