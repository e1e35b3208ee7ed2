//! Property tests of the NAT engine (`ip_conntrack::nat`):
//! - rewriting: random TCP, UDP and ICMP echo packets with valid
//!   checksums, rewritten at a random end to a random address and port
//!   (or id), parse back with the new tuple, every checksum still
//!   verifies, the length is unchanged and only the rewritten fields and
//!   checksums differ;
//! - ICMP errors about a NATed flow translate back to the host behind the
//!   NAT, with the outer, ICMP and inner checksums verifying;
//! - truncated or cut input is refused and left unchanged, never panics;
//! - the tuple choice never returns a taken tuple when the range has a
//!   free one, stays in range, and gives the same source the same mapping.

mod common;


use common::*;
use ip_conntrack::nat::icmp_error::translate;
use ip_conntrack::nat::range::{flags, manip_key, Range};
use ip_conntrack::nat::rewrite::{manip_packet, RewriteError};
use ip_conntrack::nat::unique::{best_addr, unique_tuple};
use ip_conntrack::nat::model::ModelTable as Table;
use ip_conntrack::nat::Manip;
use ip_conntrack::packet::{parse, Icmp as IcmpInfo, L4Info};
use ip_conntrack::tuple::{proto, Tuple, L4};
use proptest::prelude::*;

/// A packet to build: protocol 0 TCP, 1 UDP, 2 ICMP echo, 3 echo reply.
#[derive(Clone, Debug)]
struct Flow {
    kind: u8,
    src: u32,
    dst: u32,
    sport: u16,
    dport: u16,
    len: usize,
}

fn flow() -> impl Strategy<Value = Flow> {
    (0u8..4, any::<u32>(), any::<u32>(), any::<u16>(), any::<u16>(), 0usize..64)
        .prop_map(|(kind, src, dst, sport, dport, len)| Flow { kind, src, dst, sport, dport, len })
}

fn build(f: &Flow) -> Vec<u8> {
    let payload: Vec<u8> = (0..f.len).map(|i| (i as u8).wrapping_mul(31)).collect();
    match f.kind {
        0 => {
            let mut s = Seg::new(ACK | PSH, 1000, 2000);
            s.len = f.len;
            tcp(f.src, f.sport, f.dst, f.dport, s)
        }
        1 => udp(f.src, f.sport, f.dst, f.dport, &payload),
        k => {
            let ty = if k == 2 { 8 } else { 0 };
            let mut rest = [0u8; 4];
            rest[..2].copy_from_slice(&f.sport.to_be_bytes());
            icmp_raw(f.src, f.dst, ty, 0, rest, &payload)
        }
    }
}

/// The target tuple: `t` with the `manip` end set to `addr` and `key`.
fn retarget(t: &Tuple, manip: Manip, addr: u32, key: u16) -> Tuple {
    let mut n = *t;
    match manip {
        Manip::Src => n.src = ip_conntrack::tuple::Addr::V4(addr),
        Manip::Dst => n.dst = ip_conntrack::tuple::Addr::V4(addr),
    }
    n.l4 = match (t.l4, manip) {
        (L4::Ports { dport, .. }, Manip::Src) => L4::Ports { sport: key, dport },
        (L4::Ports { sport, .. }, Manip::Dst) => L4::Ports { sport, dport: key },
        (L4::Icmp { ty, code, .. }, _) => L4::Icmp { ty, code, id: key },
        (l4, _) => l4,
    };
    n
}

/// Checks the IPv4 header checksum and the layer-4 checksum (with the
/// pseudo-header for TCP and UDP; a UDP checksum of 0 means none).
fn checksums_ok(p: &[u8]) -> bool {
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    if checksum(&p[..ihl]) != 0 {
        return false;
    }
    let l4 = &p[ihl..total];
    match p[9] {
        // An all-zero message has 0xffff as its only right checksum; the
        // incremental update (6.12's too) gives 0 there.
        proto::ICMP => checksum(l4) == 0 || l4.iter().all(|&b| b == 0),
        proto::UDP if l4[6] == 0 && l4[7] == 0 => true,
        proto::TCP | proto::UDP => {
            let mut b = p[12..20].to_vec();
            b.extend_from_slice(&[0, p[9]]);
            b.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            b.extend_from_slice(l4);
            checksum(&b) == 0
        }
        _ => true,
    }
}

