/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <sys/stat.h>
#include <syslog.h>

#include "build-config.h"
#include "config.h"
#include "fileio.h"
#include "macro.h"
#include "test.h"

#include <glib.h> /* after macro.h, see config.c */

static inline void strv_freep(char ***l)
{
        strv_free(*l);
}

static bool config_equal(const Config *a, const Config *b)
{
        const PressureParams *p = &a->pressure, *q = &b->pressure;

        for (int l = 0; l < _LEVEL_MAX; l++)
                if (a->level.threshold[l] != b->level.threshold[l])
                        return false;
        return p->weight_psi == q->weight_psi && p->weight_swap == q->weight_swap &&
               p->weight_gpu == q->weight_gpu && p->weight_swap_io == q->weight_swap_io &&
               p->psi_some_full_scale == q->psi_some_full_scale &&
               p->psi_full_full_scale == q->psi_full_full_scale && p->swap_low == q->swap_low &&
               p->swap_high == q->swap_high && p->swap_io_full_scale == q->swap_io_full_scale &&
               p->gpu_full_scale == q->gpu_full_scale &&
               p->floor_critical_percent == q->floor_critical_percent &&
               p->floor_emergency_percent == q->floor_emergency_percent &&
               a->level.hysteresis == b->level.hysteresis &&
               a->level.rise_samples == b->level.rise_samples &&
               a->level.sharp_rise == b->level.sharp_rise && a->level.calm_usec == b->level.calm_usec &&
               a->trigger.some_stall_usec == b->trigger.some_stall_usec &&
               a->trigger.full_stall_usec == b->trigger.full_stall_usec &&
               a->trigger.window_usec == b->trigger.window_usec &&
               a->trigger.fast_interval_usec == b->trigger.fast_interval_usec &&
               a->trigger.heartbeat_usec == b->trigger.heartbeat_usec && a->dry_run == b->dry_run &&
               a->log_level == b->log_level && strcmp(strempty(a->scope), strempty(b->scope)) == 0 &&
               !a->scope == !b->scope;
}

static int parse(Config *c, const char *text, char **error)
{
        return config_parse_data(c, text, strlen(text), "test.conf", error);
}

static char *read_text(const char *path)
{
        char *buf = NULL;

        ASSERT_OK(read_full_file_at(AT_FDCWD, path, 1 << 20, &buf, NULL));
        return buf;
}

static void write_text(const char *dir, const char *name, const char *text)
{
        _cleanup_free_ char *path = NULL;

        ASSERT_TRUE(asprintf(&path, "%s/%s", dir, name) > 0);
        ASSERT_TRUE(g_file_set_contents(path, text, -1, NULL));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

static void rm_rf(const char *dir)
{
        ASSERT_OK(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS));
}

static void test_defaults(void)
{
        Config c;
        PressureParams p;
        LevelParams l;
        TriggerParams t;

        config_init(&c);
        pressure_params_default(&p);
        level_params_default(&l);
        trigger_params_default(&t);
        ASSERT_TRUE(memcmp(&c.pressure, &p, sizeof(p)) == 0);
        ASSERT_TRUE(memcmp(&c.trigger, &t, sizeof(t)) == 0);
        ASSERT_TRUE(memcmp(c.level.threshold, l.threshold, sizeof(l.threshold)) == 0);
        ASSERT_EQ_U64(c.level.calm_usec, l.calm_usec);
        ASSERT_FALSE(c.dry_run);
        ASSERT_TRUE(c.scope == NULL);
        ASSERT_EQ_INT(c.log_level, LOG_INFO);

        /* An empty file and one with only empty groups and comments change nothing. */
        Config d;
        config_init(&d);
        ASSERT_OK(parse(&d, "", NULL));
        ASSERT_OK(parse(&d, "# nothing\n\n[daemon]\n  # indented comment\n[pressure]\n", NULL));
        ASSERT_TRUE(config_equal(&c, &d));
        config_done(&d);
        config_done(&c);
}

enum { T_DOUBLE, T_USEC, T_UNSIGNED, T_BOOL, T_INT };

