/* SPDX-License-Identifier: MIT */
/*
 * Reading small kernel files (procfs, cgroupfs, sysfs) relative to a root
 * directory fd, so that every reader can be pointed at a fixture tree.
 *
 * Contract: functions return >= 0 on success and -errno on failure, and
 * write their outputs only on success.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * Read the file at `path` (relative to `dirfd`, or absolute) into the caller's
 * buffer of `size` bytes and NUL-terminate it. Does not allocate, so it can be
 * used on the path from trigger to action. Returns the number of bytes read;
 * -EFBIG if the file did not fit (the buffer then holds a truncated prefix
 * that must not be parsed).
 */
ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t size);

/*
 * Read a whole file of at most `max_size` bytes into a newly allocated,
 * NUL-terminated buffer. For configuration and rarely read files.
 */
int read_full_file_at(int dirfd, const char *path, size_t max_size, char **ret, size_t *ret_size);

/*
 * Write a string to a file (relative to dirfd) in one write(2), optionally
 * including its terminating NUL. Returns 0 or -errno.
 */
int write_string_file_at(int dirfd, const char *path, const char *s, int include_nul);

/* mkdir -p DIR: DIR itself is created 0700, missing parents 0755. */
int mkdir_parents(const char *dir);

/*
 * Replace the file at `path` atomically with `len` bytes of `data`: a
 * temporary file "<name>.tmp" in the same directory (mode 0600) is written,
 * fsync'ed and renamed over it, then the directory is fsync'ed. The directory
 * is created (0700, parents 0755) if missing. Writers of one directory
 * serialise on flock(2) of it, so they never tear each other's temporary file.
 */
int write_file_atomic(const char *path, const char *data, size_t len);

/* Open a directory (O_DIRECTORY|O_CLOEXEC|O_RDONLY) relative to dirfd. */
int open_dir_at(int dirfd, const char *path);
