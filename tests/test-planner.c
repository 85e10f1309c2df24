/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "macro.h"
#include "planner.h"
#include "test.h"

#define MiB (UINT64_C(1024) * 1024)
#define NOW (1000 * USEC_PER_SEC) /* boot time of every test; processes started at 0 are old */
#define SESSION "/user.slice/user-1000.slice/session-2.scope"
#define APPS "/user.slice/user-1000.slice/user@1000.service/app.slice/"

typedef struct Fixture {
        ProcEntry e[64];
        size_t n;
} Fixture;

/* Add a process: anon memory and swap in MiB; started `start_s` seconds after boot. */
static ProcEntry *add(Fixture *f, pid_t pid, const char *exe, const char *cgroup, uint64_t anon,
                      uint64_t swap)
{
        ProcEntry *e = &f->e[f->n++];
        const char *slash = exe ? strrchr(exe, '/') : NULL;

        ASSERT_TRUE(f->n <= ELEMENTSOF(f->e));
        *e = (ProcEntry){
                .pid = pid,
                .ppid = 1,
                .uid = 1000,
                .state = 'S',
                .exe = (char *)exe,
                .cgroup = (char *)cgroup,
                .rss_anon = anon * MiB,
                .rss_file = 10 * MiB,
                .swap = swap * MiB,
                .oom_score = (int)(anon / 10),
                .pidfd = -1,
        };
        snprintf(e->comm, sizeof(e->comm), "%s", slash ? slash + 1 : "proc");
        return e;
}

static ProcTable table(Fixture *f)
{
        return (ProcTable){.entries = f->e, .n = f->n, .allocated = f->n};
}

static const char test_rules[] =
        "[rule:heavy]\nexe=/usr/bin/heavy*\npriority=85\n"
        "[rule:exp]\nexe=/usr/bin/exp*\npriority=70\n"
        "[rule:exp-freeze]\nexe=/usr/bin/expf\nprefer-freeze=true\n"
        "[rule:prot]\nexe=/usr/bin/prot\npriority=30\n"
        "[rule:never]\nexe=/usr/bin/never\npriority=10\n"
        "[rule:no-kill]\nexe=/usr/bin/nokill\npriority=70\nactions=throttle;freeze\n"
        "[rule:ckpt]\nexe=/usr/bin/ckpt\npriority=70\nactions=checkpoint;kill\n"
        "[rule:tab]\nexe=/usr/bin/browser\ncmdline=--tab\npriority=90\nsplit=true\n";

static void load_rules(RuleSet *rs)
{
        char *error = NULL;

        rules_init(rs);
        if (rules_parse_data(rs, test_rules, strlen(test_rules), "test", &error) < 0) {
                fprintf(stderr, "%s\n", error);
                abort();
        }
}

static PlannerInput input(Level level, const ProcTable *t, const RuleSet *rs, uint64_t avail_mib)
{
        return (PlannerInput){
                .level = level,
                .mem = {.mem_total = 16384 * MiB, .mem_available = avail_mib * MiB},
                .table = t,
                .rules = rs,
                .now_usec = NOW,
                .clk_tck = 100,
        };
}

/* "kill:101 freeze:103 ..." by the pid of each app's oldest process. */
static const char *plan_str(const Plan *p, const ProcTable *t)
{
        static char buf[2048];
        char *s = buf;

        buf[0] = '\0';
        for (size_t i = 0; i < p->n_actions; i++)
                s += snprintf(s, sizeof(buf) - (size_t)(s - buf), "%s%s:%d", i ? " " : "",
                              plan_action_to_string(p->actions[i].type),
                              (int)t->entries[p->apps[p->actions[i].app].leader].pid);
        return buf;
}

static void assert_plan(const Plan *p, const ProcTable *t, const char *want, int line)
{
        const char *got = plan_str(p, t);

        if (strcmp(got, want) != 0) {
                fprintf(stderr, "line %d: plan \"%s\", want \"%s\"\n", line, got, want);
                for (size_t i = 0; i < p->n_actions; i++)
                        fprintf(stderr, "  %s\n", p->actions[i].reason);
                abort();
        }
}
#define ASSERT_PLAN(p, t, want) assert_plan(p, t, want, __LINE__)

static const PlanApp *app_of(const Plan *p, const ProcTable *t, pid_t pid)
{
        for (size_t k = 0; k < p->n_apps; k++)
                for (size_t m = 0; m < p->apps[k].n_members; m++)
                        if (t->entries[p->members[p->apps[k].first_member + m]].pid == pid)
                                return &p->apps[k];
        return NULL;
}

static void base_fixture(Fixture *f, bool with_protected)
{
        *f = (Fixture){};
        add(f, 101, "/usr/bin/heavy", APPS "app-heavy-1.scope", 2000, 100);
        add(f, 102, "/usr/bin/exp", SESSION, 800, 0);
        add(f, 103, "/usr/bin/expf", APPS "app-expf-1.scope", 600, 0);
        add(f, 104, "/usr/bin/editor", APPS "app-editor-1.scope", 1000, 0);
        add(f, 105, "/usr/bin/notes", APPS "app-notes-1.scope", 300, 0);
        add(f, 108, "/usr/bin/dbus-daemon", APPS "dbus.service", 50, 0);
        if (with_protected) {
                add(f, 106, "/usr/bin/prot", APPS "app-prot-1.scope", 3000, 0);
                add(f, 107, "/usr/bin/never", SESSION, 4000, 0);
        }
}

/*
 * Every level, with and without a foreground app (the heavy one, 101), with
 * and without protected apps (106 protected, 107 never touched, both the
 * largest), with and without apps already acted on (101 and 103 frozen, 102
 * throttled). 1 GiB of 16 GiB available: need 614 MiB at elevated and high,
 * 942 MiB at critical, 1434 MiB at emergency.
 */
