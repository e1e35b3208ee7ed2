// SPDX-License-Identifier: GPL-2.0

//! Kernel log lines of the packet path, rate-limited (a flood of bad
//! packets must not flood the log).

use crate::ffi;

/// `ip_conntrack_log_invalid`'s line for an INVALID packet of protocol
/// `proto` from `src` to `dst` (host order), with the engine's reason.
pub(crate) fn invalid(proto: u8, src: u32, dst: u32, reason: &str) {
    // SAFETY: `reason` is valid for reads of its length; the helper copies
    // it into the line (`%.*s`).
    unsafe { ffi::ipct_log_invalid(proto, src, dst, reason.as_ptr().cast(), reason.len()) };
}

/// A warning line, rate-limited.
pub(crate) fn warn_ratelimited(msg: &str) {
    // SAFETY: `msg` is valid for reads of its length (`%.*s`).
    unsafe { ffi::ipct_warn_ratelimited(msg.as_ptr().cast(), msg.len()) };
}
