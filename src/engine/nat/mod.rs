//! Network address translation, the engine half: what 6.12's `nf_nat`
//! decides and computes, as pure functions the kernel shell calls.
//!
//! - [`range`] — the NAT range (`struct nf_nat_range2`) and its flags;
//! - [`options`] — the target options iptables sends (SNAT/DNAT revisions
//!   0-2, MASQUERADE, REDIRECT, NETMAP), parsed and checked as 6.12's
//!   `xt_nat`, `xt_MASQUERADE`, `xt_REDIRECT` and `xt_NETMAP` do;
//! - [`targets`] — the range each target hands to the tuple choice
//!   (MASQUERADE's interface address, REDIRECT's, NETMAP's prefix);
//! - [`unique`] — `get_unique_tuple`, over a [`unique::Clash`] the table
//!   implements;
//! - [`unique4`] — the same choice on an IPv4 tuple's key words, which
//!   the bind path holds;
//! - [`jhash`] — the kernel's `jhash2`, which picks the address in a range;
//! - [`bind`] — `nf_nat_setup_info`, null bindings and what each NAT hook
//!   does with a packet;
//! - [`carried`] — the hashes a NATed entry carries from binding to
//!   confirmation and unlinking, each next to its key;
//! - [`checksum`] — incremental checksum updates (RFC 1624);
//! - [`rewrite`] — `nf_nat_ipv4_manip_pkt` over a byte slice;
//! - [`fast`] — a bound connection's per-packet rewrite: its targets
//!   decoded at binding time, a straight path for TCP and UDP;
//! - [`icmp_error`] — `nf_nat_icmp_reply_translation`;
//! - `model` (with `std`) — a table model for host tests.
//!
//! Addresses are host-order numbers as in [`crate::tuple::Tuple`].

pub mod bind;
pub mod carried;
pub mod checksum;
pub mod fast;
pub mod icmp_error;
pub mod jhash;
#[cfg(feature = "std")]
pub mod model;
pub mod options;
pub mod range;
pub mod rewrite;
pub mod targets;
pub mod unique;
pub mod unique4;

/// Which end of a flow a NAT binding rewrites (`enum nf_nat_manip_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Manip {
    /// Source NAT: SNAT, MASQUERADE (POSTROUTING, INPUT).
    Src,
    /// Destination NAT: DNAT, REDIRECT (PREROUTING, OUTPUT).
    Dst,
}

/// Netfilter IPv4 hook numbers (`enum nf_inet_hooks`).
pub mod hook {
    /// `NF_INET_PRE_ROUTING`.
    pub const PRE_ROUTING: u32 = 0;
    /// `NF_INET_LOCAL_IN`.
    pub const LOCAL_IN: u32 = 1;
    /// `NF_INET_FORWARD`.
    pub const FORWARD: u32 = 2;
    /// `NF_INET_LOCAL_OUT`.
    pub const LOCAL_OUT: u32 = 3;
    /// `NF_INET_POST_ROUTING`.
    pub const POST_ROUTING: u32 = 4;
}

impl Manip {
    /// The other end.
    pub fn other(self) -> Manip {
        match self {
            Manip::Src => Manip::Dst,
            Manip::Dst => Manip::Src,
        }
    }

    /// `HOOK2MANIP`: source NAT after routing and on input, destination
    /// NAT before routing and on output. `None` for FORWARD and unknown
    /// hooks, where the nat table has no chain.
    pub fn for_hook(hooknum: u32) -> Option<Manip> {
        match hooknum {
            hook::POST_ROUTING | hook::LOCAL_IN => Some(Manip::Src),
            hook::PRE_ROUTING | hook::LOCAL_OUT => Some(Manip::Dst),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;

    #[test]
    fn hooks_map_to_manips_as_hook2manip() {
        assert_eq!(Manip::for_hook(hook::POST_ROUTING), Some(Manip::Src));
        assert_eq!(Manip::for_hook(hook::LOCAL_IN), Some(Manip::Src));
        assert_eq!(Manip::for_hook(hook::PRE_ROUTING), Some(Manip::Dst));
        assert_eq!(Manip::for_hook(hook::LOCAL_OUT), Some(Manip::Dst));
        assert_eq!(Manip::for_hook(hook::FORWARD), None);
        assert_eq!(Manip::Src.other(), Manip::Dst);
    }
}
