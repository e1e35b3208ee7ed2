//! The tuple choice of 6.12's `get_unique_tuple` (`nf_nat_core.c`): given
//! a new connection's original tuple and a range, the tuple its packets
//! will carry after NAT, unique in the table if the range allows.
//!
//! The steps, for the end `manip` rewrites:
//! 1. source NAT without `--random`: keep the tuple when it is in range
//!    and free; otherwise reuse the mapping an existing connection from
//!    the same source (protocol, address, port) got, when it is in range
//!    and free ("the same source keeps its mapping");
//! 2. choose the address ([`best_addr`]): hashed from source and
//!    destination (only the source with `--persistent`), so a client keeps
//!    its address across connections and reboots;
//! 3. keep the port when it is in range and free; otherwise search the
//!    range ([`unique_key`]) from a random start (source NAT or
//!    `--random`), at most 128 tries, then ever smaller rounds from new
//!    random starts.
//!
//! When every try is taken the last candidate is returned anyway, as 6.12
//! does: the clash then shows when the connection is confirmed, and the
//! packet is dropped there.
//!
//! The table answers through [`Clash`]; randomness comes from the caller
//! (`get_random_u16` in the kernel, a seeded generator in tests).

use crate::nat::jhash::{jhash2, raw_be32, reciprocal_scale};
use crate::nat::range::{flags, manip_key, with_addr, with_key, Range};
use crate::nat::Manip;
use crate::tuple::{proto, Tuple};

/// `NF_NAT_MAX_ATTEMPTS`: tries per round of the port search.
pub const MAX_ATTEMPTS: u32 = 128;
/// `NF_NAT_HARDER_THRESH`: the last tries may evict a TIME_WAIT entry.
pub const HARDER_THRESH: u32 = MAX_ATTEMPTS / 4;

/// What the tuple choice asks the table. Tuples passed are reply tuples
/// (the inverse of a candidate original tuple), as the table stores them.
pub trait Clash {
    /// `nf_nat_used_tuple`: whether another entry already has `reply` as
    /// one of its tuples (`nf_conntrack_tuple_taken`).
    fn taken(&self, reply: &Tuple) -> bool;

    /// `nf_nat_used_tuple_new`, asked for the untouched tuple in step 1:
    /// the table may answer false when the clash is the rare case of two
    /// un-NATed entries for one flow created at once from both ends (the
    /// clash is resolved at confirm). Defaults to [`Clash::taken`].
    fn taken_new(&self, reply: &Tuple) -> bool {
        self.taken(reply)
    }

    /// `nf_nat_used_tuple_harder`, asked in the port search with the
    /// number of tries left in the round: at [`HARDER_THRESH`] or fewer, for a TCP SYN,
    /// 6.12 evicts a clashing TIME_WAIT entry of an SNATed connection whose
    /// sequence numbers the new one has passed. Defaults to
    /// [`Clash::taken`].
    fn taken_harder(&self, reply: &Tuple, attempts_left: u32) -> bool {
        let _ = attempts_left;
        self.taken(reply)
    }

    /// `find_appropriate_src`: calls `visit` with the reply tuple of each
    /// source-NATed entry whose original tuple has the protocol, source
    /// address and source port (or ICMP id) of `orig`, until `visit`
    /// returns true. Defaults to none (no per-source index).
    fn same_source(&self, orig: &Tuple, visit: &mut dyn FnMut(&Tuple) -> bool) {
        let _ = (orig, visit);
    }

    /// [`Clash::taken`] of the IPv4 tuple of key `reply`
    /// ([`crate::nat::unique4`] asks these). The defaults decode the key.
    fn taken4(&self, reply: [u64; 2]) -> bool {
        self.taken(&Tuple::from_key(reply))
    }

    /// [`Clash::taken_new`] of the IPv4 tuple of key `reply`.
    fn taken_new4(&self, reply: [u64; 2]) -> bool {
        self.taken_new(&Tuple::from_key(reply))
    }

    /// [`Clash::taken_harder`] of the IPv4 tuple of key `reply`.
    fn taken_harder4(&self, reply: [u64; 2], attempts_left: u32) -> bool {
        self.taken_harder(&Tuple::from_key(reply), attempts_left)
    }

