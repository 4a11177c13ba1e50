#!/usr/bin/env bash
# xgrant create on the example configs (tests/xl/examples/*.cfg) against a
# private xgrantd: the store tree, dumped with the real xenstore-ls -f -p, must
# match the golden node layout derived from libxl 4.17 (*.nodes) node for
# node (path, value, permissions); xgrant destroy removes every node and the
# domain; config errors name the file, the line and the key.
set -u
# No backend driver runs here (XGRANT_BACKENDS=none): destroy (and the
# watcher create leaves) may close the Initialising backends at once
# (create_order covers the grace).
. "$(dirname "$0")/common/xgstore.sh"
xgstore_start create
examples=$top/tests/xl/examples
truncate -s 1M disk0.img disk1.img

# The device subtrees of domain $1, one "path = "value" (perms)" per line,
# spacing normalised, sorted.
dump() {
    xenstore-ls -f -p | grep -E "^(/local/domain/$1/device/(vbd|vif)|/local/domain/0/backend|/libxl/$1/device)( |/)" |
        sed -E 's/"[[:space:]]+\(/" (/' | LC_ALL=C sort
}
# The golden file with $DOMID substituted, in the same form.
golden() {
    grep -vE '^(#|$)' "$1" | sed -E "s/\\\$DOMID/$2/g; s/\"[[:space:]]+\(/\" (/" | LC_ALL=C sort
}
gone() { # no node of domain $1 is left
    ! xenstore-ls -f | grep -qE "^(/local/domain/$1( |/)|/local/domain/0/backend/[a-z]+/$1( |/)|/libxl/$1( |/))"
}

for cfg in "$examples"/*.cfg; do
    ex=$(basename "$cfg" .cfg)
    id=$(xgrant create "$cfg" 2>"$work/err")
    check "create $ex.cfg prints a domain id ($id) $(cat "$work/err")" test -n "$id"
    [ -n "$id" ] || continue
    dump "$id" >"$work/$ex.got"
    golden "$examples/$ex.nodes" "$id" >"$work/$ex.want"
    check "$ex: $(wc -l <"$work/$ex.want") nodes match libxl's layout" \
        diff -u "$work/$ex.want" "$work/$ex.got"
    check "$ex: the domain runs" bash -c "xgrant list | grep -q ' $id '"
    check "$ex: destroy succeeds" xgrant destroy "$id"
    check "$ex: every node of domain $id is gone" gone "$id"
    check "$ex: the domain is gone" bash -c "! xgrant list | grep -q '^ *$id '"
done

# A guest that exits by itself: the watcher create leaves removes its nodes.
id=$(xgrant create "$examples/guest.cfg" 'program=["true"]' 'name="short"' 2>/dev/null)
for _ in $(seq 100); do gone "$id" && break; sleep 0.1; done
check "nodes of a guest that exited by itself are removed ($id)" \
    eval '[ -n "$id" ] && gone "$id"'
# One that exits after create has written its devices: xgrantd removes
# /libxl/<id> with the domain, the watcher must still find its backends.
id=$(xgrant create "$examples/guest.cfg" 'program=["sleep","3"]' 'name="later"' 2>/dev/null)
check "a guest that exits later still has its backend nodes at first ($id)" \
    bash -c "[ -n '$id' ] && xenstore-ls -f | grep -q '^/local/domain/0/backend/vbd/$id/'"
for _ in $(seq 250); do gone "$id" && break; sleep 0.1; done
check "nodes of a guest that exited by itself later are removed ($id)" \
    eval '[ -n "$id" ] && gone "$id"'

check "dry run prints the nodes" bash -c \
    "xgrant create -n '$examples/guest.cfg' | grep -q '/local/domain/\\\$DOMID/device/vbd/51712/virtual-device = \"51712\"'"
check "dry run creates nothing" bash -c "! xgrant list | grep -q guest"
# Device numbers as libxl__device_disk_dev_number computes them.
vdevs='disk=["vdev=xvda1, target=disk0.img", "vdev=hda, target=disk0.img",
 "vdev=hdc, target=disk0.img", "vdev=sdb, target=disk0.img",
 "vdev=xvdq, target=disk0.img", "vdev=xvdaa, target=disk0.img",
 "vdev=d1p2, target=disk0.img"]'
devids() {
    xgrant create -n "$examples/disk.cfg" "$vdevs" |
        sed -n 's/.*virtual-device = "\([0-9]*\)".*/\1/p' | tr '\n' ' '
}
check "vdev -> devid as libxl: 51713 768 5632 2064 268439552 268442112 51730" \
    test "$(devids)" = '51713 768 5632 2064 268439552 268442112 51730 '

