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

/// Layer-4 details beyond the tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Info {
    /// TCP segment fields.
    Tcp(Segment),
    /// UDP: nothing beyond the ports.
    Udp,
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
