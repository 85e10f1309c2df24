/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_MAX_FIELDS 24
#define LOG_LINE_MAX 2048

static int max_level = LOG_INFO;
static int use_journal = 0;

static int stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(LogTarget target)
{
        switch (target) {
        case LOG_TARGET_JOURNAL:
                use_journal = 1;
                break;
        case LOG_TARGET_CONSOLE:
                use_journal = 0;
                break;
        default:
                use_journal = stderr_is_journal();
        }
}

void log_set_max_level(int prio)
{
        max_level = prio;
}

int log_get_max_level(void)
{
        return max_level;
}

int log_is_journal(void)
{
        return use_journal;
}

static const char *prio_prefix(int prio)
{
        switch (prio) {
        case LOG_EMERG:
        case LOG_ALERT:
        case LOG_CRIT:
        case LOG_ERR:
                return "error: ";
        case LOG_WARNING:
                return "warning: ";
        case LOG_DEBUG:
                return "debug: ";
        default:
                return "";
        }
}

static void write_console(int prio, const char *line)
{
        fprintf(stderr, "%s%s\n", prio_prefix(prio), line);
        fflush(stderr);
}

int log_internal(int prio, int error, const char *fmt, ...)
{
        char buf[LOG_LINE_MAX];
        va_list ap;
        int saved = errno;

        if (prio > max_level)
                return -abs(error);

        /* %m refers to the error passed in, like systemd's log functions. */
        errno = abs(error);
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        if (use_journal) {
                char pbuf[32], ebuf[32];
                snprintf(pbuf, sizeof(pbuf), "PRIORITY=%i", prio & LOG_PRIMASK);
                if (error != 0) {
                        snprintf(ebuf, sizeof(ebuf), "ERRNO=%i", abs(error));
                        sd_journal_send("MESSAGE=%s", buf, pbuf, ebuf, "SYSLOG_IDENTIFIER=memguardd", NULL);
                } else
                        sd_journal_send("MESSAGE=%s", buf, pbuf, "SYSLOG_IDENTIFIER=memguardd", NULL);
        } else
                write_console(prio, buf);

        errno = saved;
        return -abs(error);
}

static int value_needs_quotes(const char *v)
{
        if (!*v)
                return 1;
        for (; *v; v++)
                if (isspace((unsigned char)*v) || iscntrl((unsigned char)*v) || *v == '"' || *v == '\\')
                        return 1;
        return 0;
}

/* Append "key=value" (quoted as needed) to buf at *pos; silently truncates. */
static void append_field(char *buf, size_t size, size_t *pos, const char *field)
{
        const char *eq = strchr(field, '=');
        size_t p = *pos;

        if (p + 1 >= size)
                return;
        buf[p++] = ' ';
        if (!eq || !value_needs_quotes(eq + 1)) {
                int k = snprintf(buf + p, size - p, "%s", field);
                p += k > 0 ? (size_t)k : 0;
        } else {
                for (const char *c = field; c <= eq && p + 1 < size; c++)
                        buf[p++] = *c;
                if (p + 1 < size)
                        buf[p++] = '"';
                for (const char *c = eq + 1; *c && p + 2 < size; c++) {
                        if (*c == '"' || *c == '\\')
                                buf[p++] = '\\';
                        /* Values may come from /proc (attacker-chosen names): one line, no escapes. */
                        buf[p++] = iscntrl((unsigned char)*c) ? (*c == '\n' || *c == '\t' ? ' ' : '?') : *c;
                }
                if (p + 1 < size)
                        buf[p++] = '"';
        }
        *pos = MIN(p, size - 1);
        buf[*pos] = 0;
}

void log_structv(int prio, const char *message, const char *const *fields, int n_fields)
{
        int saved = errno;

        if (prio > max_level)
                return;
        if (n_fields > LOG_MAX_FIELDS)
                n_fields = LOG_MAX_FIELDS;

        if (use_journal) {
                struct iovec iov[LOG_MAX_FIELDS + 3];
                char keys[LOG_MAX_FIELDS][LOG_LINE_MAX / 4];
                char mbuf[LOG_LINE_MAX], pbuf[32];
                int n = 0;

                snprintf(mbuf, sizeof(mbuf), "MESSAGE=%s", message);
                snprintf(pbuf, sizeof(pbuf), "PRIORITY=%i", prio & LOG_PRIMASK);
                iov[n++] = (struct iovec){ mbuf, strlen(mbuf) };
                iov[n++] = (struct iovec){ pbuf, strlen(pbuf) };
                iov[n++] = (struct iovec){ (char *)"SYSLOG_IDENTIFIER=memguardd", 27 };
                for (int i = 0; i < n_fields; i++) {
                        size_t j = 0;
                        const char *f = fields[i];
                        j = (size_t)snprintf(keys[i], sizeof(keys[i]), "MEMGUARD_");
                        for (; *f && j + 1 < sizeof(keys[i]); f++) {
                                char c = *f;
                                if (c == '=') {
                                        /* Copy the rest (value) verbatim. */
                                        int k = snprintf(keys[i] + j, sizeof(keys[i]) - j, "%s", f);
                                        j += k > 0 ? (size_t)k : 0;
                                        break;
                                }
                                keys[i][j++] = (char)toupper((unsigned char)c);
                        }
                        keys[i][MIN(j, sizeof(keys[i]) - 1)] = 0;
                        iov[n++] = (struct iovec){ keys[i], strlen(keys[i]) };
                }
                sd_journal_sendv(iov, n);
        } else {
                char buf[LOG_LINE_MAX];
                size_t pos;
                int k = snprintf(buf, sizeof(buf), "%s", message);
                pos = k > 0 ? MIN((size_t)k, sizeof(buf) - 1) : 0;
                for (int i = 0; i < n_fields; i++)
                        append_field(buf, sizeof(buf), &pos, fields[i]);
                write_console(prio, buf);
        }
        errno = saved;
}

void log_struct(int prio, const char *message, ...)
{
        const char *fields[LOG_MAX_FIELDS];
        int n = 0;
        va_list ap;

        if (prio > max_level)
                return;
        va_start(ap, message);
        for (const char *f; n < LOG_MAX_FIELDS && (f = va_arg(ap, const char *));)
                fields[n++] = f;
        va_end(ap);
        log_structv(prio, message, fields, n);
}
