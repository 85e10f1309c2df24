/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "psi.h"
#include "test.h"

#define MSEC(x) ((uint64_t)(x) * USEC_PER_MSEC)
#define SEC(x) ((uint64_t)(x) * USEC_PER_SEC)

/* Parse from an exact-size heap copy without a NUL, so ASan catches any read past len. */
static int parse_exact(const char *text, size_t len, PsiStats *ret)
{
        _cleanup_free_ char *copy = xmalloc0(len);

        memcpy(copy, text, len);
        return psi_parse(copy, len, ret);
}

static void assert_line_eq(const PsiLine *a, const PsiLine *b)
{
        ASSERT_EQ_INT(a->present, b->present);
        if (!b->present)
                return;
        ASSERT_NEAR(a->avg10, b->avg10, 1e-9);
        ASSERT_NEAR(a->avg60, b->avg60, 1e-9);
        ASSERT_NEAR(a->avg300, b->avg300, 1e-9);
        ASSERT_EQ_U64(a->total, b->total);
}

static void assert_stats_eq(const PsiStats *a, const PsiStats *b)
{
        assert_line_eq(&a->some, &b->some);
        assert_line_eq(&a->full, &b->full);
}

#define ZERO_LINE { true, 0, 0, 0, 0 }
#define LINE(a, b, c, t) { true, a, b, c, t }
#define SOME0 "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
#define FULL0 "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
#define NUL_IN_VALUE "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\0002\n"

typedef struct ParseCase {
        const char *name;
        const char *text;
        size_t len; /* 0: strlen(text) */
        int ret;
        PsiStats want;
} ParseCase;

