#!/usr/bin/env bash
# make hv: Debian bookworm's Xen 4.17 hypervisor with the grant core in it.
#   1. Debian's xen source (`apt-get source xen`, cached in $HV/xen/dl) is
#      unpacked once into $HV/xen/pristine.
#   2. The files the series touches are staged from pristine, libgrant/core
#      and libgrant/abi are copied in unchanged (xen/common/xgrant/{core,abi}),
#      and hv-patches/series is applied in order.  Only files whose content
#      changed are copied into the build tree $HV/xen/work, so a re-run
#      rebuilds only what changed; nothing changed at all: nothing is run.
#   3. make -C xen defconfig (once) / olddefconfig, make -C xen -j$HV_JOBS.
#   4. Results: $HV/xen.gz, $HV/xen.elf (the uncompressed 32-bit multiboot
#      image QEMU's -kernel loads) and $HV/xen-syms; the stamp
#      $HV/.xgrant-made-flask$HV_FLASK that make's `lab` compares with the
#      inputs (module.mk), also left by a run that found them up to date.
# HV_FLASK=1: with XSM/FLASK (CONFIG_XSM=y, flask the default, enforcing)
# and a built-in policy: Xen's default one plus hv-patches/flask/*.te (the
# lab's nocopy_domU_t); needs checkpolicy.  Use its own HV_DIR
# (build-hv-flask: tests/lab/README.md).
# Installs nothing: `make deps` adds the deb-src entry and the packages.
set -euo pipefail
HV=${HV_DIR:-build-hv}
JOBS=${HV_JOBS:-2}
FLASK=${HV_FLASK:-0}
SELF=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$SELF/.." && pwd)
HERE=$(cd "${HV_PATCHES:-$SELF}" && pwd) # series + patches (check.sh points elsewhere)
mkdir -p "$HV/xen/dl"
HV=$(cd "$HV" && pwd)
X=$HV/xen
start=$SECONDS
die() { echo "make hv: FAIL: $*" >&2; exit 1; }

for t in flex bison dpkg-source gzip make gcc; do
    command -v "$t" >/dev/null || die "$t missing: run 'make deps'"
done
[ "$FLASK" != 1 ] || command -v checkpolicy >/dev/null ||
    die "HV_FLASK=1: checkpolicy missing (apt-get install checkpolicy)"

# 1. Source, downloaded and unpacked once.
dsc=$(ls "$X"/dl/xen_*.dsc 2>/dev/null | head -n1 || true)
if [ -z "$dsc" ]; then
    grep -q '^Package: xen' <(apt-cache showsrc xen 2>/dev/null) ||
        die "no deb-src entry for xen: run 'make deps' (hv-patches/deb-src.sh)"
    echo "make hv: apt-get source xen into $X/dl"
    (cd "$X/dl" && apt-get source --download-only -qq xen 2>&1 | grep -v unsandboxed || true)
    dsc=$(ls "$X"/dl/xen_*.dsc 2>/dev/null | head -n1 || true)
    [ -n "$dsc" ] || die "apt-get source xen fetched nothing"
