#!/bin/bash
# SPDX-License-Identifier: MIT
# A memory stall without memory shortage is answered where it comes from.
# A test cgroup thrashes against its own 256 MiB limit while a larger
# process outside it (400 MiB, unlimited) stays calm and the machine has
# plenty of memory available. memguardd watches the WHOLE machine (system
# mode, --dry-run, so it touches nothing): the machine-wide PSI rises with
# the cgroup's stall, the level reaches critical, and the stall-freeze it
# plans must name the test cgroup and target a process in it, never the
# larger innocent process.
set -u
. "$(dirname "$0")/lib.sh"

why=$(memcg_supported) || skip "$why"
[ "$(id -u)" = 0 ] || skip "system mode needs root"
[ -r /proc/pressure/memory ] || skip "no PSI"

WORK=$(mktemp -d /var/tmp/memguard-test.XXXXXX)
LOG=$WORK/daemon.log
DAEMON_PID= INNOCENT=
cleanup() {
	[ -n "$DAEMON_PID" ] && kill -KILL "$DAEMON_PID" 2>/dev/null
	[ -n "$INNOCENT" ] && kill -KILL "$INNOCENT" 2>/dev/null
	memcg_destroy
	rm -rf "$WORK"
}
trap cleanup EXIT

memcg_create "memguard-test-stall-$$" 256 || fail "cannot create test cgroups"

# Thresholds low enough that this workload's stall (PSI some 6-40 % here,
# see test-pressure.sh) reaches critical; emergency out of reach.
cat >"$WORK/test.conf" <<CONF
[levels]
calm-seconds=2
elevated=0.04
high=0.08
critical=0.12
emergency=0.99
hysteresis=0.02
CONF

# The innocent: the largest process around, outside the test cgroup.
"$MG_HOG" --rate-mib 200 --max-mib 400 --seconds 90 >/dev/null 2>&1 &
INNOCENT=$!

start_daemon --system --dry-run --config "$WORK/test.conf" --state-dir "$WORK/state" -v

for i in 1 2 3 4; do
	memcg_spawn "$MG_READER" --file "$WORK/ws$i" --size-mib 120 --seconds 60
done
memcg_spawn "$MG_HOG" --rate-mib 20 --max-mib 180 --seconds 60

stall_lines() { grep -E '^dry run: would have .* action=(freeze|kill) .*memory stalls' "$LOG"; }
wait_until() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do stall_lines >/dev/null && return 0; sleep 0.2; done
	return 1
}
wait_until 60 || {
	grep -E 'level=' "$LOG" | tail -n 5
	fail "no stall-freeze was planned (did the level reach critical?)"
}
sleep 3 # a few more decisions
memcg_pids >"$WORK/inside"
echo 1 >"$MEMCG_V2/cgroup.kill" 2>/dev/null || xargs -r kill -9 <"$WORK/inside"

stall_lines | head -n 5 | sed 's/^/  /'
grep -q "memory stalls in $MEMCG_SCOPE" <(stall_lines) || fail "the stall-freeze does not name the test cgroup"
if grep -Eq " pid=$INNOCENT " <(stall_lines); then
	fail "the innocent process outside the stalling cgroup was chosen"
fi
# Every process a stall answer names was in the test cgroup.
while read -r pid; do
	grep -qx "$pid" "$WORK/inside" || fail "pid $pid outside the test cgroup was chosen for the stall"
done < <(stall_lines | grep -Eo ' pid=[0-9]+ ' | grep -Eo '[0-9]+' | sort -u)

stop_daemon || fail "memguardd did not exit cleanly"
echo "ok: the stall was answered in the test cgroup, the 400 MiB process outside it was left alone"
