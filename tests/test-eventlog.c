/* SPDX-License-Identifier: MIT */
/*
 * The JSON event log and its structured log line: fields round-trip, hostile
 * process names stay on one line of valid UTF-8, rotation keeps every file
 * under the cap and keep_files old ones, and unusable directories are refused
 * at open time with a clear errno.
 */
#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eventlog.h"
#include "fileio.h"
#include "log.h"
#include "test.h"

static char *make_tmpdir(void)
{
        char *d = xstrdup("/tmp/memguard-test-eventlog.XXXXXX");
        ASSERT_TRUE(mkdtemp(d));
        return d;
}

static void rm_rf(const char *path)
{
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
        ASSERT_EQ_INT(system(cmd), 0);
}

static char *read_text(const char *dir, const char *name)
{
        char path[4200];
        char *buf;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        ASSERT_OK(read_full_file_at(AT_FDCWD, path, 1 << 24, &buf, NULL));
        return buf;
}

static off_t file_size(const char *dir, const char *name)
{
        char path[4200];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (stat(path, &st) < 0)
                return -1;
        return st.st_size;
}

/* Split into lines (each must end in '\n'); returns how many. */
static size_t split_lines(char *buf, char **lines, size_t max)
{
        size_t n = 0;
        char *p = buf;

        while (*p) {
                char *nl = strchr(p, '\n');
                ASSERT_TRUE(nl); /* the last line is complete */
                *nl = 0;
                ASSERT_TRUE(n < max);
                lines[n++] = p;
                p = nl + 1;
        }
        return n;
}

static json_object *get(json_object *o, const char *key)
{
        json_object *v = NULL;
        ASSERT_TRUE(json_object_object_get_ex(o, key, &v));
        return v;
}

/* Run f with stderr captured into out. */
static void capture(void (*f)(void *), void *userdata, char *out, size_t size)
{
        char tmpl[] = "/tmp/memguard-test-eventlog-log.XXXXXX";
        int fd = mkstemp(tmpl), saved = dup(STDERR_FILENO);
        ssize_t n;

        ASSERT_TRUE(fd >= 0 && saved >= 0);
        fflush(stderr);
        dup2(fd, STDERR_FILENO);
        f(userdata);
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        n = pread(fd, out, size - 1, 0);
        ASSERT_TRUE(n >= 0);
        out[n] = 0;
        close(fd);
        unlink(tmpl);
}