static void test_level_tables(void)
{
        static const struct {
                Level level;
                bool fg, prot, acted;
                const char *want;
        } cases[] = {
                {LEVEL_NORMAL, 0, 0, 0, ""},
                {LEVEL_ELEVATED, 0, 0, 0, "throttle:101 throttle:102 throttle:103"},
                {LEVEL_HIGH, 0, 0, 0,
                 "freeze:101 cap:102 cap:103 throttle:102 throttle:103 throttle:104 throttle:105"},
                {LEVEL_CRITICAL, 0, 0, 0,
                 "kill:101 freeze:102 freeze:103 cap:104 cap:105 throttle:104 throttle:105"},
                {LEVEL_EMERGENCY, 0, 0, 0,
                 "kill:101 freeze:102 freeze:103 cap:104 cap:105 throttle:104 throttle:105"},

                {LEVEL_NORMAL, 0, 1, 0, ""},
                {LEVEL_ELEVATED, 0, 1, 0, "throttle:101 throttle:102 throttle:103"},
                {LEVEL_HIGH, 0, 1, 0,
                 "freeze:101 cap:102 cap:103 throttle:102 throttle:103 throttle:104 throttle:105"},
                {LEVEL_CRITICAL, 0, 1, 0,
                 "kill:101 freeze:102 freeze:103 cap:104 cap:105 throttle:104 throttle:105"},
                {LEVEL_EMERGENCY, 0, 1, 0,
                 "kill:101 freeze:102 freeze:103 cap:104 cap:105 throttle:104 throttle:105 throttle:106"},

                {LEVEL_NORMAL, 1, 0, 0, ""},
                {LEVEL_ELEVATED, 1, 0, 0, "throttle:102 throttle:103"},
                {LEVEL_HIGH, 1, 0, 0, "cap:102 cap:103 throttle:102 throttle:103 throttle:104 throttle:105"},
                {LEVEL_CRITICAL, 1, 0, 0, "kill:102 kill:104 freeze:103 cap:105 throttle:105"},
                {LEVEL_EMERGENCY, 1, 0, 0, "kill:102 kill:103 kill:104 cap:105 throttle:105"},

                {LEVEL_NORMAL, 1, 1, 0, ""},
                {LEVEL_ELEVATED, 1, 1, 0, "throttle:102 throttle:103"},
                {LEVEL_HIGH, 1, 1, 0, "cap:102 cap:103 throttle:102 throttle:103 throttle:104 throttle:105"},
                {LEVEL_CRITICAL, 1, 1, 0, "kill:102 kill:104 freeze:103 cap:105 throttle:105"},
                {LEVEL_EMERGENCY, 1, 1, 0, "kill:102 kill:103 kill:104 cap:105 throttle:105 throttle:106"},

                {LEVEL_NORMAL, 0, 0, 1, "unthrottle:102"},
                {LEVEL_ELEVATED, 0, 0, 1, ""},
                {LEVEL_HIGH, 0, 0, 1, "cap:102 throttle:104 throttle:105"},
                {LEVEL_CRITICAL, 0, 0, 1, "kill:101 freeze:102 cap:104 cap:105 throttle:104 throttle:105"},
                {LEVEL_EMERGENCY, 0, 0, 1, "kill:101 freeze:102 cap:104 cap:105 throttle:104 throttle:105"},

                {LEVEL_NORMAL, 0, 1, 1, "unthrottle:102"},
                {LEVEL_ELEVATED, 0, 1, 1, ""},
                {LEVEL_HIGH, 0, 1, 1, "cap:102 throttle:104 throttle:105"},
                {LEVEL_CRITICAL, 0, 1, 1, "kill:101 freeze:102 cap:104 cap:105 throttle:104 throttle:105"},
                {LEVEL_EMERGENCY, 0, 1, 1,
                 "kill:101 freeze:102 cap:104 cap:105 throttle:104 throttle:105 throttle:106"},

                {LEVEL_NORMAL, 1, 0, 1, "thaw:101 unthrottle:102"},
                {LEVEL_ELEVATED, 1, 0, 1, "thaw:101"},
                {LEVEL_HIGH, 1, 0, 1, "thaw:101 cap:102 throttle:104 throttle:105"},
                {LEVEL_CRITICAL, 1, 0, 1, "kill:102 kill:104 cap:105 throttle:105"},
                {LEVEL_EMERGENCY, 1, 0, 1, "kill:102 kill:103 kill:104 cap:105 throttle:105"},

                {LEVEL_NORMAL, 1, 1, 1, "thaw:101 unthrottle:102"},
                {LEVEL_ELEVATED, 1, 1, 1, "thaw:101"},
                {LEVEL_HIGH, 1, 1, 1, "thaw:101 cap:102 throttle:104 throttle:105"},
                {LEVEL_CRITICAL, 1, 1, 1, "kill:102 kill:104 cap:105 throttle:105"},
                {LEVEL_EMERGENCY, 1, 1, 1, "kill:102 kill:103 kill:104 cap:105 throttle:105 throttle:106"},
        };
        const PlannerForeground fg = {.cgroup = APPS "app-heavy-1.scope"};
        PlannerParams params;
        RuleSet rs;
        Plan plan;

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Fixture f;
                ProcTable t;
                PlannerInput in;
                const AppState acted[] = {
                        {.key = {.cgroup = APPS "app-heavy-1.scope",
                                 .cgroup_len = strlen(APPS "app-heavy-1.scope")},
                         .flags = APP_FROZEN,
                         .frozen_since_usec = NOW - 60 * USEC_PER_SEC},
                        {.key = {.cgroup = APPS "app-expf-1.scope",
                                 .cgroup_len = strlen(APPS "app-expf-1.scope")},
                         .flags = APP_FROZEN,
                         .frozen_since_usec = NOW - 30 * USEC_PER_SEC},
                        {.key = {.pid = 102, .start_time = 0}, .flags = APP_THROTTLED},
                };

                base_fixture(&f, cases[i].prot);
                t = table(&f);
                in = input(cases[i].level, &t, &rs, 1024);
                in.foreground = cases[i].fg ? &fg : NULL;
                if (cases[i].acted) {
                        in.states = acted;
                        in.n_states = ELEMENTSOF(acted);
                }
                ASSERT_OK(planner_plan(&params, &in, &plan));
                fprintf(stderr, "   level=%d fg=%d protected=%d acted=%d: %s\n", (int)cases[i].level,
                        cases[i].fg, cases[i].prot, cases[i].acted, plan_str(&plan, &t));
                ASSERT_PLAN(&plan, &t, cases[i].want);
                /* Never an action on a protected, never-touched or never-targeted app but a throttle. */
                for (size_t k = 0; k < plan.n_actions; k++) {
                        const PlanApp *a = &plan.apps[plan.actions[k].app];
                        if (a->never_why || priority_class(a->priority) < PRIORITY_NORMAL)
                                ASSERT_TRUE(!a->never_why &&
                                            priority_class(a->priority) == PRIORITY_PROTECTED &&
                                            plan.actions[k].type == PLAN_THROTTLE);
                }
        }
        plan_done(&plan);
        rules_done(&rs);
}

/* A deterministic shuffle (xorshift), so a failure can be replayed. */
static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

