/* SPDX-License-Identifier: MIT */
/*
 * zram mm_stat parsing and the /sys walk, on fixtures captured from this
 * machine's /dev/zram0 (see fixtures/zram/README) and on the real /sys.
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "test.h"
#include "zram.h"

static int open_fixture(const char *sub)
{
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s/zram/%s", FIXTURES_DIR, sub);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        return fd;
}

static void parse_fixture(const char *name, ZramStats *ret)
{
        _cleanup_close_ int fd = open_fixture(".");
        char buf[512];
        ssize_t n = read_file_at(fd, name, buf, sizeof(buf));

        ASSERT_OK(n);
        ASSERT_OK(zram_mm_stat_parse(buf, (size_t)n, ret));
}

static void test_parse_captured(void)
{
        ZramStats s;

        /* Linux 6.18, nine fields; huge_pages_since (the ninth) is ignored. */
        parse_fixture("mm_stat-used", &s);
        ASSERT_EQ_U64(s.orig_data_size, 16777216);
        ASSERT_EQ_U64(s.compr_data_size, 4306944);
        ASSERT_EQ_U64(s.mem_used_total, 4325376);
        ASSERT_EQ_U64(s.mem_limit, 0);
        ASSERT_EQ_U64(s.mem_used_max, 4325376);
        ASSERT_EQ_U64(s.same_pages, 1024);
        ASSERT_EQ_U64(s.pages_compacted, 0);
        ASSERT_EQ_U64(s.huge_pages, 1024);

        parse_fixture("mm_stat-limit", &s);
        ASSERT_EQ_U64(s.orig_data_size, 16986112);
        ASSERT_EQ_U64(s.compr_data_size, 10350765);
        ASSERT_EQ_U64(s.mem_limit, 33554432);
        ASSERT_EQ_U64(s.huge_pages, 513);

        /* An uninitialised device prints zeros, not nothing. */
        parse_fixture("mm_stat-uninit", &s);
        ASSERT_EQ_U64(s.orig_data_size, 0);
        ASSERT_EQ_U64(s.mem_used_total, 0);
}

static void test_parse_table(void)
{
        static const struct {
                const char *in;
                int ret;
                uint64_t orig, huge;
        } t[] = {
                /* pre-4.19: seven fields, no huge_pages */
                {"1 2 3 4 5 6 7\n", 0, 1, 0},
                {"1 2 3 4 5 6 7 8\n", 0, 1, 8},
                {"  1\t2 3 4 5 6 7 8 9 10 11\n", 0, 1, 8},
                /* fields past huge_pages are not even looked at */
                {"1 2 3 4 5 6 7 8 x-future", 0, 1, 8},
                {"18446744073709551615 0 0 0 0 0 0", 0, UINT64_MAX, 0},
                /* hostile */
                {"", -EBADMSG, 0, 0},
                {"\n", -EBADMSG, 0, 0},
                {"1 2 3 4 5 6\n", -EBADMSG, 0, 0},            /* one field short */
                {"16777216  4306944  43253", -EBADMSG, 0, 0}, /* truncated */
                {"18446744073709551616 0 0 0 0 0 0", -EBADMSG, 0, 0},
                {"-1 2 3 4 5 6 7", -EBADMSG, 0, 0},
                {"+1 2 3 4 5 6 7", -EBADMSG, 0, 0},
                {"1 2 3 4x 5 6 7", -EBADMSG, 0, 0},
                {"0x10 2 3 4 5 6 7", -EBADMSG, 0, 0},
                {"1,2,3,4,5,6,7", -EBADMSG, 0, 0},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                ZramStats s = {.orig_data_size = 4242, .huge_pages = 4242};
                int r = zram_mm_stat_parse(t[i].in, strlen(t[i].in), &s);

                fprintf(stderr, "  case %zu -> %d\n", i, r);
                ASSERT_ERR(r, t[i].ret);
                if (r == 0) {
                        ASSERT_EQ_U64(s.orig_data_size, t[i].orig);
                        ASSERT_EQ_U64(s.huge_pages, t[i].huge);
                } else
                        ASSERT_EQ_U64(s.orig_data_size, 4242); /* untouched on failure */
        }
}

