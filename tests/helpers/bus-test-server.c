/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for memguardd on the bus, for tests/integration/test-bus.sh:
 * the real Bus (service/bus.c) with GLib embedded in sd-event, and BusOps
 * backed by real /proc reads: targets are validated for real (the process
 * exists, its owner, PID 1, kernel threads, this process, the bus daemon,
 * polkitd). It never freezes, kills or protects anything: it appends what it
 * would do to the --log file, which the test inspects. (The real actions are
 * wired into memguardd separately.)
 *
 * Control, for the test: write "SEQ COMMAND ARGS" lines to the --ctl file and
 * send SIGUSR1; each line is answered with "ctl SEQ ok|failed" in the log.
 *   level NAME            set the level (PressureLevelChanged, LowMemoryWarning)
 *   evict PID SECONDS     EvictionWarning to the owner's agents
 *   before-evict          LowMemoryWarning(255)
 *   storm N               N property changes, one per millisecond
 *   reload-fails 0|1      make Reload fail (or not)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "bus.h"
#include "fileio.h"
#include "glib-loop.h"
#include "log.h"

#define PF_KTHREAD 0x00200000
#define MAX_FROZEN 16
#define MAX_CANDIDATES 4096

typedef struct Server {
        sd_event *event;
        Bus *bus;
        FILE *log;
        const char *ctl_path;

        Level level;
        PressureResult pressure;
        bool reload_fails;

        BusFrozen frozen[MAX_FROZEN];
        char frozen_app[MAX_FROZEN][32];
        size_t n_frozen;
        pid_t fg_pid;
        char fg_app[256], fg_cgroup[256];

        BusCandidate cand[MAX_CANDIDATES];
        char cand_comm[MAX_CANDIDATES][32];
        char cand_exe[MAX_CANDIDATES][128];

        sd_event_source *storm;
        unsigned storm_left;
} Server;

static void record(Server *s, const char *fmt, ...) _printf_(2, 3);
static void record(Server *s, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vfprintf(s->log, fmt, ap);
        va_end(ap);
        fputc('\n', s->log);
        fflush(s->log);
}

/* /proc/PID/stat from the last ')': comm, flags, starttime. */
static int read_stat(pid_t pid, char comm[32], unsigned *ret_flags, uint64_t *ret_start)
{
        char path[64], buf[1024], *open_paren, *close_paren, *p;
        unsigned long long field[32] = {};
        int n = 3; /* fields after ')' start at 3 (state) */
        ssize_t len;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        len = read_file_at(AT_FDCWD, path, buf, sizeof(buf));
        if (len < 0)
                return len == -ENOENT ? -ESRCH : (int)len;
        open_paren = strchr(buf, '(');
        close_paren = strrchr(buf, ')');
        if (!open_paren || !close_paren || close_paren < open_paren)
                return -EBADMSG;
        snprintf(comm, 32, "%.*s", (int)MIN(close_paren - open_paren - 1, 31), open_paren + 1);
        p = close_paren + 2;
        p = strchr(p, ' '); /* skip state */
        while (p && n < 22) {
                n++;
                field[n] = strtoull(p + 1, &p, 10);
        }
        if (n < 22)
                return -EBADMSG;
        *ret_flags = (unsigned)field[9];
        *ret_start = field[22];
        return 0;
}

static int read_uid(pid_t pid, uid_t *ret)
{
        char path[64], buf[4096], *p;
        ssize_t len;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        len = read_file_at(AT_FDCWD, path, buf, sizeof(buf));
        if (len < 0)
                return len == -ENOENT ? -ESRCH : (int)len;
        p = strstr(buf, "\nUid:");
        if (!p)
                return -EBADMSG;
        *ret = (uid_t)strtoul(p + 5, NULL, 10);
        return 0;
}

static void get_state(void *userdata, BusState *ret)
{
        Server *s = userdata;

        *ret = (BusState){
                .level = s->level,
                .pressure = &s->pressure,
                .acting = true,
                .frozen = s->frozen,
                .n_frozen = s->n_frozen,
                .fg_pid = s->fg_pid,
                .fg_app_id = s->fg_app,
                .fg_cgroup = s->fg_cgroup,
        };
}

