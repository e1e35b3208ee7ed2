#!/usr/bin/env bash
# Build the test guest's initramfs: build/VARIANT/initrd.cpio.gz.
#
#   scripts/initramfs.sh VARIANT      VARIANT is normal|debug
#
# Needs the kernel (scripts/kernel.sh VARIANT) and the module
# (scripts/module.sh VARIANT) built. Rebuilds only when an input changed
# (host binaries and libraries, the kernel's modules, our modules, the
# packet tool, this script).
#
# The guest: /bin/sh is dash; busybox supplies the basics through applet
# links in /bin and /sbin, except `ip`, `nc` and `sh`, which are the real
# tools in /usr/bin and /usr/sbin (first in PATH). Our module sits in
# /lib/modules/<release>/extra/, the test-only modules (ipct_warn.ko and
# the nf_socket_ipv4.ko stand-in) in .../test/
# (never auto-loaded), with depmod run so modprobe resolves dependencies.
# /init mounts the usual file systems and runs /ipct/cmd, which
# scripts/vm-run.sh appends as a second archive.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || die "usage: $0 normal|debug"
variant=$1
case $variant in normal|debug) ;; *) die "usage: $0 normal|debug" ;; esac

KDIR=$("$TOP/scripts/kernel.sh" --dir "$variant")
[ -f "$KDIR/.ipct-done" ] || die "kernel $variant not built: run scripts/kernel.sh $variant"
REL=$(ls "$KDIR/modroot/lib/modules/")
[ "$(printf '%s\n' "$REL" | wc -l)" -eq 1 ] || die "expected one release in $KDIR/modroot/lib/modules, got: $REL"
OUT=$BUILD/$variant
MOD=$OUT/ip_conntrack.ko
WARN_MOD=$OUT/ipct_warn.ko
SOCKET_MOD=$OUT/nf_socket_ipv4.ko
[ -f "$MOD" ] || die "$MOD missing: run scripts/module.sh $variant"
[ -f "$WARN_MOD" ] || die "$WARN_MOD missing: run scripts/module.sh $variant"
[ -f "$SOCKET_MOD" ] || die "$SOCKET_MOD missing: run scripts/module.sh $variant"
INITRD=$OUT/initrd.cpio.gz
STAMP=$OUT/initrd.inputs
XTABLES=/usr/lib/x86_64-linux-gnu/xtables

# Host programs copied as they are, and the guest name of each.
declare -A PROGS=(
    [/usr/bin/dash]=/usr/bin/dash
    [/usr/sbin/ip]=/usr/sbin/ip
    [/usr/bin/ss]=/usr/bin/ss
    [/usr/bin/nc.openbsd]=/usr/bin/nc
    [/usr/bin/socat]=/usr/bin/socat
    [/usr/sbin/xtables-legacy-multi]=/usr/sbin/xtables-legacy-multi
    [/usr/sbin/xtables-nft-multi]=/usr/sbin/xtables-nft-multi
    # conntrack-tools, over the module's ctnetlink.
    [/usr/sbin/conntrack]=/usr/sbin/conntrack
    [/usr/sbin/conntrackd]=/usr/sbin/conntrackd
    # util-linux's setpriv: runs a command without privileges.
    [/usr/bin/setpriv]=/usr/bin/setpriv
)
# iptables front ends: links to the multi-call binaries. Plain `iptables`
# is the legacy (classic x_tables) one; `iptables-nft` is there by name.
LEGACY_NAMES="iptables-legacy iptables-legacy-save iptables-legacy-restore
    ip6tables-legacy ip6tables-legacy-save ip6tables-legacy-restore
    iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore"
NFT_NAMES="iptables-nft iptables-nft-save iptables-nft-restore
    ip6tables-nft ip6tables-nft-save ip6tables-nft-restore iptables-translate"
# Busybox applets not linked: real tools (or dash) take these names.
SKIP_APPLETS=" busybox ip nc sh ash hush init linuxrc setpriv "
ETC_FILES="/etc/protocols /etc/services /etc/ethertypes"

PKT_DIR=$TOP/tools/pkt
PKT=$PKT_DIR/target/release/pkt
# The clash test's sender (tests/vm/race.sh): two threads, one socket.
TWIN_DIR=$TOP/tools/twin
TWIN=$TWIN_DIR/target/release/twin
# Raw nfnetlink requests (tests/vm/ctnetlink.sh): what conntrack never sends.
NLMSG_DIR=$TOP/tools/nlmsg
NLMSG=$NLMSG_DIR/target/release/nlmsg
# A transparent proxy's SO_ORIGINAL_DST lookup (tests/vm/nat.sh).
ORIGDST_DIR=$TOP/tools/origdst
ORIGDST=$ORIGDST_DIR/target/release/origdst

for p in "${!PROGS[@]}" /bin/busybox; do
    [ -x "$p" ] || die "$p missing: run scripts/deps.sh"
done
[ -d "$XTABLES" ] || die "$XTABLES missing: run scripts/deps.sh"

