/* SPDX-License-Identifier: MIT */
/*
 * Rules: parsing [rule:NAME] and [protect] groups. Matching lives in
 * rules-match.c; the semantics are described in rules.h.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "regex-util.h"
#include "rules.h"

#include <glib.h> /* after macro.h: GLib replaces MIN and MAX with its own, alike */

#define RULES_MAX 1024
#define LIST_MAX 256     /* entries in one list value */
#define PATTERN_MAX 1024 /* bytes in one glob or regex */
#define USER_NAME_MAX 32

/* Everything one group sets, before it is merged into the RuleSet. */
typedef struct RuleDelta {
        Rule r;         /* values of the keys in r.set (r.name unused) */
        unsigned clear; /* keys given with an empty value: unset them */
} RuleDelta;

typedef struct ParseContext {
        const char *filename, *group;
        char **ret_error;
} ParseContext;

/* A message quotes file text: escape control characters as \xNN, so it stays one clean line. */
static char *escape_controls(const char *s)
{
        char *out = xmalloc0(strlen(s) * 4 + 1), *p = out;

        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        p += sprintf(p, "\\x%02x", (unsigned char)*s);
                else
                        *p++ = *s;
        return out;
}

_printf_(3, 4) static int parse_error(const ParseContext *c, const char *key, const char *fmt, ...)
{
        _cleanup_free_ char *what = NULL, *msg = NULL;
        va_list ap;
        int r;

        if (!c->ret_error)
                return -EINVAL;
        va_start(ap, fmt);
        r = vasprintf(&what, fmt, ap);
        va_end(ap);
        if (r < 0)
                abort(); /* out of memory is fatal */
        if (asprintf(&msg, "%s: [%s]%s%s: %s", c->filename, c->group, key ? " " : "", strempty(key), what) <
            0)
                abort();
        *c->ret_error = escape_controls(msg);
        return -EINVAL;
}

PriorityClass priority_class(int priority)
{
        if (priority < 20)
                return PRIORITY_NEVER;
        if (priority < 50)
                return PRIORITY_PROTECTED;
        if (priority < 60)
                return PRIORITY_NORMAL;
        if (priority < 80)
                return PRIORITY_EXPENDABLE;
        return PRIORITY_HEAVY;
}

const char *priority_class_to_string(PriorityClass c)
{
        static const char *const names[] = {
                [PRIORITY_NEVER] = "never touched",    [PRIORITY_PROTECTED] = "protected",
                [PRIORITY_NORMAL] = "normal",          [PRIORITY_EXPENDABLE] = "expendable",
                [PRIORITY_HEAVY] = "expendable heavy",
        };
        return (unsigned)c < ELEMENTSOF(names) ? names[c] : NULL;
}

bool rule_is_weak(const Rule *r)
{
        unsigned m = r->set & RULE_KEYS_MATCH;

        if ((r->set & RULE_KEY_TRUST_COMM) && r->trust_comm)
                return false;
        return m != 0 && (m & ~RULE_KEYS_SELF_CHOSEN) == 0;
}

static void rule_free_field(Rule *r, unsigned key)
{
        switch (key) {
        case RULE_KEY_EXE:
                g_clear_pointer(&r->exe, g_strfreev);
                break;
        case RULE_KEY_COMM:
                g_clear_pointer(&r->comm, g_strfreev);
                break;
        case RULE_KEY_CGROUP:
                g_clear_pointer(&r->cgroup, g_strfreev);
                break;
        case RULE_KEY_UNIT:
                g_clear_pointer(&r->unit, g_strfreev);
                break;
        case RULE_KEY_APP_ID:
                g_clear_pointer(&r->app_id, g_strfreev);
                break;
        case RULE_KEY_CMDLINE:
                if (r->cmdline) {
                        regfree(&r->cmdline_re);
                        g_clear_pointer(&r->cmdline, g_free);
                }
                break;
        case RULE_KEY_UID:
                g_clear_pointer(&r->uids, g_free);
                r->n_uids = 0;
                break;
        default:
                break;
        }
}

