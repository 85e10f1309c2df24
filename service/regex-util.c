/* SPDX-License-Identifier: MIT */
/*
 * Compiling untrusted POSIX extended regular expressions with bounded cost.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "regex-util.h"

#define REGEX_COST_MAX 4096 /* estimated nodes of a compiled regex */
#define REGEX_DEPTH_MAX 32  /* nested groups */
#define REGEX_STACK_MAX 4   /* repetition operators on one operand, directly ("a*+") or through groups */

/* Skip a bracket expression starting at p ('['); returns the char after its ']', or the end. */
static const char *skip_bracket(const char *p)
{
        p++;
        if (*p == '^')
                p++;
        if (*p == ']')
                p++;
        for (; *p && *p != ']'; p++)
                if (p[0] == '[' && (p[1] == ':' || p[1] == '=' || p[1] == '.')) {
                        const char *close = strchr(p + 2, p[1]);
                        while (close && close[1] != ']')
                                close = strchr(close + 1, p[1]);
                        if (!close)
                                return p + strlen(p);
                        p = close + 1;
                }
        return *p ? p + 1 : p;
}

/*
 * Estimate how many nodes regcomp() builds: glibc copies the operand of
 * every '+', '?' and {m,n} (n copies), so "a++++..." or nested bounds grow
 * exponentially. Saturates above `limit`; a malformed pattern is left for
 * regcomp() to reject. Stacked repetitions cost more than their nodes:
 * glibc's epsilon closures over copies of loops grow about fourfold per
 * level ("a*++++++++" 23 ms, "a*++++++++++" 480 ms, 15-20 levels took 24 GiB),
 * so more than REGEX_STACK_MAX on one operand is refused outright (POSIX
 * leaves stacked duplication symbols undefined anyway).
 */
static uint64_t regex_cost(const char *p, uint64_t limit)
{
        struct {
                uint64_t sum, last;
                int arep_max, last_arep; /* repetitions over a zero-width assertion: -1 none */
                int rep_max, last_rep;   /* repetition operators stacked on an operand */
        } st[REGEX_DEPTH_MAX + 1] = {};
        unsigned depth = 0;

        st[0].arep_max = st[0].last_arep = -1;
        for (; *p; p++) {
                uint64_t f = 1, atom = 1;
                int arep = -1, rep = 0;
                bool repeat = false;
                unsigned long m, n;
                char *end;

                switch (*p) {
                case '(':
                        if (depth == REGEX_DEPTH_MAX)
                                return limit + 1;
                        depth++;
                        st[depth].sum = st[depth].last = 0;
                        st[depth].arep_max = st[depth].last_arep = -1;
                        st[depth].rep_max = st[depth].last_rep = 0;
                        continue;
                case ')':
                        if (depth > 0) {
                                atom = MAX(st[depth].sum, (uint64_t)1);
                                arep = st[depth].arep_max;
                                rep = st[depth].rep_max;
                                depth--;
                        }
                        break;
                case '|':
                        st[depth].last = 0;
                        st[depth].last_arep = -1;
                        st[depth].last_rep = 0;
                        continue;
                case '*':
                        repeat = true;
                        break;
                case '^':
                case '$':
                        arep = 0;
                        break;
                case '+':
                case '?':
                        f = 2;
                        repeat = true;
                        break;
                case '{':
                        if (!isdigit((unsigned char)p[1]))
                                break;
                        /* {m} is m copies, {m,n} n copies, {m,} m copies and a star. */
                        n = m = strtoul(p + 1, &end, 10);
                        if (*end == ',' && isdigit((unsigned char)end[1]))
                                n = strtoul(end + 1, &end, 10);
                        else if (*end == ',') {
                                n = m + 1;
                                end++;
                        }
                        if (*end != '}')
                                break;
                        f = MAX(MAX(m, n), 1ul);
                        repeat = true;
                        p = end;
                        break;
                case '\\':
                        if (p[1] && strchr("bB<>`'", p[1]))
                                arep = 0; /* GNU word and buffer anchors */
                        if (p[1])
                                p++;
                        break;
                case '[':
                        p = skip_bracket(p) - 1;
                        break;
                }
                if (repeat) {
                        if (++st[depth].last_rep > REGEX_STACK_MAX)
                                return limit + 1;
                        st[depth].rep_max = MAX(st[depth].rep_max, st[depth].last_rep);
                }
                if (repeat && f > 1) {
                        /* Repeat the last atom: f - 1 more copies of it. */
                        f = MIN(f, limit + 1);
                        st[depth].sum = MIN(st[depth].sum + st[depth].last * (f - 1), limit + 1);
                        st[depth].last = MIN(st[depth].last * f, limit + 1);
                        /* glibc's epsilon closures blow up when copies of a zero-width
                         * assertion are repeated: "(^| )+++++" takes 10 s to compile,
                         * "((\\b){2,9}){2,9}" 0.2 s, "(\\b){1,30}" 0.1 s. One repetition
                         * of at most 8 copies of one. */
                        if (st[depth].last_arep >= 0 && (f > 8 || ++st[depth].last_arep > 1))
                                return limit + 1;
                        st[depth].arep_max = MAX(st[depth].arep_max, st[depth].last_arep);
                } else if (!repeat) {
                        st[depth].sum = MIN(st[depth].sum + atom, limit + 1);
                        st[depth].last = atom;
                        st[depth].last_arep = arep;
                        st[depth].arep_max = MAX(st[depth].arep_max, arep);
                        st[depth].last_rep = rep;
                        st[depth].rep_max = MAX(st[depth].rep_max, rep);
                }
                if (st[depth].sum > limit)
                        return limit + 1;
        }
        while (depth > 0) {
                st[depth - 1].sum += st[depth].sum;
                depth--;
        }
        return st[0].sum;
}

