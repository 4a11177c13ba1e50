#!/usr/bin/env bash
# xgrant create starts the backend daemons on demand and waits for InitWait;
# destroy stops a daemon that serves nothing more; backend= runs the backend
# in a driver domain.  The daemons here are stand-ins (common/stub-back.sh,
# installed as xgrant-blkback / xgrant-netback) that play a backend's xenbus
# side, so this runs before (and without) the real drivers.
set -u
# As root, in a network namespace of its own: the interfaces it makes and
# removes are never the host's.
if [ "$(id -u)" = 0 ] && [ -z "${XG_NETNS:-}" ] && command -v unshare >/dev/null; then
    XG_NETNS=1 exec unshare -n bash "$0" "$@"
fi
[ -n "${XG_NETNS:-}" ] && ip link set lo up
. "$(dirname "$0")/common/xgstore.sh"
XGRANT_BACKENDS=auto xgstore_start backends
# The stubs live in the build tree: a confined driver domain reaches it
# (its /tmp is its own).
stubs=$top/$B/tests/stub-back
mkdir -p "$stubs"
ln -sf "$top/tests/integration/common/stub-back.sh" "$stubs/xgrant-blkback"
ln -sf "$top/tests/integration/common/stub-back.sh" "$stubs/xgrant-netback"
export XGRANT_BLKBACK=$stubs/xgrant-blkback XGRANT_NETBACK=$stubs/xgrant-netback
export XGRANT_NETFRONT=$top/tests/integration/common/stub-netfront.sh
export STUB_DIR=$work
echo ok >"$work/mode"
truncate -s 1M disk0.img
rundir=$work
cat >g.cfg <<'EOF'
name = "g1"
program = [ "sleep", "600" ]
disk = [ 'vdev=xvda, target=disk0.img' ]
vif = [ 'mac=00:16:3e:00:00:01, ip=10.9.0.2/28' ]
EOF
pidof_stub() { cat "$rundir/xgrant-$1.pid" 2>/dev/null | cut -d' ' -f1; }
# A live process (an exited one may stay a zombie until init reaps it).
alive() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && ! grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat"; }
be_state() { xenstore-read "/local/domain/$1/backend/$2/$3/$4/state" 2>/dev/null; }

# --- domain 0: started on demand, shared, stopped when idle ---------------
id1=$(xgrant create g.cfg 2>"$work/err")
check "create starts the backends and succeeds ($id1) $(tr '\n' ' ' <"$work/err")" test -n "$id1"
check "create says which daemon it started and where it logs" \
    grep -q "started xgrant-blkback (pid [0-9]*) in domain 0; log: $rundir/xgrant-blkback.log" "$work/err"
blk=$(pidof_stub blkback) net=$(pidof_stub netback)
check "xgrant-blkback runs ($blk)" alive "$blk"
check "xgrant-netback runs ($net)" alive "$net"
check "the disk's backend reached InitWait before create returned" test "$(be_state 0 vbd "$id1" 51712)" = 2
check "the interface's backend reached InitWait" test "$(be_state 0 vif "$id1" 0)" = 2
check "the daemon's log is there" grep -q "stub vbd backend in domain 0" "$rundir/xgrant-blkback.log"
check "the daemon got none of the CLI's sockets" grep -q "stub vbd backend in domain 0 .*sockets 0" "$rundir/xgrant-blkback.log"
# The guest side of the vif: as root, in the domain's own namespace.
init=$(xgrant list | awk -v id="$id1" '$1 == id { print $3 }')
if [ "$(id -u)" = 0 ] && [ "$(readlink /proc/$init/ns/net)" != "$(readlink /proc/self/ns/net)" ]; then
    nflog=$rundir/xgrant-netfront.$id1.0.log
    check "create said where the guest's netfront logs" grep -q "interface 0: eth0 in domain $id1's network namespace, xgrant-netfront (pid [0-9]*); log: $nflog" "$work/err"
    for _ in $(seq 200); do grep -q "stub netfront" "$nflog" 2>/dev/null && break; sleep 0.1; done
    check "netfront got its vif, interface and the TAP as fd 3: $(cat "$nflog" 2>&1)" \
        grep -q "stub netfront --devid 0 --ifname eth0 --tap-fd 3 .*fd3 /dev/net/tun" "$nflog"
    check "netfront got none of the CLI's sockets" grep -q "sockets 0" "$nflog"
    nfpid=$(sed -n "s/.*xgrant-netfront (pid \([0-9]*\)).*/\1/p" "$work/err")
    reaper=$(awk '{ print $4 }' "/proc/$nfpid/stat" 2>/dev/null)
    check "its reaper ($reaper) holds none of the CLI's connections (to xgrantd, the store)" \
        bash -c "[ -n '$reaper' ] && [ \$(find /proc/$reaper/fd -lname 'socket:*' | wc -l) = 0 ]"
    check "netfront is a process of the guest domain (the store says $id1), not root" \
        bash -c "grep -q ' domid $id1 ' '$nflog' && ! grep -q ' uid 0 ' '$nflog'"
    link=$(nsenter -t "$init" -n ip -o link show eth0 2>&1) addr=$(nsenter -t "$init" -n ip -o -4 addr show eth0 2>&1)
    check "the guest's eth0: the vif's mac, up ($link)" \
        bash -c "grep -q 'link/ether 00:16:3e:00:00:01' <<<'$link' && grep -q 'UP' <<<'$link'"
    check "the guest's eth0 has the vif's ip= address ($addr)" grep -q "inet 10.9.0.2/28" <<<"$addr"
    check "this namespace has no eth0 of the guest's" bash -c "! ip -o link | grep -q '00:16:3e:00:00:01'"
