# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Helpers for the action tests (test-actions-*.sh, test-proc-table.sh), on
# top of lib.sh. Every process they start is the test's own; every file is
# under $WORK.
#
#   setup_work NAME          $WORK, $LOG, $BIN, the EXIT trap (cleanup)
#   copy_bin SRC NAME        a copy of SRC at $BIN/NAME (a unique exe path for rules)
#   spawn DIR CMD...         start CMD in v2 cgroup DIR (and the v1 memory cgroup,
#                            if any); its PID in $SPAWN_PID (CMD execs in place)
#   new_scope NAME           create $MEMCG_V2/NAME (a sub-cgroup, e.g. tab.scope)
#   proc_state PID           the state letter of /proc/PID/stat ("" if gone)
#   alive PID                running and not a zombie
#   monitor_start PIDS...    sample PIDS' states every 50 ms into $WORK/states
#   monitor_stop             end the sampler
#   ever_stopped PID         did the sampler ever see PID stopped ('T' or 't')?
#   action_lines ACTION PID  the daemon's event lines for ACTION (a regex) on
#                            PID (a regex), acted for real (not dry run)
#   dry_run_lines ACTION PID the same, for what a dry run would have done
#   acted_re ACTION PID      the regex action_lines uses (for wait_for_log)
#   wait_until SECONDS CMD...  poll CMD until it succeeds
#   bus_start / set_foreground PID   a private system bus for memguardd, and
#                            the real foreground hint (SetForeground) on it
#
# The daemon's event lines (eventlog.c) read, on stderr:
#   [warning: ]killed mg-runaway (pid 123): REASON action=kill pid=123 uid=0
#       comm=... app=... reason="REASON" result=ok level=4 expected_bytes=...
#   dry run: would have frozen mg-tab (pid 9): REASON action=freeze pid=9 ...
#       reason="..." dry_run=yes result=ok level=3 ...
#   freeze mg-tab (pid 9) failed: ERROR; reason: ... action=freeze ... result=failed
# The fields after the message are the machine-readable part the helpers
# match (" action=A pid=N ", " dry_run=yes ", " result=ok"); level is a number
# there (0 normal .. 4 emergency).

: "${MG_SENTINEL:?MG_SENTINEL must point at the built mg-sentinel}"

# The daemon's log holds names from /proc (anyone's bytes): match it byte by
# byte, or an invalid UTF-8 sequence would stop '.*' from matching a line.
export LC_ALL=C

# memguardd's swap signals come from the whole machine even with --scope. On
# a shared machine someone may turn on (zram) swap while a test runs, and a
# scoped daemon then sits at elevated or above with no stall at all in its
# cgroup. The test cgroups do not swap (memcg.sh), so the test configs weigh
# PSI alone: put this in their [pressure] group.
PSI_ONLY='weight-swap=0
weight-swap-io=0'

setup_work() {
	WORK=$(mktemp -d "/var/tmp/memguard-$1.XXXXXX")
	LOG=$WORK/daemon.log
	BIN=$WORK/bin
	mkdir -p "$BIN"
	DAEMON_PID=
	MONITOR_PID=
	trap cleanup EXIT
}

# Kill only what this test started: the daemon, the sampler, and whatever is
# in the test's cgroups (memcg_destroy: cgroup.kill, or SIGKILL by PID).
cleanup() {
	local rc=$?
	exec 2>/dev/null # the shell's "Killed" notices for our own children
	[ -n "${MONITOR_PID:-}" ] && kill "$MONITOR_PID" 2>/dev/null
	[ -n "${DAEMON_PID:-}" ] && kill -KILL "$DAEMON_PID" 2>/dev/null
	if [ -n "${MEMCG_V2:-}" ] && [ -d "$MEMCG_V2" ]; then
		# A frozen cgroup must be thawed before its processes can be reaped.
		find "$MEMCG_V2" -name cgroup.freeze -exec sh -c 'echo 0 >"$1"' _ {} \; 2>/dev/null
		echo 1 >"$MEMCG_V2/cgroup.kill" 2>/dev/null
		# Children first: rmdir of a parent with sub-cgroups fails.
		for _ in $(seq 1 50); do
			find "$MEMCG_V2" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
			[ -z "$(find "$MEMCG_V2" -mindepth 1 -type d 2>/dev/null)" ] && break
			sleep 0.1
		done
	fi
	memcg_destroy
	[ -n "${BUSENV_DIR:-}" ] && busenv_teardown
	wait 2>/dev/null
	[ "${KEEP_WORK:-0}" = 1 ] && echo "work dir kept: $WORK" || rm -rf "$WORK"
	exit $rc
}

