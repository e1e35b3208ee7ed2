# Shared settings for the project's scripts. Source it: . "$(dirname "$0")/lib.sh"
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${IPCT_CACHE:-$HOME/.cache/ip_conntrack}
BUILD=$TOP/build

# Debian's compiler: the rustup one on PATH lacks rust-src.
RUSTC=/usr/bin/rustc
RUST_LIB_SRC=$(ls -d /usr/src/rustc-*/library 2>/dev/null | sort -V | tail -n 1)
BINDGEN=$HOME/.cargo/bin/bindgen
CLIPPY_DRIVER=/usr/bin/clippy-driver
KMAKE_FLAGS=(LLVM=1 "RUSTC=$RUSTC" "HOSTRUSTC=$RUSTC" "RUST_LIB_SRC=$RUST_LIB_SRC" "BINDGEN=$BINDGEN")

# Shell libraries under tests/vm/ that scenarios source from
# /usr/lib/ipct/NAME.sh in the guest; every other tests/vm/*.sh is a scenario.
VM_LIBS=(lib ct nat-lib)

# Host variables scripts/vm-run.sh hands to the guest script when set
# (scenario knobs, e.g. NAT_WITH=nf_conntrack for tests/vm/nat.sh).
VM_GUEST_ENV=(NAT_WITH IPCT_IPV6)

# Kernel log lines that fail a run, as extended regular expressions.
PROBLEMS=(
    'Oops' 'BUG:' 'kernel BUG at' 'WARNING:' 'KASAN:' 'UBSAN:' 'general protection fault'
    'Unable to handle kernel' 'double fault' 'Kernel panic' 'panicked at'
    'possible circular locking' 'inconsistent lock state' 'possible recursive locking'
    'possible irq lock inversion' 'suspicious RCU usage' 'bad unlock balance'
    'held lock freed' 'lock held when returning to user space' 'DEBUG_LOCKS_WARN_ON'
    'unreferenced object' 'new suspected memory leak' 'refcount_t:' 'ODEBUG:'
    'list_(add|del) corruption' 'detected stall' 'INFO: task .* blocked for more than'
)

# Print a progress line; long steps print one per stage.
say() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*"; }
die() { printf '[%s] error: %s\n' "$(basename "$0" .sh)" "$*" >&2; exit 1; }
