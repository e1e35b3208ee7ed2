//! A single-threaded tracker for the host: tests, fuzzing and benchmarks.
//! Never part of the kernel module.
//!
//! It runs the same table, driver and expiry code as the kernel shell and
//! models the kernel's flow: a packet is tracked (PRE_ROUTING/LOCAL_OUT),
//! a new entry stays attached to it unconfirmed, and it is confirmed when
//! the packet leaves (POST_ROUTING/LOCAL_IN) or freed when the filter drops
//! the packet. Entries live in a `Vec` with a free list; references are
//! slot indices. The host does not count references from packets: an entry
//! is freed as soon as it leaves the table.

use std::string::String;
use std::vec::Vec;

use crate::config::Config;
use crate::ctinfo::CtInfo;
pub use crate::driver::DropReason;
use crate::driver::{self, Confirmed, Shell};
use crate::entry::{Entry, Status};
use crate::expiry::{self, Cursor, Progress};
use crate::flow_note::FlowNote;
use crate::hash::HashKey;
use crate::invalid::Invalid;
use crate::nat::carried::Hashed;
use crate::packet::{parse_any, Packet};
use crate::stats::{Counter, Stats};
use crate::table::{bucket_in, usize_from, DumpPos, Layout, Store, Stripe};
use crate::track;
use crate::tuple::{Dir, Tuple};
use crate::Millis;

/// An entry reference on the host: a slot index.
pub type Ref = u32;

/// One entry and its chain link, cache-line aligned with the link and the
/// entry's tuple in the first line, so walking past an entry touches one
/// line (a kernel slab cache would be created with `SLAB_HWCACHE_ALIGN`).
#[repr(C, align(64))]
struct Slot {
    next: Option<Ref>,
    entry: Option<Entry>,
    /// The reply node: the reply tuple's key when NAT changed it, and the
    /// reply chain link.
    reply: Option<[u64; 2]>,
    reply_next: Option<Ref>,
    /// The source chain links.
    src_next: Option<Ref>,
    src_prev: Option<Ref>,
    /// The source node's state ([`Store::src_mark`]): 0 never linked, 1
    /// linked, 2 released.
    src_state: core::cell::Cell<u8>,
    /// An IPv6 entry's address words ([`Store::addrs6`]).
    addrs6: Option<[u64; 4]>,
}

/// Entries in a `Vec`, with a free list of slots.
#[derive(Default)]
pub struct VecStore {
    slots: Vec<Slot>,
    free: Vec<Ref>,
    /// The hash of the last entry allocated through the driver, as one
    /// CPU's note would keep it: any later entry, freed slots reused
    /// included, overwrites it ([`crate::flow_note`]).
    flow_note: Option<FlowNote<Ref>>,
}

impl VecStore {
    /// Stores `e` and returns its reference.
    pub fn alloc(&mut self, e: Entry) -> Ref {
        self.alloc6(e, None)
    }

    /// Stores `e`, an IPv6 entry when `addrs6` holds its address words.
    pub fn alloc6(&mut self, e: Entry, addrs6: Option<[u64; 4]>) -> Ref {
        let slot = Slot {
            addrs6,
            entry: Some(e),
            next: None,
            reply: None,
            reply_next: None,
            src_next: None,
            src_prev: None,
            src_state: core::cell::Cell::new(0),
        };
        if let Some(r) = self.free.pop() {
            if let Some(s) = self.slots.get_mut(r as usize) {
                *s = slot;
                return r;
            }
        }
        let r = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push(slot);
        r
    }

    /// Frees `r`'s slot; false when it was not live.
    pub fn release(&mut self, r: Ref) -> bool {
        match self.slots.get_mut(r as usize) {
            Some(s) if s.entry.is_some() => {
                s.entry = None;
                s.next = None;
                s.reply = None;
                s.reply_next = None;
                s.src_next = None;
                s.src_prev = None;
                self.free.push(r);
                true
            }
            _ => false,
        }
    }

