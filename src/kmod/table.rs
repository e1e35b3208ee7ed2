// SPDX-License-Identifier: GPL-2.0

//! The connection table of one network namespace: the engine's table
//! ([`crate::table`]) over slab entries, split into stripes with one
//! BH-disabling spinlock each, plus the namespace's entry count, per-CPU
//! statistics, hash key and garbage collector.
//!
//! One table per namespace keeps a flow seen in two namespaces apart and
//! gives each namespace its own `/proc` view. Tables are created and torn
//! down through pernet operations ([`Tables`]) registered before the hooks,
//! so a table exists whenever a hook runs in its namespace; the table of a
//! namespace is found with [`Table::for_net`].
//!
//! Locking: one stripe lock at a time, never two. Everything reachable
//! from a stripe's chains, and the chain link and engine entry of every
//! entry that belongs to the stripe (linked or not), is guarded by that
//! stripe's lock ([`crate::conn`]).

use crate::conn::{Conn, ConnPtr, ConnRef, Linked, Note};
use crate::ctinfo::CtInfo;
use crate::skb::Skb;
use crate::driver;
use crate::entry::{Entry, Status};
use crate::ffi;
use crate::gc::Gc;
use crate::hash::HashKey;
use crate::kstats::PerCpu;
use crate::lock::SpinLockBh;
use crate::stats::Counter;
use crate::sys;
use crate::expiry::{self, Cursor, Progress};
use crate::flow_note::FlowNote;
use crate::table::{source_key, DumpPos, Layout, Store, Stripe, Walk};
use crate::nat::carried::Hashed;
use crate::netlink::ctnetlink::Event;
use crate::tuple::{Keys, Tuple};
use crate::Millis;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use kernel::error::to_result;
use kernel::ffi::c_int;
use kernel::init::InPlaceInit;
use kernel::prelude::*;
use kernel::{c_str, static_lock_class};

/// The chain heads of one stripe's buckets, and of its reply chains (as
/// many: NATed entries' reply nodes, [`crate::table`]).
pub(crate) struct Chains {
    heads: KVVec<Option<ConnPtr>>,
    replies: KVVec<Option<ConnPtr>>,
    sources: KVVec<Option<ConnPtr>>,
}

impl Chains {
    /// Empty chains of `n` buckets.
    fn new(n: usize) -> Result<Chains> {
        Ok(Chains {
            heads: KVVec::from_elem(None, n, GFP_KERNEL)?,
            replies: KVVec::from_elem(None, n, GFP_KERNEL)?,
            sources: KVVec::from_elem(None, n, GFP_KERNEL)?,
        })
    }
}

/// One stripe: its lock and chains, and where it belongs.
///
/// # Invariants
///
/// `table` is the table that owns this stripe and outlives it.
#[pin_data]
pub(crate) struct StripeCell {
    table: NonNull<Table>,
    index: u32,
    #[pin]
    lock: SpinLockBh<Chains>,
}

// SAFETY: `table` is only read (the table is `Sync`); the chains are
// behind the lock.
unsafe impl Sync for StripeCell {}
// SAFETY: as for `Sync`; a stripe is not tied to a thread.
unsafe impl Send for StripeCell {}

impl StripeCell {
    /// The stripe's index in its table.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// The table the stripe belongs to.
    pub(crate) fn table(&self) -> &Table {
        // SAFETY: the owning table outlives its stripes (type invariant).
        unsafe { self.table.as_ref() }
    }

    /// Runs `f` on the stripe under its lock.
    fn with<R>(&self, f: impl FnOnce(&mut Stripe<'_, Slab<'_>>) -> R) -> R {
        let mut guard = self.lock.lock();
        let mut store = Slab {
            stripe: NonNull::from(self),
            _locked: PhantomData,
        };
        let chains = &mut *guard;
        let mut st = Stripe::with_replies(chains.heads.as_mut_slice(), chains.replies.as_mut_slice(), &mut store)
            .with_sources(chains.sources.as_mut_slice());
        f(&mut st)
    }

    /// Moves the stripe's entries, reply nodes and source nodes into `new` (allocated by
    /// the caller, outside the lock) under the lock, and hands back the
    /// old arrays to be freed after it.
    fn rehash(
        &self,
        mut new: Chains,
        pos_of: impl Fn(&Entry, Option<[u64; 4]>) -> u32,
        pos_of_key: impl Fn(&[u64; 2]) -> u32,
        pos_of_src: impl Fn(&[u64; 2]) -> u32,
    ) -> Chains {
        let mut guard = self.lock.lock();
        let mut store = Slab {
            stripe: NonNull::from(self),
            _locked: PhantomData,
        };
        let chains = &mut *guard;
        let mut st = Stripe::with_replies(chains.heads.as_mut_slice(), chains.replies.as_mut_slice(), &mut store)
            .with_sources(chains.sources.as_mut_slice());
        st.rehash_into(new.heads.as_mut_slice(), pos_of);
        st.rehash_replies_into(new.replies.as_mut_slice(), &pos_of_key);
        st.rehash_sources_into(new.sources.as_mut_slice(), pos_of_src);
        core::mem::swap(&mut *guard, &mut new);
        new
    }

    /// The length of the stripe's bucket array.
    fn len(&self) -> usize {
        self.lock.lock().heads.len()
    }
}

impl Conn {
    /// Runs `f` on this entry's chain link and entry under its own
    /// stripe's lock.
    pub(crate) fn with_linked<R>(&self, f: impl FnOnce(&mut Linked) -> R) -> R {
        let cell = self.stripe_cell();
        let _guard = cell.lock.lock();
        // SAFETY: `self` is alive (borrowed) and belongs to `cell`, the
        // stripe it was allocated for; we hold that stripe's lock, which
        // guards `linked`; the borrow ends before the guard drops.
        f(unsafe { &mut *self.linked_ptr() })
    }
}

