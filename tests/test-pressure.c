/* SPDX-License-Identifier: MIT */
/*
 * The pressure score: each formula, renormalisation over the signals that
 * exist, first samples, baselines that restart, the hard floor, hostile
 * parameters; then recorded series (tests/fixtures/series) fed through
 * pressure_update() and level_machine_feed() with the default parameters.
 */
#include <inttypes.h>
#include <math.h>
#include <unistd.h>

#include "level.h"
#include "macro.h"
#include "pressure.h"
#include "test.h"

#define GIB (UINT64_C(1) << 30)
#define EPS 1e-9

static PressureParams defaults(void)
{
        PressureParams p;

        pressure_params_default(&p);
        return p;
}

/* A sample with PSI only; totals in µs, avg10 in percent. */
static PressureSample psi_sample(uint64_t t, uint64_t some, uint64_t full, double some_avg10,
                                 double full_avg10)
{
        return (PressureSample){
                .timestamp_usec = t,
                .has_psi = true,
                .psi.some = {.present = true, .avg10 = some_avg10, .total = some},
                .psi.full = {.present = true, .avg10 = full_avg10, .total = full},
        };
}

static void with_mem(PressureSample *x, uint64_t total, uint64_t avail, uint64_t swap_total,
                     uint64_t swap_free)
{
        x->has_mem = true;
        x->mem = (MemInfo){total, avail, swap_total, swap_free};
}

static void with_vm(PressureSample *x, uint64_t in, uint64_t out)
{
        x->has_vm = true;
        x->vm = (VmStat){.pswpin = in, .pswpout = out};
}

static void assert_sane(const PressureResult *r)
{
        ASSERT_TRUE(isfinite(r->score) && r->score >= 0 && r->score <= 1);
        ASSERT_TRUE(isfinite(r->trend));
        ASSERT_TRUE(isfinite(r->psi_some_rate) && r->psi_some_rate >= 0 && r->psi_some_rate <= 1);
        ASSERT_TRUE(isfinite(r->psi_full_rate) && r->psi_full_rate >= 0 && r->psi_full_rate <= 1);
        ASSERT_TRUE(isfinite(r->swap_io_bytes_per_sec) && r->swap_io_bytes_per_sec >= 0);
        ASSERT_TRUE(isfinite(r->mem_available_percent));
        for (int i = 0; i < _SIGNAL_MAX; i++)
                ASSERT_TRUE(isfinite(r->signal[i]) && r->signal[i] >= 0 && r->signal[i] <= 1);
        ASSERT_TRUE(r->floor >= LEVEL_NORMAL && r->floor < _LEVEL_MAX);
}

static void update(PressureState *s, const PressureParams *p, const PressureSample *x, PressureResult *r)
{
        pressure_update(s, p, x, r);
        assert_sane(r);
}

static void test_signal_names(void)
{
        ASSERT_STREQ(signal_to_string(SIGNAL_PSI), "psi");
        ASSERT_STREQ(signal_to_string(SIGNAL_SWAP), "swap");
        ASSERT_STREQ(signal_to_string(SIGNAL_SWAP_IO), "swap_io");
        ASSERT_STREQ(signal_to_string(SIGNAL_GPU), "gpu");
        ASSERT_TRUE(signal_to_string(_SIGNAL_MAX) == NULL);
        ASSERT_TRUE(signal_to_string(-1) == NULL);
}

static void test_first_sample(void)
{
        PressureParams p = defaults();
        PressureState s;
        PressureResult r;
        PressureSample x = psi_sample(5 * USEC_PER_SEC, 123456, 4567, 20.0, 6.0);

        pressure_state_init(&s);
        with_mem(&x, 16 * GIB, 8 * GIB, 0, 0);
        with_vm(&x, 10, 10);
        update(&s, &p, &x, &r);
        /* Totals mean nothing yet: avg10 / 100. */
        ASSERT_NEAR(r.psi_some_rate, 0.20, EPS);
        ASSERT_NEAR(r.psi_full_rate, 0.06, EPS);
        ASSERT_NEAR(r.signal[SIGNAL_PSI], 0.40, EPS); /* max(0.2 / 0.5, 0.06 / 0.3) */
        /* No swap, no GPU: the score is the PSI signal alone. */
        ASSERT_TRUE(r.has[SIGNAL_PSI]);
        ASSERT_FALSE(r.has[SIGNAL_SWAP] || r.has[SIGNAL_SWAP_IO] || r.has[SIGNAL_GPU]);
        ASSERT_NEAR(r.score, 0.40, EPS);
        ASSERT_NEAR(r.trend, 0, 0);
        ASSERT_NEAR(r.mem_available_percent, 50.0, EPS);
        ASSERT_EQ_INT(r.floor, LEVEL_NORMAL);
        ASSERT_TRUE(s.have_prev);
}

