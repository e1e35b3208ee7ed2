//! The connection table: buckets of singly linked chains, split into
//! stripes that the kernel shell locks independently.
//!
//! The flow hash is symmetric (see `crate::tuple`), so an entry is linked
//! once, into the bucket of its flow, and found from both directions. A
//! bucket belongs to exactly one stripe, so everything reachable from a
//! stripe's buckets is protected by that stripe's lock alone.
//!
//! NAT breaks the symmetry: a NATed entry's reply tuple is not the inverse
//! of its original one, and hashes elsewhere. Such an entry also has a
//! reply node ([`Store::reply_key`]), linked into a second set of chains,
//! the stripe's reply chains, at its reply tuple's position (in the stripe
//! that position belongs to, usually another one than the entry's). A
//! lookup that finds no entry in the main chain looks there; a hit names an
//! entry whose data is guarded by its own stripe's lock, which the caller
//! takes next (never both at once: [`crate::driver`]). Entries without
//! NAT have no reply node and cost nothing more.
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

    /// The [`Tuple::key`] of `r`'s reply tuple when NAT changed it (`r`
    /// has a reply node), else `None`. Readable from any stripe: it never
    /// changes once the node is linked.
    fn reply_key(&self, r: Self::Ref) -> Option<[u64; 2]> {
        let _ = r;
        None
    }
    /// The next reply node in `r`'s reply chain.
    fn reply_next(&self, r: Self::Ref) -> Option<Self::Ref> {
        let _ = r;
        None
    }
    /// Sets the next reply node in `r`'s reply chain.
    fn set_reply_next(&mut self, r: Self::Ref, next: Option<Self::Ref>) {
        let _ = (r, next);
    }

    /// The four IPv6 address words of `r`'s original tuple
    /// ([`Tuple::addrs6`]); `None` for IPv4 entries. Fixed for the
    /// entry's life.
    fn addrs6(&self, r: Self::Ref) -> Option<[u64; 4]> {
        let _ = r;
        None
    }

    /// The original tuple of `r`, whatever its family.
    fn orig(&self, r: Self::Ref) -> Option<Tuple> {
        let e = self.entry(r)?;
        Some(Tuple::from_keys(e.key(), self.addrs6(r)))
    }

    /// The key of a NATed entry's original tuple, readable from any
    /// stripe (fixed once NAT bound it); `None` without NAT.
    fn nat_orig(&self, r: Self::Ref) -> Option<[u64; 2]> {
        let _ = r;
        None
    }
    /// The next node in `r`'s source chain (source-NATed entries by their
    /// original source: 6.12's `nf_nat_bysource`).
    fn src_next(&self, r: Self::Ref) -> Option<Self::Ref> {
        let _ = r;
        None
    }
    /// Sets the next node in `r`'s source chain.
    fn set_src_next(&mut self, r: Self::Ref, next: Option<Self::Ref>) {
        let _ = (r, next);
    }
    /// The node before `r` in its source chain (`None` at the head), so
    /// that an unlink needs no walk: source chains hold every connection
    /// from one source port together, and early drop evicts the oldest,
    /// the last. A store that keeps no such link answers `None` always
    /// and its unlinks walk the chain.
    fn src_prev(&self, r: Self::Ref) -> Option<Self::Ref> {
        let _ = r;
        None
    }
    /// Sets the node before `r` in its source chain.
    fn set_src_prev(&mut self, r: Self::Ref, prev: Option<Self::Ref>) {
        let _ = (r, prev);
    }
    /// The once-only state of `r`'s source node, changed atomically (any
    /// CPU, any lock): `link` true claims the right to link it (false if
    /// it is linked already or was released), false releases it for good
    /// (true if it was linked: the caller unlinks it). A late clone of the
    /// packet can then never link a node its entry's release missed.
    fn src_mark(&self, r: Self::Ref, link: bool) -> bool {
        let _ = (r, link);
        false
    }
}

/// The tuple a source-NATed entry is indexed by in the source chains: its
/// original source (protocol, address, port or ICMP id), hashed like a
/// flow ([`Layout::locate`]).
pub fn source_tuple(orig: &Tuple) -> Tuple {
    let l4 = match orig.l4 {
        crate::tuple::L4::Ports { sport, .. } => crate::tuple::L4::Ports { sport, dport: 0 },
        crate::tuple::L4::Icmp { id, .. } => crate::tuple::L4::Icmp { ty: 0, code: 0, id },
        crate::tuple::L4::None => crate::tuple::L4::None,
    };
    let dst = if orig.is_v6() { crate::tuple::Addr::V6([0; 4]) } else { crate::tuple::Addr::V4(0) };
    Tuple { src: orig.src, dst, proto: orig.proto, l4 }
}

/// The key of [`source_tuple`] of the original tuple of key `orig`,
/// shuffled from the key's words for IPv4 (source-NATed entries are).
#[inline]
pub fn source_key(orig: [u64; 2]) -> [u64; 2] {
    if orig[1] & crate::tuple::KEY_V6 != 0 {
        return source_tuple(&Tuple::from_key(orig)).key();
    }
    crate::tuple::source_key4(orig)
}

/// The hash of [`source_tuple`] of the original tuple of key `orig`:
/// where its source chain is. SipHash of the source key's two words, not
/// the symmetric flow hash: a source has no other direction.
#[inline]
pub fn source_hash(orig: [u64; 2], key: &crate::hash::HashKey) -> u64 {
    let [w0, w1] = source_key(orig);
    crate::hash::siphash_words(key, w0, w1)
}

/// The most stripes (locks) a table may have, as Linux's
/// `CONNTRACK_LOCKS`.
pub const MAX_STRIPES: u32 = 1024;

/// How many buckets early drop looks at, starting at the new flow's own
/// (Linux's `NF_CT_EVICTION_RANGE`).
pub const EVICTION_RANGE: usize = 8;

