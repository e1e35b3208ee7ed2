// SPDX-License-Identifier: GPL-2.0
#![forbid(unsafe_code)]

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

use crate::conn;
use crate::ctnetlink;
use crate::netlink::ctnetlink::Event;
use crate::driver::{self, Confirmed, DropReason, Tracked};
use crate::ffi;
use crate::hooks::{self, priority, Hook, HookPoint, Packet, Verdict};
use crate::invalid::Invalid;
use crate::klog;
use crate::ktable::Table;
use crate::packet;
use crate::settings;
use crate::skb::SkbMut;
use crate::stats::{Count, Counter};
use crate::track::{self, TABLE_FULL_MSG};
use crate::tuple::proto;
use crate::wire;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

/// What the tracking hook does differently for each address family (the
/// rest of its steps are shared, instantiated once per family).
trait Family {
    /// IPv6: the driver's copy for the other family
    /// ([`driver::track_other`]).
    const V6: bool;
    /// The buffer the packet's first bytes are copied into, when they are
    /// not linear: as many as the family's parse reads.
    type Buf: AsMut<[MaybeUninit<u8>]>;
    /// An uninitialised [`Family::Buf`].
    fn buf() -> Self::Buf;
    /// Whether the layer-4 checksum is wrong (PRE_ROUTING).
    fn checksum_bad(skb: &SkbMut<'_>, head: &[u8], pkt: &packet::Packet) -> bool;
    /// Why a packet with a wrong checksum is refused.
    fn bad_checksum(pkt: &packet::Packet) -> Invalid;
}

/// IPv4.
struct V4;

impl Family for V4 {
    const V6: bool = false;
    type Buf = [MaybeUninit<u8>; wire::MAX_HEAD_LEN];
    #[inline(always)]
    fn buf() -> Self::Buf {
        [MaybeUninit::uninit(); wire::MAX_HEAD_LEN]
    }
    #[inline(always)]
    fn checksum_bad(skb: &SkbMut<'_>, head: &[u8], pkt: &packet::Packet) -> bool {
        checksum_bad(skb, head, pkt)
    }
    // In 6.12's ICMP error handler (counted as `error`).
    fn bad_checksum(pkt: &packet::Packet) -> Invalid {
        if pkt.tuple.proto == proto::ICMP {
            Invalid::IcmpBadChecksum
        } else {
            Invalid::BadL4Header
        }
    }
}

/// IPv6: the parse reads the packet through the skb, header by header
/// (an extension-header chain of any length, as 6.12's
/// `skb_header_pointer` reads); ICMPv6 neighbour discovery and MLD come
/// back untracked.
struct V6;

impl Family for V6 {
    const V6: bool = true;
    // The parse reads through the skb into its own small buffers.
    type Buf = [MaybeUninit<u8>; 0];
    fn buf() -> Self::Buf {
        []
    }
    fn checksum_bad(skb: &SkbMut<'_>, _: &[u8], pkt: &packet::Packet) -> bool {
        checksum_bad6(skb, pkt)
    }
    // In 6.12's ICMPv6 error handler (counted as `error`).
    fn bad_checksum(pkt: &packet::Packet) -> Invalid {
        if pkt.tuple.proto == proto::ICMPV6 {
            Invalid::Icmpv6BadChecksum
        } else {
            Invalid::BadL4Header
        }
    }
}

/// PRE_ROUTING / LOCAL_OUT.
fn track_hook<F: Family>(pkt: &mut Packet<'_>) -> Verdict {
    let Some(table) = pkt.table() else {
        return Verdict::ACCEPT;
    };
    let hook = pkt.hooknum();
    let Some(mut skb) = pkt.skb() else {
        return Verdict::ACCEPT;
    };
    if skb.nfct() != 0 {
        // Seen already (loopback), attached by the stack (ICMP errors,
        // REJECT's RSTs), or marked untracked; for IPv6 also an entry of
        // either family: left alone.
        table.stats().inc(Counter::Ignore);
        return Verdict::ACCEPT;
    }
    track::<F>(table, &mut skb, hook, &mut table.stats().counter())
}

fn track<F: Family>(table: &Table, skb: &mut SkbMut<'_>, hook: u8, stats: &mut impl Count) -> Verdict {
    let mut buf = F::buf();
    let head: &[u8];
    // IPv4: the first bytes, in place or copied; IPv6: read through the
    // skb, header by header, to wherever the chain ends.
    let parsed = if F::V6 {
        head = &[];
        match skb.bytes() {
            Some(src) => packet::parse6_over(&src),
            None => return unreadable(stats),
        }
    } else {
        let Some((h, frame)) = skb.head(buf.as_mut()) else {
            return unreadable(stats);
        };
        head = h;
        packet::parse(h, frame)
    };
    // Borrowed where it was parsed: a packet is not copied around.
    let pkt = match &parsed {
        Ok(p) => p,
        Err(why) => return invalid(stats, *why, false, None),
    };
    if hook == PRE_ROUTING && settings::checksum() && F::checksum_bad(skb, head, pkt) {
        return invalid(stats, F::bad_checksum(pkt), false, Some(pkt));
    }
    let tracked = if F::V6 {
        driver::track_other(&mut table.shell(), pkt, conn::now(), &settings::Knobs, stats)
    } else {
        driver::track4(&mut table.shell(), pkt, conn::now(), &settings::Knobs, stats)
    };
    match tracked {
        Tracked::Attach(held, ctinfo) => {
            let c = held.notified_counting(ctinfo, skb);
            conn::attach_dropping_old(skb, c, ctinfo);
            Verdict::ACCEPT
        }
        Tracked::Invalid(why) => invalid(stats, why, true, Some(pkt)),
        // ICMPv6 neighbour discovery, MLD: as 6.12's
        // `nf_ct_set(skb, NULL, IP_CT_UNTRACKED)`.
        Tracked::Untracked => {
            conn::set_untracked(skb);
            Verdict::ACCEPT
        }
        Tracked::Drop(DropReason::TableFull) => {
            warn_table_full();
            Verdict::DROP
        }
        Tracked::Drop(DropReason::NoMemory | DropReason::InsertFailed) => Verdict::DROP,
    }
}

/// A packet with nothing to read from its network header on.
fn unreadable(stats: &mut impl Count) -> Verdict {
    track::count_invalid(stats, Invalid::BadIpHeader);
    Verdict::ACCEPT
}

/// [`checksum_bad`] for IPv6 (TCP, UDP, ICMPv6; UDP-Lite and DCCP over
/// their coverage; SCTP), the transport header at the parse's offset.
#[inline(never)]
fn checksum_bad6(skb: &SkbMut<'_>, pkt: &packet::Packet) -> bool {
    let off = u32::from(pkt.l4_off);
    match pkt.l4 {
        packet::L4Info::UdpLite { cscov } => skb.l4_checksum_partial_bad6(PRE_ROUTING, off, cscov, proto::UDP),
        packet::L4Info::Dccp(d) => skb.l4_checksum_partial_bad6(PRE_ROUTING, off, d.cscov, proto::DCCP),
        packet::L4Info::Sctp(_) => skb.sctp_checksum_bad(off),
        packet::L4Info::Tcp(_) | packet::L4Info::Udp => skb.l4_checksum_bad6(PRE_ROUTING, off, pkt.tuple.proto),
        packet::L4Info::Icmp(_) if pkt.tuple.proto == proto::ICMPV6 => {
            skb.l4_checksum_bad6(PRE_ROUTING, off, proto::ICMPV6)
        }
        _ => false,
    }
}

/// `NF_INET_PRE_ROUTING`.
const PRE_ROUTING: u8 = ffi::nf_inet_hooks_NF_INET_PRE_ROUTING as u8;

/// Whether the packet's layer-4 checksum is wrong (checked as Linux does:
/// at PRE_ROUTING, for TCP, UDP, ICMP, UDP-Lite and DCCP over their
/// coverage, and SCTP).
fn checksum_bad(skb: &SkbMut<'_>, head: &[u8], pkt: &packet::Packet) -> bool {
    // The IPv4 parse's transport offset is the header length.
    let ihl = u32::from(pkt.l4_off);
    match pkt.tuple.proto {
        proto::TCP | proto::ICMP => {}
        proto::UDP => {
            // A zero UDP checksum means none was sent (RFC 768): nothing to
            // verify, as 6.12's `udp_error` decides before any call.
            let at = usize::try_from(ihl).unwrap_or(usize::MAX).saturating_add(6);
            if head.get(at..at.saturating_add(2)) == Some(&[0, 0][..]) {
                return false;
            }
        }
        _ => return partial_checksum_bad(skb, ihl, pkt),
    }
    skb.l4_checksum_bad(PRE_ROUTING, ihl, pkt.tuple.proto)
}

/// [`checksum_bad`] for the protocols whose checksum covers part of the
/// packet (UDP-Lite, DCCP) or is a CRC (SCTP); false for the others.
/// Out of line: the common packet does not carry its code.
#[inline(never)]
#[cold]
fn partial_checksum_bad(skb: &SkbMut<'_>, ihl: u32, pkt: &packet::Packet) -> bool {
    match pkt.l4 {
        packet::L4Info::UdpLite { cscov } => skb.l4_checksum_partial_bad(PRE_ROUTING, ihl, cscov, proto::UDP),
        packet::L4Info::Dccp(d) => skb.l4_checksum_partial_bad(PRE_ROUTING, ihl, d.cscov, proto::DCCP),
        packet::L4Info::Sctp(_) => skb.sctp_checksum_bad(ihl),
        _ => false,
    }
}

/// An INVALID packet: counted (unless the engine counted it already),
/// logged when `ip_conntrack_log_invalid` asks for its protocol, accepted
/// without an entry.
fn invalid(
    stats: &mut impl Count,
    why: Invalid,
    counted: bool,
    pkt: Option<&packet::Packet>,
) -> Verdict {
    if !counted {
        track::count_invalid(stats, why);
    }
    if let Some(p) = pkt {
        if settings::logs_invalid(p.tuple.proto) {
            klog::invalid(p.tuple.proto, p.tuple.src.v4_or_zero(), p.tuple.dst.v4_or_zero(), why.name());
        }
    }
    Verdict::ACCEPT
}

/// Logs the table-full line, rate-limited.
fn warn_table_full() {
    klog::warn_ratelimited(TABLE_FULL_MSG);
}

/// POST_ROUTING / LOCAL_IN, and `nf_ct_hook->confirm`: the packet passed
/// the filter; a new entry it carries joins the table.
#[inline]
pub(crate) fn confirm(skb: &mut SkbMut<'_>) -> Verdict {
    // Only NEW or RELATED packets of the original direction can carry an
    // entry not yet in the table, and it is flagged: most packets leave
    // here after two reads, without the work below.
    if !conn::may_be_unconfirmed(skb) {
        return Verdict::ACCEPT;
    }
    match conn::from_skb(skb) {
        Some((c, _)) if !c.is_confirmed() => confirm_new(skb.reborrow()),
        _ => Verdict::ACCEPT,
    }
}

/// [`confirm`] for a packet whose entry is not in the table yet (the
/// packet by value: the common packet's view stays in a register).
#[inline(never)]
fn confirm_new(mut skb: SkbMut<'_>) -> Verdict {
    let skb = &mut skb;
    let Some((c, ctinfo)) = conn::take(skb) else {
        return Verdict::ACCEPT;
    };
    let table = c.table();
    let outcome = driver::confirm(
        &mut table.shell(),
        c.stripe_index(),
        c.ptr(),
        conn::now(),
        &mut table.stats().counter(),
    );
    match outcome {
        Confirmed::Inserted => {
            ctnetlink::notify(&c, Event::New);
            drop(conn::attach(skb, c, ctinfo));
            Verdict::ACCEPT
        }
        Confirmed::Already => {
            drop(conn::attach(skb, c, ctinfo));
            Verdict::ACCEPT
        }
        Confirmed::Merged(existing) => {
            // The packet carries the winner now; its own entry goes.
            let existing = existing.notified();
            existing.account_merged(ctinfo, &c);
            drop(conn::attach(skb, existing, ctinfo));
            drop(c);
            Verdict::ACCEPT
        }
        Confirmed::Failed => {
            drop(c);
            Verdict::DROP
        }
    }
}

fn confirm_hook(pkt: &mut Packet<'_>) -> Verdict {
    match pkt.skb() {
        Some(mut skb) => confirm(&mut skb),
        None => Verdict::ACCEPT,
    }
}

/// Tracks packets of family `F` arriving from the network.
struct ConntrackIn<F>(PhantomData<F>);

impl<F: Family> Hook for ConntrackIn<F> {
    const POINT: HookPoint = HookPoint::PreRouting;
    const PRIORITY: i32 = priority::CONNTRACK;
    fn run(pkt: &mut Packet<'_>) -> Verdict {
        track_hook::<F>(pkt)
    }
}

/// Tracks locally generated packets of family `F`.
struct ConntrackLocal<F>(PhantomData<F>);

impl<F: Family> Hook for ConntrackLocal<F> {
    const POINT: HookPoint = HookPoint::LocalOut;
    const PRIORITY: i32 = priority::CONNTRACK;
    fn run(pkt: &mut Packet<'_>) -> Verdict {
        track_hook::<F>(pkt)
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

/// The module's hooks, in the order nf_conntrack registers its own; the
/// IPv6 ones at 6.12's `ipv6_conntrack_ops` priorities (-200, as IPv4's
/// -200; confirmation last), the confirmation the same for both families.
pub(crate) fn hook_ops() -> [ffi::nf_hook_ops; 8] {
    [
        hooks::ops::<ConntrackIn<V4>>(),
        hooks::ops::<ConntrackLocal<V4>>(),
        hooks::ops::<ConfirmOut>(),
        hooks::ops::<ConfirmIn>(),
        hooks::ops6::<ConntrackIn<V6>>(),
        hooks::ops6::<ConntrackLocal<V6>>(),
        hooks::ops6::<ConfirmOut>(),
        hooks::ops6::<ConfirmIn>(),
    ]
}
