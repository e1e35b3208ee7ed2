// SPDX-License-Identifier: GPL-2.0

//! The packet path: what each hook does, following the call sequence of
//! [`crate::track`].
//!
//! * PRE_ROUTING and LOCAL_OUT (priority -200, after defragmentation at
//!   -400): a packet that already carries an entry (looped back after
//!   LOCAL_OUT, or an ICMP error the stack attached to its cause) is left
//!   alone (`ignore`). Otherwise its first bytes are copied and parsed, the
//!   tuple hashed with the namespace's key, the stripe locked and the
//!   packet processed; it leaves with its entry and classification in
//!   `skb->_nfct`. An INVALID packet is counted and leaves without an
//!   entry: the firewall decides (`-m state --state INVALID`). Only a full
//!   table (nothing to evict) or an allocation failure drops a packet.
//! * POST_ROUTING and LOCAL_IN (last priority): a packet that created an
//!   entry has passed the filter; the entry joins the table. A packet the
//!   filter dropped never gets here, and its entry goes with it.

use crate::conn::{self, ConnPtr, ConnRef};
use crate::ctinfo::CtInfo;
use crate::ctnetlink;
use crate::netlink::ctnetlink::Event;
use crate::table::Store;
use crate::entry::Status;
use crate::ffi;
use crate::hooks::{self, priority, Hook, HookPoint, Packet, Verdict};
use crate::invalid::Invalid;
use crate::ktable::Table;
use crate::packet;
use crate::settings;
use crate::skb::SkbMut;
use crate::stats::{Counter, Stats};
use crate::track::{self, Confirm, Decision, TABLE_FULL_MSG};
use crate::tuple::proto;
use crate::wire;
use core::sync::atomic::{AtomicU64, Ordering};

/// Packets the tracking hooks looked at (for the unload log line).
static PACKETS: AtomicU64 = AtomicU64::new(0);

/// Packets seen so far by the tracking hooks.
pub(crate) fn packets_seen() -> u64 {
    PACKETS.load(Ordering::Relaxed)
}

/// The table of the namespace a hook runs in.
fn table_of<'a>(pkt: &Packet<'a>) -> Option<&'a Table> {
    // SAFETY: the hook runs in `pkt.net()`, a live namespace whose table is
    // torn down only after the hooks are unregistered there (pernet order,
    // and `synchronize_net` in the unregistration).
    unsafe { Table::for_net(pkt.net()) }
}

/// PRE_ROUTING / LOCAL_OUT.
fn track_hook(pkt: &mut Packet<'_>) -> Verdict {
    PACKETS.fetch_add(1, Ordering::Relaxed);
    let Some(table) = table_of(pkt) else {
        return Verdict::ACCEPT;
    };
    let hook = pkt.hooknum();
    let Some(mut skb) = pkt.skb() else {
        return Verdict::ACCEPT;
    };
    if skb.nfct() != 0 {
        // Seen already (loopback), attached by the stack (ICMP errors,
        // REJECT's RSTs), or marked untracked.
        table.stats().inc(Counter::Ignore);
        return Verdict::ACCEPT;
    }
    let mut stats = Stats::ZERO;
    let v = track(table, &mut skb, hook, &mut stats);
    table.stats().add(&stats);
    v
}

/// What happened under the stripe lock.
enum Step {
    /// Attach this reference; then release the table's reference to the
    /// killed entry, if any; tell event listeners of an update, if any.
    Attach(ConnRef, CtInfo, Option<ConnPtr>, Option<Event>),
    /// Create this entry (after releasing an evicted one's table
    /// reference, if any).
    New(crate::entry::Entry, Option<ConnPtr>),
    /// The old entry left the table: release its reference, try again.
    Again(ConnPtr),
    /// INVALID (counted).
    Invalid(Invalid),
    /// Table full, nothing to evict.
    Full,
}

