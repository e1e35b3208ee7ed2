//! The tracking steps of one packet, each under the right lock; the
//! kernel shell and the host tracker both run them through
//! [`crate::driver`], so neither duplicates tracking logic.
//!
//! A packet goes through three steps:
//! 1. [`prepare`], without any lock: stateless checks (TCP flag
//!    combinations, ICMP types that can never be tracked) and the tuple to
//!    look up: the packet's own, or for an ICMP error the inverse of the
//!    tuple it quotes. The caller hashes it ([`Lookup::hash`]) and locates
//!    its stripe and bucket ([`crate::table::Layout::locate`]).
//! 2. [`process`], under the stripe lock: an existing entry is moved along
//!    by its protocol, or there is none ([`Decision::New`]): the caller
//!    builds one with [`open`], allocates it and attaches it to the packet
//!    unconfirmed, outside the lock. A full table is handled with
//!    [`admit`] and [`early_drop`].
//! 3. [`confirm`], under the stripe lock again, once the packet has passed
//!    the filter (POST_ROUTING / LOCAL_IN): the unconfirmed entry joins the
//!    table, or loses a race against an identical one ([`Confirm`]).
//!
//! Entry memory and references stay with the caller: whenever an entry
//! leaves the table, the driver says so and the caller releases the table's
//! reference. [`crate::driver`] strings these steps together for the kernel
//! shell and the host tracker; the collector runs [`crate::expiry::sweep`].

use crate::config::Settings;
use crate::ctinfo::CtInfo;
use crate::entry::{Entry, Status};
use crate::hash::HashKey;
use crate::invalid::Invalid;
use crate::packet::{Icmp, L4Info, Packet};
use crate::proto::{dccp, generic, icmp, sctp, tcp, udp, udplite, ProtoState, Update};
use crate::stats::{Count, Counter};
use crate::table::{Store, Stripe, EARLY_DROP_MAX};
use crate::tuple::{proto, Dir, Keys, Tuple, L4};
use crate::Millis;

/// The line the kernel logs (rate-limited) when a packet is dropped
/// because the table is full and nothing could be evicted.
pub const TABLE_FULL_MSG: &str = "ip_conntrack: table full, dropping packet.";

/// The longest chain a new entry may join (Linux 6.12 draws its limit
/// between 8 and 72 per insert; a fixed bound keeps tests deterministic).
pub const MAX_CHAIN_LEN: usize = 64;

/// An INVALID packet may shorten only an entry with this much time left.
const SHORTEN_MIN_LEFT: Millis = 120_000;

/// What [`process`] must look up for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// Why.
    pub kind: Kind,
    /// The tuple's keys, for both the hash and the search.
    pub keys: Keys,
}

/// The two kinds of lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The packet's own tuple: track the packet in its flow.
    Flow,
    /// The inverse of the tuple an ICMP error quotes: relate the error to
    /// that flow. The flow's destination in the matching direction must be
    /// the error's own destination (the packet's: Linux refuses errors
    /// that would relate a third host to the flow).
    IcmpError,
}

impl Lookup {
    /// `V4`: the tuple is IPv4 ([`Tuple::keys4`]).
    #[inline(always)]
    fn new<const V4: bool>(tuple: &Tuple, kind: Kind) -> Lookup {
        Lookup {
            kind,
            keys: if V4 { tuple.keys4() } else { tuple.keys() },
        }
    }

    /// The flow hash of the tuple to look up; `V4`: of a lookup from
    /// [`prepare`]`::<true>`.
    #[inline(always)]
    pub fn hash<const V4: bool>(&self, key: &HashKey) -> u64 {
        if V4 {
            self.keys.flow_hash4(key)
        } else {
            self.keys.flow_hash(key)
        }
    }
}

