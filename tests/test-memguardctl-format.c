/* SPDX-License-Identifier: MIT */
/*
 * memguardctl's pure parts: terminal-safe strings from hostile process
 * names, sizes and times, TARGET resolution (PID or app name), the cgroup
 * layout from the mountinfo fixtures, and the helper runner doctor uses
 * for `criu check`.
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "doctor.h"
#include "fileio.h"
#include "format.h"
#include "macro.h"
#include "target.h"
#include "test.h"

static void check_sanitize(const char *in, const char *want)
{
        _cleanup_free_ char *out = text_sanitize(in);

        ASSERT_STREQ(out, want);
}

static void test_sanitize(void)
{
        check_sanitize(NULL, "");
        check_sanitize("", "");
        check_sanitize("firefox", "firefox");
        check_sanitize("Web Content", "Web Content");
        /* Terminal escapes: ESC, BEL, CSI as a C1 code point, DEL. */
        check_sanitize("x\x1b[2Jy", "x?[2Jy");
        check_sanitize("\x1b]0;owned\x07", "?]0;owned?");
        check_sanitize("a\xc2\x9b"
                       "31mb",
                       "a?31mb");
        check_sanitize("del\x7f", "del?");
        check_sanitize("line\nbreak\ttab\r", "line?break?tab?");
        /* Bidi overrides make "evil\u202Efdp.exe" read as another name. */
        check_sanitize("evil\xe2\x80\xae"
                       "fdp",
                       "evil?fdp");
        check_sanitize("\xe2\x81\xa6x\xe2\x81\xa9", "?x?");
        /* Valid UTF-8 stays. */
        check_sanitize("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xa7",
                       "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xa7");
        /* Invalid UTF-8: a lone continuation, truncated, overlong, surrogate, beyond U+10FFFF. */
        check_sanitize("a\x80z", "a?z");
        check_sanitize("a\xe6\x97", "a??");
        check_sanitize("\xc0\xaf", "??");
        check_sanitize("\xed\xa0\x80", "???");
        check_sanitize("\xf4\x90\x80\x80", "????");
        check_sanitize("\xff\xfe", "??");
        /* A name like the ones that break /proc/PID/stat parsers is just text here. */
        check_sanitize("x) R 1 1 1 (y", "x) R 1 1 1 (y");

        ASSERT_EQ_INT(text_width("caf\xc3\xa9"), 4);
        ASSERT_EQ_INT(text_width(""), 0);
}

static void test_json_string_safe(void)
{
        _cleanup_json_ json_object *a = json_string_safe("ok\x1b\n"), *b = json_string_safe("bad\xff");
        const char *s;

        /* json-c escapes control characters; invalid bytes become U+FFFD. */
        s = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
        ASSERT_STREQ(s, "\"ok\\u001b\\n\"");
        ASSERT_STREQ(json_object_get_string(b), "bad\xef\xbf\xbd");
}

static void test_format(void)
{
        char buf[64];

        format_bytes(buf, sizeof(buf), 0);
        ASSERT_STREQ(buf, "0 B");
        format_bytes(buf, sizeof(buf), 1023);
        ASSERT_STREQ(buf, "1023 B");
        format_bytes(buf, sizeof(buf), 1024);
        ASSERT_STREQ(buf, "1.0 KiB");
        format_bytes(buf, sizeof(buf), 800ull << 20);
        ASSERT_STREQ(buf, "800.0 MiB");
        format_bytes(buf, sizeof(buf), UINT64_MAX);
        ASSERT_STREQ(buf, "16.0 EiB");

        format_ago(buf, sizeof(buf), 100 * USEC_PER_SEC, 112 * USEC_PER_SEC);
        ASSERT_STREQ(buf, "12 s ago");
        format_ago(buf, sizeof(buf), 0, 300 * USEC_PER_SEC);
        ASSERT_STREQ(buf, "5 min ago");
        format_ago(buf, sizeof(buf), 0, 7380 * USEC_PER_SEC);
        ASSERT_STREQ(buf, "2 h 3 min ago");
        format_ago(buf, sizeof(buf), 0, 2 * 86400 * USEC_PER_SEC + 3600 * USEC_PER_SEC);
        ASSERT_STREQ(buf, "2 d 1 h ago");
        format_ago(buf, sizeof(buf), 10 * USEC_PER_SEC, 10 * USEC_PER_SEC);
        ASSERT_STREQ(buf, "0 s ago");
        format_ago(buf, sizeof(buf), 100 * USEC_PER_SEC, 10 * USEC_PER_SEC);
        ASSERT_STREQ(buf, "in the future");

        setenv("TZ", "UTC", 1);
        format_local_time(buf, sizeof(buf), 1714564803123456ull, true);
        ASSERT_STREQ(buf, "2024-05-01 12:00:03.123");
        format_local_time(buf, sizeof(buf), 1714564803123456ull, false);
        ASSERT_STREQ(buf, "2024-05-01 12:00:03");
        format_iso8601(buf, sizeof(buf), 1714564803123456ull);
        ASSERT_STREQ(buf, "2024-05-01T12:00:03.123+00:00");
}

