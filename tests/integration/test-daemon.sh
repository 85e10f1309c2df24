#!/bin/bash
# SPDX-License-Identifier: MIT
# memguardd as a process: command line and exit codes, --check-config,
# startup with an invalid config (monitor only, keeps running), SIGHUP with a
# bad config (keeps the last good one), and its footprint while calm: RSS
# under 8 MiB, few open fds, and almost no wakeups (heartbeat >= 10 s).
set -u
. "$(dirname "$0")/lib.sh"

WORK=$(mktemp -d /tmp/memguard-test.XXXXXX)
LOG=$WORK/daemon.log
DAEMON_PID=
cleanup() {
	[ -n "$DAEMON_PID" ] && kill -KILL "$DAEMON_PID" 2>/dev/null
	memcg_destroy
	rm -rf "$WORK"
}
trap cleanup EXIT

expect_exit() {
	local want=$1 rc
	shift
	"$MEMGUARDD" "$@" >"$WORK/out" 2>&1
	rc=$?
	[ "$rc" = "$want" ] || { cat "$WORK/out"; fail "memguardd $* exited $rc, expected $want"; }
}

# --- command line ---
expect_exit 0 --version
grep -Eq '^memguardd [0-9]+\.[0-9]+' "$WORK/out" || fail "--version output"
expect_exit 0 --help
grep -q -- '--scope CGROUP' "$WORK/out" || fail "--help lacks --scope"
expect_exit 2 --bogus
grep -q 'unknown option --bogus' "$WORK/out" || fail "unknown option message"
expect_exit 2 --config
expect_exit 2 --system --user
expect_exit 2 extra-argument
expect_exit 2 --user --scope ../../etc
grep -q -- '--scope' "$WORK/out" || fail "bad --scope message"

# --- --check-config ---
printf '[levels]\nhigh=0.5\n' >"$WORK/good.conf"
expect_exit 0 --user --check-config --config "$WORK/good.conf"
printf '[levels]\nhigh=banana\n' >"$WORK/bad.conf"
expect_exit 3 --user --check-config --config "$WORK/bad.conf"
grep -q "$WORK/bad.conf" "$WORK/out" || fail "--check-config message does not name the file"
grep -q '\[levels\]' "$WORK/out" || fail "--check-config message does not name the group"
grep -q 'high' "$WORK/out" || fail "--check-config message does not name the key"
printf '[levels]\nhihg=0.5\n' >"$WORK/typo.conf"
expect_exit 3 --user --check-config --config "$WORK/typo.conf"
grep -q 'hihg' "$WORK/out" || fail "unknown key not named"
expect_exit 3 --user --check-config --config "$WORK/missing.conf"

# A quiet place to run: an empty test cgroup if we can, else the machine.
scope_args=()
if memcg_supported >/dev/null; then
	memcg_create "memguard-test-daemon-$$" 64 || fail "cannot create test cgroup"
	scope_args=(--scope "$MEMCG_SCOPE")
fi

# --- invalid config at startup: monitor only, keep running ---
start_daemon --user --dry-run --state-dir "$WORK/state" --config "$WORK/bad.conf" "${scope_args[@]}"
grep -q 'monitoring only' "$LOG" || fail "invalid config at startup not reported as monitor-only"
kill -0 "$DAEMON_PID" || fail "daemon died with an invalid config"
# Fix the file and reload: actions come back.
cp "$WORK/good.conf" "$WORK/bad.conf"
kill -HUP "$DAEMON_PID"
wait_for_log 'actions enabled again' 5 || fail "reload with a fixed config did not re-enable actions"
stop_daemon || fail "daemon did not stop cleanly"

# --- bad reload keeps the last good config ---
cp "$WORK/good.conf" "$WORK/live.conf"
start_daemon --user --dry-run --state-dir "$WORK/state" --config "$WORK/live.conf" "${scope_args[@]}"
printf '[triggers]\nwindow-ms=-5\n' >"$WORK/live.conf"
kill -HUP "$DAEMON_PID"
wait_for_log 'reload failed, keeping the last good configuration' 5 || fail "bad reload not reported"
grep -q 'window-ms' "$LOG" || fail "bad reload message does not name the key"
kill -0 "$DAEMON_PID" || fail "daemon died on a bad reload"

# --- footprint while calm ---
sleep 1
rss_kib=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$DAEMON_PID/status")
nfds=$(find "/proc/$DAEMON_PID/fd" -mindepth 1 | wc -l)
echo "RSS ${rss_kib} KiB, ${nfds} open fds"
[ "$rss_kib" -lt $((8 * 1024)) ] || fail "RSS ${rss_kib} KiB is not under 8 MiB"
# A fixed set: stdio, /proc, /sys, the event loop, signalfd, two PSI
# triggers, the killer's preallocated kill slots (an epoll set each, so a
# kill never allocates), the hook runner, the state dir, event log and
# incident dir. Pidfds come on top, one per managed process: none in the
# empty test cgroup.
[ "$nfds" -le 24 ] || { ls -l "/proc/$DAEMON_PID/fd"; fail "$nfds open fds"; }

# Wakeups: the daemon sleeps in epoll; each wakeup is a voluntary context switch.
ctx() { awk '$1 ~ /ctxt_switches:/ {s += $2} END {print s}' "/proc/$DAEMON_PID/status"; }
before=$(ctx)
sleep 12
after=$(ctx)
echo "$((after - before)) context switches in 12 s while calm"
[ $((after - before)) -le 4 ] || fail "too many wakeups while calm: $((after - before)) in 12 s"

stop_daemon || fail "daemon did not exit 0 on SIGTERM"

# --- whole-machine footprint: the process table of every process (and, as
# root with BTF, the BPF task iterator, whose loading parses the kernel's
# BTF: what libbpf allocated for that must not stay behind) ---
if [ "$(id -u)" = 0 ]; then
	start_daemon --system --dry-run --state-dir "$WORK/state-sys" --config "$WORK/good.conf"
	wait_for_log 'process table: ' 15 || fail "no process table after the first heartbeat"
	grep 'process table: ' "$LOG"
	sleep 1
	rss_kib=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$DAEMON_PID/status")
	echo "system mode: RSS ${rss_kib} KiB with $(ls /proc | grep -c '^[0-9]') processes on the machine"
	[ "$rss_kib" -lt $((10 * 1024)) ] || fail "system mode RSS ${rss_kib} KiB is not under 10 MiB"
	stop_daemon || fail "system-mode daemon did not exit 0 on SIGTERM"
fi
echo ok
