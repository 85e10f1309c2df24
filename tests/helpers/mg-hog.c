/* SPDX-License-Identifier: MIT */
/*
 * mg-hog: grow anonymous memory at a steady rate, then hold it.
 *
 *   mg-hog --rate-mib R --max-mib M --seconds S [--oom-score-adj N]
 *
 * Touches every page it allocates (so it is really resident), stops growing
 * at M MiB, and exits after S seconds whatever happens (alarm). Prints
 * "grown N MiB" lines to stdout once a second.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1024 * 1024)

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "rate-mib", required_argument, NULL, 'r' },
                { "max-mib", required_argument, NULL, 'm' },
                { "seconds", required_argument, NULL, 's' },
                { "oom-score-adj", required_argument, NULL, 'o' },
                {}
        };
        double rate = 10, start, last_print = 0;
        long max_mib = 100, seconds = 30, grown = 0;
        const char *adj = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'r':
                        rate = atof(optarg);
                        break;
                case 'm':
                        max_mib = atol(optarg);
                        break;
                case 's':
                        seconds = atol(optarg);
                        break;
                case 'o':
                        adj = optarg;
                        break;
                default:
                        fprintf(stderr, "usage: mg-hog --rate-mib R --max-mib M --seconds S\n");
                        return 2;
                }
        }
        if (rate <= 0 || max_mib <= 0 || seconds <= 0) {
                fprintf(stderr, "mg-hog: rate, max and seconds must be positive\n");
                return 2;
        }
        if (adj) {
                FILE *f = fopen("/proc/self/oom_score_adj", "w");
                if (!f || fprintf(f, "%s\n", adj) < 0 || fclose(f) != 0) {
                        perror("mg-hog: oom_score_adj");
                        return 1;
                }
        }
        alarm((unsigned)seconds);
        signal(SIGALRM, SIG_DFL);
        setvbuf(stdout, NULL, _IOLBF, 0);

        start = now();
        for (;;) {
                double t = now() - start;
                long want = (long)(t * rate);

                if (want > max_mib)
                        want = max_mib;
                while (grown < want) {
                        char *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        if (p == MAP_FAILED) {
                                perror("mg-hog: mmap");
                                break;
                        }
                        /* Non-zero, varied content so zram cannot dedupe it to nothing. */
                        for (long i = 0; i < CHUNK; i += 4096)
                                p[i] = (char)(i / 4096 + grown);
                        grown++;
                }
                if (t - last_print >= 1.0) {
                        printf("grown %ld MiB\n", grown);
                        last_print = t;
                }
                usleep(20000);
        }
}
