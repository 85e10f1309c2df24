/* SPDX-License-Identifier: MIT */
/*
 * The damped level state machine. Pure: time comes in as an argument.
 *
 * Rising. Call u = level_for_score(score) the undamped level of a sample.
 * A sample with u > level extends the current "rise run"; any other sample
 * ends it. `pending` is the minimum u over the run, i.e. the highest level
 * that *every* sample of the run supports, and `pending_n` its length. When
 * the run reaches rise_samples samples, the level rises to `pending`. So
 * rising to L always needs rise_samples consecutive samples at or above L,
 * and a single high sample in a run of moderate ones cannot drag the level
 * further than the moderate ones allow (e.g. with rise_samples = 3, scores
 * in the elevated, critical, critical bands rise to elevated, not critical).
 * After a rise, the sample that completed the run starts the next run if it
 * is above the new level, so a ramp keeps climbing one run at a time; the
 * earlier samples of the old run are not reused, which can make the next
 * step one or two samples later than a sliding window would, never earlier.
 *
 * Sharp rise. If the score jumped by at least sharp_rise since the previous
 * sample and u > level, the level goes to u at once. The first sample has
 * no previous one, so it never counts as a jump.
 *
 * Falling. While level > normal and the score is under
 * threshold[level] - hysteresis, the calm timer runs; once it has run for
 * calm_usec the level drops by one and the timer restarts at that moment,
 * so every further step down needs calm_usec of calm again (measured
 * against the new, lower threshold). Any sample at or above the fall
 * threshold stops the timer. The timer does not run while the floor holds
 * the level where it is: when the floor lifts, calm is measured from then.
 *
 * Floor. The result is never below `floor`. When the floor lifts the level,
 * a rise run whose every sample is above the floor (pending > floor) goes
 * on, since it is still valid against the new level; otherwise the run
 * restarts with the current sample alone if that one is above the floor.
 *
 * Odd input. A non-finite score is no evidence either way: it changes no
 * counter (only the floor applies). Time going backwards restarts the calm
 * timer instead of being taken as a long calm. calm_since uses 0 for "not
 * calm", so a calm period starting at t = 0 is recorded as t = 1 µs.
 */
#include <math.h>
#include <string.h>

#include "level.h"
#include "macro.h"

static const char *const level_table[_LEVEL_MAX] = {
        [LEVEL_NORMAL] = "normal",
        [LEVEL_ELEVATED] = "elevated",
        [LEVEL_HIGH] = "high",
        [LEVEL_CRITICAL] = "critical",
        [LEVEL_EMERGENCY] = "emergency",
};

const char *level_to_string(Level l)
{
        if (l < 0 || l >= _LEVEL_MAX)
                return NULL;
        return level_table[l];
}

Level level_from_string(const char *s)
{
        if (!s)
                return _LEVEL_INVALID;
        for (Level l = 0; l < _LEVEL_MAX; l++)
                if (strcmp(level_table[l], s) == 0)
                        return l;
        return _LEVEL_INVALID;
}

void level_machine_init(LevelMachine *m)
{
        *m = (LevelMachine){
                .level = LEVEL_NORMAL,
                .pending = LEVEL_NORMAL,
        };
}

Level level_for_score(const LevelParams *p, double score)
{
        if (isnan(score))
                return LEVEL_NORMAL;
        for (Level l = _LEVEL_MAX - 1; l > LEVEL_NORMAL; l--)
                if (score >= p->threshold[l])
                        return l;
        return LEVEL_NORMAL;
}

static void rise_run_reset(LevelMachine *m)
{
        m->pending = m->level;
        m->pending_n = 0;
}

/* Count a sample of undamped level u towards the rise run. */
static void rise_run_add(LevelMachine *m, Level u)
{
        if (u <= m->level) {
                rise_run_reset(m);
                return;
        }
        m->pending = m->pending_n == 0 ? u : MIN(m->pending, u);
        m->pending_n++;
}

/* Go up to `l` (> m->level): a fresh rise run, starting with this sample if it supports more. */
static void raise_to(LevelMachine *m, Level l, Level u)
{
        m->level = l;
        m->calm_since = 0;
        rise_run_reset(m);
        rise_run_add(m, u);
}

static void step(LevelMachine *m, const LevelParams *p, uint64_t now_usec, double score, Level floor)
{
        unsigned need = MAX(p->rise_samples, 1u);
        Level u = level_for_score(p, score);
        bool sharp = m->have_last && score - m->last_score >= p->sharp_rise;

        m->last_score = score;
        m->have_last = true;

        if (u > m->level) {
                m->calm_since = 0;
                if (sharp) {
                        raise_to(m, u, u);
                        return;
                }
                rise_run_add(m, u);
                if (m->pending_n >= need)
                        raise_to(m, m->pending, u);
                return;
        }

        rise_run_reset(m);

        if (m->level == LEVEL_NORMAL || floor >= m->level ||
            !(score < p->threshold[m->level] - p->hysteresis)) {
                m->calm_since = 0;
                return;
        }

        if (m->calm_since == 0 || now_usec < m->calm_since) {
                /* Calm starts now (or the clock went backwards: start over). */
                m->calm_since = MAX(now_usec, UINT64_C(1));
                if (p->calm_usec > 0)
                        return;
        }

        if (now_usec - m->calm_since >= p->calm_usec) {
                m->level--;
                rise_run_reset(m);
                /* The next step down needs calm again, under the new threshold. */
                m->calm_since = MAX(now_usec, UINT64_C(1));
        }
}

Level level_machine_feed(LevelMachine *m, const LevelParams *p, uint64_t now_usec, double score, Level floor,
                         bool *ret_changed)
{
        Level old = m->level;

        floor = CLAMP(floor, LEVEL_NORMAL, _LEVEL_MAX - 1);

        if (isfinite(score))
                step(m, p, now_usec, score, floor);

        if (m->level < floor) {
                m->level = floor;
                m->calm_since = 0;
                /* A run whose every sample supports more than the floor still counts. */
                if (m->pending_n == 0 || m->pending <= floor) {
                        rise_run_reset(m);
                        if (isfinite(score))
                                rise_run_add(m, level_for_score(p, score));
                }
        }

        if (ret_changed)
                *ret_changed = m->level != old;
        return m->level;
}
