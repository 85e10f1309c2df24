/* SPDX-License-Identifier: MIT */
/*
 * The record of what memguard did: every action becomes one structured log
 * entry and one line of JSON in `<state dir>/events.jsonl`, both produced by
 * eventlog_append() from the same Event so that they never disagree.
 *
 * The JSON log: one object per line, appended with O_APPEND in a single
 * write(2). Before a line would take the file past max_bytes the file is
 * rotated (events.jsonl -> events.jsonl.1 -> ... -> events.jsonl.<keep_files>,
 * the oldest removed), so the log never exceeds max_bytes unless one line
 * alone is longer, and the total stays under (keep_files + 1) * max_bytes.
 * The directory is created 0700 when missing; files are 0600.
 *
 * Strings that come from /proc (comm, cmdline, unit names) are attacker
 * controlled. In JSON, json-c escapes quotes and control characters, so a
 * newline can never split a line; bytes that are not valid UTF-8 are written
 * as the text "\xNN" so every line is valid UTF-8 JSON. In the log line and in
 * readable text, control characters are escaped the same way.
 *
 * Appending allocates (json-c): call it after acting, never between the
 * trigger and the kill.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "json-util.h"
#include "macro.h"

#define EVENTLOG_FILE "events.jsonl"
#define EVENT_FIGURES_MAX 8

typedef enum EventFigureType {
        EVENT_FIGURE_U64,
        EVENT_FIGURE_DOUBLE,
} EventFigureType;

/* One measured value. Keys are [a-z0-9_]+ (they become log field names). */
typedef struct EventFigure {
        const char *key;
        EventFigureType type;
        uint64_t u;
        double d; /* a non-finite value is written as null */
} EventFigure;

#define EVENT_FIGURE_U64(k, v) ((EventFigure){.key = (k), .type = EVENT_FIGURE_U64, .u = (v)})
#define EVENT_FIGURE_DOUBLE(k, v) ((EventFigure){.key = (k), .type = EVENT_FIGURE_DOUBLE, .d = (v)})

/* What an action was aimed at. Zero / NULL members are left out. */
typedef struct EventTarget {
        pid_t pid;
        bool has_uid;
        uid_t uid;
        const char *comm;
        const char *app;    /* desktop app id, if known */
        const char *unit;   /* systemd unit */
        const char *cgroup; /* cgroup v2 path */
} EventTarget;

typedef struct Event {
        uint64_t time_usec; /* CLOCK_REALTIME; 0 = now */
        const char *action; /* "freeze", "thaw", "kill", "checkpoint", "throttle", "unthrottle",
                               "cap", "uncap", "reclaim", "level", ...: [a-z0-9_-]+ */
        EventTarget target;
        const char *reason; /* why, in a few words (may be NULL) */
        EventFigure figures[EVENT_FIGURES_MAX];
        size_t n_figures;
        bool dry_run; /* decided but not done (--dry-run) */
        int error;    /* 0: ok; otherwise the -errno the action failed with */
} Event;

typedef struct EventLog EventLog;

/*
 * Open (creating dir_path 0700 with its parents and events.jsonl 0600 if
 * needed) the event log in dir_path. max_bytes >= 1024 caps one file;
 * keep_files (0..99) rotated files are kept. Errors say why the directory
 * cannot be used: -EACCES, -EROFS, -ENOTDIR, -ENOSPC...; -ELOOP if
 * events.jsonl is a symlink, -EBADFD (or -ENXIO for a FIFO) if it is not a
 * regular file. -EINVAL for max_bytes < 1024 or keep_files > 99.
 */
int eventlog_open(const char *dir_path, uint64_t max_bytes, unsigned keep_files, EventLog **ret);
EventLog *eventlog_close(EventLog *el);
DEFINE_TRIVIAL_CLEANUP_FUNC(EventLog *, eventlog_close)

/*
 * Log `ev` as one structured log entry (always, even if the file write
 * fails) and append it to the JSON log. -EINVAL (and nothing logged) for an
 * event without a valid action, with too many figures or a bad figure key.
 * `el` may be NULL: then only the log entry is written.
 */
int eventlog_append(EventLog *el, const Event *ev);

/* The JSON object for an event (the exact content of its line); -EINVAL as above. */
int event_to_json(const Event *ev, json_object **ret);

/* The app id, else the unit, else the cgroup of a target; NULL if none. */
const char *event_target_name(const EventTarget *t);

/* The action as a verb for messages: "froze"/"frozen", "killed", ...; else the action itself. */
const char *event_action_past(const char *action, bool participle);

/* ---- Helpers shared with incident.c ---- */


/* Add members to a JSON object; out of memory is fatal. Strings go through
 * utf8_sanitize(); a NULL string adds nothing. */
void json_add_string(json_object *o, const char *key, const char *s);
void json_add_u64(json_object *o, const char *key, uint64_t v);
void json_add_i64(json_object *o, const char *key, int64_t v);
void json_add_double(json_object *o, const char *key, double v);
void json_add_bool(json_object *o, const char *key, bool v);
void json_add_time(json_object *o, const char *key, uint64_t realtime_usec); /* "key": ISO, "key_usec": N */
json_object *json_new_object(void);
json_object *json_new_array(void);
void json_add(json_object *o, const char *key, json_object *v); /* takes v */
void json_append(json_object *array, json_object *v);           /* takes v */

/*
 * Copy `s` into buf (always NUL-terminated, truncated at a character
 * boundary), writing each byte that is not part of valid UTF-8 as "\xNN";
 * with `escape_control`, control characters (C0, DEL, C1), Unicode line
 * separators and bidi controls too, so text cannot move a terminal cursor,
 * forge a line or display reordered. Returns buf. NULL reads as "".
 * A buffer of 4 * strlen(s) + 1 bytes always suffices.
 */
char *utf8_sanitize(const char *s, bool escape_control, char *buf, size_t size);

/* A double in "%.6g" form whatever the locale; non-finite gives "null". */
char *format_double(double d, char *buf, size_t size);

/* "2025-01-31T14:02:11.123456Z" (UTC). */
char *format_time_iso(uint64_t realtime_usec, char *buf, size_t size);

uint64_t now_realtime_usec(void);

/* Create a directory 0700 (and missing parents 0700) if needed and open it; returns the fd. */
int state_dir_open(const char *path);

/* Write a file in dirfd atomically (temp file, fsync, rename), mode 0600. */
int write_file_atomic_at(int dirfd, const char *name, const char *data, size_t len);
