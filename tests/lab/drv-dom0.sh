#!/bin/bash
# The driver cases (issues 13 and 14, part 5), dom0's side: the lab guest's
# stock xen-blkfront and xen-netfront, first against Linux's xen-blkback and
# xen-netback, then (the kernel backends unloaded) against xgrant-blkback and
# xgrant-netback.  The guest runs what this script asks through xenstore
# (drv-guest.sh serve).  Every case is an "XLAB dom0 PASS|FAIL|SKIP" line;
# the throughput lines are "XLAB-BENCH drv ...".
#   drv-dom0.sh setup        before xl create: modules, bridge, images;
#                            prints the guest's disk= and vif= lines
#   drv-dom0.sh run GUESTID  the cases, then "exit" to the guest
#   drv-dom0.sh stop GUESTID only "exit" to the guest (no driver cases)
set -u
BR=xenbr0
NET4=10.99.0
NET6=fd99:
D=/drv # images, fifo, received data: dom0's ext4 root (tmpfs refuses O_DIRECT)
IMG_MB=64
MB=8        # the block integrity cases' size
NET_MB=2    # each TCP transfer (0.3-1 MB/s under TCG: eight of them a boot)
BENCH_MB=16 # blk dd each way
MAC_LINUX=00:16:3e:58:00:01
MAC_XGRANT=00:16:3e:58:00:02
MAC_XGF_LINUX=00:16:3e:58:00:03  # xgrant-netfront against xen-netback
MAC_XGF_XGRANT=00:16:3e:58:00:04 # xgrant-netfront against xgrant-netback
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

rep() {
    local s=FAIL
    [ "$2" = 1 ] && s=PASS
    [ $s = PASS ] || echo "$1" >>$D/failed
    echo "XLAB dom0 $s $1: $3"
}
skip() { echo "XLAB dom0 SKIP $1: $2"; }
t() { echo "XLAB-T $1 $(cut -d' ' -f1 /proc/uptime)"; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }
md5() { md5sum | cut -d' ' -f1; }
# rep's second word is "$(CONDITION && echo 1)".

setup() {
    local m loop
    for m in loop bridge tun xen-blkback xen-netback; do
        modprobe "$m" || echo "XLAB-NOTE modprobe $m failed" >&2
    done
    mkdir -p $D
    truncate -s ${IMG_MB}M $D/linux.img $D/xgrant.img
    loop=$(losetup -f --show $D/linux.img)
    ip link add $BR type bridge forward_delay 0 stp_state 0
    ip addr add $NET4.1/24 dev $BR
    ip -6 addr add ${NET6}:1/64 dev $BR nodad
    ip link set $BR up
    echo "disk = ['format=raw,vdev=xvda,access=rw,target=$loop']"
    echo "vif = ['mac=$MAC_LINUX,bridge=$BR']"
}

# ---- the guest's commands -------------------------------------------------
# The command counter and "the guest stopped answering" live in files: gx
# mostly runs in a command substitution's subshell.
next_cmd() {
    local n
    n=$(($(cat $D/cmd.n 2>/dev/null || echo 0) + 1))
    echo $n >$D/cmd.n
    echo $n
}
# gx SECONDS 'COMMAND': runs it in the guest (drv-guest.sh's functions
# defined); prints its output; returns its exit status (124: no answer).
gx() {
    local rc end n
    [ ! -e $D/guest.gone ] || {
        echo "the guest stopped answering earlier"
        return 124
    }
    n=$(next_cmd)
    timeout 20 xenstore-write "$XS/cmd$n" "$2"
    end=$(($(date +%s) + $1))
    until rc=$(timeout 20 xenstore-read "$XS/rc$n" 2>/dev/null); do
        if [ "$(date +%s)" -ge $end ]; then
            # A slow command delays the next ones only; two in a row: gone.
            [ -e $D/guest.slow ] && touch $D/guest.gone
            touch $D/guest.slow
            echo "no answer from the guest within $1 s"
            return 124
        fi
        sleep 0.3
    done
    rm -f $D/guest.slow
    timeout 20 xenstore-read -R "$XS/out$n" # raw: newlines as they are
    # The keys are the guest's (its directory): they count against its
    # store quota (xenstored's 1000 entries a domain), which the xlab cases
    # before these use most of; kept, the 56th command's answer failed
    # ENOSPC in the guest and every later command timed out.
    timeout 20 xenstore-rm "$XS/cmd$n" "$XS/out$n" "$XS/rc$n" >/dev/null 2>&1
    return "$rc"
}
# xsr PATH: a store key for a case; a failed read is said (a note with
# xenstore-read's message) and tried once more: one such failure was seen
# under load, for a key that was there.
xsr() {
    local v
    v=$(xenstore-read "$1" 2>&1) && { printf '%s' "$v"; return; }
    echo "XLAB-NOTE xenstore-read $1 failed ($v), again in 1 s" >&2
    sleep 1
    xenstore-read "$1" 2>/dev/null
}
first() { printf '%s' "$1" | head -1 | cut -d' ' -f1; }
oneline() { printf '%s' "$1" | tr '\n' ' ' | cut -c1-300; }

