/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "psi.h"

/* PSI files are two lines of ~50 bytes; leave room for keys a future kernel adds. */
#define PSI_FILE_MAX 512

/*
 * The kernel copies at most 32 bytes of a trigger write (NUL included) and
 * accepts windows of 500 ms .. 10 s; callers without CAP_SYS_RESOURCE must
 * use a multiple of 2 s.
 */
#define PSI_TRIGGER_MAX 32
#define PSI_WINDOW_STEP_USEC (2 * USEC_PER_SEC)
#define PSI_WINDOW_MAX_USEC (10 * USEC_PER_SEC)

enum {
        KEY_AVG10,
        KEY_AVG60,
        KEY_AVG300,
        KEY_TOTAL,
        _KEY_MAX,
};

static const char *const psi_keys[_KEY_MAX] = {
        [KEY_AVG10] = "avg10",
        [KEY_AVG60] = "avg60",
        [KEY_AVG300] = "avg300",
        [KEY_TOTAL] = "total",
};

static int token_is(const char *p, size_t n, const char *word)
{
        size_t l = strlen(word);
        return n == l && memcmp(p, word, l) == 0;
}

/* Parse "avg10=0.00 avg60=0.00 avg300=0.00 total=0" (the part after "some"/"full"). */
static int psi_parse_fields(const char *p, const char *end, PsiLine *ret)
{
        PsiLine line = { .present = true };
        double *avgs[] = { &line.avg10, &line.avg60, &line.avg300 };
        unsigned seen = 0;

        for (;;) {
                const char *tok, *eq, *val;
                size_t klen, vlen;
                int k, r;

                p = skip_blanks(p, end);
                if (p >= end)
                        break;
                tok = p;
                while (p < end && *p != ' ' && *p != '\t')
                        p++;

                eq = memchr(tok, '=', (size_t)(p - tok));
                if (!eq || eq == tok)
                        return -EBADMSG;
                klen = (size_t)(eq - tok);
                val = eq + 1;
                vlen = (size_t)(p - val);
                if (memchr(val, '=', vlen))
                        return -EBADMSG;

                for (k = 0; k < _KEY_MAX; k++)
                        if (token_is(tok, klen, psi_keys[k]))
                                break;
                if (k == _KEY_MAX)
                        continue; /* a key from a newer kernel */
                if (seen & (1u << k))
                        return -EBADMSG;
                seen |= 1u << k;

                if (k == KEY_TOTAL)
                        r = safe_atou64_n(val, vlen, &line.total);
                else {
                        r = safe_atod_n(val, vlen, avgs[k]);
                        if (r >= 0 && !(*avgs[k] >= 0 && *avgs[k] <= 100))
                                r = -ERANGE;
                }
                if (r < 0)
                        return -EBADMSG;
        }

        if (seen != (1u << _KEY_MAX) - 1)
                return -EBADMSG;
        *ret = line;
        return 0;
}

int psi_parse(const char *buf, size_t len, PsiStats *ret)
{
        PsiStats st = {};
        const char *p, *end;

        if (!buf)
                return len > 0 ? -EINVAL : -EBADMSG;

        for (p = buf, end = buf + len; p < end;) {
                const char *eol = memchr(p, '\n', (size_t)(end - p)), *kind;
                PsiLine *line;
                int r;

                /* Kernel files end every line with '\n'; without it the read was cut short. */
                if (!eol)
                        return -EBADMSG;

                p = skip_blanks(p, eol);
                kind = p;
                while (p < eol && *p != ' ' && *p != '\t')
                        p++;

                if (token_is(kind, (size_t)(p - kind), "some"))
                        line = &st.some;
                else if (token_is(kind, (size_t)(p - kind), "full"))
                        line = &st.full;
                else
                        line = NULL; /* empty line, or a line kind we do not know */

                if (line) {
                        if (line->present)
                                return -EBADMSG;
                        r = psi_parse_fields(p, eol, line);
                        if (r < 0)
                                return r;
                }
                p = eol + 1;
        }

        if (!st.some.present)
                return -EBADMSG;
        *ret = st;
        return 0;
}