# expect_err FILE PATTERN [ARGS]: exit 1 and stderr matching PATTERN
expect_err() {
    local f=$1 pat=$2 out rc
    shift 2
    out=$(xgrant create "$f" "$@" 2>&1); rc=$?
    if [ "$rc" -eq 1 ] && grep -qE -- "$pat" <<<"$out"; then
        ok=$((ok + 1)); echo "ok error names it: $out"
    else
        bad=$((bad + 1)); echo "not ok $f $* -> $rc (want 1, /$pat/): $out"
    fi
}
base='name = "bad"
program = [ "true" ]'
printf '%s\n# comment\nmemory = "lots"\n' "$base" >mem.cfg
expect_err mem.cfg "^mem.cfg:4: key 'memory': "
printf '%s\nmemory = 0\n' "$base" >mem0.cfg
expect_err mem0.cfg "^mem0.cfg:3: key 'memory': "
printf '%s\n\ndisk = [ "vdev=xvda, colour=red, target=disk0.img" ]\n' "$base" >dkey.cfg
expect_err dkey.cfg "^dkey.cfg:4: key 'disk': entry 1: .*colour"
printf '%s\ndisk = [ "vdev=xvda, target=nosuch.img" ]\n' "$base" >dtarget.cfg
expect_err dtarget.cfg "^dtarget.cfg:3: key 'disk': entry 1: target 'nosuch.img'"
printf '%s\ndisk = [ "vdev=xvda, target=disk0.img", "vdev=51712, target=disk1.img" ]\n' "$base" >ddup.cfg
expect_err ddup.cfg "^ddup.cfg:3: key 'disk': .*same device"
printf '%s\ndisk = [ "vdev=floppy, target=disk0.img" ]\n' "$base" >dvdev.cfg
expect_err dvdev.cfg "^dvdev.cfg:3: key 'disk': entry 1: vdev 'floppy'"
printf '%s\nvif = [ "bridge=xenbr0", "mac=00:16:3e:zz:00:01" ]\n' "$base" >vmac.cfg
expect_err vmac.cfg "^vmac.cfg:3: key 'vif': entry 2: mac"
printf '%s\nvif = [ "speed=fast" ]\n' "$base" >vkey.cfg
expect_err vkey.cfg "^vkey.cfg:3: key 'vif': entry 1: unknown key 'speed'"
printf 'program = [ "true" ]\n' >noname.cfg
expect_err noname.cfg "^noname.cfg: key 'name': missing"
printf '%s\nname = "no spaces allowed"\n' "$base" >badname.cfg
expect_err badname.cfg "^badname.cfg:3: key 'name': "
printf 'name = "x"\n' >noprog.cfg
expect_err noprog.cfg "^noprog.cfg: key 'program': missing"
printf '%s\ndisk = [ "vdev=xvda"\n' "$base" >syntax.cfg
expect_err syntax.cfg "^syntax.cfg:[0-9]+: .*syntax error"
expect_err "$examples/guest.cfg" "command line 'memory=-5': key 'memory'" memory=-5
expect_err nosuch.cfg "cannot read 'nosuch.cfg'"
check "no bad config left a domain behind" bash -c "[ \$(xgrant list | wc -l) -eq 2 ]"
check_done
