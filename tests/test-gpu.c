/* SPDX-License-Identifier: MIT */
/*
 * DRM fdinfo parsing and the /proc walk. This machine has no GPU: the fdinfo
 * fixtures are written from the documented format (fixtures/gpu/README);
 * the /proc walk also runs once on the real /proc, where it must find nothing.
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "gpu.h"
#include "macro.h"
#include "test.h"

#define KiB UINT64_C(1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)

static int open_fixture(const char *sub)
{
        char path[4096];
        int fd;

        snprintf(path, sizeof(path), "%s/gpu/%s", FIXTURES_DIR, sub);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        return fd;
}

static int parse_str(const char *s, GpuClient *ret)
{
        return gpu_fdinfo_parse(s, strlen(s), ret);
}

static void test_parse_drivers(void)
{
        static const struct {
                const char *file, *driver, *pdev;
                uint64_t client_id, system_bytes;
        } t[] = {
                /* system0 resident; stolen-system0 (8 MiB) excluded */
                {"i915-tgl.txt", "i915", "0000:00:02.0", 7, 151556 * KiB},
                {"i915-tgl-client8.txt", "i915", "0000:00:02.0", 8, 40964 * KiB},
                /* no memory keys at all */
                {"i915-nomem.txt", "i915", "0000:00:02.0", 19, 0},
                /* gtt + cpu resident; vram and the doorbell aperture excluded */
                {"amdgpu-apu.txt", "amdgpu", "0000:c4:00.0", 412, 24580 * KiB},
                /* only legacy drm-memory-*: gtt + cpu */
                {"amdgpu-apu-legacy.txt", "amdgpu", "0000:05:00.0", 57, 16412 * KiB},
                {"amdgpu-dgpu.txt", "amdgpu", "0000:03:00.0", 412, 2 * MiB},
                /* system + gtt; stolen and drm-total-cycles-* are not memory */
                {"xe-lnl.txt", "xe", "0000:00:02.0", 103, 12 * MiB + 301140 * KiB},
                /* no drm-pdev (platform device) */
                {"msm.txt", "msm", "", 24, 73212 * KiB},
        };
        _cleanup_close_ int dir = open_fixture("fdinfo");

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char buf[16384];
                GpuClient c;
                ssize_t n = read_file_at(dir, t[i].file, buf, sizeof(buf));

                fprintf(stderr, "  %s\n", t[i].file);
                ASSERT_OK(n);
                ASSERT_OK(gpu_fdinfo_parse(buf, (size_t)n, &c));
                ASSERT_TRUE(c.is_drm);
                ASSERT_STREQ(c.driver, t[i].driver);
                ASSERT_STREQ(c.pdev, t[i].pdev);
                ASSERT_EQ_U64(c.client_id, t[i].client_id);
                ASSERT_EQ_U64(c.system_bytes, t[i].system_bytes);
        }
}

static void test_parse_not_drm(void)
{
        _cleanup_close_ int dir = open_fixture("fdinfo");
        char buf[256];
        GpuClient c;
        ssize_t n;

        /* Real fdinfo of /dev/null from this machine. */
        n = read_file_at(dir, "devnull.txt", buf, sizeof(buf));
        ASSERT_OK(n);
        ASSERT_OK(gpu_fdinfo_parse(buf, (size_t)n, &c));
        ASSERT_FALSE(c.is_drm);
        ASSERT_EQ_U64(c.system_bytes, 0);

        ASSERT_OK(gpu_fdinfo_parse("", 0, &c));
        ASSERT_FALSE(c.is_drm);
        ASSERT_OK(gpu_fdinfo_parse(NULL, 0, &c));
        ASSERT_FALSE(c.is_drm);
}

