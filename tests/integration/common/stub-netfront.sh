#!/usr/bin/env bash
# stub-netfront.sh: a stand-in for xgrant-netfront in the toolstack tests
# (not a test itself).  Says what it was given and who it runs as (its
# uid, the domain the store says it is, what fd 3 is, how many sockets it
# was handed: none should be), then, as the real
# one, exits once its device closes (its frontend state Closing or later).
echo "stub netfront $* uid $(id -u) domid $(xenstore-read domid 2>&1) fd3 $(readlink /proc/$$/fd/3) sockets $(find /proc/$$/fd -lname 'socket:*' | wc -l)"
devid=${2:-0}
for _ in $(seq 3000); do
    st=$(xenstore-read "device/vif/$devid/state" 2>/dev/null) || exit 0
    [ "$st" -ge 5 ] && exit 0
    sleep 0.1
done
