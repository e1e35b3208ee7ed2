//! Protocols the engine has no state machine for: tracked by addresses
//! alone with one timeout (Linux's `nf_conntrack_proto_generic.c`).

use crate::config::{Settings, Timeout};
use crate::proto::Update;
use crate::Millis;

/// The timeout of a new generic entry.
pub fn new(cfg: &impl Settings) -> Millis {
    cfg.timeout(Timeout::Generic)
}

/// A packet on an existing generic entry: refresh it.
pub fn update(cfg: &impl Settings) -> Update {
    Update::Accept {
        timeout: cfg.timeout(Timeout::Generic),
    }
}