static void test_ranking_permutations(void)
{
        Fixture f = {}, shuffled;
        PlannerParams params;
        RuleSet rs;
        Plan ref, plan;
        ProcTable t;
        PlannerInput in;

        /* Ties on purpose: equal priority, equal memory, equal oom_score. */
        add(&f, 201, "/usr/bin/heavy", APPS "app-h1.scope", 500, 0);
        add(&f, 202, "/usr/bin/heavy2", APPS "app-h2.scope", 500, 0);
        add(&f, 203, "/usr/bin/heavy3", SESSION, 500, 0)->oom_score = 900;
        add(&f, 204, "/usr/bin/exp", SESSION, 100, 0);
        add(&f, 205, "/usr/bin/exp2", SESSION, 100, 0);
        add(&f, 206, "/usr/bin/exp3", SESSION, 100, 400);
        add(&f, 207, "/usr/bin/a", APPS "app-a.scope", 700, 0);
        add(&f, 208, "/usr/bin/a-helper", APPS "app-a.scope", 100, 0);
        add(&f, 209, "/usr/bin/b", APPS "app-b.scope", 800, 0);
        add(&f, 210, "/usr/bin/prot", SESSION, 900, 0);
        add(&f, 211, "/usr/bin/never", SESSION, 900, 0);
        add(&f, 212, "/usr/bin/browser", APPS "app-browser.scope", 300, 0)->cmdline = (char *)"browser";
        add(&f, 213, "/usr/bin/browser", APPS "app-browser.scope", 600, 0)->cmdline =
                (char *)"browser --tab 1";
        add(&f, 214, "/usr/bin/browser", APPS "app-browser.scope", 600, 0)->cmdline =
                (char *)"browser --tab 2";
        add(&f, 215, "/usr/bin/c", "/system.slice/c.service/sub1", 50, 0);
        add(&f, 216, "/usr/bin/c", "/system.slice/c.service/sub2", 50, 0);
        add(&f, 217, "/usr/bin/x", NULL, 50, 0);
        add(&f, 218, "/usr/bin/y", "/", 50, 0);

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&ref);
        plan_init(&plan);
        t = table(&f);
        in = input(LEVEL_EMERGENCY, &t, &rs, 100);
        ASSERT_OK(planner_plan(&params, &in, &ref));

        /* Expected order: priority, then memory, then oom_score, then pid. */
        static const pid_t want[] = {213, 214, 203, 201, 202, 206, 204, 205,
                                     209, 207, 212, 215, 217, 218, 210, 211};
        ASSERT_EQ_INT(ref.n_apps, ELEMENTSOF(want));
        for (size_t k = 0; k < ref.n_apps; k++)
                ASSERT_EQ_INT(t.entries[ref.apps[k].leader].pid, want[k]);

        for (unsigned round = 0; round < 500; round++) {
                ProcTable ts;

                shuffled = f;
                for (size_t i = shuffled.n - 1; i > 0; i--) {
                        size_t j = rng() % (i + 1);
                        ProcEntry tmp = shuffled.e[i];
                        shuffled.e[i] = shuffled.e[j];
                        shuffled.e[j] = tmp;
                }
                ts = table(&shuffled);
                in.table = &ts;
                ASSERT_OK(planner_plan(&params, &in, &plan));
                ASSERT_EQ_INT(plan.n_apps, ref.n_apps);
                ASSERT_EQ_INT(plan.n_actions, ref.n_actions);
                for (size_t k = 0; k < ref.n_apps; k++) {
                        const PlanApp *a = &plan.apps[k], *b = &ref.apps[k];
                        ASSERT_EQ_INT(ts.entries[a->leader].pid, t.entries[b->leader].pid);
                        ASSERT_EQ_INT(a->n_members, b->n_members);
                        for (size_t m = 0; m < a->n_members; m++)
                                ASSERT_EQ_INT(ts.entries[plan.members[a->first_member + m]].pid,
                                              t.entries[ref.members[b->first_member + m]].pid);
                        ASSERT_STREQ(a->reason, b->reason);
                }
                for (size_t k = 0; k < ref.n_actions; k++) {
                        ASSERT_EQ_INT(plan.actions[k].type, ref.actions[k].type);
                        ASSERT_EQ_INT(plan.actions[k].app, ref.actions[k].app);
                        ASSERT_STREQ(plan.actions[k].reason, ref.actions[k].reason);
                }
        }
        plan_done(&ref);
        plan_done(&plan);
        rules_done(&rs);
}

static void test_amount(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        add(&f, 301, "/usr/bin/exp1", SESSION, 400, 100); /* 500 */
        add(&f, 302, "/usr/bin/exp2", SESSION, 300, 0);   /* 300 */
        add(&f, 303, "/usr/bin/exp3", SESSION, 200, 0);   /* 200 */
        add(&f, 304, "/usr/bin/expf", SESSION, 1000, 0);  /* prefers freezing */
        add(&f, 305, "/usr/bin/nokill", SESSION, 900, 0); /* may not be killed */
        t = table(&f);

        /* Critical, 12 % of 16 GiB = 1966 MiB wanted, 1500 available: need 466 MiB. Freezing counts 0,
         * so the walk goes past the app it freezes; the no-kill app is only frozen. */
        in = input(LEVEL_CRITICAL, &t, &rs, 1500);
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_EQ_U64(plan.need_bytes, 16384 * MiB / 100 * 12 + 16384 * MiB % 100 * 12 / 100 - 1500 * MiB);
        ASSERT_PLAN(&plan, &t, "kill:301 freeze:304 freeze:305 freeze:302 freeze:303");
        ASSERT_EQ_U64(plan.planned_bytes, 500 * MiB);
        ASSERT_EQ_U64(plan.actions[0].expected_bytes, 500 * MiB);
        ASSERT_EQ_U64(plan.actions[1].expected_bytes, 0);
        ASSERT_TRUE(strstr(plan.actions[0].reason,
                           "level critical: need 466 MiB for 12% available; kill returns "
                           "~500 MiB (500 MiB planned); rule exp priority 70, 400 MiB anon "
                           "+ 100 MiB swap"));

        /* More need: more kills, in rank order. */
        in.mem.mem_available = 1000 * MiB; /* need 966 */
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "kill:301 kill:302 kill:303 freeze:304 freeze:305");
        ASSERT_EQ_U64(plan.planned_bytes, 1000 * MiB);

        /* Even more: at critical the app that prefers freezing is still spared; at emergency it is not,
         * and the one that may not be killed never is. */
        in.mem.mem_available = 100 * MiB;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "kill:301 kill:302 kill:303 freeze:304 freeze:305");
        in.level = LEVEL_EMERGENCY;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "kill:304 kill:301 kill:302 kill:303 freeze:305");

        /* Plenty available, yet critical (PSI stalls: page-cache thrash, a limited cgroup): one app,
         * frozen rather than killed, since a kill would return little. */
        in.level = LEVEL_CRITICAL;
        in.mem.mem_available = 8000 * MiB;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_EQ_U64(plan.need_bytes, 0);
        ASSERT_EQ_U64(plan.planned_bytes, 0);
        ASSERT_PLAN(&plan, &t, "freeze:304 freeze:305 freeze:301 freeze:302 freeze:303");
        ASSERT_TRUE(strstr(plan.actions[2].reason, "memory stalls although 8000 MiB is available: freeze the top app"));

        /* At emergency, once the top app is frozen already, it is killed. */
        {
                AppState st = { .flags = APP_FROZEN };
                const AppState *saved = in.states;
                size_t saved_n = in.n_states;
                PlanCandidate cand;

                for (size_t k = 0; k < plan.n_apps; k++)
                        if (plan_get_candidate(&plan, &t, k, &cand) >= 0 && cand.pid == 304) /* the top app */
                                st.key = plan.apps[k].key;
                in.states = &st;
                in.n_states = 1;
                in.level = LEVEL_EMERGENCY;
                ASSERT_OK(planner_plan(&params, &in, &plan));
                {
                        bool killed = false;
                        for (size_t i = 0; i < plan.n_actions; i++)
                                if (plan.actions[i].type == PLAN_KILL &&
                                    strstr(plan.actions[i].reason, "memory stalls although 8000 MiB is available"))
                                        killed = true;
                        ASSERT_TRUE(killed);
                }
                in.states = saved;
                in.n_states = saved_n;
                in.level = LEVEL_CRITICAL;
        }

        /* Elevated and high never kill, whatever the need. */
        in.mem.mem_available = 10 * MiB;
        in.level = LEVEL_HIGH;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_TRUE(plan.need_bytes > 0);
        for (size_t k = 0; k < plan.n_actions; k++)
                ASSERT_TRUE(plan.actions[k].type != PLAN_KILL && plan.actions[k].expected_bytes == 0);
        plan_done(&plan);
        rules_done(&rs);
}

