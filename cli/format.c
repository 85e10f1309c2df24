/* SPDX-License-Identifier: MIT */
/*
 * Terminal-safe strings, tables, sizes and times for memguardctl.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "macro.h"

/*
 * Decode one UTF-8 sequence at s (n bytes left). Returns its length and the
 * code point, or 0 for an invalid sequence (overlong, surrogate, beyond
 * U+10FFFF, truncated).
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
        uint32_t cp, min;
        size_t len;

        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0) {
                len = 2, cp = s[0] & 0x1f, min = 0x80;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3, cp = s[0] & 0x0f, min = 0x800;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4, cp = s[0] & 0x07, min = 0x10000;
        } else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return len;
}

/* Control characters, and the bidi controls that can make a name read as another. */
static bool cp_is_unsafe(uint32_t cp)
{
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
               (cp >= 0x2066 && cp <= 0x2069);
}

char *text_sanitize(const char *s)
{
        const unsigned char *p = (const unsigned char *)strempty(s);
        size_t n = strlen((const char *)p), j = 0;
        char *out = xmalloc0(n + 1);

        while (*p) {
                uint32_t cp;
                size_t len = utf8_decode(p, n, &cp);

                if (len == 0 || cp_is_unsafe(cp)) {
                        out[j++] = '?';
                        len = len ?: 1;
                } else {
                        memcpy(out + j, p, len);
                        j += len;
                }
                p += len;
                n -= len;
        }
        out[j] = 0;
        return out;
}

size_t text_width(const char *s)
{
        size_t w = 0;

        for (const char *p = strempty(s); *p; p++)
                if (((unsigned char)*p & 0xc0) != 0x80)
                        w++;
        return w;
}

json_object *json_string_safe(const char *s)
{
        const unsigned char *p = (const unsigned char *)strempty(s);
        size_t n = strlen((const char *)p), j = 0;
        _cleanup_free_ char *out = xmalloc0(n * 3 + 1);
        json_object *o;

        while (*p) {
                uint32_t cp;
                size_t len = utf8_decode(p, n, &cp);

                if (len == 0) {
                        memcpy(out + j, "\xef\xbf\xbd", 3);
                        j += 3;
                        len = 1;
                } else {
                        memcpy(out + j, p, len);
                        j += len;
                }
                p += len;
                n -= len;
        }
        o = json_object_new_string_len(out, (int)j);
        if (!o)
                abort();
        return o;
}

void json_print(json_object *o, bool one_line)
{
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

        flags |= one_line ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;
        puts(json_object_to_json_string_ext(o, flags));
}

void format_bytes(char *buf, size_t size, uint64_t bytes)
{
        static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = (double)bytes;
        size_t i = 0;

        if (bytes < 1024) {
                snprintf(buf, size, "%" PRIu64 " B", bytes);
                return;
        }
        v /= 1024;
        while (v >= 1024 && i + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                i++;
        }
        snprintf(buf, size, "%.1f %s", v, units[i]);
}

static bool local_tm(uint64_t realtime_usec, struct tm *ret)
{
        time_t t = (time_t)(realtime_usec / USEC_PER_SEC);

        return localtime_r(&t, ret) != NULL;
}

void format_local_time(char *buf, size_t size, uint64_t realtime_usec, bool with_ms)
{
        struct tm tm;
        size_t n;

        if (!local_tm(realtime_usec, &tm) || (n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm)) == 0) {
                snprintf(buf, size, "@%" PRIu64, realtime_usec / USEC_PER_SEC);
                return;
        }
        if (with_ms)
                snprintf(buf + n, size - n, ".%03" PRIu64, realtime_usec % USEC_PER_SEC / USEC_PER_MSEC);
}

void format_iso8601(char *buf, size_t size, uint64_t realtime_usec)
{
        char date[32], zone[8];
        struct tm tm;

        if (!local_tm(realtime_usec, &tm) || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
            strftime(zone, sizeof(zone), "%z", &tm) != 5) {
                snprintf(buf, size, "@%" PRIu64, realtime_usec / USEC_PER_SEC);
                return;
        }
        /* "+0200" -> "+02:00" */
        snprintf(buf, size, "%s.%03" PRIu64 "%.3s:%s", date, realtime_usec % USEC_PER_SEC / USEC_PER_MSEC,
                 zone, zone + 3);
}

void format_ago(char *buf, size_t size, uint64_t then_usec, uint64_t now_usec)
{
        uint64_t s;

        if (then_usec > now_usec + USEC_PER_SEC) {
                snprintf(buf, size, "in the future");
                return;
        }
        s = then_usec >= now_usec ? 0 : (now_usec - then_usec) / USEC_PER_SEC;
        if (s < 60)
                snprintf(buf, size, "%" PRIu64 " s ago", s);
        else if (s < 3600)
                snprintf(buf, size, "%" PRIu64 " min ago", s / 60);
        else if (s < 86400)
                snprintf(buf, size, "%" PRIu64 " h %" PRIu64 " min ago", s / 3600, s % 3600 / 60);
        else
                snprintf(buf, size, "%" PRIu64 " d %" PRIu64 " h ago", s / 86400, s % 86400 / 3600);
}

uint64_t now_realtime_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

struct Table {
        size_t n_columns;
        size_t n_rows; /* header included */
        size_t n_allocated;
        char **cells; /* n_rows * n_columns, row-major */
        bool *right;
};

Table *table_new(size_t n_columns, const char *const *headers, const bool *right_align)
{
        Table *t = xmalloc0(sizeof(Table));

        t->n_columns = n_columns;
        t->right = xmalloc0(n_columns * sizeof(bool));
        if (right_align)
                memcpy(t->right, right_align, n_columns * sizeof(bool));
        table_add_row(t, headers);
        return t;
}

Table *table_free(Table *t)
{
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_rows * t->n_columns; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->right);
        free(t);
        return NULL;
}

void table_add_row(Table *t, const char *const *cells)
{
        if (t->n_rows == t->n_allocated) {
                t->n_allocated = t->n_allocated ? t->n_allocated * 2 : 8;
                t->cells = realloc(t->cells, t->n_allocated * t->n_columns * sizeof(char *));
                if (!t->cells)
                        abort();
        }
        for (size_t c = 0; c < t->n_columns; c++)
                t->cells[t->n_rows * t->n_columns + c] = text_sanitize(cells[c]);
        t->n_rows++;
}

size_t table_n_rows(const Table *t)
{
        return t->n_rows - 1;
}

void table_print(const Table *t, FILE *f)
{
        _cleanup_free_ size_t *width = xmalloc0(t->n_columns * sizeof(size_t));

        for (size_t r = 0; r < t->n_rows; r++)
                for (size_t c = 0; c < t->n_columns; c++)
                        width[c] = MAX(width[c], text_width(t->cells[r * t->n_columns + c]));

        for (size_t r = 0; r < t->n_rows; r++) {
                size_t n = t->n_columns;

                /* No trailing blanks: stop after the last non-empty cell. */
                while (n > 1 && !*t->cells[r * t->n_columns + n - 1])
                        n--;
                for (size_t c = 0; c < n; c++) {
                        const char *cell = t->cells[r * t->n_columns + c];
                        size_t pad = width[c] - text_width(cell);
                        bool last = c + 1 == n;

                        if (c > 0)
                                fputs("  ", f);
                        if (t->right[c])
                                fprintf(f, "%*s%s", (int)pad, "", cell);
                        else
                                fprintf(f, "%s%*s", cell, last ? 0 : (int)pad, "");
                }
                fputc('\n', f);
        }
}
