/* SPDX-License-Identifier: MIT */
/*
 * The level state machine against synthetic series: persistence, sharp
 * rises, one-step falls with calm, hysteresis, the floor, odd input, and
 * oscillating series that must not make it flap. Recorded series are in
 * test-pressure.c, where they go through the pressure score first.
 */
#include <math.h>
#include <stdint.h>

#include "level.h"
#include "macro.h"
#include "test.h"

#define TICK (250 * USEC_PER_MSEC)

/* Defaults, but with sharp rises out of the way (no jump reaches 2). */
static LevelParams params_no_sharp(void)
{
        LevelParams p;

        level_params_default(&p);
        p.sharp_rise = 2.0;
        return p;
}

static Level feed(LevelMachine *m, const LevelParams *p, uint64_t t, double score)
{
        return level_machine_feed(m, p, t, score, LEVEL_NORMAL, NULL);
}

static void test_strings(void)
{
        static const char *const names[] = {"normal", "elevated", "high", "critical", "emergency"};

        for (Level l = 0; l < _LEVEL_MAX; l++) {
                ASSERT_STREQ(level_to_string(l), names[l]);
                ASSERT_EQ_INT(level_from_string(names[l]), l);
        }
        ASSERT_TRUE(level_to_string(_LEVEL_MAX) == NULL);
        ASSERT_TRUE(level_to_string(_LEVEL_INVALID) == NULL);
        ASSERT_EQ_INT(level_from_string(NULL), _LEVEL_INVALID);
        ASSERT_EQ_INT(level_from_string(""), _LEVEL_INVALID);
        ASSERT_EQ_INT(level_from_string("High"), _LEVEL_INVALID);
        ASSERT_EQ_INT(level_from_string("high "), _LEVEL_INVALID);
        ASSERT_EQ_INT(level_from_string("critica"), _LEVEL_INVALID);
}

static void test_level_for_score(void)
{
        static const struct {
                double score;
                Level level;
        } table[] = {
                {0.0, LEVEL_NORMAL},      {0.0999, LEVEL_NORMAL},      {0.10, LEVEL_ELEVATED},
                {0.2999, LEVEL_ELEVATED}, {0.30, LEVEL_HIGH},          {0.5499, LEVEL_HIGH},
                {0.55, LEVEL_CRITICAL},   {0.7999, LEVEL_CRITICAL},    {0.80, LEVEL_EMERGENCY},
                {1.0, LEVEL_EMERGENCY},   {7.0, LEVEL_EMERGENCY},      {-1.0, LEVEL_NORMAL},
                {NAN, LEVEL_NORMAL},      {INFINITY, LEVEL_EMERGENCY}, {-INFINITY, LEVEL_NORMAL},
        };
        LevelParams p;

        level_params_default(&p);
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                ASSERT_EQ_INT(level_for_score(&p, table[i].score), table[i].level);
}

static void test_rise_persistence(void)
{
        LevelParams p = params_no_sharp();
        LevelMachine m;
        uint64_t t = 0;
        bool changed;

        level_machine_init(&m);
        ASSERT_EQ_INT(m.level, LEVEL_NORMAL);

        /* rise_samples - 1 high samples, then a drop: no rise. */
        for (unsigned i = 0; i + 1 < p.rise_samples; i++)
                ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.40), LEVEL_NORMAL);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.05), LEVEL_NORMAL);
        ASSERT_EQ_INT(m.pending_n, 0);

        /* rise_samples high samples: up on the last one, not before. */
        for (unsigned i = 0; i + 1 < p.rise_samples; i++) {
                ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, 0.40, LEVEL_NORMAL, &changed),
                              LEVEL_NORMAL);
                ASSERT_FALSE(changed);
        }
        ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, 0.40, LEVEL_NORMAL, &changed), LEVEL_HIGH);
        ASSERT_TRUE(changed);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.40), LEVEL_HIGH);
}

