/* SPDX-License-Identifier: MIT */
/*
 * Rules: matching processes and the never-target list. This runs in the
 * decision loop: no GLib, no allocation, no I/O.
 */
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rules.h"

#define DELETED_SUFFIX " (deleted)"

/*
 * fnmatch(3), with the literal part before the first special character
 * compared first: most patterns are literal paths or start with one, so most
 * misses end within a few bytes, and a literal pattern needs no
 * fnmatch at all (fnmatch costs about 0.2 µs a call, and the planner tries
 * every pattern of every rule on each of up to 10,000 processes).
 */
static bool glob_match(const char *pattern, const char *s, int flags)
{
        const char *p = pattern, *v = s;

        for (; *p && *p != '*' && *p != '?' && *p != '[' && *p != '\\'; p++, v++)
                if (*p != *v)
                        return false;
        if (*p == 0)
                return *v == 0;
        return fnmatch(pattern, s, flags) == 0;
}

/* The first pattern of `l` that matches `s`, or NULL. */
static const char *glob_list_find(char *const *l, const char *s, int flags)
{
        if (!s)
                return NULL;
        for (; l && *l; l++)
                if (glob_match(*l, s, flags))
                        return *l;
        return NULL;
}

static bool glob_list_match(char *const *l, const char *s, int flags)
{
        return glob_list_find(l, s, flags);
}

/*
 * The exe path to match. After a package upgrade the running binary reads as
 * "/usr/sbin/sshd (deleted)": match it as the path it was started from (only
 * root can have put a binary there). NULL if there is none.
 */
static const char *exe_path(const char *exe, char buf[static PATH_MAX])
{
        size_t n, k = strlen(DELETED_SUFFIX);

        if (!exe)
                return NULL;
        n = strlen(exe);
        if (n <= k || strcmp(exe + n - k, DELETED_SUFFIX) != 0)
                return exe;
        if (n - k >= PATH_MAX)
                return NULL;
        memcpy(buf, exe, n - k);
        buf[n - k] = '\0';
        return buf;
}

/* exe is exe_path()'s: computed once per process, not once per rule.
 * exe_hit: whether r's exe list matches exe, -1 if not known yet. */
static bool rule_matches(const Rule *r, const ProcEntry *e, const char *exe, int exe_hit)
{
        unsigned s = r->set;

        if (!(s & RULE_KEYS_MATCH))
                return false;
        if ((s & RULE_KEY_ENABLED) && !r->enabled)
                return false;
        /* Cheapest first; the regex last. */
        if (s & RULE_KEY_UID) {
                bool found = false;
                for (size_t i = 0; i < r->n_uids && !found; i++)
                        found = r->uids[i] == e->uid;
                if (!found)
                        return false;
        }
        if ((s & RULE_KEY_COMM) && !glob_list_match(r->comm, e->comm, 0))
                return false;
        if ((s & RULE_KEY_EXE) && !(exe_hit >= 0 ? exe_hit : glob_list_match(r->exe, exe, FNM_PATHNAME)))
                return false;
        if ((s & RULE_KEY_UNIT) && !glob_list_match(r->unit, e->unit, 0))
                return false;
        if ((s & RULE_KEY_APP_ID) && !glob_list_match(r->app_id, e->app_id, 0))
                return false;
        if ((s & RULE_KEY_CGROUP) && !glob_list_match(r->cgroup, e->cgroup, 0))
                return false;
        /* A string every match contains first: strstr() is much cheaper than regexec(). */
        if ((s & RULE_KEY_CMDLINE) &&
            (!e->cmdline || (r->cmdline_lit[0] && !strstr(e->cmdline, r->cmdline_lit)) ||
             regexec(&r->cmdline_re, e->cmdline, 0, NULL, 0) != 0))
                return false;
        return true;
}

