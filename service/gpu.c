/* SPDX-License-Identifier: MIT */
/*
 * Integrated-GPU memory from DRM fdinfo (Documentation/gpu/drm-usage-stats.rst).
 *
 * Which bytes count as system_bytes:
 *
 * An integrated GPU keeps its buffers in ordinary system RAM, in regions
 * named after the driver's placement: "system0" (i915), "system" and "gtt"
 * (xe), "gtt" and "cpu" (amdgpu), "memory" (msm, panfrost, v3d, ...). These
 * count. The following are device memory, or memory the OS never manages,
 * and are excluded:
 *   - names starting with "vram" or "local": on-device memory (amdgpu and xe
 *     "vram*", i915 "local0"); on an APU, amdgpu's "vram" is the BIOS
 *     carve-out, which is not part of MemTotal either;
 *   - names starting with "stolen" (i915 "stolen-system0", xe "stolen"):
 *     firmware-reserved memory, likewise outside MemTotal;
 *   - amdgpu's on-chip apertures "gds", "gws", "oa", "doorbell", "mmioremap".
 * Any other region name counts as system memory.
 *
 * Per region the most exact key wins: drm-resident-<region>, else
 * drm-total-<region>, else the legacy drm-memory-<region>. "drm-total-cycles-"
 * is an engine counter (xe), not a region, and is ignored.
 *
 * Clients are told apart by (drm-driver, drm-pdev, drm-client-id): fds that
 * were dup()ed, inherited or passed share one client and are counted once.
 * A client without drm-client-id (id 0, which the kernel never hands out)
 * cannot be matched and is counted once per fd. Buffers shared between
 * clients (drm-shared-*) are counted in each client that holds them, so the
 * sum can exceed what the GPU really holds.
 *
 * A DRM client that prints no memory key at all (kernels before the memory
 * keys, or drivers without them) says nothing about memory: when no client
 * printed one, gpu_uma_read_at() answers -ENODATA, not 0. A client whose
 * fdinfo does not parse is skipped (debug log), like one that vanished.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "gpu.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"

#define GPU_REGIONS_MAX 16   /* drivers print at most 8 today */
#define GPU_CLIENTS_MAX 256  /* distinct clients remembered for dedup */
#define GPU_FDINFO_MAX 16384 /* a busy xe fdinfo is about 2 KiB */

typedef enum MemKind {
        MEM_RESIDENT, /* drm-resident-<region> */
        MEM_TOTAL,    /* drm-total-<region> */
        MEM_LEGACY,   /* drm-memory-<region> */
        _MEM_KIND_MAX,
} MemKind;

typedef struct Region {
        char name[32];
        uint64_t bytes[_MEM_KIND_MAX];
        unsigned seen; /* bit per MemKind */
} Region;

typedef struct Fdinfo {
        GpuClient client;
        bool have_pdev, have_client_id;
        Region regions[GPU_REGIONS_MAX];
        size_t n_regions;
} Fdinfo;

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
        size_t n = strlen(prefix);
        return len >= n && memcmp(s, prefix, n) == 0;
}

static bool key_is(const char *key, size_t len, const char *name)
{
        return len == strlen(name) && memcmp(key, name, len) == 0;
}

static bool region_is_device_memory(const char *name)
{
        static const char *const prefixes[] = {"vram", "local", "stolen"};
        static const char *const apertures[] = {"gds", "gws", "oa", "doorbell", "mmioremap"};

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (has_prefix(name, strlen(name), prefixes[i]))
                        return true;
        for (size_t i = 0; i < ELEMENTSOF(apertures); i++)
                if (strcmp(name, apertures[i]) == 0)
                        return true;
        return false;
}

/* A <str> value: non-empty, no blanks, fits dst with its NUL. */
static int parse_str(const char *v, size_t len, char *dst, size_t size)
{
        if (len == 0 || len >= size || memchr(v, ' ', len) || memchr(v, '\t', len) || memchr(v, 0, len))
                return -EBADMSG;
        memcpy(dst, v, len);
        dst[len] = 0;
        return 0;
}

/* "<uint>", "<uint> KiB", "<uint> MiB" or "<uint> GiB", in bytes. */
static int parse_size(const char *v, size_t len, uint64_t *ret)
{
        static const struct {
                const char *suffix;
                unsigned shift;
        } units[] = {{"KiB", 10}, {"MiB", 20}, {"GiB", 30}};
        const char *end = v + len, *u;
        size_t digits = 0;
        unsigned shift = 0;
        uint64_t n;

        while (digits < len && v[digits] >= '0' && v[digits] <= '9')
                digits++;
        if (safe_atou64_n(v, digits, &n) < 0)
                return -EBADMSG;
        u = skip_blanks(v + digits, end);
        if (u < end) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(units); i++)
                        if (key_is(u, (size_t)(end - u), units[i].suffix))
                                break;
                if (i == ELEMENTSOF(units))
                        return -EBADMSG;
                shift = units[i].shift;
        }
        if (shift > 0 && n > (UINT64_MAX >> shift))
                return -EBADMSG;
        *ret = n << shift;
        return 0;
}

