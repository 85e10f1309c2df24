/* SPDX-License-Identifier: MIT */
/*
 * Incident reports from synthetic snapshots: a process growing 50 MiB/s, a
 * steady big one, one that exits, new ones (one reusing an old PID), small
 * fry beyond the top-K and a kernel thread. The JSON must list the right top
 * users and top growers in the right order with the right figures, and the
 * text must tell the same story; old reports are pruned.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "incident.h"
#include "test.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define T0_MONO (UINT64_C(1000) * USEC_PER_SEC)
#define T0_REAL (UINT64_C(1700000000) * USEC_PER_SEC) /* 2023-11-14 22:13:20 UTC */

static char *make_tmpdir(void)
{
        char *d = xstrdup("/tmp/memguard-test-incident.XXXXXX");
        ASSERT_TRUE(mkdtemp(d));
        return d;
}

static void rm_rf(const char *path)
{
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
        ASSERT_EQ_INT(system(cmd), 0);
}

/* Names in dir matching prefix and suffix, sorted; returns how many. */
static size_t list_dir(const char *dir, const char *suffix, char names[][128], size_t max)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        ASSERT_TRUE(d);
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name), sl = strlen(suffix);
                if (de->d_name[0] == '.' || l < sl || strcmp(de->d_name + l - sl, suffix) != 0)
                        continue;
                ASSERT_TRUE(n < max && l < 128);
                memcpy(names[n++], de->d_name, l + 1);
        }
        closedir(d);
        qsort(names, n, 128, (int (*)(const void *, const void *))strcmp);
        return n;
}

static ProcEntry proc(pid_t pid, uint64_t start, const char *comm, const char *app, uint64_t rss,
                      uint64_t swap)
{
        ProcEntry e = {.pid = pid, .uid = 1000, .start_time = start, .rss_anon = rss, .swap = swap};

        snprintf(e.comm, sizeof(e.comm), "%s", comm);
        e.app_id = (char *)app;
        e.pidfd = -1;
        return e;
}

/* The machine at t seconds after T0. */
static void snapshot_at(IncidentSnapshot *s, unsigned t)
{
        ProcEntry e;

        incident_snapshot_init(s, T0_MONO + t * USEC_PER_SEC, T0_REAL + t * USEC_PER_SEC);
        /* Offered smallest first so insertion order does not decide anything. */
        for (unsigned i = 1; i <= 30; i++) {
                e = proc((pid_t)(1000 + i), 5, "small", NULL, i * MiB, 0);
                incident_snapshot_add_proc(s, &e);
        }
        e = proc(2, 0, "kworker/huge", NULL, 100 * GiB, 0);
        e.kthread = true;
        incident_snapshot_add_proc(s, &e);
        e = proc(100, 50, "steady", "org.example.Big", 6 * GiB, 512 * MiB);
        incident_snapshot_add_proc(s, &e);
        e = proc(200, 60, "leaky", NULL, 500 * MiB + t * 50 * MiB, 0);
        e.unit = (char *)"leaky.service";
        incident_snapshot_add_proc(s, &e);
        if (t <= 30) {
                e = proc(300, 61, "exiter", NULL, 2 * GiB, 0);
                incident_snapshot_add_proc(s, &e);
                e = proc(500, 70, "oldproc", NULL, 1 * GiB, 0);
                incident_snapshot_add_proc(s, &e);
        } else {
                e = proc(500, 9000, "reused", NULL, 800 * MiB, 0); /* same PID, another process */
                incident_snapshot_add_proc(s, &e);
        }
        if (t >= 50) {
                e = proc(400, 9500, "newbie", NULL, (t - 40) * 10 * MiB + 200 * MiB, 0);
                incident_snapshot_add_proc(s, &e);
        }
        s->score = 0.41;
        s->psi_some_avg10 = 35.5;
        s->psi_full_avg10 = 12.25;
        incident_snapshot_set_mem(s, &(MemInfo){.mem_total = 16 * GiB,
                                                .mem_available = GiB / 2,
                                                .swap_total = 2 * GiB,
                                                .swap_free = GiB / 2});
}

static json_object *get(json_object *o, const char *key)
{
        json_object *v = NULL;
        ASSERT_TRUE(json_object_object_get_ex(o, key, &v));
        return v;
}

static json_object *at(json_object *a, size_t i)
{
        ASSERT_TRUE(json_object_is_type(a, json_type_array) && i < json_object_array_length(a));
        return json_object_array_get_idx(a, i);
}

