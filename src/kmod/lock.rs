// SPDX-License-Identifier: GPL-2.0

//! A spinlock held with bottom halves disabled, as a backend of the kernel
//! crate's generic [`Lock`].
//!
//! The table's stripe locks are taken from the packet path (softirq, or
//! process context for locally generated packets) and from process context
//! (garbage collection, `/proc` dumps). A plain `spin_lock` taken in
//! process context could be interrupted by a softirq on the same CPU that
//! spins on the same lock forever; disabling bottom halves while holding
//! it rules that out. Where they are already off (softirq context, where
//! most packets are tracked) the plain lock is taken, as nf_conntrack
//! does, which spares `__local_bh_enable_ip` at every unlock. The kernel
//! crate's `SpinLock` always uses plain `spin_lock`, hence this backend.

use crate::ffi;
use kernel::sync::lock::{Backend, Lock};

/// `spin_lock` (bottom halves already off) or `spin_lock_bh` over a
/// `spinlock_t`, and the matching unlock.
pub(crate) struct SpinLockBhBackend;

/// A spinlock taken with bottom halves disabled. Create with
/// `SpinLockBh::new(data, c_str!("name"), kernel::static_lock_class!())`:
/// each call site is one lockdep class.
pub(crate) type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

// SAFETY: the lock excludes other CPUs and, on its own CPU, softirqs: bottom halves are
// off from before the lock is taken until after it is released, either because they
// already were (and stay so while the holder, which cannot sleep, runs) or because
// `ipct_spin_lock_bh_off` turned them off and the unlock, told so by the guard state,
// turns them back on. One owner at a time accesses the data. `relock` is the default,
// which calls `lock` again and records its state anew.
unsafe impl Backend for SpinLockBhBackend {
    type State = kernel::bindings::spinlock_t;
    /// Whether the lock turned bottom halves off.
    type GuardState = bool;

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut kernel::bindings::lock_class_key,
    ) {
        // SAFETY: the caller guarantees `ptr` is valid for writes and that
        // `name` and `key` stay valid for reads forever; the kernel's and
        // this module's bindings name the same C types.
        unsafe { ffi::ipct_spin_lock_init(ptr.cast(), name, key.cast()) }
    }

    #[inline]
    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: the caller guarantees `ptr` is an initialised lock; the
        // kernel's and this module's bindings name the same C type.
        unsafe { ffi::ipct_spin_lock_bh_off(ptr.cast()) }
    }

    #[inline]
    unsafe fn unlock(ptr: *mut Self::State, bh: &Self::GuardState) {
        // SAFETY: the caller owns the lock at `ptr`, taken by `lock` above,
        // which returned `bh`: the unlock turns bottom halves back on
        // exactly when that lock turned them off.
        unsafe { ffi::ipct_spin_unlock_bh_off(ptr.cast(), *bh) }
    }
}