    /// Slots ever allocated (live or free).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

impl Store for VecStore {
    type Ref = Ref;

    fn entry(&self, r: Ref) -> Option<&Entry> {
        self.slots.get(r as usize).and_then(|s| s.entry.as_ref())
    }

    fn entry_mut(&mut self, r: Ref) -> Option<&mut Entry> {
        self.slots
            .get_mut(r as usize)
            .and_then(|s| s.entry.as_mut())
    }

    fn next(&self, r: Ref) -> Option<Ref> {
        self.slots.get(r as usize).and_then(|s| s.next)
    }

    fn set_next(&mut self, r: Ref, next: Option<Ref>) {
        if let Some(s) = self.slots.get_mut(r as usize) {
            s.next = next;
        }
    }

    fn addrs6(&self, r: Ref) -> Option<[u64; 4]> {
        self.slots.get(r as usize).and_then(|s| s.addrs6)
    }

    fn reply_key(&self, r: Ref) -> Option<[u64; 2]> {
        self.slots.get(r as usize).and_then(|s| s.reply)
    }

    fn reply_next(&self, r: Ref) -> Option<Ref> {
        self.slots.get(r as usize).and_then(|s| s.reply_next)
    }

    fn set_reply_next(&mut self, r: Ref, next: Option<Ref>) {
        if let Some(s) = self.slots.get_mut(r as usize) {
            s.reply_next = next;
        }
    }

    fn nat_orig(&self, r: Ref) -> Option<[u64; 2]> {
        let s = self.slots.get(r as usize)?;
        s.reply?;
        s.entry.as_ref().map(Entry::key)
    }

    fn src_next(&self, r: Ref) -> Option<Ref> {
        self.slots.get(r as usize).and_then(|s| s.src_next)
    }

    fn set_src_next(&mut self, r: Ref, next: Option<Ref>) {
        if let Some(s) = self.slots.get_mut(r as usize) {
            s.src_next = next;
        }
    }

    fn src_prev(&self, r: Ref) -> Option<Ref> {
        self.slots.get(r as usize).and_then(|s| s.src_prev)
    }

    fn set_src_prev(&mut self, r: Ref, prev: Option<Ref>) {
        if let Some(s) = self.slots.get_mut(r as usize) {
            s.src_prev = prev;
        }
    }

    fn src_mark(&self, r: Ref, link: bool) -> bool {
        let Some(s) = self.slots.get(r as usize) else { return false };
        let old = s.src_state.get();
        if link {
            if old != 0 {
                return false;
            }
            s.src_state.set(1);
            true
        } else {
            s.src_state.set(2);
            old == 1
        }
    }
}

impl VecStore {
    /// Gives the unconfirmed entry `r` the reply tuple of key `reply` (a
    /// NAT binding; `None`: none).
    pub fn set_reply(&mut self, r: Ref, reply: Option<[u64; 2]>) {
        if let Some(s) = self.slots.get_mut(r as usize) {
            s.reply = reply;
        }
    }
}

/// What happened to a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Tracked: the packet carries `entry` with `ctinfo`.
    Accept {
        /// The entry the packet belongs (or relates) to.
        entry: Ref,
        /// Its classification.
        ctinfo: CtInfo,
    },
    /// INVALID: no entry.
    Invalid(Invalid),
    /// Left untracked (`IP_CT_UNTRACKED`): no entry, not INVALID.
    Untracked,
    /// Dropped by the tracker.
    Drop(DropReason),
}

impl Verdict {
    /// The classification, if tracked.
    pub fn ctinfo(&self) -> Option<CtInfo> {
        match self {
            Verdict::Accept { ctinfo, .. } => Some(*ctinfo),
            _ => None,
        }
    }
}

/// A tracked packet between [`Tracker::track`] and [`Tracker::confirm`]
/// (what `skb->_nfct` holds in the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attached {
    /// The entry.
    pub entry: Ref,
    /// The classification.
    pub ctinfo: CtInfo,
    /// The entry was created for this packet and is not in the table yet.
    pub unconfirmed: bool,
}

