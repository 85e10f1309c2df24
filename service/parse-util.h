/* SPDX-License-Identifier: MIT */
/*
 * Strict number parsing for kernel and config input. No locale, no leading
 * whitespace or sign surprises, overflow is an error.
 *
 * Contract: 0 on success, -EINVAL for a malformed number, -ERANGE for one that
 * does not fit; *ret is written only on success.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Decimal unsigned integer, the whole string. */
int safe_atou64(const char *s, uint64_t *ret);

/* Like safe_atou64() but for the first `len` bytes of s (not NUL-terminated). */
int safe_atou64_n(const char *s, size_t len, uint64_t *ret);

/* Decimal fraction "12.34" (no exponent, no sign), the first `len` bytes. */
int safe_atod_n(const char *s, size_t len, double *ret);

/* Advance past spaces and tabs. */
const char *skip_blanks(const char *p, const char *end);
