/* SPDX-License-Identifier: MIT */
/*
 * Probes for memguardctl doctor.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup-util.h"
#include "doctor.h"
#include "fileio.h"
#include "macro.h"

#define SELF_CGROUP_MAX (64u * 1024)

static const char *const v1_controller_names[] = {
        "cpu",      "cpuacct", "cpuset",     "memory",  "devices", "freezer", "net_cls",
        "net_prio", "blkio",   "perf_event", "hugetlb", "pids",    "rdma",    "misc",
};

void cgroup_layout_done(CgroupLayout *l)
{
        free(l->v2_mount);
        l->v2_mount = NULL;
}

const char *cgroup_mode_to_string(CgroupMode m)
{
        switch (m) {
        case CGROUP_PURE_V2:
                return "pure v2";
        case CGROUP_HYBRID:
                return "hybrid";
        case CGROUP_V1_ONLY:
                return "v1 only";
        default:
                return "none";
        }
}

static bool is_v1_controller(const char *s, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(v1_controller_names); i++)
                if (strlen(v1_controller_names[i]) == len && memcmp(v1_controller_names[i], s, len) == 0)
                        return true;
        return false;
}

/* Add the controllers in a v1 mount's super options ("rw,cpu,cpuacct") to the list. */
static void add_v1_controllers(CgroupLayout *l, const char *opts, size_t len)
{
        const char *p = opts, *end = opts + len;

        while (p < end) {
                const char *comma = memchr(p, ',', (size_t)(end - p));
                size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
                size_t used = strlen(l->v1_controllers);

                if (is_v1_controller(p, n)) {
                        char word[32];

                        snprintf(word, sizeof(word), "%.*s", (int)n, p);
                        if (!word_list_contains(l->v1_controllers, word))
                                snprintf(l->v1_controllers + used, sizeof(l->v1_controllers) - used, "%s%s",
                                         used ? ", " : "", word);
                        if (strcmp(word, "memory") == 0)
                                l->v1_memory = true;
                }
                p += n + 1;
        }
}

/* The n-th blank-separated field of [p, end), 0-based. */
static bool field(const char *p, const char *end, unsigned n, const char **ret, size_t *ret_len)
{
        for (;;) {
                const char *s;

                while (p < end && *p == ' ')
                        p++;
                if (p >= end)
                        return false;
                s = p;
                while (p < end && *p != ' ')
                        p++;
                if (n-- == 0) {
                        *ret = s;
                        *ret_len = (size_t)(p - s);
                        return true;
                }
        }
}

int cgroup_layout_parse(const char *mountinfo, size_t len, CgroupLayout *ret)
{
        CgroupLayout l = {};
        const char *p = mountinfo, *end = mountinfo + len;
        int r;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
                const char *sep = NULL, *type, *opts;
                size_t type_len, opts_len;

                /* Optional fields end at " - "; what follows is: fstype source super-options. */
                for (const char *q = p; q + 3 <= eol; q++)
                        if (q[0] == ' ' && q[1] == '-' && q[2] == ' ') {
                                sep = q + 3;
                                break;
                        }
                if (sep && field(sep, eol, 0, &type, &type_len) && field(sep, eol, 2, &opts, &opts_len) &&
                    type_len == 6 && memcmp(type, "cgroup", 6) == 0)
                        add_v1_controllers(&l, opts, opts_len);
                p = eol + 1;
        }

        r = cg_v2_mount_parse(mountinfo, len, &l.v2_mount);
        if (r < 0 && r != -ENOENT)
                return r;
        if (l.v2_mount)
                l.mode = l.v1_controllers[0] ? CGROUP_HYBRID : CGROUP_PURE_V2;
        else
                l.mode = l.v1_controllers[0] ? CGROUP_V1_ONLY : CGROUP_NONE;
        *ret = l;
        return 0;
}

bool word_list_contains(const char *list, const char *word)
{
        size_t n = strlen(word);

        for (const char *p = list; p && *p;) {
                size_t len = strcspn(p, " ,\n\t");

                if (len == n && memcmp(p, word, n) == 0)
                        return true;
                p += len;
                p += strspn(p, " ,\n\t");
        }
        return false;
}

int kernel_version_parse(const char *release, unsigned *ret_major, unsigned *ret_minor)
{
        unsigned major, minor;
        char dot;

        if (!release || sscanf(release, "%u%c%u", &major, &dot, &minor) != 3 || dot != '.')
                return -EINVAL;
        *ret_major = major;
        *ret_minor = minor;
        return 0;
}