/* exe_hit: whether the protect list's exe patterns match exe, -1 if not known yet. */
static bool protect_match(const RuleSet *rs, const ProcEntry *e, const char *exe, int exe_hit,
                          const char **ret_entry)
{
        const ProtectList *p = &rs->protect;
        const struct {
                char *const *list;
                const char *value;
                int flags;
        } lists[] = {
                {p->exe, exe, FNM_PATHNAME},
                {p->unit, e->unit, 0},
                {p->cgroup, e->cgroup, 0},
                {p->app_id, e->app_id, 0},
                {p->trust_comm ? p->comm : NULL, e->comm, 0},
        };

        for (size_t i = exe_hit == 0 ? 1 : 0; i < ELEMENTSOF(lists); i++) {
                const char *hit = glob_list_find(lists[i].list, lists[i].value, lists[i].flags);
                if (hit) {
                        if (ret_entry)
                                *ret_entry = hit;
                        return true;
                }
        }
        return false;
}

bool rules_protect_match(const RuleSet *rs, const ProcEntry *e, const char **ret_entry)
{
        char buf[PATH_MAX];

        return protect_match(rs, e, exe_path(e->exe, buf), -1, ret_entry);
}

void rule_memo_reset(RuleMemo *m, const RuleSet *rs)
{
        size_t words = ((rs ? rs->n : 0) + 1 + 63) / 64;

        if (!m->slots) {
                m->slots = calloc(RULE_MEMO_SLOTS, sizeof(RuleMemoSlot));
                if (!m->slots)
                        abort();
        } else if (m->n > 0)
                memset(m->slots, 0, RULE_MEMO_SLOTS * sizeof(RuleMemoSlot));
        if (m->bits_allocated < words * RULE_MEMO_MAX) {
                free(m->bits);
                m->bits = calloc(words * RULE_MEMO_MAX, sizeof(uint64_t));
                if (!m->bits)
                        abort();
                m->bits_allocated = words * RULE_MEMO_MAX;
        }
        m->rs = rs;
        m->words = words;
        m->n = 0;
}

void rule_memo_done(RuleMemo *m)
{
        free(m->slots);
        free(m->bits);
        *m = (RuleMemo){};
}

static uint64_t str_hash(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
        return h;
}

/* exe's bits in m (computed on first sight), or NULL if m is full. */
static const uint64_t *memo_bits(RuleMemo *m, const RuleSet *rs, const char *exe)
{
        uint64_t h = str_hash(exe), *bits;
        size_t i = (size_t)h & (RULE_MEMO_SLOTS - 1);

        for (; m->slots[i].exe; i = (i + 1) & (RULE_MEMO_SLOTS - 1))
                if (m->slots[i].hash == h && strcmp(m->slots[i].exe, exe) == 0)
                        return m->bits + (size_t)m->slots[i].idx * m->words;
        if (m->n >= RULE_MEMO_MAX)
                return NULL;
        bits = m->bits + m->n * m->words;
        memset(bits, 0, m->words * sizeof(uint64_t));
        for (size_t k = 0; k < rs->n; k++)
                if ((rs->rules[k].set & RULE_KEY_EXE) && glob_list_match(rs->rules[k].exe, exe, FNM_PATHNAME))
                        bits[k / 64] |= 1ULL << (k % 64);
        if (glob_list_match(rs->protect.exe, exe, FNM_PATHNAME))
                bits[rs->n / 64] |= 1ULL << (rs->n % 64);
        m->slots[i] = (RuleMemoSlot){ .exe = exe, .hash = h, .idx = (uint32_t)m->n++ };
        return bits;
}

static int bit(const uint64_t *bits, size_t k)
{
        return bits ? (int)((bits[k / 64] >> (k % 64)) & 1) : -1;
}

void rules_match(const RuleSet *rs, const ProcEntry *e, RuleMatch *ret)
{
        rules_match_memo(rs, e, NULL, ret);
}

