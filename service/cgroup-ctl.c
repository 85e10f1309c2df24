/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2 interface files (Documentation/admin-guide/cgroup-v2.rst):
 * cpu.weight "1..10000", cpu.max "$MAX $PERIOD" ($MAX "max" or usec),
 * memory.high "max" or bytes, memory.reclaim takes bytes and fails with
 * EAGAIN when it reclaimed less than asked, memory.current bytes. zram:
 * Documentation/admin-guide/blockdev/zram.rst ("compact"); drop_caches:
 * Documentation/admin-guide/sysctl/vm.rst ("1" frees the page cache).
 *
 * Every write opens with O_TRUNC, as a shell redirection does, so that
 * fixture trees of plain files end up holding exactly what was written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-ctl.h"
#include "fileio.h"
#include "log.h"
#include "parse-util.h"

#define CPU_PERIOD_MIN 1000u    /* usec, the kernel's bounds for cpu.max's period */
#define CPU_PERIOD_MAX 1000000u
#define CPU_QUOTA_MIN 1000u

static int write_at(int dirfd, const char *path, const char *s, int extra_flags)
{
        _cleanup_close_ int fd = -1;
        size_t len = strlen(s);
        ssize_t k;

        fd = openat(dirfd, path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY | extra_flags);
        if (fd < 0)
                return -errno;
        k = write(fd, s, len);
        if (k < 0)
                return -errno;
        return (size_t)k == len ? 0 : -EIO;
}

/* Read a one-line value into buf without its newline; -EBADMSG if empty or too long. */
static int read_value(int dirfd, const char *path, char *buf, size_t size)
{
        ssize_t n = read_file_at(dirfd, path, buf, size);

        if (n == -EFBIG)
                return -EBADMSG;
        if (n < 0)
                return (int)n;
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        if (n == 0 || memchr(buf, '\n', (size_t)n))
                return -EBADMSG;
        return 0;
}

static int read_u64(int dirfd, const char *path, uint64_t *ret)
{
        char buf[32];
        int r = read_value(dirfd, path, buf, sizeof(buf));

        return r < 0 ? r : safe_atou64(buf, ret);
}

int cgctl_available(int cgfd, const char *controller)
{
        static const char *const cpu[] = { "cpu.weight", "cpu.max", NULL };
        static const char *const memory[] = { "memory.high", NULL };
        static const char *const reclaim[] = { "memory.reclaim", NULL };
        const char *const *files;

        if (!controller)
                return -EINVAL;
        files = strcmp(controller, "cpu") == 0      ? cpu
                : strcmp(controller, "memory") == 0  ? memory
                : strcmp(controller, "reclaim") == 0 ? reclaim
                                                     : NULL;
        if (!files)
                return -EINVAL;

        if (faccessat(cgfd, "cgroup.procs", F_OK, 0) < 0)
                return -errno;
        for (; *files; files++)
                if (faccessat(cgfd, *files, W_OK, AT_EACCESS) < 0) {
                        if (errno == ENOENT || errno == EACCES || errno == EPERM || errno == EROFS)
                                return 0;
                        return -errno;
                }
        return 1;
}

static int require(int cgfd, const char *controller)
{
        int r = cgctl_available(cgfd, controller);

        if (r < 0)
                return r;
        if (r == 0) {
                log_debug("cgroup: the %s controller is not available here", controller);
                return -EOPNOTSUPP;
        }
        return 0;
}

/* The period of a cpu.max value ("max 100000", "50000 100000"). */
static int cpu_max_period(const char *s, uint64_t *ret)
{
        const char *sp = strchr(s, ' ');
        uint64_t period;

        if (!sp || sp == s || safe_atou64(sp + 1, &period) < 0)
                return -EBADMSG;
        if (period < CPU_PERIOD_MIN || period > CPU_PERIOD_MAX)
                return -EBADMSG;
        *ret = period;
        return 0;
}

