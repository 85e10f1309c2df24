/* SPDX-License-Identifier: MIT */
/*
 * Configuration files (GKeyFile syntax). Every simple key is one row of
 * key_table: its group, name, type, where it lives in Config and its range.
 * Constraints between keys are checked after a whole file has been applied
 * (check_together()). Groups whose keys are not in the table (the future
 * [rule:NAME] and [protect]) get their own parser in group_table.
 *
 * A file is applied to a copy of the Config, which replaces the original
 * only when the whole file was good.
 */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "build-config.h"
#include "config.h"
#include "fileio.h"
#include "macro.h"

/* After macro.h: GLib replaces its MIN/MAX/CLAMP with equivalent ones, while
 * macro.h would warn about redefining GLib's. */
#include <glib.h>

#define CONFIG_FILE_MAX (1024 * 1024)
#define ESCAPE_MAX 64
#define MIB (1024.0 * 1024.0)

typedef enum KeyType {
        KEY_BOOL,      /* bool */
        KEY_DOUBLE,    /* double, stored as value * scale */
        KEY_USEC,      /* uint64_t microseconds, stored as value * scale */
        KEY_UNSIGNED,  /* unsigned */
        KEY_LOG_LEVEL, /* int, a syslog priority */
        KEY_CGROUP,    /* char *, NULL when empty */
        KEY_COMMAND,   /* char ** (NULL-terminated argv), NULL when empty; argv[0] absolute */
        KEY_PROGRAM,   /* char *, NULL when empty: an absolute path, or a name looked up in PATH */
} KeyType;

enum {
        KEY_MIN_OPEN = 1 << 0, /* the minimum itself is not allowed */
        KEY_WHOLE = 1 << 1,    /* whole numbers only */
};

typedef struct KeyDef {
        const char *group;
        const char *name;
        KeyType type;
        size_t offset;   /* of the field in Config */
        double min, max; /* in the unit the file uses */
        unsigned flags;
        double scale; /* stored value = file value * scale */
} KeyDef;

/* Indexes into key_table, for the checks between keys. */
enum {
        K_DRY_RUN,
        K_SCOPE,
        K_LOG_LEVEL,
        K_WEIGHT_PSI,
        K_WEIGHT_SWAP,
        K_WEIGHT_GPU,
        K_WEIGHT_SWAP_IO,
        K_PSI_SOME_SCALE,
        K_PSI_FULL_SCALE,
        K_SWAP_LOW,
        K_SWAP_HIGH,
        K_SWAP_IO_SCALE,
        K_GPU_SCALE,
        K_MEM_CRITICAL,
        K_MEM_EMERGENCY,
        K_RATE_WINDOW,
        K_ELEVATED, /* the four thresholds, in level order */
        K_HIGH,
        K_CRITICAL,
        K_EMERGENCY,
        K_HYSTERESIS,
        K_RISE_SAMPLES,
        K_SHARP_RISE,
        K_CALM,
        K_SOME_STALL,
        K_FULL_STALL,
        K_WINDOW,
        K_FAST_INTERVAL,
        K_HEARTBEAT,
        K_HEADROOM_NORMAL, /* the five headroom percentages, in level order */
        K_HEADROOM_ELEVATED,
        K_HEADROOM_HIGH,
        K_HEADROOM_CRITICAL,
        K_HEADROOM_EMERGENCY,
        K_FG_DROP,
        K_GRACE,
        K_COOLDOWN,
        K_THAW_CAP,
        K_THAW_INTERVAL,
        K_THAW_RESERVE,
        K_KILL_TIMEOUT,
        K_KILL_TIMEOUT_CRITICAL,
        K_KILL_TIMEOUT_EMERGENCY,
        K_MAX_FROZEN,
        K_CHECKPOINT,
        K_CRIU,
        K_CHECKPOINT_TIMEOUT,
        K_CHECKPOINT_KEEP,
        K_CHECKPOINT_MAX_AGE,
        K_HIBERNATE,
        K_HIBERNATE_AFTER,
        K_HIBERNATE_INTERVAL,
        K_EVENTLOG_MIB,
        K_EVENTLOG_KEEP,
        K_INCIDENTS_KEEP,
        K_HOOK_LEVEL,
        K_HOOK_KILL,
        K_HOOK_TIMEOUT,
        _K_MAX,
};

/* clang-format off */
#define OFF(field) offsetof(Config, field)
#define BOOL_KEY(g, n, field)                     { g, n, KEY_BOOL, OFF(field), 0, 0, 0, 1 }
#define NUM_KEY(g, n, field, lo, hi, fl)          { g, n, KEY_DOUBLE, OFF(field), lo, hi, fl, 1 }
#define USEC_KEY(g, n, field, lo, hi, fl, unit)   { g, n, KEY_USEC, OFF(field), lo, hi, fl, unit }
#define UNS_KEY(g, n, field, lo, hi)              { g, n, KEY_UNSIGNED, OFF(field), lo, hi, KEY_WHOLE, 1 }

