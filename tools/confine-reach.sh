# Sourced by tests/run-tests.sh and tools/demo.sh.  A root xgrantd runs each
# domain as a uid of its own, with a /tmp, /var/tmp, /dev/shm and /run/lock
# of its own (docs/xgrantd.8): it refuses a program below a directory other
# users cannot search, or in one of those.  confine_reach DIR: when root and
# DIR lies so, says so in one line and exports XGRANTD_CONFINE=0
# (confinement off) for this run.
confine_reach() {
    local d p why=
    [ "$(id -u)" -eq 0 ] && [ "${XGRANTD_CONFINE:-}" != 0 ] || return 0
    for d in "$1" "$(realpath -m "$1")"; do
        for p in /tmp /var/tmp /dev/shm /run/lock; do
            [[ $d != "$p"/* ]] ||
                why="it lies in $p, which a confined domain has of its own"
        done
        while [ -z "$why" ]; do
            if [ -d "$d" ] && (( (8#$(stat -L -c %a "$d") & 1) == 0 )); then
                why="$d is not searchable by other users"
            fi
            [ "$d" = / ] && break
            d=$(dirname "$d")
        done
    done
    [ -n "$why" ] || return 0
    echo "NOTE: domains cannot run this tree's programs confined ($why):" \
        "confinement is OFF for this run (XGRANTD_CONFINE=0) and its tests" \
        "skip; to run them, clone outside /tmp into a path every directory" \
        "of which is searchable by others (chmod o+x)"
    export XGRANTD_CONFINE=0
}
