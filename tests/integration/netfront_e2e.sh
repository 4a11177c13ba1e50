#!/usr/bin/env bash
# netfront_e2e: xgrant-netfront in a guest domain against xgrant-netback in
# domain 0, end to end through TAP devices: the guest's eth0 in its own
# network namespace, netback's vif<domid>.0 in this test's.  Ping both
# ways, then 4 MiB of random data over TCP each way (GSO and checksum
# offload on the path), the SHA-256 compared at the other end.  Twice: with
# feature-grant-ext (byte-exact grants) and with standard grants
# (xgrant-netfront --no-grant-ext); the first round also sends a paced
# burst of 64-byte datagrams dom0 -> guest that must all arrive.  Then two
# queues: flows both ways must use both queues of each TAP.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
NFE_BIN=$top/$B/bin
. "$(dirname "$0")/common/netfront_env.sh"
why=$(nfe_skip_reason)
[ -z "$why" ] || { echo "skip: $why"; exit 77; }
if [ -z "${NFE_INNER:-}" ]; then # a network namespace of our own
    NFE_INNER=1 exec unshare -n bash "$0" "$@"
fi
. "$(dirname "$0")/common/check.sh"
work=$(mktemp -d /tmp/xgrant-nfe-XXXXXX)
trap 'nfe_stop; rm -rf "$work"' EXIT

# The receiver prints the length and SHA-256 of what it got over N
# connections (argv[2], 1) one after the other; the sender sends the file
# (its first LEN bytes, argv[5]) over N connections (argv[4], 1), each
# retried until the receiver listens.
recv_py='import hashlib,socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16); s.settimeout(20)
h=hashlib.sha256(); n=0
for k in range(int((sys.argv + ["1"])[2])):
    c,_=s.accept(); c.settimeout(20)
    while True:
        b=c.recv(1<<16)
        if not b: break
        h.update(b); n+=len(b)
print(n, h.hexdigest())'
send_py='import socket,sys,time
a=sys.argv + ["1", "-1"]; d=open(a[3],"rb").read(int(a[5]))
for k in range(int(a[4])):
    for i in range(100):
        try:
            s=socket.create_connection((a[1], int(a[2])), 5); break
        except OSError: time.sleep(0.05)
    s.sendall(d); s.close()'
# 64-byte datagrams, 200 every 10 ms at most (under 20k/s).  Every queue
# on the way holds the whole burst (dom0's vif: txqueuelen, set in
# round(); the receiver's socket: SO_RCVBUFFORCE; netback holds what the
# rx ring cannot take and stops reading the TAP), so a live frontend loses
# none of them however slowly a loaded machine runs it: the receiver
# counts until all have come or 20 s after the first.  The sender starts
# once the receiver's socket is bound (it creates the file READY then): a
# datagram sent before that is dropped (no port), however short the gap.
udp_recv_py='import socket,sys,time
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 64<<20) # SO_RCVBUFFORCE
s.bind(("0.0.0.0", int(sys.argv[1]))); s.settimeout(20); n=0; end=None
open(sys.argv[3], "w").close()
try:
    while n < int(sys.argv[2]):
        s.recv(64); n+=1
        if end is None: end=time.monotonic()+20
        s.settimeout(max(0.001, end-time.monotonic()))
except OSError: pass
print(n)'
udp_send_py='import os,socket,sys,time
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(2000):
    if os.path.exists(sys.argv[4]): break
    time.sleep(0.01)
for i in range(int(sys.argv[3])):
    s.sendto(b"x"*64, (sys.argv[1], int(sys.argv[2])))
    if i % 200 == 199: time.sleep(0.01)'
head -c $((4 << 20)) /dev/urandom >"$work/data"
want="$(stat -c %s "$work/data") $(sha256sum "$work/data" | cut -d' ' -f1)"

asan=$(grep -l __asan_init "$NFE_BIN/xgrant-netfront" 2>/dev/null)

# udp_burst LABEL DIR: 20000 datagrams in about a second; the guest must
# keep taking them (a frontend that misses its wakeups takes a ring's worth
# now and then: under 10000 of them in the 20 s).
udp_burst() {
    ip link set "$NFE_VIF" txqueuelen 25000
    nfe_guest python3 -c "$udp_recv_py" 5003 20000 "$2/udp.ready" >"$2/udp.count" &
    python3 -c "$udp_send_py" 10.77.0.2 5003 20000 "$2/udp.ready"
    wait $!
    echo "$1: $(cat "$2/udp.count") of 20000 datagrams arrived"
    if [ -n "$asan" ]; then # too slow there to tell a stall from the load
        echo "$1: (a sanitizer build: the datagram count is not judged)"
    else
        check "$1: a UDP burst dom0 -> guest all arrives within 20 s" [ "$(cat "$2/udp.count")" -eq 20000 ]
    fi
}