static void test_psi_rates(void)
{
        static const struct {
                uint64_t dsome, dfull, dt;
                double some_rate, full_rate, signal;
        } table[] = {
                {250000, 60000, USEC_PER_SEC, 0.25, 0.06, 0.50}, /* some dominates */
                {100000, 90000, USEC_PER_SEC, 0.10, 0.09, 0.30}, /* full dominates */
                {0, 0, USEC_PER_SEC, 0, 0, 0},                   /* calm */
                {50000, 25000, 250000, 0.20, 0.10, 0.40},        /* 250 ms tick */
                {300000, 200000, 250000, 1.0, 0.80, 1.0},        /* stall > wall time: clamped */
                {400000, 0, USEC_PER_SEC, 0.40, 0, 0.80},
                {UINT64_MAX / 2, UINT64_MAX / 2, 1, 1.0, 1.0, 1.0}, /* absurd jump in 1 µs */
        };
        PressureParams p = defaults();

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                PressureState s;
                PressureResult r;
                PressureSample a = psi_sample(1000, 7000, 3000, 99, 99), b;

                b = psi_sample(1000 + table[i].dt, 7000 + table[i].dsome, 3000 + table[i].dfull, 99, 99);
                pressure_state_init(&s);
                update(&s, &p, &a, &r);
                update(&s, &p, &b, &r);
                ASSERT_NEAR(r.psi_some_rate, table[i].some_rate, EPS);
                ASSERT_NEAR(r.psi_full_rate, table[i].full_rate, EPS);
                ASSERT_NEAR(r.signal[SIGNAL_PSI], table[i].signal, EPS);
                ASSERT_NEAR(r.score, table[i].signal, EPS);
        }
}

static void test_psi_without_full(void)
{
        PressureParams p = defaults();
        PressureState s;
        PressureResult r;
        PressureSample a = psi_sample(0, 0, 0, 10, 0), b = psi_sample(USEC_PER_SEC, 100000, 0, 10, 0);

        a.psi.full.present = b.psi.full.present = false;
        pressure_state_init(&s);
        update(&s, &p, &a, &r);
        ASSERT_NEAR(r.psi_some_rate, 0.10, EPS);
        update(&s, &p, &b, &r);
        ASSERT_NEAR(r.psi_some_rate, 0.10, EPS);
        ASSERT_NEAR(r.psi_full_rate, 0, 0);
        ASSERT_NEAR(r.score, 0.20, EPS);

        /* No PSI at all: no PSI signal, and with nothing else the score is 0. */
        b.has_psi = false;
        update(&s, &p, &b, &r);
        ASSERT_FALSE(r.has[SIGNAL_PSI]);
        ASSERT_NEAR(r.score, 0, 0);
}

static void test_swap(void)
{
        static const struct {
                double used, signal;
        } table[] = {
                {0.0, 0.0}, {0.25, 0.0}, {0.60, 0.5}, {0.95, 1.0}, {1.0, 1.0}, {0.425, 0.25},
        };
        PressureParams p = defaults();

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                PressureState s;
                PressureResult r;
                PressureSample x = {.timestamp_usec = 1};
                uint64_t total = 8 * GIB;

                with_mem(&x, 16 * GIB, 8 * GIB, total, total - (uint64_t)(table[i].used * (double)total));
                pressure_state_init(&s);
                update(&s, &p, &x, &r);
                ASSERT_TRUE(r.has[SIGNAL_SWAP]);
                ASSERT_NEAR(r.signal[SIGNAL_SWAP], table[i].signal, 1e-6);
                ASSERT_NEAR(r.score, table[i].signal, 1e-6); /* the only signal */
                ASSERT_FALSE(r.has[SIGNAL_SWAP_IO]);         /* first sample */
        }
}

