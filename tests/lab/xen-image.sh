#!/usr/bin/env bash
# Writes the hypervisor QEMU boots, uncompressed (QEMU's multiboot loader
# takes the 32-bit ELF, not xen.gz), to OUT.  KIND "patched": the build
# from HV_DIR (make hv): HV_XEN if set, else HV_DIR/xen.elf, HV_DIR/xen
# (the 32-bit ELF) or HV_DIR/xen.gz; exit 2 when there is none.  KIND
# "stock": Debian's 4.17 from the root filesystem (no extension: its
# cases SKIP, the standard-grant cases run).
#   usage: xen-image.sh patched|stock HV_DIR ROOTFS OUT
set -euo pipefail
KIND=$1 HV=$2 ROOT=$3 OUT=$4
is_elf32() { file -L "$1" 2>/dev/null | grep -q 'ELF 32-bit.*executable'; }
if [ "$KIND" = stock ]; then
    gunzip -c "$ROOT"/boot/xen-4.17-amd64.gz >"$OUT"
    echo "lab: xen: STOCK Debian Xen 4.17: the extension is absent (its cases SKIP)"
else
    # Only the top of HV_DIR: make hv may keep unpatched baseline builds below.
    src=${HV_XEN:-}
    for c in "$HV/xen.elf" "$HV/xen"; do
        if [ -z "$src" ] && [ -f "$c" ] && is_elf32 "$c"; then src=$c; fi
    done
    if [ -n "$src" ]; then
        cp "$src" "$OUT"
        echo "lab: xen: PATCHED hypervisor $src ($(date -r "$src" -u '+%F %T UTC'))"
    elif [ -f "$HV/xen.gz" ]; then
        gunzip -c "$HV/xen.gz" >"$OUT"
        echo "lab: xen: PATCHED hypervisor $HV/xen.gz ($(date -r "$HV/xen.gz" -u '+%F %T UTC'))"
    else
        echo "lab: xen: no patched hypervisor in $HV (no xen.elf, xen or xen.gz: make hv)"
        exit 2
    fi
fi
is_elf32 "$OUT" || { echo "lab: $OUT is not a 32-bit multiboot ELF"; exit 1; }