static void test_rise_to_lowest_supported(void)
{
        LevelParams p = params_no_sharp();
        LevelMachine m;
        uint64_t t = 0;

        /* elevated, critical, critical: every sample supports elevated, not critical. */
        level_machine_init(&m);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.15), LEVEL_NORMAL);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.60), LEVEL_NORMAL);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.60), LEVEL_ELEVATED);
        /* The third sample opened the next run: two more reach critical. */
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.60), LEVEL_ELEVATED);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.60), LEVEL_CRITICAL);

        /* emergency, high, emergency from normal: high. */
        level_machine_init(&m);
        feed(&m, &p, t += TICK, 0.90);
        feed(&m, &p, t += TICK, 0.35);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.90), LEVEL_HIGH);

        /* rise_samples = 0 behaves as 1. */
        p.rise_samples = 0;
        level_machine_init(&m);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.35), LEVEL_HIGH);
}

static void test_sharp_rise(void)
{
        LevelParams p;
        LevelMachine m;
        uint64_t t = 0;
        bool changed;

        level_params_default(&p);
        level_machine_init(&m);

        /* The first sample has nothing to jump from. */
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.90), LEVEL_NORMAL);

        level_machine_init(&m);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.05), LEVEL_NORMAL);
        ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, 0.85, LEVEL_NORMAL, &changed), LEVEL_EMERGENCY);
        ASSERT_TRUE(changed);
        ASSERT_EQ_INT(m.pending_n, 0);

        /* A jump smaller than sharp_rise needs persistence. */
        level_machine_init(&m);
        feed(&m, &p, t += TICK, 0.15);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.35), LEVEL_NORMAL);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.35), LEVEL_ELEVATED); /* 0.15 was in the run */
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.35), LEVEL_ELEVATED);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.35), LEVEL_HIGH);

        /* A big jump that stays within the current level changes nothing. */
        level_machine_init(&m);
        feed(&m, &p, t += TICK, 0.0);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.60), LEVEL_CRITICAL);
        feed(&m, &p, t += TICK, 0.52);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.79), LEVEL_CRITICAL);
}

/* Feed `score` every TICK from *t until the level changes or `limit` passes; return when it changed. */
static uint64_t feed_until_change(LevelMachine *m, const LevelParams *p, uint64_t *t, double score,
                                  uint64_t limit)
{
        uint64_t end = *t + limit;
        bool changed = false;

        while (*t < end) {
                *t += TICK;
                level_machine_feed(m, p, *t, score, LEVEL_NORMAL, &changed);
                if (changed)
                        return *t;
        }
        return 0;
}

static void test_fall_one_level_at_a_time(void)
{
        LevelParams p;
        LevelMachine m;
        uint64_t t = 100 * USEC_PER_SEC, start;

        level_params_default(&p);
        level_machine_init(&m);
        feed(&m, &p, t += TICK, 0.0);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.70), LEVEL_CRITICAL);

        /* Calm from the next sample on: one level per calm_usec, never two at once. */
        start = t + TICK;
        for (Level want = LEVEL_HIGH; want >= LEVEL_NORMAL; want--) {
                uint64_t when = feed_until_change(&m, &p, &t, 0.0, 3 * p.calm_usec);
                ASSERT_EQ_INT(m.level, want);
                ASSERT_EQ_U64(when, start + (uint64_t)(LEVEL_CRITICAL - want) * p.calm_usec);
        }
        ASSERT_EQ_U64(feed_until_change(&m, &p, &t, 0.0, 5 * p.calm_usec), 0);

        /* calm_usec = 0: one level per calm sample. */
        p.calm_usec = 0;
        feed(&m, &p, t += TICK, 0.0);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.70), LEVEL_CRITICAL);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.0), LEVEL_HIGH);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.0), LEVEL_ELEVATED);
}

