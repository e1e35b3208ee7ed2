// SPDX-License-Identifier: GPL-2.0

//! The nftables chain type `nat` for IPv4, as 6.12's `nft_chain_nat`:
//! what `iptables-nft -t nat` (and `nft add chain ... { type nat ... }`)
//! needs. Its base chains are lookups of the NAT core: nf_tables
//! registers their hooks through [`crate::knat::register_lookup`], and
//! each runs `nft_do_chain` (nat_rules_helpers.c). The kernel's own
//! `nft_chain_nat` depends on nf_nat and cannot load next to us.

use crate::ffi;
use crate::knat;

/// The registered chain type.
///
/// # Invariants
///
/// Registered with `ipct_nat_chain_type_register()` from creation until
/// drop.
pub(crate) struct ChainType(());

impl ChainType {
    /// Registers the chain type. Every chain of the type holds a module
    /// reference, so `rmmod` refuses while one exists.
    pub(crate) fn register() -> Self {
        // SAFETY: the two functions are the NAT core's lookup registry,
        // with the signatures of `ops_register` and `ops_unregister`.
        unsafe { ffi::ipct_nat_chain_type_register(Some(knat::register_lookup), Some(knat::unregister_lookup)) };
        Self(())
    }
}

impl Drop for ChainType {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant); no chain of the type
        // exists, as each pins the module being unloaded.
        unsafe { ffi::ipct_nat_chain_type_unregister() };
    }
}
