//! The `/proc/net/ip_conntrack` line of an entry, in the 2.6 layout,
//! written into a caller-provided buffer without allocating:
//!
//! ```text
//! tcp      6 117 SYN_SENT src=192.0.2.1 dst=198.51.100.2 sport=32775 dport=22 [UNREPLIED] src=198.51.100.2 dst=192.0.2.1 sport=22 dport=32775 use=2
//! ```
//!
//! That is `%-8s %u %ld ` (protocol name, number, seconds left), the TCP
//! state name and a space (TCP only), the original tuple, `[UNREPLIED] `
//! until a reply was seen, the reply tuple, `[ASSURED] ` once assured,
//! `mark=N ` and `use=N` with a newline. A tuple is `src=A dst=B `
//! followed by `sport=P dport=Q ` (TCP, UDP), `type=T code=C id=I ` (ICMP)
//! or nothing; an entry with counters (created while `ip_conntrack_acct`
//! was 1) has `packets=N bytes=N ` after each tuple, that direction's
//! (2.6's `print_counters`). Protocols other than TCP, UDP and ICMP are
//! named `unknown`, as 2.6's generic tracker was.
//!
//! [`parse_line`] (host builds only) reads such a line back; the property
//! tests use it to check that formatting round-trips.
//!
//! [`format_nf_entry`] writes the line of `/proc/net/nf_conntrack` in
//! Linux 6.12's layout (`ct_seq_show`, `print_tuple` in
//! `nf_conntrack_standalone.c`, as the reference configuration builds it:
//! marks on, no zones, secmark, labels or timestamps): the address family
//! and protocol first, each name padded to eight, then the same fields
//! as above, IPv6 addresses as `%pI6` prints them ([`Ipv6`]):
//!
//! ```text
//! ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.1 dst=198.51.100.2 sport=32775 dport=22 src=198.51.100.2 dst=192.0.2.1 sport=22 dport=32775 [ASSURED] mark=0 use=2
//! ```

use core::fmt::{self, Write};

use crate::entry::{Counters, Entry, Status};
use crate::proto::ProtoState;
use crate::tuple::{proto, Addr as TupleAddr, Dir, Tuple, L4};
use crate::Millis;

/// The buffer was too small for the whole text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooSmall;

/// The longest line [`format_entry`] or [`format_nf_entry`] writes is
/// shorter than this (an ICMP entry with every number at its widest,
/// counters included, is about 330 bytes; IPv6 addresses and the
/// family add about 110).
pub const MAX_LINE_LEN: usize = 512;

/// A [`fmt::Write`] over a byte buffer that records overflow instead of
/// panicking. Text that does not fit makes the whole write fail; nothing
/// is ever written past the end of the buffer.
#[derive(Debug)]
pub struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overflow: bool,
}

impl<'a> Cursor<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0, overflow: false }
    }

    /// Bytes written so far.
    pub fn written(&self) -> usize {
        self.pos
    }

    /// The number of bytes written, or [`TooSmall`] if anything did not fit.
    pub fn finish(self) -> Result<usize, TooSmall> {
        if self.overflow {
            Err(TooSmall)
        } else {
            Ok(self.pos)
        }
    }
}

impl Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let dst = self.pos.checked_add(s.len()).and_then(|end| self.buf.get_mut(self.pos..end));
        match dst {
            Some(dst) if !self.overflow => {
                dst.copy_from_slice(s.as_bytes());
                self.pos = self.pos.saturating_add(s.len());
                Ok(())
            }
            _ => {
                self.overflow = true;
                Err(fmt::Error)
            }
        }
    }
}

/// Formats `f` into `buf`: the number of bytes written, or [`TooSmall`].
pub(crate) fn write_into(
    buf: &mut [u8],
    f: impl FnOnce(&mut Cursor<'_>) -> fmt::Result,
) -> Result<usize, TooSmall> {
    let mut w = Cursor::new(buf);
    // An error can only come from the cursor, which remembers it.
    let _ = f(&mut w);
    w.finish()
}

/// The name 2.6 showed for a protocol number.
pub fn proto_name(protonum: u8) -> &'static str {
    match protonum {
        proto::TCP => "tcp",
        proto::UDP => "udp",
        proto::ICMP => "icmp",
        proto::SCTP => "sctp",
        proto::DCCP => "dccp",
        proto::UDPLITE => "udplite",
        _ => "unknown",
    }
}

/// The state name a line shows after the timeout (TCP, SCTP, DCCP).
pub fn state_name(p: &ProtoState) -> Option<&'static str> {
    match p {
        ProtoState::Tcp(t) => Some(t.state().name()),
        ProtoState::Sctp(s) => Some(s.state().name()),
        ProtoState::Dccp(d) => Some(d.state().name()),
        _ => None,
    }
}

/// Whether lines of protocol `p` show a state.
#[cfg(any(test, feature = "std"))]
fn has_state(p: u8) -> bool {
    matches!(p, proto::TCP | proto::SCTP | proto::DCCP)
}

/// An IPv4 address in dotted-quad form.
struct Addr(u32);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0.to_be_bytes();
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

/// An IPv6 address as 6.12's `%pI6` prints it: eight groups of four
/// lowercase hex digits, none left out (`2001:0db8:0000:...:0001`, not
/// the compressed `%pI6c`). The words are the address in network order,
/// the first word its first four bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6(pub [u32; 4]);

