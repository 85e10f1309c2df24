#!/bin/bash
# SPDX-License-Identifier: MIT
# PID reuse (issue 4): the process memguard chose exits and its PID is
# reused by another process before the action: the new process must never
# be signalled.
#
# PID reuse is forced, not hoped for: the test re-runs itself as PID 1 of a
# new PID namespace (unshare --pid --fork --mount-proc), where nothing but
# the test forks, and makes the next PID the victim's by writing
# /proc/sys/kernel/ns_last_pid. The daemon runs in the same namespace (so
# its PIDs are the ones reused) with --scope on a 64 MiB test cgroup. The
# victim holds 40 MiB and the test config raises the MemAvailable floor for
# critical to 50 %: memguard decides to act on the victim at its very first
# sample. The newcomer that gets the victim's PID is an mg-sentinel on the
# protect list, which writes down every signal it gets: memguard has no
# reason of its own to signal it, so any signal would be a stale identity.
#
# Between deciding and acting (gdb; skipped, and said so, without gdb):
#   1. kill:   gdb stops memguardd at actor_execute() -- the plan is made,
#              the victim chosen for a kill -- and meanwhile the victim dies
#              and its PID goes to the newcomer; then memguardd goes on.
#   2. freeze: the same with a freeze (SIGSTOP: the victim is a single
#              process).
# After a freeze, from the frozen registry (a PID and start time kept for
# later): the victim is frozen for real, then dies and its PID goes to the
# newcomer, and memguard later thaws (SIGCONT) what it froze:
#   3. expiry:    max-frozen-seconds runs out;
#   4. SIGTERM:   memguardd stops and thaws everything;
#   5. crash:     memguardd is SIGKILLed; memguardd --thaw-all;
#   6. restart:   memguardd is SIGKILLed; a new memguardd thaws at startup.
# Each round asserts: the newcomer really has the victim's PID, gets no
# signal at all, is never seen stopped, still runs; and memguard did act
# (or decide) on the victim's PID: the log shows it.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-actions.sh"

if [ -z "${MG_IN_PIDNS:-}" ]; then
	why=$(memcg_supported) || skip "$why"
	[ -w /proc/sys/kernel/ns_last_pid ] || skip "ns_last_pid is not writable"
	unshare --pid --fork --mount-proc true 2>/dev/null || skip "cannot make a PID namespace (unshare --pid)"
	export MG_IN_PIDNS=1
	exec unshare --pid --fork --mount-proc --kill-child=SIGTERM "$0" "$@"
fi
[ $$ = 1 ] || fail "expected to be PID 1 of a new PID namespace, am $$"
trap 'exit 143' TERM INT

setup_work pid-reuse
memcg_create "memguard-test-pid-reuse-$$-$RANDOM" 64 || fail "cannot create test cgroups"

copy_bin "$MG_SENTINEL" mg-victim || fail "copy"
copy_bin "$MG_SENTINEL" mg-newcomer || fail "copy"
common="[planner]
grace-seconds=0

[protect]
exe=$BIN/mg-newcomer"
floor="[pressure]
$PSI_ONLY
memavailable-critical-percent=50
memavailable-emergency-percent=0"
printf '%s\n\n%s\n\n[actions]\nkill-timeout-seconds=2\nkill-timeout-critical-seconds=2\n\n[rule:test-victim]\nexe=%s\npriority=90\nactions=kill\n' \
	"$floor" "$common" "$BIN/mg-victim" >"$WORK/kill.conf"
printf '%s\n\n%s\n\n[actions]\nmax-frozen-seconds=1\n\n[rule:test-victim]\nexe=%s\npriority=90\nprefer-freeze=true\nactions=freeze\n' \
	"$floor" "$common" "$BIN/mg-victim" >"$WORK/freeze.conf"
printf '[pressure]\n%s\n\n%s\n' "$PSI_ONLY" "$common" >"$WORK/calm.conf"
for c in kill freeze calm; do
	"$MEMGUARDD" --check-config --config "$WORK/$c.conf" >/dev/null || fail "$c.conf rejected"
done

# The victim, with a parent of its own that reaps it the moment it dies (so
# that its PID is free at once): sets VICTIM.
start_victim() {
	rm -f "$WORK/victim.pid" "$WORK/victim.ready"
	(
		spawn "$MEMCG_V2" "$BIN/mg-victim" --mib 40 --seconds 120 --ready "$WORK/victim.ready"
		echo "$SPAWN_PID" >"$WORK/victim.pid"
		wait 2>/dev/null
	) &
	wait_until 10 test -e "$WORK/victim.ready" || fail "the victim did not start"
	VICTIM=$(cat "$WORK/victim.pid")
}

