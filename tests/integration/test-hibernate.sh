#!/bin/bash
# SPDX-License-Identifier: MIT
# Emergency hibernation through logind ([actions] hibernate), with the real
# memguardd in system mode on a private system bus (tests/helpers/bus-env.sh).
#
# logind is a STAND-IN here: systemd-logind cannot run on this machine (PID 1
# is not systemd), so tests/helpers/logind-stand-in owns org.freedesktop.login1
# on the private bus, answers CanHibernate with what the test asks and records
# every CanHibernate and Hibernate call. Nothing is hibernated.
#
# Real emergency, safely: hibernation is never considered with a scope, so
# the daemon manages the whole machine here. The memory stall is real and made
# only inside a 256 MiB test cgroup (three readers re-reading 120 MiB files,
# TESTING.md); PSI counts it in /proc/pressure/memory too, and the test's
# config scales PSI so that this stall reads as emergency. Every process of the
# machine is on the daemon's protect list (cgroup=*, exe=/*..., comm=* with
# trust-comm), so the acting daemon plans nothing on this shared machine: with
# nothing to free, kill or checkpoint, emergency is exactly when hibernation is
# due.
#
# Phases (the workload runs throughout; each phase is one daemon run):
#   A hibernate=true, CanHibernate "yes": at emergency, CanHibernate then one
#     Hibernate(false) from root; emergency goes on, no second call
#     (hibernate-interval-minutes=1); the event log says why.
#   B the same with --dry-run: no call at all, the log says it would hibernate.
#   C hibernate=false: emergency, no call.
#   D CanHibernate "na": CanHibernate asked, no Hibernate, the log says why.
#   E thresholds that stop at critical: no call.
#   F with --scope (the test cgroup): no call, and memguardd says hibernate
#     does not apply.
set -u
. "$(dirname "$0")/lib.sh"
# elapsed_ms T0: milliseconds since an $EPOCHREALTIME value.
elapsed_ms() {
	local t0=${1/./} t1=${EPOCHREALTIME/./}
	echo $(((t1 - t0) / 1000))
}

[ "$(id -u)" = 0 ] || skip "needs root (system mode, cgroups)"
: "${LOGIND_STAND_IN:?}" "${BUS_POLICY:?}" "${POLKIT_POLICY:?}" "${MG_READER:?}"
for tool in dbus-daemon dbus-send; do
	command -v "$tool" >/dev/null || skip "$tool is missing (tools/install-deps --tests)"
done
why=$(memcg_supported) || skip "$why"
[ -r /proc/pressure/memory ] || skip "no PSI (/proc/pressure/memory)"
. "$HELPERS_DIR/bus-env.sh"

echo "NOTE: org.freedesktop.login1 is a stand-in (tests/helpers/logind-stand-in): systemd-logind cannot run here (PID 1 is $(cat /proc/1/comm), not systemd)"

