#!/bin/bash
# SPDX-License-Identifier: MIT
# The D-Bus API of the REAL memguardd (issue 5), as root on a private system
# bus with the project's bus policy and a real polkitd with the project's
# .policy (TESTING.md, "D-Bus and polkit"). test-bus.sh covers the same API
# against a stand-in server that only logs; here every call reaches the real
# daemon, and actions are real.
#
# Part 1, memguardd --system --dry-run --scope <test cgroup>, under real
# memory pressure in that cgroup (TESTING.md, "Real memory pressure, safely"):
# PressureLevelChanged and PropertiesChanged arrive, PressureLevel matches the
# daemon's log and event log, and a GLib GMemoryMonitor run by an unprivileged
# user hears low-memory-warning.
#
# Part 2, memguardd --system --scope <test cgroup> (acting for real):
#   - introspection matches dbus/*.xml;
#   - root and a throwaway user call every method: allowed calls act for real
#     (Freeze -> SIGSTOP or cgroup.freeze, Thaw, Kill, Protect -> protected in
#     ListCandidates and spared, SetForeground -> Foreground, shielding that
#     app and no other, Reload, also into a dry run), with ProcessFrozen/
#     ProcessThawed/ProcessKilled and PropertiesChanged; denied calls change
#     nothing (target not stopped/alive, no action in the log or events.jsonl,
#     ListCandidates and Foreground as before);
#   - bogus targets (0, 1, -1, 2^31, a kernel thread, memguardd, the bus
#     daemon, polkitd, an unused PID, a process outside the scope, another
#     user's process) are refused with named errors and no action;
#   - a flood of 40000 calls: GetStatus still answered, RSS bounded;
#   - the bus daemon killed and a new one started at the same address:
#     memguardd is back (time measured), polkit and the never-target list work
#     again; on SIGTERM it thaws what it froze.
#
# Checks whose failure leaves the rest meaningful are collected (bug()) and
# fail the test at the end, so that one run shows every failure.
#
# Both daemons run with a configuration that scores pressure from the test
# cgroup's PSI only (no machine-wide swap signal, no MemAvailable floor): in
# --scope mode those two come from the whole machine, where other people's
# workloads would otherwise move the level and make the acting daemon evict
# the test's processes on its own.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (system mode, throwaway user, polkit actions and rules, cgroups)"
: "${MEMGUARDCTL:?}" "${BUS_CLIENT:?}" "${LOWMEM_LISTENER:?}" "${BUS_POLICY:?}" "${POLKIT_POLICY:?}"
: "${MANAGER_XML:?}" "${LOWMEM_XML:?}" "${MG_HOG:?}" "${MG_READER:?}"
for tool in dbus-daemon dbus-send dbus-monitor busctl python3 useradd userdel runuser; do
	command -v "$tool" >/dev/null || skip "$tool is missing (tools/install-deps --tests)"
done
[ -x "${POLKITD:-/usr/lib/polkit-1/polkitd}" ] || skip "polkitd is missing (apt-get install polkitd)"
why=$(memcg_supported) || skip "$why"

# shellcheck source=../helpers/bus-env.sh
. "$HELPERS_DIR/bus-env.sh"

T_START=$(date +%s)
# /var/tmp: mg-reader needs a real file system for O_DIRECT.
WORK=$(mktemp -d /var/tmp/memguard-test-busd.XXXXXX)
chmod 755 "$WORK"
LOG=$WORK/daemon.log # lib.sh's fail() shows its tail
MON=$WORK/monitor.out
CONF=$WORK/memguard.conf
STATE=
TEST_USER=memguard-t$$
DAEMON_PID=
MON_PID=
STARTED=()   # every background process started here, stopped by PID at the end
APP_CGS=()   # .scope sub-cgroups of the test cgroup (part 2)
BUGS=()      # failed checks that let the rest run: reported, and the test fails, at the end
MONITOR_PY=$(dirname "$0")/busd-monitor.py
E=org.memguard.Error

