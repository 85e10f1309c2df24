/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2 helpers: mountinfo and /proc/PID/cgroup parsing on fixtures
 * captured here (hybrid layout) and written from proc(5), scope resolution,
 * and the same functions on this machine's real /proc and cgroupfs.
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "fileio.h"
#include "macro.h"
#include "test.h"

/* A pointer no function under test can return: outputs must stay untouched on failure. */
static char sentinel[] = "untouched";
#define SENTINEL sentinel

static char *read_fixture(const char *name, size_t *ret_size)
{
        char path[4096];
        char *buf;

        snprintf(path, sizeof(path), "%s/cgroup/%s", FIXTURES_DIR, name);
        ASSERT_OK(read_full_file_at(AT_FDCWD, path, 1 << 20, &buf, ret_size));
        return buf;
}

static void test_mount_fixtures(void)
{
        static const struct {
                const char *file;
                int ret;
                const char *path;
        } t[] = {
                {"mountinfo-hybrid", 0, "/sys/fs/cgroup/unified"},
                {"mountinfo-v2", 0, "/sys/fs/cgroup"},
                /* the first cgroup2 mount, escapes decoded */
                {"mountinfo-escape", 0, "/run/cgroup v2\nx"},
                {"mountinfo-v1only", -ENOENT, NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *buf = NULL, *path = NULL;
                char *out = SENTINEL;
                size_t size;
                int r;

                buf = read_fixture(t[i].file, &size);
                r = cg_v2_mount_parse(buf, size, &out);
                fprintf(stderr, "  %s -> %d\n", t[i].file, r);
                ASSERT_ERR(r, t[i].ret);
                if (r == 0) {
                        path = out;
                        ASSERT_STREQ(path, t[i].path);
                } else
                        ASSERT_TRUE(out == SENTINEL);
        }
}

static void test_mount_table(void)
{
        static const struct {
                const char *in;
                int ret;
                const char *path;
        } t[] = {
                {"", -ENOENT, NULL},
                {"\n\n", -ENOENT, NULL},
                {"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n", -ENOENT, NULL},
                {"1 2 0:1 / /a rw - cgroup2fs x rw\n", -ENOENT, NULL},
                /* minimal, no trailing newline, nothing after the type */
                {"1 2 0:1 / /cg rw - cgroup2", 0, "/cg"},
                {"1 2 0:1 / /cg rw shared:1 master:2 propagate_from:3 unbindable - cgroup2 cgroup2 rw\n", 0,
                 "/cg"},
                {"1 2 0:1 /sub /cg rw - cgroup2 none rw\n"
                 "1 2 0:1 / /other rw - cgroup2 none rw\n",
                 0, "/cg"},
                {"1 2 0:1 / /a\\134b\\011c rw - cgroup2 none rw\n", 0, "/a\\b\tc"},
                {"1 2 0:1 / /\\377 rw - cgroup2 none rw\n", 0, "/\377"},
                /* a "-" only counts as separator after the six fixed fields */
                {"1 2 0:1 / - rw - cgroup2 none rw\n", -EBADMSG, NULL},
                {"1 2 0:1 - /cg - cgroup2 none rw\n", -EBADMSG, NULL},
                /* hostile */
                {"30 21 0:26 / /sys/fs/cgr", -EBADMSG, NULL},                            /* truncated */
                {"30 21 0:26 / /sys/fs/cgroup rw cgroup2 cgroup2 rw\n", -EBADMSG, NULL}, /* no "-" */
                {"30 21 0:26 / /sys/fs/cgroup rw -\n", -EBADMSG, NULL},                  /* no type */
                {"30 21 0:26 / /sys/fs/cgroup rw - \n", -EBADMSG, NULL},
                {"1 2 0:1 / /a\\04 rw - cgroup2 none rw\n", -EBADMSG, NULL}, /* short escape */
                {"1 2 0:1 / /a\\4 rw - cgroup2 none rw\n", -EBADMSG, NULL},
                {"1 2 0:1 / /a\\ rw - cgroup2 none rw\n", -EBADMSG, NULL},
                {"1 2 0:1 / /a\\999 rw - cgroup2 none rw\n", -EBADMSG, NULL},
                {"1 2 0:1 / /a\\400 rw - cgroup2 none rw\n", -EBADMSG, NULL}, /* > 255 */
                {"1 2 0:1 / /a\\000 rw - cgroup2 none rw\n", -EBADMSG, NULL}, /* NUL */
                {"1 2 0:1 / \\040cg rw - cgroup2 none rw\n", -EBADMSG, NULL}, /* not absolute */
                {"1 2 0:1 / cg rw - cgroup2 none rw\n", -EBADMSG, NULL},
                /* escapes elsewhere are not decoded, so not checked */
                {"1 2 0:1 / /x\\9 rw - tmpfs none rw\n1 2 0:1 / /cg rw - cgroup2 none rw\n", 0, "/cg"},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *path = NULL;
                char *out = SENTINEL;
                int r = cg_v2_mount_parse(t[i].in, strlen(t[i].in), &out);

                fprintf(stderr, "  case %zu -> %d\n", i, r);
                ASSERT_ERR(r, t[i].ret);
                if (r == 0) {
                        path = out;
                        ASSERT_STREQ(path, t[i].path);
                } else
                        ASSERT_TRUE(out == SENTINEL);
        }
}

static void test_mount_not_nul_terminated(void)
{
        const char buf[] = "1 2 0:1 / /cg rw - cgroup2 none rw\n"
                           "1 2 0:1 / /late rw - cgroup2 none rw\n";
        size_t first = strlen("1 2 0:1 / /cg rw - cgroup2 none rw\n");
        _cleanup_free_ char *p = NULL;
        char *out = SENTINEL;

        ASSERT_OK(cg_v2_mount_parse(buf, sizeof(buf) - 1, &p));
        ASSERT_STREQ(p, "/cg");
        free(p);
        p = NULL;
        /* The second line alone, cut right after its type. */
        ASSERT_OK(cg_v2_mount_parse(buf + first, strlen("1 2 0:1 / /late rw - cgroup2"), &p));
        ASSERT_STREQ(p, "/late");
        /* Cut inside the mount point: "/c" and no separator. */
        ASSERT_ERR(cg_v2_mount_parse(buf, strlen("1 2 0:1 / /c"), &out), -EBADMSG);
        ASSERT_ERR(cg_v2_mount_parse(NULL, 0, &out), -ENOENT);
        ASSERT_TRUE(out == SENTINEL);
}

static void test_mount_find_at(void)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *p = NULL;
        char path[4096];

        snprintf(path, sizeof(path), "%s/cgroup/proc-hybrid", FIXTURES_DIR);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(cg_v2_mount_find_at(fd, &p));
        ASSERT_STREQ(p, "/sys/fs/cgroup/unified");

        snprintf(path, sizeof(path), "%s/cgroup", FIXTURES_DIR);
        safe_close(fd);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_ERR(cg_v2_mount_find_at(fd, &p), -ENOENT); /* no self/mountinfo */
}

