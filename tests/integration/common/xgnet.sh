# xgnet.sh: sourced by the network scripts (net_e2e.sh;
# not a test itself).  A guest with a vif through the real pieces, in a
# network namespace of the caller's own:
#   xgnet_enter "$0" "$@"   skips (77) without root, /dev/net/tun, unshare,
#                           ip or python3; re-runs the script in a new
#                           network namespace
#   xgnet_start MTU BODY    a private xgrantd (unconfined: the guest makes
#                           its TAP), `xgrant create` of guest "g" with a
#                           vif of that MTU: xgrant-netback in domain 0, the
#                           guest running xgrant-netfront (eth0 10.9.0.2/24
#                           and fd09::2/64) then the shell BODY;
#                           domain 0's TAP $vif gets 10.9.0.1 and fd09::1.
#                           $work is its directory (removed at exit),
#                           $domid the guest's id; returns 1 if any of it
#                           failed (create.log and the logs say why).
B=${B:-build}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export PATH=$top/$B/bin:$PATH

xgnet_enter() {
    [ "$(id -u)" = 0 ] || { echo "skip: TAP devices and network namespaces need root"; exit 77; }
    [ -c /dev/net/tun ] || { echo "skip: no /dev/net/tun"; exit 77; }
    local t
    for t in unshare ip ping python3 xenstore-read; do
        command -v $t >/dev/null || { echo "skip: $t missing"; exit 77; }
    done
    if [ -z "${XGNET_NS:-}" ]; then
        XGNET_NS=1 exec unshare -n bash "$@"
    fi
}

xgnet_start() {
    local mtu=$1 body=$2 i
    work=$(mktemp -d "$top/$B/xgnet-XXXXXX")
    export XGRANT_SOCK=$work/xgrantd.sock XENSTORED_PATH=$work/xenstored
    xgrantd --foreground --socket "$XGRANT_SOCK" --no-confine --log "$work/xgrantd.log" >/dev/null 2>&1 &
    xgnet_xgd=$!
    trap 'xgrant destroy g >/dev/null 2>&1; kill $xgnet_xgd 2>/dev/null; wait $xgnet_xgd 2>/dev/null; rm -rf "$work"' EXIT
    for i in $(seq 50); do [ -S "$XGRANT_SOCK" ] && break; sleep 0.05; done
    ip link set lo up
    cat >"$work/guest.sh" <<EOF
ip link set lo up
# (xgrant-netfront gives up if its device is not written yet: wait.)
for _ in \$(seq 100); do
    xenstore-read /local/domain/\$XGRANT_DOMID/device/vif/0/backend >/dev/null 2>&1 && break
    sleep 0.05
done
xgrant-netfront >$work/netfront.log 2>&1 &
for _ in \$(seq 100); do ip link show eth0 >/dev/null 2>&1 && break; sleep 0.05; done
ip link set eth0 mtu $mtu
ip addr add 10.9.0.2/24 dev eth0
ip -6 addr add fd09::2/64 dev eth0 nodad
ip link set eth0 up
touch $work/guest.up
$body
sleep 600
EOF
    cat >"$work/g.cfg" <<EOF
name = "g"
memory = 64
program = [ "unshare", "-n", "sh", "$work/guest.sh" ]
vif = [ 'mac=00:16:3e:12:34:56, mtu=$mtu' ]
EOF
    domid=$(cd "$work" && xgrant create g.cfg 2>"$work/create.log") || return 1
    vif=vif$domid.0
    # Up: the guest's eth0 configured, the vif Connected (10 s at most,
    # the machine may be busy), and a first packet through.
    for i in $(seq 200); do
        [ -e "$work/guest.up" ] &&
            [ "$(xenstore-read "/local/domain/0/backend/vif/$domid/0/state" 2>/dev/null)" = 4 ] &&
            break
        sleep 0.05
    done
    ip addr add 10.9.0.1/24 dev "$vif" || return 1
    ip -6 addr add fd09::1/64 dev "$vif" nodad
    for i in $(seq 20); do ping -q -c 1 -W 1 10.9.0.2 >/dev/null 2>&1 && return 0; done
    return 1
}

# The logs of a failed run.
xgnet_logs() {
    echo "--- create"; cat "$work/create.log" 2>/dev/null
    echo "--- netback"; cat "$work/xgrant-netback.log" 2>/dev/null
    echo "--- netfront"; cat "$work/netfront.log" 2>/dev/null
}
