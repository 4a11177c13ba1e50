#!/usr/bin/env bash
# stub-back.sh: a stand-in backend daemon for the toolstack tests (not a
# test itself).  Installed as .../xgrant-blkback or .../xgrant-netback (the
# name says the kind), it plays the xenbus side of a backend in the domain
# it runs in: every device of its kind in Initialising goes to InitWait,
# and to Closed once the toolstack sets online=0 or the frontend closes.
# STUB_MODE (from the file $STUB_DIR/mode, read at each pass): "ok",
# "never" (never probes), "fail" (writes `error` and goes Closing), "die"
# (exits at once).  Each pass logs nothing; it exits on SIGTERM or when the
# store is gone.
case $(basename "$0") in
    xgrant-blkback) kind=vbd ;;
    xgrant-netback) kind=vif ;;
    *) echo "stub-back: unknown name $0" >&2; exit 2 ;;
esac
trap 'exit 0' TERM
self=$(xenstore-read domid 2>/dev/null) || self=0
base=/local/domain/$self/backend/$kind
echo "stub $kind backend in domain $self (pid $$)" >&2
for _ in $(seq 3000); do
    mode=$(cat "${STUB_DIR:-/nonexistent}/mode" 2>/dev/null || echo ok)
    [ "$mode" = die ] && exit 3
    xenstore-read /local/domain/$self/domid >/dev/null 2>&1 || exit 0
    for fe in $(xenstore-list "$base" 2>/dev/null); do
        for dev in $(xenstore-list "$base/$fe" 2>/dev/null); do
            d=$base/$fe/$dev
            st=$(xenstore-read "$d/state" 2>/dev/null) || continue
            online=$(xenstore-read "$d/online" 2>/dev/null)
            fest=$(xenstore-read "$(xenstore-read "$d/frontend" 2>/dev/null)/state" 2>/dev/null)
            if [ "$st" != 6 ] && { [ "$online" = 0 ] || [ "${fest:-0}" -ge 5 ]; }; then
                xenstore-write "$d/state" 6
            elif [ "$st" = 1 ] && [ "$mode" = ok ]; then
                xenstore-write "$d/state" 2
            elif [ "$st" = 1 ] && [ "$mode" = fail ]; then
                xenstore-write "$d/error" "stub: refusing $kind $dev" "$d/state" 5
            fi
        done
    done
    sleep 0.1
done
