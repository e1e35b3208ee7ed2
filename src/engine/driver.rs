//! The per-packet driver: what the tracking hook (PRE_ROUTING, LOCAL_OUT)
//! and the confirmation hook (POST_ROUTING, LOCAL_IN) do with a packet,
//! for the kernel shell and the host tracker alike, so host tests and
//! fuzzing run the kernel's real admission path.
//!
//! The driver owns the sequence of steps and the retry rules; a [`Shell`]
//! owns memory, locks, references and the entry count:
//!
//! ```text
//! track:   prepare (no lock) -> locate stripe s, position in it
//!          up to twice:  lock s; track::process; unlock
//!            Tracked/Related -> hold, attach
//!            Killed          -> hold, attach, release the table's reference
//!            Reopen          -> release the table's reference, go again
//!            New             -> open an entry (no lock), admit (reserve, else early drop and
//!                               reserve again, a few times), alloc, attach
//! confirm: lock s; already confirmed by a clone? closing? track::confirm;
//!          on insertion the shell takes the table's reference; unlock
//! ```
//!
//! Counters go to the caller's [`Stats`]; the shell adds them to its own
//! (per-CPU in the kernel) once the packet is done.

use crate::config::Settings;
use crate::ctinfo::CtInfo;
use crate::entry::{Entry, Status};
use crate::flow_note::{self, FlowNote};
use crate::hash::HashKey;
use crate::invalid::Invalid;
use crate::packet::Packet;
use crate::nat::carried::Hashed;
use crate::stats::Count;
use crate::table::{Layout, Store, Stripe};
use crate::track::{self, Confirm, Decision};
use crate::tuple::Keys;
use crate::Millis;

/// What the driver needs from the code that owns the table.
///
/// Every `Self::Ref` the driver hands to [`Shell::hold`] or
/// [`Shell::linked`] was found in, or just inserted into, the stripe whose
/// lock is held; every one it hands to [`Shell::release`] was just unlinked
/// by the engine, so the table's reference to it is the caller's to put.
pub trait Shell {
    /// Names an entry.
    type Ref: Copy + Eq;
    /// A counted reference to an entry, as a packet holds it.
    type Held;
    /// One stripe's entries, while its lock is held.
    type Store<'l>: Store<Ref = Self::Ref>;

