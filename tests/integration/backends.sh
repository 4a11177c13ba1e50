#!/usr/bin/env bash
# xgrant create starts the backend daemons on demand and waits for InitWait;
# destroy stops a daemon that serves nothing more; backend= runs the backend
# in a driver domain.  The daemons here are stand-ins (common/stub-back.sh,
# installed as xgrant-blkback / xgrant-netback) that play a backend's xenbus
# side, so this runs before (and without) the real drivers.
set -u
. "$(dirname "$0")/common/xgstore.sh"
XGRANT_BACKENDS=auto XGRANT_PROBE_GRACE_MS=2000 xgstore_start backends
# The stubs live in the build tree: a confined driver domain reaches it
# (its /tmp is its own).
stubs=$top/$B/tests/stub-back
mkdir -p "$stubs"
ln -sf "$top/tests/integration/common/stub-back.sh" "$stubs/xgrant-blkback"
ln -sf "$top/tests/integration/common/stub-back.sh" "$stubs/xgrant-netback"
export XGRANT_BLKBACK=$stubs/xgrant-blkback XGRANT_NETBACK=$stubs/xgrant-netback
export STUB_DIR=$work
echo ok >"$work/mode"
truncate -s 1M disk0.img
rundir=$work
cat >g.cfg <<'EOF'
name = "g1"
program = [ "sleep", "600" ]
disk = [ 'vdev=xvda, target=disk0.img' ]
vif = [ 'mac=00:16:3e:00:00:01' ]
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
id2=$(xgrant create g.cfg 'name="g2"' 2>"$work/err")
check "a second guest ($id2) reuses the running daemons" \
    bash -c "[ -n '$id2' ] && [ '$(pidof_stub blkback)' = '$blk' ] && [ '$(pidof_stub netback)' = '$net' ] && ! grep -q started '$work/err'"
check "destroy g1" xgrant destroy g1
check "destroy closed g1's disk in order (backend Closed, nodes gone)" \
    bash -c "! xenstore-ls -f | grep -q 'backend/vbd/$id1/'"
check "the daemons still serve g2" eval 'alive "$blk" && alive "$net"'
check "destroy g2" xgrant destroy g2
check "the daemons serving nothing more are stopped" eval '! alive "$blk" && ! alive "$net"'
check "their pid files are gone" test ! -e "$rundir/xgrant-blkback.pid" -a ! -e "$rundir/xgrant-netback.pid"

# A guest that exits by itself: the watcher stops the idle daemons too.
id=$(xgrant create g.cfg 'name="short"' 'program=["sleep","1"]' 2>/dev/null)
blk=$(pidof_stub blkback)
for _ in $(seq 100); do alive "$blk" || break; sleep 0.1; done
check "after a guest exits by itself the idle daemon is stopped ($id, $blk)" \
    eval '[ -n "$id" ] && [ -n "$blk" ] && ! alive "$blk"'

# --- failures name the device ---------------------------------------------
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
check "no node of the failed guest is left" bash -c "! xenstore-ls -f | grep -qE 'backend/(vbd|vif)/'"
echo fail >"$work/mode"
expect_fail "a backend that refuses the device" \
    "disk xvda \(vbd 51712\): backend .* closed instead of probing \(state Closing\): stub: refusing vbd 51712"
xgrant hv stop >/dev/null 2>&1; xgrant hv start >/dev/null # no stub left running
echo die >"$work/mode"
XGRANT_INIT_TIMEOUT_MS=8000 expect_fail "a daemon that exits at once is noticed before the timeout" \
    "disk xvda .*did not reach InitWait: its daemon exited"
echo ok >"$work/mode"
XGRANT_BLKBACK=$work/nosuch expect_fail "a missing daemon" \
    "vbd devices need the xgrant-blkback backend driver: XGRANT_BLKBACK $work/nosuch: No such file.*XGRANT_BACKENDS=none"
id=$(XGRANT_BACKENDS=none xgrant create g.cfg 'name="nodes"' 2>/dev/null)
check "XGRANT_BACKENDS=none writes the nodes, starts nothing ($id)" \
    bash -c "[ -n '$id' ] && [ '$(be_state 0 vbd "$id" 51712)' = 1 ] && [ ! -e '$rundir/xgrant-blkback.pid' ]"
XGRANT_PROBE_GRACE_MS=0 xgrant destroy nodes

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
check "destroy dg2" xgrant destroy dg2
expect_fail "backend= naming a domain id that does not exist" \
    "backend domain 77 does not exist" 'disk=["vdev=xvda, backend=77, target=disk0.img"]'
XGRANT_BACKENDS=none expect_fail "backend= a missing domain with XGRANT_BACKENDS=none" \
    "backend domain 'nodrv' does not exist" 'disk=["vdev=xvda, backend=nodrv, target=disk0.img"]'
expect_fail "backend= that is no domain name" \
    "key 'vif': entry 1: backend 'a b' is not a domain name or id" 'vif=["backend=a b"]'
check "dry run shows the driver domain as \$drv" \
    bash -c "xgrant create -n drv.cfg | grep -q '^/local/domain/\\\$drv/backend/vbd/\\\$DOMID/51712/state = \"1\"'"
check_done
