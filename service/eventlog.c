/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eventlog.h"
#include "log.h"

struct EventLog {
        int dirfd;
        int fd;
        uint64_t max_bytes;
        unsigned keep_files;
};

/* ---- strings, numbers, times ---- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, surrogates
 * or code points above U+10FFFF), 0 if it is not one. */
static size_t utf8_valid_len(const unsigned char *s)
{
        unsigned char c = s[0];
        unsigned char lo = 0x80, hi = 0xBF;
        size_t n;

        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF)
                n = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
                n = 3;
                if (c == 0xE0)
                        lo = 0xA0;
                else if (c == 0xED)
                        hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
                n = 4;
                if (c == 0xF0)
                        lo = 0x90;
                else if (c == 0xF4)
                        hi = 0x8F;
        } else
                return 0;

        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xBF)
                        return 0;
        return n;
}

/* Characters that can forge a line or reorder what a reader sees. */
static bool is_control(const unsigned char *s, size_t n)
{
        if (n == 1)
                return s[0] < 0x20 || s[0] == 0x7F;
        if (n == 2)
                return s[0] == 0xC2 && s[1] < 0xA0; /* C1: U+0080..U+009F */
        if (n == 3 && s[0] == 0xE2 && s[1] == 0x80) /* U+200E/F marks, U+2028/9 separators, U+202A..E bidi */
                return s[2] == 0x8E || s[2] == 0x8F || (s[2] >= 0xA8 && s[2] <= 0xAE);
        if (n == 3 && s[0] == 0xE2 && s[1] == 0x81) /* U+2066..U+2069 bidi isolates */
                return s[2] >= 0xA6 && s[2] <= 0xA9;
        return false;
}

char *utf8_sanitize(const char *s, bool escape_control, char *buf, size_t size)
{
        const unsigned char *p = (const unsigned char *)strempty(s);
        size_t o = 0;

        if (size == 0)
                return buf;
        while (*p) {
                size_t n = utf8_valid_len(p);
                bool escape = n == 0 || (escape_control && is_control(p, n));
                size_t k = escape ? MAX(n, 1) : n;
                size_t need = escape ? 4 * k : k;

                if (o + need + 1 > size)
                        break;
                if (escape)
                        for (size_t i = 0; i < k; i++, o += 4)
                                snprintf(buf + o, 5, "\\x%02x", p[i]);
                else {
                        memcpy(buf + o, p, k);
                        o += k;
                }
                p += k;
        }
        buf[o] = 0;
        return buf;
}

char *format_double(double d, char *buf, size_t size)
{
        char *comma;

        if (!isfinite(d)) {
                snprintf(buf, size, "null");
                return buf;
        }
        snprintf(buf, size, "%.6g", d);
        comma = strchr(buf, ','); /* a locale with a decimal comma */
        if (comma)
                *comma = '.';
        return buf;
}

char *format_time_iso(uint64_t realtime_usec, char *buf, size_t size)
{
        time_t t = (time_t)(realtime_usec / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
                snprintf(buf, size, "@%llu", (unsigned long long)realtime_usec);
                return buf;
        }
        snprintf(buf + strlen(buf), size - strlen(buf), ".%06uZ", (unsigned)(realtime_usec % USEC_PER_SEC));
        return buf;
}

uint64_t now_realtime_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

/* ---- json-c helpers (out of memory is fatal) ---- */

static json_object *json_check(json_object *o)
{
        if (!o) {
                fputs("memguard: out of memory\n", stderr);
                abort();
        }
        return o;
}

json_object *json_new_object(void)
{
        return json_check(json_object_new_object());
}

json_object *json_new_array(void)
{
        return json_check(json_object_new_array());
}

void json_add(json_object *o, const char *key, json_object *v)
{
        if (json_object_object_add(o, key, v) < 0)
                json_check(NULL);
}

void json_append(json_object *array, json_object *v)
{
        if (json_object_array_add(array, v) < 0)
                json_check(NULL);
}

void json_add_string(json_object *o, const char *key, const char *s)
{
        _cleanup_free_ char *buf = NULL;
        size_t size;

        if (!s)
                return;
        size = 4 * strlen(s) + 1;
        buf = xmalloc0(size);
        json_add(o, key, json_check(json_object_new_string(utf8_sanitize(s, false, buf, size))));
}

void json_add_u64(json_object *o, const char *key, uint64_t v)
{
        json_add(o, key, json_check(json_object_new_uint64(v)));
}