    /// [`Clash::same_source`] of the IPv4 tuple of key `orig`, with the
    /// reply tuples' keys.
    fn same_source4(&self, orig: [u64; 2], visit: &mut dyn FnMut([u64; 2]) -> bool) {
        self.same_source(&Tuple::from_key(orig), &mut |r: &Tuple| visit(r.key()));
    }
}

/// Whether a candidate original tuple clashes: its reply is taken.
/// Tuples with no inverse (ICMP types that open no entry) never clash.
fn used(table: &impl Clash, t: &Tuple) -> bool {
    t.invert().is_some_and(|r| table.taken(&r))
}

/// `get_unique_tuple`: the original tuple the connection `orig` will have
/// once `manip` is applied with `range`. `random` gives 16 random bits.
pub fn unique_tuple(
    orig: &Tuple,
    range: &Range,
    manip: Manip,
    table: &impl Clash,
    random: &mut dyn FnMut() -> u16,
) -> Tuple {
    // 1) Source NAT: keep or reuse a mapping.
    if manip == Manip::Src && !range.has_any(flags::PROTO_RANDOM_ALL) {
        if range.src_in_range(orig) {
            if !orig.invert().is_some_and(|r| table.taken_new(&r)) {
                return *orig;
            }
        } else if let Some(t) = same_source_mapping(orig, range, table) {
            if !used(table, &t) {
                return t;
            }
        }
    }

    // 2) The address.
    let mut tuple = *orig;
    if let Some(addr) = best_addr(&tuple, range) {
        tuple = with_addr(&tuple, manip, addr);
    }

    // 3) The port, unless it is already in range and free.
    if !range.has_any(flags::PROTO_RANDOM_ALL) {
        if range.has(flags::PROTO_SPECIFIED) {
            if !range.has(flags::PROTO_OFFSET)
                && range.proto_in_range(&tuple, manip)
                && (range.min_proto == range.max_proto || !used(table, &tuple))
            {
                return tuple;
            }
        } else if key_fixed(&tuple, range, manip) || !used(table, &tuple) {
            return tuple;
        }
    }
    unique_key(&tuple, range, manip, table, random)
}

/// Whether [`unique_key`] returns `t` unchanged without a try: a protocol
/// with neither ports nor ids, or destination NAT of ports without a port
/// range (every null binding at PRE_ROUTING and LOCAL_OUT). 6.12 still
/// asks `nf_nat_used_tuple` first, but the answer changes nothing.
fn key_fixed(t: &Tuple, range: &Range, manip: Manip) -> bool {
    match manip_key(t, manip) {
        None => true,
        Some(_) => manip == Manip::Dst && t.proto != proto::ICMP && !range.has(flags::PROTO_SPECIFIED),
    }
}

/// `find_appropriate_src`: the mapping of an existing connection from the
/// same source, with `orig`'s destination, if it is in range.
fn same_source_mapping(orig: &Tuple, range: &Range, table: &impl Clash) -> Option<Tuple> {
    let mut found = None;
    table.same_source(orig, &mut |reply: &Tuple| {
        // The source part of the inverse of that entry's reply.
        let mut t = with_addr(orig, Manip::Src, reply.dst.v4_or_zero());
        if let Some(key) = manip_key(reply, Manip::Dst) {
            t = with_key(&t, Manip::Src, key);
        }
        let fits = t.proto == orig.proto && range.src_in_range(&t);
        if fits {
            found = Some(t);
        }
        fits
    });
    found
}

/// `find_best_ips_proto`: the address to map to, or `None` when the range
/// maps no addresses. One address is taken as is; from several, the
/// choice is `jhash2` of the source address seeded with the destination
/// (with 0 under `--persistent`), scaled into the range: stable for a
/// client (and a server) across connections.
pub fn best_addr(t: &Tuple, range: &Range) -> Option<u32> {
    best_addr_of(t.src.v4_or_zero(), t.dst.v4_or_zero(), range)
}

