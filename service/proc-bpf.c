/* SPDX-License-Identifier: MIT */
/*
 * Reading the BPF task iterator (see proc-bpf.h). The program is embedded
 * as a libbpf skeleton generated at build time (proc-iter.skel.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "build-config.h"
#include "log.h"
#include "macro.h"
#include "proc-bpf.h"
#include "proc-internal.h"

#if HAVE_BPF

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/proc-iter.h"
#include "proc-iter.skel.h"

struct ProcBpf {
        int link_fd; /* the attached iterator; libbpf's objects are freed once it exists */
        char *buf;
        size_t buf_size;
        uint64_t page_size;
        uint64_t ns_per_tick;
};

bool proc_bpf_built(void)
{
        return true;
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
        /* libbpf explains a failed load at length on stderr; the caller logs one line. */
        if (level == LIBBPF_WARN && log_get_max_level() >= LOG_DEBUG)
                return vfprintf(stderr, fmt, ap);
        return 0;
}

ProcBpf *proc_bpf_free(ProcBpf *b)
{
        if (!b)
                return NULL;
        safe_close(b->link_fd);
        free(b->buf);
        free(b);
        return NULL;
}

/* /proc/TASK_COMM_LEN-style state letter from __state and exit_state (fs/proc/array.c). */
static char state_letter(uint32_t state, uint32_t exit_state)
{
        static const char letters[] = "RSDTtXZPI";
        uint32_t s = (state & 0x7f) | exit_state; /* TASK_REPORT */
        unsigned idx = 0;

        if ((state & 0x402) == 0x402) /* TASK_IDLE */
                return 'I';
        while (s) {
                idx++;
                s >>= 1;
        }
        return idx < sizeof(letters) - 1 ? letters[idx] : '?';
}