static void test_hysteresis(void)
{
        LevelParams p;
        LevelMachine m;
        uint64_t t = 0;

        level_params_default(&p);
        level_machine_init(&m);
        feed(&m, &p, t += TICK, 0.0);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.40), LEVEL_HIGH);

        /* Under the threshold but inside the hysteresis band: stays, however long. */
        ASSERT_EQ_U64(feed_until_change(&m, &p, &t, 0.27, 120 * USEC_PER_SEC), 0);
        ASSERT_EQ_INT(m.level, LEVEL_HIGH);

        /* One sample in the band interrupts the calm. */
        ASSERT_EQ_U64(feed_until_change(&m, &p, &t, 0.20, p.calm_usec - TICK), 0);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.26), LEVEL_HIGH);
        ASSERT_EQ_U64(feed_until_change(&m, &p, &t, 0.20, p.calm_usec - TICK), 0);
        ASSERT_EQ_INT(m.level, LEVEL_HIGH);
        ASSERT_TRUE(feed_until_change(&m, &p, &t, 0.20, 2 * TICK) > 0);
        ASSERT_EQ_INT(m.level, LEVEL_ELEVATED);
}

static void test_floor(void)
{
        LevelParams p = params_no_sharp();
        LevelMachine m;
        uint64_t t = 0;
        bool changed;

        level_machine_init(&m);
        ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, 0.0, LEVEL_CRITICAL, &changed), LEVEL_CRITICAL);
        ASSERT_TRUE(changed);
        /* While the floor holds the level, calm does not accumulate... */
        for (int i = 0; i < 100; i++)
                ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, 0.0, LEVEL_CRITICAL, NULL),
                              LEVEL_CRITICAL);
        ASSERT_EQ_U64(m.calm_since, 0);
        /* ...so after it lifts the fall takes calm_usec, one level at a time. */
        uint64_t lifted = t + TICK;
        ASSERT_TRUE(feed_until_change(&m, &p, &t, 0.0, 3 * p.calm_usec) > 0);
        ASSERT_EQ_INT(m.level, LEVEL_HIGH);
        ASSERT_EQ_U64(t, lifted + p.calm_usec);

        /* A floor below the level does nothing; a floor never lowers it. */
        ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, 0.0, LEVEL_ELEVATED, NULL), LEVEL_HIGH);

        /* A rise run above the floor survives the floor. */
        level_machine_init(&m);
        feed(&m, &p, t += TICK, 0.90);
        ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, 0.90, LEVEL_HIGH, NULL), LEVEL_HIGH);
        ASSERT_EQ_INT(m.pending, LEVEL_EMERGENCY);
        ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, 0.90, LEVEL_HIGH, NULL), LEVEL_EMERGENCY);

        /* A run not above the floor restarts with the current sample. */
        level_machine_init(&m);
        feed(&m, &p, t += TICK, 0.15);
        ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, 0.60, LEVEL_HIGH, NULL), LEVEL_HIGH);
        ASSERT_EQ_INT(m.pending, LEVEL_CRITICAL);
        ASSERT_EQ_INT(m.pending_n, 1);
        feed(&m, &p, t += TICK, 0.60);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.60), LEVEL_CRITICAL);

        /* Out-of-range floors are clamped. */
        level_machine_init(&m);
        ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, 0.0, _LEVEL_INVALID, NULL), LEVEL_NORMAL);
        ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, 0.0, (Level)42, NULL), LEVEL_EMERGENCY);
}

