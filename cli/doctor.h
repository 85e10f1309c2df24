/* SPDX-License-Identifier: MIT */
/*
 * Probes for memguardctl doctor: the cgroup layout from mountinfo, kernel
 * versions, a non-root cgroup to look into, syscalls, and running a helper
 * (criu check) with a timeout. Readers take their root (procfd, a path) as
 * a parameter; the parser is pure.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum CgroupMode {
        CGROUP_NONE,
        CGROUP_V1_ONLY,
        CGROUP_HYBRID,  /* v1 controllers, and a cgroup2 mount beside them */
        CGROUP_PURE_V2, /* cgroup2 only (a v1 hierarchy without controllers, like name=systemd, is ignored)
                         */
} CgroupMode;

typedef struct CgroupLayout {
        CgroupMode mode;
        char *v2_mount;           /* the first cgroup2 mount, NULL if none */
        char v1_controllers[256]; /* "cpu, memory, freezer", in mount order; "" if none */
        bool v1_memory;           /* the memory controller is bound to v1 */
} CgroupLayout;

void cgroup_layout_done(CgroupLayout *l);

/* "pure v2", "hybrid", "v1 only", "none". */
const char *cgroup_mode_to_string(CgroupMode m);

/* Classify the cgroup mounts in /proc/self/mountinfo text. -EBADMSG for a malformed cgroup2 line. */
int cgroup_layout_parse(const char *mountinfo, size_t len, CgroupLayout *ret);

/* Whether the space- (or newline-) separated word list (cgroup.controllers) holds `word`. */
bool word_list_contains(const char *list, const char *word);

/* Parse "6.18.44-foo" into major and minor. -EINVAL if it does not start that way. */
int kernel_version_parse(const char *release, unsigned *ret_major, unsigned *ret_minor);

/*
 * A non-root cgroup under `v2_mount` to look for files in, without creating
 * one: the caller's own cgroup (from self/cgroup under procfd) unless that
 * is the root, else the first child cgroup of the root. Returns an absolute
 * path; -ENOENT if there is none.
 */
int v2_probe_cgroup(int procfd, const char *v2_mount, char **ret_path);

/*
 * Run `argv` (argv[0] a path) with stdin from /dev/null and stdout+stderr
 * captured; the last `size - 1` bytes at most are kept in `out`. Returns the
 * exit status (0..255), 128 + signal if it was killed by one, -ETIME if it
 * did not finish within timeout_usec (it is then killed), -errno if it could
 * not run.
 */
int run_with_timeout(char *const argv[], uint64_t timeout_usec, char *out, size_t size);

/* Find an executable `name` in $PATH and the sbin directories. */
int find_executable(const char *name, char **ret_path);
