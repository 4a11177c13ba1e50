#!/usr/bin/env bash
# xgrant block-list / network-list: xl's columns read from the store (the
# frontend's state, event channel and ring refs; the backend path), the
# backend's statistics/ counters below each device and in --json, and clear
# errors for a bad DOM or a bad command line.  The frontend and backend keys
# are written here by hand (as a driver would), so no driver needs to run.
set -u
. "$(dirname "$0")/common/xgstore.sh"
xgstore_start devlist
truncate -s 1M disk0.img disk1.img
cat >two.cfg <<'EOF'
name = "two"
program = [ "sleep", "600" ]
disk = [ 'vdev=xvda, target=disk0.img', 'vdev=xvdb, access=ro, target=disk1.img' ]
vif = [ 'mac=00:16:3e:12:34:56', 'mac=00:16:3e:00:00:02' ]
EOF
id=$(xgrant create two.cfg 2>"$work/err")
check "create two.cfg ($id) $(cat "$work/err")" test -n "$id"
fe=/local/domain/$id/device
be=/local/domain/0/backend

# Before any driver: the header and the rows with -1 for what is missing.
out=$(xgrant block-list two)
check "block-list: xl's header" \
    grep -qE '^Vdev +BE +handle +state +evt-ch +ring-ref +BE-path' <<<"$out"
check "block-list: xvda before connection: 51712, BE 0, handle $id, state 1, -1 -1" \
    grep -qE "^51712 +0 +$id +1 +-1 +-1 +$be/vbd/$id/51712\$" <<<"$out"
order=$(awk '/^[0-9]/ { printf "%s ", $1 }' <<<"$out")
check "block-list: xvda then xvdb (51712 51728: $order)" test "$order" = "51712 51728 "
check "block-list: no statistics line before a driver writes them" \
    bash -c "! grep -q statistics <<<'$out'"

# A connected disk (single ring) and a multi-queue one, as drivers write them.
xenstore-write $fe/vbd/51712/state 4 $fe/vbd/51712/event-channel 7 $fe/vbd/51712/ring-ref 8
xenstore-write $fe/vbd/51728/state 4 $fe/vbd/51728/queue-0/event-channel 9 \
    $fe/vbd/51728/queue-0/ring-ref0 33
xenstore-write $be/vbd/$id/51712/statistics/rd_req 12 $be/vbd/$id/51712/statistics/wr_req 3 \
    $be/vbd/$id/51712/statistics/rd_sect 96 $be/vbd/$id/51712/statistics/errors 0
out=$(xgrant block-list "$id")
check "block-list by id: xvda connected (state 4, evt-ch 7, ring-ref 8)" \
    grep -qE "^51712 +0 +$id +4 +7 +8 +$be/vbd/$id/51712\$" <<<"$out"
check "block-list: multi-queue xvdb shows queue-0's port and first ring page" \
    grep -qE "^51728 +0 +$id +4 +9 +33 " <<<"$out"
check "block-list: xvda's counters below it" \
    grep -qE '^ +statistics:.* rd_req 12' <<<"$out"
check "block-list: every counter of statistics/ shown" \
    bash -c "grep statistics <<<'$out' | grep -q 'wr_req 3' && grep statistics <<<'$out' | grep -q 'rd_sect 96' && grep statistics <<<'$out' | grep -q 'errors 0'"

json=$(xgrant block-list two --json)
check "block-list --json parses, two disks" \
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert len(d)==2' "$json"
check "block-list --json: xvda's fields and counters" python3 -c '
import json,sys
d=json.loads(sys.argv[1])[0]
assert d["devid"]==51712 and d["vdev"]=="xvda" and d["backend_id"]==0, d
assert d["frontend_id"]==int(sys.argv[2]) and d["state"]==4 and d["state_name"]=="Connected", d
assert d["evtch"]==7 and d["ring_ref"]==8, d
assert d["backend"]=="/local/domain/0/backend/vbd/%s/51712" % sys.argv[2], d
assert d["statistics"]=={"rd_req":12,"wr_req":3,"rd_sect":96,"errors":0}, d["statistics"]' "$json" "$id"
check "block-list --json: xvdb without statistics has an empty object" python3 -c '
import json,sys; d=json.loads(sys.argv[1])[1]; assert d["vdev"]=="xvdb" and d["statistics"]=={}, d' "$json"