void rules_match_memo(const RuleSet *rs, const ProcEntry *e, RuleMemo *memo, RuleMatch *ret)
{
        RuleMatch m = {
                .priority = RULE_PRIORITY_DEFAULT,
                .actions = RULE_ACTIONS_ALL,
                .rule = "default",
        };
        char buf[PATH_MAX];
        const char *exe = exe_path(e->exe, buf);
        /* Only the table's own strings are memoized (not a " (deleted)"-less copy). */
        const uint64_t *bits = memo && rs && memo->rs == rs && exe && exe == e->exe ? memo_bits(memo, rs, exe) : NULL;

        for (size_t i = 0; rs && i < rs->n; i++) {
                const Rule *r = &rs->rules[i];
                bool weak;

                if (!rule_matches(r, e, exe, bit(bits, i)))
                        continue;
                /* A weak rule may make a process more expendable, never safer. */
                weak = rule_is_weak(r);
                if (r->set & RULE_KEY_PRIORITY) {
                        if (weak && r->priority < m.priority)
                                m.weak_ignored = true;
                        else {
                                m.priority = r->priority;
                                m.rule = r->name;
                        }
                }
                if (r->set & RULE_KEY_ACTIONS) {
                        if (weak && (m.actions & ~r->actions))
                                m.weak_ignored = true;
                        m.actions = weak ? m.actions | r->actions : r->actions;
                }
                if (r->set & RULE_KEY_PREFER_FREEZE) {
                        if (weak && r->prefer_freeze && !m.prefer_freeze)
                                m.weak_ignored = true;
                        else
                                m.prefer_freeze = r->prefer_freeze;
                }
                if (r->set & RULE_KEY_SPLIT)
                        m.split = r->split;
        }
        if (rs && protect_match(rs, e, exe, bit(bits, rs->n), NULL)) {
                m.protect = true;
                m.priority = 0;
                m.rule = "protect";
        }
        *ret = m;
}

/*
 * System daemons and session infrastructure recognised by their executable,
 * in directories only root can write to. Killing any of these takes down the
 * machine's services or every app of a session.
 */
static const char *const trusted_dirs[] = {
        "/usr/bin",       "/bin",
        "/usr/sbin",      "/sbin",
        "/usr/libexec",   "/usr/lib/systemd",
        "/lib/systemd",   "/usr/lib/polkit-1",
        "/lib/polkit-1",  "/usr/libexec/polkit-1",
        "/usr/lib/xorg",  "/usr/lib/dbus-1.0",
        "/usr/local/bin", "/usr/local/sbin",
};

static const struct {
        const char *name, *why;
} never_exes[] = {
        {"dbus-daemon", "the bus daemon"},
        {"dbus-broker", "the bus daemon"},
        {"dbus-broker-launch", "the bus daemon"},
        {"polkitd", "polkitd"},
        {"systemd-logind", "logind"},
        {"systemd-journald", "journald"},
        {"memguardd", "memguard itself"},
        {"memguard-agent", "a memguard agent"},
        /* The session compositor or display server: every window of the session depends on it. */
        {"gnome-shell", "a compositor or display server"},
        {"kwin_wayland", "a compositor or display server"},
        {"kwin_wayland_wrapper", "a compositor or display server"},
        {"kwin_x11", "a compositor or display server"},
        {"mutter", "a compositor or display server"},
        {"sway", "a compositor or display server"},
        {"Hyprland", "a compositor or display server"},
        {"cosmic-comp", "a compositor or display server"},
        {"weston", "a compositor or display server"},
        {"labwc", "a compositor or display server"},
        {"wayfire", "a compositor or display server"},
        {"river", "a compositor or display server"},
        {"niri", "a compositor or display server"},
        {"Xorg", "a compositor or display server"},
        {"Xwayland", "a compositor or display server"},
};

static const char *never_exe_why(const char *exe)
{
        char buf[PATH_MAX];
        const char *path = exe_path(exe, buf), *slash;
        size_t dir_len;

        if (!path || !(slash = strrchr(path, '/')))
                return NULL;
        dir_len = (size_t)(slash - path);
        for (size_t i = 0; i < ELEMENTSOF(trusted_dirs); i++) {
                if (strlen(trusted_dirs[i]) != dir_len || strncmp(path, trusted_dirs[i], dir_len) != 0)
                        continue;
                for (size_t j = 0; j < ELEMENTSOF(never_exes); j++)
                        if (strcmp(slash + 1, never_exes[j].name) == 0)
                                return never_exes[j].why;
                return NULL;
        }
        return NULL;
}

