//! Run-time settings: timeouts and the TCP knobs, with their classic
//! defaults and the ranges the sysctl interface accepts.

use crate::Millis;

/// Timeouts in seconds, as the sysctls show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP SYN_SENT (and SYN_SENT2).
    pub tcp_syn_sent: u32,
    /// TCP SYN_RECV.
    pub tcp_syn_recv: u32,
    /// TCP ESTABLISHED.
    pub tcp_established: u32,
    /// TCP FIN_WAIT.
    pub tcp_fin_wait: u32,
    /// TCP CLOSE_WAIT.
    pub tcp_close_wait: u32,
    /// TCP LAST_ACK.
    pub tcp_last_ack: u32,
    /// TCP TIME_WAIT.
    pub tcp_time_wait: u32,
    /// TCP CLOSE.
    pub tcp_close: u32,
    /// TCP after too many retransmissions.
    pub tcp_max_retrans: u32,
    /// TCP with data sent but never acknowledged.
    pub tcp_unacknowledged: u32,
    /// UDP before a reply was seen.
    pub udp: u32,
    /// UDP once traffic went both ways.
    pub udp_stream: u32,
    /// ICMP queries.
    pub icmp: u32,
    /// Other protocols.
    pub generic: u32,
}

impl Timeouts {
    /// Linux 6.12's defaults.
    pub const DEFAULT: Timeouts = Timeouts {
        tcp_syn_sent: 120,
        tcp_syn_recv: 60,
        tcp_established: 432_000,
        tcp_fin_wait: 120,
        tcp_close_wait: 60,
        tcp_last_ack: 30,
        tcp_time_wait: 120,
        tcp_close: 10,
        tcp_max_retrans: 300,
        tcp_unacknowledged: 300,
        udp: 30,
        udp_stream: 120,
        icmp: 30,
        generic: 600,
    };
}

/// Everything the state machines read.
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

/// Seconds to milliseconds, saturating.
pub fn secs(s: u32) -> Millis {
    Millis::from(s).saturating_mul(1000)
}

/// The largest timeout a sysctl accepts, in seconds (about 68 years: any
/// value that fits a positive `int`).
pub const MAX_TIMEOUT_SECS: u32 = i32::MAX as u32;
