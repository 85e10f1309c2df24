/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "incident.h"
#include "log.h"

#define INCIDENT_MAX_STEPS (INCIDENT_MAX_ACTIONS + INCIDENT_MAX_LEVELS)

typedef struct IncidentGrowth {
        IncidentProc proc; /* as at the start of the incident */
        uint64_t before;   /* rss + swap in the baseline sample; 0 when new */
        bool is_new;       /* not in the baseline sample (started since, or too small to be listed) */
} IncidentGrowth;

/* One line of the story after the start: a level change or an action. */
typedef struct IncidentStep {
        uint64_t realtime_usec;
        bool is_level;
        Level level;
        double score;
        char action[16];
        pid_t pid;
        char comm[INCIDENT_COMM_MAX];
        char app[INCIDENT_APP_MAX];
        char reason[INCIDENT_REASON_MAX];
        bool dry_run;
        int error;
} IncidentStep;

struct IncidentRecorder {
        int dirfd;
        char *dir;
        unsigned keep;

        IncidentSnapshot ring[INCIDENT_RING]; /* calm history, oldest at `first` */
        unsigned first, n;

        bool active;
        IncidentSnapshot start;
        Level start_level, level, peak_level;
        double peak_score;
        bool has_baseline;
        uint64_t baseline_mono_usec;
        IncidentGrowth growers[INCIDENT_REPORT_TOP]; /* largest growth first */
        size_t n_growers;
        IncidentStep steps[INCIDENT_MAX_STEPS];
        size_t n_steps;
        unsigned steps_dropped;
};

/* Copy a string into a fixed buffer, cut to fit. */
static void copy_string(char *dst, size_t size, const char *src)
{
        size_t n = strnlen(strempty(src), size - 1);

        memcpy(dst, strempty(src), n);
        dst[n] = 0;
}

static uint64_t proc_total(const IncidentProc *p)
{
        return p->rss + p->swap;
}

/* ---- snapshots (no allocation) ---- */

void incident_snapshot_init(IncidentSnapshot *s, uint64_t mono_usec, uint64_t realtime_usec)
{
        *s = (IncidentSnapshot){
                .mono_usec = mono_usec,
                .realtime_usec = realtime_usec,
                .score = NAN,
                .psi_some_avg10 = NAN,
                .psi_full_avg10 = NAN,
        };
}

void incident_snapshot_set_mem(IncidentSnapshot *s, const MemInfo *mi)
{
        s->has_mem = true;
        s->mem_total = mi->mem_total;
        s->mem_available = mi->mem_available;
        s->swap_total = mi->swap_total;
        s->swap_used = mi->swap_total - MIN(mi->swap_free, mi->swap_total);
}

void incident_snapshot_add_proc(IncidentSnapshot *s, const ProcEntry *e)
{
        IncidentProc p = {
                .pid = e->pid,
                .uid = e->uid,
                .start_time = e->start_time,
                .rss = e->rss_anon + e->rss_file + e->rss_shmem,
                .swap = e->swap,
        };
        size_t i;

        if (e->kthread)
                return;
        /* Insertion into a sorted array of at most INCIDENT_TOP_K. */
        i = s->n_procs;
        if (i == INCIDENT_TOP_K) {
                if (proc_total(&s->procs[i - 1]) >= proc_total(&p))
                        return;
                i--;
        }
        while (i > 0 && proc_total(&s->procs[i - 1]) < proc_total(&p)) {
                s->procs[i] = s->procs[i - 1];
                i--;
        }
        copy_string(p.comm, sizeof(p.comm), e->comm);
        copy_string(p.app, sizeof(p.app), e->app_id ? e->app_id : e->unit);
        s->procs[i] = p;
        if (s->n_procs < INCIDENT_TOP_K)
                s->n_procs++;
}

void incident_snapshot_add_table(IncidentSnapshot *s, const ProcTable *t)
{
        for (size_t i = 0; i < t->n; i++)
                incident_snapshot_add_proc(s, &t->entries[i]);
}

/* ---- the recorder ---- */

