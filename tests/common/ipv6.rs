//! IPv6 packet builders for the host tests: real bytes with correct
//! upper-layer checksums (RFC 8200 pseudo-header).

use super::{checksum, udp_header, Seg};
use ip_conntrack::tuple::proto;

/// An IPv6 address as its 16 bytes.
pub type A6 = [u8; 16];

/// `2001:db8::N`.
pub const fn db8(n: u8) -> A6 {
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n]
}

/// `fe80::N`, a link-local address.
pub const fn ll(n: u8) -> A6 {
    [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n]
}

pub const C6: A6 = db8(1);
pub const S6: A6 = db8(2);
pub const R6: A6 = db8(3);

/// Next-header numbers of the extension headers.
pub const HOP: u8 = 0;
pub const ROUTING: u8 = 43;
pub const FRAGMENT: u8 = 44;
pub const DEST: u8 = 60;
pub const ICMPV6: u8 = 58;

fn pseudo(src: &A6, dst: &A6, next: u8, l4: &[u8]) -> u16 {
    let mut b = Vec::new();
    b.extend_from_slice(src);
    b.extend_from_slice(dst);
    b.extend_from_slice(&(l4.len() as u32).to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, next]);
    b.extend_from_slice(l4);
    checksum(&b)
}

/// An IPv6 packet with hop limit `hl`, first next header `next` and
/// everything after the fixed header in `rest`.
pub fn ip6_hl(src: &A6, dst: &A6, hl: u8, next: u8, rest: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, hl]);
    p.extend_from_slice(src);
    p.extend_from_slice(dst);
    p.extend_from_slice(rest);
    p
}

/// [`ip6_hl`] with hop limit 64.
pub fn ip6(src: &A6, dst: &A6, next: u8, rest: &[u8]) -> Vec<u8> {
    ip6_hl(src, dst, 64, next, rest)
}

/// An options header (hop-by-hop or destination) of 8 bytes naming `next`.
pub fn opts_hdr(next: u8) -> Vec<u8> {
    vec![next, 0, 1, 4, 0, 0, 0, 0]
}

/// An options header (hop-by-hop or destination) of `len` bytes (a
/// multiple of 8, at most 2,048) naming `next`, filled with options of an
/// unknown type a receiver skips (0x1e, RFC 4727), as many as needed.
pub fn long_opts_hdr(next: u8, len: usize) -> Vec<u8> {
    assert!(len.is_multiple_of(8) && (8..=2048).contains(&len));
    let mut h = vec![next, (len / 8 - 1) as u8];
    while h.len() < len {
        let n = (len - h.len()).min(257);
        if n == 1 {
            h.push(0); // Pad1
        } else {
            h.extend_from_slice(&[0x1e, (n - 2) as u8]);
            h.resize(h.len() + n - 2, 0);
        }
    }
    h
}

/// A fragment header naming `next`: offset in 8-byte units, more flag.
pub fn frag_hdr(next: u8, offset: u16, more: bool) -> Vec<u8> {
    let f = offset << 3 | u16::from(more);
    let mut h = vec![next, 0];
    h.extend_from_slice(&f.to_be_bytes());
    h.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    h
}

fn tcp_seg(src: &A6, sport: u16, dst: &A6, dport: u16, s: Seg) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&s.seq.to_be_bytes());
    t.extend_from_slice(&s.ack.to_be_bytes());
    t.push(5 << 4);
    t.push(s.flags);
    t.extend_from_slice(&s.window.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend(std::iter::repeat_n(0x61, s.len));
    let c = pseudo(src, dst, proto::TCP, &t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// A TCP segment over IPv6 (no options).
pub fn tcp6(src: &A6, sport: u16, dst: &A6, dport: u16, s: Seg) -> Vec<u8> {
    ip6(src, dst, proto::TCP, &tcp_seg(src, sport, dst, dport, s))
}

/// The UDP header and payload.
pub fn udp_dgram(src: &A6, sport: u16, dst: &A6, dport: u16, payload: &[u8]) -> Vec<u8> {
    udp_header(sport, dport, payload, |u| pseudo(src, dst, proto::UDP, u))
}

/// A UDP datagram over IPv6.
pub fn udp6(src: &A6, sport: u16, dst: &A6, dport: u16, payload: &[u8]) -> Vec<u8> {
    ip6(src, dst, proto::UDP, &udp_dgram(src, sport, dst, dport, payload))
}

/// A UDP datagram behind the extension headers `exts` (each names the
/// next; the last must name UDP).
pub fn udp6_ext(src: &A6, sport: u16, dst: &A6, dport: u16, first: u8, exts: &[Vec<u8>]) -> Vec<u8> {
    let mut rest: Vec<u8> = exts.concat();
    rest.extend_from_slice(&udp_dgram(src, sport, dst, dport, b"data"));
    ip6(src, dst, first, &rest)
}

/// The ICMPv6 message bytes (checksum filled in).
pub fn icmp6_msg(src: &A6, dst: &A6, ty: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(data);
    let c = pseudo(src, dst, ICMPV6, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An ICMPv6 message behind the extension headers `exts` (each names the
/// next; the last must name ICMPv6).
pub fn icmp6_ext(src: &A6, dst: &A6, first: u8, exts: &[Vec<u8>], ty: u8, code: u8, data: &[u8]) -> Vec<u8> {
    let mut rest: Vec<u8> = exts.concat();
    rest.extend_from_slice(&icmp6_msg(src, dst, ty, code, [0; 4], data));
    ip6(src, dst, first, &rest)
}

/// An ICMPv6 message with hop limit `hl`.
pub fn icmp6_hl(src: &A6, dst: &A6, hl: u8, ty: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    ip6_hl(src, dst, hl, ICMPV6, &icmp6_msg(src, dst, ty, code, rest, data))
}

/// An ICMPv6 message.
pub fn icmp6(src: &A6, dst: &A6, ty: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    icmp6_hl(src, dst, 64, ty, code, rest, data)
}

/// An echo request (128) or reply (129), or node information (139/140).
pub fn echo6(src: &A6, dst: &A6, ty: u8, id: u16, seq: u16) -> Vec<u8> {
    let mut rest = [0u8; 4];
    rest[..2].copy_from_slice(&id.to_be_bytes());
    rest[2..].copy_from_slice(&seq.to_be_bytes());
    icmp6(src, dst, ty, 0, rest, b"ping6 data")
}

/// An ICMPv6 error from `src` to `dst` quoting all of `original`.
pub fn error6(src: &A6, dst: &A6, ty: u8, code: u8, original: &[u8]) -> Vec<u8> {
    icmp6(src, dst, ty, code, [0; 4], original)
}