/// Stateless checks and what to look up; no lock is needed. An error is a
/// packet the caller counts as INVALID (see [`count_invalid`]). `V4`: an
/// IPv4 packet (of [`crate::packet::parse`]), whose keys are built,
/// hashed and searched with no look at the family ([`Lookup::hash`],
/// [`process`]); an ICMP error quoting an IPv6 packet, which that parse
/// never makes, is then refused.
#[inline(always)]
pub fn prepare<const V4: bool>(pkt: &Packet) -> Result<Lookup, Invalid> {
    let flow = Lookup::new::<V4>(&pkt.tuple, Kind::Flow);
    match pkt.l4 {
        L4Info::Tcp(seg) => {
            tcp::check_flags(&seg)?;
            Ok(flow)
        }
        L4Info::Icmp(Icmp::Query)
        | L4Info::Udp
        | L4Info::UdpLite { .. }
        | L4Info::Sctp(_)
        | L4Info::Dccp(_)
        | L4Info::Other => Ok(flow),
        // Neither a query nor an error: nothing can ever track it.
        L4Info::Icmp(Icmp::Other) => Err(Invalid::IcmpNotNew),
        L4Info::Icmp(Icmp::Untracked) => Err(Invalid::Untracked),
        L4Info::Icmp(Icmp::Error) => {
            let Some(inner) = pkt.quoted else {
                return Err(Invalid::IcmpErrorBadInner);
            };
            if let L4::Icmp { ty, .. } = inner.l4 {
                if inner.proto == proto::ICMP && icmp::is_error(ty) {
                    return Err(Invalid::IcmpErrorInError);
                }
            }
            // The quoted packet went towards the error's sender; its flow's
            // entry is found by the inverse, the direction the error takes.
            if V4 && inner.is_v6() {
                return Err(Invalid::IcmpErrorBadInner);
            }
            let tuple = inner.invert().ok_or(Invalid::IcmpErrorUnknown)?;
            Ok(Lookup::new::<V4>(&tuple, Kind::IcmpError))
        }
    }
}

/// Counts a packet [`prepare`] refused: `icmp_error` alone for what
/// 6.12's ICMP and ICMPv6 error handlers refuse (as 6.12, which leaves
/// before counting `invalid`), nothing for an untracked one, `invalid`
/// for the rest.
pub fn count_invalid(stats: &mut impl Count, why: Invalid) {
    if why == Invalid::Untracked {
        return;
    }
    stats.inc(if why.is_icmp_error_handler() { Counter::IcmpError } else { Counter::Invalid });
}

/// What to do with a packet, decided under the stripe lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision<R> {
    /// The packet belongs to `entry`: attach it with `ctinfo` (taking a
    /// reference).
    Tracked {
        /// The entry.
        entry: R,
        /// The packet's classification.
        ctinfo: CtInfo,
    },
    /// The packet is an ICMP error about `entry`: attach it with `ctinfo`
    /// ([`CtInfo::Related`] or [`CtInfo::RelatedReply`]).
    Related {
        /// The entry the error is about.
        entry: R,
        /// The packet's classification.
        ctinfo: CtInfo,
    },
    /// The packet belongs to `entry` and ended it (a RST answering a SYN):
    /// the entry was unlinked and marked dying. Attach the packet as for
    /// `Tracked`, then release the table's reference.
    Killed {
        /// The entry, no longer in the table.
        entry: R,
        /// The packet's classification.
        ctinfo: CtInfo,
    },
    /// No entry: the packet may open one. Build it with [`open`] outside
    /// the lock, check [`admit`] (making room with [`early_drop`] if
    /// needed), allocate it, attach it to the packet unconfirmed with
    /// [`CtInfo::New`], and [`confirm`] it once the packet has passed the
    /// filter. (No entry travels in this value: the decision of a known
    /// flow's packet stays a few words.)
    New,
    /// The packet reopens a finished connection (a SYN on TIME_WAIT): the
    /// old entry was unlinked and marked dying. Release the table's
    /// reference and call [`process`] again.
    Reopen {
        /// The old entry, no longer in the table.
        old: R,
    },
    /// The packet is INVALID (already counted); it carries no entry.
    Invalid(Invalid),
    /// The packet's tuple is the reply tuple of the NATed entry `entry`,
    /// whose data is guarded by its own stripe's lock: take a reference,
    /// let go of this lock, and call [`process_home`] under that one.
    Elsewhere {
        /// The entry.
        entry: R,
    },
}

