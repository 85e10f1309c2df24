#!/bin/bash
# SPDX-License-Identifier: MIT
# Checkpoints that cannot be made fall back to a kill, and the log says why,
# with the REAL criu (Debian's criu; tools/install-deps --tests installs it).
#
# A test cgroup (256 MiB) holds "ckpt", 100 MiB, whose rule allows
# checkpoint;kill, and later a protected filler of 130 MiB. With [pressure]
# memavailable-critical-percent=10 the scope's MemAvailable floor (the limit
# minus what is used) makes the level critical at once, deterministically,
# without a stall; the planner then plans to checkpoint ckpt for the amount.
#
# Part 1, criu as it is: on a machine where `criu check` fails (this kernel:
# "vdso: Unexpected rt vDSO area bounds"), memguardd says once, at start,
# that checkpoints are unavailable and why (criu's own error, which the test
# reads from `criu check` itself), and ckpt is killed (SIGTERM from memguardd,
# logged by mg-sentinel) with no checkpoint attempted.
#
# Part 2, a dump that fails: criu= points at a small wrapper that answers
# `criu check` with success and runs the real /usr/sbin/criu for everything
# else. The wrapper is there only because the real `criu check` refuses on
# this kernel, which would keep memguardd from ever trying a dump; the dump
# itself is the real criu's, and so is its failure. Then: "checkpoint" (criu
# dump started), "checkpoint-result" failed with "checkpoint failed (criu
# exit 1: <criu's error>), killing instead", "kill" and "kill-result"; ckpt
# got SIGTERM from memguardd and is gone; its images directory was removed;
# no checkpoint is recorded; the same in events.jsonl.
#
# Where criu works (criu check passes), neither fallback can be shown with
# the real binary: the test skips and test-checkpoint.sh does the real
# checkpoint and restore.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-actions.sh"

why=$(memcg_supported) || skip "$why"
command -v python3 >/dev/null || skip "python3 is needed to read events.jsonl"
criu_check
echo "criu check (exit $CHECK_RC): $(printf '%s' "$CHECK_OUT" | tail -n 3 | tr '\n' '|')"
[ "$CHECK_RC" != 0 ] || skip "criu check passes here: the fallbacks need criu to refuse (test-checkpoint.sh checkpoints for real)"
# What memguardd must quote: the first error that is not a subprocess's "exited, status=N".
CRIU_WHY=$(printf '%s\n' "$CHECK_OUT" | sed -n 's/^Error ([^)]*): //p' | grep -v '^exited, status=' | head -n 1)
[ -n "$CRIU_WHY" ] || CRIU_WHY=$(printf '%s\n' "$CHECK_OUT" | grep -v '^$' | tail -n 1)
echo "criu's reason: $CRIU_WHY"

setup_work ckpt-fallback
memcg_create "memguard-test-ckpt-$$" 256 || fail "cannot create test cgroups"
copy_bin "$MG_SENTINEL" mg-ckpt || fail "copy"
copy_bin "$MG_SENTINEL" mg-filler || fail "copy"
cat >"$BIN/criu-check-ok" <<EOF
#!/bin/sh
# Answers \`criu check\` only (the real one refuses on this kernel); everything else is the real criu.
[ "\$1" = check ] && { echo "check answered by the test's wrapper"; exit 0; }
exec "$CRIU" "\$@"
EOF
chmod 755 "$BIN/criu-check-ok"

# write_config FILE [criu=...]
write_config() {
	cat >"$1" <<CONF
[pressure]
$PSI_ONLY
memavailable-critical-percent=10
memavailable-emergency-percent=1

[levels]
calm-seconds=2

[planner]
grace-seconds=0

[actions]
checkpoint=true
kill-timeout-critical-seconds=1
${2:-}

[protect]
exe=$BIN/mg-filler

[rule:test-ckpt]
exe=$BIN/mg-ckpt
priority=90
actions=checkpoint;kill
CONF
	"$MEMGUARDD" --check-config --config "$1" >/dev/null || fail "test config $1 rejected"
}

# run_part NAME CONFIG: start ckpt, the daemon, wait for criu's answer, add the filler.
run_part() {
	local name=$1 conf=$2 i
	STATE=$WORK/state-$name
	SIGLOG=$WORK/ckpt-$name.signals
	spawn "$MEMCG_V2" "$BIN/mg-ckpt" --mib 100 --seconds 120 --log "$SIGLOG" --ready "$WORK/ckpt-$name.ready"
	CKPT=$SPAWN_PID
	wait_until 10 test -e "$WORK/ckpt-$name.ready" || fail "ckpt did not start"
	start_daemon --system --config "$conf" --scope "$MEMCG_SCOPE" --state-dir "$STATE"
	wait_for_log 'checkpoints (available|unavailable)' 15 || fail "$name: memguardd never said whether criu works"
	spawn "$MEMCG_V2" "$BIN/mg-filler" --mib 130 --seconds 120 --ready "$WORK/filler-$name.ready"
	FILLER=$SPAWN_PID
	T0=$EPOCHREALTIME
	for ((i = 0; i < 300; i++)); do
		alive "$CKPT" || break
		sleep 0.1
	done
	alive "$CKPT" && fail "$name: ckpt (pid $CKPT) is still running 30 s after the level went critical"
	echo "$name: ckpt gone $(elapsed_ms "$T0") ms after the filler started"
	# Let the kill's result be written, then stop.
	wait_for_log "action=kill-result pid=$CKPT " 10 || fail "$name: no kill-result for ckpt"
	grep -q "signal=15 name=TERM from_pid=$DAEMON_PID " "$SIGLOG" ||
		fail "$name: ckpt got no SIGTERM from memguardd (pid $DAEMON_PID): $(cat "$SIGLOG")"
	kill_daemon TERM
	kill "$FILLER" 2>/dev/null
	wait "$FILLER" 2>/dev/null
}

