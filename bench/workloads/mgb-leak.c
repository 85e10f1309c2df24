/* SPDX-License-Identifier: MIT */
/*
 * mgb-leak: a slow leak, the way a long-running app leaks: small heap
 * allocations, filled and never freed.
 *
 *   mgb-leak --rate-mib R --max-mib M --seconds S [--oom-score-adj A]
 *
 * Allocates 64 KiB blocks with malloc at R MiB/s (fractions allowed), fills
 * them with data that compresses about 2:1, stops growing at M MiB, and
 * exits after S seconds (alarm). comm is "mgb-leak"; once a second it
 * prints "event ... what=grown mib=N".
 */
#include <getopt.h>
#include <malloc.h>

#include "mgb-common.h"

#define BLOCK (64 * 1024L)

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "rate-mib", required_argument, NULL, 'r' },
                { "max-mib", required_argument, NULL, 'm' },
                { "seconds", required_argument, NULL, 's' },
                { "oom-score-adj", required_argument, NULL, 'o' },
                {}
        };
        double rate = 4;
        long max_mib = 256, seconds = 60, blocks = 0, last_print = -1;
        int c, adj = 0;

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
                        adj = atoi(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: mgb-leak --rate-mib R --max-mib M --seconds S\n");
                        return 2;
                }
        }
        if (rate <= 0 || max_mib <= 0 || seconds <= 0) {
                fprintf(stderr, "mgb-leak: rate, max and seconds must be positive\n");
                return 2;
        }
        mgb_init("mgb-leak", seconds);
        if (adj && mgb_set_oom_score_adj(adj) < 0) {
                perror("mgb-leak: oom_score_adj");
                return 1;
        }
        /* Every block from the heap proper, as a leaking app's small allocations are. */
        mallopt(M_MMAP_THRESHOLD, 4 * BLOCK);

        for (;;) {
                double t = (double)(mgb_now_us() - mgb_start_us) / 1e6;
                long want = (long)(t * rate * MIB / BLOCK);

                if (want > max_mib * MIB / BLOCK)
                        want = max_mib * MIB / BLOCK;
                while (blocks < want) {
                        char *p = malloc(BLOCK);

                        if (!p)
                                break;
                        mgb_fill(p, BLOCK, (uint64_t)blocks * 16);
                        blocks++;
                }
                if ((long)t != last_print) {
                        mgb_event("grown", "mib=%ld", blocks * BLOCK / MIB);
                        last_print = (long)t;
                }
                mgb_sleep_ms(50);
        }
}
