/* SPDX-License-Identifier: MIT */
/*
 * cgroup controls, reclaim, zram compaction and the page-cache drop.
 *
 * The file writes are checked on temporary trees of plain files (what was
 * written is what the file holds afterwards). The real cgroupfs is used for
 * what it can show here: on a hybrid host the unified mount has no
 * controllers, so cpu/memory must be reported unavailable and nothing
 * written; on a pure v2 host with cpu and memory enabled at the root, the
 * real writes and their restoration are checked. zram is compacted for real
 * only if a device is already set up (this test never sets one up), and the
 * real drop_caches is never written.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-ctl.h"
#include "zram.h"
#include "cgroup-util.h"
#include "fileio.h"
#include "macro.h"
#include "test.h"

static void put(int dirfd, const char *path, const char *content)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ_INT(write(fd, content, strlen(content)), (ssize_t)strlen(content));
}

static void assert_file(int dirfd, const char *path, const char *want)
{
        char buf[256];

        ASSERT_OK(read_file_at(dirfd, path, buf, sizeof(buf)));
        ASSERT_STREQ(buf, want);
}

/* A fresh temporary directory; its path is written to `path`. */
static int tmp_tree(char path[static 64])
{
        int fd;

        snprintf(path, 64, "/tmp/memguard-cgctl-XXXXXX");
        ASSERT_TRUE(mkdtemp(path) != NULL);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        return fd;
}

static void rm_tree(const char *path)
{
        char cmd[128];

        ASSERT_TRUE(strncmp(path, "/tmp/memguard-cgctl-", 20) == 0);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
        ASSERT_EQ_INT(system(cmd), 0);
}

/* A fake v2 cgroup directory with every file these functions use. */
static int fake_cgroup(char path[static 64])
{
        int fd = tmp_tree(path);

        put(fd, "cgroup.procs", "");
        put(fd, "cpu.weight", "100\n");
        put(fd, "cpu.max", "max 100000\n");
        put(fd, "memory.high", "max\n");
        put(fd, "memory.reclaim", "");
        put(fd, "memory.current", "1048576\n");
        return fd;
}

static const CgctlSaved untouched = { .cpu_weight = "sentinel", .cpu_max = "sentinel", .memory_high = "x" };

static void test_fake_available(void)
{
        char path[64];
        _cleanup_close_ int fd = fake_cgroup(path);

        ASSERT_EQ_INT(cgctl_available(fd, "cpu"), 1);
        ASSERT_EQ_INT(cgctl_available(fd, "memory"), 1);
        ASSERT_EQ_INT(cgctl_available(fd, "reclaim"), 1);
        ASSERT_ERR(cgctl_available(fd, "io"), -EINVAL);
        ASSERT_ERR(cgctl_available(fd, NULL), -EINVAL);

        ASSERT_OK(unlinkat(fd, "cpu.max", 0)); /* cpu needs both files */
        ASSERT_EQ_INT(cgctl_available(fd, "cpu"), 0);
        ASSERT_OK(unlinkat(fd, "memory.reclaim", 0));
        ASSERT_EQ_INT(cgctl_available(fd, "reclaim"), 0);
        ASSERT_EQ_INT(cgctl_available(fd, "memory"), 1);

        ASSERT_OK(unlinkat(fd, "cgroup.procs", 0)); /* not a cgroup (any more) */
        ASSERT_ERR(cgctl_available(fd, "memory"), -ENOENT);
        rm_tree(path);
}

