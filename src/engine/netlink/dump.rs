//! A table dump in rounds, one per buffer the reader asks for (netlink
//! dumps): which bucket goes next, what to take back when it does not
//! fit, and where the next round starts.
//!
//! A bucket goes out whole, from one snapshot under its stripe lock: when
//! its entries do not all fit behind earlier buckets they are taken back
//! and the next round starts with it. Only a bucket too long for an empty
//! buffer is split, and then listed in (position, key) order
//! ([`Stripe::walk_sorted`]), resuming after the last entry sent. Every
//! resume point is a flow position or an entry's own key, never a bucket
//! number or a place in a chain, so entries that stay in the table are
//! listed exactly once while others come and go and while the table is
//! resized.

use super::attr::Writer;
use crate::entry::Entry;
use crate::table::{DumpPos, SortKey, Sorted, Store, Stripe};
use crate::Millis;

/// Where the next round of a dump starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The stripe and position.
    pub at: DumpPos,
    /// The bucket at `at` is being listed in sorted order, over rounds.
    pub sorted: bool,
    /// In sorted order: the last entry sent.
    pub last: Option<SortKey>,
}

impl Cursor {
    /// The cursor as six netlink callback arguments (`cb->args`; all zero
    /// at the start of a dump).
    pub fn to_args(self) -> [u64; 6] {
        let (pos, k0, k1) = match self.last {
            Some(l) => (u64::from(l.pos).saturating_add(1), l.key[0], l.key[1]),
            None => (0, 0, 0),
        };
        [u64::from(self.at.stripe), u64::from(self.sorted), u64::from(self.at.pos), pos, k0, k1]
    }

    /// The cursor [`Cursor::to_args`] stored.
    pub fn from_args(a: [u64; 6]) -> Cursor {
        let [stripe, sorted, pos, last, k0, k1] = a;
        let last = match last.checked_sub(1).map(u32::try_from) {
            Some(Ok(pos)) => Some(SortKey { pos, key: [k0, k1] }),
            _ => None,
        };
        Cursor {
            at: DumpPos {
                stripe: u32::try_from(stripe).unwrap_or(u32::MAX),
                pos: u32::try_from(pos).unwrap_or(u32::MAX),
            },
            sorted: sorted != 0,
            last,
        }
    }
}

/// What listing one bucket did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listed {
    /// All of it went out; the next bucket's first position (`None`: the
    /// stripe is done).
    All(Option<u32>),
    /// The buffer is full. In sorted order: the last entry sent.
    Full(Option<SortKey>),
}

/// Lists the bucket `cursor` points at from a locked stripe: whole in
/// chain order, or, for a split bucket, in sorted order after the last
/// entry sent. `send` encodes one entry and says whether it fit.
pub fn list_bucket<S: Store>(
    stripe: &Stripe<'_, S>,
    cursor: &Cursor,
    now: Millis,
    pos_of: impl Fn(&Entry, Option<[u64; 4]>) -> u32,
    mut send: impl FnMut(S::Ref, &Entry) -> bool,
) -> Listed {
    if cursor.sorted {
        return match stripe.walk_sorted(cursor.at.pos, cursor.last, now, pos_of, send) {
            Sorted::Done(next) => Listed::All(next),
            Sorted::Stopped(last) => Listed::Full(last),
        };
    }
    let (walk, next) = stripe.walk_from(cursor.at.pos, 0, now, pos_of, |r, e| send(r, e));
    match walk.resume {
        None => Listed::All(next),
        Some(_) => Listed::Full(None),
    }
}

/// One round: buckets from `cursor` on into `w`, until it is full or the
/// table (`stripes` stripes) is done; `bucket` lists one bucket under its
/// stripe lock (with [`list_bucket`]), `None` for a stripe that is not
/// there. Leaves in `cursor` where the next round starts. Returns whether
/// the dump goes on (false: it is complete).
pub fn round(
    w: &mut Writer<'_>,
    cursor: &mut Cursor,
    stripes: u32,
    mut bucket: impl FnMut(&Cursor, &mut Writer<'_>) -> Option<Listed>,
) -> bool {
    while cursor.at.stripe < stripes {
        let mark = w.len();
        let Some(listed) = bucket(cursor, w) else {
            cursor.at = cursor.at.after(None);
            continue;
        };
        match listed {
            Listed::All(next) => {
                // Sorted order goes on until it passes the last entry sent
                // (after a resize, that one may sit in a later bucket).
                if let (true, Some(last), Some(n)) = (cursor.sorted, cursor.last, next) {
                    if last.pos >= n {
                        cursor.at.pos = n;
                        continue;
                    }
                }
                cursor.at = cursor.at.after(next);
                cursor.sorted = false;
                cursor.last = None;
            }
            Listed::Full(last) if cursor.sorted => {
                if last.is_none() && mark == 0 {
                    // One entry larger than an empty buffer: cannot happen
                    // (an entry takes a few hundred bytes); end the dump
                    // rather than loop.
                    return false;
                }
                cursor.last = last.or(cursor.last);
                return true;
            }
            Listed::Full(_) => {
                // Take the bucket back: it goes out whole next round, or,
                // when it alone fills a buffer, sorted, starting now.
                w.truncate(mark);
                if mark > 0 {
                    return true;
                }
                cursor.sorted = true;
                cursor.last = None;
            }
        }
    }
    false
}