/* The ranges here are the ones documented in data/memguard.conf and memguard.conf(5). */
static const KeyDef key_table[_K_MAX] = {
        [K_DRY_RUN]        = BOOL_KEY("daemon", "dry-run", dry_run),
        [K_SCOPE]          = { "daemon", "scope", KEY_CGROUP, OFF(scope), 0, 0, 0, 1 },
        [K_LOG_LEVEL]      = { "daemon", "log-level", KEY_LOG_LEVEL, OFF(log_level), 0, 0, 0, 1 },

        [K_WEIGHT_PSI]     = NUM_KEY("pressure", "weight-psi", pressure.weight_psi, 0, 1000, 0),
        [K_WEIGHT_SWAP]    = NUM_KEY("pressure", "weight-swap", pressure.weight_swap, 0, 1000, 0),
        [K_WEIGHT_GPU]     = NUM_KEY("pressure", "weight-gpu", pressure.weight_gpu, 0, 1000, 0),
        [K_WEIGHT_SWAP_IO] = NUM_KEY("pressure", "weight-swap-io", pressure.weight_swap_io, 0, 1000, 0),
        [K_PSI_SOME_SCALE] = NUM_KEY("pressure", "psi-some-full-scale", pressure.psi_some_full_scale,
                                     0, 1, KEY_MIN_OPEN),
        [K_PSI_FULL_SCALE] = NUM_KEY("pressure", "psi-full-full-scale", pressure.psi_full_full_scale,
                                     0, 1, KEY_MIN_OPEN),
        [K_SWAP_LOW]       = NUM_KEY("pressure", "swap-low", pressure.swap_low, 0, 1, 0),
        [K_SWAP_HIGH]      = NUM_KEY("pressure", "swap-high", pressure.swap_high, 0, 1, 0),
        [K_SWAP_IO_SCALE]  = { "pressure", "swap-io-full-scale-mib", KEY_DOUBLE,
                               OFF(pressure.swap_io_full_scale), 0, 1024 * 1024, KEY_MIN_OPEN, MIB },
        [K_GPU_SCALE]      = NUM_KEY("pressure", "gpu-full-scale", pressure.gpu_full_scale,
                                     0, 1, KEY_MIN_OPEN),
        [K_MEM_CRITICAL]   = NUM_KEY("pressure", "memavailable-critical-percent",
                                     pressure.floor_critical_percent, 0, 50, 0),
        [K_MEM_EMERGENCY]  = NUM_KEY("pressure", "memavailable-emergency-percent",
                                     pressure.floor_emergency_percent, 0, 50, 0),
        [K_RATE_WINDOW]    = USEC_KEY("pressure", "rate-window-ms", pressure.rate_window_usec, 0, 60000,
                                      KEY_WHOLE, USEC_PER_MSEC),

        [K_ELEVATED]       = NUM_KEY("levels", "elevated", level.threshold[LEVEL_ELEVATED],
                                     0, 1, KEY_MIN_OPEN),
        [K_HIGH]           = NUM_KEY("levels", "high", level.threshold[LEVEL_HIGH], 0, 1, KEY_MIN_OPEN),
        [K_CRITICAL]       = NUM_KEY("levels", "critical", level.threshold[LEVEL_CRITICAL],
                                     0, 1, KEY_MIN_OPEN),
        [K_EMERGENCY]      = NUM_KEY("levels", "emergency", level.threshold[LEVEL_EMERGENCY],
                                     0, 1, KEY_MIN_OPEN),
        [K_HYSTERESIS]     = NUM_KEY("levels", "hysteresis", level.hysteresis, 0, 0.5, 0),
        [K_RISE_SAMPLES]   = { "levels", "rise-samples", KEY_UNSIGNED, OFF(level.rise_samples), 1, 100,
                               KEY_WHOLE, 1 },
        [K_SHARP_RISE]     = NUM_KEY("levels", "sharp-rise", level.sharp_rise, 0, 1, KEY_MIN_OPEN),
        [K_CALM]           = USEC_KEY("levels", "calm-seconds", level.calm_usec, 0.5, 3600, 0, USEC_PER_SEC),

        [K_SOME_STALL]     = USEC_KEY("triggers", "some-stall-ms", trigger.some_stall_usec, 0, 10000,
                                      KEY_MIN_OPEN | KEY_WHOLE, USEC_PER_MSEC),
        [K_FULL_STALL]     = USEC_KEY("triggers", "full-stall-ms", trigger.full_stall_usec, 0, 10000,
                                      KEY_MIN_OPEN | KEY_WHOLE, USEC_PER_MSEC),
        [K_WINDOW]         = USEC_KEY("triggers", "window-ms", trigger.window_usec, 500, 10000,
                                      KEY_WHOLE, USEC_PER_MSEC),
        [K_FAST_INTERVAL]  = USEC_KEY("triggers", "fast-interval-ms", trigger.fast_interval_usec, 50, 5000,
                                      KEY_WHOLE, USEC_PER_MSEC),
        [K_HEARTBEAT]      = USEC_KEY("triggers", "heartbeat-seconds", trigger.heartbeat_usec, 10, 3600, 0,
                                      USEC_PER_SEC),

        [K_HEADROOM_NORMAL]    = UNS_KEY("planner", "headroom-normal-percent", planner.headroom_percent[LEVEL_NORMAL], 0, 90),
        [K_HEADROOM_ELEVATED]  = UNS_KEY("planner", "headroom-elevated-percent", planner.headroom_percent[LEVEL_ELEVATED], 0, 90),
        [K_HEADROOM_HIGH]      = UNS_KEY("planner", "headroom-high-percent", planner.headroom_percent[LEVEL_HIGH], 0, 90),
        [K_HEADROOM_CRITICAL]  = UNS_KEY("planner", "headroom-critical-percent", planner.headroom_percent[LEVEL_CRITICAL], 0, 90),
        [K_HEADROOM_EMERGENCY] = UNS_KEY("planner", "headroom-emergency-percent", planner.headroom_percent[LEVEL_EMERGENCY], 0, 90),
        [K_FG_DROP]            = UNS_KEY("planner", "foreground-priority-drop", planner.fg_priority_drop, 0, 100),
        [K_GRACE]              = USEC_KEY("planner", "grace-seconds", planner.grace_usec, 0, 3600, 0, USEC_PER_SEC),
        [K_COOLDOWN]           = USEC_KEY("planner", "kill-cooldown-seconds", planner.kill_cooldown_usec, 0, 600, 0,
                                          USEC_PER_SEC),
        [K_THAW_CAP]           = UNS_KEY("planner", "thaw-per-cycle", planner.thaw_cap, 1, 1000),
        [K_THAW_INTERVAL]      = USEC_KEY("planner", "thaw-interval-seconds", planner.thaw_interval_usec, 0, 3600, 0,
                                          USEC_PER_SEC),
        [K_THAW_RESERVE]       = USEC_KEY("planner", "thaw-reserve-mib", planner.thaw_reserve_bytes, 0, 1048576,
                                          KEY_WHOLE, 1024 * 1024),

        [K_KILL_TIMEOUT]       = USEC_KEY("actions", "kill-timeout-seconds", actions.kill_timeout_usec, 0, 300, 0,
                                          USEC_PER_SEC),
        [K_KILL_TIMEOUT_CRITICAL] = USEC_KEY("actions", "kill-timeout-critical-seconds",
                                             actions.kill_timeout_critical_usec, 0, 300, 0, USEC_PER_SEC),
        [K_KILL_TIMEOUT_EMERGENCY] = USEC_KEY("actions", "kill-timeout-emergency-seconds",
                                              actions.kill_timeout_emergency_usec, 0, 300, 0, USEC_PER_SEC),
        [K_MAX_FROZEN]         = USEC_KEY("actions", "max-frozen-seconds", actions.max_frozen_usec, 0, 86400, 0,
                                          USEC_PER_SEC),
        [K_CHECKPOINT]         = BOOL_KEY("actions", "checkpoint", actions.checkpoint),
        [K_CRIU]               = { "actions", "criu", KEY_PROGRAM, OFF(actions.criu), 0, 0, 0, 1 },
        [K_CHECKPOINT_TIMEOUT] = USEC_KEY("actions", "checkpoint-timeout-seconds", actions.checkpoint_timeout_usec,
                                          1, 3600, 0, USEC_PER_SEC),
        [K_CHECKPOINT_KEEP]    = UNS_KEY("actions", "checkpoint-keep", actions.checkpoint_keep, 1, 1000),
        [K_CHECKPOINT_MAX_AGE] = USEC_KEY("actions", "checkpoint-max-age-days", actions.checkpoint_max_age_usec,
                                          0, 365, 0, 86400 * USEC_PER_SEC),
        [K_HIBERNATE]          = BOOL_KEY("actions", "hibernate", actions.hibernate),
        [K_HIBERNATE_AFTER]    = USEC_KEY("actions", "hibernate-after-seconds", actions.hibernate_after_usec,
                                          0, 3600, 0, USEC_PER_SEC),
        [K_HIBERNATE_INTERVAL] = USEC_KEY("actions", "hibernate-interval-minutes", actions.hibernate_interval_usec,
                                          1, 10080, 0, 60 * USEC_PER_SEC),

        [K_EVENTLOG_MIB]       = USEC_KEY("records", "event-log-max-mib", records.event_log_max_bytes, 1, 1024,
                                          KEY_WHOLE, 1024 * 1024),
        [K_EVENTLOG_KEEP]      = UNS_KEY("records", "event-log-keep", records.event_log_keep, 0, 99),
        [K_INCIDENTS_KEEP]     = UNS_KEY("records", "incidents-keep", records.incidents_keep, 1, 1000),

        [K_HOOK_LEVEL]         = { "hooks", "on-level-change", KEY_COMMAND, OFF(hooks.on_level_change), 0, 0, 0, 1 },
        [K_HOOK_KILL]          = { "hooks", "before-kill", KEY_COMMAND, OFF(hooks.before_kill), 0, 0, 0, 1 },
        [K_HOOK_TIMEOUT]       = USEC_KEY("hooks", "timeout-seconds", hooks.timeout_usec, 0.1, 600, 0, USEC_PER_SEC),
};
/* clang-format on */

