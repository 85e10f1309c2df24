# SPDX-License-Identifier: MIT
"""System mode: whole-machine pressure, made safe.

A ballast locks RAM until only --headroom-mib stay available, zram swap is
switched on for the invocation, and both are undone on every exit path (the
registry lists them before they exist). Refuses to start on a machine with
less than 8 GiB, without root, or without --yes-really.
"""

import os
import select
import subprocess
import time

from . import procfs

MIN_TOTAL_MIB = 8 * 1024

OTHER_MANAGERS = ("earlyoom", "nohang", "systemd-oomd", "memguardd", "oomd", "bustd", "low-memory-mon",
                  "lmkd", "mgd")


def running_managers(exclude=()):
    """Memory managers already running on the machine (name, pid)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in exclude:
            continue
        st = procfs.proc_stat(int(pid))
        if not st:
            continue
        name = st["comm"]
        if name in ("python3", "python"):
            cmd = (procfs.read_text(f"/proc/{pid}/cmdline") or "").split("\0")
            name = os.path.basename(cmd[1]) if len(cmd) > 1 else name
        if name in OTHER_MANAGERS:
            # A memguardd with --scope manages one cgroup (someone's test), not the machine.
            args = (procfs.read_text(f"/proc/{pid}/cmdline") or "").split("\0")
            if "--scope" in args or any(a.startswith("--scope=") for a in args):
                continue
            found.append((name, int(pid)))
    return found


def check(args):
    """Reasons system mode cannot run here (empty list: it can)."""
    why = []
    total = procfs.meminfo().get("MemTotal", 0) // 1024
    if os.geteuid() != 0:
        why.append("system mode needs root (ballast mlock, zram swap, cgroups)")
    if total < MIN_TOTAL_MIB:
        why.append(f"system mode needs at least 8 GiB of RAM; this machine has {total} MiB")
    if not args.yes_really:
        why.append("system mode pressures the whole machine: add --yes-really to confirm "
                   "(read bench/README.md, 'Safety', first)")
    if not os.path.exists("/sys/class/zram-control/hot_add") and not _free_zram0():
        why.append("no free zram device: load the module (modprobe zram) or free /dev/zram0")
    others = running_managers()
    if others:
        why.append("another memory manager is running (" + ", ".join(f"{n} pid {p}" for n, p in others) +
                   "): stop it first, the comparison needs each one alone")
    return why


def _free_zram0():
    size = procfs.read_text("/sys/block/zram0/disksize")
    return size is not None and size.strip() == "0" and not _is_swap("/dev/zram0")


def _is_swap(dev):
    for line in (procfs.read_text("/proc/swaps") or "").splitlines()[1:]:
        if line.split() and line.split()[0] == dev:
            return True
    return False


def other_swap():
    return [line.split()[0] for line in (procfs.read_text("/proc/swaps") or "").splitlines()[1:] if line.split()]


def zram_on(size_mib, registry):
    """A fresh zram device as swap. Returns {'device', 'hot_added'}."""
    hot_added = False
    if os.path.exists("/sys/class/zram-control/hot_add"):
        with open("/sys/class/zram-control/hot_add") as f:
            num = f.read().strip()
        name, hot_added = f"zram{num}", True
    elif _free_zram0():
        name = "zram0"
    else:
        raise RuntimeError("no free zram device")
    dev = "/dev/" + name
    zram = {"device": dev, "hot_added": hot_added}
    registry.set_zram(zram)          # listed before anything is switched on
    for _ in range(50):              # udev may take a moment to make the node
        if os.path.exists(dev):
            break
        time.sleep(0.1)
    with open(f"/sys/block/{name}/disksize", "w") as f:
        f.write(f"{size_mib}M")
    subprocess.run(["mkswap", dev], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["swapon", "-p", "100", dev], check=True)
    return zram


def start_ballast(exe, headroom_mib, seconds, cg, registry, log_path):
    """Start mgb-ballast in its own cgroup app and wait until it holds."""
    out = open(log_path, "w")
    p = cg.spawn("ballast", [exe, "--leave-mib", str(headroom_mib), "--seconds", str(int(seconds))],
                 stdout=subprocess.PIPE, stderr=out)
    time.sleep(0.05)
    registry.add_pid(p.pid)
    deadline = time.monotonic() + 180
    line = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 1.0)
        if r:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
            if b"ready" in line:
                out.write(line.decode(errors="replace"))
                out.flush()
                fields = procfs.parse_kv(line.decode(errors="replace"))
                return p, procfs.to_int(fields.get("locked_mib")), procfs.to_int(fields.get("available_mib"))
        if p.poll() is not None:
            break
    raise RuntimeError(f"ballast did not get ready (see {log_path})")


def wait_calm(psi_path, headroom_mib, timeout, some_pct=5.0):
    """Between runs: until PSI some avg10 is under some_pct and most of the
    headroom is back (zram drained), or timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        psi = procfs.read_psi(psi_path).get("some", {})
        avail = procfs.meminfo().get("MemAvailable", 0) // 1024
        if psi.get("avg10", 0) < some_pct and (headroom_mib is None or avail >= 0.8 * headroom_mib):
            return True
        time.sleep(1)
    return False