static bool is_cgroup_dir(const char *path)
{
        _cleanup_close_ int fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);

        return fd >= 0 && faccessat(fd, "cgroup.procs", F_OK, 0) == 0;
}

int v2_probe_cgroup(int procfd, const char *v2_mount, char **ret_path)
{
        _cleanup_free_ char *buf = NULL, *own = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        size_t len;

        if (read_full_file_at(procfd, "self/cgroup", SELF_CGROUP_MAX, &buf, &len) >= 0 &&
            cg_v2_path_parse(buf, len, &own) >= 0 && strcmp(own, "/") != 0 && !strstr(own, " (deleted)")) {
                char *path = xmalloc0(strlen(v2_mount) + strlen(own) + 1);

                strcpy(path, v2_mount);
                strcat(path, own);
                if (is_cgroup_dir(path)) {
                        *ret_path = path;
                        return 0;
                }
                free(path);
        }

        d = opendir(v2_mount);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char *path;

                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                path = xmalloc0(strlen(v2_mount) + strlen(de->d_name) + 2);
                strcpy(path, v2_mount);
                strcat(path, "/");
                strcat(path, de->d_name);
                if (is_cgroup_dir(path)) {
                        *ret_path = path;
                        return 0;
                }
                free(path);
        }
        return -ENOENT;
}

static uint64_t now_monotonic_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

/* Append to a buffer that keeps the tail. */
static void tail_append(char *out, size_t size, size_t *used, const char *data, size_t n)
{
        if (n >= size - 1) {
                data += n - (size - 1);
                n = size - 1;
        }
        if (*used + n > size - 1) {
                size_t drop = *used + n - (size - 1);

                memmove(out, out + drop, *used - drop);
                *used -= drop;
        }
        memcpy(out + *used, data, n);
        *used += n;
        out[*used] = 0;
}

int run_with_timeout(char *const argv[], uint64_t timeout_usec, char *out, size_t size)
{
        uint64_t deadline = now_monotonic_usec() + timeout_usec;
        _cleanup_close_ int rfd = -1;
        int pipefd[2], status, r = 0;
        size_t used = 0;
        pid_t pid;

        if (size == 0)
                return -EINVAL;
        out[0] = 0;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(pipefd[0]);
                safe_close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

                if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(pipefd[1], STDOUT_FILENO) < 0 ||
                    dup2(pipefd[1], STDERR_FILENO) < 0)
                        _exit(127);
                execv(argv[0], argv);
                _exit(127);
        }
        safe_close(pipefd[1]);
        rfd = pipefd[0];

        for (;;) {
                uint64_t now = now_monotonic_usec();
                struct pollfd pfd = {.fd = rfd, .events = POLLIN};
                char chunk[1024];
                ssize_t n;

                if (now >= deadline) {
                        r = -ETIME;
                        break;
                }
                n = poll(&pfd, 1, (int)MIN((deadline - now + 999) / 1000, (uint64_t)60000));
                if (n < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
                if (n <= 0)
                        continue;
                n = read(rfd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break; /* EOF: the child closed its output (usually: exited) */
                tail_append(out, size, &used, chunk, (size_t)n);
        }

        if (r == -ETIME)
                kill(pid, SIGKILL); /* the child we started */
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return r < 0 ? r : -errno;
        if (r < 0)
                return r;
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return WEXITSTATUS(status);
}

static bool executable_at(const char *dir, size_t dir_len, const char *name, char **ret_path)
{
        char *path = xmalloc0(dir_len + strlen(name) + 2);
        struct stat st;

        memcpy(path, dir, dir_len);
        path[dir_len] = '/';
        strcpy(path + dir_len + 1, name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0) {
                *ret_path = path;
                return true;
        }
        free(path);
        return false;
}

int find_executable(const char *name, char **ret_path)
{
        static const char sbin[] = "/usr/local/sbin:/usr/sbin:/sbin";
        const char *lists[] = {getenv("PATH"), sbin};

        for (size_t i = 0; i < ELEMENTSOF(lists); i++)
                for (const char *p = lists[i]; p && *p;) {
                        size_t len = strcspn(p, ":");

                        if (len > 0 && p[0] == '/' && executable_at(p, len, name, ret_path))
                                return 0;
                        p += len;
                        p += *p == ':';
                }
        return -ENOENT;
}