# A script that kills the victim, waits until its PID is free, and starts
# the newcomer on that PID (no other process in the namespace forks in
# between: memguardd never forks, and the test waits for this script).
cat >"$WORK/reuse.sh" <<EOF
#!/bin/bash
v=\$(cat "$WORK/victim.pid")
kill -KILL "\$v"
for i in \$(seq 1 500); do [ -e "/proc/\$v" ] || break; sleep 0.01; done
[ -e "/proc/\$v" ] && { echo "victim \$v was not reaped" >"$WORK/reuse.err"; exit 1; }
rm -f "$WORK/newcomer.ready"
echo \$((v - 1)) >/proc/sys/kernel/ns_last_pid
sh -c 'for d in "\$0" "\$1"; do [ -n "\$d" ] && echo \$\$ >"\$d/cgroup.procs"; done; shift; exec "\$@"' \\
	"$MEMCG_V2" "$MEMCG_V1" "$BIN/mg-newcomer" --seconds 120 --mib 1 --log "$WORK/newcomer.signals" \\
	--ready "$WORK/newcomer.ready" &
echo \$! >"$WORK/newcomer.pid"
for i in \$(seq 1 500); do [ -e "$WORK/newcomer.ready" ] && break; sleep 0.01; done
# Who holds the PID now (checked here, while memguardd may still be held by gdb).
[ "\$(readlink "/proc/\$v/exe")" = "$BIN/mg-newcomer" ] || echo "pid \$v is not the newcomer" >"$WORK/reuse.err"
exit 0
EOF
chmod +x "$WORK/reuse.sh"

# After the reuse: sets NEWCOMER, checks it holds the victim's PID, watches it.
newcomer_arrived() {
	[ -s "$WORK/reuse.err" ] && fail "$1: $(cat "$WORK/reuse.err")"
	NEWCOMER=$(cat "$WORK/newcomer.pid" 2>/dev/null)
	[ -n "$NEWCOMER" ] || fail "$1: the newcomer was not started"
	[ "$NEWCOMER" = "$VICTIM" ] || fail "$1: could not force PID reuse (victim $VICTIM, newcomer $NEWCOMER)"
	[ -e "$WORK/newcomer.ready" ] || fail "$1: the newcomer did not start"
	[ -s "$WORK/newcomer.signals" ] && fail "$1: the newcomer on the reused PID $NEWCOMER was signalled: $(cat "$WORK/newcomer.signals")"
	alive "$NEWCOMER" || fail "$1: the newcomer on the reused PID $NEWCOMER is gone"
	monitor_start "$NEWCOMER"
}

# The newcomer was never touched; then end it (it is the test's own).
newcomer_untouched() {
	monitor_stop
	[ -s "$WORK/newcomer.signals" ] && fail "$1: the newcomer on the reused PID $NEWCOMER was signalled: $(cat "$WORK/newcomer.signals")"
	ever_stopped "$NEWCOMER" && fail "$1: the newcomer on the reused PID $NEWCOMER was stopped"
	alive "$NEWCOMER" || fail "$1: the newcomer on the reused PID $NEWCOMER is gone"
	kill -KILL "$NEWCOMER"
	wait_until 5 eval '! alive $NEWCOMER' || fail "$1: cannot end the newcomer"
	rm -f "$WORK/newcomer.signals" "$WORK/newcomer.pid" "$WORK/reuse.err"
	echo "ok: $1: pid $NEWCOMER reused, the newcomer was never signalled"
}

# Rounds 1-2: stopped between the decision and the action.
gdb_round() {
	local name=$1 conf=$2 state=$WORK/state-gdb-$1 dpid
	LOG=$WORK/$name.log
	start_victim
	cat >"$WORK/gdb.cmd" <<EOF
set pagination off
set confirm off
tbreak actor_execute
run --config $WORK/$conf.conf --scope $MEMCG_SCOPE --state-dir $state -v 2>$LOG
info proc
shell $WORK/reuse.sh
detach
quit
EOF
	env -u DEBUGINFOD_URLS timeout 60 gdb -q -nx -batch -x "$WORK/gdb.cmd" "$MEMGUARDD" >"$WORK/gdb-$name.out" 2>&1
	dpid=$(grep -Eo '^process [0-9]+' "$WORK/gdb-$name.out" | awk '{print $2}')
	[ -n "$dpid" ] || fail "$name: gdb did not stop memguardd at actor_execute: $(tail -n 20 "$WORK/gdb-$name.out")"
	DAEMON_PID=$dpid # reparented to us (PID 1) once gdb is gone
	newcomer_arrived "$name"
	wait_for_log 'memguardd started' 10 || fail "$name: memguardd did not go on after gdb"
	sleep 1
}