# Interfaces.
xenstore-write $fe/vif/0/state 4 $fe/vif/0/event-channel 11 $fe/vif/0/tx-ring-ref 20 \
    $fe/vif/0/rx-ring-ref 21
xenstore-write $fe/vif/1/state 4 $fe/vif/1/event-channel-tx 12 $fe/vif/1/event-channel-rx 13 \
    $fe/vif/1/tx-ring-ref 22 $fe/vif/1/rx-ring-ref 23
xenstore-write $be/vif/$id/0/statistics/rx_packets 5 $be/vif/$id/0/statistics/tx_bytes 1400 \
    $be/vif/$id/0/statistics/drop_bad_gref 2
out=$(xgrant network-list two)
check "network-list: xl's header" \
    grep -qE '^Idx +BE +Mac Addr\. +handle +state +evt-ch +tx-/rx-ring-ref +BE-path' <<<"$out"
check "network-list: vif 0 (mac, handle, state 4, evt-ch 11, rings 20/21)" \
    grep -qE "^0 +0 +00:16:3e:12:34:56 +0 +4 +11 +20/21 +$be/vif/$id/0\$" <<<"$out"
check "network-list: vif 1 with split event channels shows the tx port" \
    grep -qE "^1 +0 +00:16:3e:00:00:02 +1 +4 +12 +22/23 " <<<"$out"
check "network-list: vif 0's counters, drop reasons included" \
    grep -qE '^ +statistics:.*rx_packets 5.*tx_bytes 1400.*drop_bad_gref 2|^ +statistics:.*drop_bad_gref 2' <<<"$out"
json=$(xgrant network-list two --json)
check "network-list --json: fields and counters" python3 -c '
import json,sys
d=json.loads(sys.argv[1])
assert len(d)==2 and d[0]["mac"]=="00:16:3e:12:34:56" and d[0]["tx_ring_ref"]==20, d
assert d[0]["rx_ring_ref"]==21 and d[0]["evtch"]==11, d
assert d[0]["statistics"]=={"rx_packets":5,"tx_bytes":1400,"drop_bad_gref":2}, d
assert d[1]["evtch"]==12 and d[1]["statistics"]=={}, d' "$json"

# A counter that is not a number is left out, the rest shown.
xenstore-write $be/vbd/$id/51712/statistics/oo_req banana
check "a garbage counter is skipped, the others shown" \
    bash -c "xgrant block-list two | grep statistics | grep -v oo_req | grep -q 'rd_req 12'"

# Domains without devices, and bad input.
check "block-list of domain 0: header only" \
    bash -c "[ \$(xgrant block-list 0 | wc -l) -eq 1 ]"
check "network-list --json of domain 0: []" bash -c "[ \"\$(xgrant network-list 0 --json)\" = '[]' ]"
expect() { # rc pattern cmd...
    local want=$1 pat=$2 out rc
    shift 2
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -eq "$want" ] && grep -qE -- "$pat" <<<"$out"; then
        ok=$((ok + 1)); echo "ok $*: $out"
    else
        bad=$((bad + 1)); echo "not ok $* -> $rc (want $want, /$pat/): $out"
    fi
}
expect 1 "block-list: no domain named 'nosuch'" xgrant block-list nosuch
expect 1 "network-list: no domain with id 999" xgrant network-list 999
expect 2 "block-list: missing domain" xgrant block-list
expect 2 "network-list: unknown option '--xml'" xgrant network-list two --xml
expect 2 "block-list: unexpected argument 'three'" xgrant block-list two three
check "destroy removes the devices" xgrant destroy two
expect 1 "no domain named 'two'" xgrant block-list two
check_done
