//! The connection table: buckets of singly linked chains, split into
//! stripes that the kernel shell locks independently.
//!
//! The flow hash is symmetric (see `crate::tuple`), so an entry is linked
//! once, into the bucket of its flow, and found from both directions. A
//! bucket belongs to exactly one stripe, so everything reachable from a
//! stripe's buckets is protected by that stripe's lock alone.
//!
//! Memory is the caller's: entries live in a [`Store`] (a `Vec` on the host,
//! slab objects in the kernel) and are named by a copyable reference.
//!
//! Only confirmed entries are linked. Expired and dying entries may still sit
//! in a chain until the sweep (`crate::expiry`) or early drop removes them;
//! every lookup here skips them, so they are never handed out again.

use core::ops::Range;

use crate::entry::{Entry, Status};
use crate::tuple::{Dir, Keys, Tuple};
use crate::Millis;

/// Where entries live. One `Store` view serves one stripe; the kernel
/// implements it over slab objects reached under the stripe lock.
pub trait Store {
    /// Names an entry (an index on the host, a pointer in the kernel).
    type Ref: Copy + Eq;

    /// The entry `r` names, if it is live.
    fn entry(&self, r: Self::Ref) -> Option<&Entry>;
    /// Mutable access to the entry `r` names, if it is live.
    fn entry_mut(&mut self, r: Self::Ref) -> Option<&mut Entry>;
    /// The next entry in `r`'s chain.
    fn next(&self, r: Self::Ref) -> Option<Self::Ref>;
    /// Sets the next entry in `r`'s chain.
    fn set_next(&mut self, r: Self::Ref, next: Option<Self::Ref>);

    /// The entry `r` names and the next one in its chain, in one step (a
    /// chain walk's, which looks at both).
    #[inline]
    fn entry_and_next(&self, r: Self::Ref) -> Option<(&Entry, Option<Self::Ref>)> {
        Some((self.entry(r)?, self.next(r)))
    }
}

/// The most stripes (locks) a table may have, as Linux's
/// `CONNTRACK_LOCKS`.
pub const MAX_STRIPES: u32 = 1024;

/// How many buckets early drop looks at, starting at the new flow's own
/// (Linux's `NF_CT_EVICTION_RANGE`).
pub const EVICTION_RANGE: usize = 8;

/// How buckets are numbered and split into stripes.
///
/// Buckets `0..buckets` are cut into `stripes` contiguous ranges whose sizes
/// differ by at most one; stripe `s` starts at `s * buckets / stripes`. A
/// hash picks a bucket by multiply-shift (`hash * buckets >> 64`), which is
/// uniform for any bucket count, not only powers of two. Because the stripe
/// count is a power of two, locating a hash needs no division: the top bits
/// of the hash name the stripe, give or take one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    buckets: u32,
    stripes: u32,
    /// `log2(stripes)`.
    shift: u32,
    /// Buckets per stripe when every stripe has as many (`buckets` a
    /// multiple of `stripes`, the usual case), else 0.
    even: u32,
}

/// Buckets per stripe of `buckets` buckets in `2^shift` stripes, when all
/// stripes have as many; else 0.
fn even_len(buckets: u32, shift: u32) -> u32 {
    let per = buckets.checked_shr(shift).unwrap_or(0);
    if per.checked_shl(shift) == Some(buckets) {
        per
    } else {
        0
    }
}

impl Layout {
    /// A layout of `buckets` buckets in `stripes` stripes. `None` unless
    /// `stripes` is a power of two, at most [`MAX_STRIPES`] and at most
    /// `buckets`.
    pub fn new(buckets: u32, stripes: u32) -> Option<Layout> {
        if !stripes.is_power_of_two() || stripes > MAX_STRIPES || stripes > buckets {
            return None;
        }
        let shift = stripes.trailing_zeros();
        Some(Layout {
            buckets,
            stripes,
            shift,
            even: even_len(buckets, shift),
        })
    }

    /// A layout of `buckets` buckets (at least one) with the most stripes
    /// that allows, at most [`MAX_STRIPES`].
    pub fn with_buckets(buckets: u32) -> Layout {
        let buckets = buckets.max(1);
        // The largest power of two not above `buckets`, capped.
        let below = 1u32 << (31u32.saturating_sub(buckets.leading_zeros()));
        let stripes = below.min(MAX_STRIPES);
        let shift = stripes.trailing_zeros();
        Layout {
            buckets,
            stripes,
            shift,
            even: even_len(buckets, shift),
        }
    }