/// The entries of one stripe as the engine's [`Store`], available only
/// while the stripe's lock is held (the `'a` of the guard).
pub(crate) struct Slab<'a> {
    stripe: NonNull<StripeCell>,
    _locked: PhantomData<&'a mut Chains>,
}

impl Slab<'_> {
    /// The table this stripe belongs to.
    pub(crate) fn table(&self) -> &Table {
        // SAFETY: the stripe outlives this store, which exists only while
        // the stripe's lock is held.
        unsafe { self.stripe.as_ref() }.table()
    }

    /// The chain link and entry of `r`, if it belongs to this stripe.
    fn linked(&self, r: ConnPtr) -> Option<*mut Linked> {
        // SAFETY: every reference the engine is given names a live entry: one linked in
        // this stripe's chains (the table's reference keeps it, the held lock keeps it
        // linked) or one the caller holds a reference to (a new entry being confirmed).
        let c = unsafe { r.as_conn() };
        if c.stripe_ptr() != self.stripe {
            return None;
        }
        Some(c.linked_ptr())
    }

    /// `f` of `r`'s chain link and entry, if it belongs to this stripe.
    #[inline(always)]
    fn with_linked_ref<R>(&self, r: ConnPtr, f: impl FnOnce(&Linked) -> R) -> Option<R> {
        // SAFETY: as in `entry` (below).
        self.linked(r).map(|l| f(unsafe { &*l }))
    }

    /// A new counted reference to `r`, for a packet.
    ///
    /// # Safety
    ///
    /// `r` must be alive: handed out by the engine from this stripe during
    /// this lock hold (linked here, so the table's reference keeps it), or
    /// an entry the caller holds a reference to.
    pub(crate) unsafe fn new_ref(&self, r: ConnPtr) -> ConnRef {
        // SAFETY: `r` is alive (caller).
        unsafe { r.as_conn() }.new_ref()
    }
}

impl Store for Slab<'_> {
    type Ref = ConnPtr;

    fn entry(&self, r: ConnPtr) -> Option<&Entry> {
        // SAFETY: the stripe lock is held for `'a` (this store exists only
        // inside `StripeCell::with`), `r` belongs to this stripe, and the
        // only other access to its `linked` goes through this store.
        self.linked(r).map(|l| unsafe { &(*l).entry })
    }

    fn entry_mut(&mut self, r: ConnPtr) -> Option<&mut Entry> {
        // SAFETY: as in `entry`; `&mut self` makes this the only borrow.
        self.linked(r).map(|l| unsafe { &mut (*l).entry })
    }

    fn next(&self, r: ConnPtr) -> Option<ConnPtr> {
        // SAFETY: as in `entry`.
        self.linked(r).and_then(|l| unsafe { (*l).next() })
    }

    #[inline]
    fn entry_and_next(&self, r: ConnPtr) -> Option<(&Entry, Option<ConnPtr>)> {
        // SAFETY: as in `entry`.
        self.linked(r).map(|l| unsafe { (&(*l).entry, (*l).next()) })
    }

    fn set_next(&mut self, r: ConnPtr, next: Option<ConnPtr>) {
        if let Some(l) = self.linked(r) {
            // SAFETY: as in `entry_mut`.
            unsafe { (*l).set_next(next) };
        }
    }

    fn addrs6(&self, r: ConnPtr) -> Option<[u64; 4]> {
        // SAFETY: `r` is alive (linked in this stripe or held by the
        // caller, as every reference the engine passes); its address
        // words never change.
        unsafe { r.as_conn() }.addrs6()
    }

    // Reply nodes belong to entries of any stripe: only their NAT state is
    // touched, which needs no entry lock (`NatExt`).

    fn reply_key(&self, r: ConnPtr) -> Option<[u64; 2]> {
        // SAFETY: `r` is alive: linked in this stripe's reply chains (the
        // table's reference keeps it until its node is unlinked, under this
        // lock) or held by the caller (an entry being confirmed).
        unsafe { r.as_conn() }.nat_reply()
    }

    fn reply_next(&self, r: ConnPtr) -> Option<ConnPtr> {
        // SAFETY: as in `reply_key`; the link is guarded by this lock.
        unsafe { r.as_conn() }.reply_next()
    }

    fn set_reply_next(&mut self, r: ConnPtr, next: Option<ConnPtr>) {
        // SAFETY: as in `reply_next`.
        unsafe { r.as_conn() }.set_reply_next(next);
    }

    fn nat_orig(&self, r: ConnPtr) -> Option<[u64; 2]> {
        // SAFETY: as in `reply_key`: linked in this stripe's source chains
        // (unlinked before the table's reference goes) or held.
        unsafe { r.as_conn() }.nat_orig()
    }

    fn src_next(&self, r: ConnPtr) -> Option<ConnPtr> {
        // SAFETY: as in `nat_orig`; the link is guarded by this lock.
        unsafe { r.as_conn() }.src_next()
    }

    fn set_src_next(&mut self, r: ConnPtr, next: Option<ConnPtr>) {
        // SAFETY: as in `src_next`.
        unsafe { r.as_conn() }.set_src_next(next);
    }

    fn src_prev(&self, r: ConnPtr) -> Option<ConnPtr> {
        // SAFETY: as in `src_next`. What it returns is linked in the same
        // chain (the engine keeps both links of every node it links and
        // unlinks), so alive like `r`.
        unsafe { r.as_conn() }.src_prev()
    }

    fn set_src_prev(&mut self, r: ConnPtr, prev: Option<ConnPtr>) {
        // SAFETY: as in `src_next`.
        unsafe { r.as_conn() }.set_src_prev(prev);
    }

    fn src_mark(&self, r: ConnPtr, link: bool) -> bool {
        // SAFETY: the driver marks only entries it holds a reference to or
        // whose table reference it is about to put.
        unsafe { r.as_conn() }.src_mark(link)
    }
}

