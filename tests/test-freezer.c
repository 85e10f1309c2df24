/* SPDX-License-Identifier: MIT */
/*
 * Freezer and registry, on real processes and real cgroups: SIGSTOP and
 * cgroup.freeze, the refusal of a cgroup holding a stranger, the registry
 * written before anything is frozen, thawing after a crash, PID reuse, hostile
 * registry files, and 50 rounds of a freezing process SIGKILLed at random.
 *
 * The cgroup parts need root and a cgroup2 mount (found in mountinfo); without
 * them they are skipped with a message. Every process started here is killed
 * by PID and reaped, every cgroup removed, also when an assertion aborts.
 */
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "cgroup-util.h"
#include "fileio.h"
#include "freezer.h"
#include "proc.h"
#include "log.h"
#include "macro.h"
#include "registry.h"
#include "test.h"

#define MAX_TRACKED 256
#define N_SLOTS 512

static pid_t tracked[MAX_TRACKED];
static char *cgroups[MAX_TRACKED];
static size_t n_cgroups;
static char tmpdir[] = "/tmp/test-freezer-XXXXXX";
static char *ro_mount;
static _Atomic uint64_t *counters; /* one per worker slot, shared with the workers */
static _Atomic int *worker_pids;   /* the PID in each slot, as the worker saw it */
static size_t next_slot;
static char *cg_root; /* our parent test cgroup, or NULL if cgroups cannot be used */
static pid_t test_pid;

/* ---- cleanup ---------------------------------------------------------------------------------- */

static void track(pid_t pid)
{
        for (size_t i = 0; i < MAX_TRACKED; i++)
                if (tracked[i] == 0) {
                        tracked[i] = pid;
                        return;
                }
        ASSERT_TRUE(!"too many processes");
}

static void reap(pid_t pid)
{
        for (size_t i = 0; i < MAX_TRACKED; i++)
                if (tracked[i] == pid) {
                        kill(pid, SIGKILL);
                        (void)waitpid(pid, NULL, 0);
                        tracked[i] = 0;
                }
}

static void cg_write(const char *cg, const char *file, const char *s)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", cg, file);
        (void)write_string_file_at(AT_FDCWD, path, s, 0);
}

static void cg_rmdir(const char *cg)
{
        cg_write(cg, "cgroup.kill", "1");
        cg_write(cg, "cgroup.freeze", "0");
        for (int i = 0; i < 200; i++) { /* killed tasks leave asynchronously */
                if (rmdir(cg) == 0 || errno == ENOENT)
                        return;
                usleep(10000);
        }
        fprintf(stderr, "warning: could not remove %s: %m\n", cg);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)remove(path);
        return 0;
}

static void cleanup(void)
{
        if (getpid() != test_pid)
                return;
        for (size_t i = 0; i < MAX_TRACKED; i++)
                if (tracked[i] > 0)
                        reap(tracked[i]);
        for (size_t i = n_cgroups; i > 0; i--)
                cg_rmdir(cgroups[i - 1]);
        n_cgroups = 0;
        if (ro_mount)
                (void)umount2(ro_mount, MNT_DETACH);
        ro_mount = NULL;
        if (tmpdir[strlen(tmpdir) - 1] != 'X')
                (void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_abort(int sig)
{
        cleanup();
        signal(sig, SIG_DFL);
        raise(sig);
}

/* ---- processes -------------------------------------------------------------------------------- */

static void worker_loop(size_t slot)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        atomic_store(&worker_pids[slot], (int)getpid());
        for (;;) {
                atomic_fetch_add(&counters[slot], 1);
                usleep(1000);
        }
}

/* A child that counts in counters[slot]; with_child: it forks a grandchild counting in slot + 1. */
static pid_t spawn(size_t *ret_slot, bool with_child)
{
        size_t slot = next_slot;
        pid_t pid;

        next_slot += 2;
        ASSERT_TRUE(next_slot < N_SLOTS);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != test_pid)
                        _exit(0);
                if (with_child && fork() == 0)
                        worker_loop(slot + 1);
                worker_loop(slot);
        }
        track(pid);
        if (ret_slot)
                *ret_slot = slot;
        return pid;
}

static uint64_t counter(size_t slot)
{
        return atomic_load(&counters[slot]);
}

