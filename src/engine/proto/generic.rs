//! Protocols the engine has no state machine for: tracked by addresses
//! alone with one timeout (Linux's `nf_conntrack_proto_generic.c`).

use crate::config::{secs, Config};
use crate::proto::Update;
use crate::Millis;

/// The timeout of a new generic entry.
pub fn new(cfg: &Config) -> Millis {
    secs(cfg.timeouts.generic)
}

/// A packet on an existing generic entry: refresh it.
pub fn update(cfg: &Config) -> Update {
    Update::Accept {
        timeout: secs(cfg.timeouts.generic),
    }
}
