/* SPDX-License-Identifier: MIT */
/*
 * Logging. Plain lines on stderr ("message key=value key=value"), or, when
 * stderr is connected to journald (JOURNAL_STREAM matches it), structured
 * journal entries whose fields are the upper-cased keys prefixed MEMGUARD_.
 *
 * Parsers and helpers never log above debug; callers decide and log once.
 * Nothing here allocates: lines are formatted into stack buffers.
 */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,
        LOG_TARGET_CONSOLE,
        LOG_TARGET_JOURNAL,
} LogTarget;

void log_setup(LogTarget target);
void log_set_max_level(int prio);
int log_get_max_level(void);
int log_is_journal(void);

/* Log a formatted message; returns -abs(error) so "return log_error_errno(r, ...)" works. */
int log_internal(int prio, int error, const char *fmt, ...) _printf_(3, 4);

/*
 * Log a message with structured fields. Each field is one "key=value" string
 * (key in lower case, [a-z0-9_]); the list ends with NULL. On the console the
 * line reads "message key=value ..."; values with blanks are double-quoted.
 */
void log_struct(int prio, const char *message, ...) _sentinel_;
void log_structv(int prio, const char *message, const char *const *fields, int n_fields);

#define log_full_errno(prio, error, ...)                                                                   \
        ({                                                                                                 \
                int _p = (prio), _e = (error);                                                             \
                _p <= log_get_max_level() ? log_internal(_p, _e, __VA_ARGS__) : -abs(_e);                  \
        })
#define log_full(prio, ...) ((void)log_full_errno(prio, 0, __VA_ARGS__))

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)
