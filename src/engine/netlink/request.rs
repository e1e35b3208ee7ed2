//! ctnetlink requests as Linux 6.12 reads them: the top-level attributes
//! checked against `ct_nla_policy`, tuples parsed by
//! `ctnetlink_parse_tuple_filter` (all fields required for a lookup, only
//! the flagged ones for a dump filter), and the dump/flush filter of
//! `ctnetlink_alloc_filter` with its match rules. Each refusal is the
//! errno 6.12 gives for the same bytes, for a kernel with connection
//! marks and without zones.

use super::attr::{parse, Attr, Mode, Policy};
use super::ctnetlink::{cta, has_ports, AF_INET, AF_INET6, AF_UNSPEC};
use super::message::Message;
use super::Error;
use crate::entry::Entry;
use crate::tuple::{icmp_inverse_type, proto, Addr, Dir, Tuple, L4};

/// Number of top-level types (`CTA_MAX + 1`).
const N: usize = 27;

/// `ct_nla_policy`.
const CT_POLICY: [Policy; N] = [
    Policy::Any,
    Policy::Nested, // TUPLE_ORIG
    Policy::Nested, // TUPLE_REPLY
    Policy::U32,    // STATUS
    Policy::Nested, // PROTOINFO
    Policy::Nested, // HELP
    Policy::Nested, // NAT_SRC
    Policy::U32,    // TIMEOUT
    Policy::U32,    // MARK
    Policy::Any,    // COUNTERS_ORIG
    Policy::Any,    // COUNTERS_REPLY
    Policy::Any,    // USE
    Policy::U32,    // ID
    Policy::Nested, // NAT_DST
    Policy::Nested, // TUPLE_MASTER
    Policy::Nested, // SEQ_ADJ_ORIG
    Policy::Nested, // SEQ_ADJ_REPLY
    Policy::Any,    // SECMARK
    Policy::U16,    // ZONE
    Policy::Any,    // SECCTX
    Policy::Any,    // TIMESTAMP
    Policy::U32,    // MARK_MASK
    // NF_CT_LABELS_MAX_SIZE: 128 bits.
    Policy::Binary(16), // LABELS
    Policy::Binary(16), // LABELS_MASK
    Policy::Any,        // SYNPROXY
    Policy::Nested,     // FILTER
    Policy::U32,        // STATUS_MASK
];

/// `tuple_nla_policy`.
const TUPLE_POLICY: [Policy; 4] = [Policy::Any, Policy::Nested, Policy::Nested, Policy::U16];

/// `cta_ip_nla_policy`.
const IP_POLICY: [Policy; 5] = [
    Policy::Any,
    Policy::U32,
    Policy::U32,
    Policy::MinLen(16),
    Policy::MinLen(16),
];

/// `proto_nla_policy` (only the protocol number).
const PROTO_POLICY: [Policy; 10] = [
    Policy::Any,
    Policy::U8,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
];

/// `nf_ct_port_nla_policy`.
const PORT_POLICY: [Policy; 10] = [
    Policy::Any,
    Policy::Any,
    Policy::U16,
    Policy::U16,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
];

/// `icmp_nla_policy`.
const ICMP_POLICY: [Policy; 10] = [
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::U16,
    Policy::U8,
    Policy::U8,
    Policy::Any,
    Policy::Any,
    Policy::Any,
];

/// `icmpv6_nla_policy` (ICMPv6 type 8, code 9, id 7).
const ICMPV6_POLICY: [Policy; 10] = [
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::Any,
    Policy::U16,
    Policy::U8,
    Policy::U8,
];

/// Tuple filter flags (`CTA_FILTER_F_*`, 6.12's `nf_internals.h`).
pub mod flag {
    /// Source address.
    pub const IP_SRC: u32 = 1 << 0;
    /// Destination address.
    pub const IP_DST: u32 = 1 << 1;
    /// Tuple zone.
    pub const TUPLE_ZONE: u32 = 1 << 2;
    /// Protocol number.
    pub const PROTO_NUM: u32 = 1 << 3;
    /// Source port.
    pub const SRC_PORT: u32 = 1 << 4;
    /// Destination port.
    pub const DST_PORT: u32 = 1 << 5;
    /// ICMP type.
    pub const ICMP_TYPE: u32 = 1 << 6;
    /// ICMP code.
    pub const ICMP_CODE: u32 = 1 << 7;
    /// ICMP identifier.
    pub const ICMP_ID: u32 = 1 << 8;
    /// ICMPv6 type.
    pub const ICMPV6_TYPE: u32 = 1 << 9;
    /// ICMPv6 code.
    pub const ICMPV6_CODE: u32 = 1 << 10;
    /// ICMPv6 identifier.
    pub const ICMPV6_ID: u32 = 1 << 11;
    /// Every flag (`CTA_FILTER_F_ALL`): what a lookup requires.
    pub const ALL: u32 = (1 << 12) - 1;
    /// The layer-4 flags.
    pub const ALL_PROTO: u32 =
        SRC_PORT | DST_PORT | ICMP_TYPE | ICMP_CODE | ICMP_ID | ICMPV6_TYPE | ICMPV6_CODE | ICMPV6_ID;
}

