//! A checked view over the IPv6 fragment header (RFC 8200 4.5).
//!
//! ```text
//!  0               1               2               3
//!  |  next header  |   reserved    |  fragment offset (13)   |res|M|
//!  |                        identification                         |
//! ```

use super::{read_u16, read_u32, read_u8, Malformed};

/// Byte offsets of the header fields.
pub mod field {
    /// Next header.
    pub const NEXT_HEADER: usize = 0;
    /// Reserved byte.
    pub const RESERVED: usize = 1;
    /// Offset in 8-byte units (top 13 bits), 2 reserved bits, M (u16).
    pub const FRAG_OFF: usize = 2;
    /// Identification (u32).
    pub const IDENT: usize = 4;
}

/// Size of the header.
pub const HEADER_LEN: usize = 8;

/// "More fragments" bit of the offset field.
const FLAG_M: u16 = 0x0001;
/// The two reserved bits of the offset field.
const RES_BITS: u16 = 0x0006;

/// What a fragment header says, copied out of the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragInfo {
    /// Offset of this fragment's data in 8-byte units.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
    /// Identification shared by the fragments of one packet.
    pub ident: u32,
}

impl FragInfo {
    /// The first fragment (offset 0): it carries the transport header. An
    /// atomic fragment (offset 0, M clear) is a whole packet.
    pub fn is_first(&self) -> bool {
        self.offset == 0
    }

    /// Offset 0 and M clear: the whole packet in one fragment (RFC 6946).
    pub fn is_atomic(&self) -> bool {
        self.offset == 0 && !self.more
    }

    /// Offset of this fragment's data in bytes.
    pub fn offset_bytes(&self) -> usize {
        usize::from(self.offset).wrapping_mul(8)
    }
}

/// A view over a fragment header at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frag<'a> {
    buf: &'a [u8],
}

impl<'a> Frag<'a> {
    /// Checks that `buf` holds the 8-byte header.
    pub fn new_checked(buf: &'a [u8]) -> Result<Frag<'a>, Malformed> {
        if buf.len() < HEADER_LEN {
            return Err(Malformed::Truncated);
        }
        Ok(Frag { buf })
    }

    /// Next header (of the reassembled packet's remaining chain).
    pub fn next_header(&self) -> u8 {
        read_u8(self.buf, field::NEXT_HEADER)
    }

    /// The reserved byte (0 on the wire; ignored by receivers).
    pub fn reserved(&self) -> u8 {
        read_u8(self.buf, field::RESERVED)
    }

    /// The raw offset field: offset << 3 | reserved bits << 1 | M, as the
    /// kernel's `frag_off` (host order).
    pub fn frag_off_field(&self) -> u16 {
        read_u16(self.buf, field::FRAG_OFF)
    }

    /// Fragment offset in 8-byte units.
    pub fn offset(&self) -> u16 {
        self.frag_off_field() >> 3
    }

    /// The two reserved bits of the offset field.
    pub fn res_bits(&self) -> u8 {
        u8::try_from((self.frag_off_field() & RES_BITS) >> 1).unwrap_or(0)
    }

    /// "More fragments" bit.
    pub fn more_frags(&self) -> bool {
        self.frag_off_field() & FLAG_M != 0
    }

    /// Identification.
    pub fn ident(&self) -> u32 {
        read_u32(self.buf, field::IDENT)
    }

    /// The header's fields as a value.
    pub fn info(&self) -> FragInfo {
        FragInfo { offset: self.offset(), more: self.more_frags(), ident: self.ident() }
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
    use super::*;

    #[test]
    fn fields() {
        // next 17, offset 185 (1480 bytes), reserved bits 0b11, M, id.
        let h = [17, 0xaa, 0x05, 0xcf, 0xde, 0xad, 0xbe, 0xef];
        let f = Frag::new_checked(&h).unwrap();
        assert_eq!(f.next_header(), 17);
        assert_eq!(f.reserved(), 0xaa);
        assert_eq!(f.frag_off_field(), 0x05cf);
        assert_eq!(f.offset(), 185);
        assert_eq!(f.res_bits(), 3);
        assert!(f.more_frags());
        assert_eq!(f.ident(), 0xdead_beef);
        let i = f.info();
        assert_eq!(i, FragInfo { offset: 185, more: true, ident: 0xdead_beef });
        assert_eq!(i.offset_bytes(), 1480);
        assert!(!i.is_first() && !i.is_atomic());
    }

    #[test]
    fn every_offset_field() {
        for raw in 0..=u16::MAX {
            let b = raw.to_be_bytes();
            let h = [6, 0, b[0], b[1], 0, 0, 0, 1];
            let f = Frag::new_checked(&h).unwrap().info();
            assert_eq!(f.offset, raw >> 3);
            assert_eq!(f.more, raw & 1 == 1);
            assert_eq!(f.is_first(), raw >> 3 == 0);
            assert_eq!(f.is_atomic(), raw & !0x6 == 0);
            assert_eq!(f.offset_bytes(), usize::from(raw >> 3) * 8);
        }
    }

    #[test]
    fn truncated() {
        assert_eq!(Frag::new_checked(&[0; 7]), Err(Malformed::Truncated));
        assert!(Frag::new_checked(&[0; 8]).is_ok());
    }
}