/// The tracking result before confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracked {
    /// The packet carries an entry.
    Attached(Attached),
    /// INVALID.
    Invalid(Invalid),
    /// Left untracked.
    Untracked,
    /// Dropped at tracking time (table full).
    Drop(DropReason),
}

/// The table of a [`Tracker`]: what the driver's [`Shell`] reaches.
struct HostTable {
    layout: Layout,
    key: HashKey,
    max: usize,
    /// Each stripe's bucket array.
    stripes: Vec<Vec<Option<Ref>>>,
    /// Each stripe's reply chains (as long as its bucket array).
    replies: Vec<Vec<Option<Ref>>>,
    /// Each stripe's source chains (as long as its bucket array).
    sources: Vec<Vec<Option<Ref>>>,
    store: VecStore,
    count: usize,
    /// Entries freed since the tracker last folded this into its stats.
    deleted: u32,
}

impl HostTable {
    fn free(&mut self, r: Ref) {
        if self.store.release(r) {
            self.count = self.count.saturating_sub(1);
            self.deleted = self.deleted.wrapping_add(1);
        }
    }
}

impl Shell for HostTable {
    type Ref = Ref;
    type Held = Ref;
    type Store<'l> = VecStore;

    fn layout(&self) -> Layout {
        self.layout
    }

    fn key(&self) -> HashKey {
        self.key
    }

    fn with_stripe<R>(
        &mut self,
        s: u32,
        f: impl for<'a, 'l> FnOnce(&mut Stripe<'a, VecStore>) -> R,
    ) -> Option<R> {
        if s >= self.layout.stripes() {
            return None;
        }
        let mut stripe = stripe_of(&mut self.stripes, &mut self.replies, &mut self.store, s);
        let sources = match self.sources.get_mut(usize_from(s)) {
            Some(v) => v.as_mut_slice(),
            None => &mut [],
        };
        stripe = stripe.with_sources(sources);
        Some(f(&mut stripe))
    }

    fn stripe_of(&self, r: Ref) -> Option<u32> {
        let orig = self.store.orig(r)?;
        Some(self.layout.locate(orig.flow_hash(&self.key)).0)
    }

    fn held_ref(held: &Ref) -> Ref {
        *held
    }

    // The host table carries no hashes: computed here, they are what the
    // kernel's NAT state carries (`crate::nat::carried`).
    fn nat_reply(&self, r: Ref) -> Option<Hashed> {
        self.store.reply_key(r).map(|k| Hashed::flow(k, &self.key))
    }

    fn src_nat_orig(&self, r: Ref) -> Option<Hashed> {
        let e = self.store.entry(r)?;
        let orig = self.store.nat_orig(r).filter(|_| e.status.has(Status::SRC_NAT))?;
        Some(Hashed::source(orig, &self.key))
    }

    fn hold(_: &VecStore, r: Ref) -> Ref {
        // The host counts no packet references.
        r
    }

    fn linked(_: &VecStore, _: Ref) {}

    fn closing(_: &VecStore) -> bool {
        false
    }

    fn reserve(&mut self) -> bool {
        if track::admit(self.count, self.max) {
            self.count = self.count.saturating_add(1);
            true
        } else {
            false
        }
    }

    fn alloc(&mut self, _: u32, e: Entry, addrs6: Option<[u64; 4]>, hash: Option<u64>) -> Option<Ref> {
        let key = e.key();
        let r = self.store.alloc6(e, addrs6);
        self.store.flow_note = hash.map(|hash| FlowNote::Apart { entry: r, key, addrs6, hash });
        Some(r)
    }

    fn carried(store: &VecStore, _: Ref) -> Option<FlowNote<Ref>> {
        store.flow_note
    }

    fn release(&mut self, r: Ref) {
        self.free(r);
    }
}

/// The table's answers to the NAT tuple choice.
struct Taken<'a> {
    table: &'a HostTable,
    now: Millis,
}

