//! Tracking through the host tracker with real packet bytes: UDP, ICMP,
//! generic protocols, TCP end to end, unconfirmed entries, clashes, early
//! drop and expiry.

mod common;

use common::*;
use ip_conntrack::config::Timeout;
use ip_conntrack::ctinfo::CtInfo;
use ip_conntrack::entry::Status;
use ip_conntrack::flow_note::FlowNote;
use ip_conntrack::host::{DropReason, Tracked, Verdict};
use ip_conntrack::invalid::Invalid;
use ip_conntrack::procfmt::parse_line;
use ip_conntrack::proto::tcp::TcpState;
use ip_conntrack::proto::ProtoState;
use ip_conntrack::tuple::{proto, Dir, Tuple, L4};

fn tcp_state(t: &ip_conntrack::host::Tracker, tuple: &Tuple, now: u64) -> Option<TcpState> {
    match t.lookup(tuple, now)?.0.proto {
        ProtoState::Tcp(tcp) => Some(tcp.state()),
        _ => None,
    }
}

// ---------------------------------------------------------------- UDP

#[test]
fn udp_one_way_stays_new_and_unreplied() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 53, b"query");
    assert_eq!(ct(t.packet(&q, s(0))), CtInfo::New);
    assert_eq!(ct(t.packet(&q, s(10))), CtInfo::New);
    let (e, dir) = t
        .lookup(&udp_tuple(CLIENT, 40000, SERVER, 53), s(10))
        .unwrap();
    assert_eq!(dir, Dir::Original);
    assert!(!e.status.has(Status::SEEN_REPLY));
    assert!(!e.status.has(Status::ASSURED));
    assert_eq!(e.deadline, s(40));
    assert_eq!(t.count(), 1);
    // Found from the reply side too.
    assert_eq!(
        t.lookup(&udp_tuple(SERVER, 53, CLIENT, 40000), s(10))
            .map(|x| x.1),
        Some(Dir::Reply)
    );
    // Gone at the deadline.
    assert!(t
        .lookup(&udp_tuple(CLIENT, 40000, SERVER, 53), s(40))
        .is_none());
    let lines = t.dump(s(39));
    assert_eq!(lines.len(), 1);
    let p = parse_line(&lines[0]).unwrap();
    assert!(p.unreplied && !p.assured);
    assert_eq!(p.seconds, 1);
}

#[test]
fn udp_two_way_assured_after_two_seconds_with_stream_timeout() {
    let mut t = tracker(64, 100);
    let tuple = udp_tuple(CLIENT, 40000, SERVER, 53);
    let q = udp(CLIENT, 40000, SERVER, 53, b"q");
    let a = udp(SERVER, 53, CLIENT, 40000, b"a");
    assert_eq!(ct(t.packet(&q, 0)), CtInfo::New);
    // The first reply: ESTABLISHED_REPLY, but still the unreplied timeout.
    assert_eq!(ct(t.packet(&a, 500)), CtInfo::EstablishedReply);
    let (e, _) = t.lookup(&tuple, 500).unwrap();
    assert!(e.status.has(Status::SEEN_REPLY));
    assert!(!e.status.has(Status::ASSURED));
    assert_eq!(e.deadline, 500 + s(30));
    // After the reply but within 2 s: ESTABLISHED, not assured yet.
    assert_eq!(ct(t.packet(&q, 1000)), CtInfo::Established);
    assert_eq!(ct(t.packet(&a, 2000)), CtInfo::EstablishedReply);
    let (e, _) = t.lookup(&tuple, 2000).unwrap();
    assert!(!e.status.has(Status::ASSURED));
    assert_eq!(e.deadline, 2000 + s(30));
    // Strictly more than 2 s after creation: a stream.
    assert_eq!(ct(t.packet(&q, 2001)), CtInfo::Established);
    let (e, _) = t.lookup(&tuple, 2001).unwrap();
    assert!(e.status.has(Status::ASSURED));
    assert_eq!(e.deadline, 2001 + s(120));
    let d = t.dump(2001);
    let p = parse_line(&d[0]).unwrap();
    assert!(!p.unreplied && p.assured);
    assert_eq!(p.seconds, 120);
}

#[test]
fn udp_reply_late_then_packet_is_stream_at_once() {
    let mut t = tracker(64, 100);
    let tuple = udp_tuple(CLIENT, 5000, SERVER, 5001);
    t.packet(&udp(CLIENT, 5000, SERVER, 5001, b"x"), 0);
    t.packet(&udp(SERVER, 5001, CLIENT, 5000, b"y"), s(5));
    assert!(!t
        .lookup(&tuple, s(5))
        .unwrap()
        .0
        .status
        .has(Status::ASSURED));
    t.packet(&udp(SERVER, 5001, CLIENT, 5000, b"y"), s(6));
    let (e, _) = t.lookup(&tuple, s(6)).unwrap();
    assert!(e.status.has(Status::ASSURED));
    assert_eq!(e.deadline, s(126));
}

#[test]
fn udp_timeouts_follow_config() {
    let mut t = tracker(64, 100);
    t.config_mut().timeouts.set(Timeout::Udp, 5);
    t.packet(&udp(CLIENT, 1, SERVER, 2, b""), 0);
    assert_eq!(
        t.lookup(&udp_tuple(CLIENT, 1, SERVER, 2), 0)
            .unwrap()
            .0
            .deadline,
        s(5)
    );
}

#[test]
fn udp_bad_length_is_invalid() {
    let mut t = tracker(64, 100);
    let mut p = udp(CLIENT, 1, SERVER, 2, b"abc");
    p[24..26].copy_from_slice(&100u16.to_be_bytes());
    assert_eq!(invalid(t.packet(&p, 0)), Invalid::BadL4Header);
    assert_eq!(t.count(), 0);
    assert_eq!(t.stats().invalid, 1);
}

// ---------------------------------------------------------------- ICMP

fn echo_tuple(src: u32, dst: u32, ty: u8, id: u16) -> Tuple {
    Tuple {
        src: ip_conntrack::tuple::Addr::V4(src),
        dst: ip_conntrack::tuple::Addr::V4(dst),
        proto: proto::ICMP,
        l4: L4::Icmp { ty, code: 0, id },
    }
}