int incident_recorder_new(const char *dir, unsigned keep, IncidentRecorder **ret)
{
        IncidentRecorder *r;
        int fd;

        if (keep < 1)
                return -EINVAL;
        fd = state_dir_open(dir);
        if (fd < 0)
                return fd;
        r = xmalloc0(sizeof(*r));
        r->dirfd = fd;
        r->dir = xstrdup(dir);
        r->keep = keep;
        *ret = r;
        return 0;
}

IncidentRecorder *incident_recorder_free(IncidentRecorder *r)
{
        if (!r)
                return NULL;
        safe_close(r->dirfd);
        free(r->dir);
        free(r);
        return NULL;
}

static IncidentSnapshot *ring_at(IncidentRecorder *r, unsigned i)
{
        return &r->ring[(r->first + i) % INCIDENT_RING];
}

void incident_record(IncidentRecorder *r, const IncidentSnapshot *s)
{
        if (r->active || (r->n > 0 && s->mono_usec <= ring_at(r, r->n - 1)->mono_usec))
                return;
        if (r->n >= 2 && s->mono_usec - ring_at(r, r->n - 2)->mono_usec < INCIDENT_SPACING_USEC)
                *ring_at(r, r->n - 1) = *s; /* too close: the newest is replaced */
        else if (r->n < INCIDENT_RING)
                *ring_at(r, r->n++) = *s;
        else {
                r->ring[r->first] = *s;
                r->first = (r->first + 1) % INCIDENT_RING;
        }
}

bool incident_active(const IncidentRecorder *r)
{
        return r->active;
}

static const IncidentProc *snapshot_find(const IncidentSnapshot *s, const IncidentProc *p)
{
        for (size_t i = 0; i < s->n_procs; i++)
                if (s->procs[i].pid == p->pid && s->procs[i].start_time == p->start_time)
                        return &s->procs[i];
        return NULL;
}

static void add_grower(IncidentRecorder *r, const IncidentGrowth *g)
{
        uint64_t growth = proc_total(&g->proc) - g->before;
        size_t i = r->n_growers;

        if (i == INCIDENT_REPORT_TOP) {
                const IncidentGrowth *last = &r->growers[i - 1];
                if (proc_total(&last->proc) - last->before >= growth)
                        return;
                i--;
        }
        for (; i > 0 && proc_total(&r->growers[i - 1].proc) - r->growers[i - 1].before < growth; i--)
                r->growers[i] = r->growers[i - 1];
        r->growers[i] = *g;
        if (r->n_growers < INCIDENT_REPORT_TOP)
                r->n_growers++;
}

void incident_begin(IncidentRecorder *r, Level level, const IncidentSnapshot *now)
{
        const IncidentSnapshot *base = NULL;

        if (r->active) {
                incident_level(r, level, now->score, now->mono_usec);
                return;
        }
        r->active = true;
        r->start = *now;
        r->start_level = r->level = r->peak_level = level;
        r->peak_score = now->score;
        r->n_steps = r->n_growers = 0;
        r->steps_dropped = 0;

        /* The baseline: the oldest calm sample within the window. */
        for (unsigned i = 0; i < r->n && !base; i++) {
                const IncidentSnapshot *s = ring_at(r, i);
                if (s->mono_usec < now->mono_usec && now->mono_usec - s->mono_usec <= INCIDENT_WINDOW_USEC)
                        base = s;
        }
        r->has_baseline = base != NULL;
        if (!base)
                return;
        r->baseline_mono_usec = base->mono_usec;
        for (size_t i = 0; i < now->n_procs; i++) {
                const IncidentProc *then = snapshot_find(base, &now->procs[i]);
                IncidentGrowth g = {
                        .proc = now->procs[i],
                        .before = then ? proc_total(then) : 0,
                        .is_new = !then,
                };
                if (proc_total(&g.proc) > g.before)
                        add_grower(r, &g);
        }
}

static uint64_t realtime_of(const IncidentRecorder *r, uint64_t mono_usec)
{
        if (mono_usec < r->start.mono_usec)
                return r->start.realtime_usec;
        return r->start.realtime_usec + (mono_usec - r->start.mono_usec);
}

static IncidentStep *step_new(IncidentRecorder *r)
{
        if (r->n_steps == INCIDENT_MAX_STEPS) {
                r->steps_dropped++;
                return NULL;
        }
        r->steps[r->n_steps] = (IncidentStep){};
        return &r->steps[r->n_steps++];
}

