#!/bin/bash
# SPDX-License-Identifier: MIT
# A real checkpoint and restore with criu, where criu works (`criu check`
# passes). Where it does not (this machine's kernel: criu 3.17 fails with
# "vdso: Unexpected rt vDSO area bounds"), the test skips with criu's own
# words; test-checkpoint-fallback.sh shows the fallbacks with the real criu.
#
# Setup as in test-checkpoint-fallback.sh: a 256 MiB test cgroup, "ckpt"
# (100 MiB, checkpoint;kill), then a protected filler (130 MiB) that makes
# the scope's MemAvailable floor critical. Asserts:
#   - ckpt is checkpointed, not killed by memguard: "checkpoint", then
#     "checkpoint-result" ok; it is gone without a SIGTERM (criu ends the
#     dumped tree itself), its images are in <state>/checkpoints/<id>/
#     (root-only, 0700), index.json records it (pid, uid, state "dumped");
#   - once the filler is gone and the level is normal again, it is restored:
#     "restore-result" ok, the same PID runs again, as the same uid, from the
#     same executable, and its record and images are gone.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-actions.sh"

why=$(memcg_supported) || skip "$why"
command -v python3 >/dev/null || skip "python3 is needed to read index.json"
criu_check
if [ "$CHECK_RC" != 0 ]; then
	echo "criu check (exit $CHECK_RC) says:"
	printf '%s\n' "$CHECK_OUT" | sed 's/^/  /'
	skip "criu cannot run on this machine (criu check exit $CHECK_RC: $(printf '%s\n' "$CHECK_OUT" |
		sed -n 's/^Error ([^)]*): //p' | grep -v '^exited, status=' | head -n 1)); no real checkpoint can be shown"
fi

setup_work ckpt
memcg_create "memguard-test-ckpt-$$" 256 || fail "cannot create test cgroups"
copy_bin "$MG_SENTINEL" mg-ckpt || fail "copy"
copy_bin "$MG_SENTINEL" mg-filler || fail "copy"
cat >"$WORK/ckpt.conf" <<CONF
[pressure]
$PSI_ONLY
memavailable-critical-percent=10
memavailable-emergency-percent=1

[levels]
calm-seconds=2

[planner]
grace-seconds=0
headroom-normal-percent=5
thaw-reserve-mib=0
thaw-interval-seconds=0

[actions]
checkpoint=true

[protect]
exe=$BIN/mg-filler

[rule:test-ckpt]
exe=$BIN/mg-ckpt
priority=90
actions=checkpoint;kill
CONF
"$MEMGUARDD" --check-config --config "$WORK/ckpt.conf" >/dev/null || fail "test config rejected"
STATE=$WORK/state

spawn "$MEMCG_V2" "$BIN/mg-ckpt" --mib 100 --seconds 200 --log "$WORK/ckpt.signals" --ready "$WORK/ckpt.ready"
CKPT=$SPAWN_PID
wait_until 10 test -e "$WORK/ckpt.ready" || fail "ckpt did not start"
CKPT_UID=$(awk '$1 == "Uid:" {print $2}' "/proc/$CKPT/status")
start_daemon --system --config "$WORK/ckpt.conf" --scope "$MEMCG_SCOPE" --state-dir "$STATE"
wait_for_log 'checkpoints (available|unavailable)' 15 || fail "memguardd never said whether criu works"
grep -q 'checkpoints available' "$LOG" || fail "criu check passes for the test but not for memguardd: $(grep checkpoints "$LOG")"

spawn "$MEMCG_V2" "$BIN/mg-filler" --mib 130 --seconds 200
FILLER=$SPAWN_PID
T0=$EPOCHREALTIME
wait_for_log "action=checkpoint-result pid=$CKPT " 60 || fail "no checkpoint result for ckpt"
grep "action=checkpoint-result pid=$CKPT " "$LOG" | grep -q 'result=ok' ||
	fail "the checkpoint failed: $(grep 'action=checkpoint-result' "$LOG")"
echo "checkpointed $(elapsed_ms "$T0") ms after the filler started: $(grep "action=checkpoint-result pid=$CKPT " "$LOG" | grep -o 'reason=.*' | cut -c1-240)"
wait_until 10 bash -c "! kill -0 $CKPT 2>/dev/null" || fail "ckpt still runs after its checkpoint"
grep -q 'name=TERM' "$WORK/ckpt.signals" && fail "ckpt got SIGTERM: it was killed, not checkpointed"
grep -q "action=kill pid=$CKPT " "$LOG" && fail "ckpt was killed by memguard"
[ "$(stat -c %a "$STATE/checkpoints")" = 700 ] || fail "the checkpoints directory is not 0700"
python3 - "$STATE/checkpoints/index.json" "$CKPT" "$CKPT_UID" "$BIN/mg-ckpt" <<'PY' || fail "index.json is wrong"
import json, os, sys
idx, pid, uid, exe = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
recs = json.load(open(idx))["checkpoints"]
assert len(recs) == 1, recs
r = recs[0]
assert (r["pid"], r["uid"], r["exe"], r["state"]) == (pid, uid, exe, "dumped"), r
d = os.path.join(os.path.dirname(idx), r["id"])
imgs = [f for f in os.listdir(d) if f.endswith(".img")]
assert imgs, f"no images in {d}"
assert os.stat(d).st_mode & 0o777 == 0o700, oct(os.stat(d).st_mode)
print(f"record {r['id']}: {len(imgs)} images, {r['bytes'] >> 20} MiB held")
PY

# Calm again: the filler goes, and ckpt comes back.
kill "$FILLER" 2>/dev/null
wait "$FILLER" 2>/dev/null
T1=$EPOCHREALTIME
wait_for_log "action=restore-result " 90 || fail "ckpt was not restored"
grep "action=restore-result " "$LOG" | grep -q 'result=ok' || fail "the restore failed: $(grep 'action=restore-result' "$LOG")"
echo "restored $(elapsed_ms "$T1") ms after the filler went: $(grep 'action=restore-result' "$LOG" | grep -o 'reason=.*' | cut -c1-200)"
alive "$CKPT" || fail "pid $CKPT does not run after the restore"
[ "$(readlink "/proc/$CKPT/exe")" = "$BIN/mg-ckpt" ] || fail "pid $CKPT is not mg-ckpt after the restore"
[ "$(awk '$1 == "Uid:" {print $2}' "/proc/$CKPT/status")" = "$CKPT_UID" ] || fail "restored with another uid"
grep -q '"id"' "$STATE/checkpoints/index.json" && fail "the record of a restored checkpoint is still there"
[ -z "$(find "$STATE/checkpoints" -mindepth 1 -maxdepth 1 -type d)" ] || fail "images of a restored checkpoint are still there"
kill -KILL "$CKPT" 2>/dev/null
echo "PASS: checkpointed under pressure, restored when calm as the same process and user"
