//! ctnetlink's numbers (`nfnetlink_conntrack.h`) and the messages the
//! tracker sends: one entry as `ctnetlink_fill_info` builds it, the
//! global count (`IPCTNL_MSG_CT_GET_STATS`) and one CPU's counters
//! (`IPCTNL_MSG_CT_GET_STATS_CPU`).
//!
//! An entry, in 6.12's order (a kernel with connection marks, no zones,
//! no timestamp extension, no helpers):
//!
//! ```text
//! CTA_TUPLE_ORIG  { CTA_TUPLE_IP { V4_SRC, V4_DST },
//!                   CTA_TUPLE_PROTO { NUM, ports | ICMP id, type, code } }
//! CTA_TUPLE_REPLY { same }
//! CTA_STATUS, CTA_MARK, CTA_ID, CTA_USE, CTA_TIMEOUT,
//! CTA_PROTOINFO { CTA_PROTOINFO_TCP { STATE, WSCALE_ORIGINAL,
//!                 WSCALE_REPLY, FLAGS_ORIGINAL, FLAGS_REPLY } }   (TCP)
//!               { CTA_PROTOINFO_SCTP { STATE, VTAG_ORIGINAL, VTAG_REPLY } }
//!               { CTA_PROTOINFO_DCCP { STATE, ROLE, HANDSHAKE_SEQ } }
//! CTA_COUNTERS_ORIG { PACKETS, BYTES }, CTA_COUNTERS_REPLY { same }
//!                                              (entries with counters)
//! ```
//!
//! The counters are `nla_put_be64`s; x86-64 has efficient unaligned
//! access, so 6.12 inserts no `CTA_COUNTERS_PAD` before them.
//!
//! Events (`ctnetlink_conntrack_event`) to the multicast groups carry the
//! tuples, `CTA_ID`, `CTA_STATUS`, then: for a new entry or an update,
//! `CTA_TIMEOUT` and, when the TCP, SCTP or DCCP state is news, the full
//! `CTA_PROTOINFO`; for a destroyed entry `CTA_TIMEOUT` only if not zero,
//! the counters and the state alone. Last the mark: left out when 0,
//! unless a ctnetlink request created or changed the entry (6.12's
//! `IPCT_MARK`); such events carry the request's port in their header.

use super::attr::{TooSmall, Writer};
use super::message::{self, Header, F_MULTI, NFNETLINK_V0};
use crate::entry::{Counters, Entry};
use crate::hash::{siphash, HashKey};
use crate::proto::ProtoState;
use crate::stats::Stats;
use crate::tuple::{proto, Addr, Dir, Tuple, L4};

/// `NFNL_SUBSYS_CTNETLINK`.
pub const SUBSYS_CTNETLINK: u8 = 1;
/// `NFNL_SUBSYS_CTNETLINK_EXP`.
pub const SUBSYS_CTNETLINK_EXP: u8 = 2;

/// `AF_UNSPEC`.
pub const AF_UNSPEC: u8 = 0;
/// `AF_INET` (`NFPROTO_IPV4`).
pub const AF_INET: u8 = 2;
/// `AF_INET6` (`NFPROTO_IPV6`).
pub const AF_INET6: u8 = 10;

/// `enum cntl_msg_types`.
pub mod msg {
    /// Create (and the type of every entry message sent).
    pub const CT_NEW: u8 = 0;
    /// Get one entry, or dump.
    pub const CT_GET: u8 = 1;
    /// Delete one entry, or flush.
    pub const CT_DELETE: u8 = 2;
    /// Get and zero the counters.
    pub const CT_GET_CTRZERO: u8 = 3;
    /// Per-CPU statistics (dump).
    pub const CT_GET_STATS_CPU: u8 = 4;
    /// Global count and limit.
    pub const CT_GET_STATS: u8 = 5;
    /// Dying entries (dump).
    pub const CT_GET_DYING: u8 = 6;
    /// Unconfirmed entries (dump).
    pub const CT_GET_UNCONFIRMED: u8 = 7;
    /// Number of message types (`IPCTNL_MSG_MAX`).
    pub const CT_MAX: u8 = 8;
    /// Expectation get/dump (`IPCTNL_MSG_EXP_GET`).
    pub const EXP_GET: u8 = 1;
}