/// [`best_addr`] of a tuple with IPv4 addresses `src` and `dst`.
#[inline]
pub(crate) fn best_addr_of(src: u32, dst: u32, range: &Range) -> Option<u32> {
    if !range.has(flags::MAP_IPS) {
        return None;
    }
    if range.min_addr == range.max_addr {
        return Some(range.min_addr);
    }
    // The kernel hashes the 16-byte address union (IPv4 in the first
    // word, the rest zero) and XORs in the zone id (0 here).
    let seed = if range.has(flags::PERSISTENT) { 0 } else { raw_be32(dst) };
    let j = jhash2(&[raw_be32(src), 0, 0, 0], seed);
    let dist = range.max_addr.wrapping_sub(range.min_addr).wrapping_add(1);
    Some(range.min_addr.wrapping_add(reciprocal_scale(j, dist)))
}

/// The default source port range when the rule gives none, by the
/// original port's class: 1-511, 600-1023 or 1024-65535 (first, size).
pub fn default_port_range(port: u16) -> (u32, u32) {
    match port {
        0..=511 => (1, 511),
        512..=1023 => (600, 1023 - 600 + 1),
        _ => (1024, 65535 - 1024 + 1),
    }
}

/// The port search's space for `key` (a port, or an ICMP id when
/// `icmp`): its first value and size; `None` when the port cannot change
/// (destination NAT without a port range).
#[inline]
pub(crate) fn span(icmp: bool, key: u16, range: &Range, manip: Manip) -> Option<(u32, u32)> {
    Some(if icmp {
        if range.has(flags::PROTO_SPECIFIED) {
            // No swap for ids: a reversed range wraps, as in 6.12.
            let (lo, hi) = (u32::from(range.min_proto), u32::from(range.max_proto));
            (lo, hi.wrapping_sub(lo).wrapping_add(1))
        } else {
            (0, 65536)
        }
    } else if range.has(flags::PROTO_SPECIFIED) {
        let (a, b) = (u32::from(range.min_proto), u32::from(range.max_proto));
        let (lo, hi) = if b < a { (b, a) } else { (a, b) };
        (lo, hi.wrapping_sub(lo).wrapping_add(1))
    } else if manip == Manip::Dst {
        return None;
    } else {
        default_port_range(key)
    })
}

/// The port search's first offset into its [`span`].
#[inline]
pub(crate) fn start(key: u16, range: &Range, manip: Manip, random: &mut dyn FnMut() -> u16) -> u16 {
    if range.has(flags::PROTO_OFFSET) {
        key.wrapping_sub(range.base_proto)
    } else if range.has_any(flags::PROTO_RANDOM_ALL) || manip != Manip::Dst {
        random()
    } else {
        0
    }
}

/// The candidate port at offset `off` of the span `min`, `size`
/// ([`span`]).
#[inline]
pub(crate) fn candidate_key(min: u32, size: u32, off: u16) -> u16 {
    let step = u32::from(off).checked_rem(size).unwrap_or(0);
    u16::try_from(min.wrapping_add(step) & 0xffff).unwrap_or(0)
}

