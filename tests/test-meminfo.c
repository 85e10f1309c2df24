/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "macro.h"
#include "meminfo.h"
#include "test.h"

#define KIB(x) ((uint64_t)(x) * 1024)

/* Parse from exact-size heap copies without a NUL, so ASan catches any read past len. */
static int meminfo_parse_exact(const char *text, size_t len, MemInfo *ret)
{
        _cleanup_free_ char *copy = xmalloc0(len);

        memcpy(copy, text, len);
        return meminfo_parse(copy, len, ret);
}

static int vmstat_parse_exact(const char *text, size_t len, VmStat *ret)
{
        _cleanup_free_ char *copy = xmalloc0(len);

        memcpy(copy, text, len);
        return vmstat_parse(copy, len, ret);
}

static void assert_meminfo_eq(const MemInfo *a, const MemInfo *b)
{
        ASSERT_EQ_U64(a->mem_total, b->mem_total);
        ASSERT_EQ_U64(a->mem_available, b->mem_available);
        ASSERT_EQ_U64(a->swap_total, b->swap_total);
        ASSERT_EQ_U64(a->swap_free, b->swap_free);
}

static void assert_vmstat_eq(const VmStat *a, const VmStat *b)
{
        ASSERT_EQ_U64(a->pswpin, b->pswpin);
        ASSERT_EQ_U64(a->pswpout, b->pswpout);
        ASSERT_EQ_U64(a->oom_kill, b->oom_kill);
        ASSERT_EQ_INT(a->has_oom_kill, b->has_oom_kill);
}

/* A meminfo in the kernel's layout with the four values we read. */
#define MI(total, avail, stotal, sfree)                                                                    \
        "MemTotal:       " total " kB\n"                                                                   \
        "MemFree:          123456 kB\n"                                                                    \
        "MemAvailable:   " avail " kB\n"                                                                   \
        "SwapCached:            0 kB\n"                                                                    \
        "SwapTotal:      " stotal " kB\n"                                                                  \
        "SwapFree:       " sfree " kB\n"                                                                   \
        "HugePages_Total:       0\n"                                                                       \
        "Hugepagesize:       2048 kB\n"
#define MI_OK MI("1000", "600", "200", "100")
/* The rest of a valid meminfo after a "MemTotal: ..." line under test. */
#define REST "\nMemAvailable: 1 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n"
#define NUL_IN_NUMBER "MemTotal: 1\0000 kB" REST

typedef struct MemCase {
        const char *name;
        const char *text;
        size_t len; /* 0: strlen(text) */
        int ret;
        MemInfo want;
} MemCase;

static const MemCase meminfo_cases[] = {
        { "kernel layout", MI_OK, 0, 0, { KIB(1000), KIB(600), KIB(200), KIB(100) } },
        { "any order, tabs, other keys",
          "Foo: bar\nSwapFree:\t1 kB\nno colon here\nMemAvailable: 2 kB\nSwapTotal: 3 kB\n"
          "MemTotalX: 99 kB\nMemTotal: 4 kB\nMem: 5 kB\nSwapFreeish: x\n\n",
          0, 0, { KIB(4), KIB(2), KIB(3), KIB(1) } },
        { "largest byte count", MI("18014398509481983", "0", "0", "0"), 0, 0,
          { UINT64_C(18446744073709550592), 0, 0, 0 } },
        { "available == total, free == total", MI("7", "7", "5", "5"), 0, 0,
          { KIB(7), KIB(7), KIB(5), KIB(5) } },

        { "empty", "", 0, -EBADMSG, {} },
        { "garbage", "\x7f" "ELF\x02\x01 hello: world\n", 0, -EBADMSG, {} },
        { "missing MemTotal", "MemAvailable: 1 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n", 0, -EBADMSG, {} },
        { "missing MemAvailable (Linux < 3.14)", "MemTotal: 1 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n", 0,
          -EBADMSG, {} },
        { "missing SwapTotal", "MemTotal: 1 kB\nMemAvailable: 1 kB\nSwapFree: 0 kB\n", 0, -EBADMSG, {} },
        { "missing SwapFree", "MemTotal: 1 kB\nMemAvailable: 1 kB\nSwapTotal: 0 kB\n", 0, -EBADMSG, {} },
        { "space before colon", "MemTotal : 1 kB" REST, 0, -EBADMSG, {} },
        { "duplicate MemTotal", MI_OK "MemTotal:       1000 kB\n", 0, -EBADMSG, {} },
        { "duplicate SwapFree", MI_OK "SwapFree:       50 kB\n", 0, -EBADMSG, {} },
        { "overflowing number", MI("99999999999999999999999", "1", "0", "0"), 0, -EBADMSG, {} },
        { "bytes overflow", MI("18014398509481984", "1", "0", "0"), 0, -EBADMSG, {} },
        { "negative", MI("1000", "-1", "0", "0"), 0, -EBADMSG, {} },
        { "plus sign", MI("+1000", "1", "0", "0"), 0, -EBADMSG, {} },
        { "hex", MI("0x10", "1", "0", "0"), 0, -EBADMSG, {} },
        { "fraction", MI("10.5", "1", "0", "0"), 0, -EBADMSG, {} },
        { "no number", MI("", "1", "0", "0"), 0, -EBADMSG, {} },
        { "no unit", "MemTotal: 1000" REST, 0, -EBADMSG, {} },
        { "other unit", "MemTotal: 1000 MB" REST, 0, -EBADMSG, {} },
        { "unit stuck to number", "MemTotal: 1000kB" REST, 0, -EBADMSG, {} },
        { "second value", "MemTotal: 1000 kB: 2 kB" REST, 0, -EBADMSG, {} },
        { "trailing junk", "MemTotal: 1000 kB x" REST, 0, -EBADMSG, {} },
        { "NUL in number", NUL_IN_NUMBER, sizeof(NUL_IN_NUMBER) - 1, -EBADMSG, {} },
        { "available > total", MI("1000", "1001", "0", "0"), 0, -EBADMSG, {} },
        { "swap free > total", MI("1000", "1", "10", "11"), 0, -EBADMSG, {} },
        { "CRLF", "MemTotal: 1 kB\r\nMemAvailable: 1 kB\r\nSwapTotal: 0 kB\r\nSwapFree: 0 kB\r\n", 0,
          -EBADMSG, {} },
        /* Kernel files end in '\n'; without it the read was cut short and the number may be too. */
        { "no trailing newline", "MemTotal: 1 kB\nMemAvailable: 1 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB", 0,
          -EBADMSG, {} },
        { "truncated mid-line", "MemTotal: 1 kB\nMemAvailable: 1 kB\nSwapTotal: 0 kB\nSwapFr", 0, -EBADMSG,
          {} },
        { "truncated mid-number", "MemTotal: 1 kB\nMemAvailable: 1 kB\nSwapTotal: 0 kB\nSwapFree: 12", 0,
          -EBADMSG, {} },
};