/// `enum ctattr_type`.
pub mod cta {
    /// Original tuple (nested).
    pub const TUPLE_ORIG: u16 = 1;
    /// Reply tuple (nested).
    pub const TUPLE_REPLY: u16 = 2;
    /// Status bits (be32).
    pub const STATUS: u16 = 3;
    /// Protocol state (nested).
    pub const PROTOINFO: u16 = 4;
    /// Helper (nested).
    pub const HELP: u16 = 5;
    /// Source NAT (nested).
    pub const NAT_SRC: u16 = 6;
    /// Seconds left (be32).
    pub const TIMEOUT: u16 = 7;
    /// Connection mark (be32).
    pub const MARK: u16 = 8;
    /// Original direction's counters (nested).
    pub const COUNTERS_ORIG: u16 = 9;
    /// Reply direction's counters (nested).
    pub const COUNTERS_REPLY: u16 = 10;
    /// Reference count (be32).
    pub const USE: u16 = 11;
    /// Entry identifier (be32).
    pub const ID: u16 = 12;
    /// Destination NAT (nested).
    pub const NAT_DST: u16 = 13;
    /// Master tuple (nested).
    pub const TUPLE_MASTER: u16 = 14;
    /// Sequence adjustment, original (nested).
    pub const SEQ_ADJ_ORIG: u16 = 15;
    /// Sequence adjustment, reply (nested).
    pub const SEQ_ADJ_REPLY: u16 = 16;
    /// Zone (be16).
    pub const ZONE: u16 = 18;
    /// Mark mask (be32).
    pub const MARK_MASK: u16 = 21;
    /// Labels (binary).
    pub const LABELS: u16 = 22;
    /// Labels mask (binary).
    pub const LABELS_MASK: u16 = 23;
    /// Dump filter (nested).
    pub const FILTER: u16 = 25;
    /// Status mask (be32).
    pub const STATUS_MASK: u16 = 26;
    /// `CTA_MAX`.
    pub const MAX: u16 = 26;

    /// `CTA_TUPLE_IP`.
    pub const TUPLE_IP: u16 = 1;
    /// `CTA_TUPLE_PROTO`.
    pub const TUPLE_PROTO: u16 = 2;
    /// `CTA_TUPLE_ZONE`.
    pub const TUPLE_ZONE: u16 = 3;

    /// `CTA_IP_V4_SRC`.
    pub const IP_V4_SRC: u16 = 1;
    /// `CTA_IP_V4_DST`.
    pub const IP_V4_DST: u16 = 2;
    /// `CTA_IP_V6_SRC`.
    pub const IP_V6_SRC: u16 = 3;
    /// `CTA_IP_V6_DST`.
    pub const IP_V6_DST: u16 = 4;

    /// `CTA_PROTO_NUM`.
    pub const PROTO_NUM: u16 = 1;
    /// `CTA_PROTO_SRC_PORT`.
    pub const PROTO_SRC_PORT: u16 = 2;
    /// `CTA_PROTO_DST_PORT`.
    pub const PROTO_DST_PORT: u16 = 3;
    /// `CTA_PROTO_ICMP_ID`.
    pub const PROTO_ICMP_ID: u16 = 4;
    /// `CTA_PROTO_ICMP_TYPE`.
    pub const PROTO_ICMP_TYPE: u16 = 5;
    /// `CTA_PROTO_ICMP_CODE`.
    pub const PROTO_ICMP_CODE: u16 = 6;
    /// `CTA_PROTO_ICMPV6_ID`.
    pub const PROTO_ICMPV6_ID: u16 = 7;
    /// `CTA_PROTO_ICMPV6_TYPE`.
    pub const PROTO_ICMPV6_TYPE: u16 = 8;
    /// `CTA_PROTO_ICMPV6_CODE`.
    pub const PROTO_ICMPV6_CODE: u16 = 9;

    /// `CTA_COUNTERS_PACKETS` (be64).
    pub const COUNTERS_PACKETS: u16 = 1;
    /// `CTA_COUNTERS_BYTES` (be64).
    pub const COUNTERS_BYTES: u16 = 2;

    /// `CTA_PROTOINFO_TCP`.
    pub const PROTOINFO_TCP: u16 = 1;
    /// `CTA_PROTOINFO_TCP_STATE`.
    pub const TCP_STATE: u16 = 1;
    /// `CTA_PROTOINFO_TCP_WSCALE_ORIGINAL`.
    pub const TCP_WSCALE_ORIGINAL: u16 = 2;
    /// `CTA_PROTOINFO_TCP_WSCALE_REPLY`.
    pub const TCP_WSCALE_REPLY: u16 = 3;
    /// `CTA_PROTOINFO_TCP_FLAGS_ORIGINAL`.
    pub const TCP_FLAGS_ORIGINAL: u16 = 4;
    /// `CTA_PROTOINFO_TCP_FLAGS_REPLY`.
    pub const TCP_FLAGS_REPLY: u16 = 5;

