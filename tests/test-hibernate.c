/* SPDX-License-Identifier: MIT */
/*
 * The emergency hibernation decision, table-driven: only when enabled, in
 * system mode without a scope, acting, at emergency, at most once per
 * interval, and only when the plan cannot return enough (at once) or
 * emergency outlasted after_usec (then).
 */
#include "hibernate.h"
#include "test.h"

#define MiB (UINT64_C(1024) * 1024)
#define S USEC_PER_SEC
#define NOW (10000 * S)

static HibernateInput base(void)
{
        return (HibernateInput){
                .level = LEVEL_EMERGENCY,
                .system_mode = true,
                .acting = true,
                .now_usec = NOW,
                .emergency_since_usec = NOW - 1 * S,
                .need_bytes = 1000 * MiB,
                .planned_bytes = 0,
                .n_evictions = 0,
        };
}

static void test_decide(void)
{
        const HibernateParams on = {.enabled = true, .after_usec = 30 * S, .interval_usec = 1800 * S};
        const HibernateParams off = {.enabled = false, .after_usec = 30 * S, .interval_usec = 1800 * S};
        struct {
                const char *name;
                const HibernateParams *p;
                HibernateInput in;
                HibernateDecision want;
                const char *why;
        } cases[] = {
                {"nothing planned", &on, base(), HIBERNATE_NOW, "nothing left to free"},
                {"disabled", &off, base(), HIBERNATE_NO, "hibernate=false"},
                {"user mode", &on, base(), HIBERNATE_NO, "user mode"},
                {"scope", &on, base(), HIBERNATE_NO, "scope"},
                {"invalid config", &on, base(), HIBERNATE_NO, "monitoring only"},
                {"critical", &on, base(), HIBERNATE_NO, "level critical"},
                {"high", &on, base(), HIBERNATE_NO, "level high"},
                {"not yet emergency", &on, base(), HIBERNATE_NO, "level emergency not yet confirmed"},
                {"rate limited", &on, base(), HIBERNATE_NO, "rate limit"},
                {"rate limit over", &on, base(), HIBERNATE_NOW, "nothing left"},
                {"kills fall short", &on, base(), HIBERNATE_NOW, "returns ~600 MiB of the 1000 MiB needed"},
                {"kills plus in flight cover it", &on, base(), HIBERNATE_WAIT, "waiting 29 s more"},
                {"kills cover it, then too long", &on, base(), HIBERNATE_NOW, "emergency for 30 s"},
                {"stall without shortage, one freeze", &on, base(), HIBERNATE_WAIT, "waiting"},
                {"after 0: at once", &on, base(), HIBERNATE_NOW, "emergency for 1 s"},
        };
        HibernateParams zero_after = on;

        zero_after.after_usec = 0;
        cases[2].in.system_mode = false;
        cases[3].in.scoped = true;
        cases[4].in.acting = false;
        cases[5].in.level = LEVEL_CRITICAL;
        cases[6].in.level = LEVEL_HIGH;
        cases[7].in.emergency_since_usec = 0;
        cases[8].in.last_request_usec = NOW - 1799 * S;
        cases[9].in.last_request_usec = NOW - 1800 * S;
        cases[10].in.planned_bytes = 500 * MiB;
        cases[10].in.inflight_bytes = 100 * MiB;
        cases[10].in.n_evictions = 2;
        cases[11].in.planned_bytes = 900 * MiB;
        cases[11].in.inflight_bytes = 100 * MiB;
        cases[11].in.n_evictions = 2;
        cases[12].in = cases[11].in;
        cases[12].in.emergency_since_usec = NOW - 30 * S;
        cases[13].in.need_bytes = 0;
        cases[13].in.n_evictions = 1;
        cases[14].p = &zero_after;
        cases[14].in.planned_bytes = 2000 * MiB;
        cases[14].in.n_evictions = 1;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char why[256] = "";
                HibernateDecision d = hibernate_decide(cases[i].p, &cases[i].in, why, sizeof(why));

                fprintf(stderr, "  %s: %d (%s)\n", cases[i].name, d, why);
                ASSERT_EQ_INT(d, cases[i].want);
                ASSERT_TRUE(strstr(why, cases[i].why) != NULL);
        }
}

int main(void)
{
        RUN(test_decide);
        return 0;
}
