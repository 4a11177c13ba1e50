#!/usr/bin/env bash
# net_e2e.sh: a guest's network through xgrant, end to end, with the real
# pieces: `xgrant create` with a vif line starts xgrant-netback in domain
# 0 (its TAP vif<domid>.0), the guest runs xgrant-netfront (its TAP eth0
# in a network namespace of its own).  Checked: ping both ways (ARP),
# IPv6 neighbour discovery and ping, a jumbo ping at MTU 9000 (multi-slot
# packets), a TCP transfer each way of random data whose SHA-256 is
# compared at the other end (checksum offload and GSO on the way), the
# counters in `xgrant network-list`, and a clean destroy (the TAP gone).
# Needs root (TAP devices, namespaces; xgrantd runs unconfined so the
# guest may make its TAP); skipped otherwise.
set -u
. "$(dirname "$0")/common/xgnet.sh"
xgnet_enter "$0" "$@"
. "$top/tests/integration/common/check.sh"

# Runs before the guest exists: the sink and the sender.
mkdir -p "$top/$B"
scripts=$(mktemp -d "$top/$B/net-e2e-XXXXXX")
cat >"$scripts/sink.py" <<'EOF'
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.settimeout(20); h = hashlib.sha256()
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b)
open(sys.argv[3], "w").write(h.hexdigest())
EOF
cat >"$scripts/send.py" <<'EOF'
import socket, sys, time
end = time.time() + 10
while True:
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 2); break
    except OSError:
        if time.time() > end: sys.exit("send: no connection")
        time.sleep(0.05)
s.settimeout(10); s.sendall(open(sys.argv[3], "rb").read()); s.close()
EOF
head -c 4M /dev/urandom >"$scripts/data"
want=$(sha256sum "$scripts/data" | cut -d' ' -f1)
s=$scripts

# The guest: a sink for domain 0's data, then (once told) its data sent to
# domain 0's sink and a ping back.
body="python3 $s/sink.py 10.9.0.2 5001 $s/guest.sum &
for _ in \$(seq 600); do [ -e $s/go ] && break; sleep 0.05; done
python3 $s/send.py 10.9.0.1 5002 $s/data
ping -q -c 2 -i 0.2 -W 5 10.9.0.1 >/dev/null && touch $s/guest.pinged"
xgnet_start 9000 "$body"
check "xgrant create with a vif starts xgrant-netback, the guest answers" test $? -eq 0
trap 'xgrant destroy g >/dev/null 2>&1; kill $xgnet_xgd 2>/dev/null; wait $xgnet_xgd 2>/dev/null; rm -rf "$work" "$scripts"' EXIT
check "the backend's TAP $vif exists, MTU 9000" sh -c "ip link show $vif | grep -q 'mtu 9000'"
check "ping the guest" ping -q -c 2 -i 0.2 -W 5 10.9.0.2
check "IPv6: neighbour discovery and ping" ping -6 -q -c 2 -i 0.2 -W 5 fd09::2
check "a 9000-byte ping, not fragmented" ping -q -c 1 -W 5 -M do -s 8972 10.9.0.2
python3 "$s/send.py" 10.9.0.2 5001 "$s/data"
for _ in $(seq 400); do [ -s "$s/guest.sum" ] && break; sleep 0.05; done
check "4 MiB of TCP to the guest, SHA-256 equal" test "$(cat "$s/guest.sum" 2>/dev/null)" = "$want"
python3 "$s/sink.py" 10.9.0.1 5002 "$s/dom0.sum" &
sink=$!
sleep 0.2
touch "$s/go"
timeout 30 tail --pid=$sink -f /dev/null
check "4 MiB of TCP from the guest, SHA-256 equal" test "$(cat "$s/dom0.sum" 2>/dev/null)" = "$want"
for _ in $(seq 400); do [ -e "$s/guest.pinged" ] && break; sleep 0.05; done
check "the guest pings domain 0" test -e "$s/guest.pinged"
list=$(xgrant network-list g 2>&1)
check "network-list shows the counters" sh -c "echo '$list' | grep -q 'rx_packets [1-9]'"
check "the guest's ping answers went both ways (tx_packets)" sh -c "echo '$list' | grep -q 'tx_packets [1-9]'"
check "xgrant destroy" xgrant destroy g
for _ in $(seq 200); do ip link show "$vif" >/dev/null 2>&1 || break; sleep 0.05; done
check "the TAP is gone" sh -c "! ip link show $vif >/dev/null 2>&1"
check_done || { xgnet_logs; exit 1; }
