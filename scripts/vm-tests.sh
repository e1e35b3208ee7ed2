#!/usr/bin/env bash
# Run every guest scenario (tests/vm/*.sh but the libraries) in the guest
# through scripts/vm-run.sh; a line per scenario, then a summary line
# "N passed, N failed". Exit status 1 if any failed.
#
#   scripts/vm-tests.sh [--debug] [PATTERN]
#
# PATTERN keeps the scenarios whose file name contains it. A scenario with
# a line "# vm-pending: yes" near the top (one whose feature is still being
# built, e.g. nat) runs only when PATTERN is its exact name, never in the
# full run. On the debug
# kernel (KASAN, lockdep, kmemleak: several times slower) only the fast
# subset runs: scenarios with a line "# vm-debug: yes" near the top;
# VM_TESTS_ALL=1 runs them all there too. Each
# scenario's output goes to build/logs/vm-tests-<variant>-<name>.out and
# is shown when it fails (VM_TESTS_VERBOSE=1 shows it always).
#
# On the debug kernel the scenarios share one boot (a boot takes half a
# minute there under TCG, a few seconds on the normal one; scripts/vm-batch.sh
# runs them in turn and clears what each leaves behind): each still gets
# its own PASS/FAIL, its own output file, and the kernel log lines between
# its start and end markers are checked for reports as a run of its own
# would be. Scenarios with a line "# vm-boot: own" (or all, with
# VM_BATCH=0) boot alone; VM_BATCH=1 shares boots on the normal kernel
# too. VM_TESTS_DIR takes the scenarios from another
# directory (the runner's self-test).
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
for f in "${VM_TESTS_DIR:-$TOP/tests/vm}"/*.sh; do
    name=$(basename "$f" .sh)
    [[ " ${VM_LIBS[*]} " != *" $name "* ]] || continue
    [ -z "$pattern" ] || [[ $name == *$pattern* ]] || continue
    if head -n 15 "$f" | grep -q '^# vm-pending: yes'; then
        [ "$name" = "$pattern" ] || continue
    fi
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

# report NAME RC SECONDS OUT: one scenario's line.
report() {
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
        say "PASS $1 ($3s)"
    else
        failed=$((failed + 1))
        failed_names+=("$1")
        say "FAIL $1 (status $2, $3s); output: $4"
        if [ -z "${VM_TESTS_VERBOSE:-}" ]; then
            { grep -E '^(FAIL|    \| |\[vm\]|== )' "$4" || true; } | sed 's/^/    /' | tail -n 40
        fi
    fi
}

# Which scenarios share a boot: on the debug kernel, whose boot is long;
# on the normal one each boots alone (a boot costs about 3 s there, and a
# scenario that leaves the guest in a bad state cannot spoil the next).
batch_default=0
[ "$variant" = normal ] || batch_default=1
batch=()
alone=()
for f in "${scenarios[@]}"; do
    if [ "${VM_BATCH:-$batch_default}" = 1 ] &&
        ! head -n 15 "$f" | grep -q '^# vm-boot: own'; then
        batch+=("$f")
    else
        alone+=("$f")
    fi
done
[ ${#batch[@]} -ge 2 ] || { alone=("${scenarios[@]}"); batch=(); }

if [ ${#batch[@]} -gt 0 ]; then
    names=()
    for f in "${batch[@]}"; do names+=("$(basename "$f" .sh)"); done
    say "one boot for ${names[*]}"
    bout=$BUILD/logs/vm-tests-$variant-batch.out
    files="${batch[*]}"
    for f in "${batch[@]}"; do
        [ ! -f "${f%.sh}.allow" ] || files+=" ${f%.sh}.allow"
    done
    brc=0
    start=$SECONDS
    # A scenario's usual limit is 600 s; together they get 400 s each.
    if [ -n "${VM_TESTS_VERBOSE:-}" ]; then
        VM_FILES=$files VM_TIMEOUT=$((400 * ${#batch[@]})) \
            "$TOP/scripts/vm-run.sh" "${run_args[@]}" "$TOP/scripts/vm-batch.sh" "${names[@]}" 2>&1 | tee "$bout" || brc=${PIPESTATUS[0]}
    else
        VM_FILES=$files VM_TIMEOUT=$((400 * ${#batch[@]})) \
            "$TOP/scripts/vm-run.sh" "${run_args[@]}" "$TOP/scripts/vm-batch.sh" "${names[@]}" > "$bout" 2>&1 || brc=$?
    fi
    say "the shared boot took $((SECONDS - start))s (status $brc)"
    klog=$(sed -n 's/^\[vm\] kernel log: //p' "$bout" | head -n 1)
    pattern=$(IFS='|'; echo "${PROBLEMS[*]}")
    for name in "${names[@]}"; do
        out=$BUILD/logs/vm-tests-$variant-$name.out
        # The scenario's output, between its markers.
        awk -v n="$name" '$0 == "==== ipct-batch: start " n { on = 1; next }
            on && index($0, "==== ipct-batch: end " n " ") == 1 { exit } on' "$bout" > "$out"
        end=$(grep -E "^==== ipct-batch: end $name status [0-9]+ seconds [0-9]+$" "$bout" | tail -n 1)
        rc=125
        took=0
        if [ -n "$end" ]; then
            read -r _ _ _ _ _ rc _ took <<< "$end"
        else
            echo "[vm] FAIL: the shared boot ended before $name finished (status $brc)" >> "$out"
        fi
        # Its kernel log lines, between its markers.
        problems=$(awk -v n="$name" 'index($0, "ipct-batch: start " n) { on = 1; next }
            on && index($0, "ipct-batch: end " n " ") { exit } on' "${klog:-/dev/null}" 2>/dev/null |
            grep -a -E "$pattern" | head -n 20 || true)
        if [ -n "$problems" ]; then
            printf '%s\n' "$problems" | sed 's/^/[vm]   klog:/' >> "$out"
            echo "[vm] FAIL: kernel log shows a problem during $name" >> "$out"
            [ "$rc" -ne 0 ] || rc=125
        fi
        report "$name" "$rc" "$took" "$out"
    done
    # Reports outside every scenario (boot, between scenarios) fail the run.
    stray=$(awk '/ipct-batch: start /{ on = 1 } /ipct-batch: end /{ on = 0; next } !on' "${klog:-/dev/null}" 2>/dev/null |
        grep -a -E "$pattern" | head -n 20 || true)
    if [ -n "$stray" ] || { [ "$brc" -ne 0 ] && [ "$brc" -ne 125 ]; }; then
        report shared-boot 1 0 "$bout"
        [ -z "$stray" ] || printf '%s\n' "$stray" | sed 's/^/    klog: /'
    fi
fi

for f in "${alone[@]}"; do
    name=$(basename "$f" .sh)
    out=$BUILD/logs/vm-tests-$variant-$name.out
    start=$SECONDS
    rc=0
    if [ -n "${VM_TESTS_VERBOSE:-}" ]; then
        "$TOP/scripts/vm-run.sh" "${run_args[@]}" "$f" 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
    else
        "$TOP/scripts/vm-run.sh" "${run_args[@]}" "$f" > "$out" 2>&1 || rc=$?
    fi
    report "$name" "$rc" "$((SECONDS - start))" "$out"
done

[ $failed -eq 0 ] || say "failed on the $variant kernel: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
