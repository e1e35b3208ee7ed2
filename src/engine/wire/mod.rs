//! Checked zero-copy views over the IPv4, IPv6 (its extension-header chain
//! and fragment header), TCP, UDP, ICMP and ICMPv6 headers, and
//! [`parse_packet`], which turns the first bytes of a packet into the
//! [`Packet`] summary the tracker works on.
//!
//! Each view (`Ipv4`, `Tcp`, `Udp`, `Icmp`) wraps a byte slice. Untrusted
//! bytes enter only through its `new_checked`, which checks once that the
//! fixed header and the header length field fit the slice; getters then
//! read their field from the bytes at a named offset. Reads go through
//! `read_u8`/`read_u16`/`read_u32`, which cannot panic (they would
//! return 0 for an offset that `new_checked` did not cover, which the
//! golden-byte tests rule out).
//!
//! Semantic checks that need more than one header (total length against
//! the frame, UDP length against the IP payload, the header quoted in an
//! ICMP error) live in [`parse_packet`], each with its reason and the
//! [`Invalid`] value it yields.
//!
//! `head` may be a prefix of the packet (the kernel passes the first bytes
//! of the skb): every header the tracker reads must lie inside it, lengths
//! come from the IP header and are checked against the real frame length.
//! [`MAX_HEAD_LEN`] bytes (or the whole packet when shorter) are always
//! enough; with that much, the result never depends on the bytes after it.

pub mod dccp;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ipv6_exthdr;
pub mod ipv6_frag;
pub mod parse6;
pub mod sctp;
pub mod source;
pub mod tcp;
pub mod udp;

use crate::invalid::Invalid;
use crate::packet::{Icmp as IcmpInfo, L4Info, Packet, Segment, TcpFlags};
use crate::tuple::{icmp_inverse_type, proto, Addr, Tuple, L4};

use self::icmp::Icmp;
use self::ipv4::Ipv4;
use self::sctp::Sctp;
use self::tcp::Tcp;
use self::udp::Udp;

/// The most header bytes [`parse_packet`] reads: an ICMP error with a
/// full-size outer IPv4 header (60), the ICMP header (8), a full-size quoted
/// IPv4 header (60) and the 8 quoted layer-4 bytes. (A TCP packet needs at
/// most 60 + 60 = 120.) A `head` of `min(frame_len, MAX_HEAD_LEN)` bytes
/// parses exactly like the whole packet.
pub const MAX_HEAD_LEN: usize = ipv4::MAX_HEADER_LEN + icmp::HEADER_LEN + ipv4::MAX_HEADER_LEN + 8;

/// Why a view could not be made over a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The buffer ends before the fixed part of the header.
    Truncated,
    /// The header length field (IPv4 IHL, TCP data offset) is below the
    /// fixed header's size.
    HeaderTooShort,
    /// The header length field points past the end of the buffer.
    HeaderBeyondBuffer,
}

/// The byte at `at`, or 0 past the end of `buf`.
pub(crate) fn read_u8(buf: &[u8], at: usize) -> u8 {
    buf.get(at).copied().unwrap_or(0)
}

/// The big-endian `u16` at `at`, or 0 if it does not fit `buf`.
pub(crate) fn read_u16(buf: &[u8], at: usize) -> u16 {
    buf.get(at..).and_then(|b| b.first_chunk::<2>()).map_or(0, |b| u16::from_be_bytes(*b))
}

/// The big-endian `u32` at `at`, or 0 if it does not fit `buf`.
pub(crate) fn read_u32(buf: &[u8], at: usize) -> u32 {
    buf.get(at..).and_then(|b| b.first_chunk::<4>()).map_or(0, |b| u32::from_be_bytes(*b))
}

/// A 4-bit length field counted in 32-bit words, in bytes (at most 60).
pub(crate) fn words_to_bytes(words: u8) -> usize {
    usize::from(words & 0x0f).wrapping_mul(4)
}

/// The Internet checksum (RFC 1071) of `data`: 0 when `data` includes a
/// correct checksum field.
pub fn checksum(data: &[u8]) -> u16 {
    complement(sum_words(0, data))
}

/// Adds `data` as big-endian 16-bit words (an odd last byte padded with
/// zero) to a one's-complement running sum, folded as it goes so it never
/// overflows: pieces of a message (a pseudo-header, then the message) can
/// be summed one after the other.
pub(crate) fn sum_words(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        let word = c.first_chunk::<2>().map_or(0, |w| u16::from_be_bytes(*w));
        sum = fold(sum.wrapping_add(u32::from(word)));
    }
    if let Some(&last) = chunks.remainder().first() {
        sum = fold(sum.wrapping_add(u32::from(last) << 8));
    }
    sum
}

fn fold(sum: u32) -> u32 {
    (sum & 0xffff).wrapping_add(sum >> 16)
}

/// The checksum of a [`sum_words`] sum: folded to 16 bits, complemented.
pub(crate) fn complement(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = fold(sum);
    }
    !u16::try_from(sum).unwrap_or(u16::MAX)
}

/// Sequence-number order: whether `a` comes after `b` (RFC 1982 style, as
/// the kernel's `after()`).
pub fn seq_after(a: u32, b: u32) -> bool {
    // Reinterpreting the difference as signed is the point.
    #[allow(clippy::cast_possible_wrap)]
    let d = b.wrapping_sub(a) as i32;
    d < 0
}

