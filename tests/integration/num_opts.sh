#!/usr/bin/env bash
# The daemons' numeric options are strict decimal (tools/common/num.c):
# a sign, a space, a base prefix or trailing junk is refused before the
# daemon does anything, with a message naming the option and the value.
# (strtoul took " 5", "+5" and "-0": the daemon started with them;
# xgrant-netfront's atoi took "10s" as 10 and "-1" as a descriptor.)
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/common/check.sh"
work=$(mktemp -d /tmp/xgrant-numopts-XXXXXX)
trap 'rm -rf "$work"' EXIT
# Nothing to reach: a daemon that took the value fails later, otherwise.
export XGRANT_SOCK=$work/none.sock XENSTORED_PATH=$work/none.store
refused() { # prog opt value (xgrantd in the foreground: one that took
    local out rc fg=  # the value must not be left running)
    [ "$1" = xgrantd ] && fg=--foreground
    out=$(timeout 5 "$top/$B/bin/$1" $fg "$2" "$3" 2>&1 </dev/null); rc=$?
    check "$1 $2 '$3' refused, naming both ($rc: $out)" \
        bash -c "[ $rc -ne 0 ] && grep -qF -- \"$1: $2\" <<<\"\$0\" && grep -qF -- \"not '$3'\" <<<\"\$0\"" "$out"
}
for v in " 5" "+5" "-0" "5 " "0x1" "2abc" ""; do
    refused xgrant-blkback --max-ring-order "$v"
    refused xgrant-netback --max-queues "$v"
    refused xgrantd --poll-us "$v"
    refused xgrant-netfront --devid "$v"
done
refused xgrant-blkback --max-queues 17
refused xgrant-blkback --bounce-mb 0
refused xgrant-netback --stats-ms 0
refused xgrant-netfront --queues 0
refused xgrant-netfront --tap-fd -1
refused xgrant-netfront --timeout-ms 10s
check_done
