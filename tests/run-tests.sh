#!/usr/bin/env bash
# Runs every test: cmocka unit tests, then integration programs and
# scripts (exit 0 pass, 1 fail, 77 skip).  Prints one line per test and a
# final "N passed, N failed, N skipped" line; exits 1 if anything failed.
set -u
B=${B:-build}
# Every test starts its own xgrantd; a store path exported by the user
# would make them all bind (and talk to) the same one.
unset XENSTORED_PATH XGRANT_SOCK
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tools/confine-reach.sh
confine_reach "$top/$B"
logdir=$(mktemp -d /tmp/xgrant-tests-XXXXXX)
pass=0 fail=0 skip=0 failed=()

run_one() { # name, command...
    local name=$1; shift
    local log="$logdir/${name//\//_}.log" start rc ms
    start=${EPOCHREALTIME/./}
    timeout 300 "$@" >"$log" 2>&1
    rc=$?
    ms=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
    local secs; secs=$(printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)))
    case $rc in
        0) pass=$((pass + 1)); printf 'PASS  %-40s %5ss\n' "$name" "$secs" ;;
        77) skip=$((skip + 1)); printf 'SKIP  %-40s %s\n' "$name" "$(tail -n 1 "$log")" ;;
        *) fail=$((fail + 1)); failed+=("$name")
           printf 'FAIL  %-40s (exit %d)\n' "$name" "$rc"
           grep -E 'not ok|FAILED|ERROR|error|Assertion|Sanitizer' "$log" | head -n 20 | sed 's/^/      /'
           echo "      full log: $log" ;;
    esac
}

echo "== unit tests (cmocka)"
for t in "$B"/tests/unit/test_*; do
    [ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
done
echo "== integration tests"
for t in "$B"/tests/integration/*; do
    [ -f "$t" ] && [ -x "$t" ] && run_one "integration/$(basename "$t")" "$t"
done
for t in tests/integration/*.sh; do
    [ -f "$t" ] && run_one "integration/$(basename "$t")" env B="$B" bash "$t"
done
echo
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
[ "$fail" -eq 0 ] && rm -rf "$logdir"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
