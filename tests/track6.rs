//! IPv6 tracking through the host tracker, with real packet bytes: TCP,
//! UDP, ICMPv6 queries and errors, neighbour discovery left untracked,
//! redirects, extension headers, fragments, and the two families side by
//! side in one table.

mod common;

use common::ipv6::*;
use common::*;
use ip_conntrack::ctinfo::CtInfo;
use ip_conntrack::flow_note::FlowNote;
use ip_conntrack::host::{Tracked, Verdict};
use ip_conntrack::invalid::Invalid;
use ip_conntrack::stats::Counter;
use ip_conntrack::tuple::{proto, Addr, Dir, Tuple, L4};

fn a6(a: &A6) -> Addr {
    Addr::v6_from_bytes(a)
}

fn udp6_tuple(src: &A6, sport: u16, dst: &A6, dport: u16) -> Tuple {
    Tuple { src: a6(src), dst: a6(dst), proto: proto::UDP, l4: L4::Ports { sport, dport } }
}

#[test]
fn new_ipv6_flow_hash_is_carried_with_its_addresses() {
    let key = ip_conntrack::hash::HashKey::new(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
    let mut t = tracker(64, 100);
    let tuple = udp6_tuple(&C6, 40000, &S6, 53);
    let Tracked::Attached(a) = t.track(&udp6(&C6, 40000, &S6, 53, b"q"), 0) else { panic!("not attached") };
    let hash = tuple.flow_hash(&key);
    let note = FlowNote::Apart { entry: a.entry, key: tuple.key(), addrs6: tuple.addrs6(), hash };
    assert_eq!(t.flow_note(), Some(note));
    // Other address words with the same key words: not this entry's.
    let other = tuple.addrs6().map(|[a, b, c, d]| [a, b, c, d ^ 1]);
    t.set_flow_note(Some(FlowNote::Apart { entry: a.entry, key: tuple.key(), addrs6: other, hash: hash ^ 1 }));
    assert!(matches!(t.confirm(a, 0), Verdict::Accept { .. }));
    assert!(t.lookup(&tuple, 0).is_some());
    assert!(t.lookup(&udp6_tuple(&S6, 53, &C6, 40000), 0).is_some());
}

#[test]
fn tcp_handshake_over_ipv6() {
    let mut t = tracker(64, 100);
    let syn = tcp6(&C6, 40000, &S6, 80, Seg::new(SYN, 100, 0));
    let synack = tcp6(&S6, 80, &C6, 40000, Seg::new(SYN | ACK, 500, 101));
    let ack = tcp6(&C6, 40000, &S6, 80, Seg::new(ACK, 101, 501));
    assert_eq!(ct(t.packet(&syn, 0)), CtInfo::New);
    assert_eq!(ct(t.packet(&synack, 1)), CtInfo::EstablishedReply);
    assert_eq!(ct(t.packet(&ack, 2)), CtInfo::Established);
    assert_eq!(t.count(), 1);
    // A segment that fits no window state: INVALID as over IPv4.
    let bad = tcp6(&C6, 40000, &S6, 80, Seg::new(SYN | FIN, 101, 501));
    assert_eq!(invalid(t.packet(&bad, 3)), Invalid::BadTcpFlags);
    // /proc/net/ip_conntrack stays IPv4 only.
    assert!(t.dump(3).is_empty());
}

#[test]
fn udp_and_its_icmpv6_errors_are_related() {
    let mut t = tracker(64, 100);
    let out = udp6(&C6, 5000, &S6, 53, b"query");
    assert_eq!(ct(t.packet(&out, 0)), CtInfo::New);
    let (e, d) = t.lookup(&udp6_tuple(&S6, 53, &C6, 5000), 1).expect("found by reply");
    assert_eq!(d, Dir::Reply);
    assert!(!e.status.has(ip_conntrack::entry::Status::SEEN_REPLY));
    // Port unreachable from the server, and time exceeded from a router
    // on the way: both RELATED in the reply direction.
    let unreach = error6(&S6, &C6, 1, 4, &out);
    assert_eq!(ct(t.packet(&unreach, 1)), CtInfo::RelatedReply);
    let exceeded = error6(&R6, &C6, 3, 0, &out);
    assert_eq!(ct(t.packet(&exceeded, 1)), CtInfo::RelatedReply);
    // Packet too big with a quote cut to the ports (8 bytes of UDP here).
    let cut = &out[..48];
    assert_eq!(ct(t.packet(&error6(&R6, &C6, 2, 0, cut), 1)), CtInfo::RelatedReply);
    // An error addressed to a third host about that flow: INVALID.
    let misdirected = error6(&S6, &R6, 1, 4, &out);
    assert_eq!(invalid(t.packet(&misdirected, 1)), Invalid::Icmpv6ErrorUnknown);
    // An error about an unknown flow.
    let other = udp6(&C6, 5001, &S6, 53, b"query");
    assert_eq!(invalid(t.packet(&error6(&S6, &C6, 1, 4, &other), 1)), Invalid::Icmpv6ErrorUnknown);
    // A quote too short for the ports.
    assert_eq!(invalid(t.packet(&error6(&S6, &C6, 1, 4, &out[..42]), 1)), Invalid::Icmpv6ErrorBadInner);
    // The reply.
    assert_eq!(ct(t.packet(&udp6(&S6, 53, &C6, 5000, b"answer"), 2)), CtInfo::EstablishedReply);
    assert_eq!(t.count(), 1);
}

#[test]
fn echo_and_node_information_open_entries() {
    let mut t = tracker(64, 100);
    assert_eq!(ct(t.packet(&echo6(&C6, &S6, 128, 7, 1), 0)), CtInfo::New);
    assert_eq!(ct(t.packet(&echo6(&S6, &C6, 129, 7, 1), 1)), CtInfo::EstablishedReply);
    assert_eq!(ct(t.packet(&echo6(&C6, &S6, 128, 7, 2), 2)), CtInfo::Established);
    // A reply nobody asked for, and informational types that open nothing.
    assert_eq!(invalid(t.packet(&echo6(&S6, &C6, 129, 8, 1), 3)), Invalid::IcmpNoQuery);
    assert_eq!(invalid(t.packet(&echo6(&S6, &C6, 200, 8, 1), 3)), Invalid::IcmpNotNew);
    // Node information query and reply.
    assert_eq!(ct(t.packet(&echo6(&C6, &S6, 139, 9, 0), 4)), CtInfo::New);
    assert_eq!(ct(t.packet(&echo6(&S6, &C6, 140, 9, 0), 5)), CtInfo::EstablishedReply);
    assert_eq!(t.count(), 2);
    // An echo request in an error's quote relates to its entry.
    let req = echo6(&C6, &S6, 128, 7, 3);
    assert_eq!(ct(t.packet(&error6(&R6, &C6, 3, 0, &req), 6)), CtInfo::RelatedReply);
    // An error quoting an error: INVALID.
    let err = error6(&S6, &C6, 1, 4, &udp6(&C6, 1, &S6, 2, b""));
    assert_eq!(invalid(t.packet(&error6(&R6, &C6, 1, 0, &err), 6)), Invalid::Icmpv6ErrorInError);
    // Shorter than the ICMPv6 header.
    let short = ip6(&C6, &S6, ICMPV6, &[128, 0, 0, 0]);
    assert_eq!(invalid(t.packet(&short, 7)), Invalid::Icmpv6Short);
    // 6.12's ICMPv6 error handler counts what it refuses as `error` only.
    let (inv0, err0) = (t.stats().get(Counter::Invalid), t.stats().get(Counter::IcmpError));
    assert_eq!(invalid(t.packet(&short, 7)), Invalid::Icmpv6Short);
    assert_eq!(invalid(t.packet(&error6(&R6, &C6, 1, 0, &err), 7)), Invalid::Icmpv6ErrorInError);
    assert_eq!((t.stats().get(Counter::Invalid), t.stats().get(Counter::IcmpError)), (inv0, err0 + 2));
    // The ICMPv6 timeout: 30 s.
    let (e, _) = t.lookup(&Tuple { src: a6(&C6), dst: a6(&S6), proto: 58, l4: L4::Icmp { ty: 128, code: 0, id: 7 } }, 2).unwrap();
    assert_eq!(e.seconds_left(2), 30);
}

#[test]
fn neighbour_discovery_and_mld_are_untracked() {
    let mut t = tracker(64, 100);
    for ty in [130u8, 131, 132, 133, 134, 135, 136, 143, 151, 152] {
        let p = icmp6_hl(&ll(1), &ll(2), 255, ty, 0, [0; 4], &[0; 16]);
        assert_eq!(t.packet(&p, 0), Verdict::Untracked, "type {ty}");
    }
    assert_eq!(t.count(), 0);
    assert_eq!(t.stats().get(Counter::Invalid), 0);
}

#[test]
fn redirects_as_6_12_checks_them() {
    let mut t = tracker(64, 100);
    let out = udp6(&C6, 5000, &S6, 53, b"q");
    assert_eq!(ct(t.packet(&out, 0)), CtInfo::New);
    let fixed = |opts: &[u8]| {
        let mut d = vec![0u8; 32]; // target, destination
        d[..16].copy_from_slice(&R6);
        d[16..].copy_from_slice(&S6);
        d.extend_from_slice(opts);
        d
    };
    // Too short.
    let p = icmp6_hl(&ll(1), &C6, 255, 137, 0, [0; 4], &[0; 8]);
    assert_eq!(invalid(t.packet(&p, 1)), Invalid::Icmpv6BadRedirect);
    // Not from a link-local router with hop limit 255.
    let p = icmp6_hl(&R6, &C6, 255, 137, 0, [0; 4], &fixed(&[1, 1, 0, 0, 0, 0, 0, 0]));
    assert_eq!(invalid(t.packet(&p, 1)), Invalid::Icmpv6BadRedirect);
    let p = icmp6_hl(&ll(1), &C6, 64, 137, 0, [0; 4], &fixed(&[1, 1, 0, 0, 0, 0, 0, 0]));
    assert_eq!(invalid(t.packet(&p, 1)), Invalid::Icmpv6BadRedirect);
    // No option, or one of length 0.
    let p = icmp6_hl(&ll(1), &C6, 255, 137, 0, [0; 4], &fixed(&[]));
    assert_eq!(invalid(t.packet(&p, 1)), Invalid::Icmpv6BadRedirect);
    // A redirected header quoting the flow's packet: RELATED.
    let mut opt = vec![4, 0, 0, 0, 0, 0, 0, 0];
    opt.extend_from_slice(&out);
    while opt.len() % 8 != 0 {
        opt.push(0);
    }
    opt[1] = (opt.len() / 8) as u8;
    let p = icmp6_hl(&ll(1), &C6, 255, 137, 0, [0; 4], &fixed(&opt));
    assert_eq!(ct(t.packet(&p, 1)), CtInfo::RelatedReply);
    // Another first option (target link-layer address): not an error,
    // and a redirect opens nothing.
    let p = icmp6_hl(&ll(1), &C6, 255, 137, 0, [0; 4], &fixed(&[2, 1, 0, 0, 0, 0, 0, 0]));
    assert_eq!(invalid(t.packet(&p, 1)), Invalid::IcmpNotNew);
}

#[test]
fn extension_headers_are_walked_to_the_transport_header() {
    let mut t = tracker(64, 100);
    let plain = udp6(&C6, 7000, &S6, 7, b"data");
    assert_eq!(ct(t.packet(&plain, 0)), CtInfo::New);
    // The same flow behind hop-by-hop, destination options and a routing
    // header, and an atomic fragment header (offset 0, no more).
    let exts = [opts_hdr(DEST), opts_hdr(ROUTING), vec![FRAGMENT, 0, 0, 0, 0, 0, 0, 0], frag_hdr(proto::UDP, 0, false)];
    let p = udp6_ext(&C6, 7000, &S6, 7, HOP, &exts);
    assert_eq!(ct(t.packet(&p, 1)), CtInfo::New);
    let back = udp6_ext(&S6, 7, &C6, 7000, DEST, &[opts_hdr(proto::UDP)]);
    assert_eq!(ct(t.packet(&back, 2)), CtInfo::EstablishedReply);
    assert_eq!(t.count(), 1);
    // A later fragment has no transport header: INVALID.
    let later = ip6(&C6, &S6, FRAGMENT, &[frag_hdr(proto::UDP, 1, false), vec![0; 8]].concat());
    assert_eq!(invalid(t.packet(&later, 3)), Invalid::Fragment);
    // A first fragment is tracked by its transport header (6.12).
    let first = udp6_ext(&C6, 7001, &S6, 7, FRAGMENT, &[frag_hdr(proto::UDP, 0, true)]);
    assert_eq!(ct(t.packet(&first, 3)), CtInfo::New);
    // A chain cut short, and no next header.
    let cut = ip6(&C6, &S6, HOP, &[proto::UDP]);
    assert_eq!(invalid(t.packet(&cut, 4)), Invalid::BadExtHeader);
    let none = ip6(&C6, &S6, 59, &[]);
    assert_eq!(invalid(t.packet(&none, 4)), Invalid::BadExtHeader);
    // A header running past the packet that names TCP: INVALID; one that
    // names a protocol without a header to read: tracked by addresses.
    let over = |next| ip6(&C6, &S6, DEST, &[next, 2, 1, 0, 0, 0, 0, 0]);
    assert_eq!(invalid(t.packet(&over(proto::TCP), 4)), Invalid::BadL4Header);
    assert_eq!(ct(t.packet(&over(48), 4)), CtInfo::New);
    // A version that is not 6 in an IPv6 parse, and a header cut short.
    assert!(matches!(t.packet(&plain[..39], 5), Verdict::Invalid(Invalid::BadIpHeader)));
}

/// A TCP segment behind the extension headers `exts` (the last names TCP).
fn tcp6_ext(src: &A6, sport: u16, dst: &A6, dport: u16, first: u8, exts: &[Vec<u8>], s: Seg) -> Vec<u8> {
    let plain = tcp6(src, sport, dst, dport, s);
    let mut rest = exts.concat();
    rest.extend_from_slice(&plain[40..]);
    ip6(src, dst, first, &rest)
}

/// The kernel reads an IPv6 packet through its skb: the linear part in
/// place, the rest copied on demand. Parsed so, with only 320 linear
/// bytes (or none), a packet must give what the whole slice gives.
fn parses_alike_when_split(p: &[u8]) -> Result<ip_conntrack::packet::Packet, Invalid> {
    use ip_conntrack::fuzzing::Split;
    let whole = ip_conntrack::packet::parse6(p, p.len());
    for linear in [0, 40, 320, p.len()] {
        let split = Split { bytes: p, linear };
        assert_eq!(ip_conntrack::packet::parse6_over(&split), whole, "{linear} linear bytes");
    }
    whole
}

#[test]
fn long_extension_header_chains_are_walked_to_the_end() {
    let mut t = tracker(64, 100);
    // 400 bytes of destination options before UDP, the reply behind 2 KB.
    let out = udp6_ext(&C6, 7000, &S6, 7, DEST, &[long_opts_hdr(proto::UDP, 400)]);
    let p = parses_alike_when_split(&out).expect("parsed");
    assert_eq!((p.l4_off, p.tuple.l4), (440, L4::Ports { sport: 7000, dport: 7 }));
    assert_eq!(ct(t.packet(&out, 0)), CtInfo::New);
    let back = udp6_ext(&S6, 7, &C6, 7000, DEST, &[long_opts_hdr(proto::UDP, 2048)]);
    assert_eq!(parses_alike_when_split(&back).map(|p| p.l4_off), Ok(2088));
    assert_eq!(ct(t.packet(&back, 1)), CtInfo::EstablishedReply);
    assert_eq!(t.count(), 1);
    // Every kind of header at its longest, repeated: hop-by-hop, routing
    // and destination options of 2 KB each, then TCP 6 KB in.
    let exts = [long_opts_hdr(DEST, 2048), long_opts_hdr(ROUTING, 2048), long_opts_hdr(proto::TCP, 2048)];
    let syn = tcp6_ext(&C6, 40000, &S6, 80, HOP, &exts, Seg::new(SYN, 100, 0));
    assert_eq!(parses_alike_when_split(&syn).map(|p| p.l4_off), Ok(40 + 3 * 2048));
    assert_eq!(ct(t.packet(&syn, 2)), CtInfo::New);
    // Many small headers: 100 destination options headers of 8 bytes.
    let mut many: Vec<Vec<u8>> = (0..99).map(|_| opts_hdr(DEST)).collect();
    many.push(opts_hdr(proto::TCP));
    let syn2 = tcp6_ext(&C6, 40001, &S6, 80, DEST, &many, Seg::new(SYN, 100, 0));
    assert_eq!(parses_alike_when_split(&syn2).map(|p| p.l4_off), Ok(840));
    assert_eq!(ct(t.packet(&syn2, 2)), CtInfo::New);
    assert_eq!(t.count(), 3);
}

#[test]
fn icmpv6_errors_with_long_chains_are_related() {
    let mut t = tracker(64, 100);
    let out = udp6(&C6, 5000, &S6, 53, b"query");
    assert_eq!(ct(t.packet(&out, 0)), CtInfo::New);
    // The error behind 1 KB of destination options: its quote starts past
    // 320 bytes.
    let quote = icmp6_msg(&R6, &C6, 1, 4, [0; 4], &out);
    let far = ip6(&R6, &C6, DEST, &[long_opts_hdr(ICMPV6, 1024), quote].concat());
    let p = parses_alike_when_split(&far).expect("parsed");
    assert!(p.quoted.is_some());
    assert_eq!(ct(t.packet(&far, 1)), CtInfo::RelatedReply);
    // The quoted packet's own chain is long: its UDP header 600 bytes in.
    let long_out = udp6_ext(&C6, 5000, &S6, 53, DEST, &[long_opts_hdr(proto::UDP, 560)]);
    let err = error6(&S6, &C6, 1, 4, &long_out);
    parses_alike_when_split(&err).expect("parsed");
    assert_eq!(ct(t.packet(&err, 1)), CtInfo::RelatedReply);
    // Both at once, the quote cut to the ports.
    let cut = &long_out[..40 + 560 + 4];
    let both = icmp6_ext(&R6, &C6, HOP, &[long_opts_hdr(ICMPV6, 800)], 3, 0, cut);
    parses_alike_when_split(&both).expect("parsed");
    assert_eq!(ct(t.packet(&both, 1)), CtInfo::RelatedReply);
    // A quote whose chain ends before the ports: INVALID.
    let short = icmp6_ext(&R6, &C6, HOP, &[long_opts_hdr(ICMPV6, 800)], 3, 0, &long_out[..40 + 560 + 3]);
    assert_eq!(parses_alike_when_split(&short), Err(Invalid::Icmpv6ErrorBadInner));
    assert_eq!(invalid(t.packet(&short, 1)), Invalid::Icmpv6ErrorBadInner);
    assert_eq!(t.count(), 1);
}

#[test]
fn long_chains_cut_short_stay_invalid() {
    let mut t = tracker(64, 100);
    let full = udp6_ext(&C6, 7000, &S6, 7, DEST, &[long_opts_hdr(DEST, 1024), long_opts_hdr(proto::UDP, 2048)]);
    // The packet ends inside the last header (naming UDP): no UDP to read.
    let mut cut = full[..1500].to_vec();
    cut[4..6].copy_from_slice(&(1460u16).to_be_bytes());
    assert_eq!(parses_alike_when_split(&cut), Err(Invalid::BadL4Header));
    assert_eq!(invalid(t.packet(&cut, 0)), Invalid::BadL4Header);
    // ... inside a header naming another header, or before one's first bytes.
    for n in [1000, 40 + 1024, 40 + 1024 + 1] {
        let cut = &full[..n];
        assert_eq!(parses_alike_when_split(cut), Err(Invalid::BadExtHeader), "{n} bytes");
        assert_eq!(invalid(t.packet(cut, 0)), Invalid::BadExtHeader);
    }
    // 200 small headers and no transport header at the end.
    let chain: Vec<Vec<u8>> = (0..200).map(|_| opts_hdr(DEST)).collect();
    let p = ip6(&C6, &S6, DEST, &chain.concat());
    assert_eq!(parses_alike_when_split(&p), Err(Invalid::BadExtHeader));
    assert_eq!(t.count(), 0);
}

#[test]
fn both_families_share_one_table_without_meeting() {
    let mut t = tracker(32, 1000);
    // IPv4 0.0.0.1 -> 0.0.0.2 and IPv6 ::1 -> ::2: same low address words.
    let v6 = |n| {
        let mut a = [0u8; 16];
        a[15] = n;
        a
    };
    let u4 = udp(1, 1000, 2, 2000, b"x");
    let u6 = udp6(&v6(1), 1000, &v6(2), 2000, b"x");
    assert_eq!(ct(t.packet(&u4, 0)), CtInfo::New);
    assert_eq!(ct(t.packet(&u6, 0)), CtInfo::New);
    assert_eq!(t.count(), 2);
    // Many flows of both families, a resize, and every one still found.
    for i in 0..200u16 {
        let p = udp6(&db8((i % 250) as u8), 10000 + i, &S6, 53, b"q");
        assert_eq!(ct(t.packet(&p, 1)), CtInfo::New);
        let p = udp(CLIENT, 10000 + i, SERVER, 53, b"q");
        assert_eq!(ct(t.packet(&p, 1)), CtInfo::New);
    }
    t.resize(256);
    for i in 0..200u16 {
        let p = udp6(&S6, 53, &db8((i % 250) as u8), 10000 + i, b"a");
        assert_eq!(ct(t.packet(&p, 2)), CtInfo::EstablishedReply, "v6 {i}");
        let p = udp(SERVER, 53, CLIENT, 10000 + i, b"a");
        assert_eq!(ct(t.packet(&p, 2)), CtInfo::EstablishedReply, "v4 {i}");
    }
    assert_eq!(t.count(), 402);
    assert_eq!(t.dump(2).len(), 201, "/proc/net/ip_conntrack lists the IPv4 entries");
    // Expiry removes both families.
    while !t.sweep(s(1000), 1 << 20).pass_done {}
    assert_eq!(t.count(), 0);
}
