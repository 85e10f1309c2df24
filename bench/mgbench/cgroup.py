# SPDX-License-Identifier: MIT
"""Memory-limited cgroups for the incidents (the semantics of
tests/helpers/memcg.sh, in Python).

Hybrid host (v1 controllers, cgroup2 without controllers): the limit is a
v1 memory cgroup nested under our own v1 memory cgroup; a v2 cgroup holds
the same processes, and its memory.pressure shows the stall the v1 limit
causes. Pure v2: one v2 cgroup with memory.max (and memory.swap.max=0).

Inside the v2 incident cgroup every "app" gets a leaf cgroup of its own
(app-probe.scope, app-hog.scope, ...), named as systemd names a desktop's
app scopes, so that a manager that acts on cgroups can act on one app and
not the others.
"""

import os
import subprocess

from . import procfs

# The child moves itself into the cgroups, then execs the workload (same PID).
_SPAWN_SH = 'for f in "$0" "$1"; do [ -n "$f" ] && echo $$ >"$f"; done; shift; exec "$@"'


def _mounts():
    v2 = v1mem = v1freezer = None
    for line in (procfs.read_text("/proc/self/mountinfo") or "").splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 3:
            continue
        mnt = fields[4].replace("\\040", " ")
        if rfields[0] == "cgroup2" and v2 is None:
            v2 = mnt
        elif rfields[0] == "cgroup" and "memory" in rfields[2].split(",") and v1mem is None:
            v1mem = mnt
        elif rfields[0] == "cgroup" and "freezer" in rfields[2].split(",") and v1freezer is None:
            v1freezer = mnt
    return v2, v1mem, v1freezer


class CgroupEnv:
    def __init__(self):
        self.v2_mount, self.v1_mount, self.v1_freezer_mount = _mounts()

    def own_v1_memory_path(self):
        for line in (procfs.read_text("/proc/self/cgroup") or "").splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3 and "memory" in parts[1].split(","):
                return parts[2]
        return "/"

    def v1_parent_dir(self):
        if not self.v1_mount:
            return None
        return self.v1_mount + self.own_v1_memory_path().rstrip("/")

    def v2_has_memory(self):
        ctrl = procfs.read_text(os.path.join(self.v2_mount or "/nonexistent", "cgroup.subtree_control")) or ""
        return "memory" in ctrl.split()

    @property
    def kind(self):
        if self.v2_mount and self.v1_mount:
            return "hybrid"
        return "v2" if self.v2_mount else "none"

    def check(self, need_limit=True):
        """None if usable, else why not."""
        if os.geteuid() != 0:
            return "needs root (it makes cgroups and moves processes into them)"
        if not self.v2_mount:
            return "no cgroup2 mount in /proc/self/mountinfo (cgroup v2 is needed for memory.pressure)"
        if need_limit and not self.v1_mount and not self.v2_has_memory():
            return ("no memory controller: neither a v1 memory hierarchy nor 'memory' in "
                    f"{self.v2_mount}/cgroup.subtree_control")
        if not os.path.exists("/proc/pressure/memory"):
            return "no PSI (/proc/pressure/memory): boot with psi=1 (Linux 4.20+)"
        return None


