//! Expiry without per-entry timers: each entry holds its deadline, lookups
//! ignore expired entries, and an incremental sweep unlinks them.
//!
//! The sweep works on one stripe at a time (under that stripe's lock) and
//! does a bounded amount of work per call, so the garbage collector never
//! stalls a CPU on a large table. A [`Cursor`] remembers where it stopped
//! and moves round-robin over all stripes, so repeated calls cover the
//! whole table.
//!
//! A pass also notes the earliest deadline it left in the table, so the
//! collector can sleep until a pass can find something to remove
//! ([`PassSummary::due`]) instead of walking a table of long-lived entries
//! every second.

use crate::stats::{Count, Counter};
use crate::table::{Layout, Store, Stripe};
use crate::Millis;

/// Where the sweep resumes: a stripe, a bucket within it, and how many
/// entries of that bucket's chain it already kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Cursor {
    stripe: u32,
    bucket: usize,
    skip: usize,
    /// The current bucket's work unit was spent by an earlier call.
    entered: bool,
    /// When the current pass began, once it has.
    pass_start: Option<Millis>,
    /// The earliest deadline among the entries the pass kept so far.
    pass_min: Millis,
}

impl Cursor {
    /// A cursor at the start of the table.
    pub const fn new() -> Cursor {
        Cursor {
            stripe: 0,
            bucket: 0,
            skip: 0,
            entered: false,
            pass_start: None,
            pass_min: Millis::MAX,
        }
    }

    /// The stripe the next [`sweep`] call must be given (lock this one).
    pub fn stripe(&self) -> u32 {
        self.stripe
    }

    /// The bucket within the stripe where the next call starts.
    pub fn bucket(&self) -> usize {
        self.bucket
    }

    fn next_stripe(&mut self, layout: &Layout) -> bool {
        self.bucket = 0;
        self.skip = 0;
        self.entered = false;
        let next = self.stripe.saturating_add(1);
        if next >= layout.stripes() {
            self.stripe = 0;
            true
        } else {
            self.stripe = next;
            false
        }
    }
}

/// What one [`sweep`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Progress {
    /// Work units spent: one per bucket looked at plus one per entry.
    pub visited: usize,
    /// Entries unlinked (each was passed to the callback).
    pub removed: usize,
    /// The cursor finished its stripe and moved to the next one.
    pub stripe_done: bool,
    /// The cursor finished the last stripe: a whole pass over the table
    /// ended with this call.
    pub pass_done: bool,
    /// What the pass that ended with this call saw (with `pass_done`).
    pub pass: Option<PassSummary>,
}

/// What a whole pass saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassSummary {
    /// When it began.
    pub start: Millis,
    /// The earliest deadline among the entries it kept (`Millis::MAX`
    /// when it kept none).
    pub earliest: Millis,
}

impl PassSummary {
    /// When the next pass can first find an expired entry: at the earliest
    /// deadline this pass kept, or, for a deadline set since this pass
    /// began (new entries, refreshed or shortened ones, each at least
    /// `shortest` ahead of when it was set), at `start + shortest`.
    pub fn due(&self, shortest: Millis) -> Millis {
        self.earliest.min(self.start.saturating_add(shortest))
    }
}

/// Unlinks expired entries of `stripe`, which must be stripe
/// `cursor.stripe()` of `layout`, starting where `cursor` points. Spends at
/// most `budget` work units (one per bucket, one per entry; a budget of 0
/// counts as 1), and always advances: every call spends at least one unit
/// on a bucket or entry not yet looked at in this pass. At most `budget`
/// entries are removed, so the caller can collect them in a buffer of that
/// size under the lock. Each unlinked entry is
/// marked dying, counted (`delete_list`) and passed to `removed`, which
/// owns the table's reference from then on (the kernel releases it after
/// dropping the lock).
pub fn sweep<S: Store, F: FnMut(S::Ref)>(
    stripe: &mut Stripe<'_, S>,
    cursor: &mut Cursor,
    layout: &Layout,
    now: Millis,
    budget: usize,
    stats: &mut impl Count,
    mut removed: F,
) -> Progress {
    let mut p = Progress::default();
    let budget = budget.max(1);
    // A stale cursor (layout changed) starts over at stripe 0.
    if cursor.stripe >= layout.stripes() {
        *cursor = Cursor::new();
    }
    if cursor.pass_start.is_none() {
        cursor.pass_start = Some(now);
        cursor.pass_min = Millis::MAX;
    }
    // The stripe's array as it is now: a resize between two calls only
    // moves the cursor to another bucket of the same stripe.
    let n = stripe.buckets.len();
    while cursor.bucket < n {
        if !cursor.entered {
            if p.visited >= budget {
                return p;
            }
            p.visited = p.visited.saturating_add(1);
            cursor.entered = true;
        }
        let b = cursor.bucket;
        let mut kept = 0usize;
        let mut cur = stripe.head(b);
        while let Some(r) = cur {
            let next = stripe.store.next(r);
            let deadline = stripe.store.entry(r).map(|e| e.deadline);
            let expired = deadline.is_some_and(|d| now >= d);
            if kept < cursor.skip && !expired {
                // Already looked at in an earlier call.
                kept = kept.saturating_add(1);
                cur = next;
                continue;
            }
            if p.visited >= budget {
                cursor.skip = kept;
                return p;
            }
            p.visited = p.visited.saturating_add(1);
            if expired && stripe.remove(b, r) {
                p.removed = p.removed.saturating_add(1);
                stats.inc(Counter::DeleteList);
                removed(r);
            } else {
                kept = kept.saturating_add(1);
                if let Some(d) = deadline {
                    cursor.pass_min = cursor.pass_min.min(d);
                }
            }
            cur = next;
        }
        cursor.bucket = b.saturating_add(1);
        cursor.skip = 0;
        cursor.entered = false;
    }
    p.stripe_done = true;
    p.pass_done = cursor.next_stripe(layout);
    if p.pass_done {
        p.pass = Some(PassSummary {
            start: cursor.pass_start.take().unwrap_or(now),
            earliest: cursor.pass_min,
        });
        cursor.pass_min = Millis::MAX;
    }
    p
}
