# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared helpers for the integration tests. Each test sources this file.

: "${MEMGUARDD:?MEMGUARDD must point at the built memguardd}"
: "${HELPERS_DIR:?HELPERS_DIR must point at tests/helpers}"

# shellcheck source=../helpers/memcg.sh
. "$HELPERS_DIR/memcg.sh"

skip() {
	echo "SKIP: $*"
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	[ -n "${LOG:-}" ] && [ -f "$LOG" ] && { echo "--- daemon log (last 60 lines) ---" >&2; tail -n 60 "$LOG" >&2; }
	exit 1
}

# wait_for_log PATTERN SECONDS: poll the daemon log for an extended regex.
wait_for_log() {
	local pattern=$1 secs=$2 i
	for i in $(seq 1 $((secs * 10))); do
		grep -Eq -- "$pattern" "$LOG" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# has_cap NUMBER: is the capability in this process's effective set?
has_cap() {
	local eff
	eff=$(awk '$1 == "CapEff:" {print $2}' /proc/self/status)
	(( (16#$eff >> $1) & 1 ))
}

# start_daemon ARGS...: start memguardd in the background, logging to $LOG.
start_daemon() {
	# Empty the log first: the child's own redirection may happen after we
	# start polling, and an old "started" line must not count.
	: >"$LOG"
	"$MEMGUARDD" "$@" >>"$LOG" 2>&1 &
	DAEMON_PID=$!
	wait_for_log 'memguardd started' 10 || fail "memguardd did not start"
}

stop_daemon() {
	local rc
	[ -n "${DAEMON_PID:-}" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID"
	rc=$?
	DAEMON_PID=
	return $rc
}