#[test]
fn icmp_echo_entry_answered_and_kept_until_timeout() {
    let mut t = tracker(64, 100);
    let req = icmp_query(CLIENT, SERVER, 8, 77, 1);
    let rep = icmp_query(SERVER, CLIENT, 0, 77, 1);
    assert_eq!(ct(t.packet(&req, 0)), CtInfo::New);
    assert_eq!(ct(t.packet(&rep, 100)), CtInfo::EstablishedReply);
    // Kept after the reply: a duplicate reply still matches.
    assert_eq!(ct(t.packet(&rep, 200)), CtInfo::EstablishedReply);
    // The next request of the same ping: ESTABLISHED.
    assert_eq!(
        ct(t.packet(&icmp_query(CLIENT, SERVER, 8, 77, 2), s(1))),
        CtInfo::Established
    );
    let (e, dir) = t.lookup(&echo_tuple(SERVER, CLIENT, 0, 77), s(1)).unwrap();
    assert_eq!(dir, Dir::Reply);
    assert_eq!(e.deadline, s(31));
    assert!(t
        .lookup(&echo_tuple(CLIENT, SERVER, 8, 77), s(31))
        .is_none());
    let d = t.dump(s(1));
    let p = parse_line(&d[0]).unwrap();
    assert_eq!(p.name, "icmp");
    assert!(!p.unreplied);
    assert_eq!(t.count(), 1);
}

#[test]
fn icmp_other_queries_pair_up() {
    let mut t = tracker(64, 100);
    for (req, rep, id) in [(13u8, 14u8, 1u16), (15, 16, 2), (17, 18, 3)] {
        assert_eq!(
            ct(t.packet(&icmp_query(CLIENT, SERVER, req, id, 0), 0)),
            CtInfo::New
        );
        assert_eq!(
            ct(t.packet(&icmp_query(SERVER, CLIENT, rep, id, 0), 1)),
            CtInfo::EstablishedReply
        );
    }
    assert_eq!(t.count(), 3);
}

#[test]
fn icmp_reply_without_request_is_invalid() {
    let mut t = tracker(64, 100);
    assert_eq!(
        invalid(t.packet(&icmp_query(SERVER, CLIENT, 0, 5, 1), 0)),
        Invalid::IcmpNoQuery
    );
    // A reply with another id does not match the request.
    t.packet(&icmp_query(CLIENT, SERVER, 8, 6, 1), 0);
    assert_eq!(
        invalid(t.packet(&icmp_query(SERVER, CLIENT, 0, 7, 1), 0)),
        Invalid::IcmpNoQuery
    );
    assert_eq!(t.count(), 1);
    assert_eq!(t.stats().invalid, 2);
}

#[test]
fn icmp_non_query_non_error_is_invalid() {
    let mut t = tracker(64, 100);
    // Router advertisement (9), router solicitation (10).
    for ty in [9u8, 10] {
        assert_eq!(
            invalid(t.packet(&icmp_query(CLIENT, SERVER, ty, 1, 1), 0)),
            Invalid::IcmpNotNew
        );
    }
    assert_eq!((t.stats().invalid, t.stats().icmp_error), (2, 0));
    // A type past NR_ICMP_TYPES: refused by 6.12's error handler, which
    // counts `icmp_error` alone.
    assert_eq!(invalid(t.packet(&icmp_query(CLIENT, SERVER, 42, 1, 1), 0)), Invalid::IcmpBadType);
    assert_eq!((t.stats().invalid, t.stats().icmp_error), (2, 1));
    assert_eq!(t.count(), 0);
}

#[test]
fn icmp_error_about_tracked_flow_is_related() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 33434, b"probe");
    t.packet(&q, 0);
    // Port unreachable from the server: reply direction.
    let err = icmp_error(SERVER, CLIENT, 3, 3, &q);
    let v = t.packet(&err, 10);
    assert_eq!(ct(v), CtInfo::RelatedReply);
    assert_eq!(ct(v).state_bit(), 4);
    // Time exceeded from a router on the path: also reply direction.
    assert_eq!(
        ct(t.packet(&icmp_error(ROUTER, CLIENT, 11, 0, &q), 20)),
        CtInfo::RelatedReply
    );
    // An error in the original direction, about the server's answer.
    let a = udp(SERVER, 33434, CLIENT, 40000, b"answer");
    t.packet(&a, 30);
    assert_eq!(
        ct(t.packet(&icmp_error(CLIENT, SERVER, 3, 3, &a), 40)),
        CtInfo::Related
    );
    // No new entry for errors, and the flow's timer is not refreshed.
    assert_eq!(t.count(), 1);
    let (e, _) = t
        .lookup(&udp_tuple(CLIENT, 40000, SERVER, 33434), 40)
        .unwrap();
    assert_eq!(e.deadline, 30 + s(30));
}

#[test]
fn icmp_error_about_tcp_flow_is_related() {
    let mut t = tracker(64, 100);
    let mut c = Conn::new(41000, 80);
    let syn = c.c(SYN, 0);
    t.packet(&syn, 0);
    let err = icmp_error(ROUTER, CLIENT, 3, 1, &syn);
    assert_eq!(ct(t.packet(&err, 1)), CtInfo::RelatedReply);
}

#[test]
fn icmp_error_about_unknown_flow_is_invalid() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 53, b"q");
    let err = icmp_error(SERVER, CLIENT, 3, 3, &q);
    assert_eq!(invalid(t.packet(&err, 0)), Invalid::IcmpErrorUnknown);
    // 6.12's error handler refuses it before `invalid` is counted.
    assert_eq!(t.stats().icmp_error, 1);
    assert_eq!(t.stats().invalid, 0);
    assert_eq!(t.count(), 0);
    // An error whose destination is not the flow's endpoint in that
    // direction relates a third host: INVALID.
    t.packet(&q, 0);
    let third = common::addr(10, 9, 8, 7);
    assert_eq!(
        invalid(t.packet(&icmp_error(SERVER, third, 3, 3, &q), 1)),
        Invalid::IcmpErrorUnknown
    );
}

#[test]
fn icmp_error_about_expired_flow_is_invalid() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 53, b"q");
    t.packet(&q, 0);
    let err = icmp_error(SERVER, CLIENT, 3, 3, &q);
    assert_eq!(invalid(t.packet(&err, s(30))), Invalid::IcmpErrorUnknown);
}

