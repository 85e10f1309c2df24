#!/bin/bash
# SPDX-License-Identifier: MIT
# memguardctl against the real memguardd (--user --dry-run) on a private
# dbus-daemon: status, candidates, frozen (tables and JSON), freeze/thaw by
# PID and by app name on a sleep process this test started (dry run: it
# must not be stopped), protect, reload (good and bad configuration), the
# named errors (kill PID 1 -> 6, a PID that cannot exist -> 5, another uid
# -> 4), events (the current level, a level change under real memory
# pressure in a test cgroup, memguard leaving the bus), and "not running"
# once memguard has stopped. No mock: until memguardd has its bus API this
# test skips.
set -u
. "$(dirname "$0")/lib.sh"
: "${MEMGUARDCTL:?MEMGUARDCTL must point at the built memguardctl}"

command -v dbus-daemon >/dev/null || skip "dbus-daemon not installed"
command -v dbus-send >/dev/null || skip "dbus-send not installed"
command -v python3 >/dev/null || skip "python3 not installed (used to check the JSON)"
"$MEMGUARDD" --help 2>&1 | grep -Eqi 'd-bus|\bbus\b' || skip "memguardd has no D-Bus API yet"

# /var/tmp: the pressure readers need a real file system for O_DIRECT.
WORK=$(mktemp -d /var/tmp/memguardctl-test.XXXXXX)
chmod 755 "$WORK" # the bus socket must be reachable for the other-uid check
LOG=$WORK/daemon.log
DAEMON_PID=''
BUS_PID=''
SLEEP_PID=''
EVENTS_PID=''
cleanup() {
	[ -n "$EVENTS_PID" ] && kill "$EVENTS_PID" 2>/dev/null
	[ -n "$DAEMON_PID" ] && kill -KILL "$DAEMON_PID" 2>/dev/null
	[ -n "$SLEEP_PID" ] && kill -KILL "$SLEEP_PID" 2>/dev/null
	memcg_destroy
	[ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

expect() {
	local want=$1 rc
	shift
	"$MEMGUARDCTL" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
	rc=$?
	if [ "$rc" != "$want" ]; then
		cat "$WORK/out" "$WORK/err" >&2
		fail "memguardctl $* exited $rc, expected $want"
	fi
}
err_has() {
	grep -qF -- "$1" "$WORK/err" || { cat "$WORK/err" >&2; fail "stderr lacks '$1'"; }
}
# json_check PYTHON: run a check on the JSON in $WORK/out (bound to `d`).
json_check() {
	python3 -c "import json, sys; d = json.load(open('$WORK/out')); $1" || { cat "$WORK/out" >&2; fail "JSON check: $1"; }
}
name_owned() {
	dbus-send --bus="$address" --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner string:org.memguard 2>/dev/null | grep -q 'boolean true'
}
proc_state() { # the state letter of /proc/PID/stat, read after the last ')'
	sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat"
}

# --- a private session bus; the system bus points nowhere ---
cat >"$WORK/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$WORK/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$WORK/bus.conf" --nofork --print-address=3 3>"$WORK/address" &
BUS_PID=$!
for _ in $(seq 1 50); do
	[ -s "$WORK/address" ] && break
	sleep 0.1
done
[ -s "$WORK/address" ] || fail "private dbus-daemon did not start"
address=$(head -n1 "$WORK/address")
export DBUS_SESSION_BUS_ADDRESS=$address
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$WORK/no-system-bus

# --- memguardd --user --dry-run, on a test cgroup holding one sleep process ---
printf '[levels]\ncalm-seconds=2\n' >"$WORK/good.conf"
cp "$WORK/good.conf" "$WORK/live.conf"
scope_args=()
if why=$(memcg_supported); then
	memcg_create "memguardctl-test-$$" 256 || fail "cannot create the test cgroups"
	scope_args=(--scope "$MEMCG_SCOPE")
	memcg_spawn sleep 300
	SLEEP_PID=$MEMCG_PID
else
	echo "no test cgroup ($why): memguardd manages all of this user's processes"
	sleep 300 &
	SLEEP_PID=$!
fi
start_daemon --user --dry-run --config "$WORK/live.conf" "${scope_args[@]}"
for _ in $(seq 1 50); do
	name_owned && break
	sleep 0.1
done
name_owned || skip "memguardd has no D-Bus API yet (org.memguard did not appear on the bus within 5 s)"

# --- reading ---
expect 0 --user status
grep -Eq '^ *Level: (normal|elevated|high|critical|emergency)$' "$WORK/out" || fail "status: no level"
grep -Eq '^ *Mode: user$' "$WORK/out" || fail "status: mode is not user"
grep -Eq '^ *Dry run: yes$' "$WORK/out" || fail "status: dry run not shown"
grep -Eq '^ *Bus: session$' "$WORK/out" || fail "status: bus"
expect 0 status # no --user: root tries the system bus first (none here), then the session bus
grep -Eq '^ *Bus: session$' "$WORK/out" || fail "automatic bus choice did not find memguard on the session bus"
expect 0 --user status --json
json_check "assert isinstance(d, dict); assert d['level'] in ('normal', 'elevated', 'high', 'critical', 'emergency'); assert d.get('dry_run', True) is True; assert d.get('mode', 'user') == 'user'"

expect 0 --user candidates
grep -Eq '^ *RANK +PID +UID +COMM' "$WORK/out" || grep -q '^No candidates.$' "$WORK/out" || fail "candidates table"
expect 0 --user candidates --json
keys="{'rank','pid','uid','comm','exe','unit','app','rss_bytes','swap_bytes','priority','protected','reason'}"
json_check "assert isinstance(d, list); assert all(set(c) == $keys for c in d), d"
if [ ${#scope_args[@]} -gt 0 ]; then
	json_check "assert any(c['pid'] == $SLEEP_PID and c['comm'] == 'sleep' for c in d), 'sleep $SLEEP_PID not a candidate'"
fi

expect 0 --user frozen
expect 0 --user frozen --json
json_check "assert isinstance(d, list)"

# --- actions in dry run: success, and the process is not stopped ---
expect 0 --user --no-ask-password freeze "$SLEEP_PID"
err_has 'dry-run'
sleep 0.5
[ "$(proc_state "$SLEEP_PID")" != T ] || fail "dry run: pid $SLEEP_PID was stopped"
if [ -n "$MEMCG_V2" ]; then
	grep -qx 'frozen 0' "$MEMCG_V2/cgroup.events" || fail "dry run: the test cgroup was frozen"
	expect 0 --user --no-ask-password freeze sleep # by app name: only our sleep is in the scope
	[ "$(proc_state "$SLEEP_PID")" != T ] || fail "dry run: pid $SLEEP_PID was stopped"
fi
expect 0 --user --no-ask-password thaw "$SLEEP_PID"
expect 0 --user --no-ask-password protect "$SLEEP_PID"
expect 0 --user candidates --json
json_check "assert all(c['protected'] for c in d if c['pid'] == $SLEEP_PID), 'protect did not show'"
expect 0 --user --no-ask-password protect --remove "$SLEEP_PID"
expect 0 --user candidates --json
json_check "assert not any(c['protected'] for c in d if c['pid'] == $SLEEP_PID), 'protect --remove did not show'"

# --- named errors ---
expect 6 --user --no-ask-password kill 1
err_has 'refused to kill pid 1'
no_pid=$(cat /proc/sys/kernel/pid_max) # PIDs are below pid_max
expect 5 --user --no-ask-password kill "$no_pid"
err_has 'no such process'
expect 5 --user --no-ask-password freeze no-such-app-memguard
err_has "no process matches 'no-such-app-memguard'"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	# A user-mode memguard serves only its own uid.
	setpriv --reuid=65534 --regid=65534 --clear-groups "$MEMGUARDCTL" --user --no-ask-password freeze "$SLEEP_PID" \
		>"$WORK/out" 2>"$WORK/err" </dev/null
	rc=$?
	[ "$rc" = 4 ] || { cat "$WORK/err"; fail "freeze as another uid exited $rc, expected 4"; }
	err_has "not authorized to freeze pid $SLEEP_PID"
fi

# --- reload ---
expect 0 --user reload
printf '[levels]\nhigh=banana\n' >"$WORK/live.conf"
expect 1 --user reload
err_has 'keeps the last good one'
cp "$WORK/good.conf" "$WORK/live.conf"
expect 0 --user reload

# --- events ---
timeout 3 "$MEMGUARDCTL" --user events -f --json >"$WORK/events1" 2>&1
head -n1 "$WORK/events1" >"$WORK/out"
json_check "assert d['event'] == 'Current' and d['level'] in ('normal', 'elevated', 'high', 'critical', 'emergency') and d['timestamp_usec'] > 0"

if [ -n "$MEMCG_V2" ]; then
	# Real pressure in the test cgroup (TESTING.md): a level change must reach the stream.
	"$MEMGUARDCTL" --user events -f --json >"$WORK/events2" 2>&1 &
	EVENTS_PID=$!
	sleep 0.5
	oom_before=$(oom_kills)
	for i in 1 2; do
		memcg_spawn "$MG_READER" --file "$WORK/ws$i" --size-mib 120 --seconds 40
	done
	memcg_spawn "$MG_HOG" --rate-mib 15 --max-mib 210 --seconds 40
	seen=
	for _ in $(seq 1 450); do
		if grep -Eq '"event":"(PressureLevelChanged|PropertiesChanged)","property":"PressureLevel"|"event":"PressureLevelChanged"' "$WORK/events2"; then
			seen=1
			break
		fi
		sleep 0.1
	done
	# End the pressure: kill what the test started in the cgroup, but not our sleep.
	for p in $(memcg_pids); do [ "$p" != "$SLEEP_PID" ] && kill -KILL "$p" 2>/dev/null; done
	kill "$EVENTS_PID" 2>/dev/null
	wait "$EVENTS_PID" 2>/dev/null
	EVENTS_PID=
	# oom_kill counts every memcg on the machine; other work may move it, so only report it.
	[ "$(oom_kills)" = "$oom_before" ] || echo "note: kernel OOM kills moved during the pressure ($oom_before -> $(oom_kills))"
	if [ -n "$seen" ]; then
		grep -m1 -E '"PressureLevel|"event":"PressureLevelChanged"' "$WORK/events2"
	elif grep -Eq 'pressure rising' "$LOG"; then
		cat "$WORK/events2" >&2
		fail "memguardd logged a level change, but memguardctl events did not show one"
	else
		echo "note: no level change under this pressure; the events part for PressureLevelChanged was not exercised"
	fi
fi

# Without -f: the current level, then memguard leaves the bus -> exit 3.
"$MEMGUARDCTL" --user events >"$WORK/events3" 2>"$WORK/err" &
EVENTS_PID=$!
sleep 1
stop_daemon || fail "memguardd did not stop cleanly"
wait "$EVENTS_PID"
rc=$?
EVENTS_PID=
if [ "$(wc -l <"$WORK/events3")" -le 1 ]; then
	[ "$rc" = 3 ] || { cat "$WORK/events3" "$WORK/err"; fail "events exited $rc when memguard left, expected 3"; }
	err_has 'memguard left the session bus'
fi
grep -q 'current' "$WORK/events3" || fail "events: no current level line"

expect 3 --user status
err_has 'memguard is not running on the session bus'

echo "ok: status, candidates, frozen, dry-run freeze/thaw/protect, errors 4/5/6, reload, events"