    /// Number of buckets.
    pub fn buckets(&self) -> u32 {
        self.buckets
    }

    /// Number of stripes.
    pub fn stripes(&self) -> u32 {
        self.stripes
    }

    /// First bucket of stripe `s` (`buckets` for `s == stripes`):
    /// `s * buckets / stripes`, a shift since `stripes` is a power of two.
    fn start(&self, s: u32) -> u32 {
        let v = u64::from(s).saturating_mul(u64::from(self.buckets)) >> self.shift;
        u32::try_from(v).unwrap_or(self.buckets)
    }

    /// The global bucket numbers of stripe `s` (empty when out of range).
    /// The kernel gives each stripe's lock this slice of the bucket array.
    pub fn range(&self, s: u32) -> Range<usize> {
        if s >= self.stripes {
            return 0..0;
        }
        let lo = self.start(s);
        let hi = self.start(s.saturating_add(1));
        usize_from(lo)..usize_from(hi)
    }

    /// The bucket (global number) of a flow hash (see [`Layout::locate`]).
    pub fn bucket_of(&self, hash: u64) -> u32 {
        let (s, local) = self.locate(hash);
        self.start(s)
            .saturating_add(u32::try_from(local).unwrap_or(u32::MAX))
    }

    /// The stripe and the bucket within it of a global bucket number, or
    /// `None` when `global` is out of range (for walks by global number,
    /// such as `/proc` dumps; not on the packet path).
    pub fn split(&self, global: u32) -> Option<(u32, usize)> {
        if global >= self.buckets {
            return None;
        }
        // Stripe `s` holds `global` iff start(s) <= global < start(s + 1),
        // which solves to s = ((global + 1) * stripes - 1) / buckets.
        let num = (u64::from(global) + 1)
            .saturating_mul(u64::from(self.stripes))
            .saturating_sub(1);
        let s = u32::try_from(num.checked_div(u64::from(self.buckets)).unwrap_or(0)).unwrap_or(0);
        let local = global.saturating_sub(self.start(s));
        Some((s, usize_from(local)))
    }

    /// Where a flow hash lives: its stripe and the bucket within it. The
    /// top `log2(stripes)` bits of the hash name the stripe, the next 32
    /// pick one of its buckets by multiply-shift (uniform for any count):
    /// a few instructions, no division, no correction step.
    #[inline]
    pub fn locate(&self, hash: u64) -> (u32, usize) {
        // `shift` is at most 10: every shift below stays in range, and
        // `(hash >> 1) >> (63 - shift)` is `hash >> (64 - shift)` without
        // the out-of-range shift by 64 when there is one stripe.
        let s = u32::try_from((hash >> 1).wrapping_shr(63u32.wrapping_sub(self.shift))).unwrap_or(0);
        let rest = hash.wrapping_shl(self.shift) >> 32;
        let len = match self.even {
            0 => self.start(s.saturating_add(1)).saturating_sub(self.start(s)),
            n => n,
        };
        let len = u64::from(len);
        // rest < 2^32 and len <= 2^32: the product fits.
        let local = rest.wrapping_mul(len) >> 32;
        (s, usize::try_from(local).unwrap_or(0))
    }
}

/// A lossless `u32` to `usize` conversion (the engine runs on 32- and
/// 64-bit targets).
pub(crate) fn usize_from(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Whether a linked entry may be handed out at `now`.
fn live(e: &Entry, now: Millis) -> bool {
    !e.expired(now) && !e.status.has(Status::DYING)
}

/// A candidate for early drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Victim<R> {
    /// The entry.
    pub entry: R,
    /// The bucket (within the stripe) it is linked into.
    pub bucket: usize,
    /// It had already expired (reclaiming it is not an early drop).
    pub expired: bool,
}

/// The buckets of one stripe and the store that holds their entries: what
/// one stripe lock protects. Every operation touches only this stripe;
/// bucket numbers are local to it (see [`Layout::locate`]).
pub struct Stripe<'a, S: Store> {
    /// Chain heads of this stripe's buckets.
    pub buckets: &'a mut [Option<S::Ref>],
    /// Where the entries live.
    pub store: &'a mut S,
}

