#!/bin/bash
# SPDX-License-Identifier: MIT
# Kill escalation (issue 4): a victim that ignores SIGTERM is gone by the
# deadline -- under real memory pressure in a 256 MiB memory cgroup.
#
# The pressure (TESTING.md's recipe): three readers re-reading 60 MiB each
# and a hog growing at 10 MiB/s to 150 MiB of anonymous memory, which
# squeezes the readers' page cache until they stall -- and, should the stall
# stay mild (it depends on what else the machine runs), until MemAvailable of
# the cgroup is under the 5 % floor for critical. Readers and hog are
# protected by a rule (priority 30, throttle only), so that memguard's only
# way out is the victims:
#   - victim 1, a single process (mg-sentinel --ignore-term, 32 MiB);
#   - victim 2, an app of two such processes in its own victim.scope
#     sub-cgroup (12 MiB each), whose kill goes through cgroup.kill;
# both priority 90 with actions=kill. The kill timeout is 3 s at every
# level, so the deadline does not depend on the level reached. How hard the
# readers stall depends on what else the machine runs: the test config puts
# critical (where kills start) at a score of 0.20.
# mg-sentinel writes down each signal with the sender's PID and the time.
#
# Asserts, for each victim process:
#   - it got SIGTERM from memguardd (and ignored it);
#   - it is gone no later than the 3 s deadline plus a 2 s margin after that
#     SIGTERM, and no sooner than 2.5 s (it outlived SIGTERM: the SIGKILL
#     escalation ended it, not the TERM);
# and the kill-result lines say result=ok, "exited after TERM 0, killed 1"
# (victim 1) and "killed 2 ... cgroup.kill" (victim 2); the readers live
# on; the cgroup's OOM kill count does not move.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-actions.sh"

DEADLINE_MS=3000
MARGIN_MS=2000

why=$(memcg_supported) || skip "$why"
setup_work kill-escalation
memcg_create "memguard-test-kill-$$" 256 || fail "cannot create test cgroups"

copy_bin "$MG_SENTINEL" mg-stubborn || fail "copy"
copy_bin "$MG_READER" mg-pressure || fail "copy"
copy_bin "$MG_HOG" mg-pressure-hog || fail "copy"
cat >"$WORK/kill.conf" <<CONF
[pressure]
$PSI_ONLY

[levels]
calm-seconds=2
elevated=0.05
high=0.10
critical=0.20
hysteresis=0.02

[planner]
grace-seconds=0
kill-cooldown-seconds=2

[actions]
kill-timeout-seconds=3
kill-timeout-critical-seconds=3
kill-timeout-emergency-seconds=3

[rule:test-pressure]
exe=$BIN/mg-pressure;$BIN/mg-pressure-hog
priority=30
actions=throttle

[rule:test-stubborn]
exe=$BIN/mg-stubborn
priority=90
actions=kill
CONF
"$MEMGUARDD" --check-config --config "$WORK/kill.conf" >/dev/null || fail "test config rejected"

spawn "$MEMCG_V2" "$BIN/mg-stubborn" --ignore-term --mib 32 --seconds 180 --log "$WORK/v1.signals" --ready "$WORK/v1.ready"
V1=$SPAWN_PID
new_scope victim.scope || fail "cannot create victim.scope"
spawn "$MEMCG_V2/victim.scope" "$BIN/mg-stubborn" --ignore-term --mib 12 --seconds 180 --log "$WORK/v2a.signals" --ready "$WORK/v2a.ready"
V2A=$SPAWN_PID
spawn "$MEMCG_V2/victim.scope" "$BIN/mg-stubborn" --ignore-term --mib 12 --seconds 180 --log "$WORK/v2b.signals" --ready "$WORK/v2b.ready"
V2B=$SPAWN_PID
wait_until 10 eval 'test -e "$WORK/v1.ready" -a -e "$WORK/v2a.ready" -a -e "$WORK/v2b.ready"' || fail "victims did not start"
VICTIMS=("$V1" "$V2A" "$V2B")
echo "victims: $V1 (single process), $V2A $V2B (victim.scope)"

