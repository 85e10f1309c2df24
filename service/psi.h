/* SPDX-License-Identifier: MIT */
/*
 * Pressure Stall Information: parsing /proc/pressure/memory or a cgroup's
 * memory.pressure, and PSI triggers.
 *
 * Contract: 0 (or an fd) on success, -errno on failure; outputs written only
 * on success. Nothing here logs above debug.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct PsiLine {
        bool present;
        double avg10, avg60, avg300; /* percent, 0..100 */
        uint64_t total;              /* cumulative stall time, µs */
} PsiLine;

typedef struct PsiStats {
        PsiLine some;
        PsiLine full; /* absent in some files (e.g. system-wide cpu before 5.13) */
} PsiStats;

typedef enum PsiKind {
        PSI_SOME,
        PSI_FULL,
} PsiKind;

/*
 * Parse the text of a PSI file. A "some" line is required and "full" is
 * optional; each present line must carry avg10, avg60, avg300 and total
 * exactly once. Unknown keys are ignored; a line kind that appears twice,
 * a key without '=' or with a second '=', a number that overflows, or an
 * average outside 0..100 is -EBADMSG. `buf` need not be NUL-terminated, but
 * every line must end in '\n' (a last line without one may be a number cut
 * short); CRLF is rejected.
 */
int psi_parse(const char *buf, size_t len, PsiStats *ret);

/* Read and parse `path` relative to `dirfd` (e.g. procfd + "pressure/memory"). */
int psi_read_at(int dirfd, const char *path, PsiStats *ret);

/*
 * Format the trigger string "some|full STALL_US WINDOW_US" into buf.
 * Returns its length (without the NUL) or -ENOBUFS.
 */
int psi_trigger_format(char *buf, size_t size, PsiKind kind, uint64_t stall_usec, uint64_t window_usec);

/*
 * Round a window up to the nearest multiple of 2 s, which is what the kernel
 * accepts from callers without CAP_SYS_RESOURCE, clamped to 2..10 s. The
 * stall threshold is scaled by the same factor so the trigger keeps its
 * ratio, and clamped to 1..window-1. Outputs may be NULL.
 */
void psi_trigger_fallback(uint64_t stall_usec, uint64_t window_usec, uint64_t *ret_stall_usec,
                          uint64_t *ret_window_usec);

/*
 * Open `path` (relative to dirfd) O_RDWR|O_NONBLOCK and register a trigger,
 * writing the string *including* its terminating NUL (the kernel overwrites
 * the last byte written with NUL). If the kernel refuses the window with
 * EINVAL, retry once with psi_trigger_fallback()'s values. Returns the fd,
 * to be polled for POLLPRI (EPOLLPRI); the window actually in use is written
 * to *ret_window_usec and *ret_stall_usec (may be NULL).
 *
 * Returns -EINVAL without writing anything for stall 0, window 0, stall >
 * window or an unknown kind, so the fallback never "repairs" a bad config.
 * POLLERR on the fd means the trigger is gone (e.g. the cgroup was removed;
 * it then reports POLLERR|POLLPRI on every poll): close it.
 */
int psi_trigger_open_at(int dirfd, const char *path, PsiKind kind, uint64_t stall_usec, uint64_t window_usec,
                        uint64_t *ret_stall_usec, uint64_t *ret_window_usec);