static void rule_done(Rule *r)
{
        for (unsigned k = 1; k & RULE_KEYS_MATCH; k <<= 1)
                rule_free_field(r, k);
        g_clear_pointer(&r->name, g_free);
}

/* Move the value of `key` from *src to *dst (whose old value is freed). */
static void rule_move_field(Rule *dst, Rule *src, unsigned key)
{
        rule_free_field(dst, key);
        switch (key) {
        case RULE_KEY_EXE:
                dst->exe = TAKE_PTR(src->exe);
                break;
        case RULE_KEY_COMM:
                dst->comm = TAKE_PTR(src->comm);
                break;
        case RULE_KEY_CGROUP:
                dst->cgroup = TAKE_PTR(src->cgroup);
                break;
        case RULE_KEY_UNIT:
                dst->unit = TAKE_PTR(src->unit);
                break;
        case RULE_KEY_APP_ID:
                dst->app_id = TAKE_PTR(src->app_id);
                break;
        case RULE_KEY_CMDLINE:
                dst->cmdline = TAKE_PTR(src->cmdline);
                dst->cmdline_re = src->cmdline_re;
                memcpy(dst->cmdline_lit, src->cmdline_lit, sizeof(dst->cmdline_lit));
                break;
        case RULE_KEY_UID:
                dst->uids = TAKE_PTR(src->uids);
                dst->n_uids = src->n_uids;
                src->n_uids = 0;
                break;
        case RULE_KEY_PRIORITY:
                dst->priority = src->priority;
                break;
        case RULE_KEY_ACTIONS:
                dst->actions = src->actions;
                break;
        case RULE_KEY_PREFER_FREEZE:
                dst->prefer_freeze = src->prefer_freeze;
                break;
        case RULE_KEY_SPLIT:
                dst->split = src->split;
                break;
        case RULE_KEY_TRUST_COMM:
                dst->trust_comm = src->trust_comm;
                break;
        case RULE_KEY_ENABLED:
                dst->enabled = src->enabled;
                break;
        }
}

void rules_init(RuleSet *rs)
{
        *rs = (RuleSet){};
}

static void protect_done(ProtectList *p)
{
        g_strfreev(p->exe);
        g_strfreev(p->unit);
        g_strfreev(p->cgroup);
        g_strfreev(p->app_id);
        g_strfreev(p->comm);
        *p = (ProtectList){};
}

void rules_done(RuleSet *rs)
{
        for (size_t i = 0; i < rs->n; i++)
                rule_done(&rs->rules[i]);
        free(rs->rules);
        protect_done(&rs->protect);
        rules_init(rs);
}

static int parse_glob_list(const ParseContext *c, GKeyFile *kf, const char *key, bool absolute, char ***ret)
{
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) l = NULL;
        gsize n;

        l = g_key_file_get_string_list(kf, c->group, key, &n, &error);
        if (!l)
                return parse_error(c, key, "%s", error ? error->message : "invalid list");
        if (n > LIST_MAX)
                return parse_error(c, key, "more than %d entries", LIST_MAX);
        for (gsize i = 0; i < n; i++) {
                if (l[i][0] == '\0')
                        return parse_error(c, key, "empty pattern");
                if (strlen(l[i]) > PATTERN_MAX)
                        return parse_error(c, key, "pattern longer than %d bytes", PATTERN_MAX);
                if (absolute && l[i][0] != '/')
                        return parse_error(c, key, "\"%s\" is not an absolute path", l[i]);
        }
        *ret = n > 0 ? TAKE_PTR(l) : NULL;
        return 0;
}

static bool user_name_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > USER_NAME_MAX || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]) && !(s[i] == '$' && i == n - 1))
                        return false;
        return true;
}