/// Tracks one packet under the stripe lock. `bucket` is the lookup's
/// bucket within `stripe`; `lookup` comes from [`prepare`]`::<V4>` for
/// this packet.
#[inline(always)]
pub fn process<S: Store, const V4: bool>(
    stripe: &mut Stripe<'_, S>,
    bucket: usize,
    pkt: &Packet,
    lookup: &Lookup,
    now: Millis,
    cfg: &impl Settings,
    stats: &mut impl Count,
) -> Decision<S::Ref> {
    // Nothing is counted for a packet of a known flow: 6.12 counts lookups
    // neither (`searched` and `found` stay 0, see crate::stats).
    let found = stripe.find_keys_in::<V4>(bucket, &lookup.keys, now);
    if found.is_none() && !stripe.replies.is_empty() {
        // The reply direction of a NATed entry, whose data has its own
        // stripe's lock: the caller goes there ([`process_home`]).
        if let Some(r) = stripe.find_reply(bucket, &lookup.keys.key) {
            return Decision::Elsewhere { entry: r };
        }
    }
    decide(stripe, bucket, found, pkt, lookup.kind, now, cfg, stats)
}

/// [`process`] for a packet in the reply direction of the NATed entry `r`
/// that [`Decision::Elsewhere`] named, under the lock of `r`'s own stripe
/// (the caller holds a reference to `r`). `pos_of` gives an entry's
/// position in its stripe; `kind` is the lookup's ([`Lookup::kind`]), by
/// value so the caller's lookup stays in registers. An entry that left the
/// table meanwhile is no entry.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub fn process_home<S: Store>(
    stripe: &mut Stripe<'_, S>,
    r: S::Ref,
    pos_of: impl Fn(&Entry, Option<[u64; 4]>) -> u32,
    pkt: &Packet,
    kind: Kind,
    now: Millis,
    cfg: &impl Settings,
    stats: &mut impl Count,
) -> Decision<S::Ref> {
    let home = stripe
        .store
        .entry(r)
        .filter(|e| e.status.has(Status::CONFIRMED) && !e.status.has(Status::DYING) && !e.expired(now))
        .map(|e| stripe.bucket(pos_of(e, stripe.store.addrs6(r))));
    let found = home.map(|b| (b, (r, Dir::Reply)));
    let bucket = found.map_or(0, |(b, _)| b);
    decide(stripe, bucket, found.map(|(_, f)| f), pkt, kind, now, cfg, stats)
}

/// What a packet does with the entry found for it (or none).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn decide<S: Store>(
    stripe: &mut Stripe<'_, S>,
    bucket: usize,
    found: Option<(S::Ref, Dir)>,
    pkt: &Packet,
    kind: Kind,
    now: Millis,
    cfg: &impl Settings,
    stats: &mut impl Count,
) -> Decision<S::Ref> {
    let decision = match (kind, found) {
        (Kind::IcmpError, Some((r, dir))) => related(&*stripe.store, r, dir, pkt),
        (Kind::IcmpError, None) => Decision::Invalid(error_unknown(pkt)),
        (Kind::Flow, Some((r, dir))) => existing(stripe, bucket, r, dir, pkt, now, cfg),
        (Kind::Flow, None) => Decision::New,
    };
    match decision {
        Decision::Invalid(why) => count_invalid(stats, why),
        Decision::Killed { .. } | Decision::Reopen { .. } => {
            stats.inc(Counter::DeleteList);
        }
        _ => {}
    }
    decision
}

// Off the fast path (ICMP errors): kept out of the caller, given the
// store alone (the caller's stripe view then stays in registers).
#[inline(never)]
fn related<S: Store>(store: &S, r: S::Ref, dir: Dir, pkt: &Packet) -> Decision<S::Ref> {
    let outer_dst = pkt.tuple.dst;
    let nat_reply = store.reply_key(r);
    let addrs6 = store.addrs6(r);
    match store.entry(r) {
        Some(e) if e.tuple_nat6(dir, nat_reply, addrs6).dst == outer_dst => Decision::Related {
            entry: r,
            ctinfo: CtInfo::related(dir),
        },
        _ => Decision::Invalid(error_unknown(pkt)),
    }
}

/// An ICMP error about no known flow, by the error's family.
#[cold]
fn error_unknown(pkt: &Packet) -> Invalid {
    if pkt.tuple.is_v6() {
        Invalid::Icmpv6ErrorUnknown
    } else {
        Invalid::IcmpErrorUnknown
    }
}