/// `nf_nat_l4proto_unique_tuple`: searches the port (or ICMP id) space
/// for a free tuple. Returns the tuple unchanged for protocols without
/// ports and for destination NAT without a port range; the last candidate
/// tried when none is free.
pub fn unique_key(
    tuple: &Tuple,
    range: &Range,
    manip: Manip,
    table: &impl Clash,
    random: &mut dyn FnMut() -> u16,
) -> Tuple {
    let Some(key) = manip_key(tuple, manip) else { return *tuple };
    let Some((min, range_size)) = span(tuple.proto == proto::ICMP, key, range, manip) else { return *tuple };
    let mut off = start(key, range, manip, random);
    let mut attempts = range_size.min(MAX_ATTEMPTS);
    let mut candidate = *tuple;
    loop {
        for i in 0..attempts {
            candidate = with_key(tuple, manip, candidate_key(min, range_size, off));
            let free = !candidate.invert().is_some_and(|r| table.taken_harder(&r, attempts.wrapping_sub(i)));
            if free {
                return candidate;
            }
            off = off.wrapping_add(1);
        }
        if attempts >= range_size || attempts < 16 {
            return candidate;
        }
        attempts /= 2;
        off = random();
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
    use crate::tuple::L4;
    use std::vec::Vec;

    const LAN1: u32 = 0xc000_0202;
    const LAN2: u32 = 0xc000_0203;
    const SERVER: u32 = 0xc633_6402;
    const PUB: u32 = 0xcb00_7101;

    use crate::nat::model::ModelTable as Table;
    use std::cell::Cell;
    use std::collections::BTreeSet;

    fn tcp(src: u32, sport: u16, dst: u32, dport: u16) -> Tuple {
        Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: proto::TCP, l4: L4::Ports { sport, dport } }
    }

    fn masq(min: u16, max: u16) -> Range {
        let f = if min == 0 { 0 } else { flags::PROTO_SPECIFIED };
        Range {
            flags: flags::MAP_IPS | f,
            min_addr: PUB,
            max_addr: PUB,
            min_proto: min,
            max_proto: max,
            base_proto: 0,
        }
    }

    fn counter(start: u16) -> impl FnMut() -> u16 {
        let mut n = start;
        move || {
            n = n.wrapping_add(1);
            n
        }
    }

    #[test]
    fn free_source_port_is_kept() {
        let t = Table::default();
        let orig = tcp(LAN1, 40000, SERVER, 80);
        let got = unique_tuple(&orig, &masq(0, 0), Manip::Src, &t, &mut counter(0));
        assert_eq!(got, tcp(PUB, 40000, SERVER, 80));
    }

    #[test]
    fn two_hosts_same_port_get_two_mappings() {
        let mut t = Table::default();
        let a = tcp(LAN1, 40000, SERVER, 80);
        let ma = unique_tuple(&a, &masq(0, 0), Manip::Src, &t, &mut counter(0));
        t.add(&a, &ma);
        let b = tcp(LAN2, 40000, SERVER, 80);
        let mb = unique_tuple(&b, &masq(0, 0), Manip::Src, &t, &mut counter(7));
        assert_ne!(ma, mb);
        assert_eq!(mb.src, PUB);
        let port = manip_key(&mb, Manip::Src).unwrap();
        assert!(port >= 1024, "high ports stay high: {port}");
    }

    #[test]
    fn low_ports_stay_in_their_class() {
        let mut t = Table::default();
        for (orig_port, lo, hi) in [(22u16, 1u16, 511u16), (700, 600, 1023)] {
            let a = tcp(LAN1, orig_port, SERVER, 80);
            t.add(&a, &tcp(PUB, orig_port, SERVER, 80));
            let b = tcp(LAN2, orig_port, SERVER, 80);
            let got = unique_tuple(&b, &masq(0, 0), Manip::Src, &t, &mut counter(1000));
            let p = manip_key(&got, Manip::Src).unwrap();
            assert!((lo..=hi).contains(&p), "{orig_port} -> {p}");
            assert!(!t.replies.contains(&got.invert().unwrap()));
        }
    }

    #[test]
    fn two_port_range_exhausts() {
        let mut t = Table::default();
        let r = masq(5000, 5001);
        let mut got = Vec::new();
        for host in 0..3u32 {
            let o = tcp(LAN1 + host, 40000, SERVER, 80);
            let m = unique_tuple(&o, &r, Manip::Src, &t, &mut counter(host as u16));
            got.push(m);
            t.add(&o, &m);
        }
        let ports: BTreeSet<u16> = got[..2].iter().map(|m| manip_key(m, Manip::Src).unwrap()).collect();
        assert_eq!(ports.len(), 2);
        // The third gets a clashing candidate: confirm will refuse it.
        assert!(got[..2].contains(&got[2]));
    }

    #[test]
    fn single_port_range_is_kept_even_when_taken() {
        let mut t = Table::default();
        let r = masq(6000, 6000);
        let a = tcp(LAN1, 6000, SERVER, 80);
        let ma = unique_tuple(&a, &r, Manip::Src, &t, &mut counter(0));
        t.add(&a, &ma);
        let asked = t.asked.get();
        let mb = unique_tuple(&tcp(LAN2, 6000, SERVER, 80), &r, Manip::Src, &t, &mut counter(0));
        assert_eq!(ma, mb);
        assert_eq!(t.asked.get(), asked, "a one-port range is not checked");
    }

    #[test]
    fn same_source_keeps_its_mapping() {
        let mut t = Table::default();
        let r = Range { min_addr: PUB, max_addr: PUB + 9, ..masq(20000, 30000) };
        let a = tcp(LAN1, 40000, SERVER, 80);
        let ma = unique_tuple(&a, &r, Manip::Src, &t, &mut counter(0));
        t.add(&a, &ma);
        // Another server: same source address and port reused.
        let b = tcp(LAN1, 40000, SERVER + 1, 443);
        let mb = unique_tuple(&b, &r, Manip::Src, &t, &mut counter(99));
        assert_eq!((mb.src, manip_key(&mb, Manip::Src)), (ma.src, manip_key(&ma, Manip::Src)));
    }

    #[test]
    fn random_skips_the_keep_step() {
        let t = Table::default();
        let r = Range { flags: flags::MAP_IPS | flags::PROTO_RANDOM_FULLY, ..masq(0, 0) };
        let got = unique_tuple(&tcp(LAN1, 40000, SERVER, 80), &r, Manip::Src, &t, &mut || 5);
        assert_eq!(manip_key(&got, Manip::Src), Some(1024 + 5));
    }

    #[test]
    fn dnat_keeps_the_port_without_a_range() {
        let t = Table::default();
        let r = Range { flags: flags::MAP_IPS, min_addr: LAN1, max_addr: LAN1, ..Range::default() };
        let got = unique_tuple(&tcp(SERVER, 40000, PUB, 80), &r, Manip::Dst, &t, &mut counter(0));
        assert_eq!(got, tcp(SERVER, 40000, LAN1, 80));
    }

    #[test]
    fn a_port_that_cannot_change_is_not_checked() {
        let mut t = Table::default();
        let o = tcp(SERVER, 40000, PUB, 80);
        t.add(&tcp(SERVER, 40000, LAN2, 80), &o);
        let null = |addr| Range { flags: flags::MAP_IPS, min_addr: addr, max_addr: addr, ..Range::default() };
        // Taken or not, the port stays: the table is not asked.
        assert_eq!(unique_tuple(&o, &null(PUB), Manip::Dst, &t, &mut counter(0)), o);
        let gre = Tuple { proto: 47, l4: L4::None, ..o };
        assert_eq!(unique_tuple(&gre, &null(PUB), Manip::Dst, &t, &mut counter(0)), gre);
        assert_eq!(t.asked.get(), 0);
        // An ICMP id can change: asked.
        let ping = Tuple { proto: proto::ICMP, l4: L4::Icmp { ty: 8, code: 0, id: 7 }, ..o };
        unique_tuple(&ping, &null(PUB), Manip::Dst, &t, &mut counter(0));
        assert_eq!(t.asked.get(), 1);
    }

    #[test]
    fn dnat_port_range_starts_at_min() {
        let mut t = Table::default();
        let r = Range {
            flags: flags::MAP_IPS | flags::PROTO_SPECIFIED,
            min_addr: LAN1,
            max_addr: LAN1,
            min_proto: 8080,
            max_proto: 8090,
            base_proto: 0,
        };
        let got = unique_tuple(&tcp(SERVER, 40000, PUB, 80), &r, Manip::Dst, &t, &mut counter(0));
        assert_eq!(got, tcp(SERVER, 40000, LAN1, 8080));
        t.replies.insert(got.invert().unwrap());
        let again = unique_tuple(&tcp(SERVER, 40000, PUB, 80), &r, Manip::Dst, &t, &mut counter(0));
        assert_eq!(again, tcp(SERVER, 40000, LAN1, 8081));
    }

    #[test]
    fn offset_shifts_ports() {
        let t = Table::default();
        // --to-destination 10.0.0.1:2000-2100/1000: port 1005 -> 2005.
        let r = Range {
            flags: flags::MAP_IPS | flags::PROTO_SPECIFIED | flags::PROTO_OFFSET,
            min_addr: LAN1,
            max_addr: LAN1,
            min_proto: 2000,
            max_proto: 2100,
            base_proto: 1000,
        };
        let got = unique_tuple(&tcp(SERVER, 40000, PUB, 1005), &r, Manip::Dst, &t, &mut counter(0));
        assert_eq!(got, tcp(SERVER, 40000, LAN1, 2005));
    }

    #[test]
    fn address_choice_is_the_kernels() {
        // jhash2 of 10.0.2.1 seeded with 10.0.2.3 is 0xe71b2691 on x86-64
        // (see jhash.rs); scaled into 10 addresses: the 10th.
        if cfg!(target_endian = "little") {
            let r = Range { flags: flags::MAP_IPS, min_addr: PUB, max_addr: PUB + 9, ..Range::default() };
            assert_eq!(best_addr(&tcp(0x0a00_0201, 1, 0x0a00_0203, 80), &r), Some(PUB + 9));
        }
    }

    #[test]
    fn persistent_ignores_the_destination() {
        let r = Range {
            flags: flags::MAP_IPS | flags::PERSISTENT,
            min_addr: PUB,
            max_addr: PUB + 200,
            ..Range::default()
        };
        let a = best_addr(&tcp(LAN1, 1, SERVER, 80), &r).unwrap();
        for d in 0..50 {
            assert_eq!(best_addr(&tcp(LAN1, 1, SERVER + d, 80), &r), Some(a));
        }
        let plain = Range { flags: flags::MAP_IPS, ..r };
        let spread: BTreeSet<u32> =
            (0..50).filter_map(|d| best_addr(&tcp(LAN1, 1, SERVER + d, 80), &plain)).collect();
        assert!(spread.len() > 10, "the destination spreads the choice");
        assert!(spread.iter().all(|a| (PUB..=PUB + 200).contains(a)));
    }

    #[test]
    fn icmp_ids_are_mapped() {
        let mut t = Table::default();
        let echo =
            |src| Tuple { src, dst: crate::tuple::Addr::V4(SERVER), proto: proto::ICMP, l4: L4::Icmp { ty: 8, code: 0, id: 77 } };
        let a = unique_tuple(&echo(crate::tuple::Addr::V4(LAN1)), &masq(0, 0), Manip::Src, &t, &mut counter(0));
        assert_eq!(a, Tuple { src: crate::tuple::Addr::V4(PUB), ..echo(crate::tuple::Addr::V4(LAN1)) });
        t.add(&echo(crate::tuple::Addr::V4(LAN1)), &a);
        let b = unique_tuple(&echo(crate::tuple::Addr::V4(LAN2)), &masq(0, 0), Manip::Src, &t, &mut || 40);
        assert_eq!(b, Tuple { src: crate::tuple::Addr::V4(PUB), l4: L4::Icmp { ty: 8, code: 0, id: 40 }, ..echo(crate::tuple::Addr::V4(LAN2)) });
    }

    #[test]
    fn search_rounds_shrink() {
        // Everything taken: rounds of 128, 64, 32, 16 and 8 tries.
        struct Full(Cell<u32>);
        impl Clash for Full {
            fn taken(&self, _: &Tuple) -> bool {
                self.0.set(self.0.get() + 1);
                true
            }
        }
        let full = Full(Cell::new(0));
        let r = masq(1024, 65535);
        let _ = unique_key(&tcp(LAN1, 1, SERVER, 80), &r, Manip::Src, &full, &mut counter(0));
        assert_eq!(full.0.get(), 128 + 64 + 32 + 16 + 8);
        full.0.set(0);
        let _ = unique_key(&tcp(LAN1, 1, SERVER, 80), &masq(100, 109), Manip::Src, &full, &mut counter(0));
        assert_eq!(full.0.get(), 10);
    }

    #[test]
    fn other_protocols_keep_their_tuple() {
        let t = Table::default();
        let gre = Tuple { src: crate::tuple::Addr::V4(LAN1), dst: crate::tuple::Addr::V4(SERVER), proto: 47, l4: L4::None };
        let got = unique_tuple(&gre, &masq(0, 0), Manip::Src, &t, &mut counter(0));
        assert_eq!(got, Tuple { src: crate::tuple::Addr::V4(PUB), ..gre });
    }
}