    /// How buckets are split into stripes.
    fn layout(&self) -> Layout;
    /// The flow hash key.
    fn key(&self) -> HashKey;
    /// Runs `f` on stripe `s` under its lock; `None` when out of range.
    fn with_stripe<R>(
        &mut self,
        s: u32,
        f: impl for<'a, 'l> FnOnce(&mut Stripe<'a, Self::Store<'l>>) -> R,
    ) -> Option<R>;
    /// A new reference to `r` for a packet (under the stripe lock).
    fn hold(store: &Self::Store<'_>, r: Self::Ref) -> Self::Held;
    /// `r` was just linked by a confirmation: the table takes its
    /// reference (under the stripe lock).
    fn linked(store: &Self::Store<'_>, r: Self::Ref);
    /// Whether the table is being torn down: nothing may join it (read
    /// under the stripe lock).
    fn closing(store: &Self::Store<'_>) -> bool;
    /// Counts one more entry if the limit allows it, as one atomic step.
    fn reserve(&mut self) -> bool;
    /// Allocates `e` for stripe `s`, using a reservation; `None` when out
    /// of memory (the reservation is given back). `addrs6`: an IPv6
    /// entry's address words ([`crate::table::Store::addrs6`]). `hash`:
    /// the flow hash of `e`'s key and `addrs6`, if tracking computed it,
    /// for the shell to offer back at confirmation ([`Shell::carried`]).
    fn alloc(&mut self, s: u32, e: Entry, addrs6: Option<[u64; 4]>, hash: Option<u64>) -> Option<Self::Held>;
    /// What the shell kept of the hash given to [`Shell::alloc`] for the
    /// unconfirmed entry `r` (under its stripe lock); the driver uses it
    /// only if it names `r` with `r`'s key ([`crate::flow_note`]).
    fn carried(store: &Self::Store<'_>, r: Self::Ref) -> Option<FlowNote<Self::Ref>> {
        let _ = (store, r);
        None
    }
    /// Puts the table's reference to `r`, which the engine unlinked (no
    /// lock held).
    fn release(&mut self, r: Self::Ref);
    /// The stripe `r` belongs to (whose lock guards its entry).
    fn stripe_of(&self, r: Self::Ref) -> Option<u32>;
    /// The reference `held` holds.
    fn held_ref(held: &Self::Held) -> Self::Ref;
    /// The key of `r`'s reply tuple when NAT changed it
    /// ([`Store::reply_key`]) with its flow hash, read without a lock: set
    /// before the entry is confirmed and never changed after.
    fn nat_reply(&self, r: Self::Ref) -> Option<Hashed>;
    /// The key of `r`'s original tuple when source NAT changed it (the
    /// entry is in the source chains once confirmed) with its source
    /// hash, read without a lock like [`Shell::nat_reply`].
    fn src_nat_orig(&self, r: Self::Ref) -> Option<Hashed>;
    /// Like `release`, for an entry the packet holding `held` killed (an
    /// RST answering a SYN): Linux reports it destroyed as it was before
    /// that packet's reply was seen, and its cached update goes unsent.
    fn release_killed(&mut self, r: Self::Ref, held: &mut Self::Held) {
        let _ = held;
        self.release(r);
    }
}

/// Why the tracker dropped a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The table is full of assured entries (counted as `drop`; the shell
    /// logs [`track::TABLE_FULL_MSG`], rate-limited).
    TableFull,
    /// No memory for a new entry (counted as `drop`).
    NoMemory,
    /// A clash the protocol cannot resolve (TCP, ICMP) on confirmation, or
    /// a table being torn down.
    InsertFailed,
}

/// What the tracking hook does with a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Tracked<H> {
    /// Attach this reference with `ctinfo`; a new entry ([`CtInfo::New`]
    /// on an entry not yet confirmed) is confirmed once the packet has
    /// passed the filter.
    Attach(H, CtInfo),
    /// INVALID (counted): the packet leaves without an entry.
    Invalid(Invalid),
    /// Left untracked (ICMPv6 neighbour discovery, MLD): the packet
    /// leaves with `IP_CT_UNTRACKED`, nothing counted.
    Untracked,
    /// Drop the packet (counted).
    Drop(DropReason),
}

/// Further evictions a new flow may make when the slot the first one freed
/// was taken before it could use it (another CPU's new flow, or a packet
/// still holding the evicted entry).
const MORE_EVICTIONS: u32 = 2;

/// Tracks a parsed packet (PRE_ROUTING / LOCAL_OUT), of either family:
/// an IPv4 one (quote included) through [`track4`]'s steps.
#[inline(always)]
pub fn track<S: Shell>(
    shell: &mut S,
    pkt: &Packet,
    now: Millis,
    cfg: &impl Settings,
    stats: &mut impl Count,
) -> Tracked<S::Held> {
    if pkt.tuple.is_v6() || pkt.quoted.is_some_and(|q| q.is_v6()) {
        return track_in::<S, false>(shell, pkt, now, cfg, stats);
    }
    track_in::<S, true>(shell, pkt, now, cfg, stats)
}

/// [`track`] for a packet of [`crate::packet::parse`] (the kernel's IPv4
/// hooks): its keys are built, hashed and searched with no look at the
/// family, in a copy of the steps of its own, inlined whole into its one
/// caller.
#[inline(always)]
pub fn track4<S: Shell>(
    shell: &mut S,
    pkt: &Packet,
    now: Millis,
    cfg: &impl Settings,
    stats: &mut impl Count,
) -> Tracked<S::Held> {
    track_in::<S, true>(shell, pkt, now, cfg, stats)
}

/// [`track`] for a hook of the other family (the kernel's IPv6 hooks):
/// the same steps in a copy of their own, so that each hook's copy has
/// one caller and is inlined there whole, as with one family.
#[inline(always)]
pub fn track_other<S: Shell>(
    shell: &mut S,
    pkt: &Packet,
    now: Millis,
    cfg: &impl Settings,
    stats: &mut impl Count,
) -> Tracked<S::Held> {
    track_in::<S, false>(shell, pkt, now, cfg, stats)
}

fn track_in<S: Shell, const V4: bool>(
    shell: &mut S,
    pkt: &Packet,
    now: Millis,
    cfg: &impl Settings,
    stats: &mut impl Count,
) -> Tracked<S::Held> {
    // Borrowed where it was made: a lookup is not copied around.
    let prepared = track::prepare::<V4>(pkt);
    let lookup = match &prepared {
        Ok(l) => l,
        Err(why) => return refused(*why, stats),
    };
    // The bucket is found under the lock: a resize may change the
    // stripe's array, never the position.
    let hash = lookup.hash::<V4>(&shell.key());
    let (s, pos) = shell.layout().locate(hash);
    // A reopened connection (SYN on TIME_WAIT) is processed again, once.
    for _ in 0..2 {
        let step = shell.with_stripe(s, |st| {
            let bucket = st.bucket(pos);
            match track::process::<_, V4>(st, bucket, pkt, lookup, now, cfg, stats) {
                Decision::Tracked { entry, ctinfo } | Decision::Related { entry, ctinfo } => {
                    Step::Attach(S::hold(st.store, entry), ctinfo, None)
                }
                Decision::Killed { entry, ctinfo } => {
                    Step::Attach(S::hold(st.store, entry), ctinfo, Some(entry))
                }
                Decision::Reopen { old } => Step::Again(old),
                Decision::Invalid(why) => Step::Invalid(why),
                Decision::New => Step::New,
                Decision::Elsewhere { entry } => Step::Home(S::hold(st.store, entry)),
            }
        });
        match step {
            None => return Tracked::Invalid(Invalid::BadL4Header),
            Some(Step::Attach(h, ctinfo, killed)) => return attach(shell, h, ctinfo, killed),
            Some(Step::Again(old)) => release(shell, old),
            Some(Step::Invalid(why)) => return Tracked::Invalid(why),
            Some(Step::New) => return open_new(shell, pkt, s, pos, hash, now, cfg, stats),
            // The reply direction of a NATed entry: on to its own stripe,
            // with a reference taken while its reply node kept it in the
            // table.
            Some(Step::Home(h)) => match home(shell, h, pkt, lookup.kind, now, cfg, stats) {
                Some(Step::Attach(h, ctinfo, killed)) => return attach(shell, h, ctinfo, killed),
                Some(Step::Again(old)) => release(shell, old),
                Some(Step::Invalid(why)) => return Tracked::Invalid(why),
                Some(Step::New) => return open_new(shell, pkt, s, pos, hash, now, cfg, stats),
                None | Some(Step::Home(_)) => return Tracked::Invalid(Invalid::BadL4Header),
            },
        }
    }
    // Reopened twice: the protocol looped; refuse rather than spin.
    track::count_invalid(stats, Invalid::TcpBadTransition);
    Tracked::Invalid(Invalid::TcpBadTransition)
}

/// A packet [`track::prepare`] refused: INVALID (counted) or untracked.
#[cold]
fn refused<H>(why: Invalid, stats: &mut impl Count) -> Tracked<H> {
    if why == Invalid::Untracked {
        return Tracked::Untracked;
    }
    track::count_invalid(stats, why);
    Tracked::Invalid(why)
}

/// Hands the packet its reference `h`; first puts the table's reference
/// to the entry the packet killed, if any.
#[inline(always)]
fn attach<S: Shell>(shell: &mut S, h: S::Held, ctinfo: CtInfo, killed: Option<S::Ref>) -> Tracked<S::Held> {
    let h = match killed {
        Some(k) => release_killed(shell, k, h),
        None => h,
    };
    Tracked::Attach(h, ctinfo)
}

/// [`attach`]'s release of the entry a packet killed. Out of line, taking
/// and giving back `h` by value: the common packet's reference is never
/// spilled for it.
#[inline(never)]
fn release_killed<S: Shell>(shell: &mut S, k: S::Ref, mut h: S::Held) -> S::Held {
    unlink_nat(shell, k);
    shell.release_killed(k, &mut h);
    h
}

/// A packet of no known flow: opens an entry for position `pos` of stripe
/// `s`, if the table has room. `hash`: the flow hash the packet's search
/// computed, which is the entry's: [`track::open`] makes entries of the
/// packet's own tuple alone ([`Entry::new`] of `pkt.tuple`), whose key
/// and address words that search hashed; the one search of another tuple
/// (an ICMP error's, of the tuple it quotes) opens nothing.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn open_new<S: Shell>(
    shell: &mut S,
    pkt: &Packet,
    s: u32,
    pos: u32,
    hash: u64,
    now: Millis,
    cfg: &impl Settings,
    stats: &mut impl Count,
) -> Tracked<S::Held> {
    let e = match track::open(pkt, now, cfg, stats) {
        Ok(e) => e,
        Err(why) => return Tracked::Invalid(why),
    };
    if !admit(shell, s, pos, now, stats) {
        track::table_full(stats);
        return Tracked::Drop(DropReason::TableFull);
    }
    match shell.alloc(s, e, pkt.tuple.addrs6(), Some(hash)) {
        Some(h) => Tracked::Attach(h, CtInfo::New),
        None => {
            stats.inc(crate::stats::Counter::Drop);
            Tracked::Drop(DropReason::NoMemory)
        }
    }
}

