#!/bin/bash
# SPDX-License-Identifier: MIT
# Dry run (issue 4): the runaway incident of test-actions-runaway.sh under
# memguardd --dry-run. The processes, rules, foreground hint and readers are
# the same; the hog stops growing at 160 MiB (instead of 400), so that, with
# memguard not acting, the kernel has no reason to OOM-kill it: the real
# pressure is there (the readers' page cache is pushed out, PSI rises), and
# the hog must reach its natural end (its own 30 s alarm).
#
# Asserts:
#   - the daemon says what it would do: a "dry run: would have frozen" or
#     "... killed" line (dry_run=yes) names the hog, as the real run acts;
#   - no event line says an action was taken (every one on a process is a
#     dry-run line);
#   - no process of the test is ever seen stopped (state T), none gets a
#     signal from memguard (the mg-sentinel logs stay empty), no cgroup is
#     frozen and no frozen registry is written;
#   - the hog runs to its natural end (exit by its own SIGALRM, status 142),
#     the readers survive, the OOM kill count of the cgroup does not move.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-actions.sh"

why=$(memcg_supported) || skip "$why"
setup_work dry-run
memcg_create "memguard-test-dry-run-$$" 256 || fail "cannot create test cgroups"

incident_start 160 30 90 --dry-run
grep -q 'dry_run=yes' "$LOG" || fail "memguardd did not start in dry-run mode"
monitor_start "$PROTECTED" "$FOREGROUND" "${READERS[@]}" "$HOG"

wait_for_log "^(warning: )?dry run: would have (frozen|killed) mg-runaway \(pid $HOG\): .*$(acted_re 'freeze|kill' "$HOG").* dry_run=yes result=ok" 60 ||
	fail "no dry-run freeze or kill of the hog under real pressure"
echo "would act after $(elapsed_ms "$HOG_STARTED") ms: $(dry_run_lines 'freeze|kill' "$HOG" | head -n1 | sed 's/ action=.*//')"

# The hog lives on to its own end: its 30 s alarm.
wait_until 60 eval '! alive $HOG' 2>/dev/null || fail "the hog did not end"
wait "$HOG" 2>/dev/null
rc=$?
[ "$rc" = 142 ] || fail "the hog ended with status $rc, not by its own alarm (142)"
echo "hog ended by its own alarm after $(elapsed_ms "$HOG_STARTED") ms"
monitor_stop

acted=$(grep -aE ' action=[a-z-]+ pid=[0-9]+ ' "$LOG" | grep -av ' dry_run=yes ')
[ -z "$acted" ] || fail "memguardd acted although in dry run: $(echo "$acted" | head -n 3)"
[ -s "$WORK/states" ] && fail "processes were seen stopped in dry run: $(head -n 5 "$WORK/states")"
[ -e "$WORK/state/frozen.json" ] && fail "a frozen registry was written in dry run"
cgroup_frozen "$MEMCG_V2" && fail "the test cgroup is frozen"
incident_check_bystanders
# Counted in the test's own memory cgroup: the machine-wide oom_kill of
# /proc/vmstat is moved by other people's work on this shared machine.
oom_after=$(memcg_oom_kills)
[ "$oom_after" = "$OOM_BEFORE" ] || fail "OOM kills in the test cgroup moved: $OOM_BEFORE -> $oom_after"

stop_daemon || fail "memguardd did not exit cleanly on SIGTERM"
echo "$(grep -acE "^(warning: )?dry run: would have " "$LOG") dry-run decisions, e.g.:"
grep -aE "^(warning: )?dry run: would have " "$LOG" | grep -Ev ' action=(cap|throttle) ' | sed 's/ action=.*//' | head -n 3
echo "ok: nothing signalled, stopped or frozen; the hog ran to its end"