/// `cta_filter_nla_policy`.
const FILTER_POLICY: [Policy; 3] = [Policy::Any, Policy::U32Mask(flag::ALL), Policy::U32Mask(flag::ALL)];

/// A parsed ctnetlink conntrack request.
#[derive(Clone, Debug)]
pub struct CtRequest<'a> {
    /// `nfgen_family`.
    pub family: u8,
    /// `version` (a flush with version 0 ignores the family).
    pub version: u8,
    tb: [Option<Attr<'a>>; N],
}

/// The fields of a tuple a request named; which ones count is in
/// `flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TupleFilter {
    /// `flag::*` bits of the fields to compare.
    pub flags: u32,
    /// The family the tuple was parsed for.
    pub family: u8,
    /// Source address (of `family`).
    pub src: Addr,
    /// Destination address (of `family`).
    pub dst: Addr,
    /// Protocol number.
    pub proto: u8,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub icmp_code: u8,
    /// ICMP identifier.
    pub icmp_id: u16,
}

impl Default for TupleFilter {
    fn default() -> Self {
        TupleFilter {
            flags: 0,
            family: AF_UNSPEC,
            src: Addr::V4(0),
            dst: Addr::V4(0),
            proto: 0,
            sport: 0,
            dport: 0,
            icmp_type: 0,
            icmp_code: 0,
            icmp_id: 0,
        }
    }
}

impl TupleFilter {
    /// `ctnetlink_filter_match_tuple` against one of an entry's tuples
    /// (addresses compared only for a filter of a family, ports only for
    /// TCP and UDP, as 6.12).
    pub fn matches(&self, t: &Tuple) -> bool {
        let f = self.flags;
        if self.family == AF_INET || self.family == AF_INET6 {
            if f & flag::IP_SRC != 0 && t.src != self.src {
                return false;
            }
            if f & flag::IP_DST != 0 && t.dst != self.dst {
                return false;
            }
        }
        if f & flag::PROTO_NUM != 0 && self.proto != t.proto {
            return false;
        }
        match t.l4 {
            // Only TCP's and UDP's ports are compared: SCTP, DCCP and
            // UDP-Lite entries match whatever ports the filter names.
            L4::Ports { sport, dport } if t.proto == proto::TCP || t.proto == proto::UDP => {
                (f & flag::SRC_PORT == 0 || self.sport == sport)
                    && (f & flag::DST_PORT == 0 || self.dport == dport)
            }
            L4::Ports { .. } => true,
            L4::Icmp { ty, code, id } => {
                let (bt, bc, bi) = if t.proto == proto::ICMPV6 {
                    (flag::ICMPV6_TYPE, flag::ICMPV6_CODE, flag::ICMPV6_ID)
                } else {
                    (flag::ICMP_TYPE, flag::ICMP_CODE, flag::ICMP_ID)
                };
                (f & bt == 0 || self.icmp_type == ty)
                    && (f & bc == 0 || self.icmp_code == code)
                    && (f & bi == 0 || self.icmp_id == id)
            }
            L4::None => true,
        }
    }

    /// The tuple a lookup asks for: `Some` for a complete IPv4 or IPv6
    /// tuple, `None` for a family without entries (the lookup finds
    /// nothing).
    pub fn lookup_key(&self) -> Option<Tuple> {
        if self.family != AF_INET && self.family != AF_INET6 {
            return None;
        }
        let l4 = if has_ports(self.proto) {
            L4::Ports { sport: self.sport, dport: self.dport }
        } else if self.proto == proto::ICMP || self.proto == proto::ICMPV6 {
            L4::Icmp { ty: self.icmp_type, code: self.icmp_code, id: self.icmp_id }
        } else {
            L4::None
        };
        Some(Tuple { src: self.src, dst: self.dst, proto: self.proto, l4 })
    }
}

/// A dump or flush filter (`struct ctnetlink_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Filter {
    /// Only entries of this family (0: any).
    pub family: u8,
    /// Fields of the original tuple to match.
    pub orig: TupleFilter,
    /// Fields of the reply tuple to match.
    pub reply: TupleFilter,
    /// `(value, mask)` of the mark.
    pub mark: (u32, u32),
    /// `(value, mask)` of the status bits.
    pub status: (u32, u32),
}

impl Filter {
    /// `ctnetlink_filter_match` for an IPv4 entry without NAT.
    pub fn matches(&self, e: &Entry) -> bool {
        self.matches_nat(e, None, None)
    }

    /// `ctnetlink_filter_match` for an entry whose reply tuple NAT made
    /// that of key `nat_reply`, if any; `addrs6`: an IPv6 entry's address
    /// words.
    pub fn matches_nat(&self, e: &Entry, nat_reply: Option<[u64; 2]>, addrs6: Option<[u64; 4]>) -> bool {
        let family = if e.is_v6() { AF_INET6 } else { AF_INET };
        if self.family != AF_UNSPEC && self.family != family {
            return false;
        }
        if self.orig.flags != 0 && !self.orig.matches(&e.tuple_nat6(Dir::Original, nat_reply, addrs6)) {
            return false;
        }
        if self.reply.flags != 0 && !self.reply.matches(&e.tuple_nat6(Dir::Reply, nat_reply, addrs6)) {
            return false;
        }
        e.mark & self.mark.1 == self.mark.0 && e.status.0 & self.status.1 == self.status.0
    }
}

