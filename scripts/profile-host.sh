#!/usr/bin/env bash
# Engine costs by function on the host: the engine benchmarks
# (benches/engine.rs) under valgrind's callgrind.
#
#   scripts/profile-host.sh [ENTRIES [PACKETS]]   (make profile-host)
#
# ENTRIES: table sizes, comma-separated (default 1000); PACKETS per
# benchmark (default 65536, one chunk); BENCH_ONLY=parse|tcp|udp|new in the
# environment runs one kind (udp: the path the guest profile measures).
# Writes build/profile/callgrind.out and prints the engine's entry points
# with their instructions per call (scripts/callgrind-calls.py), then
# callgrind_annotate's inclusive and exclusive tables. Timings printed by
# the benchmark itself mean nothing under valgrind, instruction counts (Ir)
# do. Table fills are in the profile too (a few percent of the calls).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

entries=${1:-1000}
packets=${2:-65536}
out=$BUILD/profile
mkdir -p "$out"
command -v valgrind > /dev/null || die "valgrind missing: run scripts/deps.sh"

say "building the engine benchmark (cargo bench --no-run --features std)"
cd "$TOP"
bin=$(cargo bench --no-run --features std --bench engine --message-format=json 2> /dev/null \
    | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "engine":
        print(m["executable"])')
[ -x "$bin" ] || die "no benchmark binary (cargo bench --no-run --features std --bench engine)"

say "callgrind over ${bin#"$TOP"/} (entries $entries, $packets packets per benchmark${BENCH_ONLY:+, $BENCH_ONLY only}; about 30 s)"
BENCH_ENTRIES=$entries BENCH_PACKETS=$packets BENCH_ONLY=${BENCH_ONLY:-} \
    valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" "$bin" 2> "$out/callgrind.log" \
    || { tail -n 20 "$out/callgrind.log" >&2; die "valgrind failed: $out/callgrind.log"; }

# The tables without callgrind_annotate's header and the runtime's frames
# above main.
table() {
    callgrind_annotate --threshold=99 "$@" "$out/callgrind.out" \
        | awk -v n="$rows" '/file:function/ { p = 1; next }
            /\?\?\?:|libc_start|lang_start|rust_begin_short_backtrace/ { next }
            p && /^ *[0-9]/ && k < n { sub(/ \[\/[^]]*\]$/, ""); print; k++ }'
}
say "engine entry points: instructions per call, callees included"
python3 "$TOP/scripts/callgrind-calls.py" "$out/callgrind.out" Tracker::track_packet \
    Tracker::confirm track::process track::confirm packet::parse hash::siphash Tracker::sweep
rows=40
say "inclusive instruction counts (Ir, top $rows; file:function is where the code was inlined from)"
table --inclusive=yes
rows=30
say "exclusive instruction counts (Ir, top $rows)"
table
say "full data: ${out#"$TOP"/}/callgrind.out (callgrind_annotate, kcachegrind)"
