// SPDX-License-Identifier: GPL-2.0

//! `/proc/net/ip_conntrack` (the connection list) and
//! `/proc/net/stat/ip_conntrack` (statistics), in every network namespace.

use crate::ffi;
use core::ffi::c_void;
use core::ptr;
use kernel::error::to_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// First line of `/proc/net/stat/ip_conntrack`, as 2.6 printed it.
const STAT_HEADER: &str = "entries  searched found new invalid ignore delete delete_list \
insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete\n";

/// Entries in the initial network namespace's table (`ip_conntrack_count`).
/// No table yet: 0.
pub(crate) fn init_net_count() -> u32 {
    0
}

/// A `seq_file` being filled by one `show` call.
///
/// # Invariants
///
/// `ptr` points to a valid `seq_file` that the current thread may write to.
struct SeqFile {
    ptr: *mut ffi::seq_file,
}

impl SeqFile {
    /// # Safety
    ///
    /// `ptr` must point to a valid `seq_file` that the caller may write to
    /// until the returned value is dropped (true inside seq_file callbacks).
    unsafe fn from_raw(ptr: *mut ffi::seq_file) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self { ptr }
    }

    /// Appends `s`. On overflow seq_file drops this record and calls `show`
    /// again with a bigger buffer, so the result needs no handling.
    fn puts(&mut self, s: &str) {
        // SAFETY: `self.ptr` is valid and writable (type invariant); `s` is
        // valid for `s.len()` bytes.
        unsafe { ffi::seq_write(self.ptr, s.as_ptr().cast(), s.len()) };
    }
}

// The connection list. Entries are not tracked yet, so the list is empty:
// `start` returns no element at any position.

extern "C" fn list_start(_m: *mut ffi::seq_file, _pos: *mut ffi::loff_t) -> *mut c_void {
    ptr::null_mut()
}

extern "C" fn list_next(
    _m: *mut ffi::seq_file,
    _v: *mut c_void,
    _pos: *mut ffi::loff_t,
) -> *mut c_void {
    ptr::null_mut()
}

extern "C" fn list_stop(_m: *mut ffi::seq_file, _v: *mut c_void) {}

extern "C" fn list_show(_m: *mut ffi::seq_file, _v: *mut c_void) -> c_int {
    0
}

static LIST_OPS: ffi::seq_operations = ffi::seq_operations {
    start: Some(list_start),
    stop: Some(list_stop),
    next: Some(list_next),
    show: Some(list_show),
};

/// # Safety
///
/// Only the seq_file core calls it, with a valid `seq_file`.
unsafe extern "C" fn stat_show(m: *mut ffi::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: the seq_file core passes a valid seq_file, ours to write
    // during this call.
    let mut seq = unsafe { SeqFile::from_raw(m) };
    seq.puts(STAT_HEADER);
    0
}

/// Both /proc files, in every network namespace; removed on drop.
///
/// # Invariants
///
/// The files are registered with `ipct_proc_register()` from creation
/// until drop.
pub(crate) struct Files {
    _private: (),
}

impl Files {
    /// Creates the files in every current and future network namespace.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: `LIST_OPS` and `stat_show` are 'static, so they outlive
        // the registration.
        to_result(unsafe { ffi::ipct_proc_register(&LIST_OPS, Some(stat_show)) })?;
        Ok(Self { _private: () })
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant). Removal waits for readers in
        // flight (remove_proc_entry), so no callback runs afterwards.
        unsafe { ffi::ipct_proc_unregister() };
    }
}