/* Every key, with a valid value that is not the default and the value it must give. */
static const struct {
        const char *group, *key, *value;
        int type;
        size_t offset;
        double expect;
} key_cases[] = {
        {"daemon", "dry-run", "yes", T_BOOL, offsetof(Config, dry_run), 1},
        {"daemon", "log-level", "debug", T_INT, offsetof(Config, log_level), LOG_DEBUG},
        {"pressure", "weight-psi", "0.7", T_DOUBLE, offsetof(Config, pressure.weight_psi), 0.7},
        {"pressure", "weight-swap", "2", T_DOUBLE, offsetof(Config, pressure.weight_swap), 2},
        {"pressure", "weight-gpu", "0", T_DOUBLE, offsetof(Config, pressure.weight_gpu), 0},
        {"pressure", "weight-swap-io", "3e-1", T_DOUBLE, offsetof(Config, pressure.weight_swap_io), 0.3},
        {"pressure", "psi-some-full-scale", "1", T_DOUBLE, offsetof(Config, pressure.psi_some_full_scale),
         1},
        {"pressure", "psi-full-full-scale", "0.2", T_DOUBLE, offsetof(Config, pressure.psi_full_full_scale),
         0.2},
        {"pressure", "swap-low", "0", T_DOUBLE, offsetof(Config, pressure.swap_low), 0},
        {"pressure", "swap-high", "1.0", T_DOUBLE, offsetof(Config, pressure.swap_high), 1},
        {"pressure", "swap-io-full-scale-mib", "128", T_DOUBLE,
         offsetof(Config, pressure.swap_io_full_scale), 128.0 * 1024 * 1024},
        {"pressure", "gpu-full-scale", "0.4", T_DOUBLE, offsetof(Config, pressure.gpu_full_scale), 0.4},
        {"pressure", "memavailable-critical-percent", "10", T_DOUBLE,
         offsetof(Config, pressure.floor_critical_percent), 10},
        {"pressure", "memavailable-emergency-percent", "0", T_DOUBLE,
         offsetof(Config, pressure.floor_emergency_percent), 0},
        {"pressure", "rate-window-ms", "2500", T_USEC, offsetof(Config, pressure.rate_window_usec), 2500000},
        {"levels", "elevated", "0.2", T_DOUBLE, offsetof(Config, level.threshold[LEVEL_ELEVATED]), 0.2},
        {"levels", "high", "0.4", T_DOUBLE, offsetof(Config, level.threshold[LEVEL_HIGH]), 0.4},
        {"levels", "critical", "0.6", T_DOUBLE, offsetof(Config, level.threshold[LEVEL_CRITICAL]), 0.6},
        {"levels", "emergency", "1", T_DOUBLE, offsetof(Config, level.threshold[LEVEL_EMERGENCY]), 1},
        {"levels", "hysteresis", "0", T_DOUBLE, offsetof(Config, level.hysteresis), 0},
        {"levels", "rise-samples", "100", T_UNSIGNED, offsetof(Config, level.rise_samples), 100},
        {"levels", "sharp-rise", "0.5", T_DOUBLE, offsetof(Config, level.sharp_rise), 0.5},
        {"levels", "calm-seconds", "0.5", T_USEC, offsetof(Config, level.calm_usec), 500000},
        {"triggers", "some-stall-ms", "999", T_USEC, offsetof(Config, trigger.some_stall_usec), 999000},
        {"triggers", "full-stall-ms", "1", T_USEC, offsetof(Config, trigger.full_stall_usec), 1000},
        {"triggers", "window-ms", "2000", T_USEC, offsetof(Config, trigger.window_usec), 2000000},
        {"triggers", "fast-interval-ms", "50", T_USEC, offsetof(Config, trigger.fast_interval_usec), 50000},
        {"triggers", "heartbeat-seconds", "3600", T_USEC, offsetof(Config, trigger.heartbeat_usec),
         3600 * USEC_PER_SEC},
        {"planner", "headroom-normal-percent", "25", T_UNSIGNED,
         offsetof(Config, planner.headroom_percent[LEVEL_NORMAL]), 25},
        {"planner", "headroom-elevated-percent", "5", T_UNSIGNED,
         offsetof(Config, planner.headroom_percent[LEVEL_ELEVATED]), 5},
        {"planner", "headroom-high-percent", "11", T_UNSIGNED,
         offsetof(Config, planner.headroom_percent[LEVEL_HIGH]), 11},
        {"planner", "headroom-critical-percent", "13", T_UNSIGNED,
         offsetof(Config, planner.headroom_percent[LEVEL_CRITICAL]), 13},
        {"planner", "headroom-emergency-percent", "20", T_UNSIGNED,
         offsetof(Config, planner.headroom_percent[LEVEL_EMERGENCY]), 20},
        {"planner", "foreground-priority-drop", "40", T_UNSIGNED, offsetof(Config, planner.fg_priority_drop), 40},
        {"planner", "grace-seconds", "0", T_USEC, offsetof(Config, planner.grace_usec), 0},
        {"planner", "kill-cooldown-seconds", "2.5", T_USEC, offsetof(Config, planner.kill_cooldown_usec), 2500000},
        {"planner", "thaw-per-cycle", "7", T_UNSIGNED, offsetof(Config, planner.thaw_cap), 7},
        {"planner", "thaw-interval-seconds", "1", T_USEC, offsetof(Config, planner.thaw_interval_usec),
         USEC_PER_SEC},
        {"planner", "thaw-reserve-mib", "128", T_USEC, offsetof(Config, planner.thaw_reserve_bytes),
         128.0 * 1024 * 1024},
        {"actions", "kill-timeout-seconds", "10", T_USEC, offsetof(Config, actions.kill_timeout_usec),
         10 * USEC_PER_SEC},
        {"actions", "kill-timeout-critical-seconds", "1", T_USEC,
         offsetof(Config, actions.kill_timeout_critical_usec), USEC_PER_SEC},
        {"actions", "kill-timeout-emergency-seconds", "0", T_USEC,
         offsetof(Config, actions.kill_timeout_emergency_usec), 0},
        {"actions", "max-frozen-seconds", "0", T_USEC, offsetof(Config, actions.max_frozen_usec), 0},
        {"actions", "checkpoint", "true", T_BOOL, offsetof(Config, actions.checkpoint), 1},
        {"actions", "checkpoint-timeout-seconds", "120", T_USEC, offsetof(Config, actions.checkpoint_timeout_usec),
         120 * USEC_PER_SEC},
        {"actions", "checkpoint-keep", "1", T_UNSIGNED, offsetof(Config, actions.checkpoint_keep), 1},
        {"actions", "checkpoint-max-age-days", "0.5", T_USEC, offsetof(Config, actions.checkpoint_max_age_usec),
         43200 * USEC_PER_SEC},
        {"actions", "hibernate", "yes", T_BOOL, offsetof(Config, actions.hibernate), 1},
        {"actions", "hibernate-after-seconds", "0", T_USEC, offsetof(Config, actions.hibernate_after_usec), 0},
        {"actions", "hibernate-interval-minutes", "1", T_USEC, offsetof(Config, actions.hibernate_interval_usec),
         60 * USEC_PER_SEC},
        {"records", "event-log-max-mib", "16", T_USEC, offsetof(Config, records.event_log_max_bytes),
         16.0 * 1024 * 1024},
        {"records", "event-log-keep", "0", T_UNSIGNED, offsetof(Config, records.event_log_keep), 0},
        {"records", "incidents-keep", "5", T_UNSIGNED, offsetof(Config, records.incidents_keep), 5},
        {"hooks", "timeout-seconds", "0.5", T_USEC, offsetof(Config, hooks.timeout_usec), 500000},
};

