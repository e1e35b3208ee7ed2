// SPDX-License-Identifier: GPL-2.0

//! PLACEHOLDER of the NAT core (its table, lookup registry, hooks and
//! packet rewriting): only the interface the nat table, the NAT targets
//! and the nft chain type call, so that they build before the core is
//! merged. It registers nothing and binds nothing; the real core replaces
//! this file.

use crate::ffi;
use kernel::ffi::c_int;

// The engine's half (src/engine/nat/), mounted here so `crate::nat::...`
// names both halves, as the engine files expect.
#[forbid(unsafe_code)]
#[path = "../engine/nat/mod.rs"]
pub mod engine;
pub use engine::*;

/// Registers a lookup the NAT hooks of `net` run for new connections
/// (placeholder: stores nothing).
///
/// # Safety
///
/// `net` is a live namespace; `ops` stays valid until [`unregister_lookup`]
/// and an RCU grace period after it.
pub(crate) unsafe extern "C" fn register_lookup(_net: *mut ffi::net, _ops: *const ffi::nf_hook_ops) -> c_int {
    0
}

/// Undoes [`register_lookup`] (placeholder: nothing to undo).
///
/// # Safety
///
/// `ops` was registered in `net` with [`register_lookup`].
pub(crate) unsafe extern "C" fn unregister_lookup(_net: *mut ffi::net, _ops: *const ffi::nf_hook_ops) {}

/// `nf_nat_setup_info` (placeholder: binds nothing, lets the packet on).
pub(crate) fn setup(_skb: *mut ffi::sk_buff, _manip: Manip, _range: &range::Range, _masq_ifindex: Option<i32>) -> u32 {
    ffi::IPCT_NF_ACCEPT
}
