/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpointer.h"
#include "fileio.h"
#include "hooks.h"
#include "log.h"
#include "time-util.h"

#define OUTPUT_READ_MAX (64u * 1024)
#define CLEANUP_INTERVAL_USEC (600 * USEC_PER_SEC)
#define CRIU_OUTPUT "criu.out"

typedef enum JobKind {
        JOB_CHECK,
        JOB_DUMP,
        JOB_RESTORE,
} JobKind;

typedef struct Job {
        Checkpointer *c;
        bool used;
        JobKind kind;
        char id[CHECKPOINT_ID_MAX];
        char key[256];
        char dir[4096];
        uint64_t started;
        checkpointer_done_t done;
        void *userdata;
        CheckpointRecord record; /* dump: what becomes the record on success */
} Job;

struct Checkpointer {
        sd_event *event;
        char *dir;
        char *criu;
        unsigned keep;
        uint64_t max_age_usec;
        checkpointer_ready_t ready;
        void *userdata;

        HookRunner *check_runner, *runner;
        int available; /* 1, -EAGAIN while probing, or -errno */
        char why[CHECKPOINT_SUMMARY_MAX + 64];
        char boot_id[64];

        CheckpointSet set;
        Job jobs[CHECKPOINT_MAX_RUNNING + 1]; /* + the probe */
        PlanCheckpoint *view;
        sd_event_source *cleanup_timer;
};

static uint64_t now_sec(void)
{
        return clock_usec(CLOCK_REALTIME) / USEC_PER_SEC;
}

/* criu as configured: an absolute path, or a name looked up in HOOK_PATH. */
static int find_criu(const char *name, char **ret)
{
        _cleanup_free_ char *path = xstrdup(HOOK_PATH);
        char *save = NULL;

        if (!name || !*name)
                return -EINVAL;
        if (name[0] == '/') {
                if (access(name, X_OK) < 0)
                        return -errno;
                *ret = xstrdup(name);
                return 0;
        }
        if (strchr(name, '/'))
                return -EINVAL;
        for (char *d = strtok_r(path, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s/%s", d, name) < 0)
                        abort();
                if (access(p, X_OK) == 0) {
                        *ret = TAKE_PTR(p);
                        return 0;
                }
        }
        return -ENOENT;
}

static int save(Checkpointer *c)
{
        int r = checkpoint_set_save(&c->set, c->dir);
        if (r < 0)
                log_warning_errno(r, "cannot write %s/" CHECKPOINT_INDEX ": %m", c->dir);
        return r;
}

static const Job *job_restoring(Checkpointer *c, const char *id)
{
        for (size_t i = 0; i < ELEMENTSOF(c->jobs); i++)
                if (c->jobs[i].used && c->jobs[i].kind == JOB_RESTORE && strcmp(c->jobs[i].id, id) == 0)
                        return &c->jobs[i];
        return NULL;
}

static bool job_dumping_id(Checkpointer *c, const char *id)
{
        for (size_t i = 0; i < ELEMENTSOF(c->jobs); i++)
                if (c->jobs[i].used && c->jobs[i].kind == JOB_DUMP && strcmp(c->jobs[i].id, id) == 0)
                        return true;
        return false;
}

static int remove_images(Checkpointer *c, const char *id)
{
        _cleanup_free_ char *path = NULL;

        if (!checkpoint_id_valid(id))
                return -EINVAL;
        if (asprintf(&path, "%s/%s", c->dir, id) < 0)
                abort();
        return checkpoint_remove_dir(path);
}

/* Images directories no record names (a dump cut short by a crash), not being written now. */
static int remove_orphans(Checkpointer *c)
{
        _cleanup_closedir_ DIR *d = opendir(c->dir);
        struct dirent *de;
        int n = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                struct stat st;
                int r;

                if (de->d_name[0] == '.' || !checkpoint_id_valid(de->d_name) ||
                    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
                    checkpoint_set_find(&c->set, de->d_name) || job_dumping_id(c, de->d_name))
                        continue;
                r = remove_images(c, de->d_name);
                if (r < 0)
                        log_warning_errno(r, "cannot remove the stray images directory %s/%s: %m", c->dir,
                                          de->d_name);
                else {
                        log_info("removed %s/%s: images of a dump that never finished", c->dir, de->d_name);
                        n++;
                }
        }
        return n;
}

