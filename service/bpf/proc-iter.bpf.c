/* SPDX-License-Identifier: MIT OR GPL-2.0 */
/*
 * A BPF task iterator that writes one struct proc_iter_record per process:
 * what /proc/PID/stat, status and oom_score_adj say, for every process, in
 * one read(2) instead of three file reads per process (proc-bpf.c).
 *
 * The kernel types are declared here with only the fields used, marked
 * preserve_access_index: libbpf relocates each field access against the
 * running kernel's BTF (CO-RE), so no vmlinux.h is needed at build time.
 * Layouts that changed between kernels have ___old flavours.
 */
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
struct mm_struct {
        struct percpu_counter rss_stat[4]; /* since 6.2 */
        atomic_long_t pgtables_bytes;
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

/* The mm counters' order: MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES. */
static __always_inline void read_mm(struct mm_struct *mm, struct proc_iter_record *r)
{
        if (bpf_core_type_exists(struct mm_rss_stat)) {
                struct mm_struct___old *old = (void *)mm;

                r->file_pages = BPF_CORE_READ(old, rss_stat.count[0].counter);
                r->anon_pages = BPF_CORE_READ(old, rss_stat.count[1].counter);
                r->swap_pages = BPF_CORE_READ(old, rss_stat.count[2].counter);
                r->shmem_pages = BPF_CORE_READ(old, rss_stat.count[3].counter);
        } else {
                r->file_pages = BPF_CORE_READ(mm, rss_stat[0].count);
                r->anon_pages = BPF_CORE_READ(mm, rss_stat[1].count);
                r->swap_pages = BPF_CORE_READ(mm, rss_stat[2].count);
                r->shmem_pages = BPF_CORE_READ(mm, rss_stat[3].count);
        }
        r->pgtables_bytes = BPF_CORE_READ(mm, pgtables_bytes.counter);
}

SEC("iter/task")
int proc_iter(struct bpf_iter__task *ctx)
{
        struct task_struct *t = ctx->task;
        struct proc_iter_record r = {};
        struct mm_struct *mm;

        if (!t)
                return 0;
        r.pid = BPF_CORE_READ(t, tgid);
        if (BPF_CORE_READ(t, pid) != r.pid)
                return 0; /* a thread, not the leader */
        r.ppid = BPF_CORE_READ(t, real_parent, tgid);
        r.flags = BPF_CORE_READ(t, flags);
        if (bpf_core_field_exists(t->__state))
                r.state = BPF_CORE_READ(t, __state);
        else
                r.state = (__u32)BPF_CORE_READ((struct task_struct___old *)t, state);
        r.exit_state = (__u32)BPF_CORE_READ(t, exit_state);
        r.uid = BPF_CORE_READ(t, real_cred, uid.val);
        r.threads = (__u32)BPF_CORE_READ(t, signal, nr_threads);
        r.oom_score_adj = BPF_CORE_READ(t, signal, oom_score_adj);
        r.exec_id = BPF_CORE_READ(t, self_exec_id);
        r.start_boottime = BPF_CORE_READ(t, start_boottime);
        r.cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
        mm = BPF_CORE_READ(t, mm);
        if (mm) {
                r.has_mm = 1;
                read_mm(mm, &r);
        }
        BPF_CORE_READ_STR_INTO(&r.comm, t, comm);
        bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
        return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
