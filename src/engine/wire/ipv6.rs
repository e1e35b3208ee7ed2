//! A checked view over the fixed IPv6 header (RFC 8200), and the checksum
//! of an upper-layer message with the IPv6 pseudo-header.
//!
//! ```text
//!  0               1               2               3
//!  |version| traffic class |              flow label               |
//!  |        payload length         |  next header  |   hop limit   |
//!  |                  source address (16 bytes)                    |
//!  |               destination address (16 bytes)                  |
//! ```
//!
//! Extension headers follow the fixed header; [`super::ipv6_exthdr`]
//! walks them to the transport header.

use super::{complement, read_u16, read_u32, read_u8, sum_words, Malformed};

/// Byte offsets of the header fields.
pub mod field {
    /// Version (4 bits), traffic class (8) and flow label (20), as a u32.
    pub const VER_TC_FLOW: usize = 0;
    /// Payload length: bytes after the fixed header (u16).
    pub const PAYLOAD_LEN: usize = 4;
    /// Next header: the first extension header or the transport protocol.
    pub const NEXT_HEADER: usize = 6;
    /// Hop limit.
    pub const HOP_LIMIT: usize = 7;
    /// Source address (16 bytes).
    pub const SRC: usize = 8;
    /// Destination address (16 bytes).
    pub const DST: usize = 24;
}

/// Size of the fixed header.
pub const HEADER_LEN: usize = 40;

/// An IPv6 address as its 16 bytes, in network order.
pub type Addr = [u8; 16];

/// A view over an IPv6 header at the start of a buffer. Only the fixed
/// header is checked to fit; the version and payload length are for the
/// caller to judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6<'a> {
    buf: &'a [u8],
}

impl<'a> Ipv6<'a> {
    /// Checks that `buf` holds the 40-byte fixed header.
    pub fn new_checked(buf: &'a [u8]) -> Result<Ipv6<'a>, Malformed> {
        if buf.len() < HEADER_LEN {
            return Err(Malformed::Truncated);
        }
        Ok(Ipv6 { buf })
    }

    /// IP version (6 for IPv6).
    pub fn version(&self) -> u8 {
        read_u8(self.buf, field::VER_TC_FLOW) >> 4
    }

    /// Traffic class (DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        let w = read_u32(self.buf, field::VER_TC_FLOW);
        (w >> 20).to_be_bytes().last().copied().unwrap_or(0)
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        read_u32(self.buf, field::VER_TC_FLOW) & 0x000f_ffff
    }

    /// Payload length: extension headers and upper-layer data, in bytes.
    pub fn payload_len(&self) -> u16 {
        read_u16(self.buf, field::PAYLOAD_LEN)
    }

    /// The whole packet's length as the header states it (40 + payload
    /// length; a jumbogram's 0 is not resolved here).
    pub fn packet_len(&self) -> usize {
        usize::from(self.payload_len()).saturating_add(HEADER_LEN)
    }

    /// Next header: the first extension header or the transport protocol.
    pub fn next_header(&self) -> u8 {
        read_u8(self.buf, field::NEXT_HEADER)
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        read_u8(self.buf, field::HOP_LIMIT)
    }

    /// Source address.
    pub fn src(&self) -> Addr {
        read_addr(self.buf, field::SRC)
    }

    /// Destination address.
    pub fn dst(&self) -> Addr {
        read_addr(self.buf, field::DST)
    }

    /// The payload as far as the buffer holds it, ending at the payload
    /// length (bytes after it are link-layer padding).
    pub fn payload(&self) -> &'a [u8] {
        let end = self.packet_len().min(self.buf.len());
        self.buf.get(HEADER_LEN..end).unwrap_or_default()
    }

    /// Every buffer byte after the fixed header, whatever the payload
    /// length says (the header quoted in an ICMPv6 error describes the
    /// original packet, not the quote).
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(HEADER_LEN..).unwrap_or_default()
    }
}

/// The 16 bytes at `at`, or zeros if they do not fit `buf`.
fn read_addr(buf: &[u8], at: usize) -> Addr {
    buf.get(at..).and_then(|b| b.first_chunk::<16>()).copied().unwrap_or([0; 16])
}

