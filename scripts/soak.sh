#!/usr/bin/env bash
# Soak test: scripts/soak.sh [MINUTES]   (make soak [SOAK_MINUTES=10])
#
# Boots the debug kernel (KASAN, lockdep, kmemleak) and runs
# tests/soak/soak.sh for MINUTES (default 10): mixed TCP/UDP/ICMP traffic,
# malformed packets, new-flow floods against a small ip_conntrack_max,
# parallel /proc dumps, sysctl changes and rmmod/modprobe cycles, a
# progress line per minute, then a kmemleak scan and the taint flag.
# The runner (scripts/vm-run.sh) fails the run on any kernel splat.
# SOAK_KERNEL=normal runs it on the normal kernel instead (quicker, for
# trying changes; no kmemleak there). Output is also kept in
# build/logs/<time>-soak.out.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MINUTES=${1:-10}
[[ $MINUTES =~ ^[1-9][0-9]*$ ]] || die "MINUTES must be a positive number, got '$MINUTES'"
KERNEL=${SOAK_KERNEL:-debug}
case $KERNEL in
    debug) variant=(--debug) ;;
    normal) variant=() ;;
    *) die "SOAK_KERNEL must be debug or normal, got '$KERNEL'" ;;
esac

# The soak itself, plus setup, the final checks and a kmemleak scan of a
# 1.5 GiB guest under emulation.
export VM_TIMEOUT=$((MINUTES * 60 + 900))
mkdir -p "$BUILD/logs"
out=$BUILD/logs/$(date +%Y%m%d-%H%M%S)-soak.out
say "$MINUTES minutes on the $KERNEL kernel (guest timeout ${VM_TIMEOUT}s); output also in $out"
start=$SECONDS
rc=0
"$TOP/scripts/vm-run.sh" "${variant[@]}" "$TOP/tests/soak/soak.sh" "$MINUTES" 2>&1 | tee "$out" || rc=$?
if [ "$rc" -eq 0 ]; then
    say "passed in $((SECONDS - start)) s"
else
    die "FAILED (status $rc) after $((SECONDS - start)) s; output: $out"
fi
