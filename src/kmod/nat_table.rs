// SPDX-License-Identifier: GPL-2.0

//! The iptables `nat` table (PREROUTING, INPUT, OUTPUT, POSTROUTING) of
//! every network namespace, as 6.12's `iptable_nat`: created when
//! userspace first asks for it in a namespace (an xtables template), with
//! no hooks of its own. Its four chains are lookups of the NAT core
//! ([`crate::knat::register_lookup`]), which runs them once per new
//! connection, in iptable_nat's order and priorities.
//!
//! The table, its template and the pernet operations are C
//! (`nat_rules_helpers.c`: they need `THIS_MODULE`); this file registers and
//! unregisters each namespace's lookups.

use crate::ffi;
use crate::knat;
use core::ffi::c_void;
use kernel::error::to_result;
use kernel::ffi::{c_int, c_uint};
use kernel::prelude::*;

/// One namespace's lookups: `ipt_do_table` on its table.
type Lookups = [ffi::nf_hook_ops; 4];

/// `nf_nat_ipv4_ops` of iptable_nat, for `table`.
fn lookup_ops(table: *mut ffi::xt_table) -> Lookups {
    let op = |hooknum: c_uint, priority: c_int| ffi::nf_hook_ops {
        hook: Some(ffi::ipt_do_table),
        pf: ffi::IPCT_NFPROTO_IPV4,
        hooknum,
        priority,
        priv_: table.cast(),
        ..Default::default()
    };
    [
        op(ffi::nf_inet_hooks_NF_INET_PRE_ROUTING, ffi::nf_ip_hook_priorities_NF_IP_PRI_NAT_DST),
        op(ffi::nf_inet_hooks_NF_INET_POST_ROUTING, ffi::nf_ip_hook_priorities_NF_IP_PRI_NAT_SRC),
        op(ffi::nf_inet_hooks_NF_INET_LOCAL_OUT, ffi::nf_ip_hook_priorities_NF_IP_PRI_NAT_DST),
        op(ffi::nf_inet_hooks_NF_INET_LOCAL_IN, ffi::nf_ip_hook_priorities_NF_IP_PRI_NAT_SRC),
    ]
}

/// `ipt_nat_register_lookups`: registers the lookups of `table` in `net`
/// and leaves them in `*slot`.
///
/// # Safety
///
/// Called by nat_rules_helpers.c once per namespace, when `table` (the
/// namespace's nat table) was just registered; `slot` is the namespace's
/// slot, NULL.
unsafe extern "C" fn attach(net: *mut ffi::net, table: *mut ffi::xt_table, slot: *mut *mut c_void) -> c_int {
    let Ok(ops) = KBox::new(lookup_ops(table), GFP_KERNEL) else {
        return ENOMEM.to_errno();
    };
    for (i, op) in ops.iter().enumerate() {
        // SAFETY: `net` is live; `op` stays at its heap address until
        // `release` (after `detach` and a grace period), or below.
        let ret = unsafe { knat::register_lookup(net, op) };
        if ret != 0 {
            for op in ops.iter().take(i) {
                // SAFETY: `op` was registered in `net` above.
                unsafe { knat::unregister_lookup(net, op) };
            }
            // Packets may still run the lookups registered meanwhile.
            // SAFETY: process context (table instantiation), no lock held.
            unsafe { ffi::synchronize_net() };
            return ret;
        }
    }
    // SAFETY: `slot` is the namespace's slot (caller); it keeps the
    // lookups until `release`.
    unsafe { *slot = KBox::into_raw(ops).cast() };
    0
}

/// `ipt_nat_unregister_lookups` (pernet `pre_exit`).
///
/// # Safety
///
/// `slot` holds the lookups `attach` registered in `net`, not detached yet.
unsafe extern "C" fn detach(net: *mut ffi::net, slot: *mut c_void) {
    // SAFETY: `slot` came from `attach` and is not freed before `release`.
    let ops = unsafe { &*slot.cast::<Lookups>() };
    for op in ops {
        // SAFETY: `op` is registered in `net` (caller).
        unsafe { knat::unregister_lookup(net, op) };
    }
}

/// Frees the lookups (pernet `exit`, a grace period after `detach`: no
/// packet runs them any more).
///
/// # Safety
///
/// `slot` came from `attach` and was detached; it is not used after.
unsafe extern "C" fn release(slot: *mut c_void) {
    // SAFETY: `slot` is the box `attach` leaked, used by no one now.
    drop(unsafe { KBox::from_raw(slot.cast::<Lookups>()) });
}

static LOOKUPS: ffi::ipct_nat_lookups = ffi::ipct_nat_lookups {
    attach: Some(attach),
    detach: Some(detach),
    release: Some(release),
};

/// The registered `nat` table template and its pernet operations.
///
/// # Invariants
///
/// Registered with `ipct_nat_table_register()` from creation until drop.
pub(crate) struct Table(());

impl Table {
    /// Registers the table. Every rule beyond the initial ones holds a
    /// module reference (as for any xtables table), so `rmmod` refuses
    /// while the table has rules or user chains.
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: `LOOKUPS` is static.
        to_result(unsafe { ffi::ipct_nat_table_register(&LOOKUPS) })?;
        Ok(Self(()))
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant); the module is unloading, so
        // no namespace's table has rules: each namespace's lookups are
        // detached, a grace period passes, then they are freed.
        unsafe { ffi::ipct_nat_table_unregister() };
    }
}