static void test_table(void)
{
        _cleanup_table_ Table *t = table_new(3, (const char *const[]){"PID", "NAME", "NOTE"},
                                             (const bool[]){true, false, false});
        char *out = NULL;
        size_t size = 0;
        FILE *f;

        table_add_row(t, (const char *const[]){"1", "a\x1b[31m", "x"});
        table_add_row(t, (const char *const[]){"12345", "b", ""});
        ASSERT_EQ_INT(table_n_rows(t), 2);
        f = open_memstream(&out, &size);
        ASSERT_TRUE(f);
        table_print(t, f);
        fclose(f);
        ASSERT_STREQ(out, "  PID  NAME    NOTE\n"
                          "    1  a?[31m  x\n"
                          "12345  b\n");
        free(out);
}

static void test_parse_pid(void)
{
        uint32_t pid = 0;

        ASSERT_EQ_INT(target_parse_pid("1234", &pid), 1);
        ASSERT_EQ_INT(pid, 1234);
        ASSERT_EQ_INT(target_parse_pid("4194304", &pid), 1);
        ASSERT_ERR(target_parse_pid("4194305", &pid), -ERANGE);
        ASSERT_ERR(target_parse_pid("99999999999999999999999", &pid), -ERANGE);
        ASSERT_ERR(target_parse_pid("0", &pid), -EINVAL);
        ASSERT_ERR(target_parse_pid("000", &pid), -EINVAL);
        ASSERT_EQ_INT(pid, 4194304);
        /* Not all digits: an app name. */
        ASSERT_EQ_INT(target_parse_pid("firefox", &pid), 0);
        ASSERT_EQ_INT(target_parse_pid("12a", &pid), 0);
        ASSERT_EQ_INT(target_parse_pid("-1", &pid), 0);
        ASSERT_EQ_INT(target_parse_pid(" 1", &pid), 0);
        ASSERT_EQ_INT(target_parse_pid("", &pid), 0);
}

