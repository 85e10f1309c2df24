/* SPDX-License-Identifier: MIT OR GPL-2.0 */
/*
 * BPF task iterators that write one struct proc_iter_record per process:
 * what /proc/PID/stat, status and oom_score_adj say, for every process, in
 * one read(2) instead of three file reads per process (proc-bpf.c).
 * proc_iter writes the records alone (refreshes: most processes are known);
 * proc_iter_full_even and _odd, sleepable iterators, add what /proc/PID/cmdline
 * says (cold scans: every process is new), each for half of them, and which
 * file /proc/PID/exe names (exe_key), not its path: see proc-iter.h.
 *
 * The kernel types are declared here with only the fields used, marked
 * preserve_access_index: libbpf relocates each field access against the
 * running kernel's BTF (CO-RE), so no vmlinux.h is needed at build time.
 * Layouts that changed between kernels have ___old flavours.
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "proc-iter.h"

#define CORE __attribute__((preserve_access_index))

struct kernfs_node {
        __u64 id;
} CORE;
struct cgroup {
        struct kernfs_node *kn;
} CORE;
struct css_set {
        struct cgroup *dfl_cgrp;
} CORE;
typedef struct {
        long counter;
} atomic_long_t;
struct percpu_counter {
        __s64 count;
} CORE;
struct super_block {
        __u32 s_dev;
} CORE;
struct inode {
        unsigned long i_ino;
        __u32 i_generation;
        struct super_block *i_sb;
} CORE;
struct hlist_bl_node {
        struct hlist_bl_node *next, **pprev;
} CORE;
struct qstr {
        __u64 hash_len; /* the name's hash and length */
        const unsigned char *name;
} CORE;
struct dentry {
        struct hlist_bl_node d_hash;
        struct dentry *d_parent;
        struct qstr d_name;
} CORE;
struct path {
        void *mnt;
        struct dentry *dentry;
} CORE;
struct file {
        struct path f_path;
        struct inode *f_inode;
} CORE;
struct mm_struct {
        struct percpu_counter rss_stat[4]; /* since 6.2 */
        atomic_long_t pgtables_bytes;
        struct file *exe_file;
        unsigned long arg_start, arg_end, env_start, env_end;
} CORE;
struct mm_rss_stat {
        atomic_long_t count[4];
} CORE;
struct mm_struct___old {
        struct mm_rss_stat rss_stat; /* before 6.2 */
} CORE;
struct signal_struct {
        int nr_threads;
        short oom_score_adj;
} CORE;
typedef struct {
        __u32 val;
} kuid_t;
struct cred {
        kuid_t uid;
} CORE;
struct pid {
        __u64 ino; /* since 6.9: pidfs inode number */
} CORE;
struct task_struct {
        unsigned int __state;
        int exit_state;
        unsigned int flags;
        int pid;
        int tgid;
        __u64 start_boottime;
        struct task_struct *real_parent;
        struct mm_struct *mm;
        struct signal_struct *signal;
        const struct cred *real_cred;
        struct css_set *cgroups;
        char comm[16];
        __u32 self_exec_id;
        struct pid *thread_pid;
} CORE;
struct task_struct___old {
        long state; /* before 5.14 */
} CORE;
struct seq_file;
struct bpf_iter_meta {
        struct seq_file *seq;
} CORE;
struct bpf_iter__task {
        struct bpf_iter_meta *meta;
        struct task_struct *task;
} CORE;

/*
 * Fields are read by direct loads through the task's BTF pointer (the
 * verifier turns them into fault-safe loads: a NULL or freed pointer reads
 * as 0) rather than BPF_CORE_READ's bpf_probe_read_kernel() calls: about half
 * the cost per process. Either way libbpf relocates the offsets (CO-RE).
 */

/* The mm counters' order: MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES. */
static __always_inline void read_mm(struct mm_struct *mm, struct proc_iter_record *r)
{
        if (bpf_core_type_exists(struct mm_rss_stat)) {
                struct mm_struct___old *old = (void *)mm;

                r->file_pages = old->rss_stat.count[0].counter;
                r->anon_pages = old->rss_stat.count[1].counter;
                r->swap_pages = old->rss_stat.count[2].counter;
                r->shmem_pages = old->rss_stat.count[3].counter;
        } else {
                r->file_pages = mm->rss_stat[0].count;
                r->anon_pages = mm->rss_stat[1].count;
                r->swap_pages = mm->rss_stat[2].count;
                r->shmem_pages = mm->rss_stat[3].count;
        }
        r->pgtables_bytes = mm->pgtables_bytes.counter;
}

