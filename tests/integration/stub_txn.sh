#!/usr/bin/env bash
# The stand-in backend's writes (common/stub-back.sh) go through xs-txn
# (stub/xs-txn.c): checks and writes in one store transaction.  A check
# that no longer holds (the state moved on, the directory is gone) writes
# nothing and brings nothing back; a holding one writes every pair.
set -u
. "$(dirname "$0")/common/xgstore.sh"
xgstore_start stubtxn
txn=$top/$B/tests/xs-txn
d=/local/domain/0/backend/vbd/7/51712
xenstore-write $d/state 1 $d/frontend /local/domain/7/device/vbd/51712
"$txn" -e $d/state 2 -x $d/frontend -- $d/state 5; rc=$?
check "a stale state check writes nothing (exit $rc)" \
    bash -c "[ $rc = 1 ] && [ \"\$(xenstore-read $d/state)\" = 1 ]"
"$txn" -e $d/state 1 -x $d/frontend -- $d/error "stub: no" $d/state 5; rc=$?
check "a holding check writes every pair (exit $rc)" \
    bash -c "[ $rc = 0 ] && [ \"\$(xenstore-read $d/state)\" = 5 ] && [ \"\$(xenstore-read $d/error)\" = 'stub: no' ]"
xenstore-rm $d
"$txn" -e $d/state 5 -x $d/frontend -- $d/state 6; rc=$?
check "a removed directory is not brought back (exit $rc)" \
    bash -c "[ $rc = 1 ] && ! xenstore-exists $d"
"$txn" -e $d/state -- 2>/dev/null; rc=$?
check "bad usage: exit 2 ($rc)" test "$rc" = 2
# The stand-in itself: a device removed while the stub decides is never
# written again (its directory stays gone over many passes).
stubs=$top/$B/tests/stub-back
mkdir -p "$stubs"
ln -sf "$top/tests/integration/common/stub-back.sh" "$stubs/xgrant-blkback"
export STUB_DIR=$work
echo ok >"$work/mode"
"$stubs/xgrant-blkback" 2>"$work/stub.log" &
stub=$!
for i in $(seq 20); do
    e=/local/domain/0/backend/vbd/8/$i
    xenstore-write $e/frontend /local/domain/8/device/vbd/$i $e/state 1
    xenstore-rm $e
done
sleep 1
left=$(xenstore-ls -f /local/domain/0/backend/vbd/8 2>/dev/null)
check "20 devices removed at once: none written back ($left)" test -z "$left"
kill "$stub"
wait "$stub" 2>/dev/null
check_done