# stop PID...: SIGTERM, SIGKILL after 2 s.
stop() {
	local p i
	for p in "$@"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "$@"; do
		for ((i = 0; i < 40; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# forget PID...: no longer ours to stop (exited and reaped, its PID may be reused).
forget() {
	local p q keep=()
	for q in "${STARTED[@]}"; do
		for p in "$@"; do [ "$q" = "$p" ] && continue 2; done
		keep+=("$q")
	done
	STARTED=("${keep[@]}")
}

cleanup() {
	[ -n "$DAEMON_PID" ] && stop "$DAEMON_PID"
	[ -n "$MON_PID" ] && stop "$MON_PID"
	[ "${#STARTED[@]}" -gt 0 ] && stop "${STARTED[@]}"
	for cg in "${APP_CGS[@]}"; do
		[ -d "$cg" ] || continue
		echo 0 >"$cg/cgroup.freeze" 2>/dev/null
		echo 1 >"$cg/cgroup.kill" 2>/dev/null
		for _ in $(seq 1 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
	done
	memcg_destroy
	busenv_teardown
	id "$TEST_USER" >/dev/null 2>&1 && userdel -f "$TEST_USER" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { echo "ok: $*"; }
# bug MESSAGE: a check failed that does not stop the rest of the test from
# meaning something; the test goes on and fails at the end.
bug() {
	echo "FAIL (reported at the end): $*" >&2
	BUGS+=("$*")
}

# call / ucall METHOD ARGS...: bus-client as root / as the throwaway user; its one-line answer.
call() { timeout 20 "$BUS_CLIENT" call "$@" 2>&1 | tail -n 1; }
ucall() { timeout 20 runuser -u "$TEST_USER" -- "$BUS_CLIENT" call "$@" 2>&1 | tail -n 1; }
ctl() { timeout 20 "$MEMGUARDCTL" --system "$@" </dev/null; }
uctl() { timeout 20 runuser -u "$TEST_USER" -- "$MEMGUARDCTL" --system "$@" </dev/null; }
prop() { busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" get-property org.memguard /org/memguard org.memguard.Manager "$1"; }

# The state letter of /proc/PID/stat, "gone" when it has exited (zombie or reaped).
pstate() {
	local s
	s=$(sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || { echo gone; return; }
	case $s in Z | X | "") echo gone ;; *) echo "$s" ;; esac
}
# wait_state PID WANT SECONDS: WANT is T, gone, or "running" (anything but T and gone).
wait_state() {
	local i s
	for ((i = 0; i < $3 * 20; i++)); do
		s=$(pstate "$1")
		case $2 in
		running) [ "$s" != T ] && [ "$s" != gone ] && return 0 ;;
		*) [ "$s" = "$2" ] && return 0 ;;
		esac
		sleep 0.05
	done
	return 1
}

# Everything memguardd did to a process: its action lines in the log and its
# JSON events (level changes left out), as one string to compare.
trace() {
	local a b
	a=$(grep ' action=' "$LOG" 2>/dev/null | grep -vc ' action=level ')
	b=$(grep -vc '"action":"level"' "$STATE/events.jsonl" 2>/dev/null)
	echo "log=${a:-0} events=${b:-0}"
}

# expect WANT DESCRIPTION -- COMMAND...: WANT is OK or an error name. A refused
# call must leave no trace: no action logged, no event written.
expect() {
	local want=$1 desc=$2 out before after
	shift 3
	before=$(trace)
	out=$("$@")
	if [ "$want" = OK ]; then
		[[ $out == OK* ]] || fail "$desc: expected success, got: $out"
	else
		[[ $out == "ERROR $want:"* ]] || fail "$desc: expected $want, got: $out"
		sleep 0.1 # anything it might wrongly have started would show by now
		after=$(trace)
		[ "$after" = "$before" ] ||
			fail "$desc: refused, yet memguardd acted ($before -> $after): $(grep ' action=' "$LOG" | tail -n 1)"
	fi
	pass "$desc -> ${out%%:*}"
}

# candidates FILE: ListCandidates (memguardctl, JSON) as "pid protected foreground"
# lines, by pid; processes that have exited (a zombie not reaped yet) left out.
candidates() {
	local pid rest
	ctl candidates --json >"$WORK/cand.json" || fail "memguardctl candidates"
	python3 - "$WORK/cand.json" >"$WORK/cand.txt" <<'PY' || fail "memguardctl candidates: bad JSON"
import json, sys
for c in sorted(json.load(open(sys.argv[1])), key=lambda c: c["pid"]):
    print(c["pid"], "protected" if c["protected"] else "-", "foreground" if "(foreground" in c["reason"] else "-")
PY
	while read -r pid rest; do
		[ "$(pstate "$pid")" = gone ] || echo "$pid $rest"
	done <"$WORK/cand.txt" >"$1"
}
# shielded FILE: the pids that candidates() saw as foreground.
shielded() { awk '$3 == "foreground" { printf "%s ", $1 }' "$1"; }

# mon: the signals seen so far, one line each (busd-monitor.py).
mon() { python3 "$MONITOR_PY" "$MON"; }
# wait_mon REGEX SECONDS
wait_mon() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		mon | grep -Eq -- "$1" && return 0
		sleep 0.2
	done
	return 1
}
start_monitor() {
	: >"$MON"
	dbus-monitor --system "type='signal',path='/org/memguard'" \
		"type='signal',interface='org.freedesktop.LowMemoryMonitor'" >"$MON" 2>"$WORK/monitor.err" &
	MON_PID=$!
	wait_file "$MON" 'member=NameAcquired' 5 || fail "dbus-monitor did not start"
	sleep 0.3 # its match rules follow the Hello
}
stop_monitor() { [ -n "$MON_PID" ] && stop "$MON_PID"; MON_PID=; }

# wait_file FILE REGEX SECONDS
wait_file() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# start_memguardd ARGS...: the real daemon on the private system bus, polled until it owns its name.
start_memguardd() {
	start_daemon --system --config "$CONF" --scope "$MEMCG_SCOPE" --state-dir "$STATE" "$@"
	busenv_wait_name org.memguard 10 || fail "memguardd did not take org.memguard"
	busenv_wait_name org.freedesktop.LowMemoryMonitor 5 || fail "memguardd did not take org.freedesktop.LowMemoryMonitor"
}

# spawn_root CMD...: CMD in the test cgroup as root; its PID in $PID, once it is
# in the cgroups (memcg_spawn's child moves itself there in the background).
spawn_root() {
	local i
	memcg_spawn "$@"
	PID=$MEMCG_PID
	STARTED+=("$PID")
	for ((i = 0; i < 100; i++)); do
		grep -qx "$PID" "$MEMCG_V2/cgroup.procs" &&
			{ [ -z "$MEMCG_V1" ] || grep -qx "$PID" "$MEMCG_V1/cgroup.procs"; } && return 0
		sleep 0.02
	done
	fail "process $PID did not move into the test cgroups"
}
# spawn_user: a `sleep` of the throwaway user in the test cgroup (started with
# runuser, detached from it: runuser stops itself when its child is stopped);
# its PID in $PID.
spawn_user() {
	memcg_spawn runuser -u "$TEST_USER" -- sh -c 'sleep 600 </dev/null >/dev/null 2>&1 & echo $!' >"$WORK/upid"
	wait "$MEMCG_PID"
	read -r PID <"$WORK/upid"
	[ -n "$PID" ] || fail "cannot start a process as $TEST_USER"
	STARTED+=("$PID")
	[ "$(stat -c %u "/proc/$PID")" = "$TEST_UID" ] || fail "process $PID does not belong to $TEST_USER"
}
# in_unit PID NAME: move PID into a new sub-cgroup NAME (a unit: *.scope) of the test cgroup.
in_unit() {
	local cg=$MEMCG_V2/$2
	APP_CGS+=("$cg")
	mkdir "$cg" || fail "cannot make $cg"
	echo "$1" >"$cg/cgroup.procs" || fail "cannot move $1 into $cg"
}
# alive PID: running or sleeping, neither stopped nor gone.
alive() { case $(pstate "$1") in T | gone) return 1 ;; esac; }

# ---------------------------------------------------------------- setup
cat >"$CONF" <<'EOF'
# The test cgroup's PSI only: see the top of test-bus-daemon.sh.
[pressure]
weight-swap=0
weight-swap-io=0
weight-gpu=0
memavailable-critical-percent=0
memavailable-emergency-percent=0

[levels]
calm-seconds=2
EOF
"$MEMGUARDD" --check-config --config "$CONF" >/dev/null || fail "the test configuration is invalid"

useradd -M -N -s /usr/sbin/nologin "$TEST_USER" || fail "useradd $TEST_USER"
TEST_UID=$(id -u "$TEST_USER")

busenv_setup || fail "bus setup"
busenv_start_bus || fail "dbus-daemon refused the configuration with $BUS_POLICY"
busenv_install_polkit || fail "cannot install the .policy"
# The throwaway user has no session (no logind here), so polkit's defaults say
# no to it even for its own processes; this rule stands in for "the active local
# session" (allow_active=yes for manage-own) so that a non-root "yes" comes from
# polkitd. Everything else keeps the .policy's defaults: auth_admin without an
# agent, which is a no.
busenv_add_polkit_rule "polkit.addRule(function(action, subject) {
	if (action.id == 'org.memguard.manage-own' && subject.user == '$TEST_USER')
		return polkit.Result.YES;
});" || fail "cannot add the polkit rule"
busenv_start_polkit || fail "polkitd did not start"