static void test_parse_not_nul_terminated(void)
{
        /* The length ends the input, whatever follows it. */
        const char buf[] = "1 2 3 4 5 6 7 8"
                           "99999999999999999999999";
        ZramStats s;

        ASSERT_OK(zram_mm_stat_parse(buf, strlen("1 2 3 4 5 6 7 8"), &s));
        ASSERT_EQ_U64(s.huge_pages, 8);
        ASSERT_OK(zram_mm_stat_parse(buf, strlen("1 2 3 4 5 6 7 8") - 2, &s));
        ASSERT_EQ_U64(s.huge_pages, 0);
        ASSERT_ERR(zram_mm_stat_parse(buf, 0, &s), -EBADMSG);
}

static void test_read_all(void)
{
        _cleanup_close_ int sys1 = open_fixture("sys1");
        _cleanup_close_ int sys2 = open_fixture("sys2");
        _cleanup_close_ int sys3 = open_fixture("sys3");
        _cleanup_close_ int sys4 = open_fixture("sys4");
        _cleanup_close_ int sys5 = open_fixture("sys5");
        ZramStats s;

        /* zram0 + zram1; zram2 (initstate 0), loop0, vda and zramctl skipped. */
        ASSERT_EQ_INT(zram_read_all_at(sys1, &s), 2);
        ASSERT_EQ_U64(s.orig_data_size, 16777216 + 16986112);
        ASSERT_EQ_U64(s.compr_data_size, 4306944 + 10350765);
        ASSERT_EQ_U64(s.mem_used_total, 4325376 + 10678272);
        ASSERT_EQ_U64(s.mem_limit, 33554432);
        ASSERT_EQ_U64(s.mem_used_max, 4325376 + 10678272);
        ASSERT_EQ_U64(s.same_pages, 1024);
        ASSERT_EQ_U64(s.huge_pages, 1024 + 513);

        /* No zram: zero devices, zeroed stats. */
        s.orig_data_size = 1;
        ASSERT_EQ_INT(zram_read_all_at(sys2, &s), 0);
        ASSERT_EQ_U64(s.orig_data_size, 0);

        /* No initstate: empty mm_stat skipped, seven-field one summed. */
        ASSERT_EQ_INT(zram_read_all_at(sys3, &s), 1);
        ASSERT_EQ_U64(s.orig_data_size, 16777216);
        ASSERT_EQ_U64(s.huge_pages, 0);

        /* A truncated mm_stat on an initialised device is an error, not zeros. */
        s.orig_data_size = 4242;
        ASSERT_ERR(zram_read_all_at(sys4, &s), -EBADMSG);
        ASSERT_EQ_U64(s.orig_data_size, 4242);

        ASSERT_ERR(zram_read_all_at(sys5, &s), -ENOENT);
}

static void test_read_all_real(void)
{
        _cleanup_close_ int sysfd = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ZramStats s;
        int r;

        ASSERT_TRUE(sysfd >= 0);
        r = zram_read_all_at(sysfd, &s);
        fprintf(stderr, "  real /sys: %d zram device(s) in use, %" PRIu64 " bytes stored\n", r,
                r > 0 ? s.orig_data_size : 0);
        ASSERT_OK(r);
        if (r > 0)
                ASSERT_TRUE(s.mem_used_total > 0 || s.orig_data_size == 0);
}

int main(void)
{
        log_set_max_level(LOG_DEBUG); /* show what the walker skips, and why */
        RUN(test_parse_captured);
        RUN(test_parse_table);
        RUN(test_parse_not_nul_terminated);
        RUN(test_read_all);
        RUN(test_read_all_real);
        return 0;
}