/// A packet on an entry found in the table. Inlined into both callers:
/// in [`process`] it is every known flow's packet, the fast path.
#[inline(always)]
fn existing<S: Store>(
    stripe: &mut Stripe<'_, S>,
    bucket: usize,
    r: S::Ref,
    dir: Dir,
    pkt: &Packet,
    now: Millis,
    cfg: &impl Settings,
) -> Decision<S::Ref> {
    let Some(e) = stripe.store.entry_mut(r) else {
        return Decision::Invalid(Invalid::BadL4Header);
    };
    // Linux classifies before the protocol sees the packet: the reply
    // direction is always ESTABLISHED_REPLY; the original direction is NEW
    // until a reply has been seen.
    let ctinfo = match (dir, e.status.has(Status::SEEN_REPLY)) {
        (Dir::Reply, _) => CtInfo::EstablishedReply,
        (Dir::Original, true) => CtInfo::Established,
        (Dir::Original, false) => CtInfo::New,
    };
    // The protocols see the status as before this packet; SEEN_REPLY is set
    // after an accepted reply, as Linux's core does.
    let update = match (&mut e.proto, pkt.l4) {
        (ProtoState::Tcp(t), L4Info::Tcp(seg)) => t.update(dir, &seg, &mut e.status, cfg),
        (ProtoState::Udp(u), _) => u.update(&mut e.status, now, cfg),
        (ProtoState::UdpLite, _) => udplite::update(&mut e.status, cfg),
        (ProtoState::Sctp(s), L4Info::Sctp(p)) => s.update(dir, &p, true, &mut e.status, cfg),
        (ProtoState::Dccp(d), L4Info::Dccp(p)) => d.update(dir, &p, &mut e.status, cfg),
        (ProtoState::Icmp, _) => icmp::update(cfg, pkt.tuple.proto),
        (ProtoState::Generic, _) => generic::update(cfg),
        // An entry with another protocol's packet cannot happen (the
        // protocol is part of the tuple); refuse rather than guess.
        (ProtoState::Tcp(_) | ProtoState::Sctp(_) | ProtoState::Dccp(_), _) => {
            Update::Invalid(Invalid::BadL4Header)
        }
    };
    let accepted = matches!(
        update,
        Update::Accept { .. } | Update::Ignore | Update::Kill
    );
    if accepted && dir == Dir::Reply {
        e.status.set(Status::SEEN_REPLY);
    }
    match update {
        Update::Accept { timeout } => {
            e.deadline = now.saturating_add(timeout);
            Decision::Tracked { entry: r, ctinfo }
        }
        // Accepted without refreshing the entry.
        Update::Ignore => Decision::Tracked { entry: r, ctinfo },
        Update::Invalid(why) => Decision::Invalid(why),
        Update::InvalidShorten { reason, timeout } => {
            // Only an entry with at least 120 s left is cut short, and
            // never lengthened (Linux's `nf_tcp_handle_invalid`).
            let left = e.deadline.saturating_sub(now);
            if left >= SHORTEN_MIN_LEFT && left > timeout {
                e.deadline = now.saturating_add(timeout);
            }
            Decision::Invalid(reason)
        }
        Update::Kill => {
            stripe.remove(bucket, r);
            Decision::Killed { entry: r, ctinfo }
        }
        Update::Reopen => {
            stripe.remove(bucket, r);
            Decision::Reopen { old: r }
        }
    }
}

/// The entry a packet of no known flow opens ([`Decision::New`]), counted
/// as `new`, or why it cannot (counted as `invalid`). Until confirmed, its
/// `deadline` is the timeout relative to confirmation (Linux's rule, so a
/// packet queued for a while does not confirm an already expired entry).
pub fn open(pkt: &Packet, now: Millis, cfg: &impl Settings, stats: &mut impl Count) -> Result<Entry, Invalid> {
    let opened = new_entry(pkt, now, cfg);
    match opened {
        Ok(_) => stats.inc(Counter::New),
        Err(why) => count_invalid(stats, why),
    }
    opened
}

