/* SPDX-License-Identifier: MIT */
#include <fnmatch.h>
#include <string.h>

#include "macro.h"
#include "regex-util.h"
#include "rules.h"
#include "test.h"

#include <glib.h> /* after macro.h, which it would redefine MIN and MAX for */

/* A process fixture; unit is the innermost *.scope / *.service of the cgroup. */
static ProcEntry proc(pid_t pid, uid_t uid, const char *comm, const char *exe, const char *cmdline,
                      const char *cgroup)
{
        static char units[64][128];
        static unsigned next;
        ProcEntry e = {
                .pid = pid,
                .ppid = 1,
                .uid = uid,
                .state = 'S',
                .exe = (char *)exe,
                .cmdline = (char *)cmdline,
                .cgroup = (char *)cgroup,
                .pidfd = -1,
        };

        snprintf(e.comm, sizeof(e.comm), "%s", comm);
        if (cgroup) {
                const char *last = strrchr(cgroup, '/');
                last = last ? last + 1 : cgroup;
                if (strstr(last, ".service") || strstr(last, ".scope")) {
                        char *u = units[next++ % ELEMENTSOF(units)];
                        snprintf(u, sizeof(units[0]), "%s", last);
                        e.unit = u;
                }
        }
        return e;
}

static int parse(RuleSet *rs, const char *text, char **ret_error)
{
        return rules_parse_data(rs, text, strlen(text), "test.conf", ret_error);
}

static void parse_ok(RuleSet *rs, const char *text)
{
        char *error = NULL;
        int r = parse(rs, text, &error);
        if (r < 0)
                fprintf(stderr, "unexpected error: %s\n", error);
        ASSERT_OK(r);
        ASSERT_TRUE(!error);
}

static void test_every_key(void)
{
        RuleSet rs;
        const Rule *r;

        rules_init(&rs);
        parse_ok(&rs, "[rule:all]\n"
                      "exe=/usr/bin/a;/usr/lib/*/b\n"
                      "comm=a*;b\n"
                      "cmdline=(^| )--x=[0-9]+( |$)\n"
                      "cgroup=/user.slice/*\n"
                      "unit=app-*.scope\n"
                      "uid=0;root;1000\n"
                      "app-id=org.example.*\n"
                      "priority=77\n"
                      "actions=throttle;kill\n"
                      "prefer-freeze=true\n"
                      "split=true\n"
                      "trust-comm=false\n"
                      "enabled=true\n");
        ASSERT_EQ_INT(rs.n, 1);
        r = &rs.rules[0];
        ASSERT_STREQ(r->name, "all");
        ASSERT_STREQ(r->exe[1], "/usr/lib/*/b");
        ASSERT_TRUE(!r->exe[2]);
        ASSERT_STREQ(r->comm[0], "a*");
        ASSERT_STREQ(r->cmdline, "(^| )--x=[0-9]+( |$)");
        ASSERT_STREQ(r->cgroup[0], "/user.slice/*");
        ASSERT_STREQ(r->unit[0], "app-*.scope");
        ASSERT_EQ_INT(r->n_uids, 3);
        ASSERT_EQ_INT(r->uids[0], 0);
        ASSERT_EQ_INT(r->uids[1], 0);
        ASSERT_EQ_INT(r->uids[2], 1000);
        ASSERT_STREQ(r->app_id[0], "org.example.*");
        ASSERT_EQ_INT(r->priority, 77);
        ASSERT_EQ_INT(r->actions, RULE_ACTION_THROTTLE | RULE_ACTION_KILL);
        ASSERT_TRUE(r->prefer_freeze && r->split && !r->trust_comm && r->enabled);
        ASSERT_EQ_INT(r->set, RULE_KEYS_ALL);

        /* All matchers must match. */
        ProcEntry e = proc(10, 1000, "abc", "/usr/lib/x86_64/b", "/usr/lib/x86_64/b --x=12 y",
                           "/user.slice/app-foo.scope");
        e.app_id = (char *)"org.example.Foo";
        RuleMatch m;
        rules_match(&rs, &e, &m);
        ASSERT_EQ_INT(m.priority, 77);
        ASSERT_STREQ(m.rule, "all");
        ASSERT_TRUE(m.split && m.prefer_freeze);
        e.cmdline = (char *)"/usr/lib/x86_64/b --x=y";
        rules_match(&rs, &e, &m);
        ASSERT_STREQ(m.rule, "default");
        ASSERT_EQ_INT(m.priority, 50);
        ASSERT_EQ_INT(m.actions, RULE_ACTIONS_ALL);
        ASSERT_FALSE(m.prefer_freeze);
        e.cmdline = NULL; /* a missing field never matches */
        rules_match(&rs, &e, &m);
        ASSERT_STREQ(m.rule, "default");
        rules_done(&rs);
}