static int read_all(ProcBpf *b, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;
        size_t len = 0;

        fd = bpf_iter_create(b->link_fd);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;

                if (b->buf_size - len < 64 * 1024) {
                        size_t ns = MAX(b->buf_size * 2, (size_t)1 << 20);
                        char *nb = realloc(b->buf, ns);
                        if (!nb)
                                abort();
                        b->buf = nb;
                        b->buf_size = ns;
                }
                n = read(fd, b->buf + len, b->buf_size - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* EAGAIN: the iterator restarted (a task exited under it); read again. */
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        *ret_len = len;
        return 0;
}

int proc_bpf_snapshot(ProcBpf *b, ProcSnapshot *snap)
{
        struct sysinfo si;
        size_t len = 0, n;
        int r;

        if (!b || !snap)
                return -EINVAL;
        r = read_all(b, &len);
        if (r < 0)
                return r;
        if (len % sizeof(struct proc_iter_record) != 0)
                return -EBADMSG;
        n = len / sizeof(struct proc_iter_record);

        snap->n = 0;
        if (snap->allocated < n) {
                ProcSnapshotEntry *ne = reallocarray(snap->entries, n, sizeof(ProcSnapshotEntry));
                if (!ne)
                        abort();
                snap->entries = ne;
                snap->allocated = n;
        }
        if (sysinfo(&si) < 0)
                return -errno;
        snap->total_pages = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit / b->page_size;

        for (size_t i = 0; i < n; i++) {
                struct proc_iter_record rec;
                ProcSnapshotEntry *s;

                memcpy(&rec, b->buf + i * sizeof(rec), sizeof(rec));
                if (rec.pid <= 0 || (snap->n > 0 && snap->entries[snap->n - 1].pid >= rec.pid))
                        continue; /* the iterator goes by pid; a restart may repeat one */
                s = &snap->entries[snap->n++];
                *s = (ProcSnapshotEntry){
                        .pid = rec.pid,
                        .uid = rec.uid,
                        .exec_id = rec.exec_id,
                        .cgroup_id = rec.cgroup_id,
                        .oom_score_adj = rec.oom_score_adj,
                        .has_mm = rec.has_mm,
                };
                memcpy(s->stat.comm, rec.comm, PROC_ITER_COMM_LEN);
                s->stat.comm[PROC_ITER_COMM_LEN - 1] = 0;
                s->stat.state = state_letter(rec.state, rec.exit_state);
                s->stat.ppid = rec.ppid;
                s->stat.flags = rec.flags;
                s->stat.threads = rec.threads;
                s->stat.start_time = rec.start_boottime / b->ns_per_tick;
                if (rec.has_mm) {
                        /* percpu counters can read slightly negative: as status, clamp at 0. */
#define PAGES(x) ((int64_t)(x) > 0 ? (uint64_t)(x) * b->page_size : 0)
                        s->rss_file = PAGES(rec.file_pages);
                        s->rss_anon = PAGES(rec.anon_pages);
                        s->swap = PAGES(rec.swap_pages);
                        s->rss_shmem = PAGES(rec.shmem_pages);
#undef PAGES
                        s->pgtables = (int64_t)rec.pgtables_bytes > 0 ? rec.pgtables_bytes : 0;
                }
        }
        return 0;
}

/* Does the iterator see the PIDs procfd shows? Not in another PID namespace. */
static int check_self(ProcBpf *b, int procfd)
{
        _cleanup_(proc_snapshot_done) ProcSnapshot snap = {};
        _cleanup_close_ int dfd = -1;
        pid_t self = getpid();
        ProcStat st;
        int r;

        r = proc_bpf_snapshot(b, &snap);
        if (r < 0)
                return r;
        dfd = proc_open_pid_dir(procfd, self);
        if (dfd < 0)
                return dfd;
        r = proc_read_stat_at(dfd, &st);
        if (r < 0)
                return r;
        for (size_t i = 0; i < snap.n; i++)
                if (snap.entries[i].pid == self)
                        return snap.entries[i].stat.start_time == st.start_time ? 0 : -EXDEV;
        return -EXDEV;
}

int proc_bpf_new(int procfd, ProcBpf **ret)
{
        struct proc_iter *skel;
        ProcBpf *b;
        long hz, ps;
        int r;

        if (!ret)
                return -EINVAL;
        hz = sysconf(_SC_CLK_TCK);
        ps = sysconf(_SC_PAGESIZE);
        if (hz <= 0 || hz > 1000000000L || ps <= 0)
                return -EINVAL;

        libbpf_set_print(silent_print);
        b = calloc(1, sizeof(*b));
        if (!b)
                abort();
        b->page_size = (uint64_t)ps;
        b->ns_per_tick = 1000000000ULL / (uint64_t)hz;

        b->link_fd = -1;
        skel = proc_iter__open_and_load();
        if (!skel) {
                r = -errno;
                proc_bpf_free(b);
                return r < 0 ? r : -EINVAL;
        }
        r = proc_iter__attach(skel);
        if (r >= 0) {
                /* Keep only the link: a dup of its fd holds the attached iterator
                 * in the kernel; libbpf's objects (the kernel's BTF parsed for the
                 * relocations among them) would otherwise stay in memory. */
                b->link_fd = fcntl(bpf_link__fd(skel->links.proc_iter), F_DUPFD_CLOEXEC, 3);
                r = b->link_fd < 0 ? -errno : 0;
        }
        proc_iter__destroy(skel);
        (void)malloc_trim(0); /* give the freed heap back */
        if (r < 0) {
                proc_bpf_free(b);
                return r;
        }
        r = check_self(b, procfd);
        if (r < 0) {
                proc_bpf_free(b);
                return r;
        }
        *ret = b;
        return 0;
}

#else /* !HAVE_BPF */

struct ProcBpf {
        int unused;
};

bool proc_bpf_built(void)
{
        return false;
}

int proc_bpf_new(int procfd, ProcBpf **ret)
{
        return -EOPNOTSUPP;
}

ProcBpf *proc_bpf_free(ProcBpf *b)
{
        return NULL;
}

int proc_bpf_snapshot(ProcBpf *b, ProcSnapshot *snap)
{
        return -EOPNOTSUPP;
}

#endif