static void test_swap_io(void)
{
        PressureParams p = defaults();
        PressureState s;
        PressureResult r;
        PressureSample x = {.timestamp_usec = 10 * USEC_PER_SEC};
        double page = (double)sysconf(_SC_PAGESIZE);
        uint64_t pages = 4096; /* in 0.5 s */

        with_mem(&x, 16 * GIB, 8 * GIB, 8 * GIB, 8 * GIB);
        with_vm(&x, 1000, 2000);
        pressure_state_init(&s);
        update(&s, &p, &x, &r);
        ASSERT_FALSE(r.has[SIGNAL_SWAP_IO]);

        x.timestamp_usec += USEC_PER_SEC / 2;
        x.vm.pswpin += pages / 4;
        x.vm.pswpout += pages - pages / 4;
        update(&s, &p, &x, &r);
        ASSERT_TRUE(r.has[SIGNAL_SWAP_IO]);
        ASSERT_NEAR(r.swap_io_bytes_per_sec, 2.0 * (double)pages * page, 1e-3);
        ASSERT_NEAR(r.signal[SIGNAL_SWAP_IO], MIN(1.0, 2.0 * (double)pages * page / p.swap_io_full_scale),
                    EPS);
        /* swap (0) and swap_io renormalised between themselves */
        ASSERT_NEAR(r.score,
                    r.signal[SIGNAL_SWAP_IO] * p.weight_swap_io / (p.weight_swap + p.weight_swap_io), EPS);

        /* Counters going backwards: absent this time, fine the next. */
        x.timestamp_usec += USEC_PER_SEC;
        x.vm.pswpin = 0;
        update(&s, &p, &x, &r);
        ASSERT_FALSE(r.has[SIGNAL_SWAP_IO]);
        x.timestamp_usec += USEC_PER_SEC;
        update(&s, &p, &x, &r);
        ASSERT_TRUE(r.has[SIGNAL_SWAP_IO]);
        ASSERT_NEAR(r.swap_io_bytes_per_sec, 0, 0);

        /* Previous sample without vmstat: absent. */
        x.has_vm = false;
        x.timestamp_usec += USEC_PER_SEC;
        update(&s, &p, &x, &r);
        with_vm(&x, 5, 5);
        x.timestamp_usec += USEC_PER_SEC;
        update(&s, &p, &x, &r);
        ASSERT_FALSE(r.has[SIGNAL_SWAP_IO]);

        /* No swap device: neither swap signal exists, whatever vmstat says. */
        x.mem.swap_total = x.mem.swap_free = 0;
        x.vm.pswpin += 1000;
        x.timestamp_usec += USEC_PER_SEC;
        update(&s, &p, &x, &r);
        ASSERT_FALSE(r.has[SIGNAL_SWAP] || r.has[SIGNAL_SWAP_IO]);
        ASSERT_NEAR(r.swap_io_bytes_per_sec, 0, 0);
}

static void test_gpu_and_weights(void)
{
        PressureParams p = defaults();
        PressureState s;
        PressureResult r;
        PressureSample x = psi_sample(0, 0, 0, 20, 0); /* psi 0.4 */

        /* gpu: (4 / 16) / 0.5 = 0.5; swap: used 0.6 -> 0.5. */
        with_mem(&x, 16 * GIB, 8 * GIB, 10 * GIB, 4 * GIB);
        x.has_gpu = true;
        x.gpu_bytes = 4 * GIB;
        pressure_state_init(&s);
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.signal[SIGNAL_GPU], 0.5, EPS);
        ASSERT_NEAR(r.signal[SIGNAL_SWAP], 0.5, EPS);
        ASSERT_NEAR(r.score, (0.55 * 0.4 + 0.20 * 0.5 + 0.15 * 0.5) / 0.90, EPS);

        /* All four present. */
        with_vm(&x, 0, 0);
        update(&s, &p, &x, &r); /* baseline for swap_io */
        x.timestamp_usec += USEC_PER_SEC;
        x.psi.some.total += 200000; /* 0.2 -> psi 0.4 */
        x.vm.pswpout +=
                (uint64_t)(16.0 * 1024 * 1024 / (double)sysconf(_SC_PAGESIZE)); /* 16 MiB/s -> 0.25 */
        update(&s, &p, &x, &r);
        for (int i = 0; i < _SIGNAL_MAX; i++)
                ASSERT_TRUE(r.has[i]);
        ASSERT_NEAR(r.signal[SIGNAL_SWAP_IO], 0.25, EPS);
        ASSERT_NEAR(r.score, 0.55 * 0.4 + 0.20 * 0.5 + 0.15 * 0.5 + 0.10 * 0.25, EPS);

        /* GPU saturates; GPU needs MemTotal. */
        x.gpu_bytes = 12 * GIB;
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.signal[SIGNAL_GPU], 1.0, 0);
        x.mem.mem_total = x.mem.mem_available = 0;
        update(&s, &p, &x, &r);
        ASSERT_FALSE(r.has[SIGNAL_GPU]);
        ASSERT_NEAR(r.mem_available_percent, -1, 0);
        x.has_gpu = false;
        with_mem(&x, 16 * GIB, 8 * GIB, 0, 0);
        update(&s, &p, &x, &r);
        ASSERT_FALSE(r.has[SIGNAL_GPU]);
        ASSERT_NEAR(r.score, r.signal[SIGNAL_PSI], EPS);

        /* A zero, negative or NaN weight leaves its signal out of the score. */
        x.has_gpu = true;
        x.gpu_bytes = 8 * GIB;
        p.weight_gpu = 0;
        update(&s, &p, &x, &r);
        ASSERT_TRUE(r.has[SIGNAL_GPU]);
        ASSERT_NEAR(r.score, r.signal[SIGNAL_PSI], EPS);
        p.weight_gpu = NAN;
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.score, r.signal[SIGNAL_PSI], EPS);
        p.weight_psi = -1;
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.score, 0, 0); /* nothing left */
}

