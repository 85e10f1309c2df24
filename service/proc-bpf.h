/* SPDX-License-Identifier: MIT */
/*
 * Snapshots of every process from a BPF task iterator (bpf/proc-iter.bpf.c):
 * one read(2) returns what /proc/PID/stat, status and oom_score_adj say for
 * all processes, so refreshing a table of 10,000 processes costs one pass in
 * the kernel instead of 30,000 file reads (proc_table_refresh_snapshot()).
 *
 * Needs a build with libbpf (-Dbpf), a kernel with BTF (/sys/kernel/btf/vmlinux)
 * and BPF task iterators (5.8+), CAP_BPF and CAP_PERFMON (root), and the
 * initial PID namespace (the iterator reports global PIDs; proc_bpf_new
 * checks that its own PID and start time agree with /proc/self/stat).
 * Everything else falls back to procfs, which is always correct, only slower.
 */
#pragma once

#include "proc.h"

typedef struct ProcBpf ProcBpf;

/* -EOPNOTSUPP if built without BPF; -EPERM without privileges; -errno otherwise. */
int proc_bpf_new(int procfd, ProcBpf **ret);
ProcBpf *proc_bpf_free(ProcBpf *b);

/*
 * All processes now, sorted by pid, into *snap (which is reset first). A
 * full snapshot also carries every process's command line (two
 * sleepable iterators, one per pid parity, read by two threads at once where
 * there are two CPUs: copying the argument areas out of the processes'
 * memory costs about a microsecond per process): for cold tables, where
 * every process is new. Without proc_bpf_can_full() a full snapshot is a
 * plain one.
 */
int proc_bpf_snapshot(ProcBpf *b, bool full, ProcSnapshot *snap);
bool proc_bpf_can_full(const ProcBpf *b);

/* Whether this build can use BPF at all. */
bool proc_bpf_built(void);