/// Releases the table's reference to an entry the engine unlinked.
///
/// # Safety
///
/// `r` was just unlinked by the engine under its stripe lock, so its
/// table reference is ours to put.
unsafe fn release_unlinked(r: ConnPtr) {
    // SAFETY: guaranteed by the caller.
    let c = unsafe { ConnRef::adopt(r) };
    ctnetlink::notify(&c, Event::Destroy);
    drop(c);
}

fn track(table: &Table, skb: &mut SkbMut<'_>, hook: u8, stats: &mut Stats) -> Verdict {
    let mut buf = [0u8; wire::MAX_HEAD_LEN];
    let Some((n, frame)) = skb.head(&mut buf) else {
        track::count_invalid(stats, Invalid::BadIpHeader);
        return Verdict::ACCEPT;
    };
    let head = buf.get(..n).unwrap_or(&[]);
    let pkt = match packet::parse(head, frame) {
        Ok(p) => p,
        Err(why) => return invalid(stats, why, false, None),
    };
    if hook == PRE_ROUTING && settings::checksum() && checksum_bad(skb, head, &pkt) {
        return invalid(stats, Invalid::BadL4Header, false, Some(&pkt));
    }
    let lookup = match track::prepare(&pkt) {
        Ok(l) => l,
        Err(why) => return invalid(stats, why, false, Some(&pkt)),
    };
    let cfg = settings::config();
    let now = conn::now();
    let (s, bucket) = table.layout().locate(lookup.hash(table.key()));
    // A reopened connection (SYN on TIME_WAIT) is processed again, once.
    for _ in 0..2 {
        let step = table.with_stripe(s, |st| {
            match track::process(st, bucket, &pkt, &lookup, now, &cfg, stats) {
                Decision::Tracked { entry, ctinfo } => {
                    let c = st.store.new_ref(entry);
                    let update = st.store.entry(entry).and_then(|e| c.note_change(e));
                    Step::Attach(c, ctinfo, None, update)
                }
                Decision::Related { entry, ctinfo } => {
                    Step::Attach(st.store.new_ref(entry), ctinfo, None, None)
                }
                Decision::Killed { entry, ctinfo } => {
                    Step::Attach(st.store.new_ref(entry), ctinfo, Some(entry), None)
                }
                Decision::Reopen { old } => Step::Again(old),
                Decision::Invalid(why) => Step::Invalid(why),
                Decision::New(e) => {
                    if table.reserve(settings::max()) {
                        Step::New(e, None)
                    } else if let Some(v) = track::early_drop(st, bucket, now, stats) {
                        Step::New(e, Some(v))
                    } else {
                        track::table_full(stats);
                        Step::Full
                    }
                }
            }
        });
        let Some(step) = step else {
            return Verdict::ACCEPT;
        };
        match step {
            Step::Attach(c, ctinfo, killed, update) => {
                if let Some(k) = killed {
                    // SAFETY: the engine unlinked `k` (Decision::Killed).
                    unsafe { release_unlinked(k) };
                }
                if let Some(ev) = update {
                    ctnetlink::notify(&c, ev);
                }
                drop(conn::attach(skb, c, ctinfo));
                return Verdict::ACCEPT;
            }
            Step::New(e, evicted) => {
                if let Some(v) = evicted {
                    // SAFETY: early_drop unlinked `v`.
                    unsafe { release_unlinked(v) };
                    if !reserve_after_eviction(table, s, bucket, now, stats) {
                        track::table_full(stats);
                        warn_table_full();
                        return Verdict::DROP;
                    }
                }
                let Some(c) = table.new_conn(s, e) else {
                    stats.inc(Counter::Drop);
                    return Verdict::DROP;
                };
                drop(conn::attach(skb, c, CtInfo::New));
                return Verdict::ACCEPT;
            }
            Step::Again(old) => {
                // SAFETY: the engine unlinked `old` (Decision::Reopen).
                unsafe { release_unlinked(old) };
            }
            Step::Invalid(why) => return invalid(stats, why, true, Some(&pkt)),
            Step::Full => {
                warn_table_full();
                return Verdict::DROP;
            }
        }
    }
    Verdict::ACCEPT
}