else
    echo "# not root, or domains share this network namespace: no netfront checks"
fi
id2=$(xgrant create g.cfg 'name="g2"' 2>"$work/err")
check "a second guest ($id2) reuses the running daemons" \
    bash -c "[ -n '$id2' ] && [ '$(pidof_stub blkback)' = '$blk' ] && [ '$(pidof_stub netback)' = '$net' ] && ! grep -q started '$work/err'"
id3=$(xgrant create g.cfg 'name="g3"' 2>/dev/null)
# --- failures name the device (the daemons keep serving g1 and g2) -------
expect_fail() { # what pattern [create args]
    local what=$1 pat=$2 out rc t0
    shift 2
    t0=$SECONDS
    out=$(xgrant create g.cfg 'name="bad"' "$@" 2>&1); rc=$?
    if [ "$rc" -eq 1 ] && grep -qE -- "$pat" <<<"$out" && ! xgrant list | grep -q ' bad '; then
        ok=$((ok + 1)); echo "ok $what ($((SECONDS - t0)) s): $out"
    else
        bad=$((bad + 1)); echo "not ok $what -> $rc (want 1, /$pat/, no domain left): $out"
    fi
}
echo never >"$work/mode"
XGRANT_INIT_TIMEOUT_MS=700 expect_fail "a backend that never probes" \
    "disk xvda \(vbd 51712\): backend /local/domain/0/backend/vbd/[0-9]+/51712 did not reach InitWait within 0.7 s \(state Initialising\); xgrant-blkback: see $rundir/xgrant-blkback.log"
left=$(xenstore-ls -f | grep -E "backend/(vbd|vif)/" | grep -vE "/(vbd|vif)/($id1|$id2|$id3)( |/)")
check "no node of the failed guest is left ($left)" test -z "$left"
echo fail >"$work/mode"
expect_fail "a backend that refuses the device" \
    "disk xvda \(vbd 51712\): backend .* closed instead of probing \(state Closing\): stub: refusing vbd 51712"
echo ok >"$work/mode"
if [ -n "${nflog:-}" ]; then
    XGRANT_NETFRONT=$work/nosuch expect_fail "a missing netfront" \
        "interfaces need the guest's xgrant-netfront: $work/nosuch: No such file"
fi
# What netback would have made for g1's vif (this stand-in makes none).
[ -n "${nflog:-}" ] && ip tuntap add "vif$id1.0" mode tap
t0=${EPOCHREALTIME/./}
xgrant destroy g1 2>"$work/err"
# (Waiting out the close timeout, 10 s as libxl's, says "did not close";
# the bound below it only backs that up: a loaded machine is slow.)
check "destroy g1 (no frontend in it) closes its devices at once, as the toolstack, ($(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms, < 10 s) $(cat "$work/err")" \
    bash -c "[ $(( (${EPOCHREALTIME/./} - t0) / 1000 )) -lt 10000 ] && ! grep -q 'did not close' '$work/err'"
check "destroy closed g1's disk in order (backend Closed, nodes gone)" \
    bash -c "! xenstore-ls -f | grep -q 'backend/vbd/$id1/'"
if [ -n "${nflog:-}" ]; then
    check "destroy removed the interface vif$id1.0 its backend left" \
        bash -c "! ip link show vif$id1.0 >/dev/null 2>&1 && grep -q 'removed interface vif$id1.0' '$work/err'"
fi
# A frontend finishing its own handshake writes over the Closing destroy
# wrote (its transaction committed after): destroy writes it again, and
# does not sit out libxl's 10 s.  The stand-in backend holds still
# ("never") until the frontend has written over it.
fe2=/local/domain/$id2/device/vbd/51712
echo never >"$work/mode"
t0=${EPOCHREALTIME/./}
xgrant destroy g2 2>"$work/err2" &
dpid=$!
for _ in $(seq 100); do [ "$(xenstore-read $fe2/state 2>/dev/null)" = 5 ] && break; sleep 0.02; done
xenstore-write $fe2/state 4
echo ok >"$work/mode"
wait $dpid
ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
check "destroy g2, whose frontend wrote Connected over Closing, within the 10 s ($ms ms) $(cat "$work/err2")" \
    bash -c "[ $ms -lt 10000 ] && ! grep -q 'did not close' '$work/err2'"
