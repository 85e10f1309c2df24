/* SPDX-License-Identifier: MIT */
/*
 * The process table: parsers on hostile input, scans of fake /proc trees
 * (tests/fixtures/proc/), an incremental refresh of a tree built here, and
 * real processes: our own entry, a process renamed to look like stat fields,
 * PID reuse forced inside a private PID namespace, and fd exhaustion.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "proc-internal.h"
#include "proc.h"
#include "test.h"

#define STAT_TAIL                                                                                          \
        " 1 100 100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 123456 3133440 7936 18446744073709551615 0 0 " \
        "0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0"

static const ProcScanFilter filter_all = { .mode = PROC_SCAN_ALL };

/* ---- parsers ---------------------------------------------------------------------------------- */

static void test_stat_parse_good(void)
{
        static const struct {
                const char *line, *comm;
        } cases[] = {
                { "100 (bash) S" STAT_TAIL "\n", "bash" },
                { "100 (x) R 1 1 1 (y) S" STAT_TAIL "\n", "x) R 1 1 1 (y" },
                { "100 (Web Content) S" STAT_TAIL, "Web Content" },
                { "100 (() S" STAT_TAIL, "(" },
                { "100 (() S" STAT_TAIL, "(" },
                { "100 (((() S" STAT_TAIL, "(((" },
                { "100 ()) S" STAT_TAIL, ")" },
                { "100 () S" STAT_TAIL, "" },
                { "100 (a\nb) S 9) S" STAT_TAIL, "a\nb) S 9" },
                { "100 ( ) S" STAT_TAIL, " " },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ProcStat st;
                ASSERT_OK(proc_stat_parse(cases[i].line, strlen(cases[i].line), &st));
                ASSERT_STREQ(st.comm, cases[i].comm);
                ASSERT_EQ_INT(st.state, 'S');
                ASSERT_EQ_INT(st.ppid, 1);
                ASSERT_EQ_INT(st.flags, 4194560);
                ASSERT_EQ_INT(st.threads, 4);
                ASSERT_EQ_U64(st.start_time, 123456);
                ASSERT_EQ_U64(st.rss_pages, 7936);
        }
}

static void test_stat_parse_long_comm(void)
{
        char line[512], comm[201];
        ProcStat st;

        memset(comm, 'k', 200);
        comm[200] = 0;
        snprintf(line, sizeof(line), "2 (%s) I" STAT_TAIL, comm);
        ASSERT_OK(proc_stat_parse(line, strlen(line), &st));
        ASSERT_EQ_INT(strlen(st.comm), PROC_COMM_MAX - 1);
        ASSERT_EQ_INT(st.state, 'I');
}

static void test_stat_parse_hostile(void)
{
        static const char *const bad[] = {
                "",
                "garbage",
                "100",
                "100 (",
                "100 (x",
                "100 x) S" STAT_TAIL,
                "(x) S" STAT_TAIL,
                "-1 (x) S" STAT_TAIL,
                "100 (x)S" STAT_TAIL,
                "100 (x)  S" STAT_TAIL,
                "100 (x) SS" STAT_TAIL,
                "100 (x) 1" STAT_TAIL,
                "100 (x) S -1 100 100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 123456 3133440 7936",
                "100 (x) S 2147483648 100 100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 123456 3133440 7936",
                "100 (x) S 1 100 100 0 -1 4294967296 100 0 0 0 5 3 0 0 20 0 4 0 123456 3133440 7936",
                "100 (x) S 1 100 100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4294967296 0 123456 3133440 7936",
                "100 (x) S 1 100 100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 18446744073709551616 0 7936",
                "100 (x) S 1 100 100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 1 0 99999999999999999999999",
                "100 (x) S 1 100 100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 123456 3133440",
                "100 (x) S 1 100 100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 123456 3133440 ",
                "100 (x) S 1 100 100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 123456 3133440 7936x",
                "100 (x) S 1 100 100 0 -1 41x4560 100 0 0 0 5 3 0 0 20 0 4 0 123456 3133440 7936",
                "100 (x) S 1 100 100 0 -1 - 100 0 0 0 5 3 0 0 20 0 4 0 123456 3133440 7936",
                "100 (x) S 1 100\n100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 123456 3133440 7936",
                "100 (x) S 1 100 100 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 +123456 3133440 7936",
        };
        static const char nul[] = "100 (a\0b) S" STAT_TAIL;
        ProcStat st = { .state = '?' };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = proc_stat_parse(bad[i], strlen(bad[i]), &st);
                if (r != -EBADMSG)
                        fprintf(stderr, "case %zu: \"%s\" -> %d\n", i, bad[i], r);
                ASSERT_ERR(r, -EBADMSG);
                ASSERT_EQ_INT(st.state, '?'); /* untouched on failure */
        }
        ASSERT_ERR(proc_stat_parse(nul, sizeof(nul) - 1, &st), -EBADMSG);
        /* Length is honoured: a line cut short by len is truncated. */
        ASSERT_ERR(proc_stat_parse("100 (bash) S" STAT_TAIL, 40, &st), -EBADMSG);
}

#define STATUS_HEAD "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t7\nPid:\t7\nPPid:\t1\n"

static void test_status_parse(void)
{
        static const char good[] = STATUS_HEAD "Uid:\t1000\t1001\t1002\t1003\nGid:\t100\t100\t100\t100\n"
                                               "Groups:\t4 24 27\nVmRSS:\t    3000 kB\nRssAnon:\t    1000 kB\n"
                                               "RssFile:\t    1500 kB\nRssShmem:\t     500 kB\n"
                                               "VmSwap:\t      12 kB\nThreads:\t1\n";
        static const char kthread[] = "Name:\tkthreadd\nUid:\t0\t0\t0\t0\nKthread:\t1\nThreads:\t1\n";
        static const char *const bad[] = {
                "",
                STATUS_HEAD,
                "Uid:\tabc\t0\t0\t0\n",
                "Uid:\t\n",
                "Uid:\t4294967295\t0\t0\t0\n",
                "Uid:\t99999999999999999999999\t0\t0\t0\n",
                "Uid:\t1x\t0\t0\t0\n",
                "Uid:\t0\t0\t0\t0\nUid:\t0\t0\t0\t0\n",
                "Uid:\t0\t0\t0\t0\nRssAnon:\t1 kB\nRssAnon:\t1 kB\n",
                "Uid:\t0\t0\t0\t0\nRssAnon:\t18014398509481984 kB\n",
                "Uid:\t0\t0\t0\t0\nRssAnon:\t18446744073709551616 kB\n",
                "Uid:\t0\t0\t0\t0\nRssAnon:\t100\n",
                "Uid:\t0\t0\t0\t0\nRssAnon:\t100 MB\n",
                "Uid:\t0\t0\t0\t0\nRssAnon:\t kB\n",
                "Uid:\t0\t0\t0\t0\nVmSwap:\t-1 kB\n",
                "Uid:\t0\t0\t0\t0\nRssFile:\t1 kB extra\n",
        };
        ProcStatus s;

        ASSERT_OK(proc_status_parse(good, sizeof(good) - 1, &s));
        ASSERT_EQ_INT(s.uid, 1000);
        ASSERT_EQ_U64(s.rss_anon, 1000 * 1024);
        ASSERT_EQ_U64(s.rss_file, 1500 * 1024);
        ASSERT_EQ_U64(s.rss_shmem, 500 * 1024);
        ASSERT_EQ_U64(s.swap, 12 * 1024);

        ASSERT_OK(proc_status_parse(kthread, sizeof(kthread) - 1, &s));
        ASSERT_EQ_INT(s.uid, 0);
        ASSERT_EQ_U64(s.rss_anon + s.rss_file + s.rss_shmem + s.swap, 0);

        /* Largest value that still fits in bytes. */
        ASSERT_OK(proc_status_parse("Uid:\t0\t0\t0\t0\nRssAnon:\t18014398509481983 kB",
                                    strlen("Uid:\t0\t0\t0\t0\nRssAnon:\t18014398509481983 kB"), &s));
        ASSERT_EQ_U64(s.rss_anon, UINT64_C(18014398509481983) * 1024);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = proc_status_parse(bad[i], strlen(bad[i]), &s);
                if (r != -EBADMSG)
                        fprintf(stderr, "case %zu -> %d\n", i, r);
                ASSERT_ERR(r, -EBADMSG);
        }
}