/// The entry a packet without one would open, or why it cannot.
// Off the fast path (first packets): kept out of the caller, whose
// known-flow path would otherwise compute a new entry's fields too.
#[inline(never)]
fn new_entry(pkt: &Packet, now: Millis, cfg: &impl Settings) -> Result<Entry, Invalid> {
    let mut status = Status::default();
    let (proto, timeout) = match pkt.l4 {
        L4Info::Tcp(seg) => {
            // Like Linux's `tcp_new` followed by the state machine: the
            // first packet moves the fresh state along like any other.
            let mut t = tcp::Tcp::new(&seg, cfg)?;
            match t.update(Dir::Original, &seg, &mut status, cfg) {
                Update::Accept { timeout } => (ProtoState::Tcp(t), timeout),
                Update::Invalid(why) | Update::InvalidShorten { reason: why, .. } => {
                    return Err(why)
                }
                Update::Ignore | Update::Kill | Update::Reopen => return Err(Invalid::TcpNotNew),
            }
        }
        L4Info::Udp => {
            let (u, timeout) = udp::Udp::new(now, cfg);
            (ProtoState::Udp(u), timeout)
        }
        L4Info::UdpLite { .. } => (ProtoState::UdpLite, udplite::new(cfg)),
        L4Info::Sctp(p) => {
            // Linux's `sctp_new`, then the packet as on any entry.
            let mut s = sctp::Sctp::new(&p)?;
            let timeout = first_update(s.update(Dir::Original, &p, false, &mut status, cfg))?;
            let timeout = timeout.unwrap_or_else(|| sctp::timeout(s.state(), cfg));
            (ProtoState::Sctp(s), timeout)
        }
        L4Info::Dccp(p) => {
            let mut d = dccp::Dccp::new(&p)?;
            let timeout = first_update(d.update(Dir::Original, &p, &mut status, cfg))?;
            let timeout = timeout.unwrap_or_else(|| dccp::timeout(d.state(), cfg));
            (ProtoState::Dccp(d), timeout)
        }
        L4Info::Icmp(Icmp::Query) => (ProtoState::Icmp, icmp::new(&pkt.tuple, cfg)?),
        L4Info::Icmp(Icmp::Other) => return Err(Invalid::IcmpNotNew),
        L4Info::Icmp(Icmp::Untracked) => return Err(Invalid::Untracked),
        L4Info::Icmp(Icmp::Error) => return Err(Invalid::IcmpErrorUnknown),
        L4Info::Other => (ProtoState::Generic, generic::new(cfg)),
    };
    // Only invertible tuples get entries (an ICMP non-query has no reply).
    if pkt.tuple.invert().is_none() {
        return Err(Invalid::IcmpNotNew);
    }
    // Until confirmed, the deadline holds the timeout itself; confirm()
    // makes it absolute (Linux: the timeout runs from confirmation).
    Ok(Entry::new(pkt.tuple, status, timeout, proto))
}

/// What the first packet's update means for a new entry: its timeout,
/// `None` to keep the state's own (passed unrefreshed), or why it cannot
/// open one.
fn first_update(u: Update) -> Result<Option<Millis>, Invalid> {
    match u {
        Update::Accept { timeout } => Ok(Some(timeout)),
        Update::Ignore => Ok(None),
        Update::Invalid(why) | Update::InvalidShorten { reason: why, .. } => Err(why),
        Update::Kill | Update::Reopen => Err(Invalid::BadL4Header),
    }
}

/// Whether a new entry may be allocated when `count` entries exist
/// (confirmed or not) and the limit is `max` (0: no limit, as in Linux).
pub fn admit(count: usize, max: usize) -> bool {
    max == 0 || count < max
}

/// Makes room for a new flow hashing to `bucket` of `stripe`: unlinks the
/// victims of [`Stripe::early_drop_victims`] (the expired and non-ASSURED
/// entries of the first bucket of [`crate::table::EVICTION_RANGE`] that
/// has any), marks them dying and returns them for the caller to release
/// (each counted as `early_drop` unless it had expired anyway, as 6.12
/// counts `early_drop_list`'s drops). `None` means the table is full of
/// assured entries: call [`table_full`] and drop the packet.
pub fn early_drop<S: Store>(
    stripe: &mut Stripe<'_, S>,
    bucket: usize,
    now: Millis,
    stats: &mut impl Count,
) -> Option<[Option<S::Ref>; EARLY_DROP_MAX]> {
    let mut found = stripe.early_drop_victims(bucket, now)?;
    let mut any = false;
    for (i, slot) in found.entries.iter_mut().enumerate() {
        let Some(r) = *slot else { break };
        if !stripe.remove(found.bucket, r) {
            *slot = None;
            continue;
        }
        stats.inc(Counter::DeleteList);
        if found.expired.wrapping_shr(u32::try_from(i).unwrap_or(0)) & 1 == 0 {
            stats.inc(Counter::EarlyDrop);
        }
        any = true;
    }
    any.then_some(found.entries)
}

