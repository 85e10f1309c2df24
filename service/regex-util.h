/* SPDX-License-Identifier: MIT */
/*
 * Compiling untrusted POSIX extended regular expressions with bounded cost.
 *
 * glibc's regcomp() copies the operand of every '+', '?' and {m,n}, so
 * "a+++++++++++++++++++++++" or nested bounds take gigabytes, and
 * back-references make regexec() exponential; repeating a group that holds
 * a zero-width assertion (^, $, \b, \<, ...) makes its epsilon closures blow
 * up ("(^| )+++++" compiles in 10 s). regex_compile_bounded() refuses all
 * three (one repetition of at most 8 copies of an assertion is allowed), so
 * a pattern from a config file cannot stall the daemon's decision loop or
 * exhaust its (locked) memory.
 */
#pragma once

#include <regex.h>
#include <stddef.h>

#define REGEX_PATTERN_MAX 1024

/*
 * Compile `pattern` with REG_EXTENDED | REG_NOSUB. Returns 0, or -EINVAL with
 * a NUL-terminated reason in err (at most err_size bytes): too long, a
 * back-reference, too complex, or regcomp()'s own message.
 */
int regex_compile_bounded(const char *pattern, regex_t *ret, char *err, size_t err_size);

/*
 * A string every match of the ERE `pattern` must contain, for a cheap
 * strstr() before regexec(): the longest run of plain characters at the top
 * level that no quantifier makes optional ("--type=renderer" in
 * "(^| )--type=renderer( |$)"), cut to size - 1 bytes. Empty (no prefilter)
 * when there is none of 2 or more characters or the pattern has an
 * alternative ('|') at the top level. Conservative: groups, classes,
 * escapes and anchors end a run and are never part of it.
 */
void regex_required_literal(const char *pattern, char *out, size_t size);
