//! Packet construction: a `Spec` says what to put in each field, `packet()`
//! turns it into the bytes of one IPv4 packet (header included), or of an
//! IPv6 packet when the spec has IPv6 addresses (`build6`).
//!
//! Checksums are computed over the packet as built, before any override
//! that breaks it on purpose (`bad_*`) and before truncation, so a truncated
//! packet carries the checksum of its full version, like a real packet cut
//! short on the way.

use crate::build6::{self, Ip6};
use crate::csum;

/// IP protocol numbers the builder knows how to fill in.
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_DCCP: u8 = 33;
pub const PROTO_SCTP: u8 = 132;
pub const PROTO_UDPLITE: u8 = 136;

/// TCP flag bits, in header order (byte 13).
pub const TCP_FLAGS: [(char, u8); 8] = [
    ('F', 0x01),
    ('S', 0x02),
    ('R', 0x04),
    ('P', 0x08),
    ('A', 0x10),
    ('U', 0x20),
    ('E', 0x40),
    ('C', 0x80),
];

const IPV4_HDR_LEN: usize = 20;
const TCP_HDR_LEN: usize = 20;
const UDP_HDR_LEN: usize = 8;
const ICMP_HDR_LEN: usize = 8;
const IP_DF: u16 = 0x4000;
const IP_MF: u16 = 0x2000;
const IP_OFFSET_MASK: u16 = 0x1fff;

/// ICMP types whose body quotes the packet that caused them (RFC 792).
pub fn icmp_is_error(icmp_type: u8) -> bool {
    matches!(icmp_type, 3 | 4 | 5 | 11 | 12)
}

/// Everything one packet is made of. `Default` is a TCP SYN with correct
/// lengths and checksums.
#[derive(Clone, Debug)]
pub struct Spec {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub proto: u8,
    pub tos: u8,
    pub ttl: u8,
    pub id: u16,
    pub df: bool,
    pub mf: bool,
    /// In 8-byte units, as in the header.
    pub frag_offset: u16,
    /// Header length field in 32-bit words; `None` means the real length.
    pub ihl: Option<u8>,
    /// Total length field; `None` means the real length.
    pub total_length: Option<u16>,
    /// Raw option bytes; padded with zeros (End of Options) to 4 bytes.
    pub ip_options: Vec<u8>,
    pub bad_ip_csum: bool,
    /// Breaks the TCP, UDP or ICMP checksum.
    pub bad_csum: bool,
    /// TCP and UDP ports.
    pub sport: u16,
    pub dport: u16,
    pub tcp: Tcp,
    pub udp: Udp,
    pub icmp: Icmp,
    pub sctp: Sctp,
    pub dccp: crate::dccp::Dccp,
    /// Bytes after the transport header (or after the IP header for other
    /// protocols; ignored by ICMP errors, whose body is the quote).
    pub payload: Vec<u8>,
    /// Keep only the first N bytes of the finished packet.
    pub truncate: Option<usize>,
    /// Send only bytes START..START+LEN of the layer-4 data (transport
    /// header included, checksums as for the whole), as the fragment at
    /// START: offset START / 8, MF set unless the slice reaches the end.
    pub frag_slice: Option<(usize, usize)>,
    /// IPv6 instead of IPv4 (`src`, `dst`, `id`, `df`, `ihl`,
    /// `total_length`, `ip_options` and `bad_ip_csum` are then unused).
    pub ip6: Option<Ip6>,
}

