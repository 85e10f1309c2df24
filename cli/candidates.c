/* SPDX-License-Identifier: MIT */
/*
 * memguardctl candidates, and freeze/thaw/kill/protect on a PID or an app name.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "format.h"
#include "macro.h"
#include "target.h"

/* How long an interactive call may wait for the user to answer polkit's password prompt. */
#define INTERACTIVE_TIMEOUT_USEC (5 * 60 * USEC_PER_SEC)

typedef struct CandidateList {
        Candidate *items;
        size_t n;
} CandidateList;

static void candidate_list_done(CandidateList *l)
{
        candidates_free(l->items, l->n);
        *l = (CandidateList){};
}

/* ListCandidates into `l`. On a bus error, `e` says why. */
static int list_candidates(Ctl *c, sd_bus_error *e, CandidateList *l)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(candidate_list_done) CandidateList out = {};
        size_t allocated = 0;
        int r;

        r = ctl_call(c, "ListCandidates", e, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(uussssttubs)");
        if (r < 0)
                return r;
        for (;;) {
                const char *comm, *exe, *unit, *app, *reason;
                Candidate *x;
                int prot;

                if (out.n == allocated) {
                        allocated = allocated ? allocated * 2 : 64;
                        out.items = realloc(out.items, allocated * sizeof(Candidate));
                        if (!out.items)
                                abort();
                }
                x = &out.items[out.n];
                r = sd_bus_message_read(reply, "(uussssttubs)", &x->pid, &x->uid, &comm, &exe, &unit, &app,
                                        &x->rss_bytes, &x->swap_bytes, &x->priority, &prot, &reason);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                x->comm = xstrdup(comm);
                x->exe = xstrdup(exe);
                x->unit = xstrdup(unit);
                x->app = xstrdup(app);
                x->reason = xstrdup(reason);
                x->protected_ = prot;
                out.n++;
        }
        *l = out;
        out = (CandidateList){};
        return 0;
}

static json_object *candidate_json(const Candidate *x, size_t rank)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "rank", json_object_new_int64((int64_t)rank));
        json_object_object_add(o, "pid", json_object_new_int64(x->pid));
        json_object_object_add(o, "uid", json_object_new_int64(x->uid));
        json_object_object_add(o, "comm", json_object_new_string(x->comm));
        json_object_object_add(o, "exe", json_object_new_string(x->exe));
        json_object_object_add(o, "unit", json_object_new_string(x->unit));
        json_object_object_add(o, "app", json_object_new_string(x->app));
        json_object_object_add(o, "rss_bytes", json_object_new_uint64(x->rss_bytes));
        json_object_object_add(o, "swap_bytes", json_object_new_uint64(x->swap_bytes));
        json_object_object_add(o, "priority", json_object_new_int64(x->priority));
        json_object_object_add(o, "protected", json_object_new_boolean(x->protected_));
        json_object_object_add(o, "reason", json_object_new_string(x->reason));
        return o;
}

static void candidates_print(const Candidate *items, const size_t *which, size_t n, FILE *f)
{
        _cleanup_table_ Table *t =
                table_new(10,
                          (const char *const[]){"RANK", "PID", "UID", "COMM", "APP", "RSS", "SWAP", "PRIO",
                                                "PROTECTED", "REASON"},
                          (const bool[]){true, true, true, false, false, true, true, true, false, false});

        for (size_t k = 0; k < n; k++) {
                size_t i = which ? which[k] : k;
                const Candidate *x = &items[i];
                char rank[16], pid[16], uid[16], rss[32], swap[32], prio[16];
                const char *app = *x->app ? x->app : *x->unit ? x->unit : "-";

                snprintf(rank, sizeof(rank), "%zu", i + 1);
                snprintf(pid, sizeof(pid), "%" PRIu32, x->pid);
                snprintf(uid, sizeof(uid), "%" PRIu32, x->uid);
                format_bytes(rss, sizeof(rss), x->rss_bytes);
                format_bytes(swap, sizeof(swap), x->swap_bytes);
                snprintf(prio, sizeof(prio), "%" PRIu32, x->priority);
                table_add_row(t, (const char *const[]){rank, pid, uid, x->comm, app, rss, swap, prio,
                                                       x->protected_ ? "yes" : "", x->reason});
        }
        table_print(t, f);
}

CtlExit cmd_candidates(Ctl *c, int argc, char **argv)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(candidate_list_done) CandidateList l = {};
        CtlExit x;
        int r;

        if (argc > 0)
                return ctl_fail(CTL_EXIT_USAGE, "candidates takes no arguments (see --help)");
        x = ctl_connect(c);
        if (x != CTL_EXIT_OK)
                return x;
        r = list_candidates(c, &e, &l);
        if (r < 0)
                return ctl_bus_error(c, &e, r, "list the candidates");

        if (c->json) {
                _cleanup_json_ json_object *array = json_object_new_array();

                for (size_t i = 0; i < l.n; i++)
                        json_object_array_add(array, candidate_json(&l.items[i], i + 1));
                json_print(array, false);
        } else if (l.n == 0)
                printf("No candidates.\n");
        else
                candidates_print(l.items, NULL, l.n, stdout);
        return CTL_EXIT_OK;
}