static void test_trend_and_baselines(void)
{
        PressureParams p = defaults();
        PressureState s;
        PressureResult r;
        PressureSample x = psi_sample(10 * USEC_PER_SEC, 1000000, 500000, 5, 0); /* psi 0.1 */

        pressure_state_init(&s);
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.score, 0.10, EPS);

        x = psi_sample(10 * USEC_PER_SEC + 500000, 1000000 + 100000, 500000, 5, 0); /* 0.2 -> 0.4 */
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.score, 0.40, EPS);
        ASSERT_NEAR(r.trend, 0.60, EPS); /* +0.3 in 0.5 s */

        /* Same timestamp again: rates start over from avg10, trend 0. */
        x.psi.some.avg10 = 30;
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.psi_some_rate, 0.30, EPS);
        ASSERT_NEAR(r.trend, 0, 0);

        /* Timestamp going backwards: same. */
        x.timestamp_usec -= USEC_PER_SEC;
        x.psi.some.total += 999999999;
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.psi_some_rate, 0.30, EPS);
        ASSERT_NEAR(r.trend, 0, 0);

        /* ...and that sample is the new baseline. */
        x.timestamp_usec += USEC_PER_SEC;
        x.psi.some.total += 50000;
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.psi_some_rate, 0.05, EPS);

        /* A counter going backwards (cgroup recreated): avg10, then rates again. */
        x.timestamp_usec += USEC_PER_SEC;
        x.psi.some.total = 10;
        x.psi.full.total = 0;
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.psi_some_rate, 0.30, EPS);
        x.timestamp_usec += USEC_PER_SEC;
        x.psi.some.total += 70000;
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.psi_some_rate, 0.07, EPS);

        /* Only full going backwards is enough. */
        x.timestamp_usec += USEC_PER_SEC;
        x.psi.full.total += 5000;
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.psi_full_rate, 0.005, EPS);
        x.timestamp_usec += USEC_PER_SEC;
        x.psi.some.total += 70000;
        x.psi.full.total = 0;
        x.psi.full.avg10 = 12;
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.psi_full_rate, 0.12, EPS);
        ASSERT_NEAR(r.psi_some_rate, 0.30, EPS);
}

