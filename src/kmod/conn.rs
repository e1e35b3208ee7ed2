// SPDX-License-Identifier: GPL-2.0

//! The entry object: one tracked connection in slab memory, the references
//! that keep it alive, and how packets carry it (`skb->_nfct`).
//!
//! # Layout (128 bytes)
//!
//! ```text
//!   0  struct nf_conntrack   refcount; skb->_nfct points here (first field)
//!   4  confirmed: bool       in the table (set under the lock, read without)
//!   5  counted: bool         has counters (set at allocation, never changed)
//!   6  reported: u16         what update events last reported (+ COUNTED)
//!   8  stripe                the table stripe whose lock guards `linked`
//!                            (and, through it, the namespace's table)
//!  16  next / hash           chain link  } `linked`: only under the lock
//!  24  Entry (96 bytes)      engine data }   of stripe `stripe`
//! 120  nat                   the reply node, for NATed entries only
//! ```
//!
//! A NATed entry's reply tuple is not the inverse of its original one: it
//! lives out of line in a [`NatExt`], allocated when NAT binds the entry
//! (before confirmation), with the link of the reply chain it joins at
//! confirmation (under that chain's stripe lock, `crate::table`). Entries
//! without NAT stay at 128 bytes and never touch it.
//!
//! An entry created while `ip_conntrack_acct` is 1 comes from a second
//! cache, `ip_conntrack_acct`, whose objects carry each direction's
//! packet and byte counters after the entry (past the status shadow word
//! where there is one: `counters_at`), and says so in `counted`. Counters
//! are atomic, as 6.12's: packets add to them without the stripe lock,
//! dumps read them and take what they reported off. Entries without
//! counters stay 128 bytes, and their packets pay nothing: a counted
//! entry also has the `COUNTED` bit in `reported`, so it leaves the
//! update-event check's fast path ([`Conn::note_change`]), which the
//! others keep taking as before.
//!
//! # References
//!
//! The count in `struct nf_conntrack` counts: one for the table while the
//! entry is linked into a chain, one per packet whose `_nfct` points to
//! it, one per [`ConnRef`] the module holds. Whoever drops the last one
//! frees the entry ([`destroy`]): the kernel through `nf_conntrack_put` →
//! `nf_ct_hook->destroy`, or a [`ConnRef`] going out of scope. An entry is
//! always unlinked before the table's reference is dropped, so a freed
//! entry is never reachable from a chain.
//!
//! # Locking
//!
//! `stripe` never changes. The chain link and the engine [`Entry`]
//! (`linked`) are read and written only under the lock of stripe `stripe`,
//! confirmed or not (an unconfirmed entry may be shared by a
//! packet's clones and by ICMP errors attached to it), so readers such as
//! the conntrack match see a consistent entry through
//! [`Conn::with_entry`].

use crate::ctinfo::CtInfo;
use crate::ctmatch::PacketState;
use crate::entry::Entry;
use crate::ffi;
use crate::ktable::{StripeCell, Table};
use crate::skb::{Skb, SkbMut};
use crate::Millis;
use core::cell::UnsafeCell;
use core::ptr::{self, NonNull};
use crate::entry::Counters;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU16, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use crate::nat::bind::Binding;
use crate::nat::carried::{Hashed, NatHashes};
use crate::nat::fast::{self, Target};
use crate::nat::Manip;
use crate::tuple::Dir;
use kernel::c_str;
use kernel::prelude::*;
use kernel::types::Opaque;

/// The cache entries come from, set while a [`Cache`] exists.
static CACHE: AtomicPtr<ffi::kmem_cache> = AtomicPtr::new(ptr::null_mut());
/// The cache of entries with counters, set while a [`Cache`] exists.
static COUNTED_CACHE: AtomicPtr<ffi::kmem_cache> = AtomicPtr::new(ptr::null_mut());
/// Where the counters of an entry of `COUNTED_CACHE` start (bytes from
/// the object's start); set before that cache is published.
static COUNTERS_AT: AtomicUsize = AtomicUsize::new(0);
/// The caches of IPv6 entries (`ip_conntrack6`, `ip_conntrack6_acct`):
/// the status word at `offsetof(struct nf_conn, status)`, then the
/// address words at `ADDRS_AT6`, then (counted) the counters at
/// `COUNTERS_AT6`.
static CACHE6: AtomicPtr<ffi::kmem_cache> = AtomicPtr::new(ptr::null_mut());
static COUNTED_CACHE6: AtomicPtr<ffi::kmem_cache> = AtomicPtr::new(ptr::null_mut());
static ADDRS_AT6: AtomicUsize = AtomicUsize::new(0);
static COUNTERS_AT6: AtomicUsize = AtomicUsize::new(0);

/// [`Conn::kind`]: the entry has counters.
const KIND_COUNTED: u8 = 1;
/// [`Conn::kind`]: an IPv6 entry (from `CACHE6` or `COUNTED_CACHE6`).
const KIND_V6: u8 = 2;

/// One direction's counters in an entry that counts.
#[repr(C)]
pub(crate) struct AtomicCounters {
    packets: AtomicU64,
    bytes: AtomicU64,
}

impl AtomicCounters {
    /// One more packet of `bytes` bytes.
    #[inline]
    fn add(&self, bytes: u32) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(u64::from(bytes), Ordering::Relaxed);
    }

    /// The values.
    fn read(&self) -> Counters {
        Counters { packets: self.packets.load(Ordering::Relaxed), bytes: self.bytes.load(Ordering::Relaxed) }
    }

    /// Takes `c` (values read before) off: what was counted since stays.
    fn take(&self, c: &Counters) {
        self.packets.fetch_sub(c.packets, Ordering::Relaxed);
        self.bytes.fetch_sub(c.bytes, Ordering::Relaxed);
    }
}

/// The slab caches "ip_conntrack" of [`Conn`] objects and
/// "ip_conntrack_acct" of entries with counters; destroyed on drop.
///
/// # Invariants
///
/// While it exists, `CACHE` and `COUNTED_CACHE` hold its live caches, and
/// `COUNTERS_AT` the counters' offset in the objects of the second, which
/// leaves room for two [`AtomicCounters`] 8-byte aligned past the
/// [`Conn`]. It is dropped only once every entry is freed (every table
/// is gone: tables wait for their entries).
pub(crate) struct Cache {
    _private: (),
}

