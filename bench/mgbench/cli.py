# SPDX-License-Identifier: MIT
"""bench/run: the command line, the safety checks, the invocation loop and
the teardown that runs on every exit path."""

import argparse
import atexit
import datetime
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

from . import SCHEMA, report, state, system, workloads
from .cgroup import CgroupEnv, IncidentCgroup
from .extras import idle as run_idle, scale as run_scale
from .incidents import INCIDENTS, build as build_incident
from .managers import MANAGERS
from .runner import Run

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
EXTRA = ("idle", "scale")

SETUP_PACKAGES = ["earlyoom", "nohang", "gnuplot-nox"]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/run",
        description="memguard's incident benchmark: the same memory incidents with memguard, earlyoom, "
                    "nohang and no manager, repeated, measured and tabled. See bench/README.md.")
    p.add_argument("--incident", default="all",
                   help="comma-separated list of " + ", ".join(INCIDENTS + EXTRA) +
                   "; 'all' = the six incidents (default: all)")
    p.add_argument("--manager", default="memguard,earlyoom,nohang,none",
                   help="comma-separated list of " + ", ".join(MANAGERS) + " (default: all four)")
    p.add_argument("--mode", choices=("cgroup", "system"), default="cgroup",
                   help="cgroup: pressure inside a memory-limited cgroup (safe, default); system: whole-machine "
                        "pressure with a ballast and zram swap (opt-in, needs --yes-really)")
    p.add_argument("--repeat", type=int, default=3, help="repetitions of each incident × manager (default 3)")
    p.add_argument("--duration-scale", type=float, default=1.0,
                   help="multiply every incident's duration by this (growth rates are divided by it); "
                        "0.25 makes a quick smoke run")
    p.add_argument("--out", help="output directory (default: bench/results/<timestamp>/)")
    p.add_argument("--build", default=None, help="memguard's meson build directory (default: ./build)")
    p.add_argument("--budget-mib", type=int, default=None,
                   help="cgroup mode: the incident cgroup's memory limit (default 256)")
    p.add_argument("--headroom-mib", type=int, default=2048,
                   help="system mode: memory the ballast leaves available (default 2048)")
    p.add_argument("--zram-mib", type=int, default=None,
                   help="system mode: size of the zram swap device (default: the headroom)")
    p.add_argument("--scope-memguard", action="store_true",
                   help="system mode: run memguard with --scope on the incident cgroup, so that it can act on "
                        "the bench's processes only (for shared machines; earlyoom and nohang have no such "
                        "switch: they pick the sources by their oom_score_adj of 1000)")
    p.add_argument("--idle-seconds", type=float, default=60.0, help="length of the idle measurement (default 60)")
    p.add_argument("--scale-reps", type=int, default=20, help="repetitions for the scale measurement (default 20)")
    p.add_argument("--yes-really", action="store_true",
                   help="confirm system mode (it pressures the whole machine)")
    p.add_argument("--setup", action="store_true",
                   help="install earlyoom, nohang and gnuplot-nox with apt-get, keep their services off, and exit")
    p.add_argument("--teardown", action="store_true",
                   help="clean up after a bench run that crashed (its cgroups, processes, zram swap) and exit")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    p.add_argument("--report", metavar="DIR",
                   help="only write report.md (and the plots) again from the JSON records in DIR, and exit")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if not 0.05 <= args.duration_scale <= 20:
        p.error("--duration-scale must be between 0.05 and 20")
    return args


# --- setup and teardown commands ---------------------------------------------------

def do_setup():
    """apt-get install the peers and gnuplot; they must not run as services
    during the benchmark, so their units are disabled where systemd runs."""
    if os.geteuid() != 0:
        print("bench/run --setup: needs root (apt-get install)", file=sys.stderr)
        return EXIT_REFUSED
    if not shutil.which("apt-get"):
        print("bench/run --setup: no apt-get; install earlyoom (1.7), nohang (0.2) and gnuplot by hand",
              file=sys.stderr)
        return EXIT_REFUSED
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("+ apt-get update", flush=True)
    if subprocess.run(["apt-get", "update", "-qq"], env=env).returncode != 0:
        return EXIT_FAILED
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + SETUP_PACKAGES
    print("+ " + " ".join(cmd), flush=True)
    if subprocess.run(cmd, env=env).returncode != 0:
        return EXIT_FAILED
    if os.path.isdir("/run/systemd/system") and shutil.which("systemctl"):
        units = ["earlyoom.service", "nohang.service", "nohang-desktop.service"]
        print("+ systemctl disable --now " + " ".join(units) + "   (the bench starts them itself)", flush=True)
        subprocess.run(["systemctl", "disable", "--now"] + units, stderr=subprocess.DEVNULL)
    running = system.running_managers()
    if running:
        print("note: still running: " + ", ".join(f"{n} pid {p}" for n, p in running) +
              " — stop them before a system-mode run", file=sys.stderr)
    for tool in ("earlyoom", "nohang", "gnuplot"):
        print(f"{tool}: {shutil.which(tool) or 'missing'}")
    return EXIT_OK


