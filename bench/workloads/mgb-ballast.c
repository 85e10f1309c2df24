/* SPDX-License-Identifier: MIT */
/*
 * mgb-ballast: lock most of RAM so that only a set amount stays available,
 * for the benchmark's system mode.
 *
 *   mgb-ballast --leave-mib L --seconds S [--max-mib M] [--chunk-mib 64]
 *
 * Maps and mlocks chunks of anonymous memory until MemAvailable is at most
 * L MiB (or M MiB are locked), then prints "ready locked_mib=N
 * available_mib=A" and holds it until SIGTERM or S seconds (alarm). comm is
 * "mgb-ballast". Locked pages cannot be reclaimed or swapped, so what is
 * left for everyone else is about L MiB plus whatever swap there is. It
 * needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK; it fails (exit 1)
 * rather than hold a partial ballast when mlock is refused.
 *
 * It never grows back: memory it holds is released only by exiting.
 */
#include <getopt.h>
#include <sys/mman.h>

#include "mgb-common.h"

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
        stop = 1;
}

static long mem_available_mib(void)
{
        char line[256];
        long kib = -1;
        FILE *f = fopen("/proc/meminfo", "re");

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "MemAvailable: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib < 0 ? -1 : kib / 1024;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "leave-mib", required_argument, NULL, 'l' },
                { "max-mib", required_argument, NULL, 'm' },
                { "chunk-mib", required_argument, NULL, 'c' },
                { "seconds", required_argument, NULL, 's' },
                {}
        };
        long leave = 2048, max_mib = 1L << 30, chunk = 64, seconds = 3600, locked = 0, avail;
        struct sigaction sa = { .sa_handler = on_stop };
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'l':
                        leave = atol(optarg);
                        break;
                case 'm':
                        max_mib = atol(optarg);
                        break;
                case 'c':
                        chunk = atol(optarg);
                        break;
                case 's':
                        seconds = atol(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: mgb-ballast --leave-mib L --seconds S [--max-mib M]\n");
                        return 2;
                }
        }
        if (leave < 256 || chunk <= 0 || max_mib <= 0 || seconds <= 0) {
                fprintf(stderr, "mgb-ballast: --leave-mib must be at least 256; "
                                "sizes and --seconds positive\n");
                return 2;
        }
        mgb_init("mgb-ballast", 0);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGALRM, &sa, NULL);
        alarm((unsigned)seconds);

        while (!stop && locked + chunk <= max_mib) {
                long want;
                char *p;

                avail = mem_available_mib();
                if (avail < 0) {
                        perror("mgb-ballast: /proc/meminfo");
                        return 1;
                }
                want = avail - leave;
                if (want <= 0)
                        break;
                if (want > chunk)
                        want = chunk;
                p = mmap(NULL, (size_t)(want * MIB), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
                if (p == MAP_FAILED) {
                        perror("mgb-ballast: mmap");
                        return 1;
                }
                if (mlock(p, (size_t)(want * MIB)) < 0) {
                        perror("mgb-ballast: mlock");
                        return 1;
                }
                /* Written so that the pages are private copies, not the shared zero page. */
                for (long off = 0; off < want * MIB; off += PAGE)
                        p[off] = 1;
                locked += want;
        }
        if (stop)
                return 1;
        printf("ready locked_mib=%ld available_mib=%ld\n", locked, mem_available_mib());
        while (!stop)
                pause();
        return 0;
}
