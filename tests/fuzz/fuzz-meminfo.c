/* SPDX-License-Identifier: MIT */
/*
 * meminfo_parse() and vmstat_parse() on arbitrary bytes. Invariants are
 * checked with abort() so that they count as crashes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meminfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_meminfo(const char *buf, size_t size)
{
        MemInfo m, before;
        int r;

        memset(&m, 0x5a, sizeof(m));
        before = m;
        r = meminfo_parse(buf, size, &m);
        if (r < 0) {
                if (r != -EBADMSG || memcmp(&m, &before, sizeof(m)) != 0)
                        abort();
                return;
        }
        if (r != 0)
                abort();
        if (m.mem_available > m.mem_total || m.swap_free > m.swap_total)
                abort();
        /* kB converted to bytes */
        if ((m.mem_total | m.mem_available | m.swap_total | m.swap_free) % 1024 != 0)
                abort();
}

static void fuzz_vmstat(const char *buf, size_t size)
{
        VmStat v, before;
        int r;

        memset(&v, 0x5a, sizeof(v));
        before = v;
        r = vmstat_parse(buf, size, &v);
        if (r < 0) {
                if (r != -EBADMSG || memcmp(&v, &before, sizeof(v)) != 0)
                        abort();
                return;
        }
        if (r != 0)
                abort();
        if (!v.has_oom_kill && v.oom_kill != 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_meminfo((const char *)data, size);
        fuzz_vmstat((const char *)data, size);
        return 0;
}