void json_add_i64(json_object *o, const char *key, int64_t v)
{
        json_add(o, key, json_check(json_object_new_int64(v)));
}

void json_add_double(json_object *o, const char *key, double v)
{
        char buf[64];

        if (!isfinite(v)) {
                json_add(o, key, NULL);
                return;
        }
        json_add(o, key, json_check(json_object_new_double_s(v, format_double(v, buf, sizeof(buf)))));
}

void json_add_bool(json_object *o, const char *key, bool v)
{
        json_add(o, key, json_check(json_object_new_boolean(v)));
}

void json_add_time(json_object *o, const char *key, uint64_t realtime_usec)
{
        char buf[64], key_usec[64];

        snprintf(key_usec, sizeof(key_usec), "%s_usec", key);
        json_add_string(o, key, format_time_iso(realtime_usec, buf, sizeof(buf)));
        json_add_u64(o, key_usec, realtime_usec);
}

/* ---- files ---- */

int state_dir_open(const char *path)
{
        _cleanup_free_ char *p = NULL;
        int fd;

        if (!path || !*path)
                return -EINVAL;
        p = xstrdup(path);
        /* Create each missing component; an existing one is left as it is. */
        for (char *slash = strchr(p + 1, '/');; slash = strchr(slash + 1, '/')) {
                if (slash)
                        *slash = 0;
                if (mkdir(p, 0700) < 0 && errno != EEXIST)
                        return -errno;
                if (!slash)
                        break;
                *slash = '/';
                while (slash[1] == '/')
                        slash++;
                if (!slash[1])
                        break;
        }
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fd;
}

int write_file_atomic_at(int dirfd, const char *name, const char *data, size_t len)
{
        _cleanup_close_ int fd = -1;
        char tmp[NAME_MAX + 1];
        int r = 0;

        if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int)sizeof(tmp))
                return -ENAMETOOLONG;
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        while (len > 0) {
                ssize_t k = write(fd, data, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                data += k;
                len -= (size_t)k;
        }
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0)
                (void)unlinkat(dirfd, tmp, 0);
        return r;
}

static int eventlog_open_file(EventLog *el)
{
        _cleanup_close_ int fd = -1;
        struct stat st;

        /* O_NONBLOCK so that a FIFO planted here cannot hang us; it is refused below. */
        fd = openat(el->dirfd, EVENTLOG_FILE,
                    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)
                log_debug_errno(-errno, "cannot make %s 0600, ignoring: %m", EVENTLOG_FILE);
        safe_close(el->fd);
        el->fd = TAKE_FD(fd);
        return 0;
}

int eventlog_open(const char *dir_path, uint64_t max_bytes, unsigned keep_files, EventLog **ret)
{
        _cleanup_(eventlog_closep) EventLog *el = NULL;
        int r;

        if (max_bytes < 1024 || keep_files > 99)
                return -EINVAL;
        el = xmalloc0(sizeof(*el));
        el->fd = -1;
        el->max_bytes = max_bytes;
        el->keep_files = keep_files;
        el->dirfd = state_dir_open(dir_path);
        if (el->dirfd < 0)
                return el->dirfd;
        /* Rotation renames in the directory: find out now if it cannot. */
        if (faccessat(el->dirfd, ".", W_OK, AT_EACCESS) < 0)
                return -errno;
        r = eventlog_open_file(el);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(el);
        return 0;
}

EventLog *eventlog_close(EventLog *el)
{
        if (!el)
                return NULL;
        safe_close(el->fd);
        safe_close(el->dirfd);
        free(el);
        return NULL;
}

static int eventlog_rotate(EventLog *el)
{
        char from[32], to[32];

        /* Files beyond keep_files (left by an earlier, larger setting) go first. */
        for (unsigned k = el->keep_files + 1; k < 100; k++) {
                snprintf(to, sizeof(to), EVENTLOG_FILE ".%u", k);
                if (unlinkat(el->dirfd, to, 0) < 0)
                        break;
        }
        if (el->keep_files == 0) {
                if (unlinkat(el->dirfd, EVENTLOG_FILE, 0) < 0 && errno != ENOENT)
                        return -errno;
                return eventlog_open_file(el);
        }
        for (unsigned k = el->keep_files; k > 1; k--) {
                snprintf(from, sizeof(from), EVENTLOG_FILE ".%u", k - 1);
                snprintf(to, sizeof(to), EVENTLOG_FILE ".%u", k);
                if (renameat(el->dirfd, from, el->dirfd, to) < 0 && errno != ENOENT)
                        return -errno;
        }
        if (renameat(el->dirfd, EVENTLOG_FILE, el->dirfd, EVENTLOG_FILE ".1") < 0 && errno != ENOENT)
                return -errno;
        return eventlog_open_file(el);
}