WORK=$(mktemp -d /var/tmp/memguard-test-hibernate.XXXXXX)
LOG=$WORK/daemon.log
DAEMON_PID=
LOGIND_PID=
READERS=()
cleanup() {
	local rc=$? p
	exec 2>/dev/null
	[ -n "$DAEMON_PID" ] && kill -KILL "$DAEMON_PID"
	[ -n "$LOGIND_PID" ] && kill -TERM "$LOGIND_PID"
	for p in "${READERS[@]}"; do kill -KILL "$p"; done
	busenv_teardown # stops the bus daemon, which `wait` would wait for forever
	wait
	memcg_destroy
	[ "${KEEP_WORK:-0}" = 1 ] && echo "work dir kept: $WORK" || rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM INT # a timeout still cleans up

busenv_setup || fail "bus setup"
# Where no login1 policy is installed, let root own the name and root call it.
busenv_add_policy '<policy user="root"><allow own="org.freedesktop.login1"/><allow send_destination="org.freedesktop.login1"/></policy>'
busenv_start_bus || fail "cannot start the private bus"

memcg_create "memguard-test-hibernate-$$" 256 || fail "cannot create test cgroups"
for i in 1 2 3; do
	memcg_spawn "$MG_READER" --file "$WORK/ws$i" --size-mib 120 --seconds 200
	READERS+=("$MEMCG_PID")
done

# Everything on this machine is protected: the daemon may act on nothing.
PROTECT_ALL='[protect]
cgroup=*
exe=/*;/*/*;/*/*/*;/*/*/*/*;/*/*/*/*/*;/*/*/*/*/*/*;/*/*/*/*/*/*/*;/*/*/*/*/*/*/*/*;/*/*/*/*/*/*/*/*/*
comm=*
trust-comm=true'

# write_config FILE HIBERNATE LEVELS...
write_config() {
	local file=$1 hibernate=$2
	shift 2
	cat >"$file" <<CONF
[pressure]
weight-swap=0
weight-swap-io=0
weight-gpu=0
memavailable-critical-percent=0
memavailable-emergency-percent=0
$PRESSURE_SCALE

[levels]
rise-samples=1
calm-seconds=30
$(printf '%s\n' "$@")

[planner]
grace-seconds=0

[actions]
hibernate=$hibernate
hibernate-after-seconds=30
hibernate-interval-minutes=1

$PROTECT_ALL
CONF
	"$MEMGUARDD" --check-config --config "$file" >/dev/null || fail "test config $file rejected"
}

# A 5 % stall reads as full pressure: the readers' stall (20-50 %) is emergency.
PRESSURE_SCALE='psi-some-full-scale=0.05
psi-full-full-scale=0.05'
write_config "$WORK/on.conf" true
write_config "$WORK/off.conf" false
# Unscaled PSI and emergency only at a 99 % stall: this workload stops at critical.
PRESSURE_SCALE='psi-some-full-scale=1
psi-full-full-scale=1'
write_config "$WORK/critical.conf" true elevated=0.01 high=0.02 critical=0.03 emergency=0.99 hysteresis=0.005

# phase NAME ANSWER CONFIG LEVEL [DAEMON ARGS...]: one daemon run that reaches
# LEVEL and stays a while; the stand-in's record in $WORK/NAME.calls.
phase() {
	local name=$1 answer=$2 conf=$3 level=$4
	shift 4
	CALLS=$WORK/$name.calls
	: >"$CALLS"
	"$LOGIND_STAND_IN" "$CALLS" "$answer" 2>>"$WORK/logind.err" &
	LOGIND_PID=$!
	busenv_wait_name org.freedesktop.login1 10 || fail "$name: the logind stand-in did not start"
	STATE=$WORK/state-$name
	T_START=$EPOCHREALTIME
	start_daemon --system --config "$conf" --state-dir "$STATE" "$@"
	wait_for_log "pressure rising level=$level " 60 || fail "$name: level $level not reached: $(grep 'pressure' "$LOG" | tail -n 3)"
	echo "$name: level $level $(elapsed_ms "$T_START") ms after the daemon started"
	sleep 6 # emergency goes on: decisions every fast interval
	stop_daemon || true
	echo "$name: done $(elapsed_ms "$T_START") ms after the daemon started"
	kill -TERM "$LOGIND_PID"
	wait "$LOGIND_PID" 2>/dev/null
	LOGIND_PID=
	echo "$name: $(grep -c . "$CALLS") call(s): $(tr '\n' ';' <"$CALLS")"
}

# Wait until the readers stall (the daemon sees it in its first samples anyway).
sleep 3

phase A yes "$WORK/on.conf" emergency
[ "$(grep -c '^CanHibernate uid=0$' "$CALLS")" = 1 ] || fail "A: expected one CanHibernate from root"
[ "$(grep -c '^Hibernate interactive=0 uid=0$' "$CALLS")" = 1 ] || fail "A: expected exactly one Hibernate(false) from root"
[ "$(head -n 1 "$CALLS")" = "CanHibernate uid=0" ] || fail "A: CanHibernate was not asked first"
grep -q 'action=hibernate ' "$LOG" || fail "A: the log does not say why it hibernated"
grep -q 'action=hibernate-result .*result=ok' "$LOG" || fail "A: no hibernate-result"
grep -E 'action=hibernate ' "$LOG" | grep -q 'nothing left to free, kill or checkpoint' || fail "A: reason missing"
grep -q '"action":"hibernate"' "$STATE/events.jsonl" || fail "A: not in events.jsonl"
grep -Eq 'action=(kill|freeze|checkpoint|throttle|cap) ' "$LOG" && fail "A: the daemon acted on a process: $(grep -E 'action=(kill|freeze)' "$LOG" | head -n 2)"
echo "A: $(grep 'action=hibernate ' "$LOG" | grep -o 'reason=.*' | cut -c1-160)"

phase B yes "$WORK/on.conf" emergency --dry-run
[ -s "$CALLS" ] && fail "B: a dry run called logind: $(cat "$CALLS")"
grep 'action=hibernate ' "$LOG" | grep -q 'dry_run=yes' || fail "B: the dry run does not say it would hibernate"
[ "$(grep -c 'action=hibernate ' "$LOG")" = 1 ] || fail "B: the dry run logged it more than once per interval"

phase C yes "$WORK/off.conf" emergency
[ -s "$CALLS" ] && fail "C: hibernate=false called logind: $(cat "$CALLS")"
grep -q 'action=hibernate' "$LOG" && fail "C: hibernate=false logged a hibernation"

phase D na "$WORK/on.conf" emergency
grep -q '^CanHibernate uid=0$' "$CALLS" || fail "D: CanHibernate not asked"
grep -q '^Hibernate' "$CALLS" && fail "D: Hibernate called although CanHibernate answered na"
grep 'action=hibernate-result ' "$LOG" | grep -q 'CanHibernate answered \\"na\\", not \\"yes\\"\|CanHibernate answered "na"' ||
	fail "D: the log does not say why: $(grep 'action=hibernate-result' "$LOG")"

phase E yes "$WORK/critical.conf" critical
grep -q 'level=emergency' "$LOG" && fail "E: emergency was reached; this phase needs a level below it"
[ -s "$CALLS" ] && fail "E: logind called below emergency: $(cat "$CALLS")"

phase F yes "$WORK/on.conf" emergency --scope "$MEMCG_SCOPE"
[ -s "$CALLS" ] && fail "F: logind called with --scope: $(cat "$CALLS")"
grep -q 'hibernate=true does not apply' "$LOG" || fail "F: memguardd did not say why hibernate does not apply"
echo "PASS: Hibernate only when enabled, at emergency, once per interval, never in a dry run, below emergency, with CanHibernate != yes or with a scope (logind: stand-in)"
