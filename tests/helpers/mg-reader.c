/* SPDX-License-Identifier: MIT */
/*
 * mg-reader: a file-backed working set re-read in a loop, the kind of load
 * that stalls (PSI) when its page cache does not fit in the memory limit.
 *
 *   mg-reader --file PATH --size-mib N --seconds S
 *
 * Writes the file with O_DIRECT (so its page cache is not charged to the
 * writer), then reads it from start to end again and again until S seconds
 * have passed (alarm), and removes the file on exit. Prints the number of
 * passes on exit.
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK (1024 * 1024)

static const char *file;
static volatile sig_atomic_t stop;

static void on_alarm(int sig)
{
        stop = 1;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "file", required_argument, NULL, 'f' },
                { "size-mib", required_argument, NULL, 'n' },
                { "seconds", required_argument, NULL, 's' },
                {}
        };
        long size = 64, seconds = 30, passes = 0;
        struct sigaction sa = { .sa_handler = on_alarm };
        char *buf;
        int c, fd;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'f':
                        file = optarg;
                        break;
                case 'n':
                        size = atol(optarg);
                        break;
                case 's':
                        seconds = atol(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: mg-reader --file PATH --size-mib N --seconds S\n");
                        return 2;
                }
        }
        if (!file || size <= 0 || seconds <= 0) {
                fprintf(stderr, "mg-reader: --file, positive --size-mib and --seconds are required\n");
                return 2;
        }
        sigaction(SIGALRM, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        alarm((unsigned)seconds);

        if (posix_memalign((void **)&buf, 4096, BLOCK) != 0)
                return 1;
        for (long i = 0; i < BLOCK; i++)
                buf[i] = (char)(i * 7 + 3);

        fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
        if (fd < 0) {
                /* tmpfs has no O_DIRECT; a buffered write still works, only charged differently. */
                fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0) {
                        perror("mg-reader: open");
                        return 1;
                }
        }
        for (long i = 0; i < size && !stop; i++) {
                buf[0] = (char)i;
                if (write(fd, buf, BLOCK) != BLOCK) {
                        perror("mg-reader: write");
                        close(fd);
                        unlink(file);
                        return 1;
                }
        }
        close(fd);

        while (!stop) {
                fd = open(file, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        break;
                while (!stop && read(fd, buf, BLOCK) > 0)
                        ;
                close(fd);
                passes++;
        }
        unlink(file);
        printf("passes %ld\n", passes);
        return 0;
}