static double field_value(const Config *c, int type, size_t offset)
{
        const char *p = (const char *)c + offset;

        switch (type) {
        case T_DOUBLE:
                return *(const double *)p;
        case T_USEC:
                return (double)*(const uint64_t *)p;
        case T_UNSIGNED:
                return *(const unsigned *)p;
        case T_BOOL:
                return *(const bool *)p;
        default:
                return *(const int *)p;
        }
}

static void test_each_key_parses(void)
{
        for (size_t i = 0; i < ELEMENTSOF(key_cases); i++) {
                _cleanup_free_ char *text = NULL;
                Config c;

                /* Trailing blanks and blanks around '=' are fine. */
                ASSERT_TRUE(asprintf(&text, "[%s]\n%s = %s \t\n", key_cases[i].group, key_cases[i].key,
                                     key_cases[i].value) > 0);
                config_init(&c);
                ASSERT_TRUE(field_value(&c, key_cases[i].type, key_cases[i].offset) != key_cases[i].expect);
                ASSERT_OK(parse(&c, text, NULL));
                ASSERT_NEAR(field_value(&c, key_cases[i].type, key_cases[i].offset), key_cases[i].expect, 0);
                config_done(&c);
        }
}

static void test_strings_and_enums(void)
{
        static const struct {
                const char *value;
                bool expect;
        } bools[] = {{"true", 1}, {"yes", 1}, {"1", 1}, {"false", 0}, {"no", 0}, {"0", 0}};
        static const char *const levels[] = {"emerg",   "alert",  "crit", "err",
                                             "warning", "notice", "info", "debug"};
        Config c;

        config_init(&c);
        for (size_t i = 0; i < ELEMENTSOF(bools); i++) {
                _cleanup_free_ char *text = NULL;
                ASSERT_TRUE(asprintf(&text, "[daemon]\ndry-run=%s\n", bools[i].value) > 0);
                ASSERT_OK(parse(&c, text, NULL));
                ASSERT_EQ_INT(c.dry_run, bools[i].expect);
        }
        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                _cleanup_free_ char *text = NULL;
                ASSERT_TRUE(asprintf(&text, "[daemon]\nlog-level=%s\n", levels[i]) > 0);
                ASSERT_OK(parse(&c, text, NULL));
                ASSERT_EQ_INT(c.log_level, (int)i); /* LOG_EMERG is 0 ... LOG_DEBUG 7 */
        }

        ASSERT_OK(parse(&c, "[daemon]\nscope=/user.slice/user-1000.slice\n", NULL));
        ASSERT_STREQ(c.scope, "/user.slice/user-1000.slice");
        /* Taken literally: systemd's \x2d escapes and inner blanks stay as they are. */
        ASSERT_OK(parse(&c, "[daemon]\nscope=/system.slice/dev-disk-by\\x2duuid.swap\n", NULL));
        ASSERT_STREQ(c.scope, "/system.slice/dev-disk-by\\x2duuid.swap");
        ASSERT_OK(parse(&c, "[daemon]\nscope=/my app.scope  \n", NULL));
        ASSERT_STREQ(c.scope, "/my app.scope");
        ASSERT_OK(parse(&c, "[daemon]\nscope=/\n", NULL));
        ASSERT_STREQ(c.scope, "/");
        ASSERT_OK(parse(&c, "[daemon]\nscope=\n", NULL));
        ASSERT_TRUE(c.scope == NULL);

        /* A deep copy owns its own scope. */
        Config d;
        ASSERT_OK(parse(&c, "[daemon]\nscope=/a.slice\n", NULL));
        config_copy(&d, &c);
        ASSERT_TRUE(d.scope != c.scope);
        ASSERT_TRUE(config_equal(&c, &d));
        config_done(&d);
        ASSERT_TRUE(d.scope == NULL);
        config_done(&c);
}