# ---- block ------------------------------------------------------------------
# blk_cases BE DEV DEVID IMAGE
blk_cases() {
    local be=$1 dev=$2 devid=$3 img=$4 out g d bk fe bp fp ind info segs fl
    out=$(gx 300 "blk_write $dev $MB")
    g=$(first "$(printf '%s' "$out" | tail -1)")
    d=$(dd if="$img" bs=1M count=$MB 2>/dev/null | md5)
    rep blk_${be}_guest_write "$([ "$g" = "$d" ] && echo 1)" \
        "the guest wrote $MB MiB of random data to /dev/$dev (O_DIRECT): guest md5 $(oneline "$out"), image md5 $d"
    dd if=/dev/urandom of=$D/r bs=1M count=$MB 2>/dev/null
    d=$(md5 <$D/r)
    dd if=$D/r of="$img" bs=1M seek=16 conv=notrunc,fsync 2>/dev/null
    rm -f $D/r
    out=$(gx 300 "blk_read $dev 16 $MB")
    g=$(first "$out")
    rep blk_${be}_guest_read "$([ "$g" = "$d" ] && echo 1)" \
        "dom0 wrote $MB MiB of random data at 16 MiB of the image: image md5 $d, the guest read $(oneline "$out") from /dev/$dev"
    bk=/local/domain/0/backend/vbd/$guest/$devid
    fe=/local/domain/$guest/device/vbd/$devid
    bp=$(xsr $bk/feature-persistent)
    fp=$(xsr $fe/feature-persistent)
    ind=$(xsr $bk/feature-max-indirect-segments)
    info=$(gx 60 "blk_info $dev")
    segs=$(printf '%s' "$info" | sed -n 's/^max_segments //p')
    rep blk_${be}_persistent "$([ "$bp" = 1 ] && [ "$fp" = 1 ] &&
        grep -q 'persistent grants: enabled' <<<"$info" && echo 1)" \
        "feature-persistent backend ${bp:-absent} frontend ${fp:-absent}; $(oneline "$info")"
    fl=$(xsr $bk/feature-flush-cache)
    rep blk_${be}_flush "$([ "$fl" = 1 ] && grep -q 'flush diskcache: enabled' <<<"$info" && echo 1)" \
        "feature-flush-cache ${fl:-absent}; blkfront: $(grep -o '[a-z ]*flush[a-z ]*: [a-z]*' <<<"$info" | head -1) (the guest's write cache and fsync need it)"
    rep blk_${be}_indirect "$([ "${ind:-0}" -gt 11 ] && [ "${segs:-0}" -gt 11 ] &&
        grep -q 'indirect descriptors: enabled' <<<"$info" && echo 1)" \
        "feature-max-indirect-segments ${ind:-absent}, the guest's queue takes ${segs:-?} segments a request (11 without indirect)"
}

# blk_bench BE DEV: BLK_W_<BE>, BLK_R_<BE> in MB/s (the guest's clock).
blk_bench() {
    local out w r
    out=$(gx 300 "blk_bench $2 $BENCH_MB")
    read -r w r <<<"$out"
    if [[ "$w" =~ ^[0-9]+$ && "$r" =~ ^[0-9]+$ && $w -gt 0 && $r -gt 0 ]]; then
        printf -v "BLK_W_$1" '%s' "$(awk -v m=$BENCH_MB -v t="$w" 'BEGIN { printf "%.2f", m * 1000 / t }')"
        printf -v "BLK_R_$1" '%s' "$(awk -v m=$BENCH_MB -v t="$r" 'BEGIN { printf "%.2f", m * 1000 / t }')"
        echo "XLAB-BENCH drv blk $1: dd $BENCH_MB MiB 1 MiB O_DIRECT on /dev/$2: write $w ms, read $r ms"
    else
        echo "XLAB-NOTE blk bench $1 failed: $(oneline "$out")"
    fi
}