/// The driver's view of one namespace's table ([`Table::shell`]).
pub(crate) struct Shell<'t> {
    table: &'t Table,
}

/// A reference the driver hands a packet, with what is left to do once
/// the stripe lock is dropped ([`Held::notified`]): the update event
/// (reply seen, assured, TCP state moved) the packet made, if any, and
/// counting it, if the entry counts.
pub(crate) struct Held {
    conn: ConnRef,
    note: Note,
}

impl Held {
    /// Sends the update event, if any (to ctnetlink listeners, if any);
    /// the reference.
    #[inline]
    pub(crate) fn notified(self) -> ConnRef {
        if let Some(ev) = self.note.event() {
            crate::ctnetlink::notify(&self.conn, ev);
        }
        self.conn
    }

    /// [`Held::notified`], and counts `skb` (classified `ctinfo`) if the
    /// entry counts. Most packets pass one comparison.
    #[inline]
    pub(crate) fn notified_counting(self, ctinfo: CtInfo, skb: &Skb<'_>) -> ConnRef {
        if self.note != Note::QUIET {
            return self.after_lock(ctinfo, skb.len());
        }
        self.conn
    }

    // By value: the common packet keeps its reference in registers.
    #[inline(never)]
    fn after_lock(self, ctinfo: CtInfo, len: usize) -> ConnRef {
        if let Some(ev) = self.note.event() {
            crate::ctnetlink::notify(&self.conn, ev);
        }
        if self.note.count() {
            self.conn.account(ctinfo, len);
        }
        self.conn
    }
}

impl driver::Shell for Shell<'_> {
    type Ref = ConnPtr;
    type Held = Held;
    type Store<'l> = Slab<'l>;

    fn layout(&self) -> Layout {
        *self.table.layout()
    }

    fn key(&self) -> HashKey {
        *self.table.key()
    }

    fn with_stripe<R>(
        &mut self,
        s: u32,
        f: impl for<'a, 'l> FnOnce(&mut Stripe<'a, Slab<'l>>) -> R,
    ) -> Option<R> {
        self.table.with_stripe(s, f)
    }

    #[inline(always)]
    fn hold(store: &Slab<'_>, r: ConnPtr) -> Held {
        // SAFETY: the driver passes entries found in, or just inserted
        // into, this stripe under the lock we hold (`Shell`'s contract),
        // or the entry being confirmed, which its packet holds.
        let conn = unsafe { store.new_ref(r) };
        let note = store.entry(r).map_or(Note::QUIET, |e| conn.note_change(e));
        Held { conn, note }
    }

    fn linked(store: &Slab<'_>, r: ConnPtr) {
        // What the new-entry event reports (sent by the caller once the
        // lock is dropped); updates are reported from here on.
        let Held { conn, .. } = Self::hold(store, r);
        conn.set_confirmed();
        // The table's reference, held while the entry is linked.
        let _ = conn.into_raw();
    }

    fn closing(store: &Slab<'_>) -> bool {
        store.table().closing()
    }

    fn stripe_of(&self, r: ConnPtr) -> Option<u32> {
        // SAFETY: the driver asks only about entries it holds a reference to.
        Some(unsafe { r.as_conn() }.stripe_index())
    }

    fn held_ref(held: &Held) -> ConnPtr {
        held.conn.ptr()
    }

    fn nat_reply(&self, r: ConnPtr) -> Option<Hashed> {
        // SAFETY: the driver asks only about entries it holds a reference
        // to, or whose table reference it is about to put.
        unsafe { r.as_conn() }.nat_reply_hashed()
    }

    fn src_nat_orig(&self, r: ConnPtr) -> Option<Hashed> {
        // SAFETY: as in `nat_reply`.
        unsafe { r.as_conn() }.src_nat_hashed()
    }

    fn reserve(&mut self) -> bool {
        self.table.reserve(crate::settings::max())
    }

    fn alloc(&mut self, s: u32, e: Entry, addrs6: Option<[u64; 4]>, hash: Option<u64>) -> Option<Held> {
        let conn = self.table.new_conn(s, e, addrs6, hash)?;
        let note = Note::new(None, conn.counts());
        Some(Held { conn, note })
    }

    #[inline(always)]
    fn carried(store: &Slab<'_>, r: ConnPtr) -> Option<FlowNote<ConnPtr>> {
        // Kept in the entry's own chain link word.
        store.with_linked_ref(r, Linked::new_hash)?.map(FlowNote::Own)
    }

    fn release(&mut self, r: ConnPtr) {
        // SAFETY: the driver releases only entries the engine just
        // unlinked (`Shell`'s contract): the table's reference is ours.
        let c = unsafe { ConnRef::adopt(r) };
        crate::ctnetlink::notify(&c, Event::Destroy);
        drop(c);
    }

    fn release_killed(&mut self, r: ConnPtr, held: &mut Held) {
        // SAFETY: as in `release`.
        let c = unsafe { ConnRef::adopt(r) };
        // A kill comes only before any reply: SEEN_REPLY, if set, is this
        // packet's, which 6.12 sets after the destroy event.
        crate::ctnetlink::notify_as(&c, Event::Destroy, 0, |e| e.status.clear(Status::SEEN_REPLY));
        drop(c);
        // 6.12 delivers no cached event for a dying entry.
        held.note = held.note.without_event();
    }
}

/// Where [`Table::with_found`] found an entry.
enum Found<R> {
    /// In the stripe its tuple hashes to: what `f` returned.
    Here(Option<R>),
    /// Through a reply node: the entry, whose own stripe is next.
    Home(ConnRef),
}