/// `ctnetlink_parse_tuple_filter` of the nest `nest` for family `l3num`.
fn parse_tuple(nest: &Attr<'_>, l3num: u8, flags: u32) -> Result<TupleFilter, Error> {
    let tb = parse(nest.payload(), &TUPLE_POLICY, Mode::Liberal)?;
    if l3num != AF_INET && l3num != AF_INET6 {
        return Err(Error::NotSupported);
    }
    let mut t = TupleFilter { flags, family: l3num, ..TupleFilter::default() };
    if flags & (flag::IP_SRC | flag::IP_DST) != 0 {
        let ip = tb.get(usize::from(cta::TUPLE_IP)).copied().flatten().ok_or(Error::Invalid)?;
        let ib = parse(ip.payload(), &IP_POLICY, Mode::Liberal)?;
        let (s, d) = if l3num == AF_INET {
            (cta::IP_V4_SRC, cta::IP_V4_DST)
        } else {
            (cta::IP_V6_SRC, cta::IP_V6_DST)
        };
        let get = |ty: u16| {
            let a = ib.get(usize::from(ty)).copied().flatten().ok_or(Error::Invalid)?;
            if l3num == AF_INET {
                return Ok(Addr::V4(a.be32()));
            }
            // The policy asks for at least 16 bytes.
            let b = a.payload().first_chunk::<16>().ok_or(Error::Invalid)?;
            Ok(Addr::v6_from_bytes(b))
        };
        if flags & flag::IP_SRC != 0 {
            t.src = get(s)?;
        }
        if flags & flag::IP_DST != 0 {
            t.dst = get(d)?;
        }
    }
    if flags & flag::PROTO_NUM != 0 {
        let p = tb.get(usize::from(cta::TUPLE_PROTO)).copied().flatten().ok_or(Error::Invalid)?;
        parse_proto(&p, flags, &mut t)?;
    } else if flags & flag::ALL_PROTO != 0 {
        // Protocol fields need a protocol number.
        return Err(Error::Invalid);
    }
    if flags & flag::TUPLE_ZONE != 0 && tb.get(usize::from(cta::TUPLE_ZONE)).copied().flatten().is_some() {
        // Built without zones.
        return Err(Error::NotSupported);
    }
    Ok(t)
}

/// `ctnetlink_parse_tuple_proto` and the protocol's `nlattr_to_tuple`.
fn parse_proto(p: &Attr<'_>, flags: u32, t: &mut TupleFilter) -> Result<(), Error> {
    let tb = parse(p.payload(), &PROTO_POLICY, Mode::Liberal)?;
    t.proto = tb.get(usize::from(cta::PROTO_NUM)).copied().flatten().ok_or(Error::Invalid)?.u8();
    fn need<'b>(
        tb: &[Option<Attr<'b>>; 10],
        flags: u32,
        ty: u16,
        bit: u32,
    ) -> Result<Option<Attr<'b>>, Error> {
        if flags & bit == 0 {
            return Ok(None);
        }
        tb.get(usize::from(ty)).copied().flatten().map(Some).ok_or(Error::Invalid)
    }
    match t.proto {
        // Ports of the protocols tracked with ports (TCP, UDP, UDP-Lite,
        // SCTP, DCCP).
        n if proto::has_ports(n) => {
            let pb = parse(p.payload(), &PORT_POLICY, Mode::Liberal)?;
            if let Some(a) = need(&pb, flags, cta::PROTO_SRC_PORT, flag::SRC_PORT)? {
                t.sport = a.be16();
            }
            if let Some(a) = need(&pb, flags, cta::PROTO_DST_PORT, flag::DST_PORT)? {
                t.dport = a.be16();
            }
        }
        1 => {
            let ib = parse(p.payload(), &ICMP_POLICY, Mode::Liberal)?;
            if let Some(a) = need(&ib, flags, cta::PROTO_ICMP_TYPE, flag::ICMP_TYPE)? {
                t.icmp_type = a.u8();
                // Only query types have a tuple (6.12's invmap).
                if icmp_inverse_type(t.icmp_type).is_none() {
                    return Err(Error::Invalid);
                }
            }
            if let Some(a) = need(&ib, flags, cta::PROTO_ICMP_CODE, flag::ICMP_CODE)? {
                t.icmp_code = a.u8();
            }
            if let Some(a) = need(&ib, flags, cta::PROTO_ICMP_ID, flag::ICMP_ID)? {
                t.icmp_id = a.be16();
            }
        }
        proto::ICMPV6 => {
            let ib = parse(p.payload(), &ICMPV6_POLICY, Mode::Liberal)?;
            if let Some(a) = need(&ib, flags, cta::PROTO_ICMPV6_TYPE, flag::ICMPV6_TYPE)? {
                t.icmp_type = a.u8();
                // Only echo and node information have a tuple (invmap).
                if crate::wire::icmpv6::inverse_type(t.icmp_type).is_none() {
                    return Err(Error::Invalid);
                }
            }
            if let Some(a) = need(&ib, flags, cta::PROTO_ICMPV6_CODE, flag::ICMPV6_CODE)? {
                t.icmp_code = a.u8();
            }
            if let Some(a) = need(&ib, flags, cta::PROTO_ICMPV6_ID, flag::ICMPV6_ID)? {
                t.icmp_id = a.be16();
            }
        }
        _ => {}
    }
    Ok(())
}