static int stat_of(pid_t pid, char *state, pid_t *ppid, uint64_t *start_time)
{
        char path[64], buf[2048];
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        n = read_file_at(AT_FDCWD, path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        {
                ProcStat st;
                int r = proc_stat_parse(buf, (size_t)n, &st);
                if (r < 0)
                        return r;
                if (state)
                        *state = st.state;
                if (ppid)
                        *ppid = st.ppid;
                if (start_time)
                        *start_time = st.start_time;
                return 0;
        }
}

static char state_of(pid_t pid)
{
        char s = '?';
        ASSERT_OK(stat_of(pid, &s, NULL, NULL));
        return s;
}

static bool wait_state(pid_t pid, bool stopped, unsigned ms)
{
        for (unsigned i = 0; i <= ms / 5; i++) {
                if ((state_of(pid) == 'T') == stopped)
                        return true;
                usleep(5000);
        }
        return false;
}

/* Still running: not stopped now, nor a moment later (no stop was pending). */
static void assert_running(pid_t pid)
{
        ASSERT_TRUE(wait_state(pid, false, 2000));
        usleep(20000);
        ASSERT_TRUE(state_of(pid) != 'T');
}

static bool progresses(size_t slot)
{
        for (int i = 0; i < 100; i++) {
                uint64_t a = counter(slot);
                usleep(20000);
                if (counter(slot) > a)
                        return true;
        }
        return false;
}

static bool stands_still(size_t slot)
{
        uint64_t a = counter(slot);
        usleep(300000);
        return counter(slot) == a;
}

static ProcEntry entry_for(pid_t pid, bool with_pidfd)
{
        ProcEntry e = {.pid = pid, .uid = getuid(), .pidfd = -1};

        ASSERT_OK(stat_of(pid, &e.state, &e.ppid, &e.start_time));
        snprintf(e.comm, sizeof(e.comm), "test-freezer");
        if (with_pidfd) {
                e.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
                ASSERT_TRUE(e.pidfd >= 0);
        }
        return e;
}

/* ---- cgroups ---------------------------------------------------------------------------------- */

static char *cg_make(const char *name)
{
        char *p;

        ASSERT_TRUE(asprintf(&p, "%s/%s", cg_root, name) > 0);
        ASSERT_TRUE(mkdir(p, 0755) == 0);
        cgroups[n_cgroups++] = p;
        return p;
}

static void cg_move(const char *cg, pid_t pid)
{
        char path[4096], s[32];

        snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
        snprintf(s, sizeof(s), "%d", (int)pid);
        ASSERT_OK(write_string_file_at(AT_FDCWD, path, s, 0));
}

static bool cg_wait_frozen(const char *cg, int want)
{
        for (int i = 0; i < 400; i++) { /* up to 2 s */
                if (freezer_cgroup_frozen(cg) == want)
                        return true;
                usleep(5000);
        }
        return false;
}

static void cg_setup(void)
{
        _cleanup_close_ int procfd = -1;
        _cleanup_free_ char *mount = NULL;
        char path[4096];
        struct stat st;

        if (geteuid() != 0) {
                printf("SKIP cgroup parts: not root\n");
                return;
        }
        procfd = open_dir_at(AT_FDCWD, "/proc");
        if (procfd < 0 || cg_v2_mount_find_at(procfd, &mount) < 0) {
                printf("SKIP cgroup parts: no cgroup2 mount\n");
                return;
        }
        snprintf(path, sizeof(path), "%s/memguard-test-freezer-%d", mount, (int)getpid());
        if (mkdir(path, 0755) < 0) {
                printf("SKIP cgroup parts: cannot create %s: %s\n", path, strerror(errno));
                return;
        }
        cgroups[n_cgroups++] = strdup(path);
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "/cgroup.freeze");
        if (stat(path, &st) < 0) {
                printf("SKIP cgroup parts: no cgroup.freeze (kernel < 5.2?)\n");
                return;
        }
        cg_root = cgroups[n_cgroups - 1];
        fprintf(stderr, "cgroup tests under %s\n", cg_root);
}

/* ---- registry helpers ------------------------------------------------------------------------- */

