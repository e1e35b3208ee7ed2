#!/usr/bin/env bash
# Host benchmarks of the engine: scripts/bench-host.sh [--quick]
#
# Runs benches/engine.rs (cargo bench --features std) and writes the rows
# to bench/results/host-<date>.csv as well as the table on stdout.
# --quick: 1k and 100k entries only, fewer packets.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CARGO=${CARGO:-cargo}
quick=
[ "${1:-}" = "--quick" ] && quick=1

mkdir -p "$TOP/bench/results"
out="$TOP/bench/results/host-$(date +%Y-%m-%d).csv"
cd "$TOP"
BENCH_QUICK=$quick BENCH_CSV="$out" "$CARGO" bench --features std --bench engine
say "results: ${out#"$TOP"/}"
