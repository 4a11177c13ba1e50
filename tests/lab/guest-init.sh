#!/bin/sh
# /init of the lab's PV guest (busybox): the xgrant module, then the tests,
# then the driver cases dom0 asks for (drv-guest.sh) on the disk and NIC
# dom0 gives it (stock xen-blkfront and xen-netfront).
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
mount -t proc proc /proc
/bin/busybox --install -s /bin 2>/dev/null
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
insmod /xen-gntalloc.ko
insmod /xen-gntdev.ko
insmod /xen-evtchn.ko
insmod /xen-blkfront.ko
insmod /xen-netfront.ko
[ ! -e /tun.ko ] || insmod /tun.ko
insmod /xgrant.ko || echo "XLAB guest FAIL kmod: insmod xgrant.ko failed"
insmod /xlabhv.ko || echo "XLAB-NOTE insmod xlabhv.ko failed"
# The multi-guest case's extra guests (xlab-m2, xlab-m3: dom0-init.sh).
if grep -q XLAB_ROLE=multi /proc/cmdline; then
    /xlab multi
    poweroff -f
fi
grep -q XLAB_ONLY=drv /proc/cmdline || /xlab guest
/drv-guest.sh serve
echo "XLAB-GUEST-DONE"
poweroff -f
