/* SPDX-License-Identifier: MIT */
/*
 * Freezing and thawing apps, with the frozen registry (registry.h) as the
 * record that makes it crash-safe.
 *
 * Freeze: the registry entry is written (atomically) first; if that fails,
 * nothing is frozen. Then, with a cgroup given, "1" goes to its
 * cgroup.freeze; otherwise (or when the cgroup cannot be used) every listed
 * process gets SIGSTOP through a pidfd. A process is never signalled by bare
 * PID: a ProcEntry without pidfd gets one opened here, and the process is
 * checked against its start_time (/proc/PID/stat, parsed from the last ')')
 * after opening it, and against its pid_ino (the pidfd's inode number) when
 * the entry has one.
 *
 * The cgroup method is used only if it freezes the app and nothing else:
 * every process in the cgroup and in its child cgroups (cgroup.freeze acts
 * on the whole subtree) must be one of the listed processes or a descendant
 * of one, and every listed process must be in that subtree. Otherwise, or if
 * the cgroup is not on cgroup2 or cgroup.freeze cannot be opened for writing,
 * the listed processes (only those) are SIGSTOPped instead. A cgroup that is
 * already frozen (by someone else) is refused with -EALREADY: thawing it
 * later would undo someone else's freeze. Membership can change between the
 * check and the write; the window is a few syscalls long.
 *
 * cgroup.freeze is asynchronous: the write returns before every task is
 * frozen, and "frozen 1" shows up in cgroup.events a little later. The
 * daemon does not wait for it (freezer_cgroup_frozen() reads it without
 * blocking, for whoever wants to watch).
 *
 * SIGCONT and user stops: SIGCONT would also continue a process a user
 * stopped deliberately (Ctrl-Z, kill -STOP). So a process already stopped when
 * it is frozen is left out of the entry, and on thaw a sigstop-method process
 * gets SIGCONT only if it is still stopped, or about to be (a SIGSTOP still
 * pending, or a thread already in 'T': the stop is asynchronous too); one
 * continued meanwhile by someone else is left alone (one stopped by its user
 * while frozen cannot be told apart, and is continued). Thawing a cgroup writes
 * "0" to cgroup.freeze only, which never continues SIGSTOPped processes.
 *
 * Thaw verifies identity the same way for entries made by this process and
 * entries loaded after a restart: pidfd_open(pid), then compare start_time;
 * a differing start_time means the PID now names someone else, who is
 * skipped. A process that exited (ESRCH) or a cgroup removed meanwhile
 * (ENOENT) is not an error: the entry is dropped.
 *
 * Needs pidfd_open(2) (Linux 5.3) for the SIGSTOP method; without it that
 * method fails with -ENOSYS rather than signalling by PID.
 *
 * Contract: 0 (or a count, or a method) on success, -errno on failure;
 * outputs written only on success. Helpers log at debug level only.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "proc.h"
#include "registry.h"

typedef struct Freezer {
        char *registry_path;
        Registry registry;
        int procfd;          /* /proc */
        int load_error;      /* -EBADMSG/-EFBIG if the registry found at start was unusable, else 0 */
        size_t load_skipped; /* entries and processes skipped while loading it */
} Freezer;

/*
 * Create a freezer keeping its registry at registry_path. Entries already in
 * the file (left by a previous run) are loaded, not thawed: call
 * freezer_thaw_all() next. An unusable file is renamed to "<path>.corrupt"
 * and the freezer starts empty, with f->load_error set.
 */
int freezer_new(const char *registry_path, Freezer **ret);

/* Free the object. Thaws nothing: what is frozen stays in the registry file. */
Freezer *freezer_free(Freezer *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(Freezer *, freezer_free)

/*
 * Freeze the app `key` made of procs[0..n) (pids > 1, not memguard itself),
 * by its cgroup (absolute path) if given and usable, else by SIGSTOP.
 * Returns the FreezeMethod used (>= 0). -EEXIST if key is frozen already,
 * -EBUSY if a listed process is frozen under another key (a thaw of either
 * would thaw it), -ESRCH if every listed process is gone, -EALREADY if all were stopped
 * already or the cgroup is frozen already, -EINVAL/-E2BIG for bad
 * arguments, or the error of the registry write (nothing frozen) or of the
 * signal (what was stopped is continued again, the entry removed).
 */
int freezer_freeze(Freezer *f, const char *key, const char *name, uid_t uid, const char *cgroup,
                   const ProcEntry *const procs[], size_t n, const char *reason);

/*
 * Thaw `key` and remove its entry (registry rewritten). -ENOENT if not
 * frozen. If thawing fails (say EPERM) the entry stays. If only the registry
 * write fails, the app is thawed and forgotten and the write error returned.
 */
int freezer_thaw(Freezer *f, const char *key);

/*
 * Thaw everything (SIGTERM, startup). Returns the number of entries thawed;
 * entries that failed stay (freezer_n_frozen() > 0). -errno only if the
 * registry could not be rewritten.
 */
int freezer_thaw_all(Freezer *f);

/*
 * Startup and `memguardd --thaw-all`: load the registry, thaw everything in
 * it, leave it empty. Returns the number of entries thawed, or -EBADMSG /
 * -EFBIG if the file was unusable (it is moved to "<path>.corrupt"; nothing
 * could be thawed from it).
 */
int freezer_load_and_thaw_all(const char *registry_path);

size_t freezer_n_frozen(const Freezer *f);
const RegistryEntry *freezer_get(Freezer *f, const char *key);
const char *freezer_key_for_pid(Freezer *f, pid_t pid); /* NULL if not frozen by us */
const char *freezer_oldest(Freezer *f);                 /* first to thaw in a staggered thaw */

/*
 * Keys frozen for max_usec or longer at now_mono (CLOCK_MONOTONIC usec), as a
 * NULL-terminated array (free with freezer_keys_free()). Returns the count.
 */
int freezer_expired(Freezer *f, uint64_t now_mono, uint64_t max_usec, char ***ret_keys);
char **freezer_keys_free(char **keys);

/* One row per frozen process, for the FrozenProcesses property. */
typedef struct FrozenProcess {
        pid_t pid;
        const char *key;  /* borrowed from the freezer: valid until its next freeze or thaw */
        const char *name; /* or NULL */
        uid_t uid;
        FreezeMethod method;
        uint64_t since;  /* CLOCK_REALTIME seconds */
        uint64_t memory; /* UINT64_MAX (unknown): the caller fills it in */
} FrozenProcess;

int freezer_list(Freezer *f, FrozenProcess **ret, size_t *ret_n);

/* Is the cgroup frozen now (cgroup.events "frozen 1")? 1, 0, or -errno. Never blocks. */
int freezer_cgroup_frozen(const char *cgroup);

/* /proc/PID/status: SigPnd | ShdPnd, the signals pending for the process. -EBADMSG if absent. */
int freezer_parse_pending(const char *buf, size_t len, uint64_t *ret_mask);