static void test_statm_and_pss_parse(void)
{
        static const char rollup[] = "55d0c0a00000-7ffd1b3f9000 ---p 00000000 00:00 0   [rollup]\n"
                                     "Rss:                5120 kB\nPss:                2048 kB\n"
                                     "Pss_Anon:            800 kB\nPss_File:           1248 kB\n";
        uint64_t res, shared, pss;

        ASSERT_OK(proc_statm_parse("765 435 407 5 0 123 0\n", 22, &res, &shared));
        ASSERT_EQ_U64(res, 435);
        ASSERT_EQ_U64(shared, 407);
        ASSERT_OK(proc_statm_parse("0 0 0 0 0 0 0", 13, &res, &shared));
        ASSERT_ERR(proc_statm_parse("765 435 407 5 0 123\n", 20, &res, &shared), -EBADMSG);
        ASSERT_ERR(proc_statm_parse("765 435 407 5 0 123 0 1\n", 24, &res, &shared), -EBADMSG);
        ASSERT_ERR(proc_statm_parse("765  435 407 5 0 123 0\n", 23, &res, &shared), -EBADMSG);
        ASSERT_ERR(proc_statm_parse("", 0, &res, &shared), -EBADMSG);

        ASSERT_OK(proc_smaps_rollup_parse_pss(rollup, sizeof(rollup) - 1, &pss));
        ASSERT_EQ_U64(pss, 2048 * 1024);
        ASSERT_ERR(proc_smaps_rollup_parse_pss("Rss: 1 kB\nPss_Anon: 1 kB\n", 24, &pss), -EBADMSG);
        ASSERT_ERR(proc_smaps_rollup_parse_pss("Pss: 99999999999999999999 kB\n", 29, &pss), -EBADMSG);
}