impl Cache {
    /// Creates the caches. `EBUSY` if they exist.
    pub(crate) fn new() -> Result<Self> {
        let size = u32::try_from(core::mem::size_of::<Conn>()).map_err(|_| EINVAL)?;
        let align = u32::try_from(core::mem::align_of::<Conn>()).map_err(|_| EINVAL)?;
        let extra = u32::try_from(core::mem::size_of::<[AtomicCounters; 2]>()).map_err(|_| EINVAL)?;
        let mut at: u32 = 0;
        // SAFETY: the name is a 'static C string; size and align describe
        // `Conn`; `at` is a valid `unsigned int` to write.
        let counted = unsafe {
            ffi::ipct_cache_create(c_str!("ip_conntrack_acct").as_char_ptr(), size, align, extra, &mut at)
        };
        if counted.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: as above; no extension asked for, so `at` is not written.
        let c = unsafe {
            ffi::ipct_cache_create(c_str!("ip_conntrack").as_char_ptr(), size, align, 0, ptr::null_mut())
        };
        let at = usize::try_from(at).unwrap_or(0);
        let aligned = at % core::mem::align_of::<AtomicCounters>() == 0 && at >= core::mem::size_of::<Conn>();
        if c.is_null() || !aligned {
            // SAFETY: both were just created (if at all) and are not published.
            unsafe {
                if !c.is_null() {
                    ffi::ipct_cache_destroy(c);
                }
                ffi::ipct_cache_destroy(counted);
            }
            return Err(ENOMEM);
        }
        COUNTERS_AT.store(at, Ordering::Relaxed);
        if CACHE
            .compare_exchange(ptr::null_mut(), c, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: both were just created and are not published.
            unsafe {
                ffi::ipct_cache_destroy(c);
                ffi::ipct_cache_destroy(counted);
            }
            return Err(EBUSY);
        }
        COUNTED_CACHE.store(counted, Ordering::Release);
        // SAFETY: `c` and `counted` are live caches.
        let (objsize, counted_size) = unsafe { (ffi::ipct_cache_object_size(c), ffi::ipct_cache_object_size(counted)) };
        pr_info!(
            "entry cache: {} bytes per entry ({} used), {} with counters\n",
            objsize,
            size,
            counted_size
        );
        let this = Self { _private: () };
        // Dropping `this` on failure destroys whatever was published.
        Self::new6(size, align, extra)?;
        // INVARIANT: the caches are published, and the offsets set.
        Ok(this)
    }

    /// Creates and publishes the IPv6 caches.
    fn new6(size: u32, align: u32, extra: u32) -> Result {
        let (mut addrs, mut addrs_c, mut at) = (0u32, 0u32, 0u32);
        // SAFETY: 'static C string names; size and align describe `Conn`;
        // the out-parameters are valid `unsigned int`s to write.
        let (c, counted) = unsafe {
            (
                ffi::ipct_cache_create6(c_str!("ip_conntrack6").as_char_ptr(), size, align, 0, &mut addrs, ptr::null_mut()),
                ffi::ipct_cache_create6(
                    c_str!("ip_conntrack6_acct").as_char_ptr(),
                    size,
                    align,
                    extra,
                    &mut addrs_c,
                    &mut at,
                ),
            )
        };
        let to_usize = |v: u32| usize::try_from(v).unwrap_or(0);
        let (addrs, addrs_c, at) = (to_usize(addrs), to_usize(addrs_c), to_usize(at));
        let fits = |a: usize| a % 8 == 0 && a >= core::mem::size_of::<Conn>();
        if c.is_null() || counted.is_null() || addrs != addrs_c || !fits(addrs) || !fits(at) || at < addrs + 32 {
            // SAFETY: created just now (if at all) and not published.
            unsafe {
                for p in [c, counted] {
                    if !p.is_null() {
                        ffi::ipct_cache_destroy(p);
                    }
                }
            }
            return Err(ENOMEM);
        }
        ADDRS_AT6.store(addrs, Ordering::Relaxed);
        COUNTERS_AT6.store(at, Ordering::Relaxed);
        CACHE6.store(c, Ordering::Release);
        COUNTED_CACHE6.store(counted, Ordering::Release);
        // SAFETY: live caches.
        let (objsize, counted_size) = unsafe { (ffi::ipct_cache_object_size(c), ffi::ipct_cache_object_size(counted)) };
        pr_info!("IPv6 entry cache: {} bytes per entry, {} with counters\n", objsize, counted_size);
        Ok(())
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        for cache in [&CACHE, &COUNTED_CACHE, &CACHE6, &COUNTED_CACHE6] {
            let c = cache.swap(ptr::null_mut(), Ordering::AcqRel);
            if !c.is_null() {
                // SAFETY: `c` is a live cache (type invariant) and no entry
                // is allocated any more (type invariant), so nothing uses it.
                unsafe { ffi::ipct_cache_destroy(c) };
            }
        }
    }
}

/// The bit of [`Conn::reported`] that says the entry counts packets
/// (`change_summary` leaves it clear: TCP state numbers stay below 16).
const COUNTED: u16 = 1 << 15;

/// What a packet's processing leaves to do once the stripe lock is
/// dropped ([`Conn::note_change`]), in one byte: 0 for nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Note(u8);

impl Note {
    /// Nothing to do.
    pub(crate) const QUIET: Note = Note(0);
    const UPDATE: u8 = 1;
    const PROTOINFO: u8 = 2;
    const COUNT: u8 = 4;

    /// Send `event` (an update, the only kind a packet makes) and/or
    /// count the packet.
    pub(crate) fn new(event: Option<crate::netlink::ctnetlink::Event>, count: bool) -> Note {
        use crate::netlink::ctnetlink::Event;
        let ev = match event {
            Some(Event::Update { protoinfo: true }) => Self::UPDATE | Self::PROTOINFO,
            Some(Event::Update { protoinfo: false }) => Self::UPDATE,
            _ => 0,
        };
        Note(ev | if count { Self::COUNT } else { 0 })
    }

    /// The update event to send.
    #[inline]
    pub(crate) fn event(self) -> Option<crate::netlink::ctnetlink::Event> {
        (self.0 & Self::UPDATE != 0)
            .then_some(crate::netlink::ctnetlink::Event::Update { protoinfo: self.0 & Self::PROTOINFO != 0 })
    }