def do_teardown(env):
    if os.geteuid() != 0:
        print("bench/run --teardown: needs root", file=sys.stderr)
        return EXIT_REFUSED
    n = state.teardown_leftovers(env)
    print(f"teardown: {n} leftover(s) cleaned up" if n else "teardown: nothing left over")
    return EXIT_OK


def do_report(out, no_plot):
    """Render report.md again from an output directory's JSON files."""
    try:
        with open(os.path.join(out, "invocation.json")) as f:
            inv = json.load(f)
    except (OSError, ValueError) as e:
        print(f"bench/run --report: {out}: no readable invocation.json ({e})", file=sys.stderr)
        return EXIT_USAGE
    records = []
    for rel in inv.get("runs", []):
        with open(os.path.join(out, rel)) as f:
            records.append(json.load(f))
    idle = None
    idle_dir = os.path.join(out, "idle")
    if os.path.isdir(idle_dir):
        idle = {}
        for name in sorted(os.listdir(idle_dir)):
            if name.endswith(".json"):
                with open(os.path.join(idle_dir, name)) as f:
                    idle[name[:-5]] = json.load(f)
        for name, why in inv.get("idle_skipped", {}).items():
            idle[name] = {"skipped": why}
    scale = None
    if os.path.exists(os.path.join(out, "scale.json")):
        with open(os.path.join(out, "scale.json")) as f:
            scale = json.load(f)
    ctx = argparse.Namespace(invocation_info=inv)
    info = {}
    for r in records:
        info[r["manager"]] = r["manager_info"]
    for name, d in (idle or {}).items():
        if name not in info and d.get("describe"):
            info[name] = d["describe"]
    plots = {} if no_plot else report.plot(records, out)
    md = report.markdown(ctx, records, inv.get("skipped", {}), idle, scale, plots, info)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(md)
    print(md)
    return EXIT_OK


# --- the invocation -------------------------------------------------------------------

class Context:
    def __init__(self, args, out, mode, cg_env, registry):
        self.args = args
        self.out = out
        self.mode = mode
        self.cg_env = cg_env
        self.registry = registry
        self.invocation = str(os.getpid())
        self.started_at = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        self.real_minus_mono = time.time() - time.monotonic()
        self.protect_exes = []
        self.total_runs = 0
        self.run_no = 0
        self.invocation_info = {}
        self._tty = sys.stderr.isatty()
        self._last_plain = 0.0

    def progress(self, run, elapsed):
        text = (f"[{run.index}/{self.total_runs}] {run.inc.name} × {run.mgr.name} "
                f"(rep {run.rep}/{self.args.repeat}) … {elapsed:.0f} s")
        self.progress_text(text)

    def progress_text(self, text):
        if self._tty:
            sys.stderr.write("\r\033[K" + text)
            sys.stderr.flush()
        elif time.monotonic() - self._last_plain >= 10:
            print(text, file=sys.stderr, flush=True)
            self._last_plain = time.monotonic()

    def progress_done(self, text):
        if self._tty:
            sys.stderr.write("\r\033[K")
        print(text, file=sys.stderr, flush=True)
        self._last_plain = 0.0


class Teardown:
    """Runs once, whichever way the invocation ends (return, exception,
    SIGINT/SIGTERM/SIGHUP, atexit)."""

    def __init__(self, registry):
        self.registry = registry
        self.steps = []
        self.done = False

    def add(self, fn):
        self.steps.append(fn)

    def __call__(self, *_):
        if self.done:
            return
        self.done = True
        for fn in reversed(self.steps):
            try:
                fn()
            except Exception as e:  # every step runs, whatever the one before did
                print(f"teardown step failed: {e}", file=sys.stderr)
        state.undo(self.registry.data, log=lambda m: None)
        self.registry.close()


