/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"

#define CHECKPOINT_VERSION 1
#define PID_MAX_LIMIT 4194304

static const char *const state_table[_CHECKPOINT_STATE_MAX] = {
        [CHECKPOINT_DUMPED] = "dumped",
        [CHECKPOINT_RESTORE_FAILED] = "restore-failed",
};

const char *checkpoint_state_to_string(CheckpointState s)
{
        return s >= 0 && s < _CHECKPOINT_STATE_MAX ? state_table[s] : NULL;
}

CheckpointState checkpoint_state_from_string(const char *s)
{
        for (int i = 0; s && i < _CHECKPOINT_STATE_MAX; i++)
                if (strcmp(s, state_table[i]) == 0)
                        return (CheckpointState)i;
        return _CHECKPOINT_STATE_INVALID;
}

bool checkpoint_id_valid(const char *id)
{
        size_t n;

        if (!id || id[0] == '.' || id[0] == 0)
                return false;
        n = strlen(id);
        return n < CHECKPOINT_ID_MAX &&
               strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

int checkpoint_make_id(uint64_t created, pid_t pid, char *buf, size_t size)
{
        int n = snprintf(buf, size, "ckpt-%" PRIu64 "-%d", created, (int)pid);

        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- records ---- */

/* A string field: 1 if set, 0 if absent or null, -EBADMSG if of the wrong type or too long. */
static int get_string(json_object *o, const char *field, char **ret)
{
        json_object *v;
        const char *s;
        int len;

        if (!json_object_object_get_ex(o, field, &v) || !v)
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        s = json_object_get_string(v);
        len = json_object_get_string_len(v);
        if (len < 0 || (size_t)len > CHECKPOINT_STRING_MAX || strlen(s) != (size_t)len)
                return -EBADMSG;
        *ret = xstrdup(s);
        return 1;
}

/* An integer field within [min, max]; -EBADMSG if absent, of the wrong type or out of range. */
static int get_uint(json_object *o, const char *field, uint64_t min, uint64_t max, uint64_t *ret)
{
        json_object *v;
        uint64_t u;

        if (!json_object_object_get_ex(o, field, &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0)
                return -EBADMSG;
        u = json_object_get_uint64(v);
        if (u < min || u > max)
                return -EBADMSG;
        *ret = u;
        return 0;
}

static int record_from_json(json_object *o, CheckpointRecord *ret)
{
        _cleanup_(checkpoint_record_done) CheckpointRecord c = {.uid = (uid_t)-1};
        _cleanup_free_ char *state = NULL;
        uint64_t v;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if (get_string(o, "id", &c.id) <= 0 || !checkpoint_id_valid(c.id))
                return -EBADMSG;
        if (get_string(o, "key", &c.key) <= 0 || !c.key[0])
                return -EBADMSG;
        if (get_string(o, "state", &state) <= 0 ||
            (c.state = checkpoint_state_from_string(state)) < 0)
                return -EBADMSG;
        if (get_uint(o, "pid", 2, PID_MAX_LIMIT, &v) < 0)
                return -EBADMSG;
        c.pid = (pid_t)v;
        if (get_uint(o, "created", 0, UINT64_MAX / USEC_PER_SEC, &c.created) < 0)
                return -EBADMSG;

        /* Optional: a wrong type means unknown. */
        if (get_uint(o, "uid", 0, (uint64_t)(uid_t)-2, &v) >= 0)
                c.uid = (uid_t)v;
        if (get_uint(o, "bytes", 0, UINT64_MAX, &v) >= 0)
                c.bytes = v;
        (void)get_string(o, "name", &c.name);
        (void)get_string(o, "exe", &c.exe);
        (void)get_string(o, "cmdline", &c.cmdline);
        (void)get_string(o, "boot_id", &c.boot_id);
        (void)get_string(o, "error", &c.error);

        *ret = c;
        c = (CheckpointRecord){};
        return 0;
}

int checkpoint_set_parse(const char *buf, size_t len, CheckpointSet *ret, size_t *ret_skipped)
{
        _cleanup_(checkpoint_set_done) CheckpointSet s = {};
        _cleanup_json_ json_object *root = NULL;
        json_tokener *tok;
        json_object *list;
        size_t n, skipped = 0, end;

        if (len > CHECKPOINT_FILE_MAX)
                return -EFBIG;
        tok = json_tokener_new();
        if (!tok)
                abort();
        root = json_tokener_parse_ex(tok, buf, (int)len);
        end = tok->char_offset;
        if (json_tokener_get_error(tok) != json_tokener_success)
                root = (json_object_put(root), NULL);
        json_tokener_free(tok);
        if (!root)
                return -EBADMSG;
        for (; end < len; end++)
                if (!strchr(" \t\r\n", buf[end]) || buf[end] == 0)
                        return -EBADMSG;
        if (!json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "checkpoints", &list) || !json_object_is_type(list, json_type_array))
                return -EBADMSG;

        n = json_object_array_length(list);
        for (size_t i = 0; i < n; i++) {
                CheckpointRecord c;

                if (record_from_json(json_object_array_get_idx(list, i), &c) < 0) {
                        log_debug("checkpoints: bad record #%zu, skipping", i);
                        skipped++;
                        continue;
                }
                if (checkpoint_set_add(&s, &c) < 0) {
                        log_debug("checkpoints: record #%zu (%s) not added, skipping", i, c.id);
                        checkpoint_record_done(&c);
                        skipped++;
                }
        }
        if (ret_skipped)
                *ret_skipped = skipped;
        *ret = s;
        s = (CheckpointSet){};
        return 0;
}

int checkpoint_set_load(const char *path, CheckpointSet *ret, size_t *ret_skipped)
{
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_full_file_at(AT_FDCWD, path, CHECKPOINT_FILE_MAX, &buf, &size);
        if (r == -ENOENT || r == -ENOTDIR) {
                *ret = (CheckpointSet){};
                if (ret_skipped)
                        *ret_skipped = 0;
                return 0;
        }
        if (r < 0)
                return r;
        return checkpoint_set_parse(buf, size, ret, ret_skipped);
}

static void add_string(json_object *o, const char *key, const char *s)
{
        json_object_object_add(o, key, s ? json_object_new_string(s) : NULL);
}

int checkpoint_set_format(const CheckpointSet *s, const char *dir, char **ret)
{
        _cleanup_json_ json_object *root = json_object_new_object();
        json_object *list = json_object_new_array();

        if (!root || !list)
                abort();
        json_object_object_add(root, "version", json_object_new_int(CHECKPOINT_VERSION));
        json_object_object_add(root, "checkpoints", list);
        for (size_t i = 0; i < s->n; i++) {
                const CheckpointRecord *c = &s->records[i];
                json_object *o = json_object_new_object();
                _cleanup_free_ char *path = NULL;

                if (!o)
                        abort();
                add_string(o, "id", c->id);
                add_string(o, "key", c->key);
                add_string(o, "name", c->name);
                if (c->uid != (uid_t)-1)
                        json_object_object_add(o, "uid", json_object_new_int64(c->uid));
                json_object_object_add(o, "pid", json_object_new_int64(c->pid));
                add_string(o, "exe", c->exe);
                add_string(o, "cmdline", c->cmdline);
                json_object_object_add(o, "created", json_object_new_uint64(c->created));
                json_object_object_add(o, "bytes", json_object_new_uint64(c->bytes));
                add_string(o, "boot_id", c->boot_id);
                add_string(o, "state", checkpoint_state_to_string(c->state));
                add_string(o, "error", c->error);
                if (dir && asprintf(&path, "%s/%s", dir, c->id) < 0)
                        abort();
                add_string(o, "dir", path);
                json_object_array_add(list, o);
        }
        *ret = xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

int checkpoint_set_save(const CheckpointSet *s, const char *dir)
{
        _cleanup_free_ char *text = NULL, *path = NULL;

        checkpoint_set_format(s, dir, &text);
        if (asprintf(&path, "%s/" CHECKPOINT_INDEX, dir) < 0)
                abort();
        return write_file_atomic(path, text, strlen(text));
}

CheckpointRecord *checkpoint_set_find(CheckpointSet *s, const char *id)
{
        for (size_t i = 0; id && i < s->n; i++)
                if (strcmp(s->records[i].id, id) == 0)
                        return &s->records[i];
        return NULL;
}

int checkpoint_set_add(CheckpointSet *s, CheckpointRecord *r)
{
        if (!checkpoint_id_valid(r->id) || !r->key || checkpoint_state_to_string(r->state) == NULL)
                return -EINVAL;
        if (checkpoint_set_find(s, r->id))
                return -EEXIST;
        if (s->n >= CHECKPOINT_MAX_RECORDS)
                return -E2BIG;
        if (s->n == s->allocated) {
                size_t n = MAX(s->allocated * 2, (size_t)8);
                CheckpointRecord *p = reallocarray(s->records, n, sizeof(*p));
                if (!p)
                        abort();
                s->records = p;
                s->allocated = n;
        }
        s->records[s->n++] = *r;
        *r = (CheckpointRecord){.uid = (uid_t)-1};
        return 0;
}

int checkpoint_set_remove(CheckpointSet *s, const char *id)
{
        CheckpointRecord *c = checkpoint_set_find(s, id);

        if (!c)
                return -ENOENT;
        checkpoint_record_done(c);
        memmove(c, c + 1, (size_t)(s->records + s->n - (c + 1)) * sizeof(*c));
        s->n--;
        return 0;
}

void checkpoint_record_done(CheckpointRecord *r)
{
        free(r->id);
        free(r->key);
        free(r->name);
        free(r->exe);
        free(r->cmdline);
        free(r->boot_id);
        free(r->error);
        *r = (CheckpointRecord){.uid = (uid_t)-1};
}

void checkpoint_set_done(CheckpointSet *s)
{
        for (size_t i = 0; i < s->n; i++)
                checkpoint_record_done(&s->records[i]);
        free(s->records);
        *s = (CheckpointSet){};
}

/* ---- criu's command lines ---- */

static void argv_set(CriuArgv *a, const char *const *args)
{
        size_t i = 0;

        for (; args[i] && i + 1 < ELEMENTSOF(a->argv); i++)
                a->argv[i] = (char *)args[i];
        a->argv[i] = NULL;
}

void criu_argv_check(CriuArgv *a, const char *criu)
{
        *a = (CriuArgv){};
        argv_set(a, (const char *const[]){criu, "check", NULL});
}

void criu_argv_dump(CriuArgv *a, const char *criu, const char *dir, pid_t pid)
{
        *a = (CriuArgv){};
        snprintf(a->pid, sizeof(a->pid), "%d", (int)pid);
        argv_set(a, (const char *const[]){criu, "dump", "--tree", a->pid, "--images-dir", dir, "--log-file",
                                          "dump.log", "--shell-job", NULL});
}

void criu_argv_restore(CriuArgv *a, const char *criu, const char *dir)
{
        *a = (CriuArgv){};
        argv_set(a, (const char *const[]){criu, "restore", "--images-dir", dir, "--restore-detached",
                                          "--shell-job", "--log-file", "restore.log", "--pidfile", "restore.pid",
                                          NULL});
}

/* ---- which apps can be dumped ---- */

int checkpoint_app_dumpable(const ProcEntry *const *procs, size_t n, pid_t root)
{
        bool in[CHECKPOINT_MAX_PROCS] = {};
        bool changed = true, root_found = false;
        size_t left = n;

        if (!procs || root <= 1)
                return -EINVAL;
        if (n > CHECKPOINT_MAX_PROCS)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                if (procs[i]->pid == root) {
                        in[i] = root_found = true;
                        left--;
                }
        if (!root_found)
                return -EINVAL;
        /* Grow the tree from the root until nothing more joins: at most n passes. */
        while (changed && left > 0) {
                changed = false;
                for (size_t i = 0; i < n; i++) {
                        if (in[i])
                                continue;
                        for (size_t j = 0; j < n; j++)
                                if (in[j] && procs[j]->pid == procs[i]->ppid) {
                                        in[i] = changed = true;
                                        left--;
                                        break;
                                }
                }
        }
        return left == 0 ? 0 : -EXDEV;
}

/* ---- which images to drop ---- */

size_t checkpoint_select_drops(const CheckpointSet *s, uint64_t now_sec, unsigned keep, uint64_t max_age_sec,
                               const char *busy, bool *drop)
{
        size_t dropped = 0, kept = 0;

        for (size_t i = 0; i < s->n; i++) {
                drop[i] = false;
                if (busy && strcmp(s->records[i].id, busy) == 0)
                        kept++; /* counts against keep, whatever its age */
        }
        /* Newest first: records are in the order added, so walk backwards (ties by position). */
        for (size_t k = s->n; k > 0; k--) {
                const CheckpointRecord *c = &s->records[k - 1];
                bool old = max_age_sec > 0 && now_sec > c->created && now_sec - c->created > max_age_sec;

                if (busy && strcmp(c->id, busy) == 0)
                        continue;
                if (old || kept >= keep) {
                        drop[k - 1] = true;
                        dropped++;
                } else
                        kept++;
        }
        return dropped;
}

/* ---- criu's output ---- */

static void copy_clean(char *buf, size_t size, const char *s, size_t len)
{
        size_t n = MIN(len, size - 1);

        for (size_t i = 0; i < n; i++)
                buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
        buf[n] = 0;
}

void criu_summarize(const char *text, size_t len, char *buf, size_t size)
{
        const char *first = NULL, *last_error = NULL, *last = NULL;
        size_t first_len = 0, last_error_len = 0, last_len = 0;

        if (size == 0)
                return;
        for (size_t o = 0; o < len;) {
                const char *line = text + o, *nl = memchr(line, '\n', len - o);
                size_t n = nl ? (size_t)(nl - line) : len - o;
                const char *msg;

                o += n + 1;
                while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
                        n--;
                if (n == 0)
                        continue;
                last = line;
                last_len = n;
                if (n < 7 || memcmp(line, "Error (", 7) != 0)
                        continue;
                last_error = line;
                last_error_len = n;
                msg = memmem(line, n, "): ", 3);
                if (!msg || first)
                        continue;
                msg += 3;
                if ((size_t)(line + n - msg) >= 15 && memcmp(msg, "exited, status=", 15) == 0)
                        continue;
                first = msg;
                first_len = (size_t)(line + n - msg);
        }
        if (first)
                copy_clean(buf, size, first, first_len);
        else if (last_error)
                copy_clean(buf, size, last_error, last_error_len);
        else if (last)
                copy_clean(buf, size, last, last_len);
        else
                copy_clean(buf, size, "no output", 9);
}

/* ---- images directories ---- */

int checkpoint_remove_dir(const char *path)
{
        _cleanup_close_ int fd = -1;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        bool subdir = false;

        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -1; /* owned by d now */
        while ((errno = 0, de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
                        if (errno == EISDIR)
                                subdir = true;
                        else if (errno != ENOENT)
                                return -errno;
                }
        }
        if (errno > 0)
                return -errno;
        if (subdir)
                return -ENOTEMPTY;
        if (rmdir(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}
