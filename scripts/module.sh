#!/usr/bin/env bash
# Build ip_conntrack.ko (and the test-only ipct_warn.ko) out of tree.
#
#   scripts/module.sh [--clippy] VARIANT     against the cached kernel of VARIANT
#                                            (normal|debug; built first if missing)
#   scripts/module.sh [--clippy] --kdir PATH against any Rust-enabled 6.12 kernel
#                                            build tree (output in build/custom/)
#
# The sources are copied to build/<name>/src first: kbuild writes objects
# next to the sources, and two kernels' objects must not mix. Results:
# build/<name>/ip_conntrack.ko and build/<name>/ipct_warn.ko. Any compiler
# warning in the module fails the build (the kernel itself has WERROR off).
# --clippy runs the Rust part through clippy (in build/<name>-clippy/) and
# produces no module.
#
# A kernel tree for --kdir needs: Linux 6.12 built with LLVM=1 and the same
# rustc as here (/usr/bin/rustc; Rust crate metadata must match), with
# CONFIG_RUST, MODULES, MODULE_UNLOAD, NETFILTER, NF_CONNTRACK=m (keeps
# skb->_nfct and builds nf_defrag_ipv4), PROC_FS, PROC_SYSCTL, NET_NS, and
# `make modules` done (Module.symvers). scripts/config/base.config is the
# reference configuration.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() { die "usage: $0 [--clippy] normal|debug|--kdir PATH"; }

clippy=0
kdir=
name=
while [ $# -gt 0 ]; do
    case $1 in
    --clippy) clippy=1; shift ;;
    --kdir) [ $# -ge 2 ] || usage; kdir=$2; name=custom; shift 2 ;;
    normal|debug) name=$1; shift ;;
    *) usage ;;
    esac
done
[ -n "$name" ] || usage

if [ -z "$kdir" ]; then
    "$TOP/scripts/kernel.sh" "$name"
    kdir=$("$TOP/scripts/kernel.sh" --dir "$name")
fi
kdir=$(cd "$kdir" && pwd) || die "no such kernel tree: $kdir"
[ -f "$kdir/.config" ] || die "$kdir is not a configured kernel build tree"
grep -q '^CONFIG_RUST=y' "$kdir/.config" || die "$kdir: kernel built without CONFIG_RUST"
[ -f "$kdir/rust/libkernel.rmeta" ] || die "$kdir: the kernel's Rust crates are not built (run make there first)"
[ -f "$kdir/Module.symvers" ] || die "$kdir: no Module.symvers (build the kernel's modules first)"

# Code built into the kernel that reads skb->_nfct as a whole struct
# nf_conn would read past ip_conntrack's entries; the module keeps such
# modules out at run time, but cannot unload built-in code.
for opt in NF_SOCKET_IPV4 NF_SOCKET_IPV6 NET_CLS_FLOW NET_CLS_FLOWER; do
    if grep -q "^CONFIG_$opt=y" "$kdir/.config"; then
        die "$kdir builds CONFIG_$opt into the kernel: that code reads every packet's conntrack entry as a struct nf_conn, which ip_conntrack's entries are not (build it as a module, or leave it out)"
    fi
done

out=$BUILD/$name
[ $clippy -eq 1 ] && out=$BUILD/$name-clippy
src=$out/src
mkdir -p "$src"
# One build per output directory at a time (the VM runner may call us too).
exec 9>"$out/.lock"
if ! flock -n 9; then
    say "another build in $out is running; waiting"
    flock 9
fi