/// Most work units (buckets plus entries looked at) of one
/// [`Table::sweep`] step, that is of one stripe lock hold.
pub(crate) const SWEEP_CHUNK: usize = 256;

/// Stripes per possible CPU (rounded up to a power of two): lock
/// contention stays negligible and small machines do not pay for Linux's
/// 1024 locks in every namespace.
const STRIPES_PER_CPU: u32 = 64;

/// The layout of a table of `buckets` buckets: as many stripes as the
/// engine allows, at most [`STRIPES_PER_CPU`] per CPU.
fn layout(buckets: u32) -> Layout {
    let full = Layout::with_buckets(buckets);
    let cap = crate::kstats::nr_cpu_ids()
        .checked_next_power_of_two()
        .unwrap_or(crate::table::MAX_STRIPES)
        .saturating_mul(STRIPES_PER_CPU);
    Layout::new(full.buckets(), full.stripes().min(cap)).unwrap_or(full)
}

/// The namespace a table belongs to.
///
/// # Invariants
///
/// Points to the live namespace whose table holds it: a table is torn
/// down at its namespace's exit, before the namespace is freed.
struct Net(NonNull<ffi::net>);

// SAFETY: a plain address of a namespace that outlives the table (type
// invariant); only handed to kernel functions safe in any context.
unsafe impl Send for Net {}
// SAFETY: as for `Send`.
unsafe impl Sync for Net {}

/// The table of one network namespace.
pub(crate) struct Table {
    net: Net,
    /// The stripes (fixed) and the size at creation; each stripe's array
    /// may have been resized since ([`Table::resize`]).
    layout: Layout,
    /// Buckets in all stripes' arrays.
    buckets: AtomicU32,
    key: HashKey,
    stripes: KVec<Pin<KBox<StripeCell>>>,
    count: AtomicU32,
    /// Set when teardown begins: nothing may join the table after that.
    closing: AtomicBool,
    stats: PerCpu,
    gc: Gc,
}

impl Table {
    /// A table of `buckets` buckets, its garbage collector started.
    fn new(buckets: u32, net: NonNull<ffi::net>) -> Result<Pin<KBox<Self>>> {
        let layout = layout(buckets);
        let n = usize::try_from(layout.stripes()).map_err(|_| EINVAL)?;
        // The table's final address, which its stripes point back to.
        let uninit = KBox::<Self>::new_uninit(GFP_KERNEL)?;
        let tp = NonNull::new(uninit.as_ptr().cast_mut()).ok_or(ENOMEM)?;
        let mut stripes = KVec::with_capacity(n, GFP_KERNEL)?;
        for s in 0..layout.stripes() {
            let chains = Chains::new(layout.range(s).len())?;
            // INVARIANT: the table is written at `tp` below and outlives
            // its stripes (it owns them).
            let cell = KBox::pin_init(
                pin_init!(StripeCell {
                    table: tp,
                    index: s,
                    lock <- SpinLockBh::new(
                        chains,
                        c_str!("ip_conntrack_stripe"),
                        static_lock_class!()
                    ),
                }),
                GFP_KERNEL,
            )?;
            stripes.push(cell, GFP_KERNEL)?;
        }
        let key = HashKey::new(sys::random_u64(), sys::random_u64());
        let table: Pin<KBox<Self>> = uninit
            .write(Self {
                // INVARIANT: `net_init` passes the table's own namespace.
                net: Net(net),
                layout,
                buckets: AtomicU32::new(layout.buckets()),
                key,
                stripes,
                count: AtomicU32::new(0),
                closing: AtomicBool::new(false),
                stats: PerCpu::new()?,
                gc: Gc::new()?,
            })
            .into();
        Gc::start(table.as_ref());
        Ok(table)
    }

    /// The table of network namespace `net`, if it has one.
    ///
    /// # Safety
    ///
    /// `net` must be a live namespace whose table cannot be torn down
    /// during `'a`: a hook or `/proc` callback running in `net` (hooks and
    /// `/proc` files go before the table at namespace exit and module
    /// unload), or code holding a reference to one of its entries.
    pub(crate) unsafe fn for_net<'a>(net: *const ffi::net) -> Option<&'a Table> {
        // SAFETY: `net` is live (caller); the slot holds null or a table
        // published by `net_init` and not yet torn down (caller).
        let p = unsafe { ffi::ipct_net_table(net) }.cast::<Table>();
        // SAFETY: see above.
        NonNull::new(p).map(|p| unsafe { p.as_ref() })
    }

    /// The table's namespace, alive as long as the table.
    pub(crate) fn net(&self) -> *mut ffi::net {
        self.net.0.as_ptr()
    }

    /// The bucket layout: the stripes, and where a flow hash lives.
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Number of buckets, in all stripes.
    pub(crate) fn buckets(&self) -> u32 {
        self.buckets.load(Ordering::Relaxed)
    }

    /// The position of `e`'s flow in its stripe ([`Layout::locate`]).
    pub(crate) fn pos_of(&self, e: &Entry, addrs6: Option<[u64; 4]>) -> u32 {
        self.layout.pos_of(&self.key, e, addrs6)
    }

    /// The position of the flow of tuple key `k` in its stripe.
    pub(crate) fn pos_of_key(&self, k: &[u64; 2]) -> u32 {
        self.layout.locate(Keys::of_key(*k, None).flow_hash(&self.key)).1
    }

