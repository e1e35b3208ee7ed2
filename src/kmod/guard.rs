// SPDX-License-Identifier: GPL-2.0

//! Keeps out kernel modules that read `skb->_nfct` as a whole
//! `struct nf_conn` (socket lookups, tc flow and flower keys): they would
//! read past ip_conntrack's entries. Held by the module for as long as it
//! is loaded (guard_helpers.c has the list and the reasons).

use crate::ffi;
use kernel::error::to_result;
use kernel::prelude::*;

/// While alive, such modules are refused.
///
/// # Invariants
///
/// The module notifier is registered from creation until drop.
pub(crate) struct Guard(());

impl Guard {
    /// `EBUSY` (logged) when such a module is already loaded.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: registers a static notifier block of this module, removed
        // in `drop` before the module's code goes.
        to_result(unsafe { ffi::ipct_guard_register() })?;
        Ok(Self(()))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant); unregistering waits for a
        // notification in progress.
        unsafe { ffi::ipct_guard_unregister() };
    }
}
