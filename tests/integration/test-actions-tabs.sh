#!/bin/bash
# SPDX-License-Identifier: MIT
# Tabs (issue 4): several expendable processes and one more that pushes the
# cgroup over its limit, real pressure in a 256 MiB memory cgroup: the least
# important are frozen, not killed; once the pressure source is gone they
# are all thawed.
#
# The "tabs" are mg-reader processes, each re-reading its own 40 MiB file
# (a tab that keeps working on its data): four of them, 160 MiB, fit. Two
# are the least important (priority 85, "heavy"): tab-low-1 in its own
# tab-low-1.scope sub-cgroup (frozen through cgroup.freeze), tab-low-2 a
# single process (SIGSTOP). Two are more important (priority 65,
# "expendable"). All four prefer freezing and allow freeze and kill, as
# browser tabs would. The pusher, a reader of 120 MiB (normal priority; its
# rule allows only throttling, so memguard cannot relieve the pressure by
# killing it), makes the working sets 280 MiB: the readers thrash and stall.
# Freezing a tab lets its page cache be reclaimed, which relieves the rest.
#
# The ladder (planner.h) freezes heavy apps at high and expendable ones at
# critical; at critical and emergency it kills "for the amount" (until the
# MemAvailable headroom target is met) -- but at critical an app that
# prefers freezing is frozen instead; at emergency even prefer-freeze apps
# may be killed, by design. This test is about high and critical, so its
# config keeps emergency out of reach: the PSI full scales are 1 (the score
# is the stall share itself), the emergency threshold is 1.0 and the
# emergency MemAvailable floor is off. How hard the readers stall depends on
# what else the machine runs, so the other thresholds are low: high at 10 %
# of the time stalled, critical at 20 % (measured here: 30-50 % within
# seconds). The headroom target at critical is 85 % of the limit: with the
# readers' page cache counted as available (~20 % here once the pusher has
# filled the cgroup; 55-67 % seen in a CI run whose first stall came at 2 s,
# before it had, when a 60 % target left no amount), there is always an
# amount to free at critical, so without prefer-freeze the tabs WOULD be
# killed for it (and not merely frozen for a stall without shortage) --
# the test would see it.
#
# Asserts:
#   - both least important tabs are frozen (event lines with result=ok,
#     and really: tab-low-1's cgroup reports frozen, tab-low-2 is seen in
#     state T), before any more important tab is;
#   - a more important tab is frozen only at critical, if at all;
#   - critical is reached, and there a tab is "frozen rather than killed
#     (prefer-freeze)" while an amount was needed (need_bytes > 0);
#   - no tab is ever killed: no kill line names one, all keep running;
#   - after the pusher has ended (its own 25 s), every frozen tab is thawed
#     (thaw lines, no process stopped, no cgroup frozen, empty registry) and
#     stays so for a few seconds;
#   - the OOM kill count of the cgroup does not move.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-actions.sh"

why=$(memcg_supported) || skip "$why"
setup_work tabs
memcg_create "memguard-test-tabs-$$" 256 || fail "cannot create test cgroups"

copy_bin "$MG_READER" mg-tab-low || fail "copy"
copy_bin "$MG_READER" mg-tab-mid || fail "copy"
copy_bin "$MG_READER" mg-pusher || fail "copy"
cat >"$WORK/tabs.conf" <<CONF
[levels]
calm-seconds=2
elevated=0.05
high=0.10
critical=0.20
emergency=1.0
hysteresis=0.02

[pressure]
$PSI_ONLY
psi-some-full-scale=1
psi-full-full-scale=1
memavailable-emergency-percent=0

[planner]
grace-seconds=0
headroom-critical-percent=85
kill-cooldown-seconds=5
thaw-interval-seconds=1
thaw-reserve-mib=16

[rule:test-tab-low]
exe=$BIN/mg-tab-low
priority=85
prefer-freeze=true
actions=freeze;kill

[rule:test-tab-mid]
exe=$BIN/mg-tab-mid
priority=65
prefer-freeze=true
actions=freeze;kill

[rule:test-pusher]
exe=$BIN/mg-pusher
actions=throttle
CONF
"$MEMGUARDD" --check-config --config "$WORK/tabs.conf" >/dev/null || fail "test config rejected"

new_scope tab-low-1.scope || fail "cannot create tab-low-1.scope"
SCOPE_L1=$MEMCG_V2/tab-low-1.scope
spawn "$SCOPE_L1" "$BIN/mg-tab-low" --file "$WORK/l1" --size-mib 40 --seconds 180
L1=$SPAWN_PID
spawn "$MEMCG_V2" "$BIN/mg-tab-low" --file "$WORK/l2" --size-mib 40 --seconds 180
L2=$SPAWN_PID
spawn "$MEMCG_V2" "$BIN/mg-tab-mid" --file "$WORK/m1" --size-mib 40 --seconds 180
M1=$SPAWN_PID
spawn "$MEMCG_V2" "$BIN/mg-tab-mid" --file "$WORK/m2" --size-mib 40 --seconds 180
M2=$SPAWN_PID
TABS=("$L1" "$L2" "$M1" "$M2")
wait_until 30 readers_done_a_pass 40 "${TABS[@]}" || fail "the tabs did not get going"
echo "tabs: least important $L1 (own scope) $L2, more important $M1 $M2"

