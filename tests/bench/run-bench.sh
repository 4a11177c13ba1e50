#!/usr/bin/env bash
# Runs every benchmark under tests/bench; each prints its own ratios.
set -u
B=${B:-build}
rc=0
for b in "$B"/tests/bench/*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b" | grep -v '^ok ' || rc=1
done
# Scripts (tests/bench/*-bench): each prints its own ratios; 77 is a skip.
for s in tests/bench/*-bench; do
    [ -f "$s" ] || continue
    echo "== $(basename "$s")"
    B="$B" bash "$s"
    r=$?
    [ $r -eq 0 ] || [ $r -eq 77 ] || rc=1
done
# The bystander bound (issue 11): the long runs of make test's two checks,
# in the core (CPU time of the longest call) and through xgrantd (wall).
for b in "$B"/tests/unit/test_bound "$B"/tests/integration/bound; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b") (XGRANT_BOUND_LONG=1)"
    out=$(XGRANT_BOUND_LONG=1 "$b" 2>&1) || rc=1
    grep -E '^bound|^not ok|FAILED' <<<"$out"
done
exit $rc
