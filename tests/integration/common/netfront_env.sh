# netfront_env.sh: a guest on a vif served by xgrant-netback, for the
# netfront tests and net-bench (sourced; bash).  All of it happens in a
# network namespace of the caller's own (run it under `unshare -n`):
# xgrantd, xgrant-netback (its TAP vif<domid>.0 lands there), and a guest
# domain (a network namespace of its own) running xgrant-netfront.  The
# guest's TAP is made here and handed in open (--tap-fd 0), then moved
# into the guest's namespace as eth0, as a toolstack does for a confined
# domain (frontend/README.md).
#   nfe_skip_reason        prints why this cannot run here (empty: it can)
#   nfe_start WORK GUEST_IP HOST_IP [NETFRONT ARGS...]
#                          sets NFE_DOMID, NFE_PID (the guest's init),
#                          NFE_VIF (dom0's interface); 0 or 1 (logged);
#                          NFE_QUEUES=2: the guest's TAP has two queues
#                          (stdin and stdout), netfront asks for two
#   nfe_guest CMD...       runs CMD in the guest's network namespace
#   nfe_stop               stops everything nfe_start started
NFE_MAC=00:16:3e:5a:00:02

nfe_skip_reason() {
    local t
    [ "$(id -u)" -eq 0 ] || { echo "needs root (TAP devices, network namespaces)"; return; }
    [ -c /dev/net/tun ] || { echo "no /dev/net/tun"; return; }
    for t in ip nsenter unshare python3 xenstore-write xenstore-chmod ping; do
        command -v $t >/dev/null || { echo "$t not installed"; return; }
    done
    [ -x "$NFE_BIN/xgrant-netback" ] || { echo "no $NFE_BIN/xgrant-netback (netback not in this tree)"; return; }
    [ "${XGRANTD_CONFINE:-1}" != 0 ] || { echo "domains not confined (XGRANTD_CONFINE=0): no network namespace of their own"; return; }
}

# nfe_with_tap NAME N CMD...: makes TAP NAME (IFF_TAP|IFF_NO_PI|
# IFF_VNET_HDR, and IFF_MULTI_QUEUE when N is 2) and runs CMD with its
# queues as stdin (and stdout).
nfe_with_tap() {
    python3 - "$@" <<'EOF'
import fcntl, os, struct, sys
n = int(sys.argv[2])
for q in range(n):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(),
                0x0002 | 0x1000 | 0x4000 | (0x0100 if n > 1 else 0)))
    os.dup2(fd, q)
    os.close(fd)
os.execvp(sys.argv[3], sys.argv[3:])
EOF
}

nfe_guest() {
    nsenter -t "$NFE_PID" -n "$@"
}

nfe_wait() { # tries, cmd...: polls every 0.1 s
    local n=$1; shift
    while [ "$n" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

nfe_start() {
    local work=$1 gip=$2 hip=$3 fe be out
    shift 3
    NFE_WORK=$work
    export XGRANT_SOCK=$work/xgrantd.sock
    unset XENSTORED_PATH
    ip link set lo up
    out=$("$NFE_BIN/xgrant" hv start --log "$work/xgrantd.log") || { echo "xgrantd did not start"; return 1; }
    XENSTORED_PATH=$(sed -n 's/^store: //p' <<<"$out")
    export XENSTORED_PATH
    # NFE_NB_ARGS: more netback options (net-bench's --no-rx-map).
    "$NFE_BIN/xgrant-netback" --foreground --log "$work/netback.log" ${NFE_NB_ARGS:-} &
    NFE_NB=$!
    local nq=${NFE_QUEUES:-1} fds=(--tap-fd 0)
    [ "$nq" = 1 ] || fds+=(--tap-fd 1)
    nfe_with_tap nfetap0 "$nq" "$NFE_BIN/xgrant" run --name nfguest -- \
        "$NFE_BIN/xgrant-netfront" "${fds[@]}" "$@" >"$work/netfront.log" 2>&1 &
    NFE_RUN=$!
    nfe_wait 50 bash -c "'$NFE_BIN/xgrant' list | grep -q ' nfguest '" || { echo "the guest did not start"; return 1; }
    read -r NFE_DOMID NFE_PID < <("$NFE_BIN/xgrant" list | awk '$2 == "nfguest" {print $1, $3}')
    be=/local/domain/0/backend/vif/$NFE_DOMID/0
    fe=/local/domain/$NFE_DOMID/device/vif/0
    # As libxl writes a vif; the frontend's link last, once its
    # directory is the guest's.
    xenstore-write "$be/frontend" "$fe" "$be/frontend-id" "$NFE_DOMID" \
        "$be/online" 1 "$be/state" 1 "$be/mac" "$NFE_MAC" "$be/handle" 0 \
        "$be/type" vif &&
        xenstore-chmod -r "$be" n0 r"$NFE_DOMID" &&
        xenstore-write "$fe/backend-id" 0 "$fe/state" 1 "$fe/handle" 0 \
            "$fe/mac" "$NFE_MAC" &&
        xenstore-chmod -r "$fe" n"$NFE_DOMID" r0 &&
        xenstore-write "$fe/backend" "$be" || { echo "store writes failed"; return 1; }
    NFE_VIF=vif$NFE_DOMID.0
    nfe_wait 100 bash -c "[ \"\$(xenstore-read $fe/state)\" = 4 ] && [ \"\$(xenstore-read $be/state)\" = 4 ]" ||
        { echo "the vif did not connect (frontend $(xenstore-read $fe/state 2>&1), backend $(xenstore-read $be/state 2>&1))"; return 1; }
    nfe_wait 50 ip link show "$NFE_VIF" || { echo "no $NFE_VIF"; return 1; }
    ip link set nfetap0 netns "$NFE_PID" &&
        nfe_guest ip link set nfetap0 name eth0 &&
        nfe_guest ip link set eth0 address "$NFE_MAC" &&
        nfe_guest ip link set lo up &&
        nfe_guest ip link set eth0 up &&
        nfe_guest ip addr add "$gip/24" dev eth0 &&
        ip addr add "$hip/24" dev "$NFE_VIF" &&
        ip link set "$NFE_VIF" up || { echo "interface setup failed"; return 1; }
}

nfe_stop() {
    [ -n "${NFE_RUN:-}" ] && kill "$NFE_RUN" 2>/dev/null
    "$NFE_BIN/xgrant" hv stop >/dev/null 2>&1
    [ -n "${NFE_NB:-}" ] && kill "$NFE_NB" 2>/dev/null
    wait 2>/dev/null
}
