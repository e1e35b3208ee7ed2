//! A checked view over a UDP header (RFC 768).
//!
//! ```text
//!  0               1               2               3
//!  |         source port           |       destination port        |
//!  |            length             |           checksum            |
//! ```

use super::{read_u16, Malformed};

/// Byte offsets of the header fields.
pub mod field {
    /// Source port (u16).
    pub const SRC_PORT: usize = 0;
    /// Destination port (u16).
    pub const DST_PORT: usize = 2;
    /// Length of header and data in bytes (u16).
    pub const LENGTH: usize = 4;
    /// Checksum (u16, 0 = none).
    pub const CHECKSUM: usize = 6;
}

/// Size of the header.
pub const HEADER_LEN: usize = 8;

/// A view over a UDP header at the start of a buffer. The length field is
/// not judged here: that needs the IP payload length (see
/// [`super::parse_packet`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp<'a> {
    buf: &'a [u8],
}

impl<'a> Udp<'a> {
    /// Checks that `buf` holds the header.
    pub fn new_checked(buf: &'a [u8]) -> Result<Udp<'a>, Malformed> {
        if buf.len() < HEADER_LEN {
            return Err(Malformed::Truncated);
        }
        Ok(Udp { buf })
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        read_u16(self.buf, field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buf, field::DST_PORT)
    }

    /// Length field: header plus data, in bytes.
    pub fn length(&self) -> u16 {
        read_u16(self.buf, field::LENGTH)
    }

    /// Checksum field (0 when the sender computed none).
    pub fn checksum(&self) -> u16 {
        read_u16(self.buf, field::CHECKSUM)
    }

    /// The bytes the buffer holds after the header.
    pub fn payload(&self) -> &'a [u8] {
        self.buf.get(HEADER_LEN..).unwrap_or_default()
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
    use super::super::tests::UDP_DNS;
    use super::*;

    #[test]
    fn golden_fields() {
        let udp = Udp::new_checked(&UDP_DNS[20..]).unwrap();
        assert_eq!(udp.src_port(), 53000);
        assert_eq!(udp.dst_port(), 53);
        assert_eq!(udp.length(), 12);
        assert_eq!(udp.checksum(), 0xa690);
        assert_eq!(udp.payload(), &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn header_only_and_truncated() {
        assert!(Udp::new_checked(&UDP_DNS[20..28]).unwrap().payload().is_empty());
        assert_eq!(Udp::new_checked(&UDP_DNS[20..27]), Err(Malformed::Truncated));
        assert_eq!(Udp::new_checked(&[]), Err(Malformed::Truncated));
    }
}
