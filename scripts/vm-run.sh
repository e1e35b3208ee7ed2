#!/usr/bin/env bash
# Run a script as root inside the test guest.
#
#   scripts/vm-run.sh [--debug] SCRIPT [ARG...]
#
# Builds what is missing (deps, kernel, module, initramfs; VM_NO_BUILD=1
# skips that step when a caller already did it), boots the normal kernel
# (the debug one with --debug) under QEMU TCG with 2 vCPUs and no network
# card, and runs `sh SCRIPT ARG...` in the guest. Scenarios find shared
# helpers at /usr/lib/ipct/lib.sh and ct.sh (copied from tests/vm/ each
# run; VM_LIBS in scripts/lib.sh lists them).
#
# Output: the script's stdout and stderr on this stdout, live. The runner's
# own lines go to stderr. The guest's kernel log (console on ttyS0) goes to
# build/logs/<time>-<script>.klog, whose path is printed; the script's
# output comes through ttyS1. (Not virtio-console: with a virtio-serial
# device the debug kernel took 30 s instead of 3 s to unpack the initramfs.)
#
# Exit status: the script's, except when the run went wrong, which is
# printed as "[vm] FAIL: <reason>":
#   - the kernel log shows an Oops, BUG, WARNING, KASAN, lockdep, kmemleak,
#     refcount, RCU stall or panic report: the script's status if it failed,
#     else 125;
#   - the guest reported no exit status (panic, init died): 126;
#   - the guest ran longer than VM_TIMEOUT seconds (default 600): qemu is
#     killed, 124.
#
# Variables named in VM_GUEST_ENV (scripts/lib.sh) and set here are
# exported to the guest script (e.g. NAT_WITH=nf_conntrack).
#
# VM_FILES: more files (space-separated paths) copied beside the script
# into /ipct/ (scripts/vm-tests.sh runs several scenarios in one boot so).
#
# Overrides (benchmarks): VM_SMP (vCPUs, default 2), VM_MEM (MiB, default
# 512, 1536 for --debug), VM_ICOUNT (QEMU -icount shift, e.g. 0..10:
# guest time follows executed instructions; single-threaded), VM_APPEND
# (more kernel parameters), VM_QEMU_ARGS (more QEMU arguments, split at
# spaces, e.g. the profiling plugin of scripts/profile.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

log() { printf '[vm] %s\n' "$*" >&2; }
usage() { die "usage: $0 [--debug] SCRIPT [ARG...]"; }

variant=normal
if [ "${1:-}" = --debug ]; then
    variant=debug
    shift