static void check_proc(json_object *p, int pid, const char *comm, uint64_t bytes_key_value, const char *key)
{
        ASSERT_EQ_INT(json_object_get_int(get(p, "pid")), pid);
        ASSERT_STREQ(json_object_get_string(get(p, "comm")), comm);
        ASSERT_EQ_U64(json_object_get_uint64(get(p, key)), bytes_key_value);
}

static void test_snapshot_top_k(void)
{
        IncidentSnapshot s;

        snapshot_at(&s, 70);
        ASSERT_EQ_INT(s.n_procs, INCIDENT_TOP_K);
        for (size_t i = 1; i < s.n_procs; i++)
                ASSERT_TRUE(s.procs[i - 1].rss + s.procs[i - 1].swap >= s.procs[i].rss + s.procs[i].swap);
        ASSERT_EQ_INT(s.procs[0].pid, 100);
        ASSERT_STREQ(s.procs[0].app, "org.example.Big");
        ASSERT_STREQ(s.procs[1].app, "leaky.service"); /* no app id: the unit */
        for (size_t i = 0; i < s.n_procs; i++)
                ASSERT_TRUE(s.procs[i].pid != 2); /* kernel threads are not listed */
        /* The smallest of the small fry fell off. */
        ASSERT_EQ_U64(s.procs[INCIDENT_TOP_K - 1].rss, (uint64_t)(30 - (INCIDENT_TOP_K - 4) + 1) * MiB);
        ASSERT_EQ_U64(s.swap_used, GiB + GiB / 2);
}

static void run_incident(IncidentRecorder *r)
{
        IncidentSnapshot s;
        Event ev;

        for (unsigned t = 0; t <= 60; t += 10) {
                snapshot_at(&s, t);
                incident_record(r, &s);
        }
        snapshot_at(&s, 70);
        incident_begin(r, LEVEL_HIGH, &s);
        ASSERT_TRUE(incident_active(r));

        ev = (Event){.time_usec = T0_REAL + 72 * USEC_PER_SEC,
                     .action = "freeze",
                     .target = {.pid = 200, .comm = "leaky", .unit = "leaky.service"},
                     .reason = "grew most in the last minute"};
        incident_note_action(r, &ev);
        incident_level(r, LEVEL_CRITICAL, 0.7, T0_MONO + 75 * USEC_PER_SEC);
        ev = (Event){.action = "level", .reason = "ignored: levels come from incident_level()"};
        incident_note_action(r, &ev);
        ev = (Event){.time_usec = T0_REAL + 76 * USEC_PER_SEC,
                     .action = "kill",
                     .target = {.pid = 200, .comm = "leaky"},
                     .reason = "still critical"};
        incident_note_action(r, &ev);
        ev = (Event){.time_usec = T0_REAL + 77 * USEC_PER_SEC,
                     .action = "kill",
                     .target = {.pid = 999, .comm = "\x1b[2J\nfake"},
                     .error = -ESRCH};
        incident_note_action(r, &ev);
        ev = (Event){.time_usec = T0_REAL + 78 * USEC_PER_SEC,
                     .action = "freeze",
                     .target = {.pid = 100, .comm = "steady"},
                     .dry_run = true};
        incident_note_action(r, &ev);
        /* A snapshot during the incident does not enter the calm ring. */
        snapshot_at(&s, 80);
        incident_record(r, &s);
        incident_level(r, LEVEL_ELEVATED, 0.3, T0_MONO + 100 * USEC_PER_SEC);
        incident_level(r, LEVEL_ELEVATED, 0.25, T0_MONO + 110 * USEC_PER_SEC); /* same level: not a change */
}