static void test_fake_throttle(void)
{
        char path[64];
        _cleanup_close_ int fd = fake_cgroup(path);
        CgctlSaved saved = {};

        ASSERT_ERR(cgctl_throttle(fd, 0, 20, &saved), -EINVAL);
        ASSERT_ERR(cgctl_throttle(fd, 10001, 20, &saved), -EINVAL);
        ASSERT_ERR(cgctl_throttle(fd, 50, 100001, &saved), -EINVAL);
        ASSERT_ERR(cgctl_throttle(fd, 50, 20, NULL), -EINVAL);
        assert_file(fd, "cpu.weight", "100\n");

        ASSERT_OK(cgctl_throttle(fd, 50, 20, &saved));
        assert_file(fd, "cpu.weight", "50");
        assert_file(fd, "cpu.max", "20000 100000");
        ASSERT_TRUE(saved.cpu_saved && !saved.memory_saved);
        ASSERT_STREQ(saved.cpu_weight, "100");
        ASSERT_STREQ(saved.cpu_max, "max 100000");

        /* Throttled harder: the originals stay saved. The quota has a 1 ms floor. */
        ASSERT_OK(cgctl_throttle(fd, 10, 1, &saved));
        assert_file(fd, "cpu.weight", "10");
        assert_file(fd, "cpu.max", "1000 100000");
        ASSERT_STREQ(saved.cpu_weight, "100");
        put(fd, "cpu.max", "5000 10000\n");
        ASSERT_OK(cgctl_throttle(fd, 10, 1, &saved));
        assert_file(fd, "cpu.max", "1000 10000");
        ASSERT_OK(cgctl_throttle(fd, 10, 250, &saved)); /* 2.5 CPUs */
        assert_file(fd, "cpu.max", "25000 10000");

        ASSERT_OK(cgctl_restore(fd, &saved));
        assert_file(fd, "cpu.weight", "100");
        assert_file(fd, "cpu.max", "max 100000");
        ASSERT_FALSE(saved.cpu_saved);
        put(fd, "cpu.weight", "77\n");
        ASSERT_OK(cgctl_restore(fd, &saved)); /* nothing saved: nothing written */
        assert_file(fd, "cpu.weight", "77\n");

        /* Weight only. */
        put(fd, "cpu.max", "max 100000\n");
        ASSERT_OK(cgctl_throttle(fd, 20, 0, &saved));
        assert_file(fd, "cpu.weight", "20");
        assert_file(fd, "cpu.max", "max 100000\n");
        ASSERT_OK(cgctl_restore(fd, &saved));
        assert_file(fd, "cpu.weight", "77");

        /* Values that do not parse change nothing. */
        for (size_t i = 0; i < 5; i++) {
                static const char *const bad[] = { "garbage\n", "max\n", "max 10\n", "max 99999999\n", "" };
                CgctlSaved s = untouched;

                put(fd, "cpu.max", bad[i]);
                ASSERT_ERR(cgctl_throttle(fd, 20, 10, &s), -EBADMSG);
                ASSERT_TRUE(memcmp(&s, &untouched, sizeof(s)) == 0);
                assert_file(fd, "cpu.weight", "77");
        }
        rm_tree(path);
}

static void test_fake_cap_and_reclaim(void)
{
        char path[64];
        _cleanup_close_ int fd = fake_cgroup(path);
        CgctlSaved saved = {}, s = untouched;
        uint64_t freed = 12345;

        ASSERT_ERR(cgctl_cap_memory(fd, 0, &saved), -EINVAL);
        ASSERT_OK(cgctl_cap_memory(fd, UINT64_C(1) << 30, &saved));
        assert_file(fd, "memory.high", "1073741824");
        ASSERT_TRUE(saved.memory_saved && !saved.cpu_saved);
        ASSERT_STREQ(saved.memory_high, "max");
        ASSERT_OK(cgctl_cap_memory(fd, UINT64_C(1) << 29, &saved));
        ASSERT_STREQ(saved.memory_high, "max");
        ASSERT_OK(cgctl_restore(fd, &saved));
        assert_file(fd, "memory.high", "max");
        ASSERT_FALSE(saved.memory_saved);

        ASSERT_ERR(cgctl_reclaim(fd, 0, &freed), -EINVAL);
        ASSERT_EQ_INT(cgctl_reclaim(fd, 4096, &freed), 0);
        assert_file(fd, "memory.reclaim", "4096");
        ASSERT_EQ_U64(freed, 0); /* memory.current did not move */
        ASSERT_EQ_INT(cgctl_reclaim(fd, CGCTL_RECLAIM_CHUNK, NULL), 0);
        assert_file(fd, "memory.reclaim", "67108864");

        /* Without the controller files: -EOPNOTSUPP, nothing written, outputs untouched. */
        ASSERT_OK(unlinkat(fd, "memory.reclaim", 0));
        ASSERT_OK(unlinkat(fd, "memory.high", 0));
        ASSERT_OK(unlinkat(fd, "cpu.weight", 0));
        freed = 12345;
        ASSERT_ERR(cgctl_reclaim(fd, 4096, &freed), -EOPNOTSUPP);
        ASSERT_EQ_U64(freed, 12345);
        ASSERT_ERR(cgctl_cap_memory(fd, 4096, &s), -EOPNOTSUPP);
        ASSERT_ERR(cgctl_throttle(fd, 10, 10, &s), -EOPNOTSUPP);
        ASSERT_TRUE(memcmp(&s, &untouched, sizeof(s)) == 0);
        assert_file(fd, "cpu.max", "max 100000\n");
        rm_tree(path);
}