/// How buckets are split into stripes.
///
/// The stripe count is a power of two, fixed for a table's life: the top
/// bits of a flow hash name the stripe. Each stripe owns its own array of
/// buckets, `buckets / stripes` of them (sizes differ by at most one;
/// [`Layout::range`]); the next 32 bits of the hash, the flow's position,
/// pick one of them by multiply-shift, uniform for any array length. A
/// resize replaces one stripe's array at a time under that stripe's lock
/// ([`Stripe::rehash_into`]): positions never change, so walks that
/// remember a position stay exact across it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    buckets: u32,
    stripes: u32,
    /// `log2(stripes)`.
    shift: u32,
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

    /// Where a flow hash lives: its stripe and its position within the
    /// stripe. The top `log2(stripes)` bits of the hash name the stripe
    /// (fixed for the table's life), the next 32 are the position, which
    /// [`Stripe::bucket`] turns into a bucket of the stripe's current
    /// array by multiply-shift: a few instructions, no division, and a
    /// position that survives resizing (see [`Stripe::rehash_into`]).
    #[inline]
    pub fn locate(&self, hash: u64) -> (u32, u32) {
        // `shift` is at most 10: every shift below stays in range, and
        // `(top >> 1) >> (31 - shift)` is `hash >> (64 - shift)` without
        // the out-of-range shift by 64 when there is one stripe (the top
        // half fits a u32 as it is: no check).
        let top = u32::try_from(hash >> 32).unwrap_or(0);
        let s = (top >> 1).wrapping_shr(31u32.wrapping_sub(self.shift));
        let pos = u32::try_from(hash.wrapping_shl(self.shift) >> 32).unwrap_or(0);
        (s, pos)
    }

    /// The position of `e`'s flow within its stripe ([`Layout::locate`]).
    /// `addrs6`: an IPv6 entry's address words ([`Store::addrs6`]).
    pub fn pos_of(&self, key: &crate::hash::HashKey, e: &Entry, addrs6: Option<[u64; 4]>) -> u32 {
        self.locate(Keys::of_key(e.key(), addrs6).flow_hash(key)).1
    }

    /// The same stripes with `buckets` buckets in all (at least one per
    /// stripe): the per-stripe array lengths ([`Layout::range`]) a resize
    /// to `buckets` gives.
    pub fn resized(&self, buckets: u32) -> Layout {
        let buckets = buckets.max(self.stripes);
        Layout {
            buckets,
            stripes: self.stripes,
            shift: self.shift,
        }
    }
}

/// The bucket of position `pos` in an array of `len` buckets: the
/// multiply-shift of [`Layout::locate`]; monotonic in `pos`, so buckets
/// are consecutive ranges of positions.
#[inline]
pub fn bucket_in(len: usize, pos: u32) -> usize {
    let len = u64::try_from(len).unwrap_or(u64::MAX).min(1 << 32);
    // pos < 2^32 and len <= 2^32: the product fits.
    usize::try_from(u64::from(pos).wrapping_mul(len) >> 32).unwrap_or(0)
}

/// The first position of bucket `b` in an array of `len` buckets:
/// `ceil(b * 2^32 / len)`; `None` past the last bucket.
pub fn bucket_start(len: usize, b: usize) -> Option<u32> {
    if b >= len {
        return None;
    }
    // b < len: b * 2^32 fits 64 bits while len <= 2^32 (u128 division is
    // not available in the kernel).
    let len = u64::try_from(len).ok()?;
    let b = u32::try_from(b).ok()?;
    let start = (u64::from(b) << 32).div_ceil(len);
    u32::try_from(start).ok()
}

/// An entry's place in [`Stripe::walk_sorted`]'s order: its position,
/// then its original tuple's key (unique among live entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortKey {
    /// The flow's position ([`Layout::locate`]).
    pub pos: u32,
    /// The original tuple's key.
    pub key: [u64; 2],
}

/// Where a [`Stripe::walk_sorted`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sorted {
    /// The bucket is listed; the next one's first position, as
    /// [`Stripe::walk_from`] gives it.
    Done(Option<u32>),
    /// The callback refused an entry: resume after this one (the last
    /// accepted; `None`: none was).
    Stopped(Option<SortKey>),
}

/// Whether `k` comes after `bound` (everything comes after none).
fn after_bound(bound: Option<&SortKey>, k: &SortKey) -> bool {
    match bound {
        None => true,
        Some(b) => b < k,
    }
}

/// Where a dump of a table resumes: a stripe and a position in it
/// ([`Layout::locate`]). Everything below it has been listed; positions
/// do not change when the table is resized, so neither does this.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DumpPos {
    /// The stripe.
    pub stripe: u32,
    /// The first position of the stripe not yet listed.
    pub pos: u32,
}

impl DumpPos {
    /// Where the dump goes on after a [`Stripe::walk_from`] at `self` that
    /// listed its bucket whole and returned `next`.
    pub fn after(self, next: Option<u32>) -> DumpPos {
        match next {
            Some(pos) => DumpPos { pos, ..self },
            None => DumpPos {
                stripe: self.stripe.saturating_add(1),
                pos: 0,
            },
        }
    }

    /// As one number (a `/proc` file offset, a netlink dump argument);
    /// increases as the dump goes on.
    pub fn to_u64(self) -> u64 {
        (u64::from(self.stripe) << 32) | u64::from(self.pos)
    }

    /// The position [`DumpPos::to_u64`] gave `v`.
    pub fn from_u64(v: u64) -> DumpPos {
        DumpPos {
            stripe: u32::try_from(v >> 32).unwrap_or(u32::MAX),
            pos: u32::try_from(v & u64::from(u32::MAX)).unwrap_or(0),
        }
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

/// The most entries one early drop evicts: 6.12 evicts every candidate
/// of the bucket; a chain longer than this is a flood of one bucket, and
/// the rest waits for the next new flow.
pub const EARLY_DROP_MAX: usize = 16;

/// The candidates for early drop of one bucket, in chain order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Victims<R> {
    /// The bucket (within the stripe) they are linked into.
    pub bucket: usize,
    /// The candidates; the first is always there.
    pub entries: [Option<R>; EARLY_DROP_MAX],
    /// Bit `i`: `entries[i]` had already expired (reclaiming it is not an
    /// early drop).
    pub expired: u16,
}

const _: () = assert!(EARLY_DROP_MAX <= 16);

/// The buckets of one stripe and the store that holds their entries: what
/// one stripe lock protects. Every operation touches only this stripe;
/// bucket numbers are local to it (see [`Layout::locate`]).
pub struct Stripe<'a, S: Store> {
    /// Chain heads of this stripe's buckets.
    pub buckets: &'a mut [Option<S::Ref>],
    /// Heads of the reply chains, as many as `buckets` (or none: a table
    /// without NAT): reply node `b` holds NATed entries whose reply tuple
    /// has a position in bucket `b`.
    pub replies: &'a mut [Option<S::Ref>],
    /// Heads of the source chains, as many as `buckets` (or none): node
    /// `b` holds source-NATed entries whose original source
    /// ([`source_tuple`]) has a position in bucket `b`.
    pub sources: &'a mut [Option<S::Ref>],
    /// Where the entries live.
    pub store: &'a mut S,
}

