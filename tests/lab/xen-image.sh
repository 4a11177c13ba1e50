#!/usr/bin/env bash
# Picks the hypervisor QEMU boots and writes it, uncompressed (QEMU's
# multiboot loader takes the 32-bit ELF, not xen.gz), to OUT.  The patched
# build from HV_DIR (make hv): HV_XEN if set, else HV_DIR/xen.elf,
# HV_DIR/xen (the 32-bit ELF) or HV_DIR/xen.gz; else Debian's stock 4.17
# from the root filesystem: then the extension is absent and its cases fail.
#   usage: xen-image.sh HV_DIR ROOTFS OUT
set -euo pipefail
HV=$1 ROOT=$2 OUT=$3
is_elf32() { file -L "$1" 2>/dev/null | grep -q 'ELF 32-bit.*executable'; }
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
    gunzip -c "$ROOT"/boot/xen-4.17-amd64.gz >"$OUT"
    echo "lab: xen: STOCK Debian Xen 4.17 (no $HV/xen.elf, xen or xen.gz): the extension answers ENOSYS, its cases FAIL"
fi
is_elf32 "$OUT" || { echo "lab: $OUT is not a 32-bit multiboot ELF"; exit 1; }