/* The pids of the apps the plan freezes or kills ("freeze:402 kill:401"), leaving caps and throttles out. */
static const char *stops_str(const Plan *p, const ProcTable *t)
{
        static char buf[256];
        size_t n = 0;

        buf[0] = 0;
        for (size_t i = 0; i < p->n_actions && n < sizeof(buf) - 32; i++)
                if (p->actions[i].type == PLAN_FREEZE || p->actions[i].type == PLAN_KILL)
                        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s:%d", n ? " " : "",
                                              p->actions[i].type == PLAN_FREEZE ? "freeze" : "kill",
                                              (int)t->entries[p->apps[p->actions[i].app].leader].pid);
        return buf;
}

/* A stall without shortage is answered where it comes from, not on the machine's largest app. */
static void test_stall_attribution(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;
        char *limited[] = { "/limited.slice", NULL }, *nowhere[] = { "/other.slice", NULL };

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        add(&f, 401, "/usr/bin/big", "/user.slice/user-1000.slice/user@1000.service/app.slice/app-big-1.scope",
            1000, 0);
        add(&f, 402, "/usr/bin/build", "/limited.slice/app-build-2.scope", 200, 0);
        t = table(&f);
        in = input(LEVEL_CRITICAL, &t, &rs, 8000);

        /* Unknown (no cgroup v2): the top app, as before. */
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_STREQ(stops_str(&plan, &t), "freeze:401");

        /* The stall is in /limited.slice: its app is frozen, the larger one is left alone. */
        in.stall_cgroups = limited;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_STREQ(stops_str(&plan, &t), "freeze:402");
        {
                bool said = false;
                for (size_t k = 0; k < plan.n_actions; k++)
                        said |= strstr(plan.actions[k].reason,
                                       "memory stalls in /limited.slice although 8000 MiB is available") != NULL;
                ASSERT_TRUE(said);
        }

        /* At emergency the frozen stalling app may be killed, still not the other one. */
        {
                AppState st = { .flags = APP_FROZEN };
                for (size_t k = 0; k < plan.n_apps; k++)
                        if (t.entries[plan.apps[k].leader].pid == 402)
                                st.key = plan.apps[k].key;
                in.states = &st;
                in.n_states = 1;
                in.level = LEVEL_EMERGENCY;
                ASSERT_OK(planner_plan(&params, &in, &plan));
                ASSERT_STREQ(stops_str(&plan, &t), "kill:402");
                in.states = NULL;
                in.n_states = 0;
                in.level = LEVEL_CRITICAL;
        }

        /* The stall is in a cgroup none of our apps is in: nothing is frozen or killed for it. */
        in.stall_cgroups = nowhere;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        for (size_t k = 0; k < plan.n_actions; k++)
                ASSERT_TRUE(plan.actions[k].type != PLAN_FREEZE && plan.actions[k].type != PLAN_KILL);

        /* A real shortage is not a stall question: kills go by rank wherever the apps are. */
        in.mem.mem_available = 500 * MiB;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_TRUE(plan.n_actions > 0 && plan.actions[0].type == PLAN_KILL);
        ASSERT_EQ_INT(t.entries[plan.apps[plan.actions[0].app].leader].pid, 401);

        plan_done(&plan);
        rules_done(&rs);
}

/* Small kills make no difference, unless there are enough of them to. */
static void test_small_kills(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        /* The memory is in a protected app; two 1 MiB bystanders could be killed. */
        add(&f, 501, "/usr/bin/prot", SESSION, 1300, 0);
        add(&f, 502, "/usr/bin/tiny", SESSION, 1, 0);
        add(&f, 503, "/usr/bin/tiny", SESSION, 1, 0);
        t = table(&f);
        in = input(LEVEL_CRITICAL, &t, &rs, 500); /* need ~1466 MiB */
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_TRUE(plan.need_bytes > 1000 * MiB);
        for (size_t k = 0; k < plan.n_actions; k++)
                ASSERT_TRUE(plan.actions[k].type != PLAN_KILL);
        in.level = LEVEL_EMERGENCY;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        for (size_t k = 0; k < plan.n_actions; k++)
                ASSERT_TRUE(plan.actions[k].type != PLAN_KILL ||
                            t.entries[plan.apps[plan.actions[k].app].leader].pid == 501);
        plan_done(&plan);

        /* Many small apps that together could return half the need (a fork bomb split
         * into apps): killed after all. Fewer of them: not. */
        f = (Fixture){};
        plan_init(&plan);
        for (int i = 0; i < 60; i++)
                add(&f, 600 + i, "/usr/bin/tiny", SESSION, 1, 0);
        t = table(&f);
        in = input(LEVEL_CRITICAL, &t, &rs, 1866); /* need ~100 MiB: 1 MiB is under 1/64 of it */
        ASSERT_OK(planner_plan(&params, &in, &plan));
        {
                size_t kills = 0;
                for (size_t k = 0; k < plan.n_actions; k++)
                        kills += plan.actions[k].type == PLAN_KILL;
                ASSERT_EQ_INT(kills, 60); /* 60 MiB >= half of 100: all, and still short */
        }
        t.n = 40; /* 40 MiB < half the need */
        ASSERT_OK(planner_plan(&params, &in, &plan));
        for (size_t k = 0; k < plan.n_actions; k++)
                ASSERT_TRUE(plan.actions[k].type != PLAN_KILL);
        plan_done(&plan);
        rules_done(&rs);
}

static void test_checkpoint(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        add(&f, 351, "/usr/bin/ckpt", APPS "app-ckpt.scope", 3000, 0);
        t = table(&f);
        in = input(LEVEL_CRITICAL, &t, &rs, 1000);
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "kill:351"); /* CRIU not available */
        params.checkpoint = true;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "checkpoint:351");
        ASSERT_EQ_U64(plan.actions[0].expected_bytes, 3000 * MiB);
        in.level = LEVEL_EMERGENCY; /* no time for a dump */
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "kill:351");
        plan_done(&plan);
        rules_done(&rs);
}

