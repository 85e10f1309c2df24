/* SPDX-License-Identifier: MIT */
/*
 * memguardctl: the command-line client of memguard. Argument parsing and
 * dispatch; each command lives in its own file.
 */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "ctl.h"
#include "format.h"
#include "macro.h"

static void help(FILE *f)
{
        fprintf(f,
                "Usage: memguardctl [OPTIONS] COMMAND [ARGS]\n"
                "\n"
                "Control and inspect memguard, the memory-pressure manager.\n"
                "\n"
                "Commands:\n"
                "  status               pressure level, score, signals, mode and what memguard holds\n"
                "  frozen               the processes memguard keeps frozen\n"
                "  candidates           the processes memguard would act on, most expendable first\n"
                "  freeze TARGET        freeze the app of TARGET (a PID or an app name)\n"
                "  thaw TARGET          thaw it\n"
                "  kill TARGET          kill it (SIGTERM, then SIGKILL)\n"
                "  protect TARGET       never act on it (--remove: take it off the protect list)\n"
                "  reload               make memguard re-read its configuration\n"
                "  events               print memguard's events as they happen (-f: keep following)\n"
                "  doctor               what this machine supports, and what is degraded\n"
                "\n"
                "Options:\n"
                "  --system             talk to memguard on the system bus\n"
                "  --user               talk to memguard on the session bus\n"
                "  --json               print JSON instead of tables\n"
                "  -f, --follow         events: follow until interrupted\n"
                "  -i, --interactive    let polkit ask for a password (default when stdin is a terminal)\n"
                "  --no-ask-password    never let polkit ask for a password\n"
                "  --remove             protect: remove from the protect list\n"
                "  --version            print the version and exit\n"
                "  -h, --help           print this help and exit\n"
                "\n"
                "An app name matches a candidate's app id, unit or command name exactly.\n"
                "Without --system or --user, root looks on the system bus first and other users on\n"
                "the session bus first; the first bus where memguard runs is used.\n"
                "\n"
                "Exit codes: 0 ok, 1 failed, 2 usage or ambiguous name, 3 memguard not running,\n"
                "4 not authorized, 5 no such process, 6 never-target, 7 rate limited.\n"
                "See memguardctl(1) and org.memguard.Manager(5).\n");
}

typedef enum Command {
        CMD_STATUS,
        CMD_FROZEN,
        CMD_CANDIDATES,
        CMD_FREEZE,
        CMD_THAW,
        CMD_KILL,
        CMD_PROTECT,
        CMD_RELOAD,
        CMD_EVENTS,
        CMD_DOCTOR,
        _CMD_MAX,
} Command;

static const char *const command_names[_CMD_MAX] = {
        [CMD_STATUS] = "status",   [CMD_FROZEN] = "frozen", [CMD_CANDIDATES] = "candidates",
        [CMD_FREEZE] = "freeze",   [CMD_THAW] = "thaw",     [CMD_KILL] = "kill",
        [CMD_PROTECT] = "protect", [CMD_RELOAD] = "reload", [CMD_EVENTS] = "events",
        [CMD_DOCTOR] = "doctor",
};

typedef struct Args {
        bool follow_set, interactive_set, remove_set;
} Args;