static void test_incident_report(void)
{
        _cleanup_(incident_recorder_freep) IncidentRecorder *r = NULL;
        _cleanup_free_ char *tmp = make_tmpdir(), *path = NULL, *text = NULL, *jtext = NULL;
        _cleanup_json_ json_object *o = NULL;
        json_object *users, *growers, *actions, *levels, *mem;
        char names[8][128], file[4300];

        ASSERT_OK(incident_recorder_new(tmp, 5, &r));
        run_incident(r);
        ASSERT_EQ_INT(incident_end(r, T0_MONO + 159 * USEC_PER_SEC, &path), 1);
        ASSERT_FALSE(incident_active(r));

        ASSERT_EQ_INT(list_dir(tmp, ".json", names, 8), 1);
        ASSERT_STREQ(names[0], "incident-20231114T221430.000000Z.json");
        ASSERT_EQ_INT(list_dir(tmp, ".txt", names, 8), 1);
        ASSERT_STREQ(names[0], "incident-20231114T221430.000000Z.txt");
        snprintf(file, sizeof(file), "%s/%s", tmp, names[0]);
        ASSERT_STREQ(path, file);
        {
                struct stat st;
                ASSERT_TRUE(stat(file, &st) == 0 && (st.st_mode & 07777) == 0600);
        }

        snprintf(file, sizeof(file), "%s/incident-20231114T221430.000000Z.json", tmp);
        ASSERT_OK(read_full_file_at(AT_FDCWD, file, 1 << 20, &jtext, NULL));
        o = json_tokener_parse(jtext);
        ASSERT_TRUE(o);
        ASSERT_STREQ(json_object_get_string(get(o, "start")), "2023-11-14T22:14:30.000000Z");
        ASSERT_STREQ(json_object_get_string(get(o, "end")), "2023-11-14T22:15:59.000000Z");
        ASSERT_NEAR(json_object_get_double(get(o, "duration_sec")), 89.0, 1e-9);
        ASSERT_STREQ(json_object_get_string(get(o, "level")), "high");
        ASSERT_STREQ(json_object_get_string(get(o, "peak_level")), "critical");
        ASSERT_NEAR(json_object_get_double(get(o, "peak_score")), 0.7, 1e-9);
        mem = get(o, "memory");
        ASSERT_NEAR(json_object_get_double(get(mem, "score")), 0.41, 1e-9);
        ASSERT_NEAR(json_object_get_double(get(mem, "mem_available_percent")), 3.125, 1e-9);
        ASSERT_EQ_U64(json_object_get_uint64(get(mem, "swap_used_bytes")), GiB + GiB / 2);
        ASSERT_NEAR(json_object_get_double(get(mem, "psi_some_avg10")), 35.5, 1e-9);

        /* What was using memory: the steady one, the grower, the PID reuser, the new one. */
        users = get(o, "top_users");
        ASSERT_EQ_INT(json_object_array_length(users), INCIDENT_REPORT_TOP);
        check_proc(at(users, 0), 100, "steady", 6 * GiB + 512 * MiB, "total_bytes");
        ASSERT_STREQ(json_object_get_string(get(at(users, 0), "app")), "org.example.Big");
        ASSERT_EQ_U64(json_object_get_uint64(get(at(users, 0), "swap_bytes")), 512 * MiB);
        check_proc(at(users, 1), 200, "leaky", 4000 * MiB, "total_bytes");
        check_proc(at(users, 2), 500, "reused", 800 * MiB, "total_bytes");
        ASSERT_EQ_U64(json_object_get_uint64(get(at(users, 2), "start_time")), 9000);
        check_proc(at(users, 3), 400, "newbie", 500 * MiB, "total_bytes");
        check_proc(at(users, 4), 1030, "small", 30 * MiB, "total_bytes");

        /* What grew over the last minute (baseline: the t=10 sample). */
        ASSERT_NEAR(json_object_get_double(get(o, "growth_window_sec")), 60.0, 1e-9);
        growers = get(o, "top_growers");
        ASSERT_EQ_INT(json_object_array_length(growers), 3);
        check_proc(at(growers, 0), 200, "leaky", 3000 * MiB, "growth_bytes");
        ASSERT_EQ_U64(json_object_get_uint64(get(at(growers, 0), "before_bytes")), 1000 * MiB);
        ASSERT_EQ_U64(json_object_get_uint64(get(at(growers, 0), "now_bytes")), 4000 * MiB);
        ASSERT_FALSE(json_object_get_boolean(get(at(growers, 0), "new")));
        check_proc(at(growers, 1), 500, "reused", 800 * MiB, "growth_bytes");
        ASSERT_TRUE(json_object_get_boolean(get(at(growers, 1), "new")));
        check_proc(at(growers, 2), 400, "newbie", 500 * MiB, "growth_bytes");
        ASSERT_TRUE(json_object_get_boolean(get(at(growers, 2), "new")));
        ASSERT_EQ_U64(json_object_get_uint64(get(at(growers, 2), "before_bytes")), 0);
        ASSERT_TRUE(strstr(jtext, "exiter") == NULL && strstr(jtext, "oldproc") == NULL);
        ASSERT_TRUE(strstr(jtext, "kworker") == NULL);

        levels = get(o, "levels");
        ASSERT_EQ_INT(json_object_array_length(levels), 2);
        ASSERT_STREQ(json_object_get_string(get(at(levels, 0), "level")), "critical");
        ASSERT_STREQ(json_object_get_string(get(at(levels, 0), "time")), "2023-11-14T22:14:35.000000Z");
        ASSERT_STREQ(json_object_get_string(get(at(levels, 1), "level")), "elevated");
        actions = get(o, "actions");
        ASSERT_EQ_INT(json_object_array_length(actions), 4);
        ASSERT_STREQ(json_object_get_string(get(at(actions, 0), "action")), "freeze");
        ASSERT_STREQ(json_object_get_string(get(at(actions, 0), "app")), "leaky.service");
        ASSERT_STREQ(json_object_get_string(get(at(actions, 0), "time")), "2023-11-14T22:14:32.000000Z");
        ASSERT_STREQ(json_object_get_string(get(at(actions, 1), "action")), "kill");
        ASSERT_STREQ(json_object_get_string(get(at(actions, 1), "result")), "ok");
        ASSERT_STREQ(json_object_get_string(get(at(actions, 2), "result")), "failed");
        ASSERT_STREQ(json_object_get_string(get(at(actions, 2), "error")), strerror(ESRCH));
        ASSERT_STREQ(json_object_get_string(get(at(actions, 2), "comm")), "\x1b[2J\nfake");
        ASSERT_TRUE(json_object_get_boolean(get(at(actions, 3), "dry_run")));

        ASSERT_OK(read_full_file_at(AT_FDCWD, path, 1 << 20, &text, NULL));
        fputs(text, stderr);
        ASSERT_TRUE(strstr(
                text,
                "At 22:14:30 on 2023-11-14, memory pressure rose to high (score 0.41; MemAvailable 3.1 % "
                "of 16.0 GiB; swap 1.5 GiB of 2.0 GiB used; PSI some 35.5 %, full 12.2 %).\n"));
        ASSERT_TRUE(strstr(
                text,
                "Using most memory:\n   1. steady (pid 100, org.example.Big)  6.5 GiB (6.0 GiB in RAM, "
                "512 MiB in swap)\n   2. leaky (pid 200, leaky.service)  3.9 GiB\n"));
        ASSERT_TRUE(strstr(
                text,
                "Grew most in the last 60 s:\n   1. leaky (pid 200, leaky.service)  +2.9 GiB, to 3.9 GiB\n"
                "   2. reused (pid 500)  +800 MiB, to 800 MiB (new)\n"
                "   3. newbie (pid 400)  +500 MiB, to 500 MiB (new)\n"));
        ASSERT_TRUE(strstr(text, "  22:14:32  memguard froze leaky (pid 200, leaky.service): grew most in "
                                 "the last minute\n"));
        ASSERT_TRUE(strstr(text, "  22:14:35  pressure went to critical (score 0.7)\n"));
        ASSERT_TRUE(strstr(text, "  22:14:36  memguard killed leaky (pid 200): still critical\n"));
        ASSERT_TRUE(strstr(text, "  22:14:37  memguard tried to kill \\x1b[2J\\x0afake (pid 999) but failed "
                                 "(No such process)\n"));
        ASSERT_TRUE(strstr(text, "  22:14:38  memguard would have frozen steady (pid 100) [dry run]\n"));
        ASSERT_TRUE(strstr(text, "  22:15:00  pressure went to elevated (score 0.3)\n"));
        ASSERT_TRUE(strstr(text, "Pressure ended at 22:15:59 after 89 s (peak: critical, score 0.7).\n"));
        ASSERT_TRUE(strstr(text, "exiter") == NULL && strchr(text, '\x1b') == NULL);
        rm_rf(tmp);
}

