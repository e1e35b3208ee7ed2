// SPDX-License-Identifier: GPL-2.0

//! Garbage collection of expired entries: a delayed work item per table
//! that sweeps a bounded amount with [`crate::expiry::sweep`], one stripe
//! lock at a time, releases the removed entries after unlocking, and
//! reschedules itself: soon while a pass over the table is unfinished;
//! after a finished pass, the next one starts only when it can find
//! something ([`PassSummary::due`]: the earliest deadline the pass left,
//! or its start plus the shortest timeout now configured), checked once a
//! second, so a table of long-lived entries is not walked every second.
//!
//! Lookups ignore expired entries and `/proc` shows the time left from the
//! deadline, so the period only bounds how long an expired entry keeps its
//! memory and counts towards `ip_conntrack_count`.
//!
//! Each run adds its duration and its longest stripe lock hold to
//! `/sys/kernel/debug/ip_conntrack/gc_{ns,max_hold_ns,runs}` (benchmark
//! accounting, not a setting: see [`Accounting`]).

use crate::conn::{self, ConnPtr, ConnRef};
use crate::config::shortest_timeout;
use crate::expiry::{self, Cursor, PassSummary};
use crate::settings::Knobs;
use crate::ffi;
use crate::ktable::Table;
use crate::stats::Stats;
use crate::sys;
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
/// Longest sleep between two runs (ms): how soon a lowered timeout is seen.
const IDLE_DELAY_MS: u32 = 1000;
/// Shortest sleep after a finished pass (ms): entries that keep expiring
/// do not keep the collector running pass after pass.
const PASS_GAP_MS: u32 = 100;

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
    state: Pin<KBox<Mutex<State>>>,
}

/// Where the sweep is, and what the last whole pass saw.
struct State {
    cursor: Cursor,
    last: Option<PassSummary>,
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
            state: KBox::pin_init(
                new_mutex!(
                    State {
                        cursor: Cursor::new(),
                        last: None,
                    },
                    "ip_conntrack_gc"
                ),
                GFP_KERNEL,
            )?,
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

/// Milliseconds until `due` (at least 1, at most [`IDLE_DELAY_MS`]).
fn delay_until(due: crate::Millis, now: crate::Millis) -> u32 {
    let ms = due.saturating_sub(now).clamp(1, u64::from(IDLE_DELAY_MS));
    u32::try_from(ms).unwrap_or(IDLE_DELAY_MS)
}

/// One run over `table`; the delay before the next one (ms).
fn run(table: &Table) -> u32 {
    let now = conn::now();
    let mut state = table.gc().state.lock();
    // Settings read now: a timeout lowered since the last pass brings the
    // next one forward.
    let shortest = shortest_timeout(&Knobs);
    if let Some(last) = state.last {
        if state.cursor.stripe() == 0 && state.cursor.bucket() == 0 && now < last.due(shortest) {
            return delay_until(last.due(shortest), now);
        }
    }
    let started = sys::clock_ns();
    let mut max_hold = 0u64;
    let layout = *table.layout();
    let State { cursor, last } = &mut *state;
    let mut left = RUN_BUDGET;
    let mut pass_done = false;
    let mut stats = Stats::ZERO;
    while left > 0 {
        let mut batch: [Option<ConnPtr>; CHUNK] = [None; CHUNK];
        let mut n = 0usize;
        let budget = left.min(CHUNK);
        let s = cursor.stripe();
        let progress = table.with_stripe(s, |st| {
            let locked = sys::clock_ns();
            let p = expiry::sweep(st, cursor, &layout, now, budget, &mut stats, |r| {
                // At most `budget` <= CHUNK entries are removed per call.
                if let Some(slot) = batch.get_mut(n) {
                    *slot = Some(r);
                    n = n.saturating_add(1);
                }
            });
            let held = sys::clock_ns().saturating_sub(locked);
            max_hold = max_hold.max(held);
            p
        });
        for r in batch.iter().flatten() {
            // SAFETY: the sweep unlinked `r`: we own the table's reference.
            drop(unsafe { ConnRef::adopt(*r) });
        }
        let Some(p) = progress else {
            // A stale cursor; the sweep restarts it at stripe 0.
            *cursor = Cursor::new();
            break;
        };
        left = left.saturating_sub(p.visited.max(1));
        if p.pass_done {
            pass_done = true;
            *last = p.pass;
            break;
        }
        // Process context (workqueue), no lock held.
        sys::cond_resched();
    }
    let due = last.map(|l| l.due(shortest));
    drop(state);
    table.stats().add(&stats);
    let took = sys::clock_ns().saturating_sub(started);
    // SAFETY: adds to the cost counters under their own lock; process
    // context.
    unsafe { ffi::ipct_gc_account(took, max_hold) };
    match due {
        Some(due) if pass_done => delay_until(due, now).max(PASS_GAP_MS),
        _ => BUSY_DELAY_MS,
    }
}

/// The collector's cost accounting files in debugfs, for as long as the
/// module is loaded.
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