OOM_BEFORE=$(memcg_oom_kills)
start_daemon --config "$WORK/tabs.conf" --scope "$MEMCG_SCOPE" --state-dir "$WORK/state"
monitor_start "${TABS[@]}"
spawn "$MEMCG_V2" "$BIN/mg-pusher" --file "$WORK/pusher" --size-mib 120 --seconds 25 >/dev/null
PUSHER=$SPAWN_PID
t0=$EPOCHREALTIME
echo "pusher $PUSHER (120 MiB) started"

# Both least important tabs frozen, really.
l1_frozen_seen=0
both_low_frozen() {
	cgroup_frozen "$SCOPE_L1" && l1_frozen_seen=1
	action_lines freeze "$L1" | grep -q ' result=ok' && action_lines freeze "$L2" | grep -q ' result=ok'
}
wait_until 60 both_low_frozen || fail "the least important tabs were not both frozen"
echo "least important tabs frozen after $(elapsed_ms "$t0") ms"
wait_until 5 eval 'cgroup_frozen "$SCOPE_L1" && l1_frozen_seen=1; [ $l1_frozen_seen = 1 ]' ||
	fail "tab-low-1.scope never reported frozen"
action_lines freeze "$L1" | grep -q '; cgroup.freeze" result=ok' || fail "tab-low-1 not frozen through its cgroup"
wait_until 5 ever_stopped "$L2" || fail "tab-low-2 was never seen stopped"

# Critical, with an amount to free: frozen rather than killed. (The
# decision line follows the event lines of its actions.)
wait_for_log "$(acted_re freeze "$L1|$L2|$M1|$M2").*frozen rather than killed \(prefer-freeze\).* result=ok level=3 " 30 ||
	fail "no tab was frozen rather than killed at critical"
wait_for_log '^decision level=critical need_bytes=[1-9]' 10 || fail "critical never had an amount to free: the kill path was not tried"
echo "at critical: frozen rather than killed (prefer-freeze), with $(grep -aEm1 '^decision level=critical need_bytes=[1-9]' "$LOG" | grep -o 'need_bytes=[0-9]*') to free"

# The least important first; a more important tab only at critical (checked
# again over the whole log at the end). Event lines carry the level as a
# number: 2 high, 3 critical.
first=$(action_lines freeze '[0-9]+' | head -n1)
[[ $first == *" action=freeze pid=$L1 "* || $first == *" action=freeze pid=$L2 "* ]] ||
	fail "first freeze was not of a least important tab: $first"
check_mid_tabs() {
	local m first_low line
	first_low=$(grep -anE -- "$(acted_re freeze "$L1|$L2")" "$LOG" | head -n1 | cut -d: -f1)
	for m in "$M1" "$M2"; do
		line=$(grep -anE -- "$(acted_re freeze "$m")" "$LOG" | head -n1)
		[ -n "$line" ] || continue
		[ "${line%%:*}" -gt "$first_low" ] || fail "more important tab $m frozen before the least important ones"
		line=$(action_lines freeze "$m" | grep -v ' level=3 ')
		[ -z "$line" ] || fail "more important tab $m frozen below critical: $line"
		[ -n "${1:-}" ] && echo "more important tab $m frozen too, at critical"
	done
	return 0
}
check_mid_tabs say

# The pusher goes away by itself; then everything is thawed.
wait_until 40 eval '! alive $PUSHER' 2>/dev/null || fail "the pusher did not end"
t_gone=$EPOCHREALTIME
echo "pusher gone after $(elapsed_ms "$t0") ms"
all_thawed() {
	local p
	for p in "${TABS[@]}"; do
		case $(proc_state "$p") in T | t) return 1 ;; esac
	done
	! cgroup_frozen "$SCOPE_L1" && [ -z "$(registry_pids "$WORK/state/frozen.json")" ]
}
wait_until 60 all_thawed || fail "not all tabs were thawed after the pressure source went away: $(cat "$WORK/state/frozen.json")"
echo "all thawed $(elapsed_ms "$t_gone") ms after the pusher ended"
for p in $(action_lines freeze '[0-9]+' | grep -Eo ' action=freeze pid=[0-9]+ ' | grep -Eo '[0-9]+' | sort -u); do
	wait_for_log "$(acted_re thaw "$p").* result=ok" 2 || fail "frozen tab $p has no successful thaw line"
done
sleep 3
all_thawed || fail "tabs frozen again with the pressure source gone"
monitor_stop

check_mid_tabs
for p in "${TABS[@]}"; do
	alive "$p" || fail "tab $p did not survive"
	action_lines 'kill|checkpoint' "$p" && fail "tab $p was killed"
done
# Counted in the test's own memory cgroup: the machine-wide oom_kill of
# /proc/vmstat is moved by other people's work on this shared machine.
oom_after=$(memcg_oom_kills)
[ "$oom_after" = "$OOM_BEFORE" ] || fail "OOM kills in the test cgroup moved: $OOM_BEFORE -> $oom_after"
stop_daemon || fail "memguardd did not exit cleanly on SIGTERM"
grep -aE '^(warning: )?pressure| action=(freeze|thaw|kill) pid=' "$LOG" | sed 's/ action=.*//; s/ trend=.*mem_avail/ mem_avail/'
echo "ok: least important tabs frozen, none killed, all thawed"