memcg_create "memguard-test-busd-$$" 256 || fail "cannot create the test cgroups"
echo "test cgroup $MEMCG_SCOPE (v1 memory: ${MEMCG_V1:-none}), user $TEST_USER ($TEST_UID), bus $DBUS_SYSTEM_BUS_ADDRESS"

# ================================================================ part 1: pressure, dry run
STATE=$WORK/state-dry
start_memguardd --dry-run
start_monitor
out=$(call GetStatus)
[[ $out == *" mode=system "* && $out == *" dry_run=true "* ]] || fail "GetStatus of the dry run: $out"
[ "$(prop DryRun)" = "b true" ] || fail "DryRun property: $(prop DryRun)"

# What an application sees, as an unprivileged user: GLib's GMemoryMonitor.
runuser -u "$TEST_USER" -- env GIO_USE_MEMORY_MONITOR=dbus "$LOWMEM_LISTENER" 75 >"$WORK/listener.out" 2>&1 &
LISTENER=$!
STARTED+=("$LISTENER")
wait_file "$WORK/listener.out" '^ready' 10 || { cat "$WORK/listener.out"; fail "GMemoryMonitor listener not ready"; }
grep -q '^monitor GMemoryMonitorDBus' "$WORK/listener.out" ||
	{ cat "$WORK/listener.out"; fail "GLib did not pick its D-Bus memory monitor"; }

# Real pressure (TESTING.md): four readers re-reading 120 MiB each and a hog
# growing to 180 MiB in the 256 MiB limit.
oom_before=$(memcg_oom_kills)
WORKLOAD=()
for i in 1 2 3 4; do
	spawn_root "$MG_READER" --file "$WORK/ws$i" --size-mib 120 --seconds 60 >>"$WORK/workload.log" 2>&1
	WORKLOAD+=("$PID")
done
spawn_root "$MG_HOG" --rate-mib 20 --max-mib 180 --seconds 60 >>"$WORK/workload.log" 2>&1
WORKLOAD+=("$PID")
t0=$(date +%s)
wait_for_log 'pressure rising' 60 || fail "no level change within 60 s of real pressure"
echo "level rose $(($(date +%s) - t0)) s into the pressure: $(grep -m1 'pressure rising' "$LOG" | grep -Eo 'level=[a-z]+ previous=[a-z]+ score=[0-9.]+')"
wait_mon '^PressureLevelChanged (elevated|high|critical|emergency) ' 5 || { mon; fail "no PressureLevelChanged"; }
wait_mon '^PropertiesChanged .*PressureLevel=(elevated|high|critical|emergency)' 5 ||
	{ mon; fail "no PropertiesChanged carrying the raised PressureLevel"; }
# GMemoryMonitor: LowMemoryWarning on the way up reaches the app as low-memory-warning.
for ((i = 0; i < 200; i++)); do kill -0 "$LISTENER" 2>/dev/null || break; sleep 0.1; done
wait "$LISTENER"
rc=$?
forget "$LISTENER"
grep -Eq '^low-memory-warning (50|100|255)$' "$WORK/listener.out" ||
	{ cat "$WORK/listener.out"; mon | grep LowMemory; fail "GMemoryMonitor heard no low-memory-warning (rc $rc)"; }
mon | grep -q '^LowMemoryWarning ' || fail "no LowMemoryWarning on the bus"
pass "GMemoryMonitor (as $TEST_USER): $(grep '^low-memory-warning' "$WORK/listener.out"), bus: $(mon | grep -m1 '^LowMemoryWarning')"
sleep 3 # let the level move on if it will
stop "${WORKLOAD[@]}"
forget "${WORKLOAD[@]}"
oom_after=$(memcg_oom_kills)
# Back to normal: the last level change in the log says so (it may have dipped before).
for ((i = 0; i < 400; i++)); do
	grep -E 'pressure (rising|falling) ' "$LOG" | tail -n 1 | grep -q ' level=normal ' && break
	sleep 0.1
done
[ "$i" -lt 400 ] || fail "the level did not return to normal within 40 s after the pressure"
sleep 0.5 # the last PropertiesChanged is coalesced (250 ms)
[ "$oom_after" = "$oom_before" ] || fail "OOM kills in the test cgroup: $oom_before -> $oom_after"

# The level the bus reported, against the daemon's log and its event log.
grep -Eo 'pressure (rising|falling) level=[a-z]+ previous=[a-z]+' "$LOG" | awk '{ sub("level=", "", $3); sub("previous=", "", $4); print $3, $4 }' >"$WORK/levels.log"
mon | awk '$1 == "PressureLevelChanged" { print $2, $3 }' >"$WORK/levels.bus"
python3 - "$STATE/events.jsonl" >"$WORK/levels.events" <<'PY'
import json, sys
names = ["normal", "elevated", "high", "critical", "emergency"]
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["action"] == "level":
        print(names[int(e["figures"]["level"])], names[int(e["figures"]["previous"])])
