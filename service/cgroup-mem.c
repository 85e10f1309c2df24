/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "cgroup-mem.h"
#include "fileio.h"
#include "macro.h"
#include "parse-util.h"

#define V1_UNLIMITED_MIN (UINT64_C(1) << 62) /* v1 "no limit" is PAGE_COUNTER_MAX * PAGE_SIZE */

int cgroup_mem_stat_get(const char *buf, size_t len, const char *key, uint64_t *ret)
{
        size_t klen = strlen(key);
        const char *p = buf, *end = buf + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;

                if ((size_t)(le - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == ' ') {
                        uint64_t v;
                        if (safe_atou64_n(p + klen + 1, (size_t)(le - p - (ptrdiff_t)klen - 1), &v) < 0)
                                return -EBADMSG;
                        *ret = v;
                        return 0;
                }
                p = le + 1;
        }
        return -ENOENT;
}

/* A file holding one number (or "max"), like memory.current or memory.max. */
static int read_u64_at(int dirfd, const char *name, uint64_t *ret)
{
        char buf[64];
        ssize_t n = read_file_at(dirfd, name, buf, sizeof(buf));

        if (n < 0)
                return (int)n;
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        if (strcmp(buf, "max") == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        return safe_atou64(buf, ret) < 0 ? -EBADMSG : 0;
}

static int read_stat_key(int dirfd, const char *key, uint64_t *ret)
{
        char buf[8192];
        ssize_t n = read_file_at(dirfd, "memory.stat", buf, sizeof(buf));

        if (n < 0)
                return (int)n;
        return cgroup_mem_stat_get(buf, (size_t)n, key, ret);
}

int cgroup_mem_read_v2(const char *mount, const char *dir, CgroupMem *ret)
{
        _cleanup_free_ char *path = xstrdup(dir);
        _cleanup_close_ int fd = -1;
        CgroupMem c = { .limit = UINT64_MAX, .swap_limit = UINT64_MAX };
        size_t mlen = strlen(mount);
        bool swap_known = false;
        int r;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = read_u64_at(fd, "memory.current", &c.usage);
        if (r < 0)
                return r; /* no memory controller here */
        r = read_stat_key(fd, "inactive_file", &c.inactive_file);
        if (r < 0 && r != -ENOENT)
                return r;
        r = read_stat_key(fd, "active_file", &c.active_file);
        if (r < 0 && r != -ENOENT)
                return r;

        /* The effective limit is the smallest memory.max on the way up. */
        while (strlen(path) > mlen) {
                _cleanup_close_ int d = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                uint64_t max;
                char *slash;

                if (d >= 0 && read_u64_at(d, "memory.max", &max) >= 0)
                        c.limit = MIN(c.limit, max);
                if (d >= 0 && read_u64_at(d, "memory.swap.max", &max) >= 0) {
                        c.swap_limit = MIN(c.swap_limit, max);
                        swap_known = true;
                }
                slash = strrchr(path, '/');
                if (!slash || slash == path)
                        break;
                *slash = 0;
        }
        if (swap_known && read_u64_at(fd, "memory.swap.current", &c.swap_usage) < 0)
                c.swap_usage = 0;
        *ret = c;
        return 0;
}

int cgroup_mem_read_v1(const char *dir, CgroupMem *ret)
{
        _cleanup_close_ int fd = -1;
        uint64_t memsw_limit, memsw_usage;
        CgroupMem c = {};
        int r;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = read_u64_at(fd, "memory.usage_in_bytes", &c.usage);
        if (r < 0)
                return r;
        r = read_stat_key(fd, "hierarchical_memory_limit", &c.limit);
        if (r < 0)
                return r;
        if (c.limit >= V1_UNLIMITED_MIN)
                c.limit = UINT64_MAX;
        r = read_stat_key(fd, "total_inactive_file", &c.inactive_file);
        if (r < 0 && r != -ENOENT)
                return r;
        r = read_stat_key(fd, "total_active_file", &c.active_file);
        if (r < 0 && r != -ENOENT)
                return r;

        /* Swap accounting (memsw = memory + swap), where the kernel has it on. */
        c.swap_limit = UINT64_MAX;
        if (read_stat_key(fd, "hierarchical_memsw_limit", &memsw_limit) >= 0 &&
            read_u64_at(fd, "memory.memsw.usage_in_bytes", &memsw_usage) >= 0 && memsw_limit < V1_UNLIMITED_MIN &&
            c.limit != UINT64_MAX) {
                c.swap_limit = memsw_limit > c.limit ? memsw_limit - c.limit : 0;
                c.swap_usage = memsw_usage > c.usage ? memsw_usage - c.usage : 0;
        }
        *ret = c;
        return 0;
}

void cgroup_mem_to_meminfo(const CgroupMem *c, const MemInfo *sys, MemInfo *ret)
{
        MemInfo m = *sys;

        if (c->limit != UINT64_MAX && c->limit > 0) {
                uint64_t avail = c->usage >= c->limit ? 0 : c->limit - c->usage;
                uint64_t file = MIN(c->inactive_file, c->usage);

                file += MIN(c->active_file / 2, c->usage - file);
                avail = MIN(avail + file, c->limit);
                m.mem_total = MIN(c->limit, sys->mem_total);
                m.mem_available = MIN(MIN(avail, m.mem_total), sys->mem_available);
        }
        if (c->swap_limit != UINT64_MAX) {
                m.swap_total = MIN(c->swap_limit, sys->swap_total);
                m.swap_free = MIN(m.swap_total - MIN(c->swap_usage, m.swap_total), sys->swap_free);
        }
        *ret = m;
}