static char *tmp_path(const char *name)
{
        char *p;
        ASSERT_TRUE(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        return p;
}

static size_t registry_count(const char *path, const char *key)
{
        _cleanup_(registry_done) Registry r = {};

        ASSERT_OK(registry_load(path, &r, NULL));
        return key ? (registry_find(&r, key) ? 1 : 0) : r.n;
}

static void copy_fixture(const char *name, const char *dest)
{
        _cleanup_free_ char *buf = NULL;
        char src[4096];
        size_t size;
        FILE *f;

        snprintf(src, sizeof(src), "%s/registry/%s", FIXTURES_DIR, name);
        ASSERT_OK(read_full_file_at(AT_FDCWD, src, 1 << 20, &buf, &size));
        f = fopen(dest, "we");
        ASSERT_TRUE(f);
        ASSERT_TRUE(fwrite(buf, 1, size, f) == size);
        ASSERT_TRUE(fclose(f) == 0);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_parse_pending(void)
{
        static const struct {
                const char *in;
                int ret;
                uint64_t mask;
        } t[] = {
                {"Name:\tx\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000040000\nSigBlk:\t0\n", 0, 0x40000},
                {"SigPnd:\t0000000000000100\nShdPnd:\t0000000000000000\n", 0, 0x100},
                {"ShdPnd:\t0000000000040000", 0, 0x40000},
                {"Name:\tSigPnd:\t1\n", -EBADMSG},
                {"SigPnd:\t00000000000000001\n", -EBADMSG},
                {"SigPnd:\t0x40000\n", -EBADMSG},
                {"SigPnd:\t\n", -EBADMSG},
                {"", -EBADMSG},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                uint64_t mask = 7;
                int r = freezer_parse_pending(t[i].in, strlen(t[i].in), &mask);

                ASSERT_ERR(r, t[i].ret);
                ASSERT_EQ_U64(mask, r == 0 ? t[i].mask : 7);
        }
}

static void test_default_path(void)
{
        _cleanup_free_ char *sys = NULL, *user = NULL, *home = NULL, *run = NULL;
        char *out = NULL;

        ASSERT_OK(registry_default_path(true, &sys));
        ASSERT_STREQ(sys, RUNSTATEDIR "/frozen.json");
        setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
        ASSERT_OK(registry_default_path(false, &run));
        ASSERT_STREQ(run, "/run/user/1000/memguard/frozen.json");
        unsetenv("XDG_RUNTIME_DIR");
        setenv("XDG_STATE_HOME", "/state", 1);
        ASSERT_OK(registry_default_path(false, &user));
        ASSERT_STREQ(user, "/state/memguard/frozen.json");
        setenv("XDG_STATE_HOME", "relative", 1);
        setenv("HOME", "/home/u", 1);
        ASSERT_OK(registry_default_path(false, &home));
        ASSERT_STREQ(home, "/home/u/.local/state/memguard/frozen.json");
        unsetenv("XDG_STATE_HOME");
        unsetenv("HOME");
        ASSERT_ERR(registry_default_path(false, &out), -ENXIO);
        ASSERT_TRUE(!out);
}

static void test_registry_roundtrip(void)
{
        _cleanup_(registry_done) Registry r = {}, back = {};
        _cleanup_free_ char *path = tmp_path("roundtrip/sub/frozen.json"), *text = NULL;
        RegistryProc procs[] = {{4000000, 5}, {4000001, UINT64_MAX}};
        RegistryEntry e = {.key = xstrdup("k\"ey/\\"),
                           .name = xstrdup("näme"),
                           .uid = 1000,
                           .method = FREEZE_METHOD_CGROUP,
                           .cgroup = xstrdup("/sys/fs/cgroup/a b.scope"),
                           .procs = xmalloc0(sizeof(procs)),
                           .n_procs = 2,
                           .frozen_since = 1700000000,
                           .reason = NULL};
        struct stat st;
        size_t skipped = 99;

        memcpy(e.procs, procs, sizeof(procs));
        ASSERT_OK(registry_add(&r, &e));
        ASSERT_TRUE(!e.key);
        ASSERT_OK(registry_save(&r, path));
        ASSERT_OK(registry_save(&r, path)); /* over an existing file */
        ASSERT_OK(stat(path, &st));
        ASSERT_EQ_INT(st.st_mode & 07777, 0600);
        {
                _cleanup_free_ char *dir = tmp_path("roundtrip/sub");
                ASSERT_OK(stat(dir, &st));
                ASSERT_EQ_INT(st.st_mode & 07777, 0700);
        }
        ASSERT_OK(registry_load(path, &back, &skipped));
        ASSERT_EQ_INT(skipped, 0);
        ASSERT_EQ_INT(back.n, 1);
        ASSERT_STREQ(back.entries[0].key, "k\"ey/\\");
        ASSERT_STREQ(back.entries[0].name, "näme");
        ASSERT_STREQ(back.entries[0].cgroup, "/sys/fs/cgroup/a b.scope");
        ASSERT_TRUE(!back.entries[0].reason);
        ASSERT_EQ_INT(back.entries[0].uid, 1000);
        ASSERT_EQ_INT(back.entries[0].method, FREEZE_METHOD_CGROUP);
        ASSERT_EQ_INT(back.entries[0].n_procs, 2);
        ASSERT_EQ_U64(back.entries[0].procs[1].start_time, UINT64_MAX);
        ASSERT_EQ_U64(back.entries[0].frozen_since, 1700000000);
        ASSERT_OK(registry_format(&back, &text));
        ASSERT_TRUE(strstr(text, "\"sys/fs") == NULL && strstr(text, "/sys/fs/cgroup/a b.scope"));

        ASSERT_ERR(registry_remove(&back, "nope"), -ENOENT);
        ASSERT_OK(registry_remove(&back, "k\"ey/\\"));
        ASSERT_EQ_INT(back.n, 0);
        /* a missing file is an empty registry */
        {
                _cleanup_(registry_done) Registry none = {};
                _cleanup_free_ char *missing = tmp_path("no/such/frozen.json");
                ASSERT_OK(registry_load(missing, &none, NULL));
                ASSERT_EQ_INT(none.n, 0);
        }
}

static void test_registry_fixtures(void)
{
        static const struct {
                const char *file;
                int ret;
                size_t n, skipped;
        } t[] = {
                {"valid.json", 0, 2, 0},
                {"truncated.json", -EBADMSG},
                {"trailing-garbage.json", -EBADMSG},
                {"not-object.json", -EBADMSG},
                {"no-entries.json", -EBADMSG},
                {"entries-not-array.json", -EBADMSG},
                {"empty.json", -EBADMSG},
                {"wrong-types.json", 0, 2, 13},
                {"bad-pids.json", 0, 1, 15},
                {"huge-numbers.json", 0, 2, 4},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(registry_done) Registry r = {};
                char path[4096];
                size_t skipped = 12345;
                int k;

                snprintf(path, sizeof(path), "%s/registry/%s", FIXTURES_DIR, t[i].file);
                k = registry_load(path, &r, &skipped);
                fprintf(stderr, "  %s -> %d, %zu entries, %zu skipped\n", t[i].file, k, r.n, skipped);
                ASSERT_ERR(k, t[i].ret);
                if (k < 0) {
                        ASSERT_EQ_INT(skipped, 12345);
                        continue;
                }
                ASSERT_EQ_INT(r.n, t[i].n);
                ASSERT_EQ_INT(skipped, t[i].skipped);
                for (size_t j = 0; j < r.n; j++) {
                        for (size_t p = 0; p < r.entries[j].n_procs; p++)
                                ASSERT_TRUE(r.entries[j].procs[p].pid > 1);
                        if (r.entries[j].method == FREEZE_METHOD_CGROUP)
                                ASSERT_TRUE(r.entries[j].cgroup && r.entries[j].cgroup[0] == '/');
                }
                if (strcmp(t[i].file, "wrong-types.json") == 0) {
                        RegistryEntry *g = registry_find(&r, "good1");
                        ASSERT_TRUE(g && !g->name && !g->reason && g->uid == REGISTRY_UID_INVALID);
                        ASSERT_EQ_U64(g->frozen_since, 0);
                        ASSERT_EQ_INT(g->procs[0].pid, 4000003); /* the first of the duplicates */
                }
                if (strcmp(t[i].file, "huge-numbers.json") == 0) {
                        RegistryEntry *b = registry_find(&r, "big");
                        ASSERT_TRUE(b && b->n_procs == 1 && b->uid == REGISTRY_UID_INVALID);
                        ASSERT_EQ_U64(b->procs[0].start_time, UINT64_MAX);
                        ASSERT_EQ_U64(b->frozen_since, 0);
                }
        }

        /* Every fixture through the whole path: load, move aside if corrupt, thaw, rewrite. */
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *dest = tmp_path("fixture.json"), *aside = NULL;
                struct stat st;
                int k;

                ASSERT_TRUE(asprintf(&aside, "%s.corrupt", dest) > 0);
                (void)unlink(aside);
                copy_fixture(t[i].file, dest);
                k = freezer_load_and_thaw_all(dest);
                if (t[i].ret < 0) {
                        ASSERT_ERR(k, t[i].ret);
                        ASSERT_OK(stat(aside, &st)); /* kept for a human to look at */
                } else
                        ASSERT_EQ_INT(k, t[i].n); /* nothing alive: each entry is thawed by dropping it */
                ASSERT_EQ_INT(registry_count(dest, NULL), 0);
        }
}

static void test_registry_generated(void)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_(registry_done) Registry r = {};
        size_t skipped = 0, len = 0, size = 10000 * 100 + 64;
        const size_t deep = 100000;

        /* 10,000 entries: the first 4096 are kept */
        buf = xmalloc0(size);
        len += (size_t)snprintf(buf, size, "{\"version\":1,\"entries\":[");
        for (unsigned i = 0; i < 10000; i++)
                len += (size_t)snprintf(buf + len, size - len,
                                        "%s{\"key\":\"k%u\",\"method\":\"sigstop\",\"procs\":[{\"pid\":%u,"
                                        "\"start_time\":1}]}",
                                        i ? "," : "", i, 4000000 + i % 100000);
        len += (size_t)snprintf(buf + len, size - len, "]}");
        log_set_max_level(LOG_INFO);
        ASSERT_OK(registry_parse(buf, len, &r, &skipped));
        log_set_max_level(LOG_DEBUG);
        ASSERT_EQ_INT(r.n, REGISTRY_MAX_ENTRIES);
        ASSERT_EQ_INT(skipped, 10000 - REGISTRY_MAX_ENTRIES);
        free(buf);

        /* nesting far deeper than json-c's limit */
        buf = xmalloc0(2 * deep + 32);
        len = (size_t)sprintf(buf, "{\"entries\":");
        memset(buf + len, '[', deep);
        memset(buf + len + deep, ']', deep);
        len += 2 * deep;
        buf[len++] = '}';
        ASSERT_ERR(registry_parse(buf, len, &r, &skipped), -EBADMSG);
        free(buf);
        buf = NULL;

        /* a NUL inside a key, and NUL after the object */
        {
                static const char nul_key[] = "{\"entries\":[{\"key\":\"a\\u0000b\",\"method\":\"sigstop\","
                                              "\"procs\":[{\"pid\":4000000,\"start_time\":1}]}]}";
                _cleanup_(registry_done) Registry r2 = {};
                ASSERT_OK(registry_parse(nul_key, strlen(nul_key), &r2, &skipped));
                ASSERT_EQ_INT(r2.n, 0);
                ASSERT_EQ_INT(skipped, 1);
                ASSERT_ERR(registry_parse("{\"entries\":[]}\0", 15, &r2, &skipped), -EBADMSG);
        }

        /* too large for a registry */
        {
                _cleanup_free_ char *path = tmp_path("huge.json");
                _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                ASSERT_TRUE(fd >= 0);
                ASSERT_OK(ftruncate(fd, REGISTRY_FILE_MAX + 1));
                ASSERT_ERR(registry_load(path, &r, &skipped), -EFBIG);
                ASSERT_ERR(freezer_load_and_thaw_all(path), -EFBIG);
        }
}

