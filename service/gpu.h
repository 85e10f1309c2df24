/* SPDX-License-Identifier: MIT */
/*
 * Integrated-GPU (UMA) memory from DRM fdinfo (Documentation/gpu/drm-usage-stats.rst).
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 * "No DRM client found" is not zero: it is reported as -ENODATA (unknown).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct GpuClient {
        bool is_drm;          /* a drm-driver key was present */
        char driver[32];      /* drm-driver value */
        char pdev[32];        /* drm-pdev value, "" if absent */
        uint64_t client_id;   /* drm-client-id */
        uint64_t system_bytes; /* memory held in system RAM (see gpu.c for which keys count) */
} GpuClient;

/*
 * Parse the text of one /proc/PID/fdinfo/FD file. Files that are not DRM
 * fdinfo (no drm-driver key) parse fine with is_drm=false. Sizes accept the
 * unit suffixes KiB, MiB, GiB or none (bytes). A malformed DRM key is -EBADMSG.
 */
int gpu_fdinfo_parse(const char *buf, size_t len, GpuClient *ret);

/*
 * Walk /proc/<pid>/fd of every process under `procfd`, look at fds that
 * point to /dev/dri/ nodes, and sum system_bytes over distinct (pdev, client_id).
 * Returns -ENODATA when no DRM client was found, or none reported memory
 * (unknown, not zero). Client id 0 means "absent" (the kernel starts at 1).
 */
int gpu_uma_read_at(int procfd, uint64_t *ret_bytes);