int checkpointer_cleanup(Checkpointer *c)
{
        _cleanup_free_ bool *drop = NULL;
        const char *busy = NULL;
        size_t n;
        int dropped = 0;

        for (size_t i = 0; i < ELEMENTSOF(c->jobs); i++)
                if (c->jobs[i].used && c->jobs[i].kind == JOB_RESTORE)
                        busy = c->jobs[i].id; /* at most CHECKPOINT_MAX_RUNNING; protect one, skip if more */
        drop = xmalloc0(MAX(c->set.n, (size_t)1) * sizeof(bool));
        n = checkpoint_select_drops(&c->set, now_sec(), c->keep, c->max_age_usec / USEC_PER_SEC, busy, drop);
        for (size_t i = c->set.n; n > 0 && i > 0; i--) {
                const CheckpointRecord *rec = &c->set.records[i - 1];
                _cleanup_free_ char *id = NULL;
                int r;

                if (!drop[i - 1] || job_restoring(c, rec->id))
                        continue;
                id = xstrdup(rec->id);
                r = remove_images(c, id);
                if (r < 0) {
                        log_warning_errno(r, "cannot remove the images of checkpoint %s: %m", id);
                        continue;
                }
                log_notice("dropped checkpoint %s of %s (uid %d, pid %d, %s): kept at most %u, for at most %llu "
                           "days",
                           id, strna(rec->name), (int)rec->uid, (int)rec->pid, checkpoint_state_to_string(rec->state),
                           c->keep, (unsigned long long)(c->max_age_usec / (86400 * USEC_PER_SEC)));
                (void)checkpoint_set_remove(&c->set, id);
                dropped++;
        }
        if (dropped > 0)
                (void)save(c);
        (void)remove_orphans(c);
        return dropped;
}

static int on_cleanup_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Checkpointer *c = userdata;

        (void)checkpointer_cleanup(c);
        return sd_event_source_set_time_relative(s, CLEANUP_INTERVAL_USEC);
}

/* criu's stdout/stderr and its log file, summarised. */
static void summarize(const char *dir, const char *log_name, char *buf, size_t size)
{
        _cleanup_free_ char *out = NULL, *log = NULL, *both = NULL;
        size_t n_out = 0, n_log = 0;
        char path[4200];

        snprintf(path, sizeof(path), "%s/%s", dir, CRIU_OUTPUT);
        if (read_full_file_at(AT_FDCWD, path, OUTPUT_READ_MAX, &out, &n_out) < 0)
                n_out = 0;
        if (log_name) {
                snprintf(path, sizeof(path), "%s/%s", dir, log_name);
                if (read_full_file_at(AT_FDCWD, path, OUTPUT_READ_MAX, &log, &n_log) < 0)
                        n_log = 0;
        }
        both = xmalloc0(n_out + n_log + 2);
        if (n_out)
                memcpy(both, out, n_out);
        both[n_out] = '\n';
        if (n_log)
                memcpy(both + n_out + 1, log, n_log);
        criu_summarize(both, n_out + 1 + n_log, buf, size);
}

static uint64_t dir_bytes(const char *path)
{
        _cleanup_closedir_ DIR *d = opendir(path);
        struct dirent *de;
        uint64_t total = 0;

        while (d && (de = readdir(d))) {
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
                        total += (uint64_t)st.st_blocks * 512;
        }
        return total;
}

static void job_release(Job *j)
{
        checkpoint_record_done(&j->record);
        *j = (Job){};
}

static Job *job_new(Checkpointer *c, JobKind kind)
{
        unsigned running = 0;

        for (size_t i = 0; i < ELEMENTSOF(c->jobs); i++)
                running += c->jobs[i].used && c->jobs[i].kind != JOB_CHECK;
        if (kind != JOB_CHECK && running >= CHECKPOINT_MAX_RUNNING)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(c->jobs); i++)
                if (!c->jobs[i].used) {
                        c->jobs[i] = (Job){.c = c, .used = true, .kind = kind, .record = {.uid = (uid_t)-1},
                                           .started = clock_usec(CLOCK_MONOTONIC)};
                        return &c->jobs[i];
                }
        return NULL;
}