# events JSON checks: python3 events.py FILE PID MODE
cat >"$WORK/events.py" <<'PY'
import json, sys
path, pid, mode, why = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ev = [json.loads(l) for l in open(path) if l.strip()]
mine = [e for e in ev if e.get("target", {}).get("pid") == pid and e["action"] != "level"]
acts = [e["action"] for e in mine]
errors = []
if mode == "unavailable":
    if acts[:2] != ["kill", "kill-result"]:
        errors.append(f"actions on ckpt: {acts}, expected kill, kill-result")
    if any(a.startswith("checkpoint") for a in acts):
        errors.append("a checkpoint was attempted although criu check failed")
else:
    if acts[:4] != ["checkpoint", "checkpoint-result", "kill", "kill-result"]:
        errors.append(f"actions on ckpt: {acts}, expected checkpoint, checkpoint-result, kill, kill-result")
    else:
        started, result, kill = mine[0], mine[1], mine[2]
        if started.get("error") or "criu dump started" not in started["reason"]:
            errors.append(f"checkpoint: {started}")
        want = f"checkpoint failed (criu exit 1: {why}), killing instead"
        if not result.get("error") or want not in result["reason"]:
            errors.append(f"checkpoint-result: {result}, expected an error and {want!r}")
        if kill.get("error") or "instead of a checkpoint" not in kill["reason"]:
            errors.append(f"kill: {kill}")
if errors:
    print("\n".join(errors))
    sys.exit(1)
PY

# ---- Part 1: criu as it is (criu check fails) ----
write_config "$WORK/part1.conf"
run_part part1 "$WORK/part1.conf"
grep -F 'checkpoints unavailable: planned checkpoints are kills' "$LOG" | grep -qF "criu check failed (criu exit $CHECK_RC: $CRIU_WHY)" ||
	fail "part 1: the log does not say why checkpoints are off: $(grep -F 'checkpoints unavailable' "$LOG")"
[ "$(grep -c 'checkpoints unavailable' "$LOG")" = 1 ] || fail "part 1: said more than once why checkpoints are off"
grep -q "action=checkpoint" "$LOG" && fail "part 1: a checkpoint was attempted: $(grep action=checkpoint "$LOG")"
python3 "$WORK/events.py" "$STATE/events.jsonl" "$CKPT" unavailable "$CRIU_WHY" || fail "part 1: events.jsonl"
echo "part 1: $(grep -F 'checkpoints unavailable' "$LOG")"
echo "part 1: $(grep "action=kill pid=$CKPT " "$LOG" | head -n 1 | cut -c1-200)"

# ---- Part 2: criu check passes (wrapper), the real criu dump refuses ----
write_config "$WORK/part2.conf" "criu=$BIN/criu-check-ok"
run_part part2 "$WORK/part2.conf"
grep -q 'checkpoints available' "$LOG" || fail "part 2: checkpoints did not become available"
grep -q "action=checkpoint pid=$CKPT .*criu dump started" "$LOG" || fail "part 2: no checkpoint started for ckpt"
grep "action=checkpoint-result pid=$CKPT " "$LOG" | grep -qF "checkpoint failed (criu exit 1: $CRIU_WHY), killing instead" ||
	fail "part 2: the log does not say the checkpoint failed and why: $(grep 'action=checkpoint-result' "$LOG")"
grep -q "action=kill pid=$CKPT " "$LOG" || fail "part 2: ckpt was not killed after the failed checkpoint"
python3 "$WORK/events.py" "$STATE/events.jsonl" "$CKPT" failed "$CRIU_WHY" || fail "part 2: events.jsonl"
# Nothing left behind: no images directory, no record.
leftover=$(find "$STATE/checkpoints" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -z "$leftover" ] || fail "part 2: images directory left behind: $leftover"
if [ -f "$STATE/checkpoints/index.json" ]; then
	grep -q '"id"' "$STATE/checkpoints/index.json" && fail "part 2: a failed checkpoint was recorded"
fi
[ "$(stat -c %a "$STATE/checkpoints")" = 700 ] || fail "part 2: checkpoints directory is not 0700"
echo "part 2: $(grep "action=checkpoint-result pid=$CKPT " "$LOG" | grep -o 'reason=.*' | cut -c1-240)"
echo "PASS: checkpoint fallbacks (criu check refused; criu dump refused) kill the app and say why"