    /// The table's reference to `r`, which was just unlinked from its
    /// stripe: its reply node, if NAT gave it one, is unlinked first
    /// (under that node's stripe lock; no lock may be held).
    pub(crate) fn unlinked(&self, r: ConnPtr) -> ConnRef {
        // SAFETY: the caller unlinked `r`: the table's reference, which we
        // take over below, keeps it alive.
        let c = unsafe { ConnRef::adopt(r) };
        if let Some(reply) = c.nat_reply_hashed() {
            let (s, pos) = self.layout.locate(reply.flow_hash(&self.key));
            self.with_stripe(s, |st| {
                let b = st.bucket(pos);
                st.unlink_reply(b, r)
            });
        }
        if let Some(orig) = c.src_nat_hashed() {
            let (s, pos) = self.layout.locate(orig.source_hash(&self.key));
            self.with_stripe(s, |st| {
                let b = st.bucket(pos);
                st.store.src_mark(r, false) && st.unlink_src(b, r)
            });
        }
        c
    }

    /// Resizes the table to `buckets` buckets (at least one per stripe)
    /// while packets flow: one stripe at a time, each stripe's new array
    /// allocated without a lock and filled under that stripe's lock alone.
    /// Lookups, dumps and the collector carry on throughout (they find a
    /// bucket from the flow's position under the lock). Process context.
    pub(crate) fn resize(&self, buckets: u32) -> Result {
        let target = self.layout.resized(buckets);
        let mut ret = Ok(());
        for s in 0..self.layout.stripes() {
            let Some(cell) = self.stripe(s) else { break };
            let new = match Chains::new(target.range(s).len()) {
                Ok(v) => v,
                Err(e) => {
                    // The stripes done so far keep their new size.
                    ret = Err(e);
                    break;
                }
            };
            let old = cell.rehash(
                new,
                |e, a| self.pos_of(e, a),
                |k| self.pos_of_key(k),
                |o| self.layout.locate(crate::table::source_hash(*o, &self.key)).1,
            );
            drop(old);
            sys::cond_resched();
        }
        let total = (0..self.layout.stripes())
            .filter_map(|s| self.stripe(s))
            .map(StripeCell::len)
            .fold(0usize, usize::saturating_add);
        self.buckets.store(u32::try_from(total).unwrap_or(u32::MAX), Ordering::Relaxed);
        ret
    }

    /// The flow hash key.
    pub(crate) fn key(&self) -> &HashKey {
        &self.key
    }