/// Offsets a rewrite of `manip` may change in a packet of `protocol`.
fn may_change(protocol: u8, manip: Manip, at: usize) -> bool {
    let ip = match manip {
        Manip::Src => 12..16,
        Manip::Dst => 16..20,
    };
    let l4 = match (protocol, manip) {
        (proto::TCP, Manip::Src) => vec![20, 21, 36, 37],
        (proto::TCP, Manip::Dst) => vec![22, 23, 36, 37],
        (proto::UDP, Manip::Src) => vec![20, 21, 26, 27],
        (proto::UDP, Manip::Dst) => vec![22, 23, 26, 27],
        _ => vec![22, 23, 24, 25],
    };
    (10..12).contains(&at) || ip.contains(&at) || l4.contains(&at)
}

fn manip() -> impl Strategy<Value = Manip> {
    prop_oneof![Just(Manip::Src), Just(Manip::Dst)]
}

fn rng(seed: u64) -> impl FnMut() -> u16 {
    let mut s = seed | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 16) as u16
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn rewrite_then_parse(f in flow(), m in manip(), addr in any::<u32>(), key in any::<u16>()) {
        let before = build(&f);
        prop_assume!(checksums_ok(&before));
        let mut p = before.clone();
        let orig = parse(&p, p.len()).unwrap().tuple;
        let target = retarget(&orig, m, addr, key);
        let udp_sum_was_zero = f.kind == 1 && before[26..28] == [0, 0];
        manip_packet(&mut p, before.len(), m, &target).unwrap();
        prop_assert_eq!(p.len(), before.len());
        let got = parse(&p, p.len()).unwrap();
        prop_assert_eq!(got.tuple, target);
        prop_assert!(checksums_ok(&p), "checksums after rewrite: {:02x?}", p);
        if udp_sum_was_zero {
            prop_assert_eq!(&p[26..28], &[0u8, 0][..]);
        } else if f.kind == 1 {
            prop_assert!(p[26..28] != [0, 0], "a computed UDP checksum of 0 is sent as 0xffff");
        }
        for (i, (a, b)) in before.iter().zip(&p).enumerate() {
            if a != b {
                prop_assert!(may_change(before[9], m, i), "byte {} changed", i);
            }
        }
    }

    #[test]
    fn cut_input_is_refused_unchanged(f in flow(), m in manip(), cut in 0usize..100, frame in 0usize..200) {
        let full = build(&f);
        let orig = parse(&full, full.len()).unwrap().tuple;
        let target = retarget(&orig, m, 0xcb00_7101, 4242);
        let mut p = full[..cut.min(full.len())].to_vec();
        let copy = p.clone();
        match manip_packet(&mut p, frame, m, &target) {
            Ok(()) => prop_assert!(frame >= full.len() && p.len() >= 20),
            Err(_) => prop_assert_eq!(p, copy),
        }
        let mut p = full[..cut.min(full.len())].to_vec();
        let copy = p.clone();
        if translate(&mut p, m, &orig).is_err() {
            prop_assert_eq!(p, copy);
        }
    }

    #[test]
    fn icmp_errors_reach_the_host_behind_the_nat(
        f in flow(),
        public in any::<u32>(),
        key in any::<u16>(),
        quote_all in any::<bool>(),
        ty in prop_oneof![Just(3u8), Just(11u8), Just(12u8)],
    ) {
        prop_assume!(f.kind <= 2);
        // The flow leaves through source NAT: `orig` becomes `mapped`.
        let orig = parse(&build(&f), 1 << 16).unwrap().tuple;
        let mapped = retarget(&orig, Manip::Src, public, key);
        let mut sent = build(&f);
        let n = sent.len();
        manip_packet(&mut sent, n, Manip::Src, &mapped).unwrap();
        // The server's error about what it received, to the public address.
        let quote = if quote_all { &sent[..] } else { &sent[..28] };
        let mut err = icmp_raw(orig.dst.v4_or_zero(), public, ty, 0, [0; 4], quote);
        let len = err.len();
        // PREROUTING undoes the source NAT: the other direction's tuple
        // (the original one) is what the quote must show.
        translate(&mut err, Manip::Dst, &orig).unwrap();
        prop_assert_eq!(err.len(), len);
        let got = parse(&err, err.len()).unwrap();
        prop_assert_eq!(got.tuple.dst, orig.src);
        prop_assert_eq!(got.tuple.src, orig.dst);
        prop_assert_eq!((got.l4, got.quoted), (L4Info::Icmp(IcmpInfo::Error), Some(orig)));
        prop_assert!(checksums_ok(&err));
        prop_assert_eq!(checksum(&err[28..48]), 0, "inner IP checksum");
        if quote_all {
            // The whole quoted packet: its own checksums are restored too.
            prop_assert_eq!(&err[28..], &build(&f)[..]);
        }
    }

    #[test]
    fn icmp_errors_about_a_port_forward_come_from_the_public_address(
        f in flow(),
        lan in any::<u32>(),
        key in any::<u16>(),
        quote_all in any::<bool>(),
    ) {
        prop_assume!(f.kind <= 2);
        // The client's packet to the public address `f.dst` is forwarded
        // to `lan`: `orig` becomes `forwarded`.
        let orig = parse(&build(&f), 1 << 16).unwrap().tuple;
        let forwarded = retarget(&orig, Manip::Dst, lan, key);
        let mut sent = build(&f);
        let n = sent.len();
        manip_packet(&mut sent, n, Manip::Dst, &forwarded).unwrap();
        // The LAN host's error about it, back to the client.
        let quote = if quote_all { &sent[..] } else { &sent[..28] };
        let mut err = icmp_raw(lan, orig.src.v4_or_zero(), 3, 3, [0; 4], quote);
        // POSTROUTING (source manip) in the reply direction.
        translate(&mut err, Manip::Src, &orig).unwrap();
        let got = parse(&err, err.len()).unwrap();
        prop_assert_eq!((got.tuple.src, got.tuple.dst), (orig.dst, orig.src));
        prop_assert_eq!((got.l4, got.quoted), (L4Info::Icmp(IcmpInfo::Error), Some(orig)));
        prop_assert!(checksums_ok(&err));
        prop_assert_eq!(checksum(&err[28..48]), 0, "inner IP checksum");
    }

    #[test]
    fn port_choice_is_free_and_in_range(
        lo in 1000u16..1100,
        width in 1u16..128,
        taken in proptest::collection::btree_set(1000u16..1230, 0..200),
        sport in any::<u16>(),
        m in manip(),
        seed in any::<u64>(),
        random in any::<bool>(),
    ) {
        let hi = lo + width - 1;
        let (client, server, public) = (CLIENT, SERVER, ROUTER);
        let orig = udp_tuple(client, sport, server, 53);
        let mut table = Table::default();
        for &p in &taken {
            let t = match m {
                Manip::Src => udp_tuple(public, p, server, 53),
                Manip::Dst => udp_tuple(client, sport, public, p),
            };
            table.replies.insert(t.invert().unwrap());
        }
        let f = flags::MAP_IPS | flags::PROTO_SPECIFIED | if random { flags::PROTO_RANDOM } else { 0 };
        let range = Range { flags: f, min_addr: public, max_addr: public, min_proto: lo, max_proto: hi, base_proto: 0 };
        let got = unique_tuple(&orig, &range, m, &table, &mut rng(seed));
        let key = manip_key(&got, m).unwrap();
        prop_assert!((lo..=hi).contains(&key), "{} outside {}-{}", key, lo, hi);
        let free_exists = (lo..=hi).any(|p| !taken.contains(&p));
        let single_kept = lo == hi && !random && manip_key(&orig, m) == Some(lo);
        if free_exists && !single_kept {
            prop_assert!(!table.replies.contains(&got.invert().unwrap()), "taken tuple {:?}", got);
        }
    }

    #[test]
    fn same_source_same_mapping(
        sport in 1024u16..,
        dsts in proptest::collection::vec(any::<u32>(), 2..6),
        lo in 20000u16..30000,
        seed in any::<u64>(),
        others in proptest::collection::vec((any::<u32>(), any::<u16>()), 0..20),
    ) {
        // SNAT --to-source 203.0.113.1-203.0.113.9:lo-(lo+999).
        let range = Range {
            flags: flags::MAP_IPS | flags::PROTO_SPECIFIED,
            min_addr: ROUTER,
            max_addr: ROUTER + 8,
            min_proto: lo,
            max_proto: lo + 999,
            base_proto: 0,
        };
        let mut table = Table::default();
        let mut r = rng(seed);
        for (src, p) in others {
            let o = udp_tuple(src, p, SERVER, 53);
            let m = unique_tuple(&o, &range, Manip::Src, &table, &mut r);
            table.add(&o, &m);
        }
        let first = udp_tuple(CLIENT, sport, dsts[0], 53);
        let m0 = unique_tuple(&first, &range, Manip::Src, &table, &mut r);
        table.add(&first, &m0);
        for &d in &dsts[1..] {
            let o = udp_tuple(CLIENT, sport, d, 53);
            let m = unique_tuple(&o, &range, Manip::Src, &table, &mut r);
            if !table.replies.contains(&retarget(&o, Manip::Src, m0.src.v4_or_zero(), manip_key(&m0, Manip::Src).unwrap()).invert().unwrap()) {
                prop_assert_eq!((m.src, manip_key(&m, Manip::Src)), (m0.src, manip_key(&m0, Manip::Src)));
            }
            table.add(&o, &m);
        }
    }

    #[test]
    fn address_choice_is_stable(src in any::<u32>(), dst in any::<u32>(), d2 in any::<u32>(), lo in any::<u32>(), n in 1u32..1000) {
        let hi = lo.saturating_add(n);
        let range = Range { flags: flags::MAP_IPS, min_addr: lo, max_addr: hi, ..Range::default() };
        let t = udp_tuple(src, 1, dst, 2);
        let a = best_addr(&t, &range).unwrap();
        prop_assert!((lo..=hi).contains(&a));
        prop_assert_eq!(best_addr(&t, &range), Some(a));
        let persistent = Range { flags: flags::MAP_IPS | flags::PERSISTENT, ..range };
        let p = best_addr(&t, &persistent).unwrap();
        prop_assert_eq!(best_addr(&udp_tuple(src, 9, d2, 9), &persistent), Some(p));
    }
}

#[test]
fn masquerade_two_hosts_same_port() {
    let range = Range { flags: flags::MAP_IPS, min_addr: ROUTER, max_addr: ROUTER, ..Range::default() };
    let mut table = Table::default();
    let a = udp_tuple(CLIENT, 5000, SERVER, 53);
    let ma = unique_tuple(&a, &range, Manip::Src, &table, &mut rng(1));
    assert_eq!(ma, udp_tuple(ROUTER, 5000, SERVER, 53), "a free port is kept");
    table.add(&a, &ma);
    let b = udp_tuple(CLIENT + 1, 5000, SERVER, 53);
    let mb = unique_tuple(&b, &range, Manip::Src, &table, &mut rng(2));
    assert_eq!(mb.src, ROUTER);
    assert_ne!(manip_key(&mb, Manip::Src), Some(5000));
    assert!(manip_key(&mb, Manip::Src).unwrap() >= 1024);
    let _ = RewriteError::Truncated;
}