PY
diff -u "$WORK/levels.log" "$WORK/levels.bus" || fail "PressureLevelChanged signals differ from the level changes in the log"
diff -u "$WORK/levels.log" "$WORK/levels.events" || fail "events.jsonl level changes differ from the log"
# PropertiesChanged is coalesced (at most one per 250 ms): its PressureLevel values
# must follow the log's sequence of levels, possibly skipping some, and end where it ends.
mon | sed -n 's/^PropertiesChanged .*PressureLevel=\([a-z]*\).*/\1/p' >"$WORK/levels.props"
python3 - "$WORK/levels.log" "$WORK/levels.props" <<'PY' || fail "PropertiesChanged PressureLevel values do not follow the log"
import sys
log = ["normal"] + [l.split()[0] for l in open(sys.argv[1]) if l.strip()]
props = [l.strip() for l in open(sys.argv[2]) if l.strip()]
i = 0
for p in props:
    while i < len(log) and log[i] != p:
        i += 1
    assert i < len(log), "PressureLevel=%s out of order (log: %s, properties: %s)" % (p, log, props)
assert props and props[-1] == log[-1], "last PressureLevel %s, log ends at %s" % (props[-1:], log[-1])
assert any(p != "normal" for p in props), props
PY
[ "$(prop PressureLevel)" = 's "normal"' ] || fail "PressureLevel property after the pressure: $(prop PressureLevel)"
[[ $(call GetStatus) == *" level=normal "* ]] || fail "GetStatus level after the pressure"
# A dry run acts on nothing: no Process* signal, whatever it planned.
mon | grep -q '^Process' && { mon | grep '^Process'; fail "a dry run emitted process signals"; }
pass "levels: log $(tr '\n' ' ' <"$WORK/levels.log")= PressureLevelChanged = events.jsonl; PropertiesChanged PressureLevel: $(tr '\n' ' ' <"$WORK/levels.props")"
echo "OOM kills in the test cgroup during the pressure: $((oom_after - oom_before))"

stop_monitor
stop_daemon || fail "memguardd (dry run) did not exit cleanly"
DAEMON_PID=
busenv_wait_name org.memguard 5 gone || fail "org.memguard not released"
echo 1 >"$MEMCG_V2/cgroup.kill" 2>/dev/null # anything left of the workload
echo "part 1 took $(($(date +%s) - T_START)) s"

# ================================================================ part 2: the acting daemon
STATE=$WORK/state
# Targets in the test cgroup: root's R1 (freeze/thaw/kill), R2 (protect,
# foreground, the user's attempts), R3 (in an app unit, app id
# org.example.Victim: cgroup.freeze), R4 (Reload into a dry run); the user's
# U1 (its own freeze/thaw/foreground), U2 (its own kill), U3 (in a unit of its
# own: foreground by app id).
spawn_root sleep 600; R1=$PID
spawn_root sleep 600; R2=$PID
spawn_root sleep 600; R3=$PID
spawn_root sleep 600; R4=$PID
in_unit "$R3" "app-org.example.Victim-$$.scope"
APP_CG=$MEMCG_V2/app-org.example.Victim-$$.scope
# FG: root's, in a .scope of its own, to hold the foreground shield once SetForeground is tested.
spawn_root sleep 600; FG=$PID
in_unit "$FG" mg-test-fg.scope
spawn_user; U1=$PID
spawn_user; U2=$PID
spawn_user; U3=$PID
in_unit "$U3" mg-test-user.scope
# Not in the test cgroup: root's OUT, and the throwaway user's OUT_U.
sleep 600 &
OUT=$!
STARTED+=("$OUT")
runuser -u "$TEST_USER" -- sh -c 'sleep 600 </dev/null >/dev/null 2>&1 & echo $!' >"$WORK/upid"
read -r OUT_U <"$WORK/upid"
STARTED+=("$OUT_U")

start_memguardd
start_monitor
[[ $(call GetStatus) == *" mode=system dry_run=false "* ]] || fail "GetStatus: $(call GetStatus)"

# ---------------------------------------------------------------- introspection
busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" introspect --xml-interface org.memguard /org/memguard \
	>"$WORK/exported.xml" || fail "cannot introspect /org/memguard"
python3 "$(dirname "$0")/introspect-diff.py" org.memguard.Manager "$MANAGER_XML" "$WORK/exported.xml" ||
	fail "memguardd's interface differs from $MANAGER_XML"
busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" introspect --xml-interface org.freedesktop.LowMemoryMonitor \
	/org/freedesktop/LowMemoryMonitor >"$WORK/lowmem.xml" || fail "cannot introspect LowMemoryMonitor"
python3 "$(dirname "$0")/introspect-diff.py" org.freedesktop.LowMemoryMonitor "$LOWMEM_XML" "$WORK/lowmem.xml" ||
	fail "memguardd's LowMemoryMonitor differs from $LOWMEM_XML"
pass "introspection of the running memguardd matches dbus/*.xml"

# ---------------------------------------------------------------- root: allowed, and acting for real
expect OK "root GetStatus" -- call GetStatus
out=$(timeout 20 "$BUS_CLIENT" call ListCandidates)
for p in "$R1" "$R2" "$R3"; do
	grep -q "^candidate pid=$p uid=0 " <<<"$out" || { echo "$out"; fail "root's ListCandidates lacks $p"; }
done
grep -q "^candidate pid=$U1 uid=$TEST_UID " <<<"$out" || { echo "$out"; fail "root's ListCandidates lacks the user's $U1"; }
grep -q "^candidate pid=$OUT " <<<"$out" && fail "ListCandidates shows a process outside the scope"
pass "root ListCandidates: every user's processes in the scope, none outside"
expect OK "root RegisterAgent" -- call RegisterAgent
expect $E.UnknownWarning "root RespondToWarning (no such warning)" -- call RespondToWarning 999999 allow
n=$(grep -c 'configuration reloaded' "$LOG")
expect OK "root Reload" -- call Reload
[ "$(grep -c 'configuration reloaded' "$LOG")" -gt "$n" ] || fail "Reload answered OK but nothing was reloaded"
# Reload into a dry run ([daemon] dry-run=true): DryRun turns true, and from then
# on memguard "decides and logs but never acts" (the contract's DryRun).
cp "$CONF" "$WORK/conf.saved"
printf '\n[daemon]\ndry-run=true\n' >>"$CONF"
expect OK "root Reload (dry-run=true)" -- call Reload
[ "$(prop DryRun)" = "b true" ] || fail "DryRun after reloading dry-run=true: $(prop DryRun)"
wait_mon '^PropertiesChanged .*DryRun=true' 3 || { mon; fail "no PropertiesChanged for DryRun"; }
expect OK "root Freeze $R4 in the reloaded dry run" -- call Freeze "$R4"
sleep 0.5
if [ "$(pstate "$R4")" = T ] || ! grep -q "action=freeze pid=$R4 .*dry_run=yes" "$LOG"; then
	bug "after Reload with dry-run=true (DryRun=$(prop DryRun | cut -d' ' -f2)), Freeze really stopped $R4 (state $(pstate "$R4")): $(grep "action=freeze pid=$R4 " "$LOG" | grep -o 'reason=.*')"
