//! What the tracker needs to know about one packet, parsed once from the
//! checked wire views (`crate::wire`).

use crate::invalid::Invalid;
use crate::tuple::Tuple;

/// TCP header flags as on the wire (byte 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// ECE.
    pub const ECE: u8 = 0x40;
    /// CWR.
    pub const CWR: u8 = 0x80;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// The TCP fields connection tracking uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Segment {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful when ACK is set).
    pub ack: u32,
    /// Raw (unscaled) window.
    pub window: u16,
    /// Flags.
    pub flags: TcpFlags,
    /// Payload bytes after the TCP header (from the IP total length).
    pub payload_len: u32,
    /// Window scale option, if present (only meaningful on SYNs).
    pub wscale: Option<u8>,
    /// SACK-permitted option present.
    pub sack_perm: bool,
    /// The highest right edge among SACK blocks, if any.
    pub sack_edge: Option<u32>,
}

/// The ICMP part of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmp {
    /// A query or its answer (echo, timestamp, info, mask); the tuple holds
    /// type, code and id.
    Query,
    /// An error (dest-unreachable, source-quench, redirect, time-exceeded,
    /// parameter-problem) quoting the header of the packet it is about,
    /// whose tuple is [`Packet::quoted`] (kept out of this enum, which
    /// every packet's parse moves: it stays small).
    Error,
    /// Any other ICMP type (tracked by the query rules, which refuse it).
    Other,
    /// An ICMPv6 message 6.12 leaves untracked (neighbour discovery, MLD,
    /// multicast router discovery): after the checksum, no entry and no
    /// INVALID ([`Invalid::Untracked`]).
    Untracked,
}

/// The SCTP fields connection tracking uses: the verification tag and
/// the chunks in order (Linux 6.12 walks them all; see
/// [`crate::wire::sctp`]). Kept small, as every packet's summary is
/// moved along the per-packet path: chunk types as 4-bit codes of the
/// types the state machine tells apart ([`CHUNK_CODES`]), any other type
/// as [`OTHER_CHUNK`], the first [`SCTP_CHUNKS_KEPT`] chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Sctp {
    /// Verification tag of the common header.
    pub vtag: u32,
    /// The initiate tag of a first chunk that is an INIT or INIT ACK with
    /// its fixed part present.
    pub init_tag: Option<u32>,
    /// Chunk `i`'s code in nibble `i % 2` of byte `i / 2` (low first).
    codes: [u8; SCTP_CHUNKS_KEPT / 2],
    /// Bit `i`: chunk `i` has the T flag.
    t_flags: u16,
    /// Number of chunks walked (the first [`SCTP_CHUNKS_KEPT`] are kept).
    pub count: u8,
}

/// How many chunks of a packet the summary keeps: more than a handshake
/// or shutdown bundles; chunks past them (at most
/// [`crate::wire::sctp::MAX_CHUNKS`] fit the bytes the tracker reads)
/// are checked but do not move the state.
pub const SCTP_CHUNKS_KEPT: usize = 16;

/// The chunk types with a code: code `i + 1` is `CHUNK_CODES[i]`, code 0
/// any other type.
const CHUNK_CODES: [u8; 12] = {
    use crate::wire::sctp::chunk;
    [
        chunk::DATA,
        chunk::INIT,
        chunk::INIT_ACK,
        chunk::ABORT,
        chunk::SHUTDOWN,
        chunk::SHUTDOWN_ACK,
        chunk::ERROR,
        chunk::COOKIE_ECHO,
        chunk::COOKIE_ACK,
        chunk::SHUTDOWN_COMPLETE,
        chunk::HEARTBEAT,
        chunk::HEARTBEAT_ACK,
    ]
};

/// What [`Sctp::chunk_types`] gives for a type without a code (a
/// reserved type number, which no rule names).
pub const OTHER_CHUNK: u8 = 0xff;