static void test_append_and_parse(void)
{
        _cleanup_free_ char *tmp = make_tmpdir(), *buf = NULL;
        _cleanup_(eventlog_closep) EventLog *el = NULL;
        static const char *const actions[] = {"freeze", "thaw", "kill", "checkpoint", "throttle", "reclaim"};
        char dir[4200], *lines[64];
        struct stat st;
        size_t n;

        /* Missing parents are created too. */
        snprintf(dir, sizeof(dir), "%s/var/lib/memguard", tmp);
        ASSERT_OK(eventlog_open(dir, 1 << 20, 3, &el));
        ASSERT_TRUE(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0700);

        for (int i = 0; i < 30; i++) {
                Event ev = {
                        .time_usec = UINT64_C(1700000000000000) + (uint64_t)i * USEC_PER_SEC + 123,
                        .action = actions[i % ELEMENTSOF(actions)],
                        .target = {.pid = 1000 + i,
                                   .has_uid = true,
                                   .uid = 1000,
                                   .comm = "firefox",
                                   .app = "org.mozilla.firefox",
                                   .unit = "app-gnome-org.mozilla.firefox-42.scope",
                                   .cgroup = "/user.slice/user-1000.slice/app.slice/x.scope"},
                        .reason = "largest growth in the last minute",
                        .figures = {EVENT_FIGURE_U64("rss_bytes", (UINT64_C(5) << 30) + (uint64_t)i),
                                    EVENT_FIGURE_U64("swap_bytes", UINT64_MAX),
                                    EVENT_FIGURE_DOUBLE("score", 0.41 + i / 100.0),
                                    EVENT_FIGURE_DOUBLE("trend", NAN)},
                        .n_figures = 4,
                        .dry_run = i % 5 == 0,
                        .error = i % 7 == 3 ? -ESRCH : 0,
                };
                log_set_max_level(LOG_EMERG);
                ASSERT_OK(eventlog_append(el, &ev));
                log_set_max_level(LOG_INFO);
        }
        ASSERT_TRUE(stat(dir, &st) == 0);
        ASSERT_EQ_INT(file_size(dir, "events.jsonl.1"), -1);
        {
                char path[4300];
                snprintf(path, sizeof(path), "%s/events.jsonl", dir);
                ASSERT_TRUE(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
        }

        buf = read_text(dir, "events.jsonl");
        n = split_lines(buf, lines, ELEMENTSOF(lines));
        ASSERT_EQ_INT(n, 30);
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_object *o = json_tokener_parse(lines[i]);
                json_object *t, *f;
                char iso[64];

                ASSERT_TRUE(o);
                ASSERT_EQ_U64(json_object_get_uint64(get(o, "time_usec")),
                              UINT64_C(1700000000000000) + i * USEC_PER_SEC + 123);
                ASSERT_STREQ(json_object_get_string(get(o, "time")),
                             format_time_iso(UINT64_C(1700000000000000) + i * USEC_PER_SEC + 123, iso,
                                             sizeof(iso)));
                ASSERT_STREQ(json_object_get_string(get(o, "action")), actions[i % ELEMENTSOF(actions)]);
                t = get(o, "target");
                ASSERT_EQ_INT(json_object_get_int(get(t, "pid")), 1000 + (int)i);
                ASSERT_EQ_INT(json_object_get_int(get(t, "uid")), 1000);
                ASSERT_STREQ(json_object_get_string(get(t, "comm")), "firefox");
                ASSERT_STREQ(json_object_get_string(get(t, "app")), "org.mozilla.firefox");
                ASSERT_STREQ(json_object_get_string(get(t, "unit")),
                             "app-gnome-org.mozilla.firefox-42.scope");
                ASSERT_STREQ(json_object_get_string(get(t, "cgroup")),
                             "/user.slice/user-1000.slice/app.slice/x.scope");
                ASSERT_STREQ(json_object_get_string(get(o, "reason")), "largest growth in the last minute");
                f = get(o, "figures");
                ASSERT_EQ_U64(json_object_get_uint64(get(f, "rss_bytes")), (UINT64_C(5) << 30) + i);
                ASSERT_EQ_U64(json_object_get_uint64(get(f, "swap_bytes")), UINT64_MAX);
                ASSERT_NEAR(json_object_get_double(get(f, "score")), 0.41 + (double)i / 100.0, 1e-9);
                ASSERT_TRUE(json_object_is_type(get(f, "trend"), json_type_null));
                ASSERT_EQ_INT(json_object_get_boolean(get(o, "dry_run")), i % 5 == 0);
                if (i % 7 == 3) {
                        ASSERT_STREQ(json_object_get_string(get(o, "result")), "failed");
                        ASSERT_STREQ(json_object_get_string(get(o, "error")), strerror(ESRCH));
                        ASSERT_EQ_INT(json_object_get_int(get(o, "errno")), ESRCH);
                } else {
                        ASSERT_STREQ(json_object_get_string(get(o, "result")), "ok");
                        ASSERT_FALSE(json_object_object_get_ex(o, "error", NULL));
                }
        }

        /* An event without a target: no empty strings, no pid 0. */
        {
                Event ev = {.action = "level",
                            .reason = "normal -> high",
                            .figures = {EVENT_FIGURE_DOUBLE("score", 0.5)},
                            .n_figures = 1};
                _cleanup_json_ json_object *o = NULL;
                ASSERT_OK(event_to_json(&ev, &o));
                ASSERT_EQ_INT(json_object_object_length(get(o, "target")), 0);
                ASSERT_TRUE(json_object_get_uint64(get(o, "time_usec")) > UINT64_C(1600000000000000));
        }
        rm_rf(tmp);
}