typedef struct ParseContext {
        GKeyFile *kf;
        Config *config;       /* the working copy */
        const char *filename; /* for messages */
        char *error;          /* the first error */
        bool set[_K_MAX];     /* keys this file sets */
} ParseContext;

typedef int (*GroupParser)(ParseContext *ctx, const char *group);

static int parse_table_group(ParseContext *ctx, const char *group);
static int parse_rules_group(ParseContext *ctx, const char *group);

/* Known groups. A module with its own groups adds a row here; `prefix` rows
 * match every group starting with `name` (e.g. "rule:"). */
static const struct {
        const char *name;
        bool prefix;
        GroupParser parse;
} group_table[] = {
        {"daemon", false, parse_table_group},
        {"pressure", false, parse_table_group},
        {"levels", false, parse_table_group},
        {"triggers", false, parse_table_group},
        {"planner", false, parse_table_group},
        {"actions", false, parse_table_group},
        {"records", false, parse_table_group},
        {"hooks", false, parse_table_group},
        {"rule:", true, parse_rules_group},
        {"protect", false, parse_rules_group},
};

static const char *const log_level_names[] = {
        [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

static char *xasprintf(const char *fmt, ...) _printf_(1, 2);
static char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) {
                fputs("memguard: out of memory\n", stderr);
                abort();
        }
        return s;
}