    /// The same without the event (the packet is still counted).
    pub(crate) fn without_event(self) -> Note {
        Note(self.0 & Self::COUNT)
    }

    /// Whether to count the packet.
    pub(crate) fn count(self) -> bool {
        self.0 & Self::COUNT != 0
    }
}

/// The out-of-line NAT state of a NATed entry.
///
/// `reply`, `orig` and `status` (a copy of the entry's: what the NAT hooks
/// read) are written only while the entry is unconfirmed, under its
/// stripe lock, and never after it joins the table, so they are read
/// without a lock (after [`Conn::is_confirmed`], whose release store
/// orders them, or by the path of the packet that wrote them while it
/// binds the entry); `reply_next` is the reply chain link, read and written
/// only under the lock of the stripe whose reply chain holds the node. All
/// fields are atomics (relaxed: the locks and `confirmed` order them).
pub(crate) struct NatExt {
    reply: [AtomicU64; 2],
    orig: [AtomicU64; 2],
    /// The NAT bits of the entry's status (all below bit 16).
    status: AtomicU16,
    reply_next: AtomicPtr<Conn>,
    /// The source chain links, under the lock of the stripe whose source
    /// chain holds the entry.
    src_next: AtomicPtr<Conn>,
    src_prev: AtomicPtr<Conn>,
    /// The source node's state (`Store::src_mark`): 0 never linked, 1
    /// linked, 2 released.
    src_state: AtomicU8,
    /// MASQUERADE's outgoing interface (0: none), for its flush.
    masq_index: AtomicI32,
    /// What each end of each direction's packets becomes
    /// ([`fast::targets`], by [`fast::slot`]): written with `reply`.
    targets: [AtomicU64; 4],
    /// The flow hash of `reply`, written with it ([`NatHashes`]).
    reply_hash: AtomicU64,
    /// The source hash of `orig`, written with the `SRC_NAT` bit.
    src_hash: AtomicU64,
}

impl NatExt {
    /// What end `manip` of a packet of direction `dir` becomes
    /// ([`Target::NONE`]: nothing to rewrite).
    #[inline]
    pub(crate) fn target(&self, manip: Manip, dir: Dir) -> Target {
        self.targets.get(fast::slot(manip, dir)).map_or(Target::NONE, |t| Target::from_raw(t.load(Ordering::Relaxed)))
    }

    /// MASQUERADE's outgoing interface index, 0 if none.
    #[inline]
    pub(crate) fn masq_index(&self) -> i32 {
        self.masq_index.load(Ordering::Relaxed)
    }
}

// One 128-byte allocation per NATed entry (kmalloc-128): with the entry,
// 256 bytes, as nf_conntrack's entry alone.
const _: () = assert!(core::mem::size_of::<NatExt>() <= 128);
const NAT_BITS: u32 = crate::entry::Status::NAT_MASK
    | crate::entry::Status::SRC_NAT_DONE
    | crate::entry::Status::DST_NAT_DONE;
const _: () = assert!(NAT_BITS <= 0xffff);

/// The chain link word. Until the entry is first linked into a chain
/// (its confirmation, which sets `CONFIRMED` under the same lock hold) it
/// holds the flow hash of the entry's key as tracking computed it (0:
/// none), which confirmation uses to find the bucket
/// ([`crate::flow_note`]); from then on the link. Chains are only walked
/// from their heads, so the word of an entry never linked is never read
/// as a link (as the stale link of an unlinked one is never followed).
#[repr(C)]
#[derive(Clone, Copy)]
union Link {
    next: Option<ConnPtr>,
    hash: u64,
}

/// The chain link and the engine entry: only under the stripe lock.
pub(crate) struct Linked {
    link: Link,
    /// The connection.
    pub(crate) entry: Entry,
}

impl Linked {
    /// Next entry of the chain: only of an entry reached through a chain.
    #[inline(always)]
    pub(crate) fn next(&self) -> Option<ConnPtr> {
        // SAFETY: every bit pattern is an `Option<ConnPtr>` (null is
        // `None`); an entry reached through a chain was linked, so the
        // word holds its link (`Link`).
        unsafe { self.link.next }
    }

    /// Sets the chain link.
    #[inline(always)]
    pub(crate) fn set_next(&mut self, next: Option<ConnPtr>) {
        self.link = Link { next };
    }

    /// The flow hash kept at allocation, while the entry was never
    /// linked (unconfirmed); `None` if none was kept.
    #[inline(always)]
    pub(crate) fn new_hash(&self) -> Option<u64> {
        if self.entry.status.has(crate::entry::Status::CONFIRMED) {
            return None;
        }
        // SAFETY: every bit pattern is a `u64`; an unconfirmed entry was
        // never linked, so the word still holds what `Conn::alloc` wrote
        // there (`Link`).
        let h = unsafe { self.link.hash };
        (h != 0).then_some(h)
    }
}

/// One tracked connection (see the module documentation).
#[repr(C)]
pub(crate) struct Conn {
    /// The reference count (`skb->_nfct` points here).
    general: Opaque<ffi::nf_conntrack>,
    confirmed: AtomicBool,
    /// [`KIND_COUNTED`]: came from a counted cache, has
    /// [`AtomicCounters`] at `COUNTERS_AT` (`COUNTERS_AT6`);
    /// [`KIND_V6`]: an IPv6 entry, with its address words at `ADDRS_AT6`.
    /// Never changes.
    kind: u8,
    /// What update events last reported (`change_summary`), written under
    /// the stripe lock; in what was padding.
    reported: AtomicU16,
    stripe: NonNull<StripeCell>,
    linked: UnsafeCell<Linked>,
    /// The NAT state, null without NAT; set once (under the stripe lock,
    /// unconfirmed), freed with the entry.
    nat: AtomicPtr<NatExt>,
}

// The memory budget: a 128-byte slab object at most.
const _: () = assert!(core::mem::size_of::<Conn>() <= 128);
// `general` is first: skb->_nfct and nf_conntrack_put use its address.
const _: () = assert!(core::mem::offset_of!(Conn, general) == 0);

// SAFETY: the reference count (C refcount_t) and `confirmed` are atomic, `stripe` never
// changes, `linked` is only touched under the stripe lock (module documentation); the
// stripe and its table outlive the entry and are `Sync`.
unsafe impl Sync for Conn {}
// SAFETY: see `Sync`; an entry is not tied to a thread.
unsafe impl Send for Conn {}