static void describe_exit(const HookResult *res, CheckpointResult *out, const char *summary, char *why,
                          size_t size)
{
        if (res->outcome == HOOK_TIMED_OUT) {
                out->result = -ETIME;
                out->exit_status = -1;
                snprintf(why, size, "criu timed out after %llu s: %s",
                         (unsigned long long)(res->duration_usec / USEC_PER_SEC), summary);
        } else if (res->outcome == HOOK_SIGNALED) {
                out->result = -EIO;
                out->exit_status = -1;
                snprintf(why, size, "criu killed by signal %d: %s", res->status, summary);
        } else {
                out->result = res->status == 0 ? 0 : -EIO;
                out->exit_status = res->status;
                snprintf(why, size, "criu exit %d: %s", res->status, summary);
        }
}

/* ---- probe ---- */

static void on_check_done(const HookResult *res, void *userdata)
{
        Job *j = userdata;
        Checkpointer *c = j->c;
        char summary[CHECKPOINT_SUMMARY_MAX];
        CheckpointResult out = {};

        summarize(c->dir, NULL, summary, sizeof(summary));
        describe_exit(res, &out, summary, c->why, sizeof(c->why));
        if (out.result == 0) {
                c->available = 1;
                snprintf(c->why, sizeof(c->why), "criu check: %s", summary);
        } else
                c->available = -EOPNOTSUPP;
        job_release(j);
        if (c->ready)
                c->ready(c->userdata, c->available > 0, c->why);
}

static int start_probe(Checkpointer *c)
{
        _cleanup_close_ int out = -1;
        char path[4200];
        CriuArgv a;
        Job *j;
        int r;

        j = job_new(c, JOB_CHECK);
        if (!j)
                return -EBUSY;
        snprintf(path, sizeof(path), "%s/%s", c->dir, CRIU_OUTPUT);
        out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (out < 0) {
                job_release(j);
                return -errno;
        }
        criu_argv_check(&a, c->criu);
        r = hook_run_output(c->check_runner, a.argv, NULL, out, on_check_done, j);
        if (r < 0) {
                job_release(j);
                return r;
        }
        c->available = -EAGAIN;
        snprintf(c->why, sizeof(c->why), "criu check is running");
        return 0;
}

/* ---- dump ---- */

static void on_dump_done(const HookResult *res, void *userdata)
{
        Job *j = userdata;
        Checkpointer *c = j->c;
        char summary[CHECKPOINT_SUMMARY_MAX], why[CHECKPOINT_SUMMARY_MAX + 64] = "";
        CheckpointResult out = {.id = j->id, .dir = j->dir, .summary = why};
        Job copy;
        int r;

        summarize(j->dir, "dump.log", summary, sizeof(summary));
        describe_exit(res, &out, summary, why, sizeof(why));
        out.duration_usec = clock_usec(CLOCK_MONOTONIC) - j->started;
        if (out.result == 0) {
                out.image_bytes = dir_bytes(j->dir);
                why[0] = 0;
                r = checkpoint_set_add(&c->set, &j->record);
                if (r >= 0)
                        r = save(c);
                if (r < 0)
                        /* The images exist and the app is gone; without a record nothing restores it. */
                        snprintf(why, sizeof(why), "dumped, but the record could not be written: %s "
                                 "(images in %.200s)", STRERROR(r), j->dir);
        } else {
                r = checkpoint_remove_dir(j->dir);
                if (r < 0)
                        log_debug_errno(r, "cannot remove %s, ignoring: %m", j->dir);
        }

        /* Release before the callback, which may start another job. */
        copy = *j;
        j->record = (CheckpointRecord){};
        job_release(j);
        out.id = copy.id;
        out.dir = copy.dir;
        copy.done(copy.userdata, &out);
        checkpoint_record_done(&copy.record);
        if (out.result == 0)
                (void)checkpointer_cleanup(c);
}

static void read_boot_id(char *buf, size_t size)
{
        ssize_t n = read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", buf, size);

        if (n <= 0) {
                buf[0] = 0;
                return;
        }
        buf[strcspn(buf, "\n")] = 0;
}