/// Parses an IPv4 packet whose first bytes are `head` and whose length on
/// the wire is `frame_len` (see the module documentation). This is what
/// [`crate::packet::parse`] calls.
///
/// Refusals, in order: a bad IPv4 header ([`Invalid::BadIpHeader`]: too
/// short, version not 4, IHL below 5 or beyond `head`, total length below
/// the header length or beyond `frame_len`); a fragment
/// ([`Invalid::Fragment`]: MF set or offset not 0); a bad layer-4 header
/// ([`Invalid::BadL4Header`]); for ICMP errors, a bad quoted header
/// ([`Invalid::IcmpErrorBadInner`]) or a quoted ICMP error
/// ([`Invalid::IcmpErrorInError`]); ICMPv6 inside IPv4
/// ([`Invalid::Icmpv6OverIpv4`]). A total length below `frame_len` is
/// fine: the rest is link-layer padding and ignored.
#[inline(always)]
pub fn parse_packet(head: &[u8], frame_len: usize) -> Result<Packet, Invalid> {
    // Bytes beyond the frame are not part of the packet.
    let head = head.get(..frame_len).unwrap_or(head);
    let ip = Ipv4::new_checked(head).map_err(|_| Invalid::BadIpHeader)?;
    if ip.version() != 4 {
        return Err(Invalid::BadIpHeader);
    }
    let ip_len = ip.total_len();
    let total = usize::from(ip_len);
    // The total length covers at least the header and at most the frame.
    let l4_len = match total.checked_sub(ip.header_len()) {
        Some(n) if total <= frame_len => n,
        _ => return Err(Invalid::BadIpHeader),
    };
    if ip.is_fragment() {
        return Err(Invalid::Fragment);
    }
    // At most 60: the header length is 4 bits of words.
    let l4_off = u16::try_from(ip.header_len()).unwrap_or(u16::MAX);
    let (l4, info) = match ip.protocol() {
        proto::TCP => parse_tcp(ip.payload(), l4_len)?,
        // Built in its own arm: the common packet does not carry the
        // other protocols' details through a shared exit.
        proto::UDP => return Ok(packet4(&ip, parse_udp(ip.payload(), l4_len)?, ip_len, l4_off)),
        proto::ICMP => return parse_icmp(&ip, ip_len, l4_off),
        other => parse_other(other, &ip, l4_len)?,
    };
    Ok(packet4(&ip, (l4, info), ip_len, l4_off))
}

/// The [`Packet`] of a parsed IPv4 header and its layer-4 part.
#[inline(always)]
fn packet4(ip: &Ipv4<'_>, (l4, info): (L4, L4Info), ip_len: u16, l4_off: u16) -> Packet {
    let tuple = Tuple { src: Addr::V4(ip.src()), dst: Addr::V4(ip.dst()), proto: ip.protocol(), l4 };
    Packet { tuple, l4: info, ip_len, l4_off, quoted: None }
}

/// TCP: the header (with options) must lie inside the segment, whose real
/// length `l4_len` comes from the IP header, and inside the bytes we have.
fn parse_tcp(seg: &[u8], l4_len: usize) -> Result<(L4, L4Info), Invalid> {
    let tcp = Tcp::new_checked(seg).map_err(|_| Invalid::BadL4Header)?;
    let payload_len = l4_len.checked_sub(tcp.header_len()).ok_or(Invalid::BadL4Header)?;
    let opts = tcp.option_summary();
    let segment = Segment {
        seq: tcp.seq_number(),
        ack: tcp.ack_number(),
        window: tcp.window(),
        flags: TcpFlags(tcp.flags()),
        // At most 65535 - 40: the total length is a u16.
        payload_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
        wscale: opts.wscale,
        sack_perm: opts.sack_perm,
        sack_edge: opts.sack_edge,
    };
    let l4 = L4::Ports { sport: tcp.src_port(), dport: tcp.dst_port() };
    Ok((l4, L4Info::Tcp(segment)))
}

/// UDP: as Linux's `udp_error`, the length field must cover at least the
/// header and at most the IP payload.
fn parse_udp(seg: &[u8], l4_len: usize) -> Result<(L4, L4Info), Invalid> {
    let udp = Udp::new_checked(seg).map_err(|_| Invalid::BadL4Header)?;
    let len = usize::from(udp.length());
    if len < udp::HEADER_LEN || len > l4_len {
        return Err(Invalid::BadL4Header);
    }
    Ok((L4::Ports { sport: udp.src_port(), dport: udp.dst_port() }, L4Info::Udp))
}

/// The layer 4 of the protocols after TCP, UDP and ICMP: out of line, so
/// that the common packet's parse stays short.
#[inline(never)]
#[cold]
fn parse_other(protocol: u8, ip: &Ipv4<'_>, l4_len: usize) -> Result<(L4, L4Info), Invalid> {
    match protocol {
        proto::UDPLITE => parse_udplite(ip.payload(), l4_len),
        proto::SCTP => parse_sctp(ip.payload(), l4_len, ip.header_len()),
        proto::DCCP => parse_dccp(ip.payload(), l4_len),
        // 6.12's `nf_conntrack_icmpv6_packet`: `pf != NFPROTO_IPV6` is
        // INVALID, whatever the message.
        proto::ICMPV6 => Err(Invalid::Icmpv6OverIpv4),
        _ => Ok((L4::None, L4Info::Other)),
    }
}

/// UDP-Lite, as Linux's `udplite_error`: the coverage field (0: the
/// whole datagram) covers at least the header and at most the IP payload,
/// and the checksum is mandatory.
fn parse_udplite(seg: &[u8], l4_len: usize) -> Result<(L4, L4Info), Invalid> {
    let udp = Udp::new_checked(seg.get(..l4_len.min(seg.len())).unwrap_or_default())
        .map_err(|_| Invalid::BadL4Header)?;
    let cscov = match usize::from(udp.length()) {
        0 => l4_len,
        n if n < udp::HEADER_LEN || n > l4_len => return Err(Invalid::UdpLiteBadCoverage),
        n => n,
    };
    if udp.checksum() == 0 {
        return Err(Invalid::UdpLiteNoChecksum);
    }
    let cscov = u16::try_from(cscov).unwrap_or(u16::MAX);
    Ok((L4::Ports { sport: udp.src_port(), dport: udp.dst_port() }, L4Info::UdpLite { cscov }))
}