impl Sctp {
    /// Appends a chunk (counted, but not kept, past [`SCTP_CHUNKS_KEPT`]).
    pub fn push(&mut self, ty: u8, t_flag: bool) {
        let i = usize::from(self.count);
        let code = CHUNK_CODES.iter().position(|&t| t == ty).map_or(0, |p| p.saturating_add(1));
        if let (Some(byte), Ok(code)) = (self.codes.get_mut(i / 2), u8::try_from(code)) {
            *byte |= if i % 2 == 0 { code } else { code << 4 };
            if t_flag {
                self.t_flags |= 1u16.checked_shl(u32::from(self.count)).unwrap_or(0);
            }
        }
        self.count = self.count.saturating_add(1);
    }

    /// The kept chunks' types in order ([`OTHER_CHUNK`] for a type
    /// without a code).
    pub fn chunk_types(&self) -> impl Iterator<Item = u8> + '_ {
        let kept = usize::from(self.count).min(SCTP_CHUNKS_KEPT);
        (0..kept).map(|i| {
            let byte = self.codes.get(i / 2).copied().unwrap_or(0);
            let code = if i % 2 == 0 { byte & 0x0f } else { byte >> 4 };
            usize::from(code)
                .checked_sub(1)
                .and_then(|c| CHUNK_CODES.get(c).copied())
                .unwrap_or(OTHER_CHUNK)
        })
    }

    /// Whether chunk `i` has the T flag.
    pub fn t_flag(&self, i: usize) -> bool {
        u32::try_from(i).ok().and_then(|i| self.t_flags.checked_shr(i)).is_some_and(|b| b & 1 != 0)
    }

    /// Whether some kept chunk has type `ty` (Linux's chunk map).
    pub fn has(&self, ty: u8) -> bool {
        self.chunk_types().any(|t| t == ty)
    }
}

/// The DCCP fields connection tracking uses (see [`crate::wire::dccp`]);
/// the 48-bit numbers as 16-bit words, so that the summary keeps the
/// 4-byte alignment of the other protocols' and stays small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Dccp {
    /// Packet type (0 Request .. 9 SyncAck).
    pub ty: u8,
    /// Bytes the checksum covers.
    pub cscov: u16,
    seq: [u16; 3],
    ack: [u16; 3],
}

impl Dccp {
    /// The fields of a packet of type `ty`: sequence number `seq` (48 bits
    /// with X set, else 24), acknowledgement `ack` as Linux's
    /// `dccp_ack_seq` reads it (the 48-bit layout; 0 for types without an
    /// acknowledgement subheader), checksum coverage `cscov`.
    pub fn new(ty: u8, seq: u64, ack: u64, cscov: u16) -> Dccp {
        Dccp { ty, cscov, seq: words48(seq), ack: words48(ack) }
    }

    /// Sequence number.
    pub fn seq(&self) -> u64 {
        from_words48(self.seq)
    }

    /// Acknowledgement number.
    pub fn ack(&self) -> u64 {
        from_words48(self.ack)
    }
}

/// The low 48 bits of `v` as three 16-bit words, most significant first.
fn words48(v: u64) -> [u16; 3] {
    let w = |shift: u32| u16::try_from((v >> shift) & 0xffff).unwrap_or(0);
    [w(32), w(16), w(0)]
}

fn from_words48(w: [u16; 3]) -> u64 {
    let [a, b, c] = w;
    u64::from(a) << 32 | u64::from(b) << 16 | u64::from(c)
}

/// Layer-4 details beyond the tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Info {
    /// TCP segment fields.
    Tcp(Segment),
    /// UDP: nothing beyond the ports.
    Udp,
    /// UDP-Lite: the bytes its checksum covers (checked by the shell).
    UdpLite {
        /// Checksum coverage in bytes (the whole datagram for a 0 field).
        cscov: u16,
    },
    /// SCTP.
    Sctp(Sctp),
    /// DCCP.
    Dccp(Dccp),
    /// ICMP.
    Icmp(Icmp),
    /// Another protocol.
    Other,
}

