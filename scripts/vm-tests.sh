#!/usr/bin/env bash
# Run every guest scenario (tests/vm/*.sh but lib.sh), each in its own
# guest boot through scripts/vm-run.sh; a line per scenario, then a
# summary line "N passed, N failed". Exit status 1 if any failed.
#
#   scripts/vm-tests.sh [--debug] [PATTERN]
#
# PATTERN keeps the scenarios whose file name contains it. On the debug
# kernel (KASAN, lockdep, kmemleak: several times slower) only the fast
# subset runs: scenarios with a line "# vm-debug: yes" near the top;
# VM_TESTS_ALL=1 runs them all there too. Each
# scenario's output goes to build/logs/vm-tests-<variant>-<name>.out and
# is shown when it fails (VM_TESTS_VERBOSE=1 shows it always).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=normal
run_args=()
if [ "${1:-}" = --debug ]; then
    variant=debug
    run_args=(--debug)
    shift
fi
[ $# -le 1 ] || die "usage: $0 [--debug] [PATTERN]"
pattern=${1:-}

scenarios=()
for f in "$TOP"/tests/vm/*.sh; do
    name=$(basename "$f" .sh)
    [[ " ${VM_LIBS[*]} " != *" $name "* ]] || continue
    [ -z "$pattern" ] || [[ $name == *$pattern* ]] || continue
    if [ "$variant" = debug ] && [ -z "${VM_TESTS_ALL:-}" ]; then
        head -n 15 "$f" | grep -q '^# vm-debug: yes' || continue
    fi
    scenarios+=("$f")
done
[ ${#scenarios[@]} -gt 0 ] || die "no scenario in tests/vm matches '$pattern'"

say "building for the $variant kernel"
"$TOP/scripts/deps.sh"
"$TOP/scripts/kernel.sh" "$variant"
"$TOP/scripts/module.sh" "$variant"
"$TOP/scripts/initramfs.sh" "$variant"
export VM_NO_BUILD=1

mkdir -p "$BUILD/logs"
say "${#scenarios[@]} scenarios on the $variant kernel"
passed=0
failed=0
failed_names=()
for f in "${scenarios[@]}"; do
    name=$(basename "$f" .sh)
    out=$BUILD/logs/vm-tests-$variant-$name.out
    start=$SECONDS
    rc=0
    if [ -n "${VM_TESTS_VERBOSE:-}" ]; then
        "$TOP/scripts/vm-run.sh" "${run_args[@]}" "$f" 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
    else
        "$TOP/scripts/vm-run.sh" "${run_args[@]}" "$f" > "$out" 2>&1 || rc=$?
    fi
    took=$((SECONDS - start))
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        say "PASS $name (${took}s)"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        say "FAIL $name (status $rc, ${took}s); output: $out"
        if [ -z "${VM_TESTS_VERBOSE:-}" ]; then
            grep -E '^(FAIL|    \| |\[vm\]|== )' "$out" | sed 's/^/    /' | tail -n 40
        fi
    fi
done

[ $failed -eq 0 ] || say "failed on the $variant kernel: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
