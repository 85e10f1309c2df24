/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2 helpers. Formats: proc(5) "/proc/pid/mountinfo" and
 * "/proc/pid/cgroup", Documentation/admin-guide/cgroup-v2.rst.
 *
 * Paths are handled lexically: symlinks are not resolved, and a ".." segment
 * is refused rather than interpreted.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cgroup-util.h"
#include "fileio.h"
#include "macro.h"

#define MOUNTINFO_MAX (16u * 1024 * 1024)

typedef struct Span {
        const char *p;
        size_t len;
} Span;

static bool span_is(Span s, const char *str)
{
        return s.len == strlen(str) && memcmp(s.p, str, s.len) == 0;
}

/* Next blank-separated field of [*p, end); false at the end of the line. */
static bool next_field(const char **p, const char *end, Span *ret)
{
        const char *s = *p;

        while (s < end && (*s == ' ' || *s == '\t'))
                s++;
        if (s >= end)
                return false;
        ret->p = s;
        while (s < end && *s != ' ' && *s != '\t')
                s++;
        ret->len = (size_t)(s - ret->p);
        *p = s;
        return true;
}

/* Decode the kernel's \ooo escapes (it escapes space, tab, newline, backslash). */
static int unoctal(Span s, char **ret)
{
        _cleanup_free_ char *out = xmalloc0(s.len + 1);
        size_t j = 0;

        for (size_t i = 0; i < s.len; i++) {
                unsigned v = 0;

                if (s.p[i] == 0)
                        return -EBADMSG;
                if (s.p[i] != '\\') {
                        out[j++] = s.p[i];
                        continue;
                }
                if (s.len - i < 4)
                        return -EBADMSG;
                for (size_t k = 1; k <= 3; k++) {
                        if (s.p[i + k] < '0' || s.p[i + k] > '7')
                                return -EBADMSG;
                        v = v * 8 + (unsigned)(s.p[i + k] - '0');
                }
                if (v == 0 || v > 255)
                        return -EBADMSG;
                out[j++] = (char)v;
                i += 3;
        }
        out[j] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

/* Does the comma-separated option list contain `opt`? */
static bool span_has_option(Span opts, const char *opt)
{
        size_t olen = strlen(opt);
        const char *p = opts.p, *end = opts.p + opts.len;

        while (p < end) {
                const char *c = memchr(p, ',', (size_t)(end - p));
                size_t n = (size_t)((c ? c : end) - p);
                if (n == olen && memcmp(p, opt, n) == 0)
                        return true;
                p += n + 1;
        }
        return false;
}

/*
 * One mountinfo line: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw".
 * Fields 1-6 are fixed, then zero or more optional fields, then "-", then
 * the filesystem type, the source and the super options. Returns 1 and the
 * raw mount point for a `fstype` mount (whose super options contain
 * `option`, unless NULL), 0 for another one, -EBADMSG if malformed.
 */
static int mountinfo_line(const char *p, const char *end, const char *fstype, const char *option, Span *ret_mnt)
{
        Span f, mnt = {}, src, opts;
        unsigned n = 0;

        for (;;) {
                if (!next_field(&p, end, &f))
                        return -EBADMSG; /* no separator */
                n++;
                if (n == 5)
                        mnt = f;
                if (n > 6 && span_is(f, "-"))
                        break;
        }
        if (!next_field(&p, end, &f))
                return -EBADMSG; /* no filesystem type */
        if (!span_is(f, fstype))
                return 0;
        if (option) {
                if (!next_field(&p, end, &src) || !next_field(&p, end, &opts))
                        return 0;
                if (!span_has_option(opts, option))
                        return 0;
        }
        *ret_mnt = mnt;
        return 1;
}

static int mount_parse(const char *mountinfo, size_t len, const char *fstype, const char *option, char **ret_path)
{
        const char *p, *end;

        if (!mountinfo) {
                if (len > 0)
                        return -EINVAL;
                mountinfo = "";
        }
        p = mountinfo;
        end = mountinfo + len;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                char *path;
                Span mnt;
                int r;

                if (!eol)
                        eol = end;
                if (eol == p) {
                        p++;
                        continue;
                }
                r = mountinfo_line(p, eol, fstype, option, &mnt);
                if (r < 0)
                        return r;
                if (r > 0) {
                        r = unoctal(mnt, &path);
                        if (r < 0)
                                return r;
                        if (path[0] != '/') {
                                free(path);
                                return -EBADMSG;
                        }
                        *ret_path = path;
                        return 0;
                }
                p = eol + 1;
        }
        return -ENOENT;
}

int cg_v2_mount_parse(const char *mountinfo, size_t len, char **ret_path)
{
        return mount_parse(mountinfo, len, "cgroup2", NULL, ret_path);
}

int cg_v1_mount_parse(const char *mountinfo, size_t len, const char *controller, char **ret_path)
{
        return mount_parse(mountinfo, len, "cgroup", controller, ret_path);
}

