/* SPDX-License-Identifier: MIT */
/*
 * Finding the cgroups a memory stall comes from (see cgroup-stall.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-stall.h"
#include "macro.h"
#include "psi.h"

#define STALL_MAX_DEPTH 32

typedef struct Found {
        char **paths;
        size_t n, max;
} Found;

static void found_add(Found *f, const char *path)
{
        char **np;

        if (f->n >= f->max)
                return;
        np = reallocarray(f->paths, f->n + 2, sizeof(char *));
        if (!np)
                abort();
        f->paths = np;
        f->paths[f->n++] = xstrdup(path);
        f->paths[f->n] = NULL;
}

static char *path_join(const char *parent, const char *name)
{
        char *p;

        if (asprintf(&p, "%s%s%s", parent, strcmp(parent, "/") == 0 ? "" : "/", name) < 0)
                abort();
        return p;
}

/* Descend into cgfd (the cgroup at `path`, known to stall): 0, or -errno if it cannot be listed. */
static int descend(int cgfd, const char *path, double threshold, unsigned depth, Found *f)
{
        _cleanup_close_ int fd = -1;
        bool child_stalls = false;
        struct dirent *de;
        DIR *d;

        fd = openat(cgfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -1; /* owned by d */

        while (depth < STALL_MAX_DEPTH && f->n < f->max && (de = readdir(d))) {
                _cleanup_close_ int child = -1;
                _cleanup_free_ char *cpath = NULL;
                PsiStats st;

                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                child = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (child < 0)
                        continue; /* removed meanwhile */
                if (psi_read_at(child, "memory.pressure", &st) < 0 || !st.some.present ||
                    st.some.avg10 < threshold)
                        continue;
                child_stalls = true;
                cpath = path_join(path, de->d_name);
                (void)descend(child, cpath, threshold, depth + 1, f);
        }
        closedir(d);
        /* No child explains it: the stall is in this cgroup's own processes
         * (for the root: in processes directly in it, or spread thin). */
        if (!child_stalls)
                found_add(f, path);
        return 0;
}

int cg_stall_find_at(int rootfd, const char *root, double threshold, size_t max, char ***ret)
{
        Found f = { .max = max };
        int r;

        if (rootfd < 0 || !root || root[0] != '/' || !ret || !(threshold >= 0))
                return -EINVAL;
        r = descend(rootfd, root, threshold, 0, &f);
        if (r < 0) {
                for (size_t i = 0; i < f.n; i++)
                        free(f.paths[i]);
                free(f.paths);
                return r;
        }
        if (!f.paths) {
                f.paths = calloc(1, sizeof(char *));
                if (!f.paths)
                        abort();
        }
        *ret = f.paths;
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
