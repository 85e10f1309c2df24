#!/bin/bash
# SPDX-License-Identifier: MIT
# Crash safety (issue 4): with processes frozen by memguardd, SIGKILL it at
# varied moments, 50 rounds, and recover the way a service manager would:
# nothing may be left stopped or in a frozen cgroup.
#
# How the frozen state is made, quickly and for real: the daemon itself
# freezes, on its own decision. The test cgroup (64 MiB) holds a protected
# ballast of 36 MiB and four "tabs" (2 MiB each; priority 85, prefer-freeze,
# actions freeze;kill); the test config raises the MemAvailable floor for
# critical to 50 % (memavailable-critical-percent=50; the emergency floor is
# off). With --scope, MemAvailable is the cgroup's headroom (about 28 %
# here), so the first sample memguardd takes at startup puts it at
# critical, and it freezes the tabs at once -- no PSI stall needed, so a
# round takes well under a second instead of half a minute. Two tabs run in
# their own tab-*.scope sub-cgroups (frozen through cgroup.freeze), two are
# single processes (frozen with SIGSTOP): both methods are crashed.
#
# The moment of the SIGKILL varies with the round (round % 4):
#   0  a random 0-40 ms after the daemon was started (before, during or
#      after its first freezes: here it starts and freezes all four within
#      about 10-20 ms);
#   1  a random 0-300 ms after it logged "memguardd started" (frozen);
#   2  as soon as the first freeze line is logged (others may be under way);
#   3  during a clean stop: SIGTERM, then SIGKILL 0-200 us later, while it
#      thaws (measured here: about one round in five is caught with its
#      processes thawed but the registry not yet rewritten; the rest after
#      the stop has finished).
# Right after the SIGKILL the registry must name everything that is
# stopped or frozen (it is written before every freeze). Recovery
# (round % 3):
#   0  memguardd --thaw-all --state-dir DIR (the unit's ExecStopPost);
#   1  memguardd restarted on the same state dir with a calm config (the
#      pressure went away while it was down): it thaws at startup;
#   2  memguardd restarted with the same freezing config: it thaws what the
#      crashed run left, freezes again on its own decision (every stopped
#      or frozen tab must then be in the new registry), and a SIGTERM then
#      thaws everything.
# After each recovery: no tab in state T, no frozen cgroup, every tab
# alive, the registry empty. At least half of the rounds must have had
# something frozen at the moment of the SIGKILL, or the test proves little.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-actions.sh"

ROUNDS=${MG_CRASH_ROUNDS:-50}

why=$(memcg_supported) || skip "$why"
setup_work crash
memcg_create "memguard-test-crash-$$" 64 || fail "cannot create test cgroups"
STATE=$WORK/state
REG=$STATE/frozen.json

copy_bin "$MG_SENTINEL" mg-ballast || fail "copy"
copy_bin "$MG_SENTINEL" mg-tab || fail "copy"
rules="[planner]
grace-seconds=0

[protect]
exe=$BIN/mg-ballast

[rule:test-tab]
exe=$BIN/mg-tab
priority=85
prefer-freeze=true
actions=freeze;kill"
printf '[pressure]\n%s\nmemavailable-critical-percent=50\nmemavailable-emergency-percent=0\n\n%s\n' "$PSI_ONLY" "$rules" >"$WORK/freeze.conf"
printf '[pressure]\n%s\n\n%s\n' "$PSI_ONLY" "$rules" >"$WORK/calm.conf"
for c in freeze calm; do
	"$MEMGUARDD" --check-config --config "$WORK/$c.conf" >/dev/null || fail "$c.conf rejected"
done

spawn "$MEMCG_V2" "$BIN/mg-ballast" --mib 36 --seconds 600 --ready "$WORK/ballast.ready"
BALLAST=$SPAWN_PID
wait_until 10 test -e "$WORK/ballast.ready" || fail "ballast did not start"
TABS=()
SCOPES=()
for t in a b c d; do
	dir=$MEMCG_V2
	if [ $t = a ] || [ $t = b ]; then
		new_scope "tab-$t.scope" || fail "cannot create tab-$t.scope"
		dir=$MEMCG_V2/tab-$t.scope
		SCOPES+=("$dir")
	fi
	spawn "$dir" "$BIN/mg-tab" --mib 2 --seconds 600 --log "$WORK/tab-$t.signals" --ready "$WORK/tab-$t.ready"
	TABS+=("$SPAWN_PID")
	wait_until 10 test -e "$WORK/tab-$t.ready" || fail "tab $t did not start"
done
echo "ballast $BALLAST, tabs ${TABS[*]} (tab-a, tab-b in their own scopes)"

# The daemon in the background, without waiting for it; its log is $LOG.
launch() {
	"$MEMGUARDD" --config "$WORK/$1.conf" --scope "$MEMCG_SCOPE" --state-dir "$STATE" >"$LOG" 2>&1 &
	DAEMON_PID=$!
}

