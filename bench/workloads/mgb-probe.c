/* SPDX-License-Identifier: MIT */
/*
 * mgb-probe: the foreground app whose responsiveness the benchmark measures,
 * or (--role protected) a process on the protect list.
 *
 *   mgb-probe --out FILE --seconds S [--role probe|protected] [--period-ms 50]
 *             [--file PATH --file-mib 4] [--alloc-kib 1024] [--read-kib 256]
 *             [--hold-mib 0]
 *
 * Every period it runs one small fixed task, the kind an interactive app
 * does per frame: map, touch and unmap --alloc-kib of fresh memory (a new
 * charge, so it waits for reclaim when memory is short), read --read-kib of
 * its own file-backed working set (refaults when its page cache was
 * evicted), and checksum what it read. --hold-mib keeps that much anonymous
 * memory resident and touched, like an app's heap.
 *
 * Ticks follow a fixed schedule (absolute deadlines): a tick that could not
 * start on time runs as soon as possible after, so a stall shows up as a
 * run of late ticks instead of hiding as missing ones. For every tick it
 * appends "<scheduled ms> <lateness us>" to --out, where lateness is the
 * tick's completion time minus its scheduled start.
 *
 * comm is "mgb-probe" or "mgb-protected"; the process exits after S seconds
 * (alarm) or on SIGTERM.
 */
#include <fcntl.h>
#include <getopt.h>
#include <sys/mman.h>

#include "mgb-common.h"

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
        stop = 1;
}

static int make_file(const char *path, long mib, char *buf, long block)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);

        if (fd < 0)
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        for (long i = 0; i < mib * MIB / block; i++) {
                mgb_fill(buf, block, (uint64_t)i * 131);
                if (write(fd, buf, (size_t)block) != block) {
                        int r = -errno;
                        close(fd);
                        return r;
                }
        }
        close(fd);
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "out", required_argument, NULL, 'o' },
                { "seconds", required_argument, NULL, 's' },
                { "role", required_argument, NULL, 'r' },
                { "period-ms", required_argument, NULL, 'p' },
                { "file", required_argument, NULL, 'f' },
                { "file-mib", required_argument, NULL, 'F' },
                { "alloc-kib", required_argument, NULL, 'a' },
                { "read-kib", required_argument, NULL, 'R' },
                { "hold-mib", required_argument, NULL, 'H' },
                {}
        };
        const char *out = NULL, *file = NULL, *role = "probe";
        long seconds = 60, period_ms = 50, file_mib = 4, alloc_kib = 1024, read_kib = 256, hold_mib = 0;
        struct sigaction sa = { .sa_handler = on_stop };
        long block = 256 * 1024, file_off = 0;
        char *buf, *hold = NULL;
        int64_t sched, period_us;
        int c, out_fd, file_fd = -1;
        unsigned sum = 0;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'o':
                        out = optarg;
                        break;
                case 's':
                        seconds = atol(optarg);
                        break;
                case 'r':
                        role = optarg;
                        break;
                case 'p':
                        period_ms = atol(optarg);
                        break;
                case 'f':
                        file = optarg;
                        break;
                case 'F':
                        file_mib = atol(optarg);
                        break;
                case 'a':
                        alloc_kib = atol(optarg);
                        break;
                case 'R':
                        read_kib = atol(optarg);
                        break;
                case 'H':
                        hold_mib = atol(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: mgb-probe --out FILE --seconds S "
                                        "[--role probe|protected] ...\n");
                        return 2;
                }
        }
        if (!out || seconds <= 0 || period_ms <= 0 || alloc_kib < 0 || read_kib < 0 || hold_mib < 0 ||
            file_mib <= 0 || (strcmp(role, "probe") != 0 && strcmp(role, "protected") != 0)) {
                fprintf(stderr, "mgb-probe: --out and positive --seconds/--period-ms are required; "
                                "--role is probe or protected\n");
                return 2;
        }
        mgb_init(strcmp(role, "probe") == 0 ? "mgb-probe" : "mgb-protected", seconds);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGALRM, &sa, NULL);

        out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        if (out_fd < 0) {
                perror("mgb-probe: --out");
                return 1;
        }
        if (posix_memalign((void **)&buf, 4096, (size_t)block) != 0)
                return 1;
        if (file) {
                int r = make_file(file, file_mib, buf, block);
                if (r < 0) {
                        fprintf(stderr, "mgb-probe: %s: %s\n", file, strerror(-r));
                        return 1;
                }
                file_fd = open(file, O_RDONLY | O_CLOEXEC);
                if (file_fd < 0) {
                        perror("mgb-probe: open");
                        return 1;
                }
        }
        if (hold_mib > 0) {
                hold = mmap(NULL, (size_t)(hold_mib * MIB), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (hold == MAP_FAILED) {
                        perror("mgb-probe: mmap");
                        return 1;
                }
                mgb_fill(hold, hold_mib * MIB, 7);
        }

        period_us = period_ms * 1000;
        sched = mgb_now_us();
        while (!stop) {
                int64_t now = mgb_now_us(), done;
                char line[64];
                int n;

                if (now < sched) {
                        mgb_sleep_ms((sched - now + 999) / 1000);
                        continue;
                }
                if (alloc_kib > 0) {
                        char *p = mmap(NULL, (size_t)alloc_kib * 1024, PROT_READ | PROT_WRITE,
                                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        if (p != MAP_FAILED) {
                                for (long i = 0; i < alloc_kib * 1024; i += PAGE)
                                        p[i] = (char)i;
                                sum += mgb_touch(p, alloc_kib * 1024);
                                munmap(p, (size_t)alloc_kib * 1024);
                        }
                }
                for (long left = read_kib * 1024; file_fd >= 0 && left > 0;) {
                        long want = left < block ? left : block;
                        ssize_t k = pread(file_fd, buf, (size_t)want, file_off);

                        if (k <= 0) {
                                file_off = 0;
                                if (k < 0)
                                        break;
                                continue;
                        }
                        for (ssize_t i = 0; i < k; i += 64)
                                sum += (unsigned char)buf[i];
                        file_off += k;
                        left -= k;
                }
                if (hold)
                        sum += mgb_touch(hold, hold_mib * MIB);

                done = mgb_now_us();
                n = snprintf(line, sizeof(line), "%lld %lld\n", (long long)((sched - mgb_start_us) / 1000),
                             (long long)(done - sched));
                (void)!write(out_fd, line, (size_t)n);
                sched += period_us;
        }
        close(out_fd);
        if (file_fd >= 0)
                close(file_fd);
        if (file)
                unlink(file);
        return sum == 0xFFFFFFFFu; /* keep the checksum alive */
}