static void test_whole_apps(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;
        const PlanApp *a;

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        /* One app of three processes; its memory adds up (shmem counts for a whole app). */
        add(&f, 401, "/usr/bin/exp", APPS "app-multi.scope", 100, 10)->rss_shmem = 5 * MiB;
        add(&f, 402, "/usr/bin/helper", APPS "app-multi.scope", 200, 20);
        add(&f, 403, "/usr/bin/helper", APPS "app-multi.scope", 300, 30)->oom_score = 999;
        /* A protected process makes its app protected; a no-kill one keeps it from being killed. */
        add(&f, 404, "/usr/bin/heavy", APPS "app-mixed.scope", 5000, 0);
        add(&f, 405, "/usr/bin/prot", APPS "app-mixed.scope", 10, 0);
        add(&f, 406, "/usr/bin/heavy", APPS "app-nk.scope", 4000, 0);
        add(&f, 407, "/usr/bin/nokill", APPS "app-nk.scope", 10, 0);
        /* A never-target process, even a split-off one, keeps the cgroup from being killed. */
        add(&f, 408, "/usr/bin/heavy", APPS "app-bus.scope", 6000, 0);
        add(&f, 409, "/usr/bin/dbus-daemon", APPS "app-bus.scope", 10, 0);
        /* Split processes are their own units; the rest of the app is one. */
        add(&f, 410, "/usr/bin/browser", APPS "app-br.scope", 300, 0)->cmdline = (char *)"browser";
        add(&f, 411, "/usr/bin/browser", APPS "app-br.scope", 700, 0)->cmdline = (char *)"browser --tab a";
        add(&f, 412, "/usr/bin/browser", APPS "app-br.scope", 100, 0)->cmdline = (char *)"browser --gpu";
        /* Sub-cgroups of a delegated unit belong to it. */
        add(&f, 413, "/usr/bin/heavy", "/system.slice/deleg.service/a", 100, 0);
        add(&f, 414, "/usr/bin/heavy", "/system.slice/deleg.service/b/c", 100, 0);
        t = table(&f);
        in = input(LEVEL_EMERGENCY, &t, &rs, 100);
        ASSERT_OK(planner_plan(&params, &in, &plan));

        a = app_of(&plan, &t, 402);
        ASSERT_TRUE(a && a == app_of(&plan, &t, 401) && a == app_of(&plan, &t, 403));
        ASSERT_EQ_INT(a->n_members, 3);
        ASSERT_EQ_INT(t.entries[a->leader].pid, 401);
        ASSERT_EQ_U64(a->reclaim_bytes, (600 + 60 + 5) * MiB);
        ASSERT_EQ_INT(a->oom_score, 999);
        ASSERT_EQ_INT(a->priority, 50); /* the helpers match no rule: as safe as the safest */
        ASSERT_TRUE(a->key.cgroup && a->key.cgroup_len == strlen(APPS "app-multi.scope"));
        ASSERT_TRUE(strstr(a->reason, "665 MiB anon+shmem") == NULL &&
                    strstr(a->reason, "605 MiB anon+shmem + 60"));

        a = app_of(&plan, &t, 404);
        ASSERT_TRUE(a == app_of(&plan, &t, 405));
        ASSERT_EQ_INT(a->priority, 30);
        ASSERT_STREQ(a->rule, "prot");
        a = app_of(&plan, &t, 406);
        ASSERT_EQ_INT(a->priority, 70);
        ASSERT_EQ_INT(a->actions, RULE_ACTION_THROTTLE | RULE_ACTION_FREEZE);
        a = app_of(&plan, &t, 408);
        ASSERT_TRUE(a == app_of(&plan, &t, 409));
        ASSERT_STREQ(a->never_why, "the bus daemon");
        ASSERT_EQ_INT(a->priority, 0);
        ASSERT_TRUE(strncmp(a->reason, "never targeted: the bus daemon; ", 32) == 0);

        a = app_of(&plan, &t, 411);
        ASSERT_TRUE(a->split && !a->key.cgroup && a->key.pid == 411 && a->n_members == 1);
        ASSERT_EQ_INT(a->priority, 90);
        ASSERT_TRUE(a != app_of(&plan, &t, 410));
        ASSERT_TRUE(app_of(&plan, &t, 410) == app_of(&plan, &t, 412));
        ASSERT_EQ_INT(app_of(&plan, &t, 410)->n_members, 2);

        a = app_of(&plan, &t, 413);
        ASSERT_TRUE(a == app_of(&plan, &t, 414));
        ASSERT_EQ_INT(a->key.cgroup_len, strlen("/system.slice/deleg.service"));

        /* Keys as text, for registries and the killer. */
        char key[64];
        ASSERT_EQ_INT(app_key_to_string(&a->key, key, sizeof(key)), 34);
        ASSERT_STREQ(key, "cgroup:/system.slice/deleg.service");
        ASSERT_ERR(app_key_to_string(&a->key, key, 34), -ENAMETOOLONG);
        a = app_of(&plan, &t, 411);
        ASSERT_OK(app_key_to_string(&a->key, key, sizeof(key)));
        ASSERT_STREQ(key, "pid:411@0");
        /* A reused PID is another app; a cgroup key compares only the unit's prefix. */
        ASSERT_TRUE(app_key_equal(&a->key, &(AppKey){.pid = 411}));
        ASSERT_FALSE(app_key_equal(&a->key, &(AppKey){.pid = 411, .start_time = 5}));
        ASSERT_FALSE(app_key_equal(&a->key, &(AppKey){.cgroup = "/x", .cgroup_len = 2}));
        ASSERT_TRUE(app_key_equal(&app_of(&plan, &t, 413)->key,
                                  &(AppKey){.cgroup = "/system.slice/deleg.service", .cgroup_len = 27}));

        /* The tab goes first; neither the protected, the no-kill nor the bus app is killed. */
        ASSERT_EQ_INT(plan.actions[0].type, PLAN_KILL);
        ASSERT_EQ_INT(t.entries[plan.apps[plan.actions[0].app].leader].pid, 411);
        for (size_t k = 0; k < plan.n_actions; k++) {
                pid_t pid = t.entries[plan.apps[plan.actions[k].app].leader].pid;
                if (plan.actions[k].type == PLAN_KILL)
                        ASSERT_TRUE(pid != 404 && pid != 406 && pid != 408);
                if (pid == 408)
                        abort();
        }
        plan_done(&plan);
        rules_done(&rs);
}

static void test_sessions_never_one_unit(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        add(&f, 501, "/usr/bin/bash", SESSION, 5, 0);
        add(&f, 502, "/usr/bin/heavy", SESSION, 3000, 0);
        add(&f, 503, "/usr/bin/editor", SESSION, 200, 0);
        add(&f, 504, "/usr/lib/systemd/systemd", "/user.slice/user-1000.slice/user@1000.service/init.scope",
            20, 0);
        add(&f, 505, "/usr/bin/heavy", "/user.slice/user-1000.slice/user@1000.service/weird", 20, 0);
        add(&f, 506, "/usr/bin/bash", APPS "app-org.gnome.Terminal.slice/vte-spawn-42.scope", 5, 0);
        add(&f, 507, "/usr/bin/heavy", APPS "app-org.gnome.Terminal.slice/vte-spawn-42.scope", 2000, 0);
        add(&f, 508, "/usr/bin/heavy", APPS "app-org.gnome.Terminal.slice/vte-spawn-42.scope", 10, 0);
        /* A terminal whose tabs live in its own app scope: it holds a shell, so per process. */
        add(&f, 509, "/usr/bin/konsole", APPS "app-org.kde.konsole-1.scope", 80, 0);
        add(&f, 510, "/usr/bin/zsh", APPS "app-org.kde.konsole-1.scope", 5, 0);
        add(&f, 511, "/usr/bin/heavy", APPS "app-org.kde.konsole-1.scope", 1500, 0);
        add(&f, 512, "/usr/bin/tmux", APPS "tmux-spawn-7.scope", 5, 0);
        add(&f, 513, "/usr/bin/heavy", APPS "tmux-spawn-7.scope", 5, 0);
        t = table(&f);
        in = input(LEVEL_EMERGENCY, &t, &rs, 100);
        ASSERT_OK(planner_plan(&params, &in, &plan));

        ASSERT_EQ_INT(plan.n_apps, t.n);
        for (size_t k = 0; k < plan.n_apps; k++) {
                ASSERT_EQ_INT(plan.apps[k].n_members, 1);
                ASSERT_TRUE(!plan.apps[k].key.cgroup);
                ASSERT_EQ_INT(plan.apps[k].key.pid, t.entries[plan.apps[k].leader].pid);
        }
        /* The session's hog goes, not the session. */
        ASSERT_EQ_INT(t.entries[plan.apps[plan.actions[0].app].leader].pid, 502);
        plan_done(&plan);
        rules_done(&rs);
}

