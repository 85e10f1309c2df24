# SPDX-License-Identifier: MIT
"""One run: one incident, one manager, one repetition → one JSON record.

Timeline of a run:
  1. a fresh incident cgroup; the manager starts (and settles) first;
  2. setup apps (probe, protected, background readers) start and warm up;
  3. t0: snapshots (OOM counts, PSI totals, the manager's CPU/RSS/switches),
     then the pressure sources start;
  4. every 250 ms a sample: PSI, memory in use, processes stopped/frozen,
     which of our processes ended; a progress line every second;
  5. the window closes after the incident's duration (for `build`, when the
     build finishes); end snapshots; everything in the cgroup is killed,
     the manager stopped; logs, the kernel's OOM messages and the probe's
     ticks are read; figures computed.
"""

import os
import subprocess
import time

from . import SCHEMA, procfs
from .cgroup import IncidentCgroup, frozen_state
from .incidents import ROLE_BY_COMM

SAMPLE_S = 0.25
CALM_PCT = 10.0         # PSI "some" stall share (%) under which it is calm again
CALM_HOLD_S = 3.0       # ... for at least this long before the window closes


class Kmsg:
    """The kernel's OOM-kill messages from /dev/kmsg, from now on."""

    def __init__(self):
        try:
            self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(self.fd, 0, os.SEEK_END)
        except OSError:
            self.fd = None

    def oom_kills(self):
        """[(t monotonic, pid, comm, task_memcg, constraint)]. kmsg timestamps
        are the kernel's local clock, which matches CLOCK_MONOTONIC closely."""
        import re
        out, memcg = [], {}
        if self.fd is None:
            return out
        killed = re.compile(r"Killed process (\d+) \(([^)]*)\)")
        while True:
            try:
                rec = os.read(self.fd, 8192).decode(errors="replace")
            except BlockingIOError:
                break
            except OSError:          # EPIPE: records overwritten meanwhile; go on
                continue
            head, _, msg = rec.partition(";")
            if msg.startswith("oom-kill:"):
                kv = dict(f.split("=", 1) for f in msg[9:].strip().split(",") if "=" in f)
                if procfs.to_int(kv.get("pid")) is not None:
                    memcg[procfs.to_int(kv["pid"])] = (kv.get("task_memcg"), kv.get("constraint"))
                continue
            m = killed.search(msg)
            if m:
                parts = head.split(",")
                t = int(parts[2]) / 1e6 if len(parts) > 2 and parts[2].isdigit() else time.monotonic()
                out.append((t, int(m.group(1)), m.group(2)) + memcg.get(int(m.group(1)), (None, None)))
        os.close(self.fd)
        self.fd = None
        return out


