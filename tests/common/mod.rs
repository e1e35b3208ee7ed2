//! Packet builders for the host tests: real IPv4 bytes (with correct
//! checksums) that go through `packet::parse` like packets on a wire.

#![allow(dead_code)]

use ip_conntrack::config::Config;
use ip_conntrack::hash::HashKey;
use ip_conntrack::ctinfo::CtInfo;
use ip_conntrack::host::{Tracker, Verdict};
use ip_conntrack::invalid::Invalid;
use ip_conntrack::tuple::{proto, Tuple, L4};

pub mod ctnl;
pub mod ipv6;

/// `a.b.c.d` as the engine's address number.
pub const fn addr(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

/// The client, router-side server and a third host of the tests.
pub const CLIENT: u32 = addr(192, 0, 2, 1);
pub const SERVER: u32 = addr(198, 51, 100, 2);
pub const ROUTER: u32 = addr(203, 0, 113, 1);

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from(chunk[0]) << 8
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet around `payload` (20-byte header, DF set, TTL 64).
pub fn ipv4(src: u32, dst: u32, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0x00];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, 64, protocol, 0, 0]);
    p.extend_from_slice(&src.to_be_bytes());
    p.extend_from_slice(&dst.to_be_bytes());
    let c = checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn pseudo_checksum(src: u32, dst: u32, protocol: u8, l4: &[u8]) -> u16 {
    let mut buf = Vec::with_capacity(12 + l4.len());
    buf.extend_from_slice(&src.to_be_bytes());
    buf.extend_from_slice(&dst.to_be_bytes());
    buf.extend_from_slice(&[0, protocol]);
    buf.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    buf.extend_from_slice(l4);
    checksum(&buf)
}

/// A TCP segment's fields.
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Window scale option (SYNs).
    pub wscale: Option<u8>,
    pub len: usize,
}

impl Seg {
    pub fn new(flags: u8, seq: u32, ack: u32) -> Seg {
        Seg {
            seq,
            ack,
            flags,
            window: 64240,
            wscale: None,
            len: 0,
        }
    }
}

/// A TCP packet.
pub fn tcp(src: u32, sport: u16, dst: u32, dport: u16, s: Seg) -> Vec<u8> {
    let mut opts = Vec::new();
    if let Some(ws) = s.wscale {
        opts.extend_from_slice(&[1, 3, 3, ws]);
    }
    let hlen = 20 + opts.len();
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&s.seq.to_be_bytes());
    t.extend_from_slice(&s.ack.to_be_bytes());
    t.push(((hlen / 4) as u8) << 4);
    t.push(s.flags);
    t.extend_from_slice(&s.window.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(&opts);
    t.extend(std::iter::repeat_n(0x61, s.len));
    let c = pseudo_checksum(src, dst, proto::TCP, &t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    ipv4(src, dst, proto::TCP, &t)
}

/// A UDP datagram with `payload`.
pub fn udp(src: u32, sport: u16, dst: u32, dport: u16, payload: &[u8]) -> Vec<u8> {
    let u = udp_header(sport, dport, payload, |u| pseudo_checksum(src, dst, proto::UDP, u));
    ipv4(src, dst, proto::UDP, &u)
}

/// A UDP header and payload, its checksum from `sum` over the datagram
/// (the family's pseudo-header is the caller's).
pub fn udp_header(sport: u16, dport: u16, payload: &[u8], sum: impl Fn(&[u8]) -> u16) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let c = sum(&u);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

/// An ICMP message with type, code, the 4 "rest of header" bytes and data.
pub fn icmp_raw(src: u32, dst: u32, ty: u8, code: u8, rest: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(data);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    ipv4(src, dst, proto::ICMP, &m)
}

/// An ICMP query or answer (echo 8/0, timestamp 13/14, ...).
pub fn icmp_query(src: u32, dst: u32, ty: u8, id: u16, seq: u16) -> Vec<u8> {
    let mut rest = [0u8; 4];
    rest[..2].copy_from_slice(&id.to_be_bytes());
    rest[2..].copy_from_slice(&seq.to_be_bytes());
    icmp_raw(src, dst, ty, 0, rest, b"ping data 0123456789")
}

/// An ICMP error from `src` to `dst` quoting the IP header and first 8
/// layer-4 bytes of `original`.
pub fn icmp_error(src: u32, dst: u32, ty: u8, code: u8, original: &[u8]) -> Vec<u8> {
    let quoted = &original[..original.len().min(28)];
    icmp_raw(src, dst, ty, code, [0; 4], quoted)
}

/// A packet of another protocol (GRE, 47) with a small payload.
pub fn other(src: u32, dst: u32, protocol: u8) -> Vec<u8> {
    ipv4(src, dst, protocol, &[0, 0, 0x08, 0x00, 1, 2, 3, 4])
}

/// An SCTP packet with tag `vtag` and chunks `(type, flags, body)`.
pub fn sctp(src: u32, sport: u16, dst: u32, dport: u16, vtag: u32, chunks: &[(u8, u8, &[u8])]) -> Vec<u8> {
    let mut l4 = Vec::new();
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&vtag.to_be_bytes());
    l4.extend_from_slice(&[0; 4]);
    for (ty, flags, body) in chunks {
        l4.extend_from_slice(&[*ty, *flags]);
        l4.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        l4.extend_from_slice(body);
        while l4.len() % 4 != 0 {
            l4.push(0);
        }
    }
    ipv4(src, dst, proto::SCTP, &l4)
}