int regex_compile_bounded(const char *pattern, regex_t *ret, char *err, size_t err_size)
{
        int r;

        if (strlen(pattern) > REGEX_PATTERN_MAX) {
                snprintf(err, err_size, "longer than %d bytes", REGEX_PATTERN_MAX);
                return -EINVAL;
        }
        /* Keep regexec() cheap on the hot path and regcomp() bounded: no back-references
         * (exponential matching), and a bounded compiled size. */
        for (const char *p = pattern; *p; p++)
                if (*p == '\\' && p[1]) {
                        if (p[1] >= '1' && p[1] <= '9') {
                                snprintf(err, err_size, "back-references are not supported");
                                return -EINVAL;
                        }
                        p++;
                }
        if (regex_cost(pattern, REGEX_COST_MAX) > REGEX_COST_MAX) {
                snprintf(err, err_size, "too complex (nested or repeated repetitions)");
                return -EINVAL;
        }
        r = regcomp(ret, pattern, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
                regerror(r, NULL, err, err_size);
                return -EINVAL;
        }
        return 0;
}

/* Skip a group starting at p ('('); returns the char after its ')', or the end. */
static const char *skip_group(const char *p)
{
        int depth = 0;

        for (; *p; p++) {
                if (*p == '\\' && p[1])
                        p++;
                else if (*p == '[')
                        p = skip_bracket(p) - 1;
                else if (*p == '(')
                        depth++;
                else if (*p == ')' && --depth == 0)
                        return p + 1;
        }
        return p;
}

void regex_required_literal(const char *pattern, char *out, size_t size)
{
        char run[REGEX_PATTERN_MAX + 1];
        size_t n = 0, best = 0;
        const char *p;

        out[0] = 0;
        if (!pattern || size < 2 || strlen(pattern) > REGEX_PATTERN_MAX)
                return;
        /* An alternative at the top level: no character is required. */
        for (p = pattern; *p;) {
                if (*p == '\\' && p[1])
                        p += 2;
                else if (*p == '[')
                        p = skip_bracket(p);
                else if (*p == '(')
                        p = skip_group(p);
                else if (*p++ == '|')
                        return;
        }

#define END_RUN()                                                                                           \
        do {                                                                                                \
                if (n > best && n >= 2) {                                                                   \
                        best = MIN(n, size - 1);                                                            \
                        memcpy(out, run, best);                                                             \
                        out[best] = 0;                                                                      \
                }                                                                                           \
                n = 0;                                                                                      \
        } while (0)

        for (p = pattern; *p;) {
                char c = *p;

                if (c == '*' || c == '?' || c == '{') {
                        /* The atom before is optional: drop it from the run. */
                        if (n > 0)
                                n--;
                        END_RUN();
                        p = c == '{' && strchr(p, '}') ? strchr(p, '}') + 1 : p + 1;
                } else if (c == '+') {
                        END_RUN(); /* the atom before is required once: kept */
                        p++;
                } else if (c == '(' || c == '[' || c == '\\' || c == '.' || c == '^' || c == '$' || c == ')') {
                        /* Not a plain character (a group, a class, an escape, an anchor): the run ends.
                         * A quantifier right after it applies to it, not to the run. */
                        END_RUN();
                        p = c == '(' ? skip_group(p) : c == '[' ? skip_bracket(p) : c == '\\' && p[1] ? p + 2 : p + 1;
                        if (*p == '*' || *p == '?' || *p == '+')
                                p++;
                        else if (*p == '{')
                                p = strchr(p, '}') ? strchr(p, '}') + 1 : p + 1;
                } else {
                        run[n++] = c;
                        p++;
                }
        }
        END_RUN();
#undef END_RUN
}