void incident_level(IncidentRecorder *r, Level level, double score, uint64_t mono_usec)
{
        IncidentStep *st;

        if (!r->active)
                return;
        if (isfinite(score) && !(score <= r->peak_score))
                r->peak_score = score;
        if (level == r->level)
                return;
        r->level = level;
        if (level > r->peak_level)
                r->peak_level = level;
        st = step_new(r);
        if (!st)
                return;
        st->realtime_usec = realtime_of(r, mono_usec);
        st->is_level = true;
        st->level = level;
        st->score = score;
}

void incident_note_action(IncidentRecorder *r, const Event *ev)
{
        IncidentStep *st;

        if (!r->active || !ev || !ev->action || strcmp(ev->action, "level") == 0)
                return;
        st = step_new(r);
        if (!st)
                return;
        st->realtime_usec = ev->time_usec ? ev->time_usec : now_realtime_usec();
        copy_string(st->action, sizeof(st->action), ev->action);
        st->pid = ev->target.pid;
        copy_string(st->comm, sizeof(st->comm), ev->target.comm);
        copy_string(st->app, sizeof(st->app), event_target_name(&ev->target));
        copy_string(st->reason, sizeof(st->reason), ev->reason);
        st->dry_run = ev->dry_run;
        st->error = ev->error;
}

/* ---- the report as JSON ---- */

static json_object *proc_to_json(const IncidentProc *p)
{
        json_object *o = json_new_object();

        json_add_i64(o, "pid", p->pid);
        json_add_u64(o, "start_time", p->start_time);
        json_add_u64(o, "uid", p->uid);
        json_add_string(o, "comm", p->comm);
        if (p->app[0])
                json_add_string(o, "app", p->app);
        json_add_u64(o, "rss_bytes", p->rss);
        json_add_u64(o, "swap_bytes", p->swap);
        return o;
}

int incident_to_json(const IncidentRecorder *r, uint64_t end_mono_usec, json_object **ret)
{
        _cleanup_json_ json_object *o = NULL;
        const IncidentSnapshot *s = &r->start;
        json_object *mem, *users, *growers, *levels, *actions;

        if (!r->active)
                return -ESRCH;
        o = json_new_object();
        json_add_i64(o, "version", 1);
        json_add_time(o, "start", s->realtime_usec);
        json_add_time(o, "end", realtime_of(r, end_mono_usec));
        json_add_double(o, "duration_sec",
                        (double)(end_mono_usec - MIN(end_mono_usec, s->mono_usec)) / (double)USEC_PER_SEC);
        json_add_string(o, "level", level_to_string(r->start_level));
        json_add_string(o, "peak_level", level_to_string(r->peak_level));
        json_add_double(o, "peak_score", r->peak_score);

        mem = json_new_object();
        json_add_double(mem, "score", s->score);
        if (s->has_mem) {
                json_add_u64(mem, "mem_total_bytes", s->mem_total);
                json_add_u64(mem, "mem_available_bytes", s->mem_available);
                if (s->mem_total > 0)
                        json_add_double(mem, "mem_available_percent",
                                        100.0 * (double)s->mem_available / (double)s->mem_total);
                json_add_u64(mem, "swap_total_bytes", s->swap_total);
                json_add_u64(mem, "swap_used_bytes", s->swap_used);
        }
        json_add_double(mem, "psi_some_avg10", s->psi_some_avg10);
        json_add_double(mem, "psi_full_avg10", s->psi_full_avg10);
        json_add(o, "memory", mem);

        users = json_new_array();
        for (size_t i = 0; i < MIN(s->n_procs, (size_t)INCIDENT_REPORT_TOP); i++) {
                json_object *u = proc_to_json(&s->procs[i]);
                json_add_u64(u, "total_bytes", proc_total(&s->procs[i]));
                json_append(users, u);
        }
        json_add(o, "top_users", users);

        if (r->has_baseline)
                json_add_double(o, "growth_window_sec",
                                (double)(s->mono_usec - r->baseline_mono_usec) / (double)USEC_PER_SEC);
        else
                json_add(o, "growth_window_sec", NULL);
        growers = json_new_array();
        for (size_t i = 0; i < r->n_growers; i++) {
                const IncidentGrowth *g = &r->growers[i];
                json_object *u = proc_to_json(&g->proc);
                json_add_u64(u, "before_bytes", g->before);
                json_add_u64(u, "now_bytes", proc_total(&g->proc));
                json_add_u64(u, "growth_bytes", proc_total(&g->proc) - g->before);
                json_add_bool(u, "new", g->is_new);
                json_append(growers, u);
        }
        json_add(o, "top_growers", growers);

        levels = json_new_array();
        actions = json_new_array();
        for (size_t i = 0; i < r->n_steps; i++) {
                const IncidentStep *st = &r->steps[i];
                json_object *a = json_new_object();
                json_add_time(a, "time", st->realtime_usec);
                if (st->is_level) {
                        json_add_string(a, "level", level_to_string(st->level));
                        json_add_double(a, "score", st->score);
                        json_append(levels, a);
                        continue;
                }
                json_add_string(a, "action", st->action);
                if (st->pid > 0)
                        json_add_i64(a, "pid", st->pid);
                if (st->comm[0])
                        json_add_string(a, "comm", st->comm);
                if (st->app[0])
                        json_add_string(a, "app", st->app);
                if (st->reason[0])
                        json_add_string(a, "reason", st->reason);
                json_add_bool(a, "dry_run", st->dry_run);
                json_add_string(a, "result", st->error == 0 ? "ok" : "failed");
                if (st->error != 0)
                        json_add_string(a, "error", STRERROR(st->error));
                json_append(actions, a);
        }
        json_add(o, "levels", levels);
        json_add(o, "actions", actions);
        json_add_u64(o, "dropped_entries", r->steps_dropped);
        *ret = TAKE_PTR(o);
        return 0;
}

