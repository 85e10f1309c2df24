# SPDX-License-Identifier: MIT
"""The report of one invocation: a Markdown table per incident (median and
spread over the repeats, and memguard's ratio to each peer), the idle,
scale and reaction measurements, the configs used, the machine, and a PNG
plot of pressure over time with the actions marked."""

import os
import platform
import shutil
import subprocess

from . import procfs

# (column title, getter, digits, compared in the ratio rows)
COLUMNS = [
    ("OOM kills", lambda r: r["figures"]["oom_kills_ours"], 0, False),
    ("collateral", lambda r: r["figures"]["collateral"], 0, False),
    ("actions", lambda r: r["figures"]["actions"], 0, False),
    ("failed", lambda r: r["figures"].get("actions_failed"), 0, False),
    ("detect s", lambda r: r["figures"]["detect_s"], 1, True),
    ("1st action s", lambda r: _first_action(r), 1, True),
    ("PSI full ms", lambda r: _div(r["figures"]["psi_full_us"], 1000), 0, True),
    ("probe p50 ms", lambda r: r["figures"]["probe"].get("p50_ms"), 1, True),
    ("probe p99 ms", lambda r: r["figures"]["probe"].get("p99_ms"), 1, True),
    ("probe max ms", lambda r: r["figures"]["probe"].get("max_ms"), 0, True),
    ("relief s", lambda r: r["figures"]["relief_s"], 1, True),
    ("build s", lambda r: r["figures"]["build_s"], 1, True),
    ("CPU ms", lambda r: (r["figures"]["manager_cost"] or {}).get("cpu_ms"), 0, True),
    ("peak RSS MiB", lambda r: _div((r["figures"]["manager_cost"] or {}).get("peak_rss_kib"), 1024), 1, True),
    ("wakeups", lambda r: (r["figures"]["manager_cost"] or {}).get("wakeups"), 0, True),
]


def _first_action(r):
    """t0 → the manager's first action that did not fail (from `done`, so that
    records written before failed actions were told apart read the same)."""
    return next((d["t_s"] for d in r["done"] if d["by"] == r["manager"] and d["t_s"] is not None and
                 d["t_s"] >= 0 and d.get("result") != "failed"), None)


def _div(v, d):
    return None if v is None else v / d


def _fmt(v, nd):
    if v is None:
        return "—"
    if nd == 0:
        return f"{v:.0f}"
    return f"{v:.{nd}f}"


def cell(values, nd):
    vals = [v for v in values if v is not None]
    if not vals:
        return "—"
    med = procfs.median(vals)
    if len(vals) == 1 or min(vals) == max(vals):
        out = _fmt(med, nd)
    else:
        out = f"{_fmt(med, nd)} ({_fmt(min(vals), nd)}–{_fmt(max(vals), nd)})"
    if len(vals) < len(values):
        out += f" [{len(vals)}/{len(values)}]"
    return out


def ratio(a, b):
    if a is None or b is None:
        return "—"
    if b == 0:
        return "=" if a == 0 else "—"
    return f"{a / b:.2f}×"