impl Ipv6 {
    /// The address of 16 bytes in network order.
    pub fn from_bytes(b: &[u8; 16]) -> Ipv6 {
        let mut w = [0u32; 4];
        for (word, chunk) in w.iter_mut().zip(b.chunks_exact(4)) {
            let mut q = [0u8; 4];
            q.copy_from_slice(chunk);
            *word = u32::from_be_bytes(q);
        }
        Ipv6(w)
    }
}

impl fmt::Display for Ipv6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { ":" };
            write!(f, "{sep}{:04x}:{:04x}", w >> 16, w & 0xffff)?;
        }
        Ok(())
    }
}

/// The address family of a `/proc/net/nf_conntrack` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `ipv4     2`.
    Ipv4,
    /// `ipv6     10`.
    Ipv6,
}

impl Family {
    /// 6.12's `l3proto_name`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }

    /// The `AF_*` number.
    pub fn number(self) -> u8 {
        match self {
            Family::Ipv4 => 2,
            Family::Ipv6 => 10,
        }
    }
}

/// The name 6.12's `l4proto_name` gives a protocol tracked here: 2.6's
/// names, and ICMPv6's (GRE is not built in the reference kernel, so it
/// is `unknown` there too).
pub fn nf_proto_name(protonum: u8) -> &'static str {
    /// ICMPv6's protocol number.
    const ICMPV6: u8 = 58;
    match protonum {
        ICMPV6 => "icmpv6",
        p => proto_name(p),
    }
}

/// One tuple with its trailing space.
fn write_tuple(w: &mut Cursor<'_>, t: &Tuple) -> fmt::Result {
    match (t.src, t.dst) {
        (TupleAddr::V6(s), TupleAddr::V6(d)) => write!(w, "src={} dst={} ", Ipv6(s), Ipv6(d))?,
        (s, d) => write!(w, "src={} dst={} ", Addr(s.v4_or_zero()), Addr(d.v4_or_zero()))?,
    }
    match t.l4 {
        L4::Ports { sport, dport } => write!(w, "sport={sport} dport={dport} "),
        L4::Icmp { ty, code, id } => write!(w, "type={ty} code={code} id={id} "),
        L4::None => Ok(()),
    }
}

/// One direction's counters with their trailing space.
fn write_counters(w: &mut Cursor<'_>, c: Option<&Counters>) -> fmt::Result {
    match c {
        Some(c) => write!(w, "packets={} bytes={} ", c.packets, c.bytes),
        None => Ok(()),
    }
}

/// Writes the `/proc/net/ip_conntrack` line of `e` at time `now` with
/// reference count `use_count` and the counters of each direction, if the
/// entry has them, into `buf`, newline included; `nat_reply` is the key
/// of the reply tuple NAT gave the entry, if any (2.6 showed it). Returns the line's
/// length, or [`TooSmall`] when it does not fit ([`MAX_LINE_LEN`] bytes
/// always suffice).
pub fn format_entry(
    buf: &mut [u8],
    e: &Entry,
    now: Millis,
    use_count: u32,
    counters: Option<&[Counters; 2]>,
    nat_reply: Option<[u64; 2]>,
) -> Result<usize, TooSmall> {
    write_into(buf, |w| {
        let protonum = e.orig().proto;
        write!(w, "{:<8} {} ", proto_name(protonum), protonum)?;
        write_rest(w, e, now, use_count, counters, nat_reply, None)
    })
}

/// Writes the `/proc/net/nf_conntrack` line of `e` (family `family`) in
/// 6.12's layout, with the same arguments as [`format_entry`]: the
/// family's name and number, the protocol's (`nf_proto_name`), then the
/// fields of the classic line. `use_count` is printed as given;
/// `addrs6` are an IPv6 entry's address words (`Store::addrs6`).
#[allow(clippy::too_many_arguments)]
pub fn format_nf_entry(
    buf: &mut [u8],
    family: Family,
    e: &Entry,
    now: Millis,
    use_count: u32,
    counters: Option<&[Counters; 2]>,
    nat_reply: Option<[u64; 2]>,
    addrs6: Option<[u64; 4]>,
) -> Result<usize, TooSmall> {
    write_into(buf, |w| {
        let protonum = e.orig().proto;
        let (fname, fnum) = (family.name(), family.number());
        write!(w, "{fname:<8} {fnum} {:<8} {protonum} ", nf_proto_name(protonum))?;
        write_rest(w, e, now, use_count, counters, nat_reply, addrs6)
    })
}

/// What both layouts write after the protocol: seconds left, the state,
/// the tuples with their counters and flags, the mark and `use=`.
fn write_rest(
    w: &mut Cursor<'_>,
    e: &Entry,
    now: Millis,
    use_count: u32,
    counters: Option<&[Counters; 2]>,
    nat_reply: Option<[u64; 2]>,
    addrs6: Option<[u64; 4]>,
) -> fmt::Result {
    let [orig, reply] = match counters {
        Some([o, r]) => [Some(o), Some(r)],
        None => [None, None],
    };
    write!(w, "{} ", e.seconds_left(now))?;
    if let Some(state) = state_name(&e.proto) {
        write!(w, "{state} ")?;
    }
    write_tuple(w, &e.tuple_nat6(Dir::Original, nat_reply, addrs6))?;
    write_counters(w, orig)?;
    if !e.status.has(Status::SEEN_REPLY) {
        w.write_str("[UNREPLIED] ")?;
    }
    write_tuple(w, &e.tuple_nat6(Dir::Reply, nat_reply, addrs6))?;
    write_counters(w, reply)?;
    if e.status.has(Status::ASSURED) {
        w.write_str("[ASSURED] ")?;
    }
    writeln!(w, "mark={} use={use_count}", e.mark)
}