# ---- network ----------------------------------------------------------------
# listen PORT [FILE]: a busybox nc listening on PORT in the background
# (300 s at most), sending FILE, or receiving into $D/rx (its stdin a FIFO
# opened read-write: busybox nc stops at EOF on either side); returns once
# it listens.  $! is its pid.
listen() {
    [ -p $D/fifo ] || mkfifo $D/fifo
    if [ -n "${2:-}" ]; then
        timeout 300 busybox nc -l -p "$1" <"$2" >/dev/null 2>&1 &
    else
        timeout 300 busybox nc -l -p "$1" 0<>$D/fifo >$D/rx 2>/dev/null &
    fi
    for _ in $(seq 100); do ss -ltn | grep -q ":$1 " && break || sleep 0.2; done
}
# rate VAR "MD5 BYTES MS": VAR = MB/s when all NET_MB MiB came.
rate() {
    local b ms
    read -r _ b ms <<<"$2"
    [ "${b:-0}" = $((NET_MB << 20)) ] && [ "${ms:-0}" -gt 0 ] &&
        printf -v "$1" '%s' "$(awk -v m=$NET_MB -v t="$ms" 'BEGIN { printf "%.2f", m * 1000 / t }')"
}
# tcp_pair BE IP TAG: random data each way, checksums compared; the times
# are the throughput figures.
tcp_pair() {
    local be=$1 ip=$2 tag=$3 out g d pid
    # The guest connects both ways (dom0 listens): the guest's clock times
    # both.
    listen 5001
    pid=$!
    out=$(gx 300 "tcp_send $NET4.1 5001 $NET_MB") || kill $pid 2>/dev/null
    wait $pid
    g=$(first "$out")
    d="$(md5 <$D/rx) $(stat -c %s $D/rx)"
    rm -f $D/rx
    rep net_${be}_tcp_from_guest_$tag "$([ -n "$g" ] && [ "$g" = "$(first "$d")" ] && echo 1)" \
        "$NET_MB MiB of random data, the guest sent md5/bytes/ms $(oneline "$out"); dom0 received md5/bytes $d"
    rate "NET_TX_${be}_$tag" "$out"
    dd if=/dev/urandom of=$D/tx bs=1M count=$NET_MB 2>/dev/null
    d=$(md5 <$D/tx)
    listen 5002 $D/tx
    pid=$!
    out=$(gx 300 "tcp_recv $NET4.1 5002")
    kill $pid 2>/dev/null
    rep net_${be}_tcp_to_guest_$tag "$([ "$d" = "$(first "$out")" ] && echo 1)" \
        "$NET_MB MiB of random data, dom0's md5 $d; the guest received md5/bytes/ms $(oneline "$out")"
    rate "NET_RX_${be}_$tag" "$out"
    rm -f $D/tx
}
# ping_pair BE IP4 IP6 TAG [SIZE]: drv-ping (drv-ping.c: busybox's ping
# re-enters stdio and exit() from a signal handler and was seen to die of
# SIGSEGV under TCG), /xlab/drv-ping in dom0, /drv-ping in the guest.
# net_diag BE DEVID: where packets stopped (after a failed net case): the
# backend's counters, both ends' interface counters, the guest's kernel.
net_diag() {
    local vif=vif$guest.$2
    echo "XLAB-NOTE diag $1: backend statistics: $(xenstore-ls /local/domain/0/backend/vif/$guest/$2/statistics 2>/dev/null | tr -s ' \n' ' ')"
    echo "XLAB-NOTE diag $1: dom0 $vif: $(ip -s -o link show $vif 2>/dev/null | tr -s ' ' ' ')"
    gx 30 "cat /proc/net/dev | tail -n +3; dmesg | tail -15" | sed "s/^/XLAB-NOTE diag $1: guest: /"
    dmesg | tail -8 | sed "s/^/XLAB-NOTE diag $1: dom0 kernel: /"
    [ ! -f /tmp/xgrant-netback.log ] || tail -5 /tmp/xgrant-netback.log | sed "s/^/XLAB-NOTE diag $1: netback: /"
}