static __always_inline __u64 mix(__u64 h, __u64 x)
{
        h = (h ^ x) * 0x9e3779b97f4a7c15ULL;
        return h ^ (h >> 29);
}

/*
 * Which file the exe link names: enough to tell two paths apart without
 * reading either (d_path cannot be called on it, see proc-iter.h). The same
 * dentry on the same mount is the same path, unless it was renamed (its
 * parent, name and name hash are in the key, not those of its ancestors) or unlinked
 * (d_path then adds " (deleted)": in the key too). The inode's number,
 * device and generation keep a freed and reused dentry from passing for
 * the old one. Loads through these pointers are fault-safe; a task that
 * execs meanwhile shows a changed exec_id next time and is read again.
 */
static __always_inline void read_exe_key(struct mm_struct *mm, struct proc_iter_record *r)
{
        struct file *f = mm->exe_file;
        struct dentry *d;
        struct inode *ino;
        __u64 h = 0x6d656d6775617264ULL, mnt = 0, dentry = 0, parent = 0, name = 0;

        if (!f)
                return;
        d = f->f_path.dentry;
        ino = f->f_inode;
        if (!d || !ino)
                return;
        /* Pointers as numbers: the verifier allows no arithmetic on them. */
        BPF_CORE_READ_INTO(&mnt, f, f_path.mnt);
        BPF_CORE_READ_INTO(&dentry, f, f_path.dentry);
        BPF_CORE_READ_INTO(&parent, d, d_parent);
        BPF_CORE_READ_INTO(&name, d, d_name.name);
        r->exe_ino = ino->i_ino;
        r->exe_dev = ino->i_sb->s_dev;
        h = mix(h, mnt);
        h = mix(h, dentry);
        h = mix(h, parent);
        h = mix(h, name); /* short names are kept in the dentry: a rename keeps the pointer */
        h = mix(h, d->d_name.hash_len);
        h = mix(h, d->d_hash.pprev ? 1 : 2); /* d_unhashed(): unlinked */
        h = mix(h, r->exe_ino);
        h = mix(h, ((__u64)r->exe_dev << 32) | ino->i_generation);
        r->exe_key = h ? h : 1;
}

/* The record's fixed part; false for threads (only leaders are reported). */
static __always_inline bool fill_record(struct task_struct *t, struct proc_iter_record *r)
{
        struct signal_struct *sig = t->signal;
        struct mm_struct *mm = t->mm;

        r->pid = t->tgid;
        if (t->pid != r->pid)
                return false;
        r->ppid = t->real_parent->tgid;
        r->flags = t->flags;
        if (bpf_core_field_exists(t->__state))
                r->state = t->__state;
        else
                r->state = (__u32)((struct task_struct___old *)t)->state;
        r->exit_state = (__u32)t->exit_state;
        r->uid = t->real_cred->uid.val;
        r->threads = (__u32)sig->nr_threads;
        r->oom_score_adj = sig->oom_score_adj;
        r->exec_id = t->self_exec_id;
        r->start_boottime = t->start_boottime;
        r->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
        if (bpf_core_field_exists(((struct pid *)0)->ino))
                r->pid_ino = t->thread_pid->ino;
        if (mm) {
                r->has_mm = 1;
                read_mm(mm, r);
        }
        __builtin_memcpy(r->comm, t->comm, PROC_ITER_COMM_LEN);
        r->comm[PROC_ITER_COMM_LEN - 1] = 0;
        return true;
}

SEC("iter/task")
int proc_iter(struct bpf_iter__task *ctx)
{
        struct task_struct *t = ctx->task;
        struct proc_iter_record r = {};

        if (!t || !fill_record(t, &r))
                return 0;
        bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
        return 0;
}

/*
 * The full iterators' per-CPU buffers, one per half: sleepable programs run
 * with migration disabled, but the two halves may be read by two threads
 * that take turns on one CPU while one of them sleeps in a page fault.
 */