static void test_unit_from_cgroup(void)
{
        static const struct {
                const char *cgroup, *unit, *app_id;
        } cases[] = {
                { "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-org.gnome.Terminal-1234.scope",
                  "app-gnome-org.gnome.Terminal-1234.scope", "org.gnome.Terminal" },
                { "/user.slice/user-1000.slice/user@1000.service/app.slice/app-flatpak-org.mozilla.firefox-5678.scope",
                  "app-flatpak-org.mozilla.firefox-5678.scope", "org.mozilla.firefox" },
                { "/app.slice/app-gnome-org.gnome.Evince@12345.service", "app-gnome-org.gnome.Evince@12345.service",
                  "org.gnome.Evince" },
                { "/app-flatpak-org.telegram.desktop@12345.service", "app-flatpak-org.telegram.desktop@12345.service",
                  "org.telegram.desktop" },
                { "/app-KDE-org.kde.okular@12345.service", "app-KDE-org.kde.okular@12345.service", "org.kde.okular" },
                { "/app-org.kde.amarok.service", "app-org.kde.amarok.service", "org.kde.amarok" },
                { "/app-org.gnome.Evince-12345.scope", "app-org.gnome.Evince-12345.scope", "org.gnome.Evince" },
                { "/app-org.gnome.Evince@x.service", "app-org.gnome.Evince@x.service", "org.gnome.Evince" },
                { "/app-gnome-org.gnome.Evolution\\x2dalarm\\x2dnotify-2437.scope",
                  "app-gnome-org.gnome.Evolution\\x2dalarm\\x2dnotify-2437.scope", "org.gnome.Evolution-alarm-notify" },
                { "/app-org.example.my\\x2dapp@autostart.service", "app-org.example.my\\x2dapp@autostart.service",
                  "org.example.my-app" },
                { "/app-gnome-firefox-4321.scope", "app-gnome-firefox-4321.scope", "firefox" },
                { "/app-firefox-4321.scope", "app-firefox-4321.scope", "firefox" },
                { "/app-niri-fuzzel-77.scope", "app-niri-fuzzel-77.scope", "fuzzel" },
                { "/app-gnome-foo-bar-99.scope", "app-gnome-foo-bar-99.scope", "foo-bar" },
                { "/app-org.chromium.Chromium-b8f0b7a0.scope", "app-org.chromium.Chromium-b8f0b7a0.scope",
                  "org.chromium.Chromium" },
                { "/x/app-gnome-org.gnome.Terminal-1234.scope/sub/leaf", "app-gnome-org.gnome.Terminal-1234.scope",
                  "org.gnome.Terminal" },
                { "app-gnome-org.gnome.Terminal-1234.scope", "app-gnome-org.gnome.Terminal-1234.scope",
                  "org.gnome.Terminal" },
                /* Units that carry no app id. */
                { "/app-gnome-org.gnome.Terminal.scope", "app-gnome-org.gnome.Terminal.scope", NULL },
                { "/app-1234.scope", "app-1234.scope", NULL },
                { "/app-.scope", "app-.scope", NULL },
                { "/app--1.scope", "app--1.scope", NULL },
                { "/app-gnome-bad\\xZZ-1.scope", "app-gnome-bad\\xZZ-1.scope", NULL },
                { "/app-gnome-nul\\x00-1.scope", "app-gnome-nul\\x00-1.scope", NULL },
                { "/app-gnome-cut\\x2-1.scope", "app-gnome-cut\\x2-1.scope", NULL },
                { "/app-@1.service", "app-@1.service", NULL },
                { "/user.slice/user-1000.slice/session-3.scope", "session-3.scope", NULL },
                { "/user.slice/user-1000.slice/user@1000.service", "user@1000.service", NULL },
                { "/user.slice/user-1000.slice/user@1000.service/init.scope", "init.scope", NULL },
                { "/init.scope", "init.scope", NULL },
                { "/system.slice/dbus.service", "dbus.service", NULL },
                { "/system.slice/foo.service/payload", "foo.service", NULL },
                { "/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-a1b2.scope",
                  "vte-spawn-a1b2.scope", NULL },
                { "/user.slice/user-1000.slice/user@1000.service/session.slice/org.gnome.Shell@wayland.service",
                  "org.gnome.Shell@wayland.service", NULL },
                { "/system.slice/_cpu.service", "cpu.service", NULL },
                { "/system.slice/a.service/", "a.service", NULL },
                { "/", NULL, NULL },
                { "", NULL, NULL },
                { "/user.slice/app.slice", NULL, NULL },
                { "/.service/.scope", NULL, NULL },
                { "////", NULL, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *unit = (char *)1, *app_id = (char *)1;

                ASSERT_OK(proc_unit_from_cgroup(cases[i].cgroup, &unit, &app_id));
                if (!cases[i].unit)
                        ASSERT_TRUE(!unit);
                else
                        ASSERT_STREQ(unit, cases[i].unit);
                if (!cases[i].app_id) {
                        if (app_id)
                                fprintf(stderr, "%s -> unexpected app id %s\n", cases[i].cgroup, app_id);
                        ASSERT_TRUE(!app_id);
                } else
                        ASSERT_STREQ(app_id, cases[i].app_id);
        }

        {
                char *unit = (char *)1, *app_id = (char *)1;
                ASSERT_OK(proc_unit_from_cgroup(NULL, &unit, &app_id));
                ASSERT_TRUE(!unit && !app_id);
                /* Outputs are optional. */
                ASSERT_OK(proc_unit_from_cgroup("/app-gnome-a-1.scope", NULL, NULL));
        }
}

/* ---- fixture trees ---------------------------------------------------------------------------- */

static int open_fixture(const char *tree)
{
        char path[PATH_MAX];
        int fd;

        snprintf(path, sizeof(path), "%s/proc/%s", FIXTURES_DIR, tree);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        return fd;
}

static void assert_pids(const ProcTable *t, const pid_t *want, size_t n)
{
        if (t->n != n) {
                fprintf(stderr, "got %zu entries:", t->n);
                for (size_t i = 0; i < t->n; i++)
                        fprintf(stderr, " %d", (int)t->entries[i].pid);
                fprintf(stderr, "\n");
        }
        ASSERT_EQ_INT(t->n, n);
        for (size_t i = 0; i < n; i++)
                ASSERT_EQ_INT(t->entries[i].pid, want[i]);
}

static void test_fixture_scan_all(void)
{
        static const pid_t want[] = { 1, 2, 100, 101, 102, 103, 104, 108, 109, 110, 112, 113, 114 };
        _cleanup_close_ int procfd = open_fixture("basic");
        _cleanup_(proc_table_done) ProcTable t = {};
        const ProcEntry *e;

        ASSERT_OK(proc_table_scan_at(procfd, &filter_all, &t));
        /* 105 (no status: exiting), 106 (truncated stat), 107 (start time overflows), 111 (RssAnon
         * overflows), 115 (oom_score_adj out of range) are skipped; self, thread-self, sys, 0123 and the
         * file 200 are not processes. */
        assert_pids(&t, want, ELEMENTSOF(want));
        for (size_t i = 0; i < t.n; i++)
                ASSERT_EQ_INT(t.entries[i].pidfd, -1);

        e = proc_table_find(&t, 100);
        ASSERT_TRUE(e);
        ASSERT_STREQ(e->comm, "x) R 1 1 1 (y");
        ASSERT_EQ_INT(e->state, 'S');
        ASSERT_EQ_INT(e->ppid, 1);
        ASSERT_EQ_INT(e->uid, 1000);
        ASSERT_EQ_INT(e->threads, 4);
        ASSERT_EQ_U64(e->start_time, 123456);
        ASSERT_FALSE(e->kthread);
        ASSERT_STREQ(e->exe, "/usr/libexec/gnome-terminal-server");
        ASSERT_STREQ(e->cmdline, "/usr/libexec/gnome-terminal-server --app-id x");
        ASSERT_STREQ(e->cgroup, "/user.slice/user-1000.slice/user@1000.service/app.slice/"
                                "app-gnome-org.gnome.Terminal-1234.scope");
        ASSERT_STREQ(e->unit, "app-gnome-org.gnome.Terminal-1234.scope");
        ASSERT_STREQ(e->app_id, "org.gnome.Terminal");
        ASSERT_EQ_U64(e->rss_anon, 20480 * 1024);
        ASSERT_EQ_U64(e->rss_file, 10240 * 1024);
        ASSERT_EQ_U64(e->rss_shmem, 1024 * 1024);
        ASSERT_EQ_U64(e->swap, 512 * 1024);
        ASSERT_EQ_U64(e->pss, 0);
        ASSERT_EQ_INT(e->oom_score, 680);
        ASSERT_EQ_INT(e->oom_score_adj, 100);

        e = proc_table_find(&t, 101);
        ASSERT_STREQ(e->comm, "Web Content");
        ASSERT_STREQ(e->app_id, "org.mozilla.firefox");
        ASSERT_EQ_INT(e->threads, 20);

        ASSERT_STREQ(proc_table_find(&t, 102)->comm, "((");
        ASSERT_STREQ(proc_table_find(&t, 102)->unit, "org.gnome.Shell@wayland.service");
        ASSERT_TRUE(!proc_table_find(&t, 102)->app_id);
        ASSERT_STREQ(proc_table_find(&t, 103)->comm, "a\nb) S 9");
        ASSERT_STREQ(proc_table_find(&t, 103)->app_id, "org.kde.amarok");

        e = proc_table_find(&t, 2); /* kernel thread */
        ASSERT_TRUE(e->kthread);
        ASSERT_STREQ(e->comm, "kthreadd");
        ASSERT_EQ_INT(e->uid, 0);
        ASSERT_TRUE(!e->exe && !e->cmdline);
        ASSERT_STREQ(e->cgroup, "/");
        ASSERT_TRUE(!e->unit && !e->app_id);
        ASSERT_EQ_U64(e->rss_anon + e->rss_file + e->rss_shmem + e->swap, 0);

        e = proc_table_find(&t, 104); /* zombie */
        ASSERT_EQ_INT(e->state, 'Z');
        ASSERT_TRUE(!e->exe && !e->cmdline);
        ASSERT_STREQ(e->unit, "session-3.scope");
        ASSERT_TRUE(!e->app_id);
        ASSERT_EQ_U64(e->rss_anon, 0);

        e = proc_table_find(&t, 1);
        ASSERT_STREQ(e->cmdline, "/sbin/init splash");
        ASSERT_STREQ(e->unit, "init.scope");
        ASSERT_EQ_INT(e->ppid, 0);

        e = proc_table_find(&t, 112); /* cmdline longer than the cap */
        ASSERT_EQ_INT(strlen(e->cmdline), PROC_CMDLINE_MAX);
        ASSERT_EQ_INT(e->cmdline[0], 'A');

        e = proc_table_find(&t, 113); /* trailing NULs trimmed; protected */
        ASSERT_STREQ(e->cmdline, "dbus-daemon --system");
        ASSERT_EQ_INT(e->oom_score_adj, -1000);

        e = proc_table_find(&t, 114); /* no cgroup v2 line */
        ASSERT_TRUE(!e->cgroup && !e->unit);

        ASSERT_TRUE(!proc_table_find(&t, 105));
        ASSERT_TRUE(!proc_table_find(&t, 0));
        ASSERT_TRUE(!proc_table_find(&t, 999));
}

static void scan_expect(int procfd, const ProcScanFilter *f, const pid_t *want, size_t n)
{
        _cleanup_(proc_table_done) ProcTable t = {};

        ASSERT_OK(proc_table_scan_at(procfd, f, &t));
        assert_pids(&t, want, n);
}

static void test_fixture_filters(void)
{
        static const pid_t uid1000[] = { 100, 101, 102, 103, 104, 112 };
        static const pid_t uid1001[] = { 108, 109, 110 };
        static const pid_t uid0[] = { 1, 2, 113, 114 };
        static const pid_t ab[] = { 108, 110 };
        static const pid_t abc[] = { 109 };
        static const pid_t a[] = { 108, 109, 110 };
        static const pid_t root[] = { 1, 2, 100, 101, 102, 103, 104, 108, 109, 110, 112, 113 };
        static const pid_t user[] = { 100, 101, 102, 103, 112 };
        _cleanup_close_ int procfd = open_fixture("basic");
        ProcTable t = { .n = 12345 };

        scan_expect(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_UID, .uid = 1000 }, uid1000, ELEMENTSOF(uid1000));
        scan_expect(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_UID, .uid = 1001 }, uid1001, ELEMENTSOF(uid1001));
        scan_expect(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_UID, .uid = 0 }, uid0, ELEMENTSOF(uid0));
        scan_expect(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_UID, .uid = 4242 }, NULL, 0);

        /* "/a/b" covers /a/b and /a/b/c, never /a/bc. */
        scan_expect(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_CGROUP, .cgroup = "/a/b" }, ab, ELEMENTSOF(ab));
        scan_expect(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_CGROUP, .cgroup = "/a/b/" }, ab, ELEMENTSOF(ab));
        scan_expect(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_CGROUP, .cgroup = "/a/bc" }, abc, ELEMENTSOF(abc));
        scan_expect(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_CGROUP, .cgroup = "/a" }, a, ELEMENTSOF(a));
        scan_expect(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_CGROUP, .cgroup = "/a/b/c/d" }, NULL, 0);
        scan_expect(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_CGROUP, .cgroup = "/" }, root, ELEMENTSOF(root));
        scan_expect(procfd,
                    &(ProcScanFilter){ .mode = PROC_SCAN_CGROUP,
                                       .cgroup = "/user.slice/user-1000.slice/user@1000.service" },
                    user, ELEMENTSOF(user));

        /* Bad arguments change nothing. */
        ASSERT_ERR(proc_table_scan_at(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_CGROUP }, &t), -EINVAL);
        ASSERT_ERR(proc_table_scan_at(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_CGROUP, .cgroup = "a" }, &t),
                   -EINVAL);
        ASSERT_ERR(proc_table_scan_at(procfd, &(ProcScanFilter){ .mode = 42 }, &t), -EINVAL);
        ASSERT_ERR(proc_table_scan_at(procfd, NULL, &t), -EINVAL);
        ASSERT_ERR(proc_table_scan_at(-1, &filter_all, &t), -EINVAL);
        ASSERT_EQ_INT(t.n, 12345);
}

static void test_fixture_pss_and_verify(void)
{
        _cleanup_close_ int procfd = open_fixture("basic");
        _cleanup_(proc_table_done) ProcTable t = {};
        ProcEntry copy;

        ASSERT_OK(proc_table_scan_at(procfd, &filter_all, &t));
        /* Without a pidfd, verify compares start times. */
        ASSERT_OK(proc_entry_verify(procfd, proc_table_find(&t, 100)));
        copy = *proc_table_find(&t, 100);
        copy.start_time++;
        ASSERT_ERR(proc_entry_verify(procfd, &copy), -ESRCH);
        copy.pid = 999;
        ASSERT_ERR(proc_entry_verify(procfd, &copy), -ESRCH);
        /* The fixture has no smaps_rollup: the process counts as gone. */
        ASSERT_ERR(proc_entry_read_pss(procfd, proc_table_find(&t, 100)), -ESRCH);
}

/* ---- refresh on a tree built here ------------------------------------------------------------- */

typedef struct FakeProc {
        pid_t pid;
        const char *comm;
        char state;
        unsigned flags, threads;
        uint64_t start;
        uid_t uid;
        uint64_t anon_kb, file_kb, shmem_kb;
        const char *cmdline, *exe, *cgroup;
        int oom, adj;
} FakeProc;

