//! UDP-Lite (Linux 6.12's `nf_conntrack_udplite_packet`): UDP's timeouts,
//! but no two-second rule: once a reply has been seen, every later packet
//! gives the long timeout and ASSURED. Its checksum coverage is checked at
//! parse time (`crate::wire`).

use crate::config::{Settings, Timeout};
use crate::entry::Status;
use crate::proto::Update;
use crate::Millis;

/// The timeout of a new entry.
pub fn new(cfg: &impl Settings) -> Millis {
    cfg.timeout(Timeout::Udp)
}

/// A packet on an existing entry; `status` as before this packet.
pub fn update(status: &mut Status, cfg: &impl Settings) -> Update {
    if status.has(Status::SEEN_REPLY) {
        status.set(Status::ASSURED);
        Update::Accept { timeout: cfg.timeout(Timeout::UdpStream) }
    } else {
        Update::Accept { timeout: cfg.timeout(Timeout::Udp) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn replied_is_a_stream_at_once() {
        let cfg = Config::DEFAULT;
        let mut st = Status::default();
        assert_eq!(new(&cfg), 30_000);
        assert_eq!(update(&mut st, &cfg), Update::Accept { timeout: 30_000 });
        assert!(!st.has(Status::ASSURED));
        st.set(Status::SEEN_REPLY);
        assert_eq!(update(&mut st, &cfg), Update::Accept { timeout: 120_000 });
        assert!(st.has(Status::ASSURED));
    }
}
