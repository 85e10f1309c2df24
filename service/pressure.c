/* SPDX-License-Identifier: MIT */
/*
 * The composite pressure score. Pure apart from sysconf(_SC_PAGESIZE).
 *
 * With Δx the change of x since the baseline sample (see pressure.h: about
 * rate_window_usec ago) and Δt the time between the two samples,
 * clamp01(x) = min(max(x, 0), 1) (NaN -> 0):
 *
 *   psi_some_rate = clamp01(Δsome.total / Δt_usec)   (µs of stall per µs)
 *   psi_full_rate = clamp01(Δfull.total / Δt_usec)   (0 without a full line)
 *     Without a usable previous sample: some.avg10 / 100, full.avg10 / 100.
 *   psi     = clamp01(max(some_rate / psi_some_full_scale,
 *                         full_rate / psi_full_full_scale))
 *             exists iff the sample has PSI.
 *   swap    = clamp01((used - swap_low) / (swap_high - swap_low)),
 *             used = (SwapTotal - SwapFree) / SwapTotal;
 *             exists iff the sample has meminfo and SwapTotal > 0.
 *   swap_io = clamp01(bytes_per_sec / swap_io_full_scale),
 *             bytes_per_sec = (Δpswpin + Δpswpout) * page_size / Δt_sec;
 *             exists iff swap exists and this and the previous sample have
 *             vmstat with a usable baseline.
 *   gpu     = clamp01((gpu_bytes / MemTotal) / gpu_full_scale);
 *             exists iff the sample has a GPU figure and MemTotal > 0.
 *
 *   score = Σ w_i·s_i / Σ w_i over the signals that exist and have a finite
 *           weight > 0 (so absent signals do not dilute the others); 0 if none.
 *   trend = (score - baseline score) / Δt_sec; 0 without a baseline or
 *           when the timestamp did not increase.
 *
 *   mem_available_percent = 100 · MemAvailable / MemTotal (-1 without meminfo);
 *   floor = emergency when both mem_available_percent and the free share of
 *           swap (0 without swap) are below floor_emergency_percent, else
 *           critical when both are below floor_critical_percent; a percent
 *           <= 0 disables that floor. (earlyoom's rule: swap that is still
 *           free is room the kernel can use.)
 *
 * A full scale that is not > 0 disables its term (it would divide by zero);
 * swap_high <= swap_low makes the swap signal a step at swap_high.
 *
 * Baselines. A timestamp that is not after the previous one makes every rate
 * start over: PSI falls back to avg10, swap_io is absent, the trend is 0.
 * A PSI total that went backwards (the cgroup was recreated) makes PSI fall
 * back to avg10; pswpin/pswpout going backwards makes swap_io absent; the
 * trend is still computed then.
 * A non-increasing timestamp also clears the history; this sample starts it again.
 */
#include <math.h>
#include <unistd.h>

#include "macro.h"
#include "pressure.h"

static const char *const signal_table[_SIGNAL_MAX] = {
        [SIGNAL_PSI] = "psi",
        [SIGNAL_SWAP] = "swap",
        [SIGNAL_SWAP_IO] = "swap_io",
        [SIGNAL_GPU] = "gpu",
};

const char *signal_to_string(int s)
{
        if (s < 0 || s >= _SIGNAL_MAX)
                return NULL;
        return signal_table[s];
}

void pressure_state_init(PressureState *s)
{
        *s = (PressureState){.have_prev = false};
}

static const PressureSample *history_at(const PressureState *s, unsigned i)
{
        return &s->history[(s->first + i) % PRESSURE_HISTORY];
}

/* Index (0 = oldest) of the baseline for a sample at `now`, or -1 if none. */
static int pick_baseline(const PressureState *s, uint64_t now, uint64_t window)
{
        int older = -1; /* newest sample at least `window` old */

        if (s->n == 0)
                return -1;
        for (unsigned i = 0; i < s->n; i++)
                if (now - history_at(s, i)->timestamp_usec >= window)
                        older = (int)i;
        if (older >= 0 && now - history_at(s, (unsigned)older)->timestamp_usec <= 2 * window)
                return older;
        if ((unsigned)(older + 1) < s->n)
                return older + 1; /* the oldest sample younger than the window */
        return older;
}

