/* SPDX-License-Identifier: MIT */
/* The console form of structured log lines: "message key=value ...". */
#include <fcntl.h>
#include <unistd.h>

#include "log.h"
#include "test.h"

/* Capture what is logged to stderr while running f. */
static void capture(void (*f)(void), char *out, size_t size)
{
        char tmpl[] = "/tmp/memguard-test-log.XXXXXX";
        int fd = mkstemp(tmpl), saved = dup(STDERR_FILENO);
        ssize_t n;

        ASSERT_TRUE(fd >= 0 && saved >= 0);
        fflush(stderr);
        dup2(fd, STDERR_FILENO);
        f();
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        n = pread(fd, out, size - 1, 0);
        ASSERT_TRUE(n >= 0);
        out[n] = 0;
        close(fd);
        unlink(tmpl);
}

static void log_level_line(void)
{
        log_struct(LOG_WARNING, "pressure rising", "level=high", "score=0.412", "why=two words", "q=a\"b",
                   NULL);
}

static void log_hostile_line(void)
{
        log_struct(LOG_INFO, "candidate", "comm=x) R 1\n(y", "exe=\x1b[31mred", NULL);
}

static void log_debug_line(void)
{
        log_debug("this must not appear");
        log_info("info %d", 42);
}

static void test_struct_console(void)
{
        char buf[512];

        log_setup(LOG_TARGET_CONSOLE);
        log_set_max_level(LOG_INFO);
        capture(log_level_line, buf, sizeof(buf));
        ASSERT_STREQ(buf, "warning: pressure rising level=high score=0.412 why=\"two words\" q=\"a\\\"b\"\n");
}

static void test_hostile_values(void)
{
        char buf[512];

        log_setup(LOG_TARGET_CONSOLE);
        log_set_max_level(LOG_INFO);
        capture(log_hostile_line, buf, sizeof(buf));
        /* One line, no terminal escapes. */
        ASSERT_STREQ(buf, "candidate comm=\"x) R 1 (y\" exe=\"?[31mred\"\n");
}

static void test_level_filter(void)
{
        char buf[512];

        log_setup(LOG_TARGET_CONSOLE);
        log_set_max_level(LOG_INFO);
        capture(log_debug_line, buf, sizeof(buf));
        ASSERT_STREQ(buf, "info 42\n");
}

static void test_errno_return(void)
{
        log_set_max_level(LOG_EMERG); /* silent */
        ASSERT_EQ_INT(log_error_errno(-ENOENT, "x"), -ENOENT);
        ASSERT_EQ_INT(log_error_errno(ENOENT, "x"), -ENOENT);
}

static void test_journal_detection(void)
{
        /* JOURNAL_STREAM that does not match stderr must not switch to the journal. */
        setenv("JOURNAL_STREAM", "1:1", 1);
        log_setup(LOG_TARGET_AUTO);
        ASSERT_FALSE(log_is_journal());
        unsetenv("JOURNAL_STREAM");
        log_setup(LOG_TARGET_AUTO);
        ASSERT_FALSE(log_is_journal());
}

int main(void)
{
        RUN(test_struct_console);
        RUN(test_hostile_values);
        RUN(test_level_filter);
        RUN(test_errno_return);
        RUN(test_journal_detection);
        return 0;
}