class Interrupted(BaseException):
    """A signal: not an Exception, so that no run records it as its own failure."""


def _on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cg_env = CgroupEnv()
    if args.setup:
        return do_setup()
    if args.teardown:
        return do_teardown(cg_env)
    if args.report:
        return do_report(args.report, args.no_plot)

    names = [n.strip() for n in args.incident.split(",") if n.strip()]
    incidents = []
    for n in names:
        if n == "all":
            incidents += [i for i in INCIDENTS if i not in incidents]
        elif n in INCIDENTS + EXTRA:
            if n not in incidents:
                incidents.append(n)
        else:
            print(f"bench/run: unknown incident '{n}' (known: {', '.join(INCIDENTS + EXTRA)}, all)",
                  file=sys.stderr)
            return EXIT_USAGE
    mgr_names = [n.strip() for n in args.manager.split(",") if n.strip()]
    for n in mgr_names:
        if n not in MANAGERS:
            print(f"bench/run: unknown manager '{n}' (known: {', '.join(MANAGERS)})", file=sys.stderr)
            return EXIT_USAGE

    # Safety checks first: nothing is created before they pass.
    why = cg_env.check(need_limit=args.mode == "cgroup")
    if why:
        print(f"bench/run: cannot run {args.mode} mode here: {why}", file=sys.stderr)
        return EXIT_REFUSED
    if args.mode == "system":
        reasons = system.check(args)
        if reasons:
            print("bench/run: refusing system mode:\n  - " + "\n  - ".join(reasons), file=sys.stderr)
            return EXIT_REFUSED
    elif args.yes_really:
        print("bench/run: note: --yes-really has no effect in cgroup mode", file=sys.stderr)

    build_dir = args.build or _default_build()
    args.build = build_dir
    out = os.path.abspath(args.out or os.path.join(
        workloads.BENCH_DIR, "results", datetime.datetime.now().strftime("%Y%m%d-%H%M%S")))
    os.makedirs(os.path.join(out, "runs"), exist_ok=True)

    registry = state.Registry(str(os.getpid()))
    ctx = Context(args, out, args.mode, cg_env, registry)
    teardown = Teardown(registry)
    atexit.register(teardown)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    try:
        return _invocation(ctx, args, incidents, mgr_names, build_dir, teardown)
    except Interrupted as e:
        print(f"\nbench/run: {e}: tearing down", file=sys.stderr)
        return 128 + getattr(signal, str(e)).value
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)    # teardown must not be cut short
        teardown()


def _default_build():
    env = os.environ.get("MEMGUARDD")
    if env:
        return os.path.dirname(os.path.dirname(os.path.abspath(env)))
    return os.path.join(os.getcwd(), "build")


