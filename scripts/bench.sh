#!/usr/bin/env bash
# Benchmarks: scripts/bench.sh [--quick]   (make bench [QUICK=1])
#
# 1. the engine's host benchmarks (scripts/bench-host.sh);
# 2. one guest boot with 2 vCPUs running tests/bench/guest.sh: no tracker,
#    nf_conntrack and ip_conntrack back to back (forwarding, new
#    connections, memory, dump, expiry);
# 3. one boot with 1 vCPU: the forwarding part again (vCPU scaling);
# 4. bench/results/<date>.csv, <date>.env (kernel, QEMU, host, load),
#    <date>-summary.md, the SVG plots under bench/, and the summary table
#    on stdout (scripts/bench-report.py, scripts/bench-plot.py).
#
# BENCH_ICOUNT=N runs the guests under QEMU's -icount shift=N (guest time
# follows executed instructions, so other load on the machine does not
# change the numbers; TCG then runs the vCPUs in turn on one thread, so the
# vCPU comparison means nothing there: one boot with one vCPU runs
# everything). Its results are named
# <date>-icount.* and its plots go to bench/icount/. Nothing here is a
# test: no timing is asserted.
#
# BENCH_PHASES=nat runs only the forwarding and new-connection phases (all
# five configurations: none, nf, ip and both with MASQUERADE; no dump, GC
# or ctnetlink); its results are <date>[-icount]-nat.*, its plots go to
# the nat/ folder beside the others.
#
# BENCH_PHASES=mem runs only the memory per entry, IPv4 and IPv6 (a fill
# of 100k new flows per family under nf_conntrack and ip_conntrack, and
# the entry caches' object sizes; one boot, no host benchmarks): results
# <date>[-icount]-mem.*, plots in mem/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mode=full
host_flag=()
if [ "${1:-}" = --quick ]; then
    mode=quick
    host_flag=(--quick)
fi
date=$(date -u +%Y-%m-%d)
plots=$TOP/bench
if [ -n "${BENCH_ICOUNT:-}" ]; then
    date+=-icount
    plots=$TOP/bench/icount
fi
phases=${BENCH_PHASES:-all}
case $phases in
    all) ;;
    nat) date+=-nat; plots+=/nat ;;
    mem) date+=-mem; plots+=/mem ;;
    *) die "BENCH_PHASES must be all, nat or mem, got '$phases'" ;;
esac
results=$TOP/bench/results
raw=$BUILD/bench
mkdir -p "$results" "$raw"
started=$SECONDS

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# Other QEMU guests running now (other users of this machine).
qemus() { pgrep -c -x qemu-system-x86 || true; }
load_start="$(loadavg) ($(qemus) qemu running)"

host=()
if [ "$phases" = all ]; then
    say "host engine benchmarks ($mode)"
    "$TOP/scripts/bench-host.sh" "${host_flag[@]}"
    host=(--host "$results/host-$(date -u +%Y-%m-%d).csv")
fi

export VM_MEM=1024 VM_TIMEOUT=3600
[ -z "${BENCH_ICOUNT:-}" ] || export VM_ICOUNT=$BENCH_ICOUNT
status=0
guests=()
if [ -z "${BENCH_ICOUNT:-}" ]; then
    say "guest, 2 vCPUs: no tracker, nf_conntrack, ip_conntrack, both with MASQUERADE ($mode, $phases)"
    VM_SMP=2 "$TOP/scripts/vm-run.sh" "$TOP/tests/bench/guest.sh" "$mode" "$phases" \
        | tee "$raw/guest-2.out" || status=$?
    load_mid="$(loadavg) ($(qemus) qemu running)"
    guests=(--guest "2:$raw/guest-2.out")
    if [ "$phases" != mem ]; then
        say "guest, 1 vCPU: forwarding ($mode)"
        VM_NO_BUILD=1 VM_SMP=1 "$TOP/scripts/vm-run.sh" "$TOP/tests/bench/guest.sh" "$mode" forward \
            | tee "$raw/guest-1.out" || status=$?
        guests+=(--guest "1:$raw/guest-1.out")
    fi
else
    # One timeline for all vCPUs under -icount: one boot with one vCPU.
    say "guest, 1 vCPU, -icount shift=$BENCH_ICOUNT: no tracker, nf_conntrack, ip_conntrack, both with MASQUERADE ($mode, $phases)"
    VM_SMP=1 "$TOP/scripts/vm-run.sh" "$TOP/tests/bench/guest.sh" "$mode" "$phases" \
        | tee "$raw/guest-1.out" || status=$?
    load_mid=-
    guests=(--guest "1:$raw/guest-1.out")
fi
load_end="$(loadavg) ($(qemus) qemu running)"

env_file=$results/$date.env
kdir=$("$TOP/scripts/kernel.sh" --dir normal)
{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "mode=$mode"
    echo "commit=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "guest_kernel=$(basename "$kdir") ($(sed -n 's/^guest: //p' "${guests[1]#*:}" | head -n 1))"
    echo "qemu=$(qemu-system-x86_64 --version | head -n 1), TCG, -m $VM_MEM, icount=${BENCH_ICOUNT:-off}"
    echo "host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores"
    echo "host_mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "host_kernel=$(uname -r)"
    echo "loadavg_start=$load_start"
    echo "loadavg_after_2vcpu_boot=$load_mid"
    echo "loadavg_end=$load_end"
    echo "duration_s=$((SECONDS - started))"
} > "$env_file"

summary=$results/$date-summary.md
python3 "$TOP/scripts/bench-report.py" --csv "$results/$date.csv" --summary "$summary" \
    "${host[@]}" ${BENCH_ICOUNT:+--icount} "${guests[@]}"
python3 "$TOP/scripts/bench-plot.py" "$results/$date.csv" "$plots"
sed 's/^/    /' "$env_file"
say "results: bench/results/$date.csv, $date.env, $date-summary.md; plots: ${plots#"$TOP"/}/*.svg ($((SECONDS - started)) s)"
[ "$status" -eq 0 ] || die "a guest run failed (status $status): see its output above"
