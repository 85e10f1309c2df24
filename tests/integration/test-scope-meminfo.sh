#!/bin/bash
# SPDX-License-Identifier: MIT
# memguardd --scope on a cgroup whose only process lives in a sub-cgroup
# (apps in their own scopes, as systemd and the benchmark place them): the
# memory figures must be the scope's limit and headroom, found on hybrid
# hosts through the v1 memory cgroup of a process below the scope, not the
# whole machine's.
set -u
. "$(dirname "$0")/lib.sh"

why=$(memcg_supported) || skip "$why"

WORK=$(mktemp -d /var/tmp/memguard-test.XXXXXX)
LOG=$WORK/daemon.log
DAEMON_PID=
HOG_PID=
cleanup() {
	[ -n "$DAEMON_PID" ] && kill -KILL "$DAEMON_PID" 2>/dev/null
	[ -n "$HOG_PID" ] && kill -KILL "$HOG_PID" 2>/dev/null && wait "$HOG_PID" 2>/dev/null
	for _ in $(seq 1 50); do
		[ -d "$MEMCG_V2/app.scope" ] || break
		rmdir "$MEMCG_V2/app.scope" 2>/dev/null || sleep 0.1
	done
	memcg_destroy
	rm -rf "$WORK"
}
trap cleanup EXIT

memcg_create "memguard-test-scopemem-$$" 200 || fail "cannot create test cgroups"
mkdir "$MEMCG_V2/app.scope" || fail "cannot create a sub-cgroup"

# 120 MiB held in a 200 MiB limit, from the sub-cgroup (and the v1 memory cgroup on hybrid hosts).
sh -c 'for d in "$0" "$1"; do [ -n "$d" ] && echo $$ >"$d/cgroup.procs"; done; shift; exec "$@"' \
	"$MEMCG_V2/app.scope" "$MEMCG_V1" "$MG_HOG" --rate-mib 400 --max-mib 120 --seconds 30 &
HOG_PID=$!
for _ in $(seq 1 50); do
	rss=$(awk '$1 == "RssAnon:" {print $2}' "/proc/$HOG_PID/status" 2>/dev/null)
	[ "${rss:-0}" -ge $((110 * 1024)) ] && break
	sleep 0.1
done
[ "${rss:-0}" -ge $((110 * 1024)) ] || fail "the hog did not reach 110 MiB (RssAnon ${rss:-?} KiB)"
[ -z "$(cat "$MEMCG_V2/cgroup.procs")" ] || fail "the scope itself should hold no process"

start_daemon --dry-run --scope "$MEMCG_SCOPE" --state-dir "$WORK/state" -v
wait_for_log 'sample score=.* avail=' 15 || fail "no sample logged"
avail=$(grep -Eo 'sample score=.* avail=[0-9.]+' "$LOG" | head -n1 | grep -Eo 'avail=[0-9.]+' | cut -d= -f2)
machine=$(awk '$1 == "MemTotal:" {t = $2} $1 == "MemAvailable:" {a = $2} END {printf "%.1f", 100 * a / t}' /proc/meminfo)
echo "memguard sees ${avail} % available in the scope (machine: ${machine} %)"
# 200 MiB limit, 120 MiB held: about 40 % (plus some file cache); the machine's share would be far higher.
awk -v a="$avail" 'BEGIN { exit !(a < 70) }' ||
	fail "MemAvailable is not the scope's: ${avail} % (machine ${machine} %)"
echo "ok: the scope's figures come from the cgroup below it"