static void test_errors(void)
{
        static const struct {
                const char *text, *error;
        } cases[] = {
                {"[rule:a]\nexe=/a\nbogus=1\n", "test.conf: [rule:a] bogus: unknown key"},
                {"[rule:a]\nexe=/a\npriority=101\n",
                 "test.conf: [rule:a] priority: \"101\" is not a number"},
                {"[rule:a]\nexe=/a\npriority=-1\n", "[rule:a] priority:"},
                {"[rule:a]\nexe=/a\npriority= 5x\n", "[rule:a] priority:"},
                {"[rule:a]\nexe=/a\nactions=kill;explode\n", "[rule:a] actions: unknown action \"explode\""},
                {"[rule:a]\nexe=/a\nprefer-freeze=maybe\n",
                 "[rule:a] prefer-freeze: expected true or false"},
                {"[rule:a]\ncmdline=(unclosed\n", "[rule:a] cmdline: invalid regular expression"},
                {"[rule:a]\ncmdline=(a)\\1\n", "back-references are not supported"},
                {"[rule:a]\ncmdline=a{5000}\n", "too complex"},
                {"[rule:a]\ncmdline=(a{60}){60}{2}\n", "too complex"},
                {"[rule:a]\ncmdline=a+++++++++++++\n", "too complex"},
                /* Repeated repetitions of zero-width assertions: glibc's regcomp takes seconds. */
                {"[rule:a]\ncmdline=(^| )+++++\n", "too complex"},
                {"[rule:a]\ncmdline=(\\b)++++\n", "too complex"},
                {"[rule:a]\ncmdline=((\\b){2,9}){2,9}\n", "too complex"},
                {"[rule:a]\ncmdline=((x|$)+y)+\n", "too complex"},
                {"[rule:a]\ncmdline=(\\b){1,30}\n", "too complex"},
                {"[rule:a]\ncmdline=(((((((((((((a)+)+)+)+)+)+)+)+)+)+)+)+)+\n", "too complex"},
                /* Stacked repetitions: glibc's compile time grows about fourfold per level. */
                {"[rule:a]\ncmdline=a*++++++++++\n", "too complex"},
                {"[rule:a]\ncmdline=a*++++\n", "too complex"},
                {"[rule:a]\ncmdline=((((a*)+)+)+)+\n", "too complex"},
                {"[rule:a]\ncmdline=x(y|a+?\?\?\?\?\?\?\?\?\?)\n", "too complex"},
                {"[rule:a]\ncmdline=(a*){2}{2}{2}{2}{2}\n", "too complex"},
                {"[rule:a]\ncmdline=x|[ab]{3000}(c{2}){1000}\n", "too complex"},
                {"[rule:a]\nexe=bin/foo\n", "[rule:a] exe: \"bin/foo\" is not an absolute path"},
                {"[rule:a]\nexe=/a;;/b\n", "[rule:a] exe: empty pattern"},
                {"[rule:a]\nexe=a\\nb\x01\n", "[rule:a] exe: \"a\\x0ab\\x01\" is not an absolute path"},
                {"[rule:a]\nuid=no-such-user-hopefully\n", "[rule:a] uid: unknown user"},
                {"[rule:a]\nuid=4294967295\n", "[rule:a] uid: 4294967295 is out of range"},
                {"[rule:a]\nuid=bad name\n", "neither a number nor a user name"},
                {"[rule:]\nexe=/a\n", "test.conf: [rule:]: invalid rule name"},
                {"[rule:a b]\nexe=/a\n", "invalid rule name"},
                {"[rule:default]\nexe=/a\n", "invalid rule name"},
                {"[rule:a]\npriority=10\n", "test.conf: [rule:a]: rule matches nothing"},
                {"[rule:a]\nexe=\npriority=10\n", "rule matches nothing"},
                {"[protect]\nname=x\n", "test.conf: [protect] name: unknown key"},
                {"[protect]\nexe=relative\n", "[protect] exe: \"relative\" is not an absolute path"},
                {"[protect]\ntrust-comm=2\n", "[protect] trust-comm: expected true or false"},
                {"[daemon]\ndry-run=true\n", "test.conf: [daemon]: unknown group"},
                {"not a key file\n", "test.conf: "},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                RuleSet rs;
                char *error = NULL;

                rules_init(&rs);
                parse_ok(&rs, "[rule:keep]\nexe=/usr/bin/keep\npriority=30\n[protect]\nexe=/usr/bin/p\n");
                ASSERT_ERR(parse(&rs, cases[i].text, &error), -EINVAL);
                if (!error || !strstr(error, cases[i].error)) {
                        fprintf(stderr, "case %zu: error \"%s\" lacks \"%s\"\n", i, strna(error),
                                cases[i].error);
                        abort();
                }
                free(error);
                /* A bad text changes nothing. */
                ASSERT_EQ_INT(rs.n, 1);
                ASSERT_EQ_INT(rs.rules[0].priority, 30);
                ASSERT_STREQ(rs.rules[0].exe[0], "/usr/bin/keep");
                ASSERT_TRUE(rs.protect.exe && !rs.protect.exe[1]);
                /* Errors without a message buffer work too. */
                ASSERT_ERR(parse(&rs, cases[i].text, NULL), -EINVAL);
                rules_done(&rs);
        }
}

static void test_regex_accepted(void)
{
        /* Bounded and modest patterns pass the complexity check. */
        static const char *const ok[] = {
                "(^| )--type=renderer( |$)", "(a{64}){64}", "a{4000}",   "a*+++",        "[]{}+]{3}x+",
                "[[:alpha:]]+(x|y){2,7}",    "a{,}",        "\\{99999}", "(((((a)))))*", "x{1,}",
                "(^| )+",                    "(\\b){2,8}", "(^|x)+(y|$)+", "(^)*+*",   "(a|b)++++",
                "((a*)+)?",                  "(a+|b*)*(c?)+", "a*b*c*d*e*f*g*h*",
        };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                char text[256], *error = NULL;
                RuleSet rs;
                int r;

                snprintf(text, sizeof(text), "[rule:a]\ncmdline=%s\n", ok[i]);
                rules_init(&rs);
                r = parse(&rs, text, &error);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", ok[i], error);
                        abort();
                }
                rules_done(&rs);
        }
}

static void test_group_dispatch(void)
{
        g_autoptr(GKeyFile) kf = g_key_file_new();
        const char *text = "[rule:a]\nexe=/a\n[daemon]\nx=1\n";
        char *error = NULL;
        RuleSet rs;

        ASSERT_TRUE(rules_is_rules_group("protect"));
        ASSERT_TRUE(rules_is_rules_group("rule:x"));
        ASSERT_FALSE(rules_is_rules_group("rules"));
        ASSERT_FALSE(rules_is_rules_group("daemon"));
        ASSERT_FALSE(rules_is_rules_group(NULL));

        ASSERT_TRUE(g_key_file_load_from_data(kf, text, strlen(text), G_KEY_FILE_NONE, NULL));
        rules_init(&rs);
        ASSERT_OK(rules_parse_group(&rs, kf, "rule:a", "x.conf", &error));
        ASSERT_EQ_INT(rs.n, 1);
        ASSERT_ERR(rules_parse_group(&rs, kf, "daemon", "x.conf", &error), -EINVAL);
        ASSERT_STREQ(error, "x.conf: [daemon]: not a rules group");
        free(error);
        rules_done(&rs);
}