impl<'a> CtRequest<'a> {
    /// Parses the attributes of `m` with `ct_nla_policy`.
    pub fn parse(m: &Message<'a>) -> Result<Self, Error> {
        let tb = parse(m.attrs, &CT_POLICY, Mode::Liberal)?;
        Ok(CtRequest { family: m.header.family, version: m.header.version, tb })
    }

    /// The attribute of type `ty`.
    pub fn get(&self, ty: u16) -> Option<Attr<'a>> {
        self.tb.get(usize::from(ty)).copied().flatten()
    }

    /// `CTA_ID`, if given.
    pub fn id(&self) -> Option<u32> {
        self.get(cta::ID).map(|a| a.be32())
    }

    /// `ctnetlink_parse_zone`: zones are not built in, so any `CTA_ZONE`
    /// is `EOPNOTSUPP`.
    pub fn check_zone(&self) -> Result<(), Error> {
        match self.get(cta::ZONE) {
            Some(_) => Err(Error::NotSupported),
            None => Ok(()),
        }
    }

    /// The complete tuple of `CTA_TUPLE_ORIG` or `CTA_TUPLE_REPLY`
    /// (`ty`), as a lookup needs it.
    pub fn tuple(&self, ty: u16) -> Option<Result<TupleFilter, Error>> {
        self.get(ty).map(|a| parse_tuple(&a, self.family, flag::ALL))
    }

    /// Whether a dump or flush filters (`ctnetlink_needs_filter`).
    pub fn needs_filter(&self, family: u8) -> bool {
        family != AF_UNSPEC
            || [cta::MARK, cta::FILTER, cta::STATUS, cta::ZONE].iter().any(|t| self.get(*t).is_some())
    }

    /// `ctnetlink_alloc_filter` for `family`.
    pub fn filter(&self, family: u8) -> Result<Filter, Error> {
        let mut f = Filter { family, ..Filter::default() };
        match (self.get(cta::MARK), self.get(cta::MARK_MASK)) {
            (Some(m), mask) => f.mark = (m.be32(), mask.map_or(u32::MAX, |a| a.be32())),
            (None, Some(_)) => return Err(Error::Invalid),
            (None, None) => {}
        }
        match (self.get(cta::STATUS), self.get(cta::STATUS_MASK)) {
            (Some(s), mask) => {
                let v = s.be32();
                f.status = (v, mask.map_or(v, |a| a.be32()));
                // A zero mask would make the filter constant.
                if f.status.1 == 0 {
                    return Err(Error::Invalid);
                }
            }
            (None, Some(_)) => return Err(Error::Invalid),
            (None, None) => {}
        }
        self.check_zone()?;
        let Some(nest) = self.get(cta::FILTER) else { return Ok(f) };
        let tb = parse(nest.payload(), &FILTER_POLICY, Mode::Strict)?;
        let flags = |ty: u16| tb.get(usize::from(ty)).copied().flatten().map_or(0, |a| a.ne32());
        let (of, rf) = (flags(cta::FILTER_ORIG_FLAGS), flags(cta::FILTER_REPLY_FLAGS));
        if of != 0 {
            let a = self.get(cta::TUPLE_ORIG).ok_or(Error::Invalid)?;
            f.orig = parse_tuple(&a, family, of)?;
        }
        if rf != 0 {
            let a = self.get(cta::TUPLE_REPLY).ok_or(Error::Invalid)?;
            f.reply = parse_tuple(&a, family, rf)?;
        }
        Ok(f)
    }

    /// The filter of a dump (`ctnetlink_start`): `None` for none.
    pub fn dump_filter(&self) -> Result<Option<Filter>, Error> {
        if self.needs_filter(self.family) {
            self.filter(self.family).map(Some)
        } else {
            Ok(None)
        }
    }

    /// What a delete asks for (`ctnetlink_del_conntrack`).
    pub fn delete(&self) -> Result<Delete, Error> {
        self.check_zone()?;
        let filtered = self.get(cta::FILTER).is_some();
        let which = if self.get(cta::TUPLE_ORIG).is_some() && !filtered {
            Some(cta::TUPLE_ORIG)
        } else if self.get(cta::TUPLE_REPLY).is_some() && !filtered {
            Some(cta::TUPLE_REPLY)
        } else {
            None
        };
        match which.and_then(|w| self.tuple(w)) {
            Some(t) => Ok(Delete::One(t?.lookup_key(), self.id())),
            None => {
                // Old tools send version 0 and a family they did not mean.
                let fam = if self.version != 0 || filtered { self.family } else { AF_UNSPEC };
                if self.needs_filter(fam) {
                    Ok(Delete::Flush(Some(self.filter(fam)?)))
                } else {
                    Ok(Delete::Flush(None))
                }
            }
        }
    }

    /// The tuple a single get asks for (`ctnetlink_get_conntrack`);
    /// `Ok(None)` when it names a family without entries.
    pub fn get_one(&self) -> Result<Option<Tuple>, Error> {
        self.check_zone()?;
        let t = self
            .tuple(cta::TUPLE_ORIG)
            .or_else(|| self.tuple(cta::TUPLE_REPLY))
            .ok_or(Error::Invalid)??;
        Ok(t.lookup_key())
    }
}