#[derive(Clone, Debug)]
pub struct Tcp {
    pub seq: u32,
    pub ack: u32,
    /// Bits as in `TCP_FLAGS`.
    pub flags: u8,
    pub window: u16,
    pub urgent: u16,
    /// Data offset field in 32-bit words; `None` means the real length.
    pub doff: Option<u8>,
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sackperm: bool,
    /// Raw option bytes appended after the named ones.
    pub options: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct Udp {
    /// Length field; `None` means the real length (UDP-Lite: 0, the
    /// checksum covers everything).
    pub len: Option<u16>,
    /// UDP-Lite: the protocol number in the checksum's pseudo-header
    /// (`None`: 136, as RFC 3828; 6.12's conntrack verifies with 17).
    pub csum_proto: Option<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct Sctp {
    /// Verification tag of the common header.
    pub vtag: u32,
    pub chunks: Vec<crate::sctp::Chunk>,
}

#[derive(Clone, Debug)]
pub struct Icmp {
    pub icmp_type: u8,
    pub code: u8,
    /// Bytes 4-5 and 6-7 of the header (echo id/sequence; for errors the
    /// "unused"/MTU/pointer word).
    pub id: u16,
    pub seq: u16,
    /// For error types: the packet quoted in the body.
    pub quote: Option<Box<Spec>>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            src: [0; 4],
            dst: [0; 4],
            proto: PROTO_TCP,
            tos: 0,
            ttl: 64,
            id: 0,
            df: false,
            mf: false,
            frag_offset: 0,
            ihl: None,
            total_length: None,
            ip_options: Vec::new(),
            bad_ip_csum: false,
            bad_csum: false,
            sport: 12345,
            dport: 80,
            tcp: Tcp::default(),
            udp: Udp::default(),
            icmp: Icmp::default(),
            sctp: Sctp::default(),
            dccp: crate::dccp::Dccp::default(),
            payload: Vec::new(),
            truncate: None,
            frag_slice: None,
            ip6: None,
        }
    }
}

impl Default for Tcp {
    fn default() -> Self {
        Tcp {
            seq: 1000,
            ack: 0,
            flags: 0x02,
            window: 64240,
            urgent: 0,
            doff: None,
            mss: None,
            wscale: None,
            sackperm: false,
            options: Vec::new(),
        }
    }
}

impl Default for Icmp {
    fn default() -> Self {
        Icmp { icmp_type: 8, code: 0, id: 1, seq: 1, quote: None }
    }
}

/// Builds one packet as `spec` describes it.
pub fn packet(spec: &Spec) -> Vec<u8> {
    let l4 = match (spec.proto, &spec.ip6) {
        (PROTO_TCP, _) => tcp(spec),
        (PROTO_UDP, _) => udp(spec),
        (PROTO_ICMP, None) => icmp(spec),
        (build6::PROTO_ICMPV6, Some(v6)) => build6::icmpv6(spec, v6),
        (PROTO_UDPLITE, _) => udplite(spec),
        (PROTO_SCTP, _) => {
            let mut chunks = spec.sctp.chunks.clone();
            if !spec.payload.is_empty() {
                // A payload rides in one more DATA chunk.
                let mut body = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
                body.extend_from_slice(&spec.payload);
                chunks.push(crate::sctp::Chunk { ty: 0, flags: 3, body });
            }
            crate::sctp::packet(spec.sport, spec.dport, spec.sctp.vtag, &chunks, spec.bad_csum)
        }
        (PROTO_DCCP, _) => {
            let len = crate::dccp::len(&spec.dccp, spec.payload.len());
            let pseudo = pseudo(spec, PROTO_DCCP, len);
            crate::dccp::packet(&spec.dccp, pseudo, spec.sport, spec.dport, &spec.payload, spec.bad_csum)
        }
        _ => spec.payload.clone(),
    };
    let mut pkt = match (&spec.ip6, spec.frag_slice) {
        (Some(v6), _) => build6::packet(spec, v6, &l4),
        (None, frag_slice) => ipv4_packet(spec, &l4, frag_slice),
    };
    if let Some(n) = spec.truncate {
        pkt.truncate(n);
    }
    pkt
}

/// The pseudo-header sum of the spec's family.
fn pseudo(spec: &Spec, proto: u8, len: usize) -> u32 {
    match &spec.ip6 {
        Some(v6) => build6::pseudo(v6, proto, len),
        None => csum::pseudo(spec.src, spec.dst, proto, clamp_u16(len)),
    }
}

