#!/usr/bin/env bash
# xgrantd without privileges: no PID namespaces, so domains are told apart
# by session, parent chain and their token, and their creation and end
# take the paths without namespaces.  Runs the real-process tests as user
# nobody (each starts its own xgrantd as nobody), and checks that
# root still reaches a nobody-run daemon as domain 0.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "skip: needs root to switch to user nobody"; exit 77; fi
command -v setpriv >/dev/null || { echo "skip: no setpriv (util-linux)"; exit 77; }
id nobody >/dev/null 2>&1 || { echo "skip: no user nobody"; exit 77; }
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp "$@"; }
. "$(dirname "$0")/common/check.sh"

if ! as_nobody test -x "$top/$B/tests/integration/containment"; then
    echo "skip: user nobody cannot reach $top/$B"; exit 77
fi
for t in containment delegation domain_death map_revoke stress spawn_stall; do
    check "$t as nobody (no PID namespace)" \
        bash -c "setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp '$top/$B/tests/integration/$t' > /tmp/xgrant-unpriv-$t.log 2>&1 || { tail -n 20 /tmp/xgrant-unpriv-$t.log; exit 1; }"
    rm -f "/tmp/xgrant-unpriv-$t.log"
done

work=$(mktemp -d /tmp/xgrant-unpriv-XXXXXX)
chown nobody:nogroup "$work"
export XGRANT_SOCK=$work/xgrantd.sock
as_nobody "$top/$B/bin/xgrantd" --socket "$XGRANT_SOCK" >/dev/null 2>&1
check "xgrantd starts as nobody" test -S "$XGRANT_SOCK"
check "root reaches the nobody daemon as domain 0 (xgrant list)" \
    bash -c "'$top/$B/bin/xgrant' list | grep -q Domain-0"
check "nobody runs a domain under it" as_nobody "$top/$B/bin/xgrant" run --name n1 -- true
as_nobody "$top/$B/bin/xgrant" hv stop >/dev/null 2>&1
rm -rf "$work"
check_done