/// Counts a packet dropped because the table is full; the caller logs
/// [`TABLE_FULL_MSG`] (rate-limited).
pub fn table_full(stats: &mut impl Count) {
    stats.inc(Counter::Drop);
}

/// A local RST was sent for the connection of `e` (the REJECT target's
/// `set_closing` hook): a TCP entry moves to CLOSE with its short timeout
/// (from `now`, or from confirmation for an entry not confirmed yet).
/// Call under the entry's stripe lock; other protocols are left alone.
pub fn set_closing(e: &mut Entry, now: Millis, cfg: &impl Settings) {
    if let ProtoState::Tcp(t) = &mut e.proto {
        if let Some(timeout) = t.set_closing(cfg) {
            e.set_timeout(now, timeout);
        }
    }
}

/// The outcome of [`confirm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirm<R> {
    /// The entry is in the table now (CONFIRMED).
    Inserted,
    /// Another packet of the same flow confirmed its own entry first, and
    /// the protocol allows the clash to be resolved (UDP, generic): attach
    /// the packet to `existing` instead (keeping its ctinfo, as Linux
    /// does) and release the new entry.
    Merged {
        /// The entry already in the table.
        existing: R,
    },
    /// The entry cannot be inserted (a TCP or ICMP clash, a chain already
    /// [`MAX_CHAIN_LEN`] long, or an entry that is not an unconfirmed
    /// one): drop the packet and release it.
    Failed,
}

/// Inserts the unconfirmed entry `new` (attached to a packet that passed
/// the filter) into `bucket` of `stripe`, the bucket of its flow.
pub fn confirm<S: Store>(
    stripe: &mut Stripe<'_, S>,
    bucket: usize,
    new: S::Ref,
    now: Millis,
    stats: &mut impl Count,
) -> Confirm<S::Ref> {
    let Some(e) = stripe.store.entry(new) else {
        return Confirm::Failed;
    };
    if e.status.has(Status::CONFIRMED) {
        // Confirmed twice: a caller bug; Linux warns and drops.
        return Confirm::Failed;
    }
    if e.status.has(Status::DYING) {
        stats.inc(Counter::InsertFailed);
        return Confirm::Failed;
    }
    // Keys straight from the entry's key: no tuple is built.
    let keys = Keys::of_key(e.key(), stripe.store.addrs6(new));
    let proto = keys.proto();
    let nat_reply = stripe.store.reply_key(new);
    // A racing CPU may have inserted the same flow, in either direction.
    // Expired entries do not count: they are never found again and the
    // sweep removes them.
    let mut chain = 0usize;
    let found = match nat_reply {
        // The reply tuple is claimed in its own stripe already.
        Some(_) => stripe.find_counting(bucket, &keys, now, &mut chain),
        None => stripe.find_clash(bucket, &keys, now, &mut chain),
    };
    if let Some((existing, _)) = found {
        // The loser's packet may take the winner's entry only if both
        // translate it alike (6.12's `nf_ct_resolve_clash`).
        if clash_resolvable(proto) && stripe.store.reply_key(existing) == nat_reply {
            stats.inc(Counter::ClashResolve);
            return Confirm::Merged { existing };
        }
        stats.inc(Counter::InsertFailed);
        stats.inc(Counter::Drop);
        return Confirm::Failed;
    }
    // The tuple is some NATed entry's reply: another connection (one walk
    // of the reply chain for both directions).
    if !stripe.replies.is_empty() && stripe.reply_holder(bucket, &keys).is_some() {
        stats.inc(Counter::InsertFailed);
        stats.inc(Counter::Drop);
        return Confirm::Failed;
    }
    if chain >= MAX_CHAIN_LEN {
        // Linux 6.12 refuses inserts into overlong chains (`chaintoolong`):
        // with a keyed hash only a flood of one bucket gets here.
        stats.inc(Counter::ChainTooLong);
        stats.inc(Counter::InsertFailed);
        stats.inc(Counter::Drop);
        return Confirm::Failed;
    }
    if !stripe.link(bucket, new) {
        stats.inc(Counter::InsertFailed);
        return Confirm::Failed;
    }
    if let Some(e) = stripe.store.entry_mut(new) {
        e.confirm(now);
    }
    stats.inc(Counter::Insert);
    Confirm::Inserted
}