impl<'a, S: Store> Stripe<'a, S> {
    /// A view over a stripe's buckets and its store, without reply chains.
    pub fn new(buckets: &'a mut [Option<S::Ref>], store: &'a mut S) -> Self {
        Stripe {
            buckets,
            replies: &mut [],
            sources: &mut [],
            store,
        }
    }

    /// A view over a stripe's buckets, its reply chains (as many) and its
    /// store.
    pub fn with_replies(
        buckets: &'a mut [Option<S::Ref>],
        replies: &'a mut [Option<S::Ref>],
        store: &'a mut S,
    ) -> Self {
        Stripe {
            buckets,
            replies,
            sources: &mut [],
            store,
        }
    }

    /// The same view with the stripe's source chains (as many as its
    /// buckets).
    pub fn with_sources(self, sources: &'a mut [Option<S::Ref>]) -> Self {
        Stripe { sources, ..self }
    }

    /// Links `r` at the head of source chain `bucket`; false when out of
    /// range.
    pub fn link_src(&mut self, bucket: usize, r: S::Ref) -> bool {
        match self.sources.get_mut(bucket) {
            Some(slot) => link_at(slot, self.store, Chain::Source, r),
            None => false,
        }
    }

    /// Unlinks `r` from source chain `bucket`; false when it is not there.
    pub fn unlink_src(&mut self, bucket: usize, r: S::Ref) -> bool {
        match self.sources.get_mut(bucket) {
            Some(slot) => unlink_at(slot, self.store, Chain::Source, r),
            None => false,
        }
    }

    /// Calls `visit` with the reply tuple of each entry of source chain
    /// `bucket` whose original source is `orig`'s (protocol, address, port
    /// or id), until it returns true (`find_appropriate_src`). The
    /// entries may live in other stripes: only their NAT state is read.
    pub fn same_source(&self, bucket: usize, orig: &Tuple, visit: &mut dyn FnMut(&Tuple) -> bool) {
        self.same_source_key(bucket, source_tuple(orig).key(), &mut |r| visit(&Tuple::from_key(r)));
    }

    /// [`Stripe::same_source`] by the source's key (`want`, a
    /// [`source_key`]), with the reply tuples' keys.
    pub fn same_source_key(&self, bucket: usize, want: [u64; 2], visit: &mut dyn FnMut([u64; 2]) -> bool) {
        let mut cur = self.sources.get(bucket).copied().flatten();
        while let Some(r) = cur {
            let o = self.store.nat_orig(r).map(source_key);
            if o == Some(want) {
                if let Some(reply) = self.store.reply_key(r) {
                    if visit(reply) {
                        return;
                    }
                }
            }
            cur = self.store.src_next(r);
        }
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
        self.search(bucket, keys, now, &mut searched, true)
    }

    /// [`Stripe::find`], adding the number of chain entries it looked at to
    /// `searched` (the chain length, when nothing is found).
    pub fn find_counting(
        &self,
        bucket: usize,
        keys: &Keys,
        now: Millis,
        searched: &mut usize,
    ) -> Option<(S::Ref, Dir)> {
        self.search(bucket, keys, now, searched, true)
    }

    /// [`Stripe::find_counting`] for a clash check of an entry without
    /// NAT, whose reply tuple is the inverse of `keys`: a NATed entry whose
    /// original tuple is that inverse clashes too (6.12 checks both
    /// tuples of the new entry).
    pub fn find_clash(
        &self,
        bucket: usize,
        keys: &Keys,
        now: Millis,
        searched: &mut usize,
    ) -> Option<(S::Ref, Dir)> {
        self.search(bucket, keys, now, searched, false)
    }

    /// [`Stripe::find_keys`]; `V4`: the keys are IPv4 ([`Tuple::keys4`]),
    /// searched with no look at address words.
    #[inline(always)]
    pub fn find_keys_in<const V4: bool>(&self, bucket: usize, keys: &Keys, now: Millis) -> Option<(S::Ref, Dir)> {
        let mut searched = 0usize;
        if V4 {
            return self.search_loop(bucket, keys, now, &mut searched, true, false);
        }
        self.search(bucket, keys, now, &mut searched, true)
    }

    /// Searches `bucket` for `keys`; `nat_aware`: a NATed entry matches
    /// only by its original tuple (its reply is in the reply chains),
    /// else by the inverse too. An IPv4 lookup never matches an IPv6
    /// entry on the two in-entry words ([`crate::tuple::KEY_V6`]), so only IPv6
    /// lookups look at address words, in their own loop.
    #[inline(always)]
    fn search(
        &self,
        bucket: usize,
        keys: &Keys,
        now: Millis,
        searched: &mut usize,
        nat_aware: bool,
    ) -> Option<(S::Ref, Dir)> {
        if keys.addrs6.is_some() {
            return self.search6(bucket, keys, now, searched, nat_aware);
        }
        self.search_loop(bucket, keys, now, searched, nat_aware, false)
    }

    #[inline(never)]
    fn search6(
        &self,
        bucket: usize,
        keys: &Keys,
        now: Millis,
        searched: &mut usize,
        nat_aware: bool,
    ) -> Option<(S::Ref, Dir)> {
        self.search_loop(bucket, keys, now, searched, nat_aware, true)
    }

    #[inline(always)]
    fn search_loop(
        &self,
        bucket: usize,
        keys: &Keys,
        now: Millis,
        searched: &mut usize,
        nat_aware: bool,
        v6: bool,
    ) -> Option<(S::Ref, Dir)> {
        // An entry matches in reply direction when its original tuple is
        // the inverse of `t`; compute that once, and compare tuples (as
        // words) before touching the rest of each entry.
        let Keys { key, inv, .. } = *keys;
        let mut cur = self.head(bucket);
        while let Some(r) = cur {
            *searched = searched.saturating_add(1);
            let (e, next) = self.store.entry_and_next(r)?;
            // The layer-4 word first: other flows of the same two hosts
            // differ there, so most entries cost two comparisons.
            let [a, b] = e.key();
            let dir = if b == key[1] && a == key[0] {
                Some(Dir::Original)
            } else if inv.is_some_and(|[ia, ib]| b == ib && a == ia)
                && !(nat_aware && e.status.has_any(Status::NAT_MASK))
            {
                // The inverse is the reply tuple only without NAT.
                Some(Dir::Reply)
            } else {
                None
            };
            if let Some(dir) = dir {
                if live(e, now) && (!v6 || self.same_addrs6(r, keys, dir)) {
                    return Some((r, dir));
                }
            }
            cur = next;
        }
        None
    }

