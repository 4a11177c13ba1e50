#!/usr/bin/env bash
# The main job: three domains on xgrantd grant, delegate, copy and revoke,
# the real xenstore tools read the store and `xgrant create` lays out an xl
# config's devices; the grant table and delegation tree are shown at each
# step.
# Runs on a private xgrantd socket and cleans up after itself.
set -euo pipefail
B=${B:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/$B/bin
export PATH=$bin:$PATH
. "$top/tools/confine-reach.sh"
confine_reach "$bin"
work=$(mktemp -d /tmp/xgrant-demo-XXXXXX)
export XGRANT_SOCK=$work/xgrantd.sock
export XENSTORED_PATH=$work/xenstored # xgrantd's store, next to its socket
pids=()

cleanup() {
    xgrant hv stop >/dev/null 2>&1 || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

# guest NAME: a domain running xgrant-guest, driven through two FIFOs.
guest() {
    local name=$1
    mkfifo "$work/$name.in" "$work/$name.out"
    xgrant run --name "$name" --memory 4M -- xgrant-guest \
        <"$work/$name.in" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=($!)
    eval "exec {fd_in_$name}>\"$work/$name.in\""
    eval "exec {fd_out_$name}<\"$work/$name.out\""
}
# say NAME CMD...: one command to a guest, prints and returns its reply.
say() {
    local name=$1; shift
    local in out reply
    eval "in=\$fd_in_$name; out=\$fd_out_$name"
    echo "$*" >&"$in"
    IFS= read -r reply <&"$out" || reply="err (guest $name is gone)"
    printf '  %-6s> %-58s %s\n' "$name" "$*" "$reply" >&2
    echo "$reply"
}
val() { set -- $1; echo "$2"; } # "ok VALUE" -> VALUE

step "Start the embedded hypervisor (xgrantd) on $XGRANT_SOCK"
show xgrant hv start
step "Three domains, each a process with 4 MiB of guest memory"
guest alice; guest bob; guest carol
A=$(val "$(say alice domid)"); Bd=$(val "$(say bob domid)"); C=$(val "$(say carol domid)")
show xgrant list

step "alice writes a message across a page boundary and grants bob 300 bytes of it (rwd)"
say alice alloc 2 >/dev/null
say alice write 0 4000 "[alice page 0 ...] This message starts 96 bytes before the end of page 0 of alice's memory and runs across the page boundary at byte 4096 into page 1. Bob was granted 300 bytes of it; carol was delegated only the 150 bytes from bob's offset 40, which is all she can ever copy. [... alice page 1]" >/dev/null
RA=$(val "$(say alice grant "$Bd" rwd 0 4000 300)")
step "bob delegates a narrower window, 150 bytes read-only, to carol"
RB=$(val "$(say bob delegate "$C" r "$A" "$RA" 40 150)")
step "carol copies her window through the hypervisor and prints it"
say carol alloc 1 >/dev/null
say carol copyfrom "$Bd" "$RB" 0 0 0 150 >/dev/null
say carol print 0 0 150 >/dev/null
step "The grant tables and the delegation tree"
show xgrant grants alice
show xgrant grants bob
step "Narrowing holds: carol cannot write, nor read past her window"
say carol copyto "$Bd" "$RB" 0 0 0 10 >/dev/null || true
say carol copyfrom "$Bd" "$RB" 100 0 0 51 >/dev/null || true
step "alice revokes her grant: everything delegated below it dies at once"
say alice revoke "$RA" >/dev/null
say carol copyfrom "$Bd" "$RB" 0 0 0 10 >/dev/null || true
say bob alloc 1 >/dev/null
say bob copyfrom "$A" "$RA" 0 0 0 10 >/dev/null || true
show xgrant grants bob
step "The store: the real xenstore tools read xgrantd's xenstore, with Xen's permissions"
show xenstore-ls -f /local/domain/"$A"
show xgrant run --name eve --memory 1M -- sh -c "xenstore-read name; xenstore-read /local/domain/$A/name" || true
step "An xl config: xgrant create writes the domain's disk and NIC nodes exactly as libxl does"
truncate -s 16M "$work/disk0.img"
printf '$ xgrant create tests/xl/examples/guest.cfg\n'
# Nodes only here (XGRANT_BACKENDS=none): the drivers' part comes below.
G=$(cd "$work" && XGRANT_BACKENDS=none xgrant create "$top/tests/xl/examples/guest.cfg")
echo "$G"
show xenstore-ls -f /local/domain/0/backend/vbd/"$G"
show xenstore-read /local/domain/"$G"/device/vif/0/mac
XGRANT_PROBE_GRACE_MS=0 show xgrant destroy guest
step "Tear down"
show xgrant destroy carol
show xgrant destroy bob
show xgrant destroy alice
show xgrant list
show xgrant hv stop
echo
echo "demo: done"
