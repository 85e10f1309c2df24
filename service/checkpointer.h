/* SPDX-License-Identifier: MIT */
/*
 * Running criu: is it usable here (criu check), dump an app, restore it.
 * Everything is asynchronous in the daemon's sd-event loop: criu is started
 * through a HookRunner (hooks.h: no shell, clean environment and fds, its own
 * process group, watched through a pidfd, SIGKILLed after the timeout), its
 * stdout and stderr go to a file, and a callback reports the end.
 *
 * Probe. checkpointer_new() resolves criu (an absolute path, or a name looked
 * up in HOOK_PATH) and starts `criu check` at once (10 s at most); until it
 * has answered, checkpointer_available() is -EAGAIN and nothing is dumped.
 * The `ready` callback reports the answer once.
 *
 * Dump. `criu dump --tree PID` takes a PID, not a pidfd: right before starting
 * criu the app's root process is checked through its pidfd
 * (pidfd_send_signal(fd, 0)); if it is gone, nothing is started (-ESRCH).
 * What remains is a race that memguard cannot close: between that check and
 * criu seizing PID (criu's start-up, some tens of milliseconds), the process
 * could exit and its PID be reused by a new process, which criu would then dump
 * (and kill). PIDs are reused only after the PID space wraps around, so this
 * needs a PID-exhausting fork storm within those milliseconds.
 * A dump that succeeds killed the tree (criu's default), so its memory is
 * free; its record is written to index.json. A dump that fails or times out
 * leaves the app running (criu lets go of it; killed criu's tracees are
 * detached by the kernel) and its images directory is removed: the caller
 * falls back to a kill.
 *
 * Restore. `criu restore --restore-detached` runs as root, and criu gives the
 * restored processes the credentials stored in the images: the app runs as
 * its original user (uid, gids, capabilities) again, not as root. memguard
 * checks that: the restored root process (from criu's pidfile) must have the
 * uid of the record, or it is killed at once and the restore counts as failed.
 * A restore needs the app's PIDs to be free and its files to be where they
 * were; when it fails, the record says so ("restore-failed", with criu's
 * error) and the images are kept for a manual `criu restore -D DIR -d -j`
 * until they are dropped. Checkpoints from an earlier boot are never restored
 * automatically (their sockets, pipes and /tmp files are gone); they are kept
 * the same way.
 *
 * Dropping. At start, after every dump and restore, and every 10 minutes:
 * records older than max_age_usec and beyond the newest `keep` are removed
 * with their images, and so are images directories that no record names (a
 * dump interrupted by a crash).
 *
 * Contract: 0 on success, -errno on failure; callbacks are called exactly
 * once for every call that returned 0, from the event loop, never from inside
 * the call.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "checkpoint.h"
#include "macro.h"
#include "planner.h"

#define CHECKPOINT_CHECK_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define CHECKPOINT_MAX_RUNNING 2 /* dumps and restores at once */
#define CHECKPOINT_SUMMARY_MAX 256

typedef void (*checkpointer_ready_t)(void *userdata, bool available, const char *why);

typedef struct CheckpointerOptions {
        sd_event *event;
        const char *dir;   /* <state dir>/checkpoints: created 0700 */
        const char *criu;  /* "criu" (looked up in HOOK_PATH) or an absolute path */
        uint64_t timeout_usec; /* a dump or restore still running after this is killed */
        unsigned keep;         /* checkpoints kept */
        uint64_t max_age_usec; /* 0: no age limit */
        checkpointer_ready_t ready; /* the probe's answer (may be NULL) */
        void *userdata;
} CheckpointerOptions;

typedef struct Checkpointer Checkpointer;

/*
 * Create the directory, load the record, drop what the policy drops and start
 * the probe. -ENOENT if criu cannot be found, -EACCES if it is not executable;
 * errors of the directory or of a corrupt index.json (-EBADMSG: the file is
 * moved to index.json.corrupt and the checkpointer starts empty).
 */
int checkpointer_new(const CheckpointerOptions *opts, Checkpointer **ret);
/* Kills criu runs still going (a dump in flight: the app is left as criu leaves it). */
Checkpointer *checkpointer_free(Checkpointer *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Checkpointer *, checkpointer_free)

/* 1 usable, -EAGAIN while `criu check` runs, or why not (the reason in *ret_why, may be NULL). */
int checkpointer_available(Checkpointer *c, const char **ret_why);
const char *checkpointer_criu_path(Checkpointer *c);

typedef struct CheckpointRequest {
        const char *key;  /* the app's key */
        const char *name; /* display name, or NULL */
        pid_t pid;        /* the root of the tree to dump */
        int pidfd;        /* its pidfd (checked right before criu starts) */
        uid_t uid;
        const char *exe, *cmdline; /* or NULL */
        uint64_t bytes;            /* what the app holds */
} CheckpointRequest;

typedef struct CheckpointResult {
        const char *id;
        const char *dir;     /* its images directory */
        int result;          /* 0: done; -errno (-EIO: criu failed, -ETIME: timed out) */
        int exit_status;     /* criu's exit code; -1 if it died of a signal or timed out */
        const char *summary; /* why, from criu's output ("" on success) */
        uint64_t duration_usec;
        uint64_t image_bytes; /* dump: size of the images */
        pid_t restored_pid;   /* restore: the root of the restored tree */
        uid_t restored_uid;
} CheckpointResult;

typedef void (*checkpointer_done_t)(void *userdata, const CheckpointResult *result);

/*
 * Dump an app. -EAGAIN/-EOPNOTSUPP when criu is not (yet) usable, -EALREADY
 * if that key is being dumped, -EBUSY at CHECKPOINT_MAX_RUNNING, -ESRCH if the
 * process is gone, or the error of creating its directory or starting criu.
 */
int checkpointer_dump(Checkpointer *c, const CheckpointRequest *req, checkpointer_done_t done, void *userdata);
bool checkpointer_is_dumping(Checkpointer *c, const char *key);

/* Restore checkpoint `id`. -ENOENT if unknown, -EALREADY if being restored, else as for dump. */
int checkpointer_restore(Checkpointer *c, const char *id, checkpointer_done_t done, void *userdata);

/* The record of `id` (borrowed until the next call into the checkpointer), or NULL. */
const CheckpointRecord *checkpointer_get(Checkpointer *c, const char *id);

/*
 * What may be restored now (state "dumped", this boot, not being restored),
 * for the planner: a view valid until the next call into the checkpointer.
 */
int checkpointer_restorable(Checkpointer *c, const PlanCheckpoint **ret, size_t *ret_n);

/* How many checkpointer_restorable() would list, without building the list. */
size_t checkpointer_n_restorable(Checkpointer *c);

/* Apply the drop policy now (also run by itself, see above). Returns how many were dropped. */
int checkpointer_cleanup(Checkpointer *c);
