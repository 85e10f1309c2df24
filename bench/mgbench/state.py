# SPDX-License-Identifier: MIT
"""The teardown registry: everything a run creates outside its output folder
is written down here first, so that it can be undone on every exit path,
including by `bench/run --teardown` after a crash.

One JSON file per invocation in /run/mgbench/ (tmpfs: gone at reboot, like
the things it lists). Entries:
  pids     [pid, starttime, comm]   processes the bench started
  cgroups  [path]                   directories it made (v2 and v1), deepest last
  zram     {device, hot_added}      a zram swap device it switched on
  files    [path]                   scratch directories it made
Only what is listed, or what carries the bench's own names ("mgbench-*"
cgroups, "mgb-*" processes run from a "mgb-*" binary), is ever touched.
"""

import json
import os
import signal
import subprocess
import time

from . import procfs

STATE_DIR = "/run/mgbench"


def _write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


class Registry:
    def __init__(self, invocation_id):
        os.makedirs(STATE_DIR, mode=0o700, exist_ok=True)
        self.path = os.path.join(STATE_DIR, f"{invocation_id}.json")
        self.data = {"owner": os.getpid(), "owner_start": procfs.proc_stat(os.getpid())["starttime"],
                     "pids": [], "cgroups": [], "zram": None, "files": []}
        self._save()

    def _save(self):
        _write_atomic(self.path, self.data)

    def add_pid(self, pid):
        st = procfs.proc_stat(pid)
        self.data["pids"].append([pid, st["starttime"] if st else None, st["comm"] if st else ""])
        self._save()

    def drop_pid(self, pid):
        self.data["pids"] = [p for p in self.data["pids"] if p[0] != pid]
        self._save()

    def add_cgroup(self, path):
        if path not in self.data["cgroups"]:
            self.data["cgroups"].append(path)
            self._save()

    def drop_cgroup(self, path):
        self.data["cgroups"] = [c for c in self.data["cgroups"] if c != path]
        self._save()

    def set_zram(self, zram):
        self.data["zram"] = zram
        self._save()

    def add_file(self, path):
        self.data["files"].append(path)
        self._save()

    def drop_file(self, path):
        self.data["files"] = [f for f in self.data["files"] if f != path]
        self._save()

    def close(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass


def kill_pid(pid, starttime=None, sig=signal.SIGKILL):
    """Signal a process only if it is still the one we started: through a
    pidfd, after checking its start time (a reused PID is left alone)."""
    try:
        fd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        fd = None
    try:
        st = procfs.proc_stat(pid)
        if not st or (starttime is not None and st["starttime"] != starttime):
            return False
        if fd is not None:
            signal.pidfd_send_signal(fd, sig)
        else:
            os.kill(pid, sig)
        return True
    except OSError:
        return False
    finally:
        if fd is not None:
            os.close(fd)


def remove_cgroup_tree(path, tries=100):
    """cgroup.kill (or SIGKILL to each member) and rmdir, deepest first,
    retrying until the kernel lets go. Returns True when it is gone."""
    if not os.path.isdir(path):
        return True
    kill_file = os.path.join(path, "cgroup.kill")
    for attempt in range(tries):
        if os.path.exists(kill_file):
            try:
                with open(kill_file, "w") as f:
                    f.write("1")
            except OSError:
                pass
        else:
            for dirpath, _, _ in os.walk(path):
                for line in (procfs.read_text(os.path.join(dirpath, "cgroup.procs")) or "").split():
                    kill_pid(int(line))
        # A frozen v1 freezer cgroup or a v2 frozen cgroup still dies of SIGKILL.
        for dirpath, dirnames, _ in sorted(os.walk(path), key=lambda w: -w[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
        if not os.path.isdir(path):
            return True
        time.sleep(0.1)
    return False


def zram_off(zram):
    dev = zram.get("device")
    if not dev:
        return
    subprocess.run(["swapoff", dev], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    name = os.path.basename(dev)
    try:
        with open(f"/sys/block/{name}/reset", "w") as f:
            f.write("1")
    except OSError:
        pass
    if zram.get("hot_added"):
        try:
            with open("/sys/class/zram-control/hot_remove", "w") as f:
                f.write(name.replace("zram", ""))
        except OSError:
            pass


def undo(data, log=print):
    """Undo one registry's entries: processes, then cgroups, zram, files."""
    for pid, start, comm in data.get("pids", []):
        if kill_pid(pid, start):
            log(f"teardown: killed {comm or 'process'} pid {pid}")
    for path in reversed(data.get("cgroups", [])):
        if os.path.isdir(path):
            ok = remove_cgroup_tree(path)
            log(f"teardown: {'removed' if ok else 'could not remove'} cgroup {path}")
    if data.get("zram"):
        zram_off(data["zram"])
        log(f"teardown: swapoff and reset {data['zram'].get('device')}")
    for path in data.get("files", []):
        if os.path.isdir(path) and os.path.basename(path).startswith("mgbench-"):
            subprocess.run(["rm", "-rf", "--one-file-system", path])
            log(f"teardown: removed {path}")


def _owner_alive(data):
    return procfs.pid_alive(data.get("owner", -1), data.get("owner_start"))


def teardown_leftovers(cg_env, log=print):
    """`bench/run --teardown`: clean up after invocations that died.
    Returns the number of things undone."""
    n = 0
    if os.path.isdir(STATE_DIR):
        for name in sorted(os.listdir(STATE_DIR)):
            if not name.endswith(".json"):
                continue
            path = os.path.join(STATE_DIR, name)
            try:
                with open(path) as f:
                    data = json.load(f)
            except (OSError, ValueError):
                continue
            if _owner_alive(data):
                log(f"teardown: {name} belongs to a running bench (pid {data.get('owner')}), left alone")
                continue
            undo(data, log)
            n += 1
            os.unlink(path)
    # Cgroups with the bench's names that no live invocation owns.
    live = set()
    if os.path.isdir(STATE_DIR):
        for name in os.listdir(STATE_DIR):
            try:
                with open(os.path.join(STATE_DIR, name)) as f:
                    live.update(json.load(f).get("cgroups", []))
            except (OSError, ValueError):
                pass
    for root in filter(None, [cg_env.v2_mount, cg_env.v1_parent_dir()]):
        try:
            entries = os.listdir(root)
        except OSError:
            continue
        for e in entries:
            path = os.path.join(root, e)
            if e.startswith("mgbench-") and os.path.isdir(path) and path not in live:
                ok = remove_cgroup_tree(path)
                log(f"teardown: {'removed' if ok else 'could not remove'} stray cgroup {path}")
                n += 1
    # Stray workload processes: comm "mgb-*", run from a "mgb-*" binary, and
    # not inside a cgroup of a running invocation.
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        st = procfs.proc_stat(int(pid))
        if not st or not st["comm"].startswith("mgb-"):
            continue
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            continue
        if not exe.startswith("mgb-") or _in_live_cgroup(int(pid), cg_env, live):
            continue
        if kill_pid(int(pid), st["starttime"]):
            log(f"teardown: killed stray {st['comm']} pid {pid}")
            n += 1
    # zram devices the bench switched on are listed in the registries above;
    # one still swapping without a registry is not ours to touch.
    return n


def _in_live_cgroup(pid, cg_env, live):
    for line in (procfs.read_text(f"/proc/{pid}/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and cg_env.v2_mount:
            path = cg_env.v2_mount + parts[2]
        elif "memory" in parts[1].split(",") and cg_env.v1_mount:
            path = cg_env.v1_mount + parts[2]
        else:
            continue
        if any(path == c or path.startswith(c + "/") for c in live):
            return True
    return False
