/* SPDX-License-Identifier: MIT */
/*
 * mg-sentinel: a process that holds some memory and writes down every
 * signal it receives, with the sender's PID, so that a test can prove that
 * memguard did (or did not) signal it.
 *
 *   mg-sentinel --seconds S [--mib N] [--log FILE] [--comm NAME]
 *               [--ignore-term] [--ready FILE]
 *
 * Allocates and touches N MiB of anonymous memory (default 0), renames
 * itself to NAME (prctl PR_SET_NAME, as any process can), then waits. Every
 * catchable signal is appended to FILE as one line
 *   "signal=15 name=TERM from_pid=1234 code=0 time=1700000000.123456"
 * (time is CLOCK_REALTIME, comparable with bash's $EPOCHREALTIME).
 * SIGSTOP and SIGKILL cannot be caught: a test sees those as state 'T' in
 * /proc/PID/stat, or as the process being gone.
 *
 * SIGTERM: written down, then exit 143 -- or, with --ignore-term, written
 * down and otherwise ignored (a victim that ignores SIGTERM). After S
 * seconds it exits 0 by itself (its natural end). --ready FILE is created
 * once the memory is allocated and the handlers are in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static int ignore_term;
static volatile sig_atomic_t expired;

/* Async-signal-safe decimal formatting into *p. */
static void put_str(char **p, const char *s)
{
        while (*s)
                *(*p)++ = *s++;
}

static void put_num(char **p, long long v, int min_digits)
{
        char tmp[24];
        int n = 0;
        unsigned long long u = v < 0 ? (unsigned long long)-v : (unsigned long long)v;

        if (v < 0)
                *(*p)++ = '-';
        do
                tmp[n++] = (char)('0' + u % 10);
        while ((u /= 10) > 0);
        while (n < min_digits)
                tmp[n++] = '0';
        while (n > 0)
                *(*p)++ = tmp[--n];
}

static const char *sig_name(int sig)
{
        switch (sig) {
        case SIGHUP: return "HUP";
        case SIGINT: return "INT";
        case SIGQUIT: return "QUIT";
        case SIGUSR1: return "USR1";
        case SIGUSR2: return "USR2";
        case SIGPIPE: return "PIPE";
        case SIGTERM: return "TERM";
        case SIGCONT: return "CONT";
        case SIGTSTP: return "TSTP";
        case SIGTTIN: return "TTIN";
        case SIGTTOU: return "TTOU";
        case SIGXCPU: return "XCPU";
        case SIGXFSZ: return "XFSZ";
        case SIGVTALRM: return "VTALRM";
        case SIGPROF: return "PROF";
        case SIGWINCH: return "WINCH";
        case SIGURG: return "URG";
        case SIGSYS: return "SYS";
        case SIGTRAP: return "TRAP";
        case SIGABRT: return "ABRT";
        case SIGBUS: return "BUS";
        case SIGFPE: return "FPE";
        case SIGSEGV: return "SEGV";
        case SIGCHLD: return "CHLD";
        default: return "RT";
        }
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
        char line[160], *p = line;
        struct timespec ts;
        int saved = errno;

        (void)uc;
        clock_gettime(CLOCK_REALTIME, &ts);
        put_str(&p, "signal=");
        put_num(&p, sig, 1);
        put_str(&p, " name=");
        put_str(&p, sig_name(sig));
        put_str(&p, " from_pid=");
        put_num(&p, si ? si->si_pid : 0, 1);
        put_str(&p, " code=");
        put_num(&p, si ? si->si_code : 0, 1);
        put_str(&p, " time=");
        put_num(&p, ts.tv_sec, 1);
        *p++ = '.';
        put_num(&p, ts.tv_nsec / 1000, 6);
        *p++ = '\n';
        if (log_fd >= 0)
                (void)!write(log_fd, line, (size_t)(p - line));
        if (sig == SIGTERM && !ignore_term)
                _exit(143);
        errno = saved;
}

static void on_alarm(int sig)
{
        (void)sig;
        expired = 1;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "mib", required_argument, NULL, 'm' },
                { "seconds", required_argument, NULL, 's' },
                { "log", required_argument, NULL, 'l' },
                { "comm", required_argument, NULL, 'c' },
                { "ignore-term", no_argument, NULL, 'i' },
                { "ready", required_argument, NULL, 'r' },
                {}
        };
        const char *log_path = NULL, *comm = NULL, *ready = NULL;
        long mib = 0, seconds = 0;
        struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART };
        struct sigaction alrm = { .sa_handler = on_alarm };
        sigset_t none;
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'm':
                        mib = atol(optarg);
                        break;
                case 's':
                        seconds = atol(optarg);
                        break;
                case 'l':
                        log_path = optarg;
                        break;
                case 'c':
                        comm = optarg;
                        break;
                case 'i':
                        ignore_term = 1;
                        break;
                case 'r':
                        ready = optarg;
                        break;
                default:
                        fprintf(stderr, "usage: mg-sentinel --seconds S [--mib N] [--log FILE] [--comm NAME] "
                                        "[--ignore-term] [--ready FILE]\n");
                        return 2;
                }
        }
        if (seconds <= 0 || mib < 0) {
                fprintf(stderr, "mg-sentinel: --seconds must be positive, --mib not negative\n");
                return 2;
        }
        if (log_path) {
                log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (log_fd < 0) {
                        perror("mg-sentinel: open log");
                        return 1;
                }
        }
        if (comm && prctl(PR_SET_NAME, comm, 0, 0, 0) < 0) {
                perror("mg-sentinel: PR_SET_NAME");
                return 1;
        }

        /* Every catchable signal is written down (SIGALRM is the timer, SIGCHLD is noise). */
        sigemptyset(&sa.sa_mask);
        for (int sig = 1; sig < NSIG; sig++) {
                if (sig == SIGKILL || sig == SIGSTOP || sig == SIGALRM || sig == SIGCHLD || sig == 32 ||
                    sig == 33)
                        continue;
                (void)sigaction(sig, &sa, NULL);
        }
        sigaction(SIGALRM, &alrm, NULL);
        alarm((unsigned)seconds);

        for (long i = 0; i < mib; i++) {
                char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) {
                        perror("mg-sentinel: mmap");
                        return 1;
                }
                for (long k = 0; k < (1 << 20); k += 4096)
                        p[k] = (char)(k / 4096 + i + 1);
        }
        if (ready) {
                int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0) {
                        perror("mg-sentinel: ready file");
                        return 1;
                }
                close(fd);
        }

        sigemptyset(&none);
        while (!expired)
                sigsuspend(&none);
        return 0;
}