# The packet tool: cargo is quick when nothing changed.
say "packet tool: cargo build --release (static)"
RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --quiet --release --locked --manifest-path "$PKT_DIR/Cargo.toml" >&2 \
    || die "building tools/pkt failed"
if ldd "$PKT" 2>&1 | grep -q '=>'; then die "$PKT is not statically linked"; fi
RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --quiet --release --locked --manifest-path "$TWIN_DIR/Cargo.toml" >&2 \
    || die "building tools/twin failed"
if ldd "$TWIN" 2>&1 | grep -q '=>'; then die "$TWIN is not statically linked"; fi
RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --quiet --release --locked --manifest-path "$NLMSG_DIR/Cargo.toml" >&2 \
    || die "building tools/nlmsg failed"
if ldd "$NLMSG" 2>&1 | grep -q '=>'; then die "$NLMSG is not statically linked"; fi
RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --quiet --release --locked --manifest-path "$ORIGDST_DIR/Cargo.toml" >&2 \
    || die "building tools/origdst failed"
if ldd "$ORIGDST" 2>&1 | grep -q '=>'; then die "$ORIGDST is not statically linked"; fi

# Every shared library a program or xtables extension needs, with its
# dynamic loader (ldd lists it by absolute path).
libs_of() {
    ldd "$@" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/[^ ]+ \(/ {print $1}' | sort -u
}
LIBS=$(libs_of "${!PROGS[@]}" "$XTABLES"/*.so)

inputs() {
    stat -L -c '%n %s %Y' "${!PROGS[@]}" /bin/busybox $LIBS "$XTABLES"/*.so $ETC_FILES
    # By content: scripts/module.sh and cargo rewrite these on every build.
    sha256sum "$MOD" "$WARN_MOD" "$SOCKET_MOD" "$PKT" "$TWIN" "$NLMSG" "$ORIGDST" "$TOP/scripts/initramfs.sh" "$TOP/scripts/lib.sh"
    find "$KDIR/modroot/lib/modules/$REL" -type f -printf '%p %s %T@\n' | sort
    echo "release $REL"
}
# One build at a time per variant (vm-run.sh may run in parallel).
mkdir -p "$OUT"
exec 9> "$OUT/.initrd.lock"
flock 9
key=$(inputs | sha256sum | cut -c1-64)
if [ -f "$INITRD" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$key" ]; then
    say "$variant initramfs up to date: $INITRD"
    exit 0
fi

say "building $variant initramfs ($REL)"
ROOT=$OUT/initrd.root
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,lib64,usr/bin,usr/sbin,usr/lib/ipct,etc,proc,sys,dev,run,tmp,root,mnt,var,ipct}
ln -s ../run "$ROOT/var/run"

# Busybox and its applets.
cp /bin/busybox "$ROOT/bin/busybox"
n=0
for applet in $(/bin/busybox --list); do
    case $SKIP_APPLETS in *" $applet "*) continue ;; esac
    ln -s busybox "$ROOT/bin/$applet"
    n=$((n + 1))
done
# The kernel's usermode helper runs /sbin/modprobe for request_module().
for a in modprobe insmod rmmod lsmod depmod sysctl poweroff reboot; do
    ln -sf ../bin/busybox "$ROOT/sbin/$a"
done
say "busybox: $n applets linked"

# Real tools and what they need.
for p in "${!PROGS[@]}"; do
    install -D -m 0755 "$p" "$ROOT${PROGS[$p]}"
done
ln -s ../usr/bin/dash "$ROOT/bin/sh"
for name in $LEGACY_NAMES; do ln -s xtables-legacy-multi "$ROOT/usr/sbin/$name"; done
for name in $NFT_NAMES; do ln -s xtables-nft-multi "$ROOT/usr/sbin/$name"; done
mkdir -p "$ROOT$XTABLES"
cp -a "$XTABLES"/. "$ROOT$XTABLES/"
for lib in $LIBS; do
    install -D -m 0755 "$(readlink -f "$lib")" "$ROOT$lib"
done
install -m 0755 "$PKT" "$ROOT/usr/bin/pkt"
install -m 0755 "$TWIN" "$ROOT/usr/bin/twin"
install -m 0755 "$NLMSG" "$ROOT/usr/bin/nlmsg"
install -m 0755 "$ORIGDST" "$ROOT/usr/bin/origdst"
say "tools: ${#PROGS[@]} programs, $(printf '%s\n' $LIBS | wc -l) shared libraries, pkt, twin, nlmsg, origdst"

# /etc: what the tools look up by name.
for f in $ETC_FILES; do cp "$f" "$ROOT$f"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\n' > "$ROOT/etc/group"
printf '127.0.0.1 localhost\n' > "$ROOT/etc/hosts"
printf '/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n' > "$ROOT/etc/ld.so.conf"
ldconfig -r "$ROOT" || say "warning: ldconfig failed; the loader's default paths remain"

# Kernel modules, ours, and their dependency index.
MODDIR=$ROOT/lib/modules/$REL
mkdir -p "$ROOT/lib/modules"
cp -a "$KDIR/modroot/lib/modules/$REL" "$MODDIR"
rm -f "$MODDIR/build" "$MODDIR/source"
install -D -m 0644 "$MOD" "$MODDIR/extra/ip_conntrack.ko"
install -D -m 0644 "$WARN_MOD" "$MODDIR/test/ipct_warn.ko"
install -D -m 0644 "$SOCKET_MOD" "$MODDIR/test/nf_socket_ipv4.ko"
depmod -b "$ROOT" "$REL"
grep -q '^extra/ip_conntrack.ko:' "$MODDIR/modules.dep" || die "depmod did not index ip_conntrack.ko"
say "modules: $(find "$MODDIR" -name '*.ko' | wc -l) installed, depmod done; ip_conntrack needs: $(sed -n 's/^extra\/ip_conntrack.ko: *//p' "$MODDIR/modules.dep")"

# Guest helper: leak scan on demand (kmemleak exists on the debug kernel).
cat > "$ROOT/usr/lib/ipct/kmemleak-scan" <<'EOF'
#!/bin/sh
# Usage: kmemleak-scan [AGE]. Scans twice, the second scan starting AGE
# seconds (default 6) after the first began, and prints what it found.
# kmemleak reports an object that no scan reached, whose contents did not
# change since the previous scan (the first one here notes them), and
# that was older than 5 s when the scan began. On the debug kernel the
# first scan itself takes most of those seconds: waiting before it, as
# this once did, only added them.
# The kernel (booted with kmemleak.verbose=1) logs each leak as
# "unreferenced object", which makes scripts/vm-run.sh fail the run.
f=/sys/kernel/debug/kmemleak
if [ ! -e "$f" ]; then
    echo "kmemleak-scan: kmemleak not in this kernel, skipped"
    exit 0
fi
start=$(cut -d' ' -f1 /proc/uptime)
echo scan > "$f" || { echo "kmemleak-scan: scan failed"; exit 1; }
sleep "$(awk -v s="$start" -v age="${1:-6}" '{ r = s + age - $1; printf "%.2f\n", (r > 0 ? r : 0) }' /proc/uptime)"
echo scan > "$f" || { echo "kmemleak-scan: scan failed"; exit 1; }
report=$(cat "$f")
if [ -n "$report" ]; then
    printf '%s\n' "$report"
    n=$(printf '%s\n' "$report" | grep -c 'unreferenced object')
    # Also into the kernel log, in case verbose reporting is off.
    echo "kmemleak-scan: $n unreferenced objects found" > /dev/kmsg
    echo "kmemleak-scan: $n leaks found"
    exit 1
fi
echo "kmemleak-scan: no leaks"
EOF
chmod 0755 "$ROOT/usr/lib/ipct/kmemleak-scan"

cat > "$ROOT/init" <<'EOF'
#!/bin/sh
# Guest init (dash). Mounts, brings lo up, runs /ipct/cmd (added by
# scripts/vm-run.sh) with its output on /dev/ttyS1, logs the exit status
# to the kernel log (the runner reads it there) and powers off.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
HOME=/root
TERM=dumb
export PATH HOME TERM

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mkdir -p /run/netns
hostname guest
ip link set lo up

# Leaks are looked for only when a script asks (kmemleak-scan).
if [ -w /sys/kernel/debug/kmemleak ]; then
    echo scan=off > /sys/kernel/debug/kmemleak
fi

out=/dev/ttyS1
[ -c "$out" ] || out=/dev/console
# Keep the port open while changing it: settings may reset on last close.
# -opost: plain \n, not \r\n, on the host's stdout.
exec 3<>"$out"
stty -opost <&3 2>/dev/null
echo "ipct-vm: running script ($(cut -d' ' -f1 /proc/uptime) s after boot)" > /dev/kmsg
cd /tmp
if [ -f /ipct/cmd ]; then
    sh /ipct/cmd < /dev/null >&3 2>&3 3>&-
    rc=$?
else
    echo "init: no /ipct/cmd (boot through scripts/vm-run.sh)" >&3
    rc=127
fi
echo "ipct-vm: exit status $rc" > /dev/kmsg
poweroff -f
echo o > /proc/sysrq-trigger
while :; do sleep 1; done
EOF
chmod 0755 "$ROOT/init"

# /dev/console must exist before devtmpfs is mounted: the kernel opens it
# for init's stdin/stdout.
mknod -m 0600 "$ROOT/dev/console" c 5 1 || die "mknod /dev/console failed (needs root)"

(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --reproducible --quiet) \
    | gzip -1 > "$INITRD.tmp"
mv "$INITRD.tmp" "$INITRD"
echo "$key" > "$STAMP"
say "wrote $INITRD ($(du -h "$INITRD" | cut -f1), $(du -sh "$ROOT" | cut -f1) unpacked)"
