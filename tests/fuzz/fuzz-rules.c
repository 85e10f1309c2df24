/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the rules parser: the input is a key file; every group goes to
 * rules_parse_group() as config.c would hand it, then the whole text once
 * more through rules_parse_data(). Whatever parsed is matched against a few
 * fixed processes and planned for, so matching sees every rule shape.
 */
#include <stdint.h>
#include <string.h>

#include "macro.h"
#include "planner.h"
#include "rules.h"

#include <glib.h> /* after macro.h, which it would redefine MIN and MAX for */

static const ProcEntry entries[] = {
        {.pid = 100,
         .ppid = 1,
         .uid = 1000,
         .comm = "firefox-esr",
         .exe = (char *)"/usr/lib/firefox-esr/firefox-esr",
         .cmdline = (char *)"/usr/lib/firefox-esr/firefox-esr -contentproc -isForBrowser 1 tab",
         .cgroup = (char *)"/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-1.scope",
         .unit = (char *)"app-firefox-1.scope",
         .app_id = (char *)"firefox",
         .rss_anon = 800 << 20,
         .pidfd = -1},
        {.pid = 101,
         .ppid = 1,
         .uid = 0,
         .comm = "sshd",
         .exe = (char *)"/usr/sbin/sshd (deleted)",
         .cmdline = (char *)"sshd: /usr/sbin/sshd -D",
         .cgroup = (char *)"/system.slice/ssh.service",
         .unit = (char *)"ssh.service",
         .rss_anon = 5 << 20,
         .pidfd = -1},
        {.pid = 102,
         .ppid = 50,
         .uid = 1000,
         .comm = "gnome-shell",
         .exe = (char *)"/tmp/evil",
         .cgroup = (char *)"/user.slice/user-1000.slice/session-2.scope",
         .unit = (char *)"session-2.scope",
         .rss_anon = 300 << 20,
         .swap = 10 << 20,
         .pidfd = -1},
        {.pid = 103, .ppid = 2, .comm = "kworker/0:1", .kthread = true, .pidfd = -1},
};

static void exercise(const RuleSet *rs)
{
        ProcTable t = {.entries = (ProcEntry *)entries, .n = ELEMENTSOF(entries)};
        PlannerInput in = {
                .level = LEVEL_EMERGENCY,
                .mem = {.mem_total = 1ULL << 32, .mem_available = 1ULL << 20},
                .table = &t,
                .rules = rs,
                .now_usec = 1000000000,
                .clk_tck = 100,
        };
        PlannerParams params;
        Plan plan;

        for (size_t i = 0; i < ELEMENTSOF(entries); i++) {
                RuleMatch m;

                rules_match(rs, &entries[i], &m);
                if (m.priority < 0 || m.priority > RULE_PRIORITY_MAX || !m.rule)
                        abort();
                (void)rules_never_target(rs, &entries[i], NULL, NULL);
        }
        planner_params_default(&params);
        plan_init(&plan);
        if (planner_plan(&params, &in, &plan) < 0)
                abort();
        plan_done(&plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        g_autoptr(GKeyFile) kf = NULL;
        g_auto(GStrv) groups = NULL;
        RuleSet rs, all;
        char *error = NULL;

        if (size > 64 * 1024)
                return 0;
        kf = g_key_file_new();
        if (!g_key_file_load_from_data(kf, (const char *)data, size, G_KEY_FILE_NONE, NULL))
                return 0;

        /* Group by group, as config.c dispatches them. */
        rules_init(&rs);
        groups = g_key_file_get_groups(kf, NULL);
        for (char **g = groups; *g; g++) {
                if (!rules_is_rules_group(*g))
                        continue;
                if (rules_parse_group(&rs, kf, *g, "fuzz.conf", &error) < 0) {
                        if (!error || strncmp(error, "fuzz.conf: [", 12) != 0)
                                abort(); /* every error names the file and the group */
                        free(error);
                        error = NULL;
                }
        }
        exercise(&rs);

        /* The whole text at once: all or nothing, on a copy. */
        if (rules_copy(&all, &rs) < 0)
                abort();
        if (rules_parse_data(&all, (const char *)data, size, "fuzz.conf", &error) < 0) {
                if (all.n != rs.n)
                        abort(); /* a failed text changes nothing */
                free(error);
        }
        exercise(&all);
        rules_done(&all);
        rules_done(&rs);
        return 0;
}
