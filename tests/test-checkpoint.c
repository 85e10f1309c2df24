/* SPDX-License-Identifier: MIT */
/*
 * The pure parts of checkpointing: the record of checkpoints (JSON round
 * trip, hostile files), criu's command lines, which apps can be dumped as one
 * tree, which images are dropped, what criu's output says, and removing an
 * images directory without following links.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "fileio.h"
#include "log.h"
#include "test.h"

static CheckpointRecord record(const char *id, uint64_t created, CheckpointState state)
{
        return (CheckpointRecord){
                .id = xstrdup(id),
                .key = xstrdup("cgroup:/user.slice/app-x.scope"),
                .uid = (uid_t)-1,
                .pid = 4242,
                .created = created,
                .state = state,
        };
}

static void test_round_trip(void)
{
        _cleanup_(checkpoint_set_done) CheckpointSet s = {}, t = {};
        _cleanup_free_ char *text = NULL, *text2 = NULL;
        CheckpointRecord c = record("ckpt-1700000000-4242", 1700000000, CHECKPOINT_DUMPED);
        const CheckpointRecord *p;
        size_t skipped = 99;

        c.name = xstrdup("org.example.App\n\"quoted\"");
        c.uid = 1000;
        c.exe = xstrdup("/usr/bin/app");
        c.cmdline = xstrdup("app --flag 'x y'");
        c.bytes = 734003200;
        c.boot_id = xstrdup("0b1c2d3e-0000-4000-8000-000000000000");
        ASSERT_OK(checkpoint_set_add(&s, &c));
        ASSERT_TRUE(c.id == NULL); /* moved */
        c = record("ckpt-1700000100-77", 1700000100, CHECKPOINT_RESTORE_FAILED);
        c.error = xstrdup("criu exit 1: PID 77 is busy");
        ASSERT_OK(checkpoint_set_add(&s, &c));

        ASSERT_OK(checkpoint_set_format(&s, "/var/lib/memguard/checkpoints", &text));
        ASSERT_TRUE(strstr(text, "\"dir\":\"/var/lib/memguard/checkpoints/ckpt-1700000000-4242\""));
        ASSERT_OK(checkpoint_set_parse(text, strlen(text), &t, &skipped));
        ASSERT_EQ_INT(skipped, 0);
        ASSERT_EQ_INT(t.n, 2);
        p = &t.records[0];
        ASSERT_STREQ(p->id, "ckpt-1700000000-4242");
        ASSERT_STREQ(p->key, "cgroup:/user.slice/app-x.scope");
        ASSERT_STREQ(p->name, "org.example.App\n\"quoted\"");
        ASSERT_EQ_INT(p->uid, 1000);
        ASSERT_EQ_INT(p->pid, 4242);
        ASSERT_STREQ(p->exe, "/usr/bin/app");
        ASSERT_STREQ(p->cmdline, "app --flag 'x y'");
        ASSERT_EQ_U64(p->created, 1700000000);
        ASSERT_EQ_U64(p->bytes, 734003200);
        ASSERT_STREQ(p->boot_id, "0b1c2d3e-0000-4000-8000-000000000000");
        ASSERT_EQ_INT(p->state, CHECKPOINT_DUMPED);
        ASSERT_TRUE(p->error == NULL);
        p = &t.records[1];
        ASSERT_EQ_INT(p->state, CHECKPOINT_RESTORE_FAILED);
        ASSERT_STREQ(p->error, "criu exit 1: PID 77 is busy");
        ASSERT_EQ_INT(p->uid, (uid_t)-1);
        ASSERT_TRUE(p->name == NULL && p->exe == NULL && p->boot_id == NULL);

        /* Formatting what was parsed gives the same text. */
        ASSERT_OK(checkpoint_set_format(&t, "/var/lib/memguard/checkpoints", &text2));
        ASSERT_STREQ(text, text2);

        ASSERT_ERR(checkpoint_set_remove(&t, "nope"), -ENOENT);
        ASSERT_OK(checkpoint_set_remove(&t, "ckpt-1700000000-4242"));
        ASSERT_EQ_INT(t.n, 1);
        ASSERT_STREQ(t.records[0].id, "ckpt-1700000100-77");
}