impl Conn {
    /// Allocates an entry of `stripe` with one reference (the caller's),
    /// with zeroed counters when `counted`. `None` when out of memory or
    /// without a cache. Only the table calls this (it counts the entry).
    /// `addrs6`: an IPv6 entry's address words (from the IPv6 caches).
    /// `hash`: the flow hash of `entry`'s key and `addrs6`, kept in the
    /// chain link word until confirmation ([`Linked::new_hash`]).
    pub(crate) fn alloc(
        stripe: &StripeCell,
        entry: Entry,
        counted: bool,
        addrs6: Option<[u64; 4]>,
        hash: Option<u64>,
    ) -> Option<ConnRef> {
        let v6 = addrs6.is_some();
        let cache = match (v6, counted) {
            (false, false) => &CACHE,
            (false, true) => &COUNTED_CACHE,
            (true, false) => &CACHE6,
            (true, true) => &COUNTED_CACHE6,
        }
        .load(Ordering::Acquire);
        if cache.is_null() {
            return None;
        }
        let p = if v6 {
            // SAFETY: `cache` is a live IPv6 cache (`Cache` invariant).
            unsafe { ffi::ipct_cache_alloc6(cache) }
        } else {
            // SAFETY: `cache` is a live cache (`Cache` invariant).
            unsafe { ffi::ipct_cache_alloc(cache) }
        }
        .cast::<Conn>();
        let p = NonNull::new(p)?;
        let kind = if counted { KIND_COUNTED } else { 0 } | if v6 { KIND_V6 } else { 0 };
        // SAFETY: `p` is a fresh object of the size and alignment of
        // `Conn`, ours alone until published; one of the counted cache
        // also has room for the counters at `COUNTERS_AT` (`Cache`
        // invariant).
        unsafe {
            ptr::write(
                p.as_ptr(),
                Conn {
                    general: Opaque::uninit(),
                    confirmed: AtomicBool::new(false),
                    kind,
                    reported: AtomicU16::new(if counted { COUNTED } else { 0 }),
                    stripe: NonNull::from(stripe),
                    linked: UnsafeCell::new(Linked { link: Link { hash: hash.unwrap_or(0) }, entry }),
                    nat: AtomicPtr::new(ptr::null_mut()),
                },
            );
            if let Some(a) = addrs6 {
                // An IPv6 object has its address words there (`Cache`
                // invariant), 8-byte aligned.
                let at = p.as_ptr().cast::<u8>().add(ADDRS_AT6.load(Ordering::Relaxed));
                ptr::write(at.cast::<[u64; 4]>(), a);
            }
            if counted {
                let at = p.as_ptr().cast::<u8>().add(Self::counters_at(kind));
                let zero = || AtomicCounters { packets: AtomicU64::new(0), bytes: AtomicU64::new(0) };
                ptr::write(at.cast::<[AtomicCounters; 2]>(), [zero(), zero()]);
            }
            ffi::ipct_nfct_init((*p.as_ptr()).general.get());
        }
        // The one reference set above is the caller's.
        Some(ConnRef(ConnPtr(p)))
    }

    /// Where the counters of an entry of `kind` start.
    fn counters_at(kind: u8) -> usize {
        if kind & KIND_V6 != 0 { &COUNTERS_AT6 } else { &COUNTERS_AT }.load(Ordering::Relaxed)
    }

    /// An IPv6 entry's address words ([`crate::table::Store::addrs6`]).
    #[inline]
    pub(crate) fn addrs6(&self) -> Option<[u64; 4]> {
        if self.kind & KIND_V6 == 0 {
            return None;
        }
        let at = ADDRS_AT6.load(Ordering::Relaxed);
        // SAFETY: an IPv6 entry is an object of an IPv6 cache with its
        // address words written at `at` by `alloc` before it was
        // published, never written again, 8-byte aligned (`Cache`
        // invariant).
        Some(unsafe { (self as *const Conn).cast::<u8>().add(at).cast::<[u64; 4]>().read() })
    }

    /// Whether this is an IPv6 entry.
    #[inline]
    pub(crate) fn is_v6(&self) -> bool {
        self.kind & KIND_V6 != 0
    }

    /// The counters of an entry that counts (original, reply).
    #[inline]
    fn counters(&self) -> Option<&[AtomicCounters; 2]> {
        if self.kind & KIND_COUNTED == 0 {
            return None;
        }
        let at = Self::counters_at(self.kind);
        // SAFETY: a counted entry is an object of the counted cache, with
        // its counters initialised at `at` by `alloc` and alive as long
        // as the entry (`Cache` invariant); they are only used atomically.
        Some(unsafe { &*(self as *const Conn).cast::<u8>().add(at).cast::<[AtomicCounters; 2]>() })
    }

    /// Counts a packet of `bytes` bytes (`skb->len` at the tracking
    /// hook) classified `ctinfo`, if the entry counts: as 6.12 does when
    /// the protocol refreshes the entry, so not for ICMP errors
    /// (RELATED), which 6.12 attaches without counting.
    pub(crate) fn account(&self, ctinfo: CtInfo, bytes: usize) {
        if let Some([o, r]) = self.counters() {
            let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
            match ctinfo {
                CtInfo::Related | CtInfo::RelatedReply => {}
                CtInfo::Established | CtInfo::New => o.add(bytes),
                CtInfo::EstablishedReply => r.add(bytes),
            }
        }
    }

    /// Adds the bytes `loser`'s direction `ctinfo` counted to this
    /// entry's, as one packet (`nf_ct_acct_merge`: a clash on
    /// confirmation left this entry in the table instead).
    pub(crate) fn account_merged(&self, ctinfo: CtInfo, loser: &Conn) {
        if let Some([o, r]) = loser.counters() {
            let c = if ctinfo.dir() == crate::tuple::Dir::Reply { r } else { o };
            self.account(ctinfo, usize::try_from(c.bytes.load(Ordering::Relaxed)).unwrap_or(usize::MAX));
        }
    }

    /// Whether the entry counts packets.
    pub(crate) fn counts(&self) -> bool {
        self.kind & KIND_COUNTED != 0
    }

