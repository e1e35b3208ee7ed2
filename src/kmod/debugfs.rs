// SPDX-License-Identifier: GPL-2.0

//! The collector's cost accounting in debugfs
//! (`/sys/kernel/debug/ip_conntrack/gc_{ns,max_hold_ns,runs}`, kept by the
//! helpers in helpers.c): benchmark data, not a setting.

use crate::ffi;

/// The files, for as long as the module is loaded.
pub(crate) struct Accounting(());

impl Accounting {
    /// Creates the files (best effort: a kernel without debugfs has none).
    pub(crate) fn new() -> Self {
        // SAFETY: called once at load, before any collector runs; the
        // files point at the helpers' own statics.
        unsafe { ffi::ipct_debugfs_init() };
        Self(())
    }
}

impl Drop for Accounting {
    fn drop(&mut self) {
        // SAFETY: the files were created by `new`; debugfs removal waits
        // for readers and writers in flight.
        unsafe { ffi::ipct_debugfs_exit() };
    }
}

/// Adds one collector run: its duration and its longest lock hold (ns).
pub(crate) fn gc_account(run_ns: u64, max_hold_ns: u64) {
    // SAFETY: adds to the counters under the helpers' own lock; any
    // context that may take a spinlock.
    unsafe { ffi::ipct_gc_account(run_ns, max_hold_ns) };
}
