//! The NAT range (`struct nf_nat_range2`, IPv4 part) every target turns
//! its options into, and the "is this tuple inside it" tests of
//! `nf_nat_core.c`.

use crate::nat::Manip;
use crate::tuple::{proto, Addr, Tuple, L4};

/// `NF_NAT_RANGE_*` flags (`include/uapi/linux/netfilter/nf_nat.h`).
pub mod flags {
    /// Addresses are given: map into `min_addr..=max_addr`.
    pub const MAP_IPS: u32 = 1 << 0;
    /// Ports (or ICMP ids) are given: map into `min_proto..=max_proto`.
    pub const PROTO_SPECIFIED: u32 = 1 << 1;
    /// `--random`: start the port search at a random offset.
    pub const PROTO_RANDOM: u32 = 1 << 2;
    /// `--persistent`: the address choice ignores the destination.
    pub const PERSISTENT: u32 = 1 << 3;
    /// `--random-fully`: as `PROTO_RANDOM` (6.12 makes no difference).
    pub const PROTO_RANDOM_FULLY: u32 = 1 << 4;
    /// Shifted ports (`to:a-b/base`): port = min + (port - base).
    pub const PROTO_OFFSET: u32 = 1 << 5;
    /// Set by nft's netmap; not used by the xt targets.
    pub const NETMAP: u32 = 1 << 6;
    /// Either random flag.
    pub const PROTO_RANDOM_ALL: u32 = PROTO_RANDOM | PROTO_RANDOM_FULLY;
    /// Every defined flag.
    pub const MASK: u32 =
        MAP_IPS | PROTO_SPECIFIED | PROTO_RANDOM | PERSISTENT | PROTO_RANDOM_FULLY | PROTO_OFFSET | NETMAP;
}

/// A NAT range: `nf_nat_range2` with IPv4 addresses in host order and
/// ports (or ICMP ids) as numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Range {
    /// `NF_NAT_RANGE_*` bits ([`flags`]).
    pub flags: u32,
    /// Lowest address (with [`flags::MAP_IPS`]).
    pub min_addr: u32,
    /// Highest address.
    pub max_addr: u32,
    /// Lowest port or ICMP id (with [`flags::PROTO_SPECIFIED`]).
    pub min_proto: u16,
    /// Highest port or ICMP id.
    pub max_proto: u16,
    /// The port that maps to `min_proto` (with [`flags::PROTO_OFFSET`]).
    pub base_proto: u16,
}

impl Range {
    /// Whether every bit of `mask` is set.
    pub fn has(&self, mask: u32) -> bool {
        self.flags & mask == mask
    }

    /// Whether any bit of `mask` is set.
    pub fn has_any(&self, mask: u32) -> bool {
        self.flags & mask != 0
    }

    /// `nf_nat_inet_in_range`: the tuple's source address lies in the
    /// address range.
    pub fn addr_in_range(&self, t: &Tuple) -> bool {
        t.src.v4().is_some_and(|a| a >= self.min_addr && a <= self.max_addr)
    }

    /// `l4proto_in_range`: the part of the tuple `manip` may change (the
    /// source or destination port, or the ICMP id) lies in the port range;
    /// always true for protocols without one.
    pub fn proto_in_range(&self, t: &Tuple, manip: Manip) -> bool {
        match manip_key(t, manip) {
            Some(key) => key >= self.min_proto && key <= self.max_proto,
            None => true,
        }
    }

    /// `nf_in_range`: a source-NATed tuple meets the range (its address if
    /// addresses are mapped, its source port if ports are).
    pub fn src_in_range(&self, t: &Tuple) -> bool {
        if self.has(flags::MAP_IPS) && !self.addr_in_range(t) {
            return false;
        }
        !self.has(flags::PROTO_SPECIFIED) || self.proto_in_range(t, Manip::Src)
    }
}

/// The protocols whose ports NAT maps, as a pattern.
macro_rules! PORTS_MAPPED {
    () => {
        proto::TCP | proto::UDP | proto::UDPLITE | proto::DCCP
    };
}

