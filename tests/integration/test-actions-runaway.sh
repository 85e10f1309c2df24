#!/bin/bash
# SPDX-License-Identifier: MIT
# Runaway (issue 4): real processes under real memory pressure in a 256 MiB
# memory cgroup, memguardd --scope on it, acting for real.
#
# A hog grows at 10 MiB/s towards 400 MiB -- more than the limit, so
# without memguard the kernel's memcg OOM killer would end it -- beside a
# protected process (on the [protect] list by its exe path), the
# foreground process (marked by the real SetForeground hint over a private
# system bus) and three background readers whose working sets fit in the
# limit (see incident_start in lib-actions.sh). Once the hog pushes the
# readers' page cache out, they stall (PSI) and memguard must stop the hog.
#
# Asserts, from the daemon's log AND from the processes themselves:
#   - an event line freezes or kills the hog (result=ok), and the hog is
#     really stopped (gone, or in state T); a kill's result line says ok;
#   - the pressure ends: the level comes back to normal after that;
#   - protected and foreground are never signalled (their mg-sentinel logs
#     stay empty), never seen stopped, never named in an event line (no
#     freeze, kill, throttle or cap, not even a failed one);
#   - the readers are never stopped, frozen or killed, and still run;
#   - the test cgroup's own OOM kill count does not move;
#   - memguardd stops cleanly on SIGTERM.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-actions.sh"

why=$(memcg_supported) || skip "$why"
setup_work runaway
memcg_create "memguard-test-runaway-$$" 256 || fail "cannot create test cgroups"

incident_start 400 90 120
monitor_start "$PROTECTED" "$FOREGROUND" "${READERS[@]}"

# memguard must stop the hog well before it could reach the limit (~22 s).
if ! wait_for_log "$(acted_re 'freeze|kill' "$HOG").* result=ok" 60; then
	echo "hog $HOG state $(proc_state "$HOG"), $(memcg_usage_mib) MiB charged, OOM kills $OOM_BEFORE -> $(memcg_oom_kills)"
	fail "memguard did not stop the hog"
fi
echo "stopped after $(elapsed_ms "$HOG_STARTED") ms: $(action_lines 'freeze|kill' "$HOG" | head -n1 | sed 's/ action=.*//')"

# Really stopped: frozen now, or gone for good (a kill).
case $(proc_state "$HOG") in
T | t) ;;
*) wait_until 10 eval '! alive $HOG' || fail "hog $HOG still runs (state $(proc_state "$HOG")) after the action" ;;
esac

# The pressure ends (if the hog was only frozen and the readers still stall,
# memguard goes on to kill it: either way the level comes back to normal).
wait_for_log '^pressure falling level=normal ' 60 || fail "the pressure did not end after the hog was stopped"
if action_lines kill "$HOG" >/dev/null; then
	wait_for_log "$(acted_re kill-result "$HOG").* result=ok" 15 || fail "no successful kill-result line for the hog"
	alive "$HOG" && fail "hog $HOG killed but still running"
else
	[ "$(proc_state "$HOG")" = T ] || fail "hog $HOG neither killed nor stopped (state $(proc_state "$HOG"))"
fi
# A little longer: the readers go on once the pressure is gone.
sleep 2
monitor_stop

incident_check_bystanders
# Counted in the test's own memory cgroup: the machine-wide oom_kill of
# /proc/vmstat is moved by other people's work on this shared machine.
oom_after=$(memcg_oom_kills)
[ "$oom_after" = "$OOM_BEFORE" ] || fail "OOM kills in the test cgroup moved: $OOM_BEFORE -> $oom_after"

stop_daemon || fail "memguardd did not exit cleanly on SIGTERM"
show_actions
echo "ok: hog stopped, pressure over, bystanders untouched, OOM kills unchanged ($OOM_BEFORE)"