def _wait_ready(apps, procs, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(not a.ready_file or (os.path.exists(a.ready_file) and
                                    os.path.getsize(a.ready_file) >= a.ready_bytes) for a in apps):
            return True
        if any(p.poll() is not None for p in procs.values()):
            return False
        time.sleep(0.2)
    return False


def _parse_events(path):
    """Event lines of a workload's stdout: [dict(t_ms=…, what=…, …)]."""
    out = []
    for line in (procfs.read_text(path) or "").splitlines():
        if line.startswith("event "):
            out.append(procfs.parse_kv(line))
    return out


def _stall_rates(samples, key):
    """[(t, share 0..100)] of PSI stall time per wall time, from totals."""
    out = []
    for a, b in zip(samples, samples[1:]):
        ta, tb = a.get(key), b.get(key)
        if ta is None or tb is None or b["t"] <= a["t"]:
            continue
        out.append((b["t"], max(0.0, (tb - ta) / 1e6 / (b["t"] - a["t"]) * 100.0)))
    return out


def _smooth(series, window_s=1.0):
    out = []
    for i, (t, _) in enumerate(series):
        vals = [v for (u, v) in series[max(0, i - 20):i + 1] if t - u < window_s]
        out.append((t, sum(vals) / len(vals)))
    return out


def relief(samples, t0, t_end, key="some_total"):
    """Incident start → the moment the stall share (1 s mean) last fell under
    CALM_PCT, if it then stayed calm for CALM_HOLD_S before the window closed.
    (pressured, relieved, seconds)."""
    rates = [(t, v) for t, v in _smooth(_stall_rates(samples, key)) if t >= t0]
    high = [t for t, v in rates if v >= CALM_PCT]
    if not high:
        return False, None, None
    last = high[-1]
    if t_end - last >= CALM_HOLD_S:
        return True, True, round(last - t0, 2)
    return True, False, None


def relief_avg10(samples, t0, t_end):
    high = [s["t"] for s in samples if s["t"] >= t0 and (s.get("some_avg10") or 0) >= CALM_PCT]
    if not high:
        return None
    return round(high[-1] - t0, 2) if t_end - high[-1] >= CALM_HOLD_S else None


def probe_lateness(path, spawn_t, t0, t_end):
    ticks = []
    for line in (procfs.read_text(path) or "").splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        try:
            sched_s, late_us = int(parts[0]) / 1000.0, int(parts[1])
        except ValueError:
            continue
        t = spawn_t + sched_s
        if t0 <= t <= t_end:
            ticks.append((t, late_us / 1000.0))
    lat = [v for _, v in ticks]
    return {
        "ticks": len(lat),
        "p50_ms": _r(procfs.percentile(lat, 50)),
        "p99_ms": _r(procfs.percentile(lat, 99)),
        "max_ms": _r(max(lat) if lat else None),
        "over_100ms": sum(1 for v in lat if v > 100),
    }, ticks


def _r(v, nd=2):
    return None if v is None else round(v, nd)


class Run:
    def __init__(self, ctx, incident, manager, rep, index):
        self.ctx = ctx
        self.inc = incident
        self.mgr = manager
        self.rep = rep
        self.index = index
        self.tag = f"{incident.name}-{manager.name}-{rep}"
        self.dir = os.path.join(ctx.out, "runs", self.tag)
        os.makedirs(self.dir, exist_ok=True)
        self.procs = {}            # app → Popen
        self.spawn_t = {}          # app → monotonic time
        self.ended = {}            # app → (t, returncode)
        self.samples = []
        self.watch = {}            # pid → (role, comm)
        self.frozen_seen = {}      # pid → first (t, how)

    # --- steps ---------------------------------------------------------------
    def _spawn(self, cg, app):
        out = open(os.path.join(self.dir, f"{app.app}.out"), "w")
        p = cg.spawn(app.app, app.argv, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.procs[app.app] = p
        self.spawn_t[app.app] = time.monotonic()
        comm = "mgb-protected" if app.role == "protected" else os.path.basename(app.argv[0])[:15]
        self.watch[p.pid] = (app.role, comm)

    def _sample(self, cg, t0):
        t = time.monotonic()
        psi = cg.pressure() if self.ctx.mode == "cgroup" else procfs.read_psi("/proc/pressure/memory")
        s = {"t": t,
             "some_total": psi.get("some", {}).get("total"),
             "full_total": psi.get("full", {}).get("total"),
             "some_avg10": psi.get("some", {}).get("avg10"),
             "full_avg10": psi.get("full", {}).get("avg10")}
        if self.ctx.mode == "cgroup":
            s["used_mib"] = _r(cg.usage_mib(), 1)
        else:
            mi = procfs.meminfo()
            s["used_mib"] = _r((mi.get("MemTotal", 0) - mi.get("MemAvailable", 0)) / 1024.0, 1)
            s["swap_mib"] = _r((mi.get("SwapTotal", 0) - mi.get("SwapFree", 0)) / 1024.0, 1)
        for app, p in self.procs.items():
            if app not in self.ended and p.poll() is not None:
                self.ended[app] = (t, p.returncode)
        for pid, (role, _) in self.watch.items():
            if role in ("probe", "protected", "background") and pid not in self.frozen_seen:
                how = frozen_state(pid, self.ctx.cg_env)
                if how:
                    self.frozen_seen[pid] = (t, how)
        if len(self.samples) % 4 == 0:
            # Everything in the tree once a second (churning apps excepted):
            # how many processes are stopped or frozen right now.
            n = 0
            for pid in cg.pids():
                st = procfs.proc_stat(pid)
                if st and st["comm"] not in ("mgb-swarmling", "mgb-cc1") and frozen_state(pid, self.ctx.cg_env):
                    n += 1
            s["frozen"] = n
            s["frozen_cgroups"] = cg.frozen_cgroups()
        self.samples.append(s)
        return s

    def execute(self):
        ctx, inc, mgr = self.ctx, self.inc, self.mgr
        limit = inc.budget_mib if ctx.mode == "cgroup" else None
        cg = IncidentCgroup(ctx.cg_env, f"mgbench-{ctx.invocation}-{self.index}", limit, ctx.registry)
        kmsg = None
        error = None
        t0 = t_end = None
        cost0 = cost1 = None
        oom0 = cg_oom0 = oom1 = cg_oom1 = None
        try:
            scope = cg.scope if ctx.mode == "cgroup" or ctx.args.scope_memguard else None
            mgr.prepare(self.dir, ctx.mode, scope, ctx.protect_exes)
            mgr.start(self.dir)
            if mgr.pid:
                ctx.registry.add_pid(mgr.pid)
            time.sleep(1.0)                      # let it settle (first scan, triggers armed)

            setup = [a for a in inc.apps if a.phase == "setup"]
            for a in setup:
                self._spawn(cg, a)
            warm = time.monotonic()
            ready = _wait_ready(setup, self.procs, 60)
            while time.monotonic() - warm < 2.0:  # the probe's first ticks, at least
                time.sleep(0.1)
            if not ready:
                raise RuntimeError("setup apps did not warm up (see the *.out files in " + self.dir + ")")
            for _ in range(4):
                self._sample(cg, None)
                time.sleep(SAMPLE_S)

            kmsg = Kmsg()
            oom0, cg_oom0 = procfs.vmstat("oom_kill"), cg.oom_kills()
            cost0 = mgr.cost()
            t0 = time.monotonic()
            self._sample(cg, t0)
            for a in inc.apps:
                if a.phase == "incident":
                    self._spawn(cg, a)

            deadline = t0 + inc.seconds
            last_progress = 0
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                if inc.ends_when == "build" and "build" in self.ended:
                    break
                if mgr.command and not mgr.alive():
                    mgr.notes.append(f"exited during the run (status {mgr.proc.returncode})")
                    break
                self._sample(cg, t0)
                if now - last_progress >= 1.0:
                    ctx.progress(self, now - t0)
                    last_progress = now
                time.sleep(max(0.0, SAMPLE_S - (time.monotonic() - now)))
            t_end = time.monotonic()
            self._sample(cg, t0)
            cost1 = mgr.cost()
            oom1, cg_oom1 = procfs.vmstat("oom_kill"), cg.oom_kills()
            final_states = {pid: frozen_state(pid, ctx.cg_env) for pid, (role, _) in self.watch.items()
                            if role in ("probe", "protected")}
        except Exception as e:                      # recorded, and the run is torn down all the same
            error = f"{type(e).__name__}: {e}"
            final_states = {}
        finally:
            # The workloads first (nothing left to act on), then the manager,
            # then the cgroups it was watching.
            cg.kill_all()
            for p in self.procs.values():
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            mgr_status = mgr.stop()
            if mgr.pid:
                ctx.registry.drop_pid(mgr.pid)
            cg.destroy()
        kernel_kills = kmsg.oom_kills() if kmsg else []
        return self._record(cg, t0, t_end, cost0, cost1, oom0, oom1, cg_oom0, cg_oom1, kernel_kills,
                            final_states, mgr_status, error)

    # --- figures -------------------------------------------------------------
    def _role(self, pid, comm=None):
        if pid in self.watch:
            return self.watch[pid][0]
        return ROLE_BY_COMM.get((comm or "")[:15], "other")

    def _record(self, cg, t0, t_end, cost0, cost1, oom0, oom1, cg_oom0, cg_oom1, kernel_kills, final_states,
                mgr_status, error):
        ctx, inc, mgr = self.ctx, self.inc, self.mgr
        rel = (lambda t: None if t is None or t0 is None else round(t - t0, 3))
        t_end = t_end or time.monotonic()

        # Actions by the manager, on the incident's time axis.
        def mono(item):
            """An item's time on our monotonic clock: arrival time of its log
            line, or its own CLOCK_MONOTONIC / CLOCK_REALTIME stamp."""
            if item.get("t") is not None:
                return item["t"]
            if item.get("clock") == "mono":
                return item["clock_s"]
            if item.get("clock") == "real":
                return item["clock_s"] - ctx.real_minus_mono
            return None

        actions = []
        for a in mgr.actions(self.dir):
            t = mono(a)
            pids = a.get("pids") or []
            roles = sorted({self._role(p, a.get("comm")) for p in pids}) or \
                [ROLE_BY_COMM.get((a.get("comm") or "")[:15], "other")]
            actions.append({"t_s": rel(t), "by": mgr.name, "action": a.get("action"), "signal": a.get("signal"),
                            "pids": pids, "comm": a.get("comm"), "cgroup": a.get("cgroup"),
                            "roles": roles, "reason": a.get("reason"), "level": a.get("level"),
                            "result": a.get("result"), "error": a.get("error"), "dry_run": a.get("dry_run"),
                            "trigger_to_action_us": a.get("trigger_to_action_us"), "source": a.get("source")})
        # Kernel OOM kills: in cgroup mode those inside this run's cgroup; in
        # system mode every whole-machine OOM kill, and memcg OOM kills of ours
        # (other memcg OOMs on the machine are someone else's business).
        kernel = []
        for t, pid, comm, memcg, constraint in kernel_kills:
            mine = pid in self.watch or bool(memcg and cg.name in memcg)
            if ctx.mode == "cgroup" and not mine:
                continue
            if ctx.mode == "system" and not mine and constraint == "CONSTRAINT_MEMCG":
                continue
            kernel.append({"t_s": rel(t), "by": "kernel", "action": "oom-kill", "pids": [pid], "comm": comm,
                           "roles": [self._role(pid, comm)], "memcg": memcg})
        done = sorted(actions + kernel, key=lambda x: (x["t_s"] is None, x["t_s"] or 0))

        # Deaths of our processes during the window.
        deaths = []
        for app, (t, rc) in sorted(self.ended.items(), key=lambda kv: kv[1][0]):
            p = self.procs[app]
            role, comm = self.watch[p.pid]
            if t0 is not None and t <= t_end:
                deaths.append({"t_s": rel(t), "pid": p.pid, "app": app, "comm": comm, "role": role,
                               "how": f"signal {-rc}" if rc < 0 else f"exit {rc}"})
        for app in ("tabs", "build", "swarm"):
            for ev in _parse_events(os.path.join(self.dir, f"{app}.out")):
                if ev.get("what") == "stopping":
                    break
                if ev.get("what") == "exit" and "sig" in ev and app in self.spawn_t:
                    t = self.spawn_t[app] + (procfs.to_int(ev.get("t_ms")) or 0) / 1000.0
                    deaths.append({"t_s": rel(t), "pid": procfs.to_int(ev.get("pid")), "app": app,
                                   "comm": {"tabs": "mgb-tab", "build": "mgb-cc1", "swarm": "mgb-swarmling"}[app],
                                   "role": "source", "how": "signal " + ev["sig"]})

        # Collateral: the probe or the protected process killed, stopped or frozen.
        collateral = []
        for d in deaths:
            if d["role"] in ("probe", "protected"):
                collateral.append({"t_s": d["t_s"], "role": d["role"], "pid": d["pid"], "what": "killed",
                                   "how": d["how"]})
        for pid, (t, how) in self.frozen_seen.items():
            role = self.watch[pid][0]
            if role in ("probe", "protected"):
                collateral.append({"t_s": rel(t), "role": role, "pid": pid, "what": how})
        for a in done:
            for pid, role in ((p, self._role(p, a.get("comm"))) for p in a["pids"]):
                if role in ("probe", "protected") and not any(c["pid"] == pid for c in collateral):
                    collateral.append({"t_s": a["t_s"], "role": role, "pid": pid, "what": a["action"],
                                       "by": a["by"]})

        s0 = next((s for s in self.samples if t0 is not None and s["t"] >= t0), None)
        s1 = self.samples[-1] if self.samples else None
        psi_full = psi_some = None
        if s0 and s1 and s0.get("full_total") is not None and s1.get("full_total") is not None:
            psi_full = s1["full_total"] - s0["full_total"]
            psi_some = s1["some_total"] - s0["some_total"]
        pressured, relieved, relief_s = relief(self.samples, t0, t_end) if t0 else (None, None, None)
        probe_app = next(a for a in inc.apps if a.role == "probe")
        lat, ticks = probe_lateness(inc.probe_out, self.spawn_t.get(probe_app.app, 0), t0 or 0, t_end) \
            if t0 else ({}, [])
        build_s = failed_jobs = None
        if inc.name == "build":
            for ev in _parse_events(os.path.join(self.dir, "build.out")):
                if ev.get("what") == "done":
                    build_s = round((procfs.to_int(ev.get("ms")) or 0) / 1000.0, 2)
                    failed_jobs = procfs.to_int(ev.get("failed"))
        levels = [{"t_s": rel(mono(lv)), "level": lv["level"], "score": lv["score"]} for lv in mgr.levels()]
        detect = next((lv["t_s"] for lv in levels if lv["t_s"] is not None and lv["t_s"] >= 0 and
                       lv["level"] in ("high", "critical", "emergency")), None)
        first_action = next((a["t_s"] for a in actions if a["t_s"] is not None and a["t_s"] >= 0 and
                             a.get("result") != "failed"), None)
        frozen_counts = [s["frozen"] for s in self.samples if "frozen" in s and t0 and s["t"] >= t0]
        cost = procfs.cost_delta(cost0, cost1) if mgr.command else None
        if cost is not None:
            cost = {k: cost[k] for k in ("cpu_ms", "peak_rss_kib", "wakeups", "wakeups_per_s", "seconds")}

        stall_some = _smooth(_stall_rates(self.samples, "some_total"))
        stall_full = _smooth(_stall_rates(self.samples, "full_total"))
        timeline = {
            "t_s": [rel(t) for t, _ in stall_some],
            "psi_some_pct": [round(v, 2) for _, v in stall_some],
            "psi_full_pct": [round(v, 2) for _, v in stall_full][:len(stall_some)],
            "used_mib": [s.get("used_mib") for s in self.samples[1:]][:len(stall_some)],
        }
        return {
            "schema": SCHEMA,
            "invocation": ctx.invocation,
            "incident": inc.name,
            "manager": mgr.name,
            "mode": ctx.mode,
            "rep": self.rep,
            "ok": error is None,
            "error": error,
            "started_at": ctx.started_at,
            "duration_scale": ctx.args.duration_scale,
            "budget_mib": inc.budget_mib,
            "window_s": round(t_end - t0, 2) if t0 else None,
            "planned_s": inc.seconds,
            "manager_info": dict(mgr.describe(), exit_status=mgr_status),
            "figures": {
                "oom_kills": (oom1 - oom0) if oom0 is not None and oom1 is not None else None,
                "oom_kills_cgroup": (cg_oom1 - cg_oom0) if cg_oom0 is not None and cg_oom1 is not None else None,
                "oom_kills_ours": len(kernel),
                "collateral": len({(c["role"], c["pid"]) for c in collateral}),
                "collateral_events": collateral,
                "actions": len(actions),
                "actions_failed": sum(1 for a in actions if a.get("result") == "failed"),
                "first_action_s": first_action,
                "detect_s": detect,
                "psi_full_us": psi_full,
                "psi_some_us": psi_some,
                "probe": lat,
                "pressured": pressured,
                "relieved": relieved,
                "relief_s": relief_s,
                "relief_avg10_s": relief_avg10(self.samples, t0, t_end) if t0 else None,
                "build_s": build_s,
                "build_failed_jobs": failed_jobs,
                "frozen_max": max(frozen_counts) if frozen_counts else 0,
                "frozen_at_end": frozen_counts[-1] if frozen_counts else 0,
                "manager_cost": cost,
            },
            "done": done,
            "deaths": deaths,
            "levels": levels,
            "timeline": timeline,
            "files": {"dir": os.path.relpath(self.dir, ctx.out)},
            "final_states": {str(k): v for k, v in final_states.items()},
        }

