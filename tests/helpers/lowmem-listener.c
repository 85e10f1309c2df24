/* SPDX-License-Identifier: MIT */
/*
 * What an application sees: GLib's GMemoryMonitor (the D-Bus implementation,
 * which listens to org.freedesktop.LowMemoryMonitor on the system bus).
 * Prints "ready" once the monitor's name is there, then
 * "low-memory-warning LEVEL" for the first warning and exits 0; exits 2
 * after TIMEOUT_S seconds (default 20) without one.
 */
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>

static GMainLoop *loop;
static int status = 2;

static void on_warning(GMemoryMonitor *m, GMemoryMonitorWarningLevel level, gpointer userdata)
{
        printf("low-memory-warning %d\n", (int)level);
        fflush(stdout);
        status = 0;
        g_main_loop_quit(loop);
}

static gboolean on_ready(gpointer userdata)
{
        printf("ready\n");
        fflush(stdout);
        return G_SOURCE_REMOVE;
}

static void on_appeared(GDBusConnection *c, const gchar *name, const gchar *owner, gpointer userdata)
{
        /* The monitor builds its proxy when the name appears too; give it a moment. */
        g_timeout_add(300, on_ready, NULL);
}

static gboolean on_timeout(gpointer userdata)
{
        g_main_loop_quit(loop);
        return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
        GMemoryMonitor *monitor;

        loop = g_main_loop_new(NULL, FALSE);
        monitor = g_memory_monitor_dup_default();
        if (!monitor) {
                fprintf(stderr, "no GMemoryMonitor\n");
                return 3;
        }
        printf("monitor %s\n", G_OBJECT_TYPE_NAME(monitor));
        g_signal_connect(monitor, "low-memory-warning", G_CALLBACK(on_warning), NULL);
        g_bus_watch_name(G_BUS_TYPE_SYSTEM, "org.freedesktop.LowMemoryMonitor",
                         G_BUS_NAME_WATCHER_FLAGS_NONE, on_appeared, NULL, NULL, NULL);
        g_timeout_add_seconds(argc > 1 ? (guint)atoi(argv[1]) : 20, on_timeout, NULL);
        g_main_loop_run(loop);
        g_object_unref(monitor);
        g_main_loop_unref(loop);
        return status;
}
