#!/usr/bin/env bash
# The demo: boots the router guest (building whatever is missing), loads
# ip_conntrack, sends a ping, a TCP and a UDP exchange from the client
# namespace to the server namespace through it, and prints
# /proc/net/ip_conntrack and net.ipv4.ip_conntrack_max.
#
#   scripts/demo.sh [--debug]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

say "router demo (the guest's kernel log path is printed at the end)"
exec "$TOP/scripts/vm-run.sh" "$@" "$TOP/tests/demo/router.sh"
