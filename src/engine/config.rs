//! Run-time settings: timeouts and the TCP knobs, with their classic
//! defaults and the ranges the sysctl interface accepts.
//!
//! [`TIMEOUTS`] is the one table of timeouts: each one's sysctl name,
//! default and what it applies to. The engine reads settings through
//! [`Settings`], one value at a time when a packet needs it: the host uses
//! a plain [`Config`], the kernel reads its sysctl knobs directly (no
//! per-packet snapshot), and both derive their defaults and sysctl files
//! from [`TIMEOUTS`].

use crate::Millis;

/// One timeout knob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// TCP SYN_SENT (and SYN_SENT2).
    TcpSynSent,
    /// TCP SYN_RECV.
    TcpSynRecv,
    /// TCP ESTABLISHED.
    TcpEstablished,
    /// TCP FIN_WAIT.
    TcpFinWait,
    /// TCP CLOSE_WAIT.
    TcpCloseWait,
    /// TCP LAST_ACK.
    TcpLastAck,
    /// TCP TIME_WAIT.
    TcpTimeWait,
    /// TCP CLOSE.
    TcpClose,
    /// TCP after too many retransmissions.
    TcpMaxRetrans,
    /// TCP with data sent but never acknowledged.
    TcpUnacknowledged,
    /// UDP before a reply was seen.
    Udp,
    /// UDP once traffic went both ways.
    UdpStream,
    /// ICMP queries.
    Icmp,
    /// Other protocols.
    Generic,
    /// SCTP CLOSED (and a new entry's NONE).
    SctpClosed,
    /// SCTP COOKIE_WAIT.
    SctpCookieWait,
    /// SCTP COOKIE_ECHOED.
    SctpCookieEchoed,
    /// SCTP ESTABLISHED.
    SctpEstablished,
    /// SCTP SHUTDOWN_SENT.
    SctpShutdownSent,
    /// SCTP SHUTDOWN_RECD.
    SctpShutdownRecd,
    /// SCTP SHUTDOWN_ACK_SENT.
    SctpShutdownAckSent,
    /// SCTP HEARTBEAT_SENT.
    SctpHeartbeatSent,
    /// DCCP REQUEST (and a new entry's NONE).
    DccpRequest,
    /// DCCP RESPOND.
    DccpRespond,
    /// DCCP PARTOPEN.
    DccpPartOpen,
    /// DCCP OPEN.
    DccpOpen,
    /// DCCP CLOSEREQ.
    DccpCloseReq,
    /// DCCP CLOSING.
    DccpClosing,
    /// DCCP TIMEWAIT.
    DccpTimeWait,
    /// ICMPv6 queries (echo, node information).
    Icmpv6,
}

/// Number of timeouts.
pub const TIMEOUT_COUNT: usize = 30;

impl Timeout {
    /// Its row in [`TIMEOUTS`] (and index in [`Timeouts`]).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// A row of [`TIMEOUTS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutSpec {
    /// Which timeout.
    pub timeout: Timeout,
    /// Its classic sysctl under `net.ipv4.netfilter`; `None` where 2.6 had
    /// none (6.12 calls it `nf_conntrack_tcp_timeout_unacknowledged`).
    pub sysctl: Option<&'static str>,
    /// Linux 6.12's default, in seconds.
    pub default: u32,
}

const fn spec(timeout: Timeout, sysctl: &'static str, default: u32) -> TimeoutSpec {
    TimeoutSpec {
        timeout,
        sysctl: Some(sysctl),
        default,
    }
}

/// Every timeout, in [`Timeout`] order (2.6's sysctl order).
pub const TIMEOUTS: [TimeoutSpec; TIMEOUT_COUNT] = [
    spec(Timeout::TcpSynSent, "ip_conntrack_tcp_timeout_syn_sent", 120),
    spec(Timeout::TcpSynRecv, "ip_conntrack_tcp_timeout_syn_recv", 60),
    spec(Timeout::TcpEstablished, "ip_conntrack_tcp_timeout_established", 432_000),
    spec(Timeout::TcpFinWait, "ip_conntrack_tcp_timeout_fin_wait", 120),
    spec(Timeout::TcpCloseWait, "ip_conntrack_tcp_timeout_close_wait", 60),
    spec(Timeout::TcpLastAck, "ip_conntrack_tcp_timeout_last_ack", 30),
    spec(Timeout::TcpTimeWait, "ip_conntrack_tcp_timeout_time_wait", 120),
    spec(Timeout::TcpClose, "ip_conntrack_tcp_timeout_close", 10),
    spec(Timeout::TcpMaxRetrans, "ip_conntrack_tcp_timeout_max_retrans", 300),
    TimeoutSpec {
        timeout: Timeout::TcpUnacknowledged,
        sysctl: None,
        default: 300,
    },
    spec(Timeout::Udp, "ip_conntrack_udp_timeout", 30),
    spec(Timeout::UdpStream, "ip_conntrack_udp_timeout_stream", 120),
    spec(Timeout::Icmp, "ip_conntrack_icmp_timeout", 30),
    spec(Timeout::Generic, "ip_conntrack_generic_timeout", 600),
    // 2.6's ip_conntrack_proto_sctp names; 6.12's defaults. (UDP-Lite
    // has none of its own: 6.12 gives it UDP's.)
    spec(Timeout::SctpClosed, "ip_conntrack_sctp_timeout_closed", 10),
    spec(Timeout::SctpCookieWait, "ip_conntrack_sctp_timeout_cookie_wait", 3),
    spec(Timeout::SctpCookieEchoed, "ip_conntrack_sctp_timeout_cookie_echoed", 3),
    spec(Timeout::SctpEstablished, "ip_conntrack_sctp_timeout_established", 210),
    spec(Timeout::SctpShutdownSent, "ip_conntrack_sctp_timeout_shutdown_sent", 3),
    spec(Timeout::SctpShutdownRecd, "ip_conntrack_sctp_timeout_shutdown_recd", 3),
    spec(Timeout::SctpShutdownAckSent, "ip_conntrack_sctp_timeout_shutdown_ack_sent", 3),
    spec(Timeout::SctpHeartbeatSent, "ip_conntrack_sctp_timeout_heartbeat_sent", 30),
    // DCCP after the same pattern (6.12's nf_conntrack_dccp_timeout_*).
    spec(Timeout::DccpRequest, "ip_conntrack_dccp_timeout_request", 240),
    spec(Timeout::DccpRespond, "ip_conntrack_dccp_timeout_respond", 480),
    spec(Timeout::DccpPartOpen, "ip_conntrack_dccp_timeout_partopen", 480),
    spec(Timeout::DccpOpen, "ip_conntrack_dccp_timeout_open", 43_200),
    spec(Timeout::DccpCloseReq, "ip_conntrack_dccp_timeout_closereq", 64),
    spec(Timeout::DccpClosing, "ip_conntrack_dccp_timeout_closing", 64),
    spec(Timeout::DccpTimeWait, "ip_conntrack_dccp_timeout_timewait", 240),
    // 6.12's nf_conntrack_icmpv6_timeout.
    spec(Timeout::Icmpv6, "ip_conntrack_icmpv6_timeout", 30),
];