static void test_match(void)
{
        Candidate c[] = {
                {.pid = 100, .comm = "firefox", .unit = "app-firefox-1.scope", .app = "firefox"},
                {.pid = 101, .comm = "Web Content", .unit = "app-firefox-1.scope", .app = "firefox"},
                {.pid = 200, .comm = "bash", .unit = "a.scope", .app = ""},
                {.pid = 201, .comm = "bash", .unit = "b.scope", .app = ""},
                {.pid = 300, .comm = "loner", .unit = "", .app = ""},
                {.pid = 301, .comm = "twin", .unit = "", .app = ""},
                {.pid = 302, .comm = "twin", .unit = "", .app = ""},
                {.pid = 400, .comm = "x", .unit = "", .app = "org.example.App"},
                {.pid = 401, .comm = "y", .unit = "", .app = "org.example.App"},
        };
        _cleanup_free_ size_t *matches = NULL;
        size_t index = 99, n = 99;

        /* One app, several processes: the first (most expendable) one. */
        ASSERT_OK(target_match(c, ELEMENTSOF(c), "firefox", &index, &matches, &n));
        ASSERT_EQ_INT(index, 0);
        ASSERT_OK(target_match(c, ELEMENTSOF(c), "Web Content", &index, &matches, &n));
        ASSERT_EQ_INT(index, 1);
        ASSERT_OK(target_match(c, ELEMENTSOF(c), "app-firefox-1.scope", &index, &matches, &n));
        ASSERT_EQ_INT(index, 0);
        ASSERT_OK(target_match(c, ELEMENTSOF(c), "b.scope", &index, &matches, &n));
        ASSERT_EQ_INT(index, 3);
        ASSERT_OK(target_match(c, ELEMENTSOF(c), "loner", &index, &matches, &n));
        ASSERT_EQ_INT(index, 4);
        ASSERT_OK(target_match(c, ELEMENTSOF(c), "org.example.App", &index, &matches, &n));
        ASSERT_EQ_INT(index, 7);
        ASSERT_TRUE(matches == NULL);

        /* Exact matches only. */
        ASSERT_ERR(target_match(c, ELEMENTSOF(c), "fire", &index, &matches, &n), -ENOENT);
        ASSERT_EQ_INT(n, 0);
        ASSERT_ERR(target_match(c, ELEMENTSOF(c), "FIREFOX", &index, &matches, &n), -ENOENT);
        ASSERT_ERR(target_match(c, ELEMENTSOF(c), "", &index, &matches, &n), -EINVAL);
        ASSERT_ERR(target_match(c, 0, "firefox", &index, &matches, &n), -ENOENT);

        /* Different units, or processes with neither unit nor app id: ambiguous. */
        ASSERT_ERR(target_match(c, ELEMENTSOF(c), "bash", &index, &matches, &n), -ENOTUNIQ);
        ASSERT_EQ_INT(n, 2);
        ASSERT_EQ_INT(matches[0], 2);
        ASSERT_EQ_INT(matches[1], 3);
        free(TAKE_PTR(matches));
        ASSERT_ERR(target_match(c, ELEMENTSOF(c), "twin", &index, &matches, &n), -ENOTUNIQ);
        ASSERT_EQ_INT(n, 2);
        ASSERT_EQ_INT(index, 7); /* untouched on failure */

        ASSERT_TRUE(candidate_same_app(&c[0], &c[1]));
        ASSERT_FALSE(candidate_same_app(&c[2], &c[3]));
        ASSERT_FALSE(candidate_same_app(&c[4], &c[5]));
        ASSERT_TRUE(candidate_same_app(&c[7], &c[8]));
        ASSERT_FALSE(candidate_same_app(&c[0], &c[7]));
}

static void layout_of(const char *fixture, CgroupLayout *ret)
{
        char path[4096];
        _cleanup_free_ char *buf = NULL;
        size_t len;

        snprintf(path, sizeof(path), "%s/cgroup/%s", FIXTURES_DIR, fixture);
        ASSERT_OK(read_full_file_at(AT_FDCWD, path, 1 << 20, &buf, &len));
        ASSERT_OK(cgroup_layout_parse(buf, len, ret));
}

static void test_cgroup_layout(void)
{
        CgroupLayout l;

        layout_of("mountinfo-hybrid", &l);
        ASSERT_EQ_INT(l.mode, CGROUP_HYBRID);
        ASSERT_STREQ(cgroup_mode_to_string(l.mode), "hybrid");
        ASSERT_STREQ(l.v2_mount, "/sys/fs/cgroup/unified");
        ASSERT_STREQ(l.v1_controllers, "cpu, cpuacct, cpuset, memory, devices, freezer, blkio, pids");
        ASSERT_TRUE(l.v1_memory);
        cgroup_layout_done(&l);

        layout_of("mountinfo-v1only", &l);
        ASSERT_EQ_INT(l.mode, CGROUP_V1_ONLY);
        ASSERT_STREQ(cgroup_mode_to_string(l.mode), "v1 only");
        ASSERT_TRUE(l.v2_mount == NULL);
        cgroup_layout_done(&l);

        layout_of("mountinfo-v2", &l);
        ASSERT_EQ_INT(l.mode, CGROUP_PURE_V2);
        ASSERT_STREQ(cgroup_mode_to_string(l.mode), "pure v2");
        ASSERT_STREQ(l.v2_mount, "/sys/fs/cgroup");
        ASSERT_STREQ(l.v1_controllers, "");
        ASSERT_FALSE(l.v1_memory);
        cgroup_layout_done(&l);

        /* Escapes, optional fields, a tmpfs whose source is "cgroup2": the first real cgroup2 mount. */
        layout_of("mountinfo-escape", &l);
        ASSERT_EQ_INT(l.mode, CGROUP_PURE_V2);
        ASSERT_STREQ(l.v2_mount, "/run/cgroup v2\nx");
        cgroup_layout_done(&l);

        /* By hand: a named v1 hierarchy without controllers does not make it hybrid. */
        {
                static const char named[] =
                        "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
                        "31 30 0:27 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n";
                static const char cpu_twice[] = "32 1 0:29 / /a rw - cgroup cgroup rw,cpu,cpuacct\n"
                                                "33 1 0:29 / /b rw - cgroup cgroup rw,cpu,cpuacct\n"
                                                "34 1 0:30 / /c rw - cgroup cgroup rw,net_cls,net_prio\n"
                                                "35 1 0:31 / /d rw - tmpfs cgroup rw,memory\n";
                static const char garbage[] = "garbage without a separator\n";

                ASSERT_OK(cgroup_layout_parse(named, sizeof(named) - 1, &l));
                ASSERT_EQ_INT(l.mode, CGROUP_PURE_V2);
                cgroup_layout_done(&l);
                ASSERT_OK(cgroup_layout_parse(cpu_twice, sizeof(cpu_twice) - 1, &l));
                ASSERT_EQ_INT(l.mode, CGROUP_V1_ONLY);
                ASSERT_STREQ(l.v1_controllers, "cpu, cpuacct, net_cls, net_prio");
                ASSERT_FALSE(l.v1_memory);
                cgroup_layout_done(&l);
                /* A malformed line is an error, as the library's mountinfo parser says. */
                ASSERT_ERR(cgroup_layout_parse(garbage, sizeof(garbage) - 1, &l), -EBADMSG);
                ASSERT_OK(cgroup_layout_parse("", 0, &l));
                ASSERT_EQ_INT(l.mode, CGROUP_NONE);
                cgroup_layout_done(&l);
        }
}