#[test]
fn icmp_error_quoting_error_is_invalid() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 53, b"q");
    t.packet(&q, 0);
    let err = icmp_error(SERVER, CLIENT, 3, 3, &q);
    let err2 = icmp_error(CLIENT, SERVER, 3, 3, &err);
    assert_eq!(invalid(t.packet(&err2, 1)), Invalid::IcmpErrorInError);
}

#[test]
fn icmp_error_about_echo_is_related() {
    let mut t = tracker(64, 100);
    let req = icmp_query(CLIENT, SERVER, 8, 9, 1);
    t.packet(&req, 0);
    assert_eq!(
        ct(t.packet(&icmp_error(ROUTER, CLIENT, 11, 0, &req), 1)),
        CtInfo::RelatedReply
    );
}

#[test]
fn icmp_error_with_truncated_quote_is_invalid() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 53, b"q");
    // The inner header and 3 bytes: not even the two ports.
    let err = icmp_raw(SERVER, CLIENT, 3, 3, [0; 4], &q[..23]);
    assert_eq!(invalid(t.packet(&err, 0)), Invalid::IcmpErrorBadInner);
}

// ---------------------------------------------------------------- generic

#[test]
fn icmpv6_over_ipv4_is_invalid() {
    // 6.12 builds an ICMPv6 tuple for protocol 58 in IPv4, then
    // `nf_conntrack_icmpv6_packet` refuses it (not IPv6): INVALID, counted
    // as invalid (not as an ICMP error), no entry. Echo request, its
    // reply, an error, a message shorter than the ICMPv6 header.
    let mut t = tracker(64, 100);
    let echo = [128u8, 0, 0, 0, 0x12, 0x34, 0, 1];
    let reply = [129u8, 0, 0, 0, 0x12, 0x34, 0, 1];
    let unreach = [1u8, 4, 0, 0, 0, 0, 0, 0];
    for (i, (src, dst, msg)) in
        [(CLIENT, SERVER, &echo[..]), (SERVER, CLIENT, &reply[..]), (SERVER, CLIENT, &unreach[..]), (CLIENT, SERVER, &echo[..4])]
            .into_iter()
            .enumerate()
    {
        let p = ipv4(src, dst, 58, msg);
        assert_eq!(invalid(t.packet(&p, 0)), Invalid::Icmpv6OverIpv4, "packet {i}");
    }
    assert_eq!(t.count(), 0);
    assert_eq!(t.stats().get(ip_conntrack::stats::Counter::Invalid), 4);
    assert_eq!(t.stats().get(ip_conntrack::stats::Counter::IcmpError), 0);
    // The protocol beside it is still generic.
    assert_eq!(ct(t.packet(&ipv4(CLIENT, SERVER, 59, &echo), 1)), CtInfo::New);
}

#[test]
fn generic_protocol_tracked_by_addresses() {
    let mut t = tracker(64, 100);
    let gre = other(CLIENT, SERVER, 47);
    assert_eq!(ct(t.packet(&gre, 0)), CtInfo::New);
    assert_eq!(
        ct(t.packet(&other(SERVER, CLIENT, 47), 1)),
        CtInfo::EstablishedReply
    );
    assert_eq!(ct(t.packet(&gre, 2)), CtInfo::Established);
    let tuple = Tuple {
        src: ip_conntrack::tuple::Addr::V4(CLIENT),
        dst: ip_conntrack::tuple::Addr::V4(SERVER),
        proto: 47,
        l4: L4::None,
    };
    let (e, _) = t.lookup(&tuple, 2).unwrap();
    assert_eq!(e.deadline, 2 + s(600));
    let d = t.dump(2);
    let p = parse_line(&d[0]).unwrap();
    assert_eq!((p.name, p.proto), ("unknown", 47));
    // Another protocol between the same hosts is another flow.
    assert_eq!(ct(t.packet(&other(CLIENT, SERVER, 50), 3)), CtInfo::New);
    assert_eq!(t.count(), 2);
}

// ---------------------------------------------------------------- confirmation

#[test]
fn dropped_first_packet_creates_nothing() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 53, b"q");
    let Tracked::Attached(a) = t.track(&q, 0) else {
        panic!("not attached")
    };
    assert!(a.unconfirmed);
    assert_eq!(a.ctinfo, CtInfo::New);
    // Not in the table before confirmation.
    assert!(t.lookup(&udp_tuple(CLIENT, 40000, SERVER, 53), 0).is_none());
    assert_eq!(t.count(), 1);
    t.discard(a);
    assert_eq!(t.count(), 0);
    assert!(t.dump(0).is_empty());
    assert_eq!(t.stats().insert, 0);
    // The next packet is NEW again and does create the entry.
    assert_eq!(ct(t.packet(&q, 1)), CtInfo::New);
    assert_eq!(t.count(), 1);
    assert_eq!(t.stats().insert, 1);
}

/// The key `tracker` uses.
const KEY: ip_conntrack::hash::HashKey = ip_conntrack::hash::HashKey::new(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);

#[test]
fn new_flow_hash_is_carried_to_confirmation() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 53, b"q");
    let tuple = udp_tuple(CLIENT, 40000, SERVER, 53);
    let Tracked::Attached(a) = t.track(&q, 0) else { panic!("not attached") };
    // Tracking left the hash it searched with, for this entry and key.
    let note = FlowNote::Apart { entry: a.entry, key: tuple.key(), addrs6: None, hash: tuple.flow_hash(&KEY) };
    assert_eq!(t.flow_note(), Some(note));
    assert!(matches!(t.confirm(a, 0), Verdict::Accept { .. }));
    assert!(t.lookup(&tuple, 0).is_some());
    assert!(t.lookup(&udp_tuple(SERVER, 53, CLIENT, 40000), 0).is_some());
}

// Confirmation reads the note: a wrong hash there for the right entry
// and key is caught by the debug check.
#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "carried hash")]
fn a_carried_flow_hash_is_used() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 53, b"q");
    let Tracked::Attached(a) = t.track(&q, 0) else { panic!("not attached") };
    let note = match t.flow_note() {
        Some(FlowNote::Apart { entry, key, addrs6, hash }) => FlowNote::Apart { entry, key, addrs6, hash: hash ^ 1 },
        other => panic!("no note: {other:?}"),
    };
    t.set_flow_note(Some(note));
    t.confirm(a, 0);
}

