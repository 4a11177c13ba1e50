#!/usr/bin/env bash
# stub-netfront.sh: a stand-in for xgrant-netfront in the toolstack tests
# (not a test itself).  Says what it was given and who it runs as (its
# uid, the domain the store says it is, what fd 3 is), then waits to be
# killed with its domain.
echo "stub netfront $* uid $(id -u) domid $(xenstore-read domid 2>&1) fd3 $(readlink /proc/self/fd/3)"
exec sleep 600
