//! A checked view over the DCCP generic header (RFC 4340 5.1) and the
//! subheaders Linux 6.12 reads (`nf_conntrack_proto_dccp.c`).
//!
//! ```text
//!  0               1               2               3
//!  |         source port           |       destination port        |
//!  | data offset   | CCVal | CsCov |           checksum            |
//!  | Res | Type  |X| reserved/seq  |  sequence number (high bits)  |
//!  |        sequence number (low bits, X = 1 only)                 |
//! ```
//! then, by type, an acknowledgement subheader (reserved 16 bits, ack
//! number high 16 and low 32 bits), a service code (Request) or both
//! (Response, Reset).

use super::{read_u16, read_u32, read_u8, Malformed};
use crate::invalid::Invalid;
use crate::packet::Dccp as DccpInfo;

/// Byte offsets of the generic header's fields.
pub mod field {
    /// Source port (u16).
    pub const SRC_PORT: usize = 0;
    /// Destination port (u16).
    pub const DST_PORT: usize = 2;
    /// Data offset, in 32-bit words (u8).
    pub const DOFF: usize = 4;
    /// CCVal (high 4 bits) and CsCov (low 4 bits).
    pub const CCVAL_CSCOV: usize = 5;
    /// Checksum (u16).
    pub const CHECKSUM: usize = 6;
    /// Reserved (3 bits), type (4 bits), X (1 bit).
    pub const TYPE_X: usize = 8;
    /// Sequence number bits 16..24 when X is clear (`dccph_seq2`).
    pub const SEQ2: usize = 9;
    /// Sequence number, 16 bits (low bits without X, high bits with X).
    pub const SEQ: usize = 10;
    /// Low 32 bits of the 48-bit sequence number (X set).
    pub const SEQ_LOW: usize = 12;
}

/// Size of the generic header without X (`struct dccp_hdr`).
pub const HEADER_LEN: usize = 12;

/// Size of the generic header with X.
pub const HEADER_LEN_X: usize = 16;

/// Packet types (RFC 4340 5.1).
pub mod ty {
    /// Request.
    pub const REQUEST: u8 = 0;
    /// Response.
    pub const RESPONSE: u8 = 1;
    /// Data.
    pub const DATA: u8 = 2;
    /// Ack.
    pub const ACK: u8 = 3;
    /// DataAck.
    pub const DATAACK: u8 = 4;
    /// CloseReq.
    pub const CLOSEREQ: u8 = 5;
    /// Close.
    pub const CLOSE: u8 = 6;
    /// Reset.
    pub const RESET: u8 = 7;
    /// Sync.
    pub const SYNC: u8 = 8;
    /// SyncAck.
    pub const SYNCACK: u8 = 9;
    /// The first reserved type.
    pub const INVALID: u8 = 10;
}

/// Types that must carry 48-bit sequence numbers (Linux's
/// `require_seq48`): all but Data, Ack and DataAck.
fn requires_x(t: u8) -> bool {
    !matches!(t, ty::DATA | ty::ACK | ty::DATAACK)
}

/// Bytes after the generic header a type's subheader takes, as Linux's
/// `dccp_packet_hdr_len` counts them.
pub fn subheader_len(t: u8) -> usize {
    match t {
        ty::DATA => 0,
        ty::REQUEST => 4,
        ty::RESPONSE | ty::RESET => 12,
        _ => 8,
    }
}

/// A view over a DCCP generic header at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dccp<'a> {
    buf: &'a [u8],
}

