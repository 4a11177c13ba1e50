#!/usr/bin/env bash
# make lab: boots Xen with Debian's kernel as PV dom0 under
# qemu-system-x86_64 -accel tcg, creates a PV guest with xl, runs the xlab
# cases in both, powers off and counts; twice: the patched hypervisor from
# build-hv/ (make hv; missing, that boot is a failure) and Debian's stock
# 4.17, where the extension's cases SKIP (absent) and the standard-grant
# cases must pass; then the patched one built with FLASK (build-hv-flask,
# make hv-flask), the XSM cases only.  LAB_BOOTS="patched" (or "stock",
# "flask", any list) boots those only.
#   B=<build dir> tests/lab/run.sh     (the VM files live in $B/lab)
# Exit: 0 all passed, 1 a failure, 77 the lab cannot run here (reason printed).
set -euo pipefail
B=${B:-build}
LAB=$B/lab
HV=${HV_DIR:-build-hv}
TIMEOUT=${LAB_TIMEOUT:-3600} # a hung boot; the driver cases under load took 30 min
BOOTS=${LAB_BOOTS:-patched stock flask}
# The flask boot: the patched series with XSM/FLASK enforcing (make
# hv-flask, which `make lab` runs first); only the XSM cases run there.
HV_FLASK=${HV_FLASK_DIR:-$HV-flask}
# The boots that run the driver cases (drv-dom0.sh; ~3 more minutes on an
# idle host, 10-30 under load): the patched one by default;
# LAB_DRV_BOOTS="patched stock" both, LAB_DRV_BOOTS= none.
DRV_BOOTS=${LAB_DRV_BOOTS-patched}
# LAB_ONLY=drv: only the driver cases (a quicker loop while working on them);
# LAB_ONLY=hvmap: only xlab_hvmap.c's cases (hv-patches 0008, 0013; the big MAP).
ONLY=${LAB_ONLY:+ XLAB_ONLY=$LAB_ONLY}
# xgrant's frontends in the guest (part 4) run with the patched boot's
# driver cases; =1 adds them on the stock boot, =0 leaves them out,
# =netxg runs xgrant-netfront against xgrant-netback alone (drv-dom0.sh).
[ -z "${LAB_DRV_FRONTENDS:-}" ] || ONLY="$ONLY XLAB_FRONTS=$LAB_DRV_FRONTENDS"
# LAB_STRESS=SECONDS with LAB_ONLY=stress: the driver cases' stress phase
# alone for that long (drv-dom0.sh stress_only; no disk, no NIC).
[ -z "${LAB_STRESS:-}" ] || ONLY="$ONLY XLAB_STRESS=$LAB_STRESS"
# Xen's FPU switching: eager.  Xen on an AMD CPU (what -cpu max is under
# TCG) switches FPU state lazily: CR0.TS set when a vCPU is scheduled in,
# the state loaded at its first #NM.  QEMU's TCG (7.2 here) runs XSAVE,
# XSAVEOPT and XRSTOR without the #NM that CR0.TS asks for (FXSAVE and the
# SSE/AVX instructions do raise it), so a PV kernel's XSAVE at a task
# switch saved the registers another vCPU left in that CPU, and its XRSTOR
# was undone by Xen's load at the next #NM: processes of dom0 and the guest
# ran with another's vector registers (glibc's memcpy, strlen...) and died
# of it, stock Xen too (tests/lab/README.md, drv_fpu_clean).  Eager
# switching never leaves CR0.TS set under a running vCPU.  LAB_LAZY_FPU=1
# leaves the option out (the corruption back: the check of that case).
XEN_FPU=spec-ctrl=eager-fpu
[ "${LAB_LAZY_FPU:-0}" != 1 ] || XEN_FPU=
# hv-patches 0021's test knob, for the patched boots only (stock Xen has
# no such option): xgrant_pv_pte_maps waits this many ms between taking an
# L1 table and reading its entry, for a frame that begins with "XGL1HOLD"
# (only xlab_hvmap.c's l1_ref_held makes one; LAB_L1_HOLD_MS=0 leaves it
# out and that case SKIPs).
L1_HOLD_MS=${LAB_L1_HOLD_MS:-4000}
# Experiment knobs: QEMU's CPU model, more Xen options.
QCPU=${LAB_QEMU_CPU:-max}
XEN_EXTRA="$XEN_FPU ${LAB_XEN_ARGS:-}"
here=$(cd "$(dirname "$0")" && pwd)
t_start=$(date +%s)
phase() { echo "lab: [$(($(date +%s) - t_start)) s] $*"; }
skip() { echo "lab: SKIP: $*"; exit 77; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (make lab-deps)"
qemu-system-x86_64 -accel help 2>/dev/null | grep -qx tcg || skip "this QEMU has no TCG accelerator"
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, image build)"
for f in xlab drv-ping drv-canary drv-forkstress drv-fpucheck; do
    [ -x "$LAB/$f" ] || { echo "lab: $LAB/$f missing (run make lab)"; exit 1; }
