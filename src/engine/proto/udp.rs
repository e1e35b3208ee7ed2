//! UDP (Linux 6.12's `nf_conntrack_proto_udp.c`).
//!
//! An entry starts with the short "unreplied" timeout. Once a reply has
//! been seen, a later packet more than two seconds after the entry was
//! created makes it a stream: the long timeout and ASSURED. The two-second
//! rule keeps one-shot exchanges (a DNS query and its answer) early-
//! droppable and short-lived.

use crate::config::{Settings, Timeout};
use crate::entry::Status;
use crate::proto::Update;
use crate::Millis;

/// How long after creation a flow must still be active to become a stream.
pub const STREAM_DELAY: Millis = 2000;

/// UDP state of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udp {
    /// After this time a packet that follows the reply makes a stream.
    stream_ts: Millis,
}

impl Udp {
    /// State for a new entry created at `now`, and its first timeout.
    pub fn new(now: Millis, cfg: &impl Settings) -> (Udp, Millis) {
        let udp = Udp {
            stream_ts: now.saturating_add(STREAM_DELAY),
        };
        (udp, cfg.timeout(Timeout::Udp))
    }

    /// A packet on an existing entry. `status` holds the entry's bits as
    /// before this packet (Linux sets `SEEN_REPLY` only after the protocol
    /// handler, so the first reply itself still gets the unreplied
    /// timeout).
    pub fn update(&mut self, status: &mut Status, now: Millis, cfg: &impl Settings) -> Update {
        if !status.has(Status::SEEN_REPLY) {
            return Update::Accept {
                timeout: cfg.timeout(Timeout::Udp),
            };
        }
        if now > self.stream_ts {
            status.set(Status::ASSURED);
            Update::Accept {
                timeout: cfg.timeout(Timeout::UdpStream),
            }
        } else {
            Update::Accept {
                timeout: cfg.timeout(Timeout::Udp),
            }
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use crate::config::Config;
    use super::*;

    #[test]
    fn stream_needs_reply_and_two_seconds() {
        let cfg = Config::DEFAULT;
        let (mut u, t) = Udp::new(1000, &cfg);
        assert_eq!(t, 30_000);
        let mut st = Status::default();
        // The first reply itself: still unreplied.
        assert_eq!(
            u.update(&mut st, 1500, &cfg),
            Update::Accept { timeout: 30_000 }
        );
        st.set(Status::SEEN_REPLY);
        // After the reply but within 2 s of creation.
        assert_eq!(
            u.update(&mut st, 3000, &cfg),
            Update::Accept { timeout: 30_000 }
        );
        assert!(!st.has(Status::ASSURED));
        assert_eq!(
            u.update(&mut st, 3001, &cfg),
            Update::Accept { timeout: 120_000 }
        );
        assert!(st.has(Status::ASSURED));
    }
}