static void test_hostile(void)
{
        static const struct {
                const char *text;
                int r;
                size_t n, skipped;
        } cases[] = {
                {"", -EBADMSG, 0, 0},
                {"[]", -EBADMSG, 0, 0},
                {"{}", -EBADMSG, 0, 0},
                {"{\"checkpoints\": {}}", -EBADMSG, 0, 0},
                {"{\"checkpoints\": []} x", -EBADMSG, 0, 0},
                {"{\"checkpoints\": []}\n", 0, 0, 0},
                /* The id names a directory that is removed: no paths, no dot names. */
                {"{\"checkpoints\": [{\"id\": \"../etc\", \"key\": \"k\", \"state\": \"dumped\", \"pid\": 5, "
                 "\"created\": 1}]}",
                 0, 0, 1},
                {"{\"checkpoints\": [{\"id\": \"a/b\", \"key\": \"k\", \"state\": \"dumped\", \"pid\": 5, "
                 "\"created\": 1}]}",
                 0, 0, 1},
                {"{\"checkpoints\": [{\"id\": \".hidden\", \"key\": \"k\", \"state\": \"dumped\", \"pid\": 5, "
                 "\"created\": 1}]}",
                 0, 0, 1},
                {"{\"checkpoints\": [{\"id\": \"x\", \"key\": \"k\", \"state\": \"frozen\", \"pid\": 5, "
                 "\"created\": 1}]}",
                 0, 0, 1},
                {"{\"checkpoints\": [{\"id\": \"x\", \"key\": \"k\", \"state\": \"dumped\", \"pid\": 1, "
                 "\"created\": 1}]}",
                 0, 0, 1},
                {"{\"checkpoints\": [{\"id\": \"x\", \"key\": \"k\", \"state\": \"dumped\", \"pid\": -3, "
                 "\"created\": 1}]}",
                 0, 0, 1},
                {"{\"checkpoints\": [{\"id\": \"x\", \"key\": \"\", \"state\": \"dumped\", \"pid\": 5, "
                 "\"created\": 1}]}",
                 0, 0, 1},
                /* Duplicates: the first wins. Wrong-typed optional fields are dropped, not fatal. */
                {"{\"checkpoints\": [{\"id\": \"x\", \"key\": \"k\", \"state\": \"dumped\", \"pid\": 5, "
                 "\"created\": 1, \"uid\": \"root\", \"name\": 7, \"bytes\": -1},"
                 "{\"id\": \"x\", \"key\": \"k\", \"state\": \"dumped\", \"pid\": 6, \"created\": 1}, 17]}",
                 0, 1, 2},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(checkpoint_set_done) CheckpointSet s = {};
                size_t skipped = 0;
                int r;

                fprintf(stderr, "  case %zu\n", i);
                r = checkpoint_set_parse(cases[i].text, strlen(cases[i].text), &s, &skipped);
                ASSERT_EQ_INT(r, cases[i].r);
                if (r < 0)
                        continue;
                ASSERT_EQ_INT(s.n, cases[i].n);
                ASSERT_EQ_INT(skipped, cases[i].skipped);
        }
        {
                _cleanup_(checkpoint_set_done) CheckpointSet s = {};
                const char *t = "{\"checkpoints\": [{\"id\": \"x\", \"key\": \"k\", \"state\": \"dumped\", \"pid\": 5, "
                                "\"created\": 1, \"uid\": \"root\", \"name\": 7, \"bytes\": -1}]}";
                ASSERT_OK(checkpoint_set_parse(t, strlen(t), &s, NULL));
                ASSERT_EQ_INT(s.records[0].uid, (uid_t)-1);
                ASSERT_TRUE(s.records[0].name == NULL);
                ASSERT_EQ_U64(s.records[0].bytes, 0);
        }
        ASSERT_FALSE(checkpoint_id_valid(""));
        ASSERT_FALSE(checkpoint_id_valid(".."));
        ASSERT_FALSE(checkpoint_id_valid("a b"));
        ASSERT_TRUE(checkpoint_id_valid("ckpt-1-2"));
}