static void test_parse_table(void)
{
        static const struct {
                const char *in;
                int ret;
                uint64_t bytes;
        } t[] = {
                /* units, blanks, line ends */
                {"drm-driver: x\ndrm-total-system0: 5\n", 0, 5},
                {"drm-driver:\tx\ndrm-total-system0:\t5 KiB\n", 0, 5 * KiB},
                {"drm-driver: x\ndrm-total-gtt: \t5 MiB  \n", 0, 5 * MiB},
                {"drm-driver: x\ndrm-total-gtt: 5 GiB", 0, 5 * GiB},
                {"drm-driver: x\ndrm-total-gtt: 5MiB", 0, 5 * MiB},
                {"drm-driver: x\ndrm-total-gtt: 17179869183 GiB", 0, 17179869183 * GiB},
                /* resident beats total beats drm-memory, region by region */
                {"drm-driver: x\ndrm-memory-gtt: 1\ndrm-total-gtt: 2\ndrm-resident-gtt: 3\n", 0, 3},
                {"drm-driver: x\ndrm-memory-gtt: 1\ndrm-total-gtt: 2\n", 0, 2},
                {"drm-driver: x\ndrm-resident-gtt: 3\ndrm-memory-cpu: 4\n", 0, 7},
                /* device memory and apertures excluded */
                {"drm-driver: x\ndrm-total-vram: 1\ndrm-total-vram1: 2\ndrm-total-local0: 4\n"
                 "drm-total-stolen: 8\ndrm-total-stolen-local0: 16\ndrm-total-gds: 32\n"
                 "drm-total-gws: 64\ndrm-total-oa: 128\ndrm-total-doorbell: 256\n"
                 "drm-total-mmioremap: 512\ndrm-total-memory: 1024\n",
                 0, 1024},
                /* not memory keys */
                {"drm-driver: x\ndrm-total-cycles-rcs: 99\ndrm-cycles-rcs: 9\n"
                 "drm-engine-capacity-vcs: 2\ndrm-maxfreq-gpu: 5 Hz\ndrm-shared-gtt: 7\n"
                 "drm-purgeable-gtt: 7\ndrm-active-gtt: 7\namd-requested-gtt: 7 KiB\n",
                 0, 0},
                /* lines that are not "key: value" are skipped */
                {"drm-driver: x\ndrm-resident-sys\ngarbage\n\n:\ndrm-total system0: 5\n", 0, 0},
                {"drm-driver: x\ndrm-resident-system0:\t60", 0, 60}, /* last line unterminated */
                /* hostile */
                {"drm-driver: x\ndrm-total-system0:\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-system0: \t \n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-system0: 12 Ki\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-system0: 12 kB\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-system0: 12 KiB extra\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-system0: KiB\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-system0: -5\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-system0: 0x10\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-system0: 18446744073709551616\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-system0: 18014398509481984 KiB\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-system0: 17179869184 GiB\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-a: 9223372036854775808\ndrm-total-b: 9223372036854775808\n",
                 -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-: 5\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-total-0123456789012345678901234567890123: 5\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-resident-gtt: 1\ndrm-resident-gtt: 1\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-driver: x\n", -EBADMSG, 0},
                {"drm-driver:\n", -EBADMSG, 0},
                {"drm-driver: i915 extra\n", -EBADMSG, 0},
                {"drm-driver: 0123456789012345678901234567890123456789\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-pdev: 0000:00:02.0\ndrm-pdev: 0000:00:02.0\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-client-id: 7\ndrm-client-id: 7\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-client-id: abc\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-client-id: 18446744073709551616\n", -EBADMSG, 0},
                {"drm-driver: x\ndrm-client-id:\n", -EBADMSG, 0},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                GpuClient c = {.system_bytes = 4242};
                int r = parse_str(t[i].in, &c);

                fprintf(stderr, "  case %zu -> %d\n", i, r);
                ASSERT_ERR(r, t[i].ret);
                ASSERT_EQ_U64(c.system_bytes, r == 0 ? t[i].bytes : 4242);
        }
}

static void test_parse_many_regions(void)
{
        char buf[2048];
        size_t n = 0;
        GpuClient c;

        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "drm-driver: x\n");
        for (int i = 0; i < 16; i++)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "drm-total-r%d: 1\n", i);
        ASSERT_OK(gpu_fdinfo_parse(buf, n, &c));
        ASSERT_EQ_U64(c.system_bytes, 16);

        /* More distinct regions than any driver prints. */
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "drm-total-r16: 1\n");
        ASSERT_ERR(gpu_fdinfo_parse(buf, n, &c), -EBADMSG);
}

