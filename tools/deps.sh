#!/usr/bin/env bash
# Installs every Debian package xgrant builds, tests and benchmarks with.
# Idempotent: a no-op (no apt call) when everything is present.
set -euo pipefail
"$(dirname "$0")/../hv-patches/deb-src.sh" # deb-src for `apt-get source xen` (make hv)
pkgs=(build-essential pkg-config libcmocka-dev libseccomp-dev libxen-dev xenstore-utils clang-format clang libclang-rt-14-dev)
pkgs+=(liburing-dev) # xgrant-blkback (io_uring)
pkgs+=(nbdkit nbdkit-plugin-dev libnbd-bin qemu-utils fio) # the nbdkit plugin, real NBD clients, blk-bench
pkgs+=(flex bison dpkg-dev python3 gzip file) # make hv: the Xen 4.17 hypervisor build
pkgs+=(checkpolicy) # make hv-flask (HV_FLASK=1): the lab's flask boot, its built-in policy
pkgs+=(iperf3 iputils-ping iproute2 util-linux) # net-bench, the netfront tests (iperf3, ping, ip, nsenter/unshare)
[ $# -eq 0 ] || pkgs=("$@") # `deps.sh PKG...`: only those (make lab-deps)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all present (${pkgs[*]})"
    exit 0
fi
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
