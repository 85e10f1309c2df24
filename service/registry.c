/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "time-util.h"
#include "build-config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "json-util.h"
#include "registry.h"

#define REGISTRY_VERSION 1

static const char *const method_table[_FREEZE_METHOD_MAX] = {
        [FREEZE_METHOD_CGROUP] = "cgroup",
        [FREEZE_METHOD_SIGSTOP] = "sigstop",
};

const char *freeze_method_to_string(FreezeMethod m)
{
        return m >= 0 && m < _FREEZE_METHOD_MAX ? method_table[m] : NULL;
}

FreezeMethod freeze_method_from_string(const char *s)
{
        for (int i = 0; s && i < _FREEZE_METHOD_MAX; i++)
                if (strcmp(s, method_table[i]) == 0)
                        return (FreezeMethod)i;
        return _FREEZE_METHOD_INVALID;
}

int registry_default_path(bool system_mode, char **ret)
{
        const char *base, *suffix;
        char *p;

        /* Frozen processes do not outlive a reboot: the registry only has to
         * survive the daemon, so it lives in the runtime dir (tmpfs), where
         * fsync under memory pressure cannot stall a freeze on disk I/O. */
        if (system_mode) {
                base = RUNSTATEDIR;
                suffix = "/frozen.json";
        } else {
                base = getenv("XDG_RUNTIME_DIR");
                suffix = "/memguard/frozen.json";
                if (!base || base[0] != '/') {
                        base = getenv("XDG_STATE_HOME");
                        if (!base || base[0] != '/') {
                                base = getenv("HOME");
                                suffix = "/.local/state/memguard/frozen.json";
                        }
                }
                if (!base || base[0] != '/')
                        return -ENXIO;
        }
        if (asprintf(&p, "%s%s", base, suffix) < 0)
                abort();
        *ret = p;
        return 0;
}

/* An absolute path without "." or ".." segments, bounded in length. */
static bool cgroup_path_ok(const char *p)
{
        size_t len = strlen(p);

        if (p[0] != '/' || len > REGISTRY_STRING_MAX)
                return false;
        for (const char *s = p; *s;) {
                size_t n;

                while (*s == '/')
                        s++;
                n = strcspn(s, "/");
                if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return false;
                s += n;
        }
        return true;
}

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
        if (len < 0 || (size_t)len > REGISTRY_STRING_MAX || strlen(s) != (size_t)len)
                return -EBADMSG; /* embedded NUL or huge */
        *ret = xstrdup(s);
        return 1;
}

/* An integer field within [min, max]; -EBADMSG if absent, of the wrong type or out of range. */
static int get_int(json_object *o, const char *field, int64_t min, uint64_t max, uint64_t *ret)
{
        json_object *v;
        int64_t i;
        uint64_t u;

        if (!json_object_object_get_ex(o, field, &v) || !json_object_is_type(v, json_type_int))
                return -EBADMSG;
        i = json_object_get_int64(v);
        if (i < min)
                return -EBADMSG;
        u = i < 0 ? 0 : json_object_get_uint64(v); /* json-c clamps overflow: huge stays huge */
        if (u > max)
                return -EBADMSG;
        *ret = u;
        return 0;
}

static void grow(void **p, size_t *allocated, size_t need, size_t size)
{
        size_t n;
        void *np;

        if (need <= *allocated)
                return;
        n = MAX(need, MAX(*allocated * 2, (size_t)8));
        np = reallocarray(*p, n, size);
        if (!np)
                abort();
        *p = np;
        *allocated = n;
}

/* Only memory knows the monotonic stamp; estimate it from the wall clock (0 = "long ago"). */
static uint64_t mono_from_realtime(uint64_t since_sec)
{
        uint64_t now_mono = clock_usec(CLOCK_MONOTONIC), now_real = clock_usec(CLOCK_REALTIME) / USEC_PER_SEC;
        uint64_t age;

        if (since_sec == 0)
                return 0;
        if (since_sec >= now_real)
                return now_mono;
        age = now_real - since_sec;
        return age > now_mono / USEC_PER_SEC ? 0 : now_mono - age * USEC_PER_SEC;
}

