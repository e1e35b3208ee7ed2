//! A checked view over a TCP header (RFC 9293) and its options.
//!
//! ```text
//!  0               1               2               3
//!  |         source port           |       destination port        |
//!  |                       sequence number                         |
//!  |                    acknowledgment number                      |
//!  | doff  | rsvd  |    flags      |            window             |
//!  |          checksum             |        urgent pointer         |
//!  |                 options (doff > 5) ...                        |
//! ```
//!
//! Options are read the way Linux's conntrack reads them (`tcp_options`
//! and `tcp_sack` in `nf_conntrack_proto_tcp.c`): EOL ends the list, NOP is
//! one byte, every other option has a length byte; a length below 2 or
//! past the end of the option space stops parsing (what was found before
//! it stands). An option with an unexpected length is skipped.

use super::{read_u16, read_u32, read_u8, seq_after, words_to_bytes, Malformed};

/// Byte offsets of the header fields.
pub mod field {
    /// Source port (u16).
    pub const SRC_PORT: usize = 0;
    /// Destination port (u16).
    pub const DST_PORT: usize = 2;
    /// Sequence number (u32).
    pub const SEQ: usize = 4;
    /// Acknowledgment number (u32).
    pub const ACK: usize = 8;
    /// Data offset (high nibble, in 32-bit words).
    pub const DATA_OFFSET: usize = 12;
    /// Flags (FIN .. CWR).
    pub const FLAGS: usize = 13;
    /// Window (u16).
    pub const WINDOW: usize = 14;
    /// Checksum (u16).
    pub const CHECKSUM: usize = 16;
    /// Urgent pointer (u16).
    pub const URGENT: usize = 18;
}

/// Size of the header without options.
pub const HEADER_LEN: usize = 20;
/// Largest header: data offset 15.
pub const MAX_HEADER_LEN: usize = 60;

/// Largest window scale shift; larger values are taken as 14 (RFC 7323,
/// Linux's `TCP_MAX_WSCALE`).
pub const MAX_WSCALE: u8 = 14;

/// Option kinds.
pub mod kind {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No operation (padding).
    pub const NOP: u8 = 1;
    /// Maximum segment size.
    pub const MSS: u8 = 2;
    /// Window scale.
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted.
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK blocks.
    pub const SACK: u8 = 5;
    /// Timestamps.
    pub const TIMESTAMP: u8 = 8;
}

/// A view over a TCP header at the start of a buffer; the header, options
/// included, lies inside the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp<'a> {
    buf: &'a [u8],
    header_len: usize,
}

impl<'a> Tcp<'a> {
    /// Checks that `buf` holds the fixed header and that the data offset is
    /// at least 5 and does not point past the end of `buf`.
    pub fn new_checked(buf: &'a [u8]) -> Result<Tcp<'a>, Malformed> {
        if buf.len() < HEADER_LEN {
            return Err(Malformed::Truncated);
        }
        let header_len = words_to_bytes(read_u8(buf, field::DATA_OFFSET) >> 4);
        if header_len < HEADER_LEN {
            return Err(Malformed::HeaderTooShort);
        }
        if header_len > buf.len() {
            return Err(Malformed::HeaderBeyondBuffer);
        }
        Ok(Tcp { buf, header_len })
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        read_u16(self.buf, field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buf, field::DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        read_u32(self.buf, field::SEQ)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        read_u32(self.buf, field::ACK)
    }

    /// Header length in bytes, options included (20..=60).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The flag byte (see [`crate::packet::TcpFlags`]).
    pub fn flags(&self) -> u8 {
        read_u8(self.buf, field::FLAGS)
    }

    /// Raw (unscaled) window.
    pub fn window(&self) -> u16 {
        read_u16(self.buf, field::WINDOW)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buf, field::CHECKSUM)
    }

    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        read_u16(self.buf, field::URGENT)
    }

    /// The option bytes.
    pub fn option_bytes(&self) -> &'a [u8] {
        self.buf.get(HEADER_LEN..self.header_len).unwrap_or_default()
    }

    /// The options, in order.
    pub fn options(&self) -> Options<'a> {
        Options { rest: self.option_bytes() }
    }

    /// The payload bytes the buffer holds after the header.
    pub fn payload(&self) -> &'a [u8] {
        self.buf.get(self.header_len..).unwrap_or_default()
    }

    /// What connection tracking needs from the options.
    pub fn option_summary(&self) -> OptionSummary {
        let mut s = OptionSummary::default();
        let mut sack_seen = false;
        for opt in self.options() {
            match opt {
                // The last window scale option counts, as in Linux.
                TcpOption::WindowScale(shift) => s.wscale = Some(shift.min(MAX_WSCALE)),
                TcpOption::SackPermitted => s.sack_perm = true,
                // Only the first SACK option counts, as in Linux.
                TcpOption::Sack(blocks) if !sack_seen => {
                    sack_seen = true;
                    s.sack_edge = blocks.highest_right_edge();
                }
                _ => {}
            }
        }
        s
    }
}

