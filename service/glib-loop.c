/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>

#include "glib-loop.h"
#include "log.h"

/* A GLib fd we could not hand to epoll (a regular file, say) is polled this often. */
#define FALLBACK_POLL_MSEC 10

typedef struct GlibWatch {
        int fd;
        uint32_t events;
        dev_t dev; /* identity of what `fd` referred to when the source was added */
        ino_t ino;
        sd_event_source *source; /* NULL: epoll refused it, polled by timeout instead */
} GlibWatch;

struct GlibLoop {
        sd_event *event;
        GMainContext *context;
        sd_event_source *anchor; /* time source: carries the prepare hook and GLib's timeout */
        GPollFD *fds;            /* from the last query */
        GlibWatch *watches;      /* one per fds[i] */
        unsigned n_fds, n_alloc;
        gint max_priority;
        bool prepared; /* a GLib cycle is waiting for check + dispatch */
};

static uint32_t events_to_epoll(gushort events)
{
        uint32_t e = 0;

        if (events & G_IO_IN)
                e |= EPOLLIN;
        if (events & G_IO_OUT)
                e |= EPOLLOUT;
        if (events & G_IO_PRI)
                e |= EPOLLPRI;
        return e; /* EPOLLERR and EPOLLHUP are always reported */
}

static int on_fd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        /* Nothing to do: waking up is the point. The next prepare hook polls
         * GLib's fds and dispatches GLib. */
        return 0;
}

static int on_anchor_time(sd_event_source *s, uint64_t usec, void *userdata)
{
        return 0; /* likewise: GLib's timeout expired, the prepare hook follows */
}

static void watch_clear(GlibWatch *w)
{
        w->source = sd_event_source_disable_unref(w->source);
        w->fd = -1;
}

static bool fd_identity(int fd, dev_t *ret_dev, ino_t *ret_ino)
{
        struct stat st;

        if (fstat(fd, &st) < 0)
                return false;
        *ret_dev = st.st_dev;
        *ret_ino = st.st_ino;
        return true;
}

/* Make watch w follow GLib's pollfd p. Returns true if it must be polled by timeout. */
static bool watch_update(GlibLoop *l, GlibWatch *w, const GPollFD *p)
{
        uint32_t events = events_to_epoll(p->events);
        dev_t dev = 0;
        ino_t ino = 0;
        int r;

        (void)fd_identity(p->fd, &dev, &ino);
        if (w->fd == p->fd && w->dev == dev && w->ino == ino) {
                if (!w->source)
                        return true;
                if (w->events != events) {
                        r = sd_event_source_set_io_events(w->source, events);
                        if (r >= 0) {
                                w->events = events;
                                return false;
                        }
                        log_debug_errno(r, "cannot change GLib fd %d events, re-adding: %m", p->fd);
                } else
                        return false;
        }

        /* A new fd, or the same number now naming another file: start over. */
        watch_clear(w);
        w->fd = p->fd;
        w->events = events;
        w->dev = dev;
        w->ino = ino;
        r = sd_event_add_io(l->event, &w->source, p->fd, events, on_fd, l);
        if (r < 0) {
                log_debug_errno(r, "cannot watch GLib fd %d, polling it every %d ms: %m", p->fd,
                                FALLBACK_POLL_MSEC);
                w->source = NULL;
                return true;
        }
        (void)sd_event_source_set_description(w->source, "glib-fd");
        return false;
}

static void glib_loop_check_dispatch(GlibLoop *l)
{
        l->prepared = false;
        if (l->n_fds > 0)
                (void)g_poll(l->fds, l->n_fds, 0); /* fills revents; GPollFD is struct pollfd */
        if (g_main_context_check(l->context, l->max_priority, l->fds, (gint)l->n_fds))
                g_main_context_dispatch(l->context);
}

static uint64_t now_monotonic(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static int glib_loop_prepare(GlibLoop *l)
{
        unsigned old_n = l->n_fds;
        bool need_poll = false;
        gint timeout = -1, n;
        uint64_t when;

        g_main_context_prepare(l->context, &l->max_priority);
        for (;;) {
                n = g_main_context_query(l->context, l->max_priority, &timeout, l->fds, (gint)l->n_alloc);
                if ((unsigned)n <= l->n_alloc)
                        break;
                l->fds = g_renew(GPollFD, l->fds, n);
                l->watches = g_renew(GlibWatch, l->watches, n);
                for (unsigned i = l->n_alloc; i < (unsigned)n; i++)
                        l->watches[i] = (GlibWatch){.fd = -1};
                l->n_alloc = (unsigned)n;
        }
        l->n_fds = (unsigned)n;
        l->prepared = true;

        for (unsigned i = 0; i < l->n_fds; i++)
                need_poll |= watch_update(l, &l->watches[i], &l->fds[i]);
        for (unsigned i = l->n_fds; i < old_n; i++)
                watch_clear(&l->watches[i]);

        if (need_poll && (timeout < 0 || timeout > FALLBACK_POLL_MSEC))
                timeout = FALLBACK_POLL_MSEC;
        if (timeout == 0)
                when = 1; /* long past: fires in this iteration */
        else if (timeout > 0)
                when = now_monotonic() + (uint64_t)timeout * USEC_PER_MSEC;
        else
                when = now_monotonic() +
                       3600 * USEC_PER_SEC; /* GLib has no timeout; we rearm every iteration */
        return sd_event_source_set_time(l->anchor, when);
}

static int on_prepare(sd_event_source *s, void *userdata)
{
        GlibLoop *l = userdata;
        int r;

        if (l->prepared)
                glib_loop_check_dispatch(l);
        r = glib_loop_prepare(l);
        if (r < 0)
                log_debug_errno(r, "cannot arm the GLib timer: %m");
        return 0;
}

int glib_loop_attach(sd_event *e, GlibLoop **ret)
{
        _cleanup_(glib_loop_freep) GlibLoop *l = NULL;
        GMainContext *context = g_main_context_default();
        int r;

        if (!g_main_context_acquire(context))
                return -EBUSY;

        l = g_new0(GlibLoop, 1);
        l->context = g_main_context_ref(context);
        l->event = sd_event_ref(e);

        r = sd_event_add_time(e, &l->anchor, CLOCK_MONOTONIC, 1, USEC_PER_MSEC, on_anchor_time, l);
        if (r < 0)
                return r;
        /* Prepare hooks run in priority order: GLib goes first, so whatever it
         * queues on an sd-bus connection is seen by that bus's own hook. */
        r = sd_event_source_set_priority(l->anchor, SD_EVENT_PRIORITY_IMPORTANT);
        if (r < 0)
                return r;
        r = sd_event_source_set_prepare(l->anchor, on_prepare);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(l->anchor, SD_EVENT_ON);
        if (r < 0)
                return r;
        (void)sd_event_source_set_description(l->anchor, "glib");

        *ret = TAKE_PTR(l);
        return 0;
}

GlibLoop *glib_loop_free(GlibLoop *l)
{
        if (!l)
                return NULL;
        for (unsigned i = 0; i < l->n_alloc; i++)
                watch_clear(&l->watches[i]);
        sd_event_source_disable_unref(l->anchor);
        sd_event_unref(l->event);
        if (l->context) {
                g_main_context_release(l->context);
                g_main_context_unref(l->context);
        }
        g_free(l->fds);
        g_free(l->watches);
        g_free(l);
        return NULL;
}