static int resolve_user(const char *name, uid_t *ret)
{
        long size = sysconf(_SC_GETPW_R_SIZE_MAX);

        for (size = size > 0 ? size : 1024; size <= 1024 * 1024; size *= 2) {
                _cleanup_free_ char *buf = xmalloc0((size_t)size);
                struct passwd pw, *result = NULL;
                int r = getpwnam_r(name, &pw, buf, (size_t)size, &result);

                if (r == ERANGE)
                        continue;
                /* getpwnam(3): these also mean "no such user". */
                if (!result && (r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM))
                        return -ENOENT;
                if (r != 0)
                        return -r;
                *ret = pw.pw_uid;
                return 0;
        }
        return -ERANGE;
}

static int parse_uid_list(const ParseContext *c, GKeyFile *kf, Rule *d)
{
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) l = NULL;
        g_autofree uid_t *uids = NULL;
        gsize n;

        l = g_key_file_get_string_list(kf, c->group, "uid", &n, &error);
        if (!l)
                return parse_error(c, "uid", "%s", error ? error->message : "invalid list");
        if (n > LIST_MAX)
                return parse_error(c, "uid", "more than %d entries", LIST_MAX);
        uids = g_new0(uid_t, n + 1);
        for (gsize i = 0; i < n; i++) {
                uint64_t v;
                int r;

                if (safe_atou64(l[i], &v) >= 0) {
                        if (v >= (uid_t)-1)
                                return parse_error(c, "uid", "%s is out of range", l[i]);
                        uids[i] = (uid_t)v;
                        continue;
                }
                if (!user_name_valid(l[i]))
                        return parse_error(c, "uid", "\"%s\" is neither a number nor a user name", l[i]);
                r = resolve_user(l[i], &uids[i]);
                if (r == -ENOENT)
                        return parse_error(c, "uid", "unknown user \"%s\"", l[i]);
                if (r < 0)
                        return parse_error(c, "uid", "cannot resolve user \"%s\": %s", l[i], STRERROR(r));
        }
        rule_free_field(d, RULE_KEY_UID);
        d->n_uids = n;
        d->uids = n > 0 ? TAKE_PTR(uids) : NULL;
        return 0;
}

static int parse_bool(const ParseContext *c, GKeyFile *kf, const char *key, bool *ret)
{
        g_autoptr(GError) error = NULL;
        gboolean b = g_key_file_get_boolean(kf, c->group, key, &error);

        if (error)
                return parse_error(c, key, "expected true or false");
        *ret = b;
        return 0;
}

static int parse_actions(const ParseContext *c, GKeyFile *kf, unsigned *ret)
{
        static const char *const names[] = {"throttle", "freeze", "checkpoint", "kill"};
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) l = NULL;
        unsigned actions = 0;

        l = g_key_file_get_string_list(kf, c->group, "actions", NULL, &error);
        if (!l)
                return parse_error(c, "actions", "%s", error ? error->message : "invalid list");
        for (char **s = l; *s; s++) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(names); i++)
                        if (strcmp(*s, names[i]) == 0)
                                break;
                if (i == ELEMENTSOF(names))
                        return parse_error(c, "actions",
                                           "unknown action \"%s\" (expected throttle, freeze, "
                                           "checkpoint or kill)",
                                           *s);
                actions |= 1u << i;
        }
        *ret = actions;
        return 0;
}

static const struct {
        const char *key;
        unsigned bit;
} rule_keys[] = {
        {"exe", RULE_KEY_EXE},         {"comm", RULE_KEY_COMM},
        {"cmdline", RULE_KEY_CMDLINE}, {"cgroup", RULE_KEY_CGROUP},
        {"unit", RULE_KEY_UNIT},       {"uid", RULE_KEY_UID},
        {"app-id", RULE_KEY_APP_ID},   {"priority", RULE_KEY_PRIORITY},
        {"actions", RULE_KEY_ACTIONS}, {"prefer-freeze", RULE_KEY_PREFER_FREEZE},
        {"split", RULE_KEY_SPLIT},     {"trust-comm", RULE_KEY_TRUST_COMM},
        {"enabled", RULE_KEY_ENABLED},
};