static int add_region_value(Fdinfo *f, MemKind kind, const char *name, size_t name_len, uint64_t bytes)
{
        Region *r = NULL;

        if (name_len == 0 || name_len >= sizeof(r->name))
                return -EBADMSG;
        for (size_t i = 0; i < f->n_regions; i++)
                if (key_is(name, name_len, f->regions[i].name)) {
                        r = &f->regions[i];
                        break;
                }
        if (!r) {
                if (f->n_regions >= GPU_REGIONS_MAX)
                        return -EBADMSG;
                r = &f->regions[f->n_regions++];
                memcpy(r->name, name, name_len);
                r->name[name_len] = 0;
        }
        if (r->seen & (1u << kind))
                return -EBADMSG; /* the same key twice */
        r->seen |= 1u << kind;
        r->bytes[kind] = bytes;
        return 0;
}

static int parse_line(Fdinfo *f, const char *key, size_t klen, const char *v, size_t vlen)
{
        static const struct {
                const char *prefix;
                MemKind kind;
        } mem_keys[] = {
                {"drm-resident-", MEM_RESIDENT},
                {"drm-total-", MEM_TOTAL},
                {"drm-memory-", MEM_LEGACY},
        };

        if (key_is(key, klen, "drm-driver")) {
                if (f->client.is_drm)
                        return -EBADMSG;
                f->client.is_drm = true;
                return parse_str(v, vlen, f->client.driver, sizeof(f->client.driver));
        }
        if (key_is(key, klen, "drm-pdev")) {
                if (f->have_pdev)
                        return -EBADMSG;
                f->have_pdev = true;
                return parse_str(v, vlen, f->client.pdev, sizeof(f->client.pdev));
        }
        if (key_is(key, klen, "drm-client-id")) {
                if (f->have_client_id)
                        return -EBADMSG;
                f->have_client_id = true;
                return safe_atou64_n(v, vlen, &f->client.client_id) < 0 ? -EBADMSG : 0;
        }
        if (has_prefix(key, klen, "drm-total-cycles-"))
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(mem_keys); i++) {
                size_t plen = strlen(mem_keys[i].prefix);
                uint64_t bytes;

                if (!has_prefix(key, klen, mem_keys[i].prefix))
                        continue;
                if (parse_size(v, vlen, &bytes) < 0)
                        return -EBADMSG;
                return add_region_value(f, mem_keys[i].kind, key + plen, klen - plen, bytes);
        }
        return 0; /* engine times, driver-specific keys, pos/flags/...: not ours */
}

/* Like gpu_fdinfo_parse(), and also says whether any memory key was present. */
static int fdinfo_parse(const char *buf, size_t len, GpuClient *ret, bool *ret_has_memory)
{
        Fdinfo f = {};
        const char *p, *end;
        uint64_t sum = 0;

        if (!buf) {
                if (len > 0)
                        return -EINVAL;
                buf = "";
        }
        p = buf;
        end = buf + len;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                const char *colon, *v, *vend;
                int r;

                if (!eol)
                        eol = end;
                colon = memchr(p, ':', (size_t)(eol - p));

                if (colon && colon > p && !memchr(p, ' ', (size_t)(colon - p)) &&
                    !memchr(p, '\t', (size_t)(colon - p))) {
                        v = skip_blanks(colon + 1, eol);
                        vend = eol;
                        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
                                vend--;
                        r = parse_line(&f, p, (size_t)(colon - p), v, (size_t)(vend - v));
                        if (r < 0)
                                return r;
                }
                /* Lines without a "key:" (truncated, garbage) carry nothing for us. */
                p = eol + 1;
        }

        for (size_t i = 0; i < f.n_regions; i++) {
                const Region *r = &f.regions[i];
                uint64_t v;

                if (region_is_device_memory(r->name))
                        continue;
                if (r->seen & (1u << MEM_RESIDENT))
                        v = r->bytes[MEM_RESIDENT];
                else if (r->seen & (1u << MEM_TOTAL))
                        v = r->bytes[MEM_TOTAL];
                else
                        v = r->bytes[MEM_LEGACY];
                if (__builtin_add_overflow(sum, v, &sum))
                        return -EBADMSG;
        }
        f.client.system_bytes = sum;

        *ret = f.client;
        if (ret_has_memory)
                *ret_has_memory = f.n_regions > 0;
        return 0;
}

int gpu_fdinfo_parse(const char *buf, size_t len, GpuClient *ret)
{
        return fdinfo_parse(buf, len, ret, NULL);
}

/*
 * Directory iteration with getdents64() into a buffer of our own: glibc's
 * DIR allocates, and this walk must not.
 */
typedef struct DirIter {
        int fd;
        size_t pos, len;
        _Alignas(struct dirent64) char buf[4096];
} DirIter;

/* The next entry's name; NULL at the end (*ret_error 0) or on error (-errno). */
static const char *dir_next(DirIter *it, int *ret_error)
{
        for (;;) {
                const struct dirent64 *de;

                if (it->pos >= it->len) {
                        ssize_t n = getdents64(it->fd, it->buf, sizeof(it->buf));
                        if (n <= 0) {
                                *ret_error = n < 0 ? -errno : 0;
                                return NULL;
                        }
                        it->pos = 0;
                        it->len = (size_t)n;
                }
                de = (const struct dirent64 *)(it->buf + it->pos);
                it->pos += de->d_reclen;
                return de->d_name;
        }
}