/* Values rejected alone: bounds, malformed numbers, bad names. */
static const struct {
        const char *group, *key, *value;
        int error;
} bad_cases[] = {
        {"daemon", "dry-run", "maybe", -EINVAL},
        {"actions", "checkpoint", "sometimes", -EINVAL},
        {"actions", "hibernate", "2", -EINVAL},
        {"actions", "checkpoint-timeout-seconds", "0", -ERANGE},
        {"actions", "checkpoint-keep", "0", -ERANGE},
        {"actions", "checkpoint-keep", "2.5", -EINVAL},
        {"actions", "checkpoint-max-age-days", "366", -ERANGE},
        {"actions", "hibernate-interval-minutes", "0.5", -ERANGE},
        {"actions", "hibernate-after-seconds", "-1", -ERANGE},
        {"daemon", "dry-run", "True", -EINVAL},
        {"daemon", "dry-run", "", -EINVAL},
        {"daemon", "log-level", "warn", -EINVAL},
        {"daemon", "log-level", "7", -EINVAL},
        {"daemon", "scope", "user.slice", -EINVAL},
        {"daemon", "scope", "/a/../b", -EINVAL},
        {"daemon", "scope", "/a/./b", -EINVAL},
        {"daemon", "scope", "/a//b", -EINVAL},
        {"daemon", "scope", "/a/", -EINVAL},
        {"pressure", "weight-psi", "-0.1", -ERANGE},
        {"pressure", "weight-psi", "1000.5", -ERANGE},
        {"pressure", "weight-swap", "1.5x", -EINVAL},
        {"pressure", "weight-gpu", "nan", -EINVAL},
        {"pressure", "weight-swap-io", "inf", -EINVAL},
        {"pressure", "weight-swap-io", "1e999", -ERANGE},
        {"pressure", "weight-swap-io", "1e-999", -ERANGE},
        {"pressure", "weight-psi", "", -EINVAL},
        {"pressure", "weight-psi", "0x10", -EINVAL},
        {"pressure", "weight-psi", "1,5", -EINVAL},
        {"pressure", "weight-psi", "1..5", -EINVAL},
        {"pressure", "weight-psi", "-", -EINVAL},
        {"pressure", "weight-psi", "1e", -EINVAL},
        {"pressure", "weight-psi", "0.5 0.5", -EINVAL},
        {"pressure", "psi-some-full-scale", "0", -ERANGE},
        {"pressure", "psi-some-full-scale", "1.01", -ERANGE},
        {"pressure", "psi-full-full-scale", "0", -ERANGE},
        {"pressure", "psi-full-full-scale", "2", -ERANGE},
        {"pressure", "swap-low", "-0.01", -ERANGE},
        {"pressure", "swap-high", "1.01", -ERANGE},
        {"pressure", "swap-io-full-scale-mib", "0", -ERANGE},
        {"pressure", "swap-io-full-scale-mib", "1048577", -ERANGE},
        {"pressure", "gpu-full-scale", "0", -ERANGE},
        {"pressure", "gpu-full-scale", "1.5", -ERANGE},
        {"pressure", "memavailable-critical-percent", "-1", -ERANGE},
        {"pressure", "memavailable-critical-percent", "51", -ERANGE},
        {"pressure", "memavailable-emergency-percent", "50.5", -ERANGE},
        {"pressure", "rate-window-ms", "60001", -ERANGE},
        {"pressure", "rate-window-ms", "1.5", -EINVAL},
        {"levels", "elevated", "0", -ERANGE},
        {"levels", "emergency", "1.1", -ERANGE},
        {"levels", "hysteresis", "-0.1", -ERANGE},
        {"levels", "hysteresis", "0.6", -ERANGE},
        {"levels", "rise-samples", "0", -ERANGE},
        {"levels", "rise-samples", "101", -ERANGE},
        {"levels", "rise-samples", "2.5", -EINVAL},
        {"levels", "sharp-rise", "0", -ERANGE},
        {"levels", "sharp-rise", "1.5", -ERANGE},
        {"levels", "calm-seconds", "0.4", -ERANGE},
        {"levels", "calm-seconds", "3601", -ERANGE},
        {"triggers", "some-stall-ms", "0", -ERANGE},
        {"triggers", "some-stall-ms", "12.5", -EINVAL},
        {"triggers", "full-stall-ms", "0", -ERANGE},
        {"triggers", "window-ms", "499", -ERANGE},
        {"triggers", "window-ms", "10001", -ERANGE},
        {"triggers", "fast-interval-ms", "49", -ERANGE},
        {"triggers", "fast-interval-ms", "5001", -ERANGE},
        {"triggers", "heartbeat-seconds", "9.9", -ERANGE},
        {"triggers", "heartbeat-seconds", "3601", -ERANGE},
};

static void assert_rejected(const char *text, int error, const char *prefix)
{
        _cleanup_free_ char *msg = NULL;
        Config c, before;

        config_init(&c);
        ASSERT_OK(parse(&c, "[daemon]\nscope=/keep.slice\n", NULL));
        config_copy(&before, &c);
        if (parse(&c, text, &msg) != error) {
                fprintf(stderr, "'%s' not rejected with %d: %s\n", text, error, strna(msg));
                abort();
        }
        if (!strstr(msg, prefix)) {
                fprintf(stderr, "message '%s' lacks '%s'\n", msg, prefix);
                abort();
        }
        ASSERT_TRUE(config_equal(&c, &before));
        ASSERT_TRUE(c.scope && strcmp(c.scope, "/keep.slice") == 0);
        /* Without a place for the message it fails the same way. */
        ASSERT_ERR(parse(&c, text, NULL), error);
        config_done(&before);
        config_done(&c);
}

static void test_bounds_rejected(void)
{
        for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++) {
                _cleanup_free_ char *text = NULL, *prefix = NULL, *got = NULL;

                ASSERT_TRUE(asprintf(&text, "[%s]\n%s=%s\n", bad_cases[i].group, bad_cases[i].key,
                                     bad_cases[i].value) > 0);
                ASSERT_TRUE(asprintf(&prefix, "test.conf: [%s] %s: ", bad_cases[i].group, bad_cases[i].key) >
                            0);
                assert_rejected(text, bad_cases[i].error, prefix);
                ASSERT_TRUE(asprintf(&got, "got '%s')", bad_cases[i].value) > 0);
                assert_rejected(text, bad_cases[i].error, got);
        }
        /* The message says what was expected. */
        assert_rejected("[levels]\nrise-samples=0\n", -ERANGE,
                        "(expected a whole number from 1 to 100, got '0')");
        assert_rejected("[levels]\nsharp-rise=0\n", -ERANGE,
                        "(expected a number greater than 0 and at most 1, got '0')");
        /* Control characters in a value are shown escaped. */
        assert_rejected("[pressure]\nweight-psi=1\x1b[2J\n", -EINVAL, "got '1\\x1b[2J'");
}

