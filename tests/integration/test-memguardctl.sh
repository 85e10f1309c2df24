#!/bin/bash
# SPDX-License-Identifier: MIT
# memguardctl without a daemon: the command line (usage errors exit 2 with a
# clear message; --help, --version), doctor as a table and as JSON (checked
# against this machine's /proc, not hard-coded to it), and every daemon
# command against a real private dbus-daemon on which memguard is not
# running (exit 3, "not running"), and with no bus at all.
set -u
. "$(dirname "$0")/lib.sh"
: "${MEMGUARDCTL:?MEMGUARDCTL must point at the built memguardctl}"

command -v dbus-daemon >/dev/null || skip "dbus-daemon not installed"
command -v python3 >/dev/null || skip "python3 not installed (used to check the JSON)"

WORK=$(mktemp -d /tmp/memguardctl-test.XXXXXX)
BUS_PID=
cleanup() {
	[ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# expect RC ARGS...: run memguardctl, keep stdout and stderr, check the exit code.
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
# err_has TEXT: stderr of the last command contains TEXT.
err_has() {
	grep -qF -- "$1" "$WORK/err" || { cat "$WORK/err" >&2; fail "stderr lacks '$1'"; }
}

# --- no bus anywhere: usage errors must not depend on one ---
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$WORK/no-system-bus
export DBUS_SESSION_BUS_ADDRESS=unix:path=$WORK/no-session-bus

expect 0 --version
version=$("$MEMGUARDD" --version | awk '{print $2}')
grep -qx "memguardctl $version" "$WORK/out" || fail "--version: '$(cat "$WORK/out")', memguardd says $version"
expect 0 --help
for word in 'Usage: memguardctl' status frozen candidates freeze thaw kill protect reload events doctor \
	--system --user --json --follow --interactive --remove 'Exit codes'; do
	grep -qF -- "$word" "$WORK/out" || fail "--help lacks '$word'"
done
expect 0 -h

expect 2
err_has 'Usage: memguardctl'
expect 2 bogus
err_has "unknown command 'bogus'"
expect 2 --bogus status
err_has 'unknown option --bogus'
expect 2 -x status
err_has 'unknown option -x'
expect 2 status extra
err_has 'status takes no arguments'
expect 2 frozen extra
expect 2 candidates extra
expect 2 reload extra
expect 2 events extra
expect 2 doctor extra
expect 2 freeze
err_has 'freeze needs exactly one PID or app name'
expect 2 kill 1 2
err_has 'kill needs exactly one PID or app name'
expect 2 thaw 0
err_has "invalid PID or app name '0'"
expect 2 freeze 99999999999999999999
err_has 'invalid PID or app name'
expect 2 freeze ''
expect 2 --system --user status
err_has '--system and --user exclude each other'
expect 2 -f status
err_has '--follow only applies to events'
expect 2 --remove freeze 1234
err_has '--remove only applies to protect'
expect 2 -i status
err_has 'only apply to freeze, thaw, kill and protect'
expect 2 -i --no-ask-password freeze 1234
err_has 'exclude each other'
# A hostile command name is not echoed raw to the terminal.
expect 2 $'\e[2Jevil'
err_has "unknown command '?[2Jevil'"
grep -q $'\e' "$WORK/err" && fail "an escape character reached stderr"

# Every daemon command: no bus at all is "not running" too.
daemon_commands=(status "status --json" frozen "frozen --json" candidates "candidates --json"
	"freeze 1234" "thaw 1234" "kill 1234" "protect 1234" "protect --remove 1234" "freeze firefox"
	reload events "events -f" "--json events")
for cmd in "${daemon_commands[@]}"; do
	# shellcheck disable=SC2086
	expect 3 $cmd
	err_has 'memguard is not running'
	[ -s "$WORK/out" ] && fail "memguardctl $cmd printed to stdout without a daemon"
done
expect 3 --system status
err_has 'cannot connect to the system bus'
expect 3 --user status
err_has 'cannot connect to the session bus'

# --- doctor ---
expect 0 doctor
for item in kernel psi psi-triggers cgroup-mode cgroup-controllers freezer cgroup-kill memory-reclaim \
	memory-high pidfd process-mrelease zram swap criu polkit system-bus session-bus memguard memlock; do
	grep -Eq "^$item +(ok|degraded|missing) " "$WORK/out" || { cat "$WORK/out"; fail "doctor lacks a line for $item"; }
done

# The cgroup mode this machine has, from mountinfo (field 9 after " - " is the fstype).
expected_mode=$(awk '
	{ for (i = 7; i <= NF; i++) if ($i == "-") break
	  fstype = $(i + 1); opts = $(i + 3)
	  if (fstype == "cgroup2") v2 = 1
	  if (fstype == "cgroup" && opts ~ /(^|,)(cpu|cpuacct|cpuset|memory|devices|freezer|net_cls|net_prio|blkio|perf_event|hugetlb|pids|rdma|misc)(,|$)/) v1 = 1 }
	END { if (v2 && v1) print "hybrid"; else if (v2) print "pure v2"; else if (v1) print "v1 only"; else print "none" }
' /proc/self/mountinfo)
if [ -r /proc/pressure/memory ]; then expected_psi=ok; else expected_psi=missing; fi
echo "this machine: cgroup mode '$expected_mode', psi $expected_psi"

expect 0 doctor --json
python3 -m json.tool "$WORK/out" >/dev/null || fail "doctor --json is not valid JSON"
python3 - "$WORK/out" "$expected_mode" "$expected_psi" <<'PY' || fail "doctor --json content"
import json, sys
items = json.load(open(sys.argv[1]))
mode, psi = sys.argv[2], sys.argv[3]
assert isinstance(items, list), "not an array"
by = {}
for i in items:
    assert set(i) == {"item", "status", "detail"}, i
    assert i["status"] in ("ok", "degraded", "missing"), i
    by[i["item"]] = i
want = ["kernel", "psi", "psi-triggers", "cgroup-mode", "cgroup-controllers", "freezer", "cgroup-kill",
        "memory-reclaim", "memory-high", "pidfd", "process-mrelease", "zram", "swap", "criu", "polkit",
        "system-bus", "session-bus", "memguard", "memlock"]
missing = [w for w in want if w not in by]
assert not missing, "missing items: %s" % missing
assert by["psi"]["status"] == psi, by["psi"]
assert by["cgroup-mode"]["detail"].startswith(mode), (mode, by["cgroup-mode"])
assert by["cgroup-mode"]["status"] == {"pure v2": "ok", "none": "missing"}.get(mode, "degraded"), by["cgroup-mode"]
# No bus is reachable here, so memguard cannot be running.
assert by["system-bus"]["status"] == "missing" and by["session-bus"]["status"] == "missing", by
assert by["memguard"]["status"] == "missing", by["memguard"]
print("doctor --json: %d items, cgroup-mode '%s', psi %s" % (len(items), by["cgroup-mode"]["detail"], psi))
PY

# --- a real bus without memguard on it ---
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
export DBUS_SYSTEM_BUS_ADDRESS=$address DBUS_SESSION_BUS_ADDRESS=$address

for cmd in "${daemon_commands[@]}"; do
	# shellcheck disable=SC2086
	expect 3 $cmd
	err_has 'memguard is not running on the'
	[ -s "$WORK/out" ] && fail "memguardctl $cmd printed to stdout without a daemon"
done
expect 3 --user freeze 1234
err_has 'memguard is not running on the session bus'
expect 3 --system kill 1234
err_has 'memguard is not running on the system bus'

# doctor sees the bus, and no memguard on it.
expect 0 doctor --json
python3 - "$WORK/out" <<'PY' || fail "doctor --json with a bus"
import json, sys
by = {i["item"]: i for i in json.load(open(sys.argv[1]))}
for b in ("system-bus", "session-bus"):
    assert by[b]["status"] == "ok" and "not owned" in by[b]["detail"], by[b]
assert by["memguard"]["status"] == "missing", by["memguard"]
PY

echo "ok: usage errors exit 2, doctor ($expected_mode), not running exits 3 with and without a bus"