/* ---- the report as text ---- */

static const char *format_bytes(uint64_t b, char *buf, size_t size)
{
        if (b >= (UINT64_C(1) << 30))
                snprintf(buf, size, "%.1f GiB", (double)b / (double)(UINT64_C(1) << 30));
        else if (b >= (UINT64_C(1) << 20))
                snprintf(buf, size, "%.0f MiB", (double)b / (double)(UINT64_C(1) << 20));
        else if (b >= 1024)
                snprintf(buf, size, "%.0f KiB", (double)b / 1024.0);
        else
                snprintf(buf, size, "%llu B", (unsigned long long)b);
        return buf;
}

/* Local time as "14:02:11", or the date "2025-01-31". */
static const char *format_clock(uint64_t realtime_usec, bool date, char *buf, size_t size)
{
        time_t t = (time_t)(realtime_usec / USEC_PER_SEC);
        struct tm tm;

        if (!localtime_r(&t, &tm) || strftime(buf, size, date ? "%Y-%m-%d" : "%H:%M:%S", &tm) == 0)
                snprintf(buf, size, "?");
        return buf;
}

/* "firefox (pid 123, org.mozilla.firefox)", with hostile bytes escaped. */
static void put_who(FILE *f, pid_t pid, const char *comm, const char *app)
{
        char c[4 * INCIDENT_COMM_MAX], a[4 * INCIDENT_APP_MAX];

        utf8_sanitize(comm, true, c, sizeof(c));
        utf8_sanitize(app, true, a, sizeof(a));
        if (pid > 0)
                fprintf(f, "%s%s(pid %d%s%s)", c, c[0] ? " " : "", (int)pid, a[0] ? ", " : "", a);
        else
                fputs(a[0] ? a : c[0] ? c : "(unknown)", f);
}

static void put_step(FILE *f, const IncidentStep *st)
{
        char t[32], reason[4 * INCIDENT_REASON_MAX], num[32];

        fprintf(f, "  %s  ", format_clock(st->realtime_usec, false, t, sizeof(t)));
        if (st->is_level) {
                fprintf(f, "pressure went to %s (score %s)\n", level_to_string(st->level),
                        format_double(st->score, num, sizeof(num)));
                return;
        }
        if (st->error != 0)
                fprintf(f, "memguard tried to %s ", st->action);
        else
                fprintf(f, "memguard %s%s ", st->dry_run ? "would have " : "",
                        event_action_past(st->action, st->dry_run));
        put_who(f, st->pid, st->comm, st->app);
        if (st->error != 0)
                fprintf(f, " but failed (%s)", STRERROR(st->error));
        if (st->reason[0])
                fprintf(f, ": %s", utf8_sanitize(st->reason, true, reason, sizeof(reason)));
        fprintf(f, "%s\n", st->dry_run ? " [dry run]" : "");
}