static void test_sigstop(void)
{
        _cleanup_(freezer_freep) Freezer *f = NULL;
        _cleanup_free_ char *path = tmp_path("a/state/frozen.json");
        _cleanup_free_ FrozenProcess *rows = NULL;
        char **keys = NULL;
        size_t slot[4], n_rows;
        pid_t pid[4];
        ProcEntry e[4];
        const ProcEntry *ep[4];
        struct stat st;

        for (int i = 0; i < 4; i++) {
                pid[i] = spawn(&slot[i], false);
                e[i] = entry_for(pid[i], i % 2); /* with and without a pidfd of the caller's */
                ep[i] = &e[i];
        }
        ASSERT_OK(freezer_new(path, &f));
        ASSERT_EQ_INT(f->load_error, 0);

        /* pid 3 was stopped by its user (Ctrl-Z): it is left out, and stays stopped after the thaw */
        kill(pid[3], SIGSTOP);
        ASSERT_TRUE(wait_state(pid[3], true, 2000));
        e[3].state = 'T';

        ASSERT_EQ_INT(freezer_freeze(f, "app-a", "a", getuid(), NULL, ep, 4, "test"), FREEZE_METHOD_SIGSTOP);
        for (int i = 0; i < 3; i++) {
                ASSERT_TRUE(wait_state(pid[i], true, 2000));
                ASSERT_TRUE(stands_still(slot[i]));
        }
        ASSERT_EQ_INT(registry_count(path, "app-a"), 1);
        ASSERT_EQ_INT(freezer_get(f, "app-a")->n_procs, 3);
        ASSERT_OK(stat(path, &st));
        ASSERT_EQ_INT(st.st_mode & 07777, 0600);
        ASSERT_STREQ(freezer_key_for_pid(f, pid[1]), "app-a");
        ASSERT_TRUE(!freezer_key_for_pid(f, pid[3]));
        ASSERT_STREQ(freezer_oldest(f), "app-a");
        ASSERT_OK(freezer_list(f, &rows, &n_rows));
        ASSERT_EQ_INT(n_rows, 3);
        ASSERT_EQ_INT(rows[0].pid, pid[0]);
        ASSERT_STREQ(rows[0].name, "a");
        ASSERT_EQ_U64(rows[0].memory, UINT64_MAX);

        /* the cap on frozen time */
        ASSERT_EQ_INT(freezer_expired(f, freezer_get(f, "app-a")->frozen_since_mono + 5 * USEC_PER_SEC,
                                      10 * USEC_PER_SEC, &keys),
                      0);
        keys = freezer_keys_free(keys);
        ASSERT_EQ_INT(freezer_expired(f, freezer_get(f, "app-a")->frozen_since_mono + 10 * USEC_PER_SEC,
                                      10 * USEC_PER_SEC, &keys),
                      1);
        ASSERT_STREQ(keys[0], "app-a");
        ASSERT_TRUE(!keys[1]);
        keys = freezer_keys_free(keys);

        /* bad requests change nothing */
        ASSERT_ERR(freezer_freeze(f, "app-a", "a", 0, NULL, ep, 1, NULL), -EEXIST);
        ASSERT_ERR(freezer_freeze(f, "", "a", 0, NULL, ep, 1, NULL), -EINVAL);
        ASSERT_ERR(freezer_freeze(f, "x", "a", 0, NULL, ep, 0, NULL), -EINVAL);
        ASSERT_ERR(freezer_freeze(f, "x", "a", 0, "relative", ep, 1, NULL), -EINVAL);
        {
                ProcEntry init = {.pid = 1, .pidfd = -1}, self = entry_for(getpid(), false);
                const ProcEntry *ip[] = {&init}, *sp[] = {&self};
                ASSERT_ERR(freezer_freeze(f, "x", "init", 0, NULL, ip, 1, NULL), -EINVAL);
                ASSERT_ERR(freezer_freeze(f, "x", "self", 0, NULL, sp, 1, NULL), -EINVAL);
        }
        ASSERT_ERR(freezer_freeze(f, "x", "stopped", 0, NULL, &ep[3], 1, NULL), -EALREADY);
        ASSERT_ERR(freezer_freeze(f, "x", "overlap", 0, NULL, &ep[2], 2, NULL), -EBUSY);
        ASSERT_ERR(freezer_thaw(f, "nope"), -ENOENT);
        ASSERT_EQ_INT(freezer_n_frozen(f), 1);

        ASSERT_OK(freezer_thaw(f, "app-a"));
        for (int i = 0; i < 3; i++) {
                assert_running(pid[i]);
                ASSERT_TRUE(progresses(slot[i]));
        }
        ASSERT_EQ_INT(state_of(pid[3]), 'T');
        ASSERT_EQ_INT(registry_count(path, NULL), 0);
        ASSERT_EQ_INT(freezer_n_frozen(f), 0);

        {
                /* No pidfd and another struct pid's inode number: someone else, never
                 * stopped; with its own, it is. */
                ProcEntry other = entry_for(pid[1], false);
                const ProcEntry *op[] = {&other};
                struct stat sb;
                int fd = (int)syscall(SYS_pidfd_open, pid[1], 0);

                ASSERT_TRUE(fd >= 0);
                ASSERT_OK(fstat(fd, &sb));
                close(fd);
                other.pid_ino = (uint64_t)sb.st_ino + 1;
                ASSERT_ERR(freezer_freeze(f, "x", "other", 0, NULL, op, 1, NULL), -ESRCH);
                ASSERT_TRUE(!freezer_get(f, "x"));
                assert_running(pid[1]);
                ASSERT_TRUE(progresses(slot[1]));
                other.pid_ino--;
                ASSERT_EQ_INT(freezer_freeze(f, "x", "other", 0, NULL, op, 1, NULL), FREEZE_METHOD_SIGSTOP);
                ASSERT_TRUE(wait_state(pid[1], true, 2000));
                ASSERT_OK(freezer_thaw(f, "x"));
                assert_running(pid[1]);
        }

        /* freeze and thaw at once, many times: the asynchronous stop never outlives the thaw */
        for (int round = 0; round < 50; round++) {
                ASSERT_EQ_INT(freezer_freeze(f, "quick", "q", 0, NULL, ep, 3, NULL), FREEZE_METHOD_SIGSTOP);
                ASSERT_OK(freezer_thaw(f, "quick"));
        }
        for (int i = 0; i < 3; i++)
                assert_running(pid[i]);

        /* a process that exited while frozen: its thaw is not an error */
        ASSERT_EQ_INT(freezer_freeze(f, "gone", "g", 0, NULL, ep, 2, NULL), FREEZE_METHOD_SIGSTOP);
        reap(pid[0]);
        ASSERT_OK(freezer_thaw(f, "gone"));
        assert_running(pid[1]);
        ASSERT_ERR(freezer_freeze(f, "gone", "g", 0, NULL, ep, 1, NULL), -ESRCH);

        for (int i = 0; i < 4; i++) {
                safe_close(e[i].pidfd);
                reap(pid[i]);
        }
}