static void test_override(void)
{
        RuleSet rs;
        RuleMatch m;
        ProcEntry e = proc(100, 1000, "thing", "/usr/bin/thing", "thing --big", "/user.slice/app-t.scope");

        rules_init(&rs);
        /* Duplicate groups and keys in one file: GKeyFile merges them, the last value wins. */
        parse_ok(&rs, "[rule:a]\nexe=/usr/bin/thing\npriority=70\nactions=freeze\n"
                      "[rule:b]\ncomm=other\npriority=90\n"
                      "[rule:a]\nprefer-freeze=true\n");
        ASSERT_EQ_INT(rs.n, 2);
        ASSERT_TRUE(rs.rules[0].prefer_freeze);

        /* A later file: key by key; the rule keeps its place; a new name is appended. */
        parse_ok(&rs, "[rule:c]\ncmdline=--big\npriority=80\n"
                      "[rule:a]\npriority=30\nunit=app-*.scope\n");
        ASSERT_EQ_INT(rs.n, 3);
        ASSERT_STREQ(rs.rules[0].name, "a");
        ASSERT_STREQ(rs.rules[1].name, "b");
        ASSERT_STREQ(rs.rules[2].name, "c");
        ASSERT_STREQ(rs.rules[0].exe[0], "/usr/bin/thing");
        ASSERT_STREQ(rs.rules[0].unit[0], "app-*.scope");
        ASSERT_EQ_INT(rs.rules[0].priority, 30);
        ASSERT_EQ_INT(rs.rules[0].actions, RULE_ACTION_FREEZE);

        /* Rule c comes later and sets the priority; a still sets actions and prefer-freeze. */
        rules_match(&rs, &e, &m);
        ASSERT_EQ_INT(m.priority, 80);
        ASSERT_STREQ(m.rule, "c");
        ASSERT_EQ_INT(m.actions, RULE_ACTION_FREEZE);
        ASSERT_TRUE(m.prefer_freeze);

        /* Unset a key with an empty value; turn a rule off. */
        parse_ok(&rs, "[rule:a]\nunit=\n[rule:c]\nenabled=false\n");
        ASSERT_TRUE(!rs.rules[0].unit);
        ASSERT_FALSE(rs.rules[0].set & RULE_KEY_UNIT);
        rules_match(&rs, &e, &m);
        ASSERT_EQ_INT(m.priority, 30);
        ASSERT_STREQ(m.rule, "a");
        parse_ok(&rs, "[rule:a]\npriority=\n");
        rules_match(&rs, &e, &m);
        ASSERT_EQ_INT(m.priority, 50);
        ASSERT_STREQ(m.rule, "default");
        ASSERT_EQ_INT(m.actions, RULE_ACTION_FREEZE);
        rules_done(&rs);
}

static void test_weak(void)
{
        RuleSet rs;
        RuleMatch m;
        ProcEntry shell =
                proc(200, 1000, "gnome-shell", "/tmp/evil", "gnome-shell --wayland", "/user.slice/x.scope");
        ProcEntry hog = proc(201, 1000, "hog", "/usr/bin/hog", "hog --eat", NULL);

        rules_init(&rs);
        parse_ok(&rs, "[rule:by-name]\ncomm=gnome-shell\npriority=10\nactions=throttle\nprefer-freeze=true\n"
                      "[rule:by-cmdline]\ncmdline=--wayland\npriority=5\n");
        ASSERT_TRUE(rule_is_weak(&rs.rules[0]));
        ASSERT_TRUE(rule_is_weak(&rs.rules[1]));
        rules_match(&rs, &shell, &m);
        ASSERT_EQ_INT(m.priority, 50);
        ASSERT_STREQ(m.rule, "default");
        ASSERT_EQ_INT(m.actions, RULE_ACTIONS_ALL);
        ASSERT_FALSE(m.prefer_freeze);
        ASSERT_TRUE(m.weak_ignored);

        /* Weak rules may make a process more expendable. */
        parse_ok(&rs,
                 "[rule:hog]\ncomm=hog\npriority=90\n[rule:hog-actions]\ncmdline=--eat\nactions=kill\n");
        rules_match(&rs, &hog, &m);
        ASSERT_EQ_INT(m.priority, 90);
        ASSERT_STREQ(m.rule, "hog");
        ASSERT_EQ_INT(m.actions, RULE_ACTIONS_ALL); /* adding only: kill was allowed already */

        /* trust-comm, or any other matcher, makes them strong. */
        parse_ok(&rs, "[rule:by-name]\ntrust-comm=true\n");
        ASSERT_FALSE(rule_is_weak(&rs.rules[0]));
        rules_match(&rs, &shell, &m);
        ASSERT_EQ_INT(m.priority, 10);
        ASSERT_STREQ(m.rule, "by-name");
        ASSERT_EQ_INT(m.actions, RULE_ACTION_THROTTLE);
        ASSERT_TRUE(m.prefer_freeze);
        parse_ok(&rs, "[rule:uid-and-name]\ncomm=hog\nuid=0\npriority=20\n");
        ASSERT_FALSE(rule_is_weak(&rs.rules[4]));

        /* [protect] comm entries protect nothing until trust-comm=true. */
        parse_ok(&rs, "[protect]\ncomm=hog\n");
        rules_match(&rs, &hog, &m);
        ASSERT_FALSE(m.protect);
        ASSERT_FALSE(rules_never_target(&rs, &hog, NULL, NULL));
        parse_ok(&rs, "[protect]\ntrust-comm=true\n");
        rules_match(&rs, &hog, &m);
        ASSERT_TRUE(m.protect);
        ASSERT_EQ_INT(m.priority, 0);
        ASSERT_STREQ(m.rule, "protect");
        rules_done(&rs);
}

