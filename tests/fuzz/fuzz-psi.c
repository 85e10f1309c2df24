/* SPDX-License-Identifier: MIT */
/*
 * psi_parse() on arbitrary bytes; the input also seeds the trigger fallback.
 * Invariants are checked with abort() so that they count as crashes.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "psi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_avg(double v)
{
        if (isnan(v) || v < 0 || v > 100)
                abort();
}

static void check_line(const PsiLine *l)
{
        check_avg(l->avg10);
        check_avg(l->avg60);
        check_avg(l->avg300);
}

static void check_fallback(const uint8_t *data, size_t size)
{
        uint64_t in_stall, in_window, stall, window;
        char buf[32];

        if (size < 16)
                return;
        memcpy(&in_stall, data, 8);
        memcpy(&in_window, data + 8, 8);
        psi_trigger_fallback(in_stall, in_window, &stall, &window);
        /* Something any caller may register: a multiple of 2 s in 2..10 s, 0 < stall < window. */
        if (window < 2000000 || window > 10000000 || window % 2000000 != 0)
                abort();
        if (stall == 0 || stall >= window)
                abort();
        if (in_window >= 2000000 && window < in_window && window != 10000000)
                abort(); /* rounded down */
        /* And it fits in the 32 bytes the kernel reads, NUL included. */
        if (psi_trigger_format(buf, sizeof(buf), PSI_SOME, stall, window) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        PsiStats st, before, again;
        int r;

        memset(&st, 0x5a, sizeof(st));
        before = st;
        r = psi_parse((const char *)data, size, &st);
        if (r < 0) {
                if (r != -EBADMSG)
                        abort();
                if (memcmp(&st, &before, sizeof(st)) != 0)
                        abort(); /* outputs written on failure */
        } else {
                if (r != 0 || !st.some.present)
                        abort();
                check_line(&st.some);
                if (st.full.present)
                        check_line(&st.full);
                /* Deterministic, and independent of the bytes after len. */
                if (psi_parse((const char *)data, size, &again) != 0 || memcmp(&st, &again, sizeof(st)) != 0)
                        abort();
        }

        check_fallback(data, size);
        return 0;
}