static void history_push(PressureState *s, const PressureSample *x, double score)
{
        unsigned i;

        if (s->n < PRESSURE_HISTORY)
                i = (s->first + s->n++) % PRESSURE_HISTORY;
        else {
                i = s->first;
                s->first = (s->first + 1) % PRESSURE_HISTORY;
        }
        s->history[i] = *x;
        s->history_score[i] = score;
}

static double clamp01(double x)
{
        if (!(x > 0)) /* also NaN */
                return 0;
        if (x >= 1)
                return 1;
        return x;
}

/* x / scale, or 0 when the scale cannot be divided by. */
static double scaled(double x, double scale)
{
        if (!(scale > 0) || !isfinite(scale))
                return 0;
        return x / scale;
}

/* The stall fraction of one PSI line, from totals if possible, else avg10. */
static double psi_rate(const PsiLine *cur, const PsiLine *prev, uint64_t dt_usec, bool use_totals)
{
        if (!cur->present)
                return 0;
        if (use_totals)
                return clamp01((double)(cur->total - prev->total) / (double)dt_usec);
        return clamp01(cur->avg10 / 100.0);
}

static void compute_psi(const PressureSample *base, const PressureParams *p, const PressureSample *x,
                        uint64_t dt_usec, PressureResult *r)
{
        const PsiStats *cur = &x->psi, *prev = &base->psi;
        bool use_totals;

        if (!x->has_psi)
                return;

        use_totals = dt_usec > 0 && base->has_psi && prev->some.present == cur->some.present &&
                     prev->full.present == cur->full.present;
        if (use_totals && cur->some.present && cur->some.total < prev->some.total)
                use_totals = false;
        if (use_totals && cur->full.present && cur->full.total < prev->full.total)
                use_totals = false;

        r->psi_some_rate = psi_rate(&cur->some, &prev->some, dt_usec, use_totals);
        r->psi_full_rate = psi_rate(&cur->full, &prev->full, dt_usec, use_totals);
        r->has[SIGNAL_PSI] = true;
        r->signal[SIGNAL_PSI] = clamp01(MAX(scaled(r->psi_some_rate, p->psi_some_full_scale),
                                            scaled(r->psi_full_rate, p->psi_full_full_scale)));
}

static void compute_swap(const PressureSample *base, const PressureParams *p, const PressureSample *x,
                         uint64_t dt_usec, PressureResult *r)
{
        const MemInfo *m = &x->mem;
        double used, span;

        if (!x->has_mem || m->swap_total == 0)
                return;

        used = (double)(m->swap_total - MIN(m->swap_free, m->swap_total)) / (double)m->swap_total;
        span = p->swap_high - p->swap_low;
        r->has[SIGNAL_SWAP] = true;
        if (span > 0)
                r->signal[SIGNAL_SWAP] = clamp01((used - p->swap_low) / span);
        else
                r->signal[SIGNAL_SWAP] = used >= p->swap_high ? 1 : 0;

        if (dt_usec == 0 || !x->has_vm || !base->has_vm || x->vm.pswpin < base->vm.pswpin ||
            x->vm.pswpout < base->vm.pswpout)
                return;

        long page_size = sysconf(_SC_PAGESIZE);
        double pages =
                (double)(x->vm.pswpin - base->vm.pswpin) + (double)(x->vm.pswpout - base->vm.pswpout);

        r->swap_io_bytes_per_sec = pages * (double)(page_size > 0 ? page_size : 4096) /
                                   ((double)dt_usec / (double)USEC_PER_SEC);
        r->has[SIGNAL_SWAP_IO] = true;
        r->signal[SIGNAL_SWAP_IO] = clamp01(scaled(r->swap_io_bytes_per_sec, p->swap_io_full_scale));
}

