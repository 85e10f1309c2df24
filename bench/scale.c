/* SPDX-License-Identifier: MIT */
/*
 * How the process table scales: spawns N sleeping processes (fork + exec
 * of sleep(1); with -f fork + pause, copies of this process, which was how
 * the figures before 2026-12-07 were taken: their pages are shared N ways,
 * and a kernel that walks reverse mappings (DAMON, reclaim) pays for that),
 * then times a full proc_table_scan_at() and a proc_table_refresh_at() when
 * little changed, each over R repetitions, against the real /proc.
 *
 *   scale [-r REPS] [-b] [-f] [N ...]   (default: 1000 5000 10000, 20
 *                                        repetitions; -b: the BPF rows only)
 *
 * With a BPF build run as root it also times the same through the BPF task
 * iterator (proc-bpf.h): a full scan (snapshot + a cold table: every process
 * read from procfs once) and a refresh (snapshot + a warm table).
 *
 * Prints median and p90 in ms and µs per process in the table, then one line
 * of JSON. The children are killed by PID and reaped on every exit path: at
 * exit, on SIGINT/SIGTERM/SIGHUP, and if this process dies anyway they get
 * SIGKILL through PR_SET_PDEATHSIG; each also has an alarm bounding its life.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "config.h"
#include "macro.h"
#include "meminfo.h"
#include "planner.h"
#include "proc-bpf.h"
#include "proc.h"

#define CHILD_LIFETIME_SEC 600
#define CHILD_LIFETIME_ARG "600" /* sleep(1)'s argument: the same */
#define MAX_SIZES 8

static pid_t *children;
static volatile size_t n_children;

static void kill_children(void)
{
        /* Async-signal-safe: kill(2) and waitpid(2) only. */
        for (size_t i = 0; i < n_children; i++)
                (void)kill(children[i], SIGKILL);
        for (size_t i = 0; i < n_children; i++)
                (void)waitpid(children[i], NULL, 0);
        n_children = 0;
}

static void on_signal(int sig)
{
        kill_children();
        _exit(128 + sig);
}

static bool fork_only;

static int spawn_until(size_t n, size_t capacity)
{
        pid_t parent = getpid();

        while (n_children < n && n_children < capacity) {
                pid_t pid = fork();

                if (pid < 0) {
                        fprintf(stderr, "fork failed after %zu children: %s\n", (size_t)n_children, strerror(errno));
                        return -errno;
                }
                if (pid == 0) {
                        signal(SIGINT, SIG_DFL);
                        signal(SIGTERM, SIG_DFL);
                        signal(SIGHUP, SIG_DFL);
                        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                        if (getppid() != parent)
                                _exit(0);
                        alarm(CHILD_LIFETIME_SEC); /* kept across exec, as the death signal is */
                        if (!fork_only)
                                execl("/bin/sleep", "sleep", CHILD_LIFETIME_ARG, (char *)NULL);
                        for (;;)
                                pause();
                }
                children[n_children++] = pid;
        }
        return 0;
}

static uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

typedef struct Stats {
        double median_ms, p90_ms, us_per_proc;
        size_t procs;
} Stats;

static Stats stats_of(uint64_t *usec, unsigned reps, size_t procs)
{
        Stats s;

        qsort(usec, reps, sizeof(uint64_t), cmp_u64);
        s.median_ms = usec[reps / 2] / 1000.0;
        s.p90_ms = usec[(reps * 9) / 10 < reps ? (reps * 9) / 10 : reps - 1] / 1000.0;
        s.procs = procs;
        s.us_per_proc = procs ? usec[reps / 2] / (double)procs : 0;
        return s;
}

static int time_scans(int procfd, const ProcScanFilter *f, unsigned reps, Stats *ret)
{
        _cleanup_free_ uint64_t *usec = calloc(reps, sizeof(uint64_t));
        size_t procs = 0;

        for (unsigned i = 0; i < reps; i++) {
                ProcTable t;
                uint64_t t0 = now_usec();
                int r = proc_table_scan_at(procfd, f, &t);

                usec[i] = now_usec() - t0;
                if (r < 0)
                        return r;
                procs = t.n;
                proc_table_done(&t);
        }
        *ret = stats_of(usec, reps, procs);
        return 0;
}