fi
cp "$WORK/conf.saved" "$CONF"
expect OK "root Reload (dry run off again)" -- call Reload
[ "$(prop DryRun)" = "b false" ] || fail "DryRun after reloading without dry-run: $(prop DryRun)"
if [ "$(pstate "$R4")" = T ]; then
	call Thaw "$R4" >/dev/null
	wait_state "$R4" running 3 || fail "cannot thaw $R4"
fi

# Freeze -> stopped, ProcessFrozen, FrozenProcesses, log and event.
expect OK "root Freeze $R1" -- call Freeze "$R1"
wait_state "$R1" T 3 || fail "Freeze: $R1 is '$(pstate "$R1")', not stopped"
wait_mon "^ProcessFrozen $R1 0 asked over D-Bus by uid 0" 3 || { mon; fail "no ProcessFrozen for $R1"; }
wait_mon "^PropertiesChanged .*FrozenProcesses=([0-9,]*,)?$R1(,|$| )" 3 || { mon; fail "FrozenProcesses did not show $R1"; }
grep -q "action=freeze pid=$R1 .*result=ok" "$LOG" || fail "no action=freeze line for $R1"
grep -q "\"action\":\"freeze\",\"target\":{\"pid\":$R1," "$STATE/events.jsonl" || fail "no freeze event for $R1"
[[ $(call GetStatus) == *" frozen_count=1 "* ]] || fail "GetStatus frozen_count after one freeze: $(call GetStatus)"
prop FrozenProcesses | grep -q "^a(usutt) 1 $R1 " || fail "FrozenProcesses: $(prop FrozenProcesses)"
expect OK "root Freeze $R1 again (already frozen)" -- call Freeze "$R1"
expect OK "root Thaw $R1" -- call Thaw "$R1"
wait_state "$R1" running 3 || fail "Thaw: $R1 is '$(pstate "$R1")'"
wait_mon "^ProcessThawed $R1 0 " 3 || { mon; fail "no ProcessThawed for $R1"; }
expect $E.Failed "root Thaw $R1 again (not frozen)" -- call Thaw "$R1"
expect OK "root Kill $R1" -- call Kill "$R1"
wait_state "$R1" gone 8 || fail "Kill: $R1 is still '$(pstate "$R1")'"
wait "$R1" 2>/dev/null # reap it (a child of this shell)
forget "$R1"
wait_mon "^ProcessKilled $R1 0 " 8 || { mon; fail "no ProcessKilled for $R1"; }
grep -q "action=kill-result pid=$R1 .*result=ok" "$LOG" || fail "no kill-result for $R1"
expect $E.NoSuchProcess "root Kill $R1 again (gone)" -- call Kill "$R1"
pass "Freeze/Thaw/Kill of $R1: SIGSTOP'd, running again, gone; ProcessFrozen/Thawed/Killed"

# An app in a .scope unit is frozen with cgroup.freeze.
expect OK "root Freeze $R3 (a .scope unit)" -- call Freeze "$R3"
wait_file "$APP_CG/cgroup.events" '^frozen 1$' 3 || fail "Freeze: $APP_CG not frozen ($(pstate "$R3"))"
wait_mon "^ProcessFrozen $R3 0 " 3 || { mon; fail "no ProcessFrozen for $R3"; }
grep -q "action=freeze pid=$R3 .*cgroup.freeze" "$LOG" || fail "$R3 not frozen through cgroup.freeze"
expect OK "root Thaw $R3" -- call Thaw "$R3"
wait_file "$APP_CG/cgroup.events" '^frozen 0$' 3 || fail "Thaw: $APP_CG still frozen"
wait_mon "^ProcessThawed $R3 0 " 3 || { mon; fail "no ProcessThawed for $R3"; }
pass "Freeze/Thaw of a .scope app through cgroup.freeze"

# Another user's process: root may.
expect OK "root Freeze the user's $U1" -- call Freeze "$U1"
wait_state "$U1" T 3 || fail "root's Freeze of $U1: '$(pstate "$U1")'"
wait_mon "^ProcessFrozen $U1 $TEST_UID " 3 || { mon; fail "no ProcessFrozen for $U1"; }
expect OK "root Thaw the user's $U1" -- call Thaw "$U1"
wait_state "$U1" running 3 || fail "root's Thaw of $U1: '$(pstate "$U1")'"

# Protect -> protected in ListCandidates, and spared; then unprotect.
candidates "$WORK/cand0"
grep -q "^$R2 - " "$WORK/cand0" || { cat "$WORK/cand0"; fail "$R2 protected before Protect"; }
expect OK "root Protect $R2" -- call Protect "$R2" true
candidates "$WORK/cand1"
grep -q "^$R2 protected " "$WORK/cand1" || { cat "$WORK/cand1"; fail "Protect: $R2 not protected=true in ListCandidates"; }
[ "$(grep -vc " protected " "$WORK/cand1")" = "$(($(wc -l <"$WORK/cand1") - 1))" ] ||
	{ cat "$WORK/cand1"; fail "Protect of $R2 protected other apps too"; }
expect $E.NeverTarget "root Freeze the protected $R2" -- call Freeze "$R2"
expect $E.NeverTarget "root Kill the protected $R2" -- call Kill "$R2"
alive "$R2" || fail "the protected $R2 is '$(pstate "$R2")'"
expect OK "root Unprotect $R2" -- call Protect "$R2" false
candidates "$WORK/cand2"
diff "$WORK/cand0" "$WORK/cand2" >/dev/null || { diff -u "$WORK/cand0" "$WORK/cand2"; fail "Unprotect did not restore ListCandidates"; }
pass "Protect: $R2 protected=true in ListCandidates and spared (NeverTarget); back as before after unprotect"

