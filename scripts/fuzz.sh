#!/usr/bin/env bash
# Run the engine's fuzz targets: scripts/fuzz.sh [SECONDS] [TARGET]
#
# Runs TARGET (default: every target in fuzz/fuzz_targets/) for SECONDS
# each (default 600; `make check` uses 20). Exits non-zero if any target
# crashes; the crashing input is kept in fuzz/artifacts/TARGET/ and can be
# replayed with `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET
# --sanitizer none artifacts/TARGET/crash-...`.
#
# cargo fuzz (libFuzzer, coverage-guided) wants nightly-only rustc flags;
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. No sanitizer:
# the engine has no unsafe code, and overflow checks are on (cargo fuzz
# builds with debug assertions), so panics are what we hunt. Seeds come
# from fuzz/corpus/TARGET/ (read only); what the fuzzer learns accumulates
# in fuzz/target/corpus/TARGET/ (not committed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SECS=${1:-600}
ONLY=${2:-}
[[ $SECS =~ ^[0-9]+$ ]] || die "SECONDS must be a number, got '$SECS'"

# The rustup toolchain: lib.sh's Debian rustc is for the kernel build.
CARGO=${CARGO:-cargo}
if ! "$CARGO" fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz (about a minute)"
  "$CARGO" install cargo-fuzz --locked --quiet || die "cannot install cargo-fuzz"
fi

cd "$TOP/fuzz"
if [ -n "$ONLY" ]; then
  [ -f "fuzz_targets/$ONLY.rs" ] || die "no fuzz target '$ONLY' in fuzz/fuzz_targets/"
  targets=("$ONLY")
else
  targets=()
  for f in fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi

failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "target/corpus/$t" "artifacts/$t"
  say "$t: ${SECS}s"
  log="target/fuzz-$t.log"
  if RUSTC_BOOTSTRAP=1 "$CARGO" fuzz run "$t" --sanitizer none \
      "target/corpus/$t" "corpus/$t" -- \
      -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    say "$t: ok, $(grep -o 'Done [0-9]* runs' "$log" | tail -n 1 | cut -d' ' -f2) runs"
  else
    # The panic and the saved input; cargo fuzz's own backtrace is noise.
    grep -A 12 -m 1 'panicked at' "$log" >&2 || tail -n 30 "$log" >&2
    grep -m 1 'Test unit written' "$log" >&2 || true
    say "$t: FAILED (log: fuzz/$log, inputs: fuzz/artifacts/$t/)"
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  die "failing fuzz targets (crash or build error): ${failed[*]}"
fi
say "all fuzz targets ran clean"