typedef struct ClientKey {
        char driver[32];
        char pdev[32];
        uint64_t client_id;
} ClientKey;

typedef struct Scan {
        ClientKey seen[GPU_CLIENTS_MAX];
        size_t n_seen;
        bool found;
        uint64_t bytes;
        DirIter fds; /* the current process's fd/ */
        char buf[GPU_FDINFO_MAX];
} Scan;

static bool is_number(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* true if this client was counted already; otherwise remembers it. */
static bool client_seen(Scan *s, const GpuClient *c)
{
        if (c->client_id == 0)
                return false;
        for (size_t i = 0; i < s->n_seen; i++)
                if (s->seen[i].client_id == c->client_id && strcmp(s->seen[i].pdev, c->pdev) == 0 &&
                    strcmp(s->seen[i].driver, c->driver) == 0)
                        return true;
        if (s->n_seen < GPU_CLIENTS_MAX) {
                ClientKey *k = &s->seen[s->n_seen++];
                memcpy(k->driver, c->driver, sizeof(k->driver));
                memcpy(k->pdev, c->pdev, sizeof(k->pdev));
                k->client_id = c->client_id;
        } else
                log_debug("gpu: more than %d DRM clients, later duplicates may count twice",
                          GPU_CLIENTS_MAX);
        return false;
}

static int scan_fd(Scan *s, int pidfd, const char *pid, const char *fd)
{
        char path[64];
        GpuClient c;
        bool has_memory;
        ssize_t n;
        int r;

        snprintf(path, sizeof(path), "fdinfo/%s", fd);
        n = read_file_at(pidfd, path, s->buf, sizeof(s->buf));
        if (n < 0) {
                /* ENOENT/ESRCH: the fd or process went away meanwhile. */
                log_debug_errno((int)n, "gpu: cannot read %s/%s, ignoring: %m", pid, path);
                return 0;
        }
        r = fdinfo_parse(s->buf, (size_t)n, &c, &has_memory);
        if (r < 0) {
                log_debug_errno(r, "gpu: cannot parse %s/%s, ignoring: %m", pid, path);
                return 0;
        }
        if (!c.is_drm || !has_memory || client_seen(s, &c))
                return 0;
        s->found = true;
        if (__builtin_add_overflow(s->bytes, c.system_bytes, &s->bytes))
                return -ERANGE;
        return 0;
}

static int scan_process(Scan *s, int procfd, const char *pid)
{
        _cleanup_close_ int pidfd = -1, fdfd = -1;
        const char *name;
        int error;

        pidfd = open_dir_at(procfd, pid);
        fdfd = pidfd >= 0 ? open_dir_at(pidfd, "fd") : pidfd;
        if (fdfd < 0) {
                if (fdfd != -ENOENT && fdfd != -ESRCH && fdfd != -EACCES && fdfd != -EPERM)
                        return fdfd;
                /* The process exited, or belongs to a user we may not look at. */
                log_debug_errno(fdfd, "gpu: cannot open %s/fd, ignoring: %m", pid);
                return 0;
        }

        s->fds.fd = fdfd;
        s->fds.pos = s->fds.len = 0;
        while ((name = dir_next(&s->fds, &error))) {
                char target[64];
                ssize_t n;
                int r;

                if (!is_number(name) || strlen(name) > 16)
                        continue;
                n = readlinkat(fdfd, name, target, sizeof(target) - 1);
                if (n < 0) {
                        r = -errno;
                        if (r == -EACCES || r == -EPERM) {
                                /* Every other fd of this process will say the same. */
                                log_debug_errno(r, "gpu: cannot read links in %s/fd, ignoring: %m", pid);
                                return 0;
                        }
                        log_debug_errno(r, "gpu: cannot read link %s/fd/%s, ignoring: %m", pid, name);
                        continue;
                }
                target[n] = 0;
                if (strncmp(target, "/dev/dri/", 9) != 0)
                        continue;
                r = scan_fd(s, pidfd, pid, name);
                if (r < 0)
                        return r;
        }
        /* A process that exits while we list its fds is not an error. */
        if (error < 0 && error != -ENOENT && error != -ESRCH)
                return error;
        return 0;
}

int gpu_uma_read_at(int procfd, uint64_t *ret_bytes)
{
        _cleanup_close_ int fd = -1;
        Scan s = {}; /* about 43 KiB of stack; nothing is allocated */
        DirIter procs = {};
        const char *name;
        int error;

        fd = open_dir_at(procfd, ".");
        if (fd < 0)
                return fd;

        procs.fd = fd;
        while ((name = dir_next(&procs, &error))) {
                int r;

                if (!is_number(name) || strlen(name) > 16)
                        continue;
                r = scan_process(&s, fd, name);
                if (r < 0)
                        return r;
        }
        if (error < 0)
                return error;

        if (!s.found)
                return -ENODATA;
        *ret_bytes = s.bytes;
        return 0;
}