static void test_protect(void)
{
        RuleSet rs;
        RuleMatch m;
        const char *why = NULL, *entry = NULL;
        ProcEntry db = proc(300, 0, "postgres", "/usr/lib/postgresql/15/bin/postgres", NULL,
                            "/system.slice/postgresql@15-main.service");
        ProcEntry app = proc(301, 1000, "app", "/opt/app/app", NULL, "/user.slice/app-org.x.App-1.scope");
        ProcEntry other = proc(302, 1000, "other", "/usr/bin/other", NULL, NULL);

        app.app_id = (char *)"org.x.App";
        rules_init(&rs);
        /* Entries add up across groups and files; a rule cannot undo them. */
        parse_ok(
                &rs,
                "[protect]\nunit=postgresql@*.service\n[rule:pg]\nunit=postgresql@*.service\npriority=95\n");
        parse_ok(&rs, "[protect]\napp-id=org.x.*\nexe=/opt/none\n");
        ASSERT_STREQ(rs.protect.unit[0], "postgresql@*.service");
        ASSERT_STREQ(rs.protect.app_id[0], "org.x.*");
        rules_match(&rs, &db, &m);
        ASSERT_TRUE(m.protect);
        ASSERT_EQ_INT(m.priority, 0);
        ASSERT_TRUE(rules_protect_match(&rs, &app, &entry));
        ASSERT_STREQ(entry, "org.x.*");
        ASSERT_TRUE(rules_never_target(&rs, &app, NULL, &why));
        ASSERT_STREQ(why, "protect list");
        ASSERT_FALSE(rules_never_target(&rs, &other, NULL, NULL));
        rules_done(&rs);
}

static void test_never_target(void)
{
        const pid_t agents[] = {501, 502}, compositors[] = {600};
        const char *const comp_cgroups[] = {"/user.slice/user-1000.slice/user@1000.service/session.slice/"
                                            "org.gnome.Shell@wayland.service",
                                            NULL};
        NeverTargetContext ctx = {
                .self_pid = 400,
                .self_cgroup = "/system.slice/memguard.service",
                .bus_pid = 450,
                .agent_pids = agents,
                .n_agent_pids = 2,
                .compositor_pids = compositors,
                .n_compositor_pids = 1,
                .compositor_cgroups = comp_cgroups,
        };
        ProcEntry kthread = proc(700, 0, "kworker/0:1", NULL, NULL, NULL);
        ProcEntry kchild = proc(701, 0, "ksoftirqd/0", NULL, NULL, NULL);
        ProcEntry oom = proc(702, 0, "important", "/usr/bin/important", NULL, NULL);

        kthread.kthread = true;
        kthread.ppid = 2;
        kchild.ppid = 2;
        oom.oom_score_adj = -1000;

        const struct {
                ProcEntry e;
                const char *why;
        } cases[] = {
                {proc(1, 0, "systemd", "/sbin/init", NULL, "/init.scope"), "PID 1"},
                {kthread, "kernel thread"},
                {kchild, "kernel thread"},
                {oom, "oom_score_adj -1000"},
                {proc(400, 0, "memguardd", "/opt/mg/memguardd", NULL, "/system.slice/memguard.service"),
                 "memguard itself"},
                {proc(401, 0, "helper", "/opt/mg/helper", NULL, "/system.slice/memguard.service"),
                 "memguard's cgroup"},
                {proc(402, 0, "helper", "/opt/mg/helper", NULL, "/system.slice/memguard.service/sub"),
                 "memguard's cgroup"},
                {proc(403, 0, "x", "/usr/bin/x", NULL, "/system.slice/memguard.service-other"), NULL},
                {proc(450, 1000, "dbus-daemon", "/home/u/dbus-daemon", NULL, NULL), "the bus daemon"},
                {proc(451, 101, "dbus-daemon", "/usr/bin/dbus-daemon", NULL, NULL), "the bus daemon"},
                {proc(452, 0, "dbus-broker", "/usr/bin/dbus-broker", NULL, NULL), "the bus daemon"},
                {proc(453, 0, "dbus-broker-lau", "/usr/bin/dbus-broker-launch", NULL, NULL),
                 "the bus daemon"},
                {proc(454, 1000, "dbus-daemon", "/home/u/bin/dbus-daemon", NULL, NULL), NULL},
                {proc(455, 0, "polkitd", "/usr/lib/polkit-1/polkitd", NULL, NULL), "polkitd"},
                {proc(456, 0, "polkitd", "/usr/libexec/polkitd", NULL, NULL), "polkitd"},
                {proc(457, 0, "systemd-logind", "/lib/systemd/systemd-logind", NULL, NULL), "logind"},
                {proc(458, 0, "systemd-journal", "/usr/lib/systemd/systemd-journald", NULL, NULL),
                 "journald"},
                {proc(459, 0, "systemd-journal", "/usr/lib/systemd/systemd-journald (deleted)", NULL, NULL),
                 "journald"},
                {proc(501, 1000, "memguard-agent", "/home/u/memguard-agent", NULL, NULL),
                 "a memguard agent"},
                {proc(503, 1000, "memguard-agent", "/usr/bin/memguard-agent", NULL, NULL),
                 "a memguard agent"},
                {proc(600, 1000, "weird", "/opt/wm/wm", NULL, NULL), "the session compositor"},
                {proc(601, 1000, "helper", "/opt/wm/helper", NULL, comp_cgroups[0]),
                 "the session compositor"},
                {proc(602, 1000, "gnome-shell", "/usr/bin/gnome-shell", NULL, NULL),
                 "a compositor or display server"},
                {proc(603, 1000, "Xwayland", "/usr/bin/Xwayland", NULL, NULL),
                 "a compositor or display server"},
                {proc(604, 0, "Xorg", "/usr/lib/xorg/Xorg", NULL, NULL), "a compositor or display server"},
                {proc(605, 1000, "kwin_wayland", "/usr/bin/kwin_wayland", NULL, NULL),
                 "a compositor or display server"},
                /* Renamed: the name does not protect. */
                {proc(606, 1000, "gnome-shell", "/tmp/evil", NULL, NULL), NULL},
                {proc(607, 1000, "gnome-shell", "/tmp/usr/bin/gnome-shell", NULL, NULL), NULL},
                {proc(608, 1000, "polkitd", NULL, NULL, NULL), NULL},
                {proc(609, 1000, "firefox", "/usr/lib/firefox/firefox", NULL, NULL), NULL},
        };
        ProcEntry in_session =
                proc(800, 0, "bash", "/usr/bin/bash", NULL, "/user.slice/user-0.slice/session-1.scope");
        NeverTargetContext from_terminal = {.self_pid = 801,
                                            .self_cgroup = "/user.slice/user-0.slice/session-1.scope"};

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const ProcEntry e = cases[i].e;
                const char *why = NULL;
                bool never = rules_never_target(NULL, &e, &ctx, &why);

                if (never != !!cases[i].why || (never && strcmp(why, cases[i].why) != 0)) {
                        fprintf(stderr, "case %zu (pid %d): got %s, want %s\n", i, (int)e.pid,
                                never ? why : "(none)", strna(cases[i].why));
                        abort();
                }
        }
        /* Started from a terminal, memguard protects itself, not its whole session. */
        ASSERT_FALSE(rules_never_target(NULL, &in_session, &from_terminal, NULL));
        /* No context: the built-in list still applies. */
        ASSERT_TRUE(rules_never_target(NULL, &cases[0].e, NULL, NULL));
        ASSERT_FALSE(rules_never_target(NULL, &cases[7].e, NULL, NULL));
}