# Copy the module's sources into $src, rewriting only files whose content
# changed (unchanged files keep their mtime, so rebuilds stay incremental),
# and remove sources that no longer exist in the checkout.
sync_sources() {
    local f
    local -a files
    mapfile -t files < <(cd "$TOP" && find Kbuild include src tests/modules -type f \
        \( -name '*.rs' -o -name '*.c' -o -name '*.h' -o -name Kbuild \) \
        -not -path '*/target/*' | sort)
    for f in "${files[@]}"; do
        if ! cmp -s "$TOP/$f" "$src/$f"; then
            mkdir -p "$(dirname "$src/$f")"
            cp "$TOP/$f" "$src/$f"
        fi
    done
    (cd "$src" && find . -type f \( -name '*.rs' -o -name '*.c' -o -name '*.h' -o -name Kbuild \) \
        -not -name '*_generated.rs' -not -name '*.mod.c') |
    while read -r f; do
        [ -e "$TOP/$f" ] || rm -f "$src/$f"
    done
}

start=$SECONDS
LOG=$out/build.log
: > "$LOG"
kbuild() {
    local dir=$1
    shift
    # KCFLAGS/KRUSTFLAGS reach only what this make builds: the module.
    make -C "$kdir" M="$dir" "${KMAKE_FLAGS[@]}" \
        KCFLAGS=-Werror KRUSTFLAGS=-Dwarnings "$@" 2>&1 | tee -a "$LOG"
    return "${PIPESTATUS[0]}"
}
no_warnings() {
    if grep -qiE '(^|[^a-z_])warning' "$LOG"; then
        grep -iE '(^|[^a-z_])warning' "$LOG" >&2
        die "warnings in the module build (see $LOG)"
    fi
}

say "sources -> $src; kernel: $kdir"
sync_sources

if [ $clippy -eq 1 ]; then
    say "clippy over ip_conntrack (CLIPPY=1, $CLIPPY_DRIVER)"
    [ -x "$CLIPPY_DRIVER" ] || die "$CLIPPY_DRIVER missing; run scripts/deps.sh"
    # Touch the crate root so clippy re-checks it even when up to date.
    touch "$src/src/kmod/root.rs"
    kbuild "$src" CLIPPY=1 CLIPPY_DRIVER="$CLIPPY_DRIVER" modules \
        || die "clippy failed (log: $LOG)"
    no_warnings
    say "clippy clean in $((SECONDS - start))s"
    exit 0
fi

# Up to date: the same sources against the same kernel build. Kbuild
# would find nothing to do too, but its two passes over the kernel's
# makefiles take 10-20 s, and `make check` asks three times per kernel.
stamp=$out/.inputs
inputs=$(cd "$src" && find . -type f \( -name '*.rs' -o -name '*.c' -o -name '*.h' -o -name Kbuild \) \
    -not -name '*_generated.rs' -not -name '*.mod.c' | LC_ALL=C sort | xargs sha1sum
    echo "$kdir $(stat -c %Y "$kdir/Module.symvers") ${KMAKE_FLAGS[*]}")
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs" ] && [ -f "$out/ip_conntrack.ko" ] &&
    [ -f "$out/ipct_warn.ko" ] && [ -f "$out/nf_socket_ipv4.ko" ]; then
    say "up to date: $out/ip_conntrack.ko"
    exit 0
fi
rm -f "$stamp"

say "building ip_conntrack.ko"
kbuild "$src" modules || die "module build failed (log: $LOG)"
say "building the test-only modules (tests/modules)"
kbuild "$src/tests/modules" modules || die "test module build failed (log: $LOG)"
no_warnings

# Replace the results atomically: a reader never sees a partial file.
install_ko() { cp "$1" "$2.tmp" && mv -f "$2.tmp" "$2"; }
install_ko "$src/ip_conntrack.ko" "$out/ip_conntrack.ko"
install_ko "$src/tests/modules/ipct_warn.ko" "$out/ipct_warn.ko"
install_ko "$src/tests/modules/nf_socket_ipv4.ko" "$out/nf_socket_ipv4.ko"
printf '%s\n' "$inputs" > "$stamp"
say "built in $((SECONDS - start))s: $out/ip_conntrack.ko $out/ipct_warn.ko" \
    "(vermagic: $(/sbin/modinfo -F vermagic "$out/ip_conntrack.ko"))"