static void test_no_incident(void)
{
        _cleanup_(incident_recorder_freep) IncidentRecorder *r = NULL;
        _cleanup_free_ char *tmp = make_tmpdir();
        char names[4][128], *path = NULL;
        IncidentSnapshot s;

        ASSERT_OK(incident_recorder_new(tmp, 3, &r));
        snapshot_at(&s, 0);
        incident_record(r, &s);
        incident_level(r, LEVEL_HIGH, 0.5, T0_MONO);
        incident_note_action(r, &(Event){.action = "kill", .target = {.pid = 1}});
        ASSERT_EQ_INT(incident_end(r, T0_MONO + USEC_PER_SEC, &path), 0);
        ASSERT_TRUE(path == NULL);
        ASSERT_EQ_INT(list_dir(tmp, "", names, 4), 0);
        ASSERT_ERR(incident_to_text(r, T0_MONO, &path), -ESRCH);
        ASSERT_ERR(incident_recorder_new(tmp, 0, &(IncidentRecorder *){NULL}), -EINVAL);
        rm_rf(tmp);
}

/* No calm sample in the last minute: growth is unknown, and said to be. */
static void test_no_baseline(void)
{
        _cleanup_(incident_recorder_freep) IncidentRecorder *r = NULL;
        _cleanup_free_ char *tmp = make_tmpdir(), *text = NULL;
        _cleanup_json_ json_object *o = NULL;
        IncidentSnapshot s;

        ASSERT_OK(incident_recorder_new(tmp, 3, &r));
        snapshot_at(&s, 0);
        incident_record(r, &s);
        snapshot_at(&s, 70); /* 70 s later: the only sample is too old */
        incident_begin(r, LEVEL_EMERGENCY, &s);
        ASSERT_OK(incident_to_json(r, s.mono_usec + 5 * USEC_PER_SEC, &o));
        ASSERT_TRUE(json_object_is_type(get(o, "growth_window_sec"), json_type_null));
        ASSERT_EQ_INT(json_object_array_length(get(o, "top_growers")), 0);
        ASSERT_OK(incident_to_text(r, s.mono_usec + 5 * USEC_PER_SEC, &text));
        ASSERT_TRUE(strstr(text, "What grew is unknown"));
        ASSERT_TRUE(strstr(text, "memguard took no action"));
        ASSERT_TRUE(strstr(text, "after 5 s (peak: emergency, score 0.41)"));
        rm_rf(tmp);
}

