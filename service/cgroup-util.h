/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2 helpers: finding the v2 mount (pure v2 at /sys/fs/cgroup or the
 * "unified" part of a hybrid setup), resolving --scope arguments, and
 * parsing /proc/PID/cgroup.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 */
#pragma once

#include <stddef.h>

/*
 * Parse /proc/self/mountinfo text and return the mount point of the first
 * cgroup2 filesystem (octal escapes like \040 decoded). -ENOENT if none.
 */
int cg_v2_mount_parse(const char *mountinfo, size_t len, char **ret_path);
int cg_v2_mount_find_at(int procfd, char **ret_path); /* reads self/mountinfo */

/* The mount point of the v1 hierarchy carrying `controller` (e.g. "memory"); -ENOENT if none. */
int cg_v1_mount_parse(const char *mountinfo, size_t len, const char *controller, char **ret_path);
int cg_v1_mount_find_at(int procfd, const char *controller, char **ret_path);

/*
 * Resolve a --scope argument: an absolute path inside `v2_mount` is taken
 * as it is; any other absolute path is a cgroup path as /proc/PID/cgroup
 * shows it ("/user.slice/app.scope"), and a relative one is relative to the
 * mount too. Works on the text only (no symlinks followed); "/" or "." is
 * the root cgroup. Returns a newly allocated absolute path without trailing
 * '/'; -EINVAL for an empty argument or ".." segments.
 */
int cg_resolve_scope(const char *v2_mount, const char *arg, char **ret_abs);

/*
 * From /proc/PID/cgroup text, return the v2 path (the "0::" line), e.g.
 * "/user.slice/user-1000.slice/app-foo.scope". -ENOENT if there is no v2
 * line, -EBADMSG if malformed, -EXDEV for a path with ".." segments (a
 * process outside our cgroup namespace). A removed cgroup's path keeps the
 * kernel's " (deleted)" suffix.
 */
int cg_v2_path_parse(const char *buf, size_t len, char **ret_path);
