/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the benchmark workloads (header-only, each workload is one
 * file plus this): a monotonic clock, the time bound every workload has, a
 * parent-death signal so nothing outlives the harness by more than a
 * moment, page content that compresses like real data (so zram swap is not
 * a free lunch), and event lines on stdout for the harness to parse.
 *
 * Event lines: "event t_ms=<ms since start> what=<word> key=value ...".
 */
#pragma once

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024L * 1024L)
#define PAGE 4096L

static inline int64_t mgb_now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mgb_start_us;

/* Name the process (comm), bound its life, and die with the parent. */
static inline void mgb_init(const char *comm, long seconds)
{
        pid_t parent = getppid();

        mgb_start_us = mgb_now_us();
        if (comm)
                (void)prctl(PR_SET_NAME, comm, 0, 0, 0);
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != parent)
                _exit(1);
        signal(SIGALRM, SIG_DFL);
        if (seconds > 0)
                alarm((unsigned)seconds);
        setvbuf(stdout, NULL, _IOLBF, 0);
}

static inline int mgb_set_oom_score_adj(int adj)
{
        FILE *f = fopen("/proc/self/oom_score_adj", "w");
        int r;

        if (!f)
                return -errno;
        r = fprintf(f, "%d\n", adj) < 0 ? -EIO : 0;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        return r;
}

/*
 * Fill a page so that it compresses about 2:1, like ordinary heap data:
 * the first half pseudo-random, the second half zero.
 */
static inline void mgb_fill_page(char *p, uint64_t seed)
{
        uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

        for (long i = 0; i < PAGE / 2; i += 8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                memcpy(p + i, &x, 8);
        }
}

static inline void mgb_fill(char *p, long bytes, uint64_t seed)
{
        for (long off = 0; off + PAGE <= bytes; off += PAGE)
                mgb_fill_page(p + off, seed + (uint64_t)off / PAGE);
}

/* Read one byte of every page, so that the pages count as in use. */
static inline unsigned mgb_touch(const char *p, long bytes)
{
        unsigned sum = 0;

        for (long off = 0; off < bytes; off += PAGE)
                sum += (unsigned char)((volatile const char *)p)[off];
        return sum;
}

__attribute__((format(printf, 2, 3)))
static inline void mgb_event(const char *what, const char *fmt, ...)
{
        char buf[512];
        va_list ap;
        int n;

        n = snprintf(buf, sizeof(buf), "event t_ms=%lld what=%s ",
                     (long long)((mgb_now_us() - mgb_start_us) / 1000), what);
        va_start(ap, fmt);
        vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
        va_end(ap);
        /* One write(2) per line: children share stdout with the parent. */
        n = (int)strlen(buf);
        if (n < (int)sizeof(buf) - 1)
                buf[n++] = '\n';
        (void)!write(STDOUT_FILENO, buf, (size_t)n);
}

static inline void mgb_sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}
