# xgstore.sh: sourced by the toolstack scripts (not a test itself); brings
# check.sh, $top (the checkout) and the build's bin/ first in PATH.
# `xgstore_start NAME [BASE]` makes a work directory /tmp/xgrant-NAME-*
# (or BASE/NAME-*, open to every uid as /tmp is: a confined domain's /tmp
# is its own, so a directory it shares with domain 0 must be elsewhere)
# ($work, the current directory afterwards, removed at exit), starts a
# private xgrantd with its store there, and skips (77) when the xenstore
# tools or the store are missing.  Devices are created with no backend
# driver started and the probe grace off, unless the caller says otherwise.
B=${B:-build}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export PATH=$top/$B/bin:$PATH
. "$top/tests/integration/common/check.sh"
xgstore_start() {
    if [ -n "${2:-}" ]; then
        work=$(mktemp -d "$2/$1-XXXXXX") && chmod 01777 "$work" || exit 1
    else
        work=$(mktemp -d "/tmp/xgrant-$1-XXXXXX")
    fi
    export XGRANT_SOCK=$work/xgrantd.sock
    export XENSTORED_PATH=$work/xenstored
    export XGRANT_PROBE_GRACE_MS=${XGRANT_PROBE_GRACE_MS-0}
    export XGRANT_BACKENDS=${XGRANT_BACKENDS-none}
    trap 'xgrant hv stop >/dev/null 2>&1; rm -rf "$work"' EXIT
    command -v xenstore-ls >/dev/null || { echo "SKIP: xenstore-ls missing (make deps)"; exit 77; }
    xgrant hv start >/dev/null || { echo "cannot start xgrantd"; exit 1; }
    xenstore-ls / >/dev/null 2>&1 || { echo "SKIP: this xgrantd serves no store"; exit 77; }
    cd "$work" || exit 1
}
