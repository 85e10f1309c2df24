/* SPDX-License-Identifier: MIT */
/*
 * Showing the ranked candidates: `memguardd --list-candidates [--json]` and
 * the top few logged with every decision.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "planner.h"
#include "proc.h"

/*
 * Print the ranked apps of `plan` (made from `table`): a readable table, or
 * with `json` an array of objects with pid, comm, exe, uid, unit, rss_bytes,
 * swap_bytes, priority, protected and reason (plus processes,
 * reclaim_bytes, foreground). Returns 0 or -errno (-EIO on a write error).
 */
int candidates_print(const Plan *plan, const ProcTable *table, bool json, FILE *out);

/* Log the `max` most expendable candidates, one structured line each. */
void candidates_log(const Plan *plan, const ProcTable *table, size_t max);