/// The TCP options connection tracking uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OptionSummary {
    /// Window scale shift, capped at [`MAX_WSCALE`].
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_perm: bool,
    /// Highest right edge of the first SACK option's blocks, by sequence
    /// order.
    pub sack_edge: Option<u32>,
}

/// One TCP option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// No operation.
    Nop,
    /// Maximum segment size (length 4).
    Mss(u16),
    /// Window scale shift as sent, not capped (length 3).
    WindowScale(u8),
    /// SACK permitted (length 2).
    SackPermitted,
    /// SACK blocks (length 2 + 8n, n ≥ 1).
    Sack(SackBlocks<'a>),
    /// Timestamps: value and echo reply (length 10).
    Timestamp {
        /// TSval.
        value: u32,
        /// TSecr.
        echo: u32,
    },
    /// Any other option, or a known one with an unexpected length.
    Other {
        /// Option kind.
        kind: u8,
        /// Bytes after the kind and length bytes.
        data: &'a [u8],
    },
}

/// The blocks of a SACK option: pairs of (left edge, right edge).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SackBlocks<'a> {
    bytes: &'a [u8],
}

impl SackBlocks<'_> {
    /// The blocks as (left, right) edges.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.bytes.chunks_exact(8).map(|b| (read_u32(b, 0), read_u32(b, 4)))
    }

    /// The right edge that comes last in sequence order.
    pub fn highest_right_edge(&self) -> Option<u32> {
        self.iter()
            .map(|(_, right)| right)
            .reduce(|best, r| if seq_after(r, best) { r } else { best })
    }
}

/// Iterator over TCP options; stops at EOL or at the first malformed
/// option (see the module documentation).
#[derive(Clone, Copy, Debug)]
pub struct Options<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Options<'a> {
    type Item = TcpOption<'a>;

    fn next(&mut self) -> Option<TcpOption<'a>> {
        let (&kind, after_kind) = self.rest.split_first()?;
        match kind {
            kind::EOL => {
                self.rest = &[];
                None
            }
            kind::NOP => {
                self.rest = after_kind;
                Some(TcpOption::Nop)
            }
            _ => {
                let size = usize::from(after_kind.first().copied().unwrap_or(0));
                // "Silly" or partial options end the parse.
                // (`get` twice rather than `split_at_checked`: the kernel's
                // minimum Rust is 1.78.)
                let split = self.rest.get(..size).zip(self.rest.get(size..));
                let Some((opt, rest)) = split.filter(|_| size >= 2) else {
                    self.rest = &[];
                    return None;
                };
                self.rest = rest;
                let data = opt.get(2..).unwrap_or_default();
                Some(decode(kind, data))
            }
        }
    }
}

