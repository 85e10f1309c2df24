/* SPDX-License-Identifier: MIT */
/*
 * Candidates as ListCandidates returns them, and resolving a command's
 * TARGET (a PID or an app name) against them. Pure: no bus, no /proc.
 *
 * Contract: 0 on success, -errno on failure; outputs written only on success.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Candidate {
        uint32_t pid;
        uint32_t uid;
        char *comm;
        char *exe;
        char *unit;
        char *app;
        uint64_t rss_bytes;
        uint64_t swap_bytes;
        uint32_t priority;
        bool protected_;
        char *reason;
} Candidate;

void candidates_free(Candidate *c, size_t n);

/*
 * Parse a TARGET that is all decimal digits as a PID: 1 and *ret set; 0 if
 * it is not all digits (an app name); -EINVAL for 0, -ERANGE beyond
 * UINT32_MAX or the kernel's PID_MAX_LIMIT (4194304).
 */
int target_parse_pid(const char *arg, uint32_t *ret);

/*
 * Whether two candidates belong to the same app: the same unit if either
 * has one, else the same app id if either has one, else the same PID (a
 * process without unit or app id is an app of its own).
 */
bool candidate_same_app(const Candidate *a, const Candidate *b);

/*
 * Find the candidates whose app id, unit or comm equals `name` exactly.
 * If they all belong to one app (candidate_same_app), *ret_index is the
 * first of them (the most expendable). Otherwise, or if there are none,
 * *ret_matches (allocated, may be NULL when there are none) and
 * *ret_n_matches list every match, and the return value is -ENOTUNIQ
 * (several apps) or -ENOENT (no match).
 */
int target_match(const Candidate *c, size_t n, const char *name, size_t *ret_index, size_t **ret_matches,
                 size_t *ret_n_matches);