int cg_v1_mount_find_at(int procfd, const char *controller, char **ret_path)
{
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_full_file_at(procfd, "self/mountinfo", MOUNTINFO_MAX, &buf, &size);
        if (r < 0)
                return r;
        return cg_v1_mount_parse(buf, size, controller, ret_path);
}

int cg_v2_mount_find_at(int procfd, char **ret_path)
{
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_full_file_at(procfd, "self/mountinfo", MOUNTINFO_MAX, &buf, &size);
        if (r < 0)
                return r;
        return cg_v2_mount_parse(buf, size, ret_path);
}

/*
 * Append the segments of `path` to out (at *pos) as "/seg/seg", dropping
 * empty and "." segments. -EINVAL for a ".." segment.
 */
static int append_normalised(char *out, size_t *pos, const char *path)
{
        const char *p = path;

        while (*p) {
                size_t n = strcspn(p, "/");

                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return -EINVAL;
                if (n > 0 && !(n == 1 && p[0] == '.')) {
                        out[(*pos)++] = '/';
                        memcpy(out + *pos, p, n);
                        *pos += n;
                }
                p += n;
                if (*p == '/')
                        p++;
        }
        out[*pos] = 0;
        return 0;
}

int cg_resolve_scope(const char *v2_mount, const char *arg, char **ret_abs)
{
        _cleanup_free_ char *mnt = NULL, *res = NULL;
        size_t mlen = 0, rlen = 0;
        int r;

        if (!v2_mount || v2_mount[0] != '/' || !arg || arg[0] == 0)
                return -EINVAL;

        mnt = xmalloc0(strlen(v2_mount) + 1);
        r = append_normalised(mnt, &mlen, v2_mount); /* "" for "/" */
        if (r < 0)
                return r;

        res = xmalloc0(strlen(v2_mount) + strlen(arg) + 2);
        if (arg[0] == '/') {
                r = append_normalised(res, &rlen, arg);
                if (r < 0)
                        return r;
                if (rlen < mlen || memcmp(res, mnt, mlen) != 0 || (rlen > mlen && res[mlen] != '/')) {
                        /* Not a path inside the mount: a cgroup path as /proc/PID/cgroup
                         * shows it ("/user.slice/..."), relative to the mount's root. */
                        memcpy(res, mnt, mlen + 1);
                        rlen = mlen;
                        r = append_normalised(res, &rlen, arg);
                        if (r < 0)
                                return r;
                }
        } else {
                memcpy(res, mnt, mlen + 1);
                rlen = mlen;
                r = append_normalised(res, &rlen, arg);
                if (r < 0)
                        return r;
        }
        if (rlen == 0)
                strcpy(res, "/"); /* cgroup2 mounted at "/" and the root asked for */

        *ret_abs = TAKE_PTR(res);
        return 0;
}

/* True if the absolute path has a ".." segment. */
static bool has_dotdot(Span s)
{
        for (size_t i = 0; i + 2 <= s.len; i++)
                if (s.p[i] == '.' && s.p[i + 1] == '.' && (i == 0 || s.p[i - 1] == '/') &&
                    (i + 2 == s.len || s.p[i + 2] == '/'))
                        return true;
        return false;
}

/*
 * Lines are "hierarchy-ID:controller-list:cgroup-path"; v2 is "0::PATH". The
 * path may itself contain ':'. A path with ".." lies outside our cgroup
 * namespace (proc(5)) and cannot be reached through our mount: -EXDEV.
 */
int cg_v2_path_parse(const char *buf, size_t len, char **ret_path)
{
        const char *p, *end;
        Span path = {};
        bool found = false;

        if (!buf) {
                if (len > 0)
                        return -EINVAL;
                buf = "";
        }
        p = buf;
        end = buf + len;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                const char *c1, *c2;

                if (!eol)
                        eol = end;
                if (eol == p) {
                        p++;
                        continue;
                }
                c1 = memchr(p, ':', (size_t)(eol - p));
                if (!c1 || c1 == p)
                        return -EBADMSG;
                for (const char *d = p; d < c1; d++)
                        if (*d < '0' || *d > '9')
                                return -EBADMSG;
                c2 = memchr(c1 + 1, ':', (size_t)(eol - c1 - 1));
                if (!c2)
                        return -EBADMSG;
                if (c1 - p == 1 && p[0] == '0') {
                        if (c2 != c1 + 1 || found)
                                return -EBADMSG;
                        found = true;
                        path = (Span){c2 + 1, (size_t)(eol - c2 - 1)};
                }
                p = eol + 1;
        }
        if (!found)
                return -ENOENT;
        if (path.len == 0 || path.p[0] != '/' || memchr(path.p, 0, path.len))
                return -EBADMSG;
        if (has_dotdot(path))
                return -EXDEV;

        *ret_path = xmalloc0(path.len + 1);
        memcpy(*ret_path, path.p, path.len);
        return 0;
}
