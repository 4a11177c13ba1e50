#!/usr/bin/env bash
# The PV guest's initramfs: static busybox, the xlab binary, the xgrant
# module, and Linux's gntalloc (the v1 side of the copy comparison), gntdev
# (a v1 map: the guest as a backend) and evtchn (the fault ring's port),
# xen-blkfront and xen-netfront (the driver cases, drv-guest.sh).
#   usage: guest-initramfs.sh LABDIR KVER   -> LABDIR/guest.cpio.gz
set -euo pipefail
LAB=$1 KVER=$2
here=$(cd "$(dirname "$0")" && pwd)
D=$LAB/guest-initramfs
rm -rf "$D"
mkdir -p "$D"/{bin,dev,proc,sys,tmp}
cp /bin/busybox "$D/bin/busybox"
for a in sh mount insmod poweroff cat echo sleep; do ln -s busybox "$D/bin/$a"; done
cp "$LAB/xlab" "$LAB/drv-ping" "$LAB/drv-canary" "$LAB/drv-forkstress" "$LAB/drv-fpucheck" "$LAB/xgrant.ko" "$LAB/xlabhv.ko" "$D/"
for m in xen-gntalloc xen-gntdev xen-evtchn; do
    cp "$LAB/rootfs/lib/modules/$KVER/kernel/drivers/xen/$m.ko" "$D/"
done
M=$LAB/rootfs/lib/modules/$KVER/kernel/drivers
cp "$M/block/xen-blkfront.ko" "$M/net/xen-netfront.ko" "$D/"
# xgrant's frontends (drv-dom0.sh), when built, with the libraries they
# load: the dom0 root's copies (the same Debian as the host they were linked
# on), and tun for xgrant-netfront's TAP.
for f in xlab-blkfront xgrant-netfront; do
    [ -x "$LAB/$f" ] || continue
    mkdir -p "$D/lib/x86_64-linux-gnu" "$D/lib64"
    cp "$LAB/$f" "$D/"
    for l in $(ldd "$LAB/$f" | awk '/=>/ { print $1 }'); do
        cp -L "$LAB/rootfs/usr/lib/x86_64-linux-gnu/$l" "$D/lib/x86_64-linux-gnu/"
    done
    cp -L "$LAB/rootfs/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$D/lib64/"
    # glibc loads it for pthread_cancel (xgrant's libraries cancel threads)
    cp -L "$LAB/rootfs/usr/lib/x86_64-linux-gnu/libgcc_s.so.1" "$D/lib/x86_64-linux-gnu/"
    cp "$M/net/tun.ko" "$D/"
done
install -m 755 "$here/guest-init.sh" "$D/init"
install -m 755 "$here/drv-guest.sh" "$D/drv-guest.sh"
(cd "$D" && find . | cpio -o -H newc --quiet) | gzip -1 >"$LAB/guest.cpio.gz"