    /// The table as the per-packet driver ([`crate::driver`]) reaches it.
    pub(crate) fn shell(&self) -> Shell<'_> {
        Shell { table: self }
    }

    /// Entries allocated: in the table (expired ones not yet collected
    /// included) or attached unconfirmed to packets
    /// (`ip_conntrack_count`, `entries` of `/proc/net/stat`).
    pub(crate) fn count(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether teardown has begun: an entry being confirmed must not join
    /// the table then. Read under a stripe lock, which orders it after
    /// [`Table::shutdown`]'s flush of that stripe: an entry linked before
    /// the flag was seen is flushed.
    pub(crate) fn closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    /// The garbage collector.
    pub(crate) fn gc(&self) -> &Gc {
        &self.gc
    }

    /// The per-CPU statistics.
    pub(crate) fn stats(&self) -> &PerCpu {
        &self.stats
    }

    /// Stripe `s`.
    pub(crate) fn stripe(&self, s: u32) -> Option<&StripeCell> {
        self.stripes
            .get(usize::try_from(s).ok()?)
            .map(|c| c.as_ref().get_ref())
    }

    /// Runs `f` on stripe `s` under its lock; `None` when out of range.
    pub(crate) fn with_stripe<R>(
        &self,
        s: u32,
        f: impl FnOnce(&mut Stripe<'_, Slab<'_>>) -> R,
    ) -> Option<R> {
        Some(self.stripe(s)?.with(f))
    }

    /// Counts a new entry if fewer than `max` are counted (0: no limit):
    /// the check and the increment are one atomic step, so CPUs admitting
    /// new flows at the same time never take the count past `max`. False
    /// when the table is full. A successful reservation is used by
    /// [`Table::new_conn`] or given back with [`Table::unreserve`].
    pub(crate) fn reserve(&self, max: u32) -> bool {
        self.count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                let admit = crate::track::admit(
                    usize::try_from(c).unwrap_or(usize::MAX),
                    usize::try_from(max).unwrap_or(usize::MAX),
                );
                if admit {
                    c.checked_add(1)
                } else {
                    None
                }
            })
            .is_ok()
    }

    /// Gives back a reservation that [`Table::new_conn`] will not use.
    pub(crate) fn unreserve(&self) {
        self.count.fetch_sub(1, Ordering::Release);
    }

    /// Allocates an entry for stripe `s` with one reference (the
    /// caller's), counted by a reservation ([`Table::reserve`]) the caller
    /// made, with counters if `ip_conntrack_acct` is 1 now. `None` when
    /// out of memory; the reservation is given back then.
    /// `addrs6`: an IPv6 entry's address words.
    /// `hash`: the flow hash of `e`'s key and `addrs6`, if computed, kept
    /// for its confirmation.
    pub(crate) fn new_conn(&self, s: u32, e: Entry, addrs6: Option<[u64; 4]>, hash: Option<u64>) -> Option<ConnRef> {
        let counted = crate::settings::acct();
        let c = self.stripe(s).and_then(|cell| Conn::alloc(cell, e, counted, addrs6, hash));
        if c.is_none() {
            self.unreserve();
        }
        c
    }

    /// An entry of this table was freed: the last use of the table by the
    /// entry, since the table may go away once its count reaches zero.
    pub(crate) fn released(&self) {
        self.stats.inc(Counter::Delete);
        self.count.fetch_sub(1, Ordering::Release);
    }

    /// One step of a dump ([`Stripe::walk_from`]): the live entries of
    /// the bucket holding `at`, from `at` on, after skipping `skip` of
    /// them, under that stripe's lock (one lock, held for this call only),
    /// calling `f(entry, object)` until it returns false. `Walk::resume`
    /// is the `skip` to continue with when `f` stopped early; otherwise
    /// the dump goes on at the returned position. `None` past the last
    /// stripe. `f` runs with bottom halves disabled and a spinlock held:
    /// it must not sleep.
    pub(crate) fn dump_step(
        &self,
        at: DumpPos,
        skip: usize,
        now: Millis,
        mut f: impl FnMut(&Entry, &Conn) -> bool,
    ) -> Option<(Walk, DumpPos)> {
        self.with_stripe(at.stripe, |st| {
            let (walk, next) = st.walk_from(at.pos, skip, now, |e, a| self.pos_of(e, a), |r, e| {
                // SAFETY: `r` is linked in this locked stripe: alive.
                f(e, unsafe { r.as_conn() })
            });
            (walk, at.after(next))
        })
    }

    /// One step of the collector: [`expiry::sweep`] of `budget` work units
    /// in the cursor's stripe under its lock, then the removed entries'
    /// table references put after unlocking. The step's progress and how
    /// long the lock was held (ns); `None` for a stale cursor.
    pub(crate) fn sweep(
        &self,
        cursor: &mut Cursor,
        now: Millis,
        budget: usize,
        stats: &mut crate::stats::Stats,
    ) -> Option<(Progress, u64)> {
        let mut batch: [Option<ConnPtr>; SWEEP_CHUNK] = [None; SWEEP_CHUNK];
        let mut n = 0usize;
        let layout = self.layout;
        let progress = self.with_stripe(cursor.stripe(), |st| {
            let locked = sys::clock_ns();
            let p = expiry::sweep(st, cursor, &layout, now, budget.min(SWEEP_CHUNK), stats, |r| {
                // At most `budget` <= SWEEP_CHUNK entries are removed.
                if let Some(slot) = batch.get_mut(n) {
                    *slot = Some(r);
                    n = n.saturating_add(1);
                }
            });
            (p, sys::clock_ns().saturating_sub(locked))
        });
        for r in batch.iter().flatten() {
            // The sweep unlinked `r`: the table's reference is ours.
            let c = self.unlinked(*r);
            crate::ctnetlink::notify(&c, Event::Destroy);
            drop(c);
        }
        progress
    }

    /// Runs `f` on the live entry one of whose tuples is `t`, with its
    /// bucket, under its stripe lock: the stripe `t` hashes to, or for a
    /// NATed entry's reply tuple, the entry's own stripe, which is locked
    /// after the first (never both at once) with a reference taken in
    /// between. `None` when there is no such entry or `f` says so.
    fn with_found<R>(
        &self,
        t: &Tuple,
        now: Millis,
        f: impl FnOnce(&mut Stripe<'_, Slab<'_>>, ConnPtr, usize) -> Option<R>,
    ) -> Option<R> {
        let (s, pos) = self.layout.locate(t.flow_hash(&self.key));
        let mut f = Some(f);
        let found = self
            .with_stripe(s, |st| {
                let b = st.bucket(pos);
                if let Some((r, _)) = st.find(b, t, now) {
                    return Some(Found::Here(f.take().and_then(|f| f(st, r, b))));
                }
                let r = st.find_reply(b, &t.key())?;
                // SAFETY: `r`'s reply node is linked in this locked stripe:
                // the table's reference keeps it alive.
                Some(Found::Home(unsafe { st.store.new_ref(r) }))
            })
            .flatten()?;
        match found {
            Found::Here(v) => v,
            Found::Home(c) => {
                let f = f.take()?;
                self.with_stripe(c.stripe_index(), |st| {
                    let r = c.ptr();
                    let e = st.store.entry(r)?;
                    let live = e.status.has(Status::CONFIRMED) && !e.status.has(Status::DYING) && !e.expired(now);
                    if !live {
                        return None;
                    }
                    let b = st.bucket(self.pos_of(e, st.store.addrs6(r)));
                    f(st, r, b)
                })
                .flatten()
            }
        }
    }

    /// `find_appropriate_src`'s walk: calls `visit` with the reply tuple
    /// key of each source-NATed entry from the source of the tuple of key
    /// `orig`, under the lock of the stripe whose source chain holds them,
    /// until it returns true. `hash`: the source hash of `orig`.
    pub(crate) fn same_source(&self, orig: [u64; 2], hash: u64, visit: &mut dyn FnMut([u64; 2]) -> bool) {
        let (s, pos) = self.layout.locate(hash);
        self.with_stripe(s, |st| {
            let b = st.bucket(pos);
            st.same_source_key(b, source_key(orig), visit)
        });
    }

    /// Whether `t` is one of a live entry's tuples, or any NATed entry's
    /// reply (`nf_conntrack_tuple_taken`), under its stripe's lock alone.
    pub(crate) fn tuple_taken(&self, t: &Tuple, now: Millis) -> bool {
        let keys = t.keys();
        self.keys_taken(&keys, keys.flow_hash(&self.key), now)
    }

    /// [`Table::tuple_taken`] of the tuple of `keys`, whose flow hash is
    /// `hash`.
    pub(crate) fn keys_taken(&self, keys: &Keys, hash: u64, now: Millis) -> bool {
        let (s, pos) = self.layout.locate(hash);
        self.with_stripe(s, |st| {
            let b = st.bucket(pos);
            st.taken(b, keys, now)
        })
        .unwrap_or(true)
    }

    /// Runs `f` on the live entry one of whose tuples is `t`, under its
    /// stripe lock (`f` must not sleep); `None` when there is none.
    pub(crate) fn lookup_with<R>(
        &self,
        t: &Tuple,
        now: Millis,
        f: impl FnOnce(&Entry, &Conn) -> R,
    ) -> Option<R> {
        self.with_found(t, now, |st, r, _| {
            let e = st.store.entry(r)?;
            // SAFETY: `r` is an entry of this locked stripe: alive.
            Some(f(e, unsafe { r.as_conn() }))
        })
    }

    /// Runs `f` on the live entry one of whose tuples is `t`, mutably,
    /// under its stripe lock (`f` must not sleep); `None` when there is
    /// none.
    pub(crate) fn update_with<R>(
        &self,
        t: &Tuple,
        now: Millis,
        f: impl FnOnce(&mut Entry, &Conn) -> R,
    ) -> Option<R> {
        self.with_found(t, now, |st, r, _| {
            // SAFETY: `r` is an entry of this locked stripe: alive.
            let c = unsafe { r.as_conn() };
            Some(f(st.store.entry_mut(r)?, c))
        })
    }

    /// Links a new entry `e` made outside the packet path (ctnetlink's
    /// create), counted against `max` like any other, after `bind` (NAT)
    /// ran on it; `Exists` when its flow, or the reply tuple NAT gave it,
    /// is in the table already. `addrs6`: an IPv6 entry's address words.
    /// The entry, with a reference for the caller.
    pub(crate) fn insert_made(
        &self,
        e: Entry,
        addrs6: Option<[u64; 4]>,
        max: u32,
        now: Millis,
        bind: impl FnOnce(&Conn) -> core::result::Result<(), crate::netlink::Error>,
    ) -> core::result::Result<ConnRef, crate::netlink::Error> {
        use crate::netlink::Error;
        let orig = Tuple::from_keys(e.key(), addrs6);
        if self.tuple_taken(&orig, now) {
            return Err(Error::Exists);
        }
        let hash = orig.flow_hash(&self.key);
        let (s, _) = self.layout.locate(hash);
        if !self.reserve(max) {
            return Err(Error::NoMemory);
        }
        // On failure `new_conn` gives the reservation back.
        let c = self.new_conn(s, e, addrs6, Some(hash)).ok_or(Error::NoMemory)?;
        bind(&c)?;
        let mut stats = crate::stats::Stats::ZERO;
        let outcome = driver::confirm(&mut self.shell(), s, c.ptr(), now, &mut stats);
        self.stats.add(&stats);
        // On failure the only reference goes with `c`: the entry is freed
        // and uncounted.
        match outcome {
            driver::Confirmed::Inserted => Ok(c),
            // Teardown has begun: nothing joins the table any more.
            _ if self.closing() => Err(Error::NoMemory),
            _ => Err(Error::Exists),
        }
    }

    /// Removes the live entry one of whose tuples is `t` if `accept`
    /// agrees (decided under the stripe lock); its table reference is
    /// released after the lock. Whether an entry was removed.
    pub(crate) fn remove_tuple(&self, t: &Tuple, now: Millis, accept: impl FnOnce(&Conn) -> bool) -> bool {
        let removed = self.with_found(t, now, |st, r, b| {
            // SAFETY: `r` is an entry of this locked stripe: alive.
            if !accept(unsafe { r.as_conn() }) {
                return None;
            }
            st.remove(b, r).then_some(r)
        });
        let Some(r) = removed else { return false };
        self.stats.inc(Counter::DeleteList);
        // `r` was unlinked above: the table's reference is ours.
        let c = self.unlinked(r);
        crate::ctnetlink::notify(&c, Event::Destroy);
        drop(c);
        true
    }

    /// The longest chain: `(global bucket, length)`, expired entries not
    /// yet collected included (`/proc/net/stat/ip_conntrack_ext`). Locks
    /// one stripe at a time and may sleep between two: process context
    /// only.
    pub(crate) fn longest_chain(&self) -> (u32, usize) {
        let mut best = (0u32, 0usize);
        let mut start = 0usize;
        for s in 0..self.layout.stripes() {
            sys::cond_resched();
            if let Some((b, n, len)) = self.with_stripe(s, |st| {
                let (b, n) = st.longest_chain();
                (b, n, st.buckets.len())
            }) {
                if n > best.1 {
                    let g = u32::try_from(start.saturating_add(b)).unwrap_or(0);
                    best = (g, n);
                }
                start = start.saturating_add(len);
            }
        }
        best
    }

    /// Removes every entry from the table (they are freed once packets
    /// holding them are gone).
    pub(crate) fn flush(&self) {
        self.remove_where(|_, _| true, false);
    }

    /// Removes every linked entry for which `pred` holds, telling event
    /// listeners when `notify`; how many. One
    /// stripe lock at a time (`pred` runs under it and must not sleep),
    /// releasing the removed entries' table references outside the lock;
    /// may sleep between stripes: process context only.
    pub(crate) fn remove_where(&self, mut pred: impl FnMut(&Entry, &Conn) -> bool, notify: bool) -> usize {
        const BATCH: usize = 64;
        let mut total = 0usize;
        for s in 0..self.layout.stripes() {
            // SAFETY: process context (see above), no lock held here.
            unsafe { ffi::ipct_cond_resched() };
            // The bucket the next batch starts at: the one the last batch
            // filled up in (it may hold more), none of the emptied ones.
            let mut from = 0usize;
            loop {
                let mut batch: [Option<ConnPtr>; BATCH] = [None; BATCH];
                let mut n = 0usize;
                let removed = self.with_stripe(s, |st| {
                    // Collect first, then unlink: unlinking while walking
                    // would lose the walk's place. Only the first `k`
                    // slots are read, so the array is not cleared per bucket.
                    let mut found: [Option<ConnPtr>; BATCH] = [None; BATCH];
                    let mut b = from;
                    while b < st.buckets.len() {
                        let mut k = 0usize;
                        let mut cur = st.head(b);
                        while let Some(r) = cur {
                            if k.saturating_add(n) >= BATCH {
                                break;
                            }
                            // SAFETY: `r` is linked in this locked stripe: alive.
                            let c = unsafe { r.as_conn() };
                            if st.store.entry(r).is_some_and(|e| pred(e, c)) {
                                if let Some(slot) = found.get_mut(k) {
                                    *slot = Some(r);
                                }
                                k = k.saturating_add(1);
                            }
                            cur = st.store.next(r);
                        }
                        for r in found.iter().take(k).flatten() {
                            if st.remove(b, *r) {
                                if let Some(slot) = batch.get_mut(n) {
                                    *slot = Some(*r);
                                }
                                n = n.saturating_add(1);
                            }
                        }
                        if n >= BATCH {
                            break;
                        }
                        b = b.saturating_add(1);
                    }
                    from = b;
                    n
                });
                let mut stats = crate::stats::Stats::ZERO;
                for r in batch.iter().take(n).flatten() {
                    stats.inc(Counter::DeleteList);
                    // `r` was unlinked above: the table's reference is ours.
                    let c = self.unlinked(*r);
                    if notify {
                        crate::ctnetlink::notify(&c, Event::Destroy);
                    }
                    drop(c);
                }
                self.stats.add(&stats);
                total = total.saturating_add(n);
                if removed.unwrap_or(0) < BATCH {
                    break;
                }
            }
        }
        total
    }

    /// Tears the table down: refuses new members, waits for hook calls in
    /// flight (unregistering a hook does not wait for them), stops the
    /// collector, removes every entry and waits until packets holding
    /// entries let go of them (Linux waits the same way at namespace exit).
    /// Afterwards nothing refers to the table.
    fn shutdown(&self) {
        self.closing.store(true, Ordering::Relaxed);
        // SAFETY: process context (namespace exit or module unload), no
        // lock held.
        unsafe { ffi::synchronize_net() };
        self.gc.stop();
        self.flush();
        let mut waited = 0u32;
        while self.count.load(Ordering::Acquire) != 0 {
            if waited % 5000 == 0 && waited != 0 {
                pr_info!(
                    "waiting for {} entries held by packets\n",
                    self.count.load(Ordering::Relaxed)
                );
            }
            sys::msleep(10);
            waited = waited.saturating_add(10);
        }
    }
}

