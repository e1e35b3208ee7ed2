#!/usr/bin/env bash
# Install what a fresh Debian 12 machine lacks to build the kernel, the
# module, the guest and the host crate. Idempotent: skips what is present.
set -euo pipefail

say() { printf '[deps] %s\n' "$*"; }

APT_PKGS=(
  linux-source-6.12 rustc-web cargo-web rust-web-src rust-web-clippy
  clang lld llvm libclang-dev flex bison bc libelf-dev libssl-dev cpio kmod
  qemu-system-x86 busybox-static dash iptables iproute2 netcat-openbsd socat
  xz-utils python3 conntrack conntrackd nftables valgrind gcc libc6-dev
)
BINDGEN_VERSION='^0.71'

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing apt packages: ${missing[*]}"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "apt packages installed"
else
  say "apt packages: all present"
fi

if [ -x "$HOME/.cargo/bin/bindgen" ] && "$HOME/.cargo/bin/bindgen" --version 2>/dev/null | grep -q 'bindgen 0\.71'; then
  say "bindgen: $("$HOME/.cargo/bin/bindgen" --version)"
else
  say "installing bindgen-cli $BINDGEN_VERSION (about a minute)"
  cargo install bindgen-cli --version "$BINDGEN_VERSION" --locked --quiet
  say "bindgen: $("$HOME/.cargo/bin/bindgen" --version)"
fi
say "done"
