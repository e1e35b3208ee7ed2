//! A checked view over an IPv4 header (RFC 791).
//!
//! ```text
//!  0               1               2               3
//!  |version| IHL   |  DSCP/ECN     |        total length           |
//!  |        identification         |flags|   fragment offset       |
//!  |     TTL       |   protocol    |       header checksum         |
//!  |                       source address                          |
//!  |                    destination address                        |
//!  |                 options (IHL > 5) ...                         |
//! ```

use super::{read_u16, read_u32, read_u8, words_to_bytes, Malformed};

/// Byte offsets of the header fields.
pub mod field {
    /// Version (high nibble) and IHL (low nibble, in 32-bit words).
    pub const VER_IHL: usize = 0;
    /// DSCP and ECN.
    pub const TOS: usize = 1;
    /// Total length of the packet in bytes (u16).
    pub const TOTAL_LEN: usize = 2;
    /// Identification (u16).
    pub const IDENT: usize = 4;
    /// Flags (top 3 bits) and fragment offset in 8-byte units (u16).
    pub const FLAGS_FRAG: usize = 6;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Layer-4 protocol number.
    pub const PROTOCOL: usize = 9;
    /// Header checksum (u16).
    pub const CHECKSUM: usize = 10;
    /// Source address (u32).
    pub const SRC: usize = 12;
    /// Destination address (u32).
    pub const DST: usize = 16;
}

/// Size of the header without options.
pub const HEADER_LEN: usize = 20;
/// Largest header: IHL 15.
pub const MAX_HEADER_LEN: usize = 60;

/// "More fragments" flag in the flags/offset field.
const FLAG_MF: u16 = 0x2000;
/// "Don't fragment" flag.
const FLAG_DF: u16 = 0x4000;
/// Fragment offset bits.
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view over an IPv4 header at the start of a buffer. The header,
/// options included, lies inside the buffer; nothing else is checked (the
/// version and total length are for the caller to judge).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4<'a> {
    buf: &'a [u8],
    header_len: usize,
}

impl<'a> Ipv4<'a> {
    /// Checks that `buf` holds the fixed header and that the IHL is at least
    /// 5 and does not point past the end of `buf`.
    pub fn new_checked(buf: &'a [u8]) -> Result<Ipv4<'a>, Malformed> {
        if buf.len() < HEADER_LEN {
            return Err(Malformed::Truncated);
        }
        let header_len = words_to_bytes(read_u8(buf, field::VER_IHL));
        if header_len < HEADER_LEN {
            return Err(Malformed::HeaderTooShort);
        }
        if header_len > buf.len() {
            return Err(Malformed::HeaderBeyondBuffer);
        }
        Ok(Ipv4 { buf, header_len })
    }

    /// IP version (4 for IPv4).
    pub fn version(&self) -> u8 {
        read_u8(self.buf, field::VER_IHL) >> 4
    }

    /// Header length in bytes, options included (20..=60).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// DSCP and ECN byte.
    pub fn tos(&self) -> u8 {
        read_u8(self.buf, field::TOS)
    }

    /// Total length field: header plus payload, in bytes.
    pub fn total_len(&self) -> u16 {
        read_u16(self.buf, field::TOTAL_LEN)
    }

    /// Identification field.
    pub fn ident(&self) -> u16 {
        read_u16(self.buf, field::IDENT)
    }

    /// "Don't fragment" flag.
    pub fn dont_frag(&self) -> bool {
        read_u16(self.buf, field::FLAGS_FRAG) & FLAG_DF != 0
    }

    /// "More fragments" flag.
    pub fn more_frags(&self) -> bool {
        read_u16(self.buf, field::FLAGS_FRAG) & FLAG_MF != 0
    }

    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        read_u16(self.buf, field::FLAGS_FRAG) & FRAG_OFFSET_MASK
    }

