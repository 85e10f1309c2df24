/* SPDX-License-Identifier: MIT */
/*
 * Gentle actions on cgroups and the kernel's caches: throttle the CPU
 * (cpu.weight, cpu.max) and cap the memory (memory.high) of an expendable
 * app's v2 cgroup, restore both, proactive reclaim (memory.reclaim), zram
 * compaction and a rate-limited page-cache drop.
 *
 * Each takes its root as a dir fd: a v2 cgroup directory, /sys or /proc.
 *
 * Where a controller's files are missing or not writable (the controller is
 * not enabled for this cgroup, as under a hybrid layout's "unified" mount,
 * or a kernel without memory.reclaim), the call returns -EOPNOTSUPP and
 * writes nothing: the caller logs "unavailable, skipped" and never counts it
 * as done.
 *
 * These writes are synchronous in the kernel: memory.reclaim and a
 * memory.high below current usage reclaim in the writer's context,
 * drop_caches walks every inode cache, and zram compaction moves objects.
 * None belongs on the path from trigger to kill; reclaim in modest chunks
 * (CGCTL_RECLAIM_CHUNK) from a deferred event.
 *
 * Contract: >= 0 on success, -errno on failure; outputs written only on
 * success.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

#define CGCTL_RECLAIM_CHUNK (64u * 1024 * 1024)
#define DROP_CACHE_MIN_INTERVAL_USEC (60 * USEC_PER_SEC)

/* Values as read before memguard changed them, written back by cgctl_restore(). */
typedef struct CgctlSaved {
        bool cpu_saved;
        char cpu_weight[16]; /* "100" */
        char cpu_max[48];    /* "max 100000" */
        bool memory_saved;
        char memory_high[32]; /* "max" or bytes */
} CgctlSaved;

/*
 * Whether `controller` can be used on the cgroup: "cpu" (cpu.weight and
 * cpu.max), "memory" (memory.high) or "reclaim" (memory.reclaim), each
 * present and writable. 1 if so, 0 if not; -ENOENT if cgfd is not a cgroup
 * directory any more (no cgroup.procs), -EINVAL for another name.
 */
int cgctl_available(int cgfd, const char *controller);

/*
 * Set cpu.weight to `weight` (1..10000) and, unless max_quota_pct is 0,
 * cpu.max to that percentage of one CPU (1..100000 %) over the current
 * period. The values found are saved in `saved` unless it holds saved CPU
 * values already (the originals are kept across repeated throttling); the
 * memory part of `saved` is not touched. On failure nothing is changed.
 * -EOPNOTSUPP if the cpu controller is unavailable.
 */
int cgctl_throttle(int cgfd, unsigned weight, unsigned max_quota_pct, CgctlSaved *saved);

/* Set memory.high to high_bytes (> 0); saves like cgctl_throttle(). -EOPNOTSUPP without it. */
int cgctl_cap_memory(int cgfd, uint64_t high_bytes, CgctlSaved *saved);

/*
 * Write back what `saved` holds and clear what was written back, so calling
 * it again is harmless. Returns the first error (what failed stays saved for
 * a later try); -ENOENT means the cgroup is gone.
 */
int cgctl_restore(int cgfd, CgctlSaved *saved);

/*
 * Ask the kernel to reclaim `bytes` from the cgroup (memory.reclaim, Linux
 * 5.19+). 0 if it reclaimed as much as asked, 1 if it reclaimed less (the
 * kernel's EAGAIN: not an error). ret_freed (optional) gets the drop in
 * memory.current across the call, an estimate (the cgroup keeps running).
 * -EOPNOTSUPP without memory.reclaim.
 */
int cgctl_reclaim(int cgfd, uint64_t bytes, uint64_t *ret_freed);


/* Caller-held state for drop_page_cache(). Zero-initialise; interval 0 means the minimum. */
typedef struct DropCacheLimit {
        uint64_t interval_usec; /* at least DROP_CACHE_MIN_INTERVAL_USEC */
        uint64_t last_usec;     /* CLOCK_MONOTONIC of the last drop */
        bool dropped;           /* last_usec is valid */
} DropCacheLimit;

/*
 * Drop the clean page cache (write "1" to sys/vm/drop_caches under procfd,
 * /proc) at most once per interval; `now_usec` is CLOCK_MONOTONIC. Dirty
 * pages are not written back first (no sync: that could block for long).
 * -EAGAIN if the last drop was too recent (nothing written). Meant for
 * system mode at level high; a user-mode daemon gets -EACCES.
 */
int drop_page_cache(int procfd, DropCacheLimit *limit, uint64_t now_usec);
