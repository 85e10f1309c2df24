# SPDX-License-Identifier: MIT
"""The incidents. Sizes are fractions of the budget B: the memory limit of
the incident cgroup (cgroup mode, default 256 MiB) or the memory left
available by the ballast (system mode, default 2048 MiB). Durations are
multiplied by --duration-scale; growth rates are divided by it, so that a
shortened run follows the same memory trajectory, only faster.

Every incident has a probe (the foreground app, measured every 50 ms) and a
protected process beside the load. Roles:
  probe       foreground, must stay responsive, must never be touched
  protected   on every manager's protect list, must never be touched
  background  "background apps" (file-backed working sets); fair game
  source      where the pressure comes from; the right target
"""

from dataclasses import dataclass, field

INCIDENTS = ("runaway", "leak", "tabs", "build", "swarm", "thrash")

# Base durations (seconds of incident, after the warm-up).
BASE_SECONDS = {"runaway": 40, "leak": 60, "tabs": 50, "build": 150, "swarm": 45, "thrash": 45}

ROLE_BY_COMM = {
    "mgb-probe": "probe",
    "mgb-protected": "protected",
    "mg-reader": "background",
    "mg-hog": "source",
    "mgb-leak": "source",
    "mgb-tabs": "source",
    "mgb-tab": "source",
    "mgb-build": "source",
    "mgb-cc1": "source",
    "mgb-swarm": "source",
    "mgb-swarmling": "source",
    "mgb-ballast": "ballast",
}


@dataclass
class App:
    app: str                 # leaf cgroup name (app-<app>)
    role: str
    argv: list
    phase: str = "setup"     # "setup": before t0 (warm-up); "incident": at t0
    ready_file: str = None   # setup apps: a file that reaches ready_bytes when warmed up
    ready_bytes: int = 0


@dataclass
class Incident:
    name: str
    budget_mib: int
    seconds: int
    apps: list = field(default_factory=list)
    ends_when: str = None    # "build": the window closes when the build finishes
    notes: list = field(default_factory=list)


def _mib(x):
    return max(1, int(round(x)))


def build(name, budget, scale, mode, w, scratch, run_tag):
    """The Incident `name` for budget B MiB; w maps workload names to paths."""
    B = budget
    D = max(8, int(round(BASE_SECONDS[name] * scale)))
    life = D + 60                  # setup apps outlive the window; teardown kills them
    adj = ["--oom-score-adj", "1000"] if mode == "system" else []
    inc = Incident(name, B, D)

    def reader(i, frac):
        size = _mib(frac * B)
        path = f"{scratch}/{run_tag}-ws{i}"
        inc.apps.append(App(f"reader{i}", "background",
                            [w["mg-reader"], "--file", path, "--size-mib", str(size), "--seconds", str(life)],
                            ready_file=path, ready_bytes=size * 1048576))

    probe_out = f"{scratch}/{run_tag}-probe.txt"
    inc.apps.append(App("probe", "probe",
                        [w["mgb-probe"], "--out", probe_out, "--seconds", str(life), "--period-ms", "50",
                         "--file", f"{scratch}/{run_tag}-probe.ws", "--file-mib", "4"]))
    inc.apps.append(App("protected", "protected",
                        [w["mgb-probe"], "--role", "protected", "--out", f"{scratch}/{run_tag}-protected.txt",
                         "--seconds", str(life), "--period-ms", "200", "--hold-mib", str(_mib(B / 16)),
                         "--alloc-kib", "0", "--read-kib", "0"]))
    inc.probe_out = probe_out

    rate = lambda frac: f"{frac * B / scale:.2f}"   # MiB/s, time-compressed with the run

    if name == "runaway":
        for i in range(3):
            reader(i + 1, 0.47)
        inc.apps.append(App("hog", "source",
                            [w["mg-hog"], "--rate-mib", rate(0.06), "--max-mib", str(_mib(2.5 * B)),
                             "--seconds", str(D)] + adj, phase="incident"))
    elif name == "leak":
        for i in range(2):
            reader(i + 1, 0.4)
        inc.apps.append(App("leak", "source",
                            [w["mgb-leak"], "--rate-mib", rate(0.016), "--max-mib", str(_mib(2 * B)),
                             "--seconds", str(D)] + adj, phase="incident"))
    elif name == "tabs":
        reader(1, 0.4)
        inc.apps.append(App("tabs", "source",
                            [w["mgb-tabs"], "--tabs", "20", "--tab-mib", str(_mib(B / 32)),
                             "--late-mib", str(_mib(B / 4)), "--late-after-s", str(max(2, int(0.3 * D))),
                             "--touch-ms", "1000", "--seconds", str(D)] + adj, phase="incident"))
    elif name == "build":
        reader(1, 0.3)
        waves = max(2, int(round(8 * min(scale, 1.0))))
        inc.apps.append(App("build", "source",
                            [w["mgb-build"], "--waves", str(waves), "--jobs", "4", "--job-mib", str(_mib(0.2 * B)),
                             "--job-ms", "2500", "--seconds", str(D)] + adj, phase="incident"))
        inc.ends_when = "build"
    elif name == "swarm":
        reader(1, 0.3)
        count = 300
        # Each swarmling costs about 200 KiB of its own (page tables, stack,
        # libc) besides what it holds; all together about 1.05 B.
        kib = max(64, int(1.05 * B * 1024 / count) - 200)
        inc.apps.append(App("swarm", "source",
                            [w["mgb-swarm"], "--count", str(count), "--child-kib", str(kib), "--spawn-per-s", "150",
                             "--life-ms-min", str(int(3000 * scale)), "--life-ms-max", str(int(12000 * scale)),
                             "--seconds", str(D)] + adj, phase="incident"))
    elif name == "thrash":
        for i in range(3):
            reader(i + 1, 0.5)
        # Nothing grows: the readers are started at t0, so the window holds the thrash.
        for a in inc.apps:
            if a.role == "background":
                a.phase = "incident"
                a.ready_file = None
    else:
        raise ValueError(f"unknown incident {name}")
    return inc