/* Fast sampling (every 250 ms for two minutes) still leaves a minute of history. */
static void test_ring_spacing(void)
{
        _cleanup_(incident_recorder_freep) IncidentRecorder *r = NULL;
        _cleanup_free_ char *tmp = make_tmpdir();
        _cleanup_json_ json_object *o = NULL;
        IncidentSnapshot s;
        double window;

        ASSERT_OK(incident_recorder_new(tmp, 3, &r));
        for (uint64_t t = 0; t <= 120 * USEC_PER_SEC; t += 250 * USEC_PER_MSEC) {
                incident_snapshot_init(&s, T0_MONO + t, T0_REAL + t);
                incident_record(r, &s);
                incident_record(r, &s); /* the same time twice: ignored */
        }
        incident_snapshot_init(&s, T0_MONO + 120 * USEC_PER_SEC + 250 * USEC_PER_MSEC, T0_REAL);
        incident_begin(r, LEVEL_HIGH, &s);
        ASSERT_OK(incident_to_json(r, s.mono_usec, &o));
        window = json_object_get_double(get(o, "growth_window_sec"));
        fprintf(stderr, "  growth window %.2f s\n", window);
        ASSERT_TRUE(window >= 50.0 && window <= 60.0);
        rm_rf(tmp);
}

static void test_prune(void)
{
        _cleanup_(incident_recorder_freep) IncidentRecorder *r = NULL;
        _cleanup_free_ char *tmp = make_tmpdir();
        char names[16][128], file[4300];
        IncidentSnapshot s;

        ASSERT_OK(incident_recorder_new(tmp, 3, &r));
        snprintf(file, sizeof(file), "%s/notes.txt", tmp);
        ASSERT_TRUE(close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) == 0);
        for (unsigned i = 0; i < 5; i++) {
                unsigned t = 1000 * (i + 1);
                snapshot_at(&s, t);
                incident_begin(r, LEVEL_ELEVATED, &s);
                incident_begin(r, LEVEL_HIGH, &s); /* already open: a level change */
                ASSERT_EQ_INT(incident_end(r, s.mono_usec + 30 * USEC_PER_SEC, NULL), 1);
        }
        ASSERT_EQ_INT(list_dir(tmp, ".json", names, 16), 3);
        ASSERT_STREQ(names[0], "incident-20231114T230320.000000Z.json"); /* t = 3000 */
        ASSERT_STREQ(names[2], "incident-20231114T233640.000000Z.json"); /* t = 5000 */
        ASSERT_EQ_INT(list_dir(tmp, ".txt", names, 16), 4);
        ASSERT_STREQ(names[0], "incident-20231114T230320.000000Z.txt");
        ASSERT_STREQ(names[3], "notes.txt");
        rm_rf(tmp);
}

int main(void)
{
        setenv("TZ", "UTC", 1);
        tzset();
        RUN(test_snapshot_top_k);
        RUN(test_incident_report);
        RUN(test_no_incident);
        RUN(test_no_baseline);
        RUN(test_ring_spacing);
        RUN(test_prune);
        return 0;
}