static inline void strv_freep(char ***l)
{
        strv_free(*l);
}

void strv_free(char **l)
{
        if (!l)
                return;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
}

/* File text quoted in a message: control characters escaped as \xNN, text
 * longer than `max` bytes cut (at a character boundary). */
static char *escape_max(const char *s, size_t max)
{
        size_t n = strlen(s), k = 0;
        char *out = xmalloc0(MIN(n, max) * 4 + 8);

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                /* Finish a UTF-8 sequence (at most 3 more bytes) before cutting. */
                if (i >= max && ((c & 0xc0) != 0x80 || i >= max + 3)) {
                        memcpy(out + k, "...", 3);
                        k += 3;
                        break;
                }
                if (c < 0x20 || c == 0x7f)
                        k += (size_t)sprintf(out + k, "\\x%02x", c);
                else
                        out[k++] = (char)c;
        }
        out[k] = 0;
        return out;
}

static char *escape(const char *s)
{
        return escape_max(s, ESCAPE_MAX);
}

static int fail(ParseContext *ctx, int r, const char *group, const char *key, const char *fmt, ...)
        _printf_(5, 6);
static int fail(ParseContext *ctx, int r, const char *group, const char *key, const char *fmt, ...)
{
        _cleanup_free_ char *what = NULL, *g = NULL, *k = NULL;
        va_list ap;

        if (ctx->error) /* keep the first */
                return r;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                abort();
        va_end(ap);
        g = group ? escape(group) : NULL;
        k = key ? escape(key) : NULL;
        if (!g)
                ctx->error = xasprintf("%s: %s", ctx->filename, what);
        else if (!k)
                ctx->error = xasprintf("%s: [%s]: %s", ctx->filename, g, what);
        else
                ctx->error = xasprintf("%s: [%s] %s: %s", ctx->filename, g, k, what);
        return r;
}

static int fail_key(ParseContext *ctx, int r, int idx, const char *raw, const char *what,
                    const char *expected)
{
        _cleanup_free_ char *got = escape(raw);

        return fail(ctx, r, key_table[idx].group, key_table[idx].name, "%s (expected %s, got '%s')", what,
                    expected, got);
}

static void *field(Config *c, int idx)
{
        return (char *)c + key_table[idx].offset;
}

/* A numeric key's value in the unit the file uses. */
static double key_value(const Config *c, int idx)
{
        const KeyDef *k = &key_table[idx];
        const char *p = (const char *)c + k->offset;

        switch (k->type) {
        case KEY_DOUBLE:
                return *(const double *)p / k->scale;
        case KEY_USEC:
                return (double)*(const uint64_t *)p / k->scale;
        case KEY_UNSIGNED:
                return *(const unsigned *)p;
        default:
                return NAN;
        }
}

/* The text a key had in this file (trailing blanks removed), or else its current value. */
static char *key_text(ParseContext *ctx, int idx)
{
        if (ctx->set[idx]) {
                g_autofree char *v =
                        g_key_file_get_value(ctx->kf, key_table[idx].group, key_table[idx].name, NULL);
                if (v)
                        return xstrdup(g_strchomp(v));
        }
        return xasprintf("%g", key_value(ctx->config, idx));
}

/* Strict decimal number: digits, '.', an exponent; no blanks, hex, inf or nan. */
static int parse_number(const char *s, double *ret)
{
        char *end;
        double v;

        if (!*s || strspn(s, "0123456789.eE+-") != strlen(s))
                return -EINVAL;
        errno = 0;
        v = g_ascii_strtod(s, &end);
        if (end == s || *end)
                return -EINVAL;
        if (errno == ERANGE || !isfinite(v))
                return -ERANGE;
        *ret = v + 0.0; /* no -0 */
        return 0;
}

static int parse_bool(const char *s, bool *ret)
{
        if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "1") == 0)
                *ret = true;
        else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "0") == 0)
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

/* A cgroup v2 path below the cgroup root: "/", or "/a/b" without empty, "." or ".." parts. */
static bool cgroup_path_valid(const char *s)
{
        if (s[0] != '/' || strlen(s) >= 4096)
                return false;
        if (s[1] == 0)
                return true;
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return false;
        for (const char *p = s + 1;;) {
                size_t n = strcspn(p, "/");

                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                if (!p[n])
                        return true;
                p += n + 1;
        }
}

