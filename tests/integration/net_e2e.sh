#!/usr/bin/env bash
# net_e2e.sh: a guest's network through xgrant, end to end, with the real
# pieces: `xgrant create` with a vif line starts xgrant-netback in domain
# 0 (its TAP vif<domid>.0), the guest runs xgrant-netfront (its TAP eth0
# in a network namespace of its own).  Checked: ping both ways (ARP),
# IPv6 neighbour discovery and ping, a jumbo ping at MTU 9000 (multi-slot
# packets), a TCP transfer each way of random data whose SHA-256 is
# compared at the other end (checksum offload and GSO on the way), the
# guest pinging back, the
# counters in `xgrant network-list`, and a clean destroy (the TAP gone).
# Needs root (TAP devices, namespaces; xgrantd runs unconfined so the
# guest may make its TAP); skipped otherwise.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "skip: TAP devices and network namespaces need root"; exit 77; }
[ -c /dev/net/tun ] || { echo "skip: no /dev/net/tun"; exit 77; }
for t in unshare ip ping python3; do
    command -v $t >/dev/null || { echo "skip: $t missing"; exit 77; }
done
# A namespace of our own for domain 0's side.
if [ -z "${NET_E2E_NS:-}" ]; then
    NET_E2E_NS=1 exec unshare -n bash "$0" "$@"
fi
. "$top/tests/integration/common/check.sh"
export PATH=$top/$B/bin:$PATH
work=$(mktemp -d "$top/$B/net-e2e-XXXXXX")
export XGRANT_SOCK=$work/xgrantd.sock XENSTORED_PATH=$work/xenstored
xgrantd --socket "$XGRANT_SOCK" --no-confine --log "$work/xgrantd.log" >/dev/null 2>&1 &
xgd=$!
trap 'xgrant destroy g >/dev/null 2>&1; kill $xgd 2>/dev/null; wait $xgd 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -S "$XGRANT_SOCK" ] && break; sleep 0.05; done
ip link set lo up

cat >"$work/sink.py" <<'EOF'
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(20)
c, _ = s.accept(); h = hashlib.sha256()
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b)
open(sys.argv[3], "w").write(h.hexdigest())
EOF
cat >"$work/send.py" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5); break
    except OSError: time.sleep(0.05)
s.sendall(open(sys.argv[3], "rb").read()); s.close()
EOF
head -c 4M /dev/urandom >"$work/data"
want=$(sha256sum "$work/data" | cut -d' ' -f1)

# The guest: its own namespace, netfront's eth0, a sink for dom0's data,
# then (once told) its data sent to dom0's sink.
cat >"$work/guest.sh" <<EOF
ip link set lo up
xgrant-netfront >$work/netfront.log 2>&1 &
for _ in \$(seq 100); do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.05; done
ip link set eth0 mtu 9000
ip addr add 10.9.0.2/24 dev eth0
ip -6 addr add fd09::2/64 dev eth0 nodad
ip link set eth0 up
python3 $work/sink.py 10.9.0.2 5001 $work/guest.sum &
touch $work/guest.ready
for _ in \$(seq 200); do [ -e $work/go ] && break; sleep 0.05; done
python3 $work/send.py 10.9.0.1 5002 $work/data
ping -q -c 2 -i 0.2 -W 2 10.9.0.1 >/dev/null && touch $work/guest.pinged
sleep 600
EOF
cat >"$work/g.cfg" <<EOF
name = "g"
memory = 64
program = [ "unshare", "-n", "sh", "$work/guest.sh" ]
vif = [ 'mac=00:16:3e:12:34:56, mtu=9000' ]
EOF
cd "$work" || exit 1
domid=$(xgrant create g.cfg 2>"$work/create.log")
check "xgrant create with a vif starts xgrant-netback" test -n "$domid"
for _ in $(seq 100); do [ -e "$work/guest.ready" ] && break; sleep 0.05; done
vif=vif$domid.0
check "the backend's TAP $vif exists, MTU 9000" sh -c "ip link show $vif | grep -q 'mtu 9000'"
ip addr add 10.9.0.1/24 dev "$vif"
ip -6 addr add fd09::1/64 dev "$vif" nodad
check "ping the guest (ARP first)" ping -q -c 2 -i 0.2 -W 2 10.9.0.2
check "IPv6: neighbour discovery and ping" ping -6 -q -c 2 -i 0.2 -W 2 fd09::2
check "a 9000-byte ping, not fragmented" ping -q -c 1 -W 2 -M do -s 8972 10.9.0.2
python3 "$work/send.py" 10.9.0.2 5001 "$work/data"
for _ in $(seq 100); do [ -s "$work/guest.sum" ] && break; sleep 0.05; done
check "4 MiB of TCP to the guest, SHA-256 equal" test "$(cat "$work/guest.sum" 2>/dev/null)" = "$want"
python3 "$work/sink.py" 10.9.0.1 5002 "$work/dom0.sum" &
sink=$!
sleep 0.2
touch "$work/go"
wait $sink
check "4 MiB of TCP from the guest, SHA-256 equal" test "$(cat "$work/dom0.sum" 2>/dev/null)" = "$want"
for _ in $(seq 60); do [ -e "$work/guest.pinged" ] && break; sleep 0.05; done
check "the guest pings domain 0" test -e "$work/guest.pinged"
list=$(xgrant network-list g 2>&1)
check "network-list shows the counters" sh -c "echo '$list' | grep -q 'rx_packets [1-9]'"
check "the guest's ping answers went both ways (tx_packets)" sh -c "echo '$list' | grep -q 'tx_packets [1-9]'"
check "xgrant destroy" xgrant destroy g
for _ in $(seq 60); do ip link show "$vif" >/dev/null 2>&1 || break; sleep 0.05; done
check "the TAP is gone" sh -c "! ip link show $vif >/dev/null 2>&1"
if ! check_done; then
    echo "--- create"; cat "$work/create.log" 2>/dev/null
    echo "--- netback log"; cat "$work/xgrant-netback.log" 2>/dev/null
    echo "--- netfront log"; cat "$work/netfront.log" 2>/dev/null
    exit 1
fi