    /// An IPv6 entry that matched on its two in-entry words: whether its
    /// address words are the lookup's too.
    #[inline]
    fn same_addrs6(&self, r: S::Ref, keys: &Keys, dir: Dir) -> bool {
        let have = self.store.addrs6(r);
        have.is_some() && have == keys.addrs6_for(dir)
    }

    /// The bucket of position `pos` ([`Layout::locate`]) in this stripe's
    /// current array.
    #[inline]
    pub fn bucket(&self, pos: u32) -> usize {
        bucket_in(self.buckets.len(), pos)
    }

    /// The NATed entry whose reply tuple has the key `key`, from reply
    /// chain `bucket`. Its entry may live in another stripe: nothing of it
    /// but its reply node is read, and whether it is live is for the
    /// caller to see under the entry's own lock.
    #[inline]
    pub fn find_reply(&self, bucket: usize, key: &[u64; 2]) -> Option<S::Ref> {
        let mut cur = self.replies.get(bucket).copied().flatten();
        while let Some(r) = cur {
            if self.store.reply_key(r).as_ref() == Some(key) {
                return Some(r);
            }
            cur = self.store.reply_next(r);
        }
        None
    }

    /// Whether a tuple with keys `keys` is in use in `bucket`, in either
    /// direction (`nf_conntrack_tuple_taken`): a live entry of the main
    /// chain, or any reply node (live or not: until it is unlinked it
    /// holds its tuple).
    pub fn taken(&self, bucket: usize, keys: &Keys, now: Millis) -> bool {
        if self.find_keys(bucket, keys, now).is_some() {
            return true;
        }
        self.reply_holder(bucket, keys).is_some()
    }

    /// The first reply node of reply chain `bucket` whose key is either of
    /// `keys`: one walk for both (the port search asks [`Stripe::taken`]
    /// for every candidate).
    pub fn reply_holder(&self, bucket: usize, keys: &Keys) -> Option<S::Ref> {
        let mut cur = self.replies.get(bucket).copied().flatten();
        while let Some(r) = cur {
            if let Some(k) = self.store.reply_key(r) {
                if k == keys.key || keys.inv == Some(k) {
                    return Some(r);
                }
            }
            cur = self.store.reply_next(r);
        }
        None
    }

    /// Links `r`'s reply node at the head of reply chain `bucket`; false
    /// (nothing linked) when out of range.
    pub fn link_reply(&mut self, bucket: usize, r: S::Ref) -> bool {
        match self.replies.get_mut(bucket) {
            Some(slot) => link_at(slot, self.store, Chain::Reply, r),
            None => false,
        }
    }

    /// Unlinks `r`'s reply node from reply chain `bucket`; false when it is
    /// not there.
    pub fn unlink_reply(&mut self, bucket: usize, r: S::Ref) -> bool {
        match self.replies.get_mut(bucket) {
            Some(slot) => unlink_at(slot, self.store, Chain::Reply, r),
            None => false,
        }
    }

    /// Visits the live entries at positions from `from` on in the bucket
    /// that holds position `from`, skipping the first `skip` of them,
    /// calling `f` until it returns false; `pos_of` gives an entry's
    /// position. With the next bucket's first position (`None` after the
    /// stripe's last bucket), where a walk of the whole stripe goes on.
    ///
    /// A walk that remembers positions lists each entry that stays in the
    /// table exactly once even when the stripe is resized between two
    /// calls: entries below `from`, already listed from an older, finer
    /// array, are left out by position.
    pub fn walk_from<F: FnMut(S::Ref, &Entry) -> bool>(
        &self,
        from: u32,
        skip: usize,
        now: Millis,
        pos_of: impl Fn(&Entry, Option<[u64; 4]>) -> u32,
        mut f: F,
    ) -> (Walk, Option<u32>) {
        let n = self.buckets.len();
        let b = self.bucket(from);
        let next = bucket_start(n, b.saturating_add(1));
        // Only a walk resumed inside a bucket (the array changed since)
        // needs to look at positions.
        let partial = bucket_start(n, b).is_some_and(|start| from > start);
        let walk = self.walk(b, skip, now, |r, e| {
            if partial && pos_of(e, self.store.addrs6(r)) < from {
                return true;
            }
            f(r, e)
        });
        (walk, next)
    }

    /// [`Stripe::walk_from`] in (position, key) order, after `after` (the
    /// last entry listed, if any): for a bucket too long for one buffer,
    /// listed over several calls. Order and resume point depend on the
    /// entries alone, not on their chain or on the array, so the entries
    /// that stay are listed exactly once however the stripe changes
    /// between calls. Each entry listed costs one walk of the chain: only
    /// for the rare bucket that does not fit.
    pub fn walk_sorted<F: FnMut(S::Ref, &Entry) -> bool>(
        &self,
        from: u32,
        after: Option<SortKey>,
        now: Millis,
        pos_of: impl Fn(&Entry, Option<[u64; 4]>) -> u32,
        mut f: F,
    ) -> Sorted {
        let n = self.buckets.len();
        let b = self.bucket(from);
        let mut last = after;
        loop {
            // The smallest (position, key) above `last`.
            let mut best: Option<(SortKey, S::Ref)> = None;
            let mut cur = self.head(b);
            while let Some(r) = cur {
                let Some((e, next)) = self.store.entry_and_next(r) else { break };
                if live(e, now) {
                    let k = SortKey { pos: pos_of(e, self.store.addrs6(r)), key: e.key() };
                    let above = after_bound(last.as_ref(), &k) && k.pos >= from;
                    let smaller = match &best {
                        None => true,
                        Some((bk, _)) => k < *bk,
                    };
                    if above && smaller {
                        best = Some((k, r));
                    }
                }
                cur = next;
            }
            let Some((k, r)) = best else {
                return Sorted::Done(bucket_start(n, b.saturating_add(1)));
            };
            let Some(e) = self.store.entry(r) else {
                return Sorted::Done(bucket_start(n, b.saturating_add(1)));
            };
            if !f(r, e) {
                return Sorted::Stopped(last);
            }
            last = Some(k);
        }
    }