ping_pair() {
    local be=$1 ip=$2 ip6=$3 tag=$4 sz=${5:-56} out rc
    out=$(/xlab/drv-ping -c 3 -w 20 -s "$sz" "$ip" 2>&1)
    rc=$?
    rep net_${be}_ping_to_guest_$tag "$([ $rc = 0 ] && echo 1)" "$sz bytes: $(printf '%s' "$out" | grep 'packets' | head -1)"
    out=$(gx 60 "/drv-ping -c 3 -w 20 -s $sz $NET4.1 | grep packets")
    rep net_${be}_ping_from_guest_$tag "$([ $? = 0 ] && grep -q ' 0% packet loss' <<<"$out" && echo 1)" "$sz bytes: $(oneline "$out")"
    [ "$tag" = 1500 ] || return 0
    out=$(/xlab/drv-ping -6 -c 2 -w 20 "$ip6" 2>&1)
    rc=$?
    out="dom0->guest: $(printf '%s' "$out" | grep packets) guest->dom0: $(oneline "$(gx 60 "/drv-ping -6 -c 2 -w 20 ${NET6}:1 | grep packets")")"
    rep net_${be}_ipv6 "$([ $rc = 0 ] && grep -q 'guest->dom0: 2 packets transmitted, 2 packets received' <<<"$out" && echo 1)" \
        "ping6 both ways (neighbour discovery, no DAD): $out"
}
# net_cases BE MAC LASTOCTET DEVID [short]
net_cases() {
    local be=$1 mac=$2 ip=$NET4.$3 ip6=${NET6}:$3 devid=$4 vif=vif$guest.$4 out gmac c
    out=$(gx 120 "net_up $mac $ip $ip6")
    rep net_${be}_up "$([ $? = 0 ] && echo 1)" "interface with $mac in the guest: $(oneline "$out"); dom0's $vif on bridge $(basename "$(readlink /sys/class/net/$vif/master)" 2>/dev/null)"
    ping_pair $be $ip $ip6 1500
    gmac=$(ip neigh show "$ip" dev $BR | grep -o 'lladdr [0-9a-f:]*')
    rep net_${be}_arp "$([ "$gmac" = "lladdr $mac" ] && echo 1)" "dom0's neighbour entry for $ip: ${gmac:-none} (want $mac)"
    if [ "${5:-}" = short ]; then # xgrant's netfront: no MTU 9000 round
        tcp_pair $be $ip 1500
        return
    fi
    if [ -z "$gmac" ]; then # no frame came through: the rest would only time out
        for c in tcp_from_guest_1500 tcp_to_guest_1500 mtu9000 ping_to_guest_9000 \
            ping_from_guest_9000 tcp_from_guest_9000 tcp_to_guest_9000; do
            rep net_${be}_$c "" "not run: no frame from the guest reached dom0 (no ARP answer)"
        done
        return
    fi
    t drv-$be-tcp
    tcp_pair $be $ip 1500
    [ ! -s $D/failed ] || { net_diag $be $devid; rm -f $D/failed; }
    ip link set $vif mtu 9000 && ip link set $BR mtu 9000
    out=$(gx 60 "net_mtu $mac 9000")
    rep net_${be}_mtu9000 "$(grep -q 'mtu 9000' <<<"$out" && ip link show $vif | grep -q 'mtu 9000' && echo 1)" \
        "the guest: $(oneline "$out"); dom0: $(ip -o link show $vif | grep -o 'mtu [0-9]*')"
    ping_pair $be $ip $ip6 9000 8900
    tcp_pair $be $ip 9000
    [ ! -s $D/failed ] || { net_diag $be $devid; rm -f $D/failed; }
    t drv-$be-net-done
}

BLK_CASES="attach guest_write guest_read persistent flush indirect"
NET_CASES="attach up ping_to_guest_1500 ping_from_guest_1500 ipv6 arp tcp_from_guest_1500"
NET_CASES+=" tcp_to_guest_1500 mtu9000 ping_to_guest_9000 ping_from_guest_9000"
NET_CASES+=" tcp_from_guest_9000 tcp_to_guest_9000"
skip_all() { # skip_all PREFIX "CASES" WHY
    local c
    for c in $2; do skip "$1_$c" "$3"; done
}

# The Linux backends' devices leave, the modules go, and the bus stops
# binding new backend devices to any driver (belt and braces).
kernel_out() {
    local a mods
    a=$(ms_now)
    xl block-detach "$guest" 51712 >/tmp/drv-detach.log 2>&1
    xl network-detach "$guest" 0 >>/tmp/drv-detach.log 2>&1
    ip link set $BR mtu 1500
    losetup -d "$LOOP_LINUX" 2>/dev/null
    rmmod xen-blkback xen-netback 2>>/tmp/drv-detach.log
    echo 0 >/sys/bus/xen-backend/drivers_autoprobe 2>/dev/null
    mods=$(lsmod | grep -oE '^xen_(blk|net)back' | tr '\n' ' ')
    rep drv_kernel_backends_out "$([ -z "$mods" ] &&
        [ -z "$(xenstore-list /local/domain/0/backend/vbd/$guest 2>/dev/null)" ] && echo 1)" \
        "xvda and vif 0 detached, xen-blkback and xen-netback unloaded in $(($(ms_now) - a)) ms: ${mods:-none loaded}; $(oneline "$(cat /tmp/drv-detach.log)")"
    [ -z "$mods" ]
}

# start_daemon NAME PREFIX "CASES": runs /xlab/NAME in the background (log
# /tmp/NAME.log, the xen transport); when it is not there or dies at once,
# each case is a SKIP line saying why, and the status is 1.
start_daemon() {
    local why=
    if [ ! -x /xlab/"$1" ]; then
        why="$1 is not in main yet (no build/bin/$1 to run)"
    else
        XGRANT_TRANSPORT=xen /xlab/"$1" --foreground ${NB_ARGS:-} >/tmp/"$1".log 2>&1 &
        sleep 1
        kill -0 $! 2>/dev/null ||
            why="$1 exited at once: $(oneline "$(cat /tmp/"$1".log)")"
    fi
    [ -z "$why" ] || skip_all "$2" "$3" "$why"
    [ -z "$why" ]
}