fi
ver=$(basename "$dsc" .dsc)
if [ "$(cat "$X/pristine/.xgrant-src" 2>/dev/null)" != "$ver" ]; then
    echo "make hv: unpacking $ver"
    rm -rf "$X/pristine" "$X/work"
    # (dpkg-source's "gpgv: Can't check signature" goes to the log: apt
    # already checked the download against the signed Release file)
    dpkg-source -q -x "$dsc" "$X/pristine" >"$X/unpack.log" 2>&1 ||
        { cat "$X/unpack.log" >&2; rm -f "$X"/dl/*; die "dpkg-source -x $dsc failed (download removed: run make hv again)"; }
    echo "$ver" >"$X/pristine/.xgrant-src"
fi

# The stamp make's file targets compare with the inputs (module.mk): given
# the time the inputs were read (a file edited during the build is newer).
read_at=$(date +%s.%N)
stamp=$HV/.xgrant-made-flask$FLASK
# The hypervisor's headers of libgrant/abi (sim_wire.h is xgrantd's).
mapfile -t abi < <(cd "$TOP" && ls libgrant/abi/*.h | grep -v '/sim_wire\.h$')
# Everything the result depends on; equal key and outputs present: done.
mapfile -t patches < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$HERE/series")
[ ${#patches[@]} -gt 0 ] || die "hv-patches/series lists no patch"
for p in "${patches[@]}"; do [ -f "$HERE/$p" ] || die "series names $p, not in hv-patches/"; done
key=$( (echo "$ver flask=$FLASK"; cat "$SELF/build.sh" "$SELF"/flask/*.te; cd "$HERE" && cat series "${patches[@]}";
        cd "$TOP" && cat libgrant/core/*.c libgrant/core/*.h "${abi[@]}") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$X/work/.xgrant-key" 2>/dev/null)" = "$key" ] &&
   [ -f "$HV/xen.gz" ] && [ -f "$HV/xen.elf" ]; then
    touch -d "@$read_at" "$stamp"
    echo "make hv: up to date ($ver, $(( SECONDS - start )) s)"
    echo "make hv: $HV/xen.gz $HV/xen.elf $HV/xen-syms"
    exit 0
fi

# 2. Stage: pristine copies of the touched files, the core, the series.
S=$X/stage
rm -rf "$S" && mkdir -p "$S"
touched=$(cd "$HERE" && grep -h '^+++ ' "${patches[@]}" | awk '{print $2}' |
          sed 's|^[^/]*/||' | sort -u)
for f in $touched; do
    [ -f "$X/pristine/$f" ] || continue
    mkdir -p "$S/$(dirname "$f")" && cp -p "$X/pristine/$f" "$S/$f"
done
mkdir -p "$S/xen/common/xgrant/core" "$S/xen/common/xgrant/abi"
cp "$TOP"/libgrant/core/*.c "$TOP"/libgrant/core/*.h "$S/xen/common/xgrant/core/"
(cd "$TOP" && cp "${abi[@]}" "$S/xen/common/xgrant/abi/")
for p in "${patches[@]}"; do
    if ! out=$(patch -p1 -d "$S" --batch --forward --fuzz=0 --no-backup-if-mismatch -r - <"$HERE/$p" 2>&1); then
        echo "$out" | sed 's/^/    /' >&2
        die "hv-patches/$p does not apply to $ver (series order: ${patches[*]})"
    fi
done
# The policy modules of HV_FLASK=1, listed in Xen's modules.conf.
if [ "$FLASK" = 1 ]; then
    P=tools/flask/policy/modules
    mkdir -p "$S/$P" && cp "$X/pristine/$P/modules.conf" "$S/$P/"
    for te in "$SELF"/flask/*.te; do
        cp "$te" "$S/$P/"
        echo "$(basename "$te" .te) = on" >>"$S/$P/modules.conf"
    done
fi
staged=$(cd "$S" && find . -type f | sed 's|^\./||' | sort)

# Into the build tree: changed files only; files a former series or core
# had and this one has not go back to pristine (or away).
[ -d "$X/work" ] || { echo "make hv: build tree $X/work"; cp -a "$X/pristine" "$X/work"; }
for f in $(cat "$X/work/.xgrant-files" 2>/dev/null); do
    grep -qxF "$f" <<<"$staged" && continue
    if [ -f "$X/pristine/$f" ]; then cp -p "$X/pristine/$f" "$X/work/$f"; else rm -f "$X/work/$f"; fi
done
for f in $staged; do
    cmp -s "$S/$f" "$X/work/$f" && continue
    mkdir -p "$X/work/$(dirname "$f")" && cp "$S/$f" "$X/work/$f"
done
echo "$staged" >"$X/work/.xgrant-files"
rm -f "$X/work/.xgrant-key" "$HV"/.xgrant-made-flask*

# 3. Configure and build.
XM=(make -C "$X/work/xen" -s)
log=$X/build.log
echo "make hv: building ($ver + ${#patches[@]} patches, -j$JOBS; log $log)"
{
    [ -f "$X/work/xen/.config" ] || "${XM[@]}" defconfig
    if [ "$FLASK" = 1 ]; then
        grep -q '^CONFIG_XSM=y' "$X/work/xen/.config" || echo CONFIG_XSM=y >>"$X/work/xen/.config"
    elif grep -q '^CONFIG_XSM=y' "$X/work/xen/.config"; then
        sed -i '/^CONFIG_XSM=y/d' "$X/work/xen/.config"
    fi
    "${XM[@]}" olddefconfig
    "${XM[@]}" -j"$JOBS"
} >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "Xen build failed (full log: $log)"; }
grep -q '^CONFIG_XGRANT=y' "$X/work/xen/.config" || die "CONFIG_XGRANT is not y in $X/work/xen/.config"
grep -q ' gcore_hypercall$' <(nm "$X/work/xen/xen-syms") || die "the core is not linked into xen-syms"
[ "$FLASK" != 1 ] || grep -q '^CONFIG_XSM_FLASK_POLICY=y' "$X/work/xen/.config" ||
    die "HV_FLASK=1: no built-in FLASK policy in $X/work/xen/.config"

# 4. Results.
cp "$X/work/xen/xen" "$HV/xen.elf"
cp "$X/work/xen/xen-syms" "$HV/xen-syms"
gzip -9 -n -c "$X/work/xen/xen" >"$HV/xen.gz"
echo "$key" >"$X/work/.xgrant-key"
touch -d "@$read_at" "$stamp"
echo "make hv: built $ver + ${#patches[@]} patches in $(( SECONDS - start )) s"
echo "make hv: $HV/xen.gz $HV/xen.elf $HV/xen-syms"