static void test_odd_input(void)
{
        LevelParams p;
        LevelMachine m;
        uint64_t t = 200 * USEC_PER_SEC;

        level_params_default(&p);
        level_machine_init(&m);

        /* Non-finite scores change nothing but the floor still applies. */
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, NAN), LEVEL_NORMAL);
        ASSERT_FALSE(m.have_last);
        ASSERT_EQ_INT(level_machine_feed(&m, &p, t += TICK, INFINITY, LEVEL_HIGH, NULL), LEVEL_HIGH);
        ASSERT_EQ_INT(m.pending_n, 0);

        /* Time going backwards during calm: restart the calm, never a huge calm. */
        level_machine_init(&m);
        feed(&m, &p, t, 0.0);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.40), LEVEL_HIGH);
        ASSERT_EQ_INT(feed(&m, &p, t += TICK, 0.0), LEVEL_HIGH); /* calm starts */
        ASSERT_EQ_INT(feed(&m, &p, 0, 0.0), LEVEL_HIGH);         /* back to 0: calm restarts */
        ASSERT_EQ_INT(feed(&m, &p, p.calm_usec - TICK, 0.0), LEVEL_HIGH);
        ASSERT_EQ_INT(feed(&m, &p, p.calm_usec + 1, 0.0), LEVEL_ELEVATED);
        ASSERT_EQ_INT(feed(&m, &p, 5, 0.0), LEVEL_ELEVATED);
        ASSERT_EQ_INT(feed(&m, &p, UINT64_MAX, 0.0), LEVEL_NORMAL); /* calm since t = 5: long enough */
        ASSERT_EQ_INT(feed(&m, &p, UINT64_MAX, 0.0), LEVEL_NORMAL);

        /* A machine that was never fed before t = 0 works from t = 0. */
        level_machine_init(&m);
        feed(&m, &p, 0, 0.0);
        ASSERT_EQ_INT(feed(&m, &p, 0, 0.40), LEVEL_HIGH);
        ASSERT_EQ_INT(feed(&m, &p, 0, 0.0), LEVEL_HIGH);
        ASSERT_EQ_INT(feed(&m, &p, p.calm_usec + 1, 0.0), LEVEL_ELEVATED);
}

/* Deterministic noise in [-1, 1]. */
static double noise(uint32_t *state)
{
        *state = *state * 1664525u + 1013904223u;
        return (double)(*state >> 8) / (double)(1u << 23) - 1.0;
}

typedef struct Run {
        unsigned changes;
        unsigned falls;
        uint64_t min_dwell_before_fall; /* shortest time from any change to the next fall */
        Level max;
} Run;

static void run_series(const LevelParams *p, double (*score_at)(double t_sec, uint32_t *rng),
                       uint64_t duration, Run *ret)
{
        LevelMachine m;
        uint32_t rng = 12345;
        uint64_t last_change = 0;
        Run r = {.min_dwell_before_fall = UINT64_MAX};

        level_machine_init(&m);
        for (uint64_t t = 0; t <= duration; t += TICK) {
                Level old = m.level;
                bool changed;
                Level l = level_machine_feed(&m, p, t, score_at((double)t / USEC_PER_SEC, &rng),
                                             LEVEL_NORMAL, &changed);

                ASSERT_TRUE(l >= LEVEL_NORMAL && l < _LEVEL_MAX);
                r.max = MAX(r.max, l);
                if (!changed)
                        continue;
                ASSERT_TRUE(l != old);
                r.changes++;
                if (l < old) {
                        ASSERT_EQ_INT(l, old - 1);
                        r.falls++;
                        r.min_dwell_before_fall = MIN(r.min_dwell_before_fall, t - last_change);
                }
                last_change = t;
        }
        *ret = r;
}

static double alternate_small(double t, uint32_t *rng)
{
        return ((long)(t * 4) % 2) ? 0.32 : 0.28; /* around threshold[high] */
}

static double alternate_big(double t, uint32_t *rng)
{
        return ((long)(t * 4) % 2) ? 0.45 : 0.05; /* every up step is a sharp rise */
}

static double noisy_threshold(double t, uint32_t *rng)
{
        return 0.30 + 0.06 * noise(rng);
}

static double noisy_sine(double t, uint32_t *rng)
{
        return 0.35 + 0.30 * sin(2 * M_PI * t / 30.0) + 0.08 * noise(rng);
}

static double fast_noisy_sine(double t, uint32_t *rng)
{
        return 0.35 + 0.25 * sin(2 * M_PI * t / 4.0) + 0.08 * noise(rng);
}