impl<'a, S: Store> Stripe<'a, S> {
    /// A view over a stripe's buckets and its store.
    pub fn new(buckets: &'a mut [Option<S::Ref>], store: &'a mut S) -> Self {
        Stripe { buckets, store }
    }

    /// The chain head of `bucket`.
    pub fn head(&self, bucket: usize) -> Option<S::Ref> {
        self.buckets.get(bucket).copied().flatten()
    }

    /// The live entry whose original or reply tuple is `t`, with the
    /// direction it matched. Never returns an expired or dying entry.
    #[inline]
    pub fn find(&self, bucket: usize, t: &Tuple, now: Millis) -> Option<(S::Ref, Dir)> {
        self.find_keys(bucket, &t.keys(), now)
    }

    /// [`Stripe::find`] by the tuple's [`Keys`].
    #[inline]
    pub fn find_keys(&self, bucket: usize, keys: &Keys, now: Millis) -> Option<(S::Ref, Dir)> {
        // Inlined with a counter nobody reads: the count goes away.
        let mut searched = 0usize;
        self.search(bucket, keys, now, &mut searched)
    }

    /// [`Stripe::find`], adding the number of chain entries it looked at to
    /// `searched` (the chain length, when nothing is found).
    pub fn find_counting(
        &self,
        bucket: usize,
        t: &Tuple,
        now: Millis,
        searched: &mut usize,
    ) -> Option<(S::Ref, Dir)> {
        self.search(bucket, &t.keys(), now, searched)
    }

    #[inline(always)]
    fn search(
        &self,
        bucket: usize,
        keys: &Keys,
        now: Millis,
        searched: &mut usize,
    ) -> Option<(S::Ref, Dir)> {
        // An entry matches in reply direction when its original tuple is
        // the inverse of `t`; compute that once, and compare tuples (as
        // words) before touching the rest of each entry.
        let Keys { key, inv } = *keys;
        let mut cur = self.head(bucket);
        while let Some(r) = cur {
            *searched = searched.saturating_add(1);
            let (e, next) = self.store.entry_and_next(r)?;
            // The layer-4 word first: other flows of the same two hosts
            // differ there, so most entries cost two comparisons.
            let [a, b] = e.key();
            let dir = if b == key[1] && a == key[0] {
                Some(Dir::Original)
            } else if inv.is_some_and(|[ia, ib]| b == ib && a == ia) {
                Some(Dir::Reply)
            } else {
                None
            };
            if let Some(dir) = dir {
                if live(e, now) {
                    return Some((r, dir));
                }
            }
            cur = next;
        }
        None
    }

    /// Links `r` at the head of `bucket`. Returns false (and links nothing)
    /// when `bucket` is out of range.
    pub fn link(&mut self, bucket: usize, r: S::Ref) -> bool {
        let Some(slot) = self.buckets.get_mut(bucket) else {
            return false;
        };
        self.store.set_next(r, *slot);
        *slot = Some(r);
        true
    }

    /// Unlinks `r` from `bucket`'s chain; false when it is not there.
    pub fn unlink(&mut self, bucket: usize, r: S::Ref) -> bool {
        let Some(slot) = self.buckets.get_mut(bucket) else {
            return false;
        };
        let mut prev: Option<S::Ref> = None;
        let mut cur = *slot;
        while let Some(c) = cur {
            let next = self.store.next(c);
            if c == r {
                match prev {
                    None => *slot = next,
                    Some(p) => self.store.set_next(p, next),
                }
                self.store.set_next(r, None);
                return true;
            }
            prev = Some(c);
            cur = next;
        }
        false
    }

    /// Unlinks `r` and marks it dying, so holders of a reference see that
    /// it left the table. False when it was not in `bucket`.
    pub fn remove(&mut self, bucket: usize, r: S::Ref) -> bool {
        if !self.unlink(bucket, r) {
            return false;
        }
        if let Some(e) = self.store.entry_mut(r) {
            e.status.set(Status::DYING);
        }
        true
    }

