/* SPDX-License-Identifier: MIT */
/*
 * Finding the cgroups a memory stall comes from (see cgroup-stall.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-stall.h"
#include "macro.h"
#include "psi.h"

#define STALL_MAX_DEPTH 32
#define STALL_HISTORY_MAX 1024
#define STALL_MIN_INTERVAL_USEC 1000000 /* like the daemon's own rate window: shorter ones are noise */

typedef struct Walk {
        char **paths;
        size_t n, max;
        double threshold;
        const StallHistory *old;
        StallHistory next;
        uint64_t now;
        bool exact;
} Walk;

void stall_history_done(StallHistory *h)
{
        if (!h)
                return;
        for (size_t i = 0; i < h->n; i++)
                free(h->points[i].path);
        free(h->points);
        *h = (StallHistory){};
}

void cg_stall_list_free(char **list)
{
        for (char **p = list; p && *p; p++)
                free(*p);
        free(list);
}

static void found_add(Walk *w, const char *path)
{
        char **np;

        if (w->n >= w->max)
                return;
        np = reallocarray(w->paths, w->n + 2, sizeof(char *));
        if (!np)
                abort();
        w->paths = np;
        w->paths[w->n++] = xstrdup(path);
        w->paths[w->n] = NULL;
}

static char *path_join(const char *parent, const char *name)
{
        char *p;

        if (asprintf(&p, "%s%s%s", parent, strcmp(parent, "/") == 0 ? "" : "/", name) < 0)
                abort();
        return p;
}

/* The stall rate of cgroup `path` (fraction 0..1) from its totals, or avg10 the first time. */
static double stall_rate(Walk *w, const char *path, const PsiLine *some, bool *ret_exact)
{
        const StallPoint *prev = NULL;
        double rate;

        if (w->old)
                for (size_t i = 0; i < w->old->n; i++)
                        if (strcmp(w->old->points[i].path, path) == 0) {
                                prev = &w->old->points[i];
                                break;
                        }
        if (w->next.n < STALL_HISTORY_MAX) {
                StallPoint *np = reallocarray(w->next.points, w->next.n + 1, sizeof(StallPoint));
                if (!np)
                        abort();
                w->next.points = np;
                /* Keep the older reading while the interval is still too short to measure. */
                w->next.points[w->next.n++] = prev && w->now - prev->when_usec < STALL_MIN_INTERVAL_USEC ?
                                                      (StallPoint){ xstrdup(path), prev->total_usec, prev->when_usec } :
                                                      (StallPoint){ xstrdup(path), some->total, w->now };
        }
        if (prev && w->now > prev->when_usec && w->now - prev->when_usec >= STALL_MIN_INTERVAL_USEC &&
            some->total >= prev->total_usec) {
                rate = (double)(some->total - prev->total_usec) / (double)(w->now - prev->when_usec);
                *ret_exact = true;
                return rate > 1.0 ? 1.0 : rate;
        }
        *ret_exact = false;
        return some->avg10 / 100.0;
}

/*
 * Descend into cgfd (the cgroup at `path`). With `collect`, it is known to
 * stall and where the stall is gets collected; without, only the totals of
 * its subtree are read, so that the next walk has rates there (a cgroup that
 * stalls at all may soon stall enough; one that does not stall at all has no
 * stalling descendant, since a stall counts in every ancestor).
 * 0, or -errno if it cannot be listed.
 */
static int descend(int cgfd, const char *path, unsigned depth, bool collect, Walk *w)
{
        _cleanup_close_ int fd = -1;
        bool child_stalls = false, inexact = false;
        struct dirent *de;
        DIR *d;

        fd = openat(cgfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -1; /* owned by d */

        while (depth < STALL_MAX_DEPTH && w->n < w->max && (de = readdir(d))) {
                _cleanup_close_ int child = -1;
                _cleanup_free_ char *cpath = NULL;
                PsiStats st;
                bool exact, stalls;
                double rate;

                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                child = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (child < 0)
                        continue; /* removed meanwhile */
                if (psi_read_at(child, "memory.pressure", &st) < 0 || !st.some.present)
                        continue;
                cpath = path_join(path, de->d_name);
                rate = stall_rate(w, cpath, &st.some, &exact);
                stalls = collect && rate >= w->threshold;
                if (stalls) {
                        child_stalls = true;
                        if (!exact)
                                w->exact = false;
                } else if (collect && !exact && st.some.total > 0)
                        inexact = true; /* seen for the first time: it may stall more than avg10 says */
                if (stalls || rate > 0 || (!exact && st.some.total > 0))
                        (void)descend(child, cpath, depth + 1, stalls, w);
        }
        closedir(d);
        /* No child explains it: the stall is in this cgroup's own processes
         * (for the root: in processes directly in it, or spread thin). */
        if (collect && !child_stalls) {
                if (inexact)
                        w->exact = false;
                found_add(w, path);
        }
        return 0;
}

int cg_stall_find_at(int rootfd, const char *root, double root_rate, StallHistory *history, uint64_t now_usec,
                     size_t max, char ***ret, bool *ret_exact)
{
        Walk w = { .max = max, .old = history, .now = now_usec, .exact = true };
        int r;

        if (rootfd < 0 || !root || root[0] != '/' || !ret || !(root_rate >= 0))
                return -EINVAL;
        w.threshold = root_rate / 2 > 0.01 ? root_rate / 2 : 0.01;
        r = descend(rootfd, root, 0, true, &w);
        if (r < 0) {
                cg_stall_list_free(w.paths);
                stall_history_done(&w.next);
                return r;
        }
        if (!w.paths) {
                w.paths = calloc(1, sizeof(char *));
                if (!w.paths)
                        abort();
        }
        if (history) {
                stall_history_done(history);
                *history = w.next;
        } else
                stall_history_done(&w.next);
        *ret = w.paths;
        if (ret_exact)
                *ret_exact = w.exact;
        return 0;
}

const char *cg_stall_match(char *const *list, const char *path)
{
        size_t len;

        if (!list || !path)
                return NULL;
        len = strlen(path);
        for (; *list; list++) {
                size_t k = strlen(*list);

                while (k > 1 && (*list)[k - 1] == '/')
                        k--;
                if (k == 1 && (*list)[0] == '/')
                        return *list;
                if (k <= len && memcmp(path, *list, k) == 0 && (k == len || path[k] == '/'))
                        return *list;
        }
        return NULL;
}
