//! The range MASQUERADE, REDIRECT and NETMAP hand to the tuple choice
//! (`nf_nat_masquerade_ipv4`, `nf_nat_redirect_ipv4`, `netmap_tg4`):
//! each fills in addresses the rule cannot know in advance. The shell
//! picks the interface address (`inet_select_addr`, the first address of
//! the incoming device); the decisions are here.

use crate::nat::range::{flags, Range};
use crate::nat::{hook, Manip};

/// 127.0.0.1, where REDIRECT sends locally generated packets.
pub const LOOPBACK: u32 = 0x7f00_0001;

/// What a NAT target does to a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// Set up a binding: choose a tuple in the range for this end
    /// ([`crate::nat::unique::unique_tuple`]).
    Map(Range, Manip),
    /// Leave the connection alone (`NF_ACCEPT` without a binding).
    Accept,
    /// Drop the packet (`NF_DROP`).
    Drop,
}

/// A range for a single address `addr`, keeping the rule's flags (plus
/// `MAP_IPS`) and ports.
fn one_address(rule: &Range, addr: u32) -> Range {
    Range {
        flags: rule.flags | flags::MAP_IPS,
        min_addr: addr,
        max_addr: addr,
        min_proto: rule.min_proto,
        max_proto: rule.max_proto,
        base_proto: 0,
    }
}

/// MASQUERADE (POSTROUTING): source NAT to `out_addr`, the address the
/// outgoing interface would use towards the next hop. A connection whose
/// original source is 0.0.0.0 is left alone (a local packet not meant to
/// be masqueraded); without an address the packet is dropped (6.12 logs
/// "DEV ate my IP address"). With a mapping, the shell records the
/// outgoing interface's index in the entry for [`masq_flush`].
pub fn masquerade(rule: &Range, orig_src: u32, out_addr: Option<u32>) -> Setup {
    if orig_src == 0 {
        return Setup::Accept;
    }
    match out_addr {
        Some(addr) if addr != 0 => Setup::Map(one_address(rule, addr), Manip::Src),
        _ => Setup::Drop,
    }
}

/// An interface event after which 6.12 forgets masqueraded connections
/// (`nf_nat_masquerade.c`'s notifiers; the shell schedules the table walk).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MasqEvent {
    /// The interface went down (`NETDEV_DOWN`).
    DeviceDown {
        /// Its index.
        ifindex: i32,
    },
    /// One of its IPv4 addresses was removed while it stays up.
    AddressRemoved {
        /// Its index.
        ifindex: i32,
        /// The removed address.
        addr: u32,
    },
}

/// Whether an entry goes on `event`: it was masqueraded out of the
/// interface (`masq_index`, 0 for entries MASQUERADE did not set up) and,
/// for a removed address, its reply tuple is addressed to that address
/// (`device_cmp`, `inet_cmp`).
pub fn masq_flush(event: MasqEvent, masq_index: i32, reply_dst: u32) -> bool {
    match event {
        MasqEvent::DeviceDown { ifindex } => masq_index == ifindex,
        MasqEvent::AddressRemoved { ifindex, addr } => masq_index == ifindex && reply_dst == addr,
    }
}

/// REDIRECT: destination NAT to this host. On OUTPUT to 127.0.0.1; on
/// PREROUTING to the first address of the incoming interface
/// (`in_addr`), dropping the packet when it has none.
pub fn redirect(rule: &Range, hooknum: u32, in_addr: Option<u32>) -> Setup {
    let addr = if hooknum == hook::LOCAL_OUT { Some(LOOPBACK) } else { in_addr };
    match addr {
        Some(addr) if addr != 0 => Setup::Map(one_address(rule, addr), Manip::Dst),
        _ => Setup::Drop,
    }
}

/// NETMAP: maps one prefix onto another, keeping the host bits. The
/// netmask is the bits where the rule's two addresses agree; the
/// destination is mapped on PREROUTING and OUTPUT, the source on
/// POSTROUTING and INPUT. `None` for other hooks (the kernel WARNs).
pub fn netmap(rule: &Range, hooknum: u32, pkt_src: u32, pkt_dst: u32) -> Option<Setup> {
    let manip = Manip::for_hook(hooknum)?;
    let netmask = !(rule.min_addr ^ rule.max_addr);
    let old = match manip {
        Manip::Dst => pkt_dst,
        Manip::Src => pkt_src,
    };
    let addr = (old & !netmask) | (rule.min_addr & netmask);
    let range =
        Range { flags: rule.flags | flags::MAP_IPS, min_addr: addr, max_addr: addr, base_proto: 0, ..*rule };
    Some(Setup::Map(range, manip))
}