    /// `CTA_PROTOINFO_DCCP`.
    pub const PROTOINFO_DCCP: u16 = 2;
    /// `CTA_PROTOINFO_DCCP_STATE` (u8).
    pub const DCCP_STATE: u16 = 1;
    /// `CTA_PROTOINFO_DCCP_ROLE` (u8, of the original direction).
    pub const DCCP_ROLE: u16 = 2;
    /// `CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ` (be64).
    pub const DCCP_HANDSHAKE_SEQ: u16 = 3;

    /// `CTA_PROTOINFO_SCTP`.
    pub const PROTOINFO_SCTP: u16 = 3;
    /// `CTA_PROTOINFO_SCTP_STATE` (u8).
    pub const SCTP_STATE: u16 = 1;
    /// `CTA_PROTOINFO_SCTP_VTAG_ORIGINAL` (be32).
    pub const SCTP_VTAG_ORIGINAL: u16 = 2;
    /// `CTA_PROTOINFO_SCTP_VTAG_REPLY` (be32).
    pub const SCTP_VTAG_REPLY: u16 = 3;

    /// `CTA_FILTER_ORIG_FLAGS`.
    pub const FILTER_ORIG_FLAGS: u16 = 1;
    /// `CTA_FILTER_REPLY_FLAGS`.
    pub const FILTER_REPLY_FLAGS: u16 = 2;

    /// `CTA_STATS_FOUND` and the other per-CPU counters, in order.
    pub const STATS_FOUND: u16 = 2;
    /// `CTA_STATS_INVALID`.
    pub const STATS_INVALID: u16 = 4;
    /// `CTA_STATS_INSERT`.
    pub const STATS_INSERT: u16 = 8;
    /// `CTA_STATS_INSERT_FAILED`.
    pub const STATS_INSERT_FAILED: u16 = 9;
    /// `CTA_STATS_DROP`.
    pub const STATS_DROP: u16 = 10;
    /// `CTA_STATS_EARLY_DROP`.
    pub const STATS_EARLY_DROP: u16 = 11;
    /// `CTA_STATS_ERROR`.
    pub const STATS_ERROR: u16 = 12;
    /// `CTA_STATS_SEARCH_RESTART`.
    pub const STATS_SEARCH_RESTART: u16 = 13;
    /// `CTA_STATS_CLASH_RESOLVE`.
    pub const STATS_CLASH_RESOLVE: u16 = 14;
    /// `CTA_STATS_CHAIN_TOOLONG`.
    pub const STATS_CHAIN_TOOLONG: u16 = 15;

    /// `CTA_STATS_GLOBAL_ENTRIES`.
    pub const STATS_GLOBAL_ENTRIES: u16 = 1;
    /// `CTA_STATS_GLOBAL_MAX_ENTRIES`.
    pub const STATS_GLOBAL_MAX_ENTRIES: u16 = 2;
}

/// `nfnl_msg_type(subsys, msg)`.
pub fn msg_type(subsys: u8, msg: u8) -> u16 {
    u16::from_be_bytes([subsys, msg])
}

/// What an entry message carries besides the entry itself: what the
/// kernel object knows (identity, references) and the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// `CTA_ID` ([`entry_id`]).
    pub id: u32,
    /// `CTA_USE`: the reference count.
    pub uses: u32,
    /// `CTA_TIMEOUT`: whole seconds left.
    pub timeout: u32,
    /// `CTA_COUNTERS_ORIG` and `_REPLY`, for an entry that counts.
    pub counters: Option<[Counters; 2]>,
    /// For an event: the port of the ctnetlink request that made the
    /// change (6.12's `item->portid`), 0 for a packet's. It goes in the
    /// header, and a created or changed entry's mark goes out even when 0
    /// (such requests report `IPCT_MARK`).
    pub portid: u32,
    /// The key of the reply tuple NAT gave the entry, if any.
    pub nat_reply: Option<[u64; 2]>,
    /// An IPv6 entry's address words (`Store::addrs6`): its messages are
    /// `AF_INET6` with `CTA_IP_V6_*` addresses.
    pub addrs6: Option<[u64; 4]>,
}