# round LABEL udp|- [XGRANT-NETFRONT ARGS...]: a fresh vif, its traffic
# checked (the UDP burst with udp).
round() {
    local label=$1 udp=$2 dir=$work/$1
    shift 2
    mkdir -p "$dir"
    if ! nfe_start "$dir" 10.77.0.2 10.77.0.1 "$@"; then
        check "$label: the vif came up" false
        tail -n 20 "$dir"/*.log
        nfe_stop
        return
    fi
    grep -h "connected" "$dir/netfront.log"
    check "$label: ping dom0 -> guest" ping -q -c 2 -i 0.2 -W 5 10.77.0.2
    check "$label: ping guest -> dom0" nfe_guest ping -q -c 2 -i 0.2 -W 5 10.77.0.1
    nfe_guest python3 -c "$recv_py" 5001 >"$dir/got.guest" &
    python3 -c "$send_py" 10.77.0.2 5001 "$work/data"
    wait $!
    check "$label: 4 MiB over TCP dom0 -> guest, SHA-256 equal" [ "$(cat "$dir/got.guest")" = "$want" ]
    python3 -c "$recv_py" 5002 >"$dir/got.host" &
    nfe_guest python3 -c "$send_py" 10.77.0.1 5002 "$work/data"
    wait $!
    check "$label: 4 MiB over TCP guest -> dom0, SHA-256 equal" [ "$(cat "$dir/got.host")" = "$want" ]
    [ "$udp" = udp ] && udp_burst "$label" "$dir"
    check "$label: netfront logged no backend error" bash -c "! grep -q 'backend errors' '$dir/netfront.log'"
    [ "$bad" -eq 0 ] || tail -n 20 "$dir"/netfront.log "$dir"/netback.log
    nfe_stop
}

# Packets sent on each queue of TAP $1 (tc's mq classes :1 and :2), in the
# current namespace.
queue_pkts() {
    tc -s class show dev "$1" | awk '
        /^class mq :[12] / {q = $3} /^ Sent/ && q {printf "%s ", $4; q = ""}'
}
both_used() { # "N1 N2": each above 0
    set -- $1
    [ "${1:-0}" -gt 0 ] && [ "${2:-0}" -gt 0 ]
}

# 16 connections one after the other (a port each, so a flow hash each),
# 64 KiB each (the sender is bounded: a queue nobody serves loses a
# flow's SYNs).
# Two queues (netfront given both queues of a multi-queue TAP): both
# negotiated, and flows both ways spread over both queues of each TAP
# (tc's counters of dom0's vif and of the guest's eth0) arrive whole.
mq_round() {
    local dir=$work/multiqueue mqwant
    mkdir -p "$dir"
    mqwant="$((16 << 16)) $(for i in $(seq 16); do head -c 65536 "$work/data"; done | sha256sum | cut -d' ' -f1)"
    if ! NFE_QUEUES=2 nfe_start "$dir" 10.77.0.2 10.77.0.1; then
        check "multiqueue: the vif came up" false
        tail -n 20 "$dir"/*.log
        nfe_stop
        return
    fi
    grep -h "connected" "$dir/netfront.log"
    check "multiqueue: netfront connected with 2 queues" grep -q "connected: 2 queue(s)" "$dir/netfront.log"
    check "multiqueue: ping dom0 -> guest" ping -q -c 2 -i 0.2 -W 5 10.77.0.2
    nfe_guest python3 -c "$recv_py" 5011 16 >"$dir/got.guest" &
    timeout 60 python3 -c "$send_py" 10.77.0.2 5011 "$work/data" 16 65536
    wait $!
    check "multiqueue: 16 flows dom0 -> guest, SHA-256 equal" [ "$(cat "$dir/got.guest")" = "$mqwant" ]
    python3 -c "$recv_py" 5012 16 >"$dir/got.host" &
    nfe_guest timeout 60 python3 -c "$send_py" 10.77.0.1 5012 "$work/data" 16 65536
    wait $!
    check "multiqueue: 16 flows guest -> dom0, SHA-256 equal" [ "$(cat "$dir/got.host")" = "$mqwant" ]
    echo "multiqueue: packets per queue: dom0's $NFE_VIF $(queue_pkts "$NFE_VIF"), the guest's eth0 $(nfe_guest bash -c "$(declare -f queue_pkts); queue_pkts eth0")"
    check "multiqueue: dom0 -> guest used both queues" both_used "$(queue_pkts "$NFE_VIF")"
    check "multiqueue: guest -> dom0 used both queues" both_used "$(nfe_guest bash -c "$(declare -f queue_pkts); queue_pkts eth0")"
    check "multiqueue: netfront logged no backend error" bash -c "! grep -q 'backend errors' '$dir/netfront.log'"
    [ "$bad" -eq 0 ] || tail -n 20 "$dir"/netfront.log "$dir"/netback.log
    nfe_stop
}

round extension udp
round standard - --no-grant-ext
grep -q "standard grants" "$work/standard/netfront.log"
check "standard: the vif used standard grants" [ $? -eq 0 ]
if command -v tc >/dev/null; then
    mq_round
else
    echo "multiqueue: skipped (tc not installed: no per-queue counters)"
fi
check_done
