/* SPDX-License-Identifier: MIT */
/*
 * Incident reports: the answer to "I ran out of memory: why?".
 *
 * While calm, the caller records compact snapshots (the top processes by
 * RSS + swap, MemAvailable, swap, PSI) into a ring, e.g. at every heartbeat.
 * When the level leaves normal, incident_begin() freezes a view: what was
 * using memory then, and what grew over the last minute (for each process,
 * identified by (pid, start_time), its RSS + swap now minus its value in the
 * oldest ring sample at most INCIDENT_WINDOW_USEC old; a process absent from
 * that sample counts from 0 and is marked new). Then actions and level
 * changes are noted, and incident_end(), called when the level is back to
 * normal, writes the incident as JSON and as readable text into the
 * incident directory and keeps only the newest `keep` incidents:
 *   incident-20250131T140211.123456Z.json   (UTC start time)
 *   incident-20250131T140211.123456Z.txt
 *
 * Memory: everything is preallocated in the recorder. Recording snapshots,
 * incident_begin(), incident_level() and incident_note_action() never
 * allocate or do I/O, so they may run on the path from trigger to kill;
 * incident_end() allocates and writes files (call it once pressure is over).
 *
 * Times: snapshots carry both clocks; the ring and durations use
 * CLOCK_MONOTONIC, the report shows wall-clock times (local time in the
 * text, UTC in JSON). Actions carry their own CLOCK_REALTIME stamp (Event).
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 * Nothing here logs above debug.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eventlog.h"
#include "level.h"
#include "macro.h"
#include "meminfo.h"
#include "proc.h"

#define INCIDENT_TOP_K 24 /* processes kept per snapshot */
#define INCIDENT_RING 12  /* snapshots kept while calm */
#define INCIDENT_WINDOW_USEC (60 * USEC_PER_SEC)
/* Ring samples are kept at least this far apart (a newer one replaces the
 * newest until it is), so INCIDENT_RING of them always span the window. */
#define INCIDENT_SPACING_USEC (6 * USEC_PER_SEC)
#define INCIDENT_REPORT_TOP 10 /* top users / top growers shown */
#define INCIDENT_MAX_ACTIONS 48
#define INCIDENT_MAX_LEVELS 32
#define INCIDENT_COMM_MAX 16
#define INCIDENT_APP_MAX 64
#define INCIDENT_REASON_MAX 128

typedef struct IncidentProc {
        pid_t pid;
        uid_t uid;
        uint64_t start_time; /* clock ticks since boot: with pid, the identity */
        uint64_t rss;        /* bytes: anon + file + shmem */
        uint64_t swap;       /* bytes */
        char comm[INCIDENT_COMM_MAX];
        char app[INCIDENT_APP_MAX]; /* app id, else unit, else "" */
} IncidentProc;

typedef struct IncidentSnapshot {
        uint64_t mono_usec;     /* CLOCK_MONOTONIC */
        uint64_t realtime_usec; /* CLOCK_REALTIME */
        double score;           /* pressure score, NAN if unknown */
        bool has_mem;
        uint64_t mem_total, mem_available, swap_total, swap_used; /* bytes */
        double psi_some_avg10, psi_full_avg10;                    /* percent, NAN if unknown */
        size_t n_procs;
        IncidentProc procs[INCIDENT_TOP_K]; /* largest (rss + swap) first */
} IncidentSnapshot;

/* Start an empty snapshot (score and PSI unknown, no memory figures). */
void incident_snapshot_init(IncidentSnapshot *s, uint64_t mono_usec, uint64_t realtime_usec);
void incident_snapshot_set_mem(IncidentSnapshot *s, const MemInfo *mi);
/* Offer a process; kept if it is among the INCIDENT_TOP_K largest so far. Kernel threads are skipped. */
void incident_snapshot_add_proc(IncidentSnapshot *s, const ProcEntry *e);
void incident_snapshot_add_table(IncidentSnapshot *s, const ProcTable *t);

typedef struct IncidentRecorder IncidentRecorder;

/* Reports go to dir (created 0700 if missing); keep >= 1 incidents are kept. */
int incident_recorder_new(const char *dir, unsigned keep, IncidentRecorder **ret);
IncidentRecorder *incident_recorder_free(IncidentRecorder *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(IncidentRecorder *, incident_recorder_free)

/* Record a calm snapshot (copied). Ignored during an incident or if not newer than the last one. */
void incident_record(IncidentRecorder *r, const IncidentSnapshot *s);

/*
 * The level left normal: start an incident from `now` (a snapshot taken
 * just now; it is not added to the ring). If an incident is already open,
 * this is the same as incident_level().
 */
void incident_begin(IncidentRecorder *r, Level level, const IncidentSnapshot *now);
bool incident_active(const IncidentRecorder *r);

/* A level change during the incident (ignored when none is open). */
void incident_level(IncidentRecorder *r, Level level, double score, uint64_t mono_usec);

/* An action taken during the incident (ignored when none is open, and for "level" events). */
void incident_note_action(IncidentRecorder *r, const Event *ev);

/*
 * Pressure is over: write the report files, prune old ones and close the
 * incident. Returns 1 if a report was written, 0 if no incident was open;
 * on failure the incident is dropped too (and nothing half-written stays).
 * *ret_path (may be NULL) gets the path of the text report.
 */
int incident_end(IncidentRecorder *r, uint64_t mono_usec, char **ret_path);

/* For tests and `memguardctl`: the frozen view as JSON, and the story as text. */
int incident_to_json(const IncidentRecorder *r, uint64_t end_mono_usec, json_object **ret);
int incident_to_text(const IncidentRecorder *r, uint64_t end_mono_usec, char **ret);
