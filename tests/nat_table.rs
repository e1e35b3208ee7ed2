//! NATed entries in the table: found from both directions, their reply
//! tuples kept unique, and gone with their entries (the host tracker runs
//! the kernel's driver, so this is the module's admission path).

mod common;

use common::*;
use ip_conntrack::ctinfo::CtInfo;
use ip_conntrack::entry::Status;
use ip_conntrack::host::{Tracked, Verdict};
use ip_conntrack::nat::range::{flags, Range};
use ip_conntrack::nat::Manip;
use ip_conntrack::tuple::Dir;

const LAN1: u32 = 0xc000_0202; // 192.0.2.2
const LAN2: u32 = 0xc000_0203; // 192.0.2.3
const PUBLIC: u32 = 0xcb00_7101; // 203.0.113.1
const SERVER: u32 = 0xcb00_7102; // 203.0.113.2

fn masquerade() -> Range {
    Range { flags: flags::MAP_IPS, min_addr: PUBLIC, max_addr: PUBLIC, ..Range::default() }
}

/// A new packet through the router: tracked, source-NATed, confirmed.
fn masqueraded(t: &mut ip_conntrack::host::Tracker, pkt: &[u8], now: u64) -> Verdict {
    let Tracked::Attached(a) = t.track(pkt, now) else { panic!("not tracked") };
    assert_eq!(a.ctinfo, CtInfo::New);
    t.nat_setup(&a, Manip::Src, &masquerade(), now, &mut || 12345).expect("binds");
    t.confirm(a, now)
}

#[test]
fn masqueraded_flows_are_found_by_their_replies_and_kept_apart() {
    for buckets in [1, 16, 1024] {
        let mut t = tracker(buckets, 0);
        let v1 = masqueraded(&mut t, &udp(LAN1, 40000, SERVER, 53, b"q"), 0);
        let Verdict::Accept { entry: e1, .. } = v1 else { panic!("{v1:?}") };
        // Two LAN hosts with the same source port: two mappings.
        let v2 = masqueraded(&mut t, &udp(LAN2, 40000, SERVER, 53, b"q"), 0);
        let Verdict::Accept { entry: e2, .. } = v2 else { panic!("{v2:?}") };
        let r1 = t.reply_of(e1).unwrap();
        let r2 = t.reply_of(e2).unwrap();
        assert_eq!(r1, udp_tuple(SERVER, 53, PUBLIC, 40000), "the free port is kept");
        assert_eq!((r2.src, r2.dst), (SERVER.into(), PUBLIC.into()));
        assert_ne!(r1, r2, "{buckets} buckets");
        // Replies to the public address reach each entry.
        for (r, e) in [(r1, e1), (r2, e2)] {
            let L4Ports { sport, dport } = ports(&r);
            let v = t.packet(&udp(SERVER, sport, PUBLIC, dport, b"a"), 1);
            assert_eq!(v, Verdict::Accept { entry: e, ctinfo: CtInfo::EstablishedReply });
            assert!(t.entry(e).unwrap().status.has(Status::SEEN_REPLY));
            assert_eq!(t.lookup(&r, 1).map(|(_, d)| d), Some(Dir::Reply));
        }
        // The inverse of the original tuple is not the reply any more: a
        // packet from the server to the LAN address opens another flow,
        // whose reply tuple is e1's original one: it cannot join the
        // table (6.12 checks both tuples).
        let v = t.packet(&udp(SERVER, 53, LAN1, 40000, b"x"), 1);
        assert!(matches!(v, Verdict::Drop(_)), "{v:?}");
        assert_eq!(t.lookup(&udp_tuple(SERVER, 53, LAN1, 40000), 1), None);
        // A router's own flow with a NATed reply's tuple clashes.
        let v = t.packet(&udp(PUBLIC, 40000, SERVER, 53, b"o"), 1);
        assert!(matches!(v, Verdict::Drop(_)), "{v:?}");
        // Resizing keeps both directions.
        t.resize(buckets * 3 + 1);
        let v = t.packet(&udp(SERVER, 53, PUBLIC, 40000, b"a"), 2);
        assert_eq!(v, Verdict::Accept { entry: e1, ctinfo: CtInfo::EstablishedReply });
        let v = t.packet(&udp(LAN1, 40000, SERVER, 53, b"q"), 2);
        assert_eq!(v, Verdict::Accept { entry: e1, ctinfo: CtInfo::Established });
        // Expired and swept: the mapping is free again.
        while !t.sweep(10_000_000, 1 << 20).pass_done {}
        assert_eq!(t.count(), 0);
        assert_eq!(t.lookup(&r1, 10_000_000), None);
        let v = t.packet(&udp(PUBLIC, 40000, SERVER, 53, b"o"), 10_000_000);
        assert!(matches!(v, Verdict::Accept { ctinfo: CtInfo::New, .. }), "{v:?}");
    }
}

