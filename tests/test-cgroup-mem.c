/* SPDX-License-Identifier: MIT */
/*
 * A --scope cgroup's memory as a MemInfo (cgroup-mem.c), on cgroup trees
 * written here: memory.stat keys, the effective v2 limit up the tree, v1's
 * hierarchical limit, and MemAvailable counting reclaimable file cache
 * (all inactive, half the active file pages).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-mem.h"
#include "macro.h"
#include "test.h"

#define MiB (UINT64_C(1) << 20)

static void put(const char *dir, const char *name, const char *text)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "we");
        ASSERT_TRUE(f);
        fputs(text, f);
        ASSERT_OK(fclose(f));
}

static void test_stat_get(void)
{
        static const char stat[] = "anon 100\nfile 300\ninactive_file 200\nactive_file 100\nbad x\n";
        uint64_t v;

        ASSERT_OK(cgroup_mem_stat_get(stat, strlen(stat), "active_file", &v));
        ASSERT_EQ_U64(v, 100); /* not the inactive_file line */
        ASSERT_OK(cgroup_mem_stat_get(stat, strlen(stat), "inactive_file", &v));
        ASSERT_EQ_U64(v, 200);
        ASSERT_ERR(cgroup_mem_stat_get(stat, strlen(stat), "file_dirty", &v), -ENOENT);
        ASSERT_ERR(cgroup_mem_stat_get(stat, strlen(stat), "bad", &v), -EBADMSG);
}

static void test_to_meminfo(void)
{
        MemInfo sys = { .mem_total = 24000 * MiB, .mem_available = 20000 * MiB }, m;
        CgroupMem c = { .limit = 256 * MiB, .usage = 250 * MiB, .inactive_file = 10 * MiB, .active_file = 40 * MiB };

        cgroup_mem_to_meminfo(&c, &sys, &m);
        ASSERT_EQ_U64(m.mem_total, 256 * MiB);
        ASSERT_EQ_U64(m.mem_available, (6 + 10 + 20) * MiB); /* free + inactive + active/2 */

        /* Over the limit: only the cache, never more than the usage. */
        c = (CgroupMem){ .limit = 256 * MiB, .usage = 300 * MiB, .inactive_file = 400 * MiB, .active_file = 400 * MiB };
        cgroup_mem_to_meminfo(&c, &sys, &m);
        ASSERT_EQ_U64(m.mem_available, 256 * MiB);
        c = (CgroupMem){ .limit = 256 * MiB, .usage = 256 * MiB };
        cgroup_mem_to_meminfo(&c, &sys, &m);
        ASSERT_EQ_U64(m.mem_available, 0);

        /* The machine's own MemAvailable still bounds it. */
        sys.mem_available = 5 * MiB;
        c = (CgroupMem){ .limit = 256 * MiB, .usage = 10 * MiB };
        cgroup_mem_to_meminfo(&c, &sys, &m);
        ASSERT_EQ_U64(m.mem_available, 5 * MiB);

        /* Swap: what the cgroup may use of the machine's, and what of it is free. */
        sys = (MemInfo){ .mem_total = 24000 * MiB, .mem_available = 20000 * MiB, .swap_total = 2048 * MiB,
                         .swap_free = 1500 * MiB };
        c = (CgroupMem){ .limit = 256 * MiB, .usage = 10 * MiB, .swap_limit = UINT64_MAX };
        cgroup_mem_to_meminfo(&c, &sys, &m);
        ASSERT_EQ_U64(m.swap_total, 2048 * MiB); /* unknown or unlimited: the machine's */
        ASSERT_EQ_U64(m.swap_free, 1500 * MiB);
        c.swap_limit = 0; /* memory.swap.max=0 */
        cgroup_mem_to_meminfo(&c, &sys, &m);
        ASSERT_EQ_U64(m.swap_total, 0);
        ASSERT_EQ_U64(m.swap_free, 0);
        c.swap_limit = 512 * MiB;
        c.swap_usage = 100 * MiB;
        cgroup_mem_to_meminfo(&c, &sys, &m);
        ASSERT_EQ_U64(m.swap_total, 512 * MiB);
        ASSERT_EQ_U64(m.swap_free, 412 * MiB);
        c.swap_usage = 900 * MiB; /* more than its limit says (raced): none free */
        cgroup_mem_to_meminfo(&c, &sys, &m);
        ASSERT_EQ_U64(m.swap_free, 0);
        sys.swap_free = 10 * MiB; /* the machine's own swap is nearly full */
        c.swap_usage = 0;
        cgroup_mem_to_meminfo(&c, &sys, &m);
        ASSERT_EQ_U64(m.swap_free, 10 * MiB);
        sys.swap_total = sys.swap_free = 0;

        /* Unlimited: the machine's figures. */
        c = (CgroupMem){ .limit = UINT64_MAX, .usage = 10 * MiB };
        cgroup_mem_to_meminfo(&c, &sys, &m);
        ASSERT_EQ_U64(m.mem_total, sys.mem_total);
        ASSERT_EQ_U64(m.mem_available, sys.mem_available);
}