/// A `/proc/net/ip_conntrack` line read back by [`parse_line`].
#[cfg(any(test, feature = "std"))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedLine<'a> {
    /// Protocol name (`tcp`, `udp`, `icmp`, `unknown`).
    pub name: &'a str,
    /// Protocol number.
    pub proto: u8,
    /// Seconds left.
    pub seconds: u64,
    /// State name (TCP, SCTP and DCCP lines only).
    pub state: Option<&'a str>,
    /// Original-direction tuple.
    pub orig: Tuple,
    /// `[UNREPLIED]` was present.
    pub unreplied: bool,
    /// Reply-direction tuple.
    pub reply: Tuple,
    /// `[ASSURED]` was present.
    pub assured: bool,
    /// The `mark=` value.
    pub mark: u32,
    /// Each direction's `packets=` and `bytes=`, when present.
    pub counters: Option<[Counters; 2]>,
    /// The `use=` count.
    pub use_count: u32,
}

/// Reads a line in exactly the layout [`format_entry`] writes (single
/// spaces, trailing newline, protocol name matching the number); `None`
/// for anything else. For tests and host tools; not in the kernel build.
#[cfg(any(test, feature = "std"))]
pub fn parse_line(line: &str) -> Option<ParsedLine<'_>> {
    let body = line.strip_suffix('\n')?;
    let (padded, rest) = (body.get(..8)?, body.get(8..)?);
    let name = padded.trim_end_matches(' ');
    let mut tok = rest.strip_prefix(' ')?.split(' ');
    let protonum: u8 = number(tok.next()?)?;
    if proto_name(protonum) != name {
        return None;
    }
    let seconds = number(tok.next()?)?;
    let state =
        if has_state(protonum) { Some(tok.next().filter(|s| !s.is_empty())?) } else { None };
    let orig = parse_tuple(&mut tok, protonum)?;
    let mut next = tok.next()?;
    let orig_counters = match parse_counters(next, &mut tok) {
        Some(c) => {
            next = tok.next()?;
            Some(c?)
        }
        None => None,
    };
    let unreplied = next == "[UNREPLIED]";
    let reply = if unreplied {
        parse_tuple(&mut tok, protonum)?
    } else {
        let mut with_first = core::iter::once(next).chain(&mut tok);
        parse_tuple(&mut with_first, protonum)?
    };
    next = tok.next()?;
    let reply_counters = match parse_counters(next, &mut tok) {
        Some(c) => {
            next = tok.next()?;
            Some(c?)
        }
        None => None,
    };
    let counters = match (orig_counters, reply_counters) {
        (Some(o), Some(r)) => Some([o, r]),
        (None, None) => None,
        _ => return None,
    };
    let assured = next == "[ASSURED]";
    if assured {
        next = tok.next()?;
    }
    let mark = number(next.strip_prefix("mark=")?)?;
    let use_count = number(tok.next()?.strip_prefix("use=")?)?;
    if tok.next().is_some() {
        return None;
    }
    Some(ParsedLine {
        name,
        proto: protonum,
        seconds,
        state,
        orig,
        unreplied,
        reply,
        assured,
        mark,
        counters,
        use_count,
    })
}

/// `packets=N bytes=N` starting at token `first`: `None` when `first` is
/// not `packets=`, `Some(None)` when the pair is malformed.
#[cfg(any(test, feature = "std"))]
fn parse_counters<'a>(first: &str, tok: &mut impl Iterator<Item = &'a str>) -> Option<Option<Counters>> {
    let p = first.strip_prefix("packets=")?;
    let c = (|| Some(Counters { packets: number(p)?, bytes: field(tok, "bytes")? }))();
    Some(c)
}

/// A decimal number as the formatter writes it (digits only).
#[cfg(any(test, feature = "std"))]
fn number<T: core::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `key=value` with a numeric value.
#[cfg(any(test, feature = "std"))]
fn field<'a, T: core::str::FromStr>(
    tok: &mut impl Iterator<Item = &'a str>,
    key: &str,
) -> Option<T> {
    number(tok.next()?.strip_prefix(key)?.strip_prefix('=')?)
}

