//! A checked view over the SCTP common header (RFC 9260 3.1) and the walk
//! over its chunks, as Linux 6.12's `for_each_sctp_chunk` does it.
//!
//! ```text
//!  0               1               2               3
//!  |         source port           |       destination port        |
//!  |                     verification tag                          |
//!  |                        checksum (CRC32c)                      |
//!  | chunk type    | chunk flags   |         chunk length          |
//! ```

use super::{read_u16, read_u32, read_u8, Malformed};
use crate::invalid::Invalid;
use crate::packet::Sctp as SctpInfo;

/// Byte offsets of the common header's fields.
pub mod field {
    /// Source port (u16).
    pub const SRC_PORT: usize = 0;
    /// Destination port (u16).
    pub const DST_PORT: usize = 2;
    /// Verification tag (u32).
    pub const VTAG: usize = 4;
    /// CRC32c checksum (u32).
    pub const CHECKSUM: usize = 8;
}

/// Size of the common header.
pub const HEADER_LEN: usize = 12;

/// Size of a chunk header (type, flags, length).
pub const CHUNK_HEADER_LEN: usize = 4;

/// Bytes of an INIT or INIT ACK chunk Linux reads after the chunk header
/// (`struct sctp_inithdr`: initiate tag, a_rwnd, streams, initial TSN).
pub const INIT_HEADER_LEN: usize = 16;

/// The chunk types connection tracking tells apart (RFC 9260 3.2).
pub mod chunk {
    /// DATA.
    pub const DATA: u8 = 0;
    /// INIT.
    pub const INIT: u8 = 1;
    /// INIT ACK.
    pub const INIT_ACK: u8 = 2;
    /// SACK.
    pub const SACK: u8 = 3;
    /// HEARTBEAT.
    pub const HEARTBEAT: u8 = 4;
    /// HEARTBEAT ACK.
    pub const HEARTBEAT_ACK: u8 = 5;
    /// ABORT.
    pub const ABORT: u8 = 6;
    /// SHUTDOWN.
    pub const SHUTDOWN: u8 = 7;
    /// SHUTDOWN ACK.
    pub const SHUTDOWN_ACK: u8 = 8;
    /// ERROR.
    pub const ERROR: u8 = 9;
    /// COOKIE ECHO.
    pub const COOKIE_ECHO: u8 = 10;
    /// COOKIE ACK.
    pub const COOKIE_ACK: u8 = 11;
    /// SHUTDOWN COMPLETE.
    pub const SHUTDOWN_COMPLETE: u8 = 14;
    /// The T bit of ABORT and SHUTDOWN COMPLETE: the tag is the peer's.
    pub const FLAG_T: u8 = 0x01;
}

/// The most chunks the walk can meet: chunk headers are at least 4 bytes
/// apart, and it walks the bytes after a minimal IPv4 header and the
/// common header within [`super::MAX_HEAD_LEN`].
pub const MAX_CHUNKS: usize =
    (super::MAX_HEAD_LEN - super::ipv4::HEADER_LEN - HEADER_LEN) / CHUNK_HEADER_LEN;

/// A view over an SCTP packet at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sctp<'a> {
    buf: &'a [u8],
}

impl<'a> Sctp<'a> {
    /// Checks that `buf` holds the common header.
    pub fn new_checked(buf: &'a [u8]) -> Result<Sctp<'a>, Malformed> {
        if buf.len() < HEADER_LEN {
            return Err(Malformed::Truncated);
        }
        Ok(Sctp { buf })
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        read_u16(self.buf, field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buf, field::DST_PORT)
    }

    /// Verification tag.
    pub fn vtag(&self) -> u32 {
        read_u32(self.buf, field::VTAG)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u32 {
        read_u32(self.buf, field::CHECKSUM)
    }

    /// The chunks, in order, among the first `len` bytes of the buffer
    /// (the packet's SCTP length, or less when only a prefix is at hand).
    pub fn chunks(&self, len: usize) -> Chunks<'a> {
        Chunks { buf: self.buf.get(..len.min(self.buf.len())).unwrap_or_default(), at: HEADER_LEN }
    }
}

/// One chunk of the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Chunk type.
    pub ty: u8,
    /// Chunk flags.
    pub flags: u8,
    /// Length field (header included; 0 is malformed).
    pub len: u16,
    /// The initiate tag of an INIT or INIT ACK whose fixed part is there.
    pub init_tag: Option<u32>,
}

/// The walk over chunk headers: each next one `(length + 3) & !3` bytes
/// on, while a whole chunk header fits (Linux stops there too). A zero
/// length ends the walk after yielding the chunk.
#[derive(Clone, Debug)]
pub struct Chunks<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Iterator for Chunks<'_> {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        let end = self.at.checked_add(CHUNK_HEADER_LEN)?;
        if end > self.buf.len() {
            return None;
        }
        let ty = read_u8(self.buf, self.at);
        let len = read_u16(self.buf, self.at.saturating_add(2));
        let init_tag = if matches!(ty, chunk::INIT | chunk::INIT_ACK)
            && end.saturating_add(INIT_HEADER_LEN) <= self.buf.len()
        {
            Some(read_u32(self.buf, end))
        } else {
            None
        };
        let c = Chunk { ty, flags: read_u8(self.buf, self.at.saturating_add(1)), len, init_tag };
        self.at = if len == 0 {
            usize::MAX
        } else {
            self.at.saturating_add((usize::from(len).saturating_add(3)) & !3)
        };
        Some(c)
    }
}