#[test]
fn stale_flow_note_is_ignored() {
    let mut t = tracker(64, 100);
    let first = udp_tuple(CLIENT, 40000, SERVER, 53);
    let second = udp_tuple(CLIENT, 40001, SERVER, 53);
    // In other buckets: a note used for the wrong flow would misplace it.
    let pos = |tu: &Tuple| t.layout().locate(tu.flow_hash(&KEY));
    assert_ne!(pos(&first), pos(&second));
    let Tracked::Attached(a) = t.track(&udp(CLIENT, 40000, SERVER, 53, b"q"), 0) else { panic!() };
    let stale = t.flow_note();
    assert!(matches!(stale, Some(FlowNote::Apart { key, .. }) if key == first.key()));
    t.discard(a);
    // Another entry at the same address, with the first one's note.
    let Tracked::Attached(b) = t.track(&udp(CLIENT, 40001, SERVER, 53, b"q"), 1) else { panic!() };
    assert_eq!(b.entry, a.entry);
    t.set_flow_note(stale);
    assert!(matches!(t.confirm(b, 1), Verdict::Accept { .. }));
    assert!(t.lookup(&second, 1).is_some());
    assert!(t.lookup(&udp_tuple(SERVER, 53, CLIENT, 40001), 1).is_some());
    assert!(t.lookup(&first, 1).is_none());
    // No note at all: hashed again.
    let Tracked::Attached(c) = t.track(&udp(CLIENT, 40002, SERVER, 53, b"q"), 2) else { panic!() };
    t.set_flow_note(None);
    assert!(matches!(t.confirm(c, 2), Verdict::Accept { .. }));
    assert!(t.lookup(&udp_tuple(CLIENT, 40002, SERVER, 53), 2).is_some());
}

#[test]
fn dropped_packet_of_existing_flow_keeps_entry() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 53, b"q");
    t.packet(&q, 0);
    let Tracked::Attached(a) = t.track(&q, 1) else {
        panic!()
    };
    assert!(!a.unconfirmed);
    t.discard(a);
    assert_eq!(t.count(), 1);
    assert!(t.lookup(&udp_tuple(CLIENT, 40000, SERVER, 53), 1).is_some());
}

#[test]
fn udp_clash_attaches_to_first_entry() {
    let mut t = tracker(64, 100);
    let q1 = udp(CLIENT, 40000, SERVER, 53, b"A?");
    let q2 = udp(CLIENT, 40000, SERVER, 53, b"AAAA?");
    // Two CPUs track the same new flow before either confirms.
    let Tracked::Attached(a1) = t.track(&q1, 0) else {
        panic!()
    };
    let Tracked::Attached(a2) = t.track(&q2, 0) else {
        panic!()
    };
    assert!(a1.unconfirmed && a2.unconfirmed);
    assert_ne!(a1.entry, a2.entry);
    assert_eq!(t.count(), 2);
    assert_eq!(
        t.confirm(a1, 1),
        Verdict::Accept {
            entry: a1.entry,
            ctinfo: CtInfo::New
        }
    );
    assert_eq!(
        t.confirm(a2, 1),
        Verdict::Accept {
            entry: a1.entry,
            ctinfo: CtInfo::New
        }
    );
    assert_eq!(t.count(), 1);
    assert_eq!(t.stats().insert_failed, 0);
    assert_eq!(t.stats().clash_resolve, 1);
    assert_eq!(t.stats().insert, 1);
    assert_eq!(t.dump(1).len(), 1);
}

#[test]
fn udp_clash_in_reverse_direction_merges() {
    let mut t = tracker(64, 100);
    let Tracked::Attached(a1) = t.track(&udp(CLIENT, 500, SERVER, 500, b"a"), 0) else {
        panic!()
    };
    let Tracked::Attached(a2) = t.track(&udp(SERVER, 500, CLIENT, 500, b"b"), 0) else {
        panic!()
    };
    t.confirm(a1, 0);
    assert_eq!(
        t.confirm(a2, 0),
        Verdict::Accept {
            entry: a1.entry,
            ctinfo: CtInfo::New
        }
    );
    assert_eq!(t.count(), 1);
}

#[test]
fn clash_leaves_one_entry_that_the_flow_keeps_using() {
    // The DNS A/AAAA pattern: both queries tracked before either is
    // confirmed; the second is resolved onto the first and both pass.
    let mut t = tracker(64, 100);
    let Tracked::Attached(a) = t.track(&udp(CLIENT, 40001, SERVER, 53, b"A?"), 0) else {
        panic!()
    };
    let Tracked::Attached(aaaa) = t.track(&udp(CLIENT, 40001, SERVER, 53, b"AAAA?"), 0) else {
        panic!()
    };
    assert_eq!(t.stats().new, 2);
    assert!(matches!(t.confirm(a, 0), Verdict::Accept { .. }));
    assert_eq!(
        t.confirm(aaaa, 0),
        Verdict::Accept {
            entry: a.entry,
            ctinfo: CtInfo::New
        }
    );
    let st = t.stats();
    assert_eq!(
        (st.insert, st.clash_resolve, st.insert_failed, st.drop),
        (1, 1, 0, 0)
    );
    // The loser is gone; the flow has one entry, listed once.
    assert_eq!((t.count(), t.linked()), (1, 1));
    assert_eq!(t.dump(0).len(), 1);
    // Both answers come back on the winner, which then sees two-way traffic.
    for _ in 0..2 {
        assert_eq!(
            t.packet(&udp(SERVER, 53, CLIENT, 40001, b"ans"), 1),
            Verdict::Accept {
                entry: a.entry,
                ctinfo: CtInfo::EstablishedReply
            }
        );
    }
    let (e, dir) = t.lookup(&udp_tuple(CLIENT, 40001, SERVER, 53), 1).unwrap();
    assert_eq!(dir, Dir::Original);
    assert!(e.status.has(Status::SEEN_REPLY));
    assert_eq!(
        ct(t.packet(&udp(CLIENT, 40001, SERVER, 53, b"again"), 2)),
        CtInfo::Established
    );
    assert_eq!(t.stats().clash_resolve, 1);
}

