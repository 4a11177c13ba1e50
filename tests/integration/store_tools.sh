#!/usr/bin/env bash
# The real xenstore-* tools (Debian's xenstore-utils) against xgrantd's
# store: XENSTORED_PATH is all they need, on the host and in a domain.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH=$top/$B/bin:$PATH
for t in xenstore-ls xenstore-read xenstore-write xenstore-rm xenstore-chmod \
    xenstore-watch xenstore-exists xenstore-list; do
    command -v $t >/dev/null || { echo "skip: $t not installed (xenstore-utils)"; exit 77; }
done
work=$(mktemp -d /tmp/xgrant-store-XXXXXX)
export XGRANT_SOCK=$work/xgrantd.sock
unset XENSTORED_PATH
. "$(dirname "$0")/common/check.sh"
trap 'xgrant hv stop >/dev/null 2>&1; rm -rf "$work"' EXIT

# same WHAT WANT CMD...: CMD's stdout is exactly WANT
same() {
    local what=$1 want=$2; shift 2
    local got
    got=$("$@" 2>"$work/stderr")
    if [ "$got" == "$want" ]; then
        ok=$((ok + 1)); echo "ok $what"
    else
        bad=$((bad + 1)); echo "not ok $what: got '$got', want '$want'"
    fi
}

out=$(xgrant hv start) || { echo "xgrantd did not start"; exit 1; }
check "hv start names the store socket" grep -qx "store: $work/xenstored" <<<"$out"
check "hv status shows it" bash -c "xgrant hv status | grep -qx 'store: $work/xenstored'"
export XENSTORED_PATH=$work/xenstored

check "xenstore-write two nodes" xenstore-write /tools/a 1 /tools/b "two words"
same "xenstore-read" "1" xenstore-read /tools/a
same "xenstore-ls" $'a = "1"\nb = "two words"' xenstore-ls /tools
same "xenstore-list" $'a\nb' xenstore-list /tools
check "xenstore-exists: there" xenstore-exists /tools/a
check "xenstore-exists: not there" bash -c '! xenstore-exists /tools/zz'
check "xenstore-chmod" xenstore-chmod /tools/a n0 r3
check "xenstore-ls -p shows the permissions" \
    bash -c 'xenstore-ls -p /tools | grep -q "^a = \"1\" .*  (n0,r3)$"'
check "xenstore-rm" xenstore-rm /tools/a
check "gone" bash -c '! xenstore-read /tools/a 2>/dev/null'
same "xenstore-ls -f of domain 0" $'/local/domain/0/domid = "0"\n/local/domain/0/name = "Domain-0"' \
    xenstore-ls -f /local/domain/0

# xenstore-watch: the initial event, then one per change below.
xenstore-watch -n 3 /tools/w >"$work/watch.out" 2>&1 &
wpid=$!
for _ in $(seq 100); do [ -s "$work/watch.out" ] && break; sleep 0.05; done
xenstore-write /tools/w/x 1
xenstore-rm /tools/w
wait $wpid
same "xenstore-watch: initial, write, rm" $'/tools/w\n/tools/w/x\n/tools/w' cat "$work/watch.out"

# In a domain, XENSTORED_PATH comes from xgrantd and relative paths are
# below /local/domain/<N>.
same "a domain reads its own name" "g1" xgrant run --name g1 -- xenstore-read name
check "a domain may not read domain 0's nodes" \
    bash -c '! xgrant run --name g2 -- xenstore-read /local/domain/0/name 2>/dev/null'
check "a domain writes its data/" xgrant run --name g3 -- xenstore-write data/x 1
check "/local/domain/<N> is removed when the domain is gone" \
    bash -c '[ -z "$(xenstore-list /local/domain | grep -vx 0)" ]'
check_done
