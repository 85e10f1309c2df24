/* SPDX-License-Identifier: MIT */
/*
 * Minimal assertions for the unit tests. A failed assertion prints where and
 * what, then aborts, which meson counts as a failure. A test that cannot run
 * here calls test_skip(), which exits 77.
 */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ASSERT_TRUE(expr)                                                                                  \
        do {                                                                                               \
                if (!(expr)) {                                                                             \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #expr);       \
                        abort();                                                                           \
                }                                                                                          \
        } while (0)

#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))

#define ASSERT_EQ_INT(a, b)                                                                                \
        do {                                                                                               \
                long long _a = (long long)(a), _b = (long long)(b);                                        \
                if (_a != _b) {                                                                            \
                        fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a,   \
                                #b, _a, _b);                                                               \
                        abort();                                                                           \
                }                                                                                          \
        } while (0)

#define ASSERT_EQ_U64(a, b)                                                                                \
        do {                                                                                               \
                uint64_t _a = (uint64_t)(a), _b = (uint64_t)(b);                                           \
                if (_a != _b) {                                                                            \
                        fprintf(stderr, "%s:%d: %s == %s failed: %" PRIu64 " != %" PRIu64 "\n", __FILE__,  \
                                __LINE__, #a, #b, _a, _b);                                                 \
                        abort();                                                                           \
                }                                                                                          \
        } while (0)

#define ASSERT_NEAR(a, b, eps)                                                                             \
        do {                                                                                               \
                double _a = (a), _b = (b);                                                                 \
                if (!(fabs(_a - _b) <= (eps))) {                                                           \
                        fprintf(stderr, "%s:%d: %s ~= %s failed: %g vs %g\n", __FILE__, __LINE__, #a, #b,   \
                                _a, _b);                                                                   \
                        abort();                                                                           \
                }                                                                                          \
        } while (0)

#define ASSERT_STREQ(a, b)                                                                                 \
        do {                                                                                               \
                const char *_a = (a), *_b = (b);                                                           \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                                   \
                        fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__,   \
                                #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");                           \
                        abort();                                                                           \
                }                                                                                          \
        } while (0)

/* r must be >= 0 */
#define ASSERT_OK(r)                                                                                       \
        do {                                                                                               \
                long long _r = (long long)(r);                                                             \
                if (_r < 0) {                                                                              \
                        fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #r, strerror((int)-_r)); \
                        abort();                                                                           \
                }                                                                                          \
        } while (0)

/* r must be exactly the negative errno e */
#define ASSERT_ERR(r, e) ASSERT_EQ_INT((r), (e))

static inline void test_skip(const char *why)
{
        printf("SKIP: %s\n", why);
        exit(77);
}

#define RUN(t)                                                                                             \
        do {                                                                                               \
                fprintf(stderr, "== %s\n", #t);                                                            \
                t();                                                                                       \
        } while (0)