/// The Internet checksum of `data` (a TCP, UDP or ICMPv6 message, its
/// checksum field included) with the IPv6 pseudo-header of RFC 8200 8.1
/// (source, destination, upper-layer length as u32, next header): 0 when
/// the message's checksum is correct. With the checksum field zeroed, the
/// value to store there. `data` longer than 2^32 - 1 bytes cannot occur
/// (the length saturates).
pub fn upper_layer_checksum(src: &Addr, dst: &Addr, next_header: u8, data: &[u8]) -> u16 {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut sum = sum_words(0, src);
    sum = sum_words(sum, dst);
    sum = sum_words(sum, &len.to_be_bytes());
    sum = sum_words(sum, &[0, 0, 0, next_header]);
    complement(sum_words(sum, data))
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
    use super::*;

    /// 2001:db8::1 -> 2001:db8:1::2, ICMPv6 echo request id 0x1234 seq 1,
    /// data 00..07, traffic class 0xb8, flow label 0xabcde, hop limit 64.
    /// Checksum computed independently (Python, RFC 1071 over the
    /// pseudo-header).
    pub(crate) const ICMPV6_ECHO: [u8; 56] = [
        0x6b, 0x8a, 0xbc, 0xde, 0x00, 0x10, 0x3a, 0x40, // ver/tc/flow, len 16, nh 58, hl 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // src
        0x20, 0x01, 0x0d, 0xb8, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // dst
        0x80, 0x00, 0x05, 0xfa, 0x12, 0x34, 0x00, 0x01, // echo request
        0, 1, 2, 3, 4, 5, 6, 7,
    ];

    #[test]
    fn golden_header_fields() {
        let ip = Ipv6::new_checked(&ICMPV6_ECHO).unwrap();
        assert_eq!(ip.version(), 6);
        assert_eq!(ip.traffic_class(), 0xb8);
        assert_eq!(ip.flow_label(), 0xabcde);
        assert_eq!(ip.payload_len(), 16);
        assert_eq!(ip.packet_len(), 56);
        assert_eq!(ip.next_header(), 58);
        assert_eq!(ip.hop_limit(), 64);
        assert_eq!(ip.src(), ICMPV6_ECHO[8..24]);
        assert_eq!(ip.dst(), ICMPV6_ECHO[24..40]);
        assert_eq!(ip.payload(), &ICMPV6_ECHO[40..]);
        assert_eq!(ip.rest(), &ICMPV6_ECHO[40..]);
    }

    #[test]
    fn golden_checksum() {
        let ip = Ipv6::new_checked(&ICMPV6_ECHO).unwrap();
        assert_eq!(upper_layer_checksum(&ip.src(), &ip.dst(), 58, ip.payload()), 0);
        // Zeroing the field gives back the stored value.
        let mut msg = ip.payload().to_vec();
        msg[2] = 0;
        msg[3] = 0;
        assert_eq!(upper_layer_checksum(&ip.src(), &ip.dst(), 58, &msg), 0x05fa);
        // Every field of the pseudo-header counts.
        assert_ne!(upper_layer_checksum(&ip.dst(), &ip.dst(), 58, ip.payload()), 0);
        assert_ne!(upper_layer_checksum(&ip.src(), &ip.dst(), 17, ip.payload()), 0);
        assert_ne!(upper_layer_checksum(&ip.src(), &ip.dst(), 58, &ip.payload()[..15]), 0);
    }

    #[test]
    fn checksum_odd_length_and_carries() {
        // All-ones bytes: the sum folds many carries and stays a u16.
        let a = [0xff; 16];
        let mut with_field = std::vec![0xffu8; 4096];
        with_field.extend_from_slice(&[0, 0]);
        let c = upper_layer_checksum(&a, &a, 0xff, &with_field);
        with_field[4096..].copy_from_slice(&c.to_be_bytes());
        assert_eq!(upper_layer_checksum(&a, &a, 0xff, &with_field), 0);
        // An odd length pads with a zero byte: [x] sums as [x, 0].
        let z = [0; 16];
        assert_eq!(
            upper_layer_checksum(&z, &z, 0, &[0x12]),
            !(0x1200u16 + 1), // data word plus the length word (1)
        );
        assert_eq!(upper_layer_checksum(&z, &z, 0, &[]), 0xffff);
    }

    #[test]
    fn payload_bounded_by_length_and_buffer() {
        let mut p = ICMPV6_ECHO;
        p[5] = 8; // payload length 8
        assert_eq!(Ipv6::new_checked(&p).unwrap().payload().len(), 8);
        assert_eq!(Ipv6::new_checked(&p).unwrap().rest().len(), 16);
        p[4] = 0xff; // beyond the buffer
        assert_eq!(Ipv6::new_checked(&p).unwrap().payload().len(), 16);
        assert_eq!(Ipv6::new_checked(&p).unwrap().packet_len(), 0xff08 + 40);
    }

    #[test]
    fn truncated() {
        assert_eq!(Ipv6::new_checked(&[]), Err(Malformed::Truncated));
        assert_eq!(Ipv6::new_checked(&ICMPV6_ECHO[..39]), Err(Malformed::Truncated));
        let ip = Ipv6::new_checked(&ICMPV6_ECHO[..40]).unwrap();
        assert!(ip.payload().is_empty());
        assert_eq!(ip.dst(), ICMPV6_ECHO[24..40]);
    }
}