static void write_at(int dirfd, const char *name, const char *s)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ_INT(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void fake_proc_write(int root, const FakeProc *p)
{
        char name[16], buf[1024];
        long page_kb = sysconf(_SC_PAGESIZE) / 1024;
        _cleanup_close_ int d = -1;

        snprintf(name, sizeof(name), "%d", (int)p->pid);
        (void)mkdirat(root, name, 0755);
        d = openat(root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(d >= 0);

        snprintf(buf, sizeof(buf),
                 "%d (%s) %c 1 1 1 0 -1 %u 0 0 0 0 0 0 0 0 20 0 %u 0 %" PRIu64 " 1000 %" PRIu64
                 " 0 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
                 (int)p->pid, p->comm, p->state ?: 'S', p->flags, p->threads ?: 1, p->start,
                 (p->anon_kb + p->file_kb + p->shmem_kb) / 4);
        write_at(d, "stat", buf);
        snprintf(buf, sizeof(buf),
                 "Name:\t%s\nUid:\t%u\t%u\t%u\t%u\nRssAnon:\t%" PRIu64 " kB\nRssFile:\t%" PRIu64
                 " kB\nRssShmem:\t%" PRIu64 " kB\nVmSwap:\t0 kB\n",
                 p->comm, p->uid, p->uid, p->uid, p->uid, p->anon_kb, p->file_kb, p->shmem_kb);
        write_at(d, "status", buf);
        snprintf(buf, sizeof(buf), "9000 %" PRIu64 " %" PRIu64 " 1 0 1 0\n",
                 (p->anon_kb + p->file_kb + p->shmem_kb) / page_kb, (p->file_kb + p->shmem_kb) / page_kb);
        write_at(d, "statm", buf);
        snprintf(buf, sizeof(buf), "0::%s\n", p->cgroup ?: "/");
        write_at(d, "cgroup", buf);
        write_at(d, "cmdline", p->cmdline ?: "");
        snprintf(buf, sizeof(buf), "%d\n", p->oom);
        write_at(d, "oom_score", buf);
        snprintf(buf, sizeof(buf), "%d\n", p->adj);
        write_at(d, "oom_score_adj", buf);
        (void)unlinkat(d, "exe", 0);
        if (p->exe)
                ASSERT_OK(symlinkat(p->exe, d, "exe"));
}

static void rm_rf_at(int parent, const char *name)
{
        _cleanup_close_ int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        DIR *d;
        struct dirent *de;

        if (fd < 0) {
                (void)unlinkat(parent, name, 0);
                return;
        }
        d = fdopendir(TAKE_FD(fd));
        ASSERT_TRUE(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        rm_rf_at(dirfd(d), de->d_name);
        closedir(d);
        ASSERT_OK(unlinkat(parent, name, AT_REMOVEDIR));
}

static uint64_t boot_ticks(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (uint64_t)ts.tv_sec * (uint64_t)sysconf(_SC_CLK_TCK);
}

static void test_refresh(void)
{
        char tmpl[] = "/tmp/test-proc-XXXXXX";
        _cleanup_close_ int root = -1;
        _cleanup_(proc_table_done) ProcTable t = {};
        FakeProc p[] = {
                { .pid = 10, .comm = "steady", .start = 100, .uid = 1000, .anon_kb = 400, .cmdline = "steady",
                  .exe = "/usr/bin/steady", .cgroup = "/app-gnome-org.example.Steady-1.scope", .oom = 10 },
                { .pid = 20, .comm = "grows", .start = 100, .uid = 1000, .anon_kb = 400, .cmdline = "grows",
                  .exe = "/usr/bin/grows", .oom = 10 },
                { .pid = 30, .comm = "exits", .start = 100, .uid = 1000, .cmdline = "exits", .exe = "/usr/bin/exits" },
                { .pid = 50, .comm = "sh", .start = 100, .uid = 1000, .cmdline = "sh -c exec foo", .exe = "/bin/sh" },
                { .pid = 60, .comm = "python3", .start = 100, .uid = 1000, .cmdline = "python3 a.py",
                  .exe = "/usr/bin/python3.11" },
                { .pid = 70, .comm = "old", .start = 100, .uid = 1000, .cmdline = "old", .exe = "/usr/bin/old" },
                { .pid = 80, .comm = "quiet", .start = 100, .uid = 1000, .anon_kb = 800, .cmdline = "quiet" },
                { .pid = 90, .comm = "adj", .start = 100, .uid = 1000, .anon_kb = 800, .cmdline = "adj", .oom = 5 },
                { .pid = 95, .comm = "kworker/0:1", .flags = PROC_PF_KTHREAD, .start = 100 },
                { .pid = 97, .comm = "newborn", .start = boot_ticks(), .uid = 1000, .cmdline = "newborn",
                  .cgroup = "/app.slice/launcher.service" },
        };
        static const pid_t want1[] = { 10, 20, 30, 50, 60, 70, 80, 90, 95, 97 };
        static const pid_t want2[] = { 10, 20, 40, 50, 60, 70, 80, 90, 95, 97 };
        const char *steady_cmdline;
        ProcEntry *e;

        ASSERT_TRUE(mkdtemp(tmpl));
        root = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(root >= 0);
        for (size_t i = 0; i < ELEMENTSOF(p); i++)
                fake_proc_write(root, &p[i]);

        ASSERT_OK(proc_table_scan_at(root, &filter_all, &t));
        assert_pids(&t, want1, ELEMENTSOF(want1));
        steady_cmdline = proc_table_find(&t, 10)->cmdline;

        /* 10: runs and grows threads, but its cmdline file changes without an exec: not re-read. */
        p[0].state = 'R';
        p[0].threads = 3;
        p[0].cmdline = "rewritten argv";
        fake_proc_write(root, &p[0]);
        /* 20: memory grew (statm and status), oom_score with it. */
        p[1].anon_kb = 4000;
        p[1].oom = 50;
        fake_proc_write(root, &p[1]);
        /* 30 exited, 40 is new. */
        rm_rf_at(root, "30");
        fake_proc_write(root, &(FakeProc){ .pid = 40, .comm = "new", .start = 150, .uid = 1000, .cmdline = "new" });
        /* 50 exec'd: comm changed. */
        p[3].comm = "foo";
        p[3].cmdline = "foo --bar";
        p[3].exe = "/usr/bin/foo";
        fake_proc_write(root, &p[3]);
        /* 60 exec'd another binary with the same comm: the exe link tells. */
        p[4].exe = "/usr/bin/python3.12";
        p[4].cmdline = "python3 b.py";
        fake_proc_write(root, &p[4]);
        /* 70's PID now names another process (start time differs). */
        p[5].start = 200;
        p[5].comm = "reused";
        p[5].cmdline = "reused";
        fake_proc_write(root, &p[5]);
        /* 80: status says otherwise but statm did not move: status is not re-read. */
        fake_proc_write(root, &p[6]);
        write_at(root, "80/status", "Name:\tquiet\nUid:\t1000\t0\t0\t0\nRssAnon:\t999 kB\n");
        /* 90: oom_score_adj moved, so oom_score is re-read. */
        p[7].adj = 300;
        p[7].oom = 400;
        fake_proc_write(root, &p[7]);
        /* 95: kernel thread went idle. */
        p[8].state = 'I';
        fake_proc_write(root, &p[8]);
        /* 97: still young, so read in full again: a launcher moved it into its app scope. */
        p[9].cgroup = "/app.slice/app-gnome-org.example.New-97.scope";
        fake_proc_write(root, &p[9]);

        ASSERT_OK(proc_table_refresh_at(root, &filter_all, &t));
        assert_pids(&t, want2, ELEMENTSOF(want2));

        e = proc_table_find(&t, 10);
        ASSERT_EQ_INT(e->state, 'R');
        ASSERT_EQ_INT(e->threads, 3);
        ASSERT_TRUE(e->cmdline == steady_cmdline); /* same string, not re-read */
        ASSERT_STREQ(e->cmdline, "steady");
        ASSERT_STREQ(e->app_id, "org.example.Steady");

        e = proc_table_find(&t, 20);
        ASSERT_EQ_U64(e->rss_anon, 4000 * 1024);
        ASSERT_EQ_INT(e->oom_score, 50);

        ASSERT_STREQ(proc_table_find(&t, 40)->cmdline, "new");

        e = proc_table_find(&t, 50);
        ASSERT_STREQ(e->comm, "foo");
        ASSERT_STREQ(e->cmdline, "foo --bar");
        ASSERT_STREQ(e->exe, "/usr/bin/foo");

        e = proc_table_find(&t, 60);
        ASSERT_STREQ(e->cmdline, "python3 b.py");
        ASSERT_STREQ(e->exe, "/usr/bin/python3.12");

        e = proc_table_find(&t, 70);
        ASSERT_EQ_U64(e->start_time, 200);
        ASSERT_STREQ(e->cmdline, "reused");

        e = proc_table_find(&t, 80);
        ASSERT_EQ_U64(e->rss_anon, 800 * 1024);

        e = proc_table_find(&t, 90);
        ASSERT_EQ_INT(e->oom_score_adj, 300);
        ASSERT_EQ_INT(e->oom_score, 400);

        ASSERT_EQ_INT(proc_table_find(&t, 95)->state, 'I');
        ASSERT_STREQ(proc_table_find(&t, 97)->app_id, "org.example.New");

        /* Nothing changed: same entries, same strings. */
        steady_cmdline = proc_table_find(&t, 50)->cmdline;
        ASSERT_OK(proc_table_refresh_at(root, &filter_all, &t));
        assert_pids(&t, want2, ELEMENTSOF(want2));
        ASSERT_TRUE(proc_table_find(&t, 50)->cmdline == steady_cmdline);

        /* A refresh with a filter drops processes that leave it when they are re-read. */
        write_at(root, "20/status", "Name:\tgrows\nUid:\t0\t0\t0\t0\nRssAnon:\t8000 kB\n");
        write_at(root, "20/statm", "9000 2000 0 1 0 1 0\n");
        ASSERT_OK(proc_table_refresh_at(root, &(ProcScanFilter){ .mode = PROC_SCAN_UID, .uid = 1000 }, &t));
        ASSERT_TRUE(!proc_table_find(&t, 20));
        ASSERT_TRUE(proc_table_find(&t, 10));

        /* An unreadable root fails and leaves the table alone. */
        {
                size_t n = t.n;
                ProcEntry *entries = t.entries;
                ASSERT_ERR(proc_table_refresh_at(-1, &filter_all, &t), -EINVAL);
                ASSERT_TRUE(t.n == n && t.entries == entries);
        }

        /* A table reordered by the caller is put back in pid order. */
        {
                ProcEntry tmp = t.entries[0];
                t.entries[0] = t.entries[t.n - 1];
                t.entries[t.n - 1] = tmp;
                ASSERT_OK(proc_table_refresh_at(root, &filter_all, &t));
                for (size_t i = 1; i < t.n; i++)
                        ASSERT_TRUE(t.entries[i - 1].pid < t.entries[i].pid);
        }

        /* Early uid filter: a directory owned by another uid is not read at all. */
        {
                _cleanup_(proc_table_done) ProcTable u = {};
                ASSERT_OK(fchownat(root, "40", 4242, 4242, 0));
                ASSERT_OK(proc_table_scan_at(root, &(ProcScanFilter){ .mode = PROC_SCAN_UID, .uid = 1000 }, &u));
                ASSERT_TRUE(!proc_table_find(&u, 40));
                ASSERT_TRUE(proc_table_find(&u, 10));
        }

        close(TAKE_FD(root));
        rm_rf_at(AT_FDCWD, tmpl);
}

/* ---- refresh from a snapshot (the BPF path's merge), on a tree built here ---------------------- */

static ProcSnapshotEntry snap_of(const FakeProc *p, uint32_t exec_id, uint64_t cgroup_id)
{
        ProcSnapshotEntry s = {
                .pid = p->pid,
                .uid = p->uid,
                .exec_id = exec_id,
                .cgroup_id = cgroup_id,
                .rss_anon = p->anon_kb * 1024,
                .rss_file = p->file_kb * 1024,
                .rss_shmem = p->shmem_kb * 1024,
                .oom_score_adj = p->adj,
                .has_mm = !(p->flags & PROC_PF_KTHREAD),
        };
        snprintf(s.stat.comm, sizeof(s.stat.comm), "%s", p->comm);
        s.stat.state = p->state ?: 'S';
        s.stat.ppid = 1;
        s.stat.flags = p->flags;
        s.stat.threads = p->threads ?: 1;
        s.stat.start_time = p->start;
        return s;
}

static void test_refresh_snapshot(void)
{
        char tmpl[] = "/tmp/test-proc-XXXXXX";
        _cleanup_close_ int root = -1;
        _cleanup_(proc_table_done) ProcTable t = { .pidfd_supported = true };
        FakeProc p[] = {
                { .pid = 10, .comm = "steady", .start = 100, .uid = 1000, .anon_kb = 400, .cmdline = "steady",
                  .exe = "/usr/bin/steady", .cgroup = "/app-gnome-org.example.Steady-1.scope" },
                { .pid = 20, .comm = "execs", .start = 100, .uid = 1000, .cmdline = "python3 a.py",
                  .exe = "/usr/bin/python3" },
                { .pid = 30, .comm = "moves", .start = 100, .uid = 1000, .cmdline = "moves", .cgroup = "/a.scope" },
                { .pid = 40, .comm = "exits", .start = 100, .uid = 1000, .cmdline = "exits" },
                { .pid = 50, .comm = "root", .start = 100, .uid = 0, .cmdline = "root" },
                { .pid = 95, .comm = "kworker/0:1-events", .flags = PROC_PF_KTHREAD, .start = 100 },
        };
        ProcSnapshotEntry s[8];
        ProcSnapshot snap = { .entries = s, .total_pages = 1000000 };
        const char *steady_cmdline;
        ProcEntry *e;

        ASSERT_TRUE(mkdtemp(tmpl));
        root = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(root >= 0);
        for (size_t i = 0; i < ELEMENTSOF(p); i++) {
                fake_proc_write(root, &p[i]);
                s[i] = snap_of(&p[i], 1, 7);
        }
        snap.n = ELEMENTSOF(p);
        /* The task's comm; /proc shows the workqueue too. */
        snprintf(s[5].stat.comm, sizeof(s[5].stat.comm), "kworker/0:1");

        /* Cold: every process read in full from the tree, figures and stamps from the snapshot. */
        s[0].rss_anon = 123 * 4096; /* the snapshot wins over status for the figures */
        ASSERT_OK(proc_table_refresh_snapshot(root, &filter_all, &snap, &t));
        ASSERT_EQ_INT(t.n, 6);
        e = proc_table_find(&t, 10);
        ASSERT_STREQ(e->cmdline, "steady");
        ASSERT_STREQ(e->app_id, "org.example.Steady");
        ASSERT_EQ_U64(e->rss_anon, 123 * 4096);
        ASSERT_EQ_INT(e->exec_id, 1);
        ASSERT_EQ_U64(e->cgroup_id, 7);
        ASSERT_TRUE(e->oom_score > 0);
        ASSERT_TRUE(proc_table_find(&t, 95)->kthread);
        steady_cmdline = e->cmdline;

        /* Warm: the files change under every process, but only what the snapshot
         * says changed is read again. */
        for (size_t i = 0; i < ELEMENTSOF(p); i++) {
                p[i].cmdline = "rewritten";
                fake_proc_write(root, &p[i]);
        }
        s[0].rss_anon = 9000 * 4096;
        s[0].stat.threads = 4;
        s[0].oom_score_adj = 500;
        s[1].exec_id = 2;               /* 20 exec'd: same comm, new cmdline */
        s[2].cgroup_id = 8;             /* 30 moved to another cgroup */
        write_at(root, "30/cgroup", "0::/b.scope\n");
        s[3] = s[4];                    /* 40 exited: not in the snapshot */
        s[4] = s[5];
        s[5] = snap_of(&(FakeProc){ .pid = 96, .comm = "new", .start = 150, .uid = 1000 }, 1, 7);
        fake_proc_write(root, &(FakeProc){ .pid = 96, .comm = "new", .start = 150, .uid = 1000, .cmdline = "new" });
        /* 97 is in the snapshot, but its PID was reused before it was read: skipped this time. */
        s[6] = snap_of(&(FakeProc){ .pid = 97, .comm = "gone", .start = 160, .uid = 1000 }, 1, 7);
        fake_proc_write(root, &(FakeProc){ .pid = 97, .comm = "other", .start = 170, .uid = 1000 });
        snap.n = 7;
        ASSERT_OK(proc_table_refresh_snapshot(root, &filter_all, &snap, &t));
        {
                static const pid_t want[] = { 10, 20, 30, 50, 95, 96 };
                assert_pids(&t, want, ELEMENTSOF(want));
        }
        e = proc_table_find(&t, 10);
        ASSERT_TRUE(e->cmdline == steady_cmdline); /* kept, not re-read */
        ASSERT_EQ_U64(e->rss_anon, 9000 * 4096);
        ASSERT_EQ_INT(e->threads, 4);
        ASSERT_EQ_INT(e->oom_score_adj, 500);
        e = proc_table_find(&t, 20);
        ASSERT_STREQ(e->cmdline, "rewritten");
        ASSERT_EQ_INT(e->exec_id, 2);
        e = proc_table_find(&t, 30);
        ASSERT_STREQ(e->cgroup, "/b.scope");
        ASSERT_EQ_U64(e->cgroup_id, 8);
        ASSERT_STREQ(proc_table_find(&t, 96)->cmdline, "new");
        /* Read: 20 (exec'd), 30 (moved), 96 (new), 97 (reused). Not the kworker,
         * whose /proc name is longer than the snapshot's comm: entries take the
         * snapshot's, so the next snapshot finds it unchanged. */
        ASSERT_EQ_INT(t.n_detailed, 4);
        ASSERT_STREQ(proc_table_find(&t, 95)->comm, "kworker/0:1");

        /* A uid filter drops by the snapshot's uid, without reading. */
        ASSERT_OK(proc_table_refresh_snapshot(root, &(ProcScanFilter){ .mode = PROC_SCAN_UID, .uid = 1000 },
                                              &snap, &t));
        ASSERT_TRUE(!proc_table_find(&t, 50));
        ASSERT_TRUE(proc_table_find(&t, 10));

        /* A cgroup filter needs paths the snapshot lacks; bad snapshots change nothing. */
        {
                size_t n = t.n;
                ProcEntry *entries = t.entries;
                ASSERT_ERR(proc_table_refresh_snapshot(root, &(ProcScanFilter){ .mode = PROC_SCAN_CGROUP,
                                                                                 .cgroup = "/" },
                                                       &snap, &t),
                           -EOPNOTSUPP);
                s[1].pid = 5; /* not sorted */
                ASSERT_ERR(proc_table_refresh_snapshot(root, &filter_all, &snap, &t), -EINVAL);
                ASSERT_TRUE(t.n == n && t.entries == entries);
        }

        close(TAKE_FD(root));
        rm_rf_at(AT_FDCWD, tmpl);
}

static uint64_t ino_at(int dfd, const char *path)
{
        struct stat st;
        ASSERT_OK(fstatat(dfd, path, &st, 0));
        return (uint64_t)st.st_ino;
}

/*
 * A full snapshot (exe and cmdline known) and a cgroup cache, with a plain
 * directory standing in for the cgroup2 mount (its inode numbers are the
 * "cgroup ids"): the snapshot's strings win over the tree's, a cached cgroup
 * spares the tree entirely, an id the path does not have is never cached.
 */
static void test_refresh_full_snapshot(void)
{
        char tmpl[] = "/tmp/test-proc-XXXXXX", cgtmpl[] = "/tmp/test-proc-cg-XXXXXX";
        _cleanup_close_ int root = -1, cg = -1;
        _cleanup_(proc_table_done) ProcTable t = {};
        FakeProc ten = { .pid = 10, .comm = "ten", .start = 100, .uid = 1000, .cmdline = "tree says",
                         .exe = "/usr/bin/tree-says", .cgroup = "/app-gnome-org.example.Ten-1.scope" };
        FakeProc fifteen = { .pid = 15, .comm = "fifteen", .start = 100, .uid = 1000, .cmdline = "fifteen",
                             .cgroup = "/app-gnome-org.example.Ten-1.scope" };
        static const char ten_cmd[] = "ten\0--x\0", title[] = "title\0junk";
        ProcSnapshotEntry s[6];
        ProcSnapshot snap = { .entries = s, .total_pages = 1000000 };
        uint64_t app_id;
        ProcEntry probe = PROC_ENTRY_NULL, *e;

        ASSERT_TRUE(mkdtemp(tmpl));
        ASSERT_TRUE(mkdtemp(cgtmpl));
        root = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        cg = open(cgtmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(root >= 0 && cg >= 0);
        ASSERT_OK(mkdirat(cg, "app-gnome-org.example.Ten-1.scope", 0755));
        app_id = ino_at(cg, "app-gnome-org.example.Ten-1.scope");
        fake_proc_write(root, &ten);
        fake_proc_write(root, &fifteen);
        t = (ProcTable){ .pidfd_supported = true, .cgroup_fd = cg };

        /* Cold: 10's cgroup comes from the tree and is cached; exe and cmdline from the snapshot. */
        s[0] = snap_of(&ten, 1, app_id);
        s[0].has_exe = s[0].has_cmdline = true;
        s[0].exe = "/usr/bin/ten";
        s[0].exe_len = 12;
        s[0].cmdline = ten_cmd;
        s[0].cmdline_len = sizeof(ten_cmd) - 1;
        s[0].pid_ino = 4242;
        s[1] = snap_of(&fifteen, 1, app_id + 1000); /* an id its path does not have */
        snap.n = 2;
        ASSERT_OK(proc_table_refresh_snapshot(root, &filter_all, &snap, &t));
        ASSERT_EQ_INT(t.n, 2);
        ASSERT_EQ_INT(t.n_detailed, 2);
        e = proc_table_find(&t, 10);
        ASSERT_STREQ(e->exe, "/usr/bin/ten");
        ASSERT_STREQ(e->cmdline, "ten --x");
        ASSERT_STREQ(e->cgroup, "/app-gnome-org.example.Ten-1.scope");
        ASSERT_STREQ(e->app_id, "org.example.Ten");
        ASSERT_EQ_U64(e->pid_ino, 4242);
        ASSERT_STREQ(proc_table_find(&t, 15)->cgroup, "/app-gnome-org.example.Ten-1.scope");
        ASSERT_EQ_INT(proc_id_cache_size(t.cgroup_cache), 1);
        ASSERT_FALSE(proc_cgroup_cache_get(t.cgroup_cache, app_id + 1000, &probe));

        /* Warm: 11 is in no tree at all, yet its cgroup is known by id; its command
         * line is a setproctitle title. 12's cgroup is not cached and 13 comes from a
         * plain snapshot: both need the tree, which lacks them: skipped. */
        s[1] = snap_of(&(FakeProc){ .pid = 11, .comm = "eleven", .start = 100, .uid = 1000 }, 1, app_id);
        s[1].has_exe = s[1].has_cmdline = s[1].cmdline_title = true;
        s[1].cmdline = title;
        s[1].cmdline_len = sizeof(title) - 1;
        s[2] = s[1];
        s[2].pid = 12;
        s[2].cgroup_id = app_id + 1;
        s[3] = snap_of(&(FakeProc){ .pid = 13, .comm = "thirteen", .start = 100, .uid = 1000 }, 1, app_id);
        snap.n = 4;
        ASSERT_OK(proc_table_refresh_snapshot(root, &filter_all, &snap, &t));
        {
                static const pid_t want[] = { 10, 11 };
                assert_pids(&t, want, ELEMENTSOF(want));
        }
        ASSERT_EQ_INT(t.n_detailed, 3); /* 11, 12, 13; 10 kept */
        e = proc_table_find(&t, 11);
        ASSERT_STREQ(e->cmdline, "title");
        ASSERT_TRUE(!e->exe);
        ASSERT_STREQ(e->unit, "app-gnome-org.example.Ten-1.scope");
        ASSERT_EQ_INT(e->pidfd, -1);

        /* Swept: a cgroup no process is in any more leaves the cache. */
        s[0] = s[3];
        snap.n = 1;
        ASSERT_OK(proc_table_refresh_snapshot(root, &filter_all, &snap, &t));
        ASSERT_EQ_INT(proc_id_cache_size(t.cgroup_cache), 0);

        /* A cgroup filter: 16 is in another cgroup, told by its id's path, read once and cached. */
        {
                _cleanup_(proc_table_done) ProcTable tc = { .pidfd_supported = true, .cgroup_fd = cg };
                const ProcScanFilter scope = { .mode = PROC_SCAN_CGROUP, .cgroup = "/app-gnome-org.example.Ten-1.scope" };
                FakeProc sixteen = { .pid = 16, .comm = "sixteen", .start = 100, .uid = 1000, .cmdline = "sixteen",
                                     .cgroup = "/other.scope" };

                ASSERT_OK(mkdirat(cg, "other.scope", 0755));
                fake_proc_write(root, &sixteen);
                s[0] = snap_of(&ten, 1, app_id);
                s[1] = snap_of(&fifteen, 1, app_id);
                s[2] = snap_of(&sixteen, 1, ino_at(cg, "other.scope"));
                snap.n = 3;
                ASSERT_OK(proc_table_refresh_snapshot(root, &scope, &snap, &tc));
                {
                        static const pid_t want[] = { 10, 15 };
                        assert_pids(&tc, want, ELEMENTSOF(want));
                }
                ASSERT_EQ_INT(proc_id_cache_size(tc.cgroup_cache), 2);
                /* Its /proc entry gone, 16 is still known to be elsewhere: nothing to read. */
                rm_rf_at(root, "16");
                ASSERT_OK(proc_table_refresh_snapshot(root, &scope, &snap, &tc));
                ASSERT_EQ_INT(tc.n, 2);
                ASSERT_EQ_INT(tc.n_detailed, 0);
                /* Without a cgroup2 fd a cgroup filter is refused: it would read every process every time. */
                tc.cgroup_fd = -1;
                ASSERT_ERR(proc_table_refresh_snapshot(root, &scope, &snap, &tc), -EOPNOTSUPP);
        }

        close(TAKE_FD(root));
        close(TAKE_FD(cg));
        rm_rf_at(AT_FDCWD, tmpl);
        rm_rf_at(AT_FDCWD, cgtmpl);
}

static void test_oom_score_compute(void)
{
        ProcSnapshotEntry s = { .pid = 100, .has_mm = true };

        /* The kernel's formula: (1000 + points * 1000 / total) * 2 / 3, points in pages. */
        ASSERT_EQ_INT(proc_oom_score_compute(&s, 1000, 4096), 666);
        s.rss_anon = 500 * 4096;
        ASSERT_EQ_INT(proc_oom_score_compute(&s, 1000, 4096), 1000);
        s.oom_score_adj = 1000;
        ASSERT_EQ_INT(proc_oom_score_compute(&s, 1000, 4096), 1666);
        s.oom_score_adj = -500; /* 500 - 500 pages */
        ASSERT_EQ_INT(proc_oom_score_compute(&s, 1000, 4096), 666);
        s.oom_score_adj = -1000;
        ASSERT_EQ_INT(proc_oom_score_compute(&s, 1000, 4096), 0);
        s.oom_score_adj = 0;
        s.stat.flags = PROC_PF_KTHREAD;
        ASSERT_EQ_INT(proc_oom_score_compute(&s, 1000, 4096), 0);
}

/* ---- real processes --------------------------------------------------------------------------- */

static int sys_pidfd_send_signal(int pidfd, int sig)
{
        return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* False under valgrind 3.19, which does not know pidfd_open (ENOSYS). */
static bool pidfd_works(void)
{
        int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

        if (fd < 0)
                return false;
        close(fd);
        return true;
}

static pid_t pidfd_fdinfo_pid(int pidfd)
{
        char path[64], buf[1024], *p;
        ssize_t n;
        _cleanup_close_ int fd = -1;

        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        n = read(fd, buf, sizeof(buf) - 1);
        ASSERT_TRUE(n > 0);
        buf[n] = 0;
        p = strstr(buf, "\nPid:\t");
        ASSERT_TRUE(p);
        return (pid_t)atoi(p + 6);
}

static void test_real_self(void)
{
        _cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_(proc_table_done) ProcTable t = {};
        char comm[17] = {}, exe[PATH_MAX], buf[4096];
        ProcEntry *e, copy;
        ssize_t n;

        ASSERT_TRUE(procfd >= 0);
        ASSERT_OK(proc_table_scan_at(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_ALL, .open_pidfds = true }, &t));
        ASSERT_TRUE(t.n > 1);
        for (size_t i = 1; i < t.n; i++)
                ASSERT_TRUE(t.entries[i - 1].pid < t.entries[i].pid);

        e = proc_table_find(&t, getpid());
        ASSERT_TRUE(e);
        ASSERT_OK(prctl(PR_GET_NAME, comm));
        ASSERT_STREQ(e->comm, comm);
        ASSERT_EQ_INT(e->ppid, getppid());
        ASSERT_EQ_INT(e->uid, getuid());
        ASSERT_EQ_INT(e->state, 'R');
        ASSERT_FALSE(e->kthread);
        {
                /* readlinkat on the directory, as valgrind fakes readlink("/proc/self/exe"). */
                _cleanup_close_ int self = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
                n = readlinkat(self, "exe", exe, sizeof(exe) - 1);
        }
        ASSERT_TRUE(n > 0);
        exe[n] = 0;
        ASSERT_STREQ(e->exe, exe);
        ASSERT_TRUE(e->cmdline && strstr(e->cmdline, "test-proc"));
        ASSERT_TRUE(e->rss_anon + e->rss_file > 0);

        /* start_time: field 22, counted by hand after the last ')'. */
        {
                _cleanup_close_ int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
                char *p;
                n = read(fd, buf, sizeof(buf) - 1);
                ASSERT_TRUE(n > 0);
                buf[n] = 0;
                p = strrchr(buf, ')');
                for (int field = 2; field < 22; field++)
                        p = strchr(p + 1, ' ');
                ASSERT_EQ_U64(e->start_time, strtoull(p + 1, NULL, 10));
        }

        /* The pidfd names this process. */
        ASSERT_EQ_INT(t.pidfd_supported, pidfd_works());
        if (t.pidfd_supported) {
                ASSERT_TRUE(e->pidfd >= 0);
                ASSERT_EQ_INT(pidfd_fdinfo_pid(e->pidfd), getpid());
                ASSERT_OK(sys_pidfd_send_signal(e->pidfd, 0));
        } else
                fprintf(stderr, "pidfd_open unavailable here (valgrind?): pidfd checks skipped\n");
        ASSERT_OK(proc_entry_verify(procfd, e));

        /* Without a pidfd, the start time decides. */
        copy = *e;
        copy.pidfd = -1;
        ASSERT_OK(proc_entry_verify(procfd, &copy));
        copy.start_time++;
        ASSERT_ERR(proc_entry_verify(procfd, &copy), -ESRCH);

        ASSERT_OK(proc_entry_read_pss(procfd, e));
        ASSERT_TRUE(e->pss > 0);

        /* PID 1 and a kernel thread, if this namespace has one. */
        ASSERT_TRUE(proc_table_find(&t, 1));
        if (proc_table_find(&t, 2) && proc_table_find(&t, 2)->kthread) {
                ASSERT_TRUE(!proc_table_find(&t, 2)->exe);
                ASSERT_EQ_INT(proc_table_find(&t, 2)->uid, 0);
        }

        /* User-mode and cgroup scans find us too. */
        {
                _cleanup_(proc_table_done) ProcTable u = {};
                ASSERT_OK(proc_table_scan_at(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_UID, .uid = getuid() }, &u));
                ASSERT_TRUE(proc_table_find(&u, getpid()));
                for (size_t i = 0; i < u.n; i++)
                        ASSERT_EQ_INT(u.entries[i].uid, getuid());
        }
        if (e->cgroup) {
                _cleanup_(proc_table_done) ProcTable c = {};
                ASSERT_OK(proc_table_scan_at(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_CGROUP, .cgroup = e->cgroup },
                                             &c));
                ASSERT_TRUE(proc_table_find(&c, getpid()));
        }
}

/* A child that renames itself, tells the parent over a pipe, and waits to be killed. */
static pid_t spawn_named(const char *name)
{
        int p[2];
        pid_t pid;
        char c;

        ASSERT_OK(pipe2(p, O_CLOEXEC));
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                alarm(30);
                if (name)
                        (void)prctl(PR_SET_NAME, name);
                (void)!write(p[1], "x", 1);
                for (;;)
                        pause();
        }
        close(p[1]);
        ASSERT_EQ_INT(read(p[0], &c, 1), 1);
        close(p[0]);
        return pid;
}

static void kill_and_reap(pid_t pid)
{
        ASSERT_OK(kill(pid, SIGKILL));
        ASSERT_EQ_INT(waitpid(pid, NULL, 0), pid);
}

static void test_real_hostile_comm(void)
{
        static const char *const names[] = { "x) R 1 1 1 (y", "a\nb) Z 0 0", "((", ") ) )", "" };
        _cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_(proc_table_done) ProcTable t = {};
                pid_t pid = spawn_named(names[i]);
                ProcEntry *e;

                ASSERT_OK(proc_table_scan_at(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_ALL, .open_pidfds = true },
                                             &t));
                e = proc_table_find(&t, pid);
                ASSERT_TRUE(e);
                ASSERT_STREQ(e->comm, names[i]);
                ASSERT_EQ_INT(e->ppid, getpid());
                ASSERT_TRUE(e->state == 'S' || e->state == 'R');
                if (e->pidfd >= 0)
                        ASSERT_EQ_INT(pidfd_fdinfo_pid(e->pidfd), pid);
                kill_and_reap(pid);
        }
}

