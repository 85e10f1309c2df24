/* SPDX-License-Identifier: MIT */
/*
 * A polkit text agent for interactive calls from a terminal, as systemctl
 * does it: pkttyagent registers as the fallback agent of this session (a
 * desktop's own agent keeps priority) and asks for the password on the
 * terminal; it closes the notify fd once it is registered.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "doctor.h"
#include "macro.h"

#define AGENT_READY_TIMEOUT_MSEC 5000
#define POLKIT_BUS_NAME "org.freedesktop.PolicyKit1"

pid_t polkit_agent_open(sd_bus *bus)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int rfd = -1;
        struct pollfd pfd;
        int pipefd[2];
        pid_t pid;

        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || geteuid() == 0)
                return 0; /* nobody to ask, or root: polkit does not ask root */
        if (bus_name_has_owner(bus, POLKIT_BUS_NAME) <= 0 && bus_name_activatable(bus, POLKIT_BUS_NAME) <= 0)
                return 0; /* no polkit: the agent could only complain */
        if (find_executable("pkttyagent", &path) < 0)
                return 0;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return 0;
        pid = fork();
        if (pid < 0) {
                safe_close(pipefd[0]);
                safe_close(pipefd[1]);
                return 0;
        }
        if (pid == 0) {
                char fd[16];

                /* Only the notify fd crosses exec; everything else is O_CLOEXEC. */
                if (fcntl(pipefd[1], F_SETFD, 0) < 0)
                        _exit(127);
                snprintf(fd, sizeof(fd), "%d", pipefd[1]);
                execl(path, path, "--notify-fd", fd, "--fallback", (char *)NULL);
                _exit(127);
        }
        safe_close(pipefd[1]);
        rfd = pipefd[0];

        /* Wait until it has registered (it closes the fd), or gave up. */
        pfd = (struct pollfd){.fd = rfd, .events = POLLIN};
        while (poll(&pfd, 1, AGENT_READY_TIMEOUT_MSEC) < 0 && errno == EINTR)
                ;
        return pid;
}

void polkit_agent_close(pid_t pid)
{
        if (pid <= 0)
                return;
        kill(pid, SIGTERM); /* the agent this process started */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
}