static void test_read_trees(void)
{
        char tmpl[] = "/tmp/test-cgroup-mem-XXXXXX", a[600], b[600], v1[600];
        CgroupMem c;

        ASSERT_TRUE(mkdtemp(tmpl));
        snprintf(a, sizeof(a), "%s/a", tmpl);
        snprintf(b, sizeof(b), "%s/a/b", tmpl);
        snprintf(v1, sizeof(v1), "%s/v1", tmpl);
        ASSERT_OK(mkdir(a, 0755));
        ASSERT_OK(mkdir(b, 0755));
        ASSERT_OK(mkdir(v1, 0755));

        /* v2: the smallest memory.max on the way up counts; without memory.swap.max, swap is unknown. */
        put(a, "memory.max", "268435456\n");
        put(b, "memory.max", "max\n");
        put(b, "memory.current", "104857600\n");
        put(b, "memory.stat", "anon 52428800\nfile 52428800\ninactive_file 20971520\nactive_file 31457280\n");
        ASSERT_OK(cgroup_mem_read_v2(tmpl, b, &c));
        ASSERT_EQ_U64(c.limit, 256 * MiB);
        ASSERT_EQ_U64(c.usage, 100 * MiB);
        ASSERT_EQ_U64(c.inactive_file, 20 * MiB);
        ASSERT_EQ_U64(c.active_file, 30 * MiB);
        ASSERT_EQ_U64(c.swap_limit, UINT64_MAX);
        put(a, "memory.swap.max", "104857600\n");
        put(b, "memory.swap.max", "max\n");
        put(b, "memory.swap.current", "20971520\n");
        ASSERT_OK(cgroup_mem_read_v2(tmpl, b, &c));
        ASSERT_EQ_U64(c.swap_limit, 100 * MiB);
        ASSERT_EQ_U64(c.swap_usage, 20 * MiB);

        /* v1: hierarchical_memory_limit and the total_ keys. */
        put(v1, "memory.usage_in_bytes", "104857600\n");
        put(v1, "memory.stat",
            "cache 1\ninactive_file 1\nactive_file 1\nhierarchical_memory_limit 268435456\n"
            "total_inactive_file 20971520\ntotal_active_file 31457280\n");
        ASSERT_OK(cgroup_mem_read_v1(v1, &c));
        ASSERT_EQ_U64(c.limit, 256 * MiB);
        ASSERT_EQ_U64(c.inactive_file, 20 * MiB);
        ASSERT_EQ_U64(c.active_file, 30 * MiB);
        ASSERT_EQ_U64(c.swap_limit, UINT64_MAX); /* no swap accounting */
        put(v1, "memory.stat",
            "hierarchical_memory_limit 268435456\nhierarchical_memsw_limit 536870912\ntotal_inactive_file 0\n");
        put(v1, "memory.memsw.usage_in_bytes", "136314880\n");
        ASSERT_OK(cgroup_mem_read_v1(v1, &c));
        ASSERT_EQ_U64(c.swap_limit, 256 * MiB); /* memsw 512 - memory 256 */
        ASSERT_EQ_U64(c.swap_usage, 30 * MiB);  /* memsw usage 130 - usage 100 */
        put(v1, "memory.stat", "hierarchical_memory_limit 9223372036854771712\n");
        ASSERT_OK(cgroup_mem_read_v1(v1, &c));
        ASSERT_EQ_U64(c.limit, UINT64_MAX);
        ASSERT_EQ_U64(c.active_file, 0);

        /* No memory controller: an error, nothing written. */
        ASSERT_TRUE(cgroup_mem_read_v2(tmpl, a, &c) < 0);

        {
                char cmd[700];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
                ASSERT_EQ_INT(system(cmd), 0);
        }
}

int main(void)
{
        test_stat_get();
        test_to_meminfo();
        test_read_trees();
        return 0;
}