static void test_floor(void)
{
        static const struct {
                double crit, emerg;
                uint64_t avail_mib; /* of 10000 MiB */
                double percent;
                Level floor;
        } table[] = {
                {5, 2, 5000, 50.0, LEVEL_NORMAL},  {5, 2, 500, 5.0, LEVEL_NORMAL},
                {5, 2, 499, 4.99, LEVEL_CRITICAL}, {5, 2, 200, 2.0, LEVEL_CRITICAL},
                {5, 2, 150, 1.5, LEVEL_EMERGENCY}, {5, 2, 0, 0.0, LEVEL_EMERGENCY},
                {0, 2, 300, 3.0, LEVEL_NORMAL},    {0, 2, 100, 1.0, LEVEL_EMERGENCY},
                {5, 0, 100, 1.0, LEVEL_CRITICAL},  {0, 0, 0, 0.0, LEVEL_NORMAL},
                {2, 5, 300, 3.0, LEVEL_EMERGENCY}, /* inverted: the stricter one wins */
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                PressureParams p = defaults();
                PressureState s;
                PressureResult r;
                PressureSample x = psi_sample(1, 0, 0, 0, 0);

                p.floor_critical_percent = table[i].crit;
                p.floor_emergency_percent = table[i].emerg;
                with_mem(&x, UINT64_C(10000) << 20, table[i].avail_mib << 20, 0, 0);
                pressure_state_init(&s);
                update(&s, &p, &x, &r);
                ASSERT_NEAR(r.mem_available_percent, table[i].percent, 1e-9);
                ASSERT_EQ_INT(r.floor, table[i].floor);
                ASSERT_NEAR(r.score, 0, 0); /* the floor does not touch the score */
        }

        /* Free swap is headroom: a floor holds only once swap is as short as memory. */
        {
                static const struct {
                        uint64_t avail_mib, swap_total_mib, swap_free_mib;
                        Level floor;
                } swap[] = {
                        {100, 0, 0, LEVEL_EMERGENCY},        /* no swap: memory alone */
                        {100, 2000, 2000, LEVEL_NORMAL},     /* 1 % available, all swap free */
                        {100, 2000, 90, LEVEL_CRITICAL},     /* swap 4.5 % free */
                        {100, 2000, 30, LEVEL_EMERGENCY},    /* swap 1.5 % free */
                        {400, 2000, 30, LEVEL_CRITICAL},     /* memory 4 %: critical at most */
                        {800, 2000, 0, LEVEL_NORMAL},        /* memory above the floors */
                };
                for (size_t i = 0; i < ELEMENTSOF(swap); i++) {
                        PressureParams q = defaults();
                        PressureState st;
                        PressureResult res;
                        PressureSample y = psi_sample(1, 0, 0, 0, 0);

                        q.floor_critical_percent = 5;
                        q.floor_emergency_percent = 2;
                        with_mem(&y, UINT64_C(10000) << 20, swap[i].avail_mib << 20, swap[i].swap_total_mib << 20,
                                 swap[i].swap_free_mib << 20);
                        pressure_state_init(&st);
                        update(&st, &q, &y, &res);
                        ASSERT_EQ_INT(res.floor, swap[i].floor);
                }
        }

        /* Without meminfo: unknown, no floor. */
        PressureParams p = defaults();
        PressureState s;
        PressureResult r;
        PressureSample x = psi_sample(1, 0, 0, 0, 0);

        pressure_state_init(&s);
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.mem_available_percent, -1, 0);
        ASSERT_EQ_INT(r.floor, LEVEL_NORMAL);
}

static void test_hostile_params(void)
{
        PressureParams p = {
                .weight_psi = INFINITY,
                .weight_swap = 1e308,
                .weight_gpu = 1e308,
                .weight_swap_io = NAN,
                .psi_some_full_scale = 0,
                .psi_full_full_scale = -1,
                .swap_low = 0.5,
                .swap_high = 0.5,
                .swap_io_full_scale = NAN,
                .gpu_full_scale = INFINITY,
                .floor_critical_percent = NAN,
                .floor_emergency_percent = -3,
        };
        PressureState s;
        PressureResult r;
        PressureSample x = psi_sample(1, 0, 0, NAN, INFINITY);

        with_mem(&x, UINT64_MAX, UINT64_MAX, UINT64_MAX, 0);
        with_vm(&x, 0, 0);
        x.has_gpu = true;
        x.gpu_bytes = UINT64_MAX;
        pressure_state_init(&s);
        update(&s, &p, &x, &r);
        ASSERT_NEAR(r.signal[SIGNAL_SWAP], 1, 0); /* step at swap_high */
        x.timestamp_usec = 2;
        x.psi.some.total = UINT64_MAX;
        x.vm.pswpin = x.vm.pswpout = UINT64_MAX;
        update(&s, &p, &x, &r);
        ASSERT_EQ_INT(r.floor, LEVEL_NORMAL);
}

/* Recorded series: see tests/fixtures/series/README for how each was made. */
typedef struct Row {
        uint64_t t, some, full;
        double some_avg10, full_avg10;
        uint64_t mem_total, mem_available, swap_total, swap_free, pswpin, pswpout;
} Row;

#define SERIES_HEADER                                                                                       \
        "t_usec,some_total,full_total,some_avg10,full_avg10,mem_total,mem_available,swap_total,swap_free,"  \
        "pswpin,pswpout\n"