xgrant_blk() {
    local loop out rc
    start_daemon xgrant-blkback blk_xgrant "$BLK_CASES" || return
    loop=$(losetup -f --show $D/xgrant.img)
    out=$(xl block-attach "$guest" "format=raw,vdev=xvdb,access=rw,target=$loop" 2>&1)
    rc=$?
    [ $rc = 0 ] && out="$out $(gx 120 "wait_dev xvdb")"
    rc=$((rc + $?))
    rep blk_xgrant_attach "$([ $rc = 0 ] && echo 1)" "xl block-attach xvdb ($loop) served by xgrant-blkback: $(oneline "$out")"
    if [ $rc = 0 ]; then
        blk_cases xgrant xvdb 51728 $D/xgrant.img
        blk_bench xgrant xvdb
    fi
}

xgrant_net() {
    local out rc devid
    start_daemon xgrant-netback net_xgrant "$NET_CASES" || return
    out=$(xl network-attach "$guest" "mac=$MAC_XGRANT,bridge=$BR" 2>&1)
    rc=$?
    devid=$(xenstore-list /local/domain/0/backend/vif/"$guest" 2>/dev/null | tail -1)
    rep net_xgrant_attach "$([ $rc = 0 ] && echo 1)" "xl network-attach vif ${devid:-?} served by xgrant-netback: $(oneline "$out")"
    [ $rc = 0 ] && net_cases xgrant $MAC_XGRANT 3 "$devid"
}

# ---- xgrant's frontends in the guest (part 4) ------------------------------
XGBF_CASES="attach guest_write guest_read grants"
XGNF_CASES="attach up ping_to_guest_1500 ping_from_guest_1500 ipv6 arp"
XGNF_CASES+=" tcp_from_guest_1500 tcp_to_guest_1500"

# front_ready PREFIX "CASES" FRONTEND BE DAEMON: 0 when the guest has
# FRONTEND and (BE xgrant) DAEMON runs in dom0; else a SKIP line per case.
# By default on the patched boot: xlab-blkfront and xgrant-netfront
# against both backends; on the stock boot with LAB_DRV_FRONTENDS=1 only;
# LAB_DRV_FRONTENDS=0 leaves them all out.
front_ready() {
    local why=
    case ${XLAB_FRONTS:-}:$3:$4:${XLAB_XEN:-} in
    0:*) why="left out (LAB_DRV_FRONTENDS=0)" ;;
    1:* | netxg*:*) ;;
    *:stock) why="run on the patched boot (LAB_DRV_FRONTENDS=1 runs them on the stock one too)" ;;
    esac
    [ -n "$why" ] || [ -x /xlab/"$3" ] || why="$3 (xgrant's frontend) is not in main yet"
    [ -n "$why" ] || [ "$4" != xgrant ] || pidof "$5" >/dev/null || why="$5 is not running"
    [ -z "$why" ] || skip_all "$1" "$2" "$why"
    [ -z "$why" ]
}

# xl_twice WHAT UNDO -- XL-ARGS...: runs xl XL-ARGS; when it fails, runs
# the shell command UNDO (the half-made device away) and xl once more.  In
# this lab dom0's tools were seen to fail now and then for no reason of
# the device's (the block hotplug script killed after libxl's timeout, xl
# or cut dying of SIGSEGV or a malloc assertion, under a loaded host): one
# such failure is a note, two a failure.  Prints xl's output.
xl_twice() {
    local what=$1 undo=$2 out
    shift 3
    out=$(xl "$@" 2>&1) && return 0
    echo "XLAB-NOTE $what failed once, again after cleaning up: $(oneline "$out")" >&2
    eval "$undo" >/dev/null 2>&1
    xl "$@" 2>&1
}

# img_md5 FILE MB: the md5 of the file's first MB MiB, asked up to three
# times until it looks like one (a tool of the pipe may die, see above).
img_md5() {
    local m i
    for i in 1 2 3; do
        m=$(dd if="$1" bs=1M count="$2" 2>/dev/null | md5)
        [[ "$m" =~ ^[0-9a-f]{32}$ ]] && break
    done
    echo "$m"
}

