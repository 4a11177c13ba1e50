#!/usr/bin/env bash
# The main job: three domains on xgrantd grant, delegate, copy and revoke,
# the real xenstore tools read the store and `xgrant create` lays out an xl
# config's devices; the grant table and delegation tree are shown at each
# step.
# Then the drivers: a guest writes and reads its disk through xgrant
# (blkfront in nbdkit's xgrant plugin, xgrant-blkback started on demand)
# and an NBD client in domain 0 reads it; as root, domain 0 and a guest
# ping each other and move data over TCP (xgrant-netback, the guest's
# xgrant-netfront).  Each part says why when it cannot run here.
# Runs on a private xgrantd socket (as root, in a network namespace of its
# own) and cleans up after itself.
set -euo pipefail
if [ "$(id -u)" = 0 ] && [ -z "${XG_DEMO_NS:-}" ] && command -v unshare >/dev/null; then
    XG_DEMO_NS=1 exec unshare -n bash "$0" "$@"
fi
[ -n "${XG_DEMO_NS:-}" ] && ip link set lo up
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
shared= # a directory guests and domain 0 share (a confined guest's /tmp is its own)

cleanup() {
    xgrant hv stop >/dev/null 2>&1 || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work" ${shared:+"$shared"}
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

# ---- The drivers ------------------------------------------------------------
# skip_part WHAT: the reason WHAT cannot run here, or nothing.
missing() {
    local why=
    for t in "$@"; do
        case $t in
            */*) [ -e "$t" ] || why="$why $(basename "$t") (not built)" ;;
            *) command -v "$t" >/dev/null || why="$why $t" ;;
        esac
    done
    [ -z "$why" ] || echo "missing:$why"
}
plugin=$top/$B/lib/nbdkit-xgrant-plugin.so
step "A guest's disk through xgrant: xgrant create starts xgrant-blkback; the guest writes and reads its disk"
why=$(missing "$bin/xgrant-blkback" "$plugin" nbdkit nbdcopy nbdinfo)
if [ -n "$why" ]; then
    echo "(skipped: $why)"
else
    shared=$(mktemp -d "$top/$B/demo-XXXXXX") && chmod 01777 "$shared"
    truncate -s 16M "$shared/disk.img"
    msg="Hello from a guest: these bytes went through blkfront, a grant per segment, and xgrant-blkback into the image."
    # The guest's program: nbdkit with the xgrant plugin on its xvda (the
    # guest's blkfront), running nbdcopy against it, all inside the guest.
    cat >"$shared/writer.sh" <<EOF
printf '%-512s' '$msg' >$shared/msg.txt # one sector: NBD clients write whole ones
nbdkit -U - $plugin vdev=xvda --run 'nbdcopy $shared/msg.txt "\$uri" && nbdcopy "\$uri" - 2>/dev/null | head -c ${#msg}' >$shared/writer.out 2>&1
echo >>$shared/writer.out
EOF
    cat >"$shared/writer.cfg" <<EOF
name = "writer"
program = [ "sh", "$shared/writer.sh" ]
disk = [ 'vdev=xvda, access=rw, target=$shared/disk.img' ]
EOF
    show xgrant create "$shared/writer.cfg"
    for _ in $(seq 100); do [ -s "$shared/writer.out" ] && break; sleep 0.1; done
    for _ in $(seq 50); do xgrant list | grep -q ' writer ' || break; sleep 0.1; done
    printf '$ cat writer.out   # what the guest read back from its xvda\n'
    cat "$shared/writer.out"
    printf '$ head -c %d disk.img   # the image, read by domain 0\n' "${#msg}"
    head -c "${#msg}" "$shared/disk.img"; echo
    step "An NBD client in domain 0 reads the guest's disk: a guest exports its xvda with nbdkit on a socket"
    cat >"$shared/reader.cfg" <<EOF
name = "reader"
program = [ "nbdkit", "-f", "-U", "$shared/nbd.sock", "$plugin", "vdev=xvda" ]
disk = [ 'vdev=xvda, access=rw, target=$shared/disk.img' ]
EOF
    show xgrant create "$shared/reader.cfg"
    for _ in $(seq 100); do [ -S "$shared/nbd.sock" ] && break; sleep 0.1; done
    uri="nbd+unix:///?socket=$shared/nbd.sock"
    show nbdinfo --size "$uri"
    printf '$ nbdcopy %s - | head -c %d\n' "$uri" "${#msg}"
    nbdcopy "$uri" - 2>/dev/null | head -c "${#msg}" || true
    echo
    sleep 1.1 # the backend publishes its counters at most once a second
    show xgrant block-list reader
    show xgrant destroy reader
fi

step "A guest's network through xgrant: xgrant-netback in domain 0, the guest's xgrant-netfront on its own eth0"
why=$(missing "$bin/xgrant-netback" "$bin/xgrant-netfront" ip ping python3 nsenter)
[ "$(id -u)" = 0 ] || why="needs root (TAP devices, network namespaces)"
[ "${XGRANTD_CONFINE:-1}" != 0 ] || why="domains are not confined here, so a guest has no network namespace of its own"
if [ -n "$why" ]; then
    echo "(skipped: $why)"
else
    cat >"$work/net.cfg" <<'EOF'
name = "netguest"
program = [ "sleep", "600" ]
vif = [ 'mac=00:16:3e:12:34:56, ip=10.9.0.2/24' ]
EOF
    N=$(xgrant create "$work/net.cfg")
    echo "$N"
    ginit=$(xgrant list | awk '$2 == "netguest" { print $3 }')
    show ip addr add 10.9.0.1/24 dev "vif$N.0"
    show ip link set "vif$N.0" up
    printf '$ nsenter -t <guest> -n ip -br addr   # the guest'"'"'s network namespace\n'
    nsenter -t "$ginit" -n ip -br addr
    for _ in $(seq 50); do xgrant network-list netguest | grep -qE '^0 +0 +\S+ +0 +4 ' && break; sleep 0.1; done
    show ping -c 2 -i 0.3 10.9.0.2
    printf '$ nsenter -t <guest> -n ping -c 2 10.9.0.1   # the guest pings domain 0\n'
    nsenter -t "$ginit" -n ping -c 2 -i 0.3 10.9.0.1
    head -c 8M /dev/urandom >"$work/data"
    printf '$ # 8 MiB over TCP from domain 0 to a listener in the guest, SHA-256 at both ends\n'
    nsenter -t "$ginit" -n python3 -c '
import hashlib, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.9.0.2", 5001)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
print("  guest received %d bytes, sha256 %s" % (n, h.hexdigest()))' &
    sleep 0.3
    python3 -c '
import socket, sys, time
d = open(sys.argv[1], "rb").read()
for _ in range(50):
    try:
        s = socket.create_connection(("10.9.0.2", 5001), 5); break
    except OSError: time.sleep(0.1)
t = time.time(); s.sendall(d); s.close()
print("  domain 0 sent %d bytes in %.2f s" % (len(d), time.time() - t))' "$work/data"
    wait $!
    echo "  domain 0's data: sha256 $(sha256sum "$work/data" | cut -d' ' -f1)"
    sleep 1.1 # counters: at most once a second
    show xgrant network-list netguest
    show xgrant destroy netguest
fi

step "Tear down"
show xgrant destroy carol
show xgrant destroy bob
show xgrant destroy alice
show xgrant list
show xgrant hv stop
echo
echo "demo: done"
