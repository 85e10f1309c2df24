/* SPDX-License-Identifier: MIT */
/*
 * Resolving a TARGET argument to a PID.
 */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "target.h"

#define PID_MAX_LIMIT UINT64_C(4194304) /* the kernel's upper bound for /proc/sys/kernel/pid_max */

void candidates_free(Candidate *c, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(c[i].comm);
                free(c[i].exe);
                free(c[i].unit);
                free(c[i].app);
                free(c[i].reason);
        }
        free(c);
}

int target_parse_pid(const char *arg, uint32_t *ret)
{
        uint64_t v = 0;

        if (!arg || !*arg)
                return 0;
        for (const char *p = arg; *p; p++)
                if (*p < '0' || *p > '9')
                        return 0;
        for (const char *p = arg; *p; p++) {
                v = v * 10 + (uint64_t)(*p - '0');
                if (v > PID_MAX_LIMIT)
                        return -ERANGE;
        }
        if (v == 0)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 1;
}

bool candidate_same_app(const Candidate *a, const Candidate *b)
{
        bool a_unit = a->unit && *a->unit, b_unit = b->unit && *b->unit;
        bool a_app = a->app && *a->app, b_app = b->app && *b->app;

        if (a_unit || b_unit)
                return a_unit && b_unit && strcmp(a->unit, b->unit) == 0;
        if (a_app || b_app)
                return a_app && b_app && strcmp(a->app, b->app) == 0;
        return a->pid == b->pid;
}

static bool matches(const Candidate *c, const char *name)
{
        return (c->app && strcmp(c->app, name) == 0) || (c->unit && strcmp(c->unit, name) == 0) ||
               (c->comm && strcmp(c->comm, name) == 0);
}

int target_match(const Candidate *c, size_t n, const char *name, size_t *ret_index, size_t **ret_matches,
                 size_t *ret_n_matches)
{
        _cleanup_free_ size_t *list = NULL;
        size_t k = 0;
        bool one_app = true;

        if (!name || !*name)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!matches(&c[i], name))
                        continue;
                if (!list)
                        list = xmalloc0(n * sizeof(size_t));
                if (k > 0 && !candidate_same_app(&c[list[0]], &c[i]))
                        one_app = false;
                list[k++] = i;
        }
        if (k > 0 && one_app) {
                *ret_index = list[0];
                return 0;
        }
        *ret_matches = TAKE_PTR(list);
        *ret_n_matches = k;
        return k == 0 ? -ENOENT : -ENOTUNIQ;
}
