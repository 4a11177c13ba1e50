#!/usr/bin/env bash
# toolstack_e2e: `xgrant create` with the real drivers, end to end.
#  - disk: the guest runs nbdkit with the xgrant plugin on its xvda; create
#    starts xgrant-blkback; domain 0 writes random data through the guest's
#    NBD export (nbdcopy), reads it back, and the image holds exactly it;
#    block-list shows the disk Connected with its I/O counters; destroy
#    stops the idle blkback.  The same with backend=drv: a driver domain
#    started with xgrant-blkback as its program serves the disk.
#  - interface (root, confined domains): create starts xgrant-netback and
#    the guest's xgrant-netfront on eth0 (ip= from the config) in the
#    guest's namespace; ping both ways, 1 MiB over TCP each way with the
#    SHA-256 compared; network-list counters; destroy removes vif<id>.0.
# Each part skips with its reason when a piece is missing; 77 when both do.
set -u
if [ "$(id -u)" = 0 ] && [ -z "${XG_NETNS:-}" ] && command -v unshare >/dev/null; then
    XG_NETNS=1 exec unshare -n bash "$0" "$@"
fi
[ -n "${XG_NETNS:-}" ] && ip link set lo up
. "$(dirname "$0")/common/xgstore.sh"
# The work directory is in the build tree: a confined guest's /tmp is its
# own, and the guest makes its NBD socket here.
XGRANT_BACKENDS=auto xgstore_start e2e "$top/$B/tests"
bin=$top/$B/bin
ran=0
alive() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && ! grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat"; }
wait_for() { # tries cmd...: every 0.1 s
    local n=$1; shift
    while [ "$n" -gt 0 ]; do "$@" 2>/dev/null && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}

# --- disk -------------------------------------------------------------------
plugin=$top/$B/lib/nbdkit-xgrant-plugin.so
why=
for t in nbdkit nbdcopy; do command -v $t >/dev/null || why="$why$t missing; "; done
[ -x "$bin/xgrant-blkback" ] || why="${why}no xgrant-blkback; "
[ -r "$plugin" ] || why="${why}no nbdkit-xgrant-plugin.so; "
[ -n "$why" ] || nbdkit "$plugin" --dump-plugin >/dev/null 2>&1 ||
    why="${why}nbdkit cannot load the plugin (built with SANITIZE=1? ASan must come first); "
if [ -n "$why" ]; then
    echo "# disk part skipped: $why"
else
    ran=1
    truncate -s 16M disk.img
    cat >disk.cfg <<EOF
name = "dg"
program = [ "nbdkit", "-f", "-U", "$work/nbd.sock", "$plugin", "vdev=xvda" ]
disk = [ 'vdev=xvda, access=rw, target=$work/disk.img' ]
EOF
    id=$(xgrant create disk.cfg 2>err)
    check "create with a disk starts xgrant-blkback ($id) $(tr '\n' ' ' <err)" \
        grep -q "started xgrant-blkback" err
    uri="nbd+unix:///?socket=$work/nbd.sock"
    check "the guest's nbdkit exports its disk" wait_for 300 test -S nbd.sock
    head -c 1M /dev/urandom >data
    check "domain 0 writes 1 MiB through the guest's NBD export" nbdcopy data "$uri"
    check "and reads it back" nbdcopy "$uri" back
    check "what came back is what was written" cmp -n 1048576 back data
    check "the image holds exactly it (the guest wrote its disk through xgrant)" cmp -n 1048576 disk.img data
    stats() { xgrant block-list dg | grep -q 'wr_req [1-9].*wr_sect 2048'; }
    wait_for 100 stats
    out=$(xgrant block-list dg)
    check "block-list: Connected, with the writes counted ($(tr '\n' ' ' <<<"$out"))" \
        bash -c "grep -qE '^51712 +0 +$id +4 ' <<<'$out' && grep -q 'wr_sect 2048' <<<'$out'"
    blk=$(cut -d' ' -f1 xgrant-blkback.pid 2>/dev/null)
    check "destroy" xgrant destroy dg
    check "the idle xgrant-blkback ($blk) is stopped" eval '! alive "$blk"'
    # The same through a driver domain: backend=drv starts one running
    # xgrant-blkback.  A confined driver domain opens the image with a uid
    # of its own: the image must be open to it.
    chmod 0666 disk.img
    rm -f nbd.sock
    sed -i "s/vdev=xvda, access=rw,/vdev=xvda, access=rw, backend=drv,/" disk.cfg
    id=$(xgrant create disk.cfg 2>err)
    drv=$(xgrant list | awk '$2 == "drv" { print $1 }')
    check "backend=drv: driver domain $drv runs xgrant-blkback, guest $id $(tr '\n' ' ' <err)" \
        grep -q "started driver domain $drv (drv) running .*xgrant-blkback" err
    check "the guest's nbdkit exports its disk" wait_for 300 test -S nbd.sock
    head -c 1M /dev/urandom >data
    check "1 MiB written through the guest, served by the driver domain" nbdcopy data "$uri"
    check "the image holds it" cmp -n 1048576 disk.img data
    check "block-list: backend $drv, Connected" \
        bash -c "xgrant block-list dg | grep -qE '^51712 +$drv +$id +4 +[0-9]+ +[0-9]+ +/local/domain/$drv/backend/vbd/$id/51712'"
    check "destroy the guest; the driver domain stays" \
        bash -c "xgrant destroy dg && xgrant list | grep -q ' drv '"
    check "destroy the driver domain" xgrant destroy drv