static int entry_from_json(json_object *o, RegistryEntry *ret, size_t *skipped)
{
        _cleanup_(registry_entry_done) RegistryEntry e = {.uid = REGISTRY_UID_INVALID};
        _cleanup_free_ char *method = NULL;
        json_object *procs;
        uint64_t v;
        size_t n;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if (get_string(o, "key", &e.key) <= 0 || e.key[0] == 0)
                return -EBADMSG;
        if (get_string(o, "method", &method) <= 0)
                return -EBADMSG;
        e.method = freeze_method_from_string(method);
        if (e.method < 0)
                return -EBADMSG;
        if (e.method == FREEZE_METHOD_CGROUP &&
            (get_string(o, "cgroup", &e.cgroup) <= 0 || !cgroup_path_ok(e.cgroup)))
                return -EBADMSG;

        if (!json_object_object_get_ex(o, "procs", &procs) || !json_object_is_type(procs, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(procs);
        if (n > REGISTRY_MAX_PROCS)
                return -E2BIG;
        e.procs = xmalloc0(MAX(n, (size_t)1) * sizeof(RegistryProc));
        for (size_t i = 0; i < n; i++) {
                json_object *p = json_object_array_get_idx(procs, i);
                uint64_t pid, st;

                if (!json_object_is_type(p, json_type_object) ||
                    get_int(p, "pid", 2, REGISTRY_PID_MAX, &pid) < 0 ||
                    get_int(p, "start_time", 0, UINT64_MAX, &st) < 0) {
                        log_debug("registry: entry %s: bad process #%zu, skipping", e.key, i);
                        (*skipped)++;
                        continue;
                }
                e.procs[e.n_procs++] = (RegistryProc){.pid = (pid_t)pid, .start_time = st};
        }
        if (e.n_procs == 0 && e.method == FREEZE_METHOD_SIGSTOP)
                return -EBADMSG; /* nothing left to thaw */

        /* Optional fields: a wrong type means "unknown", not a lost entry. */
        if (get_string(o, "name", &e.name) < 0)
                log_debug("registry: entry %s: bad name, ignoring", e.key);
        if (get_string(o, "reason", &e.reason) < 0)
                log_debug("registry: entry %s: bad reason, ignoring", e.key);
        if (get_int(o, "uid", 0, (uint64_t)REGISTRY_UID_INVALID - 1, &v) >= 0)
                e.uid = (uid_t)v;
        if (get_int(o, "frozen_since", 0, UINT64_MAX / USEC_PER_SEC, &v) >= 0)
                e.frozen_since = v;
        e.frozen_since_mono = mono_from_realtime(e.frozen_since);

        *ret = e;
        e = (RegistryEntry){};
        return 0;
}

int registry_parse(const char *buf, size_t len, Registry *ret, size_t *ret_skipped)
{
        _cleanup_(registry_done) Registry r = {};
        _cleanup_json_ json_object *root = NULL;
        json_tokener *tok;
        json_object *entries;
        size_t n, skipped = 0, end;

        if (len > REGISTRY_FILE_MAX)
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
        for (; end < len; end++) /* trailing garbage is corruption too */
                if (!strchr(" \t\r\n", buf[end]) || buf[end] == 0)
                        return -EBADMSG;
        if (!json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "entries", &entries) ||
            !json_object_is_type(entries, json_type_array))
                return -EBADMSG;

        n = json_object_array_length(entries);
        for (size_t i = 0; i < n; i++) {
                RegistryEntry e;
                int k;

                if (r.n >= REGISTRY_MAX_ENTRIES) {
                        log_debug("registry: more than %d entries, skipping the rest", REGISTRY_MAX_ENTRIES);
                        skipped += n - i;
                        break;
                }
                k = entry_from_json(json_object_array_get_idx(entries, i), &e, &skipped);
                if (k < 0) {
                        log_debug_errno(k, "registry: bad entry #%zu, skipping: %m", i);
                        skipped++;
                        continue;
                }
                k = registry_add(&r, &e);
                if (k < 0) {
                        log_debug_errno(k, "registry: entry #%zu (%s) not added, skipping: %m", i, e.key);
                        registry_entry_done(&e);
                        skipped++;
                }
        }
        if (ret_skipped)
                *ret_skipped = skipped;
        *ret = r;
        r = (Registry){};
        return 0;
}

int registry_load(const char *path, Registry *ret, size_t *ret_skipped)
{
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_full_file_at(AT_FDCWD, path, REGISTRY_FILE_MAX, &buf, &size);
        if (r == -ENOENT || r == -ENOTDIR) {
                *ret = (Registry){};
                if (ret_skipped)
                        *ret_skipped = 0;
                return 0;
        }
        if (r < 0)
                return log_debug_errno(r, "registry: cannot read %s: %m", path);
        return registry_parse(buf, size, ret, ret_skipped);
}

static json_object *entry_to_json(const RegistryEntry *e)
{
        json_object *o = json_object_new_object(), *procs = json_object_new_array();

        if (!o || !procs)
                abort();
        json_object_object_add(o, "key", json_object_new_string(e->key));
        json_object_object_add(o, "name", e->name ? json_object_new_string(e->name) : NULL);
        if (e->uid != REGISTRY_UID_INVALID)
                json_object_object_add(o, "uid", json_object_new_int64(e->uid));
        json_object_object_add(o, "method", json_object_new_string(freeze_method_to_string(e->method)));
        json_object_object_add(o, "cgroup", e->cgroup ? json_object_new_string(e->cgroup) : NULL);
        for (size_t i = 0; i < e->n_procs; i++) {
                json_object *p = json_object_new_object();
                if (!p)
                        abort();
                json_object_object_add(p, "pid", json_object_new_int64(e->procs[i].pid));
                json_object_object_add(p, "start_time", json_object_new_uint64(e->procs[i].start_time));
                json_object_array_add(procs, p);
        }
        json_object_object_add(o, "procs", procs);
        json_object_object_add(o, "frozen_since", json_object_new_uint64(e->frozen_since));
        json_object_object_add(o, "reason", e->reason ? json_object_new_string(e->reason) : NULL);
        return o;
}

int registry_format(const Registry *r, char **ret)
{
        _cleanup_json_ json_object *root = json_object_new_object();
        json_object *entries = json_object_new_array();

        if (!root || !entries)
                abort();
        json_object_object_add(root, "version", json_object_new_int(REGISTRY_VERSION));
        json_object_object_add(root, "entries", entries);
        for (size_t i = 0; i < r->n; i++)
                json_object_array_add(entries, entry_to_json(&r->entries[i]));
        *ret = xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

int registry_save(const Registry *reg, const char *path)
{
        _cleanup_free_ char *text = NULL;
        int r;

        registry_format(reg, &text);
        r = write_file_atomic(path, text, strlen(text));
        if (r < 0)
                return log_debug_errno(r, "registry: cannot write %s: %m", path);
        return 0;
}

RegistryEntry *registry_find(Registry *r, const char *key)
{
        for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->entries[i].key, key) == 0)
                        return &r->entries[i];
        return NULL;
}