impl Meta {
    /// The `nfgen_family` of the entry's messages.
    fn family(&self) -> u8 {
        if self.addrs6.is_some() {
            AF_INET6
        } else {
            AF_INET
        }
    }
}

/// `ctnetlink_dump_acct`: both directions' nests.
fn put_counters(w: &mut Writer<'_>, c: &[Counters; 2]) -> Result<(), TooSmall> {
    for (ty, d) in [(cta::COUNTERS_ORIG, &c[0]), (cta::COUNTERS_REPLY, &c[1])] {
        let n = w.nest_start(ty)?;
        w.put(cta::COUNTERS_PACKETS, &d.packets.to_be_bytes())?;
        w.put(cta::COUNTERS_BYTES, &d.bytes.to_be_bytes())?;
        w.nest_end(n)?;
    }
    Ok(())
}

/// The identifier of the entry object at `addr` (6.12's `nf_ct_get_id`:
/// a keyed hash of the object's address, stable for its life, not
/// revealing the address).
pub fn entry_id(key: &HashKey, addr: u64) -> u32 {
    let h = siphash(key, &addr.to_ne_bytes());
    u32::try_from(h >> 32).unwrap_or(0)
}

/// The number ctnetlink gives a TCP state (`enum tcp_conntrack`;
/// SYN_SENT2 shares LISTEN's slot).
pub fn tcp_state_number(s: crate::proto::tcp::TcpState) -> u8 {
    use crate::proto::tcp::TcpState as S;
    match s {
        S::None => 0,
        S::SynSent => 1,
        S::SynRecv => 2,
        S::Established => 3,
        S::FinWait => 4,
        S::CloseWait => 5,
        S::LastAck => 6,
        S::TimeWait => 7,
        S::Close => 8,
        S::Listen | S::SynSent2 => 9,
    }
}

/// The TCP state of ctnetlink's number (9, LISTEN's slot, is SYN_SENT2
/// now); `None` from 10 on (`TCP_CONNTRACK_MAX`).
pub fn tcp_state_of(n: u8) -> Option<crate::proto::tcp::TcpState> {
    use crate::proto::tcp::TcpState as S;
    Some(match n {
        0 => S::None,
        1 => S::SynSent,
        2 => S::SynRecv,
        3 => S::Established,
        4 => S::FinWait,
        5 => S::CloseWait,
        6 => S::LastAck,
        7 => S::TimeWait,
        8 => S::Close,
        9 => S::SynSent2,
        _ => return None,
    })
}

/// `ctnetlink_dump_tuples`: the IP nest and the protocol nest.
fn put_tuple(w: &mut Writer<'_>, t: &Tuple) -> Result<(), TooSmall> {
    let ip = w.nest_start(cta::TUPLE_IP)?;
    match (t.src, t.dst) {
        (Addr::V4(s), Addr::V4(d)) => {
            w.put(cta::IP_V4_SRC, &s.to_be_bytes())?;
            w.put(cta::IP_V4_DST, &d.to_be_bytes())?;
        }
        (s, d) => {
            w.put(cta::IP_V6_SRC, &s.to_bytes())?;
            w.put(cta::IP_V6_DST, &d.to_bytes())?;
        }
    }
    w.nest_end(ip)?;
    let p = w.nest_start(cta::TUPLE_PROTO)?;
    w.put_u8(cta::PROTO_NUM, t.proto)?;
    match t.l4 {
        L4::Ports { sport, dport } => {
            w.put_be16(cta::PROTO_SRC_PORT, sport)?;
            w.put_be16(cta::PROTO_DST_PORT, dport)?;
        }
        L4::Icmp { ty, code, id } if t.proto == crate::tuple::proto::ICMPV6 => {
            // `icmpv6_tuple_to_nlattr`: its own attribute types.
            w.put_be16(cta::PROTO_ICMPV6_ID, id)?;
            w.put_u8(cta::PROTO_ICMPV6_TYPE, ty)?;
            w.put_u8(cta::PROTO_ICMPV6_CODE, code)?;
        }
        L4::Icmp { ty, code, id } => {
            w.put_be16(cta::PROTO_ICMP_ID, id)?;
            w.put_u8(cta::PROTO_ICMP_TYPE, ty)?;
            w.put_u8(cta::PROTO_ICMP_CODE, code)?;
        }
        L4::None => {}
    }
    w.nest_end(p)
}

