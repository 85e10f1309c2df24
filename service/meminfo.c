/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"
#include "meminfo.h"
#include "parse-util.h"

/* /proc/meminfo is ~1.5 KiB and /proc/vmstat ~4 KiB on 6.x; both grow slowly with new kernels. */
#define MEMINFO_FILE_MAX 8192
#define VMSTAT_FILE_MAX 16384

/*
 * Find the line starting at *p and move *p past it. Every line of a kernel
 * file ends with '\n': a last line without one means the read was cut short,
 * and is -EBADMSG rather than a number missing its last digits.
 */
static int next_line(const char **p, const char *end, const char **ret_start, const char **ret_eol)
{
        const char *eol = memchr(*p, '\n', (size_t)(end - *p));

        if (!eol)
                return -EBADMSG;
        *ret_start = *p;
        *ret_eol = eol;
        *p = eol + 1;
        return 0;
}

/* Index of the key [key, key + n) in a NULL-terminated table, or -1. */
static int key_index(const char *const *table, const char *key, size_t n)
{
        for (int i = 0; table[i]; i++)
                if (strlen(table[i]) == n && memcmp(table[i], key, n) == 0)
                        return i;
        return -1;
}

enum {
        MEM_TOTAL,
        MEM_AVAILABLE,
        SWAP_TOTAL,
        SWAP_FREE,
        _MEM_MAX,
};

static const char *const meminfo_keys[_MEM_MAX + 1] = {
        [MEM_TOTAL] = "MemTotal",
        [MEM_AVAILABLE] = "MemAvailable",
        [SWAP_TOTAL] = "SwapTotal",
        [SWAP_FREE] = "SwapFree",
};

/* "   24684096 kB" up to the end of the line, in bytes. */
static int meminfo_value(const char *p, const char *eol, uint64_t *ret)
{
        const char *num = p = skip_blanks(p, eol);
        uint64_t kb;
        int r;

        while (p < eol && *p >= '0' && *p <= '9')
                p++;
        r = safe_atou64_n(num, (size_t)(p - num), &kb);
        if (r < 0)
                return r;
        if (p == eol || (*p != ' ' && *p != '\t'))
                return -EINVAL;
        p = skip_blanks(p, eol);
        if (eol - p != 2 || memcmp(p, "kB", 2) != 0)
                return -EINVAL;
        if (kb > UINT64_MAX / 1024)
                return -ERANGE;
        *ret = kb * 1024;
        return 0;
}

int meminfo_parse(const char *buf, size_t len, MemInfo *ret)
{
        uint64_t v[_MEM_MAX] = {};
        unsigned seen = 0;
        const char *p, *end;

        if (!buf)
                return len > 0 ? -EINVAL : -EBADMSG;

        for (p = buf, end = buf + len; p < end;) {
                const char *line, *eol, *colon;
                int k, r;

                r = next_line(&p, end, &line, &eol);
                if (r < 0)
                        return r;

                colon = memchr(line, ':', (size_t)(eol - line));
                if (!colon)
                        continue;
                k = key_index(meminfo_keys, line, (size_t)(colon - line));
                if (k < 0)
                        continue;
                if (seen & (1u << k))
                        return -EBADMSG;
                seen |= 1u << k;
                if (meminfo_value(colon + 1, eol, &v[k]) < 0)
                        return -EBADMSG;
        }

        if (seen != (1u << _MEM_MAX) - 1)
                return -EBADMSG;
        if (v[MEM_AVAILABLE] > v[MEM_TOTAL] || v[SWAP_FREE] > v[SWAP_TOTAL])
                return -EBADMSG;

        *ret = (MemInfo){
                .mem_total = v[MEM_TOTAL],
                .mem_available = v[MEM_AVAILABLE],
                .swap_total = v[SWAP_TOTAL],
                .swap_free = v[SWAP_FREE],
        };
        return 0;
}

int meminfo_read_at(int procfd, MemInfo *ret)
{
        char buf[MEMINFO_FILE_MAX];
        ssize_t n;

        n = read_file_at(procfd, "meminfo", buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        return meminfo_parse(buf, (size_t)n, ret);
}

enum {
        VM_PSWPIN,
        VM_PSWPOUT,
        VM_OOM_KILL,
        _VM_MAX,
};

static const char *const vmstat_keys[_VM_MAX + 1] = {
        [VM_PSWPIN] = "pswpin",
        [VM_PSWPOUT] = "pswpout",
        [VM_OOM_KILL] = "oom_kill",
};

int vmstat_parse(const char *buf, size_t len, VmStat *ret)
{
        const unsigned required = (1u << VM_PSWPIN) | (1u << VM_PSWPOUT);
        uint64_t v[_VM_MAX] = {};
        unsigned seen = 0;
        const char *p, *end;

        if (!buf)
                return len > 0 ? -EINVAL : -EBADMSG;

        for (p = buf, end = buf + len; p < end;) {
                const char *line, *eol, *key;
                int k, r;

                r = next_line(&p, end, &line, &eol);
                if (r < 0)
                        return r;

                key = line;
                while (line < eol && *line != ' ' && *line != '\t')
                        line++;
                k = key_index(vmstat_keys, key, (size_t)(line - key));
                if (k < 0)
                        continue;
                if (seen & (1u << k))
                        return -EBADMSG;
                seen |= 1u << k;

                /* "pswpin 12": at least one blank, then digits to the end of the line. */
                if (line == eol)
                        return -EBADMSG;
                line = skip_blanks(line, eol);
                if (safe_atou64_n(line, (size_t)(eol - line), &v[k]) < 0)
                        return -EBADMSG;
        }

        if ((seen & required) != required)
                return -EBADMSG;

        *ret = (VmStat){
                .pswpin = v[VM_PSWPIN],
                .pswpout = v[VM_PSWPOUT],
                .oom_kill = v[VM_OOM_KILL],
                .has_oom_kill = seen & (1u << VM_OOM_KILL),
        };
        return 0;
}

int vmstat_read_at(int procfd, VmStat *ret)
{
        char buf[VMSTAT_FILE_MAX];
        ssize_t n;

        n = read_file_at(procfd, "vmstat", buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        return vmstat_parse(buf, (size_t)n, ret);
}