#[test]
fn clash_resolution_counts_in_either_direction_and_for_generic_protocols() {
    let mut t = tracker(64, 100);
    let pairs = [
        (udp(CLIENT, 500, SERVER, 500, b"a"), udp(SERVER, 500, CLIENT, 500, b"b")),
        (other(CLIENT, SERVER, 47), other(CLIENT, SERVER, 47)),
        (other(CLIENT, SERVER, 50), other(SERVER, CLIENT, 50)),
    ];
    for (i, (p1, p2)) in pairs.iter().enumerate() {
        let Tracked::Attached(a1) = t.track(p1, 0) else {
            panic!()
        };
        let Tracked::Attached(a2) = t.track(p2, 0) else {
            panic!()
        };
        assert!(a1.unconfirmed && a2.unconfirmed);
        assert!(matches!(t.confirm(a1, 0), Verdict::Accept { .. }));
        assert!(
            matches!(t.confirm(a2, 0), Verdict::Accept { entry, .. } if entry == a1.entry),
            "pair {i}"
        );
        assert_eq!(t.stats().clash_resolve as usize, i + 1);
    }
    assert_eq!((t.stats().insert_failed, t.stats().drop), (0, 0));
    assert_eq!(t.count(), 3);
}

#[test]
fn tcp_clash_fails_insert() {
    let mut t = tracker(64, 100);
    let mut c = Conn::new(41000, 80);
    let syn = c.c(SYN, 0);
    let Tracked::Attached(a1) = t.track(&syn, 0) else {
        panic!()
    };
    let Tracked::Attached(a2) = t.track(&syn, 0) else {
        panic!()
    };
    assert!(matches!(t.confirm(a1, 0), Verdict::Accept { .. }));
    assert_eq!(t.confirm(a2, 0), Verdict::Drop(DropReason::InsertFailed));
    assert_eq!(t.stats().insert_failed, 1);
    assert_eq!(t.stats().drop, 1);
    assert_eq!(t.count(), 1);
}

#[test]
fn icmp_clash_fails_insert() {
    let mut t = tracker(64, 100);
    let req = icmp_query(CLIENT, SERVER, 8, 1, 1);
    let Tracked::Attached(a1) = t.track(&req, 0) else {
        panic!()
    };
    let Tracked::Attached(a2) = t.track(&req, 0) else {
        panic!()
    };
    t.confirm(a1, 0);
    assert_eq!(t.confirm(a2, 0), Verdict::Drop(DropReason::InsertFailed));
    assert_eq!(t.count(), 1);
}

#[test]
fn clash_with_expired_entry_inserts() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 53, b"q");
    let Tracked::Attached(a1) = t.track(&q, 0) else {
        panic!()
    };
    let Tracked::Attached(a2) = t.track(&q, 0) else {
        panic!()
    };
    t.confirm(a1, 0);
    // a1's entry has expired by the time a2 is confirmed; a2's timeout
    // runs from its confirmation.
    assert_eq!(
        t.confirm(a2, s(31)),
        Verdict::Accept {
            entry: a2.entry,
            ctinfo: CtInfo::New
        }
    );
    assert_eq!(
        t.lookup(&udp_tuple(CLIENT, 40000, SERVER, 53), s(31))
            .map(|x| x.0.deadline),
        Some(s(61))
    );
    assert_eq!(t.linked(), 2);
    assert_eq!(t.sweep(s(31), usize::MAX).removed, 1);
}

#[test]
fn overlong_chain_refuses_insert() {
    // One bucket, no limit: the chain grows until the cap.
    let mut t = tracker(1, 0);
    let cap = ip_conntrack::track::MAX_CHAIN_LEN;
    for port in 0..cap as u16 {
        assert!(matches!(
            t.packet(&udp(CLIENT, port, SERVER, 53, b"q"), 0),
            Verdict::Accept { .. }
        ));
    }
    let v = t.packet(&udp(CLIENT, 9999, SERVER, 53, b"q"), 0);
    assert_eq!(v, Verdict::Drop(DropReason::InsertFailed));
    assert_eq!(t.stats().chaintoolong, 1);
    assert_eq!(t.stats().insert_failed, 1);
    assert_eq!(t.count(), cap);
    assert_eq!(t.longest_chain(), (0, cap));
    // Existing flows still pass.
    assert_eq!(
        ct(t.packet(&udp(SERVER, 53, CLIENT, 0, b"a"), 0)),
        CtInfo::EstablishedReply
    );
}

// ---------------------------------------------------------------- early drop

/// A UDP flow from CLIENT:port that has become an assured stream.
fn assured_udp(t: &mut ip_conntrack::host::Tracker, port: u16, now: u64) {
    t.packet(&udp(CLIENT, port, SERVER, 9, b"a"), now);
    t.packet(&udp(SERVER, 9, CLIENT, port, b"b"), now);
    t.packet(&udp(CLIENT, port, SERVER, 9, b"c"), now + s(3));
    let (e, _) = t
        .lookup(&udp_tuple(CLIENT, port, SERVER, 9), now + s(3))
        .unwrap();
    assert!(e.status.has(Status::ASSURED));
}

#[test]
fn early_drop_evicts_every_unassured_entry_of_the_bucket() {
    // One bucket: every entry is within the eviction range.
    let mut t = tracker(1, 4);
    let ports = [1000u16, 1001, 1002, 1003];
    for (i, port) in ports.into_iter().enumerate() {
        t.packet(&udp(CLIENT, port, SERVER, 53, b"q"), s(i as u64));
    }
    assert_eq!(t.count(), 4);
    // Full: every unreplied flow of the bucket goes, as 6.12's
    // `early_drop_list` does, each counted.
    assert_eq!(
        ct(t.packet(&udp(CLIENT, 2000, SERVER, 53, b"q"), s(10))),
        CtInfo::New
    );
    assert_eq!(t.count(), 1);
    assert_eq!(t.stats().early_drop, 4);
    for port in ports {
        assert!(t
            .lookup(&udp_tuple(CLIENT, port, SERVER, 53), s(10))
            .is_none());
    }
    assert!(t
        .lookup(&udp_tuple(CLIENT, 2000, SERVER, 53), s(10))
        .is_some());
    // The room made serves the next new flows without another eviction.
    for port in 2001..2004 {
        assert_eq!(
            ct(t.packet(&udp(CLIENT, port, SERVER, 53, b"q"), s(10))),
            CtInfo::New
        );
    }
    assert_eq!(t.stats().early_drop, 4);
    assert_eq!(t.count(), 4);
}