/// `tcp_to_nlattr`; a destroy event carries the state alone.
fn put_tcp(w: &mut Writer<'_>, tcp: &crate::proto::tcp::Tcp, destroy: bool) -> Result<(), TooSmall> {
    let info = w.nest_start(cta::PROTOINFO)?;
    let t = w.nest_start(cta::PROTOINFO_TCP)?;
    w.put_u8(cta::TCP_STATE, tcp_state_number(tcp.state()))?;
    if destroy {
        w.nest_end(t)?;
        return w.nest_end(info);
    }
    let (o, r) = (tcp.peer(Dir::Original), tcp.peer(Dir::Reply));
    w.put_u8(cta::TCP_WSCALE_ORIGINAL, o.scale())?;
    w.put_u8(cta::TCP_WSCALE_REPLY, r.scale())?;
    // struct nf_ct_tcp_flags { flags, mask }: the mask is 0 on output.
    w.put(cta::TCP_FLAGS_ORIGINAL, &[o.flags().0, 0])?;
    w.put(cta::TCP_FLAGS_REPLY, &[r.flags().0, 0])?;
    w.nest_end(t)?;
    w.nest_end(info)
}

/// `sctp_to_nlattr`; a destroy event carries the state alone.
fn put_sctp(w: &mut Writer<'_>, s: &crate::proto::sctp::Sctp, destroy: bool) -> Result<(), TooSmall> {
    let info = w.nest_start(cta::PROTOINFO)?;
    let n = w.nest_start(cta::PROTOINFO_SCTP)?;
    w.put_u8(cta::SCTP_STATE, s.state() as u8)?;
    if !destroy {
        let [o, r] = s.vtags();
        w.put_be32(cta::SCTP_VTAG_ORIGINAL, o)?;
        w.put_be32(cta::SCTP_VTAG_REPLY, r)?;
    }
    w.nest_end(n)?;
    w.nest_end(info)
}

/// `dccp_to_nlattr`; a destroy event carries the state alone. (x86-64
/// needs no `CTA_PROTOINFO_DCCP_PAD` before the be64.)
fn put_dccp(w: &mut Writer<'_>, d: &crate::proto::dccp::Dccp, destroy: bool) -> Result<(), TooSmall> {
    let info = w.nest_start(cta::PROTOINFO)?;
    let n = w.nest_start(cta::PROTOINFO_DCCP)?;
    w.put_u8(cta::DCCP_STATE, d.state() as u8)?;
    if !destroy {
        w.put_u8(cta::DCCP_ROLE, d.orig_role())?;
        w.put(cta::DCCP_HANDSHAKE_SEQ, &d.handshake_seq().to_be_bytes())?;
    }
    w.nest_end(n)?;
    w.nest_end(info)
}

/// `ctnetlink_dump_protoinfo`: the protocol's nest, for the protocols
/// that have one.
fn put_protoinfo(w: &mut Writer<'_>, p: &ProtoState, destroy: bool) -> Result<(), TooSmall> {
    match p {
        ProtoState::Tcp(t) => put_tcp(w, t, destroy),
        ProtoState::Sctp(s) => put_sctp(w, s, destroy),
        ProtoState::Dccp(d) => put_dccp(w, d, destroy),
        _ => Ok(()),
    }
}

/// Appends the message of entry `e` (`ctnetlink_fill_info` with
/// `IPCTNL_MSG_CT_NEW`, IPv4): to `portid` answering `seq`, with `flags`
/// (`NLM_F_MULTI` is added for an answer to a socket, as 6.12 does). On
/// [`TooSmall`] nothing is appended.
pub fn put_entry(
    w: &mut Writer<'_>,
    portid: u32,
    seq: u32,
    flags: u16,
    e: &Entry,
    m: &Meta,
) -> Result<(), TooSmall> {
    let start = w.len();
    let r = put_entry_inner(w, portid, seq, flags, e, m);
    if r.is_err() {
        w.truncate(start);
    }
    r
}