static char *describe_range(const KeyDef *k)
{
        const char *kind = k->flags & KEY_WHOLE ? "a whole number" : "a number";

        if (k->flags & KEY_MIN_OPEN)
                return xasprintf("%s greater than %g and at most %g", kind, k->min, k->max);
        return xasprintf("%s from %g to %g", kind, k->min, k->max);
}

static int parse_numeric_key(ParseContext *ctx, int idx, const char *raw)
{
        const KeyDef *k = &key_table[idx];
        _cleanup_free_ char *range = describe_range(k);
        double v;
        int r;

        r = parse_number(raw, &v);
        if (r == -ERANGE)
                return fail_key(ctx, -ERANGE, idx, raw, "number out of range", range);
        if (r < 0)
                return fail_key(ctx, -EINVAL, idx, raw, "not a number", range);
        if ((k->flags & KEY_WHOLE) && v != floor(v))
                return fail_key(ctx, -EINVAL, idx, raw, "not a whole number", range);
        if (v < k->min || v > k->max || ((k->flags & KEY_MIN_OPEN) && v == k->min))
                return fail_key(ctx, -ERANGE, idx, raw, "out of range", range);

        switch (k->type) {
        case KEY_DOUBLE:
                *(double *)field(ctx->config, idx) = v * k->scale;
                break;
        case KEY_USEC:
                *(uint64_t *)field(ctx->config, idx) = (uint64_t)llround(v * k->scale);
                break;
        case KEY_UNSIGNED:
                *(unsigned *)field(ctx->config, idx) = (unsigned)v;
                break;
        default:
                abort();
        }
        return 0;
}

static int parse_key(ParseContext *ctx, int idx)
{
        const KeyDef *k = &key_table[idx];
        g_autofree char *raw = NULL;
        bool b;

        raw = g_key_file_get_value(ctx->kf, k->group, k->name, NULL);
        if (!raw)
                return fail(ctx, -EINVAL, k->group, k->name, "cannot read the value");
        g_strchomp(raw); /* GKeyFile removes the blanks before a value, not after */

        switch (k->type) {
        case KEY_BOOL:
                if (parse_bool(raw, &b) < 0)
                        return fail_key(ctx, -EINVAL, idx, raw, "not a boolean",
                                        "true, false, yes, no, 1 or 0");
                *(bool *)field(ctx->config, idx) = b;
                return 0;
        case KEY_LOG_LEVEL:
                for (size_t i = 0; i < ELEMENTSOF(log_level_names); i++)
                        if (strcmp(raw, log_level_names[i]) == 0) {
                                *(int *)field(ctx->config, idx) = (int)i;
                                return 0;
                        }
                return fail_key(ctx, -EINVAL, idx, raw, "unknown log level",
                                "emerg, alert, crit, err, warning, notice, info or debug");
        case KEY_COMMAND: {
                char ***p = field(ctx->config, idx);
                g_auto(GStrv) l = NULL;
                gsize n = 0;

                l = g_key_file_get_string_list(ctx->kf, k->group, k->name, &n, NULL);
                if (n > 0 && (!l || !l[0] || l[0][0] != '/'))
                        return fail_key(ctx, -EINVAL, idx, raw, "not a command",
                                        "an absolute program path, then its arguments, separated by ';'");
                strv_free(*p);
                *p = NULL;
                if (n > 0) {
                        char **v = xmalloc0((n + 1) * sizeof(char *));
                        for (gsize i = 0; i < n; i++)
                                v[i] = xstrdup(l[i]);
                        *p = v;
                }
                return 0;
        }
        case KEY_PROGRAM: {
                char **p = field(ctx->config, idx);
                bool ok = true;

                for (const char *c = raw; *c; c++)
                        if ((unsigned char)*c < 0x20 || *c == 0x7f)
                                ok = false;
                if (raw[0] && raw[0] != '/' && strchr(raw, '/'))
                        ok = false; /* relative paths would depend on the daemon's working directory */
                if (raw[0] == '/' && (strstr(raw, "/../") || strstr(raw, "/./") || raw[strlen(raw) - 1] == '/'))
                        ok = false;
                if (!ok)
                        return fail_key(ctx, -EINVAL, idx, raw, "not a program",
                                        "a program name looked up in PATH, such as criu, or an absolute path "
                                        "such as /usr/sbin/criu");
                free(*p);
                *p = raw[0] ? xstrdup(raw) : NULL;
                return 0;
        }
        case KEY_CGROUP: {
                char **p = field(ctx->config, idx);

                if (raw[0] && !cgroup_path_valid(raw))
                        return fail_key(ctx, -EINVAL, idx, raw, "not a cgroup path",
                                        "empty or an absolute path below the cgroup root such as "
                                        "/user.slice, without '.', '..', '//' or a trailing '/'");
                free(*p);
                *p = raw[0] ? xstrdup(raw) : NULL;
                return 0;
        }
        default:
                return parse_numeric_key(ctx, idx, raw);
        }
}

static char *list_keys(const char *group)
{
        GString *s = g_string_new(NULL);
        char *ret;

        for (size_t i = 0; i < _K_MAX; i++)
                if (strcmp(key_table[i].group, group) == 0)
                        g_string_append_printf(s, "%s%s", s->len ? ", " : "", key_table[i].name);
        ret = xstrdup(s->str);
        g_string_free(s, TRUE);
        return ret;
}

