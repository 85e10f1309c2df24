/* SPDX-License-Identifier: MIT */
/*
 * Output helpers for memguardctl: strings made safe for a terminal, tables,
 * sizes and times. Everything the daemon sends comes from /proc (process
 * names, units, exe paths) and is attacker-controlled: it goes through
 * text_sanitize() before it reaches a terminal, and through json-c (which
 * escapes it) before it reaches JSON output.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on
 * success. Out of memory is fatal.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/*
 * A copy of `s` fit for a terminal line: C0 and C1 control characters, DEL
 * and bytes that are not valid UTF-8 each become '?'. NULL becomes "".
 */
char *text_sanitize(const char *s);

/* The number of terminal columns `s` takes, counting one per UTF-8 code point. */
size_t text_width(const char *s);

/*
 * A JSON string for `s` that is valid UTF-8 whatever `s` holds: invalid
 * bytes become U+FFFD. (D-Bus strings are valid UTF-8 already; this is for
 * what memguardctl reads locally, like mount points.)
 */
json_object *json_string_safe(const char *s);

/* Print `o` and a newline: pretty for whole documents, one line for event streams. */
void json_print(json_object *o, bool one_line);

/* "0 B", "512 B", "4.0 KiB", "1.2 GiB". */
void format_bytes(char *buf, size_t size, uint64_t bytes);

/* Local time of a CLOCK_REALTIME timestamp in µs: "2024-05-01 12:00:03"; with_ms adds ".123". */
void format_local_time(char *buf, size_t size, uint64_t realtime_usec, bool with_ms);

/* ISO 8601 with the local offset: "2024-05-01T12:00:03.123+02:00". */
void format_iso8601(char *buf, size_t size, uint64_t realtime_usec);

/* How long ago `then_usec` was at `now_usec`: "12 s ago", "5 min ago", "2 h 3 min ago", "in the future". */
void format_ago(char *buf, size_t size, uint64_t then_usec, uint64_t now_usec);

uint64_t now_realtime_usec(void);

/*
 * A table printed with aligned columns. Cells are sanitized when added; the
 * last column is not padded. Columns flagged right-aligned (numbers) are
 * padded on the left.
 */
typedef struct Table Table;

Table *table_new(size_t n_columns, const char *const *headers, const bool *right_align);
Table *table_free(Table *t);
void table_add_row(Table *t, const char *const *cells);
size_t table_n_rows(const Table *t);
void table_print(const Table *t, FILE *f);

static inline void table_freep(Table **t)
{
        table_free(*t);
}
#define _cleanup_table_ __attribute__((cleanup(table_freep)))

static inline void json_object_putp(json_object **o)
{
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ __attribute__((cleanup(json_object_putp)))