static void test_cgroup(void)
{
        _cleanup_(freezer_freep) Freezer *f = NULL;
        _cleanup_free_ char *path = tmp_path("b/frozen.json");
        size_t slot[4];
        pid_t pid[4];
        ProcEntry e[4];
        const ProcEntry *ep[4];
        char *cg, *cg2, *cg3;

        if (!cg_root) {
                printf("SKIP cgroup freezing: no usable cgroup2 here\n");
                return;
        }
        ASSERT_OK(freezer_new(path, &f));

        /* an app of two processes, one with a child of its own (not listed: a descendant) */
        cg = cg_make("app");
        cg_make("app/sub"); /* an empty child cgroup: frozen with it */
        pid[0] = spawn(&slot[0], true);
        pid[1] = spawn(&slot[1], false);
        ASSERT_TRUE(progresses(slot[0] + 1)); /* the grandchild runs */
        cg_move(cg, pid[0]);
        cg_move(cg, pid[1]);
        {
                char sub[4096];
                snprintf(sub, sizeof(sub), "%s/sub", cg);
                cg_move(sub, atomic_load(&worker_pids[slot[0] + 1]));
        }
        for (int i = 0; i < 2; i++) {
                e[i] = entry_for(pid[i], false);
                ep[i] = &e[i];
        }
        ASSERT_EQ_INT(freezer_freeze(f, "app-b", "b", 0, cg, ep, 2, "test"), FREEZE_METHOD_CGROUP);
        ASSERT_TRUE(cg_wait_frozen(cg, 1));
        ASSERT_TRUE(stands_still(slot[0]));
        ASSERT_TRUE(stands_still(slot[0] + 1));
        ASSERT_TRUE(stands_still(slot[1]));
        ASSERT_TRUE(state_of(pid[0]) != 'T'); /* frozen, not stopped */
        ASSERT_EQ_INT(freezer_get(f, "app-b")->method, FREEZE_METHOD_CGROUP);
        {
                _cleanup_(registry_done) Registry r = {};
                ASSERT_OK(registry_load(path, &r, NULL));
                ASSERT_STREQ(registry_find(&r, "app-b")->cgroup, cg);
        }
        /* the same processes under another key: refused */
        ASSERT_ERR(freezer_freeze(f, "app-b2", "b", 0, cg, ep, 1, NULL), -EBUSY);
        ASSERT_OK(freezer_thaw(f, "app-b"));
        ASSERT_TRUE(cg_wait_frozen(cg, 0));
        /* frozen by someone else: refused, since our thaw would undo their freeze */
        cg_write(cg, "cgroup.freeze", "1");
        ASSERT_ERR(freezer_freeze(f, "app-b", "b", 0, cg, ep, 2, NULL), -EALREADY);
        ASSERT_EQ_INT(freezer_n_frozen(f), 0);
        cg_write(cg, "cgroup.freeze", "0");
        ASSERT_TRUE(cg_wait_frozen(cg, 0));
        ASSERT_TRUE(progresses(slot[0]));
        ASSERT_TRUE(progresses(slot[0] + 1));
        ASSERT_TRUE(progresses(slot[1]));
        ASSERT_EQ_INT(registry_count(path, NULL), 0);

        /* a stranger in the cgroup: SIGSTOP for the listed ones only, the stranger runs on */
        pid[2] = spawn(&slot[2], false);
        cg_move(cg, pid[2]);
        ASSERT_EQ_INT(freezer_freeze(f, "app-c", "c", 0, cg, ep, 2, NULL), FREEZE_METHOD_SIGSTOP);
        ASSERT_TRUE(wait_state(pid[0], true, 2000));
        ASSERT_TRUE(wait_state(pid[1], true, 2000));
        ASSERT_TRUE(state_of(pid[2]) != 'T');
        ASSERT_TRUE(progresses(slot[2]));
        ASSERT_EQ_INT(freezer_cgroup_frozen(cg), 0);
        ASSERT_TRUE(!freezer_get(f, "app-c")->cgroup);
        ASSERT_OK(freezer_thaw(f, "app-c"));
        assert_running(pid[0]);
        assert_running(pid[1]);

        /* a listed process outside the cgroup: SIGSTOP too */
        cg2 = cg_make("other");
        pid[3] = spawn(&slot[3], false);
        cg_move(cg2, pid[3]);
        e[2] = entry_for(pid[3], false);
        ep[2] = &e[2];
        ASSERT_EQ_INT(freezer_freeze(f, "app-d", "d", 0, cg2, &ep[1], 2, NULL), FREEZE_METHOD_SIGSTOP);
        ASSERT_EQ_INT(freezer_cgroup_frozen(cg2), 0);
        ASSERT_OK(freezer_thaw(f, "app-d"));
        assert_running(pid[1]);
        assert_running(pid[3]);

        /* a cgroup removed while frozen: the thaw drops the entry */
        cg3 = cg_make("vanishing");
        reap(pid[3]);
        pid[3] = spawn(&slot[3], false);
        cg_move(cg3, pid[3]);
        e[2] = entry_for(pid[3], false);
        ASSERT_EQ_INT(freezer_freeze(f, "app-e", "e", 0, cg3, &ep[2], 1, NULL), FREEZE_METHOD_CGROUP);
        ASSERT_TRUE(cg_wait_frozen(cg3, 1));
        reap(pid[3]); /* SIGKILL reaches frozen tasks */
        for (int i = 0; i < 200 && rmdir(cg3) < 0; i++)
                usleep(10000);
        ASSERT_TRUE(access(cg3, F_OK) < 0);
        ASSERT_OK(freezer_thaw(f, "app-e"));
        ASSERT_EQ_INT(freezer_n_frozen(f), 0);
        ASSERT_EQ_INT(registry_count(path, NULL), 0);

        /* a directory that is no cgroup is never used */
        ASSERT_EQ_INT(freezer_freeze(f, "app-f", "f", 0, tmpdir, ep, 1, NULL), FREEZE_METHOD_SIGSTOP);
        ASSERT_OK(freezer_thaw(f, "app-f"));
        assert_running(pid[0]);

        for (int i = 0; i < 4; i++)
                reap(pid[i]);
}

