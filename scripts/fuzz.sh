#!/usr/bin/env bash
# Run the engine's fuzz targets: scripts/fuzz.sh [--keep] [SECONDS] [TARGET]
#
# Runs TARGET (default: every target in fuzz/fuzz_targets/) for SECONDS
# each (default 600; `make check` uses 20). The targets' bodies live in the
# engine (src/engine/fuzzing.rs), shared with tests/fuzz_regressions.rs.
#
# Corpus: seeds come from fuzz/corpus/TARGET/ (committed); what the fuzzer
# learns accumulates in fuzz/target/corpus/TARGET/ (not committed). With
# --keep (`make fuzz`), a clean run then minimizes both together
# (`cargo fuzz cmin`) into fuzz/corpus/TARGET/, bounded to
# FUZZ_CORPUS_KB (default 1024) per target: the largest inputs go first
# when it is over. Without --keep, fuzz/corpus/ is only read.
#
# Crashes: exits non-zero if any target crashes; each new crashing input
# (fuzz/artifacts/TARGET/) is copied to fuzz/regressions/TARGET/, which
# tests/fuzz_regressions.rs replays, so after the fix it stays a test.
#
# cargo fuzz (libFuzzer, coverage-guided) wants nightly-only rustc flags;
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. No sanitizer:
# the engine has no unsafe code, and overflow checks are on (cargo fuzz
# builds with debug assertions), so panics are what we hunt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KEEP=0
if [ "${1:-}" = --keep ]; then KEEP=1; shift; fi
SECS=${1:-600}
ONLY=${2:-}
CORPUS_KB=${FUZZ_CORPUS_KB:-1024}
[[ $SECS =~ ^[0-9]+$ ]] || die "SECONDS must be a number, got '$SECS'"
[[ $CORPUS_KB =~ ^[0-9]+$ ]] || die "FUZZ_CORPUS_KB must be a number, got '$CORPUS_KB'"

# The rustup toolchain: lib.sh's Debian rustc is for the kernel build.
CARGO=${CARGO:-cargo}
if ! "$CARGO" fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz (about a minute)"
  "$CARGO" install cargo-fuzz --locked --quiet || die "cannot install cargo-fuzz"
fi
export RUSTC_BOOTSTRAP=1

cd "$TOP/fuzz"
if [ -n "$ONLY" ]; then
  [ -f "fuzz_targets/$ONLY.rs" ] || die "no fuzz target '$ONLY' in fuzz/fuzz_targets/"
  targets=("$ONLY")
else
  targets=()
  for f in fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi

# Total size in KiB and file count of a directory.
dir_kb() { du -sk --apparent-size "$1" | cut -f1; }
dir_n() { find "$1" -type f | wc -l; }

# Copies crash inputs written since the run began to fuzz/regressions/T/.
keep_crashes() {
  local t=$1 stamp=$2 f name new=0
  mkdir -p "regressions/$t"
  while IFS= read -r f; do
    name=$(basename "$f")
    if [ ! -e "regressions/$t/$name" ]; then
      cp "$f" "regressions/$t/$name"
      say "$t: new crash input kept as fuzz/regressions/$t/$name"
      new=1
    fi
  done < <(find "artifacts/$t" -type f -newer "$stamp" \
             \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \))
  if [ $new = 1 ]; then
    say "$t: fix the engine, check with 'cargo test --features std --test fuzz_regressions', and commit the input with the fix"
  fi
}

# Minimizes corpus/T + target/corpus/T into corpus/T, within CORPUS_KB.
keep_corpus() {
  local t=$1 stage="target/cmin-$t" log="target/cmin-$t.log"
  rm -rf "$stage"
  mkdir -p "$stage"
  cp -p "target/corpus/$t/." "$stage/" -r
  cp -p "corpus/$t/." "$stage/" -r
  local before
  before=$(dir_n "$stage")
  if ! cargo fuzz cmin "$t" --sanitizer none "$stage" -- -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "$t: cargo fuzz cmin failed (log: fuzz/$log)"
  fi
  local dropped=0 f
  while [ "$(dir_kb "$stage")" -gt "$CORPUS_KB" ]; do
    f=$(find "$stage" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
    rm -f "$f"
    dropped=$((dropped + 1))
  done
  [ $dropped = 0 ] || say "$t: corpus over ${CORPUS_KB} KiB, dropped the $dropped largest inputs"
  rm -rf "corpus/$t"
  mv "$stage" "corpus/$t"
  say "$t: kept corpus fuzz/corpus/$t: $(dir_n "corpus/$t") inputs, $(dir_kb "corpus/$t") KiB (minimized from $before)"
}

# fuzz_one T: one target's run (and corpus), its lines on stdout; the
# status says whether it ran clean.
fuzz_one() {
  local t=$1
  mkdir -p "corpus/$t" "target/corpus/$t" "artifacts/$t"
  local log="target/fuzz-$t.log"
  local stamp="target/fuzz-$t.start"
  touch "$stamp"
  if "$CARGO" fuzz run "$t" --sanitizer none \
      "target/corpus/$t" "corpus/$t" -- \
      -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    # "#N DONE cov: C ft: F corp: K/SIZE ..." is libFuzzer's last status.
    local done_line runs
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    runs=$(grep -o 'number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    say "$t: ok, ${runs:-?} runs; $(sed -E 's/.*(cov: [0-9]+ ft: [0-9]+ corp: [^ ]+).*/\1/' <<<"${done_line:-?}")"
    [ $KEEP = 0 ] || keep_corpus "$t"
  else
    # The panic and the saved input; cargo fuzz's own backtrace is noise.
    grep -A 12 -m 1 'panicked at' "$log" || tail -n 30 "$log"
    grep -m 1 'Test unit written' "$log" || true
    keep_crashes "$t" "$stamp"
    say "$t: FAILED (log: fuzz/$log, inputs: fuzz/artifacts/$t/)"
    return 1
  fi
}

# Every target built once, then FUZZ_JOBS of them (default 2: the
# machine's cores; each libFuzzer run is single-threaded) fuzzing at a
# time, so the short run in `make check` takes half the time.
JOBS=${FUZZ_JOBS:-2}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "FUZZ_JOBS must be a positive number, got '$JOBS'"
mkdir -p target
say "building the fuzz targets"
"$CARGO" fuzz build --sanitizer none >target/fuzz-build.log 2>&1 || {
  tail -n 30 target/fuzz-build.log >&2
  die "cargo fuzz build failed (log: fuzz/target/fuzz-build.log)"
}
failed=()
pids=()
names=()
# reap_one I: waits for the I-th job, shows its lines, notes a failure.
reap_one() {
  local i=$1
  wait "${pids[$i]}" || failed+=("${names[$i]}")
  cat "target/fuzz-${names[$i]}.out"
}
i=0
for t in "${targets[@]}"; do
  if [ ${#pids[@]} -ge $((i + JOBS)) ]; then
    reap_one "$i"
    i=$((i + 1))
  fi
  say "$t: ${SECS}s"
  fuzz_one "$t" >"target/fuzz-$t.out" 2>&1 &
  pids+=($!)
  names+=("$t")
done
while [ "$i" -lt ${#pids[@]} ]; do
  reap_one "$i"
  i=$((i + 1))
done

if [ ${#failed[@]} -gt 0 ]; then
  die "failing fuzz targets (crash or build error): ${failed[*]}"
fi
say "all fuzz targets ran clean"
