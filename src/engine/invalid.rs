//! Why a packet is INVALID. The caller counts it; it never panics.

/// The reason a packet could not be tracked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// The IP header is truncated or inconsistent.
    BadIpHeader,
    /// An IPv6 extension-header chain that leads to no transport header
    /// (cut short, a length beyond the packet, no next header).
    BadExtHeader,
    /// Not INVALID: an ICMPv6 message 6.12 leaves untracked (neighbour
    /// discovery, MLD, multicast router discovery). Never counted; the
    /// packet leaves with `IP_CT_UNTRACKED`.
    Untracked,
    /// An ICMPv6 redirect too short or with a first option of length 0,
    /// or from a sender that is not a link-local router (hop limit 255).
    Icmpv6BadRedirect,
    /// An ICMPv6 message shorter than its 8-byte header.
    Icmpv6Short,
    /// An ICMPv6 message whose checksum is wrong (PRE_ROUTING).
    Icmpv6BadChecksum,
    /// An ICMPv6 error whose quoted packet matches no entry.
    Icmpv6ErrorUnknown,
    /// An ICMPv6 error whose quoted packet is cut short or malformed.
    Icmpv6ErrorBadInner,
    /// An ICMPv6 error quoting an ICMPv6 message 6.12 cannot invert (an
    /// error, neighbour discovery, ...).
    Icmpv6ErrorInError,
    /// The layer-4 header is truncated or inconsistent.
    BadL4Header,
    /// ICMPv6 (protocol 58) inside IPv4: 6.12 builds its tuple as ICMPv6
    /// but `nf_conntrack_icmpv6_packet` refuses every packet not of
    /// IPv6, so none is ever tracked.
    Icmpv6OverIpv4,
    /// A fragment reached the tracker (defragmentation should run first).
    Fragment,
    /// The TCP flag combination is never valid (e.g. SYN+FIN, none at all).
    BadTcpFlags,
    /// A TCP packet that cannot open a connection (not a SYN, `tcp_loose` off
    /// or not applicable).
    TcpNotNew,
    /// The TCP transition table says this packet is invalid in this state.
    TcpBadTransition,
    /// The TCP segment falls outside the tracked window.
    TcpOutOfWindow,
    /// An RST whose sequence number is not acceptable.
    TcpBadRst,
    /// An ICMP message shorter than its 8-byte header.
    IcmpShort,
    /// An ICMP message whose checksum is wrong (PRE_ROUTING).
    IcmpBadChecksum,
    /// An ICMP type past the last one Linux knows (`NR_ICMP_TYPES`, 18).
    IcmpBadType,
    /// An ICMP type that neither opens a query entry nor is an error.
    IcmpNotNew,
    /// An ICMP reply with no matching query.
    IcmpNoQuery,
    /// An ICMP error whose quoted header matches no entry.
    IcmpErrorUnknown,
    /// An ICMP error that quotes another ICMP error.
    IcmpErrorInError,
    /// The quoted header of an ICMP error is truncated or malformed.
    IcmpErrorBadInner,
    /// UDP-Lite checksum coverage below the header or beyond the datagram.
    UdpLiteBadCoverage,
    /// UDP-Lite without a checksum (it is mandatory).
    UdpLiteNoChecksum,
    /// SCTP chunks Linux's `do_basic_checks` refuses (none, a zero length,
    /// a chunk that must come first or alone and does not).
    SctpBadChunks,
    /// An SCTP chunk that cannot open an entry, or an out-of-the-blue
    /// packet with ABORT, SHUTDOWN COMPLETE or COOKIE ACK.
    SctpNotNew,
    /// An SCTP verification tag that does not match the association.
    SctpBadVtag,
    /// The SCTP transition table says this chunk is invalid in this state.
    SctpBadTransition,
    /// DCCP checksum coverage beyond the packet.
    DccpBadChecksumCoverage,
    /// A reserved DCCP packet type, or one without the 48-bit sequence
    /// numbers it needs.
    DccpBadType,
    /// The DCCP transition table says this packet is invalid in this state.
    DccpBadTransition,
}

impl Invalid {
    /// Whether 6.12's ICMP or ICMPv6 error handler
    /// (`nf_conntrack_icmpv4_error`, `nf_conntrack_icmpv6_error`) refuses
    /// the packet: it then counts `error` (`icmp_error`) alone, not
    /// `invalid`.
    pub fn is_icmp_error_handler(self) -> bool {
        matches!(
            self,
            Invalid::IcmpShort
                | Invalid::IcmpBadChecksum
                | Invalid::IcmpBadType
                | Invalid::IcmpErrorUnknown
                | Invalid::IcmpErrorInError
                | Invalid::IcmpErrorBadInner
                | Invalid::Icmpv6BadRedirect
                | Invalid::Icmpv6Short
                | Invalid::Icmpv6BadChecksum
                | Invalid::Icmpv6ErrorUnknown
                | Invalid::Icmpv6ErrorBadInner
                | Invalid::Icmpv6ErrorInError
        )
    }

    /// A short, stable name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Invalid::BadIpHeader => "bad ip header",
            Invalid::BadExtHeader => "bad ipv6 extension header chain",
            Invalid::Untracked => "untracked",
            Invalid::Icmpv6BadRedirect => "invalid icmpv6 redirect",
            Invalid::Icmpv6Short => "short icmpv6 message",
            Invalid::Icmpv6BadChecksum => "icmpv6 checksum failed",
            Invalid::Icmpv6ErrorUnknown => "icmpv6 error for unknown flow",
            Invalid::Icmpv6ErrorBadInner => "icmpv6 error with bad inner header",
            Invalid::Icmpv6ErrorInError => "icmpv6 error quoting an icmpv6 error",
            Invalid::BadL4Header => "bad l4 header",
            Invalid::Icmpv6OverIpv4 => "icmpv6 over ipv4",
            Invalid::Fragment => "fragment",
            Invalid::BadTcpFlags => "invalid tcp flag combination",
            Invalid::TcpNotNew => "tcp packet cannot open a connection",
            Invalid::TcpBadTransition => "invalid tcp state transition",
            Invalid::TcpOutOfWindow => "tcp segment out of window",
            Invalid::TcpBadRst => "tcp rst out of window",
            Invalid::IcmpShort => "short icmp message",
            Invalid::IcmpBadChecksum => "icmp checksum failed",
            Invalid::IcmpBadType => "invalid icmp type",
            Invalid::IcmpNotNew => "icmp type cannot open an entry",
            Invalid::IcmpNoQuery => "icmp reply without query",
            Invalid::IcmpErrorUnknown => "icmp error for unknown flow",
            Invalid::IcmpErrorInError => "icmp error quoting an icmp error",
            Invalid::IcmpErrorBadInner => "icmp error with bad inner header",
            Invalid::UdpLiteBadCoverage => "invalid udplite checksum coverage",
            Invalid::UdpLiteNoChecksum => "udplite checksum missing",
            Invalid::SctpBadChunks => "invalid sctp chunks",
            Invalid::SctpNotNew => "sctp packet cannot open an entry",
            Invalid::SctpBadVtag => "sctp verification tag check failed",
            Invalid::SctpBadTransition => "invalid sctp state transition",
            Invalid::DccpBadChecksumCoverage => "bad dccp checksum coverage",
            Invalid::DccpBadType => "invalid dccp packet type",
            Invalid::DccpBadTransition => "invalid dccp state transition",
        }
    }
}
