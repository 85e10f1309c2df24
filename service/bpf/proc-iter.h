/* SPDX-License-Identifier: MIT */
/*
 * One record per process (thread-group leader) written by the BPF task
 * iterator in proc-iter.bpf.c and read by proc-bpf.c. Fixed-width fields
 * only: both the BPF program and userspace include this header. The full
 * iterator follows each record with the command line (cmdline_len bytes,
 * padded to a multiple of 8); the light one writes records alone (length 0).
 * Neither writes the exe path: the verifier refuses bpf_d_path() on a task's
 * mm->exe_file (not a trusted pointer), so the full one reports which file
 * it is (exe_key, exe_ino, exe_dev; 0 from the light one, whose refreshes
 * read new processes' exe links from /proc) and userspace keeps the paths of
 * the files it has read once (proc-id-cache.c).
 */
#pragma once

#include <linux/types.h>

#define PROC_ITER_COMM_LEN 16
#define PROC_ITER_STR_MAX 4096 /* cmdline bytes at most (PROC_CMDLINE_MAX) */

/* proc_iter_record.details: what the full iterator (proc_iter_full) read. */
#define PROC_ITER_CMDLINE  0x2 /* cmdline_len raw bytes of the argument area follow */
#define PROC_ITER_TITLE    0x4 /* setproctitle(3) overwrote the argument area: cut at the first NUL */

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
        __u64 pid_ino;       /* the pidfs inode number of the struct pid (never reused), 0 if unknown */
        __u64 exe_key;       /* which exe file, by path: a hash of its mount, dentry, parent, name,
                              * unlinked state, inode number, device and generation; 0 if none */
        __u64 exe_ino;       /* its inode number and device (the kernel's encoding: major << 20 | minor) */
        __u32 exe_dev;
        __u16 cmdline_len;   /* bytes of command line after the record, then padding to 8 bytes */
        __u16 pad;
        __u32 details;       /* PROC_ITER_* flags; 0 from the light iterator (proc_iter) */
        __u32 pad2;
        char comm[PROC_ITER_COMM_LEN];
};