static void test_registry_first(void)
{
        _cleanup_free_ char *file = tmp_path("c-file"), *bad = tmp_path("c-file/frozen.json");
        _cleanup_free_ char *dir = tmp_path("c-dir"), *good = tmp_path("c-dir/frozen.json");
        _cleanup_free_ char *inner = tmp_path("c-dir/frozen.json/x"), *ro = tmp_path("c-ro");
        const char *cg = NULL;
        size_t slot[2];
        pid_t pid[2];
        ProcEntry e[2];
        const ProcEntry *ep[2];
        int r;

        if (cg_root)
                cg = cg_make("registry-first");
        for (int i = 0; i < 2; i++) {
                pid[i] = spawn(&slot[i], false);
                if (cg)
                        cg_move(cg, pid[i]);
                e[i] = entry_for(pid[i], false);
                ep[i] = &e[i];
        }

        /* the registry's directory cannot exist: a file is in the way */
        {
                _cleanup_(freezer_freep) Freezer *f = NULL;
                FILE *x = fopen(file, "we");
                ASSERT_TRUE(x && fclose(x) == 0);
                ASSERT_OK(freezer_new(bad, &f));
                r = freezer_freeze(f, "app", "a", 0, cg, ep, 2, NULL);
                fprintf(stderr, "  parent is a file -> %d\n", r);
                ASSERT_ERR(r, -ENOTDIR);
                ASSERT_EQ_INT(freezer_n_frozen(f), 0);
        }
        /* the registry file cannot be replaced: a directory took its place */
        {
                _cleanup_(freezer_freep) Freezer *f = NULL;
                ASSERT_OK(freezer_new(good, &f));
                ASSERT_TRUE(mkdir(dir, 0700) == 0);
                ASSERT_TRUE(mkdir(good, 0700) == 0);
                ASSERT_TRUE(mkdir(inner, 0700) == 0);
                r = freezer_freeze(f, "app", "a", 0, cg, ep, 2, NULL);
                fprintf(stderr, "  registry is a directory -> %d\n", r);
                ASSERT_TRUE(r < 0);
                ASSERT_EQ_INT(freezer_n_frozen(f), 0);
        }
        /* a read-only file system (needs mount permission) */
        ASSERT_TRUE(mkdir(ro, 0700) == 0);
        if (mount("memguard-test", ro, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k") ==
            0) {
                _cleanup_(freezer_freep) Freezer *f = NULL;
                _cleanup_free_ char *rpath = tmp_path("c-ro/state/frozen.json");

                ro_mount = ro;
                ASSERT_OK(freezer_new(rpath, &f));
                ASSERT_ERR(freezer_freeze(f, "app", "a", 0, cg, ep, 2, NULL), -EROFS);
                ASSERT_OK(umount2(ro, MNT_DETACH));
                ro_mount = NULL;
        } else
                printf("SKIP read-only registry: cannot mount tmpfs: %s\n", strerror(errno));

        /* nothing was stopped or frozen by any of these */
        usleep(100000);
        for (int i = 0; i < 2; i++) {
                ASSERT_TRUE(state_of(pid[i]) != 'T');
                ASSERT_TRUE(progresses(slot[i]));
        }
        if (cg)
                ASSERT_EQ_INT(freezer_cgroup_frozen(cg), 0);
        for (int i = 0; i < 2; i++)
                reap(pid[i]);
}

/* Fork a stand-in daemon that freezes A (SIGSTOP) and B (its cgroup, if any), reports, and waits to be
 * killed. */
static pid_t fork_freezing_daemon(const char *path, const ProcEntry *const *a, size_t na, const char *cg,
                                  const ProcEntry *const *b, size_t nb)
{
        int pfd[2], status;
        pid_t child;
        char c;

        ASSERT_OK(pipe2(pfd, O_CLOEXEC));
        child = fork();
        ASSERT_TRUE(child >= 0);
        if (child == 0) {
                Freezer *f;

                safe_close(pfd[0]);
                if (freezer_new(path, &f) < 0)
                        _exit(1);
                if (freezer_freeze(f, "A", "a", 0, NULL, a, na, "test") != FREEZE_METHOD_SIGSTOP)
                        _exit(2);
                if (cg && freezer_freeze(f, "B", "b", 0, cg, b, nb, "test") != FREEZE_METHOD_CGROUP)
                        _exit(3);
                if (write(pfd[1], "x", 1) != 1)
                        _exit(4);
                for (;;)
                        pause();
        }
        track(child);
        safe_close(pfd[1]);
        if (read(pfd[0], &c, 1) != 1) {
                ASSERT_TRUE(waitpid(child, &status, 0) == child);
                fprintf(stderr, "freezing child failed: exit status %d\n", WEXITSTATUS(status));
                ASSERT_TRUE(!"freezing child failed");
        }
        safe_close(pfd[0]);
        return child;
}

static void test_restart(void)
{
        _cleanup_free_ char *path = tmp_path("d/frozen.json");
        const char *cg = cg_root ? cg_make("restart") : NULL;
        size_t slot[4];
        pid_t pid[4];
        ProcEntry e[4];
        const ProcEntry *ep[4];

        for (int i = 0; i < 4; i++) {
                pid[i] = spawn(&slot[i], false);
                if (i >= 2 && cg)
                        cg_move(cg, pid[i]);
                e[i] = entry_for(pid[i], false);
                ep[i] = &e[i];
        }

        /* a daemon that crashed with everything frozen */
        reap(fork_freezing_daemon(path, ep, 2, cg, ep + 2, 2));
        ASSERT_TRUE(wait_state(pid[0], true, 2000));
        ASSERT_TRUE(wait_state(pid[1], true, 2000));
        if (cg) {
                ASSERT_TRUE(cg_wait_frozen(cg, 1));
                ASSERT_TRUE(stands_still(slot[2]));
        }
        ASSERT_EQ_INT(registry_count(path, NULL), cg ? 2 : 1);

        /* its successor, or memguardd --thaw-all */
        ASSERT_EQ_INT(freezer_load_and_thaw_all(path), cg ? 2 : 1);
        for (int i = 0; i < 4; i++) {
                assert_running(pid[i]);
                ASSERT_TRUE(progresses(slot[i]));
        }
        if (cg)
                ASSERT_TRUE(cg_wait_frozen(cg, 0));
        ASSERT_EQ_INT(registry_count(path, NULL), 0);
        ASSERT_EQ_INT(freezer_load_and_thaw_all(path), 0);

        /* the same within one process: a Freezer freed without thawing */
        {
                Freezer *f = NULL;
                ASSERT_OK(freezer_new(path, &f));
                ASSERT_EQ_INT(freezer_freeze(f, "A", "a", 0, NULL, ep, 2, NULL), FREEZE_METHOD_SIGSTOP);
                f = freezer_free(f);
                ASSERT_TRUE(wait_state(pid[0], true, 2000));
                ASSERT_OK(freezer_new(path, &f));
                ASSERT_EQ_INT(freezer_n_frozen(f), 1); /* loaded, not thawed */
                ASSERT_EQ_INT(freezer_thaw_all(f), 1);
                f = freezer_free(f);
                assert_running(pid[0]);
                assert_running(pid[1]);
        }
        for (int i = 0; i < 4; i++)
                reap(pid[i]);
}

static void test_pid_reuse(void)
{
        _cleanup_free_ char *path = tmp_path("e/frozen.json"), *proc_freeze = NULL;
        _cleanup_(registry_done) Registry r = {};
        _cleanup_close_ int procfd = -1;
        _cleanup_free_ char *mount = NULL;
        ProcEntry s;
        size_t slot;
        pid_t stranger;
        int n = 0;

        /* a process stopped by someone else, whose PID the registry names with another start time */
        stranger = spawn(&slot, false);
        s = entry_for(stranger, false);
        kill(stranger, SIGSTOP);
        ASSERT_TRUE(wait_state(stranger, true, 2000));
        {
                RegistryEntry e = {.key = xstrdup("ghost"),
                                   .method = FREEZE_METHOD_SIGSTOP,
                                   .procs = xmalloc0(sizeof(RegistryProc)),
                                   .n_procs = 1,
                                   .uid = REGISTRY_UID_INVALID};
                e.procs[0] = (RegistryProc){stranger, s.start_time + 1};
                ASSERT_OK(registry_add(&r, &e));
                n++;
        }
        /* cgroup entries naming things that are no cgroup: never written to */
        {
                const char *paths[] = {tmpdir, "/proc/sys/vm", "/nonexistent/x.scope", NULL};
                procfd = open_dir_at(AT_FDCWD, "/proc");
                if (procfd >= 0 && cg_v2_mount_find_at(procfd, &mount) >= 0)
                        paths[3] = mount; /* the root cgroup has no cgroup.freeze */
                for (size_t i = 0; i < ELEMENTSOF(paths) && paths[i]; i++) {
                        RegistryEntry e = {.method = FREEZE_METHOD_CGROUP,
                                           .cgroup = xstrdup(paths[i]),
                                           .uid = REGISTRY_UID_INVALID};
                        ASSERT_TRUE(asprintf(&e.key, "cg%zu", i) > 0);
                        ASSERT_OK(registry_add(&r, &e));
                        n++;
                }
        }
        ASSERT_OK(registry_save(&r, path));
        ASSERT_EQ_INT(freezer_load_and_thaw_all(path), n);
        usleep(100000);
        ASSERT_EQ_INT(state_of(stranger), 'T'); /* not ours: not continued */
        ASSERT_TRUE(stands_still(slot));
        ASSERT_EQ_INT(registry_count(path, NULL), 0);
        ASSERT_TRUE(asprintf(&proc_freeze, "%s/cgroup.freeze", tmpdir) > 0);
        ASSERT_TRUE(access(proc_freeze, F_OK) < 0);

        /* the same entry with the right start time: continued */
        r.entries[0].procs[0].start_time = s.start_time;
        ASSERT_OK(registry_save(&r, path));
        ASSERT_EQ_INT(freezer_load_and_thaw_all(path), n);
        assert_running(stranger);
        ASSERT_TRUE(progresses(slot));
        reap(stranger);
}

static void test_crash_rounds(void)
{
        _cleanup_free_ char *path = tmp_path("g/frozen.json");
        const char *cg = cg_root ? cg_make("crash") : NULL;
        const char *seed_env = getenv("MEMGUARD_TEST_SEED");
        unsigned seed = seed_env ? (unsigned)atoi(seed_env) : (unsigned)time(NULL) ^ (unsigned)getpid();
        unsigned saw_stopped = 0, saw_frozen = 0;
        size_t slot[5];
        pid_t pid[5];
        ProcEntry e[5];
        const ProcEntry *ep[5];

        fprintf(stderr, "  seed %u (MEMGUARD_TEST_SEED)\n", seed);
        srand(seed);
        for (int i = 0; i < 5; i++) {
                pid[i] = spawn(&slot[i], false);
                if (i >= 3 && cg)
                        cg_move(cg, pid[i]);
                e[i] = entry_for(pid[i], false);
                ep[i] = &e[i];
        }
        log_set_max_level(LOG_INFO);
        for (int round = 0; round < 50; round++) {
                pid_t child = fork();
                bool stopped = false;

                ASSERT_TRUE(child >= 0);
                if (child == 0) {
                        Freezer *f;

                        if (freezer_new(path, &f) < 0)
                                _exit(1);
                        for (;;) {
                                (void)freezer_freeze(f, "A", "a", 0, NULL, ep, 3, "crash test");
                                if (cg)
                                        (void)freezer_freeze(f, "B", "b", 0, cg, ep + 3, 2, "crash test");
                                usleep((useconds_t)(rand() % 3000)); /* frozen for a while, as in life */
                                (void)freezer_thaw(f, "A");
                                (void)freezer_thaw(f, "B");
                                usleep((useconds_t)(rand() % 1000));
                        }
                }
                track(child);
                usleep((useconds_t)(rand() % 25000));
                reap(child);

                for (int i = 0; i < 3; i++)
                        stopped = stopped || state_of(pid[i]) == 'T';
                saw_stopped += stopped;
                saw_frozen += cg && freezer_cgroup_frozen(cg) == 1;

                ASSERT_OK(freezer_load_and_thaw_all(path));
                for (int i = 0; i < 5; i++)
                        assert_running(pid[i]);
                if (cg) {
                        char buf[8];
                        char p[4096];
                        snprintf(p, sizeof(p), "%s/cgroup.freeze", cg);
                        ASSERT_TRUE(read_file_at(AT_FDCWD, p, buf, sizeof(buf)) > 0);
                        ASSERT_EQ_INT(buf[0], '0');
                        ASSERT_TRUE(cg_wait_frozen(cg, 0));
                }
                ASSERT_EQ_INT(registry_count(path, NULL), 0);
        }
        log_set_max_level(LOG_DEBUG);
        fprintf(stderr,
                "  50 rounds: killed with SIGSTOPped processes %u times, with the cgroup frozen %u times\n",
                saw_stopped, saw_frozen);
        ASSERT_TRUE(saw_stopped + saw_frozen > 0);
        for (int i = 0; i < 5; i++) {
                ASSERT_TRUE(progresses(slot[i]));
                reap(pid[i]);
        }
}

int main(void)
{
        int fd;

        test_pid = getpid();
        log_set_max_level(LOG_DEBUG);
        fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        if (fd < 0)
                test_skip("pidfd_open(2) is not available");
        safe_close(fd);

        counters = mmap(NULL, N_SLOTS * (sizeof(uint64_t) + sizeof(int)), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(counters != MAP_FAILED);
        worker_pids = (_Atomic int *)(counters + N_SLOTS);
        ASSERT_TRUE(mkdtemp(tmpdir));
        atexit(cleanup);
        signal(SIGABRT, on_abort);
        signal(SIGTERM, on_abort); /* meson's timeout */
        signal(SIGINT, on_abort);

        RUN(test_parse_pending);
        RUN(test_default_path);
        RUN(test_registry_roundtrip);
        RUN(test_registry_fixtures);
        RUN(test_registry_generated);

        cg_setup();
        RUN(test_sigstop);
        RUN(test_cgroup);
        RUN(test_registry_first);
        RUN(test_restart);
        RUN(test_pid_reuse);
        RUN(test_crash_rounds);
        return 0;
}
