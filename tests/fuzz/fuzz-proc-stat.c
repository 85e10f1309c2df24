/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the process table's parsers with the same bytes: /proc/PID/stat,
 * /proc/PID/status, statm, smaps_rollup's Pss, and (on a NUL-terminated copy)
 * the unit and app id of a cgroup path. Crashes, sanitizer reports and
 * broken invariants (asserted below) are findings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *buf = (const char *)data;
        char *copy, *unit = NULL, *app_id = NULL;
        uint64_t a, b;
        ProcStatus status;
        ProcStat st;

        if (proc_stat_parse(buf, size, &st) == 0) {
                /* comm always ends in the buffer, and state is a letter. */
                if (memchr(st.comm, 0, sizeof(st.comm)) == NULL)
                        abort();
                if (!((st.state >= 'a' && st.state <= 'z') || (st.state >= 'A' && st.state <= 'Z')))
                        abort();
        }
        (void)proc_status_parse(buf, size, &status);
        (void)proc_statm_parse(buf, size, &a, &b);
        (void)proc_smaps_rollup_parse_pss(buf, size, &a);

        copy = malloc(size + 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        copy[size] = 0;
        if (proc_unit_from_cgroup(copy, &unit, &app_id) != 0)
                abort();
        /* An app id only ever comes with a unit, and is never empty. */
        if ((app_id && !unit) || (app_id && !*app_id))
                abort();
        free(unit);
        free(app_id);
        free(copy);
        return 0;
}