impl<'a> Dccp<'a> {
    /// Checks that `buf` holds the generic header without X.
    pub fn new_checked(buf: &'a [u8]) -> Result<Dccp<'a>, Malformed> {
        if buf.len() < HEADER_LEN {
            return Err(Malformed::Truncated);
        }
        Ok(Dccp { buf })
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        read_u16(self.buf, field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buf, field::DST_PORT)
    }

    /// Data offset field, in 32-bit words.
    pub fn doff(&self) -> u8 {
        read_u8(self.buf, field::DOFF)
    }

    /// Checksum coverage field (0: all of the packet).
    pub fn cscov(&self) -> u8 {
        read_u8(self.buf, field::CCVAL_CSCOV) & 0x0f
    }

    /// Packet type.
    pub fn packet_type(&self) -> u8 {
        (read_u8(self.buf, field::TYPE_X) >> 1) & 0x0f
    }

    /// The X bit: 48-bit sequence numbers.
    pub fn x(&self) -> bool {
        read_u8(self.buf, field::TYPE_X) & 1 != 0
    }

    /// Length of the generic header (12 or 16 bytes).
    pub fn header_len(&self) -> usize {
        if self.x() {
            HEADER_LEN_X
        } else {
            HEADER_LEN
        }
    }

    /// Sequence number (Linux's `dccp_hdr_seq`); the low bits with X set
    /// lie past the fixed header, checked by the caller.
    pub fn seq(&self) -> u64 {
        let seq = u64::from(read_u16(self.buf, field::SEQ));
        if self.x() {
            seq << 32 | u64::from(read_u32(self.buf, field::SEQ_LOW))
        } else {
            seq | u64::from(read_u8(self.buf, field::SEQ2)) << 16
        }
    }

    /// Acknowledgement number read in the 48-bit layout right after the
    /// generic header (Linux's `dccp_ack_seq`, whatever X says).
    pub fn ack(&self) -> u64 {
        let at = self.header_len();
        u64::from(read_u16(self.buf, at.saturating_add(2))) << 32
            | u64::from(read_u32(self.buf, at.saturating_add(4)))
    }
}

/// The summary of a DCCP packet whose DCCP bytes at hand are `seg` and
/// whose DCCP length is `l4_len`, with Linux's `dccp_error` checks: data
/// offset within the packet and at least the generic header, checksum
/// coverage within the packet, a defined type, 48-bit sequence numbers
/// where the type needs them, and every header byte Linux reads present.
pub fn summarize(seg: &[u8], l4_len: usize) -> Result<(Dccp<'_>, DccpInfo), Invalid> {
    let d = Dccp::new_checked(seg.get(..l4_len.min(seg.len())).unwrap_or_default())
        .map_err(|_| Invalid::BadL4Header)?;
    let doff = usize::from(d.doff()).saturating_mul(4);
    if doff < HEADER_LEN || doff > l4_len {
        return Err(Invalid::BadL4Header);
    }
    let cscov = match d.cscov() {
        0 => l4_len,
        c => usize::from(c).saturating_sub(1).saturating_mul(4),
    };
    if cscov > l4_len {
        return Err(Invalid::DccpBadChecksumCoverage);
    }
    let t = d.packet_type();
    if t >= ty::INVALID || (requires_x(t) && !d.x()) {
        return Err(Invalid::DccpBadType);
    }
    if d.header_len().saturating_add(subheader_len(t)) > d.buf.len() {
        return Err(Invalid::BadL4Header);
    }
    let ack = if matches!(t, ty::DATA | ty::REQUEST) { 0 } else { d.ack() };
    let info = DccpInfo::new(t, d.seq(), ack, u16::try_from(cscov).unwrap_or(u16::MAX));
    Ok((d, info))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// 40000 -> 5001, Request, X, seq 0x0000_1234_5678, service code 42.
    const REQUEST: [u8; 20] = [
        0x9c, 0x40, 0x13, 0x89, 5, 0, 0, 0, 0x01, 0, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0, 0, 0,
        42,
    ];

    #[test]
    fn golden_request() {
        let (d, info) = summarize(&REQUEST, REQUEST.len()).unwrap();
        assert_eq!((d.src_port(), d.dst_port(), d.x()), (40000, 5001, true));
        assert_eq!(info, DccpInfo::new(ty::REQUEST, 0x1234_5678, 0, 20));
    }

    #[test]
    fn refusals() {
        let with = |at: usize, v: u8| {
            let mut p = REQUEST.to_vec();
            p[at] = v;
            p
        };
        let check = |p: &[u8]| summarize(p, p.len()).map(|(_, i)| i);
        // Data offset below 3 words or beyond the packet.
        assert_eq!(check(&with(4, 2)), Err(Invalid::BadL4Header));
        assert_eq!(check(&with(4, 6)), Err(Invalid::BadL4Header));
        // Coverage (c - 1) * 4 beyond the packet; 6 words = 20 bytes is fine.
        assert_eq!(check(&with(5, 7)), Err(Invalid::DccpBadChecksumCoverage));
        assert_eq!(check(&with(5, 6)).unwrap().cscov, 20);
        // A reserved type, or a Request without X.
        assert_eq!(check(&with(8, 10 << 1 | 1)), Err(Invalid::DccpBadType));
        assert_eq!(check(&with(8, 0)), Err(Invalid::DccpBadType));
        // Data without X: 24-bit sequence number.
        let mut data = REQUEST[..12].to_vec();
        data[4] = 3;
        data[8] = ty::DATA << 1;
        data[9..12].copy_from_slice(&[0xab, 0xcd, 0xef]);
        assert_eq!(check(&data).unwrap().seq(), 0xab_cdef);
        // Subheader cut short.
        assert_eq!(check(&REQUEST[..19]), Err(Invalid::BadL4Header));
        assert_eq!(summarize(&REQUEST, 19).map(|(_, i)| i), Err(Invalid::BadL4Header));
        for n in 0..REQUEST.len() {
            assert!(summarize(&REQUEST[..n], n).is_err());
        }
    }
}
