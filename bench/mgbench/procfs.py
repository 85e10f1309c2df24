# SPDX-License-Identifier: MIT
"""Readers of /proc and PSI files, and the small statistics the report needs.

Every reader returns None (or an empty result) when the process or file is
gone: a process that exits mid-read is normal here, not an error.
"""

import math
import os
import re
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def now():
    return time.monotonic()


def read_text(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def parse_psi(text):
    """'some avg10=… total=…' lines → {'some': {'avg10': f, 'total': int}, 'full': …}."""
    out = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if not parts or parts[0] not in ("some", "full"):
            continue
        fields = {}
        for p in parts[1:]:
            k, _, v = p.partition("=")
            try:
                fields[k] = int(v) if k == "total" else float(v)
            except ValueError:
                pass
        out[parts[0]] = fields
    return out


def read_psi(path):
    return parse_psi(read_text(path))


def parse_stat(text):
    """/proc/PID/stat, parsed from the last ')' (comm may hold anything)."""
    if not text:
        return None
    lp, rp = text.find("("), text.rfind(")")
    if lp < 0 or rp < lp:
        return None
    rest = text[rp + 2:].split()
    if len(rest) < 20:
        return None
    try:
        return {
            "comm": text[lp + 1:rp],
            "state": rest[0],
            "ppid": int(rest[1]),
            "utime": int(rest[11]),
            "stime": int(rest[12]),
            "starttime": int(rest[19]),
        }
    except ValueError:
        return None


def proc_stat(pid):
    return parse_stat(read_text(f"/proc/{pid}/stat"))


def parse_status(text):
    out = {}
    for line in (text or "").splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


def kib(value):
    """'1234 kB' → 1234 (None if absent)."""
    if not value:
        return None
    try:
        return int(value.split()[0])
    except (ValueError, IndexError):
        return None


def proc_cost(pid):
    """CPU ticks (all threads), peak and current RSS, and context switches
    summed over every thread (each wakeup of any thread counts)."""
    st = proc_stat(pid)
    status = parse_status(read_text(f"/proc/{pid}/status"))
    if not st or not status:
        return None
    switches, cpu_ns = 0, 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        tids = [str(pid)]
    for tid in tids:
        # schedstat: nanoseconds on the CPU (ticks are 10 ms, too coarse for a
        # daemon that sleeps most of the time).
        sched = (read_text(f"/proc/{pid}/task/{tid}/schedstat") or "").split()
        if cpu_ns is not None and sched and sched[0].isdigit():
            cpu_ns += int(sched[0])
        else:
            cpu_ns = None
        ts = parse_status(read_text(f"/proc/{pid}/task/{tid}/status"))
        for key in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            try:
                switches += int(ts.get(key, "0"))
            except ValueError:
                pass
    return {
        "t": now(),
        "cpu_ticks": st["utime"] + st["stime"],
        "cpu_ns": cpu_ns,
        "hwm_kib": kib(status.get("VmHWM")),
        "rss_kib": kib(status.get("VmRSS")),
        "switches": switches,
        "threads": len(tids),
    }


def proc_pss_kib(pid):
    text = read_text(f"/proc/{pid}/smaps_rollup")
    for line in (text or "").splitlines():
        if line.startswith("Pss:"):
            return kib(line.split(":", 1)[1])
    return None


def cost_delta(a, b):
    """Manager cost between two proc_cost() snapshots."""
    if not a or not b:
        return None
    secs = max(b["t"] - a["t"], 1e-9)
    wakeups = b["switches"] - a["switches"]
    if a.get("cpu_ns") is not None and b.get("cpu_ns") is not None and b["threads"] == a["threads"]:
        cpu_ms = (b["cpu_ns"] - a["cpu_ns"]) / 1e6
    else:   # threads came or went (their time would be lost or double-counted): ticks
        cpu_ms = (b["cpu_ticks"] - a["cpu_ticks"]) * 1000.0 / CLK_TCK
    return {
        "cpu_ms": round(cpu_ms, 1),
        "peak_rss_kib": b["hwm_kib"],
        "rss_kib": b["rss_kib"],
        "wakeups": wakeups,
        "wakeups_per_s": round(wakeups / secs, 2),
        "seconds": round(secs, 2),
    }


def meminfo():
    out = {}
    for line in (read_text("/proc/meminfo") or "").splitlines():
        k, _, v = line.partition(":")
        n = kib(v)
        if n is not None:
            out[k] = n
    return out


def vmstat(key):
    for line in (read_text("/proc/vmstat") or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            return int(parts[1])
    return None


_KV = re.compile(r'([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_kv(line):
    """key=value fields of a log line; quoted values lose their quotes."""
    out = {}
    for k, v in _KV.findall(line):
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        out[k] = v
    return out


def to_int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        try:
            return int(float(v))
        except (TypeError, ValueError):
            return None


def to_float(v):
    try:
        f = float(v)
        return f if math.isfinite(f) else None
    except (TypeError, ValueError):
        return None


def percentile(values, p):
    """Linear interpolation between closest ranks; None for no values."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    if len(vals) == 1:
        return vals[0]
    k = (len(vals) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return vals[lo] + (vals[hi] - vals[lo]) * (k - lo)


def median(values):
    return percentile(values, 50)


def pid_alive(pid, starttime=None):
    st = proc_stat(pid)
    if not st or st["state"] in ("Z", "X"):
        return False
    return starttime is None or st["starttime"] == starttime
