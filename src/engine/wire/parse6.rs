//! [`parse_packet6`]: an IPv6 packet's first bytes to the [`Packet`]
//! summary, as Linux 6.12's `ipv6_get_l4proto` and
//! `nf_conntrack_icmpv6_error` see it (docs/design.md, "IPv6: the address
//! family as data").
//!
//! The packet's length is the frame's: `ip6_rcv_core` has trimmed the frame
//! to 40 + payload length before PRE_ROUTING, and 6.12 reads `skb->len`.

use super::icmpv6::{self, Icmpv6, Quote, QuoteError};
use super::ipv6::{self, Ipv6};
use super::ipv6_exthdr::{Chain, ExtError};
use super::source::{self, read_array, ByteSource, Prefix, Tail};
use super::{parse_dccp, parse_sctp, parse_tcp, parse_udp, parse_udplite, read_u16};
use crate::invalid::Invalid;
use crate::packet::{Icmp as IcmpInfo, L4Info, Packet};
use crate::tuple::{icmp_inverse_type, proto, Addr, Tuple, L4};

/// The most transport bytes [`parse_packet6_over`] reads at once from
/// wherever the chain ends: TCP with options, SCTP's chunk window, DCCP,
/// an ICMPv6 redirect's fixed part (what a 320-byte head held after a bare
/// IPv6 header). An ICMPv6 error's quote is read on its own, header by
/// header.
pub const L4_WINDOW6: usize = 280;

/// Parses an IPv6 packet whose first bytes are `head` and whose length is
/// `frame_len` ([`parse_packet6_over`] over them; what lies past `head`
/// cannot be read, so give the whole packet).
pub fn parse_packet6(head: &[u8], frame_len: usize) -> Result<Packet, Invalid> {
    parse_packet6_over(Prefix::new(head, frame_len))
}

/// Parses the IPv6 packet `src` (its length is the frame's), reading the
/// extension headers one by one and the transport header from wherever the
/// chain ends, as 6.12's `ipv6_skip_exthdr` and `nf_ct_get_tuple` read an
/// skb: a chain of any length within the packet is walked. Refusals: a bad
/// fixed header ([`Invalid::BadIpHeader`]), an extension-header chain
/// without a transport header ([`Invalid::BadExtHeader`]; a later
/// fragment: [`Invalid::Fragment`]), a bad transport header
/// ([`Invalid::BadL4Header`]) and the ICMPv6 rules ([`parse_icmpv6`]). An
/// ICMPv6 message 6.12 leaves untracked parses to [`IcmpInfo::Untracked`].
pub fn parse_packet6_over<S: ByteSource>(src: S) -> Result<Packet, Invalid> {
    let frame_len = src.packet_len();
    let hdr = read_array::<{ ipv6::HEADER_LEN }, S>(&src, 0).ok_or(Invalid::BadIpHeader)?;
    let ip = Ipv6::new_checked(&hdr).map_err(|_| Invalid::BadIpHeader)?;
    if ip.version() != 6 {
        return Err(Invalid::BadIpHeader);
    }
    let (protocol, off) = match Chain::over(&src, ipv6::HEADER_LEN, ip.next_header()).finish() {
        Ok(w) => w.l4().ok_or(Invalid::Fragment)?,
        // A header running past the packet that names a protocol: 6.12
        // reads that protocol past the end; only one without a header to
        // read is tracked (by its addresses).
        Err(ExtError::TransportBeyondPacket { proto: p }) => {
            if proto::has_ports(p) || p == proto::ICMPV6 || p == proto::ICMP {
                return Err(Invalid::BadL4Header);
            }
            (p, frame_len)
        }
        Err(_) => return Err(Invalid::BadExtHeader),
    };
    let l4_len = frame_len.saturating_sub(off);
    // A linear packet's transport bytes are read in place: no window to
    // zero (280 bytes on every IPv6 packet).
    let mut window;
    let seg = match source::window_in_place(&src, off, L4_WINDOW6) {
        Some(seg) => seg,
        None => {
            window = [0u8; L4_WINDOW6];
            source::window(&src, off, &mut window)
        }
    };
    let mut quoted = None;
    let (l4, info) = match protocol {
        proto::TCP => parse_tcp(seg, l4_len)?,
        proto::UDP => parse_udp(seg, l4_len)?,
        proto::ICMPV6 => parse_icmpv6(&ip, Tail::new(&src, off), seg, l4_len, &mut quoted)?,
        proto::ICMP => parse_icmp_in6(seg)?,
        proto::UDPLITE => parse_udplite(seg, l4_len)?,
        // The chunk window does not shrink with the chain.
        proto::SCTP => parse_sctp(seg, l4_len, ipv6::HEADER_LEN)?,
        proto::DCCP => parse_dccp(seg, l4_len)?,
        _ => (L4::None, L4Info::Other),
    };
    let src_addr = Addr::v6_from_bytes(&ip.src());
    let dst_addr = Addr::v6_from_bytes(&ip.dst());
    Ok(Packet {
        tuple: Tuple { src: src_addr, dst: dst_addr, proto: protocol, l4 },
        l4: info,
        ip_len: u16::try_from(frame_len).unwrap_or(u16::MAX),
        l4_off: u16::try_from(off).unwrap_or(u16::MAX),
        quoted,
    })
}