/// `protoinfo_policy`: the protocol nests.
const PROTOINFO_POLICY: [Policy; 4] = [Policy::Any, Policy::Nested, Policy::Nested, Policy::Nested];

/// `tcp_nla_policy`.
const TCP_POLICY: [Policy; 6] = [
    Policy::Any,
    Policy::U8,
    Policy::U8,
    Policy::U8,
    Policy::MinLen(2),
    Policy::MinLen(2),
];

/// `sctp_nla_policy`: state (at most HEARTBEAT_SENT), both tags.
const SCTP_POLICY: [Policy; 4] = [Policy::Any, Policy::U8, Policy::U32, Policy::U32];

/// `dccp_nla_policy`: state, role, handshake sequence (u64), pad.
const DCCP_POLICY: [Policy; 5] = [Policy::Any, Policy::U8, Policy::U8, Policy::MinLen(8), Policy::Any];

/// The SCTP or DCCP state a request sets (`nlattr_to_sctp`,
/// `nlattr_to_dccp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherInfo {
    /// SCTP state and the tags of both directions.
    Sctp(crate::proto::sctp::SctpState, [u32; 2]),
    /// DCCP state, the original direction's role, and the handshake
    /// sequence if given.
    Dccp(crate::proto::dccp::DccpState, u8, Option<u64>),
}

impl OtherInfo {
    /// Sets the state of `p` when it is of the same protocol.
    fn apply(self, p: &mut crate::proto::ProtoState) {
        use crate::proto::ProtoState;
        match (self, p) {
            (OtherInfo::Sctp(st, tags), ProtoState::Sctp(s)) => s.set(st, tags),
            (OtherInfo::Dccp(st, role, seq), ProtoState::Dccp(d)) => d.set(st, role, seq),
            _ => {}
        }
    }
}

/// Status bits user space may not change (`IPS_EXPECTED`,
/// `IPS_CONFIRMED`, `IPS_DYING`): `EBUSY`.
const UNCHANGEABLE: u32 = (1 << 0) | CONFIRMED | (1 << 9);

/// `IPS_CONFIRMED`.
const CONFIRMED: u32 = 1 << 3;

/// What a create request (`IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE`) asks
/// for, checked as `ctnetlink_create_conntrack` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Create {
    /// The original tuple (the reply tuple is its inverse: no NAT here).
    pub orig: Tuple,
    /// Seconds until it expires.
    pub timeout: u32,
    /// Status bits to set (SEEN_REPLY and ASSURED; the others have no
    /// meaning without NAT or helpers).
    pub status: u32,
    /// TCP: the state, each side's flags and window scale.
    pub tcp: Option<(crate::proto::tcp::TcpState, [u8; 2], [u8; 2])>,
    /// SCTP or DCCP state, when the request gives its nest.
    pub other: Option<OtherInfo>,
    /// `CTA_MARK` (with `CTA_MARK_MASK`), applied to a zero mark.
    pub mark: Option<MarkChange>,
    /// `CTA_NAT_DST` and `CTA_NAT_SRC` (`ctnetlink_setup_nat`): when
    /// either is given, the destination then the source end is bound, to
    /// its range, or with a null binding where it is absent (`None`).
    pub nat: Option<NatSetup>,
}

/// The NAT a created entry gets: its destination and source ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatSetup {
    /// `CTA_NAT_DST`.
    pub dst: Option<crate::nat::range::Range>,
    /// `CTA_NAT_SRC`.
    pub src: Option<crate::nat::range::Range>,
}

/// `nat_nla_policy`: `CTA_NAT_V4_MINIP`, `_V4_MAXIP`, `_PROTO`, and the
/// IPv6 addresses.
const NAT_POLICY: [Policy; 6] =
    [Policy::Any, Policy::U32, Policy::U32, Policy::Nested, Policy::MinLen(16), Policy::MinLen(16)];

/// `protonat_nla_policy`: `CTA_PROTONAT_PORT_MIN`, `_PORT_MAX`.
const PROTONAT_POLICY: [Policy; 3] = [Policy::Any, Policy::U16, Policy::U16];

