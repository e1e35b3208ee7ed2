// SPDX-License-Identifier: GPL-2.0

//! A spinlock taken with bottom halves disabled (`spin_lock_bh`), as a
//! backend of the kernel crate's generic [`Lock`].
//!
//! The table's stripe locks are taken from the packet path (softirq, or
//! process context for locally generated packets) and from process context
//! (garbage collection, `/proc` dumps). A plain `spin_lock` taken in
//! process context could be interrupted by a softirq on the same CPU that
//! spins on the same lock forever; disabling bottom halves while holding
//! it rules that out. The kernel crate's `SpinLock` uses plain
//! `spin_lock`, hence this backend.

use crate::ffi;
use kernel::sync::lock::{Backend, Lock};

/// `spin_lock_bh` / `spin_unlock_bh` over a `spinlock_t`.
pub(crate) struct SpinLockBhBackend;

/// A spinlock taken with bottom halves disabled. Create with
/// `SpinLockBh::new(data, c_str!("name"), kernel::static_lock_class!())`:
/// each call site is one lockdep class.
pub(crate) type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

// SAFETY: `spin_lock_bh` excludes other CPUs and, on its own CPU, softirqs (bottom halves
// stay off until `spin_unlock_bh`): one owner at a time accesses the data. `relock` is the
// default, which calls `lock` again: the same method.
unsafe impl Backend for SpinLockBhBackend {
    type State = kernel::bindings::spinlock_t;
    type GuardState = ();

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
        // SAFETY: the caller guarantees `ptr` is an initialised lock; a
        // `spinlock_t` is a `raw_spinlock_t` (its only member outside
        // PREEMPT_RT, which Rust does not support), and `spin_lock_bh`
        // is this call.
        unsafe { kernel::bindings::_raw_spin_lock_bh(ptr.cast()) }
    }

    #[inline]
    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: the caller owns the lock at `ptr`, taken by `lock` above
        // with bottom halves disabled; `spin_unlock_bh` is this call.
        unsafe { kernel::bindings::_raw_spin_unlock_bh(ptr.cast()) }
    }
}
