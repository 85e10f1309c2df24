/* SPDX-License-Identifier: MIT */
/*
 * Finding where a memory stall comes from (cgroup-stall.c), on cgroup trees
 * written here with memory.pressure files.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-stall.h"
#include "macro.h"
#include "test.h"

static char root[] = "/tmp/test-cgroup-stall-XXXXXX";

static void cg(const char *path, double some_avg10)
{
        char dir[512], file[600];
        FILE *f;

        snprintf(dir, sizeof(dir), "%s%s", root, path);
        ASSERT_OK(mkdir(dir, 0755));
        if (some_avg10 < 0)
                return; /* no memory.pressure (not a cgroup with PSI) */
        snprintf(file, sizeof(file), "%s/memory.pressure", dir);
        f = fopen(file, "we");
        ASSERT_TRUE(f);
        fprintf(f, "some avg10=%.2f avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
                some_avg10);
        ASSERT_OK(fclose(f));
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
        char **found = NULL;

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
        ASSERT_OK(cg_stall_find_at(fd, "/", 10.0, 16, &found));
        ASSERT_EQ_INT(strv_len(found), 1);
        ASSERT_STREQ(found[0], "/user.slice/limited.slice/app-build.scope");
        ASSERT_STREQ(cg_stall_match(found, "/user.slice/limited.slice/app-build.scope/sub"),
                     "/user.slice/limited.slice/app-build.scope");
        ASSERT_TRUE(!cg_stall_match(found, "/user.slice/app-big.scope"));
        ASSERT_TRUE(!cg_stall_match(found, "/user.slice/limited.slice/app-build.scopeX"));
        ASSERT_TRUE(!cg_stall_match(found, NULL));
        strv_done(found);

        /* Two stalling children: both. */
        ASSERT_OK(cg_stall_find_at(fd, "/", 1.0, 16, &found));
        ASSERT_TRUE(strv_has(found, "/user.slice/app-big.scope"));
        ASSERT_TRUE(strv_has(found, "/user.slice/limited.slice/app-build.scope"));
        ASSERT_TRUE(strv_has(found, "/system.slice/thrash.service"));
        ASSERT_EQ_INT(strv_len(found), 3);
        strv_done(found);

        /* The cap on results holds. */
        ASSERT_OK(cg_stall_find_at(fd, "/", 1.0, 1, &found));
        ASSERT_EQ_INT(strv_len(found), 1);
        strv_done(found);

        /* No child stalls enough: the root's own processes. */
        ASSERT_OK(cg_stall_find_at(fd, "/", 90.0, 16, &found));
        ASSERT_EQ_INT(strv_len(found), 1);
        ASSERT_STREQ(found[0], "/");
        ASSERT_STREQ(cg_stall_match(found, "/anything"), "/");
        strv_done(found);

        /* Bad arguments change nothing. */
        found = NULL;
        ASSERT_ERR(cg_stall_find_at(-1, "/", 1.0, 16, &found), -EINVAL);
        ASSERT_ERR(cg_stall_find_at(fd, "relative", 1.0, 16, &found), -EINVAL);
        ASSERT_TRUE(!found);

        {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
                ASSERT_EQ_INT(system(cmd), 0);
        }
        return 0;
}