static void put_duration(FILE *f, uint64_t usec)
{
        uint64_t s = (usec + USEC_PER_SEC / 2) / USEC_PER_SEC;

        if (s < 120)
                fprintf(f, "%llu s", (unsigned long long)s);
        else if (s < 7200)
                fprintf(f, "%llu min %llu s", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
        else
                fprintf(f, "%llu h %llu min", (unsigned long long)(s / 3600),
                        (unsigned long long)(s / 60 % 60));
}

int incident_to_text(const IncidentRecorder *r, uint64_t end_mono_usec, char **ret)
{
        const IncidentSnapshot *s = &r->start;
        _cleanup_free_ char *buf = NULL;
        char t[64], d[32], b1[32], b2[32], b3[32], num[32];
        size_t size;
        FILE *f;

        if (!r->active)
                return -ESRCH;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fprintf(f, "At %s on %s, memory pressure rose to %s (score %s",
                format_clock(s->realtime_usec, false, t, sizeof(t)),
                format_clock(s->realtime_usec, true, d, sizeof(d)), level_to_string(r->start_level),
                format_double(s->score, num, sizeof(num)));
        if (s->has_mem && s->mem_total > 0)
                fprintf(f, "; MemAvailable %.1f %% of %s",
                        100.0 * (double)s->mem_available / (double)s->mem_total,
                        format_bytes(s->mem_total, b1, sizeof(b1)));
        if (s->has_mem && s->swap_total > 0)
                fprintf(f, "; swap %s of %s used", format_bytes(s->swap_used, b1, sizeof(b1)),
                        format_bytes(s->swap_total, b2, sizeof(b2)));
        if (isfinite(s->psi_some_avg10))
                fprintf(f, "; PSI some %.1f %%", s->psi_some_avg10);
        if (isfinite(s->psi_full_avg10))
                fprintf(f, ", full %.1f %%", s->psi_full_avg10);
        fputs(").\n\nUsing most memory:\n", f);
        for (size_t i = 0; i < MIN(s->n_procs, (size_t)INCIDENT_REPORT_TOP); i++) {
                const IncidentProc *p = &s->procs[i];
                fprintf(f, "  %2zu. ", i + 1);
                put_who(f, p->pid, p->comm, p->app);
                fprintf(f, "  %s", format_bytes(proc_total(p), b1, sizeof(b1)));
                if (p->swap > 0)
                        fprintf(f, " (%s in RAM, %s in swap)", format_bytes(p->rss, b2, sizeof(b2)),
                                format_bytes(p->swap, b3, sizeof(b3)));
                fputc('\n', f);
        }
        if (s->n_procs == 0)
                fputs("  (no processes were listed)\n", f);

        if (!r->has_baseline)
                fputs("\nWhat grew is unknown: there was no earlier sample from the last minute.\n", f);
        else {
                fputs("\nGrew most in the last ", f);
                put_duration(f, s->mono_usec - r->baseline_mono_usec);
                fputs(":\n", f);
                for (size_t i = 0; i < r->n_growers; i++) {
                        const IncidentGrowth *g = &r->growers[i];
                        fprintf(f, "  %2zu. ", i + 1);
                        put_who(f, g->proc.pid, g->proc.comm, g->proc.app);
                        fprintf(f, "  +%s, to %s%s\n",
                                format_bytes(proc_total(&g->proc) - g->before, b1, sizeof(b1)),
                                format_bytes(proc_total(&g->proc), b2, sizeof(b2)),
                                g->is_new ? " (new)" : "");
                }
                if (r->n_growers == 0)
                        fputs("  nothing grew\n", f);
        }

        fputs("\nWhat happened next:\n", f);
        for (size_t i = 0; i < r->n_steps; i++)
                put_step(f, &r->steps[i]);
        if (r->n_steps == 0)
                fputs("  memguard took no action\n", f);
        if (r->steps_dropped > 0)
                fprintf(f, "  ... and %u more entries not recorded\n", r->steps_dropped);

        fprintf(f, "\nPressure ended at %s after ",
                format_clock(realtime_of(r, end_mono_usec), false, t, sizeof(t)));
        put_duration(f, end_mono_usec - MIN(end_mono_usec, s->mono_usec));
        fprintf(f, " (peak: %s, score %s).\n", level_to_string(r->peak_level),
                format_double(r->peak_score, num, sizeof(num)));

        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* ---- writing and pruning ---- */

static int cmp_desc(const void *a, const void *b)
{
        return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keep the newest r->keep incidents (by name, which sorts by start time). */
static int incident_prune(IncidentRecorder *r)
{
        _cleanup_closedir_ DIR *d = NULL;
        char **stems = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        int fd;

        fd = fcntl(r->dirfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        rewinddir(d);
        while ((de = readdir(d))) {
                const char *dot = strrchr(de->d_name, '.');
                if (strncmp(de->d_name, "incident-", 9) != 0 || !dot ||
                    (strcmp(dot, ".json") != 0 && strcmp(dot, ".txt") != 0))
                        continue;
                if (n == allocated) {
                        allocated = MAX(allocated * 2, (size_t)16);
                        stems = realloc(stems, allocated * sizeof(char *));
                        if (!stems)
                                abort();
                }
                stems[n++] = strndup(de->d_name, (size_t)(dot - de->d_name));
                if (!stems[n - 1])
                        abort();
        }
        qsort(stems, n, sizeof(char *), cmp_desc);
        for (size_t i = 0, kept = 0; i < n; i++) {
                char name[NAME_MAX + 1];
                if (i > 0 && strcmp(stems[i], stems[i - 1]) == 0)
                        continue; /* the .txt of the same incident */
                if (++kept <= r->keep)
                        continue;
                snprintf(name, sizeof(name), "%s.json", stems[i]);
                (void)unlinkat(r->dirfd, name, 0);
                snprintf(name, sizeof(name), "%s.txt", stems[i]);
                (void)unlinkat(r->dirfd, name, 0);
        }
        for (size_t i = 0; i < n; i++)
                free(stems[i]);
        free(stems);
        return 0;
}

static int incident_write(IncidentRecorder *r, uint64_t end_mono_usec, char **ret_path)
{
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *text = NULL, *json_text = NULL;
        char stem[64], iso[64], name[80];
        const char *js;
        int r2;

        r2 = incident_to_json(r, end_mono_usec, &o);
        if (r2 < 0)
                return r2;
        r2 = incident_to_text(r, end_mono_usec, &text);
        if (r2 < 0)
                return r2;
        js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!js || asprintf(&json_text, "%s\n", js) < 0)
                return -ENOMEM;

        /* "2025-01-31T14:02:11.123456Z" -> "incident-20250131T140211.123456Z" */
        format_time_iso(r->start.realtime_usec, iso, sizeof(iso));
        snprintf(stem, sizeof(stem), "incident-");
        for (size_t i = 0, j = strlen(stem); iso[i] && j + 1 < sizeof(stem); i++)
                if (iso[i] != '-' && iso[i] != ':') {
                        stem[j++] = iso[i];
                        stem[j] = 0;
                }

        snprintf(name, sizeof(name), "%s.json", stem);
        r2 = write_file_atomic_at(r->dirfd, name, json_text, strlen(json_text));
        if (r2 < 0)
                return r2;
        snprintf(name, sizeof(name), "%s.txt", stem);
        r2 = write_file_atomic_at(r->dirfd, name, text, strlen(text));
        if (r2 < 0) {
                snprintf(name, sizeof(name), "%s.json", stem);
                (void)unlinkat(r->dirfd, name, 0);
                return r2;
        }
        r2 = incident_prune(r);
        if (r2 < 0)
                log_debug_errno(r2, "cannot prune old incident reports in %s, ignoring: %m", r->dir);
        if (ret_path && asprintf(ret_path, "%s/%s", r->dir, name) < 0)
                abort();
        return 0;
}

int incident_end(IncidentRecorder *r, uint64_t mono_usec, char **ret_path)
{
        int k;

        if (!r->active)
                return 0;
        k = incident_write(r, mono_usec, ret_path);
        r->active = false;
        return k < 0 ? k : 1;
}