#[test]
fn icmp_errors_about_a_masqueraded_flow_relate_through_the_reply() {
    let mut t = tracker(64, 0);
    let out = udp(LAN1, 40000, SERVER, 33434, b"probe");
    let Verdict::Accept { entry, .. } = masqueraded(&mut t, &out, 0) else { panic!() };
    // What left the router, and the server's port unreachable about it.
    let sent = udp(PUBLIC, 40000, SERVER, 33434, b"probe");
    let err = icmp_error(SERVER, PUBLIC, 3, 3, &sent);
    assert_eq!(t.packet(&err, 1), Verdict::Accept { entry, ctinfo: CtInfo::RelatedReply });
    // An error to another address about it is not related.
    let err = icmp_error(SERVER, LAN2, 3, 3, &sent);
    assert!(matches!(t.packet(&err, 1), Verdict::Invalid(_)));
}

#[test]
fn a_flow_whose_reply_is_a_nated_entrys_original_tuple_is_not_inserted() {
    // A port forward: the client reaches the public address, DNATed to
    // the LAN host. A packet of the inverse tuple (the public address
    // answering the client itself) opens a flow whose reply tuple is the
    // forwarded entry's original: 6.12 refuses to confirm it.
    let mut t = tracker(64, 0);
    let fwd = Range {
        flags: flags::MAP_IPS | flags::PROTO_SPECIFIED,
        min_addr: LAN1,
        max_addr: LAN1,
        min_proto: 80,
        max_proto: 80,
        base_proto: 0,
    };
    let Tracked::Attached(a) = t.track(&udp(SERVER, 5000, PUBLIC, 8080, b"q"), 0) else { panic!() };
    t.nat_setup(&a, Manip::Dst, &fwd, 0, &mut || 1).unwrap();
    let Verdict::Accept { entry, .. } = t.confirm(a, 0) else { panic!() };
    assert_eq!(t.reply_of(entry), Some(udp_tuple(LAN1, 80, SERVER, 5000)));
    let v = t.packet(&udp(PUBLIC, 8080, SERVER, 5000, b"x"), 1);
    assert!(matches!(v, Verdict::Drop(_)), "{v:?}");
    assert_eq!(t.lookup(&udp_tuple(SERVER, 5000, PUBLIC, 8080), 1).map(|(e, d)| (e.orig(), d)),
        Some((udp_tuple(SERVER, 5000, PUBLIC, 8080), Dir::Original)));
    assert_eq!(t.count(), 1);
}

#[test]
fn the_same_source_keeps_its_mapping() {
    // h2 takes PUBLIC:40000 towards one server; h1:40000 then gets
    // another port there, and keeps that mapping towards a second server
    // even though 40000 would be free there (6.12's find_appropriate_src).
    let other = SERVER + 1;
    let mut t = tracker(64, 0);
    let Verdict::Accept { .. } = masqueraded(&mut t, &udp(LAN2, 40000, SERVER, 53, b"q"), 0) else { panic!() };
    let Verdict::Accept { entry: a, .. } = masqueraded(&mut t, &udp(LAN1, 40000, SERVER, 53, b"q"), 0) else { panic!() };
    let mapped = ports(&t.reply_of(a).unwrap()).dport;
    assert_ne!(mapped, 40000);
    let Verdict::Accept { entry: b, .. } = masqueraded(&mut t, &udp(LAN1, 40000, other, 53, b"q"), 0) else { panic!() };
    assert_eq!(t.reply_of(b), Some(udp_tuple(other, 53, PUBLIC, mapped)));
    assert_eq!(t.source_nodes(), 3, "one node per source-NATed entry");
    // Once that mapping is gone, a new flow keeps its own port again.
    while !t.sweep(10_000_000, 1 << 20).pass_done {}
    assert_eq!(t.source_nodes(), 0, "source chains emptied");
    let Verdict::Accept { entry: c, .. } = masqueraded(&mut t, &udp(LAN1, 40000, other, 53, b"q"), 10_000_000) else { panic!() };
    assert_eq!(t.reply_of(c), Some(udp_tuple(other, 53, PUBLIC, 40000)));
}

struct L4Ports {
    sport: u16,
    dport: u16,
}

fn ports(t: &ip_conntrack::tuple::Tuple) -> L4Ports {
    match t.l4 {
        ip_conntrack::tuple::L4::Ports { sport, dport } => L4Ports { sport, dport },
        _ => panic!("no ports"),
    }
}