int psi_read_at(int dirfd, const char *path, PsiStats *ret)
{
        char buf[PSI_FILE_MAX];
        ssize_t n;

        n = read_file_at(dirfd, path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        return psi_parse(buf, (size_t)n, ret);
}

int psi_trigger_format(char *buf, size_t size, PsiKind kind, uint64_t stall_usec, uint64_t window_usec)
{
        const char *k;
        int n;

        switch (kind) {
        case PSI_SOME:
                k = "some";
                break;
        case PSI_FULL:
                k = "full";
                break;
        default:
                return -EINVAL;
        }

        n = snprintf(buf, size, "%s %" PRIu64 " %" PRIu64, k, stall_usec, window_usec);
        if (n < 0)
                return -EINVAL;
        if ((size_t)n >= size)
                return -ENOBUFS;
        return n;
}

/* a * b / c without intermediate overflow; c != 0, and the result must fit (a <= c here). */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c)
{
        __extension__ unsigned __int128 x = (unsigned __int128)a * b;
        return (uint64_t)(x / c);
}

void psi_trigger_fallback(uint64_t stall_usec, uint64_t window_usec, uint64_t *ret_stall_usec,
                          uint64_t *ret_window_usec)
{
        uint64_t window, stall;

        if (window_usec >= PSI_WINDOW_MAX_USEC)
                window = PSI_WINDOW_MAX_USEC;
        else if (window_usec <= PSI_WINDOW_STEP_USEC)
                window = PSI_WINDOW_STEP_USEC;
        else
                window = (window_usec + PSI_WINDOW_STEP_USEC - 1) / PSI_WINDOW_STEP_USEC *
                         PSI_WINDOW_STEP_USEC;

        /* Keep the stall/window ratio; the kernel wants 0 < stall <= window, we keep it below. */
        if (window_usec == 0)
                stall = stall_usec; /* no ratio to keep */
        else if (stall_usec >= window_usec)
                stall = window - 1;
        else
                stall = muldiv(stall_usec, window, window_usec);
        stall = CLAMP(stall, UINT64_C(1), window - 1);

        if (ret_stall_usec)
                *ret_stall_usec = stall;
        if (ret_window_usec)
                *ret_window_usec = window;
}

/* Register the trigger on fd. A string the kernel could not take in full is refused like it would be. */
static int psi_trigger_write(int fd, PsiKind kind, uint64_t stall_usec, uint64_t window_usec)
{
        char buf[PSI_TRIGGER_MAX];
        ssize_t k;
        int n;

        n = psi_trigger_format(buf, sizeof(buf), kind, stall_usec, window_usec);
        if (n == -ENOBUFS)
                return -EINVAL; /* > 10 s window, which the kernel refuses anyway */
        if (n < 0)
                return n;

        /* Include the NUL: the kernel overwrites the last byte written with one. */
        do
                k = write(fd, buf, (size_t)n + 1);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        if ((size_t)k != (size_t)n + 1)
                return -EIO;
        return 0;
}

int psi_trigger_open_at(int dirfd, const char *path, PsiKind kind, uint64_t stall_usec, uint64_t window_usec,
                        uint64_t *ret_stall_usec, uint64_t *ret_window_usec)
{
        _cleanup_close_ int fd = -1;
        uint64_t stall = stall_usec, window = window_usec;
        int r;

        if (!path || (kind != PSI_SOME && kind != PSI_FULL))
                return -EINVAL;
        /* Nonsense whatever the kernel's limits are: do not let the fallback "repair" it. */
        if (stall_usec == 0 || window_usec == 0 || stall_usec > window_usec)
                return -EINVAL;

        fd = openat(dirfd, path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        r = psi_trigger_write(fd, kind, stall, window);
        if (r == -EINVAL) {
                psi_trigger_fallback(stall_usec, window_usec, &stall, &window);
                if (stall == stall_usec && window == window_usec)
                        return -EINVAL;
                log_debug("psi: trigger window %" PRIu64 "us refused on %s, retrying with %" PRIu64
                          "us stall in %" PRIu64 "us",
                          window_usec, path, stall, window);
                /* A failed write leaves no trigger behind, so the same fd can take another. */
                r = psi_trigger_write(fd, kind, stall, window);
        }
        if (r < 0)
                return r;

        if (ret_stall_usec)
                *ret_stall_usec = stall;
        if (ret_window_usec)
                *ret_window_usec = window;
        return TAKE_FD(fd);
}