/// The tables of every network namespace, created and torn down with the
/// namespaces; unregistered on drop (tearing down every table).
///
/// # Invariants
///
/// The pernet operations are registered from creation until drop.
pub(crate) struct Tables {
    _private: (),
}

impl Tables {
    /// Creates a table in every current and future namespace, each with
    /// `buckets` buckets ([`crate::settings::buckets`] is read at each
    /// namespace's setup).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: both callbacks are 'static functions of this module,
        // valid until `drop` unregisters them.
        to_result(unsafe {
            ffi::ipct_tables_register(Some(net_init), Some(net_exit), Some(set_buckets), Some(resize))
        })?;
        Ok(Self { _private: () })
    }
}

impl Drop for Tables {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant); runs `net_exit` for every
        // namespace, tearing its table down, before returning.
        unsafe { ffi::ipct_tables_unregister() };
    }
}

/// Pernet setup: builds the namespace's table and stores it in `slot`.
///
/// # Safety
///
/// Called by the pernet core (conn_helpers.c) with the namespace's
/// net_generic slot.
unsafe extern "C" fn net_init(net: *mut ffi::net, slot: *mut *mut c_void) -> c_int {
    let Some(net) = NonNull::new(net) else {
        return EINVAL.to_errno();
    };
    match Table::new(crate::settings::buckets(), net) {
        Ok(t) => {
            // SAFETY: the table is never moved out of its box: it is freed
            // in place by `net_exit`.
            let p = KBox::into_raw(unsafe { Pin::into_inner_unchecked(t) });
            // SAFETY: `slot` is the namespace's net_generic slot (caller).
            unsafe { *slot = p.cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// The `hashsize` parameter written at run time: checks and publishes the
/// new bucket count (new namespaces' tables get it), before [`resize`] is
/// called on every table.
///
/// # Safety
///
/// Called by `ipct_tables_resize` (conn_helpers.c) under its mutex.
unsafe extern "C" fn set_buckets(buckets: u32) -> c_int {
    match crate::params::check_resize(buckets) {
        Ok(()) => {
            crate::settings::set_buckets(buckets);
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Resizes one namespace's table to `buckets` buckets.
///
/// # Safety
///
/// Called by `ipct_tables_resize` (conn_helpers.c) under its mutex, with a
/// table `net_init` stored and `net_exit` has not begun to tear down (it
/// takes the table out of the list under that mutex first).
unsafe extern "C" fn resize(table: *mut c_void, buckets: u32) -> c_int {
    // SAFETY: a live table (caller).
    let Some(t) = (unsafe { table.cast::<Table>().as_ref() }) else {
        return EINVAL.to_errno();
    };
    match t.resize(buckets) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Pernet exit: the hooks and `/proc` files of the namespace are gone;
/// tears its table down.
///
/// # Safety
///
/// Called by the pernet core (conn_helpers.c) once per table `net_init`
/// stored, with that table.
unsafe extern "C" fn net_exit(_net: *mut ffi::net, table: *mut c_void) {
    let p = table.cast::<Table>();
    if p.is_null() {
        return;
    }
    // SAFETY: `p` is the table `net_init` stored, not freed yet.
    let t = unsafe { &*p };
    t.shutdown();
    // SAFETY: nothing refers to the table any more (`shutdown`); it came
    // from `KBox::into_raw` in `net_init`.
    drop(unsafe { KBox::from_raw(p) });
}