static void test_cooldown(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        add(&f, 601, "/usr/bin/exp1", SESSION, 500, 0);
        add(&f, 602, "/usr/bin/exp2", SESSION, 400, 0);
        add(&f, 603, "/usr/bin/exp3", SESSION, 300, 0);
        t = table(&f);

        /* Critical, 2 s after a kill: no kill; what stops growth still happens. */
        in = input(LEVEL_CRITICAL, &t, &rs, 1000); /* need 966 */
        in.last_kill_usec = NOW - 2 * USEC_PER_SEC;
        in.last_kill_expected_bytes = 600 * MiB;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_TRUE(plan.cooldown);
        ASSERT_PLAN(&plan, &t, "freeze:601 freeze:602 freeze:603");

        /* Emergency (need 1458): only what the last kill will not return (858) is planned. */
        in.level = LEVEL_EMERGENCY;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_TRUE(plan.cooldown);
        ASSERT_PLAN(&plan, &t, "kill:601 kill:602 freeze:603");
        in.last_kill_expected_bytes = 1500 * MiB; /* covers it all */
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "freeze:601 freeze:602 freeze:603");
        in.mem.mem_available = 8000 * MiB; /* need 0: no "one app anyway" during the cool-down */
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "freeze:601 freeze:602 freeze:603");

        /* After the cool-down, kills again. */
        in.level = LEVEL_CRITICAL;
        in.mem.mem_available = 1000 * MiB;
        in.last_kill_usec = NOW - 5 * USEC_PER_SEC;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_FALSE(plan.cooldown);
        ASSERT_PLAN(&plan, &t, "kill:601 kill:602 kill:603");
        plan_done(&plan);
        rules_done(&rs);
}

static AppState frozen(const char *cgroup, uint64_t since_s)
{
        return (AppState){.key = {.cgroup = cgroup, .cgroup_len = strlen(cgroup)},
                          .flags = APP_FROZEN,
                          .frozen_since_usec = since_s * USEC_PER_SEC};
}

static void test_thaw(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;
        const AppState states[] = {
                frozen(APPS "app-heavy.scope", 100),
                frozen(APPS "app-exp-old.scope", 100),
                frozen(APPS "app-exp-new.scope", 500),
                frozen(APPS "app-normal.scope", 900),
                frozen(APPS "app-fg.scope", 950),
                {.key = {.pid = 706}, .flags = APP_THROTTLED | APP_CAPPED},
        };
        const PlannerForeground fg = {.app_id = "org.example.Fg"};

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        add(&f, 701, "/usr/bin/heavy", APPS "app-heavy.scope", 1000, 0);
        add(&f, 702, "/usr/bin/exp", APPS "app-exp-old.scope", 500, 200);
        add(&f, 703, "/usr/bin/exp2", APPS "app-exp-new.scope", 500, 0);
        add(&f, 704, "/usr/bin/editor", APPS "app-normal.scope", 500, 100);
        add(&f, 705, "/usr/bin/heavy2", APPS "app-fg.scope", 900, 0)->app_id = (char *)"org.example.Fg";
        add(&f, 706, "/usr/bin/exp3", SESSION, 100, 0);
        t = table(&f);

        /* 20 % of 16 GiB is 3277 MiB. Order: normal (704: 100 swap + 64), then expendable, longest
         * frozen first (702: 200 + 64), then 703 (64): the cap of 2 stops after 702. */
        in = input(LEVEL_NORMAL, &t, &rs, 5000);
        in.states = states;
        in.n_states = ELEMENTSOF(states);
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "thaw:704 thaw:702 uncap:706 unthrottle:706");
        ASSERT_TRUE(strstr(plan.actions[0].reason, "thaw, 4836 MiB available after it, target 3277 MiB"));

        /* The foreground goes first, whatever its size, and does not count against the cap. */
        in.foreground = &fg;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "thaw:705 thaw:704 thaw:702 uncap:706 unthrottle:706");

        /* Only while the headroom holds, and never skipping ahead to a smaller app. */
        in.foreground = NULL;
        in.mem.mem_available = 3500 * MiB; /* 704 fits (164), then 702 (264) would not */
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "thaw:704 uncap:706 unthrottle:706");
        in.mem.mem_available = 3300 * MiB;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "uncap:706 unthrottle:706");

        /* Staggered: not again before the interval; the foreground is not held back. */
        in.mem.mem_available = 8000 * MiB;
        in.last_thaw_usec = NOW - 1 * USEC_PER_SEC;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "uncap:706 unthrottle:706");
        in.foreground = &fg;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "thaw:705 uncap:706 unthrottle:706");
        in.foreground = NULL;
        in.last_thaw_usec = NOW - 5 * USEC_PER_SEC;
        params.thaw_cap = 3;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "thaw:704 thaw:702 thaw:703 uncap:706 unthrottle:706");

        /* No thawing above normal (but for the foreground). */
        in.level = LEVEL_ELEVATED;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "");
        plan_done(&plan);
        rules_done(&rs);
}

/* Checkpointed apps come back at normal, one per cycle, oldest first, after the thaws, within the headroom. */
static void test_restore(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;
        const PlanCheckpoint cps[] = {
                {.id = "ckpt-300-9", .bytes = 1000 * MiB, .created = 300},
                {.id = "ckpt-200-8", .bytes = 2000 * MiB, .created = 200},
                {.id = "ckpt-400-7", .bytes = 10 * MiB, .created = 400},
        };
        const AppState states[] = {frozen(APPS "app-heavy.scope", 100)};

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        add(&f, 901, "/usr/bin/heavy", APPS "app-heavy.scope", 1000, 100);
        t = table(&f);

        /* 20 % of 16 GiB is 3277 MiB: the oldest (2000 + 64 MiB) fits in 6000 MiB. */
        in = input(LEVEL_NORMAL, &t, &rs, 6000);
        in.checkpoints = cps;
        in.n_checkpoints = ELEMENTSOF(cps);
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "");
        ASSERT_EQ_INT(plan.n_restores, 1);
        ASSERT_EQ_INT(plan.restores[0].checkpoint, 1);
        ASSERT_TRUE(strstr(plan.restores[0].reason, "restore checkpoint ckpt-200-8, 3936 MiB available after it"));

        /* Never skipping ahead to a smaller one when the oldest does not fit. */
        in.mem.mem_available = 5000 * MiB;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_EQ_INT(plan.n_restores, 0);

        /* After a thaw in the same plan, counting what the thaw needs (100 swap + 64). */
        in.mem.mem_available = 6000 * MiB;
        in.states = states;
        in.n_states = ELEMENTSOF(states);
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "thaw:901");
        ASSERT_EQ_INT(plan.n_restores, 1);
        ASSERT_TRUE(strstr(plan.restores[0].reason, "3772 MiB available after it"));
        /* Not while a frozen app still waits for its thaw (here: the thaw interval). */
        in.last_thaw_usec = NOW - 1 * USEC_PER_SEC;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "");
        ASSERT_EQ_INT(plan.n_restores, 0);
        in.states = NULL;
        in.n_states = 0;
        in.last_thaw_usec = 0;

        /* Paced like thaws. */
        in.last_restore_usec = NOW - 1 * USEC_PER_SEC;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_EQ_INT(plan.n_restores, 0);
        in.last_restore_usec = NOW - 5 * USEC_PER_SEC;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_EQ_INT(plan.n_restores, 1);

        /* Never above normal. */
        in.level = LEVEL_ELEVATED;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_EQ_INT(plan.n_restores, 0);
        plan_done(&plan);
        rules_done(&rs);
}