# xgfront_blk BE: xlab-blkfront (libxgblkfront) on xvdc against BE's
# blkback: standard grants against Linux's, byte-exact ones against
# xgrant's on the patched hypervisor.
xgfront_blk() {
    local be=$1 img=$D/front-$1.img loop out= rc d im info gw gr want
    front_ready blk_xgblkfront_$be "$XGBF_CASES" xlab-blkfront "$be" xgrant-blkback || return
    truncate -s ${IMG_MB}M "$img"
    loop=$(losetup -f --show "$img")
    dd if=/dev/urandom of=$D/r bs=1M count=$MB 2>/dev/null
    d=$(img_md5 $D/r $MB)
    dd if=$D/r of="$img" bs=1M seek=16 conv=notrunc,fsync 2>/dev/null
    rm -f $D/r
    out=$(gx 30 "autoprobe 0" && xl_twice "xl block-attach xvdc" \
        "xl block-detach $guest xvdc || xl block-detach -f $guest xvdc" -- \
        block-attach "$guest" "format=raw,vdev=xvdc,access=rw,target=$loop")
    rc=$?
    rep blk_xgblkfront_${be}_attach "$([ $rc = 0 ] && echo 1)" "xl block-attach xvdc ($loop), the guest's xen-blkfront kept off (drivers_autoprobe 0): $(oneline "$out")"
    [ $rc = 0 ] && out=$(gx 300 "xgbf xvdc $MB 16 $MB")
    rc=$?
    info=$(head -1 <<<"$out")
    gw=$(sed -n 2p <<<"$out")
    gr=$(sed -n 3p <<<"$out")
    im=$(img_md5 "$img" $MB)
    rep blk_xgblkfront_${be}_guest_write "$([ $rc = 0 ] && [ "$gw" = "$im" ] && echo 1)" \
        "xlab-blkfront wrote $MB MiB of random data (then a flush): guest md5 ${gw:-none}, image md5 $im; $(oneline "$out")"
    rep blk_xgblkfront_${be}_guest_read "$([ $rc = 0 ] && [ "$gr" = "$d" ] && echo 1)" \
        "dom0 wrote $MB MiB at 16 MiB: image md5 $d, xlab-blkfront read ${gr:-none}"
    want="grant_ext 0 persistent 1"
    [ "$be" = xgrant ] && [ "${XLAB_XEN:-}" != stock ] && want="grant_ext 1 persistent 0"
    rep blk_xgblkfront_${be}_grants "$(grep -q "^$want indirect 1" <<<"$info" && echo 1)" \
        "negotiated: ${info:-nothing} (want $want, indirect 1)"
    out=$(xl_twice "xl block-detach xvdc" "xl block-detach -f $guest xvdc" -- \
        block-detach "$guest" xvdc) ||
        echo "XLAB-NOTE xl block-detach xvdc: $(oneline "$out")"
    losetup -d "$loop"
    gx 30 "autoprobe 1" >/dev/null
}

# vif_attach MAC: xl network-attach on the bridge (twice at most); prints
# the new devid.
vif_attach() {
    local before after
    before=$(xenstore-list /local/domain/0/backend/vif/"$guest" 2>/dev/null)
    xl_twice "xl network-attach $1" "xl network-detach $guest $1" -- \
        network-attach "$guest" "mac=$1,bridge=$BR" >&2 || return 1
    after=$(xenstore-list /local/domain/0/backend/vif/"$guest" 2>/dev/null)
    comm -13 <(sort <<<"$before") <(sort <<<"$after") | head -1
}

# xgfront_net BE OLDMAC MAC LASTOCTET: the stock interface OLDMAC (if any) down,
# xgrant-netfront on a new vif against BE's netback, the short net cases.
xgfront_net() {
    local be=$1 devid out= rc
    front_ready net_xgnetfront_$be "$XGNF_CASES" xgrant-netfront "$be" xgrant-netback || return
    gx 60 "${2:+net_down $2; }autoprobe 0" >/dev/null
    devid=$(vif_attach "$3" 2>/tmp/drv-attach.log)
    rc=$?
    grep XLAB-NOTE /tmp/drv-attach.log
    [ $rc = 0 ] && out=$(gx 120 "xgnf_start $devid")
    rc=$((rc + $?))
    rep net_xgnetfront_${be}_attach "$([ $rc = 0 ] && echo 1)" "vif ${devid:-?} with xgrant-netfront in the guest (TAP xg${devid:-?}): $(oneline "$out $(cat /tmp/drv-attach.log)")"
    if [ $rc = 0 ]; then
        net_cases xgnetfront_$be "$3" "$4" "$devid" short
        [ ! -s $D/failed ] || { net_diag xgnetfront_$be "$devid"; rm -f $D/failed; }
    else
        skip_all net_xgnetfront_$be "${XGNF_CASES#attach }" "not attached"
    fi
    gx 30 "kill \$(pidof xgrant-netfront) 2>/dev/null; sleep 1; tail -8 /tmp/xgnf.log 2>/dev/null; dmesg | grep -iE 'segfault|traps:|xgrant' | tail -4" | sed 's/^/XLAB-NOTE xgrant-netfront: /'
    xl network-detach "$guest" "$3" >/dev/null 2>&1
    gx 30 "autoprobe 1" >/dev/null
}

