#!/usr/bin/env bash
# make lab: boots Xen (the patched one from build-hv/ when it exists, else
# Debian's stock 4.17, where every extension case FAILS with ENOSYS) with
# Debian's kernel as PV dom0 under qemu-system-x86_64 -accel tcg, creates a
# PV guest with xl, runs the xlab cases in both, powers off and counts.
#   B=<build dir> tests/lab/run.sh     (the VM files live in $B/lab)
# Exit: 0 all passed, 1 a failure, 77 the lab cannot run here (reason printed).
set -euo pipefail
B=${B:-build}
LAB=$B/lab
HV=${HV_DIR:-build-hv}
TIMEOUT=${LAB_TIMEOUT:-1500}
here=$(cd "$(dirname "$0")" && pwd)
t_start=$(date +%s)
phase() { echo "lab: [$(($(date +%s) - t_start)) s] $*"; }
skip() { echo "lab: SKIP: $*"; exit 77; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (make lab-deps)"
qemu-system-x86_64 -accel help 2>/dev/null | grep -qx tcg || skip "this QEMU has no TCG accelerator"
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, image build)"
[ -x "$LAB/xlab" ] || { echo "lab: $LAB/xlab missing (run make lab)"; exit 1; }
mem_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
[ "${mem_kb:-0}" -ge 1800000 ] || skip "less than 1.8 GiB of memory available for QEMU"

phase "root filesystem"
"$here/rootfs.sh" "$LAB"
ROOT=$LAB/rootfs
KVER=$(basename "$(ls -d "$ROOT"/lib/modules/*-amd64 | head -1)")

phase "xen"
"$here/xen-image.sh" "$HV" "$ROOT" "$LAB/xen.elf" >"$LAB/xen-image.txt"
cat "$LAB/xen-image.txt"

phase "guest module (in the chroot, headers for $KVER)"
"$here/kmod-build.sh" "$LAB"

phase "guest initramfs and dom0 image"
"$here/guest-initramfs.sh" "$LAB" "$KVER"
mkdir -p "$ROOT/xlab"
cp "$LAB/xlab" "$LAB/xgrant.ko" "$LAB/guest.cpio.gz" "$ROOT/xlab/"
sed "s/@KVER@/$KVER/" "$here/guest.cfg" >"$ROOT/xlab/guest.cfg"
install -m 755 "$here/dom0-init.sh" "$ROOT/sbin/xlab-init"
rm -f "$LAB/dom0.img"
mkfs.ext4 -q -F -L xlab -d "$ROOT" "$LAB/dom0.img" 2G

phase "boot (serial: $LAB/serial.log; timeout $TIMEOUT s)"
t_boot=$(date +%s)
rc=0
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi,tb-size=256 \
    -cpu max -smp 2 -m 1024 -display none -monitor none -no-reboot -nic none \
    -serial "file:$LAB/serial.log" \
    -drive "file=$LAB/dom0.img,format=raw,if=virtio" \
    -kernel "$LAB/xen.elf" \
    -append "console=com1 com1=115200,8n1 dom0_mem=512M smap=0 loglvl=warning guest_loglvl=warning" \
    -initrd "$ROOT/boot/vmlinuz-$KVER root=/dev/vda rw console=hvc0 quiet init=/sbin/xlab-init,$ROOT/boot/initrd.img-$KVER" \
    || rc=$?
boot_s=$(($(date +%s) - t_boot))
[ "$rc" -eq 124 ] && echo "lab: QEMU did not power off within $TIMEOUT s"
"$here/report.sh" "$LAB/serial.log" "$boot_s" "$(($(date +%s) - t_start))"