static int parse_table_group(ParseContext *ctx, const char *group)
{
        g_auto(GStrv) keys = g_key_file_get_keys(ctx->kf, group, NULL, NULL);

        for (char **key = keys; key && *key; key++) {
                int idx = -1, elsewhere = -1, r;

                for (int i = 0; i < _K_MAX; i++)
                        if (strcmp(key_table[i].name, *key) == 0) {
                                if (strcmp(key_table[i].group, group) == 0)
                                        idx = i;
                                else
                                        elsewhere = i;
                        }
                if (idx < 0 && elsewhere >= 0)
                        return fail(ctx, -EINVAL, group, *key,
                                    "unknown key in this group (it belongs in [%s])",
                                    key_table[elsewhere].group);
                if (idx < 0) {
                        _cleanup_free_ char *known = list_keys(group), *got = escape(*key);
                        return fail(ctx, -EINVAL, group, *key, "unknown key (expected one of %s; got '%s')",
                                    known, got);
                }
                if (ctx->set[idx])
                        return fail(ctx, -EINVAL, group, *key,
                                    "set more than once (expected each key once per file, got it twice)");
                ctx->set[idx] = true;
                r = parse_key(ctx, idx);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Require lo < hi (or lo <= hi). The key this file set is the one blamed. */
static int check_order(ParseContext *ctx, int lo, int hi, bool strict)
{
        double a = key_value(ctx->config, lo), b = key_value(ctx->config, hi);
        bool blame_hi = ctx->set[hi] || !ctx->set[lo];
        int idx = blame_hi ? hi : lo, other = blame_hi ? lo : hi;
        _cleanup_free_ char *text = NULL, *what = NULL, *expected = NULL;

        if (strict ? a < b : a <= b)
                return 0;
        text = key_text(ctx, idx);
        what = xasprintf("%s %s",
                         blame_hi ? (strict ? "not above" : "below") : (strict ? "not below" : "above"),
                         key_table[other].name);
        expected = xasprintf("%s %s = %g",
                             blame_hi ? (strict ? "a value above" : "at least")
                                      : (strict ? "a value below" : "at most"),
                             key_table[other].name, key_value(ctx->config, other));
        return fail_key(ctx, -EINVAL, idx, text, what, expected);
}

/* Falling below a level needs the score under threshold - hysteresis, so every
 * gap between thresholds (and the one between 0 and elevated) must be wider. */
static int check_hysteresis(ParseContext *ctx)
{
        _cleanup_free_ char *text = NULL, *what = NULL, *expected = NULL;
        double hysteresis = key_value(ctx->config, K_HYSTERESIS), gap = INFINITY;
        int hi = K_ELEVATED, lo, idx;
        const char *lo_name;

        for (int i = K_ELEVATED; i <= K_EMERGENCY; i++) {
                double g = key_value(ctx->config, i) - (i == K_ELEVATED ? 0 : key_value(ctx->config, i - 1));
                if (g < gap) {
                        gap = g;
                        hi = i;
                }
        }
        if (hysteresis < gap)
                return 0;

        /* The narrowest gap is between lo (-1: the score 0) and hi. */
        lo = hi == K_ELEVATED ? -1 : hi - 1;
        lo_name = lo < 0 ? "0" : key_table[lo].name;
        if (ctx->set[K_HYSTERESIS] || !(ctx->set[hi] || (lo >= 0 && ctx->set[lo]))) {
                text = key_text(ctx, K_HYSTERESIS);
                expected = xasprintf("less than %g, the gap between %s and %s", gap, lo_name,
                                     key_table[hi].name);
                return fail_key(ctx, -EINVAL, K_HYSTERESIS, text,
                                "not smaller than the smallest gap between thresholds", expected);
        }
        idx = ctx->set[hi] ? hi : lo;
        text = key_text(ctx, idx);
        what = xasprintf("too close to %s", idx == hi ? lo_name : key_table[hi].name);
        expected = xasprintf("a gap between %s and %s wider than hysteresis = %g", lo_name,
                             key_table[hi].name, hysteresis);
        return fail_key(ctx, -EINVAL, idx, text, what, expected);
}

/* Constraints between keys, on the merged result of this file and what came before. */
static int check_together(ParseContext *ctx)
{
        static const int weights[] = {K_WEIGHT_PSI, K_WEIGHT_SWAP, K_WEIGHT_GPU, K_WEIGHT_SWAP_IO};
        const PressureParams *p = &ctx->config->pressure;
        double sum = 0;
        int blame = K_WEIGHT_PSI, r;

        for (size_t i = 0; i < ELEMENTSOF(weights); i++) {
                sum += key_value(ctx->config, weights[i]);
                if (ctx->set[weights[i]])
                        blame = weights[i];
        }
        if (!(sum > 0)) {
                _cleanup_free_ char *text = key_text(ctx, blame);
                return fail_key(ctx, -EINVAL, blame, text, "all four weights are 0",
                                "at least one weight above 0");
        }

        r = check_order(ctx, K_SWAP_LOW, K_SWAP_HIGH, true);
        if (r < 0)
                return r;
        if (p->floor_critical_percent > 0 && p->floor_emergency_percent > 0) {
                r = check_order(ctx, K_MEM_EMERGENCY, K_MEM_CRITICAL, false);
                if (r < 0)
                        return r;
        }
        for (int i = K_ELEVATED; i < K_EMERGENCY; i++) {
                r = check_order(ctx, i, i + 1, true);
                if (r < 0)
                        return r;
        }
        r = check_hysteresis(ctx);
        if (r < 0)
                return r;
        r = check_order(ctx, K_SOME_STALL, K_WINDOW, true);
        if (r < 0)
                return r;
        return check_order(ctx, K_FULL_STALL, K_WINDOW, true);
}

/* [rule:NAME] and [protect] belong to the rules module (rules.c). */
static int parse_rules_group(ParseContext *ctx, const char *group)
{
        char *error = NULL;
        int r = rules_parse_group(&ctx->config->rules, ctx->kf, group, ctx->filename, &error);

        if (r < 0) {
                if (!ctx->error)
                        ctx->error = error;
                else
                        free(error);
        }
        return r;
}

static int parse_group(ParseContext *ctx, const char *group)
{
        GString *known;
        _cleanup_free_ char *got = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(group_table); i++) {
                const char *n = group_table[i].name;

                if (group_table[i].prefix ? strncmp(group, n, strlen(n)) == 0 : strcmp(group, n) == 0)
                        return group_table[i].parse(ctx, group);
        }

        known = g_string_new(NULL);
        for (size_t i = 0; i < ELEMENTSOF(group_table); i++)
                g_string_append_printf(known, "%s[%s%s]", i ? ", " : "", group_table[i].name,
                                       group_table[i].prefix ? "NAME" : "");
        got = escape(group);
        r = fail(ctx, -EINVAL, group, NULL, "unknown group (expected one of %s; got '%s')", known->str, got);
        g_string_free(known, TRUE);
        return r;
}

static unsigned line_of(const char *data, const char *pos)
{
        unsigned line = 1;

        for (const char *p = data; p < pos; p++)
                line += *p == '\n';
        return line;
}

static int parse_text(ParseContext *ctx, const char *data, size_t len)
{
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) groups = NULL;
        const char *p;
        int r;

        p = memchr(data, 0, len);
        if (p)
                return fail(ctx, -EINVAL, NULL, NULL, "NUL byte on line %u (expected a text file)",
                            line_of(data, p));
        if (!g_utf8_validate_len(data, len, &p))
                return fail(ctx, -EINVAL, NULL, NULL,
                            "invalid UTF-8 on line %u (expected a UTF-8 text file)", line_of(data, p));
        if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_KEEP_TRANSLATIONS, &error)) {
                _cleanup_free_ char *what = escape_max(error->message, 256);
                return fail(ctx, -EINVAL, NULL, NULL, "syntax error: %s", what);
        }

        ctx->kf = kf;
        groups = g_key_file_get_groups(kf, NULL);
        for (char **g = groups; *g; g++) {
                r = parse_group(ctx, *g);
                if (r < 0)
                        goto out;
        }
        r = check_together(ctx);
