/* SPDX-License-Identifier: MIT */
/*
 * zram statistics from /sys/block/zram<N>/mm_stat.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct ZramStats {
        uint64_t orig_data_size;  /* bytes stored (uncompressed) */
        uint64_t compr_data_size; /* bytes after compression */
        uint64_t mem_used_total;  /* bytes of RAM zram uses, incl. overhead */
        uint64_t mem_limit;
        uint64_t mem_used_max;
        uint64_t same_pages;
        uint64_t pages_compacted;
        uint64_t huge_pages; /* optional (Linux 4.19+), 0 when absent */
} ZramStats;

/*
 * Parse one mm_stat line: at least 7 whitespace-separated unsigned numbers
 * (later kernels add more, which are ignored beyond huge_pages).
 * Fewer fields or a malformed/overflowing number is -EBADMSG.
 */
int zram_mm_stat_parse(const char *buf, size_t len, ZramStats *ret);

/*
 * Sum mm_stat over every block/zram<N> directory under `sysfd` (a dir fd for
 * /sys). Devices that are not set up (initstate 0, or where there is no
 * initstate, an empty or unreadable mm_stat) are skipped. Returns the number
 * of devices summed (0 if none: zram absent); -EBADMSG for a set-up device
 * with a malformed mm_stat, -ERANGE if the sum overflows, -ENOENT if there
 * is no block/ directory. same_pages, pages_compacted and huge_pages are
 * page counts, not bytes; mem_limit 0 means no limit.
 */
int zram_read_all_at(int sysfd, ZramStats *ret);

/*
 * Compact every initialised zram device under `sysfd` (/sys): block/zram<N>/compact.
 * Returns the number compacted (0: none set up); if every attempt failed,
 * the first error. -ENOENT if there is no block/ directory.
 */
int zram_compact_all(int sysfd);
