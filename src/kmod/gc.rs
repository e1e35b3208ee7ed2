// SPDX-License-Identifier: GPL-2.0
#![forbid(unsafe_code)]

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
//! accounting, not a setting: [`crate::debugfs`]).

use crate::config::shortest_timeout;
use crate::conn;
use crate::debugfs;
use crate::dwork::{DelayedWork, Periodic};
use crate::expiry::{Cursor, PassSummary};
use crate::ktable::{Table, SWEEP_CHUNK};
use crate::settings::Knobs;
use crate::stats::Stats;
use crate::sys;
use core::pin::Pin;
use kernel::init::InPlaceInit;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

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
pub(crate) struct Gc {
    work: DelayedWork<Table>,
    state: Pin<KBox<Mutex<State>>>,
}

/// Where the sweep is, and what the last whole pass saw.
struct State {
    cursor: Cursor,
    last: Option<PassSummary>,
}

impl Gc {
    /// A collector, not started.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            work: DelayedWork::new(),
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
    pub(crate) fn start(table: Pin<&Table>) {
        DelayedWork::start(table, IDLE_DELAY_MS);
    }

    /// Stops the collector and waits for a run in progress.
    pub(crate) fn stop(&self) {
        self.work.stop();
    }
}

impl Periodic for Table {
    fn run(&self) -> u32 {
        run(self)
    }

    fn work(&self) -> &DelayedWork<Table> {
        &self.gc().work
    }
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
    let State { cursor, last } = &mut *state;
    let mut left = RUN_BUDGET;
    let mut pass_done = false;
    let mut stats = Stats::ZERO;
    while left > 0 {
        let budget = left.min(SWEEP_CHUNK);
        let progress = table.sweep(cursor, now, budget, &mut stats);
        if let Some((_, held)) = progress {
            max_hold = max_hold.max(held);
        }
        let progress = progress.map(|(p, _)| p);
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
    debugfs::gc_account(sys::clock_ns().saturating_sub(started), max_hold);
    match due {
        Some(due) if pass_done => delay_until(due, now).max(PASS_GAP_MS),
        _ => BUSY_DELAY_MS,
    }
}