struct full_buf {
        struct proc_iter_record r;
        char str[PROC_ITER_STR_MAX + 8];
};
struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 2);
        __type(key, __u32);
        __type(value, struct full_buf);
} full_bufs SEC(".maps");

#define STR_MASK (PROC_ITER_STR_MAX - 1)

/*
 * The argument area, as /proc/PID/cmdline reads it (fs/proc/base.c
 * get_mm_cmdline): arg_start..arg_end; if its last byte is not NUL,
 * setproctitle(3) wrote over it and the title is the string at arg_start,
 * which may run into the environment. Returns the length, with
 * PROC_ITER_CMDLINE (and PROC_ITER_TITLE) set in *details on success.
 */
static __always_inline __u32 read_cmdline(struct task_struct *t, struct mm_struct *mm, char *dst, __u32 *details)
{
        unsigned long start = mm->arg_start, end = mm->arg_end;
        unsigned long env_start = mm->env_start, env_end = mm->env_end;
        __u64 len;
        char last = 0;

        if (end <= start) {
                *details |= PROC_ITER_CMDLINE; /* not set up yet, or none: empty */
                return 0;
        }
        len = end - start;
        if (len > PROC_ITER_STR_MAX)
                len = PROC_ITER_STR_MAX;
        len &= PROC_ITER_STR_MAX | STR_MASK;
        if (len == 0 || bpf_copy_from_user_task(dst, len, (void *)start, t, 0) < 0)
                return 0;
        if (end - start <= PROC_ITER_STR_MAX)
                last = dst[(len - 1) & STR_MASK];
        else if (bpf_copy_from_user_task(&last, 1, (void *)(end - 1), t, 0) < 0)
                return 0;
        if (last) {
                /* The title: a string from arg_start, into the environment only when it follows. */
                unsigned long limit = env_start == end && env_end > end ? env_end : end;

                len = limit - start;
                if (len > PROC_ITER_STR_MAX)
                        len = PROC_ITER_STR_MAX;
                len &= PROC_ITER_STR_MAX | STR_MASK;
                if (len == 0 || bpf_copy_from_user_task(dst, len, (void *)start, t, 0) < 0)
                        return 0;
                *details |= PROC_ITER_TITLE;
        }
        *details |= PROC_ITER_CMDLINE;
        return (__u32)len;
}

/*
 * One half of the processes: those whose pid has the parity `half`. Copying
 * command lines out of other processes' memory is most of the cost, and two
 * threads read the halves at once (proc-bpf.c).
 */
static __always_inline int full_half(struct bpf_iter__task *ctx, __u32 half)
{
        struct task_struct *t = ctx->task;
        struct full_buf *b;
        struct mm_struct *mm;
        __u32 cmd_len = 0, total;

        if (!t || ((__u32)t->tgid & 1) != half)
                return 0;
        b = bpf_map_lookup_elem(&full_bufs, &half);
        if (!b)
                return 0;
        __builtin_memset(&b->r, 0, sizeof(b->r));
        if (!fill_record(t, &b->r))
                return 0;
        mm = t->mm;
        if (!mm || (b->r.flags & 0x00200000U /* PF_KTHREAD */))
                b->r.details = PROC_ITER_CMDLINE; /* none: a zombie or a kernel thread */
        else {
                read_exe_key(mm, &b->r);
                cmd_len = read_cmdline(t, mm, b->str, &b->r.details);
                cmd_len &= PROC_ITER_STR_MAX | STR_MASK;
        }
        b->r.cmdline_len = (__u16)cmd_len;
        bpf_seq_write(ctx->meta->seq, &b->r, sizeof(b->r));
        total = (cmd_len + 7) & ~7U;
        if (total > 0 && total <= sizeof(b->str))
                bpf_seq_write(ctx->meta->seq, b->str, total);
        return 0;
}

SEC("iter.s/task")
int proc_iter_full_even(struct bpf_iter__task *ctx)
{
        return full_half(ctx, 0);
}

SEC("iter.s/task")
int proc_iter_full_odd(struct bpf_iter__task *ctx)
{
        return full_half(ctx, 1);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
