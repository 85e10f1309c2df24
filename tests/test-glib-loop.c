/* SPDX-License-Identifier: MIT */
/*
 * GLib's main context driven by sd-event, for real: GLib timeouts fire on
 * time, idles run, a GLib fd watch wakes the loop, another thread's
 * g_idle_add wakes it (through the context's wakeup fd), a GTask's thread
 * result arrives, sd-event sources keep working alongside, and another
 * thread cannot take the context while it is attached.
 */
#include <gio/gio.h>
#include <glib-unix.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "glib-loop.h"
#include "macro.h"
#include "test.h"

typedef struct State {
        sd_event *event;
        uint64_t start;
        uint64_t timeout_at; /* when the 100 ms GLib timeout fired */
        bool idle, fd, thread_idle, task, sd_timer;
        int pipe[2];
} State;

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static void maybe_done(State *s)
{
        if (s->timeout_at && s->idle && s->fd && s->thread_idle && s->task && s->sd_timer)
                sd_event_exit(s->event, 0);
}

static gboolean on_timeout(gpointer userdata)
{
        State *s = userdata;

        s->timeout_at = now_usec();
        maybe_done(s);
        return G_SOURCE_REMOVE;
}

static gboolean on_idle(gpointer userdata)
{
        State *s = userdata;

        s->idle = true;
        maybe_done(s);
        return G_SOURCE_REMOVE;
}

static gboolean on_fd(gint fd, GIOCondition condition, gpointer userdata)
{
        State *s = userdata;
        char c;

        ASSERT_TRUE(read(fd, &c, 1) == 1);
        s->fd = true;
        maybe_done(s);
        return G_SOURCE_REMOVE;
}

static gboolean on_thread_idle(gpointer userdata)
{
        State *s = userdata;

        s->thread_idle = true;
        maybe_done(s);
        return G_SOURCE_REMOVE;
}

static gpointer thread_main(gpointer userdata)
{
        g_usleep(80 * 1000);
        g_idle_add(on_thread_idle, userdata); /* wakes the context from another thread */
        return NULL;
}

static void task_work(GTask *task, gpointer source, gpointer userdata, GCancellable *cancellable)
{
        g_usleep(30 * 1000);
        g_task_return_int(task, 42);
}

static void task_done(GObject *source, GAsyncResult *res, gpointer userdata)
{
        State *s = userdata;

        ASSERT_EQ_INT(g_task_propagate_int(G_TASK(res), NULL), 42);
        s->task = true;
        maybe_done(s);
}

static int on_sd_timer(sd_event_source *es, uint64_t usec, void *userdata)
{
        State *s = userdata;

        s->sd_timer = true;
        ASSERT_TRUE(write(s->pipe[1], "x", 1) == 1); /* wakes the GLib fd watch */
        maybe_done(s);
        return 0;
}

static int on_deadline(sd_event_source *es, uint64_t usec, void *userdata)
{
        fprintf(stderr, "deadline reached: GLib sources did not run\n");
        abort();
}

static gpointer steal_main(gpointer userdata)
{
        sd_event *e = NULL;
        GlibLoop *l = NULL;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_ERR(glib_loop_attach(e, &l), -EBUSY);
        sd_event_unref(e);
        return NULL;
}

static void test_all_sources(void)
{
        _cleanup_(glib_loop_freep) GlibLoop *l = NULL;
        State s = {};
        GThread *thread;
        GTask *task;
        sd_event_source *timer = NULL, *deadline = NULL;

        ASSERT_OK(sd_event_new(&s.event));
        ASSERT_OK(glib_loop_attach(s.event, &l));
        ASSERT_TRUE(pipe(s.pipe) == 0);

        s.start = now_usec();
        g_timeout_add(100, on_timeout, &s);
        g_idle_add(on_idle, &s);
        g_unix_fd_add(s.pipe[0], G_IO_IN, on_fd, &s);
        thread = g_thread_new("waker", thread_main, &s);
        task = g_task_new(NULL, NULL, task_done, &s);
        g_task_run_in_thread(task, task_work);
        g_object_unref(task);
        ASSERT_OK(sd_event_add_time_relative(s.event, &timer, CLOCK_MONOTONIC, 50 * USEC_PER_MSEC, 0,
                                             on_sd_timer, &s));
        ASSERT_OK(sd_event_add_time_relative(s.event, &deadline, CLOCK_MONOTONIC, 5 * USEC_PER_SEC, 0,
                                             on_deadline, NULL));

        ASSERT_OK(sd_event_loop(s.event));
        g_thread_join(thread);

        /* The 100 ms timeout fired on time (neither early nor much later). */
        ASSERT_TRUE(s.timeout_at - s.start >= 95 * USEC_PER_MSEC);
        ASSERT_TRUE(s.timeout_at - s.start < 400 * USEC_PER_MSEC);

        /* Nobody else may take the context while it is ours. */
        thread = g_thread_new("thief", steal_main, NULL);
        g_thread_join(thread);

        sd_event_source_unref(timer);
        sd_event_source_unref(deadline);
        close(s.pipe[0]);
        close(s.pipe[1]);
        l = glib_loop_free(l);
        sd_event_unref(s.event);
}

static int on_quit(sd_event_source *es, uint64_t usec, void *userdata)
{
        return sd_event_exit(sd_event_source_get_event(es), 0);
}

static gboolean count(gpointer userdata)
{
        (*(unsigned *)userdata)++;
        return G_SOURCE_CONTINUE;
}

/* Detach and attach again: the context is released and can be driven anew. */
static void test_reattach(void)
{
        for (int i = 0; i < 2; i++) {
                _cleanup_(glib_loop_freep) GlibLoop *l = NULL;
                sd_event *e = NULL;
                sd_event_source *quit = NULL;
                unsigned ticks = 0;
                guint id;

                ASSERT_OK(sd_event_new(&e));
                ASSERT_OK(glib_loop_attach(e, &l));
                id = g_timeout_add(10, count, &ticks);
                ASSERT_OK(sd_event_add_time_relative(e, &quit, CLOCK_MONOTONIC, 200 * USEC_PER_MSEC, 0,
                                                     on_quit, NULL));
                ASSERT_OK(sd_event_loop(e));
                ASSERT_TRUE(ticks >= 5 && ticks <= 25);
                g_source_remove(id);
                sd_event_source_unref(quit);
                l = glib_loop_free(l);
                sd_event_unref(e);
        }
}

int main(void)
{
        RUN(test_all_sources);
        RUN(test_reattach);
        return 0;
}
