/* SPDX-License-Identifier: MIT */
#include "fileio.h"
#include "parse-util.h"
#include "test.h"

#include <fcntl.h>
#include <unistd.h>

static void test_safe_atou64(void)
{
        uint64_t v = 7;

        ASSERT_OK(safe_atou64("0", &v));
        ASSERT_EQ_U64(v, 0);
        ASSERT_OK(safe_atou64("18446744073709551615", &v));
        ASSERT_EQ_U64(v, UINT64_MAX);
        v = 7;
        ASSERT_ERR(safe_atou64("18446744073709551616", &v), -ERANGE);
        ASSERT_ERR(safe_atou64("99999999999999999999999", &v), -ERANGE);
        ASSERT_EQ_U64(v, 7); /* untouched on failure */
        ASSERT_ERR(safe_atou64("", &v), -EINVAL);
        ASSERT_ERR(safe_atou64("-1", &v), -EINVAL);
        ASSERT_ERR(safe_atou64("+1", &v), -EINVAL);
        ASSERT_ERR(safe_atou64(" 1", &v), -EINVAL);
        ASSERT_ERR(safe_atou64("1 ", &v), -EINVAL);
        ASSERT_ERR(safe_atou64("0x10", &v), -EINVAL);
        ASSERT_ERR(safe_atou64(NULL, &v), -EINVAL);
        ASSERT_OK(safe_atou64_n("123abc", 3, &v));
        ASSERT_EQ_U64(v, 123);
        ASSERT_ERR(safe_atou64_n("123", 0, &v), -EINVAL);
}

static void test_safe_atod(void)
{
        double d = -1;

        ASSERT_OK(safe_atod_n("12.34", 5, &d));
        ASSERT_NEAR(d, 12.34, 1e-9);
        ASSERT_OK(safe_atod_n("0.00", 4, &d));
        ASSERT_NEAR(d, 0, 0);
        ASSERT_OK(safe_atod_n("100", 3, &d));
        ASSERT_NEAR(d, 100, 0);
        d = -1;
        ASSERT_ERR(safe_atod_n("1.2.3", 5, &d), -EINVAL);
        ASSERT_ERR(safe_atod_n(".", 1, &d), -EINVAL);
        ASSERT_ERR(safe_atod_n("-1", 2, &d), -EINVAL);
        ASSERT_ERR(safe_atod_n("1e5", 3, &d), -EINVAL);
        ASSERT_ERR(safe_atod_n("nan", 3, &d), -EINVAL);
        ASSERT_ERR(safe_atod_n("1234567890123456789012345678901234", 34, &d), -ERANGE);
        ASSERT_NEAR(d, -1, 0);
}

static void test_read_file_at(void)
{
        char tmpl[] = "/tmp/memguard-test-fileio.XXXXXX";
        char buf[8], big[64];
        int dfd;
        char *full = NULL;
        size_t sz = 0;

        ASSERT_TRUE(mkdtemp(tmpl) != NULL);
        dfd = open(tmpl, O_RDONLY | O_DIRECTORY);
        ASSERT_TRUE(dfd >= 0);

        /* write_string_file_at() is for existing kernel files: it does not create. */
        ASSERT_ERR(write_string_file_at(dfd, "f", "0123456789", 0), -ENOENT);
        close(openat(dfd, "f", O_CREAT | O_WRONLY, 0600));
        close(openat(dfd, "g", O_CREAT | O_WRONLY, 0600));
        ASSERT_OK(write_string_file_at(dfd, "f", "0123456789", 0));
        /* Does not fit: -EFBIG, never a silently truncated success. */
        ASSERT_ERR(read_file_at(dfd, "f", buf, sizeof(buf)), -EFBIG);
        ASSERT_EQ_INT(read_file_at(dfd, "f", big, sizeof(big)), 10);
        ASSERT_STREQ(big, "0123456789");
        /* Exactly fits (10 bytes + NUL). */
        {
                char exact[11];
                ASSERT_EQ_INT(read_file_at(dfd, "f", exact, sizeof(exact)), 10);
                ASSERT_STREQ(exact, "0123456789");
        }
        ASSERT_ERR(read_file_at(dfd, "missing", big, sizeof(big)), -ENOENT);

        ASSERT_OK(read_full_file_at(dfd, "f", 100, &full, &sz));
        ASSERT_EQ_INT(sz, 10);
        ASSERT_STREQ(full, "0123456789");
        free(full);
        ASSERT_ERR(read_full_file_at(dfd, "f", 5, &full, &sz), -EFBIG);

        /* A string written with its NUL is one byte longer. */
        ASSERT_OK(write_string_file_at(dfd, "g", "ab", 1));
        ASSERT_EQ_INT(read_file_at(dfd, "g", big, sizeof(big)), 3);

        unlinkat(dfd, "f", 0);
        unlinkat(dfd, "g", 0);
        close(dfd);
        ASSERT_OK(rmdir(tmpl));
}

int main(void)
{
        RUN(test_safe_atou64);
        RUN(test_safe_atod);
        RUN(test_read_file_at);
        return 0;
}