static void test_fake_zram(void)
{
        char path[64];
        _cleanup_close_ int fd = tmp_tree(path);

        ASSERT_ERR(zram_compact_all(fd), -ENOENT); /* no block/ */
        ASSERT_OK(mkdirat(fd, "block", 0755));
        ASSERT_EQ_INT(zram_compact_all(fd), 0);

        ASSERT_OK(mkdirat(fd, "block/loop0", 0755));
        put(fd, "block/loop0/compact", "");
        ASSERT_OK(mkdirat(fd, "block/zramctl", 0755));
        put(fd, "block/zramctl/initstate", "1\n");
        put(fd, "block/zramctl/compact", "");
        ASSERT_OK(mkdirat(fd, "block/zram1", 0755)); /* not set up */
        put(fd, "block/zram1/initstate", "0\n");
        put(fd, "block/zram1/compact", "");
        ASSERT_OK(mkdirat(fd, "block/zram2", 0755)); /* set up, but compact cannot be written */
        put(fd, "block/zram2/initstate", "1\n");
        ASSERT_ERR(zram_compact_all(fd), -ENOENT);

        ASSERT_OK(mkdirat(fd, "block/zram0", 0755));
        put(fd, "block/zram0/initstate", "1\n");
        put(fd, "block/zram0/compact", "");
        ASSERT_EQ_INT(zram_compact_all(fd), 1);
        assert_file(fd, "block/zram0/compact", "1");
        assert_file(fd, "block/zram1/compact", "");
        assert_file(fd, "block/zramctl/compact", "");
        assert_file(fd, "block/loop0/compact", "");
        rm_tree(path);
}

static void test_real_zram(void)
{
        _cleanup_close_ int sysfd = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char state[16];
        int r;

        ASSERT_TRUE(sysfd >= 0);
        if (read_file_at(sysfd, "block/zram0/initstate", state, sizeof(state)) < 0) {
                fprintf(stderr, "  no zram0 here\n");
                return;
        }
        /* Only initialised devices are written to, so this is harmless either way. */
        r = zram_compact_all(sysfd);
        fprintf(stderr, "  zram0 initstate %c: compacted %d device(s)\n", state[0], r);
        ASSERT_OK(r);
        if (state[0] == '1')
                ASSERT_TRUE(r >= 1);
}

static void test_fake_drop_cache(void)
{
        char path[64];
        _cleanup_close_ int fd = tmp_tree(path);
        DropCacheLimit limit = {};
        const uint64_t t0 = 1000 * USEC_PER_SEC;

        ASSERT_ERR(drop_page_cache(fd, &limit, t0), -ENOENT);
        ASSERT_FALSE(limit.dropped);
        ASSERT_ERR(drop_page_cache(fd, NULL, t0), -EINVAL);

        ASSERT_OK(mkdirat(fd, "sys", 0755));
        ASSERT_OK(mkdirat(fd, "sys/vm", 0755));
        put(fd, "sys/vm/drop_caches", "");
        ASSERT_OK(drop_page_cache(fd, &limit, t0));
        assert_file(fd, "sys/vm/drop_caches", "1");
        ASSERT_TRUE(limit.dropped);
        ASSERT_EQ_U64(limit.last_usec, t0);

        put(fd, "sys/vm/drop_caches", "");
        ASSERT_ERR(drop_page_cache(fd, &limit, t0 + 30 * USEC_PER_SEC), -EAGAIN);
        ASSERT_ERR(drop_page_cache(fd, &limit, t0 - 1), -EAGAIN); /* time going backwards */
        limit.interval_usec = USEC_PER_SEC;                        /* below the floor: 60 s still apply */
        ASSERT_ERR(drop_page_cache(fd, &limit, t0 + 59 * USEC_PER_SEC), -EAGAIN);
        assert_file(fd, "sys/vm/drop_caches", "");
        ASSERT_OK(drop_page_cache(fd, &limit, t0 + 60 * USEC_PER_SEC));
        assert_file(fd, "sys/vm/drop_caches", "1");

        put(fd, "sys/vm/drop_caches", "");
        limit.interval_usec = 120 * USEC_PER_SEC;
        ASSERT_ERR(drop_page_cache(fd, &limit, t0 + 150 * USEC_PER_SEC), -EAGAIN);
        ASSERT_OK(drop_page_cache(fd, &limit, t0 + 180 * USEC_PER_SEC));
        assert_file(fd, "sys/vm/drop_caches", "1");
        rm_tree(path);
}

static unsigned count_entries(int dirfd)
{
        _cleanup_closedir_ DIR *d = fdopendir(fcntl(dirfd, F_DUPFD_CLOEXEC, 3));
        unsigned n = 0;

        ASSERT_TRUE(d != NULL);
        rewinddir(d);
        while (readdir(d))
                n++;
        return n;
}