#[test]
fn early_drop_keeps_assured_entries() {
    let mut t = tracker(1, 3);
    assured_udp(&mut t, 1000, 0);
    assured_udp(&mut t, 1001, 0);
    t.packet(&udp(CLIENT, 1002, SERVER, 9, b"q"), s(4));
    assert_eq!(t.count(), 3);
    assert_eq!(
        ct(t.packet(&udp(CLIENT, 3000, SERVER, 9, b"q"), s(5))),
        CtInfo::New
    );
    assert!(t
        .lookup(&udp_tuple(CLIENT, 1000, SERVER, 9), s(5))
        .is_some());
    assert!(t
        .lookup(&udp_tuple(CLIENT, 1001, SERVER, 9), s(5))
        .is_some());
    assert!(t
        .lookup(&udp_tuple(CLIENT, 1002, SERVER, 9), s(5))
        .is_none());
    assert_eq!(t.stats().early_drop, 1);
}

#[test]
fn table_full_of_assured_entries_drops() {
    let mut t = tracker(1, 2);
    assured_udp(&mut t, 1000, 0);
    assured_udp(&mut t, 1001, 0);
    assert_eq!(
        t.packet(&udp(CLIENT, 3000, SERVER, 9, b"q"), s(5)),
        Verdict::Drop(DropReason::TableFull)
    );
    assert_eq!(t.count(), 2);
    assert_eq!(t.stats().drop, 1);
    assert_eq!(t.stats().early_drop, 0);
    // Packets of existing flows still pass.
    assert_eq!(
        ct(t.packet(&udp(CLIENT, 1000, SERVER, 9, b"q"), s(5))),
        CtInfo::Established
    );
    assert_eq!(
        ip_conntrack::track::TABLE_FULL_MSG,
        "ip_conntrack: table full, dropping packet."
    );
}

#[test]
fn expired_entries_go_with_the_bucket_but_are_not_early_drops() {
    let mut t = tracker(1, 2);
    assured_udp(&mut t, 1000, 0);
    t.packet(&udp(CLIENT, 1001, SERVER, 9, b"q"), s(190));
    // At 200 s the assured one has expired (not yet swept): it goes
    // uncounted, as 6.12's `early_drop_list` collects it; the unreplied
    // one goes as an early drop.
    assert_eq!(
        ct(t.packet(&udp(CLIENT, 1002, SERVER, 9, b"q"), s(200))),
        CtInfo::New
    );
    assert_eq!(t.stats().early_drop, 1);
    assert!(t
        .lookup(&udp_tuple(CLIENT, 1001, SERVER, 9), s(200))
        .is_none());
    assert_eq!(t.count(), 1);
}

#[test]
fn an_expired_entry_alone_makes_room_uncounted() {
    let mut t = tracker(1, 2);
    assured_udp(&mut t, 1000, 0);
    assured_udp(&mut t, 1001, s(100));
    // At 190 s the first has expired (not yet swept), the second is
    // assured and live: only the first goes, not counted.
    assert_eq!(
        ct(t.packet(&udp(CLIENT, 1002, SERVER, 9, b"q"), s(190))),
        CtInfo::New
    );
    assert_eq!(t.stats().early_drop, 0);
    assert!(t
        .lookup(&udp_tuple(CLIENT, 1001, SERVER, 9), s(190))
        .is_some());
    assert_eq!(t.count(), 2);
}

#[test]
fn unconfirmed_entries_count_towards_the_limit() {
    let mut t = tracker(1, 1);
    assured_udp(&mut t, 1000, 0);
    assert!(matches!(
        t.track(&udp(CLIENT, 2000, SERVER, 9, b"q"), s(4)),
        Tracked::Drop(DropReason::TableFull)
    ));
    t.set_max(2);
    let Tracked::Attached(a) = t.track(&udp(CLIENT, 2000, SERVER, 9, b"q"), s(4)) else {
        panic!()
    };
    assert_eq!(t.count(), 2);
    assert!(matches!(
        t.track(&udp(CLIENT, 2001, SERVER, 9, b"q"), s(4)),
        Tracked::Drop(_)
    ));
    t.discard(a);
    assert_eq!(t.count(), 1);
}

// ---------------------------------------------------------------- expiry

#[test]
fn expired_entries_vanish_and_sweep_removes_them() {
    let mut t = tracker(16, 1000);
    for port in 0..50u16 {
        t.packet(&udp(CLIENT, 10_000 + port, SERVER, 53, b"q"), 0);
    }
    for port in 0..50u16 {
        t.packet(&icmp_query(CLIENT, SERVER, 8, port, 1), s(20));
    }
    assert_eq!(t.count(), 100);
    // At 30 s the UDP entries have expired: never returned, still linked.
    for port in 0..50u16 {
        assert!(t
            .lookup(&udp_tuple(CLIENT, 10_000 + port, SERVER, 53), s(30))
            .is_none());
        assert!(t
            .lookup(&udp_tuple(CLIENT, 10_000 + port, SERVER, 53), s(30) - 1)
            .is_some());
    }
    assert_eq!(t.dump(s(30)).len(), 50);
    assert_eq!(t.linked(), 100);
    // A new packet on an expired flow creates a fresh entry.
    assert_eq!(
        ct(t.packet(&udp(CLIENT, 10_000, SERVER, 53, b"q"), s(30))),
        CtInfo::New
    );
    let p = t.sweep(s(30), usize::MAX);
    assert!(p.pass_done);
    assert_eq!(p.removed, 50);
    assert_eq!(t.count(), 51);
    assert_eq!(t.linked(), 51);
    assert_eq!(t.stats().delete, 50);
}

#[test]
fn sweep_respects_budget_and_covers_the_table() {
    let mut t = tracker(256, 10_000);
    for port in 0..2000u16 {
        t.packet(&udp(CLIENT, port, SERVER, 53, b"q"), 0);
    }
    let buckets = t.layout().buckets() as usize;
    assert!(t.layout().stripes() > 1);
    let mut calls = 0;
    let mut removed = 0;
    loop {
        let p = t.sweep(s(31), 50);
        assert!(p.visited <= 50, "visited {}", p.visited);
        removed += p.removed;
        calls += 1;
        if p.pass_done {
            break;
        }
        assert!(calls < 10_000);
    }
    assert_eq!(removed, 2000);
    assert_eq!(t.count(), 0);
    // At least one unit per bucket and per entry.
    assert!(calls * 50 >= buckets + 2000);
    // Nothing expired: a pass removes nothing and still ends.
    for port in 0..100u16 {
        t.packet(&udp(CLIENT, port, SERVER, 53, b"q"), s(40));
    }
    let mut passes = 0;
    while passes < 2 {
        let p = t.sweep(s(41), 7);
        assert!(p.visited <= 7);
        assert_eq!(p.removed, 0);
        passes += usize::from(p.pass_done);
    }
    assert_eq!(t.count(), 100);
}