static int time_refreshes(int procfd, const ProcScanFilter *f, unsigned reps, Stats *ret)
{
        _cleanup_free_ uint64_t *usec = calloc(reps, sizeof(uint64_t));
        _cleanup_(proc_table_done) ProcTable t = {};
        int r;

        r = proc_table_scan_at(procfd, f, &t);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < reps; i++) {
                uint64_t t0 = now_usec();
                r = proc_table_refresh_at(procfd, f, &t);
                usec[i] = now_usec() - t0;
                if (r < 0)
                        return r;
        }
        *ret = stats_of(usec, reps, t.n);
        return 0;
}

typedef struct BpfRun {
        bool full;  /* a full snapshot (exe and cmdline from the iterator) */
        bool warm;  /* into the table of the previous repetition, else a cold one (empty, no cgroup cache) */
        bool rank;  /* and rank it: the planner with the shipped rules, at normal */
} BpfRun;

static int cgroup2_fd = -1;

/* Snapshot + merge into a cold (empty) table or into a warm one, and maybe the ranking. */
static int time_bpf(ProcBpf *b, int procfd, const ProcScanFilter *f, BpfRun run, unsigned reps, Stats *ret)
{
        _cleanup_free_ uint64_t *usec = calloc(reps, sizeof(uint64_t));
        _cleanup_(proc_snapshot_done) ProcSnapshot snap = {};
        _cleanup_(proc_table_done) ProcTable t = {};
        _cleanup_(config_done) Config c = {};
        _cleanup_(plan_done) Plan plan = {};
        PlannerInput in = {};
        size_t procs = 0;
        int r;

        config_init(&c);
        plan_init(&plan);
        r = meminfo_read_at(procfd, &in.mem);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < reps; i++) {
                uint64_t t0;

                if (!run.warm || i == 0) {
                        proc_table_done(&t);
                        t = (ProcTable){ .pidfd_supported = true, .cgroup_fd = cgroup2_fd };
                }
                if (run.warm && i == 0) {
                        if ((r = proc_bpf_snapshot(b, true, &snap)) < 0 ||
                            (r = proc_table_refresh_snapshot(procfd, f, &snap, &t)) < 0)
                                return r;
                }
                t0 = now_usec();
                r = proc_bpf_snapshot(b, run.full, &snap);
                if (r >= 0)
                        r = proc_table_refresh_snapshot(procfd, f, &snap, &t);
                if (r >= 0 && run.rank) {
                        in = (PlannerInput){ .level = LEVEL_NORMAL, .mem = in.mem, .table = &t, .rules = &c.rules,
                                             .now_usec = now_usec(), .clk_tck = (unsigned)sysconf(_SC_CLK_TCK) };
                        r = planner_plan(&c.planner, &in, &plan);
                }
                usec[i] = now_usec() - t0;
                if (r < 0)
                        return r;
                procs = t.n;
        }
        *ret = stats_of(usec, reps, procs);
        return 0;
}

/* The snapshot alone: what the iterator costs. */
static int time_snapshot(ProcBpf *b, bool full, unsigned reps, Stats *ret)
{
        _cleanup_free_ uint64_t *usec = calloc(reps, sizeof(uint64_t));
        _cleanup_(proc_snapshot_done) ProcSnapshot snap = {};

        for (unsigned i = 0; i < reps; i++) {
                uint64_t t0 = now_usec();
                int r = proc_bpf_snapshot(b, full, &snap);

                usec[i] = now_usec() - t0;
                if (r < 0)
                        return r;
        }
        *ret = stats_of(usec, reps, snap.n);
        return 0;
}

static void raise_nofile(size_t want)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
                return;
        if (rl.rlim_max < want) {
                struct rlimit hard = { want, want };
                if (setrlimit(RLIMIT_NOFILE, &hard) == 0)
                        return;
                fprintf(stderr, "warning: RLIMIT_NOFILE hard limit %llu < %zu; pidfd scans may fail with EMFILE\n",
                        (unsigned long long)rl.rlim_max, want);
        }
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
}

