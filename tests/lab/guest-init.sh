#!/bin/sh
# /init of the lab's PV guest (busybox): the xgrant module, then the tests.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
insmod /xen-gntalloc.ko
insmod /xen-gntdev.ko
insmod /xen-evtchn.ko
insmod /xgrant.ko || echo "XLAB guest FAIL kmod: insmod xgrant.ko failed"
/xlab guest
echo "XLAB-GUEST-DONE"
poweroff -f
