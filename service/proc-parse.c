/* SPDX-License-Identifier: MIT */
/*
 * Pure parsers behind the process table: /proc/PID/stat, /proc/PID/status,
 * smaps_rollup's Pss, and the systemd unit and desktop app id carried by a
 * cgroup v2 path. No I/O and no logging here; proc.c reads, these parse.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "proc.h"

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alpha(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A stat field after comm: optional '-' then digits (all of them are numbers but state). */
static bool stat_token_valid(const char *t, size_t n)
{
        if (n > 0 && t[0] == '-') {
                t++;
                n--;
        }
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_digit(t[i]))
                        return false;
        return true;
}

static int stat_number(const char *t, size_t n, uint64_t max, uint64_t *ret)
{
        uint64_t v;

        if (safe_atou64_n(t, n, &v) < 0 || v > max)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int proc_stat_parse(const char *buf, size_t len, ProcStat *ret)
{
        const char *end, *p, *open, *close;
        ProcStat st = {};
        size_t comm_len;

        if (!buf || !ret)
                return -EINVAL;
        /* The kernel never writes NUL into stat; a buffer with one is not stat. */
        if (len == 0 || memchr(buf, 0, len))
                return -EBADMSG;
        end = buf + len;

        /* "PID (" */
        for (p = buf; p < end && is_digit(*p); p++)
                ;
        if (p == buf || end - p < 2 || p[0] != ' ' || p[1] != '(')
                return -EBADMSG;
        open = p + 1;

        /* comm is attacker-controlled and may hold ')', spaces and newlines:
         * everything after it is numbers and one state letter, so the LAST
         * ')' ends it. */
        close = memrchr(open, ')', (size_t)(end - open));
        if (!close)
                return -EBADMSG;
        comm_len = (size_t)(close - open - 1);
        memcpy(st.comm, open + 1, MIN(comm_len, sizeof(st.comm) - 1));

        p = close + 1;
        for (unsigned field = 3; field <= 24; field++) {
                const char *tok;
                size_t n;
                uint64_t v;

                if (p >= end || *p != ' ')
                        return -EBADMSG;
                tok = ++p;
                while (p < end && *p != ' ' && *p != '\n')
                        p++;
                n = (size_t)(p - tok);

                if (field == 3) {
                        if (n != 1 || !is_alpha(tok[0]))
                                return -EBADMSG;
                        st.state = tok[0];
                        continue;
                }
                if (!stat_token_valid(tok, n))
                        return -EBADMSG;

                switch (field) {
                case 4:
                        if (stat_number(tok, n, INT_MAX, &v) < 0)
                                return -EBADMSG;
                        st.ppid = (pid_t)v;
                        break;
                case 9:
                        if (stat_number(tok, n, UINT_MAX, &v) < 0)
                                return -EBADMSG;
                        st.flags = (unsigned)v;
                        break;
                case 20:
                        if (stat_number(tok, n, UINT_MAX, &v) < 0)
                                return -EBADMSG;
                        st.threads = (unsigned)v;
                        break;
                case 22:
                        if (stat_number(tok, n, UINT64_MAX, &st.start_time) < 0)
                                return -EBADMSG;
                        break;
                case 24:
                        if (stat_number(tok, n, UINT64_MAX, &st.rss_pages) < 0)
                                return -EBADMSG;
                        break;
                default:
                        break;
                }
        }

        *ret = st;
        return 0;
}

/* "   1234 kB" up to the end of the line, in bytes. */
static int parse_kb(const char *p, const char *eol, uint64_t *ret)
{
        const char *q;
        uint64_t v;

        p = skip_blanks(p, eol);
        for (q = p; q < eol && is_digit(*q); q++)
                ;
        if (safe_atou64_n(p, (size_t)(q - p), &v) < 0)
                return -EBADMSG;
        q = skip_blanks(q, eol);
        if (eol - q != 2 || q[0] != 'k' || q[1] != 'B')
                return -EBADMSG;
        if (v > UINT64_MAX / 1024)
                return -EBADMSG;
        *ret = v * 1024;
        return 0;
}

/* "Uid:\t<real>\t<effective>\t<saved>\t<fs>": the real one. */
static int parse_uid(const char *p, const char *eol, uid_t *ret)
{
        const char *q;
        uint64_t v;

        p = skip_blanks(p, eol);
        for (q = p; q < eol && is_digit(*q); q++)
                ;
        if (safe_atou64_n(p, (size_t)(q - p), &v) < 0)
                return -EBADMSG;
        if (q < eol && *q != ' ' && *q != '\t')
                return -EBADMSG;
        if (v >= UINT32_MAX) /* (uid_t) -1 is not a uid */
                return -EBADMSG;
        *ret = (uid_t)v;
        return 0;
}

static bool line_key(const char *line, const char *eol, const char *key, const char **ret_value)
{
        size_t k = strlen(key);

        if ((size_t)(eol - line) <= k || memcmp(line, key, k) != 0 || line[k] != ':')
                return false;
        *ret_value = line + k + 1;
        return true;
}

int proc_status_parse(const char *buf, size_t len, ProcStatus *ret)
{
        static const char *const kb_keys[] = { "RssAnon", "RssFile", "RssShmem", "VmSwap" };
        ProcStatus s = {};
        uint64_t *kb_out[] = { &s.rss_anon, &s.rss_file, &s.rss_shmem, &s.swap };
        bool seen_uid = false, seen_kb[ELEMENTSOF(kb_keys)] = {};
        const char *p, *end;

        if (!buf || !ret)
                return -EINVAL;
        if (memchr(buf, 0, len))
                return -EBADMSG;
        end = buf + len;

        for (p = buf; p < end;) {
                const char *eol = memchr(p, '\n', (size_t)(end - p)), *value;

                if (!eol)
                        eol = end;

                if (line_key(p, eol, "Uid", &value)) {
                        if (seen_uid || parse_uid(value, eol, &s.uid) < 0)
                                return -EBADMSG;
                        seen_uid = true;
                } else if (*p == 'R' || *p == 'V') {
                        for (size_t i = 0; i < ELEMENTSOF(kb_keys); i++) {
                                if (!line_key(p, eol, kb_keys[i], &value))
                                        continue;
                                if (seen_kb[i] || parse_kb(value, eol, kb_out[i]) < 0)
                                        return -EBADMSG;
                                seen_kb[i] = true;
                        }
                }
                p = eol + 1;
        }
        if (!seen_uid)
                return -EBADMSG;

        *ret = s;
        return 0;
}

int proc_smaps_rollup_parse_pss(const char *buf, size_t len, uint64_t *ret)
{
        const char *p, *end;

        if (!buf || !ret)
                return -EINVAL;
        if (memchr(buf, 0, len))
                return -EBADMSG;
        end = buf + len;
        for (p = buf; p < end;) {
                const char *eol = memchr(p, '\n', (size_t)(end - p)), *value;

                if (!eol)
                        eol = end;
                if (line_key(p, eol, "Pss", &value))
                        return parse_kb(value, eol, ret);
                p = eol + 1;
        }
        return -EBADMSG;
}

static int unhex(char c)
{
        if (is_digit(c))
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Undo systemd's unit name escaping (\xNN). NULL if the escaping is invalid or yields NUL. */
static char *unit_unescape(const char *s, size_t n)
{
        _cleanup_free_ char *out = xmalloc0(n + 1);
        size_t j = 0;

        for (size_t i = 0; i < n; i++) {
                int hi, lo;

                if (s[i] != '\\') {
                        out[j++] = s[i];
                        continue;
                }
                if (n - i < 4 || s[i + 1] != 'x')
                        return NULL;
                hi = unhex(s[i + 2]);
                lo = unhex(s[i + 3]);
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                        return NULL;
                out[j++] = (char)(hi << 4 | lo);
                i += 3;
        }
        out[j] = 0;
        return TAKE_PTR(out);
}

static bool has_suffix(const char *s, size_t n, const char *suffix, size_t *ret_stem)
{
        size_t k = strlen(suffix);

        if (n <= k || memcmp(s + n - k, suffix, k) != 0)
                return false;
        *ret_stem = n - k;
        return true;
}

/*
 * The app id in a unit name, following systemd's "Desktop Environment
 * Integration" document:
 *   app[-<launcher>]-<ApplicationID>[@<RANDOM>].service
 *   app[-<launcher>]-<ApplicationID>-<RANDOM>.scope
 * A launcher is alphanumeric (no '-', no '.'), so a reverse-DNS app id is never
 * taken for one. For scopes <RANDOM> is mandatory and is the last '-' component;
 * '-' inside an app id should arrive escaped as \x2d, but a bare one is kept.
 */
static char *app_id_from_unit(const char *u, size_t n)
{
        const char *id;
        size_t stem, id_len, i;
        char *r;

        if (n < 4 || memcmp(u, "app-", 4) != 0)
                return NULL;
        if (has_suffix(u, n, ".scope", &stem)) {
                const char *dash = memrchr(u + 4, '-', stem - 4);
                if (!dash || (size_t)(dash - u) + 1 == stem)
                        return NULL;
                for (const char *c = dash + 1; c < u + stem; c++)
                        if (!is_alnum(*c))
                                return NULL;
                stem = (size_t)(dash - u);
        } else if (has_suffix(u, n, ".service", &stem)) {
                const char *at = memchr(u + 4, '@', stem - 4);
                if (at)
                        stem = (size_t)(at - u);
        } else
                return NULL;

        /* u[4..stem) is "<launcher>-<id>" or "<id>". */
        id = u + 4;
        id_len = stem - 4;
        for (i = 0; i < id_len && is_alnum(id[i]); i++)
                ;
        if (i > 0 && i + 1 < id_len && id[i] == '-') {
                id += i + 1;
                id_len -= i + 1;
        }
        if (id_len == 0 || id[0] == '-' || id[id_len - 1] == '-')
                return NULL;

        r = unit_unescape(id, id_len);
        if (r && !*r) {
                free(r);
                r = NULL;
        }
        return r;
}

int proc_unit_from_cgroup(const char *cgroup, char **ret_unit, char **ret_app_id)
{
        const char *end;
        char *unit = NULL, *app_id = NULL;

        if (cgroup) {
                /* Walk components from the innermost out. */
                end = cgroup + strlen(cgroup);
                while (end > cgroup) {
                        const char *start = end, *name;
                        size_t n, stem;

                        while (start > cgroup && start[-1] != '/')
                                start--;
                        name = start;
                        n = (size_t)(end - start);
                        /* systemd's cgroup escaping prefixes some names with '_'. */
                        if (n > 1 && name[0] == '_') {
                                name++;
                                n--;
                        }
                        if (has_suffix(name, n, ".service", &stem) || has_suffix(name, n, ".scope", &stem)) {
                                unit = strndup(name, n);
                                if (!unit)
                                        abort();
                                app_id = app_id_from_unit(name, n);
                                break;
                        }
                        end = start;
                        while (end > cgroup && end[-1] == '/')
                                end--;
                }
        }

        if (ret_unit)
                *ret_unit = unit;
        else
                free(unit);
        if (ret_app_id)
                *ret_app_id = app_id;
        else
                free(app_id);
        return 0;
}

int proc_statm_parse(const char *buf, size_t len, uint64_t *ret_resident, uint64_t *ret_shared)
{
        uint64_t v[7];
        const char *p, *end;
        size_t i;

        if (!buf || !ret_resident || !ret_shared)
                return -EINVAL;
        end = buf + len;
        if (end > buf && end[-1] == '\n')
                end--;
        /* "size resident shared text lib data dt", pages, single spaces. */
        for (p = buf, i = 0; i < ELEMENTSOF(v); i++) {
                const char *q = p;

                while (q < end && is_digit(*q))
                        q++;
                if (safe_atou64_n(p, (size_t)(q - p), &v[i]) < 0)
                        return -EBADMSG;
                if (i + 1 < ELEMENTSOF(v)) {
                        if (q >= end || *q != ' ')
                                return -EBADMSG;
                        q++;
                }
                p = q;
        }
        if (p != end)
                return -EBADMSG;
        *ret_resident = v[1];
        *ret_shared = v[2];
        return 0;
}