/// Timeouts in seconds, as the sysctls show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts([u32; TIMEOUT_COUNT]);

impl Timeouts {
    /// Linux 6.12's defaults, from [`TIMEOUTS`].
    // Evaluated at compile time: an index out of range would not build.
    #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    pub const DEFAULT: Timeouts = {
        let mut v = [0u32; TIMEOUT_COUNT];
        let mut i = 0;
        while i < TIMEOUT_COUNT {
            v[i] = TIMEOUTS[i].default;
            i += 1;
        }
        Timeouts(v)
    };

    /// Every timeout in [`Timeout`] order, in seconds.
    pub const fn secs(&self) -> [u32; TIMEOUT_COUNT] {
        self.0
    }

    /// Timeout `t`, in seconds.
    pub fn get(&self, t: Timeout) -> u32 {
        self.0.get(t.index()).copied().unwrap_or(0)
    }

    /// Sets timeout `t`, in seconds.
    pub fn set(&mut self, t: Timeout, secs: u32) {
        if let Some(v) = self.0.get_mut(t.index()) {
            *v = secs;
        }
    }
}

/// What the state machines read, one value at a time.
pub trait Settings {
    /// Timeout `t`, in seconds.
    fn timeout_secs(&self, t: Timeout) -> u32;
    /// Pick up connections mid-stream (`ip_conntrack_tcp_loose`).
    fn tcp_loose(&self) -> bool;
    /// Only out-of-window RSTs are INVALID (`ip_conntrack_tcp_be_liberal`).
    fn tcp_be_liberal(&self) -> bool;
    /// Retransmissions of one segment before the short timeout
    /// (`ip_conntrack_tcp_max_retrans`).
    fn tcp_max_retrans(&self) -> u32;

    /// Timeout `t`, in milliseconds.
    fn timeout(&self, t: Timeout) -> Millis {
        secs(self.timeout_secs(t))
    }
}

/// The shortest timeout any entry can get now: no deadline set from now on
/// comes sooner than this after it is set.
pub fn shortest_timeout(cfg: &impl Settings) -> Millis {
    TIMEOUTS
        .iter()
        .map(|t| cfg.timeout(t.timeout))
        .min()
        .unwrap_or(0)
}

/// Settings as plain values (the host's; tests change them freely).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Pick up connections mid-stream (`ip_conntrack_tcp_loose`).
    pub tcp_loose: bool,
    /// Only out-of-window RSTs are INVALID (`ip_conntrack_tcp_be_liberal`).
    pub tcp_be_liberal: bool,
    /// Retransmissions of one segment before the short timeout
    /// (`ip_conntrack_tcp_max_retrans`).
    pub tcp_max_retrans: u32,
}

impl Config {
    /// Linux 6.12's defaults.
    pub const DEFAULT: Config = Config {
        timeouts: Timeouts::DEFAULT,
        tcp_loose: true,
        tcp_be_liberal: false,
        tcp_max_retrans: 3,
    };
}

impl Default for Config {
    fn default() -> Config {
        Config::DEFAULT
    }
}

impl Settings for Config {
    fn timeout_secs(&self, t: Timeout) -> u32 {
        self.timeouts.get(t)
    }

    fn tcp_loose(&self) -> bool {
        self.tcp_loose
    }

    fn tcp_be_liberal(&self) -> bool {
        self.tcp_be_liberal
    }

    fn tcp_max_retrans(&self) -> u32 {
        self.tcp_max_retrans
    }
}

/// Seconds to milliseconds, saturating.
pub fn secs(s: u32) -> Millis {
    Millis::from(s).saturating_mul(1000)
}

/// The largest timeout a sysctl accepts, in seconds (about 68 years: any
/// value that fits a positive `int`).
pub const MAX_TIMEOUT_SECS: u32 = i32::MAX as u32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_enum_order() {
        for (i, s) in TIMEOUTS.iter().enumerate() {
            assert_eq!(s.timeout.index(), i);
        }
        assert_eq!(Config::DEFAULT.timeout_secs(Timeout::TcpEstablished), 432_000);
        assert_eq!(Config::DEFAULT.timeout(Timeout::Udp), 30_000);
        // SCTP's handshake and shutdown states: 3 s.
        assert_eq!(shortest_timeout(&Config::DEFAULT), 3_000);
    }
}