int cgctl_throttle(int cgfd, unsigned weight, unsigned max_quota_pct, CgctlSaved *saved)
{
        char old_weight[sizeof(saved->cpu_weight)], old_max[sizeof(saved->cpu_max)], buf[64];
        uint64_t period;
        int r;

        if (!saved || weight < 1 || weight > 10000 || max_quota_pct > 100000)
                return -EINVAL;
        r = require(cgfd, "cpu");
        if (r < 0)
                return r;

        r = read_value(cgfd, "cpu.weight", old_weight, sizeof(old_weight));
        if (r < 0)
                return r;
        r = read_value(cgfd, "cpu.max", old_max, sizeof(old_max));
        if (r < 0)
                return r;
        r = cpu_max_period(old_max, &period);
        if (r < 0)
                return r;

        snprintf(buf, sizeof(buf), "%u", weight);
        r = write_at(cgfd, "cpu.weight", buf, 0);
        if (r < 0)
                return r;
        if (max_quota_pct > 0) {
                uint64_t quota = MAX(period * max_quota_pct / 100, (uint64_t)CPU_QUOTA_MIN);

                snprintf(buf, sizeof(buf), "%" PRIu64 " %" PRIu64, quota, period);
                r = write_at(cgfd, "cpu.max", buf, 0);
                if (r < 0) {
                        int q = write_at(cgfd, "cpu.weight", old_weight, 0);
                        if (q < 0)
                                log_debug_errno(q, "cgroup: cannot put cpu.weight back to %s: %m",
                                                old_weight);
                        return r;
                }
        }

        if (!saved->cpu_saved) {
                memcpy(saved->cpu_weight, old_weight, sizeof(old_weight));
                memcpy(saved->cpu_max, old_max, sizeof(old_max));
                saved->cpu_saved = true;
        }
        return 0;
}

int cgctl_cap_memory(int cgfd, uint64_t high_bytes, CgctlSaved *saved)
{
        char old_high[sizeof(saved->memory_high)], buf[32];
        int r;

        if (!saved || high_bytes == 0)
                return -EINVAL;
        r = require(cgfd, "memory");
        if (r < 0)
                return r;
        r = read_value(cgfd, "memory.high", old_high, sizeof(old_high));
        if (r < 0)
                return r;

        /*
         * Below current usage the write reclaims in our context until usage
         * fits. With O_NONBLOCK, kernels since "memcg: introduce
         * non-blocking limit setting option" (2025) only set the limit and
         * leave the reclaim to the cgroup's own next charges; older ones
         * ignore the flag and reclaim.
         */
        snprintf(buf, sizeof(buf), "%" PRIu64, high_bytes);
        r = write_at(cgfd, "memory.high", buf, O_NONBLOCK);
        if (r < 0)
                return r;

        if (!saved->memory_saved) {
                memcpy(saved->memory_high, old_high, sizeof(old_high));
                saved->memory_saved = true;
        }
        return 0;
}

int cgctl_restore(int cgfd, CgctlSaved *saved)
{
        int r = 0, q;

        if (!saved)
                return -EINVAL;

        if (saved->cpu_saved) {
                q = write_at(cgfd, "cpu.max", saved->cpu_max, 0);
                if (q >= 0)
                        q = write_at(cgfd, "cpu.weight", saved->cpu_weight, 0);
                if (q >= 0)
                        saved->cpu_saved = false;
                else
                        r = q;
        }
        if (saved->memory_saved) {
                q = write_at(cgfd, "memory.high", saved->memory_high, O_NONBLOCK);
                if (q >= 0)
                        saved->memory_saved = false;
                else if (r == 0)
                        r = q;
        }
        return r;
}

int cgctl_reclaim(int cgfd, uint64_t bytes, uint64_t *ret_freed)
{
        uint64_t before, after;
        bool have_before;
        char buf[32];
        int r;

        if (bytes == 0)
                return -EINVAL;
        r = require(cgfd, "reclaim");
        if (r < 0)
                return r;

        have_before = read_u64(cgfd, "memory.current", &before) >= 0;
        snprintf(buf, sizeof(buf), "%" PRIu64, bytes);
        r = write_at(cgfd, "memory.reclaim", buf, 0);
        if (r < 0 && r != -EAGAIN)
                return r;

        if (ret_freed)
                *ret_freed = have_before && read_u64(cgfd, "memory.current", &after) >= 0 && before > after
                                     ? before - after
                                     : 0;
        return r == -EAGAIN; /* reclaimed less than asked */
}

int drop_page_cache(int procfd, DropCacheLimit *limit, uint64_t now_usec)
{
        uint64_t interval;
        int r;

        if (!limit)
                return -EINVAL;
        interval = MAX(limit->interval_usec, DROP_CACHE_MIN_INTERVAL_USEC);
        if (limit->dropped && (now_usec < limit->last_usec || now_usec - limit->last_usec < interval))
                return -EAGAIN;

        r = write_at(procfd, "sys/vm/drop_caches", "1", 0);
        if (r < 0)
                return r;
        limit->last_usec = now_usec;
        limit->dropped = true;
        return 0;
}
