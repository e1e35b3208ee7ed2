// SPDX-License-Identifier: GPL-2.0

//! A delayed work item that runs a method of the object it lives in and
//! reschedules itself by what the method returns (RfL 6.12's workqueue
//! abstraction has no delayed work).

use crate::ffi;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::types::Opaque;

/// What a [`DelayedWork`] runs.
pub(crate) trait Periodic {
    /// One run, in process context; the delay before the next (ms).
    fn run(&self) -> u32;
    /// The work item inside `self` that runs it.
    fn work(&self) -> &DelayedWork<Self>;
}

/// A delayed work item inside a `T`, running [`Periodic::run`] on it.
///
/// # Invariants
///
/// Once `started` is set, `work` is an initialised delayed work whose
/// context is the `T` this item lives in, which does not move (it is
/// pinned) and is not freed before the work is cancelled ([`Self::stop`],
/// or drop at the latest, which happens before the owner's memory goes).
pub(crate) struct DelayedWork<T: ?Sized> {
    work: Opaque<ffi::ipct_dwork>,
    started: AtomicBool,
    stopping: AtomicBool,
    _owner: PhantomData<fn(&T)>,
}

// SAFETY: the work item is driven by the workqueue core (thread-safe); the
// flags are atomic.
unsafe impl<T: ?Sized> Sync for DelayedWork<T> {}
// SAFETY: see `Sync`.
unsafe impl<T: ?Sized> Send for DelayedWork<T> {}

impl<T: Periodic> DelayedWork<T> {
    /// A work item, not started.
    pub(crate) fn new() -> Self {
        Self {
            work: Opaque::uninit(),
            started: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            _owner: PhantomData,
        }
    }

    /// Starts running `owner`, the pinned object this item lives in,
    /// `delay_ms` from now. Once only; nothing if `owner` is not the
    /// item's owner.
    pub(crate) fn start(owner: core::pin::Pin<&T>, delay_ms: u32) {
        let owner: &T = owner.get_ref();
        let w = owner.work();
        if w.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let ctx = core::ptr::from_ref(owner).cast_mut().cast::<c_void>();
        // SAFETY: `w` lives inside the pinned `owner` that `ctx` points to
        // and is cancelled before `owner` goes (type invariant); it is
        // initialised once (`started`).
        unsafe {
            ffi::ipct_dwork_init(w.work.get(), Some(run_adapter::<T>), ctx);
            ffi::ipct_dwork_schedule(w.work.get(), delay_ms);
        }
    }

    /// Stops the work and waits for a run in progress.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        if self.started.load(Ordering::Acquire) {
            // SAFETY: initialised (`started`); cancel_delayed_work_sync
            // also stops a work that requeues itself.
            unsafe { ffi::ipct_dwork_cancel_sync(self.work.get()) };
        }
    }

    fn schedule(&self, delay_ms: u32) {
        if !self.stopping.load(Ordering::Acquire) {
            // SAFETY: called from a run, so initialised (type invariant).
            unsafe { ffi::ipct_dwork_schedule(self.work.get(), delay_ms) };
        }
    }
}

impl<T: ?Sized> Drop for DelayedWork<T> {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Release);
        if self.started.load(Ordering::Acquire) {
            // SAFETY: as in `stop`.
            unsafe { ffi::ipct_dwork_cancel_sync(self.work.get()) };
        }
    }
}

/// The work function of a `DelayedWork<T>`.
///
/// # Safety
///
/// Called by the workqueue with the context `start` gave: the live owner
/// (the work is cancelled before it goes).
unsafe extern "C" fn run_adapter<T: Periodic>(ctx: *mut c_void) {
    // SAFETY: see above.
    let owner = unsafe { &*ctx.cast::<T>() };
    let delay = owner.run();
    owner.work().schedule(delay);
}