/// An option from its kind and the bytes after its length byte.
fn decode(kind: u8, data: &[u8]) -> TcpOption<'_> {
    match (kind, data.len()) {
        (kind::MSS, 2) => TcpOption::Mss(read_u16(data, 0)),
        (kind::WINDOW_SCALE, 1) => TcpOption::WindowScale(read_u8(data, 0)),
        (kind::SACK_PERMITTED, 0) => TcpOption::SackPermitted,
        (kind::SACK, n) if n >= 8 && n % 8 == 0 => TcpOption::Sack(SackBlocks { bytes: data }),
        (kind::TIMESTAMP, 8) => {
            TcpOption::Timestamp { value: read_u32(data, 0), echo: read_u32(data, 4) }
        }
        _ => TcpOption::Other { kind, data },
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
    use super::super::tests::{TCP_ACK_SACK, TCP_SYN};
    use super::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn golden_syn_fields() {
        let tcp = Tcp::new_checked(&TCP_SYN[20..]).unwrap();
        assert_eq!(tcp.src_port(), 32775);
        assert_eq!(tcp.dst_port(), 22);
        assert_eq!(tcp.seq_number(), 0x6b8b_4567);
        assert_eq!(tcp.ack_number(), 0);
        assert_eq!(tcp.header_len(), 40);
        assert_eq!(tcp.flags(), 0x02);
        assert_eq!(tcp.window(), 64240);
        assert_eq!(tcp.checksum(), 0x4d86);
        assert_eq!(tcp.urgent(), 0);
        assert_eq!(tcp.option_bytes().len(), 20);
        assert!(tcp.payload().is_empty());
        let opts: Vec<_> = tcp.options().collect();
        assert_eq!(
            opts,
            [
                TcpOption::Mss(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamp { value: 123_456, echo: 0 },
                TcpOption::Nop,
                TcpOption::WindowScale(7),
            ]
        );
        assert_eq!(
            tcp.option_summary(),
            OptionSummary { wscale: Some(7), sack_perm: true, sack_edge: None }
        );
    }

    #[test]
    fn golden_sack_fields() {
        let tcp = Tcp::new_checked(&TCP_ACK_SACK[20..]).unwrap();
        assert_eq!(tcp.header_len(), 44);
        assert_eq!(tcp.payload(), b"hello");
        let opts: Vec<_> = tcp.options().collect();
        assert_eq!(opts.len(), 3); // NOP NOP SACK, then EOL
        let TcpOption::Sack(blocks) = opts[2] else { panic!("{opts:?}") };
        assert_eq!(blocks.iter().collect::<Vec<_>>(), [(0x10, 0x1000), (0x700, 0x800)]);
        assert_eq!(tcp.option_summary().sack_edge, Some(0x1000));
    }

    /// A 20-byte header followed by `opts` padded with EOL to a word.
    fn with_options(opts: &[u8]) -> Vec<u8> {
        let mut p = TCP_SYN[20..40].to_vec();
        p.extend_from_slice(opts);
        while !p.len().is_multiple_of(4) {
            p.push(0);
        }
        p[12] = ((p.len() / 4) as u8) << 4;
        p
    }

    fn summary(opts: &[u8]) -> OptionSummary {
        Tcp::new_checked(&with_options(opts)).unwrap().option_summary()
    }

    #[test]
    fn window_scale_is_capped_at_14() {
        assert_eq!(summary(&[3, 3, 14]).wscale, Some(14));
        assert_eq!(summary(&[3, 3, 15]).wscale, Some(14));
        assert_eq!(summary(&[3, 3, 255]).wscale, Some(14));
        assert_eq!(summary(&[3, 3, 0]).wscale, Some(0));
        // The raw value stays visible in the option itself.
        let p = with_options(&[3, 3, 200]);
        let opt = Tcp::new_checked(&p).unwrap().options().next();
        assert_eq!(opt, Some(TcpOption::WindowScale(200)));
    }

    #[test]
    fn options_with_wrong_length_are_skipped() {
        // Window scale of length 4, SACK-permitted of length 3: ignored, but
        // parsing goes on to the good window scale after them.
        let s = summary(&[3, 4, 7, 7, 4, 3, 0, 3, 3, 5]);
        assert_eq!(s, OptionSummary { wscale: Some(5), sack_perm: false, sack_edge: None });
        // SACK whose block bytes are not a multiple of 8.
        let s = summary(&[5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 4, 2]);
        assert_eq!(s, OptionSummary { wscale: None, sack_perm: true, sack_edge: None });
    }

    #[test]
    fn malformed_options_stop_parsing() {
        // Length 0 and 1 ("silly"): stop; the window scale after is unseen.
        assert_eq!(
            summary(&[4, 2, 8, 0, 3, 3, 7]),
            OptionSummary { sack_perm: true, ..Default::default() }
        );
        assert_eq!(summary(&[8, 1, 3, 3, 7]).wscale, None);
        // Length past the option space: stop.
        assert_eq!(summary(&[3, 3, 2, 8, 40]).wscale, Some(2));
        // A kind byte with no length byte at the very end.
        let mut p = TCP_SYN[20..44].to_vec();
        p[12] = 6 << 4;
        p[20..24].copy_from_slice(&[1, 1, 1, 3]);
        assert_eq!(Tcp::new_checked(&p).unwrap().options().count(), 3);
        // EOL ends the list even if more follows.
        assert_eq!(summary(&[0, 3, 3, 7]).wscale, None);
    }

    #[test]
    fn only_the_first_sack_option_counts() {
        let mut opts = vec![5, 10, 0, 0, 0, 0, 0, 0, 0, 9];
        opts.extend_from_slice(&[5, 10, 0, 0, 0, 0, 0, 0, 0, 200]);
        assert_eq!(summary(&opts).sack_edge, Some(9));
    }

    #[test]
    fn sack_edge_is_wrap_aware() {
        // 0x0000_0010 comes after 0xffff_fff0 (it wrapped).
        let mut opts = vec![1, 1, 5, 26];
        for (l, r) in [(0xffff_ff00u32, 0xffff_fff0u32), (0xffff_fff0, 0x10), (0x0, 0x8)] {
            opts.extend_from_slice(&l.to_be_bytes());
            opts.extend_from_slice(&r.to_be_bytes());
        }
        assert_eq!(summary(&opts).sack_edge, Some(0x10));
    }

    #[test]
    fn malformed_headers() {
        assert_eq!(Tcp::new_checked(&TCP_SYN[20..39]), Err(Malformed::Truncated));
        let mut p = TCP_SYN[20..].to_vec();
        for doff in 0..5u8 {
            p[12] = doff << 4;
            assert_eq!(Tcp::new_checked(&p), Err(Malformed::HeaderTooShort));
        }
        p[12] = 0xb0; // 44 > 40
        assert_eq!(Tcp::new_checked(&p), Err(Malformed::HeaderBeyondBuffer));
        p[12] = 0x5f; // reserved bits and NS do not change the offset
        assert_eq!(Tcp::new_checked(&p).unwrap().header_len(), 20);
    }

    #[test]
    fn every_option_byte_string_is_safe() {
        // Exhaustive over short option spaces: no panic, bounded output.
        for a in 0..=255u8 {
            for b in [0u8, 1, 2, 3, 4, 5, 8, 10, 18, 40, 255] {
                let p = with_options(&[a, b, a, b, 1, 2, 3, 4]);
                let tcp = Tcp::new_checked(&p).unwrap();
                assert!(tcp.options().count() <= 40);
                let _ = tcp.option_summary();
            }
        }
    }
}
