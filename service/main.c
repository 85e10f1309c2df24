/* SPDX-License-Identifier: MIT */
/*
 * memguardd: argument parsing and wiring. The manager owns everything else.
 *
 * Exit codes (also in memguardd(8)):
 *   0  success (stopped by SIGTERM/SIGINT, or a one-shot command succeeded)
 *   1  runtime failure (cannot start the event loop, open /proc, ...)
 *   2  invalid command line (unknown option, --system without root, bad --scope)
 *   3  invalid configuration (--check-config)
 */
#include <getopt.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "build-config.h"
#include "config.h"
#include "log.h"
#include "candidates.h"
#include "freezer.h"
#include "manager.h"

enum {
        EXIT_RUNTIME = 1,
        EXIT_USAGE = 2,
        EXIT_CONFIG = 3,
};

typedef struct Args {
        int mode; /* -1 auto, 0 user, 1 system */
        const char *config;
        const char *scope;
        const char *state_dir;
        bool dry_run;
        bool check_config;
        bool list_candidates;
        bool json;
        bool thaw_all;
        int verbose;
} Args;

static void help(void)
{
        printf("Usage: memguardd [OPTIONS]\n"
               "\n"
               "Userspace memory-pressure manager: watches PSI, shields what you are working on,\n"
               "and acts on expendable processes before the kernel OOM killer or a frozen desktop.\n"
               "\n"
               "  --system          manage every process (needs root; default when run as root)\n"
               "  --user            manage only the calling user's processes (default otherwise)\n"
               "  --config PATH     read only this configuration file\n"
               "  --scope CGROUP    manage the processes of this cgroup v2 path (relative to the\n"
               "                    cgroup2 mount, or absolute) and watch its memory.pressure\n"
               "  --dry-run         decide and log, but never act on a process\n"
               "  --state-dir DIR   keep the frozen registry, event log and incidents in DIR\n"
               "  --check-config    validate the configuration and exit (0 valid, 3 invalid)\n"
               "  --list-candidates print the ranked candidates and exit (--json for JSON)\n"
               "  --thaw-all        thaw everything a memguardd left frozen, and exit\n"
               "  -v, --verbose     log debug output too (every sample)\n"
               "  --version         print the version and exit\n"
               "  -h, --help        print this help and exit\n"
               "\n"
               "It offers the org.memguard D-Bus API on the system bus (session bus in user mode);\n"
               "memguardctl(1) is its command-line client.\n"
               "\n"
               "See memguardd(8), memguard.conf(5) and org.memguard.Manager(5).\n");
}

