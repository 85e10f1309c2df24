#!/bin/bash
# SPDX-License-Identifier: MIT
# max-frozen-seconds: "Nothing stays frozen longer than this many seconds:
# it is thawed, and if pressure persists the planner decides again"
# (memguard.conf(5)).
#
# A 64 MiB test cgroup holds a protected ballast (36 MiB) and one tab
# (priority 85, prefer-freeze, freeze only); the test config raises the
# MemAvailable floor for critical to 50 %, so memguard sits at critical
# (the floor holds) and freezes the tab at startup; max-frozen-seconds is 2.
# Part 1 adds a bystander (a normal process whose rule allows throttling
# only: it gets a "cap" and a "throttle" planned at every decision, both
# unavailable for a single process). Part 2 has nothing else to plan: the
# tab is frozen, the ballast protected.
#
# Asserts:
#   1. the thaw for the cap is logged with the tab's pid and name
#      (app=mg-tab), and the tab really runs again (the sentinel gets a
#      SIGCONT from memguardd);
#   2. the same without the bystander: the cap holds even when the planner
#      has nothing else to do.
# Both failed before commit e475871 (actor_thaw_expired):
#   1. the thaw line's app= was read from the registry entry after
#      freezer_thaw() freed it (use after free: garbage or a crash);
#   2. the cap was only checked inside actor_execute(), which
#      manager_decide() skips when the plan is empty: the tab stayed frozen.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-actions.sh"

why=$(memcg_supported) || skip "$why"
setup_work max-frozen

copy_bin "$MG_SENTINEL" mg-ballast || fail "copy"
copy_bin "$MG_SENTINEL" mg-tab || fail "copy"
copy_bin "$MG_SENTINEL" mg-bystander || fail "copy"
cat >"$WORK/cap.conf" <<CONF
[pressure]
$PSI_ONLY
memavailable-critical-percent=50
memavailable-emergency-percent=0

[planner]
grace-seconds=0

[actions]
max-frozen-seconds=2

[protect]
exe=$BIN/mg-ballast

[rule:test-tab]
exe=$BIN/mg-tab
priority=85
prefer-freeze=true
actions=freeze

[rule:test-bystander]
exe=$BIN/mg-bystander
priority=55
actions=throttle
CONF
"$MEMGUARDD" --check-config --config "$WORK/cap.conf" >/dev/null || fail "test config rejected"

errors=()
part() {
	local n=$1 bystander=$2 tab
	memcg_create "memguard-test-max-frozen-$$-$n" 64 || fail "cannot create test cgroups"
	LOG=$WORK/part$n.log
	spawn "$MEMCG_V2" "$BIN/mg-ballast" --mib 36 --seconds 120
	spawn "$MEMCG_V2" "$BIN/mg-tab" --mib 2 --seconds 120 --log "$WORK/tab$n.signals" --ready "$WORK/tab$n.ready"
	tab=$SPAWN_PID
	[ "$bystander" = yes ] && spawn "$MEMCG_V2" "$BIN/mg-bystander" --mib 1 --seconds 120
	wait_until 10 test -e "$WORK/tab$n.ready" || fail "part $n: tab did not start"
	start_daemon --config "$WORK/cap.conf" --scope "$MEMCG_SCOPE" --state-dir "$WORK/state$n"
	wait_for_log "$(acted_re freeze "$tab").* result=ok" 10 || fail "part $n: the tab was not frozen"
	t0=$EPOCHREALTIME
	# Frozen at most 2 s, checked at the next decision: the heartbeat (10 s) at the latest.
	if wait_until 25 grep -q "from_pid=$DAEMON_PID" "$WORK/tab$n.signals"; then
		echo "part $n: thawed $(elapsed_ms "$t0") ms after the freeze"
		# (The line is written just after the SIGCONT.)
		wait_for_log "$(acted_re thaw "$tab")" 2
		line=$(action_lines thaw "$tab" | head -n1)
		[ -n "$line" ] || errors+=("part $n: no thaw line for the tab")
		[[ $line == *" app=mg-tab "* ]] || errors+=("part $n: the thaw line does not name the app: $(printf '%q' "$line")")
	else
		errors+=("part $n: the tab is still frozen $(elapsed_ms "$t0") ms after the freeze (max-frozen-seconds=2), state $(proc_state "$tab")")
	fi
	kill_daemon TERM
	[ "$DAEMON_RC" = 0 ] || errors+=("part $n: memguardd exited $DAEMON_RC on SIGTERM")
	{ memcg_destroy; wait; } 2>/dev/null
}
part 1 yes
part 2 no

for e in "${errors[@]}"; do echo "FAIL: $e" >&2; done
[ ${#errors[@]} = 0 ] || exit 1
echo "ok: the cap on freezing holds, and its thaw is logged for the right app"