static void test_cgroup_is_app(void)
{
        static const struct {
                const char *cgroup;
                size_t len; /* 0 = not an app */
        } cases[] = {
                {"/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-1234.scope", 84},
                {"/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Nautilus@x.service",
                 88},
                {"/system.slice/apache2.service", 29},
                {"/system.slice/docker-0123.scope", 31},
                {"/system.slice/foo.service/payload/inner", 25},
                {"/user.slice/user-1000.slice/session-2.scope", 0},
                {"/user.slice/user-1000.slice/user@1000.service", 0},
                {"/user.slice/user-1000.slice/user@1000.service/init.scope", 0},
                {"/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/"
                 "vte-spawn-1b2c.scope",
                 0},
                {"/user.slice/user-1000.slice/user@1000.service/app.slice/tmux-spawn-1b2c.scope", 0},
                {"/user.slice/user-1000.slice/user@1000.service/app.slice/xinit.scope", 67},
                {"/init.scope", 0},
                {"/user.slice", 0},
                {"/user.slice/user-1000.slice/session-2.scope/sub", 0},
                {"/", 0},
                {"", 0},
                {"/.scope", 0},
                {"/foo", 0},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t len = 0;
                bool app = rules_cgroup_app_unit(cases[i].cgroup, &len);

                if (app != (cases[i].len > 0) || (app && len != cases[i].len)) {
                        fprintf(stderr, "%s: app=%d len=%zu, want %zu\n", cases[i].cgroup, app, len,
                                cases[i].len);
                        abort();
                }
                ASSERT_EQ_INT(rules_cgroup_is_app(cases[i].cgroup), app);
        }
        ASSERT_FALSE(rules_cgroup_is_app(NULL));
}

typedef struct Expect {
        ProcEntry e;
        const char *rule;
        int priority;
        unsigned actions;
        bool prefer_freeze, split, never;
} Expect;