# SetForeground of root's own process -> Foreground. Only R2's app may be
# shielded: R2 is an app of its own (a process in a cgroup that is no unit),
# like a program started from a terminal in a session-N.scope.
expect OK "root SetForeground $R2" -- call SetForeground "$R2" org.example.Root
fg=$(prop Foreground)
# (the cgroup: R2's own, or none, as R2's cgroup is no app unit of its own)
[[ $fg == "(uss) $R2 \"org.example.Root\" \"$MEMCG_SCOPE\"" || $fg == "(uss) $R2 \"org.example.Root\" \"\"" ]] ||
	fail "Foreground after SetForeground: $fg"
wait_mon "^PropertiesChanged .*Foreground=$R2,org.example.Root" 3 || { mon; fail "no PropertiesChanged for Foreground"; }
candidates "$WORK/cand3"
grep -q "^$R2 .* foreground$" "$WORK/cand3" || { cat "$WORK/cand3"; fail "SetForeground: $R2 not shielded"; }
[ "$(shielded "$WORK/cand3")" = "$R2 " ] ||
	bug "root's SetForeground($R2) shielded every app in its cgroup $MEMCG_SCOPE and below: $(shielded "$WORK/cand3")(want only $R2)"
expect $E.NotAuthorized "root SetForeground the user's $U1 (not root's own)" -- call SetForeground "$U1" org.example.App
[ "$(prop Foreground)" = "$fg" ] || fail "a refused SetForeground moved the foreground: $(prop Foreground)"
pass "SetForeground: $fg"

# ---------------------------------------------------------------- the throwaway user
expect OK "user GetStatus" -- ucall GetStatus
runuser -u "$TEST_USER" -- busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" get-property org.memguard /org/memguard \
	org.memguard.Manager Mode | grep -qx 's "system"' || fail "a user cannot read the Mode property"
runuser -u "$TEST_USER" -- busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" introspect --xml-interface org.memguard \
	/org/memguard >/dev/null || fail "a user cannot introspect memguardd"
out=$(timeout 20 runuser -u "$TEST_USER" -- "$BUS_CLIENT" call ListCandidates)
grep -q "^candidate pid=$U1 uid=$TEST_UID " <<<"$out" || { echo "$out"; fail "user's ListCandidates lacks its $U1"; }
grep -q "^candidate pid=[0-9]* uid=0 " <<<"$out" && { echo "$out"; fail "user's ListCandidates shows root's processes"; }
pass "user ListCandidates: only its own processes"
expect OK "user RegisterAgent" -- ucall RegisterAgent
expect $E.UnknownWarning "user RespondToWarning (no such warning)" -- ucall RespondToWarning 999999 allow
expect $E.InvalidArgument "user RespondToWarning (bad response)" -- ucall RespondToWarning 1 maybe

# Its own processes: yes (manage-own).
expect OK "user Freeze own $U1" -- ucall Freeze "$U1"
wait_state "$U1" T 3 || fail "user's Freeze of $U1: '$(pstate "$U1")'"
wait_mon "^ProcessFrozen $U1 $TEST_UID asked over D-Bus by uid $TEST_UID" 3 || { mon; fail "no ProcessFrozen for the user's freeze"; }
expect OK "user Thaw own $U1" -- ucall Thaw "$U1"
wait_state "$U1" running 3 || fail "user's Thaw of $U1: '$(pstate "$U1")'"
expect OK "user SetForeground own $U1" -- ucall SetForeground "$U1" org.example.App
fg=$(prop Foreground)
[[ $fg == "(uss) $U1 \"org.example.App\" "* ]] || fail "Foreground after the user's SetForeground: $fg"
wait_mon "^PropertiesChanged .*Foreground=$U1,org.example.App" 3 || { mon; fail "no PropertiesChanged for the user's Foreground"; }
# The user may shield its own app, and nothing else: not root's R2, R3 or FG.
candidates "$WORK/cand4"
grep -q "^$U1 .* foreground$" "$WORK/cand4" || { cat "$WORK/cand4"; fail "the user's SetForeground: $U1 not shielded"; }
[ "$(shielded "$WORK/cand4")" = "$U1 " ] ||
	bug "the user's SetForeground($U1) of its own process shielded other apps, root's among them: $(shielded "$WORK/cand4")(want only $U1)"
expect OK "user Kill own $U2" -- ucall Kill "$U2"
wait_state "$U2" gone 8 || fail "user's Kill of $U2: still '$(pstate "$U2")'"
forget "$U2"
wait_mon "^ProcessKilled $U2 $TEST_UID " 8 || { mon; fail "no ProcessKilled for $U2"; }
pass "user Freeze/Thaw/SetForeground/Kill on its own processes: done for real"

# U3 is in a unit of its own: its cgroup shields only it. The app id a caller
# passes must not reach other users' apps either (R3's unit has app id org.example.Victim).
expect OK "user SetForeground own $U3 (app id org.example.Victim)" -- ucall SetForeground "$U3" org.example.Victim
[[ $(prop Foreground) == "(uss) $U3 \"org.example.Victim\" \"$MEMCG_SCOPE/mg-test-user.scope\"" ]] ||
	fail "Foreground: $(prop Foreground)"
candidates "$WORK/cand4b"
grep -q "^$U3 .* foreground$" "$WORK/cand4b" || { cat "$WORK/cand4b"; fail "the user's SetForeground: $U3 not shielded"; }
[ "$(shielded "$WORK/cand4b")" = "$U3 " ] ||
	bug "the user's SetForeground($U3, app id org.example.Victim) shielded root's app org.example.Victim ($R3) too: $(shielded "$WORK/cand4b")(want only $U3)"

# From here the shield is on FG, alone in a .scope of its own, out of the way.
expect OK "root SetForeground $FG (in its own .scope)" -- call SetForeground "$FG" org.example.Fg
[[ $(prop Foreground) == "(uss) $FG \"org.example.Fg\" \"$MEMCG_SCOPE/mg-test-fg.scope\"" ]] ||
	fail "Foreground: $(prop Foreground)"
candidates "$WORK/cand5"
[ "$(shielded "$WORK/cand5")" = "$FG " ] || { cat "$WORK/cand5"; fail "SetForeground($FG): shielded $(shielded "$WORK/cand5")"; }
fg=$(prop Foreground)

