# Sourced by tests/run-tests.sh and tools/demo.sh.  A root xgrantd runs each
# domain as a uid of its own (docs/xgrantd.8), which must reach the programs
# it runs; it refuses a program below a directory other users cannot search.
# confine_reach DIR: when root and such a directory is on DIR's way, says so
# in one line and exports XGRANTD_CONFINE=0 (confinement off) for this run.
confine_reach() {
    local d closed=
    [ "$(id -u)" -eq 0 ] && [ "${XGRANTD_CONFINE:-}" != 0 ] || return 0
    for d in "$1" "$(realpath -m "$1")"; do
        while [ -z "$closed" ]; do
            if [ -d "$d" ] && (( (8#$(stat -L -c %a "$d") & 1) == 0 )); then
                closed=$d
            fi
            [ "$d" = / ] && break
            d=$(dirname "$d")
        done
    done
    [ -n "$closed" ] || return 0
    echo "NOTE: $closed is not searchable by other users, so domains cannot" \
        "run this tree's programs as their own uid: confinement is OFF for" \
        "this run (XGRANTD_CONFINE=0), its tests skip; to run them, clone" \
        "into a path every directory of which is searchable (chmod o+x)"
    export XGRANTD_CONFINE=0
}