int registry_add(Registry *r, RegistryEntry *e)
{
        if (!e->key || e->method < 0 || e->method >= _FREEZE_METHOD_MAX)
                return -EINVAL;
        if (registry_find(r, e->key))
                return -EEXIST;
        if (r->n >= REGISTRY_MAX_ENTRIES || e->n_procs > REGISTRY_MAX_PROCS)
                return -E2BIG;
        grow((void **)&r->entries, &r->allocated, r->n + 1, sizeof(RegistryEntry));
        r->entries[r->n++] = *e;
        *e = (RegistryEntry){};
        return 0;
}

int registry_remove(Registry *r, const char *key)
{
        RegistryEntry *e = registry_find(r, key);

        if (!e)
                return -ENOENT;
        registry_entry_done(e);
        memmove(e, e + 1, (size_t)(r->entries + r->n - (e + 1)) * sizeof(RegistryEntry));
        r->n--;
        return 0;
}

void registry_entry_done(RegistryEntry *e)
{
        free(e->key);
        free(e->name);
        free(e->cgroup);
        free(e->procs);
        free(e->reason);
        *e = (RegistryEntry){.uid = REGISTRY_UID_INVALID};
}

void registry_done(Registry *r)
{
        for (size_t i = 0; i < r->n; i++)
                registry_entry_done(&r->entries[i]);
        free(r->entries);
        *r = (Registry){};
}
