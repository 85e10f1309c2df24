/* SPDX-License-Identifier: MIT */
/*
 * The frozen registry: a JSON file naming everything memguard has frozen, so
 * that a crash or restart never leaves a process frozen. It is written before
 * every freeze and rewritten after every thaw; at startup (and by
 * `memguardd --thaw-all`) everything it names is thawed.
 *
 *   { "version": 1,
 *     "entries": [ { "key": "app-firefox", "name": "firefox", "uid": 1000,
 *                    "method": "cgroup" | "sigstop",
 *                    "cgroup": "/sys/fs/cgroup/.../app-firefox-1.scope" | null,
 *                    "procs": [ { "pid": 1234, "start_time": 5678 } ],
 *                    "frozen_since": 1700000000,   (CLOCK_REALTIME seconds)
 *                    "reason": "..." } ] }
 *
 * Writes are atomic: a temporary file in the same directory (mode 0600) is
 * written, fsync'ed and renamed over the registry, then the directory is
 * fsync'ed. The directory is created (0700) if missing. Writers serialise on
 * flock(2) of the directory, so a concurrent writer never tears the temporary
 * file; a read-modify-write cycle is not protected, so one registry path
 * belongs to one daemon (`--thaw-all` runs after it stopped, ExecStopPost=).
 *
 * Loading is defensive, since the file may be corrupt or hostile: entries
 * with a missing or wrong-typed key, method, cgroup or process list are
 * skipped, so are single processes with a bad pid (<= 1, > PID_MAX_LIMIT) or
 * start_time, duplicate keys, and entries beyond REGISTRY_MAX_ENTRIES.
 * Optional fields (name, uid, frozen_since, reason) of the wrong type fall
 * back to "unknown". Skips are logged at debug level and counted.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define REGISTRY_MAX_ENTRIES 4096
#define REGISTRY_MAX_PROCS 4096              /* per entry */
#define REGISTRY_FILE_MAX (4u * 1024 * 1024) /* bounds json-c's memory on a hostile file */
#define REGISTRY_STRING_MAX 4096
#define REGISTRY_PID_MAX 4194304 /* PID_MAX_LIMIT on 64-bit */
#define REGISTRY_UID_INVALID ((uid_t)-1)

typedef enum FreezeMethod {
        FREEZE_METHOD_CGROUP,  /* cgroup.freeze on a cgroup holding only the app */
        FREEZE_METHOD_SIGSTOP, /* SIGSTOP through pidfds (fallback) */
        _FREEZE_METHOD_MAX,
        _FREEZE_METHOD_INVALID = -EINVAL,
} FreezeMethod;

const char *freeze_method_to_string(FreezeMethod m);
FreezeMethod freeze_method_from_string(const char *s);

typedef struct RegistryProc {
        pid_t pid;
        uint64_t start_time; /* /proc/PID/stat field 22, clock ticks since boot */
} RegistryProc;

typedef struct RegistryEntry {
        char *key;  /* app key, unique in the registry */
        char *name; /* display name, or NULL */
        uid_t uid;  /* REGISTRY_UID_INVALID if unknown */
        FreezeMethod method;
        char *cgroup; /* absolute path (cgroup method), or NULL */
        RegistryProc *procs;
        size_t n_procs;
        uint64_t frozen_since;      /* CLOCK_REALTIME seconds */
        uint64_t frozen_since_mono; /* CLOCK_MONOTONIC usec; memory only (estimated on load) */
        char *reason;               /* or NULL */
} RegistryEntry;

typedef struct Registry {
        RegistryEntry *entries;
        size_t n;
        size_t allocated;
} Registry;

/*
 * The registry path for a mode: RUNSTATEDIR/frozen.json (/run/memguard) in
 * system mode; in user mode $XDG_RUNTIME_DIR/memguard/frozen.json, else
 * $XDG_STATE_HOME/memguard/frozen.json, else ~/.local/state/memguard/.
 * -ENXIO if none of them is set to an absolute path.
 */
int registry_default_path(bool system_mode, char **ret);

/*
 * Parse registry text (need not be NUL-terminated) into *ret (initialised
 * here). -EBADMSG if it is not one complete JSON object with an "entries"
 * array; otherwise 0, with the number of skipped entries and processes in
 * *ret_skipped (may be NULL).
 */
int registry_parse(const char *buf, size_t len, Registry *ret, size_t *ret_skipped);

/*
 * Load the registry file. A missing file (or a missing directory on its path)
 * is an empty registry. -EFBIG if larger than REGISTRY_FILE_MAX, -EBADMSG as
 * for registry_parse().
 */
int registry_load(const char *path, Registry *ret, size_t *ret_skipped);

/* Serialise (NUL-terminated, newly allocated). */
int registry_format(const Registry *r, char **ret);

/* Write atomically as described above. */
int registry_save(const Registry *r, const char *path);

RegistryEntry *registry_find(Registry *r, const char *key);

/*
 * Move *e into the registry (it is zeroed on success). -EEXIST if the key is
 * present, -E2BIG beyond REGISTRY_MAX_ENTRIES or REGISTRY_MAX_PROCS.
 */
int registry_add(Registry *r, RegistryEntry *e);

/* Remove and free the entry with this key; -ENOENT if there is none. */
int registry_remove(Registry *r, const char *key);

void registry_entry_done(RegistryEntry *e);
void registry_done(Registry *r);