fi

# --- interface --------------------------------------------------------------
why=
[ "$(id -u)" = 0 ] || why="needs root (TAP devices, network namespaces); "
[ -c /dev/net/tun ] || why="${why}no /dev/net/tun; "
for t in ip ping python3 nsenter; do command -v $t >/dev/null || why="$why$t missing; "; done
for b in xgrant-netback xgrant-netfront; do [ -x "$bin/$b" ] || why="${why}no $b; "; done
if [ -z "$why" ]; then
    xgrant run --detach --name probe -- sleep 60 >/dev/null 2>&1
    init=$(xgrant list | awk '$2 == "probe" { print $3 }')
    [ -n "$init" ] && [ "$(readlink /proc/$init/ns/net)" = "$(readlink /proc/self/ns/net)" ] &&
        why="domains share this network namespace (xgrantd does not confine)"
    xgrant destroy probe >/dev/null 2>&1
fi
if [ -n "$why" ]; then
    echo "# interface part skipped: $why"
else
    ran=1
    cat >net.cfg <<'EOF'
name = "ng"
program = [ "sleep", "600" ]
vif = [ 'mac=00:16:3e:12:34:56, ip=10.9.0.2/24' ]
EOF
    id=$(xgrant create net.cfg 2>err)
    check "create with a vif starts netback and the guest's netfront ($id) $(tr '\n' ' ' <err)" \
        bash -c "grep -q 'started xgrant-netback' err && grep -q 'xgrant-netfront (pid' err"
    init=$(xgrant list | awk '$2 == "ng" { print $3 }')
    vif=vif$id.0
    check "the backend's $vif is here" wait_for 200 ip link show "$vif"
    ip addr add 10.9.0.1/24 dev "$vif" && ip link set "$vif" up
    guest() { nsenter -t "$init" -n "$@"; }
    check "the guest's vif connected" wait_for 200 bash -c "xgrant network-list ng | grep -qE '^0 +0 +00:16:3e:12:34:56 +0 +4 '"
    check "ping the guest" ping -q -c 2 -i 0.2 -W 5 10.9.0.2
    check "the guest pings domain 0" guest ping -q -c 2 -i 0.2 -W 5 10.9.0.1
    cat >sink.py <<'EOF'
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.settimeout(20); h = hashlib.sha256()
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b)
print(h.hexdigest())
EOF
    cat >send.py <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        s = socket.create_connection((sys.argv[1], 5001), 5); break
    except OSError: time.sleep(0.05)
s.sendall(open(sys.argv[2], "rb").read()); s.close()
EOF
    head -c 1M /dev/urandom >ndata
    want=$(sha256sum ndata | cut -d' ' -f1)
    guest python3 sink.py 10.9.0.2 >got.guest &
    python3 send.py 10.9.0.2 ndata
    wait $!
    check "1 MiB over TCP to the guest, SHA-256 equal" test "$(cat got.guest)" = "$want"
    python3 sink.py 10.9.0.1 >got.dom0 &
    guest python3 send.py 10.9.0.1 ndata
    wait $!
    check "1 MiB over TCP from the guest, SHA-256 equal" test "$(cat got.dom0)" = "$want"
    counted() { xgrant network-list ng | grep -q 'rx_bytes [0-9]\{6,\}.*tx_bytes [0-9]\{6,\}'; }
    wait_for 100 counted
    out=$(xgrant network-list ng)
    check "network-list counts the megabytes both ways ($(tr '\n' ' ' <<<"$out"))" counted
    check "destroy" xgrant destroy ng
    check "$vif is gone" bash -c "! ip link show $vif >/dev/null 2>&1"
fi
[ "$ran" = 1 ] || { echo "skip: no part could run"; exit 77; }
check_done || { tail -n 5 "$work"/*.log; exit 1; }
