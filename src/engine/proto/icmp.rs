//! ICMP queries (Linux's `nf_conntrack_proto_icmp.c`).
//!
//! Only a request (echo, timestamp, information, address mask) opens an
//! entry; the matching reply type answers it. The entry is kept until its
//! timeout rather than deleted on the reply, so duplicate replies and
//! further requests with the same identifier still match. ICMP errors are
//! not handled here: the driver (`crate::track`) relates them to the entry
//! of the packet they quote.

use crate::config::{Settings, Timeout};
use crate::invalid::Invalid;
use crate::proto::Update;
use crate::tuple::proto::ICMPV6;
use crate::tuple::{icmp_inverse_type, icmp_is_request, Tuple, L4};
use crate::wire::icmpv6;
use crate::Millis;

/// ICMP error types: destination unreachable, source quench, redirect,
/// time exceeded, parameter problem.
pub const ERROR_TYPES: [u8; 5] = [3, 4, 5, 11, 12];

/// Whether `ty` is an ICMP error type.
pub fn is_error(ty: u8) -> bool {
    ERROR_TYPES.contains(&ty)
}

/// Whether a packet with tuple `t` may open an entry; its timeout if so.
/// A reply type without an entry is [`Invalid::IcmpNoQuery`]; any other
/// non-request type [`Invalid::IcmpNotNew`].
pub fn new(t: &Tuple, cfg: &impl Settings) -> Result<Millis, Invalid> {
    if t.proto == ICMPV6 {
        return new6(t, cfg);
    }
    match t.l4 {
        L4::Icmp { ty, .. } if icmp_is_request(ty) => Ok(cfg.timeout(Timeout::Icmp)),
        L4::Icmp { ty, .. } if icmp_inverse_type(ty).is_some() => Err(Invalid::IcmpNoQuery),
        _ => Err(Invalid::IcmpNotNew),
    }
}

/// [`new`] for ICMPv6 (6.12's `icmpv6_new`): echo and node information
/// queries open entries; their replies alone are
/// [`Invalid::IcmpNoQuery`].
#[cold]
fn new6(t: &Tuple, cfg: &impl Settings) -> Result<Millis, Invalid> {
    match t.l4 {
        L4::Icmp { ty, .. } if icmpv6::opens_entry(ty) => Ok(cfg.timeout(Timeout::Icmpv6)),
        L4::Icmp { ty, .. } if icmpv6::inverse_type(ty).is_some() => Err(Invalid::IcmpNoQuery),
        _ => Err(Invalid::IcmpNotNew),
    }
}

/// A request or reply of protocol `protocol` (ICMP or ICMPv6) on an
/// existing entry: refresh it.
pub fn update(cfg: &impl Settings, protocol: u8) -> Update {
    let t = if protocol == ICMPV6 { Timeout::Icmpv6 } else { Timeout::Icmp };
    Update::Accept { timeout: cfg.timeout(t) }
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
    use crate::tuple::proto::ICMP;

    fn icmp(ty: u8) -> Tuple {
        Tuple {
            src: crate::tuple::Addr::V4(1),
            dst: crate::tuple::Addr::V4(2),
            proto: ICMP,
            l4: L4::Icmp { ty, code: 0, id: 9 },
        }
    }

    #[test]
    fn only_requests_open_entries() {
        let cfg = Config::DEFAULT;
        for ty in [8, 13, 15, 17] {
            assert_eq!(new(&icmp(ty), &cfg), Ok(30_000));
        }
        for ty in [0, 14, 16, 18] {
            assert_eq!(new(&icmp(ty), &cfg), Err(Invalid::IcmpNoQuery));
        }
        for ty in [3, 9, 10, 42] {
            assert_eq!(new(&icmp(ty), &cfg), Err(Invalid::IcmpNotNew));
        }
    }
}
