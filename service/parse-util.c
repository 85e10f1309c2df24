/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "parse-util.h"

int safe_atou64_n(const char *s, size_t len, uint64_t *ret)
{
        uint64_t v = 0;

        if (!s || len == 0)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                unsigned d;
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                d = (unsigned)(s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int safe_atou64(const char *s, uint64_t *ret)
{
        if (!s)
                return -EINVAL;
        return safe_atou64_n(s, strlen(s), ret);
}

int safe_atod_n(const char *s, size_t len, double *ret)
{
        double v = 0, scale = 1;
        int seen_dot = 0, digits = 0;

        if (!s || len == 0)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '.') {
                        if (seen_dot)
                                return -EINVAL;
                        seen_dot = 1;
                        continue;
                }
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                digits++;
                if (digits > 30)
                        return -ERANGE;
                if (seen_dot) {
                        scale /= 10;
                        v += (s[i] - '0') * scale;
                } else
                        v = v * 10 + (s[i] - '0');
        }
        if (digits == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

const char *skip_blanks(const char *p, const char *end)
{
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}