static void print_row(const char *what, const Stats *s)
{
        printf("  %-22s median %8.2f ms   p90 %8.2f ms   %6.2f µs/process  (%zu in table)\n", what, s->median_ms,
               s->p90_ms, s->us_per_proc, s->procs);
}

static void json_stats(const char *name, const Stats *s, int last)
{
        printf("\"%s\":{\"median_ms\":%.3f,\"p90_ms\":%.3f,\"us_per_proc\":%.3f,\"procs\":%zu}%s", name, s->median_ms,
               s->p90_ms, s->us_per_proc, s->procs, last ? "" : ",");
}

int main(int argc, char **argv)
{
        size_t sizes[MAX_SIZES] = { 1000, 5000, 10000 }, n_sizes = 3, max_n = 0;
        Stats scan[MAX_SIZES], scan_nopidfd[MAX_SIZES], refresh[MAX_SIZES], uid_miss[MAX_SIZES];
        Stats bpf_scan[MAX_SIZES], bpf_scan_light[MAX_SIZES], bpf_refresh[MAX_SIZES], snap_light[MAX_SIZES],
                snap_full[MAX_SIZES], rank_cold[MAX_SIZES], rank_warm[MAX_SIZES];
        ProcBpf *bpf = NULL;
        const ProcScanFilter all = { .mode = PROC_SCAN_ALL, .open_pidfds = true };
        const ProcScanFilter all_nopidfd = { .mode = PROC_SCAN_ALL };
        const ProcScanFilter nobody = { .mode = PROC_SCAN_UID, .uid = 4242, .open_pidfds = true };
        unsigned reps = 20;
        bool bpf_only = false;
        struct utsname u;
        int procfd, opt, r;

        while ((opt = getopt(argc, argv, "r:bf")) != -1) {
                if (opt == 'r' && atoi(optarg) > 0)
                        reps = (unsigned)atoi(optarg);
                else if (opt == 'b')
                        bpf_only = true;
                else if (opt == 'f')
                        fork_only = true;
                else {
                        fprintf(stderr, "usage: %s [-r REPS] [-b] [-f] [N ...]\n", argv[0]);
                        return 2;
                }
        }
        if (optind < argc) {
                n_sizes = 0;
                for (int i = optind; i < argc && n_sizes < MAX_SIZES; i++)
                        if (atol(argv[i]) > 0)
                                sizes[n_sizes++] = (size_t)atol(argv[i]);
        }
        for (size_t i = 0; i < n_sizes; i++)
                max_n = MAX(max_n, sizes[i]);

        /* The daemon's malloc settings (main.c harden_memory()): freed memory is kept
         * for the next refresh, not given back and faulted in again each time. */
        mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
        mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
        children = calloc(max_n, sizeof(pid_t));
        if (!children)
                return 1;
        atexit(kill_children);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);

        /* One pidfd per process, with room for the rest of the system (the daemon's main does this too). */
        raise_nofile(max_n + 4096);

        procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (procfd < 0) {
                perror("/proc");
                return 1;
        }
        uname(&u);
        printf("proc table scale benchmark: kernel %s, %ld CPUs, %u repetitions, children %s\n", u.release,
               sysconf(_SC_NPROCESSORS_ONLN), reps, fork_only ? "forked (-f)" : "exec'd sleep");
        r = proc_bpf_new(procfd, &bpf);
        if (r < 0)
                printf("BPF task iterator: unavailable (%s), procfs only\n",
                       r == -EOPNOTSUPP ? "not built" : strerror(-r));
        else if (!proc_bpf_can_full(bpf))
                printf("BPF task iterator: the full (sleepable) iterator is unavailable here\n");
        {
                _cleanup_free_ char *v2 = NULL;
                if (cg_v2_mount_find_at(procfd, &v2) >= 0)
                        cgroup2_fd = open(v2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }

        for (size_t s = 0; s < n_sizes; s++) {
                if (spawn_until(sizes[s], max_n) < 0)
                        return 1;
                /* Let the newest children age past the refresh's settle window, or every
                 * refresh would re-read them in full. */
                sleep(PROC_REFRESH_SETTLE_SEC + 1);

                printf("N = %zu sleeping children\n", sizes[s]);
                if (bpf_only && !bpf) {
                        fprintf(stderr, "-b: no BPF here\n");
                        return 1;
                }
                if (bpf_only)
                        scan[s] = scan_nopidfd[s] = uid_miss[s] = refresh[s] = (Stats){};
                else if ((r = time_scans(procfd, &all, reps, &scan[s])) < 0 ||
                    (r = time_scans(procfd, &all_nopidfd, reps, &scan_nopidfd[s])) < 0 ||
                    (r = time_scans(procfd, &nobody, reps, &uid_miss[s])) < 0 ||
                    (r = time_refreshes(procfd, &all, reps, &refresh[s])) < 0) {
                        fprintf(stderr, "scan failed: %s\n", strerror(-r));
                        return 1;
                }
                if (!bpf_only) {
                        /* Nothing matches the uid: count the processes looked at instead. */
                        uid_miss[s].procs = scan[s].procs;
                        uid_miss[s].us_per_proc =
                                uid_miss[s].median_ms * 1000.0 / (double)MAX(scan[s].procs, (size_t)1);
                        print_row("full scan (pidfds)", &scan[s]);
                        print_row("full scan (no pidfds)", &scan_nopidfd[s]);
                        print_row("uid scan, no match", &uid_miss[s]);
                        print_row("refresh (pidfds)", &refresh[s]);
                }
                if (bpf) {
                        if ((r = time_snapshot(bpf, false, reps, &snap_light[s])) < 0 ||
                            (r = time_snapshot(bpf, true, reps, &snap_full[s])) < 0 ||
                            (r = time_bpf(bpf, procfd, &all, (BpfRun){ .full = true }, reps, &bpf_scan[s])) < 0 ||
                            (r = time_bpf(bpf, procfd, &all, (BpfRun){}, reps, &bpf_scan_light[s])) < 0 ||
                            (r = time_bpf(bpf, procfd, &all, (BpfRun){ .warm = true }, reps, &bpf_refresh[s])) < 0 ||
                            (r = time_bpf(bpf, procfd, &all, (BpfRun){ .full = true, .rank = true }, reps,
                                          &rank_cold[s])) < 0 ||
                            (r = time_bpf(bpf, procfd, &all, (BpfRun){ .warm = true, .rank = true }, reps,
                                          &rank_warm[s])) < 0) {
                                fprintf(stderr, "BPF scan failed: %s\n", strerror(-r));
                                return 1;
                        }
                        print_row("BPF snapshot", &snap_light[s]);
                        print_row("BPF snapshot, full", &snap_full[s]);
                        print_row("full scan (BPF)", &bpf_scan[s]);
                        print_row("full scan (BPF, light)", &bpf_scan_light[s]);
                        print_row("refresh (BPF)", &bpf_refresh[s]);
                        print_row("ranked list, cold", &rank_cold[s]);
                        print_row("ranked list, warm", &rank_warm[s]);
                }
                fflush(stdout);
        }

        printf("{\"bench\":\"proc-scale\",\"kernel\":\"%s\",\"cpus\":%ld,\"reps\":%u,\"results\":[", u.release,
               sysconf(_SC_NPROCESSORS_ONLN), reps);
        for (size_t s = 0; s < n_sizes; s++) {
                printf("%s{\"children\":%zu,", s ? "," : "", sizes[s]);
                json_stats("scan", &scan[s], 0);
                json_stats("scan_nopidfd", &scan_nopidfd[s], 0);
                json_stats("scan_uid_nomatch", &uid_miss[s], 0);
                json_stats("refresh", &refresh[s], !bpf);
                if (bpf) {
                        json_stats("snapshot_bpf", &snap_light[s], 0);
                        json_stats("snapshot_bpf_full", &snap_full[s], 0);
                        json_stats("scan_bpf", &bpf_scan[s], 0);
                        json_stats("scan_bpf_light", &bpf_scan_light[s], 0);
                        json_stats("refresh_bpf", &bpf_refresh[s], 0);
                        json_stats("ranked_cold_bpf", &rank_cold[s], 0);
                        json_stats("ranked_warm_bpf", &rank_warm[s], 1);
                }
                printf("}");
        }
        printf("]}\n");
        proc_bpf_free(bpf);
        close(procfd);
        return 0;
}
