# SPDX-License-Identifier: MIT
"""The managers under test: memguard (from the build tree), earlyoom and
nohang (Debian packages), and none (the kernel's OOM killer alone).

Each is configured as its own documentation recommends, plus the bench's
protect list (the probe, the protected process and the ballast) in the
form it understands. Its output is read line by line as it comes and
stamped with the time it arrived, so that actions and level changes can be
placed on the incident's time axis even when the tool does not timestamp
them.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

from . import procfs

PROTECT_COMMS = ("mgb-probe", "mgb-protected", "mgb-ballast")
PROTECT_REGEX = "^(" + "|".join(PROTECT_COMMS) + ")$"


class LineLog:
    """Reads a pipe in a thread; keeps (monotonic time, line) and writes
    'seconds<TAB>line' to a file."""

    def __init__(self, pipe, path):
        self.lines = []
        self.path = path
        self._pipe = pipe
        self._file = open(path, "w")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        for raw in iter(self._pipe.readline, b""):
            t = time.monotonic()
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append((t, line))
            self._file.write(f"{t:.3f}\t{line}\n")
            self._file.flush()
        self._file.close()

    def wait_for(self, pattern, timeout):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            while seen < len(self.lines):
                if rx.search(self.lines[seen][1]):
                    return True
                seen += 1
            time.sleep(0.05)
        return False

    def join(self, timeout=5):
        self._thread.join(timeout)


class Manager:
    name = "?"
    ready_pattern = None
    # Modes in which it takes part in incidents; earlyoom and nohang watch only
    # whole-machine memory, so they sit cgroup mode out.
    incident_modes = ("cgroup", "system")
    sits_out_reason = None

    def __init__(self, opts):
        self.opts = opts
        self.proc = None
        self.log = None
        self.notes = []
        self.command = []
        self.config_text = ""
        self.config_path = None

    # --- what a subclass provides --------------------------------------
    def unavailable(self):
        """None when it can run here, else why not."""
        return None

    def version(self):
        return None

    def prepare(self, run_dir, mode, scope, protect_exes, idle=False):
        """Write the config into run_dir and set self.command."""
        self.command = []

    def env(self):
        return None

    def actions(self, run_dir):
        return []

    def levels(self):
        return []

    # --- common ----------------------------------------------------------
    def describe(self):
        return {"name": self.name, "version": self.version(), "command": self.command,
                "config": self.config_text, "notes": list(self.notes)}

    def start(self, run_dir):
        if not self.command:
            return
        self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=self.env(), start_new_session=True,
                                     close_fds=True)
        self.log = LineLog(self.proc.stdout, os.path.join(run_dir, f"{self.name}.log"))
        if self.ready_pattern and not self.log.wait_for(self.ready_pattern, 15):
            self.notes.append(f"did not print /{self.ready_pattern}/ within 15 s of starting")
        if self.proc.poll() is not None:
            self.log.join()
            tail = "\n".join(line for _, line in self.log.lines[-10:])
            raise RuntimeError(f"{self.name} exited at once (status {self.proc.returncode}):\n{tail}")

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def cost(self):
        return procfs.proc_cost(self.pid) if self.pid else None

    def pss_kib(self):
        return procfs.proc_pss_kib(self.pid) if self.pid else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.join()
        return self.proc.returncode


class NoneManager(Manager):
    name = "none"

    def describe(self):
        d = super().describe()
        d["notes"].append("no daemon: the kernel's OOM killer (memcg OOM in cgroup mode) is the only manager")
        return d


class MemguardManager(Manager):
    name = "memguard"
    ready_pattern = r"memguardd started"

    def __init__(self, opts):
        super().__init__(opts)
        self.binary = os.environ.get("MEMGUARDD") or os.path.join(opts.build, "service", "memguardd")
        self.state_dir = None
        self._help = None

    def unavailable(self):
        if not os.access(self.binary, os.X_OK):
            return f"{self.binary} not found: build it (meson setup build && meson compile -C build) or pass --build"
        return None

    def version(self):
        import hashlib
        r = subprocess.run([self.binary, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with open(self.binary, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        return f"{r.stdout.strip() or '?'} ({os.path.abspath(self.binary)}, sha256 {digest}…)"

    def _supports(self, option):
        if self._help is None:
            r = subprocess.run([self.binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self._help = r.stdout
        return option in self._help

    def _check_config(self, path):
        r = subprocess.run([self.binary, "--check-config", "--config", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        return r.returncode == 0, r.stdout.strip()

    def prepare(self, run_dir, mode, scope, protect_exes, idle=False):
        self.notes = []
        path = os.path.join(run_dir, "memguard.conf")
        header = ("# bench/run: memguard's built-in defaults, plus the protect list\n"
                  "# (the probe, the protected process and the ballast, by exe path).\n")
        protect = "[protect]\nexe=" + ";".join(sorted(set(protect_exes))) + "\n"
        text = header + protect
        with open(path, "w") as f:
            f.write(text)
        ok, msg = self._check_config(path)
        if not ok:
            text = header + "# [protect] was rejected by this memguardd, so it runs without it:\n# " + \
                msg.replace("\n", "\n# ") + "\n"
            with open(path, "w") as f:
                f.write(text)
            self.notes.append("protect list not supported by this memguardd ([protect] rejected): "
                              "the probe and protected process are not shielded by config")
        self.config_text, self.config_path = text, path
        cmd = [self.binary, "--system", "--config", path]
        if scope:
            cmd += ["--scope", scope]
        if idle:
            cmd.append("--dry-run")
        self.state_dir = None
        if self._supports("--state-dir"):
            self.state_dir = os.path.join(run_dir, "memguard-state")
            os.makedirs(self.state_dir, exist_ok=True)
            cmd += ["--state-dir", self.state_dir]
        else:
            self.notes.append("memguardd has no --state-dir: events.jsonl not collected, actions come from "
                              "its log only")
        self.command = cmd

    def _events(self):
        """Parsed objects of events.jsonl (and its rotated predecessors)."""
        out = []
        if not self.state_dir:
            return out
        names = sorted((n for n in os.listdir(self.state_dir) if n.startswith("events.jsonl")),
                       key=lambda n: -int(n.rsplit(".", 1)[1]) if n[-1].isdigit() else 0)
        for name in names:
            with open(os.path.join(self.state_dir, name), errors="replace") as f:
                for line in f:
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(ev, dict):
                        out.append(ev)
        return out

    def levels(self):
        """Level changes: the log's "pressure rising/falling" lines (timed by
        arrival), else the events.jsonl "level" records."""
        out = []
        for t, line in (self.log.lines if self.log else []):
            if "pressure rising" in line or "pressure falling" in line:
                kv = procfs.parse_kv(line)
                if "level" in kv:
                    out.append({"t": t, "level": kv["level"], "score": procfs.to_float(kv.get("score")),
                                "previous": kv.get("previous")})
        if not out:
            for ev in self._events():
                lv = level_from_event(ev)
                if lv and lv["level"]:
                    out.append(dict(lv, t=None))
        return out

    def actions(self, run_dir):
        events = []
        for ev in self._events():
            a = action_from_event(ev)
            if a:
                a["source"] = "events.jsonl"
                events.append(a)
        if events:
            return events
        for t, line in (self.log.lines if self.log else []):
            if "action=" not in line:
                continue
            a = action_from_event(procfs.parse_kv(line))
            if a:
                a["t"] = t
                a["source"] = "log"
                events.append(a)
        return events


# Timestamps an event may carry, tried in order: (key, clock, unit).
_TIME_KEYS = (
    ("monotonic_us", "mono", 1e-6), ("mono_us", "mono", 1e-6), ("ts_mono_us", "mono", 1e-6),
    ("time_usec", "real", 1e-6), ("ts_us", "real", 1e-6), ("realtime_us", "real", 1e-6), ("time_us", "real", 1e-6),
    ("timestamp_us", "real", 1e-6), ("ts", "real", 1.0), ("time", "real", 1.0), ("timestamp", "real", 1.0),
)


def _event_time(ev):
    """(clock, seconds) from an event, or (None, None)."""
    import datetime
    for key, clock, unit in _TIME_KEYS:
        if key not in ev:
            continue
        v = ev[key]
        f = procfs.to_float(v)
        if f is not None:
            return clock, f * unit
        if isinstance(v, str):
            try:
                d = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
                return "real", d.timestamp()
            except ValueError:
                continue
    return None, None


# Event records that are not actions on a process: level changes (read as
# levels instead) and the outcome records that follow a kill.
NOT_ACTIONS = ("level", "kill-result")


def _flat(ev):
    """memguardd's events.jsonl nests the target ({"target": {"pid", "comm",
    …}}) and the measured values ({"figures": {"trigger_to_action_us", …}});
    a log line has them all at the top. One view of both."""
    out = dict(ev)
    for key in ("target", "figures"):
        inner = ev.get(key)
        if isinstance(inner, dict):
            for k, v in inner.items():
                out.setdefault(k, v)
    return out


def action_from_event(ev):
    """An action from an events.jsonl object or a log line's key=value
    fields; None if it is not one."""
    ev = _flat(ev)
    kind = ev.get("action") or ev.get("type") or ev.get("event")
    if not isinstance(kind, str) or not kind or kind in NOT_ACTIONS:
        return None
    pids = []
    if procfs.to_int(ev.get("pid")) is not None and procfs.to_int(ev.get("pid")) > 0:
        pids.append(procfs.to_int(ev.get("pid")))
    for key in ("pids", "processes"):
        listed = ev.get(key)
        for p in listed if isinstance(listed, list) else []:
            v = procfs.to_int(p.get("pid") if isinstance(p, dict) else p)
            if v is not None and v not in pids:
                pids.append(v)
    clock, secs = _event_time(ev)
    dry = ev.get("dry_run")
    return {
        "action": kind,
        "pids": pids,
        "comm": ev.get("comm") or ev.get("name") or ev.get("app"),
        "app": ev.get("app"),
        "cgroup": ev.get("cgroup"),
        "reason": ev.get("reason"),
        "level": ev.get("level"),
        "result": ev.get("result"),
        "error": ev.get("error"),
        "dry_run": dry is True or dry in ("yes", "true", "1"),
        "trigger_to_action_us": procfs.to_int(ev.get("trigger_to_action_us")),
        "clock": clock,
        "clock_s": secs,
    }


def level_from_event(ev):
    """A level change from memguardd's events.jsonl ({"action": "level",
    "reason": "normal -> high", "figures": {"level": 2, "score": …}})."""
    ev = _flat(ev)
    if ev.get("action") != "level":
        return None
    reason = ev.get("reason") or ""
    name = reason.split("->")[-1].strip() if "->" in reason else LEVEL_NAMES.get(procfs.to_int(ev.get("level")))
    clock, secs = _event_time(ev)
    return {"level": name, "score": procfs.to_float(ev.get("score")), "clock": clock, "clock_s": secs}


LEVEL_NAMES = {0: "normal", 1: "elevated", 2: "high", 3: "critical", 4: "emergency"}


class EarlyoomManager(Manager):
    name = "earlyoom"
    ready_pattern = r"sending SIGTERM when|Will avoid killing"
    incident_modes = ("system",)
    sits_out_reason = "watches whole-machine MemAvailable/SwapFree only, so it sits cgroup mode out"
    # Debian's /etc/default/earlyoom ships EARLYOOM_ARGS="-r 3600".
    debian_args = ["-r", "3600"]

    def unavailable(self):
        if not shutil.which("earlyoom"):
            return "earlyoom not installed (bench/run --setup, or apt-get install earlyoom)"
        return None

    def version(self):
        return _tool_version(["earlyoom", "-v"], "earlyoom")

    def prepare(self, run_dir, mode, scope, protect_exes, idle=False):
        self.notes = []
        args = list(self.debian_args) + ["--avoid", PROTECT_REGEX]
        if idle and mode != "system":
            args.append("--dryrun")
        self.config_text = ("# Debian's /etc/default/earlyoom: EARLYOOM_ARGS=\"-r 3600\"; the protect list as --avoid\n"
                            "earlyoom " + " ".join(_sh_quote(a) for a in args) + "\n")
        wrapper = ["stdbuf", "-oL", "-eL"] if shutil.which("stdbuf") else []
        self.command = wrapper + [shutil.which("earlyoom")] + args

    _SEND = re.compile(r'sending (SIG[A-Z]+) to process (\d+)(?: uid \d+)? "((?:[^"\\]|\\.)*)"')

    def actions(self, run_dir):
        out = []
        for t, line in (self.log.lines if self.log else []):
            m = self._SEND.search(line)
            if m:
                out.append({"t": t, "action": "kill", "signal": m.group(1), "pids": [int(m.group(2))],
                            "comm": m.group(3), "reason": "low memory", "source": "log"})
            elif "escalating to SIGKILL" in line and out:
                prev = dict(out[-1])
                prev.update({"t": t, "signal": "SIGKILL", "reason": "escalation"})
                out.append(prev)
        return out


class NohangManager(Manager):
    name = "nohang"
    ready_pattern = r"Monitoring has started"
    incident_modes = ("system",)
    sits_out_reason = "watches whole-machine memory, swap and PSI only, so it sits cgroup mode out"

    def unavailable(self):
        if not shutil.which("nohang"):
            return "nohang not installed (bench/run --setup, or apt-get install nohang)"
        return None

    def version(self):
        return _tool_version(["nohang", "--version"], "nohang")

    def prepare(self, run_dir, mode, scope, protect_exes, idle=False):
        self.notes = []
        # Debian's nohang.service runs /etc/nohang/nohang.conf (the vanilla
        # defaults; nohang-desktop.conf adds GUI notifications and PSI).
        base = next((p for p in ("/etc/nohang/nohang.conf", "/usr/share/nohang/nohang.conf")
                     if os.path.exists(p)), None)
        text = open(base).read() if base else ""
        extra = ("\n# bench/run: the protect list (nohang skips victims whose badness is below min_badness)\n"
                 f"@BADNESS_ADJ_RE_NAME -1000 /// {PROTECT_REGEX}\n")
        path = os.path.join(run_dir, "nohang.conf")
        with open(path, "w") as f:
            f.write(text + extra)
        self.config_path = path
        self.config_text = f"# {base} unchanged (nohang.service's default), plus:{extra}"
        if idle and mode != "system":
            self.notes.append("nohang has no dry-run switch")
        self.command = [shutil.which("nohang"), "--monitor", "--config", path]

    def env(self):
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    _VICTIM = re.compile(r"PID:\s*(\d+), name: (.*?), state:")
    _SEND = re.compile(r"Sending (SIG[A-Z]+) to the victim")

    def actions(self, run_dir):
        out, victim = [], None
        for t, line in (self.log.lines if self.log else []):
            m = self._VICTIM.search(line)
            if m:
                victim = (int(m.group(1)), m.group(2))
                continue
            m = self._SEND.search(line)
            if m and victim:
                out.append({"t": t, "action": "kill", "signal": m.group(1), "pids": [victim[0]],
                            "comm": victim[1], "reason": "low memory", "source": "log"})
            elif "Executing the command" in line and victim:
                out.append({"t": t, "action": "command", "pids": [victim[0]], "comm": victim[1],
                            "reason": line.strip(), "source": "log"})
        return out


def _tool_version(cmd, package):
    """The tool's own version line, and the Debian package's version."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = next((ln.strip() for ln in r.stdout.splitlines() if ln.strip().startswith(package)), "")
    deb = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True) if shutil.which("dpkg-query") else None
    if deb and deb.returncode == 0 and deb.stdout:
        line = (line + f" (Debian package {deb.stdout})").strip()
    return line or None


def _sh_quote(s):
    return s if re.fullmatch(r"[A-Za-z0-9_./=:-]+", s) else "'" + s.replace("'", "'\\''") + "'"


MANAGERS = {
    "memguard": MemguardManager,
    "earlyoom": EarlyoomManager,
    "nohang": NohangManager,
    "none": NoneManager,
}
