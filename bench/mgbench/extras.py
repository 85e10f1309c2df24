# SPDX-License-Identifier: MIT
"""The measurements that are not incidents: idle (each manager alone on a
calm machine) and scale (build/bench/scale, when it is built)."""

import json
import os
import subprocess
import time

from . import procfs


def idle(ctx, managers, seconds, warmup=5.0):
    """{name: {'cost': …, 'pss_kib': …} or {'skipped': why}}."""
    out = {}
    for m in managers:
        if m.name == "none":
            continue
        d = os.path.join(ctx.out, "idle", m.name)
        os.makedirs(d, exist_ok=True)
        m.prepare(d, ctx.mode, None, ctx.protect_exes, idle=True)
        if ctx.mode != "system" and m.name == "nohang":
            out[m.name] = {"skipped": "runs in system mode only (nohang has no dry-run switch)"}
            continue
        try:
            m.start(d)
            ctx.registry.add_pid(m.pid)
            t_start = time.monotonic()
            while time.monotonic() - t_start < warmup:
                time.sleep(0.2)
            a = m.cost()
            while time.monotonic() - t_start < warmup + seconds:
                ctx.progress_text(f"idle × {m.name} … {time.monotonic() - t_start - warmup:.0f}/{seconds:.0f} s")
                time.sleep(1.0)
            b = m.cost()
            pss = m.pss_kib()
        finally:
            m.stop()
            if m.pid:
                ctx.registry.drop_pid(m.pid)
        out[m.name] = {"cost": procfs.cost_delta(a, b), "pss_kib": pss, "describe": m.describe()}
        with open(os.path.join(ctx.out, "idle", f"{m.name}.json"), "w") as f:
            json.dump(dict(out[m.name], schema="memguard-bench-idle/1", manager=m.name, mode=ctx.mode,
                           invocation=ctx.invocation), f, indent=1)
    return out


def scale(ctx, build_dir, sizes=(1000, 5000, 10000), reps=20, timeout=900):
    exe = os.path.join(build_dir, "bench", "scale")
    if not os.access(exe, os.X_OK):
        return {"status": "not built", "command": []}
    cmd = [exe, "-r", str(reps)] + [str(s) for s in sizes]
    ctx.progress_text("scale: " + " ".join(cmd))
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"timed out after {timeout} s", "command": cmd}
    with open(os.path.join(ctx.out, "scale.txt"), "w") as f:
        f.write(r.stdout)
    result = None
    for line in reversed(r.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                result = json.loads(line)
                break
            except ValueError:
                continue
    status = "ok" if r.returncode == 0 and result else f"failed (exit {r.returncode}, see scale.txt)"
    data = {"status": status, "command": cmd, "result": result}
    with open(os.path.join(ctx.out, "scale.json"), "w") as f:
        json.dump(data, f, indent=1)
    return data
