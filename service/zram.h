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
 * /sys). Devices that are not initialised (empty or unreadable mm_stat) are
 * skipped. Returns the number of devices summed (0 if none: zram absent).
 */
int zram_read_all_at(int sysfd, ZramStats *ret);