/// The summary of an SCTP packet whose SCTP bytes at hand are `seg` and
/// whose SCTP length is `l4_len`, with Linux's `do_basic_checks`: at least
/// one chunk, none of length 0, COOKIE ECHO and COOKIE ACK only first,
/// INIT, INIT ACK and SHUTDOWN COMPLETE only alone.
pub fn summarize(sctp: &Sctp<'_>, l4_len: usize) -> Result<SctpInfo, Invalid> {
    let mut info = SctpInfo::default();
    info.vtag = sctp.vtag();
    let mut alone = false;
    // Chunks past MAX_CHUNKS lie beyond the bytes the tracker reads.
    for (i, c) in sctp.chunks(l4_len).take(MAX_CHUNKS).enumerate() {
        if matches!(c.ty, chunk::INIT | chunk::INIT_ACK | chunk::SHUTDOWN_COMPLETE) {
            alone = true;
        }
        let first_only = alone || matches!(c.ty, chunk::COOKIE_ACK | chunk::COOKIE_ECHO);
        if (first_only && i != 0) || c.len == 0 {
            return Err(Invalid::SctpBadChunks);
        }
        if i == 0 {
            info.init_tag = c.init_tag;
        }
        info.push(c.ty, c.flags & chunk::FLAG_T != 0);
    }
    if info.count == 0 {
        return Err(Invalid::SctpBadChunks);
    }
    Ok(info)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    /// Ports 5000 -> 6000, vtag 0, an INIT chunk (initiate tag 0x01020304).
    const INIT: [u8; 32] = [
        0x13, 0x88, 0x17, 0x70, 0, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd, // common header
        1, 0, 0, 20, 1, 2, 3, 4, 0, 1, 0, 0, 0, 10, 0, 10, 0, 0, 0, 1, // INIT
    ];

    #[test]
    fn golden_fields_and_walk() {
        let s = Sctp::new_checked(&INIT).unwrap();
        assert_eq!((s.src_port(), s.dst_port(), s.vtag(), s.checksum()), (5000, 6000, 0, 0xaabb_ccdd));
        let info = summarize(&s, INIT.len()).unwrap();
        assert!(info.chunk_types().eq([chunk::INIT]));
        assert_eq!(info.init_tag, Some(0x0102_0304));
        // The fixed INIT part cut short: no tag.
        let info = summarize(&s, 30).unwrap();
        assert_eq!(info.init_tag, None);
        assert_eq!(Sctp::new_checked(&INIT[..11]), Err(Malformed::Truncated));
    }

    #[test]
    fn basic_checks() {
        let pkt = |chunks: &[[u8; 4]]| {
            let mut p = INIT[..12].to_vec();
            for c in chunks {
                p.extend_from_slice(c);
            }
            p
        };
        let check = |p: &[u8]| summarize(&Sctp::new_checked(p).unwrap(), p.len());
        // No chunk at all, or less than a chunk header.
        assert_eq!(check(&pkt(&[])), Err(Invalid::SctpBadChunks));
        assert_eq!(check(&INIT[..15]), Err(Invalid::SctpBadChunks));
        // Zero length.
        assert_eq!(check(&pkt(&[[0, 0, 0, 0]])), Err(Invalid::SctpBadChunks));
        // COOKIE ECHO first with DATA after: fine; after DATA: not.
        assert!(check(&pkt(&[[10, 0, 0, 4], [0, 3, 0, 4]])).is_ok());
        assert_eq!(check(&pkt(&[[0, 3, 0, 4], [10, 0, 0, 4]])), Err(Invalid::SctpBadChunks));
        // SHUTDOWN COMPLETE must be alone.
        assert_eq!(check(&pkt(&[[14, 0, 0, 4], [3, 0, 0, 4]])), Err(Invalid::SctpBadChunks));
        let ok = check(&pkt(&[[14, 1, 0, 4]])).unwrap();
        assert!(ok.chunk_types().eq([14u8]) && ok.t_flag(0));
        // Lengths are rounded up to 4; a length of 5 skips 8 bytes.
        let p = pkt(&[[3, 0, 0, 5], [0, 0, 0, 0], [6, 0, 0, 4]]);
        // (SACK has no code of its own.)
        assert!(check(&p).unwrap().chunk_types().eq([crate::packet::OTHER_CHUNK, chunk::ABORT]));
    }

    #[test]
    fn the_walk_never_panics() {
        for n in 0..=INIT.len() {
            if let Ok(s) = Sctp::new_checked(&INIT[..n]) {
                for len in [0, n, 1000, usize::MAX] {
                    let _ = summarize(&s, len);
                }
            }
        }
        let max = [0u8, 0, 0, 4].repeat(40);
        let mut p = INIT[..12].to_vec();
        p.extend_from_slice(&max);
        let s = Sctp::new_checked(&p).unwrap();
        assert_eq!(summarize(&s, p.len()).unwrap().count, 40.min(MAX_CHUNKS) as u8);
    }
}