static void test_real_refresh(void)
{
        _cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_(proc_table_done) ProcTable t = {};
        const ProcScanFilter f = { .mode = PROC_SCAN_ALL, .open_pidfds = true };
        pid_t child;
        int self_pidfd, child_pidfd;

        ASSERT_OK(proc_table_scan_at(procfd, &f, &t));
        self_pidfd = proc_table_find(&t, getpid())->pidfd;

        child = spawn_named("refresh-child");
        ASSERT_OK(proc_table_refresh_at(procfd, &f, &t));
        ASSERT_EQ_INT(proc_table_find(&t, getpid())->pidfd, self_pidfd); /* kept, not reopened */
        ASSERT_TRUE(proc_table_find(&t, child));
        ASSERT_STREQ(proc_table_find(&t, child)->comm, "refresh-child");
        child_pidfd = proc_table_find(&t, child)->pidfd;
        if (child_pidfd >= 0)
                ASSERT_EQ_INT(pidfd_fdinfo_pid(child_pidfd), child);

        kill_and_reap(child);
        ASSERT_OK(proc_table_refresh_at(procfd, &f, &t));
        ASSERT_TRUE(!proc_table_find(&t, child));
        /* Its pidfd was closed with the entry. */
        if (child_pidfd >= 0)
                ASSERT_TRUE(fcntl(child_pidfd, F_GETFD) < 0 || pidfd_fdinfo_pid(child_pidfd) != child);
}

