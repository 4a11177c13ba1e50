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
exit $rc