static int validate_target(void *userdata, BusAction action, pid_t pid, uid_t caller_uid, BusTarget *ret,
                           sd_bus_error *error)
{
        Server *s = userdata;
        char comm[32];
        unsigned flags;
        uint64_t start;
        uid_t uid;
        int r;

        r = read_stat(pid, comm, &flags, &start);
        if (r == -ESRCH)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "no process %d", (int)pid);
        if (r < 0)
                return r;
        if (pid == 1)
                return sd_bus_error_set(error, BUS_ERROR_NEVER_TARGET, "PID 1 is never a target");
        if (flags & PF_KTHREAD)
                return sd_bus_error_setf(error, BUS_ERROR_NEVER_TARGET, "%d (%s) is a kernel thread",
                                         (int)pid, comm);
        if (pid == getpid())
                return sd_bus_error_set(error, BUS_ERROR_NEVER_TARGET, "memguard never targets itself");
        if (bus_is_infrastructure_pid(s->bus, pid))
                return sd_bus_error_setf(error, BUS_ERROR_NEVER_TARGET, "%d (%s) is bus infrastructure",
                                         (int)pid, comm);
        r = read_uid(pid, &uid);
        if (r < 0)
                return r == -ESRCH ? sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "no process %d",
                                                       (int)pid)
                                   : r;
        *ret = (BusTarget){.pid = pid, .uid = uid, .start_time = start};
        return 0;
}

static int act(void *userdata, BusAction action, const BusTarget *t, uid_t caller_uid, sd_bus_error *error)
{
        Server *s = userdata;
        char comm[32] = "", reason[64];
        unsigned flags;
        uint64_t start;

        (void)read_stat(t->pid, comm, &flags, &start);
        record(s, "act %s pid=%d uid=%u caller=%u", bus_action_to_string(action), (int)t->pid,
               (unsigned)t->uid, (unsigned)caller_uid);
        snprintf(reason, sizeof(reason), "requested over D-Bus by uid %u", (unsigned)caller_uid);
        if (action == BUS_ACTION_FREEZE && s->n_frozen < MAX_FROZEN) {
                snprintf(s->frozen_app[s->n_frozen], sizeof(s->frozen_app[0]), "%s", comm);
                s->frozen[s->n_frozen] = (BusFrozen){
                        .pid = t->pid, .app = s->frozen_app[s->n_frozen], .uid = t->uid, .since_usec = 1};
                s->n_frozen++;
                (void)bus_emit_process_event(s->bus, BUS_EVENT_FROZEN, t->pid, comm, t->uid, reason);
        } else if (action == BUS_ACTION_THAW) {
                for (size_t i = 0; i < s->n_frozen; i++)
                        if (s->frozen[i].pid == t->pid) {
                                s->frozen[i] = s->frozen[--s->n_frozen];
                                memcpy(s->frozen_app[i], s->frozen_app[s->n_frozen],
                                       sizeof(s->frozen_app[0]));
                                s->frozen[i].app = s->frozen_app[i];
                                break;
                        }
                (void)bus_emit_process_event(s->bus, BUS_EVENT_THAWED, t->pid, comm, t->uid, reason);
        } else if (action == BUS_ACTION_KILL)
                (void)bus_emit_process_event(s->bus, BUS_EVENT_KILLED, t->pid, comm, t->uid, reason);
        return 0;
}

static int set_foreground(void *userdata, const BusTarget *t, const char *app_id, uid_t caller_uid,
                          sd_bus_error *error)
{
        Server *s = userdata;

        record(s, "foreground pid=%d app=%s caller=%u", (int)t->pid, app_id, (unsigned)caller_uid);
        s->fg_pid = t->pid;
        snprintf(s->fg_app, sizeof(s->fg_app), "%s", app_id);
        bus_properties_changed(s->bus, BUS_PROP_FOREGROUND);
        return 0;
}