static void test_invalid_events(void)
{
        _cleanup_free_ char *tmp = make_tmpdir();
        _cleanup_(eventlog_closep) EventLog *el = NULL;
        Event ev = {.action = "kill"};

        ASSERT_OK(eventlog_open(tmp, 4096, 1, &el));
        ASSERT_ERR(eventlog_append(el, &(Event){.action = NULL}), -EINVAL);
        ASSERT_ERR(eventlog_append(el, &(Event){.action = ""}), -EINVAL);
        ASSERT_ERR(eventlog_append(el, &(Event){.action = "Kill!"}), -EINVAL);
        ASSERT_ERR(eventlog_append(el, &(Event){.action = "kill\nx"}), -EINVAL);
        ev.figures[0] = EVENT_FIGURE_U64("rss bytes", 1);
        ev.n_figures = 1;
        ASSERT_ERR(eventlog_append(el, &ev), -EINVAL);
        ev.figures[0] = EVENT_FIGURE_U64("rss=1 pid", 1);
        ASSERT_ERR(eventlog_append(el, &ev), -EINVAL);
        ev.figures[0] = EVENT_FIGURE_U64("rss_bytes", 1);
        ev.n_figures = EVENT_FIGURES_MAX + 1;
        ASSERT_ERR(eventlog_append(el, &ev), -EINVAL);
        ASSERT_EQ_INT(file_size(tmp, "events.jsonl"), 0);
        ASSERT_ERR(eventlog_open(tmp, 100, 1, &(EventLog *){NULL}), -EINVAL);
        ASSERT_ERR(eventlog_open(tmp, 4096, 100, &(EventLog *){NULL}), -EINVAL);
        rm_rf(tmp);
}

/* Hostile names: newlines, quotes, terminal escapes, invalid UTF-8. */
static const char *const hostile[] = {
        "evil\n{\"action\":\"kill\",\"target\":{\"pid\":1}}",
        "quote\" back\\slash \r\t\x01\x1b[31mred\x7f",
        "bad\xff\xfe \xc0\xaf overlong \xed\xa0\x80 surrogate \xf4\x90\x80\x80 big \xe2\x82",
        "c1 \xc2\23331m csi, ok: \xe2\x80\xa8 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", /* \233: CSI */
        "/slash/ )( x) R 1 1 1 (y",
};
/* What each reads back as: valid UTF-8 kept byte for byte, invalid bytes as "\xNN". */
static const char *const hostile_back[] = {
        "evil\n{\"action\":\"kill\",\"target\":{\"pid\":1}}",
        "quote\" back\\slash \r\t\x01\x1b[31mred\x7f",
        "bad\\xff\\xfe \\xc0\\xaf overlong \\xed\\xa0\\x80 surrogate \\xf4\\x90\\x80\\x80 big \\xe2\\x82",
        "c1 \xc2\23331m csi, ok: \xe2\x80\xa8 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", /* \233: CSI */
        "/slash/ )( x) R 1 1 1 (y",
};

typedef struct AppendArgs {
        EventLog *el;
        const Event *ev;
} AppendArgs;

static void append_cb(void *userdata)
{
        AppendArgs *a = userdata;
        ASSERT_OK(eventlog_append(a->el, a->ev));
}

static void test_hostile_names(void)
{
        _cleanup_free_ char *tmp = make_tmpdir(), *buf = NULL;
        _cleanup_(eventlog_closep) EventLog *el = NULL;
        char *lines[16], logged[4096];
        size_t n;

        log_setup(LOG_TARGET_CONSOLE);
        log_set_max_level(LOG_INFO);
        ASSERT_OK(eventlog_open(tmp, 1 << 20, 1, &el));
        for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
                Event ev = {
                        .action = "freeze",
                        .target = {.pid = 7, .comm = hostile[i], .app = hostile[i], .cgroup = hostile[i]},
                        .reason = hostile[i]};
                AppendArgs a = {el, &ev};

                capture(append_cb, &a, logged, sizeof(logged));
                fprintf(stderr, "  log: %s", logged);
                /* The log line: one line, no control characters, no invalid UTF-8. */
                ASSERT_TRUE(strchr(logged, '\n') == logged + strlen(logged) - 1);
                for (const char *c = logged; *c != '\n'; c++)
                        ASSERT_TRUE((unsigned char)*c >= 0x20 && *c != 0x7f);
                ASSERT_TRUE(g_utf8_validate(logged, -1, NULL));
                ASSERT_TRUE(strstr(logged, " action=freeze pid=7 comm="));
        }

        buf = read_text(tmp, "events.jsonl");
        ASSERT_TRUE(g_utf8_validate(buf, -1, NULL));
        n = split_lines(buf, lines, ELEMENTSOF(lines));
        ASSERT_EQ_INT(n, ELEMENTSOF(hostile));
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_object *o = NULL;
                json_tokener *tok = json_tokener_new();

                /* Strict parse, UTF-8 validated, and the whole line is one object. */
                json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
                o = json_tokener_parse_ex(tok, lines[i], (int)strlen(lines[i]));
                ASSERT_TRUE(o);
                ASSERT_EQ_INT(json_tokener_get_error(tok), json_tokener_success);
                ASSERT_EQ_INT(json_tokener_get_parse_end(tok), strlen(lines[i]));
                json_tokener_free(tok);
                ASSERT_STREQ(json_object_get_string(get(get(o, "target"), "comm")), hostile_back[i]);
                ASSERT_STREQ(json_object_get_string(get(get(o, "target"), "app")), hostile_back[i]);
                ASSERT_STREQ(json_object_get_string(get(get(o, "target"), "cgroup")), hostile_back[i]);
                ASSERT_STREQ(json_object_get_string(get(o, "reason")), hostile_back[i]);
                ASSERT_STREQ(json_object_get_string(get(o, "action")), "freeze");
        }
        rm_rf(tmp);
}

