/* SPDX-License-Identifier: MIT */
/*
 * The composite pressure score. Pure: it is fed raw samples (with their
 * monotonic timestamps) and keeps only the previous sample for rates.
 *
 * Signals, each normalised to [0,1] (see pressure.c for the formulas):
 *   psi      stall rate from PSI totals (some and full) between samples
 *   swap     swap saturation (used / total)
 *   swap_io  swap-in + swap-out rate
 *   gpu      integrated-GPU memory as a share of MemTotal
 * The score is the weighted mean over the signals that exist (weights
 * renormalised), in [0,1]; the trend is its rate of change per second.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "level.h"
#include "meminfo.h"
#include "psi.h"

typedef struct PressureSample {
        uint64_t timestamp_usec; /* CLOCK_MONOTONIC */
        bool has_psi;
        PsiStats psi;
        bool has_mem;
        MemInfo mem;
        bool has_vm;
        VmStat vm;
        bool has_gpu; /* false = unknown */
        uint64_t gpu_bytes;
} PressureSample;

typedef struct PressureParams {
        double weight_psi, weight_swap, weight_gpu, weight_swap_io;
        /* PSI stall fraction (0..1 of wall time) that counts as full pressure. */
        double psi_some_full_scale, psi_full_full_scale;
        /* Swap use fraction where the swap signal starts (0) and saturates (1). */
        double swap_low, swap_high;
        /* Swap I/O in bytes/s that counts as full pressure. */
        double swap_io_full_scale;
        /* GPU memory as a fraction of MemTotal that counts as full pressure. */
        double gpu_full_scale;
        /* MemAvailable below these percentages of MemTotal forces at least
         * critical / emergency whatever the score says; 0 disables. */
        double floor_critical_percent, floor_emergency_percent;
        /* Rates (PSI stall, swap I/O, trend) are taken over at least this much
         * time when samples allow, so 250 ms samples do not make the score
         * jump with every short stall. 0: between consecutive samples. */
        uint64_t rate_window_usec;
} PressureParams;

void pressure_params_default(PressureParams *p);

enum {
        SIGNAL_PSI,
        SIGNAL_SWAP,
        SIGNAL_SWAP_IO,
        SIGNAL_GPU,
        _SIGNAL_MAX,
};

const char *signal_to_string(int s); /* "psi", "swap", "swap_io", "gpu" */

typedef struct PressureResult {
        double score;                /* [0,1] */
        double trend;                /* score change per second, 0 for the first sample */
        bool has[_SIGNAL_MAX];       /* which signals existed in this sample */
        double signal[_SIGNAL_MAX];  /* normalised [0,1] */
        double psi_some_rate;        /* raw stall fractions 0..1 between samples */
        double psi_full_rate;
        double swap_io_bytes_per_sec;
        double mem_available_percent; /* -1 when unknown */
        Level floor;                 /* LEVEL_NORMAL when the hard floor does not apply */
} PressureResult;

#define PRESSURE_HISTORY 16

typedef struct PressureState {
        bool have_prev;
        /* The last samples (a ring, oldest first from `first`) and their scores:
         * the baseline for rates is picked from here. */
        PressureSample history[PRESSURE_HISTORY];
        double history_score[PRESSURE_HISTORY];
        unsigned first, n;
} PressureState;

void pressure_state_init(PressureState *s);

/*
 * Feed one sample. Rates need a baseline sample: on the first one, PSI falls
 * back to avg10 and swap I/O is absent. The baseline is the newest earlier
 * sample at least rate_window_usec old if it is at most twice that old;
 * otherwise the oldest sample younger than the window (right after a quiet
 * heartbeat period, so a fresh stall is not diluted over it); otherwise the
 * newest older one. A sample older than or equal to the previous one, or
 * counters that went backwards (e.g. after a cgroup was recreated), restart
 * the history instead of producing nonsense.
 */
void pressure_update(PressureState *s, const PressureParams *p, const PressureSample *sample,
                     PressureResult *ret);
