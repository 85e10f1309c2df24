/* SPDX-License-Identifier: MIT */
/*
 * Shared between proc.c (full scans) and proc-refresh.c (incremental
 * refresh); not part of the process table's public contract.
 *
 * Readers take the O_PATH fd of one /proc/PID directory (dfd) and return
 * 0 (or a length, or 1 for "keep") on success and -errno on failure.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "proc.h"

int proc_pidfd_open(pid_t pid);
/* 0 if the process behind pidfd exists (even as a zombie), -ESRCH once it is reaped. */
int proc_pidfd_alive(int pidfd);
/* Errors that end a scan instead of skipping one process. */
bool proc_errno_is_fatal(int r);
/* Log why process pid is skipped (debug); returns r if it is fatal, else 0. */
int proc_skip(pid_t pid, int r);

int proc_open_pid_dir(int procfd, pid_t pid);
ssize_t proc_read_small_at(int dfd, const char *name, char *buf, size_t size);
int proc_read_stat_at(int dfd, ProcStat *ret);
int proc_read_status_at(int dfd, ProcStatus *ret);
int proc_read_int_at(int dfd, const char *name, int min, int max, int *ret);
int proc_read_cgroup_at(int dfd, const ProcScanFilter *filter, char **ret);
/* Is a cgroup path (len bytes) equal to prefix or below it? */
bool proc_cgroup_is_below(const char *path, size_t len, const char *prefix);
char *proc_read_exe_at(int dfd);

void proc_entry_set_stat(ProcEntry *e, const ProcStat *st);
void proc_entry_set_status(ProcEntry *e, const ProcStatus *s);
void proc_entry_free_strings(ProcEntry *e);

/* Read everything but the pidfd. 1 and *ret filled; 0 if filtered out; -errno.
 * With `known` (a snapshot's entry), only what the snapshot lacks: cgroup, exe,
 * cmdline, and stat to check the start time (-ESRCH if it differs). The
 * entry's exe_key is known's if its exe was read here and is the file the
 * snapshot saw (cacheable); 0 otherwise. */
int proc_read_full(int dfd, pid_t pid, const ProcScanFilter *filter, const ProcSnapshotEntry *known,
                   ProcEntry *ret);
/* Open e's pidfd and check it names the process that was read. 1, or -ESRCH, or -errno. */
int proc_attach_pidfd(int dfd, ProcTable *t, ProcEntry *e);
/* exe and cmdline from a full snapshot's entry; e->kthread must be set first. */
void proc_entry_set_snapshot_strings(ProcEntry *e, const ProcSnapshotEntry *s);
/* Full read of a process not yet in the table: 1 and *ret filled, 0 skipped, -errno fatal. */
int proc_read_new(int procfd, pid_t pid, const ProcScanFilter *filter, const ProcSnapshotEntry *known,
                  ProcTable *t, ProcEntry *ret);

/* Raw /proc/PID/cmdline bytes into ProcEntry.cmdline form (NULs as spaces, trailing ones cut, NULL if empty). */
char *proc_cmdline_from_raw(char *buf, size_t len);

/* Cgroup paths by id (proc-id-cache.c). get fills e's cgroup, unit and app_id
 * and marks the id seen; put caches e's (if its path names id now, checked on
 * cgroup_fd); sweep drops what was not seen since the last sweep. */
bool proc_cgroup_cache_get(ProcIdCache *c, uint64_t id, ProcEntry *e);
const char *proc_id_cache_path(ProcIdCache *c, uint64_t id); /* NULL if not cached; marks it seen */
void proc_cgroup_cache_put(ProcIdCache **c, int cgroup_fd, uint64_t id, const ProcEntry *e);
bool proc_id_cache_mark(ProcIdCache *c, uint64_t id); /* false if not cached */
void proc_id_cache_sweep(ProcIdCache *c);
size_t proc_id_cache_size(const ProcIdCache *c);
ProcIdCache *proc_id_cache_free(ProcIdCache *c);
/* Exe paths by the snapshot's exe_key (looked up with proc_id_cache_path):
 * put caches exe, read from /proc/PID/exe and checked to name the key's
 * file (ProcEntry.exe_key set by proc_read_full). */
void proc_exe_cache_put(ProcIdCache **c, uint64_t key, const char *exe);

/* Sorted PIDs of the numeric entries of procfd. */
int proc_list_pids(int procfd, pid_t **ret, size_t *ret_n);
int proc_filter_validate(const ProcScanFilter *filter);
