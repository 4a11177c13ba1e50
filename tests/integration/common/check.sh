# check.sh: sourced by the integration scripts (not a test itself).
#   check WHAT CMD...   CMD must succeed; prints "ok WHAT" / "not ok WHAT"
#   check_done          prints the count line; returns 1 if anything failed
ok=0 bad=0
check() {
    local what=$1
    shift
    if "$@"; then
        ok=$((ok + 1)); echo "ok $what"
    else
        bad=$((bad + 1)); echo "not ok $what"
    fi
}
check_done() {
    echo "# $ok checks passed, $bad failed"
    [ "$bad" -eq 0 ]
}
