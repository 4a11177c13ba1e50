#!/usr/bin/env bash
# Guests cannot take xgrantd's last descriptors: under a low RLIMIT_NOFILE,
# two guests allocating every event channel they can run out (ENOSPC)
# while domain 0 still connects and gets ports.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH=$top/$B/bin:$PATH
work=$(mktemp -d /tmp/xgrant-fdres-XXXXXX)
export XGRANT_SOCK=$work/xgrantd.sock
. "$(dirname "$0")/common/check.sh"
trap 'xgrant hv stop >/dev/null 2>&1; rm -rf "$work"' EXIT

# 700 descriptors, 512 of them kept for domain 0.
(ulimit -n 700 && xgrantd --socket "$XGRANT_SOCK") || { echo "xgrantd did not start"; exit 1; }
hog() { # NAME: a guest asking for 300 ports; prints how many it got
    local i cmds=""
    for i in $(seq 300); do cmds+="evtalloc 0"$'\n'; done
    printf '%s' "$cmds" | xgrant run --name "$1" --memory 1M -- xgrant-guest 2>/dev/null | grep -c '^ok'
}
n1=$(hog hog1)
check "a guest gets at most 255 ports ($n1)" test "$n1" -le 255
check "domain 0 still connects (xgrant list)" bash -c 'xgrant list | grep -q Domain-0'
# Many guests at once, each holding its ports while we check.  Each one
# connects and answers a first request before any of them goes on: a guest
# that only connected after the others took every descriptor outside the
# reserve would be refused (that is the reserve working), which the checks
# below must not mistake for domain 0 being locked out.
mkfifo "$work/hold"
for g in 1 2 3; do
    { echo "evtalloc 0"; while [ ! -e "$work/go" ]; do sleep 0.05; done
      for i in $(seq 299); do echo "evtalloc 0"; done; cat "$work/hold"; } |
        xgrant run --name "held$g" --memory 1M -- xgrant-guest >"$work/held$g.out" 2>/dev/null &
done
for i in $(seq 300); do # at most 30 s for the three to connect
    [ "$(cat "$work"/held*.out 2>/dev/null | wc -l)" -ge 3 ] && break
    sleep 0.1
done
check "the three guests connected first ($(grep -c '^ok' "$work"/held*.out | tr '\n' ' '))" \
    test "$(grep -c '^ok' "$work"/held*.out | grep -c ':1$')" -eq 3
touch "$work/go"
prev=-1 # wait until the guests' answers stop coming (at most 10 s)
for i in $(seq 50); do
    sleep 0.2
    now=$(cat "$work"/held*.out 2>/dev/null | wc -l)
    [ "$now" -ge 900 ] || [ "$now" -eq "$prev" -a "$now" -gt 0 ] && break
    prev=$now
done
got=$(grep -c '^ok' "$work"/held*.out | awk -F: '{s+=$2} END {print s}')
nospc=$(grep -c 'ENOSPC' "$work"/held*.out | awk -F: '{s+=$2} END {print s}')
check "three guests together were stopped short of the reserve ($got ports, $nospc ENOSPC)" test "$nospc" -gt 0
check "domain 0 still connects while they hold everything" bash -c \
    'xgrant list | grep -q held1 && xgrant list | grep -q held2 && xgrant list | grep -q held3'
echo >"$work/hold" &
wait
check_done
