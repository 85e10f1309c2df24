/* SPDX-License-Identifier: MIT */
/*
 * Reading the BPF task iterator (see proc-bpf.h). The program is embedded
 * as a libbpf skeleton generated at build time (proc-iter.skel.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

#define LOAD_LOG_SIZE (64 * 1024) /* the verifier's log of a refused program; truncated beyond */

struct ProcBpf {
        int link_fd;         /* the attached iterators; libbpf's objects are freed once they exist */
        int full_link_fd[2]; /* even and odd pids; -1 where the kernel refused the full (sleepable) ones */
        bool pid_ino_ok;  /* the iterator's pid_ino is what fstat() of a pidfd says (checked on ourselves) */
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
        safe_close(b->full_link_fd[0]);
        safe_close(b->full_link_fd[1]);
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

typedef struct ReadBuf {
        int link_fd;
        char **buf;
        size_t *size;
        bool mapped; /* *buf is an mmap()ed region (grown with mremap), not malloc()ed */
        size_t len;
        int r;
} ReadBuf;

/* Room for at least 64 KiB more in rb's buffer. */
static void grow(ReadBuf *rb)
{
        size_t ns = MAX(*rb->size * 2, (size_t)128 << 10); /* a few hundred processes fit; doubled as needed */
        void *nb;

        if (rb->mapped) {
                nb = *rb->buf ? mremap(*rb->buf, *rb->size, ns, MREMAP_MAYMOVE)
                              : mmap(NULL, ns, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (nb == MAP_FAILED)
                        abort();
        } else {
                nb = realloc(*rb->buf, ns);
                if (!nb)
                        abort();
        }
        *rb->buf = nb;
        *rb->size = ns;
}

/* Read one iterator to its end into *rb->buf (grown as needed); rb->r: 0 or -errno. */
static void *read_all(void *userdata)
{
        ReadBuf *rb = userdata;
        _cleanup_close_ int fd = -1;

        rb->len = 0;
        rb->r = 0;
        fd = bpf_iter_create(rb->link_fd);
        if (fd < 0) {
                rb->r = -errno;
                return NULL;
        }
        for (;;) {
                ssize_t n;

                if (*rb->size - rb->len < 64 * 1024)
                        grow(rb);
                n = read(fd, *rb->buf + rb->len, *rb->size - rb->len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* EAGAIN: the iterator restarted (a task exited under it); read again. */
                        rb->r = -errno;
                        return NULL;
                }
                if (n == 0)
                        break;
                rb->len += (size_t)n;
        }
        return NULL;
}

/*
 * Both halves of a full snapshot, at once where there is more than one CPU:
 * copying command lines is most of a full snapshot's cost, and the halves
 * are independent. Without a second thread (one CPU, or pthread_create
 * failing) they are read one after the other. The second half goes to an
 * mmap()ed buffer: the thread never calls malloc, so glibc makes no arena
 * for it that would keep its memory (the daemon keeps freed heap memory for
 * later, see harden_memory(), but a full snapshot comes once).
 */
static int read_halves(const ProcBpf *b, ProcSnapshot *snap, ReadBuf rb[2])
{
        pthread_t th;
        bool threaded;

        rb[0] = (ReadBuf){ .link_fd = b->full_link_fd[0], .buf = &snap->buf, .size = &snap->buf_size };
        rb[1] = (ReadBuf){ .link_fd = b->full_link_fd[1], .buf = &snap->buf2, .size = &snap->buf2_size,
                           .mapped = true };
        threaded = sysconf(_SC_NPROCESSORS_ONLN) > 1 && pthread_create(&th, NULL, read_all, &rb[1]) == 0;
        read_all(&rb[0]);
        if (threaded)
                (void)pthread_join(th, NULL);
        else
                read_all(&rb[1]);
        return rb[0].r < 0 ? rb[0].r : rb[1].r;
}

bool proc_bpf_can_full(const ProcBpf *b)
{
        return b && b->full_link_fd[0] >= 0 && b->full_link_fd[1] >= 0;
}

/* One record into *s; false to skip it. The strings stay in the snapshot's buffer. */
static bool entry_from_record(const ProcBpf *b, const struct proc_iter_record *rec, const char *strings,
                              ProcSnapshotEntry *s)
{
        if (rec->pid <= 0)
                return false;
        *s = (ProcSnapshotEntry){
                .pid = rec->pid,
                .uid = rec->uid,
                .exec_id = rec->exec_id,
                .cgroup_id = rec->cgroup_id,
                .oom_score_adj = rec->oom_score_adj,
                .has_mm = rec->has_mm,
                .pid_ino = b->pid_ino_ok ? rec->pid_ino : 0,
        };
        memcpy(s->stat.comm, rec->comm, PROC_ITER_COMM_LEN);
        s->stat.comm[PROC_ITER_COMM_LEN - 1] = 0;
        s->stat.state = state_letter(rec->state, rec->exit_state);
        s->stat.ppid = rec->ppid;
        s->stat.flags = rec->flags;
        s->stat.threads = rec->threads;
        s->stat.start_time = rec->start_boottime / b->ns_per_tick;
        if (rec->has_mm) {
                /* percpu counters can read slightly negative: as status, clamp at 0. */
#define PAGES(x) ((int64_t)(x) > 0 ? (uint64_t)(x) * b->page_size : 0)
                s->rss_file = PAGES(rec->file_pages);
                s->rss_anon = PAGES(rec->anon_pages);
                s->swap = PAGES(rec->swap_pages);
                s->rss_shmem = PAGES(rec->shmem_pages);
#undef PAGES
                s->pgtables = (int64_t)rec->pgtables_bytes > 0 ? rec->pgtables_bytes : 0;
        }
        s->exe_key = rec->exe_key;
        s->has_exe = !rec->has_mm; /* kernel threads and zombies: no exe, as readlink fails on them */
        s->exe_ino = rec->exe_ino;
        s->exe_dev = makedev(rec->exe_dev >> 20, rec->exe_dev & 0xfffff); /* the kernel's dev_t: 12:20 */
        if (rec->details & PROC_ITER_CMDLINE) {
                s->has_cmdline = true;
                s->cmdline_title = rec->details & PROC_ITER_TITLE;
                s->cmdline = strings;
                s->cmdline_len = rec->cmdline_len;
        }
        return true;
}

/* Check one stream of records and list where each starts (the offsets, in pid order). */
static int index_records(const char *buf, size_t len, bool full, size_t *offs, size_t *ret_n)
{
        size_t off = 0, n = 0;

        while (off < len) {
                struct proc_iter_record rec;
                size_t extra;

                if (len - off < sizeof(rec))
                        return -EBADMSG;
                memcpy(&rec, buf + off, sizeof(rec));
                extra = ((size_t)rec.cmdline_len + 7) & ~(size_t)7;
                if (!full && extra > 0)
                        return -EBADMSG;
                if (extra > PROC_ITER_STR_MAX + 8 || len - off - sizeof(rec) < extra)
                        return -EBADMSG;
                offs[n++] = off;
                off += sizeof(rec) + extra;
        }
        *ret_n = n;
        return 0;
}

static pid_t record_pid(const char *buf, size_t off)
{
        struct proc_iter_record rec;

        memcpy(&rec, buf + off, sizeof(rec));
        return rec.pid;
}

int proc_bpf_snapshot(ProcBpf *b, bool full, ProcSnapshot *snap)
{
        _cleanup_free_ size_t *all_offs = NULL;
        size_t *offs[2], cap[2];
        const char *bufs[2];
        size_t n[2] = {}, i[2] = {}, max_n;
        struct sysinfo si;
        ReadBuf rb[2] = {};
        int r;

        if (!b || !snap)
                return -EINVAL;
        full = full && proc_bpf_can_full(b);
        snap->n = 0;
        if (full)
                r = read_halves(b, snap, rb);
        else {
                rb[0] = (ReadBuf){ .link_fd = b->link_fd, .buf = &snap->buf, .size = &snap->buf_size };
                read_all(&rb[0]);
                r = rb[0].r;
        }
        if (r < 0)
                return r;
        bufs[0] = snap->buf;
        bufs[1] = snap->buf2;
        cap[0] = rb[0].len / sizeof(struct proc_iter_record);
        cap[1] = rb[1].len / sizeof(struct proc_iter_record);
        all_offs = reallocarray(NULL, cap[0] + cap[1] + 1, sizeof(size_t));
        if (!all_offs)
                abort();
        offs[0] = all_offs;
        offs[1] = all_offs + cap[0];
        for (int h = 0; h < 2; h++) {
                r = index_records(bufs[h], rb[h].len, full, offs[h], &n[h]);
                if (r < 0)
                        return r;
        }
        max_n = n[0] + n[1];
        if (snap->allocated < max_n) {
                ProcSnapshotEntry *ne = reallocarray(snap->entries, max_n, sizeof(ProcSnapshotEntry));
                if (!ne)
                        abort();
                snap->entries = ne;
                snap->allocated = max_n;
        }
        if (sysinfo(&si) < 0)
                return -errno;
        snap->total_pages = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit / b->page_size;

        /* Merge the halves by pid (each goes by pid; a restart may repeat one). */
        while (i[0] < n[0] || i[1] < n[1]) {
                int h = i[1] >= n[1] ? 0
                        : i[0] >= n[0] ? 1
                        : record_pid(bufs[0], offs[0][i[0]]) <= record_pid(bufs[1], offs[1][i[1]]) ? 0 : 1;
                const char *at = bufs[h] + offs[h][i[h]++];
                struct proc_iter_record rec;

                memcpy(&rec, at, sizeof(rec));
                if ((snap->n == 0 || snap->entries[snap->n - 1].pid < rec.pid) &&
                    entry_from_record(b, &rec, at + sizeof(rec), &snap->entries[snap->n]))
                        snap->n++;
        }
        return 0;
}

/*
 * Does the iterator see the PIDs procfd shows? Not in another PID namespace.
 * And is its pid_ino the inode number a pidfd of the same process has? Not
 * on 32-bit kernels (pidfs splits it there) or where pidfd_open is missing:
 * then pid_ino is dropped from snapshots and entries keep pidfds instead.
 */
static int check_self(ProcBpf *b, int procfd)
{
        _cleanup_(proc_snapshot_done) ProcSnapshot snap = {};
        _cleanup_close_ int dfd = -1, pidfd = -1;
        pid_t self = getpid();
        struct stat sb;
        ProcStat st;
        int r;

        b->pid_ino_ok = true; /* read it, to check it */
        r = proc_bpf_snapshot(b, false, &snap);
        b->pid_ino_ok = false;
        if (r < 0)
                return r;
        dfd = proc_open_pid_dir(procfd, self);
        if (dfd < 0)
                return dfd;
        r = proc_read_stat_at(dfd, &st);
        if (r < 0)
                return r;
        for (size_t i = 0; i < snap.n; i++) {
                const ProcSnapshotEntry *e = &snap.entries[i];

                if (e->pid != self)
                        continue;
                if (e->stat.start_time != st.start_time)
                        return -EXDEV;
                pidfd = proc_pidfd_open(self);
                b->pid_ino_ok = e->pid_ino != 0 && pidfd >= 0 && fstat(pidfd, &sb) == 0 &&
                                (uint64_t)sb.st_ino == e->pid_ino;
                return 0;
        }
        return -EXDEV;
}

/*
 * Open and load the skeleton, with the full iterators if the kernel takes
 * them. A refused program makes libbpf load it again to get the verifier's
 * log, into a 16 MiB buffer of its own unless it is given one: this one.
 */
static struct proc_iter *open_skel(char *log, size_t log_size)
{
        LIBBPF_OPTS(bpf_object_open_opts, opts, .kernel_log_buf = log, .kernel_log_size = log_size);

        return proc_iter__open_opts(&opts);
}

static struct proc_iter *load(bool *ret_full)
{
        _cleanup_free_ char *log = malloc(LOAD_LOG_SIZE);
        struct proc_iter *skel;

        if (!log)
                abort();
        skel = open_skel(log, LOAD_LOG_SIZE);
        if (!skel)
                return NULL;
        if (proc_iter__load(skel) == 0) {
                *ret_full = true;
                return skel;
        }
        proc_iter__destroy(skel);
        /* Older kernels lack sleepable iterators or bpf_copy_from_user_task:
         * the light iterator alone still serves refreshes. */
        skel = open_skel(log, LOAD_LOG_SIZE);
        if (!skel)
                return NULL;
        (void)bpf_program__set_autoload(skel->progs.proc_iter_full_even, false);
        (void)bpf_program__set_autoload(skel->progs.proc_iter_full_odd, false);
        if (proc_iter__load(skel) < 0) {
                int r = -errno;
                proc_iter__destroy(skel);
                errno = -r;
                return NULL;
        }
        *ret_full = false;
        return skel;
}

static int dup_link(struct bpf_link *l)
{
        int fd = l ? fcntl(bpf_link__fd(l), F_DUPFD_CLOEXEC, 3) : -1;
        return fd < 0 ? -errno : fd;
}

int proc_bpf_new(int procfd, ProcBpf **ret)
{
        struct proc_iter *skel;
        ProcBpf *b;
        bool full = false;
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
        b->link_fd = b->full_link_fd[0] = b->full_link_fd[1] = -1;

        skel = load(&full);
        if (!skel) {
                r = -errno;
                proc_bpf_free(b);
                return r < 0 ? r : -EINVAL;
        }
        skel->links.proc_iter = bpf_program__attach_iter(skel->progs.proc_iter, NULL);
        r = skel->links.proc_iter ? 0 : -errno;
        if (r >= 0) {
                /* Keep only the links: a dup of a link's fd holds the attached
                 * iterator in the kernel; libbpf's objects (the kernel's BTF parsed
                 * for the relocations among them) would otherwise stay in memory. */
                b->link_fd = r = dup_link(skel->links.proc_iter);
                if (r >= 0 && full) { /* optional */
                        skel->links.proc_iter_full_even = bpf_program__attach_iter(skel->progs.proc_iter_full_even, NULL);
                        skel->links.proc_iter_full_odd = bpf_program__attach_iter(skel->progs.proc_iter_full_odd, NULL);
                        b->full_link_fd[0] = dup_link(skel->links.proc_iter_full_even);
                        b->full_link_fd[1] = dup_link(skel->links.proc_iter_full_odd);
                }
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

int proc_bpf_snapshot(ProcBpf *b, bool full, ProcSnapshot *snap)
{
        return -EOPNOTSUPP;
}

bool proc_bpf_can_full(const ProcBpf *b)
{
        return false;
}

#endif