impl crate::nat::unique::Clash for Taken<'_> {
    fn taken(&self, reply: &Tuple) -> bool {
        let t = self.table;
        let keys = reply.keys();
        let (s, pos) = t.layout.locate(keys.flow_hash(&t.key));
        let chain = |heads: Option<&Vec<Option<Ref>>>| {
            heads.and_then(|h| h.get(bucket_in(h.len(), pos)).copied().flatten())
        };
        let live = |e: &Entry| !e.expired(self.now) && !e.status.has(Status::DYING);
        let mut cur = chain(t.stripes.get(usize_from(s)));
        while let Some(r) = cur {
            if let Some(e) = t.store.entry(r).filter(|e| live(e)) {
                if e.direction_of(reply, t.store.reply_key(r), t.store.addrs6(r)).is_some() {
                    return true;
                }
            }
            cur = t.store.next(r);
        }
        let mut cur = chain(t.replies.get(usize_from(s)));
        while let Some(r) = cur {
            let k = t.store.reply_key(r);
            if k == Some(keys.key) || (k.is_some() && k == keys.inv) {
                return true;
            }
            cur = t.store.reply_next(r);
        }
        false
    }

    fn same_source(&self, orig: &Tuple, visit: &mut dyn FnMut(&Tuple) -> bool) {
        let t = self.table;
        let want = crate::table::source_tuple(orig);
        let (s, pos) = t.layout.locate(crate::table::source_hash(orig.key(), &t.key));
        let Some(heads) = t.sources.get(usize_from(s)) else { return };
        let mut cur = heads.get(bucket_in(heads.len(), pos)).copied().flatten();
        while let Some(r) = cur {
            let o = t.store.nat_orig(r).map(|k| crate::table::source_tuple(&Tuple::from_key(k)));
            if o == Some(want) {
                if let Some(reply) = t.store.reply_key(r) {
                    if visit(&Tuple::from_key(reply)) {
                        return;
                    }
                }
            }
            cur = t.store.src_next(r);
        }
    }
}

/// A single-threaded connection tracker over [`VecStore`].
pub struct Tracker {
    table: HostTable,
    cfg: Config,
    stats: Stats,
    cursor: Cursor,
}

/// A stripe view over stripe `stripe` of `stripes`; free function so the
/// borrow of the tracker's fields stays split.
fn stripe_of<'a>(
    stripes: &'a mut [Vec<Option<Ref>>],
    replies: &'a mut [Vec<Option<Ref>>],
    store: &'a mut VecStore,
    stripe: u32,
) -> Stripe<'a, VecStore> {
    let slice = match stripes.get_mut(usize_from(stripe)) {
        Some(v) => v.as_mut_slice(),
        None => &mut [],
    };
    let rslice = match replies.get_mut(usize_from(stripe)) {
        Some(v) => v.as_mut_slice(),
        None => &mut [],
    };
    Stripe::with_replies(slice, rslice, store)
}

impl Tracker {
    /// A tracker with `buckets` buckets (at least one; as many stripes as
    /// allowed), at most `max` entries (0: no limit), hash key `key`
    /// and settings `cfg`.
    pub fn new(buckets: u32, max: usize, key: HashKey, cfg: Config) -> Tracker {
        let layout = Layout::with_buckets(buckets);
        let arrays = || -> Vec<Vec<Option<Ref>>> {
            (0..layout.stripes())
                .map(|s| {
                    let mut b = Vec::new();
                    b.resize(layout.range(s).len(), None);
                    b
                })
                .collect()
        };
        Tracker {
            table: HostTable {
                layout,
                key,
                max,
                stripes: arrays(),
                replies: arrays(),
                sources: arrays(),
                store: VecStore::default(),
                count: 0,
                deleted: 0,
            },
            cfg,
            stats: Stats::default(),
            cursor: Cursor::new(),
        }
    }