static void test_defaults(void)
{
        const char *ff = "/usr/lib/firefox-esr/firefox-esr";
        const Expect cases[] = {
                {proc(10, 1000, "gnome-shell", "/usr/bin/gnome-shell", "/usr/bin/gnome-shell", NULL),
                 "default", 50, RULE_ACTIONS_ALL, false, false, true},
                {proc(11, 1000, "gnome-shell", "/tmp/evil", "gnome-shell", NULL), "default", 50,
                 RULE_ACTIONS_ALL, false, false, false},
                {proc(12, 1000, "Isolated Web Co", ff,
                      "/usr/lib/firefox-esr/firefox-esr -contentproc -childID 3 -isForBrowser -prefsLen "
                      "31171 "
                      "-prefMapSize 236497 -jsInitLen 234236 -parentBuildID 20230425 -appDir "
                      "/usr/lib/firefox-esr/browser {9d2b} 1863 true tab",
                      "/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-esr-1.scope"),
                 "firefox-content", 85, RULE_ACTION_THROTTLE | RULE_ACTION_KILL, false, true, false},
                {proc(13, 1000, "Web Content", "/usr/lib/firefox/firefox",
                      "/usr/lib/firefox/firefox -contentproc -isForBrowser -prefsHandle 0 {a} 99 tab", NULL),
                 "firefox-content", 85, RULE_ACTION_THROTTLE | RULE_ACTION_KILL, false, true, false},
                {proc(14, 1000, "firefox-esr", ff, ff, NULL), "default", 50, RULE_ACTIONS_ALL, false, false,
                 false},
                {proc(15, 1000, "Socket Process", ff,
                      "/usr/lib/firefox-esr/firefox-esr -contentproc -childID 1 "
                      "{x} 1863 true socket",
                      NULL),
                 "default", 50, RULE_ACTIONS_ALL, false, false, false},
                {proc(16, 1000, "chrome", "/opt/google/chrome/chrome",
                      "/opt/google/chrome/chrome --type=renderer --crashpad-handler-pid=5 --lang=en-US",
                      NULL),
                 "chromium-renderer", 85, RULE_ACTION_THROTTLE | RULE_ACTION_KILL, false, true, false},
                {proc(17, 1000, "chromium", "/usr/lib/chromium/chromium",
                      "/usr/lib/chromium/chromium --type=gpu-process --field-trial-handle=1", NULL),
                 "default", 50, RULE_ACTIONS_ALL, false, false, false},
                {proc(18, 1000, "code", "/usr/share/code/code",
                      "/usr/share/code/code --type=renderer --enable-crash-reporter", NULL),
                 "renderers", 80, RULE_ACTIONS_ALL, false, true, false},
                {proc(19, 1000, "tracker-miner-f", "/usr/libexec/tracker-miner-fs-3", NULL, NULL),
                 "indexers", 70, RULE_ACTION_THROTTLE | RULE_ACTION_FREEZE | RULE_ACTION_KILL, true, false,
                 false},
                {proc(20, 1000, "baloo_file", "/usr/lib/x86_64-linux-gnu/libexec/baloo_file", NULL, NULL),
                 "indexers", 70, RULE_ACTION_THROTTLE | RULE_ACTION_FREEZE | RULE_ACTION_KILL, true, false,
                 false},
                {proc(21, 0, "sshd", "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D",
                      "/system.slice/ssh.service"),
                 "sshd", 10, RULE_ACTIONS_ALL, false, false, false},
                {proc(22, 0, "sshd", "/usr/sbin/sshd (deleted)", "sshd: alice [priv]", NULL), "sshd", 10,
                 RULE_ACTIONS_ALL, false, false, false},
                {proc(23, 1000, "sshd", "/home/alice/sshd", NULL, NULL), "default", 50, RULE_ACTIONS_ALL,
                 false, false, false},
                {proc(24, 1000, "pipewire", "/usr/bin/pipewire", NULL, NULL), "audio", 10, RULE_ACTIONS_ALL,
                 false, false, false},
                {proc(25, 1000, "wireplumber", "/bin/wireplumber", NULL, NULL), "audio", 10,
                 RULE_ACTIONS_ALL, false, false, false},
                {proc(26, 1000, "systemd", "/usr/lib/systemd/systemd", "/lib/systemd/systemd --user",
                      "/user.slice/user-1000.slice/user@1000.service/init.scope"),
                 "systemd", 5, RULE_ACTIONS_ALL, false, false, false},
                {proc(27, 0, "systemd-udevd", "/lib/systemd/systemd-udevd", NULL,
                      "/system.slice/systemd-udevd.service"),
                 "systemd-services", 5, RULE_ACTIONS_ALL, false, false, false},
                {proc(28, 0, "systemd-coredum", "/usr/lib/systemd/systemd-coredump", NULL, NULL),
                 "systemd-coredump", 60, RULE_ACTION_THROTTLE | RULE_ACTION_KILL, false, false, false},
                {proc(29, 0, "NetworkManager", "/usr/sbin/NetworkManager", NULL, NULL), "network", 25,
                 RULE_ACTION_THROTTLE, false, false, false},
                {proc(30, 0, "apt", "/usr/bin/apt", "apt upgrade", NULL), "updaters", 65,
                 RULE_ACTION_THROTTLE | RULE_ACTION_FREEZE, true, false, false},
                {proc(31, 0, "unattended-upgr", "/usr/bin/python3.11",
                      "/usr/bin/python3 /usr/bin/unattended-upgrade",
                      "/system.slice/apt-daily-upgrade.service"),
                 "updater-services", 65, RULE_ACTION_THROTTLE | RULE_ACTION_FREEZE, true, false, false},
                {proc(32, 1000, "gnome-software", "/usr/bin/gnome-software", NULL, NULL), "software-centres",
                 70, RULE_ACTION_THROTTLE | RULE_ACTION_FREEZE | RULE_ACTION_KILL, false, false, false},
                {proc(33, 1000, "evolution-calen", "/usr/libexec/evolution-calendar-factory", NULL, NULL),
                 "evolution-data-server", 60, RULE_ACTION_THROTTLE | RULE_ACTION_KILL, false, false, false},
                {proc(34, 1000, "gdk-pixbuf-thum", "/usr/bin/gdk-pixbuf-thumbnailer", NULL, NULL),
                 "thumbnailers", 75, RULE_ACTION_THROTTLE | RULE_ACTION_KILL, false, false, false},
                {proc(35, 1000, "WebKitWebProces",
                      "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/WebKitWebProcess", NULL, NULL),
                 "webkit-content", 85, RULE_ACTION_THROTTLE | RULE_ACTION_KILL, false, true, false},
                {proc(36, 0, "polkitd", "/usr/lib/polkit-1/polkitd", NULL, NULL), "default", 50,
                 RULE_ACTIONS_ALL, false, false, true},
                {proc(37, 101, "dbus-daemon", "/usr/bin/dbus-daemon", NULL, NULL), "default", 50,
                 RULE_ACTIONS_ALL, false, false, true},
                {proc(38, 1000, "vim", "/usr/bin/vim.basic", "vim notes.txt", NULL), "default", 50,
                 RULE_ACTIONS_ALL, false, false, false},
                {proc(39, 0, "gdm3", "/usr/sbin/gdm3", NULL, "/system.slice/gdm.service"), "login-managers",
                 5, RULE_ACTIONS_ALL, false, false, false},
                {proc(40, 1000, "gnome-session-b", "/usr/libexec/gnome-session-binary", NULL, NULL),
                 "session-managers", 5, RULE_ACTIONS_ALL, false, false, false},
                {proc(41, 0, "fwupd", "/usr/libexec/fwupd/fwupd", NULL, NULL), "fwupd", 25,
                 RULE_ACTION_THROTTLE, false, false, false},
                /* A fake renderer may only make itself more expendable. */
                {proc(42, 1000, "x", "/tmp/x", "/tmp/x --type=renderer", NULL), "renderers", 80,
                 RULE_ACTIONS_ALL, false, true, false},
        };
        RuleSet rs;
        char *error = NULL;

        rules_init(&rs);
        if (rules_load_defaults(&rs, &error) < 0) {
                fprintf(stderr, "defaults: %s\n", error);
                abort();
        }
        ASSERT_TRUE(rs.n > 10);
        /* Every protecting default goes by exe or cgroup, never by name alone. */
        for (size_t i = 0; i < rs.n; i++)
                ASSERT_TRUE(!rule_is_weak(&rs.rules[i]) || rs.rules[i].priority >= RULE_PRIORITY_DEFAULT);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const Expect *x = &cases[i];
                RuleMatch m;
                bool never = rules_never_target(&rs, &x->e, NULL, NULL);

                rules_match(&rs, &x->e, &m);
                if (strcmp(m.rule, x->rule) != 0 || m.priority != x->priority || m.actions != x->actions ||
                    m.prefer_freeze != x->prefer_freeze || m.split != x->split || never != x->never) {
                        fprintf(stderr,
                                "pid %d (%s): rule %s priority %d actions %#x prefer-freeze %d split %d "
                                "never %d; want %s %d %#x %d %d %d\n",
                                (int)x->e.pid, x->e.comm, m.rule, m.priority, m.actions, m.prefer_freeze,
                                m.split, never, x->rule, x->priority, x->actions, x->prefer_freeze, x->split,
                                x->never);
                        abort();
                }
        }

        /* A user's file overrides a shipped rule by name, key by key. */
        parse_ok(&rs, "[rule:sshd]\npriority=40\n");
        RuleMatch m;
        rules_match(&rs, &cases[11].e, &m);
        ASSERT_EQ_INT(m.priority, 40);
        rules_done(&rs);
}