#[test]
fn sweep_budget_stops_inside_a_long_chain() {
    // One bucket holding every entry.
    let mut t = tracker(1, 0);
    for port in 0..60u16 {
        t.packet(&udp(CLIENT, port, SERVER, 53, b"q"), u64::from(port) * 1000);
    }
    // At 61 s the first 32 (created at 0..=31 s) have expired.
    let mut removed = 0;
    let mut calls = 0;
    loop {
        let p = t.sweep(s(61), 10);
        assert!(p.visited <= 10);
        removed += p.removed;
        calls += 1;
        if p.pass_done {
            break;
        }
    }
    assert_eq!(removed, 32);
    // 61 units (a bucket and 60 entries) at 10 per call.
    assert!(calls >= 7);
    assert_eq!(t.count(), 28);
}

#[test]
fn sweep_with_budget_one_always_advances() {
    let mut t = tracker(4, 0);
    for port in 0..40u16 {
        t.packet(&udp(CLIENT, port, SERVER, 53, b"q"), 0);
    }
    let before = t.linked();
    assert_eq!(before, 40);
    // Nothing expired: a pass costs one unit per bucket and per entry.
    let mut calls = 0;
    while !t.sweep(s(1), 1).pass_done {
        calls += 1;
        assert!(calls < 1000, "the sweep does not advance");
    }
    assert_eq!(calls + 1, 4 + 40);
    // All expired: removed one per call.
    let mut removed = 0;
    for _ in 0..44 {
        let p = t.sweep(s(100), 1);
        assert!(p.visited <= 1 && p.removed <= 1);
        removed += p.removed;
    }
    assert_eq!(removed, 40);
    assert_eq!(t.count(), 0);
}

#[test]
fn timeout_refresh_keeps_flow_alive() {
    let mut t = tracker(16, 100);
    let q = udp(CLIENT, 1, SERVER, 2, b"");
    for i in 0..10 {
        t.packet(&q, s(20 * i));
    }
    assert!(t.lookup(&udp_tuple(CLIENT, 1, SERVER, 2), s(200)).is_some());
    assert_eq!(t.sweep(s(200), usize::MAX).removed, 0);
}

// ---------------------------------------------------------------- TCP

#[test]
fn tcp_handshake_data_and_close() {
    let mut t = tracker(64, 100);
    let mut c = Conn::new(32775, 22);
    let tuple = c.tuple();
    assert_eq!(ct(t.packet(&c.c(SYN, 0), 0)), CtInfo::New);
    assert_eq!(tcp_state(&t, &tuple, 0), Some(TcpState::SynSent));
    let d = t.dump(0);
    let p = parse_line(&d[0]).unwrap();
    assert_eq!(
        (p.state, p.unreplied, p.seconds),
        (Some("SYN_SENT"), true, 120)
    );
    assert_eq!(
        ct(t.packet(&c.s(SYN | ACK, 0), 10)),
        CtInfo::EstablishedReply
    );
    assert_eq!(tcp_state(&t, &tuple, 10), Some(TcpState::SynRecv));
    assert_eq!(ct(t.packet(&c.c(ACK, 0), 20)), CtInfo::Established);
    assert_eq!(tcp_state(&t, &tuple, 20), Some(TcpState::Established));
    let (e, _) = t.lookup(&tuple, 20).unwrap();
    assert!(e.status.has(Status::ASSURED));
    assert_eq!(e.deadline, 20 + s(432_000));
    // Data both ways.
    for i in 0..10u64 {
        assert_eq!(
            ct(t.packet(&c.c(ACK | PSH, 100), 30 + i)),
            CtInfo::Established
        );
        assert_eq!(
            ct(t.packet(&c.s(ACK | PSH, 1000), 30 + i)),
            CtInfo::EstablishedReply
        );
    }
    let d = t.dump(40);
    let p = parse_line(&d[0]).unwrap();
    assert_eq!(p.state, Some("ESTABLISHED"));
    assert!(p.assured && !p.unreplied);
    // Orderly close.
    t.packet(&c.c(FIN | ACK, 0), 100);
    assert_eq!(tcp_state(&t, &tuple, 100), Some(TcpState::FinWait));
    t.packet(&c.s(ACK, 0), 110);
    assert_eq!(tcp_state(&t, &tuple, 110), Some(TcpState::CloseWait));
    t.packet(&c.s(FIN | ACK, 0), 120);
    assert_eq!(tcp_state(&t, &tuple, 120), Some(TcpState::LastAck));
    t.packet(&c.c(ACK, 0), 130);
    assert_eq!(tcp_state(&t, &tuple, 130), Some(TcpState::TimeWait));
    let (e, _) = t.lookup(&tuple, 130).unwrap();
    assert!(e.status.has(Status::ASSURED));
    assert_eq!(e.deadline, 130 + s(120));
    assert!(t.lookup(&tuple, 130 + s(120)).is_none());
    assert_eq!(t.sweep(130 + s(120), usize::MAX).removed, 1);
    assert_eq!(t.count(), 0);
}

#[test]
fn tcp_rst_answering_syn_kills_entry() {
    let mut t = tracker(64, 100);
    let mut c = Conn::new(40001, 23);
    let syn = c.c(SYN, 0);
    t.packet(&syn, 0);
    let mut rst = Seg::new(RST | ACK, 0, c.cseq);
    rst.window = 0;
    let v = t.packet(&tcp(SERVER, 23, CLIENT, 40001, rst), 5);
    assert_eq!(ct(v), CtInfo::EstablishedReply);
    assert_eq!(t.count(), 0);
    assert!(t.lookup(&c.tuple(), 5).is_none());
    assert!(t.dump(5).is_empty());
    // Retrying opens a new entry.
    assert_eq!(ct(t.packet(&syn, 10)), CtInfo::New);
}

#[test]
fn tcp_rst_on_established_moves_to_close() {
    let mut t = tracker(64, 100);
    let mut c = Conn::new(40002, 80);
    t.packet(&c.c(SYN, 0), 0);
    t.packet(&c.s(SYN | ACK, 0), 1);
    t.packet(&c.c(ACK, 0), 2);
    t.packet(&c.c(RST | ACK, 0), 3);
    assert_eq!(tcp_state(&t, &c.tuple(), 3), Some(TcpState::Close));
    assert_eq!(t.lookup(&c.tuple(), 3).unwrap().0.deadline, 3 + s(10));
}