/// Further evictions a new flow may make when the slot of the first one
/// was taken before it could use it.
const MORE_EVICTIONS: u32 = 2;

/// Reserves the count slot that evicting an entry freed (see
/// [`Table::reserve`]). The slot may not be free: a packet may still hold
/// the evicted entry (its count goes when that packet is done) or another
/// CPU's new flow may have taken it. Then a few more entries near `bucket`
/// of stripe `s` are evicted, so the count never passes the limit; false
/// when there is still no room (drop the packet).
fn reserve_after_eviction(
    table: &Table,
    s: u32,
    bucket: usize,
    now: crate::Millis,
    stats: &mut Stats,
) -> bool {
    for _ in 0..MORE_EVICTIONS {
        if table.reserve(settings::max()) {
            return true;
        }
        let victim = table
            .with_stripe(s, |st| track::early_drop(st, bucket, now, stats))
            .flatten();
        let Some(v) = victim else { return false };
        // SAFETY: early_drop unlinked `v`.
        unsafe { release_unlinked(v) };
    }
    table.reserve(settings::max())
}

/// `NF_INET_PRE_ROUTING`.
const PRE_ROUTING: u8 = ffi::nf_inet_hooks_NF_INET_PRE_ROUTING as u8;

/// Whether the packet's layer-4 checksum is wrong (checked as Linux does:
/// at PRE_ROUTING, for TCP, UDP and ICMP).
fn checksum_bad(skb: &SkbMut<'_>, head: &[u8], pkt: &packet::Packet) -> bool {
    if !matches!(pkt.tuple.proto, proto::TCP | proto::UDP | proto::ICMP) {
        return false;
    }
    let ihl = head.first().map_or(0, |b| u32::from(b & 0x0f) * 4);
    // SAFETY: the skb is valid for the hook call; the helper only reads it
    // (it may compute and cache the checksum state of the skb, which the
    // hook owns).
    unsafe { ffi::ipct_skb_l4_csum_bad(skb.as_ptr(), u32::from(PRE_ROUTING), ihl, pkt.tuple.proto) }
}

/// An INVALID packet: counted (unless the engine counted it already),
/// logged when `ip_conntrack_log_invalid` asks for its protocol, accepted
/// without an entry.
fn invalid(
    stats: &mut Stats,
    why: Invalid,
    counted: bool,
    pkt: Option<&packet::Packet>,
) -> Verdict {
    if !counted {
        track::count_invalid(stats, why);
    }
    if let Some(p) = pkt {
        if settings::logs_invalid(p.tuple.proto) {
            let reason = why.name();
            // SAFETY: `reason` is valid for its length.
            unsafe {
                ffi::ipct_log_invalid(
                    p.tuple.proto,
                    p.tuple.src,
                    p.tuple.dst,
                    reason.as_ptr().cast(),
                    reason.len(),
                )
            };
        }
    }
    Verdict::ACCEPT
}

/// Logs the table-full line, rate-limited.
fn warn_table_full() {
    // SAFETY: the message is valid for its length.
    unsafe { ffi::ipct_warn_ratelimited(TABLE_FULL_MSG.as_ptr().cast(), TABLE_FULL_MSG.len()) };
}

