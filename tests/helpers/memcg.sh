# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Memory-limited cgroups for tests and benchmarks (see ../shared/TESTING.md).
#
# On a hybrid host (v1 controllers + cgroup2 "unified" without controllers)
# a workload goes into two cgroups: a v1 memory cgroup with a limit, nested
# under the caller's own v1 memory cgroup, and a v2 cgroup whose
# memory.pressure shows the stall caused by that limit. On a pure v2 host
# one v2 cgroup with memory.max does both.
#
#   memcg_create NAME LIMIT_MIB   sets MEMCG_V2 (absolute dir), MEMCG_SCOPE
#                                 (path relative to the cgroup2 mount) and
#                                 MEMCG_V1 (v1 dir or empty)
#   memcg_spawn CMD...            start CMD inside the cgroups, in the
#                                 background; its PID is in $MEMCG_PID
#   memcg_destroy                 kill what is left inside and remove both

MEMCG_V2_MOUNT=$(awk '{for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") print $5; break }}' /proc/self/mountinfo | head -n1)
MEMCG_V1_MOUNT=$(awk '{for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup" && $(i+3) ~ /(^|,)memory(,|$)/) print $5; break }}' /proc/self/mountinfo | head -n1)
MEMCG_V1=
MEMCG_V2=
MEMCG_SCOPE=

memcg_supported() {
	[ "$(id -u)" = 0 ] || { echo "needs root"; return 1; }
	[ -n "$MEMCG_V2_MOUNT" ] || { echo "no cgroup2 mount"; return 1; }
	if [ -z "$MEMCG_V1_MOUNT" ] && ! grep -qw memory "$MEMCG_V2_MOUNT/cgroup.controllers" 2>/dev/null; then
		echo "no memory controller (neither v1 nor v2)"
		return 1
	fi
	return 0
}

memcg_create() {
	local name=$1 limit_mib=$2 parent
	MEMCG_V2=$MEMCG_V2_MOUNT/$name
	MEMCG_SCOPE=/$name
	mkdir "$MEMCG_V2" || return 1
	if [ -n "$MEMCG_V1_MOUNT" ]; then
		parent=$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
		MEMCG_V1=$MEMCG_V1_MOUNT${parent%/}/$name
		mkdir "$MEMCG_V1" || return 1
		echo $((limit_mib * 1024 * 1024)) >"$MEMCG_V1/memory.limit_in_bytes" || return 1
		# No swap for the workload, like memory.swap.max=0 below: if someone
		# turns on (zram) swap on the machine meanwhile, the test's memory
		# must not go there (a limit that swaps is not the pressure asked for).
		echo 0 >"$MEMCG_V1/memory.swappiness" 2>/dev/null || true
		if [ -w "$MEMCG_V1/memory.memsw.limit_in_bytes" ]; then
			echo $((limit_mib * 1024 * 1024)) >"$MEMCG_V1/memory.memsw.limit_in_bytes" 2>/dev/null || true
		fi
	else
		echo $((limit_mib * 1024 * 1024)) >"$MEMCG_V2/memory.max" || return 1
		echo 0 >"$MEMCG_V2/memory.swap.max" 2>/dev/null || true
	fi
}

memcg_spawn() {
	# The child moves itself into the cgroups, then execs the workload.
	sh -c 'for d in "$0" "$1"; do [ -n "$d" ] && echo $$ >"$d/cgroup.procs"; done; shift; exec "$@"' \
		"$MEMCG_V2" "$MEMCG_V1" "$@" &
	MEMCG_PID=$!
}

memcg_pids() {
	cat "$MEMCG_V2/cgroup.procs" 2>/dev/null
}

memcg_destroy() {
	local i
	[ -n "$MEMCG_V2" ] || return 0
	# Everything inside was started by the test; cgroup.kill (5.14+) or SIGKILL by PID.
	if [ -d "$MEMCG_V2" ]; then
		echo 1 >"$MEMCG_V2/cgroup.kill" 2>/dev/null || memcg_pids | xargs -r kill -9 2>/dev/null
	fi
	for i in $(seq 1 100); do
		[ -d "$MEMCG_V2" ] && rmdir "$MEMCG_V2" 2>/dev/null
		[ -n "$MEMCG_V1" ] && [ -d "$MEMCG_V1" ] && rmdir "$MEMCG_V1" 2>/dev/null
		[ ! -d "$MEMCG_V2" ] && { [ -z "$MEMCG_V1" ] || [ ! -d "$MEMCG_V1" ]; } && break
		sleep 0.1
	done
	MEMCG_V2=
	MEMCG_V1=
}

# The kernel's OOM kill count (memcg OOM kills included), machine-wide.
oom_kills() {
	awk '$1 == "oom_kill" {print $2}' /proc/vmstat
}

# OOM kills inside the test's own memory cgroup (v1 memory.oom_control or v2
# memory.events): unlike the machine-wide count, nothing else running on the
# machine can move it. Falls back to the machine-wide count.
memcg_oom_kills() {
	local n=
	if [ -n "$MEMCG_V1" ] && [ -r "$MEMCG_V1/memory.oom_control" ]; then
		n=$(awk '$1 == "oom_kill" {print $2}' "$MEMCG_V1/memory.oom_control")
	elif [ -r "$MEMCG_V2/memory.events" ]; then
		n=$(awk '$1 == "oom_kill" {print $2}' "$MEMCG_V2/memory.events")
	fi
	echo "${n:-$(oom_kills)}"
}