static size_t load_series(const char *name, Row *rows, size_t max)
{
        _cleanup_fclose_ FILE *f = NULL;
        char path[1024], line[512];
        size_t n = 0;

        snprintf(path, sizeof(path), "%s/series/%s", FIXTURES_DIR, name);
        f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "%s: %m\n", path);
                abort();
        }
        ASSERT_TRUE(fgets(line, sizeof(line), f));
        ASSERT_STREQ(line, SERIES_HEADER);
        while (fgets(line, sizeof(line), f)) {
                Row *r = &rows[n];

                ASSERT_TRUE(n < max);
                ASSERT_EQ_INT(sscanf(line,
                                     "%" SCNu64 ",%" SCNu64 ",%" SCNu64 ",%lf,%lf,%" SCNu64 ",%" SCNu64
                                     ",%" SCNu64 ",%" SCNu64 ",%" SCNu64 ",%" SCNu64,
                                     &r->t, &r->some, &r->full, &r->some_avg10, &r->full_avg10,
                                     &r->mem_total, &r->mem_available, &r->swap_total, &r->swap_free,
                                     &r->pswpin, &r->pswpout),
                              11);
                ASSERT_TRUE(n == 0 || r->t > rows[n - 1].t);
                n++;
        }
        ASSERT_TRUE(n > 0);
        return n;
}

typedef struct SeriesRun {
        Level max, final;
        unsigned changes;
        double peak_some_rate, peak_full_rate, peak_some_avg10, peak_full_avg10, peak_score;
        uint64_t last_stall_t;   /* last sample whose "some" total grew */
        uint64_t normal_again_t; /* when the level last became normal */
        uint64_t high_t;         /* when the level first reached high, 0 = never */
        uint64_t duration;
} SeriesRun;

static void run_series(const char *name, SeriesRun *ret)
{
        static Row rows[4096];
        PressureParams pp;
        LevelParams lp;
        PressureState ps;
        LevelMachine m;
        SeriesRun run = {.max = LEVEL_NORMAL};
        size_t n = load_series(name, rows, ELEMENTSOF(rows));

        pressure_params_default(&pp);
        level_params_default(&lp);
        pressure_state_init(&ps);
        level_machine_init(&m);

        for (size_t i = 0; i < n; i++) {
                const Row *w = &rows[i];
                PressureSample x = psi_sample(w->t, w->some, w->full, w->some_avg10, w->full_avg10);
                PressureResult r;
                bool changed;
                Level l;

                with_mem(&x, w->mem_total, w->mem_available, w->swap_total, w->swap_free);
                with_vm(&x, w->pswpin, w->pswpout);
                update(&ps, &pp, &x, &r);
                l = level_machine_feed(&m, &lp, w->t, r.score, r.floor, &changed);

                run.peak_some_rate = MAX(run.peak_some_rate, r.psi_some_rate);
                run.peak_full_rate = MAX(run.peak_full_rate, r.psi_full_rate);
                run.peak_some_avg10 = MAX(run.peak_some_avg10, w->some_avg10);
                run.peak_full_avg10 = MAX(run.peak_full_avg10, w->full_avg10);
                run.peak_score = MAX(run.peak_score, r.score);
                run.max = MAX(run.max, l);
                if (i > 0 && w->some > rows[i - 1].some)
                        run.last_stall_t = w->t;
                if (l >= LEVEL_HIGH && run.high_t == 0)
                        run.high_t = w->t;
                if (changed) {
                        run.changes++;
                        if (l == LEVEL_NORMAL)
                                run.normal_again_t = w->t;
                        fprintf(stderr, "  %7.2f s  score %.3f (some %.3f full %.3f)  -> %s\n",
                                (double)w->t / USEC_PER_SEC, r.score, r.psi_some_rate, r.psi_full_rate,
                                level_to_string(l));
                }
        }
        run.final = m.level;
        run.duration = rows[n - 1].t - rows[0].t;
        fprintf(stderr,
                "%s: %zu samples over %.1f s; peak 250 ms stall some %.1f%% full %.1f%%, peak avg10 some "
                "%.2f%% "
                "full %.2f%%, peak score %.3f, max level %s, %u changes, final %s\n",
                name, n, (double)run.duration / USEC_PER_SEC, 100 * run.peak_some_rate,
                100 * run.peak_full_rate, run.peak_some_avg10, run.peak_full_avg10, run.peak_score,
                level_to_string(run.max), run.changes, level_to_string(run.final));
        *ret = run;
}

