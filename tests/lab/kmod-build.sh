#!/usr/bin/env bash
# Builds libgrant/kmod inside the cached dom0 root filesystem, against
# the linux-headers-amd64 that match the linux-image in it (the kernel that
# boots as dom0 and as the PV guest).  Output: $LAB/xgrant.ko
#   usage: kmod-build.sh LABDIR
set -euo pipefail
LAB=${1:?usage: kmod-build.sh LABDIR}
ROOT=$LAB/rootfs
KVER=$(basename "$(ls -d "$ROOT"/lib/modules/*-amd64 | head -1)")
SRC=$ROOT/root/xgrant-kmod
rm -rf "$SRC"
mkdir -p "$SRC/abi"
cp libgrant/kmod/{Kbuild,Makefile,*.c,*.h} "$SRC/"
cp -r libgrant/kmod/shim "$SRC/"
cp libgrant/abi/grant_abi.h libgrant/abi/gntx_xen.h "$SRC/abi/"
if ! chroot "$ROOT" make -C /root/xgrant-kmod KDIR="/usr/src/linux-headers-$KVER" \
    >"$LAB/kmod-build.log" 2>&1; then
    cat "$LAB/kmod-build.log"
    echo "lab: the xgrant module did not build against $KVER"
    exit 1
fi
grep -E 'warning|error' "$LAB/kmod-build.log" || true
cp "$SRC/xgrant.ko" "$LAB/xgrant.ko"
echo "lab: built xgrant.ko for $KVER"