static int eventlog_write_line(EventLog *el, const char *line, size_t len)
{
        struct stat st;
        ssize_t k;
        int r;

        if (fstat(el->fd, &st) < 0)
                return -errno;
        if (st.st_size > 0 && (uint64_t)st.st_size + len > el->max_bytes) {
                r = eventlog_rotate(el);
                if (r < 0)
                        return r;
                if (fstat(el->fd, &st) < 0)
                        return -errno;
        }
        /* One write(2) with O_APPEND: a line is never interleaved or split. */
        do
                k = write(el->fd, line, len);
        while (k < 0 && errno == EINTR);
        if (k >= 0 && (size_t)k == len)
                return 0;
        r = k < 0 ? -errno : -ENOSPC;
        /* A partial line (disk full) would corrupt the next one too: take it back. */
        if (k > 0 && ftruncate(el->fd, st.st_size) < 0)
                log_debug_errno(-errno, "cannot drop a partial line from %s, ignoring: %m", EVENTLOG_FILE);
        return r;
}

/* ---- events ---- */

static bool valid_name(const char *s, bool dash)
{
        if (!s || !*s || strlen(s) > 64)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
                      (dash && *s == '-')))
                        return false;
        return true;
}

static int event_validate(const Event *ev)
{
        if (!ev || !valid_name(ev->action, true) || ev->n_figures > EVENT_FIGURES_MAX)
                return -EINVAL;
        for (size_t i = 0; i < ev->n_figures; i++)
                if (!valid_name(ev->figures[i].key, false))
                        return -EINVAL;
        return 0;
}

const char *event_target_name(const EventTarget *t)
{
        return t->app ? t->app : t->unit ? t->unit : t->cgroup;
}

