/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <json-c/json.h>
#include <string.h>

#include "candidates.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"

static json_object *candidate_to_json(const PlanCandidate *c)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "pid", json_object_new_int64(c->pid));
        json_object_object_add(o, "comm", json_object_new_string(c->comm));
        json_object_object_add(o, "exe", c->exe ? json_object_new_string(c->exe) : NULL);
        json_object_object_add(o, "uid", json_object_new_int64(c->uid));
        json_object_object_add(o, "unit", c->unit ? json_object_new_string(c->unit) : NULL);
        json_object_object_add(o, "rss_bytes", json_object_new_uint64(c->rss_bytes));
        json_object_object_add(o, "swap_bytes", json_object_new_uint64(c->swap_bytes));
        json_object_object_add(o, "reclaim_bytes", json_object_new_uint64(c->reclaim_bytes));
        json_object_object_add(o, "processes", json_object_new_uint64(c->n_processes));
        json_object_object_add(o, "priority", json_object_new_int(c->priority));
        json_object_object_add(o, "protected", json_object_new_boolean(c->protected));
        json_object_object_add(o, "foreground", json_object_new_boolean(c->foreground));
        json_object_object_add(o, "reason", json_object_new_string(c->reason ? c->reason : ""));
        return o;
}

/* Human-readable size: "812M", "1.4G", "0". */
static const char *format_bytes(char *buf, size_t size, uint64_t b)
{
        if (b >= (UINT64_C(10) << 30))
                snprintf(buf, size, "%" PRIu64 "G", b >> 30);
        else if (b >= (UINT64_C(1) << 30))
                snprintf(buf, size, "%.1fG", (double)b / (1 << 30));
        else if (b >= (UINT64_C(1) << 20))
                snprintf(buf, size, "%" PRIu64 "M", b >> 20);
        else if (b > 0)
                snprintf(buf, size, "%" PRIu64 "K", (b + 1023) >> 10);
        else
                snprintf(buf, size, "0");
        return buf;
}

/* Names come from /proc and are attacker-controlled: no control characters on a terminal. */
static void print_sanitized(FILE *out, const char *s, int width)
{
        int n = 0;

        for (; s && *s && (width <= 0 || n < width); s++, n++)
                fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
        for (; n < width; n++)
                fputc(' ', out);
}

int candidates_print(const Plan *plan, const ProcTable *table, bool json, FILE *out)
{
        if (json) {
                _cleanup_json_ json_object *arr = json_object_new_array();

                for (size_t i = 0; i < plan->n_apps; i++) {
                        PlanCandidate c;
                        if (plan_get_candidate(plan, table, i, &c) < 0)
                                continue;
                        json_object_array_add(arr, candidate_to_json(&c));
                }
                fputs(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE),
                      out);
                fputc('\n', out);
        } else {
                fprintf(out, "%-4s %7s %6s %4s %-4s %6s %6s  %-16s %-40s %s\n", "RANK", "PID", "UID", "PRIO",
                        "PROT", "RSS", "SWAP", "COMM", "UNIT/EXE", "REASON");
                for (size_t i = 0; i < plan->n_apps; i++) {
                        char rss[16], swap[16];
                        PlanCandidate c;

                        if (plan_get_candidate(plan, table, i, &c) < 0)
                                continue;
                        fprintf(out, "%-4zu %7d %6u %4d %-4s %6s %6s  ", i + 1, (int)c.pid, (unsigned)c.uid,
                                c.priority, c.protected ? "yes" : "no",
                                format_bytes(rss, sizeof(rss), c.rss_bytes),
                                format_bytes(swap, sizeof(swap), c.swap_bytes));
                        print_sanitized(out, c.comm, 16);
                        fputc(' ', out);
                        print_sanitized(out, c.unit ? c.unit : c.exe ? c.exe : "-", 40);
                        fputc(' ', out);
                        print_sanitized(out, c.reason, 0);
                        if (c.n_processes > 1)
                                fprintf(out, " (%zu processes)", c.n_processes);
                        if (c.foreground)
                                fputs(" [foreground]", out);
                        fputc('\n', out);
                }
        }
        fflush(out);
        return ferror(out) ? -EIO : 0;
}

void candidates_log(const Plan *plan, const ProcTable *table, size_t max)
{
        for (size_t i = 0; i < plan->n_apps && i < max; i++) {
                char f_rank[32], f_pid[32], f_comm[64], f_prio[32], f_reclaim[48], f_reason[PLAN_REASON_MAX + 16],
                        f_unit[160];
                PlanCandidate c;

                if (plan_get_candidate(plan, table, i, &c) < 0)
                        continue;
                snprintf(f_rank, sizeof(f_rank), "rank=%zu", i + 1);
                snprintf(f_pid, sizeof(f_pid), "pid=%d", (int)c.pid);
                snprintf(f_comm, sizeof(f_comm), "comm=%s", c.comm);
                snprintf(f_prio, sizeof(f_prio), "priority=%d", c.priority);
                snprintf(f_reclaim, sizeof(f_reclaim), "reclaim_bytes=%" PRIu64, c.reclaim_bytes);
                snprintf(f_unit, sizeof(f_unit), "unit=%s", c.unit ? c.unit : "-");
                snprintf(f_reason, sizeof(f_reason), "reason=%s", c.reason ? c.reason : "");
                log_struct(LOG_INFO, "candidate", f_rank, f_pid, f_comm, f_prio, f_reclaim, f_unit, f_reason,
                           NULL);
        }
}