static void test_path_fixtures(void)
{
        static const struct {
                const char *file;
                int ret;
                const char *path;
        } t[] = {
                {"cgroup-hybrid", 0, "/"},
                {"cgroup-v2", 0,
                 "/user.slice/user-1000.slice/user@1000.service/app.slice/"
                 "app-gnome-org.gnome.Console-4312.scope"},
                {"cgroup-v1only", -ENOENT, NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *buf = NULL, *path = NULL;
                char *out = SENTINEL;
                size_t size;
                int r;

                buf = read_fixture(t[i].file, &size);
                r = cg_v2_path_parse(buf, size, &out);
                fprintf(stderr, "  %s -> %d\n", t[i].file, r);
                ASSERT_ERR(r, t[i].ret);
                if (r == 0) {
                        path = out;
                        ASSERT_STREQ(path, t[i].path);
                } else
                        ASSERT_TRUE(out == SENTINEL);
        }
}

static void test_path_table(void)
{
        static const struct {
                const char *in;
                int ret;
                const char *path;
        } t[] = {
                {"0::/a.scope\n", 0, "/a.scope"},
                {"0::/a.scope", 0, "/a.scope"},
                {"\n\n12:name=systemd:/x\n0::/a\n\n", 0, "/a"},
                {"0::/with:colon/and space\n", 0, "/with:colon/and space"},
                {"0::/a/..b/b..\n", 0, "/a/..b/b.."},
                {"0::/...\n", 0, "/..."},
                {"", -ENOENT, NULL},
                {"4:memory:/x\n1:cpu:/\n", -ENOENT, NULL},
                /* hostile */
                {"0::", -EBADMSG, NULL},
                {"0::\n", -EBADMSG, NULL},
                {"0::relative\n", -EBADMSG, NULL},
                {"0::/a\n0::/b\n", -EBADMSG, NULL},
                {"0:memory:/x\n", -EBADMSG, NULL},
                {"x:memory:/\n0::/\n", -EBADMSG, NULL},
                {":memory:/\n", -EBADMSG, NULL},
                {"4:memory\n0::/\n", -EBADMSG, NULL},
                {"-1::/\n", -EBADMSG, NULL},
                {"garbage\n", -EBADMSG, NULL},
                /* outside our cgroup namespace */
                {"0::/../../system.slice/foo.service\n", -EXDEV, NULL},
                {"0::/a/../b\n", -EXDEV, NULL},
                {"0::/a/..\n", -EXDEV, NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *path = NULL;
                char *out = SENTINEL;
                int r = cg_v2_path_parse(t[i].in, strlen(t[i].in), &out);

                fprintf(stderr, "  case %zu -> %d\n", i, r);
                ASSERT_ERR(r, t[i].ret);
                if (r == 0) {
                        path = out;
                        ASSERT_STREQ(path, t[i].path);
                } else
                        ASSERT_TRUE(out == SENTINEL);
        }
}

static void test_path_not_nul_terminated(void)
{
        const char buf[] = "0::/foo/bar"
                           "/baz\0/../x";
        _cleanup_free_ char *p = NULL;
        char *out = SENTINEL;

        ASSERT_OK(cg_v2_path_parse(buf, strlen("0::/foo/bar"), &p));
        ASSERT_STREQ(p, "/foo/bar");
        /* A NUL inside the path is malformed. */
        ASSERT_ERR(cg_v2_path_parse(buf, sizeof(buf) - 1, &out), -EBADMSG);
        ASSERT_ERR(cg_v2_path_parse(buf, 3, &out), -EBADMSG);
        ASSERT_TRUE(out == SENTINEL);
}

static void test_resolve_scope(void)
{
        static const struct {
                const char *mount, *arg;
                int ret;
                const char *path;
        } t[] = {
                {"/sys/fs/cgroup", "user.slice", 0, "/sys/fs/cgroup/user.slice"},
                {"/sys/fs/cgroup", "./user.slice/", 0, "/sys/fs/cgroup/user.slice"},
                {"/sys/fs/cgroup", "a//b/./c/", 0, "/sys/fs/cgroup/a/b/c"},
                {"/sys/fs/cgroup", "a/..b", 0, "/sys/fs/cgroup/a/..b"},
                {"/sys/fs/cgroup", ".", 0, "/sys/fs/cgroup"},
                {"/sys/fs/cgroup", "/sys/fs/cgroup", 0, "/sys/fs/cgroup"},
                {"/sys/fs/cgroup", "/sys/fs/cgroup/user.slice/", 0, "/sys/fs/cgroup/user.slice"},
                {"/sys/fs/cgroup", "//sys//fs/./cgroup/x.scope", 0, "/sys/fs/cgroup/x.scope"},
                {"/sys/fs/cgroup/unified/", "app.slice", 0, "/sys/fs/cgroup/unified/app.slice"},
                {"/run/cgroup v2", "a b", 0, "/run/cgroup v2/a b"},
                /* cgroup2 mounted at / (some containers) */
                {"/", "/", 0, "/"},
                {"/", "foo", 0, "/foo"},
                {"/", "/foo/", 0, "/foo"},
                {"/", ".", 0, "/"},
                /* not inside the mount: a cgroup path, relative to the mount's root */
                {"/sys/fs/cgroup", "/user.slice/app.scope", 0, "/sys/fs/cgroup/user.slice/app.scope"},
                {"/sys/fs/cgroup", "/sys/fs/cgroupfoo/x", 0, "/sys/fs/cgroup/sys/fs/cgroupfoo/x"},
                {"/sys/fs/cgroup", "/sys/fs", 0, "/sys/fs/cgroup/sys/fs"},
                {"/sys/fs/cgroup", "/", 0, "/sys/fs/cgroup"},
                {"/sys/fs/cgroup/unified", "/memguard-test", 0, "/sys/fs/cgroup/unified/memguard-test"},
                {"/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory/x", 0,
                 "/sys/fs/cgroup/unified/sys/fs/cgroup/memory/x"},
                /* refused */
                {"/sys/fs/cgroup", "", -EINVAL, NULL},
                {"/sys/fs/cgroup", "..", -EINVAL, NULL},
                {"/sys/fs/cgroup", "../x", -EINVAL, NULL},
                {"/sys/fs/cgroup", "a/../b", -EINVAL, NULL},
                {"/sys/fs/cgroup", "a/..", -EINVAL, NULL},
                {"/sys/fs/cgroup", "/sys/fs/cgroup/../cgroup/x", -EINVAL, NULL},
                {"/sys/fs/cgroup", "/sys/fs/cgroup/a/../../../etc", -EINVAL, NULL},
                {"sys/fs/cgroup", "x", -EINVAL, NULL},
                {"", "x", -EINVAL, NULL},
                {NULL, "x", -EINVAL, NULL},
                {"/sys/fs/cgroup", NULL, -EINVAL, NULL},
                {"/sys/fs/../cgroup", "x", -EINVAL, NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *path = NULL;
                char *out = SENTINEL;
                int r = cg_resolve_scope(t[i].mount, t[i].arg, &out);

                fprintf(stderr, "  %s + %s -> %d\n", strna(t[i].mount), strna(t[i].arg), r);
                ASSERT_ERR(r, t[i].ret);
                if (r == 0) {
                        path = out;
                        ASSERT_STREQ(path, t[i].path);
                } else
                        ASSERT_TRUE(out == SENTINEL);
        }
}

/* The real thing: this machine's mountinfo, own cgroup and cgroupfs. */
static void test_real(void)
{
        _cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *mnt = NULL, *buf = NULL, *cg = NULL, *abs_path = NULL;
        char procs[4096];
        struct statfs sfs;
        struct stat st;
        size_t size;
        int r;

        ASSERT_TRUE(procfd >= 0);
        r = cg_v2_mount_find_at(procfd, &mnt);
        if (r == -ENOENT)
                test_skip("no cgroup2 mounted");
        ASSERT_OK(r);
        fprintf(stderr, "  cgroup2 mount: %s\n", mnt);
        ASSERT_TRUE(statfs(mnt, &sfs) == 0);
        ASSERT_TRUE(sfs.f_type == CGROUP2_SUPER_MAGIC);

        ASSERT_OK(read_full_file_at(procfd, "self/cgroup", 1 << 16, &buf, &size));
        ASSERT_OK(cg_v2_path_parse(buf, size, &cg));
        fprintf(stderr, "  own v2 cgroup: %s\n", cg);

        /* Our own cgroup, given as an absolute --scope, must exist on the mount. */
        snprintf(procs, sizeof(procs), "%s%s", mnt, cg);
        ASSERT_OK(cg_resolve_scope(mnt, procs, &abs_path));
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", abs_path);
        ASSERT_TRUE(stat(procs, &st) == 0);
}

int main(void)
{
        RUN(test_mount_fixtures);
        RUN(test_mount_table);
        RUN(test_mount_not_nul_terminated);
        RUN(test_mount_find_at);
        RUN(test_path_fixtures);
        RUN(test_path_table);
        RUN(test_path_not_nul_terminated);
        RUN(test_resolve_scope);
        RUN(test_real);
        return 0;
}