/// A dotted-quad address.
#[cfg(any(test, feature = "std"))]
fn addr(s: &str) -> Option<u32> {
    let mut parts = s.split('.');
    let mut octets = [0u8; 4];
    for o in &mut octets {
        *o = number(parts.next()?)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(u32::from_be_bytes(octets))
}

/// One tuple's tokens.
#[cfg(any(test, feature = "std"))]
fn parse_tuple<'a>(tok: &mut impl Iterator<Item = &'a str>, protonum: u8) -> Option<Tuple> {
    let src = addr(tok.next()?.strip_prefix("src=")?)?;
    let dst = addr(tok.next()?.strip_prefix("dst=")?)?;
    let l4 = match protonum {
        p if proto::has_ports(p) => {
            L4::Ports { sport: field(tok, "sport")?, dport: field(tok, "dport")? }
        }
        proto::ICMP => {
            L4::Icmp { ty: field(tok, "type")?, code: field(tok, "code")?, id: field(tok, "id")? }
        }
        _ => L4::None,
    };
    Some(Tuple { src: src.into(), dst: dst.into(), proto: protonum, l4 })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::packet::{Segment, TcpFlags};
    use crate::proto::tcp::Tcp;
    use crate::proto::udp::Udp;
    use crate::proto::dccp::{Dccp, DccpState};
    use crate::proto::sctp::{Sctp, SctpState};
    use std::str;

    const A: u32 = 0xc000_0201; // 192.0.2.1
    const B: u32 = 0xc633_6402; // 198.51.100.2

    fn line_of(e: &Entry, now: Millis, use_count: u32) -> std::string::String {
        line_with(e, now, use_count, None)
    }

    fn line_with(e: &Entry, now: Millis, use_count: u32, c: Option<&[Counters; 2]>) -> std::string::String {
        let mut buf = [0u8; MAX_LINE_LEN];
        let n = format_entry(&mut buf, e, now, use_count, c, None).unwrap();
        str::from_utf8(&buf[..n]).unwrap().into()
    }

    fn seg(flags: u8, seq: u32, ack: u32) -> Segment {
        Segment { seq, ack, window: 64240, flags: TcpFlags(flags), ..Default::default() }
    }

    /// An entry after the SYN of 192.0.2.1:32775 -> 198.51.100.2:22.
    fn syn_sent() -> Entry {
        let cfg = Config::DEFAULT;
        let syn = seg(TcpFlags::SYN, 1, 0);
        let mut tcp = Tcp::new(&syn, &cfg).unwrap();
        let mut status = Status::default();
        tcp.update(Dir::Original, &syn, &mut status, &cfg);
        Entry::new(Tuple {
                src: crate::tuple::Addr::V4(A),
                dst: crate::tuple::Addr::V4(B),
                proto: proto::TCP,
                l4: L4::Ports { sport: 32775, dport: 22 },
            }, status, 117_999, ProtoState::Tcp(tcp))
    }

    #[test]
    fn tcp_established_assured() {
        let cfg = Config::DEFAULT;
        let mut e = syn_sent();
        let ProtoState::Tcp(tcp) = &mut e.proto else { panic!() };
        tcp.update(Dir::Reply, &seg(TcpFlags::SYN | TcpFlags::ACK, 1000, 2), &mut e.status, &cfg);
        tcp.update(Dir::Original, &seg(TcpFlags::ACK, 2, 1001), &mut e.status, &cfg);
        e.deadline = 432_000_000;
        assert_eq!(
            line_of(&e, 0, 1),
            "tcp      6 432000 ESTABLISHED src=192.0.2.1 dst=198.51.100.2 sport=32775 dport=22 \
             src=198.51.100.2 dst=192.0.2.1 sport=22 dport=32775 [ASSURED] mark=0 use=1\n"
        );
    }

    #[test]
    fn the_conntrack_md_example() {
        assert_eq!(
            line_of(&syn_sent(), 500, 2),
            "tcp      6 117 SYN_SENT src=192.0.2.1 dst=198.51.100.2 sport=32775 dport=22 \
             [UNREPLIED] src=198.51.100.2 dst=192.0.2.1 sport=22 dport=32775 mark=0 use=2\n"
        );
    }

    #[test]
    fn udp_assured() {
        let (udp, _) = Udp::new(0, &Config::DEFAULT);
        let e = Entry::new(Tuple {
                src: crate::tuple::Addr::V4(A),
                dst: crate::tuple::Addr::V4(B),
                proto: proto::UDP,
                l4: L4::Ports { sport: 53000, dport: 53 },
            }, Status(Status::SEEN_REPLY | Status::ASSURED | Status::CONFIRMED), 180_000, ProtoState::Udp(udp));
        assert_eq!(
            line_of(&e, 0, 1),
            "udp      17 180 src=192.0.2.1 dst=198.51.100.2 sport=53000 dport=53 \
             src=198.51.100.2 dst=192.0.2.1 sport=53 dport=53000 [ASSURED] mark=0 use=1\n"
        );
    }

    #[test]
    fn icmp_echo() {
        let e = Entry::new(Tuple {
                src: crate::tuple::Addr::V4(A),
                dst: crate::tuple::Addr::V4(B),
                proto: proto::ICMP,
                l4: L4::Icmp { ty: 8, code: 0, id: 4660 },
            }, Status(Status::SEEN_REPLY | Status::CONFIRMED), 30_000, ProtoState::Icmp);
        assert_eq!(
            line_of(&e, 1, 1),
            "icmp     1 29 src=192.0.2.1 dst=198.51.100.2 type=8 code=0 id=4660 \
             src=198.51.100.2 dst=192.0.2.1 type=0 code=0 id=4660 mark=0 use=1\n"
        );
    }

    /// 2.6's order: each direction's counters after its tuple,
    /// `[UNREPLIED]` between, the mark after `[ASSURED]`.
    #[test]
    fn counters_and_mark_where_2_6_put_them() {
        let mut e = syn_sent();
        e.mark = 4_294_967_295;
        let c = [Counters { packets: 3, bytes: 180 }, Counters { packets: 0, bytes: 0 }];
        assert_eq!(
            line_with(&e, 500, 2, Some(&c)),
            "tcp      6 117 SYN_SENT src=192.0.2.1 dst=198.51.100.2 sport=32775 dport=22 \
             packets=3 bytes=180 [UNREPLIED] src=198.51.100.2 dst=192.0.2.1 sport=22 dport=32775 \
             packets=0 bytes=0 mark=4294967295 use=2\n"
        );
        let (udp, _) = Udp::new(0, &Config::DEFAULT);
        let mut u = Entry::new(Tuple { src: crate::tuple::Addr::V4(A), dst: crate::tuple::Addr::V4(B), proto: proto::UDP, l4: L4::Ports { sport: 53000, dport: 53 } },
            Status(Status::SEEN_REPLY | Status::ASSURED | Status::CONFIRMED), 180_000, ProtoState::Udp(udp));
        u.mark = 7;
        let c = [Counters { packets: 1, bytes: 84 }, Counters { packets: 2, bytes: 168 }];
        let line = line_with(&u, 0, 1, Some(&c));
        assert_eq!(
            line,
            "udp      17 180 src=192.0.2.1 dst=198.51.100.2 sport=53000 dport=53 packets=1 bytes=84 \
             src=198.51.100.2 dst=192.0.2.1 sport=53 dport=53000 packets=2 bytes=168 [ASSURED] mark=7 use=1\n"
        );
        let p = parse_line(&line).unwrap();
        assert_eq!((p.mark, p.counters), (7, Some(c)));
    }

    #[test]
    fn generic_is_unknown_and_expired_is_zero() {
        let e = Entry::new(Tuple { src: crate::tuple::Addr::V4(A), dst: crate::tuple::Addr::V4(B), proto: 47, l4: L4::None }, Status(Status::CONFIRMED), 1000, ProtoState::Generic);
        assert_eq!(
            line_of(&e, 5000, 3),
            "unknown  47 0 src=192.0.2.1 dst=198.51.100.2 [UNREPLIED] src=198.51.100.2 dst=192.0.2.1 mark=0 use=3\n"
        );
    }

    #[test]
    fn widest_line_fits() {
        let mut e = Entry::new(Tuple {
                src: crate::tuple::Addr::V4(u32::MAX),
                dst: crate::tuple::Addr::V4(u32::MAX),
                proto: proto::ICMP,
                l4: L4::Icmp { ty: 13, code: 255, id: 65535 },
            }, Status(Status::ASSURED), u64::MAX, ProtoState::Icmp);
        e.mark = u32::MAX;
        let max = Counters { packets: u64::MAX, bytes: u64::MAX };
        let line = line_with(&e, 0, u32::MAX, Some(&[max, max]));
        assert!(line.len() < MAX_LINE_LEN, "{}", line.len());
        // The 6.12 line of an IPv6 entry: the prefix, and four addresses
        // of 39 characters instead of at most 15.
        let mut buf = [0u8; MAX_LINE_LEN];
        let n = format_nf_entry(&mut buf, Family::Ipv6, &e, 0, u32::MAX, Some(&[max, max]), None, None).unwrap();
        assert!(n + 4 * (39 - 15) < MAX_LINE_LEN, "{n}");
        let mut tcp = syn_sent();
        tcp.set_orig(Tuple {
            src: crate::tuple::Addr::V4(u32::MAX),
            dst: crate::tuple::Addr::V4(u32::MAX),
            l4: L4::Ports { sport: 65535, dport: 65535 },
            ..tcp.orig()
        });
        tcp.deadline = u64::MAX;
        tcp.status = Status(Status::ASSURED);
        assert!(line_of(&tcp, 0, u32::MAX).len() < MAX_LINE_LEN);
    }

    #[test]
    fn too_small_buffers_fail_cleanly() {
        let e = syn_sent();
        let full = line_of(&e, 500, 2);
        for n in 0..full.len() {
            let mut buf = std::vec![0xaau8; n + 4];
            assert_eq!(format_entry(&mut buf[..n], &e, 500, 2, None, None), Err(TooSmall), "{n}");
            // Nothing beyond the given slice is touched.
            assert_eq!(&buf[n..], &[0xaa; 4]);
        }
        let mut buf = std::vec![0u8; full.len()];
        assert_eq!(format_entry(&mut buf, &e, 500, 2, None, None), Ok(full.len()));
    }

    #[test]
    fn cursor_reports_overflow_and_stays_failed() {
        let mut buf = [0u8; 4];
        let mut w = Cursor::new(&mut buf);
        assert!(w.write_str("abc").is_ok());
        assert!(w.write_str("de").is_err());
        assert_eq!(w.written(), 3);
        // A later write that would fit does not hide the lost text.
        assert!(w.write_str("d").is_err());
        assert_eq!(w.finish(), Err(TooSmall));
        let mut empty = [0u8; 0];
        assert_eq!(write_into(&mut empty, |w| w.write_str("")), Ok(0));
    }

    proptest::proptest! {
        /// Any UDP, ICMP-query or generic entry formats to a line that
        /// parses back to the same fields.
        #[test]
        fn round_trip(src in proptest::num::u32::ANY, dst in proptest::num::u32::ANY,
                      kind in 0u8..6, a in proptest::num::u16::ANY, b in proptest::num::u16::ANY,
                      code in proptest::num::u8::ANY, protonum in proptest::num::u8::ANY,
                      status in proptest::num::u32::ANY, deadline in proptest::num::u64::ANY,
                      now in proptest::num::u64::ANY, use_count in proptest::num::u32::ANY) {
            let (orig, state) = match kind {
                0 => (Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: proto::UDP, l4: L4::Ports { sport: a, dport: b } },
                      ProtoState::Udp(Udp::new(0, &Config::DEFAULT).0)),
                1 => (Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: proto::ICMP, l4: L4::Icmp { ty: [8, 13, 15, 17][usize::from(code % 4)], code, id: a } },
                      ProtoState::Icmp),
                3 => (Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: proto::SCTP, l4: L4::Ports { sport: a, dport: b } },
                      ProtoState::Sctp(Sctp::made(SctpState::from_number(code % 9).unwrap(), [status, 1]))),
                4 => (Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: proto::DCCP, l4: L4::Ports { sport: a, dport: b } },
                      ProtoState::Dccp(Dccp::made(DccpState::from_number(code % 8).unwrap(), code & 1, 0))),
                5 => (Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: proto::UDPLITE, l4: L4::Ports { sport: a, dport: b } },
                      ProtoState::UdpLite),
                _ => {
                    let p = if proto::has_ports(protonum) || protonum == proto::ICMP { 47 } else { protonum };
                    (Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: p, l4: L4::None }, ProtoState::Generic)
                }
            };
            let mut e = Entry::new(orig, Status(status), deadline, state);
            e.mark = status.rotate_left(7) ^ use_count;
            let counters = (kind == 0).then_some([
                Counters { packets: deadline, bytes: now },
                Counters { packets: now, bytes: u64::from(use_count) },
            ]);
            let line = line_with(&e, now, use_count, counters.as_ref());
            let p = parse_line(&line).unwrap();
            proptest::prop_assert_eq!(p.name, proto_name(orig.proto));
            proptest::prop_assert_eq!(p.proto, orig.proto);
            proptest::prop_assert_eq!(p.seconds, e.seconds_left(now));
            proptest::prop_assert_eq!(p.state, state_name(&e.proto));
            proptest::prop_assert_eq!(p.orig, orig);
            proptest::prop_assert_eq!(Some(p.reply), orig.invert());
            proptest::prop_assert_eq!(p.unreplied, !e.status.has(Status::SEEN_REPLY));
            proptest::prop_assert_eq!(p.assured, e.status.has(Status::ASSURED));
            proptest::prop_assert_eq!(p.use_count, use_count);
            proptest::prop_assert_eq!(p.mark, e.mark);
            proptest::prop_assert_eq!(p.counters, counters);
            // The 6.12 line is the classic one behind the family's name
            // and number, with 6.12's protocol name (padded alike).
            let mut buf = [0u8; MAX_LINE_LEN];
            let n = format_nf_entry(&mut buf, Family::Ipv4, &e, now, use_count, counters.as_ref(), None, None).unwrap();
            let nf = str::from_utf8(&buf[..n]).unwrap();
            let want = std::format!("ipv4     2 {:<8} {}", nf_proto_name(orig.proto), &line[9..]);
            proptest::prop_assert_eq!(nf, want.as_str());
        }

        /// `%pI6`: eight groups of four lowercase hex digits, colons
        /// between, the bytes in order.
        #[test]
        fn ipv6_is_eight_groups(b in proptest::array::uniform16(proptest::num::u8::ANY)) {
            let text = std::format!("{}", Ipv6::from_bytes(&b));
            let want: std::vec::Vec<std::string::String> =
                b.chunks(2).map(|g| std::format!("{:02x}{:02x}", g[0], g[1])).collect();
            proptest::prop_assert_eq!(text, want.join(":"));
        }
    }

    fn nf_line(f: Family, e: &Entry, now: Millis, use_count: u32) -> std::string::String {
        let mut buf = [0u8; MAX_LINE_LEN];
        let n = format_nf_entry(&mut buf, f, e, now, use_count, None, None, None).unwrap();
        str::from_utf8(&buf[..n]).unwrap().into()
    }

    /// Lines 6.12's nf_conntrack printed (the reference kernel's
    /// /proc/net/nf_conntrack after tests/vm/differential.sh's traffic,
    /// and after a ping6 and a UDP datagram over IPv6), made again from
    /// entries in the same state.
    #[test]
    fn nf_lines_as_6_12_prints_them() {
        let cfg = Config::DEFAULT;
        let c = 0xc000_022d; // 192.0.2.45
        let t = |p, l4| Tuple { src: crate::tuple::Addr::V4(c), dst: crate::tuple::Addr::V4(B), proto: p, l4 };
        let ports = L4::Ports { sport: 40035, dport: 7035 };
        let mut e = Entry::new(t(proto::TCP, ports), Status::default(), 0, ProtoState::Generic);
        let syn = seg(TcpFlags::SYN, 1000, 0);
        let mut tcp = Tcp::new(&syn, &cfg).unwrap();
        tcp.update(Dir::Original, &syn, &mut e.status, &cfg);
        tcp.update(Dir::Reply, &seg(TcpFlags::SYN | TcpFlags::ACK, 5000, 1001), &mut e.status, &cfg);
        tcp.update(Dir::Original, &seg(TcpFlags::ACK, 1001, 5001), &mut e.status, &cfg);
        e.proto = ProtoState::Tcp(tcp);
        e.deadline = 431_996_500;
        assert_eq!(
            nf_line(Family::Ipv4, &e, 0, 2),
            "ipv4     2 tcp      6 431996 ESTABLISHED src=192.0.2.45 dst=198.51.100.2 sport=40035 dport=7035 \
             src=198.51.100.2 dst=192.0.2.45 sport=7035 dport=40035 [ASSURED] mark=0 use=2\n"
        );
        let e = Entry::new(t(proto::ICMP, L4::Icmp { ty: 8, code: 0, id: 2309 }),
            Status(Status::SEEN_REPLY | Status::CONFIRMED), 1_792_000, ProtoState::Icmp);
        assert_eq!(
            nf_line(Family::Ipv4, &e, 0, 2),
            "ipv4     2 icmp     1 1792 src=192.0.2.45 dst=198.51.100.2 type=8 code=0 id=2309 \
             src=198.51.100.2 dst=192.0.2.45 type=0 code=0 id=2309 mark=0 use=2\n"
        );
        let e = Entry::new(t(253, L4::None), Status(Status::CONFIRMED), 1_795_000, ProtoState::Generic);
        assert_eq!(
            nf_line(Family::Ipv4, &e, 0, 2),
            "ipv4     2 unknown  253 1795 src=192.0.2.45 dst=198.51.100.2 [UNREPLIED] \
             src=198.51.100.2 dst=192.0.2.45 mark=0 use=2\n"
        );
        let st = Status(Status::SEEN_REPLY | Status::ASSURED | Status::CONFIRMED);
        let e = Entry::new(t(proto::UDPLITE, ports), st, 1_794_000, ProtoState::UdpLite);
        assert_eq!(
            nf_line(Family::Ipv4, &e, 0, 2),
            "ipv4     2 udplite  136 1794 src=192.0.2.45 dst=198.51.100.2 sport=40035 dport=7035 \
             src=198.51.100.2 dst=192.0.2.45 sport=7035 dport=40035 [ASSURED] mark=0 use=2\n"
        );
        let e = Entry::new(t(proto::DCCP, ports), st, 1_797_000, ProtoState::Dccp(Dccp::made(DccpState::TimeWait, 0, 0)));
        assert_eq!(
            nf_line(Family::Ipv4, &e, 0, 2),
            "ipv4     2 dccp     33 1797 TIMEWAIT src=192.0.2.45 dst=198.51.100.2 sport=40035 dport=7035 \
             src=198.51.100.2 dst=192.0.2.45 sport=7035 dport=40035 [ASSURED] mark=0 use=2\n"
        );
        let e = Entry::new(t(proto::SCTP, ports), st, 1_797_000, ProtoState::Sctp(Sctp::made(SctpState::Established, [1, 2])));
        assert_eq!(
            nf_line(Family::Ipv4, &e, 0, 2),
            "ipv4     2 sctp     132 1797 ESTABLISHED src=192.0.2.45 dst=198.51.100.2 sport=40035 dport=7035 \
             src=198.51.100.2 dst=192.0.2.45 sport=7035 dport=40035 [ASSURED] mark=0 use=2\n"
        );
        // IPv6 (captured: `ipv6     10 icmpv6   58 29 src=2001:0db8:...`):
        // the family's number unpadded, as `%u`, and ICMPv6's name.
        let e = Entry::new(t(58, L4::None), Status(Status::CONFIRMED), 29_000, ProtoState::Generic);
        assert!(nf_line(Family::Ipv6, &e, 0, 2).starts_with("ipv6     10 icmpv6   58 29 src="));
        let e = Entry::new(t(proto::UDP, ports), Status(Status::CONFIRMED), 29_000, ProtoState::Udp(Udp::new(0, &cfg).0));
        assert!(nf_line(Family::Ipv6, &e, 0, 2).starts_with("ipv6     10 udp      17 29 src="));
    }

    #[test]
    fn ipv6_as_pi6_prints_it() {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        b[15] = 1;
        assert_eq!(std::format!("{}", Ipv6::from_bytes(&b)), "2001:0db8:0000:0000:0000:0000:0000:0001");
        // As the reference kernel printed 2001:db8:1::2.
        assert_eq!(
            std::format!("src={} ", Ipv6([0x2001_0db8, 0x0001_0000, 0, 2])),
            "src=2001:0db8:0001:0000:0000:0000:0000:0002 "
        );
        assert_eq!(
            std::format!("{}", Ipv6([0xfe80_0000, 0, 0x0211_22ff, 0xfe33_4455])),
            "fe80:0000:0000:0000:0211:22ff:fe33:4455"
        );
        assert_eq!(std::format!("{}", Ipv6([u32::MAX; 4])), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        assert_eq!(std::format!("{}", Ipv6([0; 4])), "0000:0000:0000:0000:0000:0000:0000:0000");
    }

    #[test]
    fn nf_too_small_buffers_fail_cleanly() {
        let e = syn_sent();
        let full = nf_line(Family::Ipv6, &e, 500, 2);
        for n in 0..full.len() {
            let mut buf = std::vec![0xaau8; n + 4];
            assert_eq!(format_nf_entry(&mut buf[..n], Family::Ipv6, &e, 500, 2, None, None, None), Err(TooSmall));
            assert_eq!(&buf[n..], &[0xaa; 4]);
        }
    }

    #[test]
    fn sctp_dccp_udplite_lines() {
        let t = |p| Tuple { src: crate::tuple::Addr::V4(A), dst: crate::tuple::Addr::V4(B), proto: p, l4: L4::Ports { sport: 5000, dport: 6000 } };
        let st = Status(Status::SEEN_REPLY | Status::ASSURED | Status::CONFIRMED);
        let e = Entry::new(t(proto::SCTP), st, 210_000, ProtoState::Sctp(Sctp::made(SctpState::Established, [1, 2])));
        assert_eq!(
            line_of(&e, 0, 1),
            "sctp     132 210 ESTABLISHED src=192.0.2.1 dst=198.51.100.2 sport=5000 dport=6000 \
             src=198.51.100.2 dst=192.0.2.1 sport=6000 dport=5000 [ASSURED] mark=0 use=1\n"
        );
        let e = Entry::new(t(proto::DCCP), Status(Status::CONFIRMED), 240_000, ProtoState::Dccp(Dccp::made(DccpState::Request, 0, 0)));
        assert_eq!(
            line_of(&e, 0, 1),
            "dccp     33 240 REQUEST src=192.0.2.1 dst=198.51.100.2 sport=5000 dport=6000 [UNREPLIED] \
             src=198.51.100.2 dst=192.0.2.1 sport=6000 dport=5000 mark=0 use=1\n"
        );
        let e = Entry::new(t(proto::UDPLITE), Status(Status::CONFIRMED), 30_000, ProtoState::UdpLite);
        assert_eq!(
            line_of(&e, 0, 1),
            "udplite  136 30 src=192.0.2.1 dst=198.51.100.2 sport=5000 dport=6000 [UNREPLIED] \
             src=198.51.100.2 dst=192.0.2.1 sport=6000 dport=5000 mark=0 use=1\n"
        );
    }

    #[test]
    fn parse_line_reads_every_layout() {
        let line = line_of(&syn_sent(), 500, 2);
        let p = parse_line(&line).unwrap();
        assert_eq!(p.name, "tcp");
        assert_eq!(p.proto, 6);
        assert_eq!(p.seconds, 117);
        assert_eq!(p.state, Some("SYN_SENT"));
        assert_eq!(p.orig, syn_sent().orig());
        assert_eq!(Some(p.reply), syn_sent().orig().invert());
        assert!(p.unreplied && !p.assured);
        assert_eq!(p.use_count, 2);

        let p = parse_line(
            "icmp     1 29 src=192.0.2.1 dst=198.51.100.2 type=8 code=0 id=4660 \
             src=198.51.100.2 dst=192.0.2.1 type=0 code=0 id=4660 [ASSURED] mark=0 use=1\n",
        )
        .unwrap();
        assert_eq!(p.orig.l4, L4::Icmp { ty: 8, code: 0, id: 4660 });
        assert!(!p.unreplied && p.assured && p.state.is_none());

        let p = parse_line("unknown  47 0 src=1.2.3.4 dst=5.6.7.8 src=5.6.7.8 dst=1.2.3.4 mark=0 use=0\n")
            .unwrap();
        assert_eq!(p.orig, Tuple { src: crate::tuple::Addr::V4(0x0102_0304), dst: crate::tuple::Addr::V4(0x0506_0708), proto: 47, l4: L4::None });
    }

    #[test]
    fn parse_line_rejects_other_layouts() {
        let good = line_of(&syn_sent(), 500, 2);
        assert!(parse_line(&good).is_some());
        let bad = [
            good.trim_end().into(),                             // no newline
            good.replace("tcp      6", "tcp     6"),            // padding
            good.replace("tcp      6", "udp      6"),           // name/number mismatch
            good.replace(" SYN_SENT ", " SYN_SENT  "),          // double space
            good.replace("src=192.0.2.1 ", "src=192.0.2 "),     // short address
            good.replace("src=192.0.2.1 ", "src=192.0.2.256 "), // octet range
            good.replace("sport=32775", "sport=+32775"),        // sign
            good.replace("use=2", "use=2 x"),                   // trailing token
            good.replace("mark=0 ", ""),                        // no mark
            good.replace("[UNREPLIED]", "packets=1 [UNREPLIED]"), // half a pair
            good.replace("[UNREPLIED]", "packets=1 bytes=2 [UNREPLIED]"), // one side only
            good.replace(" [UNREPLIED]", ""),                   // (still parses)
        ];
        for (i, line) in bad.iter().enumerate() {
            let parsed = parse_line(line);
            if i == bad.len() - 1 {
                assert!(parsed.is_some_and(|p| !p.unreplied));
            } else {
                assert!(parsed.is_none(), "{line:?}");
            }
        }
        assert!(parse_line("").is_none());
        assert!(parse_line("tcp\n").is_none());
    }
}
