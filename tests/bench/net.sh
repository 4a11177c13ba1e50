#!/usr/bin/env bash
# net.sh: issue 14's benchmark.  Between two network namespaces, iperf3 TCP
# (1 and 4 streams) and UDP 64-byte packets per second, (a) through xgrant
# (xgrant-netfront in a guest <-> xgrant-netback in domain 0, the same
# set-up as tests/integration/net_e2e.sh, MTU 1500) and (b) through a veth
# pair joining two namespaces (what a user would pick instead).  Prints
# both and the ratios a/b (aims: TCP >= 0.5, UDP pps >= 0.5).  Each run
# lasts NET_BENCH_SECONDS (3).  Skipped (reason printed) without
# root, iperf3 or the tools (exit 77).
set -u
. "$(dirname "$0")/../integration/common/xgnet.sh"
command -v iperf3 >/dev/null || { echo "skip: iperf3 missing"; exit 77; }
command -v nsenter >/dev/null || { echo "skip: nsenter missing"; exit 77; }
xgnet_enter "$0" "$@"
T=${NET_BENCH_SECONDS:-3}

xgnet_start 1500 "iperf3 -s -D -B 10.9.0.2" || { echo "xgrant set-up failed"; xgnet_logs; exit 1; }
# The veth peer: a namespace held by a sleeping process.
unshare -n sleep 600 &
peer=$!
sleep 0.1
trap 'kill $peer 2>/dev/null; xgrant destroy g >/dev/null 2>&1; kill $xgnet_xgd 2>/dev/null; wait $xgnet_xgd 2>/dev/null; rm -rf "$work"' EXIT
ip link add vb0 type veth peer name vb1
ip link set vb1 netns "$peer"
ip addr add 10.8.0.1/24 dev vb0
ip link set vb0 up
nsenter -t "$peer" -n sh -c 'ip link set lo up; ip addr add 10.8.0.2/24 dev vb1;
    ip link set vb1 up; iperf3 -s -D -B 10.8.0.2'
for h in 10.9.0.2 10.8.0.2; do
    for _ in $(seq 50); do ping -q -c 1 -W 1 "$h" >/dev/null 2>&1 && break; sleep 0.1; done
done

# iperf3 -J on stdin: what the receiver got, TCP bits/s or (udp) packets/s.
parse='import json, sys
j = json.load(sys.stdin)["end"]
if sys.argv[1] == "udp":
    s = j["sum"]
    print("%.0f" % ((s["packets"] - s["lost_packets"]) / s["seconds"]))
else:
    print("%.0f" % j["sum_received"]["bits_per_second"])'
run() { # tcp|udp, host, iperf3 options...
    local kind=$1 h=$2
    shift 2
    sleep 0.3 # the previous run's server side settles
    iperf3 -c "$h" -t "$T" -J "$@" 2>/dev/null | python3 -c "$parse" "$kind" 2>/dev/null || echo 0
}
row() { # name, tcp|udp, unit divisor, unit, iperf3 options...
    local name=$1 kind=$2 div=$3 unit=$4 a b
    shift 4
    a=$(run "$kind" 10.9.0.2 "$@")
    b=$(run "$kind" 10.8.0.2 "$@")
    python3 -c "a, b = $a / $div, $b / $div
print('%-22s xgrant %10.2f %-6s veth %10.2f %-6s ratio %.2f' % ('$name', a, '$unit', b, '$unit', a / b if b else 0))"
}
echo "net: $T s per run, MTU 1500, iperf3 between two namespaces"
row "TCP, 1 stream" tcp 1e9 Gbit/s
row "TCP, 4 streams" tcp 1e9 Gbit/s -P 4
row "UDP 64 B, received" udp 1e3 kpps -u -l 64 -b 0