static void test_small_parsers(void)
{
        unsigned major = 0, minor = 0;

        ASSERT_TRUE(word_list_contains("cpuset cpu io memory hugetlb pids\n", "memory"));
        ASSERT_TRUE(word_list_contains("cpuset cpu io memory hugetlb pids\n", "pids"));
        ASSERT_FALSE(word_list_contains("cpuset io", "cpu"));
        ASSERT_FALSE(word_list_contains("", "cpu"));
        ASSERT_FALSE(word_list_contains(NULL, "cpu"));
        ASSERT_TRUE(word_list_contains("cpu, memory", "memory"));

        ASSERT_OK(kernel_version_parse("6.18.44-fc-v595", &major, &minor));
        ASSERT_EQ_INT(major, 6);
        ASSERT_EQ_INT(minor, 18);
        ASSERT_OK(kernel_version_parse("5.2", &major, &minor));
        ASSERT_EQ_INT(minor, 2);
        ASSERT_ERR(kernel_version_parse("linux", &major, &minor), -EINVAL);
        ASSERT_ERR(kernel_version_parse("6", &major, &minor), -EINVAL);
        ASSERT_ERR(kernel_version_parse(NULL, &major, &minor), -EINVAL);
}

static void test_run_with_timeout(void)
{
        _cleanup_free_ char *sh = NULL;
        char out[16];

        ASSERT_OK(find_executable("sh", &sh));
        ASSERT_ERR(find_executable("no-such-program-memguard", &sh), -ENOENT);

        ASSERT_EQ_INT(run_with_timeout((char *const[]){sh, (char *)"-c",
                                                       (char *)"echo hi; echo err >&2; exit 3", NULL},
                                       5 * USEC_PER_SEC, out, sizeof(out)),
                      3);
        ASSERT_STREQ(out, "hi\nerr\n");
        /* Only the tail is kept. */
        ASSERT_EQ_INT(run_with_timeout((char *const[]){sh, (char *)"-c", (char *)"seq 1 1000", NULL},
                                       5 * USEC_PER_SEC, out, sizeof(out)),
                      0);
        ASSERT_STREQ(out, "7\n998\n999\n1000\n");
        /* Too slow: killed. */
        ASSERT_ERR(run_with_timeout((char *const[]){sh, (char *)"-c", (char *)"exec sleep 30", NULL},
                                    200 * USEC_PER_MSEC, out, sizeof(out)),
                   -ETIME);
        /* Cannot exec: 127, like a shell. */
        ASSERT_EQ_INT(run_with_timeout((char *const[]){(char *)"/nonexistent/criu", NULL}, USEC_PER_SEC, out,
                                       sizeof(out)),
                      127);
}

int main(void)
{
        test_sanitize();
        test_json_string_safe();
        test_format();
        test_table();
        test_parse_pid();
        test_match();
        test_cgroup_layout();
        test_small_parsers();
        test_run_with_timeout();
        return 0;
}