static void test_constraints_between_keys(void)
{
        /* The key the file set is the one named. */
        assert_rejected("[pressure]\nweight-psi=0\nweight-swap=0\nweight-gpu=0\nweight-swap-io=0\n", -EINVAL,
                        "test.conf: [pressure] weight-swap-io: all four weights are 0");
        assert_rejected(
                "[pressure]\nswap-low=0.95\n", -EINVAL,
                "test.conf: [pressure] swap-low: not below swap-high (expected a value below swap-high = "
                "0.95, got '0.95')");
        assert_rejected("[pressure]\nswap-high=0.2\n", -EINVAL,
                        "test.conf: [pressure] swap-high: not above swap-low");
        assert_rejected(
                "[pressure]\nmemavailable-emergency-percent=6\n", -EINVAL,
                "test.conf: [pressure] memavailable-emergency-percent: above memavailable-critical-percent");
        assert_rejected("[levels]\nhigh=0.1\n", -EINVAL, "test.conf: [levels] high: not above elevated");
        assert_rejected("[levels]\nhigh=0.9\n", -EINVAL, "test.conf: [levels] high: not below critical");
        assert_rejected("[levels]\nemergency=0.55\n", -EINVAL,
                        "test.conf: [levels] emergency: not above critical");
        assert_rejected(
                "[levels]\nhysteresis=0.1\n", -EINVAL,
                "test.conf: [levels] hysteresis: not smaller than the smallest gap between thresholds "
                "(expected less than 0.1, the gap between 0 and elevated, got '0.1')");
        assert_rejected("[levels]\ncritical=0.33\n", -EINVAL,
                        "test.conf: [levels] critical: too close to high (expected a gap between high and "
                        "critical wider than hysteresis = 0.05, got '0.33')");
        assert_rejected("[levels]\nelevated=0.04\n", -EINVAL,
                        "test.conf: [levels] elevated: too close to 0");
        assert_rejected("[triggers]\nsome-stall-ms=1000\n", -EINVAL,
                        "test.conf: [triggers] some-stall-ms: not below window-ms");
        assert_rejected("[triggers]\nfull-stall-ms=2000\n", -EINVAL,
                        "test.conf: [triggers] full-stall-ms: not below window-ms");

        /* A key this file did not set is not blamed: here window-ms is. */
        _cleanup_free_ char *msg = NULL;
        Config c;
        config_init(&c);
        ASSERT_OK(parse(&c, "[triggers]\nsome-stall-ms=700\n", NULL));
        ASSERT_ERR(parse(&c, "[triggers]\nwindow-ms=500\nfull-stall-ms=10\n", &msg), -EINVAL);
        ASSERT_TRUE(strstr(
                msg, "test.conf: [triggers] window-ms: not above some-stall-ms (expected a value above "
                     "some-stall-ms = 700, got '500')"));
        ASSERT_EQ_U64(c.trigger.window_usec, USEC_PER_SEC);
        config_done(&c);

        /* Valid combinations: a floor turned off lifts the order between floors;
         * keys changed together in one file are checked together. */
        config_init(&c);
        ASSERT_OK(parse(&c,
                        "[pressure]\nmemavailable-critical-percent=0\nmemavailable-emergency-percent=10\n",
                        NULL));
        ASSERT_OK(parse(&c, "[pressure]\nweight-psi=0\nweight-swap=0\nweight-gpu=0\n", NULL));
        ASSERT_OK(parse(&c,
                        "[levels]\nemergency=0.95\ncritical=0.9\nhigh=0.85\nelevated=0.8\nhysteresis=0.02\n",
                        NULL));
        ASSERT_OK(parse(&c, "[triggers]\nwindow-ms=500\nsome-stall-ms=499\nfull-stall-ms=499\n", NULL));
        config_done(&c);
}

static void test_unknown_and_malformed(void)
{
        assert_rejected(
                "[deamon]\ndry-run=true\n", -EINVAL,
                "test.conf: [deamon]: unknown group (expected one of [daemon], [pressure], [levels], "
                "[triggers], [planner], [actions], [records], [hooks], [rule:NAME], [protect]; got 'deamon')");
        /* Rule groups go to the rules module, which names the key it does not know. */
        assert_rejected("[rule:firefox]\nmatch=firefox\n", -EINVAL, "test.conf: [rule:firefox] match: unknown key");
        assert_rejected("[Daemon]\n", -EINVAL, "test.conf: [Daemon]: unknown group");
        assert_rejected(
                "[levels]\nhgh=0.4\n", -EINVAL,
                "test.conf: [levels] hgh: unknown key (expected one of elevated, high, critical, emergency, "
                "hysteresis, rise-samples, sharp-rise, calm-seconds; got 'hgh')");
        assert_rejected(
                "[pressure]\nelevated=0.2\n", -EINVAL,
                "test.conf: [pressure] elevated: unknown key in this group (it belongs in [levels])");
        assert_rejected("[levels]\nhigh[de]=0.4\n", -EINVAL, "test.conf: [levels] high[de]: unknown key");
        assert_rejected("[levels]\nHigh=0.4\n", -EINVAL, "test.conf: [levels] High: unknown key");
        assert_rejected("[levels]\nhigh=0.4\nhigh=0.5\n", -EINVAL,
                        "test.conf: [levels] high: set more than once");
        assert_rejected("[levels]\nhigh=0.4\n[daemon]\n[levels]\nhigh=0.5\n", -EINVAL,
                        "test.conf: [levels] high: set more than once");
        assert_rejected("dry-run=true\n", -EINVAL, "test.conf: syntax error: ");
        assert_rejected("[daemon\n", -EINVAL, "test.conf: syntax error: ");
        assert_rejected("[daemon]\njunk\n", -EINVAL, "test.conf: syntax error: ");
        assert_rejected("[daemon]\ndry-run=\xff\n", -EINVAL, "test.conf: invalid UTF-8 on line 2");
        assert_rejected("[daemon]\ndry-run=true\n# comment \xc3\n", -EINVAL,
                        "test.conf: invalid UTF-8 on line 3");

        /* A NUL byte would make GKeyFile drop the rest of the file silently. */
        static const char nul[] = "[daemon]\ndry-run=true\n\0[levels]\nhigh=2\n";
        _cleanup_free_ char *msg = NULL;
        Config c;
        config_init(&c);
        ASSERT_ERR(config_parse_data(&c, nul, sizeof(nul) - 1, "test.conf", &msg), -EINVAL);
        ASSERT_TRUE(strstr(msg, "test.conf: NUL byte on line 3"));
        ASSERT_FALSE(c.dry_run);

        /* CRLF line endings and GLib's other comment forms are fine. */
        ASSERT_OK(parse(&c, "# comment\r\n[levels]\r\nhigh=0.4\r\n\r\n", NULL));
        ASSERT_NEAR(c.level.threshold[LEVEL_HIGH], 0.4, 0);
        ASSERT_ERR(config_parse_data(NULL, "", 0, "x", NULL), -EINVAL);
        ASSERT_ERR(config_parse_data(&c, NULL, 1, "x", NULL), -EINVAL);
        ASSERT_OK(config_parse_data(&c, NULL, 0, "x", NULL));
        config_done(&c);
}