static void test_meminfo_table(void)
{
        for (size_t i = 0; i < ELEMENTSOF(meminfo_cases); i++) {
                const MemCase *c = &meminfo_cases[i];
                size_t len = c->len ? c->len : strlen(c->text);
                MemInfo m, before;
                int r;

                fprintf(stderr, "   %s\n", c->name);
                memset(&m, 0xa5, sizeof(m));
                before = m;
                r = meminfo_parse_exact(c->text, len, &m);
                ASSERT_ERR(r, c->ret);
                if (r == 0)
                        assert_meminfo_eq(&m, &c->want);
                else
                        ASSERT_TRUE(memcmp(&m, &before, sizeof(m)) == 0); /* untouched on failure */
        }
}

typedef struct VmCase {
        const char *name;
        const char *text;
        int ret;
        VmStat want;
} VmCase;

static const VmCase vmstat_cases[] = {
        { "kernel layout", "nr_free_pages 6065486\npswpin 12\npswpout 34\nthp_fault_alloc 0\noom_kill 5\n",
          0, { 12, 34, 5, true } },
        { "no oom_kill (Linux < 4.13)", "pswpin 1\npswpout 2\n", 0, { 1, 2, 0, false } },
        { "any order, other keys", "oom_kill 0\npswpout 2\npswpin_x 9\nfoo\n\npswpin 1\n", 0,
          { 1, 2, 0, true } },
        { "largest counter", "pswpin 18446744073709551615\npswpout 0\n", 0, { UINT64_MAX, 0, 0, false } },

        { "empty", "", -EBADMSG, {} },
        { "garbage", "hello world\n\x01\x02\x03\n", -EBADMSG, {} },
        { "missing pswpin", "pswpout 2\noom_kill 0\n", -EBADMSG, {} },
        { "missing pswpout", "pswpin 1\noom_kill 0\n", -EBADMSG, {} },
        { "duplicate pswpin", "pswpin 1\npswpout 2\npswpin 1\n", -EBADMSG, {} },
        { "duplicate oom_kill", "pswpin 1\npswpout 2\noom_kill 0\noom_kill 0\n", -EBADMSG, {} },
        { "overflowing number", "pswpin 99999999999999999999999\npswpout 2\n", -EBADMSG, {} },
        { "2^64", "pswpin 18446744073709551616\npswpout 2\n", -EBADMSG, {} },
        { "negative", "pswpin -1\npswpout 2\n", -EBADMSG, {} },
        { "fraction", "pswpin 1.5\npswpout 2\n", -EBADMSG, {} },
        { "hex", "pswpin 0x1\npswpout 2\n", -EBADMSG, {} },
        { "no value", "pswpin\npswpout 2\n", -EBADMSG, {} },
        { "blank value", "pswpin   \npswpout 2\n", -EBADMSG, {} },
        { "two values", "pswpin 1 2\npswpout 2\n", -EBADMSG, {} },
        { "key=value", "pswpin=1\npswpout 2\n", -EBADMSG, {} },
        { "CRLF", "pswpin 1\r\npswpout 2\r\n", -EBADMSG, {} },
        { "no trailing newline", "pswpin 1\npswpout 2", -EBADMSG, {} },
        { "truncated mid-line", "pswpin 1\npswpout 2\noom_ki", -EBADMSG, {} },
        { "truncated mid-number", "pswpin 1\npswpout 2\noom_kill 12", -EBADMSG, {} },
};