static void test_no_flapping(void)
{
        const uint64_t ten_min = 600 * USEC_PER_SEC;
        LevelParams p;
        Run r;

        level_params_default(&p);

        /* 2400 samples alternating across a threshold: at most the first step up. */
        run_series(&p, alternate_small, ten_min, &r);
        fprintf(stderr, "alternate 0.28/0.32: %u changes\n", r.changes);
        ASSERT_TRUE(r.changes <= 1);

        run_series(&p, alternate_big, ten_min, &r);
        fprintf(stderr, "alternate 0.05/0.45: %u changes\n", r.changes);
        ASSERT_TRUE(r.changes <= 1);
        ASSERT_EQ_INT(r.falls, 0);

        run_series(&p, noisy_threshold, ten_min, &r);
        fprintf(stderr, "0.30 ± 0.06 noise: %u changes, max %s\n", r.changes, level_to_string(r.max));
        ASSERT_TRUE(r.changes <= 2);

        /* 20 periods of 30 s swinging 0.05..0.65 plus noise: it may follow the
         * swing, but at most a few steps per period and no fall sooner than
         * calm_usec after the previous change. */
        run_series(&p, noisy_sine, ten_min, &r);
        fprintf(stderr, "noisy sine: %u changes (%u falls), min dwell before a fall %.2f s, max %s\n",
                r.changes, r.falls, (double)r.min_dwell_before_fall / USEC_PER_SEC, level_to_string(r.max));
        ASSERT_TRUE(r.changes <= 2 * 20 + 4);
        ASSERT_TRUE(r.falls == 0 || r.min_dwell_before_fall >= p.calm_usec);

        /* A 4 s swing is faster than calm_usec: it climbs once and stays. */
        run_series(&p, fast_noisy_sine, ten_min, &r);
        fprintf(stderr, "fast noisy sine: %u changes (%u falls), max %s\n", r.changes, r.falls,
                level_to_string(r.max));
        ASSERT_TRUE(r.changes <= 3);
        ASSERT_EQ_INT(r.falls, 0);
}

static double ramp(double t, uint32_t *rng)
{
        /* 0 -> 1 in 60 s, hold 20 s, 1 -> 0 in 60 s, then 0. */
        if (t < 60)
                return t / 60;
        if (t < 80)
                return 1;
        if (t < 140)
                return 1 - (t - 80) / 60;
        return 0;
}

static void test_ramp_visits_every_level(void)
{
        static const Level want[] = {
                LEVEL_ELEVATED, LEVEL_HIGH, LEVEL_CRITICAL, LEVEL_EMERGENCY,
                LEVEL_CRITICAL, LEVEL_HIGH, LEVEL_ELEVATED, LEVEL_NORMAL,
        };
        LevelParams p;
        LevelMachine m;
        size_t n = 0;

        level_params_default(&p);
        level_machine_init(&m);
        for (uint64_t t = 0; t <= 240 * USEC_PER_SEC; t += TICK) {
                bool changed;
                Level l = level_machine_feed(&m, &p, t, ramp((double)t / USEC_PER_SEC, NULL), LEVEL_NORMAL,
                                             &changed);
                if (!changed)
                        continue;
                ASSERT_TRUE(n < ELEMENTSOF(want));
                ASSERT_EQ_INT(l, want[n]);
                n++;
        }
        ASSERT_EQ_INT(n, ELEMENTSOF(want));
}

int main(void)
{
        RUN(test_strings);
        RUN(test_level_for_score);
        RUN(test_rise_persistence);
        RUN(test_rise_to_lowest_supported);
        RUN(test_sharp_rise);
        RUN(test_fall_one_level_at_a_time);
        RUN(test_hysteresis);
        RUN(test_floor);
        RUN(test_odd_input);
        RUN(test_no_flapping);
        RUN(test_ramp_visits_every_level);
        return 0;
}