fn put_entry_inner(
    w: &mut Writer<'_>,
    portid: u32,
    seq: u32,
    flags: u16,
    e: &Entry,
    m: &Meta,
) -> Result<(), TooSmall> {
    let h = Header {
        kind: msg_type(SUBSYS_CTNETLINK, msg::CT_NEW),
        flags: if portid != 0 { flags | F_MULTI } else { flags },
        seq,
        pid: portid,
        family: m.family(),
        version: NFNETLINK_V0,
        res_id: 0,
    };
    let at = message::begin(w, &h)?;
    let n = w.nest_start(cta::TUPLE_ORIG)?;
    put_tuple(w, &e.tuple_nat6(Dir::Original, m.nat_reply, m.addrs6))?;
    w.nest_end(n)?;
    let n = w.nest_start(cta::TUPLE_REPLY)?;
    put_tuple(w, &e.tuple_nat6(Dir::Reply, m.nat_reply, m.addrs6))?;
    w.nest_end(n)?;
    w.put_be32(cta::STATUS, e.status.0)?;
    w.put_be32(cta::MARK, e.mark)?;
    w.put_be32(cta::ID, m.id)?;
    w.put_be32(cta::USE, m.uses)?;
    w.put_be32(cta::TIMEOUT, m.timeout)?;
    put_protoinfo(w, &e.proto, false)?;
    if let Some(c) = &m.counters {
        put_counters(w, c)?;
    }
    message::end(w, at)
}

/// The multicast groups of conntrack events (`NFNLGRP_CONNTRACK_*`).
pub mod group {
    /// New entries.
    pub const NEW: u32 = 1;
    /// Updates.
    pub const UPDATE: u32 = 2;
    /// Destroyed entries.
    pub const DESTROY: u32 = 3;
}

/// What happened to an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// It joined the table (`IPCT_NEW`).
    New,
    /// It changed: a reply was seen, it became assured, or (with
    /// `protoinfo`) its TCP state moved.
    Update {
        /// The TCP state changed (`IPCT_PROTOINFO`).
        protoinfo: bool,
    },
    /// It left the table (`IPCT_DESTROY`).
    Destroy,
}

impl Event {
    /// The group the event goes to.
    pub fn group(self) -> u32 {
        match self {
            Event::New => group::NEW,
            Event::Update { .. } => group::UPDATE,
            Event::Destroy => group::DESTROY,
        }
    }
}

/// What of an entry is reported by update events, packed: the
/// SEEN_REPLY and ASSURED bits and the TCP state number (bits 8..).
#[inline]
pub fn change_summary(e: &Entry) -> u16 {
    use crate::entry::Status;
    let bits = e.status.0 & (Status::SEEN_REPLY | Status::ASSURED);
    // Computed for every packet: the states of SCTP and DCCP out of line.
    let state = match &e.proto {
        ProtoState::Tcp(t) => tcp_state_number(t.state()),
        p @ (ProtoState::Sctp(_) | ProtoState::Dccp(_)) => other_state_number(p),
        _ => 0,
    };
    u16::from(state) << 8 | u16::try_from(bits).unwrap_or(0)
}

/// [`change_summary`]'s state number of an SCTP or DCCP entry.
#[inline(never)]
fn other_state_number(p: &ProtoState) -> u8 {
    match p {
        ProtoState::Sctp(s) => s.state() as u8,
        ProtoState::Dccp(d) => d.state() as u8,
        _ => 0,
    }
}

/// The update event going from summary `old` to `new`, if any.
pub fn update_event(old: u16, new: u16) -> Option<Event> {
    if old == new {
        return None;
    }
    Some(Event::Update { protoinfo: old >> 8 != new >> 8 })
}

/// Appends the event message of `ev` about `e`
/// (`ctnetlink_conntrack_event`: sequence 0, port [`Meta::portid`]). On
/// [`TooSmall`] nothing is appended.
pub fn put_event(w: &mut Writer<'_>, ev: Event, e: &Entry, m: &Meta) -> Result<(), TooSmall> {
    let start = w.len();
    let r = put_event_inner(w, ev, e, m);
    if r.is_err() {
        w.truncate(start);
    }
    r
}

/// `NLM_F_CREATE | NLM_F_EXCL`, the flags of a new-entry event.
const F_CREATE_EXCL: u16 = 0x400 | 0x200;