static void test_sanitize(void)
{
        char buf[64];

        ASSERT_STREQ(utf8_sanitize(NULL, true, buf, sizeof(buf)), "");
        ASSERT_STREQ(utf8_sanitize("a\nb", true, buf, sizeof(buf)), "a\\x0ab");
        ASSERT_STREQ(utf8_sanitize("a\nb", false, buf, sizeof(buf)), "a\nb");
        ASSERT_STREQ(utf8_sanitize("\xc2\x9b", true, buf, sizeof(buf)), "\\xc2\\x9b");
        ASSERT_STREQ(utf8_sanitize("\xc2\xa0", true, buf, sizeof(buf)), "\xc2\xa0");
        /* U+2028 line separator, U+202E right-to-left override: escaped only for text */
        ASSERT_STREQ(utf8_sanitize("a\xe2\x80\xa8z\xe2\x80\xae", true, buf, sizeof(buf)),
                     "a\\xe2\\x80\\xa8z\\xe2\\x80\\xae");
        ASSERT_STREQ(utf8_sanitize("a\xe2\x80\xa8z", false, buf, sizeof(buf)), "a\xe2\x80\xa8z");
        ASSERT_STREQ(utf8_sanitize("\xe2\x80\x94\xe2\x81\xa6", true, buf, sizeof(buf)),
                     "\xe2\x80\x94\\xe2\\x81\\xa6");
        /* Truncation never splits a character or an escape. */
        ASSERT_STREQ(utf8_sanitize("ab\xe6\x97\xa5", false, buf, 5), "ab");
        ASSERT_STREQ(utf8_sanitize("ab\xff", false, buf, 6), "ab");
        ASSERT_STREQ(utf8_sanitize("ab\xff", false, buf, 7), "ab\\xff");
        ASSERT_STREQ(format_double(0.41, buf, sizeof(buf)), "0.41");
        ASSERT_STREQ(format_double(INFINITY, buf, sizeof(buf)), "null");
        ASSERT_STREQ(format_time_iso(UINT64_C(1700000000000001), buf, sizeof(buf)),
                     "2023-11-14T22:13:20.000001Z");
}

static void test_log_line(void)
{
        Event ev = {
                .action = "kill",
                .target = {.pid = 123,
                           .has_uid = true,
                           .uid = 1000,
                           .comm = "firefox",
                           .app = "org.mozilla.firefox"},
                .reason = "grew fast",
                .figures = {EVENT_FIGURE_U64("rss_bytes", UINT64_C(5368709120)),
                            EVENT_FIGURE_DOUBLE("score", 0.41)},
                .n_figures = 2,
        };
        AppendArgs a = {NULL, &ev};
        char logged[1024];

        log_setup(LOG_TARGET_CONSOLE);
        log_set_max_level(LOG_INFO);
        capture(append_cb, &a, logged, sizeof(logged));
        ASSERT_STREQ(
                logged,
                "warning: killed firefox (pid 123): grew fast action=kill pid=123 uid=1000 comm=firefox "
                "app=org.mozilla.firefox reason=\"grew fast\" result=ok rss_bytes=5368709120 score=0.41\n");

        ev.action = "freeze";
        ev.dry_run = true;
        ev.n_figures = 0;
        capture(append_cb, &a, logged, sizeof(logged));
        ASSERT_STREQ(
                logged,
                "dry run: would have frozen firefox (pid 123): grew fast action=freeze pid=123 uid=1000 "
                "comm=firefox app=org.mozilla.firefox reason=\"grew fast\" dry_run=yes result=ok\n");

        ev.dry_run = false;
        ev.error = -EPERM;
        ev.target = (EventTarget){.app = "org.example.App"};
        capture(append_cb, &a, logged, sizeof(logged));
        ASSERT_STREQ(logged,
                     "warning: freeze org.example.App failed: Operation not permitted; reason: grew fast "
                     "action=freeze app=org.example.App reason=\"grew fast\" result=failed "
                     "error=\"Operation not permitted\"\n");
}