static void test_file(void)
{
        char dir[] = "/tmp/memguard-test-checkpoint.XXXXXX", path[256];
        _cleanup_(checkpoint_set_done) CheckpointSet s = {}, t = {}, empty = {};
        CheckpointRecord c = record("ckpt-5-6", 5, CHECKPOINT_DUMPED);
        struct stat st;

        ASSERT_TRUE(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/sub/" CHECKPOINT_INDEX, dir);
        ASSERT_OK(checkpoint_set_load(path, &empty, NULL)); /* missing: empty */
        ASSERT_EQ_INT(empty.n, 0);
        ASSERT_OK(checkpoint_set_add(&s, &c));
        snprintf(path, sizeof(path), "%s/sub", dir);
        ASSERT_OK(checkpoint_set_save(&s, path));
        ASSERT_EQ_INT(stat(path, &st), 0);
        ASSERT_EQ_INT(st.st_mode & 07777, 0700); /* root-only */
        snprintf(path, sizeof(path), "%s/sub/" CHECKPOINT_INDEX, dir);
        ASSERT_EQ_INT(stat(path, &st), 0);
        ASSERT_EQ_INT(st.st_mode & 07777, 0600);
        ASSERT_OK(checkpoint_set_load(path, &t, NULL));
        ASSERT_EQ_INT(t.n, 1);
        ASSERT_STREQ(t.records[0].id, "ckpt-5-6");
        ASSERT_EQ_INT(unlink(path), 0);
        snprintf(path, sizeof(path), "%s/sub", dir);
        ASSERT_EQ_INT(rmdir(path), 0);
        ASSERT_EQ_INT(rmdir(dir), 0);
}

static void assert_argv(char *const *argv, const char *const *expect)
{
        size_t i = 0;

        for (; expect[i]; i++)
                ASSERT_STREQ(argv[i], expect[i]);
        ASSERT_TRUE(argv[i] == NULL);
}

static void test_argv(void)
{
        CriuArgv a;

        criu_argv_check(&a, "/usr/sbin/criu");
        assert_argv(a.argv, (const char *const[]){"/usr/sbin/criu", "check", NULL});
        criu_argv_dump(&a, "/usr/sbin/criu", "/var/lib/memguard/checkpoints/ckpt-1-2", 2147483647);
        assert_argv(a.argv, (const char *const[]){"/usr/sbin/criu", "dump", "--tree", "2147483647", "--images-dir",
                                                   "/var/lib/memguard/checkpoints/ckpt-1-2", "--log-file",
                                                   "dump.log", "--shell-job", NULL});
        /* No "--leave-running": a successful dump kills the tree, which is the point. */
        for (size_t i = 0; a.argv[i]; i++)
                ASSERT_TRUE(strcmp(a.argv[i], "--leave-running") != 0 && strcmp(a.argv[i], "-R") != 0);
        criu_argv_restore(&a, "/usr/sbin/criu", "/d/ckpt-1-2");
        assert_argv(a.argv, (const char *const[]){"/usr/sbin/criu", "restore", "--images-dir", "/d/ckpt-1-2",
                                                   "--restore-detached", "--shell-job", "--log-file",
                                                   "restore.log", "--pidfile", "restore.pid", NULL});
}

static void test_dumpable(void)
{
        ProcEntry e[6] = {
                {.pid = 100, .ppid = 1},   {.pid = 101, .ppid = 100}, {.pid = 102, .ppid = 101},
                {.pid = 103, .ppid = 100}, {.pid = 200, .ppid = 1},   {.pid = 201, .ppid = 200},
        };
        const ProcEntry *p[6];

        for (size_t i = 0; i < 6; i++)
                p[i] = &e[i];
        ASSERT_OK(checkpoint_app_dumpable(p, 4, 100));
        /* Order does not matter: a grandchild listed before its parent. */
        {
                const ProcEntry *q[4] = {&e[2], &e[3], &e[1], &e[0]};
                ASSERT_OK(checkpoint_app_dumpable(q, 4, 100));
        }
        ASSERT_ERR(checkpoint_app_dumpable(p, 6, 100), -EXDEV); /* 200 and 201 are another tree */
        ASSERT_ERR(checkpoint_app_dumpable(p, 4, 101), -EXDEV); /* 100 is the parent of the root */
        ASSERT_ERR(checkpoint_app_dumpable(p, 4, 999), -EINVAL);
        ASSERT_ERR(checkpoint_app_dumpable(p, 4, 1), -EINVAL);
        ASSERT_ERR(checkpoint_app_dumpable(p, CHECKPOINT_MAX_PROCS + 1, 100), -E2BIG);
        ASSERT_OK(checkpoint_app_dumpable(p, 1, 100));
}

static void test_drops(void)
{
        _cleanup_(checkpoint_set_done) CheckpointSet s = {};
        bool drop[8];
        static const char *const ids[] = {"a", "b", "c", "d", "e"};
        static const uint64_t created[] = {1000, 2000, 3000, 4000, 5000};

        for (size_t i = 0; i < 5; i++) {
                CheckpointRecord c = record(ids[i], created[i], i == 1 ? CHECKPOINT_RESTORE_FAILED : CHECKPOINT_DUMPED);
                ASSERT_OK(checkpoint_set_add(&s, &c));
        }
        /* Keep the newest 3, no age limit: a and b go. */
        ASSERT_EQ_INT(checkpoint_select_drops(&s, 6000, 3, 0, NULL, drop), 2);
        ASSERT_TRUE(drop[0] && drop[1] && !drop[2] && !drop[3] && !drop[4]);
        /* Older than 2500 s at 6000: a, b and c (created 3000 is 3000 s old). */
        ASSERT_EQ_INT(checkpoint_select_drops(&s, 6000, 10, 2500, NULL, drop), 3);
        ASSERT_TRUE(drop[0] && drop[1] && drop[2] && !drop[3] && !drop[4]);
        /* Exactly max_age old is kept. */
        ASSERT_EQ_INT(checkpoint_select_drops(&s, 6000, 10, 3000, NULL, drop), 2);
        ASSERT_TRUE(drop[0] && drop[1] && !drop[2]);
        /* The one being restored is never dropped, and counts against keep. */
        ASSERT_EQ_INT(checkpoint_select_drops(&s, 6000, 1, 0, "a", drop), 4);
        ASSERT_TRUE(!drop[0] && drop[1] && drop[2] && drop[3] && drop[4]);
        /* keep 0 drops everything not busy; a clock set back drops nothing for age. */
        ASSERT_EQ_INT(checkpoint_select_drops(&s, 6000, 0, 0, NULL, drop), 5);
        ASSERT_EQ_INT(checkpoint_select_drops(&s, 10, 10, 1, NULL, drop), 0);
}

static void test_summarize(void)
{
        static const char check_out[] =
                "Error (criu/util.c:642): exited, status=1\n"
                "Error (criu/util.c:642): exited, status=1\n"
                "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n"
                "Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\n"
                "Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.\n"
                "Error (criu/crtools.c:260): Could not initialize kernel features detection.\n";
        char buf[128], tiny[8];

        criu_summarize(check_out, strlen(check_out), buf, sizeof(buf));
        ASSERT_STREQ(buf, "vdso: Unexpected rt vDSO area bounds");
        criu_summarize("Error (a.c:1): exited, status=3\n", 32, buf, sizeof(buf));
        ASSERT_STREQ(buf, "Error (a.c:1): exited, status=3");
        criu_summarize("Looks good.\n\n", 13, buf, sizeof(buf));
        ASSERT_STREQ(buf, "Looks good.");
        criu_summarize("", 0, buf, sizeof(buf));
        ASSERT_STREQ(buf, "no output");
        criu_summarize("Error (x): bad\x1b[31m\r\n", 20, buf, sizeof(buf));
        ASSERT_STREQ(buf, "bad?[31m");
        criu_summarize(check_out, strlen(check_out), tiny, sizeof(tiny));
        ASSERT_STREQ(tiny, "vdso: U");
        /* No NUL needed in the input. */
        criu_summarize("Error (x): abcdef", 13, buf, sizeof(buf));
        ASSERT_STREQ(buf, "ab");
}

static void test_remove_dir(void)
{
        char dir[] = "/tmp/memguard-test-checkpoint.XXXXXX", p[128], q[256], victim[256];
        int fd;

        ASSERT_TRUE(mkdtemp(dir));
        snprintf(victim, sizeof(victim), "%s/victim", dir);
        ASSERT_TRUE((fd = open(victim, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0);
        close(fd);

        /* An images directory with files and a symlink: the link goes, not its target. */
        snprintf(p, sizeof(p), "%s/ckpt-1-2", dir);
        ASSERT_EQ_INT(mkdir(p, 0700), 0);
        snprintf(q, sizeof(q), "%s/pages-1.img", p);
        ASSERT_TRUE((fd = open(q, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0);
        close(fd);
        snprintf(q, sizeof(q), "%s/link", p);
        ASSERT_EQ_INT(symlink(victim, q), 0);
        ASSERT_OK(checkpoint_remove_dir(p));
        ASSERT_TRUE(access(p, F_OK) < 0);
        ASSERT_EQ_INT(access(victim, F_OK), 0);
        ASSERT_OK(checkpoint_remove_dir(p)); /* gone already */

        /* A symlink as the directory itself is refused. */
        snprintf(p, sizeof(p), "%s/ckpt-link", dir);
        ASSERT_EQ_INT(symlink(dir, p), 0);
        ASSERT_TRUE(checkpoint_remove_dir(p) < 0);
        ASSERT_EQ_INT(access(victim, F_OK), 0);
        ASSERT_EQ_INT(unlink(p), 0);

        /* A subdirectory is left alone. */
        snprintf(p, sizeof(p), "%s/ckpt-sub", dir);
        ASSERT_EQ_INT(mkdir(p, 0700), 0);
        snprintf(q, sizeof(q), "%s/sub", p);
        ASSERT_EQ_INT(mkdir(q, 0700), 0);
        ASSERT_ERR(checkpoint_remove_dir(p), -ENOTEMPTY);
        ASSERT_EQ_INT(rmdir(q), 0);
        ASSERT_OK(checkpoint_remove_dir(p));

        ASSERT_EQ_INT(unlink(victim), 0);
        ASSERT_EQ_INT(rmdir(dir), 0);
}

int main(void)
{
        log_setup(LOG_TARGET_CONSOLE);
        RUN(test_round_trip);
        RUN(test_hostile);
        RUN(test_file);
        RUN(test_argv);
        RUN(test_dumpable);
        RUN(test_drops);
        RUN(test_summarize);
        RUN(test_remove_dir);
        return 0;
}
