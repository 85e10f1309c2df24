/* SPDX-License-Identifier: MIT */
/*
 * Paths by a 64-bit id, for snapshot refreshes (proc-refresh.c): a machine
 * runs thousands of processes in a few hundred cgroups and from a few
 * hundred executables, so a new process whose cgroup id is known needs no
 * /proc/PID/cgroup read (and its unit and app id no parsing), and one whose
 * exe file is known no /proc/PID/exe read. Two caches of this kind per table.
 *
 * Cgroups, by cgroup id:
 * A path goes in only after a check that it names the cgroup with that id
 * now: fstatat() on the cgroup2 mount, whose directories' inode numbers are
 * the cgroup ids (on 64-bit kernels, which never reuse an id). A process
 * that moved between the snapshot and the /proc read therefore never files
 * its new cgroup's path under the old id. What the cache cannot see is a
 * cgroup renamed in place (cgroup v2 allows it within the same parent;
 * systemd never does it): the old path stays until the cgroup is gone from
 * the snapshots, as it does for the entries that keep their path already.
 *
 * Executables, by the snapshot's exe_key (bpf/proc-iter.h: which dentry on
 * which mount, its parent and name, whether it is unlinked, and the inode):
 * a path goes in only if, after readlink(/proc/PID/exe), a stat() of the
 * same link found the key's inode number and device (proc-read.c). A process that exec'd
 * between the snapshot and the readlink therefore never files its new exe
 * under the old key. What the key cannot see is a rename of a directory
 * above the file: the path read before the rename stays until no process
 * runs that file.
 *
 * Sorted array, binary search; entries not seen since the last sweep are
 * dropped by the sweep at the end of each refresh.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "proc-internal.h"

typedef struct CacheEntry {
        uint64_t id;
        char *path, *unit, *app_id;
        bool seen;
} CacheEntry;

struct ProcIdCache {
        CacheEntry *e;
        size_t n, allocated;
};

static void entry_free(CacheEntry *c)
{
        free(c->path);
        free(c->unit);
        free(c->app_id);
}

ProcIdCache *proc_id_cache_free(ProcIdCache *c)
{
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n; i++)
                entry_free(&c->e[i]);
        free(c->e);
        free(c);
        return NULL;
}

/* Index of id, or where it would go. */
static size_t lower_bound(const ProcIdCache *c, uint64_t id)
{
        size_t lo = 0, hi = c->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (c->e[mid].id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static CacheEntry *find(ProcIdCache *c, uint64_t id)
{
        size_t i;

        if (!c)
                return NULL;
        i = lower_bound(c, id);
        return i < c->n && c->e[i].id == id ? &c->e[i] : NULL;
}

bool proc_id_cache_mark(ProcIdCache *c, uint64_t id)
{
        CacheEntry *x = find(c, id);

        if (!x)
                return false;
        x->seen = true;
        return true;
}

const char *proc_id_cache_path(ProcIdCache *c, uint64_t id)
{
        CacheEntry *x = find(c, id);

        if (!x)
                return NULL;
        x->seen = true;
        return x->path;
}

bool proc_cgroup_cache_get(ProcIdCache *c, uint64_t id, ProcEntry *e)
{
        CacheEntry *x = find(c, id);

        if (!x)
                return false;
        x->seen = true;
        e->cgroup = xstrdup(x->path);
        e->unit = x->unit ? xstrdup(x->unit) : NULL;
        e->app_id = x->app_id ? xstrdup(x->app_id) : NULL;
        return true;
}

/* Does path (as /proc/PID/cgroup shows it) name the cgroup with this id on the mount cgroup_fd? */
static bool path_has_id(int cgroup_fd, const char *path, uint64_t id)
{
        struct stat st;

        while (*path == '/')
                path++;
        if (fstatat(cgroup_fd, *path ? path : ".", &st, AT_SYMLINK_NOFOLLOW) < 0)
                return false; /* gone, or " (deleted)" */
        return S_ISDIR(st.st_mode) && (uint64_t)st.st_ino == id;
}

/* Add an entry for id (not cached yet); the strings are copied. */
static void insert(ProcIdCache **cp, uint64_t id, const char *path, const char *unit, const char *app_id)
{
        ProcIdCache *c = *cp;
        size_t i;

        if (!c) {
                c = *cp = calloc(1, sizeof(*c));
                if (!c)
                        abort();
        }
        i = lower_bound(c, id);
        if (c->n == c->allocated) {
                size_t na = MAX(c->allocated * 2, (size_t)64);
                CacheEntry *ne = reallocarray(c->e, na, sizeof(CacheEntry));
                if (!ne)
                        abort();
                c->e = ne;
                c->allocated = na;
        }
        memmove(&c->e[i + 1], &c->e[i], (c->n - i) * sizeof(CacheEntry));
        c->e[i] = (CacheEntry){
                .id = id,
                .path = xstrdup(path),
                .unit = unit ? xstrdup(unit) : NULL,
                .app_id = app_id ? xstrdup(app_id) : NULL,
                .seen = true,
        };
        c->n++;
}

void proc_cgroup_cache_put(ProcIdCache **cp, int cgroup_fd, uint64_t id, const ProcEntry *e)
{
        if (cgroup_fd <= 0 || id == 0 || !e->cgroup || proc_id_cache_mark(*cp, id))
                return;
        if (!path_has_id(cgroup_fd, e->cgroup, id))
                return;
        insert(cp, id, e->cgroup, e->unit, e->app_id);
}

void proc_exe_cache_put(ProcIdCache **cp, uint64_t key, const char *exe)
{
        if (key == 0 || !exe || proc_id_cache_mark(*cp, key))
                return;
        insert(cp, key, exe, NULL, NULL);
}

void proc_id_cache_sweep(ProcIdCache *c)
{
        size_t k = 0;

        if (!c)
                return;
        for (size_t i = 0; i < c->n; i++) {
                if (!c->e[i].seen) {
                        entry_free(&c->e[i]);
                        continue;
                }
                c->e[i].seen = false;
                c->e[k++] = c->e[i];
        }
        c->n = k;
}

size_t proc_id_cache_size(const ProcIdCache *c)
{
        return c ? c->n : 0;
}
