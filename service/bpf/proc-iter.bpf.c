/* SPDX-License-Identifier: MIT OR GPL-2.0 */
/*
 * BPF task iterators that write one struct proc_iter_record per process:
 * what /proc/PID/stat, status and oom_score_adj say, for every process, in
 * one read(2) instead of three file reads per process (proc-bpf.c).
 * proc_iter writes the records alone (refreshes: most processes are known);
 * proc_iter_full_even and _odd, sleepable iterators, add what /proc/PID/exe
 * and cmdline say (cold scans: every process is new), each for half of them.
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
struct path {
        void *mnt;
} CORE;
struct file {
        struct path f_path;
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
        char str[2 * PROC_ITER_STR_MAX + 8];
};
struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 2);
        __type(key, __u32);
        __type(value, struct full_buf);
} full_bufs SEC(".maps");

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

#define STR_MASK (PROC_ITER_STR_MAX - 1)

/*
 * The exe link's path, as readlink(/proc/PID/exe) shows it: its length, 0
 * for none, < 0 if unknown. procfs takes task_lock to keep the mm; BPF
 * cannot, and an mm is not freed through RCU: so the mm is read, then its
 * exe_file, then the task's mm again. If the task still has that mm, it
 * was alive when exe_file was read; the struct file itself, its dentry and
 * its mount are RCU-freed (files are SLAB_TYPESAFE_BY_RCU since 6.7), and
 * d_path walks them under RCU. A task that exits meanwhile is "unknown"
 * (read from /proc, where it will be gone).
 */
static __always_inline long read_exe(struct task_struct *t, char *dst)
{
        struct mm_struct *mm;
        struct file *f;
        long n = 0;

        bpf_rcu_read_lock();
        mm = t->mm;
        f = mm ? mm->exe_file : 0;
        __asm__ __volatile__("" : : : "memory");
        if (mm && t->mm != mm)
                n = -1;
        else if (f)
                n = bpf_d_path(&f->f_path, dst, PROC_ITER_STR_MAX);
        bpf_rcu_read_unlock();
        if (n < 0)
                return n;
        return n > 1 ? n - 1 : 0; /* n counts the NUL */
}

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
        __u32 exe_len = 0, cmd_len = 0, total;

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
                b->r.details = PROC_ITER_EXE | PROC_ITER_CMDLINE; /* none: a zombie or a kernel thread */
        else {
                long n = read_exe(t, b->str);

                if (n >= 0) {
                        b->r.details = PROC_ITER_EXE;
                        exe_len = (__u32)n & STR_MASK;
                }
                cmd_len = read_cmdline(t, mm, b->str + exe_len, &b->r.details);
                cmd_len &= PROC_ITER_STR_MAX | STR_MASK;
        }
        b->r.exe_len = (__u16)exe_len;
        b->r.cmdline_len = (__u16)cmd_len;
        bpf_seq_write(ctx->meta->seq, &b->r, sizeof(b->r));
        total = (exe_len + cmd_len + 7) & ~7U;
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
