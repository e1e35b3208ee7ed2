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
    /// parameter-problem) quoting the header of the packet it is about.
    Error {
        /// The quoted packet's tuple, as it travelled (not inverted).
        inner: Tuple,
    },
    /// Any other ICMP type (tracked by the query rules, which refuse it).
    Other,
}

/// The SCTP fields connection tracking uses: the verification tag and
/// the chunks in order (Linux 6.12 walks them all; see
/// [`crate::wire::sctp`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Sctp {
    /// Verification tag of the common header.
    pub vtag: u32,
    /// The initiate tag of a first chunk that is an INIT or INIT ACK with
    /// its fixed part present.
    pub init_tag: Option<u32>,
    /// Chunk types, the first `count` of them.
    types: [u8; crate::wire::sctp::MAX_CHUNKS],
    /// Bit `i`: chunk `i` has the T flag.
    t_flags: u32,
    /// Number of chunks.
    pub count: u8,
}

impl Sctp {
    /// Appends a chunk (ignored past [`crate::wire::sctp::MAX_CHUNKS`]).
    pub fn push(&mut self, ty: u8, t_flag: bool) {
        let i = usize::from(self.count);
        if let Some(slot) = self.types.get_mut(i) {
            *slot = ty;
            if t_flag {
                self.t_flags |= 1u32.checked_shl(u32::from(self.count)).unwrap_or(0);
            }
            self.count = self.count.saturating_add(1);
        }
    }

    /// The chunk types in order.
    pub fn chunk_types(&self) -> &[u8] {
        self.types.get(..usize::from(self.count)).unwrap_or_default()
    }

    /// Whether chunk `i` has the T flag.
    pub fn t_flag(&self, i: usize) -> bool {
        u32::try_from(i).ok().and_then(|i| self.t_flags.checked_shr(i)).is_some_and(|b| b & 1 != 0)
    }

    /// Whether some chunk has type `ty` (Linux's chunk map).
    pub fn has(&self, ty: u8) -> bool {
        self.chunk_types().contains(&ty)
    }
}

/// The DCCP fields connection tracking uses (see [`crate::wire::dccp`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Dccp {
    /// Packet type (0 Request .. 9 SyncAck).
    pub ty: u8,
    /// Sequence number (48 bits with X set, else 24).
    pub seq: u64,
    /// Acknowledgement number as Linux's `dccp_ack_seq` reads it (the
    /// 48-bit layout), for types with an acknowledgement subheader.
    pub ack: u64,
    /// Bytes the checksum covers.
    pub cscov: u16,
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
}

/// Parses an IPv4 packet. `head` holds the first bytes of the packet (at
/// least the headers; may be shorter than the packet), `frame_len` is the
/// length of the whole packet as received. Fragments are refused with
/// [`Invalid::Fragment`].
pub fn parse(head: &[u8], frame_len: usize) -> Result<Packet, Invalid> {
    crate::wire::parse_packet(head, frame_len)
}
