/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

void *xmalloc0(size_t size)
{
        void *p = calloc(1, size ? size : 1);
        if (!p) {
                fputs("memguard: out of memory\n", stderr);
                abort();
        }
        return p;
}

char *xstrdup(const char *s)
{
        char *p;

        if (!s)
                return NULL;
        p = strdup(s);
        if (!p) {
                fputs("memguard: out of memory\n", stderr);
                abort();
        }
        return p;
}

static ssize_t read_fd_into(int fd, char *buf, size_t size)
{
        size_t n = 0;

        if (size == 0)
                return -EINVAL;

        /* procfs files may need several reads; stop at EOF or when full. */
        while (n < size - 1) {
                ssize_t k = read(fd, buf + n, size - 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        buf[n] = 0;
        if (n == size - 1) {
                /* Full: make sure there is nothing more. */
                char c;
                ssize_t k;
                do
                        k = read(fd, &c, 1);
                while (k < 0 && errno == EINTR);
                if (k > 0)
                        return -EFBIG;
        }
        return (ssize_t)n;
}

ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t size)
{
        _cleanup_close_ int fd = -1;

        if (!buf || size == 0)
                return -EINVAL;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_fd_into(fd, buf, size);
}

int read_full_file_at(int dirfd, const char *path, size_t max_size, char **ret, size_t *ret_size)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t alloc = 4096, n = 0;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        buf = xmalloc0(alloc);
        for (;;) {
                ssize_t k;

                if (n + 1 >= alloc) {
                        char *nb;
                        if (alloc >= max_size + 1)
                                return -EFBIG;
                        alloc = MIN(alloc * 2, max_size + 1);
                        nb = realloc(buf, alloc);
                        if (!nb)
                                abort();
                        buf = nb;
                }
                k = read(fd, buf + n, alloc - 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t)k;
                if (n > max_size)
                        return -EFBIG;
        }
        buf[n] = 0;
        if (ret_size)
                *ret_size = n;
        *ret = TAKE_PTR(buf);
        return 0;
}

int write_string_file_at(int dirfd, const char *path, const char *s, int include_nul)
{
        _cleanup_close_ int fd = -1;
        size_t len = strlen(s) + (include_nul ? 1 : 0);
        ssize_t k;

        fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        k = write(fd, s, len);
        if (k < 0)
                return -errno;
        if ((size_t)k != len)
                return -EIO;
        return 0;
}

int open_dir_at(int dirfd, const char *path)
{
        int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* mkdir -p: the last directory is created 0700, missing parents 0755. */
int mkdir_parents(const char *dir)
{
        _cleanup_free_ char *p = xstrdup(dir);

        for (char *s = p + 1;; s++) {
                char c = *s;

                if (c != '/' && c != 0)
                        continue;
                *s = 0;
                if (p[0] && mkdir(p, c == 0 ? 0700 : 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = c;
                if (c == 0)
                        return 0;
        }
}

static int write_all(int fd, const char *s, size_t len)
{
        while (len > 0) {
                ssize_t k = write(fd, s, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                s += k;
                len -= (size_t)k;
        }
        return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len)
{
        _cleanup_free_ char *dir = NULL, *tmp = NULL;
        _cleanup_close_ int dfd = -1, fd = -1;
        const char *slash = strrchr(path, '/'), *base;
        int r = 0;

        base = slash ? slash + 1 : path;
        if (!*base)
                return -EISDIR;
        dir = slash ? strndup(path, (size_t)(slash - path)) : xstrdup(".");
        if (!dir)
                abort();
        if (asprintf(&tmp, "%s.tmp", base) < 0)
                abort();

        if (dir[0] && (r = mkdir_parents(dir)) < 0)
                return r;
        dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        while (flock(dfd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return -errno;

        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0600) < 0)
                r = -errno;
        else if ((r = write_all(fd, data, len)) >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dfd, tmp, dfd, base) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlinkat(dfd, tmp, 0);
                return r;
        }
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}