static int respond_to_warning(void *userdata, const char *id, pid_t pid, BusWarningResponse response,
                              uid_t uid, sd_bus_error *error)
{
        static const char *const names[] = {"allow", "postpone", "protect"};

        record(userdata, "respond id=%s pid=%d response=%s uid=%u", id, (int)pid, names[response],
               (unsigned)uid);
        return 0;
}

static int reload(void *userdata, sd_bus_error *error)
{
        Server *s = userdata;

        if (s->reload_fails) {
                record(s, "reload refused");
                return sd_bus_error_set(error, BUS_ERROR_FAILED, "test.conf:1: [levels] high: not a number");
        }
        record(s, "reload");
        return 0;
}

/* The biggest processes, from /proc, most expendable (largest) first. */
static int list_candidates(void *userdata, const BusCandidate **ret, size_t *ret_n, sd_bus_error *error)
{
        Server *s = userdata;
        _cleanup_closedir_ DIR *d = opendir("/proc");
        struct dirent *de;
        size_t n = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d)) && n < MAX_CANDIDATES) {
                char path[64], buf[4096], *p;
                pid_t pid = (pid_t)atoi(de->d_name);
                unsigned flags;
                uint64_t start, rss_kb = 0;
                ssize_t len;
                uid_t uid;

                if (pid <= 1 || pid == getpid() || bus_is_infrastructure_pid(s->bus, pid))
                        continue;
                if (read_stat(pid, s->cand_comm[n], &flags, &start) < 0 || (flags & PF_KTHREAD))
                        continue;
                if (read_uid(pid, &uid) < 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
                len = read_file_at(AT_FDCWD, path, buf, sizeof(buf));
                if (len > 0 && (p = strstr(buf, "\nVmRSS:")))
                        rss_kb = strtoull(p + 7, NULL, 10);
                snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
                len = readlink(path, s->cand_exe[n], sizeof(s->cand_exe[n]) - 1);
                s->cand_exe[n][len > 0 ? len : 0] = 0;
                s->cand[n] = (BusCandidate){.pid = pid,
                                            .uid = uid,
                                            .comm = s->cand_comm[n],
                                            .exe = s->cand_exe[n],
                                            .rss_bytes = rss_kb * 1024,
                                            .priority = 50,
                                            .reason = "resident set size"};
                n++;
        }
        *ret = s->cand;
        *ret_n = n;
        return 0;
}

static int on_storm(sd_event_source *es, uint64_t usec, void *userdata)
{
        Server *s = userdata;

        s->pressure.score = (double)(s->storm_left % 100) / 100.0;
        bus_properties_changed(s->bus, BUS_PROP_PRESSURE_SCORE | BUS_PROP_SIGNALS);
        if (--s->storm_left == 0) {
                record(s, "storm done");
                return sd_event_source_set_enabled(es, SD_EVENT_OFF);
        }
        (void)sd_event_source_set_time_relative(es, USEC_PER_MSEC);
        return sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
}

static int run_command(Server *s, const char *cmd, const char *arg1, const char *arg2)
{
        if (strcmp(cmd, "level") == 0) {
                Level old = s->level, new = level_from_string(arg1);

                if (new < 0)
                        return -EINVAL;
                s->level = new;
                s->pressure.score = (double)new / 4.0;
                return bus_emit_level_changed(s->bus, old, new, s->pressure.score);
        }
        if (strcmp(cmd, "evict") == 0) {
                char id[BUS_WARNING_ID_MAX];
                BusTarget t;
                int r;

                r = validate_target(s, BUS_ACTION_FREEZE, (pid_t)atoi(arg1), 0, &t, NULL);
                if (r < 0)
                        return r;
                r = bus_emit_eviction_warning(s->bus, t.uid, t.pid, "test-app", BUS_ACTION_FREEZE,
                                              (uint32_t)atoi(arg2) * 1000, "memory pressure is critical",
                                              id);
                if (r >= 0)
                        record(s, "warned id=%s agents=%d", id, r);
                return r;
        }
        if (strcmp(cmd, "before-evict") == 0)
                return bus_lowmem_before_eviction(s->bus);
        if (strcmp(cmd, "storm") == 0) {
                s->storm_left = (unsigned)atoi(arg1);
                if (s->storm_left == 0)
                        return -EINVAL;
                if (!s->storm)
                        return sd_event_add_time_relative(s->event, &s->storm, CLOCK_MONOTONIC,
                                                          USEC_PER_MSEC, 1, on_storm, s);
                (void)sd_event_source_set_time_relative(s->storm, USEC_PER_MSEC);
                return sd_event_source_set_enabled(s->storm, SD_EVENT_ONESHOT);
        }
        if (strcmp(cmd, "reload-fails") == 0) {
                s->reload_fails = atoi(arg1) != 0;
                return 0;
        }
        return -EINVAL;
}