/// What happened under the stripe lock.
enum Step<R, H> {
    /// Attach this reference; then put the table's reference to the
    /// killed entry, if any.
    Attach(H, CtInfo, Option<R>),
    /// No entry: open one.
    New,
    /// The old entry left the table: put its reference, try again.
    Again(R),
    /// INVALID (counted).
    Invalid(Invalid),
    /// A NATed entry's reply tuple matched: this reference to it is held;
    /// go on under its own stripe's lock.
    Home(H),
}

/// [`track`]'s step for a packet in the reply direction of the NATed entry
/// `held` refers to, under that entry's stripe lock.
#[inline(never)]
fn home<S: Shell>(
    shell: &mut S,
    held: S::Held,
    pkt: &Packet,
    kind: track::Kind,
    now: Millis,
    cfg: &impl Settings,
    stats: &mut impl Count,
) -> Option<Step<S::Ref, S::Held>> {
    let r = S::held_ref(&held);
    let s = shell.stripe_of(r)?;
    let layout = shell.layout();
    let key = shell.key();
    let step = shell.with_stripe(s, |st| {
        let d = track::process_home(st, r, |e, a| layout.pos_of(&key, e, a), pkt, kind, now, cfg, stats);
        match d {
            // A reference taken here, under the entry's own lock, carries
            // what the packet changed (the shell's update events).
            Decision::Tracked { entry, ctinfo } | Decision::Related { entry, ctinfo } => {
                Step::Attach(S::hold(st.store, entry), ctinfo, None)
            }
            Decision::Killed { entry, ctinfo } => Step::Attach(S::hold(st.store, entry), ctinfo, Some(entry)),
            Decision::Reopen { old } => Step::Again(old),
            Decision::Invalid(why) => Step::Invalid(why),
            // Gone meanwhile: no entry.
            Decision::New | Decision::Elsewhere { .. } => Step::New,
        }
    });
    // The reply stripe's reference kept the entry alive until now.
    drop(held);
    step
}