/* Resolve TARGET to a PID; `label` gets "pid 1234" or "firefox (pid 1234)". */
static CtlExit resolve_target(Ctl *c, const char *verb, const char *arg, uint32_t *ret_pid, char *label,
                              size_t size)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(candidate_list_done) CandidateList l = {};
        _cleanup_free_ size_t *matches = NULL;
        _cleanup_free_ char *safe = text_sanitize(arg);
        size_t index, n_matches = 0;
        char what[256];
        int r;

        r = target_parse_pid(arg, ret_pid);
        if (r > 0) {
                snprintf(label, size, "pid %" PRIu32, *ret_pid);
                return CTL_EXIT_OK;
        }

        snprintf(what, sizeof(what), "look up '%s' to %s it", safe, verb);
        r = list_candidates(c, &e, &l);
        if (r < 0)
                return ctl_bus_error(c, &e, r, what);
        r = target_match(l.items, l.n, arg, &index, &matches, &n_matches);
        if (r == -ENOENT)
                return ctl_fail(
                        CTL_EXIT_NO_PROCESS,
                        "no process matches '%s' (app id, unit or command name; see memguardctl candidates)",
                        safe);
        if (r == -ENOTUNIQ) {
                ctl_fail(CTL_EXIT_USAGE,
                         "'%s' is ambiguous: it matches %zu processes of different apps; give a PID:", safe,
                         n_matches);
                candidates_print(l.items, matches, n_matches, stderr);
                return CTL_EXIT_USAGE;
        }
        if (r < 0)
                return ctl_fail(CTL_EXIT_USAGE, "invalid app name '%s'", safe);
        *ret_pid = l.items[index].pid;
        snprintf(label, size, "%s (pid %" PRIu32 ")", safe, *ret_pid);
        return CTL_EXIT_OK;
}

static int dry_run(Ctl *c)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r, b;

        r = ctl_get_property(c, "DryRun", &e, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "v", "b", &b);
        return r < 0 ? r : !!b;
}

CtlExit cmd_action(Ctl *c, const char *verb, int argc, char **argv)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        bool protect = strcmp(verb, "protect") == 0;
        bool interactive = c->interactive < 0 ? isatty(STDIN_FILENO) : c->interactive;
        const char *method = strcmp(verb, "freeze") == 0 ? "Freeze"
                             : strcmp(verb, "thaw") == 0 ? "Thaw"
                             : strcmp(verb, "kill") == 0 ? "Kill"
                                                         : "Protect";
        char label[512], what[600];
        pid_t agent = 0;
        uint32_t pid;
        CtlExit x;
        int r;

        if (argc != 1)
                return ctl_fail(CTL_EXIT_USAGE, "%s needs exactly one PID or app name (see --help)", verb);
        if (!*argv[0] || target_parse_pid(argv[0], &pid) < 0) {
                _cleanup_free_ char *safe = text_sanitize(argv[0]);

                return ctl_fail(CTL_EXIT_USAGE, "invalid PID or app name '%s'", safe);
        }
        x = ctl_connect(c);
        if (x != CTL_EXIT_OK)
                return x;
        x = resolve_target(c, protect && c->remove ? "unprotect" : verb, argv[0], &pid, label,
                           sizeof(label));
        if (x != CTL_EXIT_OK)
                return x;

        if (protect && c->remove)
                snprintf(what, sizeof(what), "remove %s from the protect list", label);
        else
                snprintf(what, sizeof(what), "%s %s", verb, label);

        r = sd_bus_message_new_method_call(c->bus, &m, MEMGUARD_BUS_NAME, MEMGUARD_OBJECT,
                                           MEMGUARD_INTERFACE, method);
        if (r >= 0)
                r = sd_bus_message_append(m, "u", pid);
        if (r >= 0 && protect)
                r = sd_bus_message_append(m, "b", (int)!c->remove);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 1, "interactive", "b", (int)interactive);
        if (r >= 0)
                r = sd_bus_message_set_allow_interactive_authorization(m, interactive);
        if (r < 0)
                return ctl_fail(CTL_EXIT_FAILED, "cannot build the %s call: %s", method, STRERROR(r));

        /* On the system bus polkit may ask for a password: give it a way to ask on this terminal. */
        if (interactive && c->on_system)
                agent = polkit_agent_open(c->bus);
        r = sd_bus_call(c->bus, m, interactive ? INTERACTIVE_TIMEOUT_USEC : 0, &e, &reply);
        polkit_agent_close(agent);
        if (r < 0)
                return ctl_bus_error(c, &e, r, what);

        if (!protect && dry_run(c) > 0)
                ctl_fail(CTL_EXIT_OK,
                         "memguard runs in dry-run mode: it logged the request to %s but did not act", what);
        return CTL_EXIT_OK;
}