static int on_sigusr1(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata)
{
        Server *s = userdata;
        _cleanup_fclose_ FILE *f = fopen(s->ctl_path, "re");
        char line[256];

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                char seq[32] = "", cmd[32] = "", a1[64] = "", a2[64] = "";
                int r;

                if (sscanf(line, "%31s %31s %63s %63s", seq, cmd, a1, a2) < 2)
                        continue;
                r = run_command(s, cmd, a1, a2);
                record(s, "ctl %s %s", seq, r < 0 ? "failed" : "ok");
        }
        return 0;
}

static int on_exit_signal(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata)
{
        return sd_event_exit(sd_event_source_get_event(es), 0);
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                {"user", no_argument, NULL, 'u'},
                {"log", required_argument, NULL, 'l'},
                {"ctl", required_argument, NULL, 'c'},
                {"verbose", no_argument, NULL, 'v'},
                {},
        };
        _cleanup_(glib_loop_freep) GlibLoop *glib = NULL;
        _cleanup_(bus_freep) Bus *bus = NULL;
        static const BusOps ops = {
                .get_state = get_state,
                .list_candidates = list_candidates,
                .validate_target = validate_target,
                .act = act,
                .set_foreground = set_foreground,
                .respond_to_warning = respond_to_warning,
                .reload = reload,
        };
        static Server s; /* large (the candidate table): not on the stack */
        bool system_mode = true;
        const char *log_path = NULL;
        sigset_t mask;
        int c, r;

        s.level = LEVEL_NORMAL;
        s.log = stdout;
        log_setup(LOG_TARGET_CONSOLE);
        log_set_max_level(LOG_INFO);
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'u':
                        system_mode = false;
                        break;
                case 'l':
                        log_path = optarg;
                        break;
                case 'c':
                        s.ctl_path = optarg;
                        break;
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                default:
                        return 2;
                }
        if (log_path) {
                s.log = fopen(log_path, "ae");
                if (!s.log)
                        return log_error_errno(-errno, "cannot open %s: %m", log_path), 1;
        }
        s.pressure.has[SIGNAL_PSI] = true;
        s.pressure.mem_available_percent = 50;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGUSR1);
        sigprocmask(SIG_BLOCK, &mask, NULL);

        r = sd_event_default(&s.event);
        if (r < 0)
                return log_error_errno(r, "sd_event_default: %m"), 1;
        (void)sd_event_add_signal(s.event, NULL, SIGTERM, on_exit_signal, &s);
        (void)sd_event_add_signal(s.event, NULL, SIGINT, on_exit_signal, &s);
        if (s.ctl_path)
                (void)sd_event_add_signal(s.event, NULL, SIGUSR1, on_sigusr1, &s);

        r = glib_loop_attach(s.event, &glib);
        if (r < 0)
                return log_error_errno(r, "cannot embed GLib: %m"), 1;
        r = bus_new(s.event, system_mode, &ops, &s, &bus);
        if (r < 0)
                return log_error_errno(r, "cannot set up the bus: %m"), 1;
        s.bus = bus;
        record(&s, "started pid=%d mode=%s", (int)getpid(), system_mode ? "system" : "user");

        r = sd_event_loop(s.event);
        record(&s, "stopped");
        bus = bus_free(bus);
        s.storm = sd_event_source_disable_unref(s.storm);
        glib = glib_loop_free(glib);
        sd_event_unref(s.event);
        if (s.log != stdout)
                fclose(s.log);
        return r < 0 ? 1 : 0;
}