/// Puts the table's reference to `r`, which the engine just unlinked from
/// its stripe, once its reply node (if NAT gave it one) is unlinked too,
/// under that node's stripe lock. No lock may be held by the caller.
pub fn release<S: Shell>(shell: &mut S, r: S::Ref) {
    unlink_nat(shell, r);
    shell.release(r);
}

/// Unlinks the reply node and source-chain node of `r`, if NAT gave it
/// any (no lock held).
fn unlink_nat<S: Shell>(shell: &mut S, r: S::Ref) {
    if let Some(reply) = shell.nat_reply(r) {
        unlink_reply(shell, r, &reply);
    }
    if let Some(orig) = shell.src_nat_orig(r) {
        with_source(shell, &orig, |st, b| st.store.src_mark(r, false) && st.unlink_src(b, r));
    }
}

/// Runs `f` under the lock of the stripe whose source chains index the
/// original tuple `orig`, with its bucket there.
fn with_source<S: Shell>(
    shell: &mut S,
    orig: &Hashed,
    f: impl for<'a, 'l> FnOnce(&mut Stripe<'a, S::Store<'l>>, usize) -> bool,
) {
    let key = shell.key();
    let hash = orig.source_hash(&key);
    let (s, pos) = shell.layout().locate(hash);
    shell.with_stripe(s, |st| {
        let b = st.bucket(pos);
        f(st, b)
    });
}

/// Unlinks `r`'s reply node (of tuple `reply`) from its reply chain.
fn unlink_reply<S: Shell>(shell: &mut S, r: S::Ref, reply: &Hashed) {
    let key = shell.key();
    let hash = reply.flow_hash(&key);
    let (s, pos) = shell.layout().locate(hash);
    shell.with_stripe(s, |st| {
        let b = st.bucket(pos);
        st.unlink_reply(b, r)
    });
}

