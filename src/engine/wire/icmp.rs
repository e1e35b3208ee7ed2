//! A checked view over an ICMP header (RFC 792).
//!
//! ```text
//!  0               1               2               3
//!  |     type      |     code      |           checksum            |
//!  |   identifier (queries)        |   sequence number (queries)   |
//!  |  data: for errors, the offending IPv4 header + 8 bytes ...    |
//! ```

use super::{read_u16, read_u32, read_u8, Malformed};

/// Byte offsets of the header fields.
pub mod field {
    /// Message type.
    pub const TYPE: usize = 0;
    /// Code.
    pub const CODE: usize = 1;
    /// Checksum (u16).
    pub const CHECKSUM: usize = 2;
    /// Identifier of queries (u16); part of "rest of header" otherwise.
    pub const IDENT: usize = 4;
    /// Sequence number of queries (u16).
    pub const SEQ: usize = 6;
}

/// Size of the header (type, code, checksum and 4 type-specific bytes).
pub const HEADER_LEN: usize = 8;

/// Message types.
pub mod types {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable (error).
    pub const DEST_UNREACHABLE: u8 = 3;
    /// Source quench (error).
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect (error).
    pub const REDIRECT: u8 = 5;
    /// Echo request.
    pub const ECHO: u8 = 8;
    /// Time exceeded (error).
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem (error).
    pub const PARAMETER_PROBLEM: u8 = 12;
    /// Timestamp request.
    pub const TIMESTAMP: u8 = 13;
    /// Timestamp reply.
    pub const TIMESTAMP_REPLY: u8 = 14;
    /// Information request.
    pub const INFO_REQUEST: u8 = 15;
    /// Information reply.
    pub const INFO_REPLY: u8 = 16;
    /// Address mask request.
    pub const ADDRESS_MASK: u8 = 17;
    /// Address mask reply.
    pub const ADDRESS_MASK_REPLY: u8 = 18;
    /// The last type Linux knows (`NR_ICMP_TYPES`): 6.12's error handler
    /// refuses any past it.
    pub const LAST: u8 = ADDRESS_MASK_REPLY;
}

/// Whether `ty` is an error type, one that quotes the packet it is about
/// (the kernel's `icmp_is_err`).
pub fn is_error(ty: u8) -> bool {
    matches!(
        ty,
        types::DEST_UNREACHABLE
            | types::SOURCE_QUENCH
            | types::REDIRECT
            | types::TIME_EXCEEDED
            | types::PARAMETER_PROBLEM
    )
}

/// A view over an ICMP header at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp<'a> {
    buf: &'a [u8],
}

impl<'a> Icmp<'a> {
    /// Checks that `buf` holds the 8-byte header.
    pub fn new_checked(buf: &'a [u8]) -> Result<Icmp<'a>, Malformed> {
        if buf.len() < HEADER_LEN {
            return Err(Malformed::Truncated);
        }
        Ok(Icmp { buf })
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        read_u8(self.buf, field::TYPE)
    }

    /// Code.
    pub fn code(&self) -> u8 {
        read_u8(self.buf, field::CODE)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buf, field::CHECKSUM)
    }

    /// Identifier (meaningful for queries and their replies).
    pub fn ident(&self) -> u16 {
        read_u16(self.buf, field::IDENT)
    }

    /// Sequence number (meaningful for queries and their replies).
    pub fn seq_number(&self) -> u16 {
        read_u16(self.buf, field::SEQ)
    }

    /// The four type-specific header bytes (unused for most errors; the
    /// gateway of a redirect, the pointer of a parameter problem).
    pub fn rest_of_header(&self) -> u32 {
        read_u32(self.buf, field::IDENT)
    }

    /// The bytes after the header: for errors, the quoted packet.
    pub fn data(&self) -> &'a [u8] {
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
    use super::super::checksum;
    use super::super::tests::{ICMP_ECHO, ICMP_PORT_UNREACH};
    use super::*;

    #[test]
    fn golden_echo() {
        let icmp = Icmp::new_checked(&ICMP_ECHO[20..]).unwrap();
        assert_eq!(icmp.msg_type(), types::ECHO);
        assert_eq!(icmp.code(), 0);
        assert_eq!(icmp.checksum(), 0xd9ba);
        assert_eq!(checksum(&ICMP_ECHO[20..]), 0);
        assert_eq!(icmp.ident(), 0x1234);
        assert_eq!(icmp.seq_number(), 1);
        assert_eq!(icmp.rest_of_header(), 0x1234_0001);
        assert_eq!(icmp.data(), &[0, 1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn golden_port_unreachable() {
        let icmp = Icmp::new_checked(&ICMP_PORT_UNREACH[20..]).unwrap();
        assert_eq!((icmp.msg_type(), icmp.code()), (types::DEST_UNREACHABLE, 3));
        assert_eq!(checksum(&ICMP_PORT_UNREACH[20..]), 0);
        assert_eq!(icmp.rest_of_header(), 0);
        assert_eq!(icmp.data(), &ICMP_PORT_UNREACH[28..]);
    }

    #[test]
    fn error_types() {
        let errors: [u8; 5] = [3, 4, 5, 11, 12];
        for ty in 0..=255u8 {
            assert_eq!(is_error(ty), errors.contains(&ty), "type {ty}");
        }
    }

    #[test]
    fn truncated() {
        assert_eq!(Icmp::new_checked(&ICMP_ECHO[20..27]), Err(Malformed::Truncated));
        assert!(Icmp::new_checked(&ICMP_ECHO[20..28]).unwrap().data().is_empty());
    }
}