static int parse_rule_key(const ParseContext *c, GKeyFile *kf, const char *key, unsigned bit, Rule *d)
{
        g_autofree char *raw = g_key_file_get_value(kf, c->group, key, NULL);
        char err[256];
        uint64_t v;

        switch (bit) {
        case RULE_KEY_EXE:
                rule_free_field(d, bit);
                return parse_glob_list(c, kf, key, true, &d->exe);
        case RULE_KEY_COMM:
                rule_free_field(d, bit);
                return parse_glob_list(c, kf, key, false, &d->comm);
        case RULE_KEY_CGROUP:
                rule_free_field(d, bit);
                return parse_glob_list(c, kf, key, false, &d->cgroup);
        case RULE_KEY_UNIT:
                rule_free_field(d, bit);
                return parse_glob_list(c, kf, key, false, &d->unit);
        case RULE_KEY_APP_ID:
                rule_free_field(d, bit);
                return parse_glob_list(c, kf, key, false, &d->app_id);
        case RULE_KEY_UID:
                return parse_uid_list(c, kf, d);
        case RULE_KEY_CMDLINE: {
                regex_t re;

                /* Taken verbatim (no GKeyFile escapes), so a regex reads as written. */
                if (regex_compile_bounded(raw, &re, err, sizeof(err)) < 0)
                        return parse_error(c, key, "invalid regular expression \"%s\": %s", raw, err);
                rule_free_field(d, bit);
                d->cmdline = TAKE_PTR(raw);
                d->cmdline_re = re;
                regex_required_literal(d->cmdline, d->cmdline_lit, sizeof(d->cmdline_lit));
                return 0;
        }
        case RULE_KEY_PRIORITY:
                if (safe_atou64(raw, &v) < 0 || v > RULE_PRIORITY_MAX)
                        return parse_error(c, key, "\"%s\" is not a number from 0 to %d", raw,
                                           RULE_PRIORITY_MAX);
                d->priority = (int)v;
                return 0;
        case RULE_KEY_ACTIONS:
                return parse_actions(c, kf, &d->actions);
        case RULE_KEY_PREFER_FREEZE:
                return parse_bool(c, kf, key, &d->prefer_freeze);
        case RULE_KEY_SPLIT:
                return parse_bool(c, kf, key, &d->split);
        case RULE_KEY_TRUST_COMM:
                return parse_bool(c, kf, key, &d->trust_comm);
        case RULE_KEY_ENABLED:
                return parse_bool(c, kf, key, &d->enabled);
        }
        return -EINVAL;
}

static bool rule_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > RULE_NAME_MAX || strcmp(name, "default") == 0 || strcmp(name, "protect") == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)name[i]) && !strchr("_.@-", name[i]))
                        return false;
        return true;
}

static Rule *rules_find(RuleSet *rs, const char *name)
{
        for (size_t i = 0; i < rs->n; i++)
                if (strcmp(rs->rules[i].name, name) == 0)
                        return &rs->rules[i];
        return NULL;
}

