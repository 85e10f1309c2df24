#!/bin/bash
# SPDX-License-Identifier: MIT
# The benchmark harness, checked end to end in its safe mode: a short
# cgroup-mode run of the runaway incident with memguard and no manager must
# exit 0, write one JSON record per run with the documented keys, and a
# Markdown table with a row per manager. It checks the harness, not speed.
set -u
. "$(dirname "$0")/lib.sh"

why=$(memcg_supported) || skip "$why"
command -v python3 >/dev/null || skip "python3 not installed"

SRC=$(cd "$HELPERS_DIR/../.." && pwd)
BUILD=$(cd "$(dirname "$MEMGUARDD")/.." && pwd)
OUT=$(mktemp -d /var/tmp/memguard-bench-smoke.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

start=$(date +%s)
"$SRC/bench/run" --mode cgroup --incident runaway --manager memguard,none --repeat 1 \
	--duration-scale 0.25 --no-plot --build "$BUILD" --out "$OUT" >"$OUT/stdout" 2>"$OUT/stderr"
rc=$?
elapsed=$(($(date +%s) - start))
if [ $rc != 0 ]; then
	cat "$OUT/stderr" >&2
	fail "bench/run exited $rc"
fi
echo "bench/run took ${elapsed} s"

n=0
for f in "$OUT"/runs/*.json; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	python3 -m json.tool "$f" >/dev/null || fail "$f is not valid JSON"
	python3 - "$f" <<'PY' || fail "$f lacks documented keys"
import json, sys
r = json.load(open(sys.argv[1]))
top = ["schema", "incident", "manager", "mode", "rep", "ok", "budget_mib", "window_s", "manager_info",
       "figures", "done", "deaths", "levels", "timeline"]
fig = ["oom_kills", "oom_kills_cgroup", "oom_kills_ours", "collateral", "collateral_events", "actions",
       "first_action_s", "detect_s", "psi_full_us", "psi_some_us", "probe", "pressured", "relieved", "relief_s",
       "build_s", "frozen_max", "manager_cost"]
missing = [k for k in top if k not in r] + ["figures." + k for k in fig if k not in r.get("figures", {})]
missing += ["probe." + k for k in ("ticks", "p50_ms", "p99_ms", "max_ms") if k not in r["figures"].get("probe", {})]
if missing:
    sys.exit("missing: " + ", ".join(missing))
if r["schema"] != "memguard-bench/1" or not r["ok"] or r["mode"] != "cgroup":
    sys.exit(f"schema {r['schema']}, ok {r['ok']} ({r.get('error')}), mode {r['mode']}")
if r["figures"]["probe"]["ticks"] < 20:
    sys.exit(f"the probe ticked only {r['figures']['probe']['ticks']} times")
if r["manager"] == "memguard" and not r["figures"]["manager_cost"]:
    sys.exit("no manager cost for memguard")
PY
done
[ $n = 2 ] || fail "expected 2 JSON records (memguard, none), found $n"

[ -s "$OUT/report.md" ] || fail "no report.md"
for m in memguard none; do
	grep -Eq "^\| $m \| 1/1 \|" "$OUT/report.md" || fail "report.md has no table row for $m"
done
grep -q '^| memguard ÷ none |' "$OUT/report.md" || fail "report.md has no ratio row"
grep -q '^| memguard | 1/1 |' "$OUT/stdout" || fail "the table was not printed"

# Nothing of this invocation left behind: its cgroups held all its processes.
inv=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["invocation"])' "$OUT/invocation.json") ||
	fail "no invocation.json"
[ -z "$(ls -d "$MEMCG_V2_MOUNT/mgbench-$inv-"* 2>/dev/null)" ] || fail "bench cgroups left behind"
[ ! -e "/run/mgbench/$inv.json" ] || fail "teardown registry left behind"
echo "ok: $n records, table with memguard and none, cleaned up, ${elapsed} s"