    /// Both directions' counters, if the entry counts.
    pub(crate) fn read_counters(&self) -> Option<[Counters; 2]> {
        self.counters().map(|[o, r]| [o.read(), r.read()])
    }

    /// Zeroes the counters `seen` (read by [`Conn::read_counters`] and
    /// reported): `conntrack -L -z` once the entry's message is written,
    /// so none is lost to a full buffer and packets counted meanwhile
    /// stay counted (6.12 exchanges them with 0 before writing).
    pub(crate) fn zero_counters(&self, seen: &[Counters; 2]) {
        if let (Some([o, r]), [so, sr]) = (self.counters(), seen) {
            o.take(so);
            r.take(sr);
        }
    }

    /// The table the entry belongs to.
    pub(crate) fn table(&self) -> &Table {
        self.stripe_cell().table()
    }

    /// The stripe the entry belongs to, by address (membership checks).
    pub(crate) fn stripe_ptr(&self) -> NonNull<StripeCell> {
        self.stripe
    }

    /// The stripe's index within the table.
    pub(crate) fn stripe_index(&self) -> u32 {
        self.stripe_cell().index()
    }

    /// The stripe whose lock guards the entry.
    pub(crate) fn stripe_cell(&self) -> &StripeCell {
        // SAFETY: a table and its stripes outlive its entries (the table
        // waits for them at exit).
        unsafe { self.stripe.as_ref() }
    }

    /// Whether the entry is in the table (or was: confirmed entries stay
    /// confirmed once removed).
    #[inline]
    pub(crate) fn is_confirmed(&self) -> bool {
        self.confirmed.load(Ordering::Acquire)
    }

    /// Marks the entry confirmed. Only the table calls this, under the
    /// stripe lock, when it links the entry.
    pub(crate) fn set_confirmed(&self) {
        self.confirmed.store(true, Ordering::Release);
        if self.is_v6() {
            // SAFETY: an IPv6 object always has the word at
            // `offsetof(struct nf_conn, status)` (`ipct_cache_create6`).
            unsafe { ffi::ipct_status_confirmed6(self.general.get().cast()) };
            return;
        }
        // SAFETY: `general` is at the start of the entry's slab object,
        // which the helper extends past `nf_conn.status` whenever it keeps
        // a shadow of that word (and otherwise leaves alone).
        unsafe { ffi::ipct_shadow_confirmed(self.general.get().cast()) };
    }

    /// Records `e` (this entry, read under its stripe lock, which the
    /// caller holds) as reported to event listeners; what is left to do
    /// after the lock: the update event it makes, if it changed what was
    /// reported (unconfirmed entries make none: their new-entry event
    /// reports them), and whether the entry counts packets. Entries
    /// without counters whose state did not change leave at the first
    /// comparison ([`Note::QUIET`]).
    #[inline]
    pub(crate) fn note_change(&self, e: &Entry) -> Note {
        use crate::netlink::ctnetlink::change_summary;
        let new = change_summary(e);
        // Under the stripe lock: a plain load and store, no atomic
        // read-modify-write on every packet. A counted entry's word has
        // `COUNTED` too, so it never equals `new`.
        let old = self.reported.load(Ordering::Relaxed);
        if old == new {
            return Note::QUIET;
        }
        self.note_slow(old, new)
    }

    /// [`Conn::note_change`] past the first comparison.
    #[inline(never)]
    fn note_slow(&self, old: u16, new: u16) -> Note {
        let counted = old & COUNTED;
        let old = old & !COUNTED;
        let mut event = None;
        if old != new {
            self.reported.store(new | counted, Ordering::Relaxed);
            if self.is_confirmed() {
                event = crate::netlink::ctnetlink::update_event(old, new);
            }
        }
        Note::new(event, counted != 0)
    }

    /// The NAT state, if NAT bound the entry.
    fn nat(&self) -> Option<&NatExt> {
        let p = self.nat.load(Ordering::Acquire);
        // SAFETY: a non-null `nat` is a `NatExt` from `KBox::into_raw`
        // (`set_nat_reply`), freed only with the entry.
        unsafe { p.as_ref() }
    }

    /// The key of the reply tuple NAT gave the entry, if any: fixed once
    /// the entry is confirmed, so read without a lock.
    #[inline]
    pub(crate) fn nat_reply(&self) -> Option<[u64; 2]> {
        let n = self.nat()?;
        Some([n.reply[0].load(Ordering::Relaxed), n.reply[1].load(Ordering::Relaxed)])
    }

    /// Records the unconfirmed entry's NAT binding `b`: kept out of line
    /// once the reply tuple is not the original's inverse (`nat`), or
    /// updated if it was before (a later null binding's bits); with
    /// `masq_index` if MASQUERADE bound it. Call under the entry's stripe
    /// lock, before it is confirmed. `ENOMEM` when the NAT state cannot be
    /// allocated.
    /// `hashes`: those of `b`'s keys ([`NatHashes::of`]).
    pub(crate) fn set_nat(&self, b: &Binding, hashes: &NatHashes, nat: bool, masq_index: i32) -> Result {
        let n = match self.nat() {
            Some(n) => n,
            None if !nat => return Ok(()),
            None => {
                let zero = || [AtomicU64::new(0), AtomicU64::new(0)];
                let ext = KBox::new(
                    NatExt {
                        reply: zero(),
                        orig: zero(),
                        status: AtomicU16::new(0),
                        reply_next: AtomicPtr::new(ptr::null_mut()),
                        src_next: AtomicPtr::new(ptr::null_mut()),
                        src_prev: AtomicPtr::new(ptr::null_mut()),
                        src_state: AtomicU8::new(0),
                        masq_index: AtomicI32::new(0),
                        targets: [const { AtomicU64::new(0) }; 4],
                        reply_hash: AtomicU64::new(0),
                        src_hash: AtomicU64::new(0),
                    },
                    GFP_ATOMIC,
                )?;
                let p = KBox::into_raw(ext);
                // Under the stripe lock: nobody else sets it.
                self.nat.store(p, Ordering::Release);
                // SAFETY: just allocated, freed only with the entry.
                unsafe { &*p }
            }
        };
        for (a, v) in n.reply.iter().zip(b.reply) {
            a.store(v, Ordering::Relaxed);
        }
        n.reply_hash.store(hashes.reply.raw(), Ordering::Relaxed);
        if let Some(h) = hashes.source {
            n.src_hash.store(h.raw(), Ordering::Relaxed);
        }
        for (a, v) in n.orig.iter().zip(b.orig) {
            a.store(v, Ordering::Relaxed);
        }
        n.status.store(u16::try_from(b.status & NAT_BITS).unwrap_or(0), Ordering::Relaxed);
        for (a, t) in n.targets.iter().zip(fast::targets(b)) {
            a.store(t.raw(), Ordering::Relaxed);
        }
        if masq_index != 0 {
            n.masq_index.store(masq_index, Ordering::Relaxed);
        }
        Ok(())
    }

