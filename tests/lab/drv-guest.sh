#!/bin/sh
# The guest's end of the driver cases (tests/lab/drv-dom0.sh drives them).
#   /drv-guest.sh serve   runs the shell commands dom0 leaves in xenstore as
#                         cmd1, cmd2, ... under /local/domain/<self>/data/xlab
#                         (with this file's functions defined) and answers
#                         each with its output (outN, the last 2000 bytes: xenstored's
#                         default value limit is 2048, a longer put fails
#                         ENOSPC and dom0 saw no output at all) and
#                         exit status (rcN); "exit", or no command within
#                         1500 s, ends it.  dom0-init.sh always sends "exit".
# Sourced without an argument: the functions only.

u() { cut -d' ' -f1 /proc/uptime; }
# Milliseconds since uptime $1 (the guest's clock: TCG, ratios only).
ms_since() { awk -v a="$1" -v b="$(u)" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
fail() { echo "$*"; exit 1; }

# blk_write DEV MB: MB MiB of random data to DEV from sector 0 (O_DIRECT,
# 1 MiB blocks, fsync); prints their md5.
blk_write() {
    dd if=/dev/urandom of=/tmp/w bs=1M count="$2" 2>/dev/null || fail "urandom"
    dd if=/tmp/w of="/dev/$1" bs=1M oflag=direct conv=fsync 2>/tmp/dd.err ||
        fail "dd to /dev/$1: $(cat /tmp/dd.err)"
    md5sum </tmp/w
    rm -f /tmp/w
}
# blk_read DEV SKIP MB: the md5 of MB MiB of DEV from MiB SKIP (page cache
# dropped, O_DIRECT).
blk_read() {
    echo 3 >/proc/sys/vm/drop_caches
    dd if="/dev/$1" of=/tmp/r bs=1M skip="$2" count="$3" iflag=direct 2>/tmp/dd.err ||
        fail "dd from /dev/$1: $(cat /tmp/dd.err)"
    md5sum </tmp/r
    rm -f /tmp/r
}
# blk_info DEV: blkfront's line about DEV and the queue's segment limit.
blk_info() {
    dmesg | grep "blkfront: $1:" | tail -1
    echo "max_segments $(cat "/sys/block/$1/queue/max_segments")"
}
# blk_bench DEV MB: "WRITE_MS READ_MS" for MB MiB each way (1 MiB O_DIRECT).
blk_bench() {
    a=$(u)
    dd if=/dev/zero of="/dev/$1" bs=1M count="$2" oflag=direct 2>/dev/null || fail "write"
    w=$(ms_since "$a")
    a=$(u)
    dd if="/dev/$1" of=/dev/null bs=1M count="$2" iflag=direct 2>/dev/null || fail "read"
    echo "$w $(ms_since "$a")"
}
# wait_dev DEV: until /dev/DEV exists (60 s).
wait_dev() {
    i=0
    while [ ! -b "/dev/$1" ]; do
        i=$((i + 1))
        [ $i -le 200 ] || fail "no /dev/$1 after 60 s"
        sleep 0.3
    done
}
# if_of MAC: the name of the interface with that MAC (waits 60 s).
if_of() {
    i=0
    while :; do
        for f in /sys/class/net/*/address; do
            [ "$(cat "$f")" = "$1" ] && d=${f%/address} && echo "${d##*/}" && return 0
        done
        i=$((i + 1))
        [ $i -le 200 ] || fail "no interface with MAC $1 after 60 s"
        sleep 0.3
    done
}
# net_up MAC IP4 IP6: that interface up with both addresses (no duplicate
# address detection); prints its name.
net_up() {
    d=$(if_of "$1") || fail "$d"
    echo 0 >"/proc/sys/net/ipv6/conf/$d/accept_dad"
    ip link set "$d" up && ip addr add "$2/24" dev "$d" &&
        ip -6 addr add "$3/64" dev "$d" || fail "addresses on $d"
    echo "$d"
}
# net_down MAC: that interface without addresses, down (so the next one
# alone answers for the subnet).
net_down() {
    d=$(if_of "$1") || fail "$d"
    ip addr flush dev "$d" && ip link set "$d" down
}
# autoprobe 0|1: whether the kernel's frontends take new devices (0 while
# xgrant's frontends attach theirs).
autoprobe() { echo "$1" >/sys/bus/xen/drivers_autoprobe; }
# xgnf_start DEVID: xgrant-netfront on device/vif/DEVID, TAP xgDEVID, in
# the background (log /tmp/xgnf.log), on libgrant's xen transport (the
# default, sim, looks for xgrantd's socket) with 12 MiB of grantable memory
# (the default 4 MiB is too little for byte-exact grants: 256 tx and 256 rx
# buffers of 16 KiB, ENOMEM); waits 30 s for the TAP.
xgnf_start() {
    (XGRANT_TRANSPORT=xen XGRANT_XEN_PAGES=3072 LD_LIBRARY_PATH=/lib/x86_64-linux-gnu \
        /xgrant-netfront --devid "$1" --ifname "xg$1" >/tmp/xgnf.log 2>&1
        echo "xgrant-netfront exited with status $?" >>/tmp/xgnf.log) &
    i=0
    until [ -e "/sys/class/net/xg$1" ]; do
        i=$((i + 1))
        [ $i -le 100 ] || fail "no xg$1 after 30 s: $(cat /tmp/xgnf.log)"
        sleep 0.3
    done
    cat /tmp/xgnf.log
}
# xgbf DEV WMB ROFF_MB RMB [--no-grant-ext]: xlab-blkfront writes WMB MiB
# of random data at 0 and reads RMB MiB at ROFF_MB; prints its line, then
# the md5 of what it wrote and of what it read.
xgbf() {
    dd if=/dev/urandom of=/tmp/w bs=1M count="$2" 2>/dev/null || fail urandom
    LD_LIBRARY_PATH=/lib/x86_64-linux-gnu /xlab-blkfront $5 "$1" /tmp/w \
        $(($3 << 20)) $(($4 << 20)) /tmp/r || fail "xlab-blkfront failed"
    md5sum /tmp/w /tmp/r | cut -d' ' -f1
    rm -f /tmp/w /tmp/r
}
# net_mtu MAC MTU: sets it; prints the interface's line.
net_mtu() {
    d=$(if_of "$1") || fail "$d"
    ip link set "$d" mtu "$2" || fail "ip link set $d mtu $2 refused"
    ip -o link show "$d" | cut -d' ' -f2-5
}
# tcp_send IP PORT MB: MB MiB of random data to IP:PORT (connecting, 20 s
# of retries); prints "MD5 BYTES MS" (MS: the send, until nc has written
# the last byte and closed).
tcp_send() {
    dd if=/dev/urandom of=/tmp/tx bs=1M count="$3" 2>/dev/null || fail urandom
    s=$(md5sum </tmp/tx | cut -d' ' -f1)
    a=$(u)
    e=$((${a%.*} + 20))
    until timeout 300 nc -w 5 "$1" "$2" </tmp/tx >/dev/null 2>&1; do
        [ "$(u | cut -d. -f1)" -lt $e ] || fail "cannot send to $1:$2 in 20 s"
        sleep 0.5
        a=$(u)
    done
    echo "$s $(wc -c </tmp/tx) $(ms_since "$a")"
    rm -f /tmp/tx
}
# tcp_recv IP PORT: connects (retrying 20 s), reads to EOF; prints
# "MD5 BYTES MS".  busybox nc stops at EOF on either side, so its stdin is
# a FIFO opened read-write (never EOF).
tcp_recv() {
    [ -p /tmp/fifo ] || mkfifo /tmp/fifo
    a=$(u)
    e=$((${a%.*} + 20))
    while :; do
        a=$(u)
        timeout 300 nc -w 5 "$1" "$2" 0<>/tmp/fifo >/tmp/rx 2>/dev/null && [ -s /tmp/rx ] && break
        [ "$(u | cut -d. -f1)" -lt $e ] || fail "no data from $1:$2 in 20 s"
        sleep 0.5
    done
    ms=$(ms_since "$a")
    echo "$(md5sum </tmp/rx | cut -d' ' -f1) $(wc -c </tmp/rx) $ms"
    rm -f /tmp/rx
}

[ "${1:-}" = serve ] || return 0 2>/dev/null || exit 0
n=1
# 1500 s for the next command (dom0's whole run of the cases is bounded so):
# under a loaded host dom0 was seen to take over 300 s between two.
while c=$(/xlab xs get "cmd$n" 1500); do
    [ "$c" = exit ] && break
    sh -c ". /drv-guest.sh; $c" >/tmp/drv-out 2>&1
    rc=$?
    /xlab xs put "out$n" "$(tail -c 2000 /tmp/drv-out)"
    /xlab xs put "rc$n" "$rc"
    n=$((n + 1))
done
