/* SPDX-License-Identifier: MIT */
/*
 * One record per process (thread-group leader) written by the BPF task
 * iterator in proc-iter.bpf.c and read by proc-bpf.c. Fixed-width fields
 * only: both the BPF program and userspace include this header.
 */
#pragma once

#include <linux/types.h>

#define PROC_ITER_COMM_LEN 16

struct proc_iter_record {
        __s32 pid;           /* tgid, in the initial PID namespace */
        __s32 ppid;          /* real_parent's tgid */
        __u32 flags;         /* task->flags (PF_KTHREAD, ...) */
        __u32 state;         /* task->__state */
        __u32 exit_state;    /* EXIT_ZOMBIE, EXIT_DEAD */
        __u32 uid;           /* real uid (real_cred->uid) */
        __u32 threads;       /* signal->nr_threads */
        __u32 exec_id;       /* self_exec_id: counts execs */
        __s32 oom_score_adj;
        __u32 has_mm;
        __u64 start_boottime; /* ns since boot */
        __u64 cgroup_id;     /* kernfs id of the cgroup v2 (default hierarchy) cgroup */
        __u64 file_pages, anon_pages, swap_pages, shmem_pages; /* mm counters, as status shows them */
        __u64 pgtables_bytes;
        char comm[PROC_ITER_COMM_LEN];
};