fn ipv4_packet(spec: &Spec, l4: &[u8], frag_slice: Option<(usize, usize)>) -> Vec<u8> {
    match frag_slice {
        Some((start, len)) => {
            let end = start.saturating_add(len).min(l4.len());
            let part = l4.get(start..end).unwrap_or_default();
            let frag = Spec {
                frag_offset: clamp_u16(start / 8),
                mf: spec.mf || end < l4.len(),
                ..spec.clone()
            };
            let mut p = ipv4_header(&frag, part.len());
            p.extend_from_slice(part);
            p
        }
        None => {
            let mut p = ipv4_header(spec, l4.len());
            p.extend_from_slice(l4);
            p
        }
    }
}

fn ipv4_header(spec: &Spec, l4_len: usize) -> Vec<u8> {
    let mut options = spec.ip_options.clone();
    options.resize(options.len().next_multiple_of(4), 0);
    let hlen = IPV4_HDR_LEN + options.len();
    let ihl = spec.ihl.unwrap_or((hlen / 4) as u8) & 0x0f;
    let total = spec.total_length.unwrap_or(clamp_u16(hlen + l4_len));
    let mut frag = spec.frag_offset & IP_OFFSET_MASK;
    if spec.df {
        frag |= IP_DF;
    }
    if spec.mf {
        frag |= IP_MF;
    }

    let mut h = Vec::with_capacity(hlen);
    h.push(0x40 | ihl);
    h.push(spec.tos);
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&spec.id.to_be_bytes());
    h.extend_from_slice(&frag.to_be_bytes());
    h.push(spec.ttl);
    h.push(spec.proto);
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(&spec.src);
    h.extend_from_slice(&spec.dst);
    h.extend_from_slice(&options);

    let mut sum = csum::finish(csum::add(0, &h));
    if spec.bad_ip_csum {
        sum = csum::broken(sum);
    }
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h
}