# ratio WHAT UNIT XGRANT LINUX
ratio() {
    if [ -n "$3" ] && [ -n "$4" ]; then
        echo "XLAB-BENCH drv $1: xgrant $3 $2, linux $4 $2, ratio xgrant/linux $(awk -v a="$3" -v b="$4" 'BEGIN { printf "%.2f", a / b }')"
    else
        echo "XLAB-BENCH drv $1: xgrant ${3:-n/a} $2, linux ${4:-n/a} $2, no ratio"
    fi
}

# canary_start / canary_check: drv-canary's locked pages in dom0 and the
# guest, checked every 5 s while the cases run: a driver that writes
# through a stale or wrong frame changes some page of its domain.
# Meanwhile what dom0's kernel says of crashes goes to the console as it
# happens, and a note if xenstored dies (every store client would hang).
canary_start() {
    /xlab/drv-canary 16 5 >$D/canary.out 2>&1 &
    CANARY=$!
    (dmesg -W | grep --line-buffered -iE 'segfault|general protection|traps:|BUG|Oops|corrupt' |
        sed -u 's/^/XLAB-NOTE dom0 kernel: /') &
    KLOG=$!
    (while sleep 15; do
        pidof xenstored >/dev/null || {
            echo "XLAB-NOTE xenstored is gone"
            break
        }
    done) &
    XSWATCH=$!
    gx 30 "(/drv-canary 4 5 >/tmp/canary.out 2>&1 &)" >/dev/null
}
canary_check() {
    local out
    pkill -P $KLOG 2>/dev/null
    kill $KLOG $XSWATCH 2>/dev/null
    kill $CANARY 2>/dev/null
    wait $CANARY
    rep drv_memory_clean_dom0 "$([ $? = 0 ] && echo 1)" "$(oneline "$(cat $D/canary.out)")"
    out=$(gx 30 'kill $(pidof drv-canary); sleep 2; cat /tmp/canary.out')
    rep drv_memory_clean_guest "$(grep -q ' 0 words changed' <<<"$out" && echo 1)" "$(oneline "$out")"
}

# LAB_DRV_FRONTENDS=netxg: only xgrant-netfront against xgrant-netback
# (Linux's backends out first), a quick loop while working on that pair.
run_netxg() {
    gx 60 "net_down $MAC_LINUX" >/dev/null
    kernel_out || return
    start_daemon xgrant-netback net_xgnetfront_xgrant "$XGNF_CASES" || return
    xgfront_net xgrant "" $MAC_XGF_XGRANT 5
}

# shloop SECONDS: subshells, pipes and execs for that long (POSIX sh: the
# guest's busybox runs it too); prints "shloop: N rounds, B bad".
shloop() {
    local e n=0 b=0 x
    e=$(($(cut -d. -f1 /proc/uptime) + $1))
    while [ "$(cut -d. -f1 /proc/uptime)" -lt $e ]; do
        x=$(echo "r$n" | cat)
        [ "$x" = "r$n" ] || b=$((b + 1))
        n=$((n + 1))
    done
    echo "shloop: $n rounds, $b bad"
}
# The stress phase (drv_fpu_clean_*, drv_forkstress_*): vector registers
# across context switches (drv-fpucheck: two in dom0, one in the guest, so
# that Xen switches vCPUs' FPU state on both CPUs), copy-on-write across
# fork (drv-forkstress) and shloop, in both domains at once for SECONDS.
# Xen's lazy FPU switching under QEMU's TCG (run.sh, LAB_LAZY_FPU=1) fails
# it within seconds: the crashes the driver cases used to die of.
stress_start() {
    /xlab/drv-fpucheck "$1" >$D/fpu1.out 2>&1 &
    FPU1=$!
    /xlab/drv-fpucheck "$1" >$D/fpu2.out 2>&1 &
    FPU2=$!
    /xlab/drv-forkstress "$1" 1 >$D/fs.out 2>&1 &
    FS=$!
    shloop "$1" >$D/shloop.out 2>&1 &
    SHL=$!
    gx 30 "(/drv-fpucheck $1 >/tmp/fpu.out 2>&1 &); (/drv-forkstress $1 1 >/tmp/fs.out 2>&1 &); $(declare -f shloop); (shloop $1 >/tmp/shloop.out 2>&1 &)" >/dev/null
}
stress_check() {
    local out fpu=0 fs=0
    kill $FPU1 $FPU2 $FS $SHL 2>/dev/null
    wait $FPU1 || fpu=1
    wait $FPU2 || fpu=1
    wait $FS || fs=1
    wait $SHL
    rep drv_fpu_clean_dom0 "$([ $fpu = 0 ] && echo 1)" "$(oneline "$(cat $D/fpu1.out $D/fpu2.out)")"
    rep drv_forkstress_dom0 "$([ $fs = 0 ] && grep -q 'shloop: [0-9]* rounds, 0 bad' $D/shloop.out && echo 1)" \
        "$(oneline "$(cat $D/fs.out $D/shloop.out)")"
    out=$(gx 60 'kill $(pidof drv-fpucheck drv-forkstress) 2>/dev/null; sleep 3; cat /tmp/fpu.out /tmp/fs.out /tmp/shloop.out')
    rep drv_fpu_clean_guest "$(grep -q ' 0 SSE mismatches, 0 AVX mismatches' <<<"$out" && echo 1)" \
        "$(oneline "$(grep fpucheck <<<"$out")")"
    rep drv_forkstress_guest "$(grep -q ' 0 bad children, 0 children killed by a signal, 0 parent mismatches' <<<"$out" &&
        grep -q 'shloop: [0-9]* rounds, 0 bad' <<<"$out" && echo 1)" "$(oneline "$(grep -v fpucheck <<<"$out")")"
    echo "XLAB-NOTE dom0 crashes in the kernel log: $(dmesg | grep -cE 'segfault|general protection|traps:')"
    gx 30 "echo crashes in the guest kernel log: \$(dmesg | grep -cE 'segfault|general protection|traps:')" | sed 's/^/XLAB-NOTE /'
}
stress_phase() {
    t stress
    stress_start "$1"
    sleep $(($1 + 3))
    stress_check
    t stress-done
}
# LAB_ONLY=stress (run.sh): the stress phase alone, LAB_STRESS seconds.
stress_only() {
    canary_start
    stress_phase "$XLAB_STRESS"
    canary_check
    gx 30 "dmesg | grep -iE 'segfault|traps:|general protection|BUG|Oops|corrupt' | tail -10" | sed 's/^/XLAB-NOTE guest kernel: /'
}