/// The port or id `manip` rewrites: the source or destination port of
/// TCP, UDP, UDP-Lite and DCCP, the id of an ICMP query (the same in both
/// directions); `None` for other protocols (SCTP's ports stay: its
/// checksum covers the whole packet).
pub fn manip_key(t: &Tuple, manip: Manip) -> Option<u16> {
    match (t.proto, t.l4) {
        (PORTS_MAPPED!(), L4::Ports { sport, dport }) => Some(match manip {
            Manip::Src => sport,
            Manip::Dst => dport,
        }),
        (proto::ICMP, L4::Icmp { id, .. }) => Some(id),
        _ => None,
    }
}

/// `t` with the part `manip` rewrites set to `key` (see [`manip_key`]);
/// unchanged for other protocols.
pub fn with_key(t: &Tuple, manip: Manip, key: u16) -> Tuple {
    let l4 = match (t.proto, t.l4, manip) {
        (PORTS_MAPPED!(), L4::Ports { dport, .. }, Manip::Src) => L4::Ports { sport: key, dport },
        (PORTS_MAPPED!(), L4::Ports { sport, .. }, Manip::Dst) => L4::Ports { sport, dport: key },
        (proto::ICMP, L4::Icmp { ty, code, .. }, _) => L4::Icmp { ty, code, id: key },
        (_, l4, _) => l4,
    };
    Tuple { l4, ..*t }
}

/// `t` with the address `manip` rewrites set to `addr`.
pub fn with_addr(t: &Tuple, manip: Manip, addr: u32) -> Tuple {
    match manip {
        Manip::Src => Tuple { src: Addr::V4(addr), ..*t },
        Manip::Dst => Tuple { dst: Addr::V4(addr), ..*t },
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

    fn udp(src: u32, sport: u16, dst: u32, dport: u16) -> Tuple {
        Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: proto::UDP, l4: L4::Ports { sport, dport } }
    }

    #[test]
    fn in_range_follows_the_flags() {
        let t = udp(0x0a00_0005, 1000, 0xc000_0201, 53);
        let mut r =
            Range { flags: flags::MAP_IPS, min_addr: 0x0a00_0001, max_addr: 0x0a00_000a, ..Range::default() };
        assert!(r.src_in_range(&t));
        r.min_addr = 0x0a00_0006;
        assert!(!r.src_in_range(&t));
        r.flags = flags::PROTO_SPECIFIED;
        r.min_proto = 1000;
        r.max_proto = 1000;
        assert!(r.src_in_range(&t), "addresses do not count without MAP_IPS");
        r.min_proto = 1001;
        r.max_proto = 2000;
        assert!(!r.src_in_range(&t));
        assert!(r.proto_in_range(&udp(1, 1, 2, 1500), Manip::Dst));
    }

    #[test]
    fn keys_are_ports_or_icmp_ids() {
        let t = udp(1, 10, 2, 20);
        assert_eq!(manip_key(&t, Manip::Src), Some(10));
        assert_eq!(manip_key(&t, Manip::Dst), Some(20));
        assert_eq!(with_key(&t, Manip::Dst, 99), udp(1, 10, 2, 99));
        let icmp = Tuple { src: crate::tuple::Addr::V4(1), dst: crate::tuple::Addr::V4(2), proto: proto::ICMP, l4: L4::Icmp { ty: 8, code: 0, id: 7 } };
        assert_eq!(manip_key(&icmp, Manip::Dst), Some(7));
        assert_eq!(manip_key(&with_key(&icmp, Manip::Src, 9), Manip::Src), Some(9));
        let gre = Tuple { src: crate::tuple::Addr::V4(1), dst: crate::tuple::Addr::V4(2), proto: 47, l4: L4::None };
        assert_eq!(manip_key(&gre, Manip::Src), None);
        assert_eq!(with_key(&gre, Manip::Src, 5), gre);
        assert_eq!(with_addr(&gre, Manip::Dst, 9).dst, 9);
    }
}