/// Links the reply node of the NATed, unconfirmed entry `new` into reply
/// chain `bucket` of `stripe`, the stripe and bucket of its reply tuple of
/// keys `reply`, unless that tuple is in use: the first half of confirming
/// a NATed entry, before [`confirm`] in its own stripe (6.12 checks both
/// tuples under both locks; here the reply is claimed first, under its own
/// lock, so two entries can never claim one reply tuple). True also when
/// `new`'s node is there already (a clone of the packet claimed it).
/// False: the tuple is taken (counted); drop the packet.
pub fn claim_reply<S: Store>(
    stripe: &mut Stripe<'_, S>,
    bucket: usize,
    new: S::Ref,
    reply: &Keys,
    now: Millis,
    stats: &mut impl Count,
) -> bool {
    // One walk of the reply chain finds both a clone's claim and another
    // entry's ([`Stripe::taken`] in two steps).
    let holder = stripe.reply_holder(bucket, reply);
    if holder == Some(new) {
        return true;
    }
    if holder.is_some() || stripe.find_keys(bucket, reply, now).is_some() || !stripe.link_reply(bucket, new) {
        stats.inc(Counter::InsertFailed);
        stats.inc(Counter::Drop);
        return false;
    }
    true
}

/// Whether a clash on confirmation can be resolved by attaching the packet
/// to the winner (Linux 6.12's `allow_clash`: UDP, UDP-Lite and generic
/// protocols; not TCP, SCTP or DCCP, whose state the loser's packet may
/// contradict, nor ICMP).
pub fn clash_resolvable(proto_num: u8) -> bool {
    !matches!(proto_num, proto::TCP | proto::ICMP | proto::SCTP | proto::DCCP)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::Config;
    use super::*;
    use crate::packet::{Segment, TcpFlags};
    use crate::proto::tcp::TcpState;

    #[test]
    fn set_closing_moves_tcp_to_close_only() {
        let cfg = Config::DEFAULT;
        let syn = Segment {
            flags: TcpFlags(TcpFlags::SYN),
            seq: 1,
            window: 1000,
            ..Segment::default()
        };
        let pkt = Packet {
            tuple: Tuple {
                src: crate::tuple::Addr::V4(1),
                dst: crate::tuple::Addr::V4(2),
                proto: proto::TCP,
                l4: L4::Ports { sport: 3, dport: 4 },
            },
            l4: L4Info::Tcp(syn),
            ip_len: 40,
            l4_off: 20,
            quoted: None,
        };
        let mut e = new_entry(&pkt, 0, &cfg).unwrap();
        // Before confirmation the timeout runs from confirmation.
        let mut unconfirmed = e;
        set_closing(&mut unconfirmed, 1000, &cfg);
        assert_eq!(unconfirmed.time_left(1000), 10_000);
        e.confirm(0);
        e.deadline = 120_000;
        set_closing(&mut e, 1000, &cfg);
        assert_eq!(e.deadline, 11_000);
        assert!(matches!(e.proto, ProtoState::Tcp(t) if t.state() == TcpState::Close));
        // Already closed: the timeout stays.
        set_closing(&mut e, 5000, &cfg);
        assert_eq!(e.deadline, 11_000);
        let mut g = e;
        g.proto = ProtoState::Generic;
        set_closing(&mut g, 9000, &cfg);
        assert_eq!(g.deadline, 11_000);
    }

    #[test]
    fn admission_follows_the_limit() {
        assert!(admit(0, 1));
        assert!(!admit(1, 1));
        assert!(admit(1_000_000, 0));
        assert!(clash_resolvable(proto::UDP) && clash_resolvable(47));
        assert!(!clash_resolvable(proto::TCP) && !clash_resolvable(proto::ICMP));
    }
}