static void test_failing_file_changes_nothing(void)
{
        _cleanup_free_ char *msg = NULL;
        Config c, before;

        config_init(&c);
        ASSERT_OK(parse(&c, "[daemon]\ndry-run=yes\nscope=/a.slice\n[levels]\nhigh=0.35\n", NULL));
        config_copy(&before, &c);

        /* Good keys before the bad one are not applied... */
        ASSERT_ERR(parse(&c,
                         "[daemon]\nscope=/b.slice\nlog-level=debug\n[levels]\nhigh=0.4\nrise-samples=x\n",
                         &msg),
                   -EINVAL);
        ASSERT_TRUE(config_equal(&c, &before));
        ASSERT_STREQ(c.scope, "/a.slice");
        free(msg);
        msg = NULL;

        /* ...nor are keys that are each valid but contradict each other. */
        ASSERT_ERR(parse(&c, "[daemon]\nscope=\n[pressure]\nswap-low=0.9\nswap-high=0.8\n", &msg), -EINVAL);
        ASSERT_TRUE(strstr(msg, "test.conf: [pressure] swap-high: not above swap-low"));
        ASSERT_TRUE(config_equal(&c, &before));
        ASSERT_STREQ(c.scope, "/a.slice");

        config_done(&before);
        config_done(&c);
}

static void test_later_file_overrides(void)
{
        char dir[] = "/tmp/test-config-XXXXXX";
        _cleanup_free_ char *a = NULL, *b = NULL, *missing = NULL, *msg = NULL;
        Config c;

        ASSERT_TRUE(mkdtemp(dir));
        write_text(dir, "a.conf", "[levels]\nhigh=0.4\nrise-samples=5\n[daemon]\nscope=/a.slice\n");
        write_text(dir, "b.conf", "[levels]\nhigh=0.45\n[triggers]\nwindow-ms=2000\n");
        ASSERT_TRUE(asprintf(&a, "%s/a.conf", dir) > 0);
        ASSERT_TRUE(asprintf(&b, "%s/b.conf", dir) > 0);
        ASSERT_TRUE(asprintf(&missing, "%s/missing.conf", dir) > 0);

        config_init(&c);
        ASSERT_OK(config_load_file(&c, a, NULL));
        ASSERT_OK(config_load_file(&c, b, NULL));
        ASSERT_NEAR(c.level.threshold[LEVEL_HIGH], 0.45, 0);
        ASSERT_EQ_INT(c.level.rise_samples, 5);
        ASSERT_STREQ(c.scope, "/a.slice");
        ASSERT_EQ_U64(c.trigger.window_usec, 2 * USEC_PER_SEC);
        ASSERT_NEAR(c.level.threshold[LEVEL_CRITICAL], 0.55, 0);

        ASSERT_ERR(config_load_file(&c, missing, &msg), -ENOENT);
        ASSERT_TRUE(strstr(msg, missing) == msg);
        ASSERT_TRUE(strstr(msg, ": cannot read: "));
        free(msg);
        msg = NULL;
        ASSERT_ERR(config_load_file(&c, dir, &msg), -EISDIR);
        free(msg);
        msg = NULL;

        /* The file name in messages is the path. */
        write_text(dir, "bad.conf", "[levels]\nhigh=2\n");
        free(b);
        ASSERT_TRUE(asprintf(&b, "%s/bad.conf: [levels] high: out of range", dir) > 0);
        free(a);
        ASSERT_TRUE(asprintf(&a, "%s/bad.conf", dir) > 0);
        ASSERT_ERR(config_load_file(&c, a, &msg), -ERANGE);
        ASSERT_TRUE(strstr(msg, b) == msg);

        config_done(&c);
        rm_rf(dir);
}