/// `nfnetlink_parse_nat` for IPv4: the range a `CTA_NAT_*` nest gives.
fn nat_range(payload: &[u8]) -> Result<crate::nat::range::Range, Error> {
    use crate::nat::range::{flags, Range};
    let tb = parse(payload, &NAT_POLICY, Mode::Liberal)?;
    let get = |ty: usize| tb.get(ty).copied().flatten();
    let mut r = Range::default();
    if let Some(a) = get(1) {
        r.min_addr = a.be32();
        r.flags |= flags::MAP_IPS;
    }
    r.max_addr = get(2).map_or(r.min_addr, |a| a.be32());
    if let Some(p) = get(3) {
        let pt = parse(p.payload(), &PROTONAT_POLICY, Mode::Liberal)?;
        let pget = |ty: usize| pt.get(ty).copied().flatten();
        if let Some(a) = pget(1) {
            r.min_proto = a.be16();
            r.max_proto = r.min_proto;
            r.flags |= flags::PROTO_SPECIFIED;
        }
        if let Some(a) = pget(2) {
            r.max_proto = a.be16();
            r.flags |= flags::PROTO_SPECIFIED;
        }
    }
    Ok(r)
}

/// A mark change (`ctnetlink_change_mark`): `CTA_MARK` and the bits of
/// the old mark `CTA_MARK_MASK` does not name (all when there is no
/// mask). The new mark is `(old & keep) ^ value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkChange {
    /// `CTA_MARK`.
    pub value: u32,
    /// `~CTA_MARK_MASK`, or 0 without one.
    pub keep: u32,
}

impl MarkChange {
    /// The mark after the change of `old`.
    pub fn apply(self, old: u32) -> u32 {
        (old & self.keep) ^ self.value
    }
}

/// What an update (`IPCTNL_MSG_CT_NEW` on an entry that exists, without
/// `NLM_F_EXCL`) changes, as `ctnetlink_change_conntrack` reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// New timeout in seconds.
    pub timeout: Option<u32>,
    /// Status bits (checked against the entry's when applied).
    pub status: Option<u32>,
    /// TCP: what `CTA_PROTOINFO_TCP` asks.
    pub tcp: Option<TcpChange>,
    /// SCTP or DCCP: what their nest asks.
    pub other: Option<OtherInfo>,
    /// `CTA_MARK` (with `CTA_MARK_MASK`).
    pub mark: Option<MarkChange>,
}

/// A TCP update: a new state number, each side's `(flags, mask)`, both
/// window scales.
pub type TcpChange = (Option<u8>, [(u8, u8); 2], Option<[u8; 2]>);

impl Change {
    /// Applies the change to `e` at `now`, in 6.12's order (timeout,
    /// status, protocol state); an error leaves what came before it
    /// applied, as 6.12 does.
    pub fn apply(&self, e: &mut Entry, now: crate::Millis) -> Result<(), Error> {
        use super::ctnetlink::tcp_state_of;
        use crate::entry::Status;
        use crate::proto::ProtoState;
        if let Some(t) = self.timeout {
            e.deadline = now.saturating_add(u64::from(t).saturating_mul(1000));
        }
        if let Some(s) = self.status {
            let d = e.status.0 ^ s;
            if d & UNCHANGEABLE != 0 {
                return Err(Error::Busy);
            }
            // SEEN_REPLY and ASSURED can only be set.
            for bit in [Status::SEEN_REPLY, Status::ASSURED] {
                if d & bit != 0 && s & bit == 0 {
                    return Err(Error::Busy);
                }
            }
            let set = s & (Status::SEEN_REPLY | Status::ASSURED);
            e.status.set(set);
            if let (true, ProtoState::Tcp(tcp)) = (set & Status::SEEN_REPLY != 0, &mut e.proto) {
                tcp.set_replied();
            }
        }
        if let (Some((state, flags, wscale)), ProtoState::Tcp(tcp)) = (self.tcp, &mut e.proto) {
            let state = match state {
                Some(n) => Some(tcp_state_of(n).ok_or(Error::Invalid)?),
                None => None,
            };
            tcp.change(state, flags, wscale);
        }
        if let Some(o) = self.other {
            o.apply(&mut e.proto);
        }
        if let Some(m) = self.mark {
            e.mark = m.apply(e.mark);
        }
        Ok(())
    }
}

impl Create {
    /// The entry to insert at `now`, unconfirmed: its deadline holds the
    /// timeout until it joins the table (the engine's rule).
    pub fn entry(&self, now: crate::Millis, cfg: &impl crate::config::Settings) -> Entry {
        use crate::entry::Status;
        use crate::proto::dccp::{Dccp, DccpState};
        use crate::proto::sctp::{Sctp, SctpState};
        use crate::proto::{tcp::Tcp, udp::Udp, ProtoState};
        let proto = match (self.orig.proto, self.tcp) {
            (proto::TCP, Some((state, flags, wscale))) => {
                ProtoState::Tcp(Tcp::made(state, flags, wscale, self.status & Status::SEEN_REPLY != 0))
            }
            (proto::UDP, _) => ProtoState::Udp(Udp::new(now, cfg).0),
            (proto::UDPLITE, _) => ProtoState::UdpLite,
            // Without their nest, 6.12 leaves the state zeroed (NONE).
            (proto::SCTP, _) => ProtoState::Sctp(Sctp::made(SctpState::None, [0, 0])),
            (proto::DCCP, _) => ProtoState::Dccp(Dccp::made(DccpState::None, 0, 0)),
            (proto::ICMP | proto::ICMPV6, _) => ProtoState::Icmp,
            _ => ProtoState::Generic,
        };
        let mut e = Entry::new(self.orig, Status(self.status), u64::from(self.timeout).saturating_mul(1000), proto);
        if let Some(o) = self.other {
            o.apply(&mut e.proto);
        }
        if let Some(m) = self.mark {
            e.mark = m.apply(0);
        }
        e
    }
}