# What is stopped or frozen now: sets N_STOPPED, N_FROZEN, STOPPED (pids), FROZEN (dirs).
survey() {
	local p d
	STOPPED=()
	FROZEN=()
	for p in "${TABS[@]}"; do
		case $(proc_state "$p") in T | t) STOPPED+=("$p") ;; esac
	done
	for d in "${SCOPES[@]}"; do
		cgroup_frozen "$d" || [ "$(cat "$d/cgroup.freeze")" = 1 ] && FROZEN+=("$d")
	done
	N_STOPPED=${#STOPPED[@]}
	N_FROZEN=${#FROZEN[@]}
}

# Everything stopped or frozen must be named in the registry.
check_registered() {
	local p d pids cgs
	pids=" $(registry_pids "$REG" | tr '\n' ' ') "
	cgs=" $(registry_cgroups "$REG" | tr '\n' ' ') "
	for p in "${STOPPED[@]}"; do
		[[ $pids == *" $p "* ]] || fail "round $round ($1): pid $p is stopped but not in the registry: $(cat "$REG" 2>/dev/null)"
	done
	for d in "${FROZEN[@]}"; do
		[[ $cgs == *" $d "* ]] || fail "round $round ($1): $d is frozen but not in the registry: $(cat "$REG" 2>/dev/null)"
	done
}

nothing_frozen() {
	survey
	[ "$N_STOPPED" = 0 ] && [ "$N_FROZEN" = 0 ]
}

# After a recovery: nothing stopped or frozen (a thawed cgroup may take a
# moment to report it), every tab alive, the registry empty.
check_recovered() {
	local p
	wait_until 2 nothing_frozen ||
		fail "round $round ($1): left behind: stopped ${STOPPED[*]:-none}, frozen cgroups ${FROZEN[*]:-none}"
	for p in "$BALLAST" "${TABS[@]}"; do
		alive "$p" || fail "round $round ($1): pid $p is gone"
	done
	[ -z "$(registry_pids "$REG")" ] || fail "round $round ($1): registry not empty: $(cat "$REG")"
}

# sleep_us N: wait N microseconds without forking (a read that times out on
# a FIFO nobody writes to), so that short delays are not swamped by fork+exec.
mkfifo "$WORK/never" || fail "mkfifo"
exec 9<>"$WORK/never"
sleep_us() {
	read -r -t "$(printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)))" -u 9 _ || true
}

RANDOM=$$
frozen_rounds=0
t_start=$EPOCHREALTIME
for round in $(seq 1 "$ROUNDS"); do
	LOG=$WORK/round-$round.log
	moment=$((round % 4))
	launch freeze
	case $moment in
	0) sleep_us $((RANDOM * 40000 / 32768)) ;;
	1)
		wait_for_log 'memguardd started' 10 || fail "round $round: memguardd did not start"
		sleep_us $((RANDOM * 300000 / 32768))
		;;
	2) wait_for_log "$(acted_re freeze '[0-9]+')" 10 || fail "round $round: memguardd froze nothing" ;;
	3)
		wait_for_log 'memguardd started' 10 || fail "round $round: memguardd did not start"
		kill -TERM "$DAEMON_PID"
		sleep_us $((RANDOM * 200 / 32768))
		;;
	esac
	kill_daemon KILL
	survey
	check_registered "after SIGKILL"
	at_stopped=$N_STOPPED
	at_frozen=$N_FROZEN
	[ $((at_stopped + at_frozen)) -gt 0 ] && frozen_rounds=$((frozen_rounds + 1))
	entries=$(registry_pids "$REG" | wc -l)

	recovery=$((round % 3))
	case $recovery in
	0)
		out=$("$MEMGUARDD" --thaw-all --state-dir "$STATE" 2>&1) || fail "round $round: --thaw-all failed: $out"
		how="--thaw-all: $out"
		;;
	1)
		LOG=$WORK/round-$round-restart.log
		launch calm
		wait_for_log 'memguardd started' 10 || fail "round $round: restarted memguardd did not start"
		if [ "$entries" -gt 0 ]; then
			grep -q 'thawed [1-9][0-9]* app(s) a previous run left frozen' "$LOG" ||
				fail "round $round: the restarted daemon did not thaw the $entries registry entries"
		fi
		check_recovered "restart, calm"
		kill_daemon KILL
		how="restart (calm)"
		;;
	2)
		LOG=$WORK/round-$round-restart.log
		launch freeze
		wait_for_log 'memguardd started' 10 || fail "round $round: restarted memguardd did not start"
		survey
		check_registered "restarted, freezing again"
		[ $((N_STOPPED + N_FROZEN)) -gt 0 ] || fail "round $round: the restarted daemon froze nothing"
		kill_daemon TERM
		[ "$DAEMON_RC" = 0 ] || fail "round $round: memguardd exited $DAEMON_RC on SIGTERM"
		how="restart (freezing again), SIGTERM"
		;;
	esac
	check_recovered "$how"
	printf 'round %2d: kill moment %d, at SIGKILL %d stopped + %d frozen cgroups, %d registry entries; %s: clean\n' \
		"$round" "$moment" "$at_stopped" "$at_frozen" "$entries" "${how%%:*}"
done

echo "$ROUNDS rounds in $(elapsed_ms "$t_start") ms; something frozen at the SIGKILL in $frozen_rounds"
[ $((frozen_rounds * 2)) -ge "$ROUNDS" ] || fail "only $frozen_rounds of $ROUNDS rounds had anything frozen at the SIGKILL"

# The signals the tabs saw come from memguardd only (SIGCONT on thaw), never
# a TERM: a tab was never killed, and nothing else signalled it.
grep -h 'name=TERM' "$WORK"/tab-*.signals && fail "a tab got SIGTERM"
echo "ok: no process left stopped or frozen after $ROUNDS SIGKILLs"
