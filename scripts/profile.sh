#!/usr/bin/env bash
# Where a forwarded packet's guest instructions go, per kernel function:
#
#   scripts/profile.sh [PACKETS [FLOWS]]     (make profile [PACKETS=] [FLOWS=])
#
# Boots the normal kernel with 1 vCPU under -icount shift=0 and nokaslr,
# with the TCG plugin of tools/tcg-profile, and runs
# `tests/bench/guest.sh profile PACKETS FLOWS` (default 50000 packets over
# 1 flow): no tracker, nf_conntrack, ip_conntrack, each sending PACKETS
# packets of established flows inside a window the guest opens and closes
# with `sync` (the plugin's marker is __x64_sys_sync). Then
# scripts/profile-report.py folds the counts by function (System.map for
# the kernel, the guest's /proc/kallsyms for modules) and prints
# instructions per packet, each tracker beside "no tracker".
#
# Files: build/profile/windows.txt (plugin), guest.out (guest output),
# report.md (the tables, also on stdout), kept as
# bench/results/<date>-profile-<FLOWS>-flows.md for before/after
# comparisons. About 40 s once everything is built. docs/profiling.md says
# how to read the result.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

packets=${1:-50000}
flows=${2:-1}
# PROFILE_OP=flush or list: the window holds `conntrack -F` or `-L` of
# FLOWS entries instead (nf_conntrack with nf_conntrack_netlink); "per
# packet" is then per entry.
# PROFILE_OP=nat: the same sends with MASQUERADE on the router (no tracker,
# nf_conntrack + nf_nat, ip_conntrack's NAT).
# PROFILE_OP=natnew: PACKETS new flows under MASQUERADE ("per packet" is per
# new connection); natfull: the same into a table full of FLOWS mapped
# flows whose ports the new ones reuse (early drop and port search).
# PROFILE_OP=new, full: the same two without NAT (no tracker, nf_conntrack,
# ip_conntrack); new6: PACKETS new IPv6 flows without NAT.
op=${PROFILE_OP:-send}
[[ $packets =~ ^[1-9][0-9]*$ && $flows =~ ^[1-9][0-9]*$ ]] \
    || die "usage: $0 [PACKETS [FLOWS]] (numbers)"
out=$BUILD/profile
plugin=$BUILD/tcg-profile/libtb-profile.so
mkdir -p "$out"

say "building the plugin (tools/tcg-profile)"
make -s -C "$TOP/tools/tcg-profile" OUT="$BUILD/tcg-profile"
say "kernel, module and initramfs (normal; waits if another build holds them)"
"$TOP/scripts/deps.sh" >&2
"$TOP/scripts/kernel.sh" normal >&2
"$TOP/scripts/module.sh" normal >&2
"$TOP/scripts/initramfs.sh" normal >&2

kdir=$("$TOP/scripts/kernel.sh" --dir normal)
map=$kdir/System.map
# A twin of the module with line tables only: rustc and clang then emit the
# same machine code (checked below), so the twin's line tables name the
# source line, inlined function included, of every instruction the guest ran.
twin=$out/kmod-lines
say "module twin with line tables (for per-line attribution)"
rm -rf "$twin"
mkdir -p "$twin"
(cd "$TOP" && find Kbuild include src -type f \( -name '*.rs' -o -name '*.c' -o -name '*.h' -o -name Kbuild \) \
    -not -path '*/target/*' -not -name '*_generated.rs' | cpio -pdm --quiet "$twin")
lines=()
if make -C "$kdir" M="$twin" "${KMAKE_FLAGS[@]}" KCFLAGS="-Werror -gline-tables-only" \
        KRUSTFLAGS="-Dwarnings -Cdebuginfo=line-tables-only" modules > "$twin/build.log" 2>&1 &&
    cmp -s <(llvm-objcopy -O binary --only-section=.text "$BUILD/normal/ip_conntrack.ko" -) \
           <(llvm-objcopy -O binary --only-section=.text "$twin/ip_conntrack.ko" -); then
    lines=(--lines-ko "$twin/ip_conntrack.ko")
else
    say "warning: no line-table twin (build failed or code differs; $twin/build.log): blocks only"
fi
marker=$(awk '$3 == "__x64_sys_sync" { print $1 }' "$map")
[ -n "$marker" ] || die "__x64_sys_sync not in $map"
rm -f "$out/windows.txt"

say "guest: $packets packets over $flows flow(s) per configuration, -icount shift=0 (marker __x64_sys_sync at 0x$marker)"
# The module symbols (PROFILE ksym lines) go to the file only.
VM_NO_BUILD=1 VM_SMP=1 VM_MEM=1024 VM_ICOUNT=0 VM_APPEND=nokaslr VM_TIMEOUT=${VM_TIMEOUT:-1800} \
    VM_QEMU_ARGS="-plugin $plugin,marker=0x$marker,out=$out/windows.txt" \
    "$TOP/scripts/vm-run.sh" "$TOP/tests/bench/guest.sh" profile "$packets" "$flows" "$op" \
    | tee "$out/guest.out" | grep --line-buffered -v '^PROFILE \(ksym\|module\) ' \
    || die "the guest run failed: see its output above and $out/guest.out"

say "folding counts by function"
kept=$TOP/bench/results/$(date -u +%Y-%m-%d)-profile-${flows}-flows.md
case $op in
    send) ;;
    nat) kept=$TOP/bench/results/$(date -u +%Y-%m-%d)-profile-nat-${flows}-flows.md ;;
    natnew) kept=$TOP/bench/results/$(date -u +%Y-%m-%d)-profile-natnew-${packets}-flows.md ;;
    natfull) kept=$TOP/bench/results/$(date -u +%Y-%m-%d)-profile-natfull-${packets}-into-${flows}.md ;;
    new) kept=$TOP/bench/results/$(date -u +%Y-%m-%d)-profile-new-${packets}-flows.md ;;
    new6) kept=$TOP/bench/results/$(date -u +%Y-%m-%d)-profile-new6-${packets}-flows.md ;;
    full) kept=$TOP/bench/results/$(date -u +%Y-%m-%d)-profile-full-${packets}-into-${flows}.md ;;
    *) kept=$TOP/bench/results/$(date -u +%Y-%m-%d)-profile-$op-${flows}-entries.md ;;
esac
{
    case $op in
    natnew) echo "# Profile of new connections under MASQUERADE: $packets new flows" ;;
    natfull) echo "# Profile of new connections under MASQUERADE into a full table: $packets new flows after $flows" ;;
    new) echo "# Profile of new connections: $packets new flows" ;;
    new6) echo "# Profile of new IPv6 connections: $packets new flows" ;;
    full) echo "# Profile of new connections into a full table: $packets new flows after $flows" ;;
    *) echo "# Profile of established forwarded packets: $packets packets over $flows flow(s)" ;;
    esac
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$TOP" diff --quiet HEAD -- src 2>/dev/null || echo ' (with uncommitted changes in src/)'), kernel $(basename "$kdir"), scripts/profile.sh $packets $flows${PROFILE_OP:+ (PROFILE_OP=$op)}"
    echo
    python3 "$TOP/scripts/profile-report.py" --system-map "$map" --windows "$out/windows.txt" \
        --guest "$out/guest.out" "${lines[@]}"
} > "$out/report.md"
cat "$out/report.md"
mkdir -p "$(dirname "$kept")"
cp "$out/report.md" "$kept"
say "report: ${kept#"$TOP"/} and ${out#"$TOP"/}/report.md (plugin counts: windows.txt, guest output: guest.out)"