copy_bin() {
	cp "$1" "$BIN/$2" && chmod 755 "$BIN/$2"
}

spawn() {
	local dir=$1
	shift
	# The child moves itself into the cgroups, then execs the workload (same PID).
	sh -c 'for d in "$0" "$1"; do [ -n "$d" ] && echo $$ >"$d/cgroup.procs"; done; shift; exec "$@"' \
		"$dir" "$MEMCG_V1" "$@" &
	SPAWN_PID=$!
}

new_scope() {
	mkdir "$MEMCG_V2/$1"
}

proc_state() {
	local line
	read -r line 2>/dev/null <"/proc/$1/stat" || { echo ""; return; }
	line=${line##*) }
	echo "${line:0:1}"
}

alive() {
	local s
	s=$(proc_state "$1")
	[ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}

monitor_start() {
	: >"$WORK/states"
	(
		while :; do
			for p in "$@"; do
				line=
				read -r line 2>/dev/null <"/proc/$p/stat" || continue
				line=${line##*) }
				case ${line:0:1} in
				T | t) echo "$p ${line:0:1} $EPOCHREALTIME" >>"$WORK/states" ;;
				esac
			done
			sleep 0.05
		done
	) &
	MONITOR_PID=$!
}

monitor_stop() {
	[ -n "$MONITOR_PID" ] || return 0
	kill "$MONITOR_PID" 2>/dev/null
	wait "$MONITOR_PID" 2>/dev/null
	MONITOR_PID=
}

ever_stopped() {
	grep -q "^$1 " "$WORK/states"
}

# acted_re ACTION PID: the fields of an event line for ACTION (a regex, e.g.
# "freeze|kill") on PID (a regex); action_lines leaves dry-run lines out.
acted_re() {
	echo " action=($1) pid=($2) "
}

action_lines() {
	grep -aE -- "$(acted_re "$1" "$2")" "$LOG" | grep -av ' dry_run=yes '
}

dry_run_lines() {
	grep -aE -- "$(acted_re "$1" "$2")" "$LOG" | grep -a ' dry_run=yes '
}

# Every event line on a process of the daemon's log, shortened, for the test's output.
show_actions() {
	grep -aE ' action=[a-z-]+ pid=[0-9]+ ' "$LOG" | sed 's/ action=[a-z-]* pid=.* result=/ result=/; s/ level=.*//' |
		head -n "${1:-40}"
}

# wait_until SECONDS CMD...: poll CMD every 50 ms until it succeeds (0) or time runs out (1).
wait_until() {
	local deadline=$((${EPOCHREALTIME/./} + $1 * 1000000))
	shift
	while ! "$@"; do
		((${EPOCHREALTIME/./} < deadline)) || return 1
		sleep 0.05
	done
	return 0
}

# readers_done_a_pass MIB PID...: has every mg-reader PID read MIB MiB
# since it started (its whole file at least once: the working set is in)?
readers_done_a_pass() {
	local mib=$1 p rchar
	shift
	for p in "$@"; do
		rchar=$(awk '$1 == "rchar:" {print $2}' "/proc/$p/io" 2>/dev/null)
		[ -n "$rchar" ] && [ "$rchar" -ge $((mib * 1048576)) ] || return 1
	done
}

# Memory charged to the test's memory cgroup, in MiB.
memcg_usage_mib() {
	local b
	if [ -n "$MEMCG_V1" ]; then
		b=$(cat "$MEMCG_V1/memory.usage_in_bytes")
	else
		b=$(cat "$MEMCG_V2/memory.current")
	fi
	echo $((b / 1048576))
}

# Is the v2 cgroup DIR frozen (cgroup.events "frozen 1")?
cgroup_frozen() {
	grep -qx 'frozen 1' "$1/cgroup.events" 2>/dev/null
}

# The PIDs and cgroups a frozen registry (--state-dir DIR/frozen.json) lists.
registry_pids() {
	[ -f "$1" ] && grep -o '"pid":[0-9]*' "$1" | cut -d: -f2
}
registry_cgroups() {
	[ -f "$1" ] && grep -o '"cgroup":"[^"]*"' "$1" | cut -d'"' -f4
}

# Seconds since the epoch, as a decimal (for timing).
now() {
	echo "$EPOCHREALTIME"
}

# elapsed_ms T0 [T1]: milliseconds between two $EPOCHREALTIME values.
elapsed_ms() {
	local t0=${1/./} t1=${2:-$EPOCHREALTIME}
	t1=${t1/./}
	echo $(((t1 - t0) / 1000))
}

# kill_daemon SIGNAL: signal memguardd and reap it, quietly; its exit status in $DAEMON_RC.
kill_daemon() {
	[ -n "${DAEMON_PID:-}" ] || return 0
	kill "-$1" "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_RC=$?
	DAEMON_PID=
}

# bus_start: a private system bus (the project's bus policy, no polkitd:
# memguardd answers root without asking polkit), for memguardd to join and
# the test to send the foreground hint on. Skips the test without dbus-daemon.
bus_start() {
	: "${BUS_POLICY:?BUS_POLICY must name dbus/org.memguard.conf}" "${BUS_CLIENT:?BUS_CLIENT must point at bus-client}"
	command -v dbus-daemon >/dev/null || skip "dbus-daemon is missing (the foreground hint goes over D-Bus)"
	# shellcheck source=../helpers/bus-env.sh
	POLKIT_POLICY=${POLKIT_POLICY:-unused} . "$HELPERS_DIR/bus-env.sh"
	busenv_setup || fail "bus setup"
	busenv_start_bus || fail "dbus-daemon refused the configuration with $BUS_POLICY"
}

# set_foreground PID: the real hint, SetForeground(PID, "") as root over the
# bus, as a desktop plugin would send it; waits until memguardd logged it.
set_foreground() {
	local out
	busenv_wait_name org.memguard 10 || fail "memguardd did not take org.memguard on the private bus"
	out=$(timeout 20 "$BUS_CLIENT" call SetForeground "$1" "" 2>&1 | tail -n 1)
	[[ $out == OK* ]] || fail "SetForeground $1: $out"
	wait_for_log "^foreground: pid $1 " 5 || fail "memguardd did not log the foreground hint for $1"
}

# The runaway incident (test-actions-runaway.sh, and test-actions-dry-run.sh
# with --dry-run), in a 256 MiB memory cgroup made by the caller:
#   - a protected process (on the [protect] list by its exe), 16 MiB;
#   - the foreground process, 16 MiB, marked by the real hint: memguardd
#     joins a private system bus and gets SetForeground for it, as from a
#     desktop plugin. The planner shields the foreground app: nothing is
#     done to it below emergency, and at emergency it is only the last
#     resort for a kill (see planner.h).
#   - three background readers, each re-reading its own 50 MiB file: with
#     the two above, 182 MiB, which fits in the limit;
#   - the hog (mg-hog, high priority: heavy, may be frozen or killed),
#     growing at 10 MiB/s to HOG_MAX MiB, started once the rest runs.
# Each process runs from its own copy of a helper binary, so that the rules
# match them by exe. Sets PROTECTED, FOREGROUND, READERS (array), HOG,
# HOG_STARTED, OOM_BEFORE and starts the daemon with EXTRA daemon arguments.
# The config shortens the fall of the level (calm-seconds=2) and keeps a 5 s
# kill cool-down; INCIDENT_LEVELS and INCIDENT_COOLDOWN replace those lines
# (set them empty for the shipped defaults). INCIDENT_HOG_ACTIONS replaces
# what the hog's rule allows (throttle;freeze;kill).
#
#   incident_start HOG_MAX HOG_SECONDS READER_SECONDS [EXTRA...]
incident_start() {
	local hog_max=$1 hog_seconds=$2 reader_seconds=$3 i
	shift 3

	copy_bin "$MG_SENTINEL" mg-protected || fail "copy"
	copy_bin "$MG_SENTINEL" mg-foreground || fail "copy"
	copy_bin "$MG_READER" mg-background || fail "copy"
	copy_bin "$MG_HOG" mg-runaway || fail "copy"
	cat >"$WORK/incident.conf" <<CONF
[pressure]
$PSI_ONLY

[levels]
${INCIDENT_LEVELS-calm-seconds=2}

[planner]
# Fresh test processes must not be shielded by the grace period.
grace-seconds=0
${INCIDENT_COOLDOWN-kill-cooldown-seconds=5}

[actions]
kill-timeout-seconds=2
kill-timeout-critical-seconds=2

[protect]
exe=$BIN/mg-protected

[rule:test-runaway]
exe=$BIN/mg-runaway
priority=90
actions=${INCIDENT_HOG_ACTIONS:-throttle;freeze;kill}
CONF
	"$MEMGUARDD" --check-config --config "$WORK/incident.conf" >/dev/null || fail "test config rejected"
	bus_start

	spawn "$MEMCG_V2" "$BIN/mg-protected" --mib 16 --seconds 240 --log "$WORK/protected.signals"
	PROTECTED=$SPAWN_PID
	spawn "$MEMCG_V2" "$BIN/mg-foreground" --mib 16 --seconds 240 --log "$WORK/foreground.signals"
	FOREGROUND=$SPAWN_PID
	READERS=()
	for i in 1 2 3; do
		spawn "$MEMCG_V2" "$BIN/mg-background" --file "$WORK/ws$i" --size-mib 50 --seconds "$reader_seconds"
		READERS+=("$SPAWN_PID")
	done
	# Until each has read its whole file at least once (its working set is in).
	wait_until 30 readers_done_a_pass 50 "${READERS[@]}" || fail "the background readers did not get going"

	OOM_BEFORE=$(memcg_oom_kills)
	start_daemon --system "$@" --config "$WORK/incident.conf" --scope "$MEMCG_SCOPE" --state-dir "$WORK/state"
	set_foreground "$FOREGROUND"
	spawn "$MEMCG_V2" "$BIN/mg-runaway" --rate-mib 10 --max-mib "$hog_max" --seconds "$hog_seconds" >/dev/null
	HOG=$SPAWN_PID
	HOG_STARTED=$EPOCHREALTIME
	echo "incident: protected $PROTECTED, foreground $FOREGROUND, readers ${READERS[*]}, hog $HOG (to $hog_max MiB)"
}

# What must hold for the bystanders of the incident whatever memguard did:
# protected and foreground never signalled (their mg-sentinel logs stay
# empty), never seen stopped, never named in an event line (not even a
# dry-run one, nor a failed throttle or cap), readers never stopped, frozen
# or killed, and all of them still running.
incident_check_bystanders() {
	local p
	for p in "$PROTECTED" "$FOREGROUND"; do
		alive "$p" || fail "pid $p (protected/foreground) is gone"
		ever_stopped "$p" && fail "pid $p (protected/foreground) was seen stopped"
		grep -aE -- "$(acted_re '[a-z-]+' "$p")" "$LOG" &&
			fail "memguard acted (or would have) on pid $p (protected/foreground)"
	done
	[ -s "$WORK/protected.signals" ] && fail "the protected process got signals: $(cat "$WORK/protected.signals")"
	[ -s "$WORK/foreground.signals" ] && fail "the foreground process got signals: $(cat "$WORK/foreground.signals")"
	for p in "${READERS[@]}"; do
		alive "$p" || fail "background reader $p did not survive"
		ever_stopped "$p" && fail "background reader $p was seen stopped"
		action_lines 'freeze|kill|checkpoint' "$p" && fail "memguard froze or killed background reader $p"
	done
	return 0
}

# criu_check: the installed criu (skip without one) and what `criu check` says:
# sets CRIU, CHECK_OUT (its output) and CHECK_RC (its exit status).
criu_check() {
	CRIU=$(command -v criu || true)
	[ -n "$CRIU" ] || skip "criu is not installed (tools/install-deps --tests)"
	CHECK_OUT=$("$CRIU" check 2>&1)
	CHECK_RC=$?
}