    /// Calls `f` for each live entry of `bucket`, head first (what a
    /// `/proc` dump shows). Returns how many entries it visited.
    pub fn for_each<F: FnMut(S::Ref, &Entry)>(
        &self,
        bucket: usize,
        now: Millis,
        mut f: F,
    ) -> usize {
        self.walk(bucket, 0, now, |r, e| {
            f(r, e);
            true
        })
        .visited
    }

    /// Visits the live entries of `bucket` after skipping the first `skip`
    /// of them, calling `f` until it returns false. The returned
    /// [`Walk::resume`] is the `skip` for the next call when it stopped
    /// early (a dump that ran out of buffer space mid-bucket).
    pub fn walk<F: FnMut(S::Ref, &Entry) -> bool>(
        &self,
        bucket: usize,
        skip: usize,
        now: Millis,
        mut f: F,
    ) -> Walk {
        let mut index = 0usize;
        let mut visited = 0usize;
        let mut cur = self.head(bucket);
        while let Some(r) = cur {
            if let Some(e) = self.store.entry(r) {
                if live(e, now) {
                    if index >= skip {
                        if !f(r, e) {
                            return Walk {
                                visited,
                                resume: Some(index),
                            };
                        }
                        visited = visited.saturating_add(1);
                    }
                    index = index.saturating_add(1);
                }
            }
            cur = self.store.next(r);
        }
        Walk {
            visited,
            resume: None,
        }
    }

    /// Number of entries linked into `bucket` (expired ones included).
    pub fn chain_len(&self, bucket: usize) -> usize {
        let mut n = 0usize;
        let mut cur = self.head(bucket);
        while let Some(r) = cur {
            n = n.saturating_add(1);
            cur = self.store.next(r);
        }
        n
    }

    /// The longest chain of the stripe: `(bucket, length)`, the first such
    /// bucket on ties; `(0, 0)` for an empty stripe.
    pub fn longest_chain(&self) -> (usize, usize) {
        let mut best = (0usize, 0usize);
        for b in 0..self.buckets.len() {
            let n = self.chain_len(b);
            if n > best.1 {
                best = (b, n);
            }
        }
        best
    }

    /// Picks an entry to evict to make room for a flow hashing to `bucket`:
    /// looks at [`EVICTION_RANGE`] buckets from `bucket` on, wrapping within
    /// the stripe. An expired entry is taken first; otherwise the non-ASSURED
    /// entry closest to expiry. `None` when every entry there is assured.
    pub fn early_drop_victim(&self, bucket: usize, now: Millis) -> Option<Victim<S::Ref>> {
        let n = self.buckets.len();
        if n == 0 {
            return None;
        }
        let mut best: Option<(Victim<S::Ref>, Millis)> = None;
        for i in 0..EVICTION_RANGE.min(n) {
            let b = bucket.wrapping_add(i).checked_rem(n).unwrap_or(0);
            let mut cur = self.head(b);
            while let Some(r) = cur {
                if let Some(e) = self.store.entry(r) {
                    if !e.status.has(Status::DYING) {
                        if e.expired(now) {
                            return Some(Victim {
                                entry: r,
                                bucket: b,
                                expired: true,
                            });
                        }
                        // (A match: `Option::is_none_or` needs Rust 1.82,
                        // the kernel's minimum is 1.78.)
                        let better = match &best {
                            None => true,
                            Some((_, d)) => e.deadline < *d,
                        };
                        if !e.status.has(Status::ASSURED) && better {
                            best = Some((
                                Victim {
                                    entry: r,
                                    bucket: b,
                                    expired: false,
                                },
                                e.deadline,
                            ));
                        }
                    }
                }
                cur = self.store.next(r);
            }
        }
        best.map(|(v, _)| v)
    }
}