int checkpointer_dump(Checkpointer *c, const CheckpointRequest *req, checkpointer_done_t done, void *userdata)
{
        _cleanup_close_ int out = -1;
        char path[4200];
        uint64_t created = now_sec();
        CriuArgv a;
        Job *j;
        int r;

        if (!req || !req->key || req->pid <= 1 || !done)
                return -EINVAL;
        if (c->available <= 0)
                return c->available == -EAGAIN ? -EAGAIN : -EOPNOTSUPP;
        if (checkpointer_is_dumping(c, req->key))
                return -EALREADY;
        j = job_new(c, JOB_DUMP);
        if (!j)
                return -EBUSY;
        r = checkpoint_make_id(created, req->pid, j->id, sizeof(j->id));
        if (r >= 0 && (size_t)snprintf(j->dir, sizeof(j->dir), "%s/%s", c->dir, j->id) >= sizeof(j->dir))
                r = -ENAMETOOLONG;
        if (r >= 0 && (size_t)snprintf(j->key, sizeof(j->key), "%s", req->key) >= sizeof(j->key))
                r = -ENAMETOOLONG;
        if (r >= 0 && mkdir(j->dir, 0700) < 0)
                r = -errno; /* -EEXIST: the same pid in the same second, already dumped */
        if (r < 0) {
                job_release(j);
                return r;
        }
        snprintf(path, sizeof(path), "%s/%s", j->dir, CRIU_OUTPUT);
        out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (out < 0) {
                r = -errno;
                goto fail;
        }

        j->record = (CheckpointRecord){
                .id = xstrdup(j->id),
                .key = xstrdup(req->key),
                .name = xstrdup(req->name),
                .uid = req->uid,
                .pid = req->pid,
                .exe = xstrdup(req->exe),
                .cmdline = xstrdup(req->cmdline),
                .created = created,
                .bytes = req->bytes,
                .boot_id = c->boot_id[0] ? xstrdup(c->boot_id) : NULL,
                .state = CHECKPOINT_DUMPED,
        };
        j->done = done;
        j->userdata = userdata;

        /* criu takes a PID: make sure it still names our process right before criu starts. */
        if (req->pidfd >= 0 && pidfd_send_signal(req->pidfd, 0, NULL, 0) < 0) {
                r = -errno;
                goto fail;
        }
        criu_argv_dump(&a, c->criu, j->dir, req->pid);
        r = hook_run_output(c->runner, a.argv, NULL, out, on_dump_done, j);
        if (r < 0)
                goto fail;
        return 0;
fail:
        (void)checkpoint_remove_dir(j->dir);
        job_release(j);
        return r;
}

bool checkpointer_is_dumping(Checkpointer *c, const char *key)
{
        for (size_t i = 0; c && key && i < ELEMENTSOF(c->jobs); i++)
                if (c->jobs[i].used && c->jobs[i].kind == JOB_DUMP && strcmp(c->jobs[i].key, key) == 0)
                        return true;
        return false;
}

/* ---- restore ---- */

