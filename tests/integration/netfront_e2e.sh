#!/usr/bin/env bash
# netfront_e2e: xgrant-netfront in a guest domain against xgrant-netback in
# domain 0, end to end through TAP devices: the guest's eth0 in its own
# network namespace, netback's vif<domid>.0 in this test's.  Ping both
# ways, then 4 MiB of random data over TCP each way (GSO and checksum
# offload on the path), the SHA-256 compared at the other end.
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

if ! nfe_start "$work" 10.77.0.2 10.77.0.1; then
    echo "not ok the vif came up"
    tail -n 20 "$work"/*.log
    exit 1
fi
check "ping dom0 -> guest" ping -q -c 3 -i 0.2 -W 2 10.77.0.2
check "ping guest -> dom0" nfe_guest ping -q -c 3 -i 0.2 -W 2 10.77.0.1

# tcp_to HOST PORT FILE [nsenter-prefix for the receiver]: sha256 of what
# the receiver got, printed by it.
recv_py='import hashlib,socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1); s.settimeout(20)
c,_=s.accept(); c.settimeout(20); h=hashlib.sha256(); n=0
while True:
    b=c.recv(1<<16)
    if not b: break
    h.update(b); n+=len(b)
print(n, h.hexdigest())'
send_py='import socket,sys,time
for i in range(100):
    try:
        s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 5); break
    except OSError: time.sleep(0.05)
s.sendall(open(sys.argv[3],"rb").read()); s.close()'
head -c $((4 << 20)) /dev/urandom >"$work/data"
want="$(stat -c %s "$work/data") $(sha256sum "$work/data" | cut -d' ' -f1)"

nfe_guest python3 -c "$recv_py" 5001 >"$work/got.guest" &
python3 -c "$send_py" 10.77.0.2 5001 "$work/data"
wait $!
check "4 MiB over TCP dom0 -> guest, SHA-256 equal" [ "$(cat "$work/got.guest")" = "$want" ]

python3 -c "$recv_py" 5002 >"$work/got.host" &
nfe_guest python3 -c "$send_py" 10.77.0.1 5002 "$work/data"
wait $!
check "4 MiB over TCP guest -> dom0, SHA-256 equal" [ "$(cat "$work/got.host")" = "$want" ]

grep -h "connected" "$work/netfront.log"
check "netfront logged no backend error" bash -c "! grep -q 'backend errors' '$work/netfront.log'"
[ "$bad" -eq 0 ] || tail -n 20 "$work"/netfront.log "$work"/netback.log
check_done