/// Where a [`Stripe::walk`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walk {
    /// Entries passed to the callback that it accepted.
    pub visited: usize,
    /// `Some(skip)` when the callback stopped the walk: call again with this
    /// `skip` to continue with the entry it refused.
    pub resume: Option<usize>,
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;

    #[test]
    fn layout_rejects_bad_stripe_counts() {
        assert!(Layout::new(16, 3).is_none());
        assert!(Layout::new(16, 32).is_none());
        assert!(Layout::new(4096, 2048).is_none());
        assert!(Layout::new(16, 16).is_some());
        assert_eq!(Layout::with_buckets(0), Layout::new(1, 1).unwrap());
        assert_eq!(Layout::with_buckets(1).stripes(), 1);
        assert_eq!(Layout::with_buckets(100).stripes(), 64);
        assert_eq!(Layout::with_buckets(1 << 20).stripes(), 1024);
    }

    #[test]
    fn ranges_partition_the_buckets() {
        for (b, s) in [
            (16u32, 16u32),
            (17, 4),
            (1000, 8),
            (2048, 1024),
            (1031, 1024),
            (5, 1),
        ] {
            let l = Layout::new(b, s).unwrap();
            let mut next = 0usize;
            for st in 0..s {
                let r = l.range(st);
                assert_eq!(r.start, next);
                assert!(r.end > r.start, "stripe {st} of {b}/{s} is empty");
                for g in r.clone() {
                    let (gs, local) = l.split(g as u32).unwrap();
                    assert_eq!((gs, local), (st, g - r.start));
                }
                next = r.end;
            }
            assert_eq!(next, b as usize);
            assert!(l.split(b).is_none());
        }
    }

    #[test]
    fn locate_agrees_with_split() {
        let key = crate::hash::HashKey::new(3, 5);
        for (b, s) in [
            (16u32, 16u32),
            (17, 4),
            (1000, 8),
            (2048, 1024),
            (1031, 1024),
            (1500, 1024),
            (5, 1),
            (3, 2),
        ] {
            let l = Layout::new(b, s).unwrap();
            let mut hashes = [0u64, u64::MAX, 1 << 63, (1 << 63) - 1].to_vec();
            for i in 0..20_000u64 {
                hashes.push(crate::hash::siphash(&key, &i.to_le_bytes()));
            }
            for st in 0..s {
                // Hashes right at and around each stripe's edge.
                let edge = (u128::from(l.start(st)) << 64).div_ceil(u128::from(b)) as u64;
                hashes.extend([edge.wrapping_sub(1), edge, edge.wrapping_add(1)]);
            }
            for h in hashes {
                assert_eq!(
                    Some(l.locate(h)),
                    l.split(l.bucket_of(h)),
                    "hash {h:#x} in {b}/{s}"
                );
            }
        }
    }

    use crate::entry::Entry;
    use crate::proto::ProtoState;
    use crate::tuple::{proto, L4};
    use std::vec::Vec;

    /// A minimal store: entry `i` is slot `i`.
    struct Slots(Vec<(Entry, Option<usize>)>);

    impl Store for Slots {
        type Ref = usize;
        fn entry(&self, r: usize) -> Option<&Entry> {
            self.0.get(r).map(|s| &s.0)
        }
        fn entry_mut(&mut self, r: usize) -> Option<&mut Entry> {
            self.0.get_mut(r).map(|s| &mut s.0)
        }
        fn next(&self, r: usize) -> Option<usize> {
            self.0.get(r).and_then(|s| s.1)
        }
        fn set_next(&mut self, r: usize, next: Option<usize>) {
            if let Some(s) = self.0.get_mut(r) {
                s.1 = next;
            }
        }
    }

    fn entry(port: u16, deadline: Millis, status: u32) -> Entry {
        Entry::new(Tuple {
                src: 1,
                dst: 2,
                proto: proto::UDP,
                l4: L4::Ports {
                    sport: port,
                    dport: 53,
                },
            }, Status(status), deadline, ProtoState::Generic)
    }

    #[test]
    fn chains_link_unlink_walk_and_resume() {
        let mut store = Slots(
            (0..6u16)
                .map(|i| (entry(i, 100, Status::CONFIRMED), None))
                .collect(),
        );
        let mut buckets = [None; 4];
        let mut st = Stripe::new(&mut buckets, &mut store);
        for r in 0..5 {
            assert!(st.link(1, r));
        }
        assert!(!st.link(9, 5));
        assert_eq!(st.chain_len(1), 5);
        assert_eq!(st.longest_chain(), (1, 5));
        // Head insertion: 4 3 2 1 0.
        let mut seen = Vec::new();
        st.for_each(1, 0, |r, _| seen.push(r));
        assert_eq!(seen, [4, 3, 2, 1, 0]);
        // A walk that stops after two entries resumes with the third.
        let mut got = Vec::new();
        let w = st.walk(1, 0, 0, |r, _| {
            if got.len() == 2 {
                return false;
            }
            got.push(r);
            true
        });
        assert_eq!(
            w,
            Walk {
                visited: 2,
                resume: Some(2)
            }
        );
        let w = st.walk(1, 2, 0, |r, _| {
            got.push(r);
            true
        });
        assert_eq!(
            w,
            Walk {
                visited: 3,
                resume: None
            }
        );
        assert_eq!(got, [4, 3, 2, 1, 0]);
        // Unlink from the middle, the head and the tail.
        assert!(st.remove(1, 2));
        assert!(st.store.entry(2).unwrap().status.has(Status::DYING));
        assert!(st.unlink(1, 4));
        assert!(st.unlink(1, 0));
        assert!(!st.unlink(1, 0));
        let mut seen = Vec::new();
        st.for_each(1, 0, |r, _| seen.push(r));
        assert_eq!(seen, [3, 1]);
        // Found from both directions; never once expired or dying.
        let t = entry(3, 0, 0).orig();
        assert_eq!(st.find(1, &t, 99), Some((3, Dir::Original)));
        assert_eq!(st.find(1, &t.invert().unwrap(), 99), Some((3, Dir::Reply)));
        assert_eq!(st.find(1, &t, 100), None);
        st.store.entry_mut(3).unwrap().status.set(Status::DYING);
        assert_eq!(st.find(1, &t, 0), None);
        assert_eq!(st.for_each(1, 0, |_, _| {}), 1);
    }

    #[test]
    fn early_drop_prefers_expired_then_closest_non_assured_within_range() {
        let a = Status::CONFIRMED | Status::ASSURED;
        let c = Status::CONFIRMED;
        let mut store = Slots(
            [
                entry(0, 500, c),
                entry(1, 300, a),
                entry(2, 400, c),
                entry(3, 50, a),
                entry(4, 200, c),
            ]
            .into_iter()
            .map(|e| (e, None))
            .collect(),
        );
        let mut buckets = [None; 10];
        let mut st = Stripe::new(&mut buckets, &mut store);
        st.link(9, 0);
        st.link(9, 1);
        st.link(0, 2);
        st.link(3, 3);
        // Bucket 8 is outside the range starting at 9 (9, 0, .., 6).
        st.link(8, 4);
        // Wraps within the stripe; the assured ones are kept.
        assert_eq!(
            st.early_drop_victim(9, 10),
            Some(Victim {
                entry: 2,
                bucket: 0,
                expired: false
            })
        );
        // An expired entry, even assured, goes first.
        assert_eq!(
            st.early_drop_victim(9, 60),
            Some(Victim {
                entry: 3,
                bucket: 3,
                expired: true
            })
        );
        assert_eq!(
            st.early_drop_victim(8, 10),
            Some(Victim {
                entry: 4,
                bucket: 8,
                expired: false
            })
        );
        // Only assured entries in range: none.
        st.unlink(0, 2);
        st.unlink(9, 0);
        assert_eq!(st.early_drop_victim(9, 10), None);
    }

    #[test]
    fn bucket_of_is_in_range_and_spreads() {
        let l = Layout::new(1000, 8).unwrap();
        assert_eq!(l.bucket_of(0), 0);
        assert_eq!(l.bucket_of(u64::MAX), 999);
        // Always in range, the extremes included.
        let key = crate::hash::HashKey::new(1, 1);
        for b in [1u32, 7, 1000, 65_536, 1_000_003, u32::MAX] {
            let l = Layout::with_buckets(b);
            for i in 0..1000u64 {
                let h = crate::hash::siphash(&key, &i.to_le_bytes());
                assert!(l.bucket_of(h) < b);
            }
            assert_eq!(l.bucket_of(0), 0);
            assert_eq!(l.bucket_of(u64::MAX), b - 1);
        }
        let mut seen = [0u32; 1000];
        let key = crate::hash::HashKey::new(7, 9);
        for i in 0..100_000u64 {
            let h = crate::hash::siphash(&key, &i.to_le_bytes());
            seen[l.bucket_of(h) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50 && n < 170));
    }
}