if command -v gdb >/dev/null; then
	gdb_round kill kill
	wait_for_log "$(acted_re kill "$VICTIM")" 5 || fail "kill: memguard did not act on the chosen victim"
	wait_for_log "$(acted_re kill-result "$VICTIM").*; exited after TERM 0, killed 0, still present 0, " 10 ||
		fail "kill: the kill result is not 'nothing signalled': $(action_lines kill-result "$VICTIM")"
	kill -TERM "$DAEMON_PID"
	wait_until 10 eval '! alive $DAEMON_PID' || fail "kill: memguardd did not stop"
	DAEMON_PID=
	action_lines 'kill|kill-result' "$VICTIM" | sed 's/ action=.*//'
	newcomer_untouched "kill decided, victim gone and PID reused before the kill"

	gdb_round freeze freeze
	wait_for_log "$(acted_re freeze "$VICTIM")" 5 || fail "freeze: memguard did not act on the chosen victim"
	action_lines freeze "$VICTIM" | grep -q ' result=ok' && fail "freeze: reported frozen although the victim was gone"
	registry_pids "$WORK/state-gdb-freeze/frozen.json" | grep -qx "$VICTIM" && fail "freeze: the gone victim is in the registry"
	kill -TERM "$DAEMON_PID"
	wait_until 10 eval '! alive $DAEMON_PID' || fail "freeze: memguardd did not stop"
	DAEMON_PID=
	action_lines freeze "$VICTIM" | sed 's/ action=.*//'
	newcomer_untouched "freeze decided, victim gone and PID reused before the freeze"
else
	echo "SKIP (rounds 1-2): gdb is not installed, cannot stop memguardd between deciding and acting"
fi

# Rounds 3-6: frozen for real, then the PID is reused before the thaw.
registry_round() {
	local name=$1 state=$WORK/state-$1 s
	LOG=$WORK/$name.log
	start_victim
	start_daemon --config "$WORK/freeze.conf" --scope "$MEMCG_SCOPE" --state-dir "$state" -v
	wait_for_log "$(acted_re freeze "$VICTIM").* result=ok" 10 || fail "$name: the victim was not frozen"
	wait_until 2 eval '[ "$(proc_state $VICTIM)" = T ]' || fail "$name: the victim is not stopped"
	registry_pids "$state/frozen.json" | grep -qx "$VICTIM" || fail "$name: the victim is not in the registry"
	"$WORK/reuse.sh"
	newcomer_arrived "$name"
	case $name in
	expiry)
		wait_for_log "$(acted_re thaw "$VICTIM").*frozen for longer than max-frozen-seconds" 30 ||
			fail "expiry: no thaw of the victim's registry entry after max-frozen-seconds"
		sleep 0.5
		kill_daemon TERM
		;;
	sigterm)
		kill_daemon TERM
		[ "$DAEMON_RC" = 0 ] || fail "sigterm: memguardd exited $DAEMON_RC"
		grep -q 'thawed 1 frozen app(s)' "$LOG" || fail "sigterm: memguardd did not go through the victim's entry"
		;;
	crash)
		kill_daemon KILL
		s=$("$MEMGUARDD" --thaw-all --state-dir "$state" 2>&1) || fail "crash: --thaw-all failed: $s"
		echo "  --thaw-all: $s"
		;;
	restart)
		kill_daemon KILL
		LOG=$WORK/$name-2.log
		start_daemon --config "$WORK/calm.conf" --scope "$MEMCG_SCOPE" --state-dir "$state" -v
		grep -q 'thawed 1 app(s) a previous run left frozen' "$LOG" || fail "restart: the registry entry was not handled at startup"
		kill_daemon TERM
		;;
	esac
	[ -z "$(registry_pids "$state/frozen.json")" ] || fail "$name: registry not empty: $(cat "$state/frozen.json")"
	newcomer_untouched "frozen, victim gone and PID reused, then thawed by $name"
}

for r in expiry sigterm crash restart; do
	registry_round "$r"
done
echo "ok: no reused PID was ever signalled"
