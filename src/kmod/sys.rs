// SPDX-License-Identifier: GPL-2.0

//! Kernel services with no precondition, as safe functions: the logic
//! files call these instead of writing `unsafe` for each use.

use crate::ffi;

/// Random bits from the kernel's pool (hash keys).
pub(crate) fn random_u64() -> u64 {
    // SAFETY: get_random_u64 may be called from any context.
    unsafe { kernel::bindings::get_random_u64() }
}

/// Sleeps for about `ms` milliseconds. Process context only (the callers
/// are teardown paths).
pub(crate) fn msleep(ms: u32) {
    // SAFETY: the callers run in process context without spinlocks held,
    // where sleeping is allowed.
    unsafe { kernel::bindings::msleep(ms) };
}

/// Monotonic clock in nanoseconds (cost accounting).
pub(crate) fn clock_ns() -> u64 {
    u64::try_from(kernel::time::Ktime::ktime_get().to_ns()).unwrap_or(0)
}

/// Lets the scheduler run something else if it wants to. Process context
/// without spinlocks held only (walks over a whole table).
pub(crate) fn cond_resched() {
    // SAFETY: the callers run in process context without spinlocks held;
    // the helper is `cond_resched()` with its debug annotation.
    unsafe { ffi::ipct_cond_resched() };
}