/// ICMPv6, in 6.12's order: shorter than its header INVALID; neighbour
/// discovery, MLD and multicast router discovery untracked; a redirect
/// checked and, with a redirected header, treated as an error; errors
/// carry the quoted packet's tuple; informational messages carry type,
/// code and id (echo and node information queries open entries, every
/// other type is refused when it would).
/// An error's quoted tuple goes to `quoted`.
/// `msg` is the message from its start (all of it), `seg` its first bytes.
fn parse_icmpv6<S: ByteSource>(
    ip: &Ipv6<'_>,
    msg: S,
    seg: &[u8],
    l4_len: usize,
    quoted: &mut Option<Tuple>,
) -> Result<(L4, L4Info), Invalid> {
    let head = seg.get(..l4_len.min(seg.len())).unwrap_or_default();
    let icmp = Icmpv6::new_checked(head).map_err(|_| Invalid::Icmpv6Short)?;
    let (ty, code) = (icmp.msg_type(), icmp.code());
    if icmpv6::is_untracked(ty) {
        return Ok((L4::Icmp { ty, code, id: 0 }, L4Info::Icmp(IcmpInfo::Untracked)));
    }
    let quote = if ty == icmpv6::types::REDIRECT {
        redirect_quote(ip, &icmp)?
    } else {
        icmp.quote()
    };
    match quote {
        Quote::Packet(q) => {
            // The quote runs to the message's end; read from the message,
            // its chain can be longer than `seg`.
            let start = head.len().saturating_sub(q.len());
            *quoted = Some(quoted_tuple(Tail::new(msg, start))?);
            Ok((L4::Icmp { ty, code, id: 0 }, L4Info::Icmp(IcmpInfo::Error)))
        }
        Quote::BadRedirect => Err(Invalid::Icmpv6BadRedirect),
        Quote::None => {
            let kind = if icmpv6::inverse_type(ty).is_some() { IcmpInfo::Query } else { IcmpInfo::Other };
            Ok((L4::Icmp { ty, code, id: icmp.ident() }, L4Info::Icmp(kind)))
        }
    }
}

/// A redirect (6.12's `nf_conntrack_icmpv6_redirect`): too short INVALID;
/// code not 0 passes; then a sender that is not a link-local router
/// (hop limit 255) is INVALID; then the first option decides.
#[cold]
fn redirect_quote<'a>(ip: &Ipv6<'_>, icmp: &Icmpv6<'a>) -> Result<Quote<'a>, Invalid> {
    match icmp.quote() {
        Quote::BadRedirect if icmp.data().len() < icmpv6::REDIRECT_LEN - icmpv6::HEADER_LEN => {
            Err(Invalid::Icmpv6BadRedirect)
        }
        _ if icmp.code() != 0 => Ok(Quote::None),
        _ if !icmpv6::redirect_sender_valid(ip.hop_limit(), &ip.src()) => Err(Invalid::Icmpv6BadRedirect),
        q => Ok(q),
    }
}

/// The tuple of the packet an ICMPv6 error (or redirect) quotes, as it
/// travelled.
fn quoted_tuple<S: ByteSource>(q: S) -> Result<Tuple, Invalid> {
    let quoted = icmpv6::parse_quoted_over(q).map_err(|e| match e {
        QuoteError::NotInvertible => Invalid::Icmpv6ErrorInError,
        _ => Invalid::Icmpv6ErrorBadInner,
    })?;
    let l4 = match quoted.proto {
        p if proto::has_ports(p) => L4::Ports { sport: read_u16(&quoted.l4, 0), dport: read_u16(&quoted.l4, 2) },
        proto::ICMPV6 => {
            let i = Icmpv6::new_checked(&quoted.l4).map_err(|_| Invalid::Icmpv6ErrorBadInner)?;
            L4::Icmp { ty: i.msg_type(), code: i.code(), id: i.ident() }
        }
        _ => L4::None,
    };
    Ok(Tuple {
        src: Addr::v6_from_bytes(&quoted.src),
        dst: Addr::v6_from_bytes(&quoted.dst),
        proto: quoted.proto,
        l4,
    })
}

/// ICMP (protocol 1) inside IPv6: 6.12 builds its tuple as for IPv4 and
/// runs no error handling (`nf_conntrack_handle_icmp` is per family), so
/// only a query can be tracked.
#[cold]
fn parse_icmp_in6(seg: &[u8]) -> Result<(L4, L4Info), Invalid> {
    let icmp = super::icmp::Icmp::new_checked(seg).map_err(|_| Invalid::BadL4Header)?;
    let ty = icmp.msg_type();
    let kind = if icmp_inverse_type(ty).is_some() { IcmpInfo::Query } else { IcmpInfo::Other };
    Ok((L4::Icmp { ty, code: icmp.code(), id: icmp.ident() }, L4Info::Icmp(kind)))
}
