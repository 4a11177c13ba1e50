#!/usr/bin/env bash
# lab_ping.sh: the lab's ping (tests/lab/drv-ping.c, built as
# build/lab/drv-ping for dom0 and the guest) where busybox's failed: a
# process that loses the CPU between its replies and its exit (strace
# delays its writes by 1.5 s, from the third on, as a vCPU descheduled
# under TCG; drv-ping writes its output once, at exit).
# busybox 1.35's ping then re-enters its statistics and exit() from its
# SIGALRM handler (the lab saw it die of SIGSEGV; here it prints the
# statistics again, which LAB_PING_BUSYBOX=1 shows and counts as a
# failure); drv-ping uses no signal: one summary, every reply counted.
# Also: a ping nobody answers fails.  Needs root (raw sockets) and strace.
set -u
B=${B:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
ping=$top/$B/lab/drv-ping
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (raw ICMP sockets)"; exit 77; }
command -v strace >/dev/null || { echo "SKIP: strace not installed"; exit 77; }
[ -x "$ping" ] || { echo "FAIL: $ping not built"; exit 1; }
fail=0
check() { # NAME WHEN COMMAND...: one summary line with 2 replies, status 0
    local out rc n
    out=$(strace -f -o /dev/null -e trace=write -e inject=write:delay_enter=1500000:when="$2" "${@:3}" 127.0.0.1 2>&1)
    rc=$?
    n=$(grep -c 'packets transmitted' <<<"$out")
    if [ "$rc" = 0 ] && [ "$n" = 1 ] && grep -q '^2 packets transmitted, 2 packets received, 0% packet loss' <<<"$out"; then
        echo "PASS $1: one summary, 2 of 2 replies, status 0"
    else
        echo "FAIL $1: status $rc, $n summary line(s):"
        sed 's/^/  | /' <<<"$out"
        fail=1
    fi
}
check drv-ping 1+ "$ping" -c 2 -w 10
[ "${LAB_PING_BUSYBOX:-0}" != 1 ] || check busybox 3+ busybox ping -c 2 -w 10
# The discard prefix (RFC 6666): no reply can come.
out=$("$ping" -6 -c 1 -w 2 100::1 2>&1)
rc=$?
if [ "$rc" = 1 ] && grep -q '1 packets transmitted, 0 packets received, 100% packet loss' <<<"$out"; then
    echo "PASS unanswered: status 1, 100% loss"
else
    echo "FAIL unanswered: status $rc: $out"
    fail=1
fi
exit $fail
