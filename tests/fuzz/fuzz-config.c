/* SPDX-License-Identifier: MIT */
/*
 * Fuzz config_parse_data(). On success the result must satisfy every
 * documented invariant, and applying the same file again must succeed and
 * change nothing. On failure there must be one printable message naming the
 * file, and the Config must be exactly as before.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "macro.h"

#include <glib.h> /* after macro.h, see config.c */

#define CHECK(x)                                                                                            \
        do {                                                                                                \
                if (!(x)) {                                                                                 \
                        fprintf(stderr, "fuzz-config: invariant failed: %s\n", #x);                         \
                        abort();                                                                            \
                }                                                                                           \
        } while (0)

static bool in(double v, double lo, double hi)
{
        return isfinite(v) && v >= lo && v <= hi;
}

static void check_invariants(const Config *c)
{
        const PressureParams *p = &c->pressure;
        const LevelParams *l = &c->level;
        const TriggerParams *t = &c->trigger;
        double gap = 1;

        CHECK(in(p->weight_psi, 0, 1000) && in(p->weight_swap, 0, 1000) && in(p->weight_gpu, 0, 1000) &&
              in(p->weight_swap_io, 0, 1000));
        CHECK(p->weight_psi + p->weight_swap + p->weight_gpu + p->weight_swap_io > 0);
        CHECK(in(p->psi_some_full_scale, 0, 1) && p->psi_some_full_scale > 0);
        CHECK(in(p->psi_full_full_scale, 0, 1) && p->psi_full_full_scale > 0);
        CHECK(in(p->swap_low, 0, 1) && in(p->swap_high, 0, 1) && p->swap_low < p->swap_high);
        CHECK(in(p->swap_io_full_scale, 0, 1024.0 * 1024 * 1024 * 1024) && p->swap_io_full_scale > 0);
        CHECK(in(p->gpu_full_scale, 0, 1) && p->gpu_full_scale > 0);
        CHECK(in(p->floor_critical_percent, 0, 50) && in(p->floor_emergency_percent, 0, 50));
        CHECK(p->floor_critical_percent == 0 || p->floor_emergency_percent == 0 ||
              p->floor_emergency_percent <= p->floor_critical_percent);

        CHECK(l->threshold[LEVEL_NORMAL] == 0);
        for (int i = LEVEL_ELEVATED; i < _LEVEL_MAX; i++) {
                CHECK(in(l->threshold[i], 0, 1));
                CHECK(l->threshold[i] > l->threshold[i - 1]);
                gap = MIN(gap, l->threshold[i] - l->threshold[i - 1]);
        }
        CHECK(in(l->hysteresis, 0, 0.5) && l->hysteresis < gap);
        CHECK(l->rise_samples >= 1 && l->rise_samples <= 100);
        CHECK(in(l->sharp_rise, 0, 1) && l->sharp_rise > 0);
        CHECK(l->calm_usec >= USEC_PER_SEC / 2 && l->calm_usec <= 3600 * USEC_PER_SEC);

        CHECK(t->window_usec >= 500 * USEC_PER_MSEC && t->window_usec <= 10 * USEC_PER_SEC);
        CHECK(t->some_stall_usec > 0 && t->some_stall_usec < t->window_usec);
        CHECK(t->full_stall_usec > 0 && t->full_stall_usec < t->window_usec);
        CHECK(t->fast_interval_usec >= 50 * USEC_PER_MSEC && t->fast_interval_usec <= 5 * USEC_PER_SEC);
        CHECK(t->heartbeat_usec >= 10 * USEC_PER_SEC && t->heartbeat_usec <= 3600 * USEC_PER_SEC);

        CHECK(c->log_level >= 0 && c->log_level <= 7);
        CHECK(!c->scope || (c->scope[0] == '/' && !strstr(c->scope, "//") && !strstr(c->scope, "/../") &&
                            !g_str_has_suffix(c->scope, "/..")));
}

static bool same(const Config *a, const Config *b)
{
        /* Every field but scope is plain data; compare them field by field. */
        return memcmp(&a->pressure, &b->pressure, sizeof(a->pressure)) == 0 &&
               memcmp(a->level.threshold, b->level.threshold, sizeof(a->level.threshold)) == 0 &&
               a->level.hysteresis == b->level.hysteresis &&
               a->level.rise_samples == b->level.rise_samples &&
               a->level.sharp_rise == b->level.sharp_rise && a->level.calm_usec == b->level.calm_usec &&
               memcmp(&a->trigger, &b->trigger, sizeof(a->trigger)) == 0 && a->dry_run == b->dry_run &&
               a->log_level == b->log_level && !a->scope == !b->scope &&
               (!a->scope || strcmp(a->scope, b->scope) == 0);
}

static void check_message(const char *msg)
{
        CHECK(msg);
        CHECK(strncmp(msg, "fuzz.conf: ", 11) == 0);
        for (const char *p = msg; *p; p++)
                CHECK((unsigned char)*p >= 0x20 && *p != 0x7f); /* one line, nothing that moves a terminal */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *msg = NULL;
        Config c, before, again;
        int r;

        /* GLib reports API misuse as criticals; here they are bugs. */
        g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);

        if (size > 64 * 1024)
                return 0;

        config_init(&c);
        static const char setup[] = "[daemon]\nscope=/before.slice\n";
        CHECK(config_parse_data(&c, setup, strlen(setup), "setup", NULL) == 0);
        config_copy(&before, &c);

        r = config_parse_data(&c, (const char *)data, size, "fuzz.conf", &msg);
        if (r < 0) {
                CHECK(r == -EINVAL || r == -ERANGE);
                check_message(msg);
                CHECK(same(&c, &before));
                CHECK(c.scope && strcmp(c.scope, "/before.slice") == 0);
        } else {
                CHECK(r == 0 && !msg);
                check_invariants(&c);

                config_copy(&again, &c);
                CHECK(config_parse_data(&again, (const char *)data, size, "fuzz.conf", NULL) == 0);
                CHECK(same(&again, &c));
                config_done(&again);
        }

        config_done(&before);
        config_done(&c);
        return 0;
}