# Root's processes, and what needs admin: no, and nothing changes.
expect OK "root Freeze $R3 (for the user's Thaw)" -- call Freeze "$R3"
wait_file "$APP_CG/cgroup.events" '^frozen 1$' 3 || fail "$APP_CG not frozen"
expect $E.NotAuthorized "user Freeze root's $R2" -- ucall Freeze "$R2"
expect $E.NotAuthorized "user Freeze root's $R2, interactive" -- ucall Freeze "$R2" interactive=b:true
[ "$(pstate "$R2")" != T ] || fail "a refused Freeze stopped $R2"
expect $E.NotAuthorized "user Thaw root's frozen $R3" -- ucall Thaw "$R3"
grep -qx 'frozen 1' "$APP_CG/cgroup.events" || fail "a refused Thaw thawed $R3"
expect $E.NotAuthorized "user Kill root's $R2" -- ucall Kill "$R2"
sleep 0.3
[ "$(pstate "$R2")" != gone ] || fail "a refused Kill killed $R2"
expect $E.NotAuthorized "user Protect own $U1 (needs change-rules)" -- ucall Protect "$U1" true
expect $E.NotAuthorized "user Protect root's $R2" -- ucall Protect "$R2" true
expect $E.NotAuthorized "user Unprotect root's $R2" -- ucall Protect "$R2" false
candidates "$WORK/cand6"
diff "$WORK/cand5" "$WORK/cand6" >/dev/null || { diff -u "$WORK/cand5" "$WORK/cand6"; fail "a refused Protect changed ListCandidates"; }
n=$(grep -c 'configuration reloaded' "$LOG")
expect $E.NotAuthorized "user Reload" -- ucall Reload
[ "$(grep -c 'configuration reloaded' "$LOG")" = "$n" ] || fail "a refused Reload reloaded"
expect $E.NotAuthorized "user SetForeground root's $R2" -- ucall SetForeground "$R2" org.example.App
[ "$(prop Foreground)" = "$fg" ] || fail "a refused SetForeground moved the foreground: $(prop Foreground)"
# memguardctl maps the same refusals to its exit codes (4: not authorized).
uctl --no-ask-password freeze "$R2" >/dev/null 2>"$WORK/err"
rc=$?
[ "$rc" = 4 ] || { cat "$WORK/err"; fail "memguardctl freeze of root's process as the user exited $rc, expected 4"; }
[ "$(pstate "$R2")" != T ] || fail "a refused Freeze (memguardctl) stopped $R2"
expect OK "root Thaw $R3" -- call Thaw "$R3"
wait_file "$APP_CG/cgroup.events" '^frozen 0$' 3 || fail "$APP_CG still frozen"
pass "user: root's processes, Protect, Reload refused; nothing changed"