static void test_dropins(void)
{
        char dir[] = "/tmp/test-config-XXXXXX";
        _cleanup_free_ char *base = NULL, *dropins = NULL, *sub = NULL, *msg = NULL;
        _cleanup_(strv_freep) char **files = NULL;
        g_autofree char *masked = NULL, *dangling = NULL, *bad = NULL, *dot_config = NULL, *moved = NULL;
        Config c, sentinel;

        ASSERT_TRUE(mkdtemp(dir));
        ASSERT_TRUE(asprintf(&base, "%s/memguard", dir) > 0);
        ASSERT_TRUE(asprintf(&dropins, "%s/memguard/memguard.conf.d", dir) > 0);
        ASSERT_TRUE(asprintf(&sub, "%s/memguard/memguard.conf.d/dir.conf", dir) > 0);
        setenv("XDG_CONFIG_HOME", dir, 1);

        /* Nothing there: no files, the defaults. */
        ASSERT_OK(config_files_for_mode(false, NULL, &files));
        ASSERT_TRUE(files && !files[0]);
        strv_free(files);
        files = NULL;

        ASSERT_OK(mkdir(base, 0755));
        ASSERT_OK(mkdir(dropins, 0755));
        ASSERT_OK(mkdir(sub, 0755));
        write_text(base, "memguard.conf", "[levels]\nhigh=0.4\ncritical=0.6\nrise-samples=4\n");
        write_text(dropins, "20-b.conf", "[levels]\nhigh=0.45\n");
        write_text(dropins, "10-a.conf", "[levels]\nhigh=0.42\ncritical=0.7\n");
        write_text(dropins, "30-c.conf", "[daemon]\nscope=/c.slice\n");
        write_text(dropins, ".hidden.conf", "garbage\n");
        write_text(dropins, "README", "garbage\n");
        write_text(dropins, "40-d.conf.bak", "garbage\n");
        write_text(dropins, "50-e.conf~", "garbage\n");
        masked = g_build_filename(dropins, "60-masked.conf", NULL);
        dangling = g_build_filename(dropins, "70-dangling.conf", NULL);
        ASSERT_OK(symlink("/dev/null", masked));
        ASSERT_OK(symlink("/nonexistent", dangling));

        ASSERT_OK(config_files_for_mode(false, NULL, &files));
        ASSERT_TRUE(g_strv_length(files) == 4);
        ASSERT_TRUE(g_str_has_suffix(files[0], "/memguard/memguard.conf"));
        ASSERT_TRUE(g_str_has_suffix(files[1], "/memguard.conf.d/10-a.conf"));
        ASSERT_TRUE(g_str_has_suffix(files[2], "/memguard.conf.d/20-b.conf"));
        ASSERT_TRUE(g_str_has_suffix(files[3], "/memguard.conf.d/30-c.conf"));
        ASSERT_TRUE(g_str_has_prefix(files[0], dir));

        ASSERT_OK(config_load_all(false, NULL, &c, NULL));
        ASSERT_NEAR(c.level.threshold[LEVEL_HIGH], 0.45, 0);    /* 20-b */
        ASSERT_NEAR(c.level.threshold[LEVEL_CRITICAL], 0.7, 0); /* 10-a */
        ASSERT_EQ_INT(c.level.rise_samples, 4);                 /* main file */
        ASSERT_STREQ(c.scope, "/c.slice");                      /* 30-c */
        config_done(&c);

        /* A bad drop-in fails the whole load, names itself, and leaves *ret alone. */
        write_text(dropins, "25-bad.conf", "[levels]\nhigh=0.75\n");
        memset(&c, 0x5a, sizeof(c));
        memcpy(&sentinel, &c, sizeof(c));
        ASSERT_ERR(config_load_all(false, NULL, &c, &msg), -EINVAL);
        ASSERT_TRUE(strstr(msg, "/memguard.conf.d/25-bad.conf: [levels] high: not below critical"));
        ASSERT_TRUE(memcmp(&c, &sentinel, sizeof(c)) == 0);
        free(msg);
        msg = NULL;
        bad = g_build_filename(dropins, "25-bad.conf", NULL);
        ASSERT_OK(unlink(bad));

        /* Without $XDG_CONFIG_HOME (or with a relative one), ~/.config. */
        setenv("XDG_CONFIG_HOME", "relative", 1);
        setenv("HOME", dir, 1);
        ASSERT_OK(config_load_all(false, NULL, &c, NULL));
        ASSERT_EQ_INT(c.level.rise_samples, 3);
        config_done(&c);
        dot_config = g_build_filename(dir, ".config", NULL);
        moved = g_build_filename(dir, ".config", "memguard", NULL);
        ASSERT_OK(mkdir(dot_config, 0755));
        ASSERT_OK(rename(base, moved));
        unsetenv("XDG_CONFIG_HOME");
        ASSERT_OK(config_load_all(false, NULL, &c, NULL));
        ASSERT_EQ_INT(c.level.rise_samples, 4);
        ASSERT_STREQ(c.scope, "/c.slice");
        config_done(&c);

        unsetenv("HOME");
        ASSERT_ERR(config_load_all(false, NULL, &c, &msg), -ENXIO);
        ASSERT_TRUE(strstr(msg, "$HOME"));

        /* System mode looks in SYSCONFDIR; whatever is there, the list is well formed. */
        strv_free(files);
        files = NULL;
        ASSERT_OK(config_files_for_mode(true, NULL, &files));
        for (char **f = files; *f; f++)
                ASSERT_TRUE(g_str_has_prefix(*f, SYSCONFDIR "/memguard/"));

        rm_rf(dir);
}

static void test_override(void)
{
        char dir[] = "/tmp/test-config-XXXXXX";
        _cleanup_free_ char *path = NULL, *missing = NULL, *msg = NULL;
        _cleanup_(strv_freep) char **files = NULL;
        Config c, sentinel;

        ASSERT_TRUE(mkdtemp(dir));
        ASSERT_TRUE(asprintf(&path, "%s/memguard/memguard.conf.d", dir) > 0);
        ASSERT_OK(g_mkdir_with_parents(path, 0755));
        write_text(path, "10-a.conf", "[levels]\nrise-samples=9\n");
        free(path);
        ASSERT_TRUE(asprintf(&path, "%s/mine.conf", dir) > 0);
        ASSERT_TRUE(asprintf(&missing, "%s/missing.conf", dir) > 0);
        write_text(dir, "mine.conf", "[daemon]\ndry-run=true\n");
        setenv("XDG_CONFIG_HOME", dir, 1);

        /* Only that file: the drop-ins are not read. */
        ASSERT_OK(config_files_for_mode(false, path, &files));
        ASSERT_TRUE(files[0] && !files[1]);
        ASSERT_STREQ(files[0], path);
        ASSERT_OK(config_load_all(false, path, &c, NULL));
        ASSERT_TRUE(c.dry_run);
        ASSERT_EQ_INT(c.level.rise_samples, 3);
        config_done(&c);

        /* It must exist. */
        strv_free(files);
        files = NULL;
        ASSERT_ERR(config_files_for_mode(true, missing, &files), -ENOENT);
        ASSERT_TRUE(files == NULL);
        memset(&c, 0x5a, sizeof(c));
        memcpy(&sentinel, &c, sizeof(c));
        ASSERT_ERR(config_load_all(true, missing, &c, &msg), -ENOENT);
        ASSERT_TRUE(strstr(msg, missing) == msg);
        ASSERT_TRUE(memcmp(&c, &sentinel, sizeof(c)) == 0);

        unsetenv("XDG_CONFIG_HOME");
        rm_rf(dir);
}

/* Uncomment every "#key=value" line of the shipped file. */
static char *uncomment(const char *text, unsigned *ret_n)
{
        GString *out = g_string_new(NULL);
        g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
        unsigned n = 0;

        for (char **l = lines; *l; l++) {
                const char *s = *l;
                if (s[0] == '#' && g_ascii_islower(s[1]) && strchr(s, '=') &&
                    strspn(s + 1, "abcdefghijklmnopqrstuvwxyz0123456789-") ==
                            (size_t)(strchr(s, '=') - s - 1)) {
                        s++;
                        n++;
                }
                g_string_append_printf(out, "%s\n", s);
        }
        *ret_n = n;
        return g_string_free(out, FALSE);
}