    /// Whether this is a fragment (MF set or offset not 0) rather than a
    /// whole datagram.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        read_u8(self.buf, field::TTL)
    }

    /// Layer-4 protocol number.
    pub fn protocol(&self) -> u8 {
        read_u8(self.buf, field::PROTOCOL)
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buf, field::CHECKSUM)
    }

    /// Whether the header checksum is correct.
    pub fn checksum_valid(&self) -> bool {
        self.buf.get(..self.header_len).is_some_and(|h| super::checksum(h) == 0)
    }

    /// Source address as a number (`a.b.c.d` = `a << 24 | ... | d`).
    pub fn src(&self) -> u32 {
        read_u32(self.buf, field::SRC)
    }

    /// Destination address.
    pub fn dst(&self) -> u32 {
        read_u32(self.buf, field::DST)
    }

    /// The option bytes (empty when IHL is 5).
    pub fn options(&self) -> &'a [u8] {
        self.buf.get(HEADER_LEN..self.header_len).unwrap_or_default()
    }

    /// The payload as far as the buffer holds it, ending at the total
    /// length (bytes after it are link-layer padding). Empty when the total
    /// length does not even cover the header.
    pub fn payload(&self) -> &'a [u8] {
        let end = usize::from(self.total_len()).min(self.buf.len());
        self.buf.get(self.header_len..end).unwrap_or_default()
    }

    /// Every buffer byte after the header, whatever the total length says:
    /// for the header quoted in an ICMP error, whose total length describes
    /// the original packet, not the quote.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.header_len..).unwrap_or_default()
    }
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
    use super::super::tests::{ICMP_PORT_UNREACH, TCP_SYN, UDP_WITH_IP_OPTIONS};
    use super::*;

    #[test]
    fn golden_header_fields() {
        let ip = Ipv4::new_checked(&TCP_SYN).unwrap();
        assert_eq!(ip.version(), 4);
        assert_eq!(ip.header_len(), 20);
        assert_eq!(ip.tos(), 0);
        assert_eq!(ip.total_len(), 60);
        assert_eq!(ip.ident(), 0x1c46);
        assert!(ip.dont_frag());
        assert!(!ip.more_frags());
        assert_eq!(ip.frag_offset(), 0);
        assert!(!ip.is_fragment());
        assert_eq!(ip.ttl(), 64);
        assert_eq!(ip.protocol(), 6);
        assert_eq!(ip.checksum(), 0x323f);
        assert!(ip.checksum_valid());
        assert_eq!(ip.src(), 0xc000_0201);
        assert_eq!(ip.dst(), 0xc633_6402);
        assert!(ip.options().is_empty());
        assert_eq!(ip.payload(), &TCP_SYN[20..]);
        assert_eq!(ip.rest(), &TCP_SYN[20..]);
    }

    #[test]
    fn options_and_tos() {
        let ip = Ipv4::new_checked(&UDP_WITH_IP_OPTIONS).unwrap();
        assert_eq!(ip.header_len(), 24);
        assert_eq!(ip.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!(ip.payload(), &UDP_WITH_IP_OPTIONS[24..]);
        assert!(ip.checksum_valid());
        let ip = Ipv4::new_checked(&ICMP_PORT_UNREACH).unwrap();
        assert_eq!(ip.tos(), 0xc0);
        assert!(!ip.dont_frag());
        assert!(ip.checksum_valid());
    }

    #[test]
    fn fragment_bits() {
        let mut p = TCP_SYN;
        p[6] = 0x20; // MF, offset 0
        p[7] = 0x00;
        let ip = Ipv4::new_checked(&p).unwrap();
        assert!(ip.more_frags() && !ip.dont_frag() && ip.is_fragment());
        assert_eq!(ip.frag_offset(), 0);
        assert!(!ip.checksum_valid());
        p[6] = 0x1f; // offset 0x1fff, no flags
        p[7] = 0xff;
        let ip = Ipv4::new_checked(&p).unwrap();
        assert!(!ip.more_frags() && ip.is_fragment());
        assert_eq!(ip.frag_offset(), 0x1fff);
    }

    #[test]
    fn malformed() {
        assert_eq!(Ipv4::new_checked(&[]), Err(Malformed::Truncated));
        assert_eq!(Ipv4::new_checked(&TCP_SYN[..19]), Err(Malformed::Truncated));
        let mut p = TCP_SYN;
        for ihl in 0..5 {
            p[0] = 0x40 | ihl;
            assert_eq!(Ipv4::new_checked(&p), Err(Malformed::HeaderTooShort));
        }
        // IHL 15 = 60 bytes: fits the 60-byte buffer, not 59.
        p[0] = 0x4f;
        assert_eq!(Ipv4::new_checked(&p).map(|ip| ip.header_len()), Ok(60));
        assert_eq!(Ipv4::new_checked(&p[..59]), Err(Malformed::HeaderBeyondBuffer));
        assert_eq!(Ipv4::new_checked(&p).unwrap().payload(), &[] as &[u8]);
    }

    #[test]
    fn payload_stops_at_total_length_or_buffer() {
        let mut p = TCP_SYN;
        p[3] = 30; // total length 30
        assert_eq!(Ipv4::new_checked(&p).unwrap().payload().len(), 10);
        assert_eq!(Ipv4::new_checked(&p).unwrap().rest().len(), 40);
        p[3] = 10; // below the header length
        assert!(Ipv4::new_checked(&p).unwrap().payload().is_empty());
        p[2] = 0xff; // beyond the buffer
        assert_eq!(Ipv4::new_checked(&p).unwrap().payload().len(), 40);
        // The version is read, not judged.
        p[0] = 0x65;
        assert_eq!(Ipv4::new_checked(&p).unwrap().version(), 6);
    }
}