out:
        ctx->kf = NULL;
        return r;
}

int config_parse_data(Config *c, const char *data, size_t len, const char *filename, char **ret_error)
{
        _cleanup_(config_done) Config tmp = {};
        ParseContext ctx = {.config = &tmp, .filename = filename ? filename : "(config)"};
        int r;

        if (!c || (!data && len > 0))
                return -EINVAL;

        config_copy(&tmp, c);
        r = parse_text(&ctx, data ? data : "", len);
        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(ctx.error);
                free(ctx.error);
                return r;
        }
        free(ctx.error);
        config_done(c);
        config_move(c, &tmp);
        return 0;
}

static int set_error(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int set_error(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        if (!ret_error)
                return r;
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                abort();
        va_end(ap);
        return r;
}

int config_load_file(Config *c, const char *path, char **ret_error)
{
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_full_file_at(AT_FDCWD, path, CONFIG_FILE_MAX, &buf, &size);
        if (r == -EFBIG)
                return set_error(ret_error, r, "%s: too large (expected at most %d bytes)", path,
                                 CONFIG_FILE_MAX);
        if (r < 0)
                return set_error(ret_error, r, "%s: cannot read: %s", path, STRERROR(r));
        return config_parse_data(c, buf, size, path, ret_error);
}

static void strv_push(char ***l, size_t *n, char *s)
{
        char **nl = realloc(*l, (*n + 2) * sizeof(char *));

        if (!nl)
                abort();
        nl[(*n)++] = s;
        nl[*n] = NULL;
        *l = nl;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int config_dir(bool system_mode, char **ret, char **ret_error)
{
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

        if (system_mode)
                *ret = xstrdup(SYSCONFDIR "/memguard");
        else if (xdg && xdg[0] == '/') /* the XDG spec says to ignore relative paths */
                *ret = xasprintf("%s/memguard", xdg);
        else if (home && home[0] == '/')
                *ret = xasprintf("%s/.config/memguard", home);
        else
                return set_error(
                        ret_error, -ENXIO,
                        "cannot find the user configuration directory: neither $XDG_CONFIG_HOME nor "
                        "$HOME is an absolute path");
        return 0;
}

/* Regular files (or links to them) named *.conf, not hidden, sorted by name. */
static int add_dropins(const char *dir, char ***l, size_t *n, char **ret_error)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        size_t first = *n;

        if (!d) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return 0;
                return set_error(ret_error, -errno, "%s: cannot list the drop-in files: %s", dir,
                                 strerror(errno));
        }
        while ((errno = 0, de = readdir(d))) {
                size_t len = strlen(de->d_name);
                struct stat st;

                if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".conf") != 0)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0) {
                        if (errno == ENOENT) /* dangling link */
                                continue;
                } else if (!S_ISREG(st.st_mode)) /* directories, masks linked to /dev/null */
                        continue;
                strv_push(l, n, xasprintf("%s/%s", dir, de->d_name));
        }
        if (errno > 0)
                return set_error(ret_error, -errno, "%s: cannot list the drop-in files: %s", dir,
                                 strerror(errno));
        qsort(*l + first, *n - first, sizeof(char *), cmp_str);
        return 0;
}