/// Reserves a count slot for a new flow at position `pos` of stripe `s`,
/// evicting entries near it ([`track::early_drop`]) while the table is
/// full. False when there is no room (drop the packet).
#[inline(never)]
fn admit<S: Shell>(shell: &mut S, s: u32, pos: u32, now: Millis, stats: &mut impl Count) -> bool {
    for _ in 0..=MORE_EVICTIONS {
        if shell.reserve() {
            return true;
        }
        let victims = shell
            .with_stripe(s, |st| track::early_drop(st, st.bucket(pos), now, stats))
            .flatten();
        let Some(vs) = victims else { return false };
        for v in vs.into_iter().flatten() {
            release(shell, v);
        }
    }
    shell.reserve()
}

/// What the confirmation hook does with a packet that created an entry.
#[derive(Debug, PartialEq, Eq)]
pub enum Confirmed<H> {
    /// The entry joined the table: the packet keeps it.
    Inserted,
    /// A clone of the packet confirmed it first: the packet keeps it.
    Already,
    /// Another entry of the same flow won: the packet carries this one
    /// instead (same ctinfo) and its own entry goes.
    Merged(H),
    /// Drop the packet; its entry goes.
    Failed,
}

/// Confirms the unconfirmed entry `r` of stripe `s` (the stripe it was
/// allocated for), carried by a packet that passed the filter
/// (POST_ROUTING / LOCAL_IN). A NATed entry first claims its reply tuple
/// under that tuple's stripe lock ([`track::claim_reply`]), then joins its
/// own stripe; if it does not, the claim is undone.
pub fn confirm<S: Shell>(
    shell: &mut S,
    s: u32,
    r: S::Ref,
    now: Millis,
    stats: &mut impl Count,
) -> Confirmed<S::Held> {
    let layout = shell.layout();
    let key = shell.key();
    let nat_reply = shell.nat_reply(r);
    if let Some(reply) = nat_reply {
        let keys = Keys::of_key(reply.key, None);
        let (rs, pos) = layout.locate(reply.flow_hash(&key));
        let claimed = shell.with_stripe(rs, |st| {
            let confirmed = st.store.entry(r).is_some_and(|e| e.status.has(Status::CONFIRMED));
            let b = st.bucket(pos);
            // A clone of the packet confirmed it, or is confirming it (its
            // reply node is ours): the step in the entry's stripe decides.
            confirmed || track::claim_reply(st, b, r, &keys, now, stats)
        });
        if claimed != Some(true) {
            return Confirmed::Failed;
        }
    }
    // Indexed by its source before it is found by its tuples, so that
    // whoever unlinks it finds it there (6.12 indexes at binding time);
    // once only, whichever clone of the packet gets here, never after a
    // release.
    let src = shell.src_nat_orig(r);
    if let Some(orig) = src {
        with_source(shell, &orig, |st, b| st.store.src_mark(r, true) && st.link_src(b, r));
    }
    let outcome = shell
        .with_stripe(s, |st| confirm_home::<S>(st, layout, &key, s, r, now, stats))
        .unwrap_or(Confirmed::Failed);
    if let Confirmed::Merged(_) | Confirmed::Failed = outcome {
        if let Some(reply) = nat_reply {
            unlink_reply(shell, r, &reply);
        }
        if let Some(orig) = src {
            with_source(shell, &orig, |st, b| st.store.src_mark(r, false) && st.unlink_src(b, r));
        }
    }
    outcome
}

/// [`confirm`]'s step under the lock of `r`'s own stripe `s`.
fn confirm_home<S: Shell>(
    st: &mut Stripe<'_, S::Store<'_>>,
    layout: Layout,
    key: &HashKey,
    s: u32,
    r: S::Ref,
    now: Millis,
    stats: &mut impl Count,
) -> Confirmed<S::Held> {
    let Some((confirmed, orig)) = st.store.entry(r).map(|e| (e.status.has(Status::CONFIRMED), e.key())) else {
        return Confirmed::Failed;
    };
    if confirmed {
        return Confirmed::Already;
    }
    let hash = flow_note::flow_hash(S::carried(st.store, r), r, orig, || st.store.addrs6(r), key);
    let (home, pos) = layout.locate(hash);
    if home != s || S::closing(st.store) {
        return Confirmed::Failed;
    }
    let bucket = st.bucket(pos);
    match track::confirm(st, bucket, r, now, stats) {
        Confirm::Inserted => {
            S::linked(st.store, r);
            Confirmed::Inserted
        }
        Confirm::Merged { existing } => Confirmed::Merged(S::hold(st.store, existing)),
        Confirm::Failed => Confirmed::Failed,
    }
}
