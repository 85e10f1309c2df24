/* SPDX-License-Identifier: MIT */
/*
 * mgb-tabs: a browser's worth of mid-size "tabs", plus one more that opens
 * later.
 *
 *   mgb-tabs --tabs N --tab-mib M --seconds S [--touch-ms 1000]
 *            [--late-mib L --late-after-s T] [--oom-score-adj A]
 *
 * The parent (comm "mgb-tabs") forks N tabs (comm "mgb-tab"), each holding
 * M MiB of anonymous memory and touching all of it every --touch-ms; after
 * T seconds one more tab of L MiB opens. The parent reaps its tabs and
 * prints an event line for each start and each end ("what=spawn",
 * "what=exit" with code= or sig=). Everything ends after S seconds (alarm):
 * the parent prints "what=stopping", SIGKILLs the tabs it started, by PID,
 * and reaps them.
 */
#include <getopt.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "mgb-common.h"

#define MAX_TABS 1024

static pid_t tabs[MAX_TABS + 1];
static int n_tabs;
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
        stop = 1;
}

static int tab_main(int index, long mib, long touch_ms, long seconds, int adj)
{
        long bytes = mib * MIB;
        char *p;

        mgb_init("mgb-tab", seconds);
        if (adj)
                (void)mgb_set_oom_score_adj(adj);
        p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return 1;
        mgb_fill(p, bytes, (uint64_t)index << 20);
        for (;;) {
                mgb_sleep_ms(touch_ms);
                (void)mgb_touch(p, bytes);
        }
}

static void open_tab(int index, long mib, long touch_ms, long seconds, int adj)
{
        pid_t pid;

        if (n_tabs >= MAX_TABS)
                return;
        pid = fork();
        if (pid < 0) {
                mgb_event("spawn-failed", "tab=%d errno=%d", index, errno);
                return;
        }
        if (pid == 0)
                _exit(tab_main(index, mib, touch_ms, seconds, adj));
        tabs[n_tabs++] = pid;
        mgb_event("spawn", "pid=%d tab=%d mib=%ld", (int)pid, index, mib);
}

static void reap(int options)
{
        int status;
        pid_t pid;

        while ((pid = waitpid(-1, &status, options)) > 0) {
                /* Reaped: its PID may name someone else from now on. */
                for (int i = 0; i < n_tabs; i++)
                        if (tabs[i] == pid)
                                tabs[i] = 0;
                if (WIFSIGNALED(status))
                        mgb_event("exit", "pid=%d sig=%d", (int)pid, WTERMSIG(status));
                else
                        mgb_event("exit", "pid=%d code=%d", (int)pid, WEXITSTATUS(status));
        }
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "tabs", required_argument, NULL, 'n' },
                { "tab-mib", required_argument, NULL, 'm' },
                { "seconds", required_argument, NULL, 's' },
                { "touch-ms", required_argument, NULL, 't' },
                { "late-mib", required_argument, NULL, 'l' },
                { "late-after-s", required_argument, NULL, 'a' },
                { "oom-score-adj", required_argument, NULL, 'o' },
                {}
        };
        long n = 20, mib = 10, seconds = 60, touch_ms = 1000, late_mib = 0, late_after = 15;
        struct sigaction sa = { .sa_handler = on_stop };
        int c, adj = 0, late_opened = 0;
        int64_t start;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        n = atol(optarg);
                        break;
                case 'm':
                        mib = atol(optarg);
                        break;
                case 's':
                        seconds = atol(optarg);
                        break;
                case 't':
                        touch_ms = atol(optarg);
                        break;
                case 'l':
                        late_mib = atol(optarg);
                        break;
                case 'a':
                        late_after = atol(optarg);
                        break;
                case 'o':
                        adj = atoi(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: mgb-tabs --tabs N --tab-mib M --seconds S ...\n");
                        return 2;
                }
        }
        if (n <= 0 || n > MAX_TABS || mib <= 0 || seconds <= 0 || touch_ms <= 0 || late_mib < 0) {
                fprintf(stderr, "mgb-tabs: --tabs 1..%d, positive --tab-mib, --seconds, --touch-ms\n",
                        MAX_TABS);
                return 2;
        }
        mgb_init("mgb-tabs", 0);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGALRM, &sa, NULL);
        alarm((unsigned)seconds);
        start = mgb_now_us();

        for (int i = 0; i < n && !stop; i++) {
                open_tab(i, mib, touch_ms, seconds + 2, adj);
                mgb_sleep_ms(50);
        }
        while (!stop) {
                if (late_mib > 0 && !late_opened && mgb_now_us() - start >= late_after * 1000000) {
                        open_tab((int)n, late_mib, touch_ms, seconds + 2, adj);
                        late_opened = 1;
                }
                reap(WNOHANG);
                mgb_sleep_ms(100);
        }
        /* Ends from here on are this program's own teardown, not anybody's action. */
        mgb_event("stopping", "alive=%d", n_tabs);
        for (int i = 0; i < n_tabs; i++)
                if (tabs[i] > 0)
                        (void)kill(tabs[i], SIGKILL);
        reap(0);
        return 0;
}