    /// Adds the entries freed since the last call to the `delete` counter.
    fn fold_deletes(&mut self) {
        let n = core::mem::take(&mut self.table.deleted);
        self.stats.add_to(Counter::Delete, n);
    }

    /// The table layout.
    pub fn layout(&self) -> Layout {
        self.table.layout
    }

    /// The settings (timeouts may be changed at run time, like sysctls).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.cfg
    }

    /// Changes the entry limit (lowering it below the count is safe: new
    /// flows evict or drop until the count falls).
    pub fn set_max(&mut self, max: usize) {
        self.table.max = max;
    }

    /// Entries allocated: confirmed ones plus unconfirmed ones still
    /// attached to packets.
    pub fn count(&self) -> usize {
        self.table.count
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Parses and tracks one packet and confirms it at once: the packet
    /// passes the filter.
    pub fn packet(&mut self, bytes: &[u8], now: Millis) -> Verdict {
        match self.track(bytes, now) {
            Tracked::Attached(a) => self.confirm(a, now),
            Tracked::Invalid(why) => Verdict::Invalid(why),
            Tracked::Untracked => Verdict::Untracked,
            Tracked::Drop(d) => Verdict::Drop(d),
        }
    }

    /// Parses and tracks one packet (the PRE_ROUTING / LOCAL_OUT hook).
    pub fn track(&mut self, bytes: &[u8], now: Millis) -> Tracked {
        match parse_any(bytes, bytes.len()) {
            Ok(pkt) => self.track_packet(&pkt, now),
            Err(why) => {
                track::count_invalid(&mut self.stats, why);
                Tracked::Invalid(why)
            }
        }
    }

    /// Tracks an already parsed packet (the kernel's admission path:
    /// [`driver::track`]).
    #[inline]
    pub fn track_packet(&mut self, pkt: &Packet, now: Millis) -> Tracked {
        let t = driver::track(&mut self.table, pkt, now, &self.cfg, &mut self.stats);
        self.fold_deletes();
        match t {
            driver::Tracked::Attach(entry, ctinfo) => {
                let unconfirmed = self
                    .table
                    .store
                    .entry(entry)
                    .is_some_and(|e| !e.status.has(Status::CONFIRMED));
                Tracked::Attached(Attached {
                    entry,
                    ctinfo,
                    unconfirmed,
                })
            }
            driver::Tracked::Invalid(why) => Tracked::Invalid(why),
            driver::Tracked::Untracked => Tracked::Untracked,
            driver::Tracked::Drop(d) => Tracked::Drop(d),
        }
    }

    /// The packet passed the filter (POST_ROUTING / LOCAL_IN): confirms its
    /// entry if it created one ([`driver::confirm`]).
    pub fn confirm(&mut self, a: Attached, now: Millis) -> Verdict {
        if !a.unconfirmed {
            return Verdict::Accept {
                entry: a.entry,
                ctinfo: a.ctinfo,
            };
        }
        let Some(orig) = self.table.store.orig(a.entry) else {
            return Verdict::Drop(DropReason::InsertFailed);
        };
        let (s, _) = self.table.layout.locate(orig.flow_hash(&self.table.key));
        let v = match driver::confirm(&mut self.table, s, a.entry, now, &mut self.stats) {
            Confirmed::Inserted | Confirmed::Already => Verdict::Accept {
                entry: a.entry,
                ctinfo: a.ctinfo,
            },
            Confirmed::Merged(existing) => {
                self.table.free(a.entry);
                Verdict::Accept {
                    entry: existing,
                    ctinfo: a.ctinfo,
                }
            }
            Confirmed::Failed => {
                self.table.free(a.entry);
                Verdict::Drop(DropReason::InsertFailed)
            }
        };
        self.fold_deletes();
        v
    }

    /// The flow hash the last new entry's tracking computed, as kept for
    /// its confirmation ([`crate::flow_note`]).
    pub fn flow_note(&self) -> Option<FlowNote<Ref>> {
        self.table.store.flow_note
    }

    /// Replaces that note, as another entry's or a stale one would read.
    pub fn set_flow_note(&mut self, note: Option<FlowNote<Ref>>) {
        self.table.store.flow_note = note;
    }

    /// The filter dropped the packet: an entry it created goes with it.
    pub fn discard(&mut self, a: Attached) {
        if a.unconfirmed {
            self.table.free(a.entry);
            self.fold_deletes();
        }
    }

    /// One garbage-collection run: sweeps stripes from where the last run
    /// stopped until `budget` work units are spent or a whole pass ended.
    pub fn sweep(&mut self, now: Millis, budget: usize) -> Progress {
        let mut total = Progress::default();
        let mut left = budget.max(1);
        let mut removed = Vec::new();
        loop {
            let s = self.cursor.stripe();
            let mut stripe = stripe_of(&mut self.table.stripes, &mut self.table.replies, &mut self.table.store, s);
            let p = expiry::sweep(
                &mut stripe,
                &mut self.cursor,
                &self.table.layout,
                now,
                left,
                &mut self.stats,
                |r| removed.push(r),
            );
            total.visited = total.visited.saturating_add(p.visited);
            total.removed = total.removed.saturating_add(p.removed);
            total.stripe_done |= p.stripe_done;
            total.pass_done |= p.pass_done;
            total.pass = total.pass.or(p.pass);
            left = left.saturating_sub(p.visited);
            if p.pass_done || left == 0 || !p.stripe_done {
                break;
            }
        }
        for r in removed {
            driver::release(&mut self.table, r);
        }
        self.fold_deletes();
        total
    }

    /// Total number of buckets (the per-stripe arrays' lengths).
    pub fn buckets(&self) -> usize {
        self.table.stripes.iter().map(Vec::len).sum()
    }

    /// Resizes the table to `buckets` buckets (at least one per stripe),
    /// one stripe after the other, as the kernel does it: each stripe's
    /// entries move into a new array under that stripe's lock alone.
    pub fn resize(&mut self, buckets: u32) {
        let target = self.table.layout.resized(buckets);
        for s in 0..target.stripes() {
            self.resize_stripe(s, target.range(s).len());
        }
        self.table.layout = target;
    }

    /// Gives stripe `s` a new array of `len` buckets (at least one): one
    /// step of [`Tracker::resize`], for tests that interleave other work
    /// with a resize in progress.
    pub fn resize_stripe(&mut self, s: u32, len: usize) {
        let layout = self.table.layout;
        let key = self.table.key;
        let mut new = Vec::new();
        new.resize(len.max(1), None);
        let mut new_replies = new.clone();
        let mut new_sources = new.clone();
        let mut stripe = stripe_of(&mut self.table.stripes, &mut self.table.replies, &mut self.table.store, s);
        stripe.rehash_into(&mut new, |e, a| layout.pos_of(&key, e, a));
        stripe.rehash_replies_into(&mut new_replies, |k| layout.locate(Tuple::from_key(*k).flow_hash(&key)).1);
        let sources = match self.table.sources.get_mut(usize_from(s)) {
            Some(v) => v.as_mut_slice(),
            None => &mut [],
        };
        let mut stripe = stripe.with_sources(sources);
        stripe.rehash_sources_into(&mut new_sources, |o| layout.locate(crate::table::source_hash(*o, &key)).1);
        if let Some(old) = self.table.stripes.get_mut(usize_from(s)) {
            *old = new;
        }
        if let Some(old) = self.table.replies.get_mut(usize_from(s)) {
            *old = new_replies;
        }
        if let Some(old) = self.table.sources.get_mut(usize_from(s)) {
            *old = new_sources;
        }
    }

    /// One step of a resumable dump, as `/proc/net/ip_conntrack` and
    /// ctnetlink list the table: the live entries of the bucket holding
    /// `at`, and where the dump goes on; `None` past the last stripe.
    pub fn dump_step(&mut self, at: DumpPos, now: Millis) -> Option<(Vec<Entry>, DumpPos)> {
        if at.stripe >= self.table.layout.stripes() {
            return None;
        }
        let layout = self.table.layout;
        let key = self.table.key;
        let stripe = stripe_of(&mut self.table.stripes, &mut self.table.replies, &mut self.table.store, at.stripe);
        let mut out = Vec::new();
        let (_, next) = stripe.walk_from(at.pos, 0, now, |e, a| layout.pos_of(&key, e, a), |_, e| {
            out.push(*e);
            true
        });
        Some((out, at.after(next)))
    }

    /// One round of a netlink-style dump ([`crate::netlink::dump::round`])
    /// into `w`, `send` encoding each entry; whether the dump goes on.
    pub fn dump_round(
        &mut self,
        w: &mut crate::netlink::attr::Writer<'_>,
        cursor: &mut crate::netlink::dump::Cursor,
        now: Millis,
        mut send: impl FnMut(&mut crate::netlink::attr::Writer<'_>, &Entry) -> bool,
    ) -> bool {
        use crate::netlink::dump;
        let layout = self.table.layout;
        let key = self.table.key;
        let (stripes, replies, store) = (&mut self.table.stripes, &mut self.table.replies, &mut self.table.store);
        dump::round(w, cursor, layout.stripes(), |c, w| {
            let st = stripe_of(stripes, replies, store, c.at.stripe);
            Some(dump::list_bucket(&st, c, now, |e, a| layout.pos_of(&key, e, a), |_, e| send(w, e)))
        })
    }

    /// The live entry for `t` and the direction `t` matches.
    pub fn lookup(&self, t: &Tuple, now: Millis) -> Option<(Entry, Dir)> {
        let (s, pos) = self.table.layout.locate(t.flow_hash(&self.table.key));
        let store = &self.table.store;
        let live = |e: &Entry| !e.expired(now) && !e.status.has(Status::DYING);
        // Walk the chains directly (a read-only stripe view needs `&mut`).
        let heads = self.table.stripes.get(usize_from(s))?;
        let mut cur = heads.get(bucket_in(heads.len(), pos)).copied().flatten();
        while let Some(r) = cur {
            if let Some(e) = store.entry(r).filter(|e| live(e)) {
                if let Some(d) = e.direction_of(t, store.reply_key(r), store.addrs6(r)) {
                    return Some((*e, d));
                }
            }
            cur = store.next(r);
        }
        let replies = self.table.replies.get(usize_from(s))?;
        let mut cur = replies.get(bucket_in(replies.len(), pos)).copied().flatten();
        while let Some(r) = cur {
            if store.reply_key(r) == Some(t.key()) {
                let e = store.entry(r).filter(|e| live(e) && e.status.has(Status::CONFIRMED))?;
                return Some((*e, Dir::Reply));
            }
            cur = store.reply_next(r);
        }
        None
    }

    /// `nf_nat_setup_info` on the unconfirmed entry `a` carries: binds
    /// its end `manip` to a tuple in `range` unique in the table (the NAT
    /// hooks' target step; `random` gives the port search's random bits).
    pub fn nat_setup(
        &mut self,
        a: &Attached,
        manip: crate::nat::Manip,
        range: &crate::nat::range::Range,
        now: Millis,
        random: &mut dyn FnMut() -> u16,
    ) -> Result<(), crate::nat::bind::BindError> {
        let mut reply = self.table.store.reply_key(a.entry);
        let Some(mut e) = self.table.store.entry(a.entry).copied() else {
            return Ok(());
        };
        crate::nat::bind::setup(&mut e, &mut reply, manip, range, &Taken { table: &self.table, now }, random)?;
        if let Some(slot) = self.table.store.entry_mut(a.entry) {
            *slot = e;
        }
        self.table.store.set_reply(a.entry, reply);
        Ok(())
    }

    /// The reply tuple of the entry `r` (NAT's, if it changed it).
    pub fn reply_of(&self, r: Ref) -> Option<Tuple> {
        let e = self.table.store.entry(r)?;
        Some(e.tuple_nat6(Dir::Reply, self.table.store.reply_key(r), self.table.store.addrs6(r)))
    }

    /// The original tuple of the entry `r`, whatever its family.
    pub fn orig_of(&self, r: Ref) -> Option<Tuple> {
        self.table.store.orig(r)
    }

    /// The entry `r`, if live (confirmed or not; expired ones included).
    pub fn entry(&self, r: Ref) -> Option<&Entry> {
        self.table.store.entry(r)
    }

    /// Every live confirmed entry at `now`, bucket by bucket.
    pub fn entries(&self, now: Millis) -> Vec<(Ref, Entry)> {
        let mut out = Vec::new();
        for head in self.table.stripes.iter().flatten() {
            let mut cur = *head;
            while let Some(r) = cur {
                if let Some(e) = self.table.store.entry(r) {
                    if !e.expired(now) && !e.status.has(Status::DYING) {
                        out.push((r, *e));
                    }
                }
                cur = self.table.store.next(r);
            }
        }
        out
    }

    /// Every entry linked in the table, expired and dying ones included.
    pub fn linked_entries(&self) -> Vec<(Ref, Entry)> {
        let mut out = Vec::new();
        for head in self.table.stripes.iter().flatten() {
            let mut cur = *head;
            while let Some(r) = cur {
                if let Some(e) = self.table.store.entry(r) {
                    out.push((r, *e));
                }
                cur = self.table.store.next(r);
            }
        }
        out
    }

    /// The entries whose reply nodes are linked in the reply chains, with
    /// the reply key each node holds (one per linked NATed entry).
    pub fn reply_nodes(&self) -> Vec<(Ref, [u64; 2])> {
        let mut out = Vec::new();
        for head in self.table.replies.iter().flatten() {
            let mut cur = *head;
            while let Some(r) = cur {
                if let Some(k) = self.table.store.reply_key(r) {
                    out.push((r, k));
                }
                cur = self.table.store.reply_next(r);
            }
        }
        out
    }

    /// Nodes in the source chains (one per linked source-NATed entry).
    pub fn source_nodes(&self) -> usize {
        let mut n = 0usize;
        for head in self.table.sources.iter().flatten() {
            let mut cur = *head;
            while let Some(r) = cur {
                n = n.saturating_add(1);
                cur = self.table.store.src_next(r);
            }
        }
        n
    }

    /// Number of entries linked in the table, expired ones included.
    pub fn linked(&self) -> usize {
        self.linked_entries().len()
    }

    /// The longest chain: `(global bucket, length)`.
    pub fn longest_chain(&mut self) -> (usize, usize) {
        let mut best = (0usize, 0usize);
        for s in 0..self.table.layout.stripes() {
            let start: usize = self.table.stripes.iter().take(usize_from(s)).map(Vec::len).sum();
            let stripe = stripe_of(&mut self.table.stripes, &mut self.table.replies, &mut self.table.store, s);
            let (b, n) = stripe.longest_chain();
            if n > best.1 {
                best = (start.saturating_add(b), n);
            }
        }
        best
    }

    /// The `/proc/net/ip_conntrack` lines at `now`, bucket by bucket
    /// (newline included; `use=1`: the host counts no packet references).
    /// IPv4 entries only, as the classic file.
    pub fn dump(&self, now: Millis) -> Vec<String> {
        let mut buf = [0u8; crate::procfmt::MAX_LINE_LEN];
        let mut out = Vec::new();
        for (r, e) in self.entries(now).into_iter().filter(|(_, e)| !e.is_v6()) {
            let nat = self.table.store.reply_key(r);
            if let Ok(n) = crate::procfmt::format_entry(&mut buf, &e, now, 1, None, nat) {
                let line = buf.get(..n).unwrap_or_default();
                out.push(String::from_utf8_lossy(line).into_owned());
            }
        }
        out
    }
}