static int parse_rule_group(RuleSet *rs, GKeyFile *kf, const ParseContext *c, const char *name)
{
        g_auto(GStrv) keys = NULL;
        RuleDelta d = {};
        Rule *target;
        unsigned merged;
        int r = 0;

        if (!rule_name_valid(name))
                return parse_error(c, NULL,
                                   "invalid rule name \"%s\" (1-%d of A-Z a-z 0-9 _ . @ -, not "
                                   "\"default\" or \"protect\")",
                                   name, RULE_NAME_MAX);
        keys = g_key_file_get_keys(kf, c->group, NULL, NULL);
        for (char **k = keys; k && *k; k++) {
                g_autofree char *raw = g_key_file_get_value(kf, c->group, *k, NULL);
                size_t i;

                for (i = 0; i < ELEMENTSOF(rule_keys); i++)
                        if (strcmp(*k, rule_keys[i].key) == 0)
                                break;
                if (i == ELEMENTSOF(rule_keys)) {
                        r = parse_error(c, *k, "unknown key");
                        goto finish;
                }
                if (!raw || raw[0] == '\0') {
                        rule_free_field(&d.r, rule_keys[i].bit);
                        d.r.set &= ~rule_keys[i].bit;
                        d.clear |= rule_keys[i].bit;
                        continue;
                }
                r = parse_rule_key(c, kf, *k, rule_keys[i].bit, &d.r);
                if (r < 0)
                        goto finish;
                d.r.set |= rule_keys[i].bit;
                d.clear &= ~rule_keys[i].bit;
        }

        target = rules_find(rs, name);
        merged = ((target ? target->set : 0) & ~d.clear) | d.r.set;
        if (!(merged & RULE_KEYS_MATCH)) {
                r = parse_error(c, NULL,
                                "rule matches nothing: set at least one of exe, comm, cmdline, "
                                "cgroup, unit, uid, app-id");
                goto finish;
        }
        if (!target) {
                if (rs->n >= RULES_MAX) {
                        r = parse_error(c, NULL, "more than %d rules", RULES_MAX);
                        goto finish;
                }
                rs->rules = g_renew(Rule, rs->rules, rs->n + 1);
                target = &rs->rules[rs->n++];
                *target = (Rule){.name = g_strdup(name)};
        }
        for (unsigned k = 1; k & RULE_KEYS_ALL; k <<= 1) {
                if (d.clear & k)
                        rule_free_field(target, k);
                else if (d.r.set & k)
                        rule_move_field(target, &d.r, k);
        }
        target->set = merged;

finish:
        rule_done(&d.r);
        return r;
}

#define PROTECT_LIST_MAX (LIST_MAX * 16)

static size_t strv_length0(char **l)
{
        return l ? g_strv_length(l) : 0;
}

/* Move the strings of `add` to the end of *l. */
static void strv_extend_take(char ***l, char **add)
{
        size_t n = strv_length0(*l), m = strv_length0(add);

        *l = g_renew(char *, *l, n + m + 1);
        for (size_t i = 0; i < m; i++)
                (*l)[n + i] = add[i];
        (*l)[n + m] = NULL;
        g_free(add);
}

static int parse_protect_group(RuleSet *rs, GKeyFile *kf, const ParseContext *c)
{
        ProtectList *p = &rs->protect;
        const struct {
                const char *key;
                char ***list;
                bool absolute;
        } lists[] = {
                {"exe", &p->exe, true},        {"unit", &p->unit, false}, {"cgroup", &p->cgroup, false},
                {"app-id", &p->app_id, false}, {"comm", &p->comm, false},
        };
        g_auto(GStrv) keys = g_key_file_get_keys(kf, c->group, NULL, NULL);
        char **parsed[ELEMENTSOF(lists)] = {};
        bool trust = p->trust_comm;
        int r = 0;

        /* Validate everything first, so that an error changes nothing. */
        for (char **k = keys; k && *k && r >= 0; k++) {
                size_t i;

                if (strcmp(*k, "trust-comm") == 0) {
                        r = parse_bool(c, kf, *k, &trust);
                        continue;
                }
                for (i = 0; i < ELEMENTSOF(lists); i++)
                        if (strcmp(*k, lists[i].key) == 0)
                                break;
                if (i == ELEMENTSOF(lists)) {
                        r = parse_error(c, *k, "unknown key");
                        break;
                }
                g_clear_pointer(&parsed[i], g_strfreev);
                r = parse_glob_list(c, kf, *k, lists[i].absolute, &parsed[i]);
                if (r >= 0 && strv_length0(*lists[i].list) + strv_length0(parsed[i]) > PROTECT_LIST_MAX)
                        r = parse_error(c, *k, "protect list longer than %d entries", PROTECT_LIST_MAX);
        }
        for (size_t i = 0; i < ELEMENTSOF(lists); i++)
                if (r >= 0 && parsed[i])
                        strv_extend_take(lists[i].list, TAKE_PTR(parsed[i]));
                else
                        g_strfreev(parsed[i]);
        if (r >= 0)
                p->trust_comm = trust;
        return r;
}