    /// A confirmed entry's NAT binding, read without a lock; `None` when
    /// NAT changes none of its packets (or it is not confirmed yet).
    #[inline]
    pub(crate) fn confirmed_binding(&self) -> Option<Binding> {
        if !self.is_confirmed() {
            return None;
        }
        self.nat_binding()
    }

    /// The binding the NAT state holds, read without a lock: as the last
    /// [`Conn::set_nat`] left it (for an unconfirmed entry, only the path
    /// of the packet carrying it binds it).
    #[inline]
    pub(crate) fn nat_binding(&self) -> Option<Binding> {
        let n = self.nat()?;
        let load = |a: &[AtomicU64; 2]| [a[0].load(Ordering::Relaxed), a[1].load(Ordering::Relaxed)];
        let status = u32::from(n.status.load(Ordering::Relaxed));
        Some(Binding { status, orig: load(&n.orig), reply: load(&n.reply) })
    }

    /// The NAT state, if NAT bound the entry: its bindings are fixed once
    /// the entry is confirmed ([`Conn::is_confirmed`]), and read without
    /// a lock from then on.
    #[inline]
    pub(crate) fn nat_state(&self) -> Option<&NatExt> {
        self.nat()
    }

    /// The key of the original tuple when source NAT changed it, with
    /// the source hash carried for it, read without a lock (fixed before
    /// confirmation).
    #[inline]
    pub(crate) fn src_nat_hashed(&self) -> Option<Hashed> {
        let n = self.nat()?;
        if u32::from(n.status.load(Ordering::Relaxed)) & crate::entry::Status::SRC_NAT == 0 {
            return None;
        }
        let orig = [n.orig[0].load(Ordering::Relaxed), n.orig[1].load(Ordering::Relaxed)];
        Some(Hashed::stored(orig, n.src_hash.load(Ordering::Relaxed)))
    }

    /// [`Conn::nat_reply`] with the flow hash carried for it.
    #[inline]
    pub(crate) fn nat_reply_hashed(&self) -> Option<Hashed> {
        let n = self.nat()?;
        let reply = [n.reply[0].load(Ordering::Relaxed), n.reply[1].load(Ordering::Relaxed)];
        Some(Hashed::stored(reply, n.reply_hash.load(Ordering::Relaxed)))
    }

    /// The hashes the NAT state carries, if any (for the next binding
    /// of the unconfirmed entry, [`NatHashes::of`]).
    pub(crate) fn nat_hashes(&self) -> Option<NatHashes> {
        Some(NatHashes { reply: self.nat_reply_hashed()?, source: self.src_nat_hashed() })
    }

    /// The original tuple's key of a NATed entry, read without a lock.
    pub(crate) fn nat_orig(&self) -> Option<[u64; 2]> {
        let n = self.nat()?;
        Some([n.orig[0].load(Ordering::Relaxed), n.orig[1].load(Ordering::Relaxed)])
    }

    /// The next node of the source chain holding this entry. Only under
    /// that chain's stripe lock.
    pub(crate) fn src_next(&self) -> Option<ConnPtr> {
        let p = self.nat()?.src_next.load(Ordering::Relaxed);
        NonNull::new(p).map(ConnPtr)
    }

    /// Sets [`Conn::src_next`]; a no-op without NAT state.
    pub(crate) fn set_src_next(&self, next: Option<ConnPtr>) {
        if let Some(n) = self.nat() {
            let p = next.map_or(ptr::null_mut(), |c| c.0.as_ptr());
            n.src_next.store(p, Ordering::Relaxed);
        }
    }

    /// The node before this entry in its source chain. Only under that
    /// chain's stripe lock.
    pub(crate) fn src_prev(&self) -> Option<ConnPtr> {
        let p = self.nat()?.src_prev.load(Ordering::Relaxed);
        NonNull::new(p).map(ConnPtr)
    }

    /// Sets [`Conn::src_prev`]; a no-op without NAT state.
    pub(crate) fn set_src_prev(&self, prev: Option<ConnPtr>) {
        if let Some(n) = self.nat() {
            let p = prev.map_or(ptr::null_mut(), |c| c.0.as_ptr());
            n.src_prev.store(p, Ordering::Relaxed);
        }
    }