# ---------------------------------------------------------------- bogus targets
KTHREAD=
for f in /proc/[0-9]*/stat; do
	stat=$(cat "$f" 2>/dev/null) || continue
	read -r -a fields <<<"${stat##*) }" # from the last ')': state ppid pgrp session tty tpgid flags
	if (((fields[6] >> 21) & 1)); then  # PF_KTHREAD
		KTHREAD=${f//[!0-9]/}
		break
	fi
done
NO_PID=$(($(cat /proc/sys/kernel/pid_max) - 1))
while [ -e "/proc/$NO_PID" ]; do NO_PID=$((NO_PID - 1)); done
for who in call ucall; do
	for m in Freeze Kill; do
		expect $E.InvalidArgument "$who $m 0" -- $who $m 0
		expect $E.InvalidArgument "$who $m -1" -- $who $m 4294967295
		expect $E.InvalidArgument "$who $m 2^31" -- $who $m 2147483648
		expect $E.NeverTarget "$who $m 1" -- $who $m 1
		[ -n "$KTHREAD" ] && expect $E.NeverTarget "$who $m kernel thread $KTHREAD" -- $who $m "$KTHREAD"
		expect $E.NeverTarget "$who $m memguardd" -- $who $m "$DAEMON_PID"
		expect $E.NeverTarget "$who $m the bus daemon" -- $who $m "$BUS_PID"
		expect $E.NeverTarget "$who $m polkitd" -- $who $m "$POLKIT_PID"
		expect $E.NoSuchProcess "$who $m an unused pid" -- $who $m "$NO_PID"
	done
	expect $E.NeverTarget "$who Thaw memguardd" -- $who Thaw "$DAEMON_PID"
	expect $E.NeverTarget "$who Protect 1" -- $who Protect 1 true
	expect $E.NeverTarget "$who SetForeground the bus daemon" -- $who SetForeground "$BUS_PID" x
done
expect $E.NoSuchProcess "root Freeze its process outside the scope" -- call Freeze "$OUT"
expect $E.NoSuchProcess "root Kill its process outside the scope" -- call Kill "$OUT"
expect $E.NoSuchProcess "user Freeze its own process outside the scope" -- ucall Freeze "$OUT_U"
expect $E.NoSuchProcess "root Freeze the user's process outside the scope" -- call Freeze "$OUT_U"
expect $E.NotAuthorized "user Kill another user's (root's) process" -- ucall Kill "$R2"
for p in "$DAEMON_PID" "$BUS_PID" "$POLKIT_PID" "$OUT" "$OUT_U" "$R2"; do
	alive "$p" || fail "after the bogus calls, process $p is '$(pstate "$p")'"
done
[ -n "$KTHREAD" ] || echo "note: no kernel thread visible here, that case was not tried"
pass "bogus targets refused with named errors; memguardd, dbus-daemon, polkitd and the rest untouched"

# ---------------------------------------------------------------- flood
# 40000 calls from eight clients of the user, 64 in flight each: GetStatus, and
# Freeze of root's R2 (each one a polkit check that says no). Meanwhile root's
# GetStatus must be answered, and memguardd's memory must stay bounded.
rss_before=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status")
before=$(trace)
FLOODERS=()
for i in 1 2 3 4 5 6 7 8; do
	if [ $((i % 2)) = 0 ]; then args=(GetStatus); else args=(Freeze "$R2"); fi
	runuser -u "$TEST_USER" -- timeout 60 "$BUS_CLIENT" flood 5000 "${args[@]}" >"$WORK/flood$i.out" 2>&1 &
	STARTED+=($!)
	FLOODERS+=($!)
done
flooding() {
	local p
	for p in "${FLOODERS[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done
	return 1
}
max_ms=0
n_status=0
t0=$(date +%s)
sleep 0.2 # the flooders are connected and sending by now
while flooding; do
	[ $(($(date +%s) - t0)) -lt 60 ] || fail "the flood did not end within 60 s"
	a=$(date +%s%N)
	out=$(timeout 10 "$BUS_CLIENT" call GetStatus 2>&1 | tail -n 1)
	b=$(date +%s%N)
	[[ $out == OK* ]] || fail "GetStatus during the flood: $out"
	flooding || break # answered after the flood: does not count
	n_status=$((n_status + 1))
	ms=$(((b - a) / 1000000))
	[ "$ms" -gt "$max_ms" ] && max_ms=$ms
	sleep 0.05
done
for p in "${FLOODERS[@]}"; do wait "$p"; done
forget "${FLOODERS[@]}"
flood_s=$(($(date +%s) - t0))
cat "$WORK"/flood*.out
read -r sent ok limited other <<<"$(cat "$WORK"/flood*.out | awk '$1 == "sent" { s += $2; o += $4; l += $6; x += $8 } END { print s, o, l, x }')"
other_names=$(cat "$WORK"/flood*.out | awk '$1 == "sent" { for (i = 9; i <= NF; i++) print $i }' | sort -u | tr '\n' ' ')
rss_after=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status")
hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$DAEMON_PID/status")
echo "flood: $sent calls in ~${flood_s} s: $ok ok, $limited RateLimited, $other other ($other_names); $n_status GetStatus answered meanwhile, slowest ${max_ms} ms; memguardd RSS ${rss_before} -> ${rss_after} KiB, peak ${hwm} KiB"
[ "$sent" = 40000 ] || fail "the flood did not send 40000 calls"
[ "$ok" -gt 0 ] || fail "nothing served during the flood"
[ "$limited" -gt 0 ] || fail "no RateLimited in a flood"
[ -z "${other_names// /}" ] || [ "$other_names" = "$E.NotAuthorized " ] || fail "unexpected errors in the flood: $other_names"
[ "$n_status" -ge 1 ] || fail "no GetStatus was answered during the flood"
[ "$max_ms" -lt 2000 ] || fail "GetStatus took ${max_ms} ms during the flood"
RSS_LIMIT_KB=${BUS_DAEMON_RSS_LIMIT_KB:-32768} # sanitizer builds need more
[ "$hwm" -lt "$RSS_LIMIT_KB" ] || fail "memguardd peak RSS ${hwm} KiB (bound ${RSS_LIMIT_KB} KiB)"
[ $((rss_after - rss_before)) -lt 8192 ] || fail "memguardd RSS grew by $((rss_after - rss_before)) KiB in the flood"
[ "$(pstate "$R2")" != T ] || fail "the flood of refused Freezes stopped $R2"
[ "$(trace)" = "$before" ] || fail "memguardd acted during a flood of refused calls ($before -> $(trace))"
expect OK "after the flood: GetStatus" -- call GetStatus
expect OK "after the flood: user Freeze own $U1" -- ucall Freeze "$U1"
expect OK "after the flood: user Thaw own $U1" -- ucall Thaw "$U1"
wait_state "$U1" running 3 || fail "$U1 not running after the flood"
pass "flood: responsive, memory bounded, refused calls left no trace"

# ---------------------------------------------------------------- the bus goes away and comes back
stop_monitor
busenv_stop_polkit
t_kill=$(date +%s%N)
busenv_kill_bus
wait_for_log 'lost the system bus' 5 || fail "memguardd did not notice the bus going away"
sleep 1
kill -0 "$DAEMON_PID" 2>/dev/null || fail "memguardd died with the bus"
t0=$(date +%s%N)
busenv_start_bus || fail "new dbus-daemon"
t_bus=$(date +%s%N)
busenv_wait_name org.memguard 20 || fail "memguardd did not come back to the bus within 20 s"
t1=$(date +%s%N)
# The retry backoff is capped at 10 s.
[ $(((t1 - t_bus) / 1000000)) -lt 11000 ] || fail "memguardd took $(((t1 - t_bus) / 1000000)) ms to come back (backoff cap 10 s)"
busenv_wait_name org.freedesktop.LowMemoryMonitor 5 || fail "LowMemoryMonitor not taken again"
echo "reconnect: org.memguard back $(((t1 - t_bus) / 1000000)) ms after the new bus answered ($(((t1 - t0) / 1000000)) ms after it was started, $(((t1 - t_kill) / 1000000)) ms after the old one was killed)"
grep -c 'connected to the system bus' "$LOG" | grep -qx 2 || fail "expected exactly two connections in the log"
busenv_start_polkit || fail "polkitd on the new bus"
start_monitor
expect OK "after the restart: GetStatus" -- call GetStatus
expect OK "after the restart: user Freeze own $U1 (polkit again)" -- ucall Freeze "$U1"
wait_state "$U1" T 3 || fail "after the restart: $U1 not stopped"
wait_mon "^ProcessFrozen $U1 " 3 || { mon; fail "after the restart: no ProcessFrozen"; }
expect OK "after the restart: user Thaw own $U1" -- ucall Thaw "$U1"
wait_state "$U1" running 3 || fail "after the restart: $U1 not running"
expect $E.NotAuthorized "after the restart: user Freeze root's $R2" -- ucall Freeze "$R2"
expect $E.NeverTarget "after the restart: Kill the new bus daemon" -- call Kill "$BUS_PID"
expect $E.NeverTarget "after the restart: Kill the new polkitd" -- call Kill "$POLKIT_PID"
pass "bus restart: memguardd back on the new bus, polkit and never-targets current"

# ---------------------------------------------------------------- clean stop
expect OK "root Freeze $U1 before stopping" -- call Freeze "$U1"
wait_state "$U1" T 3 || fail "$U1 not stopped"
stop_monitor
stop_daemon || fail "memguardd did not exit cleanly on SIGTERM"
DAEMON_PID=
wait_state "$U1" running 3 || fail "memguardd stopped without thawing $U1"
if [ "${#BUGS[@]}" -gt 0 ]; then
	printf 'FAIL: %s\n' "${BUGS[@]}" >&2
	echo "test-bus-daemon: ${#BUGS[@]} check(s) failed (above), everything else passed, in $(($(date +%s) - T_START)) s" >&2
	exit 1
fi
echo "test-bus-daemon: all checks passed in $(($(date +%s) - T_START)) s"