static int parse_args(int argc, char **argv, Args *a)
{
        enum {
                ARG_SYSTEM = 0x100,
                ARG_USER,
                ARG_CONFIG,
                ARG_SCOPE,
                ARG_DRY_RUN,
                ARG_CHECK_CONFIG,
                ARG_VERSION,
                ARG_STATE_DIR,
                ARG_LIST_CANDIDATES,
                ARG_JSON,
                ARG_THAW_ALL,
        };
        static const struct option options[] = {
                { "system", no_argument, NULL, ARG_SYSTEM },
                { "user", no_argument, NULL, ARG_USER },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "scope", required_argument, NULL, ARG_SCOPE },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "list-candidates", no_argument, NULL, ARG_LIST_CANDIDATES },
                { "json", no_argument, NULL, ARG_JSON },
                { "thaw-all", no_argument, NULL, ARG_THAW_ALL },
                { "verbose", no_argument, NULL, 'v' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        *a = (Args){ .mode = -1 };
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hv", options, NULL)) >= 0) {
                switch (c) {
                case ARG_SYSTEM:
                case ARG_USER:
                        if (a->mode >= 0 && a->mode != (c == ARG_SYSTEM)) {
                                fprintf(stderr, "memguardd: --system and --user exclude each other\n");
                                return -EINVAL;
                        }
                        a->mode = c == ARG_SYSTEM;
                        break;
                case ARG_CONFIG:
                        if (!*optarg) {
                                fprintf(stderr, "memguardd: --config needs a path\n");
                                return -EINVAL;
                        }
                        a->config = optarg;
                        break;
                case ARG_SCOPE:
                        if (!*optarg) {
                                fprintf(stderr, "memguardd: --scope needs a cgroup path\n");
                                return -EINVAL;
                        }
                        a->scope = optarg;
                        break;
                case ARG_DRY_RUN:
                        a->dry_run = true;
                        break;
                case ARG_CHECK_CONFIG:
                        a->check_config = true;
                        break;
                case ARG_STATE_DIR:
                        if (optarg[0] != '/') {
                                fprintf(stderr, "memguardd: --state-dir needs an absolute path\n");
                                return -EINVAL;
                        }
                        a->state_dir = optarg;
                        break;
                case ARG_LIST_CANDIDATES:
                        a->list_candidates = true;
                        break;
                case ARG_JSON:
                        a->json = true;
                        break;
                case ARG_THAW_ALL:
                        a->thaw_all = true;
                        break;
                case 'v':
                        a->verbose++;
                        break;
                case ARG_VERSION:
                        printf("memguardd %s\n", VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                case ':':
                        fprintf(stderr, "memguardd: option %s needs an argument\n", argv[optind - 1]);
                        return -EINVAL;
                default:
                        fprintf(stderr, "memguardd: unknown option %s (see --help)\n", argv[optind - 1]);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "memguardd: unexpected argument '%s' (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        if (a->json && !a->list_candidates) {
                fprintf(stderr, "memguardd: --json only goes with --list-candidates\n");
                return -EINVAL;
        }
        if (a->check_config + a->list_candidates + a->thaw_all > 1) {
                fprintf(stderr, "memguardd: --check-config, --list-candidates and --thaw-all exclude each other\n");
                return -EINVAL;
        }
        return 1;
}

static int thaw_all(bool system_mode, const char *state_dir)
{
        _cleanup_free_ char *path = NULL;
        int r;

        r = manager_registry_path(system_mode, state_dir, &path);
        if (r < 0) {
                fprintf(stderr, "memguardd: no registry path (XDG_RUNTIME_DIR and HOME unset?)\n");
                return EXIT_RUNTIME;
        }
        r = freezer_load_and_thaw_all(path);
        if (r == -ENOENT) {
                printf("nothing to thaw (%s does not exist)\n", path);
                return 0;
        }
        if (r < 0) {
                fprintf(stderr, "memguardd: thawing from %s failed: %s\n", path, STRERROR(r));
                return EXIT_RUNTIME;
        }
        printf("thawed %d app(s) from %s\n", r, path);
        return 0;
}

static int check_config(bool system_mode, const char *path)
{
        _cleanup_free_ char *error = NULL;
        Config c;
        int r;

        r = config_load_all(system_mode, path, &c, &error);
        if (r < 0) {
                fprintf(stderr, "memguardd: %s\n", error ? error : "invalid configuration");
                return EXIT_CONFIG;
        }
        config_done(&c);
        printf("configuration is valid\n");
        return 0;
}

/*
 * The daemon must survive the pressure it manages: lock what it maps, and
 * keep freed heap memory (so allocations after warm-up touch pages that are
 * already locked in instead of faulting under pressure).
 */
static void harden_memory(void)
{
        mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
        mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
        if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0)
                log_warning_errno(-errno, "mlockall failed (RLIMIT_MEMLOCK or no CAP_IPC_LOCK?): the daemon "
                                          "may be paged out under pressure: %m");
}

/* One pidfd per managed process: raise the soft fd limit to the hard one. */
static void raise_fd_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char **argv)
{
        _cleanup_(manager_freep) Manager *m = NULL;
        ManagerOptions opts = {};
        Args a;
        int r;

        log_setup(LOG_TARGET_AUTO);

        r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;

        if (a.mode < 0)
                a.mode = geteuid() == 0;
        if (a.mode == 1 && geteuid() != 0 && !a.check_config) {
                fprintf(stderr, "memguardd: --system needs root (use --user to manage your own processes)\n");
                return EXIT_USAGE;
        }
        if (a.verbose)
                log_set_max_level(LOG_DEBUG);

        if (a.check_config)
                return check_config(a.mode == 1, a.config);
        if (a.thaw_all)
                return thaw_all(a.mode == 1, a.state_dir);

        opts = (ManagerOptions){
                .system_mode = a.mode == 1,
                .dry_run = a.dry_run,
                .verbose = a.verbose > 0,
                .config_path = a.config,
                .scope = a.scope,
                .state_dir = a.state_dir,
        };
        raise_fd_limit();

        r = manager_new(&opts, &m);
        if (r == -ENOENT || r == -EXDEV || r == -EINVAL || r == -ENOTDIR || r == -EACCES)
                return a.scope ? EXIT_USAGE : EXIT_RUNTIME;
        if (r < 0)
                return EXIT_RUNTIME;

        if (a.list_candidates) {
                /* One-shot: the table is the output; warnings and errors only, unless -v. */
                if (a.verbose == 0 && log_get_max_level() > LOG_WARNING)
                        log_set_max_level(LOG_WARNING);
                r = manager_plan(m, LEVEL_NORMAL);
                if (r < 0)
                        return EXIT_RUNTIME;
                return candidates_print(&m->plan, &m->table, a.json, stdout) < 0 ? EXIT_RUNTIME : 0;
        }

        harden_memory();

        r = manager_start(m);
        if (r < 0)
                return EXIT_RUNTIME;
        r = manager_run(m);
        return r < 0 ? EXIT_RUNTIME : 0;
}