fn put_event_inner(w: &mut Writer<'_>, ev: Event, e: &Entry, m: &Meta) -> Result<(), TooSmall> {
    let (ty, flags) = match ev {
        Event::Destroy => (msg::CT_DELETE, 0),
        Event::New => (msg::CT_NEW, F_CREATE_EXCL),
        Event::Update { .. } => (msg::CT_NEW, 0),
    };
    let h = Header {
        kind: msg_type(SUBSYS_CTNETLINK, ty),
        flags,
        seq: 0,
        pid: m.portid,
        family: m.family(),
        version: NFNETLINK_V0,
        res_id: 0,
    };
    let at = message::begin(w, &h)?;
    let n = w.nest_start(cta::TUPLE_ORIG)?;
    put_tuple(w, &e.tuple_nat6(Dir::Original, m.nat_reply, m.addrs6))?;
    w.nest_end(n)?;
    let n = w.nest_start(cta::TUPLE_REPLY)?;
    put_tuple(w, &e.tuple_nat6(Dir::Reply, m.nat_reply, m.addrs6))?;
    w.nest_end(n)?;
    w.put_be32(cta::ID, m.id)?;
    w.put_be32(cta::STATUS, e.status.0)?;
    match ev {
        Event::Destroy => {
            if m.timeout != 0 {
                w.put_be32(cta::TIMEOUT, m.timeout)?;
            }
            if let Some(c) = &m.counters {
                put_counters(w, c)?;
            }
            put_protoinfo(w, &e.proto, true)?;
        }
        Event::New | Event::Update { .. } => {
            w.put_be32(cta::TIMEOUT, m.timeout)?;
            // A new TCP entry's state is news too (6.12 caches
            // IPCT_PROTOINFO with IPCT_NEW for the first packet).
            let proto = matches!(ev, Event::New | Event::Update { protoinfo: true });
            if proto {
                put_protoinfo(w, &e.proto, false)?;
            }
        }
    }
    if e.mark != 0 || (m.portid != 0 && ev != Event::Destroy) {
        w.put_be32(cta::MARK, e.mark)?;
    }
    message::end(w, at)
}

/// Appends the global statistics message (`ctnetlink_stat_ct_fill_info`).
pub fn put_stats(
    w: &mut Writer<'_>,
    portid: u32,
    seq: u32,
    entries: u32,
    max: u32,
) -> Result<(), TooSmall> {
    let h = Header {
        kind: msg_type(SUBSYS_CTNETLINK, msg::CT_GET_STATS),
        flags: if portid != 0 { F_MULTI } else { 0 },
        seq,
        pid: portid,
        family: AF_UNSPEC,
        version: NFNETLINK_V0,
        res_id: 0,
    };
    let start = w.len();
    let r = (|| {
        let at = message::begin(w, &h)?;
        w.put_be32(cta::STATS_GLOBAL_ENTRIES, entries)?;
        w.put_be32(cta::STATS_GLOBAL_MAX_ENTRIES, max)?;
        message::end(w, at)
    })();
    if r.is_err() {
        w.truncate(start);
    }
    r
}

/// Appends CPU `cpu`'s counters (`ctnetlink_ct_stat_cpu_fill_info`): the
/// CPU number in `res_id`, 6.12's ten counters (`search_restart` is
/// always 0 here: lookups never restart).
pub fn put_stats_cpu(
    w: &mut Writer<'_>,
    portid: u32,
    seq: u32,
    cpu: u16,
    s: &Stats,
) -> Result<(), TooSmall> {
    let h = Header {
        kind: msg_type(SUBSYS_CTNETLINK, msg::CT_GET_STATS_CPU),
        flags: if portid != 0 { F_MULTI } else { 0 },
        seq,
        pid: portid,
        family: AF_UNSPEC,
        version: NFNETLINK_V0,
        res_id: cpu,
    };
    let start = w.len();
    let r = (|| {
        let at = message::begin(w, &h)?;
        for (ty, v) in [
            (cta::STATS_FOUND, s.found),
            (cta::STATS_INVALID, s.invalid),
            (cta::STATS_INSERT, s.insert),
            (cta::STATS_INSERT_FAILED, s.insert_failed),
            (cta::STATS_DROP, s.drop),
            (cta::STATS_EARLY_DROP, s.early_drop),
            (cta::STATS_ERROR, s.icmp_error),
            (cta::STATS_SEARCH_RESTART, 0),
            (cta::STATS_CLASH_RESOLVE, s.clash_resolve),
            (cta::STATS_CHAIN_TOOLONG, s.chaintoolong),
        ] {
            w.put_be32(ty, v)?;
        }
        message::end(w, at)
    })();
    if r.is_err() {
        w.truncate(start);
    }
    r
}

/// Whether `p` is a protocol whose tuples carry ports here.
pub fn has_ports(p: u8) -> bool {
    proto::has_ports(p)
}