static int files_for_mode(bool system_mode, const char *override, char ***ret_files, char **ret_error)
{
        _cleanup_(strv_freep) char **l = xmalloc0(sizeof(char *));
        _cleanup_free_ char *dir = NULL, *main_file = NULL, *dropin_dir = NULL;
        struct stat st;
        size_t n = 0;
        int r;

        if (override) {
                if (stat(override, &st) < 0)
                        return set_error(ret_error, -errno, "%s: cannot read: %s", override,
                                         strerror(errno));
                strv_push(&l, &n, xstrdup(override));
                *ret_files = TAKE_PTR(l);
                return 0;
        }

        r = config_dir(system_mode, &dir, ret_error);
        if (r < 0)
                return r;
        main_file = xasprintf("%s/memguard.conf", dir);
        if (stat(main_file, &st) >= 0 || (errno != ENOENT && errno != ENOTDIR))
                strv_push(&l, &n, TAKE_PTR(main_file)); /* unreadable: loading says why */
        dropin_dir = xasprintf("%s/memguard.conf.d", dir);
        r = add_dropins(dropin_dir, &l, &n, ret_error);
        if (r < 0)
                return r;
        *ret_files = TAKE_PTR(l);
        return 0;
}

int config_files_for_mode(bool system_mode, const char *override, char ***ret_files)
{
        return files_for_mode(system_mode, override, ret_files, NULL);
}

int config_load_all(bool system_mode, const char *override, Config *ret, char **ret_error)
{
        _cleanup_(config_done) Config tmp = {};
        _cleanup_(strv_freep) char **files = NULL;
        int r;

        r = files_for_mode(system_mode, override, &files, ret_error);
        if (r < 0)
                return r;
        config_init(&tmp);
        for (char **f = files; *f; f++) {
                r = config_load_file(&tmp, *f, ret_error);
                if (r < 0)
                        return r;
        }
        config_move(ret, &tmp);
        return 0;
}

void config_init(Config *c)
{
        *c = (Config){
                .dry_run = false,
                .scope = NULL,
                .log_level = LOG_INFO,
        };
        pressure_params_default(&c->pressure);
        level_params_default(&c->level);
        trigger_params_default(&c->trigger);
        planner_params_default(&c->planner);
        action_params_default(&c->actions);
        record_params_default(&c->records);
        hook_params_default(&c->hooks);
        rules_init(&c->rules);
        {
                _cleanup_free_ char *error = NULL;
                /* The shipped rules are part of the program: failing to parse them is a bug. */
                if (rules_load_defaults(&c->rules, &error) < 0) {
                        fprintf(stderr, "memguard: shipped rules do not parse: %s\n", strna(error));
                        abort();
                }
        }
}

void config_done(Config *c)
{
        if (!c)
                return;
        free(c->scope);
        c->scope = NULL;
        strv_free(c->hooks.on_level_change);
        strv_free(c->hooks.before_kill);
        c->hooks.on_level_change = c->hooks.before_kill = NULL;
        free(c->actions.criu);
        c->actions.criu = NULL;
        rules_done(&c->rules);
}

static char **strv_copy(char **l)
{
        size_t n = 0;
        char **v;

        if (!l)
                return NULL;
        while (l[n])
                n++;
        v = xmalloc0((n + 1) * sizeof(char *));
        for (size_t i = 0; i < n; i++)
                v[i] = xstrdup(l[i]);
        return v;
}

void config_copy(Config *dst, const Config *src)
{
        *dst = *src;
        dst->scope = xstrdup(src->scope);
        dst->hooks.on_level_change = strv_copy(src->hooks.on_level_change);
        dst->hooks.before_kill = strv_copy(src->hooks.before_kill);
        dst->actions.criu = xstrdup(src->actions.criu);
        rules_init(&dst->rules);
        if (rules_copy(&dst->rules, &src->rules) < 0)
                abort(); /* out of memory, or rules that compiled once no longer compile */
}

void config_move(Config *dst, Config *src)
{
        *dst = *src;
        src->scope = NULL;
        src->hooks.on_level_change = src->hooks.before_kill = NULL;
        src->actions.criu = NULL;
        rules_init(&src->rules);
}