/* Returns 1 to go on, 0 to exit successfully (--help, --version), -EINVAL on a usage error. */
static int parse_args(int argc, char **argv, Ctl *c, Args *a)
{
        enum {
                ARG_SYSTEM = 0x100,
                ARG_USER,
                ARG_JSON,
                ARG_NO_ASK_PASSWORD,
                ARG_REMOVE,
                ARG_VERSION,
        };
        static const struct option options[] = {{"system", no_argument, NULL, ARG_SYSTEM},
                                                {"user", no_argument, NULL, ARG_USER},
                                                {"json", no_argument, NULL, ARG_JSON},
                                                {"follow", no_argument, NULL, 'f'},
                                                {"interactive", no_argument, NULL, 'i'},
                                                {"no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD},
                                                {"remove", no_argument, NULL, ARG_REMOVE},
                                                {"version", no_argument, NULL, ARG_VERSION},
                                                {"help", no_argument, NULL, 'h'},
                                                {}};
        int opt;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":fih", options, NULL)) >= 0) {
                switch (opt) {
                case ARG_SYSTEM:
                case ARG_USER: {
                        BusChoice b = opt == ARG_SYSTEM ? BUS_SYSTEM : BUS_USER;

                        if (c->bus_choice != BUS_AUTO && c->bus_choice != b) {
                                ctl_fail(CTL_EXIT_USAGE, "--system and --user exclude each other");
                                return -EINVAL;
                        }
                        c->bus_choice = b;
                        break;
                }
                case ARG_JSON:
                        c->json = true;
                        break;
                case 'f':
                        c->follow = true;
                        a->follow_set = true;
                        break;
                case 'i':
                case ARG_NO_ASK_PASSWORD:
                        if (a->interactive_set && c->interactive != (opt == 'i')) {
                                ctl_fail(CTL_EXIT_USAGE,
                                         "--interactive and --no-ask-password exclude each other");
                                return -EINVAL;
                        }
                        c->interactive = opt == 'i';
                        a->interactive_set = true;
                        break;
                case ARG_REMOVE:
                        c->remove = true;
                        a->remove_set = true;
                        break;
                case ARG_VERSION:
                        printf("memguardctl %s\n", VERSION);
                        return 0;
                case 'h':
                        help(stdout);
                        return 0;
                case ':':
                        ctl_fail(CTL_EXIT_USAGE, "option %s needs an argument", argv[optind - 1]);
                        return -EINVAL;
                default:
                        if (optopt && optopt < 0x100)
                                ctl_fail(CTL_EXIT_USAGE, "unknown option -%c (see --help)", optopt);
                        else
                                ctl_fail(CTL_EXIT_USAGE, "unknown option %s (see --help)", argv[optind - 1]);
                        return -EINVAL;
                }
        }
        return 1;
}

/* Options that only some commands take. */
static int check_option_scope(Command cmd, const Args *a)
{
        if (a->follow_set && cmd != CMD_EVENTS) {
                ctl_fail(CTL_EXIT_USAGE, "--follow only applies to events");
                return -EINVAL;
        }
        if (a->interactive_set && cmd != CMD_FREEZE && cmd != CMD_THAW && cmd != CMD_KILL &&
            cmd != CMD_PROTECT) {
                ctl_fail(CTL_EXIT_USAGE,
                         "--interactive and --no-ask-password only apply to freeze, thaw, kill and protect");
                return -EINVAL;
        }
        if (a->remove_set && cmd != CMD_PROTECT) {
                ctl_fail(CTL_EXIT_USAGE, "--remove only applies to protect");
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char **argv)
{
        Ctl c = {.bus_choice = BUS_AUTO, .interactive = -1};
        Args a = {};
        Command cmd = _CMD_MAX;
        CtlExit x;
        int r;

        setlocale(LC_ALL, "");
        setlocale(LC_NUMERIC, "C"); /* numbers in tables and JSON always use '.' */
        /* Short, exact enough doubles ("0.03", not "0.029999999999999999"). */
        json_c_set_serialization_double_format("%.15g", JSON_C_OPTION_GLOBAL);
        r = parse_args(argc, argv, &c, &a);
        if (r <= 0)
                return r == 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
        if (optind >= argc) {
                help(stderr);
                return CTL_EXIT_USAGE;
        }
        for (Command i = 0; i < _CMD_MAX; i++)
                if (strcmp(argv[optind], command_names[i]) == 0)
                        cmd = i;
        if (cmd == _CMD_MAX) {
                _cleanup_free_ char *safe = text_sanitize(argv[optind]);

                return ctl_fail(CTL_EXIT_USAGE, "unknown command '%s' (see --help)", safe);
        }
        if (check_option_scope(cmd, &a) < 0)
                return CTL_EXIT_USAGE;

        argc -= optind + 1;
        argv += optind + 1;
        switch (cmd) {
        case CMD_STATUS:
                x = cmd_status(&c, argc, argv);
                break;
        case CMD_FROZEN:
                x = cmd_frozen(&c, argc, argv);
                break;
        case CMD_CANDIDATES:
                x = cmd_candidates(&c, argc, argv);
                break;
        case CMD_FREEZE:
        case CMD_THAW:
        case CMD_KILL:
        case CMD_PROTECT:
                x = cmd_action(&c, command_names[cmd], argc, argv);
                break;
        case CMD_RELOAD:
                x = cmd_reload(&c, argc, argv);
                break;
        case CMD_EVENTS:
                x = cmd_events(&c, argc, argv);
                break;
        default:
                x = cmd_doctor(&c, argc, argv);
        }
        ctl_disconnect(&c);
        return x;
}