static void test_real_emfile(void)
{
        pid_t pid;
        int status;

        if (!pidfd_works()) {
                fprintf(stderr, "no pidfds, so no fds kept: EMFILE not exercised\n");
                return;
        }
        pid = fork();

        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                _cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                ProcTable t = { .n = 777 };
                pid_t kids[4];
                struct rlimit rl;
                int lowest_free;

                for (size_t i = 0; i < ELEMENTSOF(kids); i++)
                        kids[i] = spawn_named(NULL);
                lowest_free = dup(0);
                ASSERT_TRUE(lowest_free >= 0);
                close(lowest_free);

                /* Room for the listing, a PID directory and one file, not for pidfds of every process
                 * (inherited fds above the limit stay open). */
                rl.rlim_cur = rl.rlim_max = (rlim_t)lowest_free + 3;
                ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
                ASSERT_ERR(proc_table_scan_at(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_ALL, .open_pidfds = true },
                                              &t),
                           -EMFILE);
                ASSERT_EQ_INT(t.n, 777);
                for (size_t i = 0; i < ELEMENTSOF(kids); i++)
                        kill_and_reap(kids[i]);
                _exit(0);
        }
        ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* pidfd_open() failing with ENOSYS (forced with seccomp): start-time verification instead, said once. */
static void test_real_pidfd_enosys(void)
{
        pid_t pid = fork();
        int status;

        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                struct sock_filter insns[] = {
                        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
                        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
                        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                };
                struct sock_fprog prog = { .len = ELEMENTSOF(insns), .filter = insns };
                const ProcScanFilter f = { .mode = PROC_SCAN_ALL, .open_pidfds = true };
                _cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                _cleanup_(proc_table_done) ProcTable t = {};
                char log[8192] = {};
                int logfd = memfd_create("log", MFD_CLOEXEC);
                ProcEntry *e;
                ssize_t n;

                ASSERT_TRUE(logfd >= 0);
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                        _exit(77);
                ASSERT_EQ_INT(dup2(logfd, STDERR_FILENO), STDERR_FILENO);

                ASSERT_OK(proc_table_scan_at(procfd, &f, &t));
                ASSERT_FALSE(t.pidfd_supported);
                for (size_t i = 0; i < t.n; i++)
                        ASSERT_EQ_INT(t.entries[i].pidfd, -1);
                e = proc_table_find(&t, getpid());
                ASSERT_TRUE(e);
                ASSERT_OK(proc_entry_verify(procfd, e));
                ASSERT_OK(proc_table_refresh_at(procfd, &f, &t));
                ASSERT_TRUE(proc_table_find(&t, getpid()));

                n = pread(logfd, log, sizeof(log) - 1, 0);
                ASSERT_TRUE(n > 0);
                ASSERT_TRUE(strstr(log, "pidfd_open unavailable, falling back to start-time verification"));
                ASSERT_TRUE(!strstr(strstr(log, "pidfd_open unavailable") + 1, "pidfd_open unavailable"));
                _exit(0);
        }
        ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
                fprintf(stderr, "seccomp unavailable, ENOSYS fallback not exercised\n");
        else
                ASSERT_EQ_INT(WEXITSTATUS(status), 0);
}

