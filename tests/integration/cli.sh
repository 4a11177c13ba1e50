#!/usr/bin/env bash
# The xgrant CLI against a private xgrantd: lifecycle, run/list/destroy,
# grants (table, tree, --json), and errors that name the problem with
# meaningful exit codes.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
export PATH=$top/$B/bin:$PATH
work=$(mktemp -d /tmp/xgrant-cli-XXXXXX)
export XGRANT_SOCK=$work/xgrantd.sock
. "$(dirname "$0")/common/check.sh"
trap 'xgrant hv stop >/dev/null 2>&1; rm -rf "$work"' EXIT

# expect CODE PATTERN CMD...: exit code is CODE and stderr+stdout match PATTERN
expect() {
    local code=$1 pat=$2; shift 2
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -eq "$code" ] && grep -qiE -- "$pat" <<<"$out"; then
        ok=$((ok + 1)); echo "ok '$*' -> $rc"
    else
        bad=$((bad + 1)); echo "not ok '$*' -> $rc (want $code, /$pat/): $out"
    fi
}

expect 3 "not running|no xgrantd" xgrant hv status
expect 0 "$XGRANT_SOCK" xgrant hv start
expect 0 "running" xgrant hv status
expect 0 "already running" xgrant hv start
expect 2 "usage|unknown command" xgrant frobnicate
expect 2 "memory" xgrant run --memory 12Q -- true
expect 2 "usage|program" xgrant run --name x
expect 1 "nosuchprog|not found|No such file" xgrant run --name x -- /nonexistent/nosuchprog
expect 3 "" xgrant run --name t -- sh -c 'exit 3'
expect 0 "" xgrant run --name t2 -- true

id=$(xgrant run --name alice --memory 1M -d -- sleep 60 2>/dev/null)
check "run -d prints a domain id ($id)" test -n "$id"
expect 1 "alice" xgrant run --name alice -d -- sleep 1
expect 0 "alice" xgrant list
check "list --json parses and names alice" \
    python3 -c 'import json,sys; d=json.load(sys.stdin); s=json.dumps(d); assert "alice" in s' < <(xgrant list --json)
expect 0 "" xgrant grants alice
check "grants --json is valid JSON" \
    python3 -c 'import json,sys; json.load(sys.stdin)' < <(xgrant grants alice --json)
expect 1 "bob" xgrant grants bob
expect 1 "bob" xgrant destroy bob
expect 1 "999" xgrant destroy 999
expect 0 "" xgrant destroy alice
check "alice is gone from the list" bash -c '! xgrant list | grep -q alice'

# Grants made by a real guest show up in the table and the tree.
mkfifo "$work/in" "$work/out"
xgrant run --name gina --memory 1M -- xgrant-guest <"$work/in" >"$work/out" 2>/dev/null &
exec {gin}>"$work/in" {gout}<"$work/out"
say() { echo "$*" >&"$gin"; IFS= read -r r <&"$gout"; echo "$r"; }
say alloc 2 >/dev/null
ref=$(say grant 0 rwd 0 10 5000 | awk '{print $2}')
check "guest granted dom0 a range ($ref)" test -n "$ref"
expect 0 "$ref|$(printf '%d' "$ref" 2>/dev/null)" xgrant grants gina
check "grants --json lists the entry with its length" \
    python3 -c 'import json,sys; d=json.load(sys.stdin); assert any(e.get("length")==5000 for e in d["entries"]), d' < <(xgrant grants gina --json)
say exit >/dev/null
exec {gin}>&- {gout}<&-
wait

expect 0 "" xgrant hv stop
expect 3 "not running|no xgrantd" xgrant hv status
check_done
