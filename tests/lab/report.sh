#!/usr/bin/env bash
# Counts the XLAB lines of a lab run's serial log and prints the timings.
#   usage: report.sh SERIAL_LOG BOOT_SECONDS TOTAL_SECONDS
set -uo pipefail
log=$1
tr -d '\r' <"$log" >"$log.txt"
grep -E '^XLAB-T ' "$log.txt" | awk '{printf "lab: dom0 %-16s at %6.1f s uptime\n", $2, $3}'
grep -E '^XLAB (dom0|guest) (PASS|FAIL|NOTRUN) ' "$log.txt" | sed 's/^XLAB /lab: /'
grep -E '^XLAB-(BENCH|FUZZ) ' "$log.txt" | sed 's/^/lab: /'
grep -E '^XLAB-NOTE ' "$log.txt" | sed 's/^XLAB-NOTE /lab: note: /'
pass=$(grep -cE '^XLAB (dom0|guest) PASS ' "$log.txt")
fail=$(grep -cE '^XLAB (dom0|guest) FAIL ' "$log.txt")
notrun=$(grep -cE '^XLAB (dom0|guest) NOTRUN ' "$log.txt")
if ! grep -q '^XLAB-DONE' "$log.txt"; then
    echo "lab: the run did not finish; last serial lines:"
    tail -25 "$log.txt" | sed 's/^/  | /'
    fail=$((fail + 1))
fi
echo "lab: QEMU run $2 s, whole make lab $3 s (TCG: compare ratios, not times)"
[ "$notrun" -eq 0 ] || echo "lab: $notrun case(s) not run"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
