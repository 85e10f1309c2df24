#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The bench's parsers, fed hostile and future input: memguard's action
lines and events.jsonl (not emitted yet, so the format is pinned here),
earlyoom's and nohang's logs, /proc/PID/stat with a nasty comm, PSI with
missing fields, and the relief and percentile arithmetic."""

import os
import sys
import tempfile
import types
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mgbench import procfs, report, runner  # noqa: E402
from mgbench.managers import (EarlyoomManager, MemguardManager, NohangManager,  # noqa: E402
                              action_from_event, level_from_event)


class FakeLog:
    def __init__(self, lines):
        self.lines = [(100.0 + i, line) for i, line in enumerate(lines)]


class Parsers(unittest.TestCase):
    def test_kv(self):
        kv = procfs.parse_kv('notice: action=kill pid=42 comm="Web Content" reason="level=critical, heavy" '
                             'trigger_to_action_us=1234 empty=')
        self.assertEqual(kv["action"], "kill")
        self.assertEqual(kv["comm"], "Web Content")
        self.assertEqual(kv["reason"], "level=critical, heavy")
        self.assertEqual(kv["trigger_to_action_us"], "1234")
        self.assertEqual(kv["empty"], "")

    def test_stat_hostile_comm(self):
        text = "123 (x) R 1 1 1 (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22\n"
        st = procfs.parse_stat(text)
        self.assertEqual(st["comm"], "x) R 1 1 1 (y")
        self.assertEqual(st["state"], "S")
        self.assertEqual(st["utime"], 11)
        self.assertEqual(st["starttime"], 19)
        self.assertIsNone(procfs.parse_stat("123 (truncated"))
        self.assertIsNone(procfs.parse_stat(""))

    def test_psi(self):
        p = procfs.parse_psi("some avg10=1.50 avg60=0.00 avg300=0.00 total=99\nfull avg10=x total=7\njunk\n")
        self.assertEqual(p["some"]["total"], 99)
        self.assertEqual(p["some"]["avg10"], 1.5)
        self.assertEqual(p["full"]["total"], 7)
        self.assertNotIn("avg10", p["full"])
        self.assertEqual(procfs.parse_psi(None), {})

    def test_percentile(self):
        self.assertIsNone(procfs.percentile([], 50))
        self.assertEqual(procfs.percentile([5], 99), 5)
        self.assertEqual(procfs.percentile([1, 2, 3, 4], 50), 2.5)
        self.assertEqual(procfs.percentile([1, None, 3], 100), 3)

    def test_memguard_event_forms(self):
        a = action_from_event({"action": "freeze", "pids": [1, "2", {"pid": 3}], "comm": "mgb-tab",
                               "trigger_to_action_us": "812", "monotonic_us": 5000000})
        self.assertEqual(a["pids"], [1, 2, 3])
        self.assertEqual(a["trigger_to_action_us"], 812)
        self.assertEqual((a["clock"], a["clock_s"]), ("mono", 5.0))
        a = action_from_event({"type": "kill", "processes": [{"pid": 9, "comm": "x"}], "ts": "2025-01-01T00:00:01Z"})
        self.assertEqual(a["action"], "kill")
        self.assertEqual(a["pids"], [9])
        self.assertEqual(a["clock"], "real")
        self.assertIsNone(action_from_event({"level": "high"}))
        self.assertIsNone(action_from_event({"action": 5}))
        a = action_from_event({"action": "kill", "pid": "nope", "pids": "not-a-list"})
        self.assertEqual(a["pids"], [])

    def test_memguard_eventlog_format(self):
        # The shape memguardd's eventlog writes (service/eventlog.c).
        kill = {"time": "2025-01-01T00:00:02.000000Z", "time_usec": 1735689602000000, "action": "kill",
                "target": {"pid": 4242, "uid": 0, "comm": "mg-hog", "cgroup": "/mgbench-1-1/app-hog"},
                "reason": "level critical; 210 MiB", "figures": {"level": 3, "trigger_to_action_us": 1834},
                "dry_run": False, "result": "ok"}
        a = action_from_event(kill)
        self.assertEqual((a["action"], a["pids"], a["comm"]), ("kill", [4242], "mg-hog"))
        self.assertEqual(a["trigger_to_action_us"], 1834)
        self.assertEqual((a["clock"], a["clock_s"]), ("real", 1735689602.0))
        self.assertEqual((a["result"], a["dry_run"]), ("ok", False))
        level = {"time_usec": 1735689601000000, "action": "level", "reason": "elevated -> high",
                 "figures": {"level": 2, "previous": 1, "score": 0.41}}
        self.assertIsNone(action_from_event(level))
        self.assertIsNone(action_from_event({"action": "kill-result", "target": {"pid": 4242}}))
        lv = level_from_event(level)
        self.assertEqual((lv["level"], lv["score"], lv["clock"]), ("high", 0.41, "real"))
        # The log line eventlog.c writes beside it.
        kv = procfs.parse_kv("warning: killed mg-hog (pid 4242): level critical action=kill pid=4242 uid=0 "
                             "comm=mg-hog reason=level critical; 210 MiB result=ok level=3 "
                             "trigger_to_action_us=1834")
        a = action_from_event(kv)
        self.assertEqual((a["action"], a["pids"], a["trigger_to_action_us"]), ("kill", [4242], 1834))
        self.assertIsNone(action_from_event(procfs.parse_kv("notice: action=level reason=x level=2")))

    def test_memguard_sources(self):
        m = MemguardManager(types.SimpleNamespace(build="/nonexistent"))
        m.log = FakeLog([
            "memguardd started mode=system",
            "warning: pressure rising level=high previous=elevated score=0.412 trend=+0.150",
            "notice: action=kill pid=42 comm=mg-hog reason=\"runaway\" trigger_to_action_us=950",
            "warning: pressure falling level=normal previous=high score=0.010",
        ])
        with tempfile.TemporaryDirectory() as d:
            m.state_dir = d
            acts = m.actions(d)          # no events.jsonl: from the log
            self.assertEqual(len(acts), 1)
            self.assertEqual((acts[0]["pids"], acts[0]["source"], acts[0]["t"]), ([42], "log", 102.0))
            with open(os.path.join(d, "events.jsonl"), "w") as f:
                f.write('{"action":"freeze","pid":7,"comm":"mgb-tab","trigger_to_action_us":300,'
                        '"monotonic_us":1000000}\n{broken\n\n[1,2]\n')
            acts = m.actions(d)          # events.jsonl wins
            self.assertEqual([(a["action"], a["source"]) for a in acts], [("freeze", "events.jsonl")])
        lv = m.levels()
        self.assertEqual([x["level"] for x in lv], ["high", "normal"])
        self.assertEqual(lv[0]["score"], 0.412)

    def test_earlyoom(self):
        m = EarlyoomManager(types.SimpleNamespace())
        m.log = FakeLog([
            "mem avail:   204 of 24105 MiB ( 0.85%), swap free:  100 of 2047 MiB ( 4.89%)",
            'low memory! at or below SIGTERM limits: mem 10.00%, swap 10.00%',
            'sending SIGTERM to process 4242 uid 0 "mg-hog": badness 1000, VmRSS 1900 MiB',
            "escalating to SIGKILL after 0.5 seconds",
            'sending SIGKILL to process 77 uid 1000 "a \\"quoted\\" name": badness 9, VmRSS 1 MiB',
        ])
        acts = m.actions(None)
        self.assertEqual([(a["signal"], a["pids"]) for a in acts],
                         [("SIGTERM", [4242]), ("SIGKILL", [4242]), ("SIGKILL", [77])])
        self.assertEqual(acts[0]["comm"], "mg-hog")

    def test_nohang(self):
        m = NohangManager(types.SimpleNamespace())
        m.log = FakeLog([
            "Victim status (found in 5ms):",
            "  PID:       555, name: mgb-leak, state: S (sleeping), EUID: 0, SID: 1 (x), lifetime: 1 min",
            "Implementing a corrective action:",
            "  Sending SIGTERM to the victim",
            "OK; total response time: 12ms",
        ])
        acts = m.actions(None)
        self.assertEqual([(a["signal"], a["pids"], a["comm"]) for a in acts], [("SIGTERM", [555], "mgb-leak")])

    def test_relief(self):
        # 1 GiB-second of stall per second for 5 s, then calm for 10 s.
        samples, total = [], 0
        for i in range(61):
            t = i * 0.25
            samples.append({"t": t, "some_total": total})
            total += 250000 if t < 5 else 0
        pressured, relieved, secs = runner.relief(samples, 0.0, 15.0)
        self.assertTrue(pressured and relieved)
        self.assertAlmostEqual(secs, 6.0, delta=0.6)
        pressured, relieved, secs = runner.relief(samples, 0.0, 7.0)
        self.assertEqual((pressured, relieved, secs), (True, False, None))
        calm = [{"t": i * 0.25, "some_total": 0} for i in range(20)]
        self.assertEqual(runner.relief(calm, 0.0, 5.0), (False, None, None))

    def test_cells_and_ratios(self):
        self.assertEqual(report.cell([1.0, 3.0, 2.0], 1), "2.0 (1.0–3.0)")
        self.assertEqual(report.cell([None, 4.0], 0), "4 [1/2]")
        self.assertEqual(report.cell([None], 0), "—")
        self.assertEqual(report.ratio(1.0, 2.0), "0.50×")
        self.assertEqual(report.ratio(0, 0), "=")
        self.assertEqual(report.ratio(1, 0), "—")


if __name__ == "__main__":
    unittest.main()