impl CtRequest<'_> {
    /// The tuple a create or update names, for the lookup that decides
    /// between them: `Ok(None)` when it names none (or a family without
    /// entries).
    pub fn new_lookup(&self) -> Result<Option<Tuple>, Error> {
        self.check_zone()?;
        let o = self.tuple(cta::TUPLE_ORIG).transpose()?;
        let r = self.tuple(cta::TUPLE_REPLY).transpose()?;
        Ok(o.or(r).and_then(|t| t.lookup_key()))
    }

    /// A create request's entry (`ctnetlink_create_conntrack`).
    pub fn create(&self) -> Result<Create, Error> {
        self.check_zone()?;
        let (Some(o), Some(r)) = (self.tuple(cta::TUPLE_ORIG), self.tuple(cta::TUPLE_REPLY)) else {
            return Err(Error::Invalid);
        };
        let (o, r) = (o?, r?);
        if o.proto != r.proto {
            return Err(Error::Invalid);
        }
        if self.get(cta::TIMEOUT).is_none() {
            return Err(Error::Invalid);
        }
        // No helpers, expectations or labels here.
        let unsupported = [cta::HELP, cta::TUPLE_MASTER, cta::LABELS];
        if unsupported.iter().any(|t| self.get(*t).is_some()) {
            return Err(Error::NotSupported);
        }
        let (Some(orig), Some(reply)) = (o.lookup_key(), r.lookup_key()) else {
            return Err(Error::NotSupported);
        };
        // A reply tuple other than the inverse would be NAT.
        if orig.invert() != Some(reply) {
            return Err(Error::NotSupported);
        }
        let timeout = self.get(cta::TIMEOUT).map_or(0, |a| a.be32());
        // 6.12 marks the new entry CONFIRMED before applying CTA_STATUS,
        // which may not change EXPECTED, CONFIRMED or DYING from there.
        let status = match self.get(cta::STATUS) {
            Some(a) => {
                let s = a.be32();
                if (s ^ CONFIRMED) & UNCHANGEABLE != 0 {
                    return Err(Error::Busy);
                }
                s
            }
            None => 0,
        };
        let status = status & (crate::entry::Status::SEEN_REPLY | crate::entry::Status::ASSURED);
        let tcp = if orig.proto == proto::TCP {
            Some(self.tcp_info()?)
        } else {
            None
        };
        // No IPv6 NAT here: what 6.12 built without NAT answers.
        if orig.is_v6() && (self.get(cta::NAT_DST).is_some() || self.get(cta::NAT_SRC).is_some()) {
            return Err(Error::NotSupported);
        }
        let range = |ty: u16| self.get(ty).map(|a| nat_range(a.payload())).transpose();
        let (dst, src) = (range(cta::NAT_DST)?, range(cta::NAT_SRC)?);
        let nat = (dst.is_some() || src.is_some()).then_some(NatSetup { dst, src });
        let other = self.other_info(orig.proto)?;
        Ok(Create { orig, timeout, status, tcp, other, mark: self.mark_change(), nat })
    }

    /// An update's changes (`ctnetlink_change_conntrack`).
    pub fn change(&self) -> Result<Change, Error> {
        // Only a new entry may get NAT or a master; no helpers or labels
        // here.
        let unsupported = [cta::NAT_SRC, cta::NAT_DST, cta::TUPLE_MASTER, cta::HELP, cta::LABELS];
        if unsupported.iter().any(|t| self.get(*t).is_some()) {
            return Err(Error::NotSupported);
        }
        let tcp = match self.get(cta::PROTOINFO) {
            None => None,
            Some(pi) => {
                let tb = parse(pi.payload(), &PROTOINFO_POLICY, Mode::Liberal)?;
                match tb.get(usize::from(cta::PROTOINFO_TCP)).copied().flatten() {
                    None => None,
                    Some(t) => {
                        let tt = parse(t.payload(), &TCP_POLICY, Mode::Liberal)?;
                        let get = |ty: u16| tt.get(usize::from(ty)).copied().flatten();
                        let state = get(cta::TCP_STATE).map(|a| a.u8());
                        if state.is_some_and(|n| n >= 10) {
                            return Err(Error::Invalid);
                        }
                        let fm = |ty: u16| {
                            get(ty).map_or((0, 0), |a| match a.payload() {
                                [f, m, ..] => (*f, *m),
                                _ => (0, 0),
                            })
                        };
                        let ws = match (get(cta::TCP_WSCALE_ORIGINAL), get(cta::TCP_WSCALE_REPLY)) {
                            (Some(o), Some(r)) => Some([o.u8(), r.u8()]),
                            _ => None,
                        };
                        Some((state, [fm(cta::TCP_FLAGS_ORIGINAL), fm(cta::TCP_FLAGS_REPLY)], ws))
                    }
                }
            }
        };
        // The entry's protocol decides which nest counts; either may be
        // given, and each is checked as 6.12 checks it for its protocol.
        let other = match self.other_info(proto::SCTP)? {
            Some(o) => Some(o),
            None => self.other_info(proto::DCCP)?,
        };
        Ok(Change {
            timeout: self.get(cta::TIMEOUT).map(|a| a.be32()),
            status: self.get(cta::STATUS).map(|a| a.be32()),
            tcp,
            other,
            mark: self.mark_change(),
        })
    }

    /// `ctnetlink_change_mark`'s reading of `CTA_MARK` and
    /// `CTA_MARK_MASK` (a mask without a mark changes nothing).
    fn mark_change(&self) -> Option<MarkChange> {
        let value = self.get(cta::MARK)?.be32();
        let keep = self.get(cta::MARK_MASK).map_or(0, |a| !a.be32());
        Some(MarkChange { value, keep })
    }

    /// The SCTP or DCCP nest of `CTA_PROTOINFO` for protocol `p`, checked
    /// as `nlattr_to_sctp` / `nlattr_to_dccp` do: `None` without it.
    fn other_info(&self, p: u8) -> Result<Option<OtherInfo>, Error> {
        use crate::proto::dccp::DccpState;
        use crate::proto::sctp::SctpState;
        let Some(pi) = self.get(cta::PROTOINFO) else { return Ok(None) };
        let tb = parse(pi.payload(), &PROTOINFO_POLICY, Mode::Liberal)?;
        let nest = match p {
            proto::SCTP => cta::PROTOINFO_SCTP,
            proto::DCCP => cta::PROTOINFO_DCCP,
            _ => return Ok(None),
        };
        let Some(n) = tb.get(usize::from(nest)).copied().flatten() else { return Ok(None) };
        if p == proto::SCTP {
            let t = parse(n.payload(), &SCTP_POLICY, Mode::Liberal)?;
            let get = |ty: u16| t.get(usize::from(ty)).copied().flatten().ok_or(Error::Invalid);
            let state = SctpState::from_number(get(cta::SCTP_STATE)?.u8()).ok_or(Error::Invalid)?;
            let tags = [get(cta::SCTP_VTAG_ORIGINAL)?.be32(), get(cta::SCTP_VTAG_REPLY)?.be32()];
            return Ok(Some(OtherInfo::Sctp(state, tags)));
        }
        let t = parse(n.payload(), &DCCP_POLICY, Mode::Liberal)?;
        let get = |ty: u16| t.get(usize::from(ty)).copied().flatten();
        let (Some(state), Some(role)) = (get(cta::DCCP_STATE), get(cta::DCCP_ROLE)) else {
            return Err(Error::Invalid);
        };
        let state = DccpState::from_number(state.u8()).ok_or(Error::Invalid)?;
        if role.u8() > 1 {
            return Err(Error::Invalid);
        }
        let seq = get(cta::DCCP_HANDSHAKE_SEQ).map(|a| match a.payload().first_chunk::<8>() {
            Some(b) => u64::from_be_bytes(*b),
            None => 0,
        });
        Ok(Some(OtherInfo::Dccp(state, role.u8(), seq)))
    }

    /// `nlattr_to_tcp` on a new entry (state NONE, no flags before).
    fn tcp_info(&self) -> Result<(crate::proto::tcp::TcpState, [u8; 2], [u8; 2]), Error> {
        use super::ctnetlink::tcp_state_of;
        use crate::proto::tcp::TcpState;
        let none = (TcpState::None, [0, 0], [0, 0]);
        let Some(pi) = self.get(cta::PROTOINFO) else { return Ok(none) };
        let tb = parse(pi.payload(), &PROTOINFO_POLICY, Mode::Liberal)?;
        let Some(t) = tb.get(usize::from(cta::PROTOINFO_TCP)).copied().flatten() else {
            return Ok(none);
        };
        let tt = parse(t.payload(), &TCP_POLICY, Mode::Liberal)?;
        let get = |ty: u16| tt.get(usize::from(ty)).copied().flatten();
        let state = match get(cta::TCP_STATE) {
            Some(a) => tcp_state_of(a.u8()).ok_or(Error::Invalid)?,
            None => TcpState::None,
        };
        // struct nf_ct_tcp_flags { flags, mask }: only masked bits change.
        let flags = |ty: u16| {
            get(ty).map_or(0, |a| match a.payload() {
                [f, m, ..] => f & m,
                _ => 0,
            })
        };
        let wscale = [
            get(cta::TCP_WSCALE_ORIGINAL).map_or(0, |a| a.u8()),
            get(cta::TCP_WSCALE_REPLY).map_or(0, |a| a.u8()),
        ];
        let both = get(cta::TCP_WSCALE_ORIGINAL).is_some() && get(cta::TCP_WSCALE_REPLY).is_some();
        Ok((
            state,
            [flags(cta::TCP_FLAGS_ORIGINAL), flags(cta::TCP_FLAGS_REPLY)],
            if both { wscale } else { [0, 0] },
        ))
    }
}

/// What a delete request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delete {
    /// Delete the entry with this tuple (`None`: of a family without
    /// entries), if its id is the one given.
    One(Option<Tuple>, Option<u32>),
    /// Delete every entry the filter matches (all without one).
    Flush(Option<Filter>),
}
