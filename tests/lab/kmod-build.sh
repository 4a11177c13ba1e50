#!/usr/bin/env bash
# Builds libgrant/kmod inside the cached dom0 root filesystem, against
# the linux-headers-amd64 that match the linux-image in it (the kernel that
# boots as dom0 and as the PV guest).  Output: $LAB/xgrant.ko
#   usage: kmod-build.sh LABDIR
set -euo pipefail
LAB=${1:?usage: kmod-build.sh LABDIR}
ROOT=$LAB/rootfs
KVER=$(basename "$(ls -d "$ROOT"/lib/modules/*-amd64 | head -1)")
# build_mod NAME DIR: DIR's Kbuild module NAME.ko, with libgrant/abi (and
# the kmod's shim for its libc names and its hcall.h) beside it, into
# $LAB/NAME.ko.
build_mod() {
    local name=$1 dir=$2 src=$ROOT/root/$1-kmod
    rm -rf "$src"
    mkdir -p "$src/abi"
    cp "$dir"/{Kbuild,Makefile,*.c,*.h} "$src/"
    cp -r libgrant/kmod/shim "$src/"
    cp libgrant/kmod/hcall.h "$src/" # the hypercall wrapper both use
    cp libgrant/abi/grant_abi.h libgrant/abi/gntx_xen.h "$src/abi/"
    if ! chroot "$ROOT" make -C "/root/$name-kmod" KDIR="/usr/src/linux-headers-$KVER" \
        >"$LAB/$name-build.log" 2>&1; then
        cat "$LAB/$name-build.log"
        echo "lab: the $name module did not build against $KVER"
        exit 1
    fi
    grep -E 'warning|error' "$LAB/$name-build.log" || true
    cp "$src/$name.ko" "$LAB/$name.ko"
    echo "lab: built $name.ko for $KVER"
}
build_mod xgrant libgrant/kmod
# The lab's hostile test module (tests/lab/hostile: raw mmu_update and
# GNTTABOP_xgrant calls for xlab_hvmap.c's cases of hv-patches 0008, 0013).
build_mod xlabhv tests/lab/hostile