    /// `Store::src_mark` on this entry's NAT state: claims the right to
    /// link its source node (`link`), or releases it for good, saying
    /// whether it was linked.
    pub(crate) fn src_mark(&self, link: bool) -> bool {
        let Some(n) = self.nat() else { return false };
        if link {
            n.src_state.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire).is_ok()
        } else {
            n.src_state.swap(2, Ordering::AcqRel) == 1
        }
    }

    /// MASQUERADE's outgoing interface index, 0 if none.
    pub(crate) fn masq_index(&self) -> i32 {
        self.nat().map_or(0, |n| n.masq_index.load(Ordering::Relaxed))
    }

    /// The next node of the reply chain holding this entry's reply node.
    /// Only under that chain's stripe lock.
    pub(crate) fn reply_next(&self) -> Option<ConnPtr> {
        let p = self.nat()?.reply_next.load(Ordering::Relaxed);
        NonNull::new(p).map(ConnPtr)
    }

    /// Sets [`Conn::reply_next`]; a no-op without NAT state. Only under
    /// that chain's stripe lock.
    pub(crate) fn set_reply_next(&self, next: Option<ConnPtr>) {
        if let Some(n) = self.nat() {
            let p = next.map_or(ptr::null_mut(), |c| c.0.as_ptr());
            n.reply_next.store(p, Ordering::Relaxed);
        }
    }

    /// The current reference count (the `use=` of `/proc`).
    pub(crate) fn use_count(&self) -> u32 {
        // SAFETY: `general` is an initialised refcount while `self` lives.
        unsafe { ffi::ipct_nfct_use(self.general.get()) }
    }

    /// A new reference to this entry (`refcount_inc`, inline).
    #[inline]
    pub(crate) fn new_ref(&self) -> ConnRef {
        let refs = self.general.get().cast::<i32>();
        // SAFETY: `general` begins with the entry's `refcount_t`, an
        // `atomic_t` (one `int`), aligned and alive while `self` is; every
        // other access to it is atomic too (the kernel's refcount calls).
        let count = unsafe { AtomicI32::from_ptr(refs) };
        let old = count.fetch_add(1, Ordering::Relaxed);
        if old <= 0 || old == i32::MAX {
            // `&self` proves the entry alive, so the count was at least
            // one: what refcount_inc reports (and saturates) happened.
            let kind = if old == 0 {
                kernel::bindings::refcount_saturation_type_REFCOUNT_ADD_UAF
            } else {
                kernel::bindings::refcount_saturation_type_REFCOUNT_ADD_OVF
            };
            // SAFETY: `refs` is a live `refcount_t` (see above).
            unsafe { kernel::bindings::refcount_warn_saturate(refs.cast(), kind) };
        }
        ConnRef(ConnPtr(NonNull::from(self)))
    }

    /// The chain link and entry, for the table's store.
    ///
    /// The pointer may be dereferenced only under the lock of
    /// [`Conn::stripe_cell`].
    pub(crate) fn linked_ptr(&self) -> *mut Linked {
        self.linked.get()
    }

    /// Runs `f` on the entry under its stripe lock (a consistent view).
    /// Must not be called with a stripe lock of the same table held.
    pub(crate) fn with_entry<R>(&self, f: impl FnOnce(&Entry) -> R) -> R {
        self.with_linked(|l| f(&l.entry))
    }

    /// Runs `f` on the entry under its stripe lock, mutably.
    pub(crate) fn with_entry_mut<R>(&self, f: impl FnOnce(&mut Entry) -> R) -> R {
        self.with_linked(|l| f(&mut l.entry))
    }

    #[allow(dead_code, reason = "API of the conntrack match and /proc")]
    /// A copy of the entry, taken under its stripe lock.
    pub(crate) fn snapshot(&self) -> Entry {
        self.with_entry(|e| *e)
    }

    /// The raw pointer of the entry, as stored in `skb->_nfct`.
    pub(crate) fn nfct(&self) -> *mut ffi::nf_conntrack {
        self.general.get()
    }

    /// The entry owning the `nf_conntrack` at `ct`.
    ///
    /// # Safety
    ///
    /// `ct` must be the `general` field of a live [`Conn`] (a pointer this
    /// module stored in `skb->_nfct`), alive for `'a`.
    pub(crate) unsafe fn from_nfct<'a>(ct: *const ffi::nf_conntrack) -> &'a Conn {
        // SAFETY: `general` is the first field of the `repr(C)` `Conn`, so
        // both share an address; the caller guarantees liveness.
        unsafe { &*ct.cast::<Conn>() }
    }
}

/// The module's clock: milliseconds since boot (jiffies based).
#[inline]
pub(crate) fn now() -> Millis {
    const HZ: u64 = ffi::IPCT_HZ as u64;
    if HZ != 0 && 1000 % HZ == 0 {
        // SAFETY: `jiffies_64` is the kernel's tick counter, only ever
        // written by the timer code; a 64-bit machine reads it in one load
        // (what get_jiffies_64() does there).
        let j = unsafe { core::ptr::addr_of!(kernel::bindings::jiffies_64).read_volatile() };
        j.wrapping_mul(1000 / HZ)
    } else {
        // SAFETY: reads the jiffies counter.
        unsafe { ffi::ipct_now_ms() }
    }
}

/// Names an entry without owning a reference: the engine's
/// [`crate::table::Store::Ref`]. Dereferenced only while the entry is known
/// to be alive (linked, under its stripe lock, or with a reference held).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnPtr(NonNull<Conn>);

// SAFETY: a plain address; entries are shared between CPUs under the rules
// of the module documentation.
unsafe impl Send for ConnPtr {}

impl ConnPtr {
    /// The entry.
    ///
    /// # Safety
    ///
    /// The entry must be alive for `'a` (linked and its stripe lock held,
    /// or a reference held).
    pub(crate) unsafe fn as_conn<'a>(self) -> &'a Conn {
        // SAFETY: guaranteed by the caller.
        unsafe { self.0.as_ref() }
    }
}

/// An owned reference to an entry; dropping it puts the reference and frees
/// the entry when it was the last.
///
/// # Invariants
///
/// Holds one counted reference to a live entry.
pub(crate) struct ConnRef(ConnPtr);

// SAFETY: a counted reference may be moved and dropped on any CPU.
unsafe impl Send for ConnRef {}
// SAFETY: `&ConnRef` only gives `&Conn`, which is `Sync`.
unsafe impl Sync for ConnRef {}

impl ConnRef {
    /// Takes over one counted reference to `p` (the table's, when the
    /// engine unlinked the entry, or a packet's).
    ///
    /// # Safety
    ///
    /// The caller owns one counted reference to the live entry `p` and
    /// gives it to the result.
    pub(crate) unsafe fn adopt(p: ConnPtr) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self(p)
    }

    /// Gives up ownership of the reference without putting it (the table
    /// keeps it for a linked entry, or a packet for `_nfct`).
    pub(crate) fn into_raw(self) -> ConnPtr {
        let p = self.0;
        core::mem::forget(self);
        p
    }

    /// The entry's name.
    pub(crate) fn ptr(&self) -> ConnPtr {
        self.0
    }
}

impl core::ops::Deref for ConnRef {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        // SAFETY: a counted reference keeps the entry alive (invariant).
        unsafe { self.0.as_conn() }
    }
}

impl Clone for ConnRef {
    fn clone(&self) -> Self {
        self.new_ref()
    }
}

impl Drop for ConnRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference (type invariant).
        unsafe { put(self.0 .0.as_ref().nfct()) };
    }
}

/// Drops one reference of the entry whose `nf_conntrack` is `ct`, freeing
/// it when it was the last.
///
/// # Safety
///
/// The caller owns one counted reference to that live entry and gives it up.
unsafe fn put(ct: *mut ffi::nf_conntrack) {
    // SAFETY: a live, initialised refcount (caller).
    if unsafe { ffi::ipct_nfct_put_test(ct) } {
        // SAFETY: that was the last reference.
        unsafe { destroy(ct) };
    }
}