/// The range of a null binding (`nf_nat_alloc_null_binding`): a
/// connection no rule NATed still gets its address "mapped" to itself so
/// the other manip type knows it was decided; ports are left to the
/// tuple choice (which keeps them when free).
pub fn null_binding(addr: u32) -> Range {
    Range { flags: flags::MAP_IPS, min_addr: addr, max_addr: addr, ..Range::default() }
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

    const PUBLIC: u32 = 0xcb00_7101;

    fn ports(min: u16, max: u16) -> Range {
        Range { flags: flags::PROTO_SPECIFIED, min_proto: min, max_proto: max, ..Range::default() }
    }

    #[test]
    fn masquerade_uses_the_interface_address() {
        let r = ports(1024, 2000);
        let want =
            Range { flags: flags::PROTO_SPECIFIED | flags::MAP_IPS, min_addr: PUBLIC, max_addr: PUBLIC, ..r };
        assert_eq!(masquerade(&r, 0xc000_0202, Some(PUBLIC)), Setup::Map(want, Manip::Src));
        assert_eq!(masquerade(&r, 0, Some(PUBLIC)), Setup::Accept);
        assert_eq!(masquerade(&r, 0xc000_0202, None), Setup::Drop);
        assert_eq!(masquerade(&r, 0xc000_0202, Some(0)), Setup::Drop);
    }

    #[test]
    fn redirect_goes_to_loopback_or_the_incoming_address() {
        let r = ports(3128, 3128);
        match redirect(&r, hook::LOCAL_OUT, None) {
            Setup::Map(range, Manip::Dst) => assert_eq!((range.min_addr, range.min_proto), (LOOPBACK, 3128)),
            other => panic!("{other:?}"),
        }
        match redirect(&r, hook::PRE_ROUTING, Some(PUBLIC)) {
            Setup::Map(range, Manip::Dst) => assert_eq!(range.max_addr, PUBLIC),
            other => panic!("{other:?}"),
        }
        assert_eq!(redirect(&r, hook::PRE_ROUTING, None), Setup::Drop);
    }

    #[test]
    fn netmap_keeps_host_bits() {
        // --to 198.51.100.0/24
        let r =
            Range { flags: flags::MAP_IPS, min_addr: 0xc633_6400, max_addr: 0xc633_64ff, ..Range::default() };
        let Some(Setup::Map(got, Manip::Src)) = netmap(&r, hook::POST_ROUTING, 0xc000_0207, 1) else {
            panic!("no mapping")
        };
        assert_eq!((got.min_addr, got.max_addr), (0xc633_6407, 0xc633_6407));
        let Some(Setup::Map(got, Manip::Dst)) = netmap(&r, hook::PRE_ROUTING, 1, 0xc000_0209) else {
            panic!("no mapping")
        };
        assert_eq!(got.min_addr, 0xc633_6409);
        assert_eq!(netmap(&r, hook::FORWARD, 1, 2), None);
    }

    #[test]
    fn masquerade_entries_go_with_their_interface_or_address() {
        let down = MasqEvent::DeviceDown { ifindex: 3 };
        assert!(masq_flush(down, 3, PUBLIC));
        assert!(!masq_flush(down, 0, PUBLIC), "not masqueraded");
        assert!(!masq_flush(down, 4, PUBLIC));
        let gone = MasqEvent::AddressRemoved { ifindex: 3, addr: PUBLIC };
        assert!(masq_flush(gone, 3, PUBLIC));
        assert!(!masq_flush(gone, 3, PUBLIC + 1), "another address of the interface");
    }

    #[test]
    fn null_binding_maps_to_itself() {
        let r = null_binding(PUBLIC);
        assert!(r.has(flags::MAP_IPS) && !r.has(flags::PROTO_SPECIFIED));
    }
}