static void test_parse_identity(void)
{
        GpuClient c;

        /* Memory keys without drm-driver: parses, but not a DRM client. */
        ASSERT_OK(parse_str("drm-total-system0: 5\n", &c));
        ASSERT_FALSE(c.is_drm);

        /* No drm-client-id: reported as 0. */
        ASSERT_OK(parse_str("drm-driver: v3d\ndrm-total-memory: 5\n", &c));
        ASSERT_TRUE(c.is_drm);
        ASSERT_EQ_U64(c.client_id, 0);
        ASSERT_STREQ(c.pdev, "");

        /* A driver name of 31 characters fits, with its NUL. */
        ASSERT_OK(parse_str("drm-driver: 0123456789012345678901234567890\n", &c));
        ASSERT_STREQ(c.driver, "0123456789012345678901234567890");

        /* A NUL inside a value is malformed. */
        ASSERT_ERR(gpu_fdinfo_parse("drm-driver: i9\0"
                                    "15\n",
                                    17, &c),
                   -EBADMSG);
}

static void test_parse_not_nul_terminated(void)
{
        const char buf[] = "drm-driver: i915\ndrm-client-id: 12\ndrm-resident-system0: 4 KiB"
                           "XYZ 99";
        size_t len = strlen(buf) - strlen("XYZ 99");
        GpuClient c;

        ASSERT_OK(gpu_fdinfo_parse(buf, len, &c));
        ASSERT_EQ_U64(c.system_bytes, 4 * KiB);
        /* Cut inside the unit: "4 Ki". */
        ASSERT_ERR(gpu_fdinfo_parse(buf, len - 1, &c), -EBADMSG);
        /* Cut inside the number of drm-client-id: "1". */
        ASSERT_OK(gpu_fdinfo_parse(buf, strlen("drm-driver: i915\ndrm-client-id: 1"), &c));
        ASSERT_EQ_U64(c.client_id, 1);
        /* Cut inside the driver name: "i9". */
        ASSERT_OK(gpu_fdinfo_parse(buf, strlen("drm-driver: i9"), &c));
        ASSERT_STREQ(c.driver, "i9");
}

static void test_uma_read(void)
{
        static const struct {
                const char *tree;
                int ret;
                uint64_t bytes;
        } t[] = {
                /* client 7 once, client 8 once across three fds in two processes */
                {"proc1", 0, 151556 * KiB + 40964 * KiB},
                {"proc2", -ENODATA, 0},
                {"proc3", -ENODATA, 0},
                /* same client id on two devices: two clients */
                {"proc4", 0, 24580 * KiB + 2 * MiB},
                {"proc5", 0, 12 * MiB + 301140 * KiB},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_close_ int fd = open_fixture(t[i].tree);
                uint64_t bytes = 4242;
                int r = gpu_uma_read_at(fd, &bytes);

                fprintf(stderr, "  %s -> %d, %" PRIu64 "\n", t[i].tree, r, bytes);
                ASSERT_ERR(r, t[i].ret);
                ASSERT_EQ_U64(bytes, r == 0 ? t[i].bytes : 4242);
        }
}

static void test_uma_read_real(void)
{
        _cleanup_close_ int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint64_t bytes = 0;
        struct stat st;
        int r;

        ASSERT_TRUE(procfd >= 0);
        r = gpu_uma_read_at(procfd, &bytes);
        fprintf(stderr, "  real /proc -> %d, %" PRIu64 " bytes\n", r, bytes);
        if (stat("/dev/dri", &st) < 0)
                ASSERT_ERR(r, -ENODATA); /* no GPU here: unknown, not zero */
        else
                ASSERT_TRUE(r == 0 || r == -ENODATA);
}

int main(void)
{
        log_set_max_level(LOG_DEBUG); /* show what the walker skips, and why */
        RUN(test_parse_drivers);
        RUN(test_parse_not_drm);
        RUN(test_parse_table);
        RUN(test_parse_many_regions);
        RUN(test_parse_identity);
        RUN(test_parse_not_nul_terminated);
        RUN(test_uma_read);
        RUN(test_uma_read_real);
        return 0;
}