/* What the real cgroupfs says: unavailable under a hybrid "unified" mount, real writes on pure v2. */
static void test_real_cgroup(void)
{
        _cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int cgfd = -1, rootfd = -1;
        _cleanup_free_ char *mnt = NULL;
        char cg[4096], controllers[512], buf[64];
        CgctlSaved saved = {}, s = untouched;
        bool have_cpu, have_memory;
        unsigned n_before;
        uint64_t freed;
        int r;

        if (geteuid() != 0) {
                fprintf(stderr, "  skipped: creating cgroups needs root\n");
                return;
        }
        if (cg_v2_mount_find_at(procfd, &mnt) < 0) {
                fprintf(stderr, "  skipped: no cgroup2 mount\n");
                return;
        }
        rootfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(rootfd >= 0);
        ASSERT_OK(read_file_at(rootfd, "cgroup.controllers", controllers, sizeof(controllers)));
        snprintf(cg, sizeof(cg), "%s/memguard-test-cgctl-%d", mnt, (int)getpid());
        ASSERT_OK(mkdir(cg, 0755));
        cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(cgfd >= 0);

        have_cpu = cgctl_available(cgfd, "cpu") > 0;
        have_memory = cgctl_available(cgfd, "memory") > 0;
        fprintf(stderr, "  %s: root controllers \"%.*s\", cpu %s, memory %s, reclaim %s\n", mnt,
                (int)strcspn(controllers, "\n"), controllers, yes_no(have_cpu), yes_no(have_memory),
                yes_no(cgctl_available(cgfd, "reclaim") > 0));

        if (!strstr(controllers, "memory")) {
                /* Hybrid (or v1-only controllers): must say so, and write nothing. */
                ASSERT_FALSE(have_cpu);
                ASSERT_FALSE(have_memory);
                ASSERT_EQ_INT(cgctl_available(cgfd, "reclaim"), 0);
                n_before = count_entries(cgfd);
                ASSERT_ERR(cgctl_throttle(cgfd, 10, 10, &s), -EOPNOTSUPP);
                ASSERT_ERR(cgctl_cap_memory(cgfd, 64 << 20, &s), -EOPNOTSUPP);
                ASSERT_ERR(cgctl_reclaim(cgfd, 1 << 20, &freed), -EOPNOTSUPP);
                ASSERT_TRUE(memcmp(&s, &untouched, sizeof(s)) == 0);
                ASSERT_EQ_INT(count_entries(cgfd), n_before);
        } else if (!have_cpu || !have_memory) {
                fprintf(stderr, "  real writes skipped: cpu and memory are not enabled in "
                        "%s/cgroup.subtree_control (not changed by this test)\n", mnt);
        } else {
                ASSERT_OK(cgctl_throttle(cgfd, 50, 20, &saved));
                ASSERT_OK(read_file_at(cgfd, "cpu.weight", buf, sizeof(buf)));
                ASSERT_STREQ(buf, "50\n");
                ASSERT_OK(read_file_at(cgfd, "cpu.max", buf, sizeof(buf)));
                ASSERT_TRUE(strncmp(buf, "20000 ", 6) == 0);
                ASSERT_OK(cgctl_cap_memory(cgfd, 64 << 20, &saved));
                ASSERT_OK(read_file_at(cgfd, "memory.high", buf, sizeof(buf)));
                ASSERT_STREQ(buf, "67108864\n");
                ASSERT_OK(cgctl_restore(cgfd, &saved));
                ASSERT_OK(read_file_at(cgfd, "cpu.weight", buf, sizeof(buf)));
                ASSERT_STREQ(buf, "100\n");
                ASSERT_OK(read_file_at(cgfd, "cpu.max", buf, sizeof(buf)));
                ASSERT_TRUE(strncmp(buf, "max ", 4) == 0);
                ASSERT_OK(read_file_at(cgfd, "memory.high", buf, sizeof(buf)));
                ASSERT_STREQ(buf, "max\n");
                if (cgctl_available(cgfd, "reclaim") > 0) {
                        r = cgctl_reclaim(cgfd, 1 << 20, &freed); /* an empty cgroup: less than asked */
                        fprintf(stderr, "  memory.reclaim of 1 MiB on an empty cgroup: %d\n", r);
                        ASSERT_TRUE(r == 0 || r == 1);
                }
        }
        cgfd = safe_close(cgfd);
        for (unsigned i = 0; i < 100 && rmdir(cg) < 0 && errno != ENOENT; i++)
                usleep(20 * 1000);
        ASSERT_TRUE(access(cg, F_OK) < 0);
}

int main(void)
{
        RUN(test_fake_available);
        RUN(test_fake_throttle);
        RUN(test_fake_cap_and_reclaim);
        RUN(test_fake_zram);
        RUN(test_real_zram);
        RUN(test_fake_drop_cache);
        RUN(test_real_cgroup);
        return 0;
}
