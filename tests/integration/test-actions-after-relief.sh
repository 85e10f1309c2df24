#!/bin/bash
# SPDX-License-Identifier: MIT
# Once the runaway is stopped and the pressure is gone, nothing more is
# killed -- with the shipped timing (calm-seconds 10, kill-cooldown-seconds
# 5), not the shortened one of test-actions-runaway.sh.
#
# The incident is the runaway one (lib-actions.sh: a hog growing past the
# 256 MiB limit beside a protected process, a foreground-marked one and three
# background readers that fit). After memguard kills the hog, PSI shows no
# stall at all, but the level only falls one step per 10 s of calm, so it
# stays at critical (or emergency) for a while. The readers are normal
# processes memguard may kill at critical "for the amount" -- but the amount
# is zero and nothing stalls any more: killing one of them then is killing
# an innocent process for nothing.
#
# Asserts: the hog is killed; until the level is back at normal, no kill
# line names any other process, and the readers survive; the OOM kill count
# of the cgroup does not move.
#
# This failed before memguardd stopped planning kills once the current score
# no longer supports critical (manager_decide): with calm-seconds (10)
# longer than kill-cooldown-seconds (5), the planner planned a "memory
# stalls although N MiB is available" kill of a reader as soon as the
# cool-down was over, on the damped level alone.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-actions.sh"

why=$(memcg_supported) || skip "$why"
setup_work after-relief
memcg_create "memguard-test-relief-$$" 256 || fail "cannot create test cgroups"

# The shipped level timing and cool-down; the hog may only be killed (not
# frozen at high first), so that the incident always ends with a kill.
INCIDENT_LEVELS='' INCIDENT_COOLDOWN='' INCIDENT_HOG_ACTIONS=kill incident_start 400 120 150
monitor_start "$PROTECTED" "$FOREGROUND" "${READERS[@]}"

wait_for_log "$(acted_re kill "$HOG").* result=ok" 60 || fail "memguard did not kill the hog"
echo "hog killed after $(elapsed_ms "$HOG_STARTED") ms"
# Down from critical or emergency, 10 s per level.
wait_for_log '^pressure falling level=normal ' 90 || fail "the level did not come back to normal"
echo "back to normal after $(elapsed_ms "$HOG_STARTED") ms"
monitor_stop

others=$(action_lines kill '[0-9]+' | grep -v " action=kill pid=$HOG ")
[ -z "$others" ] || fail "memguard killed more once the pressure was gone: $(echo "$others" | sed 's/ action=.*//')"
incident_check_bystanders
# Counted in the test's own memory cgroup: the machine-wide oom_kill of
# /proc/vmstat is moved by other people's work on this shared machine.
oom_after=$(memcg_oom_kills)
[ "$oom_after" = "$OOM_BEFORE" ] || fail "OOM kills in the test cgroup moved: $OOM_BEFORE -> $oom_after"
stop_daemon || fail "memguardd did not exit cleanly on SIGTERM"
echo "ok: only the hog was killed"