static void append_seq(EventLog *el, unsigned seq, size_t reason_len)
{
        char reason[8192];
        Event ev = {.action = "reclaim",
                    .reason = reason,
                    .figures = {EVENT_FIGURE_U64("seq", seq)},
                    .n_figures = 1};

        ASSERT_TRUE(reason_len < sizeof(reason));
        memset(reason, 'r', reason_len);
        reason[reason_len] = 0;
        ASSERT_OK(eventlog_append(el, &ev));
}

/* Sequence numbers in one file, in order; returns how many lines. */
static size_t read_seqs(const char *dir, const char *name, unsigned *seqs, size_t max)
{
        _cleanup_free_ char *buf = read_text(dir, name);
        char *lines[512];
        size_t n = split_lines(buf, lines, ELEMENTSOF(lines));

        ASSERT_TRUE(n <= max);
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_object *o = json_tokener_parse(lines[i]);
                ASSERT_TRUE(o);
                seqs[i] = (unsigned)json_object_get_uint64(get(get(o, "figures"), "seq"));
        }
        return n;
}

static void test_rotation(void)
{
        _cleanup_free_ char *tmp = make_tmpdir();
        _cleanup_(eventlog_closep) EventLog *el = NULL;
        static const char *const files[] = {"events.jsonl.3", "events.jsonl.2", "events.jsonl.1",
                                            "events.jsonl"};
        const uint64_t max = 2048;
        unsigned seqs[64], expect;
        off_t size;

        log_set_max_level(LOG_EMERG);
        ASSERT_OK(eventlog_open(tmp, max, 3, &el));
        for (unsigned i = 0; i < 300; i++) {
                append_seq(el, i, 100 + i % 50);
                size = file_size(tmp, "events.jsonl");
                ASSERT_TRUE(size > 0 && (uint64_t)size <= max);
        }
        ASSERT_EQ_INT(file_size(tmp, "events.jsonl.4"), -1);

        /* Oldest to newest, the kept files hold consecutive events ending with the last one. */
        expect = UINT32_MAX;
        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                size_t n = read_seqs(tmp, files[f], seqs, ELEMENTSOF(seqs));
                size = file_size(tmp, files[f]);
                ASSERT_TRUE(n > 0 && (uint64_t)size <= max);
                /* A file was rotated only when the next line (< 320 bytes) did not fit. */
                if (f + 1 < ELEMENTSOF(files))
                        ASSERT_TRUE((uint64_t)size + 320 > max);
                for (size_t i = 0; i < n; i++) {
                        if (expect != UINT32_MAX)
                                ASSERT_EQ_INT(seqs[i], expect);
                        expect = seqs[i] + 1;
                }
        }
        ASSERT_EQ_INT(expect, 300);

        /* One line longer than the cap goes alone into a fresh file. */
        append_seq(el, 300, 3000);
        size = file_size(tmp, "events.jsonl");
        ASSERT_TRUE((uint64_t)size > max && (uint64_t)size < max + 3200);
        ASSERT_EQ_INT(read_seqs(tmp, "events.jsonl", seqs, ELEMENTSOF(seqs)), 1);
        append_seq(el, 301, 10);
        ASSERT_EQ_INT(read_seqs(tmp, "events.jsonl", seqs, ELEMENTSOF(seqs)), 1);
        ASSERT_EQ_INT(seqs[0], 301);
        ASSERT_EQ_INT(read_seqs(tmp, "events.jsonl.1", seqs, ELEMENTSOF(seqs)), 1);
        ASSERT_EQ_INT(seqs[0], 300);
        el = eventlog_close(el);

        /* Fewer files kept after a restart: the extra old ones go at the next rotation. */
        ASSERT_OK(eventlog_open(tmp, max, 1, &el));
        for (unsigned i = 0; i < 30; i++)
                append_seq(el, 400 + i, 100);
        ASSERT_TRUE(file_size(tmp, "events.jsonl.1") > 0);
        ASSERT_EQ_INT(file_size(tmp, "events.jsonl.2"), -1);
        ASSERT_EQ_INT(file_size(tmp, "events.jsonl.3"), -1);
        el = eventlog_close(el);

        /* keep_files = 0: the file starts over. */
        ASSERT_OK(eventlog_open(tmp, max, 0, &el));
        for (unsigned i = 0; i < 30; i++)
                append_seq(el, 500 + i, 100);
        ASSERT_EQ_INT(file_size(tmp, "events.jsonl.1"), -1);
        ASSERT_TRUE((uint64_t)file_size(tmp, "events.jsonl") <= max);
        log_set_max_level(LOG_INFO);
        rm_rf(tmp);
}