static void test_recorded_thrash(void)
{
        SeriesRun r;

        LevelParams lp;

        level_params_default(&lp);
        run_series("cgroup-256m-thrash.csv", &r);
        /* High while the workload stalled... */
        ASSERT_TRUE(r.max >= LEVEL_HIGH);
        ASSERT_TRUE(r.high_t > 0 && r.high_t < r.last_stall_t);
        /* ...normal again in the calm tail, one calm period per level at most (plus 2 s)... */
        ASSERT_EQ_INT(r.final, LEVEL_NORMAL);
        ASSERT_TRUE(r.normal_again_t > r.last_stall_t);
        ASSERT_TRUE(r.normal_again_t <= r.last_stall_t + (uint64_t)r.max * lp.calm_usec + 2 * USEC_PER_SEC);
        /* ...and no flapping: up and down the levels once, with at most one extra up/down pair
         * (the 250 ms stall rates swing by 0.17 score RMS here). */
        ASSERT_TRUE(r.changes <= 2 * (unsigned)r.max + 2);
}

static void test_recorded_calm(void)
{
        SeriesRun r;

        run_series("calm-system.csv", &r);
        ASSERT_EQ_INT(r.max, LEVEL_NORMAL);
        ASSERT_EQ_INT(r.changes, 0);
        ASSERT_TRUE(r.duration >= 19 * USEC_PER_SEC);
}

/* Rates over the rate window: 250 ms samples average over ~1 s, not one tick. */
static void test_rate_window(void)
{
        PressureParams p = defaults();
        PressureState s;
        PressureResult r;
        uint64_t t = 100 * USEC_PER_SEC, some = 0;

        ASSERT_EQ_U64(p.rate_window_usec, USEC_PER_SEC);
        pressure_state_init(&s);

        /* A quiet heartbeat sample, then 10 s later a trigger sample: the only
         * baseline is the old one, so that first rate spans 10 s. */
        update(&s, &p, &(PressureSample){ .timestamp_usec = t, .has_psi = true,
                                          .psi.some = { .present = true, .total = some } }, &r);
        t += 10 * USEC_PER_SEC;
        some += 1000000; /* 1 s of stall in those 10 s */
        update(&s, &p, &(PressureSample){ .timestamp_usec = t, .has_psi = true,
                                          .psi.some = { .present = true, .total = some } }, &r);
        ASSERT_NEAR(r.psi_some_rate, 0.10, 1e-9);

        /* 250 ms later: the 10 s old heartbeat is too old, the trigger sample is the baseline. */
        t += 250000;
        some += 125000;
        update(&s, &p, &(PressureSample){ .timestamp_usec = t, .has_psi = true,
                                          .psi.some = { .present = true, .total = some } }, &r);
        ASSERT_NEAR(r.psi_some_rate, 0.50, 1e-9);

        /* Steady 250 ms ticks alternating 0 % and 80 % stall: once a 1 s baseline
         * exists, the rate is the ~1 s average (40 %), not the tick's 0 or 80 %. */
        for (int i = 0; i < 12; i++) {
                t += 250000;
                some += (i % 2) ? 200000 : 0;
                update(&s, &p, &(PressureSample){ .timestamp_usec = t, .has_psi = true,
                                                  .psi.some = { .present = true, .total = some } }, &r);
        }
        ASSERT_NEAR(r.psi_some_rate, 0.40, 1e-9);

        /* Window 0: consecutive samples, as before. */
        p.rate_window_usec = 0;
        t += 250000;
        update(&s, &p, &(PressureSample){ .timestamp_usec = t, .has_psi = true,
                                          .psi.some = { .present = true, .total = some } }, &r);
        ASSERT_NEAR(r.psi_some_rate, 0, 1e-9);
}

int main(void)
{
        RUN(test_rate_window);
        RUN(test_signal_names);
        RUN(test_first_sample);
        RUN(test_psi_rates);
        RUN(test_psi_without_full);
        RUN(test_swap);
        RUN(test_swap_io);
        RUN(test_gpu_and_weights);
        RUN(test_trend_and_baselines);
        RUN(test_floor);
        RUN(test_hostile_params);
        RUN(test_recorded_thrash);
        RUN(test_recorded_calm);
        return 0;
}
