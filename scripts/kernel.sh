#!/usr/bin/env bash
# Build the project's Linux 6.12 kernel, or find it in the cache.
#
#   scripts/kernel.sh VARIANT            build (no-op when cached); VARIANT is normal|debug
#   scripts/kernel.sh --dir VARIANT      print the build directory (KDIR), nothing else
#   scripts/kernel.sh --release VARIANT  print the kernel release string
#
# The source (Debian's linux-source-6.12 tarball) is extracted once into
# $CACHE/src/linux-<version>/ and shared by both variants; each variant is
# built out of tree (O=) in $CACHE/kernel/<version>-<variant>-<hash12>/,
# keyed by the config fragments, this script and the toolchain versions.
# In that directory: arch/x86/boot/bzImage, modroot/lib/modules/<release>/,
# build.log (make's full output) and .ipct-done once complete.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TARBALL=/usr/src/linux-source-6.12.tar.xz
CONFIG_DIR=$TOP/scripts/config

usage() { die "usage: $0 [--dir|--release] normal|debug"; }

mode=build
case ${1:-} in
--dir) mode=dir; shift ;;
--release) mode=release; shift ;;
-h|--help) usage ;;
esac
[ $# -eq 1 ] || usage
variant=$1
case $variant in normal|debug) ;; *) usage ;; esac
[ -f "$TARBALL" ] || die "$TARBALL missing; run scripts/deps.sh"

# Extract the tarball once. $CACHE/src/tarball.id remembers which tarball
# (size, mtime) the tree came from and its version, so a Debian security
# update of linux-source-6.12 gets a fresh tree next to the old one.
source_tree() {
    local id ver tmp
    id=$(stat -c '%s %Y' "$TARBALL")
    mkdir -p "$CACHE/src"
    exec 8>"$CACHE/src/.lock"
    flock 8
    if [ -f "$CACHE/src/tarball.id" ]; then
        read -r size mtime ver < "$CACHE/src/tarball.id"
        if [ "$size $mtime" = "$id" ] && [ -f "$CACHE/src/linux-$ver/.ipct-extracted" ]; then
            flock -u 8
            SRC=$CACHE/src/linux-$ver
            KVER=$ver
            return
        fi
    fi
    say "extracting $TARBALL into $CACHE/src" >&2
    tmp=$(mktemp -d "$CACHE/src/.extract.XXXXXX")
    tar -xJf "$TARBALL" -C "$tmp"
    ver=$(awk -F' *= *' '/^VERSION/{v=$2} /^PATCHLEVEL/{p=$2} /^SUBLEVEL/{s=$2}
                         /^EXTRAVERSION/{e=$2; print v "." p "." s e; exit}' \
          "$tmp/linux-source-6.12/Makefile")
    [ -n "$ver" ] || die "cannot read the kernel version from the tarball"
    rm -rf "$CACHE/src/linux-$ver"
    mv "$tmp/linux-source-6.12" "$CACHE/src/linux-$ver"
    rmdir "$tmp"
    touch "$CACHE/src/linux-$ver/.ipct-extracted"
    echo "$id $ver" > "$CACHE/src/tarball.id"
    flock -u 8
    SRC=$CACHE/src/linux-$ver
    KVER=$ver
}

source_tree
key=$( {
    cat "$CONFIG_DIR/base.config" "$CONFIG_DIR/$variant.config" "$TOP/scripts/kernel.sh"
    "$RUSTC" --version; "$BINDGEN" --version 2>/dev/null || true; clang --version | head -n 1
} | sha256sum | cut -c1-12)
DIR=$CACHE/kernel/$KVER-$variant-$key

case $mode in
dir) echo "$DIR"; exit 0 ;;
release)
    if [ -f "$DIR/include/config/kernel.release" ]; then
        cat "$DIR/include/config/kernel.release"
    else
        echo "$KVER"   # base.config pins an empty LOCALVERSION
    fi
    exit 0 ;;
esac

if [ -f "$DIR/.ipct-done" ]; then
    say "cached: $DIR"
    exit 0
fi

mkdir -p "$DIR"
exec 9>"$DIR.lock"
if ! flock -n 9; then
    say "another build of $DIR is running; waiting"
    flock 9
fi
if [ -f "$DIR/.ipct-done" ]; then
    say "cached: $DIR"
    exit 0
fi

LOG=$DIR/build.log
start=$SECONDS
elapsed() { local s=$((SECONDS - start)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
kmake() { make -C "$SRC" O="$DIR" "${KMAKE_FLAGS[@]}" "$@" >> "$LOG" 2>&1; }
fail() { tail -n 40 "$LOG" >&2; die "$1 failed after $(elapsed); full log: $LOG"; }

say "building $variant kernel $KVER in $DIR"
say "log: $LOG"
: > "$LOG"

# Every line of the fragments must survive olddefconfig as written: a
# `CONFIG_X=v` line must appear verbatim, a `# CONFIG_X is not set` line
# means X must not be set. The variant fragment overrides the base.
verify_config() {
    local cfg=$DIR/.config bad=0 line sym val
    declare -A want=()
    while IFS= read -r line; do
        if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
            want[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
        elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
            want[${BASH_REMATCH[1]}]=n
        fi
    done < <(cat "$CONFIG_DIR/base.config" "$CONFIG_DIR/$variant.config")
    for sym in "${!want[@]}"; do
        val=${want[$sym]}
        if [ "$val" = n ]; then
            if grep -q "^$sym=" "$cfg"; then
                say "config: $sym must be off, got: $(grep "^$sym=" "$cfg")" >&2
                bad=1
            fi
        elif ! grep -qxF "$sym=$val" "$cfg"; then
            say "config: want $sym=$val, got: $(grep "^$sym=" "$cfg" || echo 'not set')" >&2
            bad=1
        fi
    done
    if [ $bad -ne 0 ]; then
        if ! grep -q '^CONFIG_RUST=y' "$cfg"; then
            say "Rust is not available to this kernel build; make rustavailable says:" >&2
            make -C "$SRC" O="$DIR" "${KMAKE_FLAGS[@]}" rustavailable >&2 || true
        fi
        rm -f "$DIR/.ipct-configured"
        die "kconfig verification failed for $variant (dependency unmet?); see $CONFIG_DIR"
    fi
    say "config: ${#want[@]} requested options verified"
}

if [ ! -f "$DIR/.ipct-configured" ]; then
    say "config: tinyconfig + base.config + $variant.config"
    kmake tinyconfig || fail "make tinyconfig"
    "$SRC/scripts/kconfig/merge_config.sh" -m -O "$DIR" "$DIR/.config" \
        "$CONFIG_DIR/base.config" "$CONFIG_DIR/$variant.config" >> "$LOG" 2>&1 \
        || fail "merge_config.sh"
    kmake olddefconfig || fail "make olddefconfig"
    verify_config
    touch "$DIR/.ipct-configured"
else
    say "config: already done"
fi

say "make bzImage modules (-j$(nproc)), about 5 minutes per variant on 2 cores"
kmake -j"$(nproc)" bzImage modules || fail "make bzImage modules"
say "built in $(elapsed)"

say "modules_install into $DIR/modroot"
rm -rf "$DIR/modroot"
kmake INSTALL_MOD_PATH="$DIR/modroot" modules_install || fail "make modules_install"

touch "$DIR/.ipct-done"
say "done in $(elapsed): $DIR ($(cat "$DIR/include/config/kernel.release"))"
