#!/usr/bin/env bash
# Counts the XLAB lines of one boot's serial log and prints the timings;
# appends "PASS FAIL SKIP" to COUNTS for run.sh's total.
#   usage: report.sh SERIAL_LOG BOOT_SECONDS LABEL COUNTS
set -uo pipefail
log=$1 label=$3 counts=$4
p="lab: [$label]"
tr -d '\r' <"$log" >"$log.txt"
grep -E '^XLAB-T ' "$log.txt" | awk -v p="$p" '{printf "%s dom0 %-16s at %6.1f s uptime\n", p, $2, $3}'
grep -E '^XLAB (dom0|guest) (PASS|FAIL|NOTRUN|SKIP) ' "$log.txt" | sed "s/^XLAB /$p /"
grep -E '^XLAB-(BENCH|FUZZ|LOCK|SETTLE|MULTI) ' "$log.txt" | sed "s/^/$p /"
grep -E '^XLAB-NOTE ' "$log.txt" | sed "s/^XLAB-NOTE /$p note: /"
pass=$(grep -cE '^XLAB (dom0|guest) PASS ' "$log.txt")
fail=$(grep -cE '^XLAB (dom0|guest) FAIL ' "$log.txt")
notrun=$(grep -cE '^XLAB (dom0|guest) NOTRUN ' "$log.txt")
skip=$(grep -cE '^XLAB (dom0|guest) SKIP ' "$log.txt")
if ! grep -q '^XLAB-DONE' "$log.txt"; then
    echo "$p the run did not finish; last serial lines:"
    tail -25 "$log.txt" | sed 's/^/  | /'
    fail=$((fail + 1))
fi
[ "$pass" -gt 0 ] || fail=$((fail + 1))
echo "$p QEMU run $2 s (TCG: compare ratios, not times)"
[ "$notrun" -eq 0 ] || echo "$p $notrun case(s) not run"
echo "$p $pass passed, $fail failed, $skip skipped"
echo "$pass $fail $skip" >>"$counts"