fn tcp(spec: &Spec) -> Vec<u8> {
    let t = &spec.tcp;
    let mut options = Vec::new();
    if let Some(mss) = t.mss {
        options.extend_from_slice(&[2, 4]);
        options.extend_from_slice(&mss.to_be_bytes());
    }
    if t.sackperm {
        options.extend_from_slice(&[1, 1, 4, 2]);
    }
    if let Some(ws) = t.wscale {
        options.extend_from_slice(&[1, 3, 3, ws]);
    }
    options.extend_from_slice(&t.options);
    options.resize(options.len().next_multiple_of(4), 0);
    let hlen = TCP_HDR_LEN + options.len();
    let doff = t.doff.unwrap_or((hlen / 4) as u8) & 0x0f;

    let mut s = Vec::with_capacity(hlen + spec.payload.len());
    s.extend_from_slice(&spec.sport.to_be_bytes());
    s.extend_from_slice(&spec.dport.to_be_bytes());
    s.extend_from_slice(&t.seq.to_be_bytes());
    s.extend_from_slice(&t.ack.to_be_bytes());
    s.push(doff << 4);
    s.push(t.flags);
    s.extend_from_slice(&t.window.to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(&t.urgent.to_be_bytes());
    s.extend_from_slice(&options);
    s.extend_from_slice(&spec.payload);

    let mut sum = csum::finish(csum::add(pseudo(spec, PROTO_TCP, s.len()), &s));
    if spec.bad_csum {
        sum = csum::broken(sum);
    }
    s[16..18].copy_from_slice(&sum.to_be_bytes());
    s
}

/// The checksum covers what a receiver verifies: the first `len field`
/// bytes (when that is not more than what was built), with the length
/// field in the pseudo-header.
fn udp(spec: &Spec) -> Vec<u8> {
    let real = clamp_u16(UDP_HDR_LEN + spec.payload.len());
    let len = spec.udp.len.unwrap_or(real);

    let mut d = Vec::with_capacity(usize::from(real));
    d.extend_from_slice(&spec.sport.to_be_bytes());
    d.extend_from_slice(&spec.dport.to_be_bytes());
    d.extend_from_slice(&len.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(&spec.payload);

    let covered = usize::from(len).min(d.len());
    let pseudo = pseudo(spec, PROTO_UDP, usize::from(len));
    let mut sum = match csum::finish(csum::add(pseudo, &d[..covered])) {
        0 => 0xffff, // 0 means "no checksum": send its one's-complement twin
        sum => sum,
    };
    if spec.bad_csum {
        sum = csum::broken(sum);
    }
    d[6..8].copy_from_slice(&sum.to_be_bytes());
    d
}

/// UDP-Lite (RFC 3828): the length field is the checksum coverage (0:
/// all), the pseudo-header carries the datagram's whole length.
fn udplite(spec: &Spec) -> Vec<u8> {
    let cov = spec.udp.len.unwrap_or(0);
    let mut d = Vec::with_capacity(UDP_HDR_LEN + spec.payload.len());
    d.extend_from_slice(&spec.sport.to_be_bytes());
    d.extend_from_slice(&spec.dport.to_be_bytes());
    d.extend_from_slice(&cov.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(&spec.payload);
    let covered = if cov == 0 { d.len() } else { usize::from(cov).min(d.len()) };
    let proto = spec.udp.csum_proto.unwrap_or(PROTO_UDPLITE);
    let pseudo = pseudo(spec, proto, d.len());
    let mut sum = match csum::finish(csum::add(pseudo, &d[..covered])) {
        0 => 0xffff,
        sum => sum,
    };
    if spec.bad_csum {
        sum = csum::broken(sum);
    }
    d[6..8].copy_from_slice(&sum.to_be_bytes());
    d
}

fn icmp(spec: &Spec) -> Vec<u8> {
    let i = &spec.icmp;
    let mut m = Vec::with_capacity(ICMP_HDR_LEN + spec.payload.len());
    m.push(i.icmp_type);
    m.push(i.code);
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&i.id.to_be_bytes());
    m.extend_from_slice(&i.seq.to_be_bytes());
    match &i.quote {
        Some(inner) => m.extend_from_slice(&packet(inner)),
        None => m.extend_from_slice(&spec.payload),
    }

    let mut sum = csum::finish(csum::add(0, &m));
    if spec.bad_csum {
        sum = csum::broken(sum);
    }
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// The quote an ICMP error carries by default: the inner IP header plus
/// the first 8 bytes of its payload (RFC 792).
pub fn default_quote_len(inner: &Spec) -> usize {
    let opts = inner.ip_options.len().next_multiple_of(4);
    IPV4_HDR_LEN + opts + 8
}

fn clamp_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// The EtherType of an IP packet: IPv6 when its version nibble says 6.
pub fn ethertype(ip: &[u8]) -> u16 {
    match ip.first() {
        Some(b) if b >> 4 == 6 => 0x86dd,
        _ => 0x0800,
    }
}

/// Prepends an Ethernet II header (EtherType from the IP version) for an
/// AF_PACKET send.
pub fn ethernet(dst_mac: [u8; 6], src_mac: [u8; 6], ip: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + ip.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&ethertype(ip).to_be_bytes());
    f.extend_from_slice(ip);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: [u8; 4] = [192, 0, 2, 2];
    const SERVER: [u8; 4] = [198, 51, 100, 2];
    const ROUTER: [u8; 4] = [192, 0, 2, 1];

    fn spec(proto: u8) -> Spec {
        Spec { src: CLIENT, dst: SERVER, proto, ..Spec::default() }
    }

    /// A checksum field is right when the covered bytes sum to 0xffff.
    fn verifies(sum: u32) -> bool {
        csum::finish(sum) == 0
    }

    #[test]
    fn ipv4_header_matches_textbook_example() {
        // The well-known example header (Wikipedia, "IPv4 header
        // checksum"): 192.168.0.1 -> 192.168.0.199, UDP, DF, total length
        // 0x73, checksum 0xb861.
        let s = Spec {
            src: [192, 168, 0, 1],
            dst: [192, 168, 0, 199],
            proto: PROTO_UDP,
            df: true,
            payload: vec![0; 0x73 - 28],
            ..Spec::default()
        };
        let golden = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(&packet(&s)[..20], &golden);
    }

    #[test]
    fn tcp_syn_with_options() {
        let mut s = spec(PROTO_TCP);
        s.id = 0x1234;
        s.tcp.mss = Some(1460);
        s.tcp.sackperm = true;
        s.tcp.wscale = Some(7);
        let p = packet(&s);
        #[rustfmt::skip]
        let golden: [u8; 52] = [
            // IPv4: len 52, id 0x1234, ttl 64, tcp
            0x45, 0x00, 0x00, 0x34, 0x12, 0x34, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00,
            192, 0, 2, 2, 198, 51, 100, 2,
            // TCP: 12345 -> 80, seq 1000, ack 0, doff 8, SYN, win 64240
            0x30, 0x39, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00,
            0x80, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00,
            // mss 1460, nop nop sackperm, nop wscale 7
            0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02, 0x01, 0x03, 0x03, 0x07,
        ];
        let mut masked = p.clone();
        masked[10..12].fill(0); // checksums checked below (values from an independent calculation)
        masked[36..38].fill(0);
        assert_eq!(masked, golden);
        assert!(verifies(csum::add(0, &p[..20])));
        let pseudo = csum::pseudo(CLIENT, SERVER, PROTO_TCP, 32);
        assert!(verifies(csum::add(pseudo, &p[20..])));
        assert_eq!(&p[10..12], &[0x7c, 0x58]);
        assert_eq!(&p[36..38], &[0x53, 0x77]);
    }

    #[test]
    fn tcp_flags_overrides_and_bad_checksum() {
        let mut s = spec(PROTO_TCP);
        s.tcp.flags = 0;
        s.tcp.doff = Some(15);
        s.bad_csum = true;
        let p = packet(&s);
        assert_eq!(p.len(), 40);
        assert_eq!(p[32], 0xf0);
        assert_eq!(p[33], 0);
        let pseudo = csum::pseudo(CLIENT, SERVER, PROTO_TCP, 20);
        assert!(!verifies(csum::add(pseudo, &p[20..])));
        assert!(verifies(csum::add(0, &p[..20])));
    }

    #[test]
    fn udp_datagram_and_length_override() {
        let mut s = spec(PROTO_UDP);
        s.sport = 5000;
        s.dport = 53;
        s.payload = b"hi".to_vec();
        let p = packet(&s);
        let golden_udp = [0x13, 0x88, 0x00, 0x35, 0x00, 0x0a];
        assert_eq!(&p[20..26], &golden_udp);
        assert_eq!(&p[26..28], &[0x97, 0x7b]);
        assert_eq!(&p[28..], b"hi");
        assert!(verifies(csum::add(csum::pseudo(CLIENT, SERVER, PROTO_UDP, 10), &p[20..])));

        // A shorter length field: the checksum covers only what it claims.
        s.udp.len = Some(9);
        let p = packet(&s);
        assert_eq!(&p[24..26], &[0x00, 0x09]);
        assert!(verifies(csum::add(csum::pseudo(CLIENT, SERVER, PROTO_UDP, 9), &p[20..29])));
    }

    #[test]
    fn ip_fields_fragments_options_truncation() {
        let mut s = spec(99);
        s.payload = vec![0xaa; 16];
        s.mf = true;
        s.frag_offset = 185; // 1480 bytes
        s.ip_options = vec![0x94, 0x04, 0x00]; // router alert, padded to 4
        s.total_length = Some(1000);
        s.truncate = Some(30);
        let p = packet(&s);
        assert_eq!(p.len(), 30);
        assert_eq!(p[0], 0x46);
        assert_eq!(&p[2..4], &[0x03, 0xe8]);
        assert_eq!(&p[6..8], &[0x20, 0xb9]);
        assert_eq!(p[9], 99);
        assert_eq!(&p[20..24], &[0x94, 0x04, 0x00, 0x00]);
        assert!(verifies(csum::add(0, &p[..24])));

        s.ihl = Some(15);
        s.df = true;
        s.bad_ip_csum = true;
        let p = packet(&s);
        assert_eq!(p[0], 0x4f);
        assert_eq!(&p[6..8], &[0x60, 0xb9]);
        assert!(!verifies(csum::add(0, &p[..24])));
    }

    #[test]
    fn fragment_slices() {
        let mut s = spec(PROTO_UDP);
        s.id = 7;
        s.payload = (0u8..24).collect();
        let whole = packet(&s);
        s.frag_slice = Some((0, 16));
        let first = packet(&s);
        assert_eq!(&first[2..4], &[0, 36]);
        assert_eq!(&first[6..8], &[0x20, 0x00]); // MF, offset 0
        assert_eq!(&first[20..], &whole[20..36]); // UDP header with the whole checksum
        assert!(verifies(csum::add(0, &first[..20])));
        s.frag_slice = Some((16, 100));
        let last = packet(&s);
        assert_eq!(&last[6..8], &[0x00, 0x02]); // offset 2 (16 bytes), last
        assert_eq!(&last[20..], &whole[36..]);
        s.mf = true;
        assert_eq!(&packet(&s)[6..8], &[0x20, 0x02]);
    }

    #[test]
    fn icmp_echo() {
        let mut s = spec(PROTO_ICMP);
        s.icmp.id = 0x4242;
        s.icmp.seq = 7;
        s.payload = vec![1, 2, 3, 4];
        let p = packet(&s);
        assert_eq!(&p[20..], &[8, 0, 0xb1, 0xb0, 0x42, 0x42, 0x00, 0x07, 1, 2, 3, 4]);
        assert!(verifies(csum::add(0, &p[20..])));
    }

    #[test]
    fn icmp_error_quotes_inner_packet() {
        // Port unreachable from the server about a client's UDP datagram.
        let mut inner = spec(PROTO_UDP);
        inner.sport = 40000;
        inner.dport = 9;
        inner.truncate = Some(default_quote_len(&inner));
        let mut s = Spec { src: SERVER, dst: CLIENT, proto: PROTO_ICMP, ..Spec::default() };
        s.icmp = Icmp { icmp_type: 3, code: 3, id: 0, seq: 0, quote: Some(Box::new(inner)) };
        let p = packet(&s);
        assert_eq!(p.len(), 20 + 8 + 28);
        assert_eq!(&p[20..22], &[3, 3]);
        assert_eq!(&p[24..28], &[0, 0, 0, 0]);
        let q = &p[28..];
        assert_eq!(&q[..4], &[0x45, 0x00, 0x00, 0x1c]);
        assert_eq!(&q[12..20], &[192, 0, 2, 2, 198, 51, 100, 2]);
        assert_eq!(&q[20..26], &[0x9c, 0x40, 0x00, 0x09, 0x00, 0x08]);
        assert!(verifies(csum::add(0, &q[..20])));
        assert!(verifies(csum::add(0, &p[20..])));

        // Truncated inner quote: only part of the inner IP header.
        let mut s2 = s.clone();
        if let Some(q) = s2.icmp.quote.as_mut() {
            q.truncate = Some(12);
        }
        assert_eq!(packet(&s2).len(), 20 + 8 + 12);
    }

    #[test]
    fn icmp_error_about_inner_echo() {
        let mut inner = spec(PROTO_ICMP);
        inner.icmp.id = 0x99;
        inner.truncate = Some(28);
        let mut s = Spec { src: ROUTER, dst: CLIENT, proto: PROTO_ICMP, ..Spec::default() };
        s.icmp = Icmp { icmp_type: 11, code: 0, id: 0, seq: 0, quote: Some(Box::new(inner)) };
        let p = packet(&s);
        assert_eq!(&p[48..52], &[8, 0, 0xf7, 0x65]);
        assert_eq!(&p[52..56], &[0x00, 0x99, 0x00, 0x01]);
    }

    #[test]
    fn ethernet_frame() {
        let f = ethernet([0xff; 6], [2, 0, 0, 0, 0, 1], &[0x45]);
        assert_eq!(f, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 0, 0x45]);
    }
}