def incident_table(incident, records, managers):
    cols = [c for c in COLUMNS if incident == "build" or c[0] != "build s"]
    if not any(r["manager"] == "memguard" for r in records):
        cols = [c for c in cols if c[0] != "detect s"]
    lines = ["| manager | runs | " + " | ".join(c[0] for c in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    by_mgr = {m: [r for r in records if r["manager"] == m] for m in managers}
    medians = {}
    for m, recs in by_mgr.items():
        if not recs:
            continue
        ok = [r for r in recs if r["ok"]]
        row = [m, f"{len(ok)}/{len(recs)}"]
        for title, get, nd, _ in cols:
            vals = [_safe(get, r) for r in ok]
            row.append(cell(vals, nd))
            medians[(m, title)] = procfs.median([v for v in vals if v is not None])
        if not ok:
            row = [m, f"0/{len(recs)}"] + ["failed"] * len(cols)
        lines.append("| " + " | ".join(row) + " |")
    if by_mgr.get("memguard"):
        for peer, recs in by_mgr.items():
            if peer == "memguard" or not recs:
                continue
            row = [f"memguard ÷ {peer}", ""]
            for title, _, _, compared in cols:
                row.append(ratio(medians.get(("memguard", title)), medians.get((peer, title))) if compared else "")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _safe(get, r):
    try:
        return get(r)
    except (KeyError, TypeError):
        return None


def relief_note(records):
    """Why relief cells are empty: 'memguard: not relieved ×2; none: no pressure'."""
    by = {}
    for r in records:
        f = r["figures"]
        if not r["ok"] or f.get("relief_s") is not None:
            continue
        why = "no pressure" if f.get("pressured") is False else "not relieved before the window closed"
        by.setdefault(r["manager"], []).append(why)
    return "; ".join(f"{m}: " + ", ".join(f"{w} ×{ws.count(w)}" if ws.count(w) > 1 else w
                                          for w in sorted(set(ws))) for m, ws in by.items())


def what_was_done(records, managers, limit=12):
    out = []
    for m in managers:
        recs = [r for r in records if r["manager"] == m and r["ok"]]
        if not recs:
            continue
        r = recs[0]
        items = []
        for d in r["done"][:limit]:
            who = d.get("comm") or "?"
            pids = ",".join(str(p) for p in d.get("pids") or [])
            sig = f" {d['signal']}" if d.get("signal") else ""
            failed = f" — failed: {d.get('error') or '?'}" if d.get("result") == "failed" else ""
            dry = " (dry run)" if d.get("dry_run") else ""
            items.append(f"{_fmt(d['t_s'], 1)} s {d['by']}: {d['action']}{sig}{dry} {who} "
                         f"({'/'.join(d['roles'])}{', pid ' + pids if pids else ''}){failed}")
        if len(r["done"]) > limit:
            items.append(f"… {len(r['done']) - limit} more")
        lv = [f"{_fmt(x['t_s'], 1)} s {x['level']}" for x in r.get("levels", []) if x["t_s"] is not None][:8]
        deaths = [f"{_fmt(d['t_s'], 1)} s {d['comm']} ({d['role']}) {d['how']}" for d in r["deaths"]][:6]
        line = f"- **{m}** (rep {r['rep']}): " + ("; ".join(items) if items else "no action, no kernel OOM kill")
        if lv:
            line += ". Levels: " + ", ".join(lv)
        if deaths:
            line += ". Ended inside the window: " + "; ".join(deaths)
        if r["figures"]["collateral_events"]:
            line += ". **Collateral**: " + "; ".join(
                f"{c['role']} {c['what']} at {_fmt(c['t_s'], 1)} s" for c in r["figures"]["collateral_events"])
        out.append(line)
    return "\n".join(out)


def machine_info():
    mi = procfs.meminfo()
    cpu = ""
    for line in (procfs.read_text("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    distro = ""
    for line in (procfs.read_text("/etc/os-release") or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            distro = line.split("=", 1)[1].strip('"')
    return {
        "kernel": platform.release(),
        "distro": distro,
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "mem_total_mib": mi.get("MemTotal", 0) // 1024,
        "swap_total_mib": mi.get("SwapTotal", 0) // 1024,
        "python": platform.python_version(),
    }


def markdown(ctx, records, skipped, idle, scale, plots, managers_info):
    inv = ctx.invocation_info
    lines = [f"# memguard incident benchmark — {inv['started_at']}", ""]
    m = inv["machine"]
    lines += [f"Mode **{inv['mode']}**, budget {inv['budget_mib']} MiB "
              f"({'cgroup memory limit' if inv['mode'] == 'cgroup' else 'left available by the ballast'}), "
              f"duration scale {inv['duration_scale']}, {inv['repeat']} repeat(s).",
              f"Machine: {m['cpu'] or '?'} × {m['cpus']}, {m['mem_total_mib']} MiB RAM, {m['distro']}, "
              f"Linux {m['kernel']}.",
              f"Command: `{inv['command']}`", ""]
    if inv.get("notes"):
        lines += ["Notes:", ""] + [f"- {n}" for n in inv["notes"]] + [""]
    if skipped:
        lines += ["Not run:", ""] + [f"- {k}: {v}" for k, v in skipped.items()] + [""]
    lines += ["Cells: median (min–max) over the repeats; [k/n]: only k of n runs had a value. "
              "OOM kills: the kernel's kills of the incident's processes. Collateral: the probe or the protected "
              "process killed, stopped or frozen. Times are seconds from the incident's start. "
              "Ratios: memguard's median over the peer's (below 1 is better for every compared column).", ""]
    incidents = []
    for r in records:
        if r["incident"] not in incidents:
            incidents.append(r["incident"])
    for inc in incidents:
        recs = [r for r in records if r["incident"] == inc]
        mgrs = []
        for r in recs:
            if r["manager"] not in mgrs:
                mgrs.append(r["manager"])
        lines += [f"## {inc}", "", incident_table(inc, recs, mgrs), ""]
        note = relief_note(recs)
        if note:
            lines += [f"Relief (— or [k/n] in its column): {note}.", ""]
        errors = [f"{r['manager']} rep {r['rep']}: {r['error']}" for r in recs if not r["ok"]]
        if errors:
            lines += ["Failed runs: " + "; ".join(errors), ""]
        lines += ["What was done, to whom, and when (first repeat):", "", what_was_done(recs, mgrs), ""]
        if plots.get(inc):
            lines += [f"![{inc}: pressure over time]({plots[inc]})", ""]
    if idle is not None:
        lines += ["## idle", "", idle_table(idle), ""]
    if scale is not None:
        lines += ["## scale", "", scale_section(scale), ""]
    lines += ["## reaction", "", reaction_section(records), ""]
    if plots.get("_note"):
        lines += [f"Plots: {plots['_note']}", ""]
    lines += ["## Configurations used", ""]
    for name, info in managers_info.items():
        lines += [f"**{name}** {info.get('version') or ''}", ""]
        if info.get("command"):
            lines += ["```", " ".join(info["command"]), "```"]
        if info.get("config"):
            lines += ["```", info["config"].rstrip(), "```"]
        for n in info.get("notes") or []:
            lines.append(f"- {n}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def idle_table(idle):
    lines = ["| manager | seconds | CPU ms | wakeups/s | RSS MiB | PSS MiB | peak RSS MiB |",
             "|---|---|---|---|---|---|---|"]
    for name, d in idle.items():
        if d.get("skipped"):
            lines.append(f"| {name} | {d['skipped']} | | | | | |")
            continue
        c = d.get("cost") or {}
        lines.append("| " + " | ".join([name, _fmt(c.get("seconds"), 0), _fmt(c.get("cpu_ms"), 0),
                                        _fmt(c.get("wakeups_per_s"), 2), _fmt(_div(c.get("rss_kib"), 1024), 1),
                                        _fmt(_div(d.get("pss_kib"), 1024), 1),
                                        _fmt(_div(c.get("peak_rss_kib"), 1024), 1)]) + " |")
    return "\n".join(lines)


def scale_section(scale):
    if scale.get("status") != "ok":
        return f"scale: {scale.get('status')}"
    data = scale.get("result") or {}
    rows = data.get("results") or []
    kinds = []
    for r in rows:
        for k, v in r.items():
            if isinstance(v, dict) and "median_ms" in v and k not in kinds:
                kinds.append(k)
    lines = ["| processes | " + " | ".join(f"{k} ms (µs/proc)" for k in kinds) + " |",
             "|---|" + "---|" * len(kinds)]
    for r in rows:
        cells = []
        for k in kinds:
            v = r.get(k) or {}
            cells.append(f"{_fmt(v.get('median_ms'), 2)} ({_fmt(v.get('us_per_proc'), 2)})")
        lines.append(f"| {r.get('children', '?')} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nCommand: `{' '.join(scale.get('command', []))}`"


def reaction_values(records, ok_only=False):
    return [a["trigger_to_action_us"] for r in records if r["manager"] == "memguard"
            for a in r["done"] if a.get("by") == "memguard" and a.get("trigger_to_action_us") is not None
            and not (ok_only and a.get("result") == "failed")]


def _pcts(vals):
    return (f"p50 {procfs.percentile(vals, 50):.0f} µs, p99 {procfs.percentile(vals, 99):.0f} µs, "
            f"max {max(vals)} µs")


def reaction_section(records):
    vals = reaction_values(records)
    if not any(r["manager"] == "memguard" for r in records):
        return "reaction: memguard was not run"
    if not vals:
        return ("reaction: no actions recorded (memguard logged no `action=` line and wrote no events.jsonl "
                "entry with `trigger_to_action_us`)")
    ok = reaction_values(records, ok_only=True)
    out = (f"Trigger-to-action latency inside memguardd, from its own timestamps (`trigger_to_action_us`), "
           f"over {len(vals)} action(s): {_pcts(vals)}.")
    if ok and len(ok) != len(vals):
        out += f" Over the {len(ok)} that did not fail: {_pcts(ok)}."
    return out


# --- plots ---------------------------------------------------------------------

def plot(records, out_dir):
    """One PNG per incident: PSI some stall share over time for the first
    repeat of each manager, actions marked. {incident: relative path,
    '_note': why not} ."""
    by_inc = {}
    for r in records:
        if r["ok"] and r["timeline"]["t_s"]:
            by_inc.setdefault(r["incident"], {}).setdefault(r["manager"], r)
    if not by_inc:
        return {}
    pdir = os.path.join(out_dir, "plots")
    os.makedirs(pdir, exist_ok=True)
    gnuplot = shutil.which("gnuplot")
    if gnuplot:
        return _gnuplot(gnuplot, by_inc, pdir, out_dir)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {"_note": "skipped: neither gnuplot (apt-get install gnuplot-nox) nor matplotlib is installed"}
    return _matplotlib(plt, by_inc, pdir, out_dir)


def _marks(r):
    """(t, label) of the actions that did not fail, the kernel's OOM kills and
    memguard's level changes; the same label again within 2 s is left out."""
    out, last = [], {}
    for d in r["done"]:
        if d["t_s"] is None or d.get("result") == "failed":
            continue
        label = f"{d['by']}: {d['action']} {d.get('comm') or ''}".strip()
        if d["t_s"] - last.get(label, -1e9) >= 2.0:
            out.append((d["t_s"], label))
            last[label] = d["t_s"]
    out += [(lv["t_s"], lv["level"]) for lv in r.get("levels", []) if lv["t_s"] is not None and lv["t_s"] >= 0]
    return out


def _y_at(r, t):
    ts, ys = r["timeline"]["t_s"], r["timeline"]["psi_some_pct"]
    best = min(range(len(ts)), key=lambda i: abs((ts[i] or 0) - t)) if ts else None
    return ys[best] if best is not None else 0


def _gnuplot(gnuplot, by_inc, pdir, out_dir):
    res = {}
    for inc, runs in by_inc.items():
        parts = []
        for lc, (m, r) in enumerate(runs.items(), 1):
            dat = os.path.join(pdir, f"{inc}-{m}.dat")
            with open(dat, "w") as f:
                tl = r["timeline"]
                for t, s, fu in zip(tl["t_s"], tl["psi_some_pct"], tl["psi_full_pct"]):
                    if t is not None:
                        f.write(f"{t} {s} {fu}\n")
            marks = os.path.join(pdir, f"{inc}-{m}.marks")
            with open(marks, "w") as f:
                for t, label in _marks(r):
                    f.write(f"{t} {_y_at(r, t)} \"{label.replace(chr(34), '')}\"\n")
            parts.append(f"'{dat}' using 1:2 with lines lw 2 lc {lc} title '{m} (some)'")
            parts.append(f"'{dat}' using 1:3 with lines dt 2 lc {lc} title '{m} (full)'")
            if os.path.getsize(marks):
                parts.append(f"'{marks}' using 1:2 with points pt 7 ps 1.2 lc {lc} notitle")
                parts.append(f"'{marks}' using 1:2:3 with labels rotate by 60 left offset 0.5,0.5 font ',8' "
                             f"tc lt {lc} notitle")
        png = os.path.join(pdir, f"{inc}.png")
        script = "\n".join([
            "set terminal pngcairo size 1100,550 noenhanced" if _has_pngcairo(gnuplot) else
            "set terminal png size 1100,550 noenhanced",
            f"set output '{png}'",
            f"set title '{inc}: memory stall share (PSI, 1 s mean); dots: actions (failed ones left out), "
            "kernel OOM kills, memguard levels'",
            "set xlabel 'seconds since the incident started'",
            "set ylabel '% of wall time stalled'",
            "set yrange [0:119]",
            "set key top left",
            "set grid",
            "plot " + ", \\\n  ".join(parts),
        ])
        with open(os.path.join(pdir, f"{inc}.gp"), "w") as f:
            f.write(script + "\n")
        r = subprocess.run([gnuplot], input=script, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode == 0 and os.path.exists(png):
            res[inc] = os.path.relpath(png, out_dir)
        else:
            res["_note"] = f"gnuplot failed: {r.stdout.strip()[:300]}"
    return res


_PNGCAIRO = None


def _has_pngcairo(gnuplot):
    global _PNGCAIRO
    if _PNGCAIRO is None:
        r = subprocess.run([gnuplot, "-e", "set terminal"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        _PNGCAIRO = "pngcairo" in r.stdout
    return _PNGCAIRO


def _matplotlib(plt, by_inc, pdir, out_dir):
    res = {}
    for inc, runs in by_inc.items():
        fig, ax = plt.subplots(figsize=(11, 5.5))
        for m, r in runs.items():
            tl = r["timeline"]
            line, = ax.plot(tl["t_s"], tl["psi_some_pct"], lw=2, label=f"{m} (some)")
            ax.plot(tl["t_s"], tl["psi_full_pct"], ls="--", color=line.get_color(), label=f"{m} (full)")
            for t, label in _marks(r):
                y = _y_at(r, t)
                ax.plot([t], [y], "o", color=line.get_color())
                ax.annotate(label, (t, y), rotation=60, fontsize=7)
        ax.set_title(f"{inc}: memory stall share (PSI, 1 s mean); dots mark actions, kills and level changes")
        ax.set_xlabel("seconds since the incident started")
        ax.set_ylabel("% of wall time stalled")
        ax.set_ylim(0, 119)
        ax.grid(True)
        ax.legend(loc="upper left")
        png = os.path.join(pdir, f"{inc}.png")
        fig.savefig(png, dpi=90)
        plt.close(fig)
        res[inc] = os.path.relpath(png, out_dir)
    return res
