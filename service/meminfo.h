/* SPDX-License-Identifier: MIT */
/*
 * /proc/meminfo and /proc/vmstat.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on
 * success. `buf` need not be NUL-terminated, but every line must end in
 * '\n' and CRLF is rejected. Nothing here logs above debug.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct MemInfo {
        uint64_t mem_total;     /* bytes */
        uint64_t mem_available; /* bytes */
        uint64_t swap_total;    /* bytes */
        uint64_t swap_free;     /* bytes */
} MemInfo;

/*
 * Parse /proc/meminfo ("Key:   123 kB" lines). MemTotal, MemAvailable,
 * SwapTotal and SwapFree are required (-EBADMSG if one is missing); a
 * required key that appears twice, a malformed number, or a value whose
 * byte count overflows is -EBADMSG. Other keys are ignored.
 * Also -EBADMSG if MemAvailable > MemTotal or SwapFree > SwapTotal.
 */
int meminfo_parse(const char *buf, size_t len, MemInfo *ret);
int meminfo_read_at(int procfd, MemInfo *ret); /* reads "meminfo" relative to procfd */

typedef struct VmStat {
        uint64_t pswpin;  /* pages */
        uint64_t pswpout; /* pages */
        uint64_t oom_kill;  /* 0 when absent */
        bool has_oom_kill; /* oom_kill exists since Linux 4.13 */
} VmStat;

/*
 * Parse /proc/vmstat ("key value" lines). pswpin and pswpout are required;
 * oom_kill is optional. Duplicates of these keys or malformed numbers are
 * -EBADMSG; other keys are ignored.
 */
int vmstat_parse(const char *buf, size_t len, VmStat *ret);
int vmstat_read_at(int procfd, VmStat *ret); /* reads "vmstat" relative to procfd */
