// SPDX-License-Identifier: GPL-2.0

//! `/proc/sys/net/ipv4/ip_conntrack_max`, the table size limit, in the
//! initial network namespace (as 2.6 had it, and as 6.12 has
//! `net.nf_conntrack_max`).

use crate::ffi;
use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::AtomicI32;
use kernel::c_str;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// Lower bound of `ip_conntrack_max`, the `extra1` of its entry.
static MIN_MAX: c_int = 0;

/// Size of an `int` sysctl's data, the `maxlen` of its entry.
const INT_LEN: c_int = core::mem::size_of::<c_int>() as c_int;

/// The registered sysctl table; unregistered on drop.
///
/// # Invariants
///
/// `header` is the live registration of `_entries`, which stays at the same
/// heap address until drop (`_entries` only keeps it alive).
pub(crate) struct Table {
    header: NonNull<ffi::ctl_table_header>,
    _entries: KBox<[ffi::ctl_table; 1]>,
}

// SAFETY: after registration the table is only read, by the sysctl core;
// Rust only unregisters it on drop, which may happen on any thread.
unsafe impl Send for Table {}
// SAFETY: `Table` has no methods taking `&self`.
unsafe impl Sync for Table {}

impl Table {
    /// Registers `net.ipv4.ip_conntrack_max`, read and written as an `int`
    /// (at least 0) stored in `max`. The sysctl core writes it with
    /// `WRITE_ONCE`; Rust reads it with atomic loads.
    pub(crate) fn new(max: &'static AtomicI32) -> Result<Self> {
        let mut entries = KBox::new(
            [ffi::ctl_table {
                procname: c_str!("ip_conntrack_max").as_char_ptr(),
                data: max.as_ptr().cast::<c_void>(),
                maxlen: INT_LEN,
                mode: 0o644,
                proc_handler: Some(ffi::proc_dointvec_minmax),
                // Only read by proc_dointvec_minmax.
                extra1: core::ptr::addr_of!(MIN_MAX).cast_mut().cast::<c_void>(),
                ..Default::default()
            }],
            GFP_KERNEL,
        )?;
        // SAFETY: the path is a valid C string; `entries` holds one valid
        // entry whose pointers are 'static; it stays alive and unmoved until
        // `drop` unregisters it.
        let header = unsafe {
            ffi::ipct_sysctl_register(
                c_str!("net/ipv4").as_char_ptr(),
                entries.as_mut_ptr(),
                entries.len(),
            )
        };
        let header = NonNull::new(header).ok_or(ENOMEM)?;
        // INVARIANT: `header` registers `entries`.
        Ok(Self {
            header,
            _entries: entries,
        })
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: `self.header` is live (type invariant); after this call
        // the sysctl core no longer reads `self._entries`, which are freed
        // right after.
        unsafe { ffi::ipct_sysctl_unregister(self.header.as_ptr()) };
    }
}