bool rules_is_rules_group(const char *group)
{
        return group && (strcmp(group, "protect") == 0 || strncmp(group, "rule:", 5) == 0);
}

int rules_parse_group(RuleSet *rs, GKeyFile *kf, const char *group, const char *filename, char **ret_error)
{
        ParseContext c = {
                .filename = filename ? filename : "(config)", .group = group, .ret_error = ret_error};

        if (!rs || !kf || !group)
                return -EINVAL;
        if (strcmp(group, "protect") == 0)
                return parse_protect_group(rs, kf, &c);
        if (strncmp(group, "rule:", 5) == 0)
                return parse_rule_group(rs, kf, &c, group + 5);
        return parse_error(&c, NULL, "not a rules group");
}

static int rule_copy(Rule *dst, const Rule *src)
{
        *dst = *src;
        dst->name = g_strdup(src->name);
        dst->exe = g_strdupv(src->exe);
        dst->comm = g_strdupv(src->comm);
        dst->cgroup = g_strdupv(src->cgroup);
        dst->unit = g_strdupv(src->unit);
        dst->app_id = g_strdupv(src->app_id);
        dst->uids = src->n_uids > 0 ? g_memdup2(src->uids, src->n_uids * sizeof(uid_t)) : NULL;
        dst->cmdline = NULL;
        if (src->cmdline) {
                /* It compiled before, so only memory can fail here. */
                if (regcomp(&dst->cmdline_re, src->cmdline, REG_EXTENDED | REG_NOSUB) != 0) {
                        rule_done(dst);
                        return -ENOMEM;
                }
                dst->cmdline = g_strdup(src->cmdline);
        }
        return 0;
}

int rules_copy(RuleSet *dst, const RuleSet *src)
{
        RuleSet t = {};
        int r;

        t.rules = g_new0(Rule, MAX(src->n, 1));
        for (size_t i = 0; i < src->n; i++) {
                r = rule_copy(&t.rules[i], &src->rules[i]);
                if (r < 0) {
                        rules_done(&t);
                        return r;
                }
                t.n++;
        }
        t.protect = (ProtectList){
                .exe = g_strdupv(src->protect.exe),
                .unit = g_strdupv(src->protect.unit),
                .cgroup = g_strdupv(src->protect.cgroup),
                .app_id = g_strdupv(src->protect.app_id),
                .comm = g_strdupv(src->protect.comm),
                .trust_comm = src->protect.trust_comm,
        };
        *dst = t;
        return 0;
}

int rules_parse_data(RuleSet *rs, const char *data, size_t len, const char *filename, char **ret_error)
{
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) error = NULL;
        g_auto(GStrv) groups = NULL;
        ParseContext c = {.filename = filename ? filename : "(config)", .ret_error = ret_error};
        RuleSet t;
        int r;

        if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &error)) {
                if (ret_error) {
                        g_autofree char *msg = g_strdup_printf("%s: %s", c.filename, error->message);
                        *ret_error = escape_controls(msg);
                }
                return -EINVAL;
        }
        /* Work on a copy, so that an error leaves *rs as it was. */
        r = rules_copy(&t, rs);
        if (r < 0)
                return r;
        groups = g_key_file_get_groups(kf, NULL);
        for (char **g = groups; *g; g++) {
                c.group = *g;
                r = rules_is_rules_group(*g) ? rules_parse_group(&t, kf, *g, c.filename, ret_error)
                                             : parse_error(&c, NULL, "unknown group");
                if (r < 0) {
                        rules_done(&t);
                        return r;
                }
        }
        rules_done(rs);
        *rs = t;
        return 0;
}

int rules_load_defaults(RuleSet *rs, char **ret_error)
{
        return rules_parse_data(rs, memguard_default_rules, strlen(memguard_default_rules),
                                "default-rules.conf (built in)", ret_error);
}
