/* SPDX-License-Identifier: MIT */
/*
 * zram statistics (Documentation/admin-guide/blockdev/zram.rst, "mm_stat").
 *
 * An uninitialised device (disksize 0) still has an mm_stat file: current
 * kernels print a line of zeros there, not an empty file. So the walker looks
 * at "initstate" first and skips devices that report 0; where initstate is
 * missing it falls back to the header's rule (empty or unreadable mm_stat is
 * skipped). A non-empty mm_stat that does not parse is an error: the format
 * is stable and a change must not be summed as zeros.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "zram.h"

#define ZRAM_MM_STAT_MIN_FIELDS 7
#define ZRAM_MM_STAT_MAX_FIELDS 8 /* the ones ZramStats holds */

static int is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n';
}

int zram_mm_stat_parse(const char *buf, size_t len, ZramStats *ret)
{
        uint64_t v[ZRAM_MM_STAT_MAX_FIELDS] = {};
        const char *p, *end;
        size_t n = 0;

        if (!buf) {
                if (len > 0)
                        return -EINVAL;
                buf = "";
        }
        p = buf;
        end = buf + len;

        while (n < ZRAM_MM_STAT_MAX_FIELDS) {
                const char *tok;
                int r;

                while (p < end && is_space(*p))
                        p++;
                if (p >= end)
                        break;
                tok = p;
                while (p < end && !is_space(*p))
                        p++;
                r = safe_atou64_n(tok, (size_t)(p - tok), &v[n]);
                if (r < 0)
                        return -EBADMSG;
                n++;
        }
        /* Fields beyond huge_pages (huge_pages_since, ...) are ignored unread. */
        if (n < ZRAM_MM_STAT_MIN_FIELDS)
                return -EBADMSG;

        *ret = (ZramStats){
                .orig_data_size = v[0],
                .compr_data_size = v[1],
                .mem_used_total = v[2],
                .mem_limit = v[3],
                .mem_used_max = v[4],
                .same_pages = v[5],
                .pages_compacted = v[6],
                .huge_pages = n > 7 ? v[7] : 0,
        };
        return 0;
}

static int is_zram_name(const char *name)
{
        const char *p;

        if (strncmp(name, "zram", 4) != 0 || name[4] == 0)
                return 0;
        for (p = name + 4; *p; p++)
                if (*p < '0' || *p > '9')
                        return 0;
        return 1;
}

/* Add s to sum field by field; -ERANGE (sum untouched) if any field overflows. */
static int zram_stats_add(ZramStats *sum, const ZramStats *s)
{
        ZramStats t;

        if (__builtin_add_overflow(sum->orig_data_size, s->orig_data_size, &t.orig_data_size) ||
            __builtin_add_overflow(sum->compr_data_size, s->compr_data_size, &t.compr_data_size) ||
            __builtin_add_overflow(sum->mem_used_total, s->mem_used_total, &t.mem_used_total) ||
            __builtin_add_overflow(sum->mem_limit, s->mem_limit, &t.mem_limit) ||
            __builtin_add_overflow(sum->mem_used_max, s->mem_used_max, &t.mem_used_max) ||
            __builtin_add_overflow(sum->same_pages, s->same_pages, &t.same_pages) ||
            __builtin_add_overflow(sum->pages_compacted, s->pages_compacted, &t.pages_compacted) ||
            __builtin_add_overflow(sum->huge_pages, s->huge_pages, &t.huge_pages))
                return -ERANGE;
        *sum = t;
        return 0;
}

/* 1 if the device is known to be uninitialised, 0 if initialised or unknown. */
static int zram_uninitialised(int blockfd, const char *name)
{
        char path[64], buf[16];
        ssize_t n;

        snprintf(path, sizeof(path), "%s/initstate", name);
        n = read_file_at(blockfd, path, buf, sizeof(buf));
        if (n < 0)
                return 0;
        return (n == 1 || (n == 2 && buf[1] == '\n')) && buf[0] == '0';
}

/* Read one device: 1 if summed into *sum, 0 if skipped, -errno on error. */
static int zram_read_one(int blockfd, const char *name, ZramStats *sum)
{
        char path[64], buf[512];
        ZramStats s;
        ssize_t n;
        int r;

        snprintf(path, sizeof(path), "%s/mm_stat", name);
        n = read_file_at(blockfd, path, buf, sizeof(buf));
        if (n == -EFBIG)
                return -EBADMSG;
        if (n < 0) {
                /* Hot-removed between readdir() and here, or not readable. */
                log_debug_errno((int)n, "zram: cannot read %s, ignoring: %m", path);
                return 0;
        }
        if (n == 0) {
                log_debug("zram: %s is empty, ignoring", path);
                return 0;
        }

        r = zram_mm_stat_parse(buf, (size_t)n, &s);
        if (r < 0)
                return log_debug_errno(r, "zram: cannot parse %s: %m", path);
        r = zram_stats_add(sum, &s);
        if (r < 0)
                return r;
        return 1;
}

/*
 * Call cb for every zram<N> device under sysfd/block that is set up
 * (initstate not 0). A negative return from cb stops the walk and is
 * returned; otherwise returns 0.
 */
static int zram_foreach(int sysfd, int (*cb)(int blockfd, const char *name, void *userdata), void *userdata)
{
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int fd;

        fd = open_dir_at(sysfd, "block");
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                safe_close(fd);
                return r;
        }

        while ((errno = 0, de = readdir(d))) {
                int r;

                /* /sys/block entries are symlinks: do not filter on d_type. */
                if (!is_zram_name(de->d_name) || strlen(de->d_name) > 32)
                        continue;
                if (zram_uninitialised(dirfd(d), de->d_name)) {
                        log_debug("zram: %s is not set up, ignoring", de->d_name);
                        continue;
                }
                r = cb(dirfd(d), de->d_name, userdata);
                if (r < 0)
                        return r;
        }
        return errno != 0 ? -errno : 0;
}

typedef struct ReadAll {
        ZramStats sum;
        int count;
} ReadAll;

static int read_all_cb(int blockfd, const char *name, void *userdata)
{
        ReadAll *ra = userdata;
        int r = zram_read_one(blockfd, name, &ra->sum);

        if (r > 0)
                ra->count += r;
        return r < 0 ? r : 0;
}

int zram_read_all_at(int sysfd, ZramStats *ret)
{
        ReadAll ra = {};
        int r;

        r = zram_foreach(sysfd, read_all_cb, &ra);
        if (r < 0)
                return r;
        *ret = ra.sum;
        return ra.count;
}

typedef struct Compact {
        int count, first_error;
} Compact;

static int compact_cb(int blockfd, const char *name, void *userdata)
{
        Compact *c = userdata;
        char path[64];
        int r;

        /* initstate is known to be 1 or unreadable here; the write tells. */
        snprintf(path, sizeof(path), "%s/compact", name);
        r = write_string_file_at(blockfd, path, "1", 0);
        if (r < 0) {
                log_debug_errno(r, "zram: cannot compact %s: %m", name);
                if (c->first_error == 0)
                        c->first_error = r;
                return 0;
        }
        c->count++;
        return 0;
}

int zram_compact_all(int sysfd)
{
        Compact c = {};
        int r;

        r = zram_foreach(sysfd, compact_cb, &c);
        if (r < 0)
                return r;
        return c.count == 0 && c.first_error < 0 ? c.first_error : c.count;
}
