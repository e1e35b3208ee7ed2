//! Per-protocol state machines. Each protocol decides whether a packet may
//! open an entry and how a packet moves an existing entry along.

pub mod dccp;
pub mod generic;
pub mod icmp;
pub mod sctp;
pub mod tcp;
pub mod tcp_window;
pub mod udp;
pub mod udplite;

use crate::Millis;

/// Protocol state kept in an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoState {
    /// TCP: connection state and both directions' windows.
    Tcp(tcp::Tcp),
    /// UDP.
    Udp(udp::Udp),
    /// UDP-Lite.
    UdpLite,
    /// SCTP: association state and verification tags.
    Sctp(sctp::Sctp),
    /// DCCP: connection state and roles.
    Dccp(dccp::Dccp),
    /// ICMP query.
    Icmp,
    /// Any other protocol.
    Generic,
}

/// What a packet does to an existing entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    /// The packet belongs to the entry; its timeout becomes `timeout` from now.
    Accept {
        /// New timeout.
        timeout: Millis,
    },
    /// The packet belongs to the entry and passes (classified as usual),
    /// but leaves the entry's timeout as it was: TCP packets conntrack
    /// cannot judge while out of sync, harmless stale segments, SYN
    /// retransmissions before any reply (Linux: `NF_ACCEPT` without
    /// refreshing the timeout).
    Ignore,
    /// The packet is INVALID; the entry is unchanged.
    Invalid(crate::invalid::Invalid),
    /// The packet is INVALID and the entry looks dead (TCP: an assured
    /// connection got out-of-window FIN/RSTs from both sides): if the
    /// entry has at least 120 s left and more than `timeout`, its timeout
    /// becomes `timeout` from now (Linux's `nf_tcp_handle_invalid`).
    InvalidShorten {
        /// Why the packet is INVALID.
        reason: crate::invalid::Invalid,
        /// The shorter timeout.
        timeout: Millis,
    },
    /// The packet is accepted and the entry must go at once (a RST as the
    /// only answer to a SYN).
    Kill,
    /// The entry is finished and this packet opens a new connection on the
    /// same tuple (a SYN on a TIME_WAIT or CLOSE entry): remove the old
    /// entry and track the packet again.
    Reopen,
}