/* Runs as PID 1 of a new PID namespace, with its own /proc mounted. */
static int pid_reuse_in_namespace(void)
{
        _cleanup_(proc_table_done) ProcTable t = {};
        _cleanup_close_ int procfd = -1;
        char buf[32];
        ProcEntry *old, fallback;
        pid_t a, b;

        /* "none": the type is ignored here, and valgrind objects to NULL. */
        if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                return 77;
        procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(procfd >= 0);

        a = spawn_named("victim");
        ASSERT_OK(proc_table_scan_at(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_ALL, .open_pidfds = true }, &t));
        old = proc_table_find(&t, a);
        ASSERT_TRUE(old && (old->pidfd >= 0) == pidfd_works());
        ASSERT_OK(proc_entry_verify(procfd, old));
        fallback = *old;
        fallback.pidfd = -1;

        /* Start times count 10 ms ticks: make sure the successor's differs. */
        usleep(50 * 1000);
        kill_and_reap(a);

        /* Have the kernel hand out a's PID again. */
        snprintf(buf, sizeof(buf), "%d", (int)a - 1);
        {
                _cleanup_close_ int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
                if (fd < 0 || write(fd, buf, strlen(buf)) < 0)
                        return 77;
        }
        b = spawn_named("innocent");
        ASSERT_EQ_INT(b, a);
        fprintf(stderr, "PID %d reused by a new process in a private PID namespace\n", (int)b);

        /* The old entry knows its process is gone, through the pidfd ... */
        ASSERT_ERR(proc_entry_verify(procfd, old), -ESRCH);
        if (old->pidfd >= 0)
                ASSERT_TRUE(sys_pidfd_send_signal(old->pidfd, SIGKILL) < 0 && errno == ESRCH);
        /* ... and through the start time, without one. */
        ASSERT_ERR(proc_entry_verify(procfd, &fallback), -ESRCH);
        ASSERT_ERR(proc_entry_read_pss(procfd, &fallback), -ESRCH);
        /* The innocent process with the same PID was never signalled. */
        ASSERT_OK(kill(b, 0));
        ASSERT_EQ_INT(waitpid(b, NULL, WNOHANG), 0);

        /* A refresh replaces the stale entry with the new process. */
        ASSERT_OK(proc_table_refresh_at(procfd, &(ProcScanFilter){ .mode = PROC_SCAN_ALL, .open_pidfds = true }, &t));
        ASSERT_STREQ(proc_table_find(&t, b)->comm, "innocent");
        if (proc_table_find(&t, b)->pidfd >= 0)
                ASSERT_EQ_INT(pidfd_fdinfo_pid(proc_table_find(&t, b)->pidfd), b);

        kill_and_reap(b);
        return 0;
}