OOM_BEFORE=$(memcg_oom_kills)
start_daemon --config "$WORK/kill.conf" --scope "$MEMCG_SCOPE" --state-dir "$WORK/state"
READERS=()
for i in 1 2 3; do
	spawn "$MEMCG_V2" "$BIN/mg-pressure" --file "$WORK/ws$i" --size-mib 60 --seconds 120
	READERS+=("$SPAWN_PID")
done
spawn "$MEMCG_V2" "$BIN/mg-pressure-hog" --rate-mib 10 --max-mib 150 --seconds 120 >/dev/null
READERS+=("$SPAWN_PID")
t0=$EPOCHREALTIME

# Watch the victims: when each is gone, to the millisecond (or so).
declare -A GONE
watch_victims() {
	local p left=0
	for p in "${VICTIMS[@]}"; do
		[ -n "${GONE[$p]:-}" ] && continue
		if alive "$p"; then
			left=$((left + 1))
		else
			GONE[$p]=$EPOCHREALTIME
		fi
	done
	[ $left = 0 ]
}
wait_until 90 watch_victims 2>/dev/null || fail "not every victim is gone: $(for p in "${VICTIMS[@]}"; do echo -n "$p:$(proc_state "$p") "; done)"
echo "all victims gone $(elapsed_ms "$t0") ms after the pressure started"

for p in "${VICTIMS[@]}"; do
	log=$WORK/v1.signals
	[ "$p" = "$V2A" ] && log=$WORK/v2a.signals
	[ "$p" = "$V2B" ] && log=$WORK/v2b.signals
	term=$(grep -m1 'name=TERM' "$log") || fail "victim $p was never sent SIGTERM"
	[[ $term == *" from_pid=$DAEMON_PID "* ]] || fail "victim $p got SIGTERM from someone else: $term"
	t_term=${term##*time=}
	ms=$(elapsed_ms "$t_term" "${GONE[$p]}")
	echo "victim $p: SIGTERM ignored, gone ${ms} ms later (deadline ${DEADLINE_MS} ms)"
	[ "$ms" -le $((DEADLINE_MS + MARGIN_MS)) ] || fail "victim $p outlived the deadline: ${ms} ms after SIGTERM"
	[ "$ms" -ge $((DEADLINE_MS - 500)) ] || fail "victim $p gone ${ms} ms after SIGTERM, before the deadline: not escalated"
done

# (Each result line is written once memguardd has seen its processes go.)
wait_for_log "$(acted_re kill-result "$V1").*; exited after TERM 0, killed 1, still present 0, .* result=ok" 5 ||
	fail "no kill-result for victim 1 saying TERM 0, killed 1: $(action_lines kill-result "$V1")"
wait_for_log "$(acted_re kill-result "$V2A").*; exited after TERM 0, killed 2, still present 0, .*cgroup.kill.* result=ok" 5 ||
	fail "no kill-result for victim 2 saying TERM 0, killed 2 with cgroup.kill: $(action_lines kill-result "$V2A")"
for p in "${READERS[@]}"; do
	alive "$p" || fail "pressure process $p (protected by its rule) is gone"
done
# Counted in the test's own memory cgroup: the machine-wide oom_kill of
# /proc/vmstat is moved by other people's work on this shared machine.
oom_after=$(memcg_oom_kills)
[ "$oom_after" = "$OOM_BEFORE" ] || fail "OOM kills in the test cgroup moved: $OOM_BEFORE -> $oom_after"
stop_daemon || fail "memguardd did not exit cleanly on SIGTERM"
action_lines 'kill|kill-result' '[0-9]+' | sed 's/ action=.*//'
echo "ok: SIGTERM ignored, SIGKILL by the deadline, every time"