/// Frees an entry whose count dropped to zero (`nf_ct_hook->destroy`).
///
/// # Safety
///
/// `ct` belongs to an entry of this module whose count just reached zero;
/// nobody else can reach it (it is unlinked: the table holds a reference
/// while it is linked).
pub(crate) unsafe fn destroy(ct: *mut ffi::nf_conntrack) {
    let p = ct.cast::<Conn>();
    // SAFETY: `p` is a `Conn` (first field) nobody else uses any more; its
    // stripe and table outlive it.
    let table = NonNull::from(unsafe { (*p).table() });
    // SAFETY: as above.
    let kind = unsafe { (*p).kind };
    // SAFETY: as above; a non-null `nat` came from `KBox::into_raw` and is
    // unlinked from any reply chain (before the table's reference went).
    let nat = unsafe { (*p).nat.load(Ordering::Acquire) };
    if !nat.is_null() {
        // SAFETY: see above; nothing else refers to it any more.
        drop(unsafe { KBox::from_raw(nat) });
    }
    let cache = match (kind & KIND_V6 != 0, kind & KIND_COUNTED != 0) {
        (false, false) => &CACHE,
        (false, true) => &COUNTED_CACHE,
        (true, false) => &CACHE6,
        (true, true) => &COUNTED_CACHE6,
    }
    .load(Ordering::Acquire);
    // SAFETY: the object came from `cache`, which lives while entries do
    // (`Cache` invariant); `Conn` needs no drop glue (plain data).
    unsafe { ffi::ipct_cache_free(cache, p.cast()) };
    // SAFETY: the table outlives its entries; this is the last use of it
    // by this entry (after it, the table may be freed).
    unsafe { table.as_ref().released() };
}

/// Splits an `_nfct` word into the entry pointer and the ctinfo bits.
fn split(v: usize) -> (usize, usize) {
    let info = ffi::IPCT_NFCT_INFOMASK;
    (v & !info, v & info)
}

/// Whether the packet carries an entry with NEW or RELATED (original
/// direction): the only packets whose entry may not be in the table yet.
/// Reads the `_nfct` word alone.
#[inline]
pub(crate) fn may_be_unconfirmed(skb: &Skb<'_>) -> bool {
    let (p, info) = split(skb.nfct());
    p != 0 && (info == CtInfo::New as usize || info == CtInfo::Related as usize)
}

/// The classification a packet carries, without touching its entry.
pub(crate) fn state(skb: &Skb<'_>) -> PacketState {
    let (p, info) = split(skb.nfct());
    if p == 0 {
        if info == ffi::IPCT_CT_UNTRACKED {
            return PacketState::Untracked;
        }
        return PacketState::Invalid;
    }
    match CtInfo::from_raw(u32::try_from(info).unwrap_or(u32::MAX)) {
        Some(c) => PacketState::Tracked(c),
        None => PacketState::Invalid,
    }
}

/// The entry a packet carries and its classification. The entry lives at
/// least as long as the packet view (the packet holds a reference).
pub(crate) fn from_skb<'a>(skb: &Skb<'a>) -> Option<(&'a Conn, CtInfo)> {
    let (p, info) = split(skb.nfct());
    if p == 0 {
        return None;
    }
    let ctinfo = CtInfo::from_raw(u32::try_from(info).ok()?)?;
    // SAFETY: a non-null `_nfct` is one of our entries (nf_ct_hook is ours, so no other
    // tracker attaches any), and the packet holds a reference for as long as its `_nfct`
    // is unchanged: `'a` (`Skb` invariant).
    Some((unsafe { Conn::from_nfct(p as *const ffi::nf_conntrack) }, ctinfo))
}

/// Attaches `c` to the packet with `ctinfo` (the packet takes over the
/// reference) and returns what it carried before, if anything.
pub(crate) fn attach(skb: &mut SkbMut<'_>, c: ConnRef, ctinfo: CtInfo) -> Option<(ConnRef, CtInfo)> {
    let old = take(skb);
    set_entry(skb, c, ctinfo);
    old
}

/// [`attach`], dropping what the packet carried before (the tracking
/// hook's packets carry nothing: that drop stays out of their way).
#[inline]
pub(crate) fn attach_dropping_old(skb: &mut SkbMut<'_>, c: ConnRef, ctinfo: CtInfo) {
    if split(skb.nfct()).0 != 0 {
        drop_attached(skb);
    }
    set_entry(skb, c, ctinfo);
}

/// Writes `c` with `ctinfo` into the packet's `_nfct` (the packet takes
/// over the reference), whatever was there.
#[inline]
fn set_entry(skb: &mut SkbMut<'_>, c: ConnRef, ctinfo: CtInfo) {
    let p = c.into_raw();
    // SAFETY: `p` is alive: the reference just taken from `c` keeps it.
    let addr = unsafe { p.as_conn() }.nfct() as usize;
    skb.set_nfct(addr | ctinfo as usize);
}

/// Drops the packet's entry, if any.
#[cold]
#[inline(never)]
fn drop_attached(skb: &mut SkbMut<'_>) {
    drop(take(skb));
}

/// Marks a packet that carries nothing as untracked (`IP_CT_UNTRACKED`,
/// no entry, no reference).
pub(crate) fn set_untracked(skb: &mut SkbMut<'_>) {
    if skb.nfct() == 0 {
        skb.set_nfct(ffi::IPCT_CT_UNTRACKED);
    }
}

/// Detaches the packet's entry, if any: the caller gets its reference.
pub(crate) fn take(skb: &mut SkbMut<'_>) -> Option<(ConnRef, CtInfo)> {
    let v = skb.nfct();
    let (p, info) = split(v);
    if p == 0 {
        return None;
    }
    skb.set_nfct(0);
    let ctinfo = CtInfo::from_raw(u32::try_from(info).unwrap_or(0)).unwrap_or(CtInfo::New);
    let p = NonNull::new(p as *mut Conn)?;
    // SAFETY: the packet held one reference to this entry (it was in its
    // `_nfct`), which we take over now that `_nfct` is cleared.
    Some((unsafe { ConnRef::adopt(ConnPtr(p)) }, ctinfo))
}