def _invocation(ctx, args, incidents, mgr_names, build_dir, teardown):
    mode = ctx.mode
    skipped = {}
    managers = []
    for n in mgr_names:
        m = MANAGERS[n](args)
        why = m.unavailable()
        if why:
            skipped[n] = why
            continue
        managers.append(m)
    run_incidents = [i for i in incidents if i in INCIDENTS]
    incident_mgrs = []
    for m in managers:
        if mode not in m.incident_modes and run_incidents:
            skipped[m.name] = m.sits_out_reason
        else:
            incident_mgrs.append(m)

    paths = workloads.find(build_dir, os.path.join(ctx.out, "bin"), log=lambda s: print(s, file=sys.stderr))
    ctx.protect_exes = [paths["mgb-probe"], paths["mgb-ballast"]]
    scratch = f"/var/tmp/mgbench-{ctx.invocation}"
    os.makedirs(scratch, exist_ok=True)
    ctx.registry.add_file(scratch)
    teardown.add(lambda: shutil.rmtree(scratch, ignore_errors=True))

    notes = []
    budget = args.budget_mib or 256
    # idle wants a calm machine: before any ballast or swap exists.
    idle = run_idle(ctx, managers, args.idle_seconds) if "idle" in incidents else None
    if mode == "system" and args.scope_memguard:
        notes.append("memguard ran with --scope on each run's incident cgroup (--scope-memguard): it watched "
                     "that cgroup's PSI and the machine's MemAvailable, and could act on the bench's processes "
                     "only")
    if mode == "system" and run_incidents:
        budget = args.headroom_mib
        if system.other_swap():
            notes.append("swap already active before the run: " + ", ".join(system.other_swap()))
        zram = system.zram_on(args.zram_mib or args.headroom_mib, ctx.registry)
        teardown.add(lambda: _zram_off(ctx, zram))
        notes.append(f"zram swap {zram['device']} of {args.zram_mib or args.headroom_mib} MiB on for the run")
        total_s = _estimate_seconds(run_incidents, incident_mgrs, args) + 3600
        ballast_cg = IncidentCgroup(ctx.cg_env, f"mgbench-{ctx.invocation}-ballast", None, ctx.registry)
        teardown.add(ballast_cg.destroy)
        ctx.progress_text("system mode: the ballast is locking memory …")
        _, locked, avail = system.start_ballast(paths["mgb-ballast"], args.headroom_mib, total_s, ballast_cg,
                                                ctx.registry, os.path.join(ctx.out, "ballast.log"))
        ctx.progress_done(f"ballast holds {locked} MiB; {avail} MiB available")
        notes.append(f"ballast locked {locked} MiB, leaving {avail} MiB available")

    machine = report.machine_info()
    ctx.invocation_info = {
        "schema": SCHEMA, "invocation": ctx.invocation, "started_at": ctx.started_at, "mode": mode,
        "budget_mib": budget, "duration_scale": args.duration_scale, "repeat": args.repeat,
        "command": "bench/run " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "machine": machine, "notes": notes, "workloads": paths,
    }

    # Managers interleaved within each repeat, so that drift on the machine
    # (other load, page cache, temperature) spreads over all of them alike.
    plan = [(i, m, rep) for i in run_incidents for rep in range(1, args.repeat + 1) for m in incident_mgrs]
    ctx.total_runs = len(plan)
    records = []
    failed = False
    for index, (inc_name, m, rep) in enumerate(plan, 1):
        inc = build_incident(inc_name, budget, args.duration_scale, mode, paths, os.path.join(scratch),
                             f"{inc_name}-{m.name}-{rep}")
        run = Run(ctx, inc, m, rep, index)
        ctx.progress(run, 0)
        record = run.execute()
        records.append(record)
        path = os.path.join(ctx.out, "runs", f"{run.tag}.json")
        with open(path, "w") as f:
            json.dump(record, f, indent=1)
        f_ = record["figures"]
        ctx.progress_done(
            f"[{index}/{len(plan)}] {inc_name} × {m.name} (rep {rep}/{args.repeat}): "
            + ("ok" if record["ok"] else "FAILED: " + record["error"])
            + f", OOM kills {f_['oom_kills_ours']}, collateral {f_['collateral']}, actions {f_['actions']}"
            + (f", probe p99 {f_['probe'].get('p99_ms')} ms" if f_["probe"] else ""))
        failed |= not record["ok"]
        if index < len(plan):
            if mode == "system":
                system.wait_calm("/proc/pressure/memory", args.headroom_mib, 60)
            else:
                time.sleep(1.0)

    scale = run_scale(ctx, build_dir, reps=args.scale_reps) if "scale" in incidents else None
    if scale is not None and scale["status"] == "not built":
        print("scale: not built", file=sys.stderr)

    plots = {} if args.no_plot else report.plot(records, ctx.out)
    info = {}
    for m in managers:
        d = m.describe()
        if m in incident_mgrs and records:
            # The config of the last run (the same for every run of that manager).
            d = next((r["manager_info"] for r in reversed(records) if r["manager"] == m.name), d)
        info[m.name] = d
    md = report.markdown(ctx, records, skipped, idle, scale, plots, info)
    with open(os.path.join(ctx.out, "report.md"), "w") as f:
        f.write(md)
    with open(os.path.join(ctx.out, "invocation.json"), "w") as f:
        json.dump(dict(ctx.invocation_info, skipped=skipped,
                       idle_skipped={k: v["skipped"] for k, v in (idle or {}).items() if v.get("skipped")},
                       runs=[f"runs/{r['incident']}-{r['manager']}-"
                                                                   f"{r['rep']}.json" for r in records],
                       reaction_us=report.reaction_values(records)), f, indent=1)
    print(md)
    print(f"results: {ctx.out}/report.md", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _zram_off(ctx, zram):
    state.zram_off(zram)
    ctx.registry.set_zram(None)


def _estimate_seconds(incidents, managers, args):
    from .incidents import BASE_SECONDS
    per = sum(BASE_SECONDS[i] * args.duration_scale + 30 for i in incidents)
    return int(per * max(1, len(managers)) * args.repeat + args.idle_seconds * 4)