static void test_vmstat_table(void)
{
        for (size_t i = 0; i < ELEMENTSOF(vmstat_cases); i++) {
                const VmCase *c = &vmstat_cases[i];
                VmStat v, before;
                int r;

                fprintf(stderr, "   %s\n", c->name);
                memset(&v, 0xa5, sizeof(v));
                before = v;
                r = vmstat_parse_exact(c->text, strlen(c->text), &v);
                ASSERT_ERR(r, c->ret);
                if (r == 0)
                        assert_vmstat_eq(&v, &c->want);
                else
                        ASSERT_TRUE(memcmp(&v, &before, sizeof(v)) == 0);
        }
}

/*
 * tests/fixtures/meminfo/CASE/{meminfo,vmstat}: "real" was captured from this
 * machine (no swap); "swap" and "old-kernel" are derived from it; the rest are
 * the real files damaged in one way each.
 */
static void test_fixtures(void)
{
        static const struct {
                const char *dir;
                int mret;
                MemInfo m;
                int vret;
                VmStat v;
        } cases[] = {
                { "real", 0, { KIB(24684096), KIB(24349448), 0, 0 }, 0, { 0, 0, 0, true } },
                { "swap", 0, { KIB(24684096), KIB(24349448), KIB(8388604), KIB(6291452) }, 0,
                  { 52213, 131072, 3, true } },
                { "old-kernel", -EBADMSG, {}, 0, { 0, 0, 0, false } },
                { "empty", -EBADMSG, {}, -EBADMSG, {} },
                { "garbage", -EBADMSG, {}, -EBADMSG, {} },
                { "crlf", -EBADMSG, {}, -EBADMSG, {} },
                { "no-trailing-newline", -EBADMSG, {}, -EBADMSG, {} },
                { "truncated-mid-line", -EBADMSG, {}, -EBADMSG, {} },
                { "truncated-mid-number", -EBADMSG, {}, -EBADMSG, {} },
                { "duplicate-key", -EBADMSG, {}, -EBADMSG, {} },
                { "overflow", -EBADMSG, {}, -EBADMSG, {} },
                { "overflow-bytes", -EBADMSG, {}, -ENOENT, {} },
                { "negative", -EBADMSG, {}, -EBADMSG, {} },
                { "available-over-total", -EBADMSG, {}, -ENOENT, {} },
                { "missing-files", -ENOENT, {}, -ENOENT, {} },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_close_ int fd = -1;
                char path[4096];
                MemInfo m;
                VmStat v;

                fprintf(stderr, "   %s\n", cases[i].dir);
                snprintf(path, sizeof(path), "%s/meminfo/%s", FIXTURES_DIR, cases[i].dir);
                fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                ASSERT_TRUE(fd >= 0);

                ASSERT_ERR(meminfo_read_at(fd, &m), cases[i].mret);
                if (cases[i].mret == 0)
                        assert_meminfo_eq(&m, &cases[i].m);
                ASSERT_ERR(vmstat_read_at(fd, &v), cases[i].vret);
                if (cases[i].vret == 0)
                        assert_vmstat_eq(&v, &cases[i].v);
        }
}

/* The running kernel's files parse, and agree with sysinfo(2). */
static void test_live(void)
{
        _cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct sysinfo si;
        MemInfo m;
        VmStat v;

        ASSERT_TRUE(procfd >= 0);
        ASSERT_OK(meminfo_read_at(procfd, &m));
        ASSERT_OK(vmstat_read_at(procfd, &v));
        ASSERT_TRUE(sysinfo(&si) == 0);

        fprintf(stderr, "   MemTotal=%" PRIu64 " MemAvailable=%" PRIu64 " SwapTotal=%" PRIu64 "\n",
                m.mem_total, m.mem_available, m.swap_total);
        ASSERT_EQ_U64(m.mem_total, (uint64_t)si.totalram * si.mem_unit);
        ASSERT_EQ_U64(m.swap_total, (uint64_t)si.totalswap * si.mem_unit);
        ASSERT_TRUE(m.mem_available > 0 && m.mem_available <= m.mem_total);
        ASSERT_TRUE(v.has_oom_kill); /* every kernel this runs on is >= 4.13 */
}

int main(void)
{
        RUN(test_meminfo_table);
        RUN(test_vmstat_table);
        RUN(test_fixtures);
        RUN(test_live);
        return 0;
}