done
mem_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
[ "${mem_kb:-0}" -ge 1800000 ] || skip "less than 1.8 GiB of memory available for QEMU"

phase "root filesystem"
"$here/rootfs.sh" "$LAB"
ROOT=$LAB/rootfs
KVER=$(basename "$(ls -d "$ROOT"/lib/modules/*-amd64 | head -1)")

phase "guest module (in the chroot, headers for $KVER)"
"$here/kmod-build.sh" "$LAB"

phase "guest initramfs and dom0 image"
"$here/guest-initramfs.sh" "$LAB" "$KVER"
mkdir -p "$ROOT/xlab"
rm -f "$ROOT"/xlab/xgrant-* "$ROOT"/xlab/xlab-blkfront
cp "$LAB/xlab" "$LAB/drv-ping" "$LAB/drv-canary" "$LAB/drv-forkstress" "$LAB/drv-fpucheck" "$LAB/xgrant.ko" "$LAB/xlabhv.ko" "$LAB/guest.cpio.gz" "$ROOT/xlab/"
install -m 755 "$here/drv-dom0.sh" "$ROOT/xlab/drv-dom0.sh"
# xgrant's backends for dom0 (module.mk), and its frontends (they go in the
# guest's initramfs; here drv-dom0.sh sees whether the guest has them).
for d in xgrant-blkback xgrant-netback xlab-blkfront xgrant-netfront; do
    [ ! -x "$LAB/$d" ] || cp "$LAB/$d" "$ROOT/xlab/"
done
sed "s/@KVER@/$KVER/" "$here/guest.cfg" >"$ROOT/xlab/guest.cfg"
install -m 755 "$here/dom0-init.sh" "$ROOT/sbin/xlab-init"
rm -f "$LAB/dom0.img"
mkfs.ext4 -q -F -L xlab -d "$ROOT" "$LAB/dom0.img" 2G

# One boot of KIND: its hypervisor, a fresh copy of the dom0 image, QEMU,
# the count (appended to $LAB/counts).
boot() {
    local kind=$1 log=$LAB/serial-$1.log rc=0 t_boot boot_s drv=0 xen=$1 hv=$HV
    local knob=
    [ "$kind" != flask ] || { xen=patched; hv=$HV_FLASK; }
    [ "$xen" != patched ] || [ "$L1_HOLD_MS" = 0 ] || knob="xgrant_test_l1_hold=$L1_HOLD_MS"
    phase "xen ($kind)"
    rc=0
    "$here/xen-image.sh" "$xen" "$hv" "$ROOT" "$LAB/xen-$kind.elf" || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "lab: [$kind] FAIL: no hypervisor to boot"
        echo "0 1 0" >>"$LAB/counts"
        return
    fi
    case " $DRV_BOOTS " in *" $kind "*) drv=1 ;; esac
    cp --sparse=always "$LAB/dom0.img" "$LAB/dom0-boot.img"
    phase "boot $kind (serial: $log; timeout $TIMEOUT s)"
    t_boot=$(date +%s)
    timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi,tb-size=256 \
        -cpu "$QCPU" -smp 2 -m 1024 -display none -monitor none -no-reboot -nic none \
        -serial "file:$log" \
        -drive "file=$LAB/dom0-boot.img,format=raw,if=virtio" \
        -kernel "$LAB/xen-$kind.elf" \
        -append "console=com1 com1=115200,8n1 dom0_mem=512M smap=0 loglvl=warning guest_loglvl=warning $XEN_EXTRA $knob" \
        -initrd "$ROOT/boot/vmlinuz-$KVER root=/dev/vda rw console=hvc0 quiet init=/sbin/xlab-init XLAB_XEN=$xen XLAB_DRV=$drv$ONLY,$ROOT/boot/initrd.img-$KVER" \
        || rc=$?
    boot_s=$(($(date +%s) - t_boot))
    [ "$rc" -eq 124 ] && echo "lab: [$kind] QEMU did not power off within $TIMEOUT s"
    "$here/report.sh" "$log" "$boot_s" "$kind" "$LAB/counts"
    rm -f "$LAB/dom0-boot.img"
}

rm -f "$LAB/counts"
for kind in $BOOTS; do
    case $kind in
        patched | stock | flask) boot "$kind" ;;
        *) echo "lab: unknown boot '$kind' in LAB_BOOTS (patched, stock, flask)"; exit 1 ;;
    esac
done
echo "lab: whole make lab $(($(date +%s) - t_start)) s"
awk '{p += $1; f += $2; s += $3} END {
    printf "%d passed, %d failed, %d skipped\n", p, f, s; exit f > 0 }' "$LAB/counts"