static const ParseCase parse_cases[] = {
        /* What kernels write. */
        { "kernel", "some avg10=1.50 avg60=0.75 avg300=0.25 total=1234\n"
                    "full avg10=0.50 avg60=0.25 avg300=0.05 total=99\n",
          0, 0, { LINE(1.5, 0.75, 0.25, 1234), LINE(0.5, 0.25, 0.05, 99) } },
        { "some only (cpu before 5.13)", SOME0, 0, 0, { ZERO_LINE, {} } },
        { "full before some", FULL0 SOME0, 0, 0, { ZERO_LINE, ZERO_LINE } },
        { "keys in any order", "some total=7 avg300=3.00 avg10=1.00 avg60=2.00\n", 0, 0,
          { LINE(1, 2, 3, 7), {} } },
        { "unknown key ignored", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0 avg900=1.00 x=\n", 0, 0,
          { ZERO_LINE, {} } },
        { "unknown line ignored", SOME0 "peak avg10=1.00\n" FULL0, 0, 0, { ZERO_LINE, ZERO_LINE } },
        { "blank lines and blanks", "\n  some\tavg10=0.00  avg60=0.00 avg300=0.00 total=0 \n\n", 0, 0,
          { ZERO_LINE, {} } },
        { "boundaries", "some avg10=100.00 avg60=100 avg300=0 total=18446744073709551615\n", 0, 0,
          { LINE(100, 100, 0, UINT64_MAX), {} } },

        /* Missing, duplicated, malformed. */
        { "empty", "", 0, -EBADMSG, {} },
        { "newline only", "\n", 0, -EBADMSG, {} },
        { "garbage", "hello world\n", 0, -EBADMSG, {} },
        { "upper case kind", "SOME avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "full only", FULL0, 0, -EBADMSG, {} },
        { "some without fields", "some\n", 0, -EBADMSG, {} },
        { "duplicate some", SOME0 FULL0 SOME0, 0, -EBADMSG, {} },
        { "duplicate full", SOME0 FULL0 FULL0, 0, -EBADMSG, {} },
        { "duplicate key", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0 total=1\n", 0, -EBADMSG, {} },
        { "missing avg10", "some avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "missing avg60", "some avg10=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "missing avg300", "some avg10=0.00 avg60=0.00 total=0\n", 0, -EBADMSG, {} },
        { "missing total", "some avg10=0.00 avg60=0.00 avg300=0.00\n", 0, -EBADMSG, {} },
        { "missing key in full", SOME0 "full avg10=0.00 avg60=0.00 total=0\n", 0, -EBADMSG, {} },
        { "key without =", "some avg10 avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "empty key", "some =1 avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "a=b=c", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0 a=b=c\n", 0, -EBADMSG, {} },
        { "avg10=1=2", "some avg10=1=2 avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "empty value", "some avg10= avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "total overflows", "some avg10=0.00 avg60=0.00 avg300=0.00 total=99999999999999999999999\n", 0,
          -EBADMSG, {} },
        { "total is 2^64", "some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n", 0,
          -EBADMSG, {} },
        { "huge average", "some avg10=1000000000000000000000000000000000 avg60=0 avg300=0 total=0\n", 0,
          -EBADMSG, {} },
        { "negative average", "some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "negative total", "some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n", 0, -EBADMSG, {} },
        { "plus sign", "some avg10=+1.00 avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "average over 100", "some avg10=100.01 avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "exponent", "some avg10=1e2 avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "two dots", "some avg10=0.0.0 avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "hex", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0x10\n", 0, -EBADMSG, {} },
        { "nan", "some avg10=nan avg60=0.00 avg300=0.00 total=0\n", 0, -EBADMSG, {} },
        { "CRLF", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\r\n", 0, -EBADMSG, {} },
        { "NUL in value", NUL_IN_VALUE, sizeof(NUL_IN_VALUE) - 1, -EBADMSG, {} },
        /* Kernel files end in '\n'; without it the read was cut short and the number may be too. */
        { "no trailing newline", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0", 0, -EBADMSG, {} },
        { "truncated mid-line", SOME0 "full avg10=0.00 avg6", 0, -EBADMSG, {} },
        { "truncated mid-number", SOME0 "full avg10=0.00 avg60=0.00 avg300=0.00 total=12", 0, -EBADMSG, {} },
};

static void test_parse_table(void)
{
        for (size_t i = 0; i < ELEMENTSOF(parse_cases); i++) {
                const ParseCase *c = &parse_cases[i];
                size_t len = c->len ? c->len : strlen(c->text);
                PsiStats st, before;
                int r;

                fprintf(stderr, "   %s\n", c->name);
                memset(&st, 0xa5, sizeof(st));
                before = st;
                r = parse_exact(c->text, len, &st);
                ASSERT_ERR(r, c->ret);
                if (r == 0)
                        assert_stats_eq(&st, &c->want);
                else
                        ASSERT_TRUE(memcmp(&st, &before, sizeof(st)) == 0); /* untouched on failure */
        }

        /* Length is honoured: a valid prefix of a longer buffer. */
        {
                const char text[] = SOME0 "garbage that is not looked at";
                PsiStats st;
                ASSERT_OK(psi_parse(text, strlen(SOME0), &st));
                ASSERT_ERR(psi_parse(text, sizeof(text) - 1, &st), -EBADMSG);
                ASSERT_ERR(psi_parse(NULL, 0, &st), -EBADMSG);
        }
}

static int open_fixture(const char *sub)
{
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s/psi/%s", FIXTURES_DIR, sub);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        return fd;
}

/* Captured from this machine: /proc/pressure/ and a v2 child cgroup's *.pressure. */
static void test_read_real_fixtures(void)
{
        _cleanup_close_ int procfd = open_fixture("proc"), cgfd = open_fixture("cgroup");
        static const char *const cg_files[] = { "memory.pressure", "cpu.pressure", "io.pressure" };
        const PsiStats zero = { ZERO_LINE, ZERO_LINE };
        const PsiStats cpu = { LINE(0.03, 0.10, 0.10, 1214242), ZERO_LINE };
        const PsiStats io = { LINE(0.01, 0.10, 0.54, 5098863), LINE(0.00, 0.07, 0.52, 5041414) };
        PsiStats st;

        ASSERT_OK(psi_read_at(procfd, "pressure/memory", &st));
        assert_stats_eq(&st, &zero);
        ASSERT_OK(psi_read_at(procfd, "pressure/cpu", &st));
        assert_stats_eq(&st, &cpu);
        ASSERT_OK(psi_read_at(procfd, "pressure/io", &st));
        assert_stats_eq(&st, &io);
        ASSERT_ERR(psi_read_at(procfd, "pressure/irq", &st), -ENOENT);

        for (size_t i = 0; i < ELEMENTSOF(cg_files); i++) {
                ASSERT_OK(psi_read_at(cgfd, cg_files[i], &st));
                assert_stats_eq(&st, &zero);
        }
}

static void test_read_hostile_fixtures(void)
{
        static const struct {
                const char *file;
                int ret;
        } cases[] = {
                { "empty", -EBADMSG },
                { "garbage", -EBADMSG },
                { "no-trailing-newline", -EBADMSG },
                { "truncated-mid-line", -EBADMSG },
                { "truncated-mid-number", -EBADMSG },
                { "crlf", -EBADMSG },
                { "duplicate-some", -EBADMSG },
                { "duplicate-key", -EBADMSG },
                { "missing-total", -EBADMSG },
                { "missing-some", -EBADMSG },
                { "key-a-eq-b-eq-c", -EBADMSG },
                { "overflow-total", -EBADMSG },
                { "negative", -EBADMSG },
                { "avg-over-100", -EBADMSG },
                { "some-only", 0 },
                { "future-keys", 0 },
                { "too-big", -EFBIG }, /* valid, but larger than any PSI file: not parsed from a prefix */
                { "does-not-exist", -ENOENT },
        };
        _cleanup_close_ int fd = open_fixture("hostile");

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PsiStats st;
                fprintf(stderr, "   %s\n", cases[i].file);
                ASSERT_ERR(psi_read_at(fd, cases[i].file, &st), cases[i].ret);
        }
}

/* The running kernel's own files must parse. */
static void test_read_live(void)
{
        static const char *const files[] = {
                "/proc/pressure/memory",
                "/proc/pressure/cpu",
                "/proc/pressure/io",
        };
        PsiStats st;

        if (access("/proc/pressure/memory", F_OK) < 0) {
                fprintf(stderr, "   no /proc/pressure (CONFIG_PSI=n or psi=0), not tested\n");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                ASSERT_OK(psi_read_at(AT_FDCWD, files[i], &st));
                ASSERT_TRUE(st.some.present);
        }
}

static void test_trigger_format(void)
{
        char buf[64];

        ASSERT_EQ_INT(psi_trigger_format(buf, sizeof(buf), PSI_SOME, 150000, 1000000), 19);
        ASSERT_STREQ(buf, "some 150000 1000000");
        ASSERT_EQ_INT(psi_trigger_format(buf, sizeof(buf), PSI_FULL, 0, 0), 8);
        ASSERT_STREQ(buf, "full 0 0");
        ASSERT_EQ_INT(psi_trigger_format(buf, sizeof(buf), PSI_SOME, UINT64_MAX, UINT64_MAX), 46);
        ASSERT_STREQ(buf, "some 18446744073709551615 18446744073709551615");

        /* The NUL must fit too. */
        ASSERT_EQ_INT(psi_trigger_format(buf, 20, PSI_SOME, 150000, 1000000), 19);
        ASSERT_ERR(psi_trigger_format(buf, 19, PSI_SOME, 150000, 1000000), -ENOBUFS);
        ASSERT_ERR(psi_trigger_format(NULL, 0, PSI_SOME, 1, 2), -ENOBUFS);
        ASSERT_ERR(psi_trigger_format(buf, sizeof(buf), (PsiKind)7, 1, 2), -EINVAL);
}

static void test_trigger_fallback(void)
{
        static const struct {
                uint64_t stall, window, want_stall, want_window;
        } cases[] = {
                { MSEC(100), SEC(1), MSEC(200), SEC(2) },
                { MSEC(150), SEC(2), MSEC(150), SEC(2) },
                { MSEC(500), MSEC(500), SEC(2) - 1, SEC(2) }, /* stall == window: kept below */
                { SEC(1), SEC(3), 1333333, SEC(4) },
                { SEC(2), SEC(4), SEC(2), SEC(4) },
                { SEC(1), SEC(5), MSEC(1200), SEC(6) },
                { SEC(7), SEC(9), 7777777, SEC(10) },
                { SEC(10), SEC(10), SEC(10) - 1, SEC(10) },
                { SEC(5), SEC(20), MSEC(2500), SEC(10) },
                { SEC(30), SEC(20), SEC(10) - 1, SEC(10) },
                { 1, UINT64_MAX, 1, SEC(10) },
                { UINT64_MAX - 1, UINT64_MAX, SEC(10) - 1, SEC(10) },
                { UINT64_MAX, UINT64_MAX, SEC(10) - 1, SEC(10) },
                { 0, SEC(1), 1, SEC(2) },
                { MSEC(100), 0, MSEC(100), SEC(2) },
                { SEC(5), 0, SEC(2) - 1, SEC(2) },
        };
        uint64_t seed = 0x9e3779b97f4a7c15;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t stall = 0, window = 0;
                psi_trigger_fallback(cases[i].stall, cases[i].window, &stall, &window);
                fprintf(stderr, "   %" PRIu64 "/%" PRIu64 " -> %" PRIu64 "/%" PRIu64 "\n", cases[i].stall,
                        cases[i].window, stall, window);
                ASSERT_EQ_U64(stall, cases[i].want_stall);
                ASSERT_EQ_U64(window, cases[i].want_window);
        }
        psi_trigger_fallback(1, 2, NULL, NULL);

        /* Whatever goes in, what comes out is a trigger the kernel takes from anyone. */
        for (int i = 0; i < 100000; i++) {
                uint64_t stall, window, in_stall, in_window;
                char buf[32];

                seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
                in_window = i % 2 ? seed % SEC(30) : seed;
                in_stall = i % 3 && in_window ? seed % in_window : seed >> 3;
                psi_trigger_fallback(in_stall, in_window, &stall, &window);
                ASSERT_TRUE(window >= SEC(2) && window <= SEC(10) && window % SEC(2) == 0);
                ASSERT_TRUE(stall >= 1 && stall < window);
                ASSERT_TRUE(in_window < SEC(2) || window >= MIN(in_window, SEC(10))); /* rounded up */
                ASSERT_OK(psi_trigger_format(buf, sizeof(buf), PSI_FULL, stall, window));
        }
}

/* Where cgroup2 is mounted, from /proc/self/mountinfo (hybrid hosts have it at .../unified). */
static int find_cgroup2(char *ret, size_t size)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096];

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                char mnt[4096], fstype[256], *sep;
                size_t o = 0;

                sep = strstr(line, " - ");
                if (!sep || sscanf(sep, " - %255s", fstype) != 1 || strcmp(fstype, "cgroup2") != 0)
                        continue;
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
                        continue;
                /* Unescape \ooo (spaces and friends in the mount point). */
                for (const char *p = mnt; *p && o + 1 < size; o++) {
                        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
                            p[3] >= '0' && p[3] <= '7') {
                                ret[o] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                                p += 4;
                        } else
                                ret[o] = *p++;
                }
                ret[o] = 0;
                return 0;
        }
        return -ENOENT;
}

static char test_cgroup[4096];

static void remove_test_cgroup(void)
{
        if (test_cgroup[0])
                (void)rmdir(test_cgroup);
        test_cgroup[0] = 0;
}

static void on_abort(int sig)
{
        remove_test_cgroup(); /* rmdir() is async-signal-safe */
        signal(sig, SIG_DFL);
        raise(sig);
}

/* Does the kernel take "some 100000 1000000" from us? Tells which answer to expect. */
static int probe_1s_trigger(int cgfd)
{
        static const char trig[] = "some 100000 1000000";
        _cleanup_close_ int fd = openat(cgfd, "memory.pressure", O_RDWR | O_NONBLOCK | O_CLOEXEC);

        ASSERT_TRUE(fd >= 0);
        if (write(fd, trig, sizeof(trig)) == (ssize_t)sizeof(trig))
                return 0;
        return -errno;
}

static void assert_pollable_trigger(int fd)
{
        struct pollfd p = { .fd = fd, .events = POLLPRI };
        int r = poll(&p, 1, 0);

        ASSERT_TRUE(r >= 0);
        /* Without a registered trigger the kernel answers POLLERR|POLLPRI. */
        ASSERT_FALSE(p.revents & (POLLERR | POLLNVAL | POLLHUP));
}

static void test_trigger_real(void)
{
        _cleanup_close_ int cgfd = -1, fd = -1, fd2 = -1, fd3 = -1, fd4 = -1, plain = -1;
        uint64_t stall = 0, window = 0;
        char mnt[2048];
        int probe;

        if (geteuid() != 0)
                test_skip("trigger test needs root to create a cgroup");
        if (find_cgroup2(mnt, sizeof(mnt)) < 0)
                test_skip("no cgroup2 mount in /proc/self/mountinfo");

        snprintf(test_cgroup, sizeof(test_cgroup), "%s/memguard-test-psi-%d", mnt, (int)getpid());
        signal(SIGABRT, on_abort);
        if (mkdir(test_cgroup, 0755) < 0) {
                test_cgroup[0] = 0;
                test_skip("cannot create a cgroup2 child");
        }
        fprintf(stderr, "   cgroup %s\n", test_cgroup);
        cgfd = open(test_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(cgfd >= 0);
        if (faccessat(cgfd, "memory.pressure", F_OK, 0) < 0) {
                remove_test_cgroup();
                test_skip("cgroup2 has no memory.pressure (PSI disabled)");
        }

        /* 1 s window: EINVAL without CAP_SYS_RESOURCE, so we must fall back to 2 s. */
        probe = probe_1s_trigger(cgfd);
        fprintf(stderr, "   a 1 s trigger written directly: %s\n", probe < 0 ? STRERROR(probe) : "accepted");
        ASSERT_TRUE(probe == 0 || probe == -EINVAL);
        fd = psi_trigger_open_at(cgfd, "memory.pressure", PSI_SOME, MSEC(100), SEC(1), &stall, &window);
        ASSERT_OK(fd);
        if (probe == -EINVAL) {
                ASSERT_EQ_U64(window, SEC(2));
                ASSERT_EQ_U64(stall, MSEC(200));
        } else {
                ASSERT_EQ_U64(window, SEC(1));
                ASSERT_EQ_U64(stall, MSEC(100));
        }
        assert_pollable_trigger(fd);

        /* Contrast: the same file without a trigger polls as an error. */
        plain = openat(cgfd, "memory.pressure", O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(plain >= 0);
        {
                struct pollfd p = { .fd = plain, .events = POLLPRI };
                ASSERT_TRUE(poll(&p, 1, 0) >= 0);
                ASSERT_TRUE(p.revents & POLLERR);
        }

        /*
         * A 2 s window is taken as is. Had the NUL not been written, the kernel
         * would have read "full 150000 200000" (a 200 ms window) and refused it.
         */
        fd2 = psi_trigger_open_at(cgfd, "memory.pressure", PSI_FULL, MSEC(150), SEC(2), &stall, &window);
        ASSERT_OK(fd2);
        ASSERT_EQ_U64(window, SEC(2));
        ASSERT_EQ_U64(stall, MSEC(150));
        assert_pollable_trigger(fd2);

        /* Over the kernel's 10 s maximum: falls back to 10 s, whoever we are. */
        fd3 = psi_trigger_open_at(cgfd, "memory.pressure", PSI_SOME, SEC(4), SEC(20), &stall, &window);
        ASSERT_OK(fd3);
        ASSERT_EQ_U64(window, SEC(10));
        ASSERT_EQ_U64(stall, SEC(2));
        assert_pollable_trigger(fd3);

        /* NULL outputs are fine. */
        fd4 = psi_trigger_open_at(cgfd, "memory.pressure", PSI_SOME, MSEC(100), SEC(1), NULL, NULL);
        ASSERT_OK(fd4);

        /* Refused before asking the kernel; outputs untouched. */
        stall = window = 42;
        ASSERT_ERR(psi_trigger_open_at(cgfd, "memory.pressure", PSI_SOME, 0, SEC(2), &stall, &window),
                   -EINVAL);
        ASSERT_ERR(psi_trigger_open_at(cgfd, "memory.pressure", PSI_SOME, SEC(3), SEC(2), &stall, &window),
                   -EINVAL);
        ASSERT_ERR(psi_trigger_open_at(cgfd, "memory.pressure", PSI_SOME, 1, 0, &stall, &window), -EINVAL);
        ASSERT_ERR(psi_trigger_open_at(cgfd, "memory.pressure", (PsiKind)9, 1, SEC(2), &stall, &window),
                   -EINVAL);
        ASSERT_ERR(psi_trigger_open_at(cgfd, "no.such.file", PSI_SOME, 1, SEC(2), &stall, &window), -ENOENT);
        /* cgroup.procs is writable but no PSI file: the write fails, and not with a fallback. */
        ASSERT_TRUE(psi_trigger_open_at(cgfd, "cgroup.procs", PSI_SOME, 1, SEC(2), &stall, &window) < 0);
        ASSERT_EQ_U64(stall, 42);
        ASSERT_EQ_U64(window, 42);

        /* The system-wide file takes triggers too. */
        if (access("/proc/pressure/memory", W_OK) == 0) {
                _cleanup_close_ int sysfd = psi_trigger_open_at(AT_FDCWD, "/proc/pressure/memory", PSI_SOME,
                                                                MSEC(100), SEC(1), &stall, &window);
                ASSERT_OK(sysfd);
                ASSERT_TRUE(window == SEC(1) || window == SEC(2));
                assert_pollable_trigger(sysfd);
        }

        /*
         * Triggers do not keep the cgroup: it goes with the fds still open. From
         * then on the fd polls POLLERR|POLLPRI for good: a caller that looks at
         * POLLPRI alone would take a removed cgroup for endless pressure.
         */
        ASSERT_TRUE(rmdir(test_cgroup) == 0);
        test_cgroup[0] = 0;
        {
                struct pollfd p = { .fd = fd, .events = POLLPRI };
                ASSERT_EQ_INT(poll(&p, 1, 0), 1);
                ASSERT_TRUE(p.revents & POLLERR);
                ASSERT_TRUE(p.revents & POLLPRI);
        }
}

int main(void)
{
        RUN(test_parse_table);
        RUN(test_read_real_fixtures);
        RUN(test_read_hostile_fixtures);
        RUN(test_read_live);
        RUN(test_trigger_format);
        RUN(test_trigger_fallback);
        RUN(test_trigger_real); /* last: may skip the rest */
        return 0;
}
