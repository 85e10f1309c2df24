/* SPDX-License-Identifier: MIT */
/*
 * memguardctl doctor: what this machine offers memguard, and what is
 * degraded or missing. Works without a running daemon; nothing is created
 * or changed (the PSI triggers it tries are closed at once).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "ctl.h"
#include "doctor.h"
#include "fileio.h"
#include "format.h"
#include "macro.h"
#include "meminfo.h"
#include "psi.h"
#include "zram.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_mrelease
#define SYS_process_mrelease 448
#endif

#define CRIU_CHECK_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define DOCTOR_BUS_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define CAP_IPC_LOCK_BIT 14

typedef enum DocStatus {
        DOC_OK,
        DOC_DEGRADED,
        DOC_MISSING,
} DocStatus;

static const char *const doc_status_names[] = {"ok", "degraded", "missing"};

typedef struct Doctor {
        json_object *items;
        Table *table;
        int procfd;
        int sysfd;
        unsigned kmajor, kminor;
        CgroupLayout cg;
        char controllers[512];     /* root v2 cgroup.controllers */
        char subtree_control[512]; /* root v2 cgroup.subtree_control */
        sd_bus *bus[2];            /* [0] system, [1] session; NULL if unreachable */
        int bus_error[2];
} Doctor;

static void item(Doctor *d, const char *name, DocStatus s, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void item(Doctor *d, const char *name, DocStatus s, const char *fmt, ...)
{
        json_object *o = json_object_new_object();
        char detail[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);

        json_object_object_add(o, "item", json_object_new_string(name));
        json_object_object_add(o, "status", json_object_new_string(doc_status_names[s]));
        json_object_object_add(o, "detail", json_string_safe(detail));
        json_object_array_add(d->items, o);
        table_add_row(d->table, (const char *const[]){name, doc_status_names[s], detail});
}

static bool kernel_at_least(const Doctor *d, unsigned major, unsigned minor)
{
        return d->kmajor > major || (d->kmajor == major && d->kminor >= minor);
}

static void check_kernel(Doctor *d)
{
        struct utsname u;

        if (uname(&u) < 0) {
                item(d, "kernel", DOC_DEGRADED, "uname failed: %s", strerror(errno));
                return;
        }
        (void)kernel_version_parse(u.release, &d->kmajor, &d->kminor);
        item(d, "kernel", kernel_at_least(d, 5, 2) ? DOC_OK : DOC_DEGRADED, "Linux %s (%s)%s", u.release,
             u.machine, kernel_at_least(d, 5, 2) ? "" : ": before 5.2, many features below are missing");
}

static void check_psi(Doctor *d)
{
        uint64_t window = 0;
        PsiStats s;
        int fd, r;

        r = psi_read_at(d->procfd, "pressure/memory", &s);
        if (r < 0) {
                item(d, "psi", DOC_MISSING, "%s",
                     r == -ENOENT       ? "no /proc/pressure/memory: kernel without CONFIG_PSI (Linux 4.20+)"
                     : r == -EOPNOTSUPP ? "PSI is disabled: boot with psi=1"
                                        : strerror(-r));
                item(d, "psi-triggers", DOC_MISSING, "no PSI");
                return;
        }
        item(d, "psi", DOC_OK, "/proc/pressure/memory: some avg10 %.2f %%, full avg10 %.2f %%", s.some.avg10,
             s.full.present ? s.full.avg10 : 0.0);

        /* 2 s windows: what unprivileged callers get on Linux 6.4+. */
        fd = psi_trigger_open_at(d->procfd, "pressure/memory", PSI_SOME, 150 * USEC_PER_MSEC,
                                 2 * USEC_PER_SEC, NULL, NULL);
        if (fd < 0) {
                item(d, "psi-triggers", DOC_MISSING, "a 2 s trigger was refused: %s%s", strerror(-fd),
                     fd == -EPERM || fd == -EACCES
                             ? " (unprivileged triggers need Linux 6.4+ or CAP_SYS_RESOURCE)"
                             : "");
                return;
        }
        safe_close(fd);
        /* 1 s windows need CAP_SYS_RESOURCE; psi_trigger_open_at() falls back to 2 s when refused. */
        fd = psi_trigger_open_at(d->procfd, "pressure/memory", PSI_SOME, 100 * USEC_PER_MSEC, USEC_PER_SEC,
                                 NULL, &window);
        safe_close(fd);
        if (fd >= 0 && window == USEC_PER_SEC)
                item(d, "psi-triggers", DOC_OK, "1 s and 2 s windows accepted");
        else
                item(d, "psi-triggers", DOC_DEGRADED,
                     "1 s windows refused: needs CAP_SYS_RESOURCE, memguard uses 2 s");
}

static void read_root_lists(Doctor *d)
{
        _cleanup_close_ int fd = -1;

        if (!d->cg.v2_mount)
                return;
        fd = open(d->cg.v2_mount, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        if (read_file_at(fd, "cgroup.controllers", d->controllers, sizeof(d->controllers)) < 0)
                d->controllers[0] = 0;
        if (read_file_at(fd, "cgroup.subtree_control", d->subtree_control, sizeof(d->subtree_control)) < 0)
                d->subtree_control[0] = 0;
        d->controllers[strcspn(d->controllers, "\n")] = 0;
        d->subtree_control[strcspn(d->subtree_control, "\n")] = 0;
}

static void check_cgroups(Doctor *d)
{
        _cleanup_free_ char *mountinfo = NULL;
        size_t len;
        int r;

        r = read_full_file_at(d->procfd, "self/mountinfo", 16u * 1024 * 1024, &mountinfo, &len);
        if (r >= 0)
                r = cgroup_layout_parse(mountinfo, len, &d->cg);
        if (r < 0) {
                item(d, "cgroup-mode", DOC_MISSING, "cannot read /proc/self/mountinfo: %s", strerror(-r));
                item(d, "cgroup-controllers", DOC_MISSING, "unknown");
                return;
        }
        switch (d->cg.mode) {
        case CGROUP_PURE_V2:
                item(d, "cgroup-mode", DOC_OK, "pure v2 (cgroup2 at %s)", d->cg.v2_mount);
                break;
        case CGROUP_HYBRID:
                item(d, "cgroup-mode", DOC_DEGRADED, "hybrid (cgroup2 at %s; v1 controllers: %s)",
                     d->cg.v2_mount, d->cg.v1_controllers);
                break;
        case CGROUP_V1_ONLY:
                item(d, "cgroup-mode", DOC_DEGRADED,
                     "v1 only (controllers: %s): no cgroup.freeze, cgroup.kill or cgroup memory.pressure",
                     d->cg.v1_controllers);
                break;
        default:
                item(d, "cgroup-mode", DOC_MISSING, "none (no cgroup filesystem mounted)");
        }
        if (!d->cg.v2_mount) {
                item(d, "cgroup-controllers", DOC_MISSING, "no cgroup2 mount");
                return;
        }
        read_root_lists(d);
        item(d, "cgroup-controllers",
             word_list_contains(d->controllers, "memory") && word_list_contains(d->controllers, "cpu")
                     ? DOC_OK
                     : DOC_DEGRADED,
             "available at the v2 root: %s; enabled for children: %s%s",
             *d->controllers ? d->controllers : "none", *d->subtree_control ? d->subtree_control : "none",
             word_list_contains(d->controllers, "memory")
                     ? ""
                     : " (memory is not on v2: no memory.high or memory.reclaim)");
}

/* A cgroup v2 interface file found in a non-root cgroup, or inferred from the kernel version. */
static void check_cgroup_file(Doctor *d, const char *name, const char *file, unsigned major, unsigned minor,
                              const char *without)
{
        _cleanup_free_ char *probe = NULL;
        _cleanup_close_ int fd = -1;

        if (!d->cg.v2_mount) {
                item(d, name, DOC_DEGRADED, "no cgroup v2: %s", without);
                return;
        }
        if (v2_probe_cgroup(d->procfd, d->cg.v2_mount, &probe) < 0) {
                bool has = kernel_at_least(d, major, minor);

                item(d, name, has ? DOC_OK : DOC_DEGRADED,
                     "no non-root cgroup to look in; Linux %u.%u %s %s (%u.%u+)%s%s", d->kmajor, d->kminor,
                     has ? "has" : "lacks", file, major, minor, has ? "" : ": ", has ? "" : without);
                return;
        }
        fd = open(probe, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && faccessat(fd, file, F_OK, 0) == 0)
                item(d, name, DOC_OK, "%s present (in %s)", file, probe);
        else
                item(d, name, DOC_DEGRADED, "no %s in %s (Linux %u.%u+): %s", file, probe, major, minor,
                     without);
}

static void check_memory_controls(Doctor *d)
{
        bool memory = word_list_contains(d->controllers, "memory");
        _cleanup_close_ int fd = -1;
        const char *why = !d->cg.v2_mount   ? "no cgroup v2"
                          : d->cg.v1_memory ? "the memory controller is bound to cgroup v1"
                                            : "the memory controller is not available on cgroup v2";

        if (!memory) {
                item(d, "memory-reclaim", DOC_MISSING, "%s: no proactive reclaim", why);
                item(d, "memory-high", DOC_MISSING, "%s: memguard cannot cap background apps' memory", why);
                return;
        }
        fd = open(d->cg.v2_mount, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && faccessat(fd, "memory.reclaim", F_OK, 0) == 0)
                item(d, "memory-reclaim", DOC_OK, "memory.reclaim present%s",
                     geteuid() == 0 ? "" : " (writing it needs the cgroup's owner)");
        else
                item(d, "memory-reclaim", DOC_MISSING,
                     "no memory.reclaim (Linux 5.19+): no proactive reclaim");
        item(d, "memory-high", DOC_OK, "memory controller on cgroup v2%s",
             word_list_contains(d->subtree_control, "memory") ? ", enabled for children"
                                                              : " (not yet enabled for children)");
}

static void check_syscalls(Doctor *d)
{
        long fd = syscall(SYS_pidfd_open, (long)getpid(), 0L);

        if (fd >= 0) {
                close((int)fd);
                item(d, "pidfd", DOC_OK, "pidfd_open works");
        } else
                item(d, "pidfd", DOC_MISSING, "pidfd_open: %s%s", strerror(errno),
                     errno == ENOSYS ? " (Linux 5.3+): memguard cannot act on processes safely" : "");

        /* An invalid fd: EBADF if the syscall exists, ENOSYS if not. Nothing is released. */
        if (syscall(SYS_process_mrelease, -1L, 0L) < 0 && errno == EBADF)
                item(d, "process-mrelease", DOC_OK, "process_mrelease present");
        else
                item(d, "process-mrelease", DOC_DEGRADED,
                     "process_mrelease: %s%s: a killed app's memory is freed only as it exits",
                     strerror(errno), errno == ENOSYS ? " (Linux 5.15+)" : "");
}

static void check_zram_and_swap(Doctor *d)
{
        _cleanup_closedir_ DIR *dir = NULL;
        unsigned devices = 0;
        ZramStats z;
        MemInfo mi;
        int n;

        if (d->sysfd >= 0) {
                int fd = openat(d->sysfd, "block", O_DIRECTORY | O_RDONLY | O_CLOEXEC);

                if (fd >= 0 && (dir = fdopendir(fd)))
                        for (struct dirent *de; (de = readdir(dir));)
                                devices += strncmp(de->d_name, "zram", 4) == 0;
                else
                        safe_close(fd);
        }
        n = d->sysfd >= 0 ? zram_read_all_at(d->sysfd, &z) : -EBADF;
        if (n > 0) {
                char orig[32], used[32];

                format_bytes(orig, sizeof(orig), z.orig_data_size);
                format_bytes(used, sizeof(used), z.mem_used_total);
                item(d, "zram", DOC_OK, "%u device(s), %d set up: %s stored in %s", devices, n, orig, used);
        } else if (n == 0 && devices > 0)
                item(d, "zram", DOC_DEGRADED, "%u device(s), none set up (no compressed swap)", devices);
        else if (n < 0 && n != -ENOENT)
                item(d, "zram", DOC_DEGRADED, "cannot read zram statistics: %s", strerror(-n));
        else
                item(d, "zram", DOC_MISSING, "no zram devices (modprobe zram)");

        if (meminfo_read_at(d->procfd, &mi) < 0)
                item(d, "swap", DOC_DEGRADED, "cannot read /proc/meminfo");
        else if (mi.swap_total == 0)
                item(d, "swap", DOC_DEGRADED, "no swap: only freezing and killing relieve anonymous memory");
        else {
                char total[32], free_[32];

                format_bytes(total, sizeof(total), mi.swap_total);
                format_bytes(free_, sizeof(free_), mi.swap_free);
                item(d, "swap", DOC_OK, "%s, %s free", total, free_);
        }
}

static void check_criu(Doctor *d)
{
        _cleanup_free_ char *path = NULL;
        char out[4096], *last;
        int r;

        if (find_executable("criu", &path) < 0) {
                item(d, "criu", DOC_MISSING, "criu not installed: checkpoints fall back to killing");
                return;
        }
        if (geteuid() != 0) {
                item(d, "criu", DOC_DEGRADED, "%s found; `criu check` needs root, not run", path);
                return;
        }
        r = run_with_timeout((char *const[]){path, (char *)"check", NULL}, CRIU_CHECK_TIMEOUT_USEC, out,
                             sizeof(out));
        /* The last non-empty line says the most. */
        while (*out && out[strlen(out) - 1] == '\n')
                out[strlen(out) - 1] = 0;
        last = strrchr(out, '\n');
        last = last ? last + 1 : out;
        if (r == 0)
                item(d, "criu", DOC_OK, "%s: criu check: %s", path, *last ? last : "ok");
        else if (r == -ETIME)
                item(d, "criu", DOC_DEGRADED, "%s: criu check did not finish within 10 s", path);
        else if (r < 0)
                item(d, "criu", DOC_DEGRADED, "%s: cannot run criu check: %s", path, strerror(-r));
        else
                item(d, "criu", DOC_DEGRADED,
                     "%s: criu check failed (exit %d): %s; checkpoints fall back to killing", path, r,
                     *last ? last : "no output");
}

static void check_polkit(Doctor *d)
{
        static const char *const paths[] = {
                "/usr/lib/polkit-1/polkitd", "/usr/libexec/polkitd",         "/usr/libexec/polkit-1/polkitd",
                "/usr/lib/polkit/polkitd",   "/usr/lib/policykit-1/polkitd",
        };
        const char *path = NULL;
        sd_bus *sys = d->bus[0];

        for (size_t i = 0; i < ELEMENTSOF(paths) && !path; i++)
                if (access(paths[i], X_OK) == 0)
                        path = paths[i];
        if (!path) {
                item(d, "polkit", DOC_MISSING,
                     "polkitd not installed: a system-mode memguard refuses privileged calls from users");
                return;
        }
        if (!sys)
                item(d, "polkit", DOC_DEGRADED, "%s installed; no system bus to find it on", path);
        else if (bus_name_has_owner(sys, "org.freedesktop.PolicyKit1") > 0)
                item(d, "polkit", DOC_OK, "%s running on the system bus", path);
        else if (bus_name_activatable(sys, "org.freedesktop.PolicyKit1") > 0)
                item(d, "polkit", DOC_OK, "%s activatable on the system bus", path);
        else
                item(d, "polkit", DOC_DEGRADED,
                     "%s installed but not on the system bus: privileged calls will be refused", path);
}

static void open_buses(Doctor *d)
{
        for (int i = 0; i < 2; i++) {
                int r = bus_open(i == 0, &d->bus[i]);

                if (r < 0) {
                        d->bus[i] = NULL;
                        d->bus_error[i] = r;
                } else
                        (void)sd_bus_set_method_call_timeout(d->bus[i], DOCTOR_BUS_TIMEOUT_USEC);
        }
}

static void check_buses(Doctor *d)
{
        static const char *const names[] = {"system-bus", "session-bus"};
        int running = -1;

        for (int i = 0; i < 2; i++) {
                const char *address = NULL;
                int r;

                if (!d->bus[i]) {
                        item(d, names[i], DOC_MISSING, "not reachable: %s",
                             d->bus_error[i] == -ENOMEDIUM
                                     ? "no address (DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR unset)"
                                     : strerror(-d->bus_error[i]));
                        continue;
                }
                (void)sd_bus_get_address(d->bus[i], &address);
                r = bus_name_has_owner(d->bus[i], MEMGUARD_BUS_NAME);
                if (r < 0)
                        item(d, names[i], DOC_DEGRADED, "connected to %s, but the bus does not answer: %s",
                             strna(address), strerror(-r));
                else
                        item(d, names[i], DOC_OK, "reachable at %s; org.memguard %s", strna(address),
                             r > 0 ? "owned" : "not owned");
                if (r > 0 && running < 0)
                        running = i;
        }

        if (running < 0) {
                item(d, "memguard", DOC_MISSING, "not running on the system or session bus");
                return;
        }
        {
                _cleanup_free_ char *version = NULL, *mode = NULL;
                int dry = 0;

                (void)bus_memguard_summary(d->bus[running], &version, &mode, &dry);
                item(d, "memguard", DOC_OK, "running on the %s bus: version %s, %s mode%s",
                     running == 0 ? "system" : "session", version ? version : "unknown",
                     mode ? mode : "unknown", dry ? ", dry run" : "");
        }
}

static void check_memlock(Doctor *d)
{
        char status[8192], limit[32];
        struct rlimit rl;
        bool cap = false;
        const char *p;

        if (read_file_at(d->procfd, "self/status", status, sizeof(status)) >= 0 &&
            (p = strstr(status, "\nCapEff:"))) {
                unsigned long long eff = strtoull(p + 8, NULL, 16);

                cap = (eff >> CAP_IPC_LOCK_BIT) & 1;
        }
        if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0) {
                item(d, "memlock", DOC_DEGRADED, "getrlimit: %s", strerror(errno));
                return;
        }
        if (rl.rlim_cur == RLIM_INFINITY)
                snprintf(limit, sizeof(limit), "unlimited");
        else
                format_bytes(limit, sizeof(limit), (uint64_t)rl.rlim_cur);
        if (cap || rl.rlim_cur == RLIM_INFINITY)
                item(d, "memlock", DOC_OK, "RLIMIT_MEMLOCK %s%s: mlockall can pin memguard in memory", limit,
                     cap ? ", CAP_IPC_LOCK" : "");
        else
                item(d, "memlock", DOC_DEGRADED,
                     "RLIMIT_MEMLOCK %s, no CAP_IPC_LOCK: mlockall may fail here, and memguard may be paged "
                     "out "
                     "under pressure (the system unit has CAP_IPC_LOCK)",
                     limit);
}

CtlExit cmd_doctor(Ctl *c, int argc, char **argv)
{
        Doctor d = {.procfd = -1, .sysfd = -1};

        if (argc > 0)
                return ctl_fail(CTL_EXIT_USAGE, "doctor takes no arguments (see --help)");
        d.procfd = open("/proc", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (d.procfd < 0)
                return ctl_fail(CTL_EXIT_FAILED, "cannot open /proc: %s", strerror(errno));
        d.sysfd = open("/sys", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        d.items = json_object_new_array();
        d.table = table_new(3, (const char *const[]){"ITEM", "STATUS", "DETAIL"}, NULL);
        open_buses(&d);

        check_kernel(&d);
        check_psi(&d);
        check_cgroups(&d);
        check_cgroup_file(&d, "freezer", "cgroup.freeze", 5, 2, "memguard freezes with SIGSTOP");
        check_cgroup_file(&d, "cgroup-kill", "cgroup.kill", 5, 14, "memguard kills process by process");
        check_memory_controls(&d);
        check_syscalls(&d);
        check_zram_and_swap(&d);
        check_criu(&d);
        check_polkit(&d);
        check_buses(&d);
        check_memlock(&d);

        if (c->json)
                json_print(d.items, false);
        else
                table_print(d.table, stdout);

        json_object_put(d.items);
        table_free(d.table);
        cgroup_layout_done(&d.cg);
        for (int i = 0; i < 2; i++)
                sd_bus_flush_close_unref(d.bus[i]);
        safe_close(d.sysfd);
        safe_close(d.procfd);
        return CTL_EXIT_OK;
}