static void test_unusable_dirs(void)
{
        _cleanup_free_ char *tmp = make_tmpdir();
        EventLog *el = NULL;
        char path[4200], target[4200];
        pid_t pid;
        int status, r;

        /* A regular file where a directory should be. */
        snprintf(path, sizeof(path), "%s/file", tmp);
        ASSERT_TRUE(close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) == 0);
        ASSERT_ERR(eventlog_open(path, 4096, 1, &el), -ENOTDIR);
        snprintf(path, sizeof(path), "%s/file/sub", tmp);
        ASSERT_ERR(eventlog_open(path, 4096, 1, &el), -ENOTDIR);
        ASSERT_ERR(eventlog_open("", 4096, 1, &el), -EINVAL);

        /* events.jsonl a symlink (to somewhere an attacker wants written), or a FIFO. */
        snprintf(path, sizeof(path), "%s/link", tmp);
        ASSERT_TRUE(mkdir(path, 0700) == 0);
        snprintf(path, sizeof(path), "%s/link/events.jsonl", tmp);
        snprintf(target, sizeof(target), "%s/victim", tmp);
        ASSERT_TRUE(symlink(target, path) == 0);
        snprintf(path, sizeof(path), "%s/link", tmp);
        ASSERT_ERR(eventlog_open(path, 4096, 1, &el), -ELOOP);
        ASSERT_TRUE(access(target, F_OK) < 0);
        snprintf(path, sizeof(path), "%s/fifo", tmp);
        ASSERT_TRUE(mkdir(path, 0700) == 0);
        snprintf(path, sizeof(path), "%s/fifo/events.jsonl", tmp);
        ASSERT_TRUE(mkfifo(path, 0600) == 0);
        snprintf(path, sizeof(path), "%s/fifo", tmp);
        r = eventlog_open(path, 4096, 1, &el); /* never blocks: ENXIO without a reader, else not a file */
        ASSERT_TRUE(r == -ENXIO || r == -EBADFD);

        /* A directory we may not write to (as nobody when running as root). */
        snprintf(path, sizeof(path), "%s/ro", tmp);
        ASSERT_TRUE(mkdir(path, 0755) == 0);
        ASSERT_TRUE(chmod(tmp, 0755) == 0);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                char sub[4300];
                /* The child does not need it; freed so that valgrind's leak check in the child passes. */
                free(TAKE_PTR(tmp));
                if (geteuid() == 0) {
                        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                                _exit(10);
                } else if (chmod(path, 0555) < 0)
                        _exit(11);
                /* existing but read-only directory */
                if (eventlog_open(path, 4096, 1, &el) != -EACCES)
                        _exit(12);
                /* cannot be created */
                snprintf(sub, sizeof(sub), "%s/sub", path);
                if (eventlog_open(sub, 4096, 1, &el) != -EACCES)
                        _exit(13);
                _exit(0);
        }
        ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ_INT(WEXITSTATUS(status), 0);
        ASSERT_TRUE(el == NULL);
        rm_rf(tmp);
}

int main(void)
{
        log_setup(LOG_TARGET_CONSOLE);
        RUN(test_sanitize);
        RUN(test_append_and_parse);
        RUN(test_invalid_events);
        RUN(test_hostile_names);
        RUN(test_log_line);
        RUN(test_rotation);
        RUN(test_unusable_dirs);
        return 0;
}