static void test_copy(void)
{
        RuleSet rs, copy;
        RuleMatch a, b;
        ProcEntry e = proc(5, 1000, "x", "/usr/bin/x", "x --flag", "/system.slice/x.service");

        rules_init(&rs);
        parse_ok(&rs, "[rule:x]\ncmdline=--flag\nexe=/usr/bin/"
                      "*\nuid=1000\npriority=66\n[protect]\nunit=y.service\n");
        ASSERT_OK(rules_copy(&copy, &rs));
        rules_match(&rs, &e, &a);
        rules_done(&rs);
        rules_match(&copy, &e, &b);
        ASSERT_EQ_INT(a.priority, 66);
        ASSERT_EQ_INT(b.priority, 66);
        ASSERT_STREQ(b.rule, "x");
        ASSERT_STREQ(copy.protect.unit[0], "y.service");
        rules_done(&copy);
        rules_done(&copy); /* done twice is harmless */
}

/*
 * Globs match exactly as fnmatch(3) says, literal patterns and literal
 * prefixes included (rules-match.c compares those before calling fnmatch).
 */
static void test_glob_like_fnmatch(void)
{
        static const char *const exe_patterns[] = {
                "/usr/bin/a", "/usr/bin/a*", "/usr/bin/[ab]", "/usr/bin/\\\\*", "/usr/*/a",
                "/usr/bin/a?", "/usr/bin", "/usr/bin/", "/usr/bin/*/c", "/u*",
        };
        static const char *const comm_patterns[] = { "a", "a*", "*a", "[!a]b", "\\\\?", "", "?", "ab" };
        static const char *const values[] = {
                "/usr/bin/a", "/usr/bin/ab", "/usr/bin/b", "/usr/bin/*", "/usr/lib/a", "/usr/bin", "/usr/bin/",
                "/usr/bin/a/c", "/usr/bin/x/c", "/usr", "a", "ab", "ba", "bb", "?", "x", "", "/usr/bin/a ",
        };
        size_t checked = 0;

        for (int kind = 0; kind < 2; kind++) {
                const char *const *pats = kind == 0 ? exe_patterns : comm_patterns;
                size_t n = kind == 0 ? ELEMENTSOF(exe_patterns) : ELEMENTSOF(comm_patterns);

                for (size_t i = 0; i < n; i++) {
                        char text[256];
                        RuleSet rs;

                        if (kind == 1 && !pats[i][0])
                                continue; /* an empty comm list is an error, not a pattern */
                        snprintf(text, sizeof(text), "[rule:x]\n%s=%s\npriority=90\n%s", kind == 0 ? "exe" : "comm",
                                 pats[i], kind == 1 ? "trust-comm=true\n" : "");
                        rules_init(&rs);
                        parse_ok(&rs, text);
                        for (size_t v = 0; v < ELEMENTSOF(values); v++) {
                                ProcEntry e = proc(10, 1000, kind == 1 ? values[v] : "c", kind == 0 ? values[v] : "/x",
                                                   NULL, NULL);
                                const char *pat = kind == 0 ? rs.rules[0].exe[0] : rs.rules[0].comm[0];
                                bool want = fnmatch(pat, values[v], kind == 0 ? FNM_PATHNAME : 0) == 0;
                                RuleMatch m;

                                if (kind == 1 && strlen(values[v]) >= sizeof(e.comm))
                                        continue;
                                rules_match(&rs, &e, &m);
                                if ((strcmp(m.rule, "x") == 0) != want)
                                        fprintf(stderr, "pattern '%s' value '%s': fnmatch says %d\n", pat, values[v],
                                                want);
                                ASSERT_EQ_INT((strcmp(m.rule, "x") == 0), want);
                                checked++;
                        }
                        rules_done(&rs);
                }
        }
        printf("%zu pattern/value pairs agree with fnmatch\n", checked);
        ASSERT_TRUE(checked > 200);
}

/*
 * The literal a cmdline regex's matches must contain (the strstr() before
 * regexec()): the expected ones, and on random strings never a match that
 * lacks it.
 */
static void test_regex_literal(void)
{
        static const struct {
                const char *re, *lit;
        } cases[] = {
                {"(^| )--type=renderer( |$)", "--type=renderer"},
                {"(^| )-contentproc( .*)? (-isForBrowser|tab)( |$)", "-contentproc"},
                {"ab*c", ""},
                {"x?yz", "yz"},
                {"a|b", ""},
                {"(a|b)cd", "cd"},
                {"ab+c", "ab"},
                {"^foo$", "foo"},
                {"a{2}bc", "bc"},
                {"fo+o", "fo"},
                {"(ab)?cd", "cd"},
                {"\\.xy", "xy"},
                {"[ab]+cd", "cd"},
                {"a.cde", "cde"},
                {"abc{0,1}d", "ab"},
                {"(x)*yz|w", ""},
        };
        static const char *const pieces[] = { "a", "b", "c", "d", "x", "y", "z", "w", "f", "o", " ", "-", ".",
                                              "ab", "cd", "yz", "foo", "--type=renderer", "-contentproc", "tab",
                                              "-isForBrowser", "renderer", "--type=" };
        unsigned seed = 12345;
        size_t matched = 0;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char lit[32], err[128];
                regex_t re;

                regex_required_literal(cases[i].re, lit, sizeof(lit));
                if (strcmp(lit, cases[i].lit) != 0)
                        fprintf(stderr, "regex: %s\n", cases[i].re);
                ASSERT_STREQ(lit, cases[i].lit);
                ASSERT_OK(regex_compile_bounded(cases[i].re, &re, err, sizeof(err)));
                for (int k = 0; k < 20000; k++) {
                        char str[128] = "";
                        int n = 1 + (int)(rand_r(&seed) % 6);

                        for (int j = 0; j < n; j++)
                                strcat(str, pieces[rand_r(&seed) % ELEMENTSOF(pieces)]);
                        if (regexec(&re, str, 0, NULL, 0) == 0) {
                                if (lit[0] && !strstr(str, lit))
                                        fprintf(stderr, "%s matches '%s' without '%s'\n", cases[i].re, str, lit);
                                ASSERT_TRUE(!lit[0] || strstr(str, lit));
                                matched++;
                        }
                }
                regfree(&re);
        }
        /* Cut to the buffer: still a prefix of what is required. */
        {
                char small[4];
                regex_required_literal("(^| )--type=renderer", small, sizeof(small));
                ASSERT_STREQ(small, "--t");
        }
        printf("%zu random matches all contain their literal\n", matched);
        ASSERT_TRUE(matched > 1000);
}