fi
[ $# -ge 1 ] || usage
script=$1
shift
[ -f "$script" ] || die "no such script: $script"
VM_TIMEOUT=${VM_TIMEOUT:-600}
[[ $VM_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "VM_TIMEOUT must be a number of seconds, got '$VM_TIMEOUT'"


# Build what is missing; each step is quick when up to date.
if [ -z "${VM_NO_BUILD:-}" ]; then
    log "checking build inputs ($variant)"
    "$TOP/scripts/deps.sh" >&2
    "$TOP/scripts/kernel.sh" "$variant" >&2
    "$TOP/scripts/module.sh" "$variant" >&2
    "$TOP/scripts/initramfs.sh" "$variant" >&2
fi
KDIR=$("$TOP/scripts/kernel.sh" --dir "$variant")
BZIMAGE=$KDIR/arch/x86/boot/bzImage
INITRD=$BUILD/$variant/initrd.cpio.gz
[ -f "$BZIMAGE" ] || die "$BZIMAGE missing: run scripts/kernel.sh $variant"
[ -f "$INITRD" ] || die "$INITRD missing: run scripts/initramfs.sh $variant"

name=$(basename "$script")
mkdir -p "$BUILD/logs" "$BUILD/run"
KLOG=$BUILD/logs/$(date +%Y%m%d-%H%M%S)-$$-${name%.sh}.klog
RUNDIR=$(mktemp -d "$BUILD/run/vm.XXXXXX")
qpid=
cleanup() {
    if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
        kill "$qpid" 2>/dev/null || true
    fi
    rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# The run's own archive, appended to the initramfs: the script, its
# command line, the scenario helpers. Mode 0755 on every directory: the
# kernel applies an archive's directory modes to existing directories.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
stage=$RUNDIR/stage
mkdir -p "$stage/ipct" "$stage/usr/lib/ipct"
cp "$script" "$stage/ipct/$name"
# A scenario's data file beside it (e.g. differential.allow) goes along.
data=${script%.sh}.allow
[ ! -f "$data" ] || cp "$data" "$stage/ipct/$(basename "$data")"
read -r -a more_files <<< "${VM_FILES:-}"
for f in "${more_files[@]}"; do
    cp "$f" "$stage/ipct/$(basename "$f")"
done
for lib in "${VM_LIBS[@]}"; do
    cp "$TOP/tests/vm/$lib.sh" "$stage/usr/lib/ipct/$lib.sh"
done
cmd=
for var in "${VM_GUEST_ENV[@]}"; do
    [ -z "${!var+set}" ] || cmd+="export $var=$(quote "${!var}"); "
done
cmd+="exec sh $(quote "/ipct/$name")"
for arg in "$@"; do cmd+=" $(quote "$arg")"; done
printf '%s\n' "$cmd" > "$stage/ipct/cmd"
find "$stage" -type d -exec chmod 0755 {} +
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) \
    | gzip -1 > "$RUNDIR/run.cpio.gz"
# Archives are concatenated on a 4-byte boundary (zero padding is skipped).
cp "$INITRD" "$RUNDIR/initrd.img"
pad=$(( (4 - $(stat -c %s "$RUNDIR/initrd.img") % 4) % 4 ))
head -c "$pad" /dev/zero >> "$RUNDIR/initrd.img"
cat "$RUNDIR/run.cpio.gz" >> "$RUNDIR/initrd.img"

# no_timer_check: on a loaded host the emulated IO-APIC timer can miss the
# boot-time check, and the kernel then panics ("IO-APIC + timer doesn't work").
APPEND="console=ttyS0 ignore_loglevel printk.devkmsg=on panic=-1 rdinit=/init no_timer_check"
MEM=512
if [ "$variant" = debug ]; then
    MEM=1536
    # TCG with KASAN and lockdep is slow: give RCU more slack before a stall.
    APPEND+=" kmemleak.verbose=1 rcupdate.rcu_cpu_stall_timeout=60"
fi
MEM=${VM_MEM:-$MEM}
APPEND+=${VM_APPEND:+ $VM_APPEND}
SMP=${VM_SMP:-2}
[[ $MEM =~ ^[1-9][0-9]*$ && $SMP =~ ^[1-9][0-9]*$ ]] || die "VM_MEM and VM_SMP must be numbers"
ICOUNT=()
if [ -n "${VM_ICOUNT:-}" ]; then
    [[ $VM_ICOUNT =~ ^[0-9]+$ ]] || die "VM_ICOUNT must be a shift (a number), got '$VM_ICOUNT'"
    ICOUNT=(-icount "shift=$VM_ICOUNT")
fi
read -r -a EXTRA <<< "${VM_QEMU_ARGS:-}"
# RDRAND, so the guest's random generator is seeded at boot ("crng init
# done"), as on any real machine within seconds. Without it the generator
# stays unseeded in a quiet guest and every get_random_*() call takes the
# slow unbatched path, thousands of instructions: nf_conntrack draws one
# per confirmed connection, which would skew make bench.
CPU=(-cpu qemu64,+rdrand)

log "booting $variant kernel, running $name$( [ $# -eq 0 ] || printf ' %s' "$@") (timeout ${VM_TIMEOUT}s)"
log "kernel log: $KLOG"
start=$(date +%s.%N)
qemu-system-x86_64 -accel tcg "${CPU[@]}" -smp "$SMP" -m "$MEM" "${ICOUNT[@]}" "${EXTRA[@]}" -no-reboot -nographic -monitor none \
    -nic none -parallel none \
    -kernel "$BZIMAGE" -initrd "$RUNDIR/initrd.img" -append "$APPEND" \
    -serial "file:$KLOG" -chardev stdio,id=out,signal=off -serial chardev:out \
    < /dev/null &
qpid=$!

timed_out=
deadline=$((SECONDS + VM_TIMEOUT))
while kill -0 "$qpid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        timed_out=1
        kill "$qpid" 2>/dev/null || true
        sleep 2
        kill -9 "$qpid" 2>/dev/null || true
        break
    fi
    sleep 0.2
done
qrc=0
wait "$qpid" || qrc=$?
qpid=
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

# The serial console writes CRLF and the firmware terminal escapes; keep
# the file plain text.
[ -f "$KLOG" ] || : > "$KLOG"
sed -i 's/\r$//; s/\x1b\(\[[0-9;?]*[A-Za-z]\|c\)//g' "$KLOG"

status=$(sed -n 's/.*ipct-vm: exit status \([0-9][0-9]*\)$/\1/p' "$KLOG" | tail -n 1)
boot=$(sed -n 's/.*ipct-vm: running script (\([0-9.]*\) s after boot)$/\1/p' "$KLOG" | tail -n 1)
pattern=$(IFS='|'; echo "${PROBLEMS[*]}")
problems=$(grep -a -n -E "$pattern" "$KLOG" | head -n 20 || true)

log "guest done in ${elapsed}s (boot to script: ${boot:-?}s, qemu status $qrc); kernel log: $KLOG"
if [ -n "$timed_out" ]; then
    log "FAIL: guest exceeded VM_TIMEOUT=${VM_TIMEOUT}s; qemu killed"
    [ -z "$problems" ] || printf '%s\n' "$problems" | sed 's/^/[vm]   klog:/' >&2
    exit 124
fi
if [ -n "$problems" ]; then
    [ -n "$status" ] || log "FAIL: the guest reported no exit status (kernel panic or init died)"
    log "FAIL: kernel log shows a problem ($(printf '%s\n' "$problems" | wc -l) lines, first 20 below)"
    printf '%s\n' "$problems" | sed 's/^/[vm]   klog:/' >&2
    if [ -n "$status" ] && [ "$status" -ne 0 ]; then exit "$status"; fi
    exit 125
fi
if [ -z "$status" ]; then
    log "FAIL: the guest reported no exit status (kernel panic or init died); last kernel log lines:"
    tail -n 15 "$KLOG" | sed 's/^/[vm]   klog:/' >&2
    exit 126
fi
[ "$status" -eq 0 ] || log "script exited with status $status"
exit "$status"