static void compute_gpu(const PressureParams *p, const PressureSample *x, PressureResult *r)
{
        if (!x->has_gpu || !x->has_mem || x->mem.mem_total == 0)
                return;
        r->has[SIGNAL_GPU] = true;
        r->signal[SIGNAL_GPU] =
                clamp01(scaled((double)x->gpu_bytes / (double)x->mem.mem_total, p->gpu_full_scale));
}

static void compute_floor(const PressureParams *p, const PressureSample *x, PressureResult *r)
{
        double pct, swap_pct;

        r->mem_available_percent = -1;
        r->floor = LEVEL_NORMAL;
        if (!x->has_mem || x->mem.mem_total == 0)
                return;

        pct = 100.0 * (double)MIN(x->mem.mem_available, x->mem.mem_total) / (double)x->mem.mem_total;
        r->mem_available_percent = pct;
        /* Free swap is headroom too: with swap (zram above all) the kernel still
         * has room when MemAvailable is low, and the stall it costs shows in
         * the score. A floor holds only once swap is as short as memory. */
        swap_pct = x->mem.swap_total == 0 ? 0.0 :
                   100.0 * (double)MIN(x->mem.swap_free, x->mem.swap_total) / (double)x->mem.swap_total;
        if (p->floor_emergency_percent > 0 && pct < p->floor_emergency_percent &&
            swap_pct < p->floor_emergency_percent)
                r->floor = LEVEL_EMERGENCY;
        else if (p->floor_critical_percent > 0 && pct < p->floor_critical_percent &&
                 swap_pct < p->floor_critical_percent)
                r->floor = LEVEL_CRITICAL;
}

static double weighted_score(const PressureParams *p, const PressureResult *r)
{
        const double w[_SIGNAL_MAX] = {
                [SIGNAL_PSI] = p->weight_psi,
                [SIGNAL_SWAP] = p->weight_swap,
                [SIGNAL_SWAP_IO] = p->weight_swap_io,
                [SIGNAL_GPU] = p->weight_gpu,
        };
        double sum = 0, wsum = 0;

        for (int i = 0; i < _SIGNAL_MAX; i++) {
                if (!r->has[i] || !(w[i] > 0) || !isfinite(w[i]))
                        continue;
                sum += w[i] * r->signal[i];
                wsum += w[i];
        }
        if (!(wsum > 0) || !isfinite(wsum))
                return 0;
        return clamp01(sum / wsum);
}

void pressure_update(PressureState *s, const PressureParams *p, const PressureSample *sample,
                     PressureResult *ret)
{
        static const PressureSample none = {};
        PressureResult r = {.mem_available_percent = -1, .floor = LEVEL_NORMAL};
        const PressureSample *base = &none;
        double base_score = 0;
        uint64_t dt_usec = 0;
        int b;

        /* Time that does not move forward: start the history over. */
        if (s->n > 0 && sample->timestamp_usec <= history_at(s, s->n - 1)->timestamp_usec)
                s->first = s->n = 0;

        /* dt_usec == 0 means "no usable baseline" to every rate below. */
        b = pick_baseline(s, sample->timestamp_usec, p->rate_window_usec);
        if (b >= 0) {
                base = history_at(s, (unsigned)b);
                base_score = s->history_score[(s->first + (unsigned)b) % PRESSURE_HISTORY];
                dt_usec = sample->timestamp_usec - base->timestamp_usec;
        }

        compute_psi(base, p, sample, dt_usec, &r);
        compute_swap(base, p, sample, dt_usec, &r);
        compute_gpu(p, sample, &r);
        compute_floor(p, sample, &r);

        r.score = weighted_score(p, &r);
        if (dt_usec > 0)
                r.trend = (r.score - base_score) / ((double)dt_usec / (double)USEC_PER_SEC);

        s->have_prev = true;
        history_push(s, sample, r.score);
        *ret = r;
}