/// SCTP: the common header and the chunk walk. Only chunks within the
/// first [`MAX_HEAD_LEN`] bytes of the packet are seen (Linux walks them
/// all), so that a head of that size decides like the whole packet.
fn parse_sctp(seg: &[u8], l4_len: usize, ihl: usize) -> Result<(L4, L4Info), Invalid> {
    let sctp = Sctp::new_checked(seg.get(..l4_len.min(seg.len())).unwrap_or_default())
        .map_err(|_| Invalid::BadL4Header)?;
    let window = l4_len.min(MAX_HEAD_LEN.saturating_sub(ihl));
    let info = sctp::summarize(&sctp, window)?;
    Ok((L4::Ports { sport: sctp.src_port(), dport: sctp.dst_port() }, L4Info::Sctp(info)))
}

/// DCCP: the generic header and the subheader of its type.
fn parse_dccp(seg: &[u8], l4_len: usize) -> Result<(L4, L4Info), Invalid> {
    let (d, info) = dccp::summarize(seg, l4_len)?;
    Ok((L4::Ports { sport: d.src_port(), dport: d.dst_port() }, L4Info::Dccp(info)))
}

/// ICMP: queries and their answers carry type, code and id in the tuple;
/// errors carry id 0 and the quoted packet's tuple; other types are left
/// to the ICMP rules, which refuse them.
fn parse_icmp(ip: &Ipv4<'_>, ip_len: u16, l4_off: u16) -> Result<Packet, Invalid> {
    let icmp = Icmp::new_checked(ip.payload()).map_err(|_| Invalid::IcmpShort)?;
    let (ty, code) = (icmp.msg_type(), icmp.code());
    if ty > icmp::types::LAST {
        return Err(Invalid::IcmpBadType);
    }
    let (l4, kind, quoted) = if icmp::is_error(ty) {
        (L4::Icmp { ty, code, id: 0 }, IcmpInfo::Error, Some(parse_quoted(icmp.data())?))
    } else if icmp_inverse_type(ty).is_some() {
        (L4::Icmp { ty, code, id: icmp.ident() }, IcmpInfo::Query, None)
    } else {
        (L4::Icmp { ty, code, id: icmp.ident() }, IcmpInfo::Other, None)
    };
    let tuple = Tuple { src: Addr::V4(ip.src()), dst: Addr::V4(ip.dst()), proto: proto::ICMP, l4 };
    Ok(Packet { tuple, l4: L4Info::Icmp(kind), ip_len, l4_off, quoted })
}

/// Layer-4 bytes an ICMP error must quote after the inner IP header to be
/// matched, as Linux 6.12 reads them (`nf_ct_get_tuplepr`): the two ports
/// of TCP and UDP (4 bytes), the ICMP header of a query (8), nothing for
/// other protocols, whose tuple is the addresses. RFC 792 routers quote 8
/// bytes; a shorter quote is still enough to find the flow.
pub fn quoted_l4_len(protocol: u8) -> usize {
    match protocol {
        p if proto::has_ports(p) => 4,
        proto::ICMP => icmp::HEADER_LEN,
        _ => 0,
    }
}

/// The most layer-4 bytes [`quoted_l4_len`] asks for.
pub const QUOTED_L4_LEN: usize = 8;