    /// Moves every entry linked in this stripe (expired and dying ones
    /// too) into the buckets `new` (an empty array of any non-zero length),
    /// by position (`pos_of`), leaving this stripe's array empty: the
    /// caller then swaps the arrays. An entry the store cannot read (never,
    /// for a linked one) goes to `new`'s first bucket, so nothing is lost.
    pub fn rehash_into(&mut self, new: &mut [Option<S::Ref>], pos_of: impl Fn(&Entry, Option<[u64; 4]>) -> u32) {
        let n = new.len();
        if n == 0 {
            return;
        }
        for b in 0..self.buckets.len() {
            let mut cur = self.buckets.get_mut(b).and_then(Option::take);
            while let Some(r) = cur {
                cur = self.store.next(r);
                let a = self.store.addrs6(r);
                let nb = self.store.entry(r).map_or(0, |e| bucket_in(n, pos_of(e, a)));
                if let Some(slot) = new.get_mut(nb) {
                    self.store.set_next(r, *slot);
                    *slot = Some(r);
                }
            }
        }
    }

    /// [`Stripe::rehash_into`] for the reply chains: moves every reply node
    /// into `new` (as long as the new bucket array), by the position of its
    /// reply tuple (`pos_of_key`), leaving this stripe's reply chains empty.
    pub fn rehash_replies_into(
        &mut self,
        new: &mut [Option<S::Ref>],
        pos_of_key: impl Fn(&[u64; 2]) -> u32,
    ) {
        self.rehash_chain_into(Chain::Reply, new, pos_of_key);
    }

    /// [`Stripe::rehash_into`] for the source chains, by the position of
    /// each node's source chain (`pos_of_orig` of its original key: the
    /// position of its [`source_hash`]).
    pub fn rehash_sources_into(
        &mut self,
        new: &mut [Option<S::Ref>],
        pos_of_orig: impl Fn(&[u64; 2]) -> u32,
    ) {
        self.rehash_chain_into(Chain::Source, new, pos_of_orig);
    }

    /// Moves the reply or source chains into `new`.
    fn rehash_chain_into(&mut self, chain: Chain, new: &mut [Option<S::Ref>], pos_of_key: impl Fn(&[u64; 2]) -> u32) {
        let n = new.len();
        if n == 0 {
            return;
        }
        let heads = match chain {
            Chain::Source => &mut *self.sources,
            _ => &mut *self.replies,
        };
        for b in 0..heads.len() {
            let mut cur = heads.get_mut(b).and_then(Option::take);
            while let Some(r) = cur {
                cur = chain.next(self.store, r);
                let key = match chain {
                    Chain::Source => self.store.nat_orig(r),
                    _ => self.store.reply_key(r),
                };
                let nb = key.map_or(0, |k| bucket_in(n, pos_of_key(&k)));
                if let Some(slot) = new.get_mut(nb) {
                    link_at(slot, self.store, chain, r);
                }
            }
        }
    }

    /// Links `r` at the head of `bucket`. Returns false (and links nothing)
    /// when `bucket` is out of range.
    pub fn link(&mut self, bucket: usize, r: S::Ref) -> bool {
        match self.buckets.get_mut(bucket) {
            Some(slot) => link_at(slot, self.store, Chain::Main, r),
            None => false,
        }
    }

    /// Unlinks `r` from `bucket`'s chain; false when it is not there.
    pub fn unlink(&mut self, bucket: usize, r: S::Ref) -> bool {
        match self.buckets.get_mut(bucket) {
            Some(slot) => unlink_at(slot, self.store, Chain::Main, r),
            None => false,
        }
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

    /// Picks the entries to evict to make room for a flow hashing to
    /// `bucket`: looks at the buckets from `bucket` on, at most
    /// [`EVICTION_RANGE`] of them (wrapping within the stripe), and takes
    /// every candidate of the first that has one, as 6.12's `early_drop`
    /// and `early_drop_list` do: its expired entries (they cost nothing)
    /// and its non-ASSURED ones, at most [`EARLY_DROP_MAX`]. One scan then
    /// makes room for the next new flows of a full table too. `None` when
    /// every entry there is assured and live.
    pub fn early_drop_victims(&self, bucket: usize, now: Millis) -> Option<Victims<S::Ref>> {
        let n = self.buckets.len();
        if n == 0 {
            return None;
        }
        let mut b = bucket.checked_rem(n).unwrap_or(0);
        for _ in 0..EVICTION_RANGE.min(n) {
            let mut found = Victims {
                bucket: b,
                entries: [None; EARLY_DROP_MAX],
                expired: 0,
            };
            let mut slots = found.entries.iter_mut().enumerate();
            let mut cur = self.head(b);
            while let Some(r) = cur {
                let Some((e, next)) = self.store.entry_and_next(r) else {
                    cur = self.store.next(r);
                    continue;
                };
                let expired = e.expired(now);
                if !e.status.has(Status::DYING) && (expired || !e.status.has(Status::ASSURED)) {
                    match slots.next() {
                        Some((i, slot)) => {
                            *slot = Some(r);
                            found.expired |= u16::from(expired).wrapping_shl(u32::try_from(i).unwrap_or(0));
                        }
                        None => break,
                    }
                }
                cur = next;
            }
            if found.entries.first().is_some_and(Option::is_some) {
                return Some(found);
            }
            b = b.wrapping_add(1);
            if b >= n {
                b = 0;
            }
        }
        None
    }
}

/// Which of an entry's two links a chain uses.
#[derive(Clone, Copy)]
enum Chain {
    /// The main chains (every linked entry).
    Main,
    /// The reply chains (NATed entries' reply nodes).
    Reply,
    /// The source chains (source-NATed entries by original source).
    Source,
}

impl Chain {
    fn next<S: Store>(self, store: &S, r: S::Ref) -> Option<S::Ref> {
        match self {
            Chain::Main => store.next(r),
            Chain::Reply => store.reply_next(r),
            Chain::Source => store.src_next(r),
        }
    }

    fn set_next<S: Store>(self, store: &mut S, r: S::Ref, next: Option<S::Ref>) {
        match self {
            Chain::Main => store.set_next(r, next),
            Chain::Reply => store.set_reply_next(r, next),
            Chain::Source => store.set_src_next(r, next),
        }
    }

    /// The node before `r`, where the chain records it (source chains).
    fn prev<S: Store>(self, store: &S, r: S::Ref) -> Option<S::Ref> {
        match self {
            Chain::Source => store.src_prev(r),
            Chain::Main | Chain::Reply => None,
        }
    }

