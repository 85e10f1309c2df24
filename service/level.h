/* SPDX-License-Identifier: MIT */
/*
 * Pressure levels and the damped state machine that moves between them.
 * Pure logic: no I/O, no clock (time is passed in), no allocation.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef enum Level {
        LEVEL_NORMAL,
        LEVEL_ELEVATED,
        LEVEL_HIGH,
        LEVEL_CRITICAL,
        LEVEL_EMERGENCY,
        _LEVEL_MAX,
        _LEVEL_INVALID = -1,
} Level;

const char *level_to_string(Level l);   /* "normal", ..., NULL when out of range */
Level level_from_string(const char *s); /* _LEVEL_INVALID when unknown */

typedef struct LevelParams {
        /* Score at or above which each level applies; threshold[LEVEL_NORMAL] is 0.
         * Must be strictly increasing. */
        double threshold[_LEVEL_MAX];
        /* Falling below a level needs the score under threshold - hysteresis. */
        double hysteresis;
        /* Rising needs this many consecutive samples at or above the new level... */
        unsigned rise_samples;
        /* ...unless the score jumped by at least this much since the previous sample. */
        double sharp_rise;
        /* Falling needs the score to stay under the lower threshold this long,
         * and then goes down one level at a time (each step needs calm again). */
        uint64_t calm_usec;
} LevelParams;

void level_params_default(LevelParams *p);

typedef struct LevelMachine {
        Level level;         /* the current, damped level */
        Level pending;       /* level the recent samples point to while rising */
        unsigned pending_n;  /* consecutive samples supporting `pending` */
        uint64_t calm_since; /* when the score went under the fall threshold; 0 = not calm */
        double last_score;
        bool have_last;
} LevelMachine;

void level_machine_init(LevelMachine *m);

/* The undamped level a score falls in. */
Level level_for_score(const LevelParams *p, double score);

/*
 * Feed one sample taken at `now_usec` (monotonic). `floor` is a level the
 * result must not be below (the MemAvailable hard floor), applied at once
 * without persistence. Returns the new level; *ret_changed (may be NULL)
 * says whether it differs from the previous one.
 */
Level level_machine_feed(LevelMachine *m, const LevelParams *p, uint64_t now_usec, double score, Level floor,
                         bool *ret_changed);