/// POST_ROUTING / LOCAL_IN, and `nf_ct_hook->confirm`: the packet passed
/// the filter; a new entry it carries joins the table.
pub(crate) fn confirm(skb: &mut SkbMut<'_>) -> Verdict {
    match conn::from_skb(skb) {
        // Reply-direction packets never confirm (an ICMP error or RST
        // attached to an unconfirmed entry by the stack).
        Some((c, ctinfo)) if !c.is_confirmed() && ctinfo.dir() == crate::tuple::Dir::Original => {}
        _ => return Verdict::ACCEPT,
    }
    let Some((c, ctinfo)) = conn::take(skb) else {
        return Verdict::ACCEPT;
    };
    let table = c.table();
    let key = *table.key();
    let layout = *table.layout();
    let now = conn::now();
    let mut stats = Stats::ZERO;
    let r = c.ptr();
    let outcome = table.with_stripe(c.stripe_index(), |st| {
        let Some((confirmed, orig)) = st
            .store
            .entry(r)
            .map(|e| (e.status.has(Status::CONFIRMED), e.orig))
        else {
            return Outcome::Failed;
        };
        if confirmed {
            // A clone of the packet confirmed it first.
            return Outcome::Already;
        }
        let (s, bucket) = layout.locate(orig.flow_hash(&key));
        if s != c.stripe_index() {
            return Outcome::Failed;
        }
        match track::confirm(st, bucket, r, now, &mut stats) {
            Confirm::Inserted => {
                // The table's reference, held while the entry is linked.
                let _ = st.store.new_ref(r).into_raw();
                // What the new-entry event reports; updates start here.
                if let Some(e) = st.store.entry(r) {
                    let _ = c.note_change(e);
                }
                c.set_confirmed();
                Outcome::Inserted
            }
            Confirm::Merged { existing } => Outcome::Merged(st.store.new_ref(existing)),
            Confirm::Failed => Outcome::Failed,
        }
    });
    c.table().stats().add(&stats);
    match outcome {
        Some(Outcome::Inserted) => {
            ctnetlink::notify(&c, Event::New);
            drop(conn::attach(skb, c, ctinfo));
            Verdict::ACCEPT
        }
        Some(Outcome::Already) => {
            drop(conn::attach(skb, c, ctinfo));
            Verdict::ACCEPT
        }
        Some(Outcome::Merged(existing)) => {
            // The packet carries the winner now; its own entry goes.
            drop(conn::attach(skb, existing, ctinfo));
            drop(c);
            Verdict::ACCEPT
        }
        Some(Outcome::Failed) | None => {
            drop(c);
            Verdict::DROP
        }
    }
}

/// The result of a confirmation under the lock.
enum Outcome {
    /// The entry joined the table.
    Inserted,
    /// The entry was already in the table.
    Already,
    /// Another entry of the same flow won; attach it instead.
    Merged(ConnRef),
    /// Drop the packet.
    Failed,
}

fn confirm_hook(pkt: &mut Packet<'_>) -> Verdict {
    match pkt.skb() {
        Some(mut skb) => confirm(&mut skb),
        None => Verdict::ACCEPT,
    }
}

/// Tracks packets arriving from the network.
struct ConntrackIn;

impl Hook for ConntrackIn {
    const POINT: HookPoint = HookPoint::PreRouting;
    const PRIORITY: i32 = priority::CONNTRACK;
    fn run(pkt: &mut Packet<'_>) -> Verdict {
        track_hook(pkt)
    }
}

/// Tracks locally generated packets.
struct ConntrackLocal;

impl Hook for ConntrackLocal {
    const POINT: HookPoint = HookPoint::LocalOut;
    const PRIORITY: i32 = priority::CONNTRACK;
    fn run(pkt: &mut Packet<'_>) -> Verdict {
        track_hook(pkt)
    }
}

/// Confirms new connections of packets leaving the host.
struct ConfirmOut;

impl Hook for ConfirmOut {
    const POINT: HookPoint = HookPoint::PostRouting;
    const PRIORITY: i32 = priority::CONNTRACK_CONFIRM;
    fn run(pkt: &mut Packet<'_>) -> Verdict {
        confirm_hook(pkt)
    }
}

/// Confirms new connections of packets delivered locally.
struct ConfirmIn;

impl Hook for ConfirmIn {
    const POINT: HookPoint = HookPoint::LocalIn;
    const PRIORITY: i32 = priority::CONNTRACK_CONFIRM;
    fn run(pkt: &mut Packet<'_>) -> Verdict {
        confirm_hook(pkt)
    }
}

/// The module's hooks, in the order nf_conntrack registers its own.
pub(crate) fn hook_ops() -> [ffi::nf_hook_ops; 4] {
    [
        hooks::ops::<ConntrackIn>(),
        hooks::ops::<ConntrackLocal>(),
        hooks::ops::<ConfirmOut>(),
        hooks::ops::<ConfirmIn>(),
    ]
}