    fn set_prev<S: Store>(self, store: &mut S, r: S::Ref, prev: Option<S::Ref>) {
        if let Chain::Source = self {
            store.set_src_prev(r, prev);
        }
    }
}

/// Links `r` at the head of the chain `slot` heads.
fn link_at<S: Store>(slot: &mut Option<S::Ref>, store: &mut S, chain: Chain, r: S::Ref) -> bool {
    chain.set_next(store, r, *slot);
    chain.set_prev(store, r, None);
    if let Some(head) = *slot {
        chain.set_prev(store, head, Some(r));
    }
    *slot = Some(r);
    true
}

/// Unlinks `r` from the chain `slot` heads; false when it is not there.
/// Without a walk where the chain records the node before `r`.
fn unlink_at<S: Store>(slot: &mut Option<S::Ref>, store: &mut S, chain: Chain, r: S::Ref) -> bool {
    if let Some(p) = chain.prev(store, r) {
        if chain.next(store, p) == Some(r) {
            let next = chain.next(store, r);
            chain.set_next(store, p, next);
            unlinked(store, chain, r, next, Some(p));
            return true;
        }
    }
    let mut prev: Option<S::Ref> = None;
    let mut cur = *slot;
    while let Some(c) = cur {
        let next = chain.next(store, c);
        if c == r {
            match prev {
                None => *slot = next,
                Some(p) => chain.set_next(store, p, next),
            }
            unlinked(store, chain, r, next, prev);
            return true;
        }
        prev = Some(c);
        cur = next;
    }
    false
}

/// Clears the links of `r`, just unlinked from between `prev` and `next`.
fn unlinked<S: Store>(store: &mut S, chain: Chain, r: S::Ref, next: Option<S::Ref>, prev: Option<S::Ref>) {
    if let Some(n) = next {
        chain.set_prev(store, n, prev);
    }
    chain.set_next(store, r, None);
    chain.set_prev(store, r, None);
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
                next = r.end;
            }
            assert_eq!(next, b as usize);
            // A resize keeps the stripes and gives each at least a bucket.
            let small = l.resized(1);
            assert_eq!((small.stripes(), small.buckets()), (s, s));
            assert_eq!(l.resized(3 * b).buckets(), 3 * b);
        }
    }

    #[test]
    fn locate_takes_the_stripe_from_the_top_bits() {
        for s in [1u32, 2, 64, 1024] {
            let l = Layout::new(4096, s).unwrap();
            let shift = s.trailing_zeros();
            for h in [0u64, u64::MAX, 1 << 63, (1 << 63) - 1, 0x0123_4567_89ab_cdef] {
                let (st, pos) = l.locate(h);
                let top = if shift == 0 { 0 } else { (h >> (64 - shift)) as u32 };
                assert_eq!(st, top);
                assert_eq!(pos, ((h << shift) >> 32) as u32);
            }
        }
    }

    #[test]
    fn buckets_are_consecutive_position_ranges() {
        for len in [1usize, 2, 3, 7, 16, 1000, 65_537] {
            assert_eq!(bucket_start(len, 0), Some(0));
            assert_eq!(bucket_start(len, len), None);
            assert_eq!(bucket_in(len, 0), 0);
            assert_eq!(bucket_in(len, u32::MAX), len - 1);
            let step = (len / 50).max(1);
            for b in (1..len).step_by(step) {
                let start = bucket_start(len, b).unwrap();
                assert_eq!(bucket_in(len, start), b, "len {len} bucket {b}");
                assert_eq!(bucket_in(len, start - 1), b - 1, "len {len} bucket {b}");
            }
        }
        let round = DumpPos { stripe: 3, pos: 77 };
        assert_eq!(DumpPos::from_u64(round.to_u64()), round);
        assert_eq!(round.after(Some(90)), DumpPos { stripe: 3, pos: 90 });
        assert_eq!(round.after(None), DumpPos { stripe: 4, pos: 0 });
        assert!(round.after(None).to_u64() > round.to_u64());
    }

    use crate::entry::Entry;
    use crate::proto::ProtoState;
    use crate::tuple::{proto, L4};
    use std::vec;
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

    /// A store whose entries may have reply nodes: (entry, next, reply
    /// key, next reply node).
    type Node = (Entry, Option<usize>, Option<[u64; 2]>, Option<usize>);
    struct Nodes(Vec<Node>);

    impl Store for Nodes {
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
        fn reply_key(&self, r: usize) -> Option<[u64; 2]> {
            self.0.get(r).and_then(|s| s.2)
        }
        fn reply_next(&self, r: usize) -> Option<usize> {
            self.0.get(r).and_then(|s| s.3)
        }
        fn set_reply_next(&mut self, r: usize, next: Option<usize>) {
            if let Some(s) = self.0.get_mut(r) {
                s.3 = next;
            }
        }
    }

    fn udp(src: u32, sport: u16, dst: u32, dport: u16) -> Tuple {
        Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: proto::UDP, l4: L4::Ports { sport, dport } }
    }

    #[test]
    fn taken_finds_reply_nodes_by_either_key() {
        // Entry 0 was source-NATed: its reply comes back to 9:4000.
        let reply = udp(2, 53, 9, 4000);
        let other = udp(2, 53, 9, 4001);
        let c = Status::CONFIRMED | Status::SRC_NAT;
        let mut store = Nodes(vec![
            (Entry::new(udp(1, 1000, 2, 53), Status(c), 100, ProtoState::Generic), None, Some(other.key()), None),
            (Entry::new(udp(1, 1001, 2, 53), Status(c), 100, ProtoState::Generic), None, Some(reply.key()), None),
        ]);
        let (mut buckets, mut replies) = ([None; 4], [None; 4]);
        let mut st = Stripe::with_replies(&mut buckets, &mut replies, &mut store);
        assert!(st.link_reply(2, 1));
        assert!(st.link_reply(2, 0));
        assert!(st.taken(2, &reply.keys(), 10));
        assert!(st.taken(2, &reply.invert().unwrap().keys(), 10), "the inverse key too");
        assert_eq!(st.reply_holder(2, &reply.keys()), Some(1));
        assert_eq!(st.reply_holder(2, &other.invert().unwrap().keys()), Some(0));
        assert!(!st.taken(2, &udp(2, 53, 9, 4002).keys(), 10));
        assert!(!st.taken(1, &reply.keys(), 10), "another bucket");
    }

    #[test]
    fn claiming_a_reply_is_refused_when_taken_and_idempotent_for_its_owner() {
        let reply = udp(2, 53, 9, 4000);
        let n = |port| {
            let e = Entry::new(udp(1, port, 2, 53), Status(Status::SRC_NAT), 100, ProtoState::Generic);
            (e, None, Some(reply.key()), None)
        };
        let mut store = Nodes(vec![n(1000), n(1001)]);
        let (mut buckets, mut replies) = ([None; 4], [None; 4]);
        let mut st = Stripe::with_replies(&mut buckets, &mut replies, &mut store);
        let mut stats = crate::stats::Stats::ZERO;
        let keys = reply.keys();
        assert!(crate::track::claim_reply(&mut st, 3, 0, &keys, 10, &mut stats));
        // A clone of the packet confirming the same entry: still its own.
        assert!(crate::track::claim_reply(&mut st, 3, 0, &keys, 10, &mut stats));
        assert_eq!(st.reply_holder(3, &keys), Some(0));
        // Another entry wanting the same reply tuple is refused, unlinked.
        assert!(!crate::track::claim_reply(&mut st, 3, 1, &keys, 10, &mut stats));
        assert_eq!(stats.insert_failed, 1);
        assert!(!st.unlink_reply(3, 1));
        // Nor when a live entry's own tuples are the reply (main chain).
        let (mut buckets, mut replies) = ([None; 4], [None; 4]);
        let mut store = Nodes(vec![
            (Entry::new(reply.invert().unwrap(), Status(Status::CONFIRMED), 100, ProtoState::Generic), None, None, None),
            n(1001),
        ]);
        let mut st = Stripe::with_replies(&mut buckets, &mut replies, &mut store);
        assert!(st.link(3, 0));
        assert!(!crate::track::claim_reply(&mut st, 3, 1, &keys, 10, &mut stats));
        assert!(!st.unlink_reply(3, 1));
    }

    /// Source-NATed entries with source chain links: (entry, next, src
    /// next, src prev); `prev` false keeps no back links. Counts the
    /// forward steps taken.
    type SrcNode = (Entry, Option<usize>, Option<usize>, Option<usize>);
    struct Srcs {
        v: Vec<SrcNode>,
        prev: bool,
        steps: core::cell::Cell<usize>,
    }

    impl Store for Srcs {
        type Ref = usize;
        fn entry(&self, r: usize) -> Option<&Entry> {
            self.v.get(r).map(|s| &s.0)
        }
        fn entry_mut(&mut self, r: usize) -> Option<&mut Entry> {
            self.v.get_mut(r).map(|s| &mut s.0)
        }
        fn next(&self, r: usize) -> Option<usize> {
            self.v.get(r).and_then(|s| s.1)
        }
        fn set_next(&mut self, r: usize, next: Option<usize>) {
            if let Some(s) = self.v.get_mut(r) {
                s.1 = next;
            }
        }
        fn nat_orig(&self, r: usize) -> Option<[u64; 2]> {
            self.v.get(r).map(|s| s.0.key())
        }
        fn src_next(&self, r: usize) -> Option<usize> {
            self.steps.set(self.steps.get() + 1);
            self.v.get(r).and_then(|s| s.2)
        }
        fn set_src_next(&mut self, r: usize, next: Option<usize>) {
            if let Some(s) = self.v.get_mut(r) {
                s.2 = next;
            }
        }
        fn src_prev(&self, r: usize) -> Option<usize> {
            self.v.get(r).and_then(|s| s.3).filter(|_| self.prev)
        }
        fn set_src_prev(&mut self, r: usize, prev: Option<usize>) {
            if let Some(s) = self.v.get_mut(r) {
                s.3 = prev;
            }
        }
    }

    fn source_chain(st: &Stripe<'_, Srcs>, bucket: usize) -> Vec<usize> {
        let mut got = Vec::new();
        let mut cur = st.sources.get(bucket).copied().flatten();
        while let Some(r) = cur {
            got.push(r);
            cur = st.store.src_next(r);
        }
        got
    }

    #[test]
    fn source_nodes_unlink_without_a_walk() {
        for prev in [true, false] {
            let mut store = Srcs {
                v: (0..6u16).map(|i| (entry(i, 100, Status::CONFIRMED | Status::SRC_NAT), None, None, None)).collect(),
                prev,
                steps: core::cell::Cell::new(0),
            };
            let (mut buckets, mut replies, mut sources) = ([None; 4], [None; 4], [None; 4]);
            let mut st = Stripe::with_replies(&mut buckets, &mut replies, &mut store).with_sources(&mut sources);
            for r in 0..6 {
                assert!(st.link_src(1, r));
            }
            assert_eq!(source_chain(&st, 1), [5, 4, 3, 2, 1, 0]);
            // The oldest (what early drop evicts), one in the middle, the
            // newest, and one that is not there.
            for (r, left) in [(0, &[5, 4, 3, 2, 1][..]), (3, &[5, 4, 2, 1]), (5, &[4, 2, 1])] {
                st.store.steps.set(0);
                assert!(st.unlink_src(1, r));
                let steps = st.store.steps.get();
                assert_eq!(source_chain(&st, 1), left);
                if prev {
                    assert!(steps <= 2, "unlinking {r} took {steps} steps");
                }
            }
            assert!(!st.unlink_src(1, 3));
            assert!(!st.unlink_src(2, 4));
            assert_eq!(source_chain(&st, 1), [4, 2, 1]);
            // Moved to a larger array, the links stay right.
            let mut bigger = [None; 8];
            st.rehash_sources_into(&mut bigger, |k| (k[1] & 7) as u32);
            let mut st = Stripe::with_replies(&mut buckets, &mut replies, &mut store).with_sources(&mut bigger);
            let mut all: Vec<usize> = (0..8).flat_map(|b| source_chain(&st, b)).collect();
            all.sort();
            assert_eq!(all, [1, 2, 4]);
            for r in [1, 4, 2] {
                let b = (0..8).find(|&b| source_chain(&st, b).contains(&r)).unwrap();
                st.store.steps.set(0);
                assert!(st.unlink_src(b, r));
                if prev {
                    assert!(st.store.steps.get() <= 2);
                }
                assert!(!source_chain(&st, b).contains(&r));
            }
            assert!((0..8).all(|b| source_chain(&st, b).is_empty()));
        }
    }

    fn entry(port: u16, deadline: Millis, status: u32) -> Entry {
        Entry::new(Tuple {
                src: crate::tuple::Addr::V4(1),
                dst: crate::tuple::Addr::V4(2),
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
    fn early_drop_takes_every_candidate_of_the_first_bucket_with_one() {
        let a = Status::CONFIRMED | Status::ASSURED;
        let c = Status::CONFIRMED;
        let mut store = Slots(
            [
                entry(0, 500, c),
                entry(1, 300, a),
                entry(2, 400, c),
                entry(3, 50, a),
                entry(4, 200, c),
                entry(5, 450, c),
                entry(6, 20, c),
                entry(7, 600, a),
            ]
            .into_iter()
            .map(|e| (e, None))
            .collect(),
        );
        let mut buckets = [None; 10];
        let mut st = Stripe::new(&mut buckets, &mut store);
        st.link(9, 1);
        st.link(0, 2);
        st.link(0, 7);
        st.link(0, 0);
        st.link(0, 5);
        st.link(3, 3);
        // Bucket 8 is outside the range starting at 9 (9, 0, .., 6).
        st.link(8, 4);
        let victims = |st: &Stripe<'_, Slots>, b, now| {
            st.early_drop_victims(b, now).map(|v| {
                (0..EARLY_DROP_MAX)
                    .filter_map(|i| v.entries[i].map(|r| (r, v.bucket, v.expired >> i & 1 == 1)))
                    .collect::<Vec<_>>()
            })
        };
        // Bucket 9 holds only an assured entry; the search wraps to bucket
        // 0 and takes all its non-assured entries (chain order), though
        // bucket 8 (out of range) has one closer to expiry.
        assert_eq!(victims(&st, 9, 10), Some(vec![(5, 0, false), (0, 0, false), (2, 0, false)]));
        // Expired entries go too, marked so (not counted as early drops).
        assert_eq!(victims(&st, 0, 420), Some(vec![(5, 0, false), (0, 0, false), (2, 0, true)]));
        // Once a bucket has a candidate no later one is read, even for an
        // expired entry; with none before it, an expired entry goes even
        // when assured.
        assert_eq!(victims(&st, 9, 60), Some(vec![(5, 0, false), (0, 0, false), (2, 0, false)]));
        st.unlink(0, 2);
        st.unlink(0, 0);
        st.unlink(0, 5);
        assert_eq!(victims(&st, 9, 60), Some(vec![(3, 3, true)]));
        // The bucket the flow hashes to comes first, though a later one
        // has an entry closer to expiry.
        st.link(9, 6);
        assert_eq!(victims(&st, 8, 10), Some(vec![(4, 8, false)]));
        // Only assured entries in range: none.
        st.unlink(8, 4);
        st.unlink(9, 6);
        assert_eq!(victims(&st, 9, 10), None);
    }

    #[test]
    fn early_drop_takes_at_most_its_bound_from_one_bucket() {
        let n = EARLY_DROP_MAX + 4;
        let mut store = Slots((0..n).map(|i| (entry(i as u16, 100, Status::CONFIRMED), None)).collect());
        let mut buckets = [None; 2];
        let mut st = Stripe::new(&mut buckets, &mut store);
        for r in 0..n {
            st.link(1, r);
        }
        let v = st.early_drop_victims(1, 10).unwrap();
        assert_eq!(v.entries.iter().flatten().count(), EARLY_DROP_MAX);
        // Chain order: the head (last linked) first.
        assert_eq!(v.entries[0], Some(n - 1));
        assert_eq!(v.expired, 0);
    }

    #[test]
    fn positions_spread_over_any_bucket_count() {
        let key = crate::hash::HashKey::new(7, 9);
        let l = Layout::new(1000, 8).unwrap();
        let mut seen = [0u32; 125];
        for i in 0..100_000u64 {
            let (st, pos) = l.locate(crate::hash::siphash(&key, &i.to_le_bytes()));
            if st == 0 {
                seen[bucket_in(125, pos)] += 1;
            }
        }
        // About 100 per bucket.
        assert!(seen.iter().all(|&n| n > 50 && n < 170), "{seen:?}");
    }

    #[test]
    fn rehash_moves_every_entry_and_walks_resume_by_position() {
        // Entry i sits at position i * 2^26 (64 positions over the stripe).
        let pos_of = |e: &Entry, _: Option<[u64; 4]>| {
            let Tuple { l4: L4::Ports { sport, .. }, .. } = e.orig() else { return 0 };
            u32::from(sport) << 26
        };
        let mut store = Slots((0..64u16).map(|i| (entry(i, 100, Status::CONFIRMED), None)).collect());
        let mut heads = vec![None; 5];
        let mut st = Stripe::new(&mut heads, &mut store);
        for r in 0..64 {
            let b = st.bucket(pos_of(st.store.entry(r).unwrap(), None));
            st.link(b, r);
        }
        // List the first two buckets of five, then resize to 13 and go on.
        let mut listed = Vec::new();
        let mut at = DumpPos::default();
        for _ in 0..2 {
            let (_, next) = st.walk_from(at.pos, 0, 0, pos_of, |r, _| {
                listed.push(r);
                true
            });
            at = at.after(next);
        }
        let mut bigger = vec![None; 13];
        st.rehash_into(&mut bigger, pos_of);
        assert!(st.buckets.iter().all(Option::is_none));
        let mut st = Stripe::new(&mut bigger, st.store);
        assert_eq!((0..13).map(|b| st.chain_len(b)).sum::<usize>(), 64);
        while at.stripe == 0 {
            let (_, next) = st.walk_from(at.pos, 0, 0, pos_of, |r, _| {
                listed.push(r);
                true
            });
            at = at.after(next);
            if at.stripe == 0 && at.pos > (40 << 26) {
                // Shrink mid-dump too.
                let mut smaller = vec![None; 2];
                st.rehash_into(&mut smaller, pos_of);
                let rest = Stripe::new(&mut smaller, st.store);
                let (_, next) = rest.walk_from(at.pos, 0, 0, pos_of, |r, _| {
                    listed.push(r);
                    true
                });
                at = at.after(next);
                while at.stripe == 0 {
                    let (_, next) = rest.walk_from(at.pos, 0, 0, pos_of, |r, _| {
                        listed.push(r);
                        true
                    });
                    at = at.after(next);
                }
                break;
            }
        }
        listed.sort_unstable();
        assert_eq!(listed, (0..64).collect::<Vec<_>>());
    }
}
