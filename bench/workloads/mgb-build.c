/* SPDX-License-Identifier: MIT */
/*
 * mgb-build: a parallel build in waves of short-lived "compiler" processes
 * that each spike in memory and release it.
 *
 *   mgb-build --waves W --jobs J --job-mib M --job-ms T --seconds S
 *             [--oom-score-adj A]
 *
 * The parent (comm "mgb-build") runs W waves one after the other; a wave
 * forks J jobs (comm "mgb-cc1") and waits for all of them. A job grows to M
 * MiB over T ms in steps, rewriting what it holds as it goes (CPU and
 * memory, like a compiler pass), then frees everything and exits 0. A job
 * that dies of a signal counts as failed (a real build would stop; this one
 * goes on, so that the time stays comparable) and prints an event.
 *
 * At the end it prints "event ... what=done ms=<wall time> failed=<jobs>".
 * If S seconds pass first (alarm), it SIGKILLs its running jobs by PID and
 * prints "what=timeout" instead.
 */
#include <getopt.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "mgb-common.h"

#define MAX_JOBS 256
#define STEPS 10

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
        stop = 1;
}

static int job_main(int wave, int job, long mib, long ms, long seconds, int adj)
{
        long bytes = mib * MIB, step = bytes / STEPS;
        char *p;

        mgb_init("mgb-cc1", seconds);
        if (adj)
                (void)mgb_set_oom_score_adj(adj);
        p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return 1;
        for (int s = 0; s < STEPS; s++) {
                int64_t until = mgb_now_us() + ms * 1000 / STEPS;

                mgb_fill(p + s * step, step, ((uint64_t)wave << 32) | ((uint64_t)job << 16) | (uint64_t)s);
                /* Work on what is held until this step's share of the time is up. */
                while (mgb_now_us() < until)
                        (void)mgb_touch(p, (s + 1) * step);
        }
        munmap(p, (size_t)bytes);
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "waves", required_argument, NULL, 'w' },
                { "jobs", required_argument, NULL, 'j' },
                { "job-mib", required_argument, NULL, 'm' },
                { "job-ms", required_argument, NULL, 't' },
                { "seconds", required_argument, NULL, 's' },
                { "oom-score-adj", required_argument, NULL, 'o' },
                {}
        };
        long waves = 10, jobs = 4, mib = 50, ms = 2000, seconds = 120;
        struct sigaction sa = { .sa_handler = on_stop };
        pid_t running[MAX_JOBS];
        int c, adj = 0, failed = 0;
        int64_t start;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'w':
                        waves = atol(optarg);
                        break;
                case 'j':
                        jobs = atol(optarg);
                        break;
                case 'm':
                        mib = atol(optarg);
                        break;
                case 't':
                        ms = atol(optarg);
                        break;
                case 's':
                        seconds = atol(optarg);
                        break;
                case 'o':
                        adj = atoi(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: mgb-build --waves W --jobs J --job-mib M --job-ms T "
                                        "--seconds S\n");
                        return 2;
                }
        }
        if (waves <= 0 || jobs <= 0 || jobs > MAX_JOBS || mib <= 0 || ms < STEPS || seconds <= 0) {
                fprintf(stderr, "mgb-build: positive --waves, --job-mib, --seconds; "
                                "--jobs 1..%d; --job-ms >= %d\n",
                        MAX_JOBS, STEPS);
                return 2;
        }
        mgb_init("mgb-build", 0);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGALRM, &sa, NULL);
        alarm((unsigned)seconds);
        start = mgb_now_us();

        for (int w = 0; w < waves && !stop; w++) {
                int n = 0, left;

                for (int j = 0; j < jobs; j++) {
                        pid_t pid = fork();

                        if (pid < 0) {
                                mgb_event("spawn-failed", "wave=%d job=%d errno=%d", w, j, errno);
                                failed++;
                                continue;
                        }
                        if (pid == 0)
                                _exit(job_main(w, j, mib, ms, seconds + 2, adj));
                        running[n++] = pid;
                }
                for (left = n; left > 0;) {
                        int status;
                        pid_t pid = waitpid(-1, &status, 0);

                        if (pid < 0) {
                                if (errno == EINTR && !stop)
                                        continue;
                                break;
                        }
                        for (int i = 0; i < n; i++)
                                if (running[i] == pid) {
                                        running[i] = 0;
                                        left--;
                                }
                        if (WIFSIGNALED(status)) {
                                failed++;
                                mgb_event("exit", "pid=%d wave=%d sig=%d", (int)pid, w, WTERMSIG(status));
                        } else if (WEXITSTATUS(status) != 0) {
                                failed++;
                                mgb_event("exit", "pid=%d wave=%d code=%d", (int)pid, w,
                                          WEXITSTATUS(status));
                        }
                }
                if (stop) {
                        /* Only jobs not reaped yet: their PIDs cannot have been reused. */
                        for (int i = 0; i < n; i++)
                                if (running[i] > 0)
                                        (void)kill(running[i], SIGKILL);
                        while (waitpid(-1, NULL, 0) > 0)
                                ;
                        mgb_event("timeout", "ms=%lld wave=%d failed=%d",
                                  (long long)((mgb_now_us() - start) / 1000), w, failed);
                        return 1;
                }
                mgb_event("wave", "wave=%d ms=%lld", w, (long long)((mgb_now_us() - start) / 1000));
        }
        if (stop) {
                mgb_event("timeout", "ms=%lld failed=%d", (long long)((mgb_now_us() - start) / 1000),
                          failed);
                return 1;
        }
        mgb_event("done", "ms=%lld failed=%d waves=%ld jobs=%ld", (long long)((mgb_now_us() - start) / 1000),
                  failed, waves, jobs);
        return 0;
}
