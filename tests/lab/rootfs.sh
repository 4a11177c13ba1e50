#!/usr/bin/env bash
# Builds the dom0 root filesystem once: debootstrap bookworm minbase with
# Debian's kernel, the Xen 4.17 tools and what the guest module builds with
# (gcc, make, linux-headers-amd64: the module is built inside this chroot so
# the headers match the kernel that boots).  Cached in $LAB/rootfs; the
# .debs debootstrap leaves behind are deleted.
#   usage: rootfs.sh LABDIR
set -euo pipefail
LAB=${1:?usage: rootfs.sh LABDIR}
ROOT=$LAB/rootfs
if [ -e "$ROOT/.xgrant-rootfs-done" ]; then
    echo "lab: rootfs cached in $ROOT"
    exit 0
fi
MIRROR=${LAB_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PKGS=linux-image-amd64,initramfs-tools,kmod,udev,xen-utils-4.17,xen-hypervisor-4.17-amd64
PKGS+=,xenstore-utils,iproute2,busybox,procps,util-linux,e2fsprogs
PKGS+=,gcc,make,libc6-dev,linux-headers-amd64
rm -rf "$ROOT"
mkdir -p "$LAB"
t0=$(date +%s)
echo "lab: debootstrap bookworm from $MIRROR into $ROOT (about 2-3 minutes)"
debootstrap --variant=minbase --include="$PKGS" bookworm "$ROOT" "$MIRROR" \
    >"$LAB/debootstrap.log" 2>&1 || {
    tail -20 "$LAB/debootstrap.log"
    echo "lab: debootstrap failed (log: $LAB/debootstrap.log)"
    exit 1
}
rm -f "$ROOT"/var/cache/apt/archives/*.deb
echo "lab: rootfs built in $(($(date +%s) - t0)) s"
touch "$ROOT/.xgrant-rootfs-done"
