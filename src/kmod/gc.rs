// SPDX-License-Identifier: GPL-2.0

//! Garbage collection of expired entries: a delayed work item per table
//! that sweeps a bounded amount with [`crate::expiry::sweep`], one stripe
//! lock at a time, releases the removed entries after unlocking, and
//! reschedules itself: soon while a pass over the table is unfinished,
//! once a second after a finished pass (like Linux's `gc_worker`).
//!
//! Lookups ignore expired entries and `/proc` shows the time left from the
//! deadline, so the period only bounds how long an expired entry keeps its
//! memory and counts towards `ip_conntrack_count`.
//!
//! Each run adds its duration and its longest stripe lock hold to the
//! `gc_ns`, `gc_max_hold_ns` and `gc_runs` module parameters (benchmarks
//! read them).

use crate::conn::{self, ConnPtr, ConnRef};
use crate::expiry::{self, Cursor};
use crate::ffi;
use crate::ktable::Table;
use crate::stats::Stats;
use core::ffi::c_void;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::init::InPlaceInit;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::types::Opaque;

/// Work units (buckets plus entries looked at) per stripe lock hold.
const CHUNK: usize = 256;
/// Work units per run.
const RUN_BUDGET: usize = 16 * 1024;
/// Delay before the next run while a pass is unfinished (ms).
const BUSY_DELAY_MS: u32 = 10;
/// Delay after a finished pass (ms).
const IDLE_DELAY_MS: u32 = 1000;

/// The collector of one table.
///
/// # Invariants
///
/// Once `started` is set, `work` is an initialised delayed work whose
/// context is the [`Table`] that owns this `Gc` (pinned, so the work does
/// not move); it is cancelled (`stop`, or drop at the latest) before that
/// table is freed.
pub(crate) struct Gc {
    work: Opaque<ffi::ipct_dwork>,
    started: AtomicBool,
    stopping: AtomicBool,
    cursor: Pin<KBox<Mutex<Cursor>>>,
}

// SAFETY: the work item is driven by the workqueue core (thread-safe); the
// cursor is behind a mutex; the flags are atomic.
unsafe impl Sync for Gc {}
// SAFETY: see `Sync`.
unsafe impl Send for Gc {}

impl Gc {
    /// A collector, not started.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            work: Opaque::uninit(),
            started: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            cursor: KBox::pin_init(new_mutex!(Cursor::new(), "ip_conntrack_gc"), GFP_KERNEL)?,
        })
    }

    /// Starts collecting `table`, whose collector this is. Once only.
    pub(crate) fn start(&self, table: &Pin<KBox<Table>>) {
        let t: &Table = table;
        if !core::ptr::eq(t.gc(), self) || self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let ctx = core::ptr::from_ref(t).cast_mut().cast::<c_void>();
        // SAFETY: `work` lives inside the pinned table `ctx` points to and
        // is cancelled before the table is freed (type invariant); it is
        // initialised once (`started`).
        unsafe {
            ffi::ipct_dwork_init(self.work.get(), Some(run_work), ctx);
            ffi::ipct_dwork_schedule(self.work.get(), IDLE_DELAY_MS);
        }
    }

    /// Stops the collector and waits for a run in progress.
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

impl Drop for Gc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The work function.
///
/// # Safety
///
/// Called by the workqueue with the context `Gc::start` gave: a live table
/// (the work is cancelled before the table goes).
unsafe extern "C" fn run_work(ctx: *mut c_void) {
    // SAFETY: see above.
    let table = unsafe { &*ctx.cast::<Table>() };
    let delay = run(table);
    table.gc().schedule(delay);
}

/// One run over `table`; the delay before the next one (ms).
fn run(table: &Table) -> u32 {
    // SAFETY: reads the monotonic clock; any context.
    let started = unsafe { ffi::ipct_clock_ns() };
    let mut max_hold = 0u64;
    let now = conn::now();
    let layout = *table.layout();
    let mut cursor = table.gc().cursor.lock();
    let mut left = RUN_BUDGET;
    let mut pass_done = false;
    let mut stats = Stats::ZERO;
    while left > 0 {
        let mut batch: [Option<ConnPtr>; CHUNK] = [None; CHUNK];
        let mut n = 0usize;
        let budget = left.min(CHUNK);
        let s = cursor.stripe();
        let progress = table.with_stripe(s, |st| {
            // SAFETY: reads the monotonic clock; any context.
            let locked = unsafe { ffi::ipct_clock_ns() };
            let p = expiry::sweep(st, &mut cursor, &layout, now, budget, &mut stats, |r| {
                // At most `budget` <= CHUNK entries are removed per call.
                if let Some(slot) = batch.get_mut(n) {
                    *slot = Some(r);
                    n = n.saturating_add(1);
                }
            });
            // SAFETY: as above.
            let held = unsafe { ffi::ipct_clock_ns() }.saturating_sub(locked);
            max_hold = max_hold.max(held);
            p
        });
        for r in batch.iter().flatten() {
            // SAFETY: the sweep unlinked `r`: we own the table's reference.
            let c = unsafe { ConnRef::adopt(*r) };
            crate::ctnetlink::notify(&c, crate::netlink::ctnetlink::Event::Destroy);
            drop(c);
        }
        let Some(p) = progress else {
            // A stale cursor; the sweep restarts it at stripe 0.
            *cursor = Cursor::new();
            break;
        };
        left = left.saturating_sub(p.visited.max(1));
        if p.pass_done {
            pass_done = true;
            break;
        }
        // SAFETY: process context (workqueue), no lock held.
        unsafe { ffi::ipct_cond_resched() };
    }
    drop(cursor);
    table.stats().add(&stats);
    // SAFETY: reads the clock, then adds to the cost counters under their
    // own lock; process context.
    unsafe {
        let took = ffi::ipct_clock_ns().saturating_sub(started);
        ffi::ipct_gc_account(took, max_hold);
    }
    if pass_done {
        IDLE_DELAY_MS
    } else {
        BUSY_DELAY_MS
    }
}
