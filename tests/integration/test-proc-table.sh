#!/bin/bash
# SPDX-License-Identifier: MIT
# Process table (issue 3), on real processes: memguardd --list-candidates
# --json --scope on a test cgroup holding
#   - "odd": renamed to `x) R 1 1 1 (y` (prctl PR_SET_NAME, as any process
#     can), 24 MiB, a rule gives its exe priority 90;
#   - "guarded": on the protect list by its exe, 8 MiB;
#   - "impostor": another exe renamed to the guarded one's name, 8 MiB; a
#     weak rule (comm only) tries to give that name priority 10;
#   - two more renamed to built-in protected names, "gnome-shell" (never
#     targeted when run from a system directory) and "sshd" (protected by
#     exe by a shipped rule), 8 MiB each;
#   - one renamed to a name with a quote and a newline, 4 MiB;
#   - two processes of the same exe with priority 70, 16 and 8 MiB.
# Every process runs from its own copy of mg-sentinel (unique exe paths).
#
# Asserts: each process is listed once, with the right pid, comm (exactly,
# parens, quote and newline included), exe, uid, memory (RSS and reclaimable
# at least what it allocated), priority and reason; protection is given by
# exe (guarded: protected, priority 0, "protect list") and not by name
# alone (impostor, gnome-shell, sshd: priority 50, not protected); the list
# is ranked by priority, then reclaimable memory, both descending; the text
# output shows hostile names on one line.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-actions.sh"

why=$(memcg_supported) || skip "$why"
command -v python3 >/dev/null || skip "python3 is needed to check the JSON"
setup_work proc-table
memcg_create "memguard-test-proc-$$" 256 || fail "cannot create test cgroups"

for b in mg-odd mg-guarded mg-impostor mg-fake-shell mg-fake-sshd mg-hostile mg-expendable; do
	copy_bin "$MG_SENTINEL" "$b" || fail "copy"
done
cat >"$WORK/table.conf" <<CONF
[protect]
exe=$BIN/mg-guarded

[rule:test-odd]
exe=$BIN/mg-odd
priority=90

[rule:test-expendable]
exe=$BIN/mg-expendable
priority=70

# Weak: matches on the name alone, so it may not make anything safer.
[rule:test-weak-guard]
comm=mg-guarded
priority=10
CONF
"$MEMGUARDD" --check-config --config "$WORK/table.conf" >/dev/null || fail "test config rejected"

ODD_NAME='x) R 1 1 1 (y'
HOSTILE_NAME=$'ev"il\nname'
declare -A PIDS
start() {
	local key=$1
	shift
	spawn "$MEMCG_V2" "$@" --seconds 120 --ready "$WORK/$key.ready"
	PIDS[$key]=$SPAWN_PID
	wait_until 10 test -e "$WORK/$key.ready" || fail "$key did not start"
}
start odd "$BIN/mg-odd" --mib 24 --comm "$ODD_NAME"
start guarded "$BIN/mg-guarded" --mib 8
start impostor "$BIN/mg-impostor" --mib 8 --comm mg-guarded
start fake_shell "$BIN/mg-fake-shell" --mib 8 --comm gnome-shell
start fake_sshd "$BIN/mg-fake-sshd" --mib 8 --comm sshd
start hostile "$BIN/mg-hostile" --mib 4 --comm "$HOSTILE_NAME"
start exp_big "$BIN/mg-expendable" --mib 16
start exp_small "$BIN/mg-expendable" --mib 8
[ "$(cat "/proc/${PIDS[odd]}/comm")" = "$ODD_NAME" ] || fail "the rename did not take"

"$MEMGUARDD" --list-candidates --json --config "$WORK/table.conf" --scope "$MEMCG_SCOPE" >"$WORK/list.json" 2>"$WORK/list.err" ||
	fail "--list-candidates --json failed: $(cat "$WORK/list.err")"

export BIN
for k in "${!PIDS[@]}"; do export "PID_$k=${PIDS[$k]}"; done
export ODD_NAME HOSTILE_NAME
python3 - "$WORK/list.json" <<'PY' || fail "--list-candidates --json is wrong (list in $WORK/list.json)"
import json, os, sys