static bool match_equal(const RuleMatch *a, const RuleMatch *b)
{
        return a->priority == b->priority && a->actions == b->actions && a->prefer_freeze == b->prefer_freeze &&
               a->split == b->split && a->protect == b->protect && a->weak_ignored == b->weak_ignored &&
               strcmp(a->rule, b->rule) == 0;
}

/*
 * The memo of exe pattern results (what the planner uses) decides exactly as
 * matching every pattern does: the shipped rules plus rules that combine exe
 * with other keys, a protect list with globs, over a table with repeated exe
 * paths (as copies and as the same string), " (deleted)" ones, none, and more
 * distinct paths than the memo holds; then the same memo reset for other rules.
 */
static void test_memo(void)
{
        static const char *const exes[] = {
                "/usr/bin/sleep", "/usr/lib/firefox-esr/firefox-esr", "/usr/lib/firefox/firefox",
                "/usr/bin/gnome-shell", "/usr/bin/pipewire", "/usr/sbin/sshd (deleted)", "/opt/app/bin/app",
                "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/WebKitWebProcess", "/tmp/evil", "/usr/bin/tracker-miner-fs-3",
        };
        static const char *const cmdlines[] = {
                "sleep 600", "/usr/lib/firefox-esr/firefox-esr -contentproc -childID 3 -isForBrowser tab",
                "/opt/chrome --type=renderer --lang=en", NULL,
        };
        RuleSet rs, other;
        RuleMemo memo = {};
        char (*paths)[64] = calloc(600, 64), **copies = calloc(3000, sizeof(char *));
        size_t checked = 0, protected = 0;

        ASSERT_TRUE(paths && copies);
        rules_init(&rs);
        ASSERT_OK(rules_load_defaults(&rs, NULL));
        parse_ok(&rs, "[rule:opt-root]\nexe=/opt/app/bin/*\nuid=0\npriority=90\n\n"
                      "[rule:sleepers]\nexe=/usr/bin/sl*;/bin/sleep\ncmdline=^sleep\npriority=75\n\n"
                      "[protect]\nexe=/usr/bin/gnome-*;/opt/app/bin/app\n");
        rules_init(&other);
        parse_ok(&other, "[rule:evil]\nexe=/tmp/*\npriority=95\n\n[protect]\nexe=/usr/bin/sleep\n");
        for (int pass = 0; pass < 2; pass++) {
                const RuleSet *r = pass == 0 ? &rs : &other;

                rule_memo_reset(&memo, r);
                for (int i = 0; i < 3000; i++) {
                        const char *exe;
                        ProcEntry e;
                        RuleMatch plain, memoized;

                        if (i % 5 == 4) { /* many distinct paths: more than the memo holds */
                                snprintf(paths[i / 5 % 600], 64, "/usr/bin/tool-%d", i / 5);
                                exe = paths[i / 5 % 600];
                        } else if (i % 7 == 6)
                                exe = NULL;
                        else
                                exe = exes[(i * 7) % ELEMENTSOF(exes)];
                        e = proc(100 + i, i % 3 ? 1000 : 0, i % 2 ? "sleep" : "Web Content", exe,
                                 cmdlines[i % ELEMENTSOF(cmdlines)], NULL);
                        /* Some entries hold their own copy of the string (alive while the memo is). */
                        if (exe && i % 2)
                                e.exe = copies[i] = strdup(exe);
                        rules_match(r, &e, &plain);
                        rules_match_memo(r, &e, &memo, &memoized);
                        if (!match_equal(&plain, &memoized))
                                fprintf(stderr, "exe %s: rule %s / %s, priority %d / %d\n", strna(exe), plain.rule,
                                        memoized.rule, plain.priority, memoized.priority);
                        ASSERT_TRUE(match_equal(&plain, &memoized));
                        protected += plain.protect;
                        checked++;
                }
                ASSERT_EQ_INT(memo.n, RULE_MEMO_MAX); /* full: the rest were matched directly */
                for (int i = 0; i < 3000; i++)
                        free(TAKE_PTR(copies[i]));
        }
        printf("%zu matches with the exe memo agree with plain matching (%zu protected)\n", checked, protected);
        ASSERT_TRUE(protected > 0);
        rule_memo_done(&memo);
        rules_done(&rs);
        rules_done(&other);
        free(paths);
        free(copies);
}

int main(void)
{
        RUN(test_memo);
        RUN(test_regex_literal);
        RUN(test_glob_like_fnmatch);
        RUN(test_every_key);
        RUN(test_errors);
        RUN(test_regex_accepted);
        RUN(test_group_dispatch);
        RUN(test_override);
        RUN(test_weak);
        RUN(test_protect);
        RUN(test_never_target);
        RUN(test_cgroup_is_app);
        RUN(test_defaults);
        RUN(test_copy);
        return 0;
}