/// A parsed IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The packet's own tuple (its direction as sent).
    pub tuple: Tuple,
    /// Protocol details.
    pub l4: L4Info,
    /// Total length from the IP header (bytes).
    pub ip_len: u16,
    /// Offset of the transport header from the IP header (IPv4: the
    /// header length; IPv6: past the extension headers), for the
    /// checksum.
    pub l4_off: u16,
    /// An ICMP error's quoted packet's tuple, as it travelled (not
    /// inverted); `None` for every other packet.
    pub quoted: Option<Tuple>,
}

/// Parses an IPv4 packet. `head` holds the first bytes of the packet (at
/// least the headers; may be shorter than the packet), `frame_len` is the
/// length of the whole packet as received. Fragments are refused with
/// [`Invalid::Fragment`].
#[inline(always)]
pub fn parse(head: &[u8], frame_len: usize) -> Result<Packet, Invalid> {
    crate::wire::parse_packet(head, frame_len)
}

/// Parses an IPv6 packet held in a slice (see
/// [`crate::wire::parse6::parse_packet6`]).
pub fn parse6(head: &[u8], frame_len: usize) -> Result<Packet, Invalid> {
    crate::wire::parse6::parse_packet6(head, frame_len)
}

/// Parses an IPv6 packet read through a byte source (see
/// [`crate::wire::parse6::parse_packet6_over`]): the IPv6 hooks' entry.
pub fn parse6_over<S: crate::wire::source::ByteSource>(src: S) -> Result<Packet, Invalid> {
    crate::wire::parse6::parse_packet6_over(src)
}

/// Parses a packet of either family, by its version nibble (the host
/// tracker and the fuzz targets; the kernel's hooks know the family).
pub fn parse_any(head: &[u8], frame_len: usize) -> Result<Packet, Invalid> {
    match head.first().map(|b| b >> 4) {
        Some(6) => parse6(head, frame_len),
        _ => parse(head, frame_len),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    #[test]
    fn sctp_chunks_keep_type_order_and_t_flags() {
        let mut s = Sctp::default();
        // Every coded type, then two without a code, then more than are kept.
        let mut types: [u8; 20] = [0; 20];
        for (i, t) in types.iter_mut().enumerate() {
            *t = match i {
                0..=11 => CHUNK_CODES[i],
                12 => 0x40,
                13 => OTHER_CHUNK,
                _ => CHUNK_CODES[i % 12],
            };
        }
        for (i, &t) in types.iter().enumerate() {
            s.push(t, i % 3 == 0);
        }
        assert_eq!(s.count, 20);
        let kept: [u8; SCTP_CHUNKS_KEPT] = core::array::from_fn(|i| match types[i] {
            0x40 => OTHER_CHUNK,
            t => t,
        });
        assert!(s.chunk_types().eq(kept));
        for i in 0..SCTP_CHUNKS_KEPT {
            assert_eq!(s.t_flag(i), i % 3 == 0, "chunk {i}");
        }
        assert!(!s.t_flag(SCTP_CHUNKS_KEPT));
        assert!(s.has(CHUNK_CODES[11]) && !s.has(0x40));
    }

    #[test]
    fn dccp_numbers_keep_48_bits() {
        let d = Dccp::new(3, 0xffff_ffff_ffff, 0x1234_5678_9abc, 20);
        assert_eq!((d.ty, d.seq(), d.ack(), d.cscov), (3, 0xffff_ffff_ffff, 0x1234_5678_9abc, 20));
        assert_eq!(Dccp::new(0, 1 << 48 | 5, 0, 0).seq(), 5);
    }

    #[test]
    fn a_packet_summary_stays_small() {
        // The layer-4 summary, which each parse moves, as small as before
        // SCTP and DCCP; the packet's two tuples (its own and an ICMP
        // error's quote) hold addresses of either family.
        assert!(core::mem::size_of::<L4Info>() <= 28);
        assert!(core::mem::size_of::<Packet>() <= 128);
    }
}