class IncidentCgroup:
    """A v2 cgroup (plus a v1 memory cgroup on hybrid hosts when limited)."""

    def __init__(self, env, name, limit_mib, registry):
        self.env = env
        self.name = name
        self.registry = registry
        self.v2 = os.path.join(env.v2_mount, name)
        self.v1 = None
        self.limit_mib = limit_mib
        self.apps = {}
        os.mkdir(self.v2)
        registry.add_cgroup(self.v2)
        if limit_mib:
            limit = str(limit_mib * 1024 * 1024)
            if env.v1_mount:
                self.v1 = os.path.join(env.v1_parent_dir(), name)
                os.mkdir(self.v1)
                registry.add_cgroup(self.v1)
                _write(os.path.join(self.v1, "memory.limit_in_bytes"), limit)
                # No swapping inside the limit even where the machine has swap.
                if not _write(os.path.join(self.v1, "memory.memsw.limit_in_bytes"), limit, quiet=True):
                    _write(os.path.join(self.v1, "memory.swappiness"), "0", quiet=True)
            else:
                _write(os.path.join(self.v2, "memory.max"), limit)
                _write(os.path.join(self.v2, "memory.swap.max"), "0", quiet=True)

    @property
    def scope(self):
        """The path memguardd --scope takes (relative to the cgroup2 mount)."""
        return "/" + self.name

    def app(self, app):
        """The leaf v2 cgroup of one app (app-NAME.scope), made on first use."""
        if app not in self.apps:
            path = os.path.join(self.v2, f"app-{app}.scope")
            os.mkdir(path)
            self.apps[app] = path
        return self.apps[app]

    def spawn(self, app, argv, stdout=None, stderr=None, env=None):
        procs_v2 = os.path.join(self.app(app), "cgroup.procs")
        procs_v1 = os.path.join(self.v1, "cgroup.procs") if self.v1 else ""
        return subprocess.Popen(["/bin/sh", "-c", _SPAWN_SH, procs_v2, procs_v1] + list(argv),
                                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env,
                                start_new_session=True, close_fds=True)

    def pressure(self):
        return procfs.read_psi(os.path.join(self.v2, "memory.pressure"))

    def pids(self):
        out = []
        for dirpath, _, _ in os.walk(self.v2):
            for line in (procfs.read_text(os.path.join(dirpath, "cgroup.procs")) or "").split():
                out.append(int(line))
        return out

    def frozen_cgroups(self):
        """Cgroups in our tree that a manager froze (cgroup.events frozen 1)."""
        n = 0
        for dirpath, _, _ in os.walk(self.v2):
            for line in (procfs.read_text(os.path.join(dirpath, "cgroup.events")) or "").splitlines():
                if line.strip() == "frozen 1":
                    n += 1
        return n

    def usage_mib(self):
        if self.v1:
            text = procfs.read_text(os.path.join(self.v1, "memory.usage_in_bytes"))
        else:
            text = procfs.read_text(os.path.join(self.v2, "memory.current"))
        v = procfs.to_int((text or "").strip())
        return None if v is None else v / 1048576.0

    def oom_kills(self):
        """The kernel's OOM kills inside this cgroup (None where not counted)."""
        path = os.path.join(self.v1, "memory.oom_control") if self.v1 else os.path.join(self.v2, "memory.events")
        for line in (procfs.read_text(path) or "").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "oom_kill":
                return int(parts[1])
        return None

    def kill_all(self):
        """SIGKILL everything inside (cgroup.kill, or each PID), without
        removing the cgroups yet (a manager may still be watching them)."""
        from .state import kill_pid
        try:
            with open(os.path.join(self.v2, "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError:
            for pid in self.pids():
                kill_pid(pid)

    def destroy(self):
        from .state import remove_cgroup_tree
        ok = True
        for path in (self.v2, self.v1):
            if path and os.path.isdir(path):
                if remove_cgroup_tree(path):
                    self.registry.drop_cgroup(path)
                else:
                    ok = False
        return ok


def _write(path, value, quiet=False):
    try:
        with open(path, "w") as f:
            f.write(value)
        return True
    except OSError:
        if quiet:
            return False
        raise


def frozen_state(pid, env):
    """'stopped' (SIGSTOP, state T), 'frozen' (its cgroup frozen, v2 or v1
    freezer), or None."""
    st = procfs.proc_stat(pid)
    if not st:
        return None
    if st["state"] in ("T", "t"):
        return "stopped"
    for line in (procfs.read_text(f"/proc/{pid}/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and env.v2_mount:
            ev = procfs.read_text(os.path.join(env.v2_mount + parts[2], "cgroup.events")) or ""
            if "frozen 1" in ev.splitlines():
                return "frozen"
        elif "freezer" in parts[1].split(",") and env.v1_freezer_mount:
            state = procfs.read_text(env.v1_freezer_mount + parts[2] + "/freezer.state")
            if state and state.strip() in ("FROZEN", "FREEZING"):
                return "frozen"
    return None