/* The restored root process: criu's pidfile, then its real uid. */
static int restored_identity(const char *dir, pid_t *ret_pid, uid_t *ret_uid, int *ret_pidfd)
{
        char path[4200], buf[4096];
        _cleanup_close_ int pidfd = -1;
        const char *uid_line;
        unsigned long pid;
        char *end;
        ssize_t n;

        snprintf(path, sizeof(path), "%s/restore.pid", dir);
        n = read_file_at(AT_FDCWD, path, buf, sizeof(buf));
        if (n <= 0)
                return n < 0 ? (int)n : -EBADMSG;
        errno = 0;
        pid = strtoul(buf, &end, 10);
        if (errno || end == buf || pid <= 1 || pid > 4194304)
                return -EBADMSG;
        pidfd = pidfd_open((pid_t)pid, 0);
        if (pidfd < 0)
                return -errno;
        snprintf(path, sizeof(path), "/proc/%lu/status", pid);
        n = read_file_at(AT_FDCWD, path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        uid_line = strstr(buf, "\nUid:");
        if (!uid_line)
                return -EBADMSG;
        *ret_uid = (uid_t)strtoul(uid_line + 5, NULL, 10);
        *ret_pid = (pid_t)pid;
        *ret_pidfd = TAKE_FD(pidfd);
        return 0;
}

static void on_restore_done(const HookResult *res, void *userdata)
{
        Job *j = userdata;
        Checkpointer *c = j->c;
        char summary[CHECKPOINT_SUMMARY_MAX], why[CHECKPOINT_SUMMARY_MAX + 128] = "";
        CheckpointResult out = {.summary = why};
        CheckpointRecord *rec;
        Job copy;
        int r;

        summarize(j->dir, "restore.log", summary, sizeof(summary));
        describe_exit(res, &out, summary, why, sizeof(why));
        out.duration_usec = clock_usec(CLOCK_MONOTONIC) - j->started;
        rec = checkpoint_set_find(&c->set, j->id);
        if (out.result == 0) {
                _cleanup_close_ int pidfd = -1;

                why[0] = 0;
                r = restored_identity(j->dir, &out.restored_pid, &out.restored_uid, &pidfd);
                if (r < 0) {
                        out.result = r;
                        snprintf(why, sizeof(why), "criu exit 0, but the restored process cannot be found: %s",
                                 STRERROR(r));
                } else if (rec && rec->uid != (uid_t)-1 && out.restored_uid != rec->uid) {
                        /* Never leave an app running as someone else than its owner. */
                        (void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                        out.result = -EPERM;
                        snprintf(why, sizeof(why), "restored as uid %u instead of %u: killed",
                                 (unsigned)out.restored_uid, (unsigned)rec->uid);
                }
        }
        if (rec && out.result == 0) {
                r = remove_images(c, j->id);
                if (r < 0)
                        log_warning_errno(r, "cannot remove the images of restored checkpoint %s: %m", j->id);
                (void)checkpoint_set_remove(&c->set, j->id);
                (void)save(c);
        } else if (rec) {
                free(rec->error);
                rec->error = xstrdup(why);
                rec->state = CHECKPOINT_RESTORE_FAILED;
                (void)save(c);
        }

        copy = *j;
        j->record = (CheckpointRecord){};
        job_release(j);
        out.id = copy.id;
        out.dir = copy.dir;
        copy.done(copy.userdata, &out);
}

int checkpointer_restore(Checkpointer *c, const char *id, checkpointer_done_t done, void *userdata)
{
        _cleanup_close_ int out = -1;
        const CheckpointRecord *rec;
        char path[4200];
        CriuArgv a;
        Job *j;
        int r;

        if (!id || !done)
                return -EINVAL;
        rec = checkpoint_set_find(&c->set, id);
        if (!rec)
                return -ENOENT;
        if (job_restoring(c, id))
                return -EALREADY;
        if (c->available <= 0)
                return c->available == -EAGAIN ? -EAGAIN : -EOPNOTSUPP;
        j = job_new(c, JOB_RESTORE);
        if (!j)
                return -EBUSY;
        snprintf(j->id, sizeof(j->id), "%s", id);
        snprintf(j->key, sizeof(j->key), "%s", rec->key);
        snprintf(j->dir, sizeof(j->dir), "%s/%s", c->dir, id);
        j->done = done;
        j->userdata = userdata;
        snprintf(path, sizeof(path), "%s/%s", j->dir, CRIU_OUTPUT);
        out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (out < 0) {
                r = -errno;
                job_release(j);
                return r;
        }
        snprintf(path, sizeof(path), "%s/restore.pid", j->dir);
        (void)unlink(path); /* a stale one must not name someone else */
        criu_argv_restore(&a, c->criu, j->dir);
        r = hook_run_output(c->runner, a.argv, NULL, out, on_restore_done, j);
        if (r < 0) {
                job_release(j);
                return r;
        }
        return 0;
}

/* ---- the rest ---- */

const CheckpointRecord *checkpointer_get(Checkpointer *c, const char *id)
{
        return checkpoint_set_find(&c->set, id);
}

static bool restorable(Checkpointer *c, const CheckpointRecord *rec)
{
        return rec->state == CHECKPOINT_DUMPED && rec->boot_id && c->boot_id[0] &&
               strcmp(rec->boot_id, c->boot_id) == 0 && !job_restoring(c, rec->id);
}

size_t checkpointer_n_restorable(Checkpointer *c)
{
        size_t n = 0;

        for (size_t i = 0; c && i < c->set.n; i++)
                n += restorable(c, &c->set.records[i]);
        return n;
}

int checkpointer_restorable(Checkpointer *c, const PlanCheckpoint **ret, size_t *ret_n)
{
        size_t n = 0;

        free(c->view);
        c->view = xmalloc0(MAX(c->set.n, (size_t)1) * sizeof(PlanCheckpoint));
        for (size_t i = 0; i < c->set.n; i++) {
                const CheckpointRecord *rec = &c->set.records[i];

                if (!restorable(c, rec))
                        continue;
                c->view[n++] = (PlanCheckpoint){
                        .id = rec->id,
                        .name = rec->name,
                        .uid = rec->uid,
                        .bytes = rec->bytes,
                        .created = rec->created,
                };
        }
        *ret = c->view;
        *ret_n = n;
        return 0;
}

int checkpointer_available(Checkpointer *c, const char **ret_why)
{
        if (ret_why)
                *ret_why = c->why;
        return c->available;
}

const char *checkpointer_criu_path(Checkpointer *c)
{
        return c->criu;
}

int checkpointer_new(const CheckpointerOptions *opts, Checkpointer **ret)
{
        _cleanup_(checkpointer_freep) Checkpointer *c = NULL;
        size_t skipped = 0;
        struct stat st;
        char *index;
        int r;

        if (!opts || !opts->event || !opts->dir || opts->dir[0] != '/' || opts->timeout_usec == 0)
                return -EINVAL;
        c = xmalloc0(sizeof(*c));
        c->event = sd_event_ref(opts->event);
        c->dir = xstrdup(opts->dir);
        c->keep = opts->keep;
        c->max_age_usec = opts->max_age_usec;
        c->ready = opts->ready;
        c->userdata = opts->userdata;
        c->available = -EAGAIN;
        read_boot_id(c->boot_id, sizeof(c->boot_id));

        r = find_criu(opts->criu, &c->criu);
        if (r < 0)
                return r;

        /* Root-only: images hold the whole memory of other users' apps. */
        r = mkdir_parents(c->dir);
        if (r < 0)
                return r;
        if (lstat(c->dir, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (st.st_uid != geteuid() || (st.st_mode & 077)) {
                if (st.st_uid != geteuid())
                        return -EPERM;
                if (chmod(c->dir, 0700) < 0)
                        return -errno;
        }

        if (asprintf(&index, "%s/" CHECKPOINT_INDEX, c->dir) < 0)
                abort();
        r = checkpoint_set_load(index, &c->set, &skipped);
        if (r == -EBADMSG || r == -EFBIG) {
                _cleanup_free_ char *corrupt = NULL;
                if (asprintf(&corrupt, "%s.corrupt", index) < 0)
                        abort();
                (void)rename(index, corrupt);
                log_warning("%s is unusable, moved to %s: starting with no checkpoints", index, corrupt);
        } else if (r < 0) {
                free(index);
                return r;
        }
        if (skipped > 0)
                log_warning("%s: %zu bad record(s) skipped", index, skipped);
        free(index);

        r = hook_runner_new(c->event, CHECKPOINT_CHECK_TIMEOUT_USEC, 1, false, &c->check_runner);
        if (r >= 0)
                r = hook_runner_new(c->event, opts->timeout_usec, CHECKPOINT_MAX_RUNNING, false, &c->runner);
        if (r < 0)
                return r;
        (void)checkpointer_cleanup(c);
        r = sd_event_add_time_relative(c->event, &c->cleanup_timer, CLOCK_MONOTONIC, CLEANUP_INTERVAL_USEC,
                                       USEC_PER_SEC, on_cleanup_timer, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->cleanup_timer, SD_EVENT_ON);
        if (r < 0)
                return r;
        r = start_probe(c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

Checkpointer *checkpointer_free(Checkpointer *c)
{
        if (!c)
                return NULL;
        /* Kills criu runs in flight without calling back. */
        c->runner = hook_runner_free(c->runner);
        c->check_runner = hook_runner_free(c->check_runner);
        for (size_t i = 0; i < ELEMENTSOF(c->jobs); i++)
                if (c->jobs[i].used)
                        job_release(&c->jobs[i]);
        sd_event_source_disable_unref(c->cleanup_timer);
        checkpoint_set_done(&c->set);
        free(c->view);
        free(c->dir);
        free(c->criu);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}