static bool pid_in(pid_t pid, const pid_t *pids, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (pids[i] == pid)
                        return true;
        return false;
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
        size_t k = strlen(suffix);
        return n > k && memcmp(s + n - k, suffix, k) == 0;
}

static bool has_prefix(const char *s, size_t n, const char *prefix)
{
        size_t k = strlen(prefix);
        return n >= k && memcmp(s, prefix, k) == 0;
}

bool rules_cgroup_app_unit(const char *cgroup, size_t *ret_len)
{
        const char *end = cgroup ? cgroup + strlen(cgroup) : NULL;

        /* Walk up to the innermost unit: sub-cgroups of a delegated unit belong to it. */
        while (end && end > cgroup) {
                const char *start = end;
                size_t n;
                bool app;

                while (start > cgroup && start[-1] != '/')
                        start--;
                n = (size_t)(end - start);
                if (has_suffix(start, n, ".slice"))
                        return false;
                if (has_suffix(start, n, ".scope"))
                        app = !has_prefix(start, n, "session-") &&
                              !(n == 10 && has_prefix(start, n, "init.scope")) &&
                              !has_prefix(start, n, "vte-spawn-") && !has_prefix(start, n, "tmux-spawn-");
                else if (has_suffix(start, n, ".service"))
                        app = !has_prefix(start, n, "user@");
                else {
                        end = start > cgroup ? start - 1 : cgroup; /* not a unit: go up past the '/' */
                        continue;
                }
                if (app && ret_len)
                        *ret_len = (size_t)(end - cgroup);
                return app;
        }
        return false;
}

bool rules_cgroup_is_app(const char *cgroup)
{
        return rules_cgroup_app_unit(cgroup, NULL);
}

static bool cgroup_within(const char *cgroup, const char *top, size_t top_len)
{
        return cgroup && strncmp(cgroup, top, top_len) == 0 &&
               (cgroup[top_len] == '\0' || cgroup[top_len] == '/');
}

static const char *never_target_why(const RuleSet *rs, const ProcEntry *e, const NeverTargetContext *ctx)
{
        const char *why;
        size_t len;

        if (e->pid == 1)
                return "PID 1";
        if (e->kthread || e->pid == 2 || e->ppid == 2)
                return "kernel thread";
        if (e->oom_score_adj == -1000)
                return "oom_score_adj -1000";
        if ((why = never_exe_why(e->exe)))
                return why;
        if (ctx) {
                if (ctx->self_pid > 0 && e->pid == ctx->self_pid)
                        return "memguard itself";
                /* Its own unit only: started from a terminal, its cgroup is the whole session. */
                if (ctx->self_cgroup && rules_cgroup_app_unit(ctx->self_cgroup, &len) &&
                    cgroup_within(e->cgroup, ctx->self_cgroup, len))
                        return "memguard's cgroup";
                if (ctx->bus_pid > 0 && e->pid == ctx->bus_pid)
                        return "the bus daemon";
                if (pid_in(e->pid, ctx->agent_pids, ctx->n_agent_pids))
                        return "a memguard agent";
                if (pid_in(e->pid, ctx->compositor_pids, ctx->n_compositor_pids))
                        return "the session compositor";
                for (const char *const *c = ctx->compositor_cgroups; c && *c; c++)
                        if (e->cgroup && strcmp(e->cgroup, *c) == 0)
                                return "the session compositor";
                for (const char *const *c = ctx->protected_cgroups; c && *c; c++)
                        if (cgroup_within(e->cgroup, *c, strlen(*c)))
                                return "protected at runtime";
                for (size_t i = 0; i < ctx->n_protected_pids; i++)
                        if (e->pid == ctx->protected_pids[i] && e->start_time == ctx->protected_start_times[i])
                                return "protected at runtime";
        }
        if (rs && rules_protect_match(rs, e, NULL))
                return "protect list";
        return NULL;
}

bool rules_never_target(const RuleSet *rs, const ProcEntry *e, const NeverTargetContext *ctx,
                        const char **ret_why)
{
        const char *why = never_target_why(rs, e, ctx);

        if (!why)
                return false;
        if (ret_why)
                *ret_why = why;
        return true;
}