/// The fixed part of an INIT or INIT ACK with initiate tag `tag`.
pub fn init_body(tag: u32) -> Vec<u8> {
    let mut b = tag.to_be_bytes().to_vec();
    b.extend_from_slice(&[0, 1, 0, 0, 0, 10, 0, 10, 0, 0, 0, 1]);
    b
}

/// A DCCP packet of type `ty` with X set (48-bit numbers), sequence
/// `seq`, and for types with an acknowledgement subheader, `ack`.
pub fn dccp(src: u32, sport: u16, dst: u32, dport: u16, ty: u8, seq: u64, ack: u64) -> Vec<u8> {
    let mut l4 = Vec::new();
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&[0, 0, 0, 0, ty << 1 | 1, 0]);
    l4.extend_from_slice(&((seq >> 32) as u16).to_be_bytes());
    l4.extend_from_slice(&(seq as u32).to_be_bytes());
    match ty {
        2 => {}
        0 => l4.extend_from_slice(&42u32.to_be_bytes()),
        _ => {
            l4.extend_from_slice(&[0, 0]);
            l4.extend_from_slice(&((ack >> 32) as u16).to_be_bytes());
            l4.extend_from_slice(&(ack as u32).to_be_bytes());
            if ty == 1 || ty == 7 {
                l4.extend_from_slice(&[0, 0, 0, 42]);
            }
        }
    }
    l4[4] = (l4.len() / 4) as u8;
    ipv4(src, dst, proto::DCCP, &l4)
}

/// A UDP-Lite datagram with coverage field `cscov` and a non-zero
/// checksum field (the host does not verify it).
pub fn udplite(src: u32, sport: u16, dst: u32, dport: u16, cscov: u16, payload: &[u8]) -> Vec<u8> {
    let mut l4 = Vec::new();
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&cscov.to_be_bytes());
    l4.extend_from_slice(&0x1234u16.to_be_bytes());
    l4.extend_from_slice(payload);
    ipv4(src, dst, proto::UDPLITE, &l4)
}

/// The classification of a tracked packet (panics otherwise).
pub fn ct(v: Verdict) -> CtInfo {
    v.ctinfo().unwrap_or_else(|| panic!("not tracked: {v:?}"))
}

/// Why a packet was INVALID (panics otherwise).
pub fn invalid(v: Verdict) -> Invalid {
    match v {
        Verdict::Invalid(why) => why,
        other => panic!("not invalid: {other:?}"),
    }
}

/// A UDP tuple.
pub fn udp_tuple(src: u32, sport: u16, dst: u32, dport: u16) -> Tuple {
    Tuple {
        src: ip_conntrack::tuple::Addr::V4(src),
        dst: ip_conntrack::tuple::Addr::V4(dst),
        proto: proto::UDP,
        l4: L4::Ports { sport, dport },
    }
}

/// A TCP tuple.
pub fn tcp_tuple(src: u32, sport: u16, dst: u32, dport: u16) -> Tuple {
    Tuple {
        src: ip_conntrack::tuple::Addr::V4(src),
        dst: ip_conntrack::tuple::Addr::V4(dst),
        proto: proto::TCP,
        l4: L4::Ports { sport, dport },
    }
}

/// A tracker with `buckets` buckets and at most `max` entries, default
/// settings and a fixed key.
pub fn tracker(buckets: u32, max: usize) -> Tracker {
    Tracker::new(
        buckets,
        max,
        HashKey::new(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210),
        Config::DEFAULT,
    )
}

/// Seconds as milliseconds.
pub const fn s(secs: u64) -> u64 {
    secs * 1000
}

/// A TCP connection between CLIENT:cport and SERVER:sport with both
/// sides' next sequence numbers.
pub struct Conn {
    pub cport: u16,
    pub sport: u16,
    pub cseq: u32,
    pub sseq: u32,
}

impl Conn {
    pub fn new(cport: u16, sport: u16) -> Conn {
        Conn {
            cport,
            sport,
            cseq: 1_000_000,
            sseq: 5_000_000,
        }
    }

    /// A client -> server segment with `flags` and `len` data bytes;
    /// advances the client's sequence.
    pub fn c(&mut self, flags: u8, len: usize) -> Vec<u8> {
        let mut s = Seg::new(
            flags,
            self.cseq,
            if flags & ACK != 0 { self.sseq } else { 0 },
        );
        s.len = len;
        if flags & SYN != 0 {
            s.wscale = Some(7);
        }
        self.cseq = self
            .cseq
            .wrapping_add(len as u32 + u32::from(flags & (SYN | FIN) != 0));
        tcp(CLIENT, self.cport, SERVER, self.sport, s)
    }

    /// A server -> client segment; advances the server's sequence.
    pub fn s(&mut self, flags: u8, len: usize) -> Vec<u8> {
        let mut s = Seg::new(
            flags,
            self.sseq,
            if flags & ACK != 0 { self.cseq } else { 0 },
        );
        s.len = len;
        if flags & SYN != 0 {
            s.wscale = Some(7);
        }
        self.sseq = self
            .sseq
            .wrapping_add(len as u32 + u32::from(flags & (SYN | FIN) != 0));
        tcp(SERVER, self.sport, CLIENT, self.cport, s)
    }

    pub fn tuple(&self) -> Tuple {
        tcp_tuple(CLIENT, self.cport, SERVER, self.sport)
    }
}