run() {
    [ "${XLAB_FRONTS:-}" != netxg-nomap ] || NB_ARGS=--no-rx-map
    case ${XLAB_FRONTS:-} in netxg*)
        run_netxg
        return
        ;;
    esac
    if [ "${XLAB_ONLY:-}" = stress ]; then
        stress_only
        return
    fi
    canary_start
    stress_phase 20
    t drv-linux
    blk_cases linux xvda 51712 $D/linux.img
    blk_bench linux xvda
    xgfront_blk linux
    t drv-linux-net
    net_cases linux $MAC_LINUX 2 0
    xgfront_net linux $MAC_LINUX $MAC_XGF_LINUX 4
    t drv-kernel-out
    if kernel_out; then
        t drv-xgrant
        xgrant_blk
        xgfront_blk xgrant
        xgrant_net
        xgfront_net xgrant $MAC_XGRANT $MAC_XGF_XGRANT 5
    else
        skip_all blk_xgrant "$BLK_CASES" "Linux's backends are still loaded"
        skip_all net_xgrant "$NET_CASES" "Linux's backends are still loaded"
    fi
    ratio "blk dd write" MB/s "${BLK_W_xgrant:-}" "${BLK_W_linux:-}"
    ratio "blk dd read" MB/s "${BLK_R_xgrant:-}" "${BLK_R_linux:-}"
    for m in 1500 9000; do
        v=NET_TX_xgrant_$m w=NET_TX_linux_$m
        ratio "net TCP guest->dom0 $NET_MB MiB MTU $m" MB/s "${!v:-}" "${!w:-}"
        v=NET_RX_xgrant_$m w=NET_RX_linux_$m
        ratio "net TCP dom0->guest $NET_MB MiB MTU $m" MB/s "${!v:-}" "${!w:-}"
    done
    canary_check
    gx 30 "dmesg | grep -iE 'segfault|traps:|general protection|oom|killed|BUG|Oops|corrupt' | tail -10" | sed 's/^/XLAB-NOTE guest kernel: /'
    t drv-done
}

case ${1:-} in
setup) setup ;;
run | stop)
    guest=${2:?usage: drv-dom0.sh run|stop GUESTID}
    XS=/local/domain/$guest/data/xlab
    if ! xenstore-exists $XS; then
        xenstore-write $XS/drv 1 && xenstore-chmod $XS n"$guest"
    fi
    LOOP_LINUX=$(losetup -j $D/linux.img | cut -d: -f1)
    mkdir -p $D
    rm -f $D/cmd.n $D/guest.gone $D/guest.slow $D/failed
    [ "$1" = run ] && run
    xenstore-write "$XS/cmd$(next_cmd)" exit
    for p in xgrant-blkback xgrant-netback; do
        [ -f /tmp/$p.log ] && sed "s/^/XLAB-NOTE $p: /" /tmp/$p.log | tail -20
    done
    ;;
*)
    echo "usage: drv-dom0.sh setup | run GUESTID | stop GUESTID" >&2
    exit 2
    ;;
esac
exit 0
