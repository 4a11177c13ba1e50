#!/usr/bin/env bash
# Checks `make hv`'s three promises besides building (run after one make hv):
#   1. a re-run with nothing changed is a no-op ("up to date", no Xen make);
#   2. a patch that does not apply fails the build, naming the patch, and
#      leaves the build tree and results alone;
#   3. make knows when the result is stale: `make lab` runs build.sh first
#      when the series, a patch, build.sh or a core file is newer than the
#      last run (make -W: "as if newer", nothing touched), and not otherwise.
# Exit 0 pass, 1 fail, 77 skip (no make hv yet).
set -uo pipefail
cd "$(dirname "$0")/.."
HV=${HV_DIR:-build-hv}
[ -f "$HV/xen.elf" ] && [ -d "$HV/xen/pristine" ] ||
    { echo "hv-check: SKIP: no make hv result in $HV yet"; exit 77; }
fail=0
out=$(HV_DIR=$HV ./hv-patches/build.sh 2>&1)
if grep -q 'up to date' <<<"$out"; then echo "hv-check: PASS re-run: $(head -n1 <<<"$out")"
else echo "hv-check: FAIL re-run did work:"; echo "$out" | tail -5; fail=1; fi

tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
cp hv-patches/series hv-patches/*.patch "$tmp/"
victim=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$tmp/series" | tail -n1)
# Break the last patch: a context line that Xen does not have.
awk '!done && /^ / && seen { print " xgrant-check: no such line"; done = 1; next }
     /^@@/ { seen = 1 } { print }' "$tmp/$victim" >"$tmp/x" && mv "$tmp/x" "$tmp/$victim"
before=$(stat -c %Y "$HV/xen.elf")
out=$(HV_DIR=$HV HV_PATCHES=$tmp ./hv-patches/build.sh 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "FAIL: hv-patches/$victim does not apply" <<<"$out" &&
   [ "$(stat -c %Y "$HV/xen.elf")" = "$before" ]; then
    echo "hv-check: PASS broken patch: $(grep 'does not apply' <<<"$out")"
else
    echo "hv-check: FAIL broken patch: rc $rc"; echo "$out" | tail -5; fail=1
fi
out=$(HV_DIR=$HV ./hv-patches/build.sh 2>&1)
grep -q 'up to date' <<<"$out" || { echo "hv-check: FAIL: the failed run disturbed the cache"; fail=1; }

# 3. (the last run above left the stamp: nothing is newer than it)
stamp=$HV/.xgrant-made-flask0
last=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' hv-patches/series | tail -n1)
core=$(ls libgrant/core/*.c | head -n1)
stale=0
out=$(make -n HV_DIR="$HV" LAB_BOOTS=patched lab 2>&1)
grep -qF "$stamp" <<<"$out" ||
    { echo "hv-check: FAIL: make lab does not bring $stamp up to date"; stale=1; }
for f in hv-patches/series "hv-patches/$last" hv-patches/build.sh "$core"; do
    make -q HV_DIR="$HV" -W "$f" "$stamp" ||
        continue
    echo "hv-check: FAIL: $stamp is up to date for make after $f changed"; stale=1
done
make -q HV_DIR="$HV" "$stamp" ||
    { echo "hv-check: FAIL: make would run build.sh with nothing changed ($stamp)"; stale=1; }
[ $stale = 1 ] || echo "hv-check: PASS stale: make lab runs build.sh after series, $last, build.sh, $core change; not with nothing changed"
fail=$((fail + stale))
echo "hv-check: $((3 - fail)) passed, $fail failed"
exit $fail
