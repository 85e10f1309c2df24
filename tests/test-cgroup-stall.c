/* SPDX-License-Identifier: MIT */
/*
 * Finding where a memory stall comes from (cgroup-stall.c), on cgroup trees
 * written here with memory.pressure files.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-stall.h"
#include "macro.h"
#include "test.h"

static char root[] = "/tmp/test-cgroup-stall-XXXXXX";

static void pressure(const char *path, double some_avg10, uint64_t total)
{
        char file[600];
        FILE *f;

        snprintf(file, sizeof(file), "%s%s/memory.pressure", root, path);
        f = fopen(file, "we");
        ASSERT_TRUE(f);
        fprintf(f, "some avg10=%.2f avg60=0.00 avg300=0.00 total=%" PRIu64
                   "\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
                some_avg10, total);
        ASSERT_OK(fclose(f));
}

static void cg(const char *path, double some_avg10)
{
        char dir[512];

        snprintf(dir, sizeof(dir), "%s%s", root, path);
        ASSERT_OK(mkdir(dir, 0755));
        if (some_avg10 >= 0) /* else no memory.pressure (not a cgroup with PSI) */
                pressure(path, some_avg10, 1);
}

static void strv_done(char **l)
{
        for (char **p = l; p && *p; p++)
                free(*p);
        free(l);
}

static size_t strv_len(char **l)
{
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

static bool strv_has(char **l, const char *s)
{
        for (; l && *l; l++)
                if (strcmp(*l, s) == 0)
                        return true;
        return false;
}

int main(void)
{
        _cleanup_close_ int fd = -1;
        StallHistory h = {};
        char **found = NULL;
        bool exact = true;

        ASSERT_TRUE(mkdtemp(root));
        cg("/user.slice", 40);
        cg("/user.slice/app-big.scope", 1);        /* the machine's largest app: calm */
        cg("/user.slice/limited.slice", 39);
        cg("/user.slice/limited.slice/app-build.scope", 38);
        cg("/user.slice/limited.slice/app-build.scope/sub", 0);
        cg("/system.slice", 2);
        cg("/system.slice/thrash.service", 30);    /* below a calm parent: not descended */
        cg("/init.scope", -1);
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);

        /* Only along the stalling branch, down to where no child explains it. */
        ASSERT_OK(cg_stall_find_at(fd, "/", 0.20, NULL, 0, 16, &found, &exact));
        ASSERT_FALSE(exact); /* avg10 stood in for the rates */
        ASSERT_EQ_INT(strv_len(found), 1);
        ASSERT_STREQ(found[0], "/user.slice/limited.slice/app-build.scope");
        ASSERT_STREQ(cg_stall_match(found, "/user.slice/limited.slice/app-build.scope/sub"),
                     "/user.slice/limited.slice/app-build.scope");
        ASSERT_TRUE(!cg_stall_match(found, "/user.slice/app-big.scope"));
        ASSERT_TRUE(!cg_stall_match(found, "/user.slice/limited.slice/app-build.scopeX"));
        ASSERT_TRUE(!cg_stall_match(found, NULL));
        strv_done(found);

        /* Two stalling children: both. */
        ASSERT_OK(cg_stall_find_at(fd, "/", 0.02, NULL, 0, 16, &found, NULL));
        ASSERT_TRUE(strv_has(found, "/user.slice/app-big.scope"));
        ASSERT_TRUE(strv_has(found, "/user.slice/limited.slice/app-build.scope"));
        ASSERT_TRUE(strv_has(found, "/system.slice/thrash.service"));
        ASSERT_EQ_INT(strv_len(found), 3);
        strv_done(found);

        /* The cap on results holds. */
        ASSERT_OK(cg_stall_find_at(fd, "/", 0.02, NULL, 0, 1, &found, NULL));
        ASSERT_EQ_INT(strv_len(found), 1);
        strv_done(found);

        /* No child stalls enough: the root's own processes. */
        ASSERT_OK(cg_stall_find_at(fd, "/", 1.0, NULL, 0, 16, &found, NULL));
        ASSERT_EQ_INT(strv_len(found), 1);
        ASSERT_STREQ(found[0], "/");
        ASSERT_STREQ(cg_stall_match(found, "/anything"), "/");
        strv_done(found);

        /* Bad arguments change nothing. */
        found = NULL;
        ASSERT_ERR(cg_stall_find_at(-1, "/", 0.1, NULL, 0, 16, &found, NULL), -EINVAL);
        ASSERT_ERR(cg_stall_find_at(fd, "relative", 0.1, NULL, 0, 16, &found, NULL), -EINVAL);
        ASSERT_ERR(cg_stall_find_at(fd, "/", -1, NULL, 0, 16, &found, NULL), -EINVAL);
        ASSERT_TRUE(!found);

        /* Rates from totals, not avg10: the app whose avg10 is still high from an
         * earlier stall is calm now; the one that stalls now has a low avg10 yet. */
        pressure("/user.slice", 30, 1000000);
        pressure("/user.slice/app-big.scope", 60, 1000000);
        pressure("/user.slice/limited.slice", 2, 1000000);
        pressure("/user.slice/limited.slice/app-build.scope", 2, 1000000);
        ASSERT_OK(cg_stall_find_at(fd, "/", 0.40, &h, 10000000, 16, &found, &exact));
        ASSERT_FALSE(exact);
        ASSERT_STREQ(found[0], "/user.slice/app-big.scope"); /* what avg10 says the first time */
        strv_done(found);
        ASSERT_TRUE(h.n >= 4);
        /* 50 ms later: too short to measure (under 1 s), the first readings are kept. */
        ASSERT_OK(cg_stall_find_at(fd, "/", 0.40, &h, 10050000, 16, &found, &exact));
        strv_done(found);
        /* One second after the first reading: build stalled 500 ms of it, big 10 ms. */
        pressure("/user.slice", 30, 1500000);
        pressure("/user.slice/app-big.scope", 60, 1010000);
        pressure("/user.slice/limited.slice", 2, 1500000);
        pressure("/user.slice/limited.slice/app-build.scope", 2, 1500000);
        ASSERT_OK(cg_stall_find_at(fd, "/", 0.40, &h, 11000000, 16, &found, &exact));
        ASSERT_TRUE(exact); /* the first walk read the whole stalling subtree, "sub" included */
        ASSERT_EQ_INT(strv_len(found), 1);
        ASSERT_STREQ(found[0], "/user.slice/limited.slice/app-build.scope");
        strv_done(found);
        /* Another second: the same. */
        pressure("/user.slice", 30, 2000000);
        pressure("/user.slice/limited.slice", 2, 2000000);
        pressure("/user.slice/limited.slice/app-build.scope", 2, 2000000);
        ASSERT_OK(cg_stall_find_at(fd, "/", 0.40, &h, 12000000, 16, &found, &exact));
        ASSERT_TRUE(exact);
        ASSERT_EQ_INT(strv_len(found), 1);
        ASSERT_STREQ(found[0], "/user.slice/limited.slice/app-build.scope");
        strv_done(found);
        stall_history_done(&h);

        {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
                ASSERT_EQ_INT(system(cmd), 0);
        }
        return 0;
}