#[test]
fn tcp_syn_on_time_wait_reopens() {
    let mut t = tracker(64, 100);
    let mut c = Conn::new(40003, 80);
    t.packet(&c.c(SYN, 0), 0);
    t.packet(&c.s(SYN | ACK, 0), 1);
    t.packet(&c.c(ACK, 0), 2);
    t.packet(&c.c(FIN | ACK, 0), 3);
    t.packet(&c.s(FIN | ACK, 0), 4);
    t.packet(&c.c(ACK, 0), 5);
    assert_eq!(tcp_state(&t, &c.tuple(), 5), Some(TcpState::TimeWait));
    // The client reuses the port: a new connection.
    c.cseq = c.cseq.wrapping_add(100_000);
    assert_eq!(ct(t.packet(&c.c(SYN, 0), s(1))), CtInfo::New);
    let (e, _) = t.lookup(&c.tuple(), s(1)).unwrap();
    assert_eq!(tcp_state(&t, &c.tuple(), s(1)), Some(TcpState::SynSent));
    assert!(!e.status.has(Status::SEEN_REPLY) && !e.status.has(Status::ASSURED));
    assert_eq!(t.count(), 1);
    assert_eq!(t.dump(s(1)).len(), 1);
}

#[test]
fn tcp_bad_flags_are_invalid_before_lookup() {
    let mut t = tracker(64, 100);
    for flags in [SYN | FIN, SYN | RST, 0, FIN, SYN | FIN | ACK] {
        let p = tcp(CLIENT, 1234, SERVER, 80, Seg::new(flags, 1, 0));
        assert_eq!(
            invalid(t.packet(&p, 0)),
            Invalid::BadTcpFlags,
            "flags {flags:#x}"
        );
    }
    assert_eq!(t.count(), 0);
    assert_eq!(t.stats().invalid, 5);
}

#[test]
fn tcp_midstream_pickup_follows_tcp_loose() {
    let mut t = tracker(64, 100);
    let ack = tcp(CLIENT, 1234, SERVER, 80, Seg::new(ACK, 100, 200));
    assert_eq!(ct(t.packet(&ack, 0)), CtInfo::New);
    assert_eq!(
        tcp_state(&t, &tcp_tuple(CLIENT, 1234, SERVER, 80), 0),
        Some(TcpState::Established)
    );
    let mut strict = tracker(64, 100);
    strict.config_mut().tcp_loose = false;
    assert_eq!(invalid(strict.packet(&ack, 0)), Invalid::TcpNotNew);
    assert_eq!(strict.count(), 0);
}

#[test]
fn tcp_syn_ack_without_entry_is_invalid() {
    let mut t = tracker(64, 100);
    let p = tcp(SERVER, 80, CLIENT, 1234, Seg::new(SYN | ACK, 1, 2));
    assert!(matches!(t.packet(&p, 0), Verdict::Invalid(_)));
    assert_eq!(t.count(), 0);
}

#[test]
fn tcp_out_of_window_is_invalid_and_keeps_state() {
    let mut t = tracker(64, 100);
    let mut c = Conn::new(40004, 80);
    t.packet(&c.c(SYN, 0), 0);
    t.packet(&c.s(SYN | ACK, 0), 1);
    t.packet(&c.c(ACK, 0), 2);
    let mut far = Seg::new(ACK, c.cseq.wrapping_add(0x4000_0000), c.sseq);
    far.len = 10;
    let v = t.packet(&tcp(CLIENT, 40004, SERVER, 80, far), 3);
    assert_eq!(invalid(v), Invalid::TcpOutOfWindow);
    assert_eq!(tcp_state(&t, &c.tuple(), 3), Some(TcpState::Established));
    assert_eq!(t.stats().invalid, 1);
}

#[test]
fn tcp_invalid_first_reply_leaves_entry_unreplied() {
    let mut t = tracker(64, 100);
    let mut c = Conn::new(40005, 80);
    t.packet(&c.c(SYN, 0), 0);
    // A SYN/ACK acknowledging something never sent.
    let bad = tcp(
        SERVER,
        80,
        CLIENT,
        40005,
        Seg::new(SYN | ACK, 7, c.cseq.wrapping_add(5000)),
    );
    assert!(matches!(t.packet(&bad, 1), Verdict::Invalid(_)));
    let (e, _) = t.lookup(&c.tuple(), 1).unwrap();
    assert!(!e.status.has(Status::SEEN_REPLY));
    assert!(parse_line(&t.dump(1)[0]).unwrap().unreplied);
}

// ---------------------------------------------------------------- stats

#[test]
fn stats_count_the_life_of_entries() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 1, SERVER, 2, b"");
    t.packet(&q, 0);
    t.packet(&q, 1);
    let st = *t.stats();
    assert_eq!(st.new, 1);
    assert_eq!(st.insert, 1);
    // Lookups are not counted, as in 6.12.
    assert_eq!((st.searched, st.found), (0, 0));
    t.sweep(s(100), usize::MAX);
    assert_eq!(t.stats().delete, 1);
    assert_eq!(t.stats().delete_list, 1);
}

#[test]
fn a_pass_reports_the_earliest_deadline_it_kept() {
    let mut t = tracker(64, 100);
    t.packet(&udp(CLIENT, 1, SERVER, 2, b""), 0);
    t.packet(&udp(CLIENT, 3, SERVER, 4, b""), s(5));
    let pass = t.sweep(s(10), usize::MAX).pass.expect("a whole pass");
    assert_eq!(pass.start, s(10));
    assert_eq!(pass.earliest, s(30));
    // Due at the earliest deadline, or sooner when a new deadline could be.
    assert_eq!(pass.due(s(60)), s(30));
    assert_eq!(pass.due(s(10)), s(20));
    // Once the first has gone, the next pass reports the second.
    let p = t.sweep(s(31), usize::MAX);
    assert_eq!(p.removed, 1);
    assert_eq!(p.pass.map(|x| x.earliest), Some(s(35)));
    // An empty table: nothing is due before a new deadline could be.
    let p = t.sweep(s(40), usize::MAX);
    assert_eq!(p.pass.map(|x| x.due(s(10))), Some(s(50)));
}
