#!/usr/bin/env bash
# stub-back.sh: a stand-in backend daemon for the toolstack tests (not a
# test itself).  Installed as .../xgrant-blkback or .../xgrant-netback (the
# name says the kind), it plays the xenbus side of a backend in the domain
# it runs in, as backend/common's state machine does: every device of its
# kind in Initialising goes to InitWait; frontend Closing: Closing;
# frontend Closed or gone: Closed.
# STUB_MODE (from the file $STUB_DIR/mode, read at each pass): "ok",
# "never" (does nothing, as a hung driver), "fail" (writes `error` and goes Closing), "die"
# (exits at once).  Each pass logs nothing; it exits on SIGTERM or when the
# store is gone.
case $(basename "$0") in
    xgrant-blkback) kind=vbd ;;
    xgrant-netback) kind=vif ;;
    *) echo "stub-back: unknown name $0" >&2; exit 2 ;;
esac
trap 'kill "$WATCH_PID" 2>/dev/null; exit 0' TERM
self=$(xenstore-read domid 2>/dev/null) || self=0
base=/local/domain/$self/backend/$kind
echo "stub $kind backend in domain $self (pid $$), sockets $(find /proc/$$/fd -lname 'socket:*' | wc -l)" >&2
# Conditional writes in one store transaction (tests/integration/stub/
# xs-txn.c, built next to the stubs' directory).
txn=$(dirname "$0")/../xs-txn
[ -x "$txn" ] || { echo "stub-back: no $txn (make test builds it)" >&2; exit 2; }
# One pass: this backend's directory in one read, each frontend's state in
# one more; each device's writes are made in one transaction, only if its
# state, its frontend's state and its frontend link are still what they
# were decided on, so a directory the toolstack removed meanwhile is not
# brought back (as backend/common's switch_state refuses to) and nothing
# written in between is overwritten.
pass_writes() {
    local mode=$1 d st fe fest w chk
    xenstore-ls -f "$base" 2>/dev/null | awk -v base="$base/" '
        { v = $0; sub(/^[^=]* = "/, "", v); sub(/"$/, "", v); val[$1] = v }
        END {
            for (p in val)
                if (p ~ /\/state$/) {
                    d = substr(p, 1, length(p) - 6)
                    print d, val[p], val[d "/frontend"]
                }
        }' | while read -r d st fe; do
        chk=(-e "$d/state" "$st" -x "$d/frontend")
        if fest=$(xenstore-read "$fe/state" 2>/dev/null); then
            chk+=(-e "$fe/state" "$fest")
        else
            fest=6
        fi
        w=
        if [ "$st" != 6 ] && [ "$fest" -ge 6 ]; then
            w="$d/state 6"
        elif [ "$st" != 5 ] && [ "$st" != 6 ] && [ "$fest" = 5 ]; then
            w="$d/state 5"
        elif [ "$st" = 1 ] && [ "$mode" = ok ]; then
            w="$d/state 2"
        elif [ "$st" = 1 ] && [ "$mode" = fail ]; then
            w="$d/error \"stub: refusing $kind ${d##*/}\" $d/state 5"
        fi
        [ -n "$w" ] && eval "\"\$txn\" \"\${chk[@]}\" -- $w"
    done
}
# Passes run on each store event (a watch on /, events coalesced) and at
# least every 0.3 s; at most 5 minutes.
coproc WATCH { exec stdbuf -oL xenstore-watch / 2>/dev/null; }
while [ "$SECONDS" -lt 300 ]; do
    mode=$(cat "${STUB_DIR:-/nonexistent}/mode" 2>/dev/null || echo ok)
    [ "$mode" = die ] && exit 3
    xenstore-read /local/domain/$self/domid >/dev/null 2>&1 || exit 0
    [ "$mode" != never ] && pass_writes "$mode" # "never": a driver that hangs
    read -r -t 0.3 -u "${WATCH[0]}" _ 2>/dev/null
    while read -r -t 0.02 -u "${WATCH[0]}" _ 2>/dev/null; do :; done
done