/// The tuple of the packet an ICMP error quotes, as it travelled. The quote
/// is usually truncated (its total length field is larger than what is
/// there): only the inner header and [`quoted_l4_len`] bytes after it must
/// be present. A non-first fragment has no layer-4 header to match, and an
/// error about an error would make errors loop.
fn parse_quoted(quote: &[u8]) -> Result<Tuple, Invalid> {
    let ip = Ipv4::new_checked(quote).map_err(|_| Invalid::IcmpErrorBadInner)?;
    if ip.frag_offset() != 0 {
        return Err(Invalid::IcmpErrorBadInner);
    }
    let l4 = ip.rest();
    if l4.len() < quoted_l4_len(ip.protocol()) {
        return Err(Invalid::IcmpErrorBadInner);
    }
    let l4 = match ip.protocol() {
        p if proto::has_ports(p) => {
            // Their headers all start with the two ports.
            L4::Ports { sport: read_u16(l4, 0), dport: read_u16(l4, 2) }
        }
        proto::ICMP => {
            let icmp = Icmp::new_checked(l4).map_err(|_| Invalid::IcmpErrorBadInner)?;
            if icmp::is_error(icmp.msg_type()) {
                return Err(Invalid::IcmpErrorInError);
            }
            L4::Icmp { ty: icmp.msg_type(), code: icmp.code(), id: icmp.ident() }
        }
        _ => L4::None,
    };
    Ok(Tuple { src: Addr::V4(ip.src()), dst: Addr::V4(ip.dst()), proto: ip.protocol(), l4 })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
pub(crate) mod tests {
    //! Golden packets (generated by `fuzz/gen_corpus.py --rust`, which also
    //! writes them to the fuzz seed corpus; their checksums are correct and
    //! checked below) and every malformed case `parse_packet` refuses.

    use super::*;
    use std::vec::Vec;

    /// 192.0.2.1:32775 -> 198.51.100.2:22, SYN, seq 0x6b8b4567, window
    /// 64240, options MSS 1460, SACK-permitted, timestamps, NOP, WS 7.
    pub(crate) const TCP_SYN: [u8; 60] = [
        0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x32, 0x3f, 0xc0, 0x00, 0x02,
        0x01, 0xc6, 0x33, 0x64, 0x02, 0x80, 0x07, 0x00, 0x16, 0x6b, 0x8b, 0x45, 0x67, 0x00, 0x00,
        0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x4d, 0x86, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04,
        0x02, 0x08, 0x0a, 0x00, 0x01, 0xe2, 0x40, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    /// 198.51.100.2:22 -> 192.0.2.1:32775, ACK with 5 payload bytes and a
    /// SACK option of two blocks (right edges 0x1000 and 0x0800).
    pub(crate) const TCP_ACK_SACK: [u8; 69] = [
        0x45, 0x00, 0x00, 0x45, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x4e, 0x7b, 0xc6, 0x33, 0x64,
        0x02, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x16, 0x80, 0x07, 0x11, 0x22, 0x33, 0x44, 0x6b, 0x8b,
        0x45, 0x68, 0xb0, 0x18, 0x01, 0xf5, 0x83, 0x16, 0x00, 0x00, 0x01, 0x01, 0x05, 0x12, 0x00,
        0x00, 0x00, 0x10, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
    ];

    /// 192.0.2.1:53000 -> 198.51.100.53:53, UDP with 4 payload bytes.
    pub(crate) const UDP_DNS: [u8; 32] = [
        0x45, 0x00, 0x00, 0x20, 0xab, 0xcd, 0x00, 0x00, 0x40, 0x11, 0xe2, 0x95, 0xc0, 0x00, 0x02,
        0x01, 0xc6, 0x33, 0x64, 0x35, 0xcf, 0x08, 0x00, 0x35, 0x00, 0x0c, 0xa6, 0x90, 0xde, 0xad,
        0xbe, 0xef,
    ];

    /// 192.0.2.1 -> 198.51.100.2, echo request id 0x1234 seq 1, 8 data bytes.
    pub(crate) const ICMP_ECHO: [u8; 36] = [
        0x45, 0x00, 0x00, 0x24, 0x00, 0x02, 0x40, 0x00, 0x40, 0x01, 0x4e, 0xa0, 0xc0, 0x00, 0x02,
        0x01, 0xc6, 0x33, 0x64, 0x02, 0x08, 0x00, 0xd9, 0xba, 0x12, 0x34, 0x00, 0x01, 0x00, 0x01,
        0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    ];

    /// 198.51.100.53 -> 192.0.2.1, port unreachable quoting [`UDP_DNS`]'s
    /// IP header and UDP header (its payload cut off, as usual).
    pub(crate) const ICMP_PORT_UNREACH: [u8; 56] = [
        0x45, 0xc0, 0x00, 0x38, 0x00, 0x03, 0x00, 0x00, 0x40, 0x01, 0x8d, 0x98, 0xc6, 0x33, 0x64,
        0x35, 0xc0, 0x00, 0x02, 0x01, 0x03, 0x03, 0x87, 0x22, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00,
        0x00, 0x20, 0xab, 0xcd, 0x00, 0x00, 0x40, 0x11, 0xe2, 0x95, 0xc0, 0x00, 0x02, 0x01, 0xc6,
        0x33, 0x64, 0x35, 0xcf, 0x08, 0x00, 0x35, 0x00, 0x0c, 0xa6, 0x90,
    ];

    /// 192.0.2.1 -> 198.51.100.2, GRE (47), 4 bytes.
    pub(crate) const GRE: [u8; 24] = [
        0x45, 0x00, 0x00, 0x18, 0x00, 0x04, 0x00, 0x00, 0x40, 0x2f, 0x8e, 0x7c, 0xc0, 0x00, 0x02,
        0x01, 0xc6, 0x33, 0x64, 0x02, 0x00, 0x00, 0x08, 0x00,
    ];

    /// 192.0.2.1:53000 -> 198.51.100.53:53 with an IP router-alert option
    /// (IHL 6) and 4 payload bytes.
    pub(crate) const UDP_WITH_IP_OPTIONS: [u8; 36] = [
        0x46, 0x00, 0x00, 0x24, 0xab, 0xce, 0x00, 0x00, 0x40, 0x11, 0x4d, 0x8c, 0xc0, 0x00, 0x02,
        0x01, 0xc6, 0x33, 0x64, 0x35, 0x94, 0x04, 0x00, 0x00, 0xcf, 0x08, 0x00, 0x35, 0x00, 0x0c,
        0xa6, 0x90, 0xde, 0xad, 0xbe, 0xef,
    ];

    const A: u32 = 0xc000_0201; // 192.0.2.1
    const B: u32 = 0xc633_6402; // 198.51.100.2
    const DNS: u32 = 0xc633_6435; // 198.51.100.53

    fn parse(p: &[u8]) -> Result<Packet, Invalid> {
        parse_packet(p, p.len())
    }

    /// `p` with the 16-bit field at `at` replaced.
    fn with_u16(p: &[u8], at: usize, v: u16) -> Vec<u8> {
        let mut p = p.to_vec();
        p[at..at + 2].copy_from_slice(&v.to_be_bytes());
        p
    }

    /// `p` with the byte at `at` replaced.
    fn with_u8(p: &[u8], at: usize, v: u8) -> Vec<u8> {
        let mut p = p.to_vec();
        p[at] = v;
        p
    }

    #[test]
    fn tcp_syn() {
        let p = parse(&TCP_SYN).unwrap();
        assert_eq!(p.ip_len, 60);
        assert_eq!(
            p.tuple,
            Tuple { src: crate::tuple::Addr::V4(A), dst: crate::tuple::Addr::V4(B), proto: proto::TCP, l4: L4::Ports { sport: 32775, dport: 22 } }
        );
        assert_eq!(
            p.l4,
            L4Info::Tcp(Segment {
                seq: 0x6b8b_4567,
                ack: 0,
                window: 64240,
                flags: TcpFlags(TcpFlags::SYN),
                payload_len: 0,
                wscale: Some(7),
                sack_perm: true,
                sack_edge: None,
            })
        );
    }

    #[test]
    fn tcp_ack_with_sack_and_payload() {
        let p = parse(&TCP_ACK_SACK).unwrap();
        let L4Info::Tcp(seg) = p.l4 else { panic!("not tcp: {p:?}") };
        assert_eq!(seg.seq, 0x1122_3344);
        assert_eq!(seg.ack, 0x6b8b_4568);
        assert_eq!(seg.window, 501);
        assert_eq!(seg.flags, TcpFlags(TcpFlags::ACK | TcpFlags::PSH));
        assert_eq!(seg.payload_len, 5);
        assert_eq!(seg.wscale, None);
        assert!(!seg.sack_perm);
        assert_eq!(seg.sack_edge, Some(0x1000));
        assert_eq!(p.tuple.l4, L4::Ports { sport: 22, dport: 32775 });
    }

    #[test]
    fn udp() {
        let p = parse(&UDP_DNS).unwrap();
        assert_eq!(
            p.tuple,
            Tuple {
                src: crate::tuple::Addr::V4(A),
                dst: crate::tuple::Addr::V4(DNS),
                proto: proto::UDP,
                l4: L4::Ports { sport: 53000, dport: 53 }
            }
        );
        assert_eq!(p.l4, L4Info::Udp);
        assert_eq!(p.ip_len, 32);
    }

    #[test]
    fn ip_options_are_skipped() {
        let p = parse(&UDP_WITH_IP_OPTIONS).unwrap();
        assert_eq!(p.tuple.l4, L4::Ports { sport: 53000, dport: 53 });
    }

    #[test]
    fn icmp_echo() {
        let p = parse(&ICMP_ECHO).unwrap();
        assert_eq!(
            p.tuple,
            Tuple {
                src: crate::tuple::Addr::V4(A),
                dst: crate::tuple::Addr::V4(B),
                proto: proto::ICMP,
                l4: L4::Icmp { ty: 8, code: 0, id: 0x1234 }
            }
        );
        assert_eq!(p.l4, L4Info::Icmp(IcmpInfo::Query));
        // The reply type is a query too.
        let reply = parse(&with_u8(&ICMP_ECHO, 20, 0)).unwrap();
        assert_eq!(reply.l4, L4Info::Icmp(IcmpInfo::Query));
        assert_eq!(reply.tuple.l4, L4::Icmp { ty: 0, code: 0, id: 0x1234 });
    }

    #[test]
    fn icmp_other_types() {
        // Router advertisement and solicitation (9, 10), timestamps'
        // neighbours: known types that are neither queries nor errors.
        for ty in [9, 10] {
            let p = parse(&with_u8(&ICMP_ECHO, 20, ty)).unwrap();
            assert_eq!(p.l4, L4Info::Icmp(IcmpInfo::Other), "type {ty}");
            assert_eq!(p.tuple.l4, L4::Icmp { ty, code: 0, id: 0x1234 });
        }
        // Past NR_ICMP_TYPES: 6.12's error handler refuses them.
        for ty in [19, 42, 255] {
            assert_eq!(parse(&with_u8(&ICMP_ECHO, 20, ty)), Err(Invalid::IcmpBadType), "type {ty}");
        }
    }

    #[test]
    fn icmp_error_quotes_inner_tuple() {
        let p = parse(&ICMP_PORT_UNREACH).unwrap();
        assert_eq!(
            p.tuple,
            Tuple { src: crate::tuple::Addr::V4(DNS), dst: crate::tuple::Addr::V4(A), proto: proto::ICMP, l4: L4::Icmp { ty: 3, code: 3, id: 0 } }
        );
        let inner = Tuple {
            src: crate::tuple::Addr::V4(A),
            dst: crate::tuple::Addr::V4(DNS),
            proto: proto::UDP,
            l4: L4::Ports { sport: 53000, dport: 53 },
        };
        assert_eq!((p.l4, p.quoted), (L4Info::Icmp(IcmpInfo::Error), Some(inner)));
    }

    #[test]
    fn every_icmp_error_type_parses_the_quote() {
        for ty in [3, 4, 5, 11, 12] {
            let p = parse(&with_u8(&ICMP_PORT_UNREACH, 20, ty)).unwrap();
            assert!(matches!(p.l4, L4Info::Icmp(IcmpInfo::Error)) && p.quoted.is_some(), "type {ty}");
        }
    }

    #[test]
    fn icmp_error_quoting_tcp_and_icmp_query() {
        // Quote TCP_SYN's first 28 bytes (header + ports + seq).
        let mut p = ICMP_PORT_UNREACH[..28].to_vec();
        p.extend_from_slice(&TCP_SYN[..28]);
        let total = p.len() as u16;
        let p = with_u16(&p, 2, total);
        let inner = parse(&p).unwrap().quoted.unwrap();
        assert_eq!(inner.l4, L4::Ports { sport: 32775, dport: 22 });
        assert_eq!(inner.proto, proto::TCP);

        let mut p = ICMP_PORT_UNREACH[..28].to_vec();
        p.extend_from_slice(&ICMP_ECHO[..28]);
        let p = with_u16(&p, 2, total);
        let inner = parse(&p).unwrap().quoted.unwrap();
        assert_eq!(inner.l4, L4::Icmp { ty: 8, code: 0, id: 0x1234 });

        // Unknown inner protocol: addresses only.
        let mut p = ICMP_PORT_UNREACH[..28].to_vec();
        p.extend_from_slice(&GRE);
        p.extend_from_slice(&[0; 4]);
        let total = p.len() as u16;
        let p = with_u16(&p, 2, total);
        let inner = parse(&p).unwrap().quoted.unwrap();
        assert_eq!(inner, Tuple { src: crate::tuple::Addr::V4(A), dst: crate::tuple::Addr::V4(B), proto: 47, l4: L4::None });
    }

    #[test]
    fn icmp_error_in_error() {
        let mut p = ICMP_PORT_UNREACH[..28].to_vec();
        p.extend_from_slice(&ICMP_PORT_UNREACH[..28]);
        let total = p.len() as u16;
        let p = with_u16(&p, 2, total);
        assert_eq!(parse(&p), Err(Invalid::IcmpErrorInError));
    }

    #[test]
    fn icmp_error_bad_inner() {
        // Inner IHL < 5.
        assert_eq!(parse(&with_u8(&ICMP_PORT_UNREACH, 28, 0x44)), Err(Invalid::IcmpErrorBadInner));
        // Inner IHL beyond what is quoted (15 words = 60 bytes).
        assert_eq!(parse(&with_u8(&ICMP_PORT_UNREACH, 28, 0x4f)), Err(Invalid::IcmpErrorBadInner));
        // Inner IHL 7 leaves no layer-4 bytes.
        assert_eq!(parse(&with_u8(&ICMP_PORT_UNREACH, 28, 0x47)), Err(Invalid::IcmpErrorBadInner));
        // Fewer than the 4 bytes of UDP ports quoted.
        let short = with_u16(&ICMP_PORT_UNREACH[..51], 2, 51);
        assert_eq!(parse(&short), Err(Invalid::IcmpErrorBadInner));
        // Quoted header cut short.
        let short = with_u16(&ICMP_PORT_UNREACH[..40], 2, 40);
        assert_eq!(parse(&short), Err(Invalid::IcmpErrorBadInner));
        // Nothing quoted at all.
        let bare = with_u16(&ICMP_PORT_UNREACH[..28], 2, 28);
        assert_eq!(parse(&bare), Err(Invalid::IcmpErrorBadInner));
        // A non-first fragment quoted (offset 1 = 8 bytes).
        assert_eq!(
            parse(&with_u16(&ICMP_PORT_UNREACH, 34, 0x0001)),
            Err(Invalid::IcmpErrorBadInner)
        );
    }

    #[test]
    fn icmp_error_quote_needs_what_linux_reads() {
        // TCP/UDP: the ports (4 bytes) are enough, as nf_ct_get_tuple_ports.
        let four = with_u16(&ICMP_PORT_UNREACH[..52], 2, 52);
        let inner = parse(&four).unwrap().quoted.unwrap();
        assert_eq!(inner.l4, L4::Ports { sport: 53000, dport: 53 });
        // Another protocol: the addresses alone (no layer-4 bytes).
        let mut gre = ICMP_PORT_UNREACH[..48].to_vec();
        gre[28 + 9] = 47;
        let gre = with_u16(&gre, 2, 48);
        let inner = parse(&gre).unwrap().quoted.unwrap();
        assert_eq!((inner.proto, inner.l4), (47, L4::None));
        // ICMP: the whole 8-byte header (icmp_pkt_to_tuple).
        let mut p = ICMP_PORT_UNREACH[..28].to_vec();
        p.extend_from_slice(&ICMP_ECHO[..27]);
        let p = with_u16(&p, 2, 55);
        assert_eq!(parse(&p), Err(Invalid::IcmpErrorBadInner));
        assert_eq!((quoted_l4_len(proto::TCP), quoted_l4_len(proto::ICMP)), (4, QUOTED_L4_LEN));
    }

    #[test]
    fn icmp_error_quote_may_be_truncated_or_first_fragment() {
        // Inner total length far larger than quoted: normal.
        let p = with_u16(&ICMP_PORT_UNREACH, 30, 1500);
        assert!(parse(&p).is_ok());
        // Inner first fragment (MF, offset 0) still has its ports.
        let p = with_u16(&ICMP_PORT_UNREACH, 34, 0x2000);
        assert!(parse(&p).is_ok());
    }

    #[test]
    fn icmp_error_quote_is_bounded_by_outer_total_length() {
        // The quoted UDP ports lie partly in the padding after the outer
        // total length: not part of the packet.
        let p = with_u16(&ICMP_PORT_UNREACH, 2, 51);
        assert_eq!(parse(&p), Err(Invalid::IcmpErrorBadInner));
    }

    #[test]
    fn other_protocol() {
        let p = parse(&GRE).unwrap();
        assert_eq!(p.tuple, Tuple { src: crate::tuple::Addr::V4(A), dst: crate::tuple::Addr::V4(B), proto: 47, l4: L4::None });
        assert_eq!(p.l4, L4Info::Other);
    }

    #[test]
    fn bad_ip_headers() {
        // Too short for a header at all.
        assert_eq!(parse(&[]), Err(Invalid::BadIpHeader));
        assert_eq!(parse(&UDP_DNS[..19]), Err(Invalid::BadIpHeader));
        // Version 6.
        assert_eq!(parse(&with_u8(&UDP_DNS, 0, 0x65)), Err(Invalid::BadIpHeader));
        // IHL < 5.
        for ihl in 0..5 {
            assert_eq!(parse(&with_u8(&UDP_DNS, 0, 0x40 | ihl)), Err(Invalid::BadIpHeader));
        }
        // IHL beyond the packet (15 words = 60 > 32).
        assert_eq!(parse(&with_u8(&UDP_DNS, 0, 0x4f)), Err(Invalid::BadIpHeader));
        // Total length below the header length.
        assert_eq!(parse(&with_u16(&UDP_DNS, 2, 19)), Err(Invalid::BadIpHeader));
        assert_eq!(parse(&with_u16(&UDP_WITH_IP_OPTIONS, 2, 23)), Err(Invalid::BadIpHeader));
        // Total length beyond the frame.
        assert_eq!(parse(&with_u16(&UDP_DNS, 2, 33)), Err(Invalid::BadIpHeader));
        assert_eq!(parse_packet(&UDP_DNS, 31), Err(Invalid::BadIpHeader));
    }

    #[test]
    fn padding_after_total_length_is_ignored() {
        let mut p = UDP_DNS.to_vec();
        p.extend_from_slice(&[0; 14]); // Ethernet minimum-size padding
        assert_eq!(parse(&p), parse(&UDP_DNS));
        // Bytes of head beyond frame_len are ignored too.
        assert_eq!(parse_packet(&p, UDP_DNS.len()), parse(&UDP_DNS));
        // A TCP payload length comes from the total length, not the frame.
        let mut p = TCP_ACK_SACK.to_vec();
        p.extend_from_slice(&[0; 20]);
        let L4Info::Tcp(seg) = parse(&p).unwrap().l4 else { panic!() };
        assert_eq!(seg.payload_len, 5);
    }

    #[test]
    fn head_may_be_a_prefix() {
        // Only headers need to be in head; the frame is longer.
        let mut big = TCP_ACK_SACK.to_vec();
        big.extend_from_slice(&[0x55; 1000]);
        let big = with_u16(&big, 2, big.len() as u16);
        let p = parse_packet(&big[..64], big.len()).unwrap();
        let L4Info::Tcp(seg) = p.l4 else { panic!() };
        assert_eq!(seg.payload_len, 1005);
        assert_eq!(p.ip_len, 1069);
        // A head that stops inside the TCP options is not enough.
        assert_eq!(parse_packet(&big[..50], big.len()), Err(Invalid::BadL4Header));
    }

    #[test]
    fn fragments() {
        // MF set, offset 0: first fragment.
        assert_eq!(parse(&with_u16(&UDP_DNS, 6, 0x2000)), Err(Invalid::Fragment));
        // Offset != 0, MF clear: last fragment.
        assert_eq!(parse(&with_u16(&UDP_DNS, 6, 0x00b9)), Err(Invalid::Fragment));
        // Both.
        assert_eq!(parse(&with_u16(&UDP_DNS, 6, 0x2001)), Err(Invalid::Fragment));
        // DF alone is fine.
        assert!(parse(&with_u16(&UDP_DNS, 6, 0x4000)).is_ok());
        // A fragment with a header too short for TCP is still a fragment.
        let frag = with_u16(&TCP_SYN[..24], 2, 24);
        assert_eq!(parse(&with_u16(&frag, 6, 0x0001)), Err(Invalid::Fragment));
    }

    #[test]
    fn bad_tcp_headers() {
        // Shorter than 20 bytes of TCP.
        let short = with_u16(&TCP_SYN[..39], 2, 39);
        assert_eq!(parse(&short), Err(Invalid::BadL4Header));
        // Data offset < 5.
        for doff in 0..5u8 {
            assert_eq!(parse(&with_u8(&TCP_SYN, 32, doff << 4)), Err(Invalid::BadL4Header));
        }
        // Data offset beyond the segment (15 words = 60 > 40).
        assert_eq!(parse(&with_u8(&TCP_SYN, 32, 0xf0)), Err(Invalid::BadL4Header));
        // Data offset beyond the total length, though inside the frame.
        let mut padded = TCP_SYN.to_vec();
        padded.extend_from_slice(&[0; 20]);
        assert_eq!(parse(&with_u8(&padded, 32, 0xf0)), Err(Invalid::BadL4Header));
        // Data offset 5 on the SYN: no options, the rest is payload.
        let p = parse(&with_u8(&TCP_SYN, 32, 0x50)).unwrap();
        let L4Info::Tcp(seg) = p.l4 else { panic!() };
        assert_eq!((seg.payload_len, seg.wscale, seg.sack_perm), (20, None, false));
    }

    #[test]
    fn bad_udp_headers() {
        // Fewer than 8 bytes of UDP.
        let short = with_u16(&UDP_DNS[..27], 2, 27);
        assert_eq!(parse(&short), Err(Invalid::BadL4Header));
        // Length field < 8.
        for len in 0..8 {
            assert_eq!(parse(&with_u16(&UDP_DNS, 24, len)), Err(Invalid::BadL4Header));
        }
        // Length field larger than the IP payload.
        assert_eq!(parse(&with_u16(&UDP_DNS, 24, 13)), Err(Invalid::BadL4Header));
        // Length field smaller than the IP payload is fine (as Linux).
        assert!(parse(&with_u16(&UDP_DNS, 24, 8)).is_ok());
    }

    #[test]
    fn bad_icmp_headers() {
        let short = with_u16(&ICMP_ECHO[..27], 2, 27);
        assert_eq!(parse(&short), Err(Invalid::IcmpShort));
        // The ICMP header lies in the padding only.
        let mut p = ICMP_ECHO.to_vec();
        p.truncate(20);
        p.extend_from_slice(&ICMP_ECHO[20..28]);
        assert_eq!(parse(&with_u16(&p, 2, 24)), Err(Invalid::IcmpShort));
    }

    #[test]
    fn max_head_len_is_enough() {
        // The largest ICMP error: both IHLs 15, 8 quoted bytes, padded.
        let mut p = ICMP_PORT_UNREACH[..20].to_vec();
        p[0] = 0x4f;
        p.extend_from_slice(&[1; 40]); // IP options
        p.extend_from_slice(&ICMP_PORT_UNREACH[20..48]);
        p[68] = 0x4f;
        p.extend_from_slice(&[1; 40]);
        p.extend_from_slice(&ICMP_PORT_UNREACH[48..56]);
        assert_eq!(p.len(), MAX_HEAD_LEN);
        let mut frame = p.clone();
        frame.extend_from_slice(&[0; 300]);
        let frame = with_u16(&frame, 2, frame.len() as u16);
        let full = parse(&frame).unwrap();
        assert_eq!(parse_packet(&frame[..MAX_HEAD_LEN], frame.len()), Ok(full));
        // A quoted UDP header needs only its ports there; a quoted ICMP
        // header all 8 bytes.
        assert_eq!(parse_packet(&frame[..MAX_HEAD_LEN - 4], frame.len()), Ok(full));
        let mut icmp_inner = frame.clone();
        icmp_inner[68 + 9] = proto::ICMP;
        assert!(parse(&icmp_inner).is_ok());
        assert_eq!(
            parse_packet(&icmp_inner[..MAX_HEAD_LEN - 1], frame.len()),
            Err(Invalid::IcmpErrorBadInner)
        );
    }

    /// The IPv4 header checksum and the layer-4 checksum over the pseudo
    /// header are correct in every golden packet.
    #[test]
    fn golden_checksums() {
        let all: [&[u8]; 7] = [
            &TCP_SYN,
            &TCP_ACK_SACK,
            &UDP_DNS,
            &ICMP_ECHO,
            &ICMP_PORT_UNREACH,
            &GRE,
            &UDP_WITH_IP_OPTIONS,
        ];
        for p in all {
            let ip = Ipv4::new_checked(p).unwrap();
            assert!(ip.checksum_valid(), "{p:02x?}");
            let l4 = ip.payload();
            if ip.protocol() == proto::ICMP {
                assert_eq!(checksum(l4), 0);
            } else if ip.protocol() != 47 {
                let mut buf = p[12..20].to_vec();
                buf.extend_from_slice(&[0, ip.protocol()]);
                buf.extend_from_slice(&(l4.len() as u16).to_be_bytes());
                buf.extend_from_slice(l4);
                assert_eq!(checksum(&buf), 0, "{p:02x?}");
            }
        }
        // RFC 1071's example, odd length handled as a zero-padded word.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), !0xddf2);
        assert_eq!(checksum(&[0xff]), !0xff00);
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn seq_after_wraps() {
        assert!(seq_after(1, 0));
        assert!(!seq_after(0, 1));
        assert!(!seq_after(5, 5));
        assert!(seq_after(0, u32::MAX));
        assert!(seq_after(0x7fff_ffff, 0));
        // Exactly half the space apart, each is "after" the other, as with
        // the kernel's after().
        assert!(seq_after(0x8000_0000, 0));
        assert!(seq_after(0, 0x8000_0000));
    }

    proptest::proptest! {
        /// Arbitrary bytes and frame lengths: no panic, and a head of
        /// MAX_HEAD_LEN bytes decides like the whole packet.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
                           frame in 0usize..400) {
            let full = parse_packet(&bytes, frame);
            let prefix = &bytes[..bytes.len().min(MAX_HEAD_LEN)];
            proptest::prop_assert_eq!(parse_packet(prefix, frame), full);
        }

        /// Golden packets with a few bytes changed: no panic, and a result
        /// consistent with the header bytes.
        #[test]
        fn mutated_golden_packets(which in 0usize..7,
                                  edits in proptest::collection::vec((0usize..80, proptest::num::u8::ANY), 1..4),
                                  extra in 0usize..40) {
            let all: [&[u8]; 7] =
                [&TCP_SYN, &TCP_ACK_SACK, &UDP_DNS, &ICMP_ECHO, &ICMP_PORT_UNREACH, &GRE, &UDP_WITH_IP_OPTIONS];
            let mut p = all[which].to_vec();
            for (at, v) in edits {
                if let Some(b) = p.get_mut(at) {
                    *b = v;
                }
            }
            let frame = p.len() + extra;
            p.resize(frame, 0);
            if let Ok(pkt) = parse_packet(&p, frame) {
                proptest::prop_assert!(usize::from(pkt.ip_len) <= frame);
                proptest::prop_assert_eq!(pkt.tuple.proto, p[9]);
                proptest::prop_assert_eq!(pkt.tuple.dst, u32::from_be_bytes([p[16], p[17], p[18], p[19]]));
                if let L4Info::Tcp(seg) = pkt.l4 {
                    proptest::prop_assert!(seg.wscale.is_none_or(|w| w <= 14));
                    proptest::prop_assert!(seg.payload_len as usize + 40 <= usize::from(pkt.ip_len));
                }
            }
        }
    }

    #[test]
    fn truncation_at_every_length_never_panics() {
        for pkt in [&TCP_SYN[..], &TCP_ACK_SACK, &UDP_DNS, &ICMP_ECHO, &ICMP_PORT_UNREACH, &GRE] {
            for n in 0..=pkt.len() {
                for frame in [n, pkt.len(), pkt.len() + 100, 0] {
                    let _ = parse_packet(&pkt[..n], frame);
                }
                if n < pkt.len() {
                    // A frame shorter than the total length is invalid.
                    assert_eq!(parse_packet(&pkt[..n], n), Err(Invalid::BadIpHeader));
                }
            }
        }
    }
}