const char *event_action_past(const char *action, bool participle)
{
        static const struct {
                const char *action, *past, *participle;
        } t[] = {
                {"freeze", "froze", "frozen"},
                {"thaw", "thawed", NULL},
                {"kill", "killed", NULL},
                {"terminate", "terminated", NULL},
                {"checkpoint", "checkpointed", NULL},
                {"throttle", "throttled", NULL},
                {"unthrottle", "unthrottled", NULL},
                {"cap", "capped the memory of", NULL},
                {"uncap", "lifted the memory cap of", NULL},
                {"reclaim", "reclaimed memory from", NULL},
                {"warn", "warned", NULL},
                {"level", "changed the level", NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if (action && strcmp(action, t[i].action) == 0)
                        return participle && t[i].participle ? t[i].participle : t[i].past;
        return strempty(action);
}

int event_to_json(const Event *ev, json_object **ret)
{
        _cleanup_json_ json_object *o = NULL;
        json_object *target, *figures;
        const EventTarget *t;

        if (event_validate(ev) < 0)
                return -EINVAL;
        t = &ev->target;

        o = json_new_object();
        json_add_time(o, "time", ev->time_usec ? ev->time_usec : now_realtime_usec());
        json_add_string(o, "action", ev->action);
        target = json_new_object();
        if (t->pid > 0)
                json_add_i64(target, "pid", t->pid);
        if (t->has_uid)
                json_add_u64(target, "uid", t->uid);
        json_add_string(target, "comm", t->comm);
        json_add_string(target, "app", t->app);
        json_add_string(target, "unit", t->unit);
        json_add_string(target, "cgroup", t->cgroup);
        json_add(o, "target", target);
        json_add_string(o, "reason", ev->reason);
        figures = json_new_object();
        for (size_t i = 0; i < ev->n_figures; i++) {
                const EventFigure *f = &ev->figures[i];
                if (f->type == EVENT_FIGURE_U64)
                        json_add_u64(figures, f->key, f->u);
                else
                        json_add_double(figures, f->key, f->d);
        }
        json_add(o, "figures", figures);
        json_add_bool(o, "dry_run", ev->dry_run);
        json_add_string(o, "result", ev->error == 0 ? "ok" : "failed");
        if (ev->error != 0) {
                json_add_string(o, "error", STRERROR(ev->error));
                json_add_i64(o, "errno", abs(ev->error));
        }
        *ret = TAKE_PTR(o);
        return 0;
}

#define FIELD_MAX 512

static void event_log_struct(const Event *ev)
{
        char fields[12 + EVENT_FIGURES_MAX][FIELD_MAX];
        const char *fp[ELEMENTSOF(fields)];
        char val[FIELD_MAX], who[FIELD_MAX], msg[2 * FIELD_MAX], num[64];
        const EventTarget *t = &ev->target;
        int n = 0, prio;

#define ADD_FIELD(...) snprintf(fields[n++], FIELD_MAX, __VA_ARGS__)
#define ADD_STRING(key, s)                                                                                  \
        do {                                                                                                \
                if (s)                                                                                      \
                        ADD_FIELD(key "=%s", utf8_sanitize((s), true, val, sizeof(val)));                   \
        } while (0)

        ADD_FIELD("action=%s", ev->action);
        if (t->pid > 0)
                ADD_FIELD("pid=%d", (int)t->pid);
        if (t->has_uid)
                ADD_FIELD("uid=%u", (unsigned)t->uid);
        ADD_STRING("comm", t->comm);
        ADD_STRING("app", t->app);
        ADD_STRING("unit", t->unit);
        ADD_STRING("cgroup", t->cgroup);
        ADD_STRING("reason", ev->reason);
        if (ev->dry_run)
                ADD_FIELD("dry_run=yes");
        ADD_FIELD("result=%s", ev->error == 0 ? "ok" : "failed");
        if (ev->error != 0)
                ADD_FIELD("error=%s", STRERROR(ev->error));
        for (size_t i = 0; i < ev->n_figures; i++) {
                const EventFigure *f = &ev->figures[i];
                if (f->type == EVENT_FIGURE_U64)
                        ADD_FIELD("%s=%llu", f->key, (unsigned long long)f->u);
                else
                        ADD_FIELD("%s=%s", f->key, format_double(f->d, num, sizeof(num)));
        }
#undef ADD_STRING
#undef ADD_FIELD

        /* "killed firefox (pid 123): reason", "dry run: would have frozen ...", "kill ... failed: ..." */
        if (t->pid > 0 && t->comm)
                snprintf(who, sizeof(who), " %s (pid %d)", utf8_sanitize(t->comm, true, val, sizeof(val)),
                         (int)t->pid);
        else if (t->pid > 0)
                snprintf(who, sizeof(who), " pid %d", (int)t->pid);
        else if (event_target_name(t))
                snprintf(who, sizeof(who), " %s",
                         utf8_sanitize(event_target_name(t), true, val, sizeof(val)));
        else
                who[0] = 0;
        utf8_sanitize(ev->reason, true, val, sizeof(val));
        if (ev->error != 0)
                snprintf(msg, sizeof(msg), "%s%s%s failed: %s%s%s", ev->dry_run ? "dry run: " : "",
                         ev->action, who, STRERROR(ev->error), ev->reason ? "; reason: " : "", val);
        else
                snprintf(msg, sizeof(msg), "%s%s%s%s%s", ev->dry_run ? "dry run: would have " : "",
                         event_action_past(ev->action, ev->dry_run), who, ev->reason ? ": " : "", val);

        prio = ev->error != 0 || strcmp(ev->action, "kill") == 0 ? LOG_WARNING : LOG_NOTICE;
        for (int i = 0; i < n; i++)
                fp[i] = fields[i];
        log_structv(prio, msg, fp, n);
}

int eventlog_append(EventLog *el, const Event *ev)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *line = NULL;
        Event e;
        const char *s;
        size_t len;
        int r;

        if (event_validate(ev) < 0)
                return -EINVAL;
        e = *ev;
        if (e.time_usec == 0)
                e.time_usec = now_realtime_usec();

        event_log_struct(&e);
        if (!el)
                return 0;

        r = event_to_json(&e, &o);
        if (r < 0)
                return r;
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return -ENOMEM;
        len = strlen(s);
        /* json-c escapes every control character; a raw newline here would be a bug. */
        if (memchr(s, '\n', len))
                return -EBADMSG;
        line = xmalloc0(len + 2);
        memcpy(line, s, len);
        line[len++] = '\n';
        return eventlog_write_line(el, line, len);
}