static void test_grace(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        add(&f, 801, "/usr/bin/heavy", APPS "app-new.scope", 3000, 0)->start_time =
                (NOW / USEC_PER_SEC - 10) * 100;
        add(&f, 802, "/usr/bin/heavy2", APPS "app-new2.scope", 100, 0)->start_time =
                (NOW / USEC_PER_SEC - 29) * 100;
        add(&f, 803, "/usr/bin/exp", APPS "app-old.scope", 500, 0);
        add(&f, 804, "/usr/bin/exp2", APPS "app-old2.scope", 500, 0)->start_time =
                (NOW / USEC_PER_SEC - 31) * 100;
        t = table(&f);

        /* Critical: young apps are neither frozen nor killed, only capped and throttled. */
        in = input(LEVEL_CRITICAL, &t, &rs, 1000);
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_TRUE(app_of(&plan, &t, 801)->young && app_of(&plan, &t, 802)->young);
        ASSERT_FALSE(app_of(&plan, &t, 804)->young);
        ASSERT_TRUE(strstr(app_of(&plan, &t, 801)->reason, ", started 10 s ago"));
        ASSERT_PLAN(&plan, &t, "kill:803 kill:804 cap:801 cap:802 throttle:801 throttle:802");

        /* Critical, but the older apps cannot cover the need: the largest consumer loses its
         * grace (a swarm or a runaway that just started), the other young app keeps it. */
        in.mem.mem_available = 100 * MiB;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "kill:803 kill:804 kill:801 cap:802 throttle:802");
        in.mem.mem_available = 1000 * MiB;

        /* Emergency: the young app that is the largest consumer loses its grace; the other keeps it. */
        in.level = LEVEL_EMERGENCY;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "kill:801 freeze:803 freeze:804 cap:802 throttle:802");
        plan_done(&plan);
        rules_done(&rs);
}

static void test_foreground(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;
        const pid_t fg_pids[] = {903};
        PlannerForeground fg = {};

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        add(&f, 901, "/usr/bin/heavy", APPS "app-game.scope", 4000, 0);
        add(&f, 902, "/usr/bin/heavy", APPS "app-game.scope", 100, 0);
        add(&f, 903, "/usr/bin/heavy2", SESSION, 1000, 0);
        add(&f, 904, "/usr/bin/exp", APPS "app-flatpak.scope", 300, 0)->app_id = (char *)"org.example.App";
        add(&f, 905, "/usr/bin/editor", APPS "app-editor.scope", 200, 0);
        t = table(&f);
        in = input(LEVEL_EMERGENCY, &t, &rs, 500);
        in.foreground = &fg;

        /* By cgroup: the whole unit, also when the hint names a cgroup inside it or a slice above it. */
        static const char *const hints[] = {APPS "app-game.scope", APPS "app-game.scope/sub", APPS};
        for (size_t i = 0; i < ELEMENTSOF(hints); i++) {
                fg = (PlannerForeground){.cgroup = hints[i]};
                ASSERT_OK(planner_plan(&params, &in, &plan));
                ASSERT_TRUE(app_of(&plan, &t, 901)->foreground && app_of(&plan, &t, 902)->foreground);
                ASSERT_EQ_INT(app_of(&plan, &t, 901)->priority, 60);
                ASSERT_TRUE(
                        strstr(app_of(&plan, &t, 901)->reason, "rule heavy priority 85 (foreground: 60)"));
                ASSERT_EQ_INT(app_of(&plan, &t, 905)->foreground, i == 2);
                ASSERT_FALSE(app_of(&plan, &t, 903)->foreground);
        }
        /* "/" and other cgroups do not match. */
        fg = (PlannerForeground){.cgroup = "/"};
        ASSERT_OK(planner_plan(&params, &in, &plan));
        for (size_t k = 0; k < plan.n_apps; k++)
                ASSERT_FALSE(plan.apps[k].foreground);
        fg = (PlannerForeground){.cgroup = APPS "app-gam"};
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_FALSE(app_of(&plan, &t, 901)->foreground);

        /* By pid (X11, KWin) and by app id (Wayland). */
        fg = (PlannerForeground){.pids = fg_pids, .n_pids = 1, .app_id = "org.example.App"};
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_TRUE(app_of(&plan, &t, 903)->foreground && app_of(&plan, &t, 904)->foreground);
        ASSERT_FALSE(app_of(&plan, &t, 901)->foreground);

        /* At emergency the foreground is the last resort: the others go first, and it goes only
         * because they do not cover the need (1958 MiB). */
        fg = (PlannerForeground){.cgroup = APPS "app-game.scope"};
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "kill:903 kill:904 kill:905 kill:901");
        /* A normal app in the foreground drops to protected: it is not killed even then. */
        fg = (PlannerForeground){.cgroup = APPS "app-editor.scope"};
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_EQ_INT(app_of(&plan, &t, 905)->priority, 25);
        ASSERT_PLAN(&plan, &t, "kill:901 freeze:903 freeze:904");
        /* Below emergency, never: at critical the others cover 1500 of the 1466 MiB. */
        in.level = LEVEL_CRITICAL;
        fg = (PlannerForeground){.cgroup = APPS "app-game.scope"};
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "kill:903 kill:904 kill:905");
        in.mem.mem_available = 10 * MiB;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_PLAN(&plan, &t, "kill:903 kill:904 kill:905");
        plan_done(&plan);
        rules_done(&rs);
}

