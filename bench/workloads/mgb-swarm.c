/* SPDX-License-Identifier: MIT */
/*
 * mgb-swarm: hundreds of small processes, started quickly and replaced as
 * they finish (churn).
 *
 *   mgb-swarm --count N --child-kib K --seconds S [--spawn-per-s R]
 *             [--life-ms-min A --life-ms-max B] [--oom-score-adj ADJ]
 *
 * The parent (comm "mgb-swarm") starts children (comm "mgb-swarmling") at
 * up to R per second until N are alive, and starts a new one whenever one
 * ends, for S seconds (alarm). Each child holds K KiB of anonymous memory,
 * touches it every 500 ms, and exits after a pseudo-random life between A
 * and B ms. Children that die of a signal are printed as events
 * ("what=exit pid= sig="); once a second a "what=alive n= started= killed="
 * line sums up. At the end the parent prints "what=stopping" and SIGKILLs
 * the children it started that are still unreaped, by PID.
 */
#include <getopt.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "mgb-common.h"

#define MAX_CHILDREN 4096

static pid_t children[MAX_CHILDREN];
static int alive;
static long started, killed;
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
        stop = 1;
}

static int child_main(long kib, long life_ms, long seconds, int adj, uint64_t seed)
{
        long bytes = kib * 1024;
        int64_t until;
        char *p;

        mgb_init("mgb-swarmling", seconds);
        if (adj)
                (void)mgb_set_oom_score_adj(adj);
        p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return 1;
        mgb_fill(p, bytes, seed);
        until = mgb_now_us() + life_ms * 1000;
        while (mgb_now_us() < until) {
                long left = (long)((until - mgb_now_us()) / 1000);
                mgb_sleep_ms(left < 500 ? (left > 0 ? left : 1) : 500);
                (void)mgb_touch(p, bytes);
        }
        return 0;
}

static void forget(pid_t pid)
{
        for (int i = 0; i < MAX_CHILDREN; i++)
                if (children[i] == pid) {
                        children[i] = 0;
                        alive--;
                        return;
                }
}

static void remember(pid_t pid)
{
        for (int i = 0; i < MAX_CHILDREN; i++)
                if (children[i] == 0) {
                        children[i] = pid;
                        alive++;
                        return;
                }
}

static void reap(int options)
{
        int status;
        pid_t pid;

        while ((pid = waitpid(-1, &status, options)) > 0) {
                forget(pid);
                if (WIFSIGNALED(status) && !stop) {
                        killed++;
                        mgb_event("exit", "pid=%d sig=%d", (int)pid, WTERMSIG(status));
                }
        }
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "count", required_argument, NULL, 'n' },
                { "child-kib", required_argument, NULL, 'k' },
                { "seconds", required_argument, NULL, 's' },
                { "spawn-per-s", required_argument, NULL, 'r' },
                { "life-ms-min", required_argument, NULL, 'a' },
                { "life-ms-max", required_argument, NULL, 'b' },
                { "oom-score-adj", required_argument, NULL, 'o' },
                {}
        };
        long count = 300, kib = 1024, seconds = 60, rate = 100, life_min = 3000, life_max = 12000;
        struct sigaction sa = { .sa_handler = on_stop };
        uint64_t rng = 0x5eed;
        int64_t last_summary = 0;
        double credit = 0;
        int c, adj = 0;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        count = atol(optarg);
                        break;
                case 'k':
                        kib = atol(optarg);
                        break;
                case 's':
                        seconds = atol(optarg);
                        break;
                case 'r':
                        rate = atol(optarg);
                        break;
                case 'a':
                        life_min = atol(optarg);
                        break;
                case 'b':
                        life_max = atol(optarg);
                        break;
                case 'o':
                        adj = atoi(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: mgb-swarm --count N --child-kib K --seconds S ...\n");
                        return 2;
                }
        }
        if (count <= 0 || count > MAX_CHILDREN || kib <= 0 || seconds <= 0 || rate <= 0 || life_min <= 0 ||
            life_max < life_min) {
                fprintf(stderr, "mgb-swarm: --count 1..%d, positive sizes and times, life-ms-min <= max\n",
                        MAX_CHILDREN);
                return 2;
        }
        mgb_init("mgb-swarm", 0);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGALRM, &sa, NULL);
        alarm((unsigned)seconds);

        while (!stop) {
                int64_t now = mgb_now_us();

                credit += rate * 0.01;
                if (credit > rate)
                        credit = rate;
                while (!stop && alive < count && credit >= 1) {
                        long life;
                        pid_t pid;

                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        life = life_min + (long)(rng % (uint64_t)(life_max - life_min + 1));
                        pid = fork();
                        if (pid < 0)
                                break;
                        if (pid == 0)
                                _exit(child_main(kib, life, seconds + 2, adj, rng));
                        remember(pid);
                        started++;
                        credit -= 1;
                }
                reap(WNOHANG);
                if (now - last_summary >= 1000000) {
                        mgb_event("alive", "n=%d started=%ld killed=%ld", alive, started, killed);
                        last_summary = now;
                }
                mgb_sleep_ms(10);
        }
        /* Ends from here on are this program's own teardown, not anybody's action. */
        mgb_event("stopping", "alive=%d", alive);
        for (int i = 0; i < MAX_CHILDREN; i++)
                if (children[i] > 0)
                        (void)kill(children[i], SIGKILL);
        reap(0);
        mgb_event("alive", "n=%d started=%ld killed=%ld", alive, started, killed);
        return 0;
}