MiB = 1 << 20
rows = json.load(open(sys.argv[1]))
B = os.environ["BIN"]
env = lambda k: os.environ[k]
# key: (exe, comm, MiB allocated, priority, protected, reason contains)
want = {
    "odd": (B + "/mg-odd", env("ODD_NAME"), 24, 90, False, "rule test-odd priority 90"),
    "guarded": (B + "/mg-guarded", "mg-guarded", 8, 0, True, "protect list"),
    "impostor": (B + "/mg-impostor", "mg-guarded", 8, 50, False, "rule default priority 50"),
    "fake_shell": (B + "/mg-fake-shell", "gnome-shell", 8, 50, False, "rule default priority 50"),
    "fake_sshd": (B + "/mg-fake-sshd", "sshd", 8, 50, False, "rule default priority 50"),
    "hostile": (B + "/mg-hostile", env("HOSTILE_NAME"), 4, 50, False, "rule default priority 50"),
    "exp_big": (B + "/mg-expendable", "mg-expendable", 16, 70, False, "rule test-expendable priority 70"),
    "exp_small": (B + "/mg-expendable", "mg-expendable", 8, 70, False, "rule test-expendable priority 70"),
}
errors = []
by_pid = {}
for r in rows:
    if r["pid"] in by_pid:
        errors.append(f"pid {r['pid']} listed twice")
    by_pid[r["pid"]] = r
for key, (exe, comm, mib, prio, prot, reason) in want.items():
    pid = int(env("PID_" + key))
    r = by_pid.get(pid)
    if r is None:
        errors.append(f"{key} (pid {pid}) not listed")
        continue
    checks = {
        "comm": (r["comm"], comm),
        "exe": (r["exe"], exe),
        "uid": (r["uid"], os.getuid()),
        "unit": (r["unit"], None),
        "processes": (r["processes"], 1),
        "priority": (r["priority"], prio),
        "protected": (r["protected"], prot),
        "foreground": (r["foreground"], False),
        "swap_bytes": (r["swap_bytes"], 0),
    }
    for field, (got, exp) in checks.items():
        if got != exp:
            errors.append(f"{key}: {field} is {got!r}, expected {exp!r}")
    if r["rss_bytes"] < mib * MiB:
        errors.append(f"{key}: rss_bytes {r['rss_bytes']} < {mib} MiB")
    if not (mib * MiB <= r["reclaim_bytes"] <= r["rss_bytes"]):
        errors.append(f"{key}: reclaim_bytes {r['reclaim_bytes']} not in [{mib} MiB, rss]")
    if reason not in r["reason"]:
        errors.append(f"{key}: reason {r['reason']!r} lacks {reason!r}")
    if key == "impostor" and "test-weak-guard" in r["reason"]:
        errors.append("impostor: the weak comm rule made it safer")
if len(rows) != len(want):
    errors.append(f"{len(rows)} rows, expected {len(want)} (only the test's processes are in the scope)")
# Ranked: priority descending, then reclaimable memory descending.
for a, b in zip(rows, rows[1:]):
    if (a["priority"], a["reclaim_bytes"]) < (b["priority"], b["reclaim_bytes"]):
        errors.append(f"order: pid {a['pid']} ({a['priority']}, {a['reclaim_bytes']}) before "
                      f"pid {b['pid']} ({b['priority']}, {b['reclaim_bytes']})")
order = [r["pid"] for r in rows]
first, last = int(env("PID_odd")), int(env("PID_guarded"))
if order and (order[0] != first or order[-1] != last):
    errors.append(f"expected odd (pid {first}) first and guarded (pid {last}) last: {order}")
if int(env("PID_exp_big")) in order and order.index(int(env("PID_exp_big"))) != 1:
    errors.append("the larger expendable process is not second")
for e in errors:
    print("  " + e)
for r in rows:
    print(f"  {r['priority']:3} {'P' if r['protected'] else '-'} {r['pid']:7} {r['reclaim_bytes'] >> 20:4} MiB "
          f"{r['comm']!r:22} {r['reason']}")
sys.exit(1 if errors else 0)
PY

# The text form: hostile names on one line, control characters replaced.
"$MEMGUARDD" --list-candidates --config "$WORK/table.conf" --scope "$MEMCG_SCOPE" >"$WORK/list.txt" 2>&1 ||
	fail "--list-candidates failed"
[ "$(wc -l <"$WORK/list.txt")" = $((${#PIDS[@]} + 1)) ] || fail "text list is not one line per process: $(cat "$WORK/list.txt")"
grep -q " ${PIDS[hostile]} .*ev\"il?name" "$WORK/list.txt" || fail "hostile name not shown sanitised: $(grep " ${PIDS[hostile]} " "$WORK/list.txt")"
grep -q " ${PIDS[odd]} .*x) R 1 1 1 (y" "$WORK/list.txt" || fail "odd name not shown"
echo "ok: fields, protection by exe, ranking"