static void test_real_pid_reuse(void)
{
        pid_t helper;
        int status;

        helper = fork();
        ASSERT_TRUE(helper >= 0);
        if (helper == 0) {
                pid_t init;

                if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0)
                        _exit(77);
                init = fork();
                if (init < 0)
                        _exit(1);
                if (init == 0) {
                        alarm(60);
                        _exit(pid_reuse_in_namespace());
                }
                if (waitpid(init, &status, 0) != init)
                        _exit(1);
                _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
        }
        ASSERT_EQ_INT(waitpid(helper, &status, 0), helper);
        ASSERT_TRUE(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
                test_skip("PID reuse cannot be forced here (no new PID namespace, /proc mount or ns_last_pid)");
        ASSERT_EQ_INT(WEXITSTATUS(status), 0);
}

int main(void)
{
        RUN(test_stat_parse_good);
        RUN(test_stat_parse_long_comm);
        RUN(test_stat_parse_hostile);
        RUN(test_status_parse);
        RUN(test_statm_and_pss_parse);
        RUN(test_unit_from_cgroup);
        RUN(test_fixture_scan_all);
        RUN(test_fixture_filters);
        RUN(test_fixture_pss_and_verify);
        RUN(test_refresh);
        RUN(test_refresh_snapshot);
        RUN(test_refresh_full_snapshot);
        RUN(test_oom_score_compute);
        RUN(test_real_self);
        RUN(test_real_hostile_comm);
        RUN(test_real_refresh);
        RUN(test_real_emfile);
        RUN(test_real_pidfd_enosys);
        RUN(test_real_pid_reuse); /* last: it may skip */
        return 0;
}