check "g2's nodes are gone" bash -c "! xenstore-ls -f | grep -q 'backend/vbd/$id2/'"
check "the daemons still serve g3" eval 'alive "$blk" && alive "$net"'
check "destroy g3" xgrant destroy g3
check "the daemons serving nothing more are stopped $(xenstore-ls -f /local/domain/0/backend 2>/dev/null | grep -E '/[0-9]+/[0-9]+/state ' | tr '\n' ' ')" \
    eval '! alive "$blk" && ! alive "$net"'
check "their pid files are gone" test ! -e "$rundir/xgrant-blkback.pid" -a ! -e "$rundir/xgrant-netback.pid"

# A guest that exits by itself: the watcher stops the idle daemons too.
id=$(xgrant create g.cfg 'name="short"' 'program=["sleep","1"]' 2>/dev/null)
blk=$(pidof_stub blkback)
for _ in $(seq 100); do alive "$blk" || break; sleep 0.1; done
check "after a guest exits by itself the idle daemon is stopped ($id, $blk)" \
    eval '[ -n "$id" ] && [ -n "$blk" ] && ! alive "$blk"'
id=$(xgrant create g.cfg 'name="brief"' 'program=["true"]' 2>"$work/err")
check "a guest whose program ends at once is still created ($id) $(tr '\n' ' ' <"$work/err")" test -n "$id"
for _ in $(seq 200); do [ -e "$rundir/xgrant-blkback.pid" ] || break; sleep 0.1; done

echo die >"$work/mode"
XGRANT_INIT_TIMEOUT_MS=8000 expect_fail "a daemon that exits at once is noticed before the timeout" \
    "disk xvda .*did not reach InitWait: its daemon exited"
echo ok >"$work/mode"
XGRANT_BLKBACK=$work/nosuch expect_fail "a missing daemon" \
    "vbd devices need the xgrant-blkback backend driver: XGRANT_BLKBACK $work/nosuch: No such file.*XGRANT_BACKENDS=none"
id=$(XGRANT_BACKENDS=none xgrant create g.cfg 'name="nodes"' 2>/dev/null)
check "XGRANT_BACKENDS=none writes the nodes, starts nothing ($id)" \
    bash -c "[ -n '$id' ] && [ '$(be_state 0 vbd "$id" 51712)' = 1 ] && [ ! -e '$rundir/xgrant-blkback.pid' ]"
xgrant destroy nodes &

# --- driver domains ---------------------------------------------------------
cat >drv.cfg <<'EOF'
name = "dg"
program = [ "sleep", "600" ]
disk = [ 'vdev=xvda, backend=drv, target=disk0.img' ]
vif = [ 'mac=00:16:3e:00:00:02, backend=drv' ]
EOF
chmod 0666 disk0.img
id=$(xgrant create drv.cfg 2>"$work/err")
drv=$(xgrant list | awk '$2 == "drv" { print $1 }')
check "backend=drv starts driver domain drv ($drv) and the guest ($id) $(tr '\n' ' ' <"$work/err")" \
    bash -c "[ -n '$id' ] && [ -n '$drv' ] && grep -q 'started driver domain $drv (drv)' '$work/err'"
check "the disk's backend is in the driver domain, InitWait" test "$(be_state "$drv" vbd "$id" 51712)" = 2
check "the interface's backend too" test "$(be_state "$drv" vif "$id" 0)" = 2
check "no daemon was started in domain 0" test ! -e "$rundir/xgrant-blkback.pid"
check "the frontend names the driver domain" \
    test "$(xenstore-read /local/domain/$id/device/vbd/51712/backend-id)" = "$drv"
check "block-list shows BE $drv" bash -c "xgrant block-list dg | grep -qE '^51712 +$drv +$id '"
id2=$(xgrant create drv.cfg 'name="dg2"' 2>"$work/err")
check "a second guest uses the running driver domain ($id2)" \
    bash -c "[ -n '$id2' ] && ! grep -q 'started driver' '$work/err' && [ \$(xgrant list | grep -c ' drv ') -eq 1 ]"
check "destroy dg" xgrant destroy dg
check "dg's backends in the driver domain are gone" \
    bash -c "! xenstore-ls -f | grep -q '/local/domain/$drv/backend/vbd/$id/'"
check "the driver domain stays (it is the user's)" bash -c "xgrant list | grep -q ' drv '"
expect_fail "backend= naming a domain id that does not exist" \
    "backend domain 77 does not exist" 'disk=["vdev=xvda, backend=77, target=disk0.img"]'
XGRANT_BACKENDS=none expect_fail "backend= a missing domain with XGRANT_BACKENDS=none" \
    "backend domain 'nodrv' does not exist" 'disk=["vdev=xvda, backend=nodrv, target=disk0.img"]'
expect_fail "a bad ip= for the guest's interface" \
    "key 'vif': entry 1: ip '10.9.0.300' is not a.b.c.d\[/len\]" 'vif=["ip=10.9.0.300"]'
expect_fail "backend= that is no domain name" \
    "key 'vif': entry 1: backend 'a b' is not a domain name or id" 'vif=["backend=a b"]'
check "dry run shows the driver domain as \$drv" \
    bash -c "xgrant create -n drv.cfg | grep -q '^/local/domain/\\\$drv/backend/vbd/\\\$DOMID/51712/state = \"1\"'"
check_done