static void test_defaults_reasons(void)
{
        Fixture f = {};
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t;
        PlannerInput in;
        PlanCandidate c;
        char *error = NULL;
        const char *scope = APPS "app-firefox-esr-1.scope";

        planner_params_default(&params);
        rules_init(&rs);
        ASSERT_OK(rules_load_defaults(&rs, &error));
        plan_init(&plan);
        add(&f, 1001, "/usr/lib/firefox-esr/firefox-esr", scope, 400, 0)->cmdline =
                (char *)"/usr/lib/firefox-esr/firefox-esr";
        add(&f, 1002, "/usr/lib/firefox-esr/firefox-esr", scope, 812, 0)->cmdline =
                (char *)"/usr/lib/firefox-esr/firefox-esr -contentproc -childID 2 -isForBrowser -prefsLen 1 "
                        "{x} 1 true tab";
        snprintf(f.e[1].comm, sizeof(f.e[1].comm), "Isolated Web Co");
        add(&f, 1003, "/usr/bin/gnome-shell",
            "/user.slice/user-1000.slice/user@1000.service/session.slice/"
            "org.gnome.Shell@wayland.service",
            300, 0);
        add(&f, 1004, "/usr/sbin/sshd", "/system.slice/ssh.service", 5, 0)->uid = 0;
        t = table(&f);
        in = input(LEVEL_CRITICAL, &t, &rs, 1200);
        ASSERT_OK(planner_plan(&params, &in, &plan));

        ASSERT_STREQ(plan.apps[0].reason, "rule firefox-content priority 85, 812 MiB anon + 0 MiB swap");
        ASSERT_PLAN(&plan, &t, "kill:1002 cap:1001 throttle:1001");
        ASSERT_STREQ(plan.actions[0].reason,
                     "level critical: need 766 MiB for 12% available; kill returns ~812 MiB "
                     "(812 MiB planned); rule firefox-content priority 85, 812 MiB anon + 0 "
                     "MiB swap");

        /* What memguardctl --list-candidates prints. */
        ASSERT_OK(plan_get_candidate(&plan, &t, 0, &c));
        ASSERT_EQ_INT(c.pid, 1002);
        ASSERT_STREQ(c.comm, "Isolated Web Co");
        ASSERT_STREQ(c.exe, "/usr/lib/firefox-esr/firefox-esr");
        ASSERT_EQ_INT(c.uid, 1000);
        ASSERT_EQ_U64(c.rss_bytes, 822 * MiB);
        ASSERT_EQ_U64(c.swap_bytes, 0);
        ASSERT_EQ_INT(c.priority, 85);
        ASSERT_FALSE(c.protected);
        ASSERT_EQ_INT(c.n_processes, 1);
        ASSERT_STREQ(c.reason, plan.apps[0].reason);
        ASSERT_OK(plan_get_candidate(&plan, &t, 1, &c));
        ASSERT_EQ_INT(c.pid, 1001);
        ASSERT_FALSE(c.protected);
        ASSERT_OK(plan_get_candidate(&plan, &t, 2, &c));
        ASSERT_EQ_INT(c.pid, 1004);
        ASSERT_TRUE(c.protected);
        ASSERT_EQ_INT(c.priority, 10);
        ASSERT_OK(plan_get_candidate(&plan, &t, 3, &c));
        ASSERT_EQ_INT(c.pid, 1003);
        ASSERT_TRUE(c.protected);
        ASSERT_STREQ(c.reason, "never targeted: a compositor or display server; rule default priority 50, "
                               "300 MiB anon+shmem + 0 MiB swap");
        ASSERT_ERR(plan_get_candidate(&plan, &t, 4, &c), -ERANGE);
        plan_done(&plan);
        rules_done(&rs);
}

static void test_errors_and_empty(void)
{
        Fixture f = {};
        PlannerParams params;
        Plan plan;
        ProcTable t = table(&f);
        PlannerInput in = input(LEVEL_EMERGENCY, &t, NULL, 10);
        ProcEntry *k;

        planner_params_default(&params);
        plan_init(&plan);
        /* An empty table, no rules: nothing to do, not an error. */
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_EQ_INT(plan.n_apps, 0);
        ASSERT_EQ_INT(plan.n_actions, 0);
        ASSERT_TRUE(plan.need_bytes > 0);

        /* Kernel threads are left out; PID 1 is never targeted. */
        k = add(&f, 2, NULL, NULL, 0, 0);
        k->kthread = true;
        add(&f, 1, "/sbin/init", "/init.scope", 50, 0);
        t = table(&f);
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_EQ_INT(plan.n_apps, 1);
        ASSERT_STREQ(plan.apps[0].never_why, "PID 1");
        ASSERT_EQ_INT(plan.n_actions, 0);

        in.level = _LEVEL_MAX;
        ASSERT_ERR(planner_plan(&params, &in, &plan), -EINVAL);
        in.level = LEVEL_NORMAL;
        in.mem.mem_available = in.mem.mem_total + 1;
        ASSERT_ERR(planner_plan(&params, &in, &plan), -EINVAL);
        in.mem.mem_available = 0;
        in.table = NULL;
        ASSERT_ERR(planner_plan(&params, &in, &plan), -EINVAL);
        ASSERT_ERR(planner_plan(NULL, &in, &plan), -EINVAL);

        ASSERT_STREQ(plan_action_to_string(PLAN_CHECKPOINT), "checkpoint");
        ASSERT_TRUE(!plan_action_to_string(_PLAN_ACTION_MAX));
        plan_done(&plan);
        plan_done(&plan);
}

/* The plan's buffers grow with the table and are reused. */
static void test_large_table(void)
{
        static ProcEntry e[3000];
        static char cgroups[3000][96];
        PlannerParams params;
        RuleSet rs;
        Plan plan;
        ProcTable t = {.entries = e, .n = ELEMENTSOF(e)};
        PlannerInput in;

        planner_params_default(&params);
        load_rules(&rs);
        plan_init(&plan);
        for (size_t i = 0; i < ELEMENTSOF(e); i++) {
                snprintf(cgroups[i], sizeof(cgroups[i]), APPS "app-%zu.scope", i % 700);
                e[i] = (ProcEntry){.pid = (pid_t)(10000 + i),
                                   .ppid = 1,
                                   .exe = (char *)(i % 3 ? "/usr/bin/exp" : "/usr/bin/x"),
                                   .cgroup = i % 5 ? cgroups[i] : (char *)SESSION,
                                   .rss_anon = (i % 97) * MiB,
                                   .pidfd = -1};
                snprintf(e[i].comm, sizeof(e[i].comm), "p%zu", i);
        }
        in = input(LEVEL_EMERGENCY, &t, &rs, 100);
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_TRUE(plan.capacity >= t.n);
        ASSERT_TRUE(plan.n_apps > 700);
        for (size_t k = 1; k < plan.n_apps; k++)
                ASSERT_TRUE(plan.apps[k - 1].priority >= plan.apps[k].priority);
        t.n = 10;
        ASSERT_OK(planner_plan(&params, &in, &plan));
        ASSERT_TRUE(plan.capacity >= ELEMENTSOF(e));
        plan_done(&plan);
        rules_done(&rs);
}

int main(void)
{
        RUN(test_level_tables);
        RUN(test_ranking_permutations);
        RUN(test_amount);
        RUN(test_stall_attribution);
        RUN(test_small_kills);
        RUN(test_checkpoint);
        RUN(test_restore);
        RUN(test_whole_apps);
        RUN(test_sessions_never_one_unit);
        RUN(test_cooldown);
        RUN(test_thaw);
        RUN(test_grace);
        RUN(test_foreground);
        RUN(test_defaults_reasons);
        RUN(test_errors_and_empty);
        RUN(test_large_table);
        return 0;
}
