/* SPDX-License-Identifier: MIT */
/*
 * Checkpoints, the pure part: the record of every app memguard checkpointed
 * with CRIU, and the rules that do not need a process (criu's arguments, which
 * apps can be dumped, which images to drop, what criu's output says). The
 * part that runs criu is checkpointer.h.
 *
 * Where things live (system mode, as root): <state dir>/checkpoints/, mode
 * 0700, owned by root. In it, one images directory per checkpoint, named
 * after its id (0700, criu writes its images 0600), and the record of them:
 *
 *   index.json
 *   { "version": 1,
 *     "checkpoints": [ { "id": "ckpt-1700000000-1234", "key": "cgroup:/...",
 *                        "name": "org.example.App", "uid": 1000, "pid": 1234,
 *                        "exe": "/usr/bin/app", "cmdline": "app --x",
 *                        "created": 1700000000,      (CLOCK_REALTIME seconds)
 *                        "bytes": 734003200,         (what the app held: a restore needs it back)
 *                        "boot_id": "…",             (a restore is tried in the same boot only)
 *                        "state": "dumped" | "restore-failed",
 *                        "error": "…" | null,        (why the last restore failed)
 *                        "dir": "/var/lib/memguard/checkpoints/ckpt-…" } ] }
 *
 * written atomically (write_file_atomic()). "dir" is for people: on load the
 * directory is always <checkpoints>/<id>, never taken from the file, and an id
 * must be a plain name ([A-Za-z0-9_.-], not starting with '.'), since images
 * directories are removed by id. Loading is defensive like the frozen
 * registry's: bad records are skipped and counted, optional fields of the
 * wrong type are dropped.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 * Nothing here logs above debug.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc.h"

#define CHECKPOINT_ID_MAX 64
#define CHECKPOINT_MAX_RECORDS 1024
#define CHECKPOINT_FILE_MAX (1024u * 1024)
#define CHECKPOINT_STRING_MAX 4096
#define CHECKPOINT_MAX_PROCS 256 /* larger process trees are killed, not dumped */
#define CHECKPOINT_INDEX "index.json"

typedef enum CheckpointState {
        CHECKPOINT_DUMPED,         /* images complete, the app gone: waiting for calm to be restored */
        CHECKPOINT_RESTORE_FAILED, /* a restore failed: images kept for a manual restore until dropped */
        _CHECKPOINT_STATE_MAX,
        _CHECKPOINT_STATE_INVALID = -EINVAL,
} CheckpointState;

const char *checkpoint_state_to_string(CheckpointState s);
CheckpointState checkpoint_state_from_string(const char *s);

typedef struct CheckpointRecord {
        char *id;      /* the images directory's name */
        char *key;     /* the app's key (app_key_to_string()) */
        char *name;    /* display name, or NULL */
        uid_t uid;     /* the app's owner; (uid_t)-1 if unknown */
        pid_t pid;     /* the root of the dumped process tree */
        char *exe;     /* or NULL */
        char *cmdline; /* or NULL */
        uint64_t created; /* CLOCK_REALTIME seconds */
        uint64_t bytes;   /* memory it held (anon + shmem + swap) */
        char *boot_id;    /* or NULL (unknown: never restored automatically) */
        CheckpointState state;
        char *error; /* or NULL */
} CheckpointRecord;

typedef struct CheckpointSet {
        CheckpointRecord *records; /* in the order added (oldest first) */
        size_t n, allocated;
} CheckpointSet;

bool checkpoint_id_valid(const char *id);
/* "ckpt-<created>-<pid>"; -ENAMETOOLONG if it does not fit. */
int checkpoint_make_id(uint64_t created, pid_t pid, char *buf, size_t size);

int checkpoint_set_parse(const char *buf, size_t len, CheckpointSet *ret, size_t *ret_skipped);
/* A missing file is an empty set. -EFBIG, -EBADMSG as for parse. */
int checkpoint_set_load(const char *path, CheckpointSet *ret, size_t *ret_skipped);
/* `dir` is the checkpoints directory (for the "dir" fields); the text is newly allocated. */
int checkpoint_set_format(const CheckpointSet *s, const char *dir, char **ret);
int checkpoint_set_save(const CheckpointSet *s, const char *dir);

CheckpointRecord *checkpoint_set_find(CheckpointSet *s, const char *id);
/* Move *r in (zeroed on success). -EEXIST, -E2BIG (CHECKPOINT_MAX_RECORDS), -EINVAL (bad id). */
int checkpoint_set_add(CheckpointSet *s, CheckpointRecord *r);
int checkpoint_set_remove(CheckpointSet *s, const char *id);
void checkpoint_record_done(CheckpointRecord *r);
void checkpoint_set_done(CheckpointSet *s);

/* criu's command lines. The strings are borrowed; `pid` is formatted into the struct. */
typedef struct CriuArgv {
        char *argv[16];
        char pid[16];
} CriuArgv;

/* criu check */
void criu_argv_check(CriuArgv *a, const char *criu);
/*
 * criu dump --tree PID --images-dir DIR --log-file dump.log --shell-job: the
 * tree is killed once its images are written (criu's default), which frees
 * its memory. --shell-job lets criu dump an app whose session leader is
 * outside the tree (a terminal, a launcher).
 */
void criu_argv_dump(CriuArgv *a, const char *criu, const char *dir, pid_t pid);
/*
 * criu restore --images-dir DIR --restore-detached --shell-job --log-file
 * restore.log --pidfile restore.pid: criu restores the credentials of the
 * images (the app's own uid, gids and capabilities) and exits once the tree
 * runs.
 */
void criu_argv_restore(CriuArgv *a, const char *criu, const char *dir);

/*
 * May the app made of procs[0..n) be dumped as the tree rooted at `root`?
 * Only if root is one of them and every other one descends from it within the
 * set (criu dumps a process tree; an app process outside the tree would be
 * left running, and a restore would bring back half an app), and n is at most
 * CHECKPOINT_MAX_PROCS. 0 if so; -EXDEV (not one tree), -E2BIG, -EINVAL.
 */
int checkpoint_app_dumpable(const ProcEntry *const *procs, size_t n, pid_t root);

/*
 * Which records to drop: those older than max_age_sec (0: no age limit), and
 * beyond the newest `keep` of the rest. `busy` (may be NULL) is an id being
 * restored now, never dropped. Sets drop[i] for record i; returns how many.
 */
size_t checkpoint_select_drops(const CheckpointSet *s, uint64_t now_sec, unsigned keep, uint64_t max_age_sec,
                               const char *busy, bool *drop);

/*
 * The line of criu's output that says why it failed, into buf (NUL-terminated,
 * control characters replaced): the first "Error (file:line): message" whose
 * message is not a subprocess's "exited, status=N", without its prefix; else
 * the last error line; else the last non-empty line; else "no output".
 */
void criu_summarize(const char *text, size_t len, char *buf, size_t size);

/*
 * Remove an images directory: every entry in it that is not a directory,
 * then the directory (criu's images are flat). Entries are unlinked relative
 * to a directory fd opened with O_NOFOLLOW, so a symlink in the path cannot
 * redirect the removal. A missing directory is success; -ENOTEMPTY if it holds
 * a subdirectory (left alone).
 */
int checkpoint_remove_dir(const char *path);