static void test_shipped_file_matches_defaults(void)
{
        g_autofree char *fixtures = g_path_get_dirname(FIXTURES_DIR "/x"); /* no need for it to exist */
        g_autofree char *tests = g_path_get_dirname(fixtures);
        g_autofree char *root = g_path_get_dirname(tests);
        g_autofree char *path = g_build_filename(root, "data", "memguard.conf", NULL);
        g_autofree char *text = read_text(path), *active = NULL;
        g_autoptr(GKeyFile) kf = g_key_file_new();
        _cleanup_free_ char *msg = NULL;
        Config defaults, c;
        unsigned n;

        config_init(&defaults);

        /* As shipped: nothing set. */
        config_init(&c);
        ASSERT_OK(config_parse_data(&c, text, strlen(text), path, NULL));
        ASSERT_TRUE(config_equal(&c, &defaults));

        /* Every key uncommented: still exactly the defaults. */
        active = uncomment(text, &n);
        if (config_parse_data(&c, active, strlen(active), path, &msg) < 0) {
                fprintf(stderr, "%s\n", msg);
                abort();
        }
        ASSERT_TRUE(config_equal(&c, &defaults));

        /* ...and every key is there (scope and the hooks have empty defaults). */
        ASSERT_TRUE(g_key_file_load_from_data(kf, active, -1, 0, NULL));
        for (size_t i = 0; i < ELEMENTSOF(key_cases); i++)
                if (!g_key_file_has_key(kf, key_cases[i].group, key_cases[i].key, NULL)) {
                        fprintf(stderr, "[%s] %s missing from %s\n", key_cases[i].group, key_cases[i].key,
                                path);
                        abort();
                }
        ASSERT_TRUE(g_key_file_has_key(kf, "daemon", "scope", NULL));
        /* ...and the two hook commands, whose defaults are empty too. */
        ASSERT_TRUE(g_key_file_has_key(kf, "hooks", "on-level-change", NULL));
        ASSERT_TRUE(g_key_file_has_key(kf, "hooks", "before-kill", NULL));
        /* ...and the criu program, whose default is a name. */
        ASSERT_TRUE(g_key_file_has_key(kf, "actions", "criu", NULL));
        ASSERT_EQ_INT(n, ELEMENTSOF(key_cases) + 4);

        config_done(&c);
        config_done(&defaults);
}

static void test_hook_commands(void)
{
        _cleanup_free_ char *error = NULL;
        Config c;

        config_init(&c);
        ASSERT_TRUE(c.hooks.on_level_change == NULL && c.hooks.before_kill == NULL);
        ASSERT_OK(parse(&c, "[hooks]\non-level-change=/usr/local/bin/notify;--level;x y\nbefore-kill=/bin/true\n",
                        NULL));
        ASSERT_STREQ(c.hooks.on_level_change[0], "/usr/local/bin/notify");
        ASSERT_STREQ(c.hooks.on_level_change[1], "--level");
        ASSERT_STREQ(c.hooks.on_level_change[2], "x y");
        ASSERT_TRUE(c.hooks.on_level_change[3] == NULL);
        ASSERT_STREQ(c.hooks.before_kill[0], "/bin/true");
        /* A relative program is refused and changes nothing. */
        ASSERT_ERR(parse(&c, "[hooks]\nbefore-kill=rm;-rf;/\n", &error), -EINVAL);
        ASSERT_TRUE(strstr(error, "test.conf: [hooks] before-kill: not a command") != NULL);
        ASSERT_STREQ(c.hooks.before_kill[0], "/bin/true");
        /* Empty turns it off again. */
        ASSERT_OK(parse(&c, "[hooks]\nbefore-kill=\n", NULL));
        ASSERT_TRUE(c.hooks.before_kill == NULL);
        config_done(&c);
}

static void test_criu_program(void)
{
        static const char *const bad[] = {"bin/criu", "./criu", "/usr/sbin/../criu", "/usr/sbin/", "cr\x01iu"};
        Config c;

        config_init(&c);
        ASSERT_TRUE(c.actions.criu == NULL); /* "criu" in PATH */
        ASSERT_FALSE(c.actions.checkpoint);
        ASSERT_FALSE(c.actions.hibernate);
        ASSERT_OK(parse(&c, "[actions]\ncriu=/opt/criu/sbin/criu\n", NULL));
        ASSERT_STREQ(c.actions.criu, "/opt/criu/sbin/criu");
        {
                Config d;
                config_copy(&d, &c);
                ASSERT_STREQ(d.actions.criu, "/opt/criu/sbin/criu");
                ASSERT_TRUE(d.actions.criu != c.actions.criu);
                config_done(&d);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *text = NULL, *error = NULL;
                ASSERT_TRUE(asprintf(&text, "[actions]\ncriu=%s\n", bad[i]) > 0);
                ASSERT_ERR(parse(&c, text, &error), -EINVAL);
                ASSERT_TRUE(strstr(error, "test.conf: [actions] criu: not a program") != NULL);
                ASSERT_STREQ(c.actions.criu, "/opt/criu/sbin/criu"); /* unchanged */
        }
        ASSERT_OK(parse(&c, "[actions]\ncriu=criu\n", NULL));
        ASSERT_STREQ(c.actions.criu, "criu");
        ASSERT_OK(parse(&c, "[actions]\ncriu=\n", NULL));
        ASSERT_TRUE(c.actions.criu == NULL);
        config_done(&c);
}

int main(void)
{
        RUN(test_hook_commands);
        RUN(test_criu_program);
        RUN(test_defaults);
        RUN(test_each_key_parses);
        RUN(test_strings_and_enums);
        RUN(test_bounds_rejected);
        RUN(test_constraints_between_keys);
        RUN(test_unknown_and_malformed);
        RUN(test_failing_file_changes_nothing);
        RUN(test_later_file_overrides);
        RUN(test_dropins);
        RUN(test_override);
        RUN(test_shipped_file_matches_defaults);
        return 0;
}
