//! ctnetlink: entries and statistics encoded byte for byte as Linux
//! 6.12's `ctnetlink_fill_info` lays them out, requests parsed with its
//! policies and errnos, and every entry's tuples surviving encode → parse.

mod common;

use common::ctnl::{parse, request};
use common::*;
use ip_conntrack::entry::{Counters, Entry};
use ip_conntrack::netlink::attr::{Attrs, Writer};
use ip_conntrack::netlink::ctnetlink::{self, cta, msg, Meta};
use ip_conntrack::netlink::message::Message;
use ip_conntrack::netlink::request::{Delete, Filter};
use ip_conntrack::netlink::Error;
use ip_conntrack::proto::ProtoState;
use ip_conntrack::stats::Stats;
use ip_conntrack::tuple::{proto, Dir, Tuple, L4};

const META: Meta = Meta { id: 0x1122_3344, uses: 1, timeout: 431_999, counters: None, portid: 0, nat_reply: None, addrs6: None };

fn encode(e: &Entry) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let mut w = Writer::new(&mut buf);
    ctnetlink::put_entry(&mut w, 4242, 7, 0, e, &META).unwrap();
    w.bytes().to_vec()
}

/// The two headers of an entry message of `len` bytes to port 4242,
/// sequence 7: type CT_NEW of subsystem 1, NLM_F_MULTI, AF_INET.
fn headers(len: u32) -> Vec<u8> {
    let mut v = len.to_ne_bytes().to_vec();
    v.extend([0x00, 0x01, 0x02, 0x00]);
    v.extend(7u32.to_ne_bytes());
    v.extend(4242u32.to_ne_bytes());
    v.extend([2, 0, 0, 0]);
    v
}

fn ip(a: u32) -> [u8; 4] {
    a.to_be_bytes()
}

/// A tuple nest `ty` of an IPv4 tuple, `l4` being the protocol nest's
/// attributes after CTA_PROTO_NUM.
fn tuple_nest(ty: u8, src: u32, dst: u32, p: u8, l4: &[u8]) -> Vec<u8> {
    let proto_len = 4 + 8 + l4.len();
    let len = 4 + 20 + proto_len;
    let mut v = vec![len as u8, 0, ty, 0x80];
    v.extend([20, 0, 1, 0x80, 8, 0, 1, 0]);
    v.extend(ip(src));
    v.extend([8, 0, 2, 0]);
    v.extend(ip(dst));
    v.extend([proto_len as u8, 0, 2, 0x80, 5, 0, 1, 0, p, 0, 0, 0]);
    v.extend(l4);
    v
}

fn ports(s: u16, d: u16) -> Vec<u8> {
    let (s, d) = (s.to_be_bytes(), d.to_be_bytes());
    vec![6, 0, 2, 0, s[0], s[1], 0, 0, 6, 0, 3, 0, d[0], d[1], 0, 0]
}

/// STATUS, MARK, ID, USE, TIMEOUT of [`META`].
fn info(status: u32) -> Vec<u8> {
    let mut v = vec![8, 0, 3, 0];
    v.extend(status.to_be_bytes());
    v.extend([8, 0, 8, 0, 0, 0, 0, 0]);
    v.extend([8, 0, 12, 0, 0x11, 0x22, 0x33, 0x44]);
    v.extend([8, 0, 11, 0, 0, 0, 0, 1]);
    v.extend([8, 0, 7, 0]);
    v.extend(431_999u32.to_be_bytes());
    v
}

fn entry_of(t: &ip_conntrack::host::Tracker, tuple: &Tuple, now: u64) -> Entry {
    t.lookup(tuple, now).unwrap().0
}

#[test]
fn tcp_entry_has_protoinfo_in_6_12_layout() {
    let mut t = tracker(64, 100);
    let mut c = Conn::new(41000, 80);
    t.packet(&c.c(SYN, 0), 0);
    t.packet(&c.s(SYN | ACK, 0), 1);
    t.packet(&c.c(ACK, 0), 2);
    let e = entry_of(&t, &c.tuple(), 3);
    let ProtoState::Tcp(tcp) = e.proto else { panic!() };
    let fo = tcp.peer(Dir::Original).flags().0;
    let fr = tcp.peer(Dir::Reply).flags().0;
    // Both SYNs carried window scale 7.
    assert_eq!(fo & 1, 1);
    assert_eq!(fr & 1, 1);
    let mut want = headers(212);
    want.extend(tuple_nest(1, CLIENT, SERVER, 6, &ports(41000, 80)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 6, &ports(80, 41000)));
    // SEEN_REPLY | ASSURED | CONFIRMED.
    want.extend(info(0x0e));
    want.extend([48, 0, 4, 0x80, 44, 0, 1, 0x80]);
    want.extend([5, 0, 1, 0, 3, 0, 0, 0]); // ESTABLISHED
    want.extend([5, 0, 2, 0, 7, 0, 0, 0, 5, 0, 3, 0, 7, 0, 0, 0]);
    want.extend([6, 0, 4, 0, fo, 0, 0, 0, 6, 0, 5, 0, fr, 0, 0, 0]);
    assert_eq!(encode(&e), want);
}

#[test]
fn sctp_and_dccp_entries_have_protoinfo_in_6_12_layout() {
    let mut t = tracker(64, 100);
    t.packet(&sctp(CLIENT, 5000, SERVER, 36412, 0, &[(1, 0, &init_body(0xc1c1_c1c1))]), 0);
    t.packet(&sctp(SERVER, 36412, CLIENT, 5000, 0xc1c1_c1c1, &[(2, 0, &init_body(0x5e5e_5e5e))]), 1);
    let tup = Tuple { src: ip_conntrack::tuple::Addr::V4(CLIENT), dst: ip_conntrack::tuple::Addr::V4(SERVER), proto: proto::SCTP, l4: L4::Ports { sport: 5000, dport: 36412 } };
    let e = entry_of(&t, &tup, 2);
    let mut want = headers(196);
    want.extend(tuple_nest(1, CLIENT, SERVER, 132, &ports(5000, 36412)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 132, &ports(36412, 5000)));
    want.extend(info(0x0a)); // SEEN_REPLY | CONFIRMED
    // CTA_PROTOINFO { CTA_PROTOINFO_SCTP { STATE, VTAG_ORIGINAL, VTAG_REPLY } }
    want.extend([32, 0, 4, 0x80, 28, 0, 3, 0x80]);
    want.extend([5, 0, 1, 0, 2, 0, 0, 0]); // COOKIE_WAIT
    want.extend([8, 0, 2, 0, 0x5e, 0x5e, 0x5e, 0x5e, 8, 0, 3, 0, 0xc1, 0xc1, 0xc1, 0xc1]);
    assert_eq!(encode(&e), want);

    t.packet(&dccp(CLIENT, 40000, SERVER, 5001, 0, 100, 0), 3);
    t.packet(&dccp(SERVER, 5001, CLIENT, 40000, 1, 0x0001_0000_0384, 100), 4);
    let tup = Tuple { src: ip_conntrack::tuple::Addr::V4(CLIENT), dst: ip_conntrack::tuple::Addr::V4(SERVER), proto: proto::DCCP, l4: L4::Ports { sport: 40000, dport: 5001 } };
    let e = entry_of(&t, &tup, 5);
    let mut want = headers(200);
    want.extend(tuple_nest(1, CLIENT, SERVER, 33, &ports(40000, 5001)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 33, &ports(5001, 40000)));
    want.extend(info(0x0a));
    // CTA_PROTOINFO { CTA_PROTOINFO_DCCP { STATE, ROLE, HANDSHAKE_SEQ } },
    // no pad attribute on x86-64.
    want.extend([36, 0, 4, 0x80, 32, 0, 2, 0x80]);
    want.extend([5, 0, 1, 0, 2, 0, 0, 0]); // RESPOND
    want.extend([5, 0, 2, 0, 0, 0, 0, 0]); // the original side is the client
    want.extend([12, 0, 3, 0, 0, 0, 0, 1, 0, 0, 3, 0x84]);
    assert_eq!(encode(&e), want);
}

#[test]
fn udp_icmp_and_generic_entries() {
    let mut t = tracker(64, 100);
    t.packet(&udp(CLIENT, 5353, SERVER, 53, b"q"), 0);
    let e = entry_of(&t, &udp_tuple(CLIENT, 5353, SERVER, 53), 1);
    let mut want = headers(20 + 52 + 52 + 40);
    want.extend(tuple_nest(1, CLIENT, SERVER, 17, &ports(5353, 53)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 17, &ports(53, 5353)));
    want.extend(info(0x08));
    assert_eq!(encode(&e), want);

    t.packet(&icmp_query(CLIENT, SERVER, 8, 0x0102, 1), 0);
    let it = Tuple { src: ip_conntrack::tuple::Addr::V4(CLIENT), dst: ip_conntrack::tuple::Addr::V4(SERVER), proto: proto::ICMP, l4: L4::Icmp { ty: 8, code: 0, id: 0x0102 } };
    let e = entry_of(&t, &it, 1);
    // ICMP: ID (be16), TYPE, CODE; the reply tuple has the reply type.
    let icmp = |ty: u8| vec![6, 0, 4, 0, 1, 2, 0, 0, 5, 0, 5, 0, ty, 0, 0, 0, 5, 0, 6, 0, 0, 0, 0, 0];
    let mut want = headers(20 + 60 + 60 + 40);
    want.extend(tuple_nest(1, CLIENT, SERVER, 1, &icmp(8)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 1, &icmp(0)));
    want.extend(info(0x08));
    assert_eq!(encode(&e), want);

    t.packet(&other(CLIENT, SERVER, 47), 0);
    let gt = Tuple { src: ip_conntrack::tuple::Addr::V4(CLIENT), dst: ip_conntrack::tuple::Addr::V4(SERVER), proto: 47, l4: L4::None };
    let e = entry_of(&t, &gt, 1);
    let mut want = headers(20 + 36 + 36 + 40);
    want.extend(tuple_nest(1, CLIENT, SERVER, 47, &[]));
    want.extend(tuple_nest(2, SERVER, CLIENT, 47, &[]));
    want.extend(info(0x08));
    assert_eq!(encode(&e), want);
}

#[test]
fn statistics_messages() {
    let mut buf = [0u8; 256];
    let mut w = Writer::new(&mut buf);
    ctnetlink::put_stats(&mut w, 9, 3, 5, 16384).unwrap();
    let mut want = 36u32.to_ne_bytes().to_vec();
    want.extend([0x05, 0x01, 0x02, 0x00]);
    want.extend(3u32.to_ne_bytes());
    want.extend(9u32.to_ne_bytes());
    want.extend([0, 0, 0, 0, 8, 0, 1, 0, 0, 0, 0, 5, 8, 0, 2, 0, 0, 0, 0x40, 0]);
    assert_eq!(w.bytes(), want);

    let mut buf = [0u8; 256];
    let mut w = Writer::new(&mut buf);
    let s = Stats { found: 1, invalid: 2, insert: 3, insert_failed: 4, drop: 5, early_drop: 6, icmp_error: 7, clash_resolve: 8, chaintoolong: 9, ..Stats::ZERO };
    ctnetlink::put_stats_cpu(&mut w, 9, 3, 1, &s).unwrap();
    let b = w.bytes();
    assert_eq!(b.len(), 100);
    assert_eq!(&b[4..8], &[0x04, 0x01, 0x02, 0x00]);
    // res_id: the CPU, big-endian.
    assert_eq!(&b[16..20], &[0, 0, 0, 1]);
    let got: Vec<(u16, u32)> = Attrs::new(&b[20..]).map(|a| (a.kind(), a.be32())).collect();
    assert_eq!(
        got,
        [(2, 1), (4, 2), (8, 3), (9, 4), (10, 5), (11, 6), (12, 7), (13, 0), (14, 8), (15, 9)]
    );
}

#[test]
fn a_full_buffer_leaves_nothing_half_written() {
    let mut t = tracker(64, 100);
    t.packet(&udp(CLIENT, 5353, SERVER, 53, b"q"), 0);
    let e = entry_of(&t, &udp_tuple(CLIENT, 5353, SERVER, 53), 1);
    let mut buf = [0u8; 200];
    let mut w = Writer::new(&mut buf);
    ctnetlink::put_entry(&mut w, 1, 1, 0, &e, &META).unwrap();
    assert!(ctnetlink::put_entry(&mut w, 1, 1, 0, &e, &META).is_err());
    assert_eq!(w.len(), 164);
}


/// What conntrack 1.4.7 sends for `-G -p tcp -s 1.2.3.4 -d 5.6.7.8
/// --sport 1 --dport 2` (captured with strace), attributes only.
const GET_ATTRS: [u8; 76] = [
    0x34, 0x00, 0x01, 0x80, 0x14, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03, 0x04,
    0x08, 0x00, 0x02, 0x00, 0x05, 0x06, 0x07, 0x08, 0x1c, 0x00, 0x02, 0x80, 0x05, 0x00, 0x01, 0x00,
    0x06, 0x00, 0x00, 0x00, 0x06, 0x00, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x06, 0x00, 0x03, 0x00,
    0x00, 0x02, 0x00, 0x00, 0x18, 0x00, 0x04, 0x80, 0x14, 0x00, 0x01, 0x80, 0x06, 0x00, 0x04, 0x00,
    0x0a, 0x0a, 0x00, 0x00, 0x06, 0x00, 0x05, 0x00, 0x0a, 0x0a, 0x00, 0x00,
];


#[test]
fn conntrack_get_request_names_its_tuple() {
    let b = request(msg::CT_GET, 0x4, 2, &GET_ATTRS);
    let r = parse(&b).unwrap();
    let want = Tuple { src: ip_conntrack::tuple::Addr::V4(addr(1, 2, 3, 4)), dst: ip_conntrack::tuple::Addr::V4(addr(5, 6, 7, 8)), proto: 6, l4: L4::Ports { sport: 1, dport: 2 } };
    assert_eq!(r.get_one(), Ok(Some(want)));
    assert_eq!(r.delete(), Ok(Delete::One(Some(want), None)));
    // IPv6 family: parsed (its addresses are missing: EINVAL).
    let b6 = request(msg::CT_GET, 0x4, 10, &GET_ATTRS);
    assert_eq!(parse(&b6).unwrap().get_one(), Err(Error::Invalid));
    // Unknown family: EOPNOTSUPP.
    let b7 = request(msg::CT_GET, 0x4, 7, &GET_ATTRS);
    assert_eq!(parse(&b7).unwrap().get_one(), Err(Error::NotSupported));
    // No tuple: EINVAL; a flush for delete.
    let none = request(msg::CT_GET, 0x4, 2, &[]);
    assert_eq!(parse(&none).unwrap().get_one(), Err(Error::Invalid));
    assert_eq!(parse(&none).unwrap().delete(), Ok(Delete::Flush(None)));
}

#[test]
fn bad_requests_get_6_12_errnos() {
    // Missing destination port: EINVAL.
    let mut a = GET_ATTRS[..52].to_vec();
    a[0] = 44;
    a[24] = 20;
    a.truncate(44);
    assert_eq!(parse(&request(1, 4, 2, &a)).unwrap().get_one(), Err(Error::Invalid));
    // A 2-byte CTA_STATUS: ERANGE at the top level.
    assert_eq!(parse(&request(1, 4, 2, &[6, 0, 3, 0, 0, 0, 0, 0])).err(), Some(Error::Range));
    // CTA_ZONE: no zones here.
    let z = request(2, 4, 2, &[6, 0, 18, 0, 0, 1, 0, 0]);
    assert_eq!(parse(&z).unwrap().delete(), Err(Error::NotSupported));
    // Status mask without status; zero mask.
    // (A status mask alone does not make a filter unless the family does.)
    let sm = request(1, 0x300, 0, &[8, 0, 26, 0, 0, 0, 0, 1]);
    assert_eq!(parse(&sm).unwrap().dump_filter(), Ok(None));
    let sm = request(1, 0x300, 2, &[8, 0, 26, 0, 0, 0, 0, 1]);
    assert_eq!(parse(&sm).unwrap().dump_filter(), Err(Error::Invalid));
    let z = request(1, 0x300, 0, &[8, 0, 3, 0, 0, 0, 0, 0]);
    assert_eq!(parse(&z).unwrap().dump_filter(), Err(Error::Invalid));
    // An ICMP tuple of a non-query type: EINVAL.
    let mut w = [0u8; 128];
    let mut wr = Writer::new(&mut w);
    let o = wr.nest_start(cta::TUPLE_ORIG).unwrap();
    let i = wr.nest_start(cta::TUPLE_IP).unwrap();
    wr.put_be32(cta::IP_V4_SRC, 1).unwrap();
    wr.put_be32(cta::IP_V4_DST, 2).unwrap();
    wr.nest_end(i).unwrap();
    let p = wr.nest_start(cta::TUPLE_PROTO).unwrap();
    wr.put_u8(cta::PROTO_NUM, 1).unwrap();
    wr.put_be16(cta::PROTO_ICMP_ID, 1).unwrap();
    wr.put_u8(cta::PROTO_ICMP_TYPE, 3).unwrap();
    wr.put_u8(cta::PROTO_ICMP_CODE, 0).unwrap();
    wr.nest_end(p).unwrap();
    wr.nest_end(o).unwrap();
    assert_eq!(parse(&request(1, 4, 2, wr.bytes())).unwrap().get_one(), Err(Error::Invalid));
    // Truncated message: refused before any attribute.
    assert_eq!(Message::new_checked(&[1, 2, 3]).err(), Some(Error::Invalid));
}

#[test]
fn dump_filters_by_family_status_and_tuple() {
    let mut t = tracker(64, 100);
    t.packet(&udp(CLIENT, 5353, SERVER, 53, b"q"), 0);
    let e = entry_of(&t, &udp_tuple(CLIENT, 5353, SERVER, 53), 1);
    let f = |fam: u8, attrs: &[u8]| -> Option<Filter> { parse(&request(1, 0x300, fam, attrs)).unwrap().dump_filter().unwrap() };
    assert_eq!(f(0, &[]), None);
    assert!(f(2, &[]).unwrap().matches(&e));
    assert!(!f(10, &[]).unwrap().matches(&e));
    // Status ASSURED (mask = value): not yet.
    assert!(!f(0, &[8, 0, 3, 0, 0, 0, 0, 4]).unwrap().matches(&e));
    assert!(f(0, &[8, 0, 3, 0, 0, 0, 0, 8]).unwrap().matches(&e));
    // Mark 0 matches our entries, mark 1 does not.
    assert!(f(0, &[8, 0, 8, 0, 0, 0, 0, 0]).unwrap().matches(&e));
    assert!(!f(0, &[8, 0, 8, 0, 0, 0, 0, 1]).unwrap().matches(&e));
    // With a mark: value and mask (conntrack -L --mark 0x12/0xf0).
    let mut marked = e;
    marked.mark = 0x1234;
    assert!(f(0, &[8, 0, 8, 0, 0, 0, 0x12, 0x34]).unwrap().matches(&marked));
    assert!(!f(0, &[8, 0, 8, 0, 0, 0, 0x12, 0x35]).unwrap().matches(&marked));
    let masked = |v: u8, m: u8| f(0, &[8, 0, 8, 0, 0, 0, 0, v, 8, 0, 21, 0, 0, 0, 0, m]).unwrap();
    assert!(masked(0x30, 0xf0).matches(&marked));
    assert!(!masked(0x30, 0xf0).matches(&e));
    assert!(masked(0x00, 0xf0).matches(&e));
    // A mark mask alone: EINVAL once there is a filter.
    let lone = request(1, 0x300, 2, &[8, 0, 21, 0, 0, 0, 0, 1]);
    assert_eq!(parse(&lone).unwrap().dump_filter(), Err(Error::Invalid));
    // The same for flushes (conntrack -F/-D --mark).
    let d = request(2, 0x4, 2, &[8, 0, 8, 0, 0, 0, 0x12, 0x34]);
    let Ok(Delete::Flush(Some(df))) = parse(&d).unwrap().delete() else { panic!() };
    assert!(df.matches(&marked) && !df.matches(&e));
    // CTA_FILTER: original protocol number and destination port.
    let mut w = [0u8; 128];
    let mut wr = Writer::new(&mut w);
    let fl = wr.nest_start(cta::FILTER).unwrap();
    wr.put(cta::FILTER_ORIG_FLAGS, &((1u32 << 3) | (1 << 5)).to_ne_bytes()).unwrap();
    wr.nest_end(fl).unwrap();
    let o = wr.nest_start(cta::TUPLE_ORIG).unwrap();
    let p = wr.nest_start(cta::TUPLE_PROTO).unwrap();
    wr.put_u8(cta::PROTO_NUM, 17).unwrap();
    wr.put_be16(cta::PROTO_DST_PORT, 53).unwrap();
    wr.nest_end(p).unwrap();
    wr.nest_end(o).unwrap();
    let attrs = wr.bytes().to_vec();
    assert!(f(2, &attrs).unwrap().matches(&e));
    let mut other_port = attrs.clone();
    let n = other_port.len();
    other_port[n - 3] = 54;
    assert!(!f(2, &other_port).unwrap().matches(&e));
    // The same filter with AF_UNSPEC: a tuple needs a family.
    assert_eq!(parse(&request(1, 0x300, 0, &attrs)).unwrap().dump_filter(), Err(Error::NotSupported));
    // Unknown flag bits: EINVAL (strict nested parse).
    let mut bad = attrs.clone();
    bad[7] = 0x10;
    assert_eq!(parse(&request(1, 0x300, 2, &bad)).unwrap().dump_filter(), Err(Error::Invalid));
}

#[test]
fn port_filters_compare_tcp_and_udp_ports_only() {
    // 6.12's `ctnetlink_filter_match_tuple` compares ports for TCP and
    // UDP only: `conntrack -L --sport/--dport` (CTA_FILTER with the
    // original tuple's ports) lists SCTP, DCCP and UDP-Lite entries
    // whatever their ports.
    let mut t = tracker(64, 100);
    t.packet(&udp(CLIENT, 5353, SERVER, 53, b"q"), 0);
    t.packet(&tcp(CLIENT, 40000, SERVER, 80, Seg::new(SYN, 1, 0)), 0);
    t.packet(&udplite(CLIENT, 5000, SERVER, 5001, 0, b"lite"), 0);
    t.packet(&sctp(CLIENT, 5000, SERVER, 36412, 0, &[(1, 0, &init_body(7))]), 0);
    t.packet(&dccp(CLIENT, 40000, SERVER, 5001, 0, 100, 0), 0);
    assert_eq!(t.count(), 5);
    let ports_tuple = |p: u8, sport: u16, dport: u16| Tuple {
        src: ip_conntrack::tuple::Addr::V4(CLIENT),
        dst: ip_conntrack::tuple::Addr::V4(SERVER),
        proto: p,
        l4: L4::Ports { sport, dport },
    };
    let entries = [
        (proto::UDP, entry_of(&t, &ports_tuple(proto::UDP, 5353, 53), 1)),
        (proto::TCP, entry_of(&t, &ports_tuple(proto::TCP, 40000, 80), 1)),
        (proto::UDPLITE, entry_of(&t, &ports_tuple(proto::UDPLITE, 5000, 5001), 1)),
        (proto::SCTP, entry_of(&t, &ports_tuple(proto::SCTP, 5000, 36412), 1)),
        (proto::DCCP, entry_of(&t, &ports_tuple(proto::DCCP, 40000, 5001), 1)),
    ];
    // CTA_FILTER: the original tuple's protocol number, source and
    // destination ports (as `conntrack -L -p P --sport S --dport D`).
    let filter = |p: u8, sport: u16, dport: u16| -> Filter {
        let mut w = [0u8; 128];
        let mut wr = Writer::new(&mut w);
        let flags = (1u32 << 3) | (1 << 4) | (1 << 5);
        let fl = wr.nest_start(cta::FILTER).unwrap();
        wr.put(cta::FILTER_ORIG_FLAGS, &flags.to_ne_bytes()).unwrap();
        wr.nest_end(fl).unwrap();
        let o = wr.nest_start(cta::TUPLE_ORIG).unwrap();
        let pr = wr.nest_start(cta::TUPLE_PROTO).unwrap();
        wr.put_u8(cta::PROTO_NUM, p).unwrap();
        wr.put_be16(cta::PROTO_SRC_PORT, sport).unwrap();
        wr.put_be16(cta::PROTO_DST_PORT, dport).unwrap();
        wr.nest_end(pr).unwrap();
        wr.nest_end(o).unwrap();
        let attrs = wr.bytes().to_vec();
        parse(&request(1, 0x300, 2, &attrs)).unwrap().dump_filter().unwrap().unwrap()
    };
    for (p, e) in entries {
        let ported = p == proto::TCP || p == proto::UDP;
        let (sport, dport) = match e.tuple(Dir::Original).l4 {
            L4::Ports { sport, dport } => (sport, dport),
            _ => panic!("ports"),
        };
        assert!(filter(p, sport, dport).matches(&e), "protocol {p}: its own ports");
        assert_eq!(filter(p, 1, 2).matches(&e), !ported, "protocol {p}: other ports");
        assert_eq!(filter(p, sport, 2).matches(&e), !ported, "protocol {p}: other dport");
        // Another protocol number never matches.
        let other = if p == proto::UDP { proto::TCP } else { proto::UDP };
        assert!(!filter(other, sport, dport).matches(&e));
    }
}

/// Pulls the tuple nests out of an encoded entry and parses them back
/// as a request would.
fn tuples_back(bytes: &[u8]) -> (Tuple, Tuple) {
    let mut v = bytes.to_vec();
    // As a GET request: same attributes, the header's family kept.
    v[4] = 1;
    v[5] = 1;
    let r = parse(&v).unwrap();
    let o = r.tuple(cta::TUPLE_ORIG).unwrap().unwrap().lookup_key().unwrap();
    let p = r.tuple(cta::TUPLE_REPLY).unwrap().unwrap().lookup_key().unwrap();
    (o, p)
}

#[test]
fn every_entry_round_trips_its_tuples() {
    // A deterministic spread of flows of every kind.
    let mut t = tracker(256, 10_000);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..2000 {
        let r = next();
        let (a, b) = (r as u32, (r >> 32) as u32);
        let (p1, p2) = ((r >> 8) as u16, (r >> 24) as u16);
        match r % 4 {
            0 => t.packet(&udp(a, p1, b, p2, b"x"), 0),
            1 => {
                let mut c = tcp(a, p1, b, p2, Seg::new(SYN, r as u32, 0));
                t.packet(&c, 0);
                c.clear();
                continue;
            }
            2 => t.packet(&icmp_query(a, b, [8, 13, 15, 17][(r >> 40) as usize % 4], p1, 1), 0),
            _ => t.packet(&other(a, b, (r >> 48) as u8 | 0x80), 0),
        };
    }
    let entries = t.entries(1);
    assert!(entries.len() > 1500);
    for (_, e) in entries {
        let (o, r) = tuples_back(&encode(&e));
        assert_eq!(o, e.tuple(Dir::Original));
        assert_eq!(r, e.tuple(Dir::Reply));
    }
}

fn event(ev: ctnetlink::Event, e: &Entry, m: &Meta) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let mut w = Writer::new(&mut buf);
    ctnetlink::put_event(&mut w, ev, e, m).unwrap();
    w.bytes().to_vec()
}

/// Event headers: port 0, sequence 0, no NLM_F_MULTI.
fn event_headers(len: u32, ty: u8, flags: u16) -> Vec<u8> {
    let mut v = len.to_ne_bytes().to_vec();
    v.extend([ty, 0x01]);
    v.extend(flags.to_ne_bytes());
    v.extend([0; 8]);
    v.extend([2, 0, 0, 0]);
    v
}

#[test]
fn events_in_6_12_layout() {
    let mut t = tracker(64, 100);
    let mut c = Conn::new(41000, 80);
    t.packet(&c.c(SYN, 0), 0);
    let e = entry_of(&t, &c.tuple(), 1);
    let ProtoState::Tcp(tcp) = e.proto else { panic!() };
    let fo = tcp.peer(Dir::Original).flags().0;
    let fr = tcp.peer(Dir::Reply).flags().0;
    let m = Meta { id: 0x0102_0304, uses: 2, timeout: 120, counters: None, portid: 0, nat_reply: None, addrs6: None };
    // NEW: NLM_F_CREATE | NLM_F_EXCL; ID before STATUS; TIMEOUT; full
    // protoinfo; no mark (zero).
    let mut want = event_headers(20 + 52 + 52 + 24 + 48, 0, 0x600);
    want.extend(tuple_nest(1, CLIENT, SERVER, 6, &ports(41000, 80)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 6, &ports(80, 41000)));
    want.extend([8, 0, 12, 0, 1, 2, 3, 4, 8, 0, 3, 0, 0, 0, 0, 8, 8, 0, 7, 0, 0, 0, 0, 120]);
    want.extend([48, 0, 4, 0x80, 44, 0, 1, 0x80, 5, 0, 1, 0, 1, 0, 0, 0]);
    want.extend([5, 0, 2, 0, 7, 0, 0, 0, 5, 0, 3, 0, tcp.peer(Dir::Reply).scale(), 0, 0, 0]);
    want.extend([6, 0, 4, 0, fo, 0, 0, 0, 6, 0, 5, 0, fr, 0, 0, 0]);
    assert_eq!(event(ctnetlink::Event::New, &e, &m), want);
    // UPDATE without a state change: no protoinfo, plain flags.
    let mut want = event_headers(20 + 52 + 52 + 24, 0, 0);
    want.extend(tuple_nest(1, CLIENT, SERVER, 6, &ports(41000, 80)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 6, &ports(80, 41000)));
    want.extend([8, 0, 12, 0, 1, 2, 3, 4, 8, 0, 3, 0, 0, 0, 0, 8, 8, 0, 7, 0, 0, 0, 0, 120]);
    assert_eq!(event(ctnetlink::Event::Update { protoinfo: false }, &e, &m), want);
    // DESTROY: IPCTNL_MSG_CT_DELETE, no zero timeout, the state alone.
    let gone = Meta { timeout: 0, ..m };
    let mut want = event_headers(20 + 52 + 52 + 16 + 16, 2, 0);
    want.extend(tuple_nest(1, CLIENT, SERVER, 6, &ports(41000, 80)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 6, &ports(80, 41000)));
    want.extend([8, 0, 12, 0, 1, 2, 3, 4, 8, 0, 3, 0, 0, 0, 0, 8]);
    want.extend([16, 0, 4, 0x80, 12, 0, 1, 0x80, 5, 0, 1, 0, 1, 0, 0, 0]);
    assert_eq!(event(ctnetlink::Event::Destroy, &e, &gone), want);
    assert_eq!(ctnetlink::Event::Destroy.group(), 3);
    // A destroyed entry's counters come after the timeout, before the
    // state; a mark, when not 0, last.
    let mut marked = e;
    marked.mark = 5;
    let c = Counters { packets: 1, bytes: 60 };
    let counted = Meta { counters: Some([c, Counters::default()]), ..gone };
    let mut want = event_headers(20 + 52 + 52 + 16 + 56 + 16 + 8, 2, 0);
    want.extend(tuple_nest(1, CLIENT, SERVER, 6, &ports(41000, 80)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 6, &ports(80, 41000)));
    want.extend([8, 0, 12, 0, 1, 2, 3, 4, 8, 0, 3, 0, 0, 0, 0, 8]);
    want.extend([28, 0, 9, 0x80, 12, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 12, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 60]);
    want.extend([28, 0, 10, 0x80, 12, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    want.extend([16, 0, 4, 0x80, 12, 0, 1, 0x80, 5, 0, 1, 0, 1, 0, 0, 0]);
    want.extend([8, 0, 8, 0, 0, 0, 0, 5]);
    assert_eq!(event(ctnetlink::Event::Destroy, &marked, &counted), want);
    // An update made by a ctnetlink request (IPCT_MARK) carries mark 0
    // too, and the request's port; one made by a packet does not.
    let mut want = event_headers(20 + 52 + 52 + 24 + 8, 0, 0);
    want[12..16].copy_from_slice(&77u32.to_ne_bytes());
    want.extend(tuple_nest(1, CLIENT, SERVER, 6, &ports(41000, 80)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 6, &ports(80, 41000)));
    want.extend([8, 0, 12, 0, 1, 2, 3, 4, 8, 0, 3, 0, 0, 0, 0, 8, 8, 0, 7, 0, 0, 0, 0, 120]);
    want.extend([8, 0, 8, 0, 0, 0, 0, 0]);
    let by_tool = Meta { portid: 77, ..m };
    assert_eq!(event(ctnetlink::Event::Update { protoinfo: false }, &e, &by_tool), want);
    // Deleted by a request: its port, but no zero mark (no IPCT_MARK).
    let mut want = event_headers(20 + 52 + 52 + 16 + 16, 2, 0);
    want[12..16].copy_from_slice(&77u32.to_ne_bytes());
    want.extend(tuple_nest(1, CLIENT, SERVER, 6, &ports(41000, 80)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 6, &ports(80, 41000)));
    want.extend([8, 0, 12, 0, 1, 2, 3, 4, 8, 0, 3, 0, 0, 0, 0, 8]);
    want.extend([16, 0, 4, 0x80, 12, 0, 1, 0x80, 5, 0, 1, 0, 1, 0, 0, 0]);
    assert_eq!(event(ctnetlink::Event::Destroy, &e, &Meta { portid: 77, ..gone }), want);
}

/// What conntrack 1.4.7 sends for `-I -p tcp -s 1.1.1.1 -d 2.2.2.2
/// --sport 1 --dport 2 -t 100 --state ESTABLISHED` (strace), attributes
/// only: both tuples, the timeout and the TCP state with flags
/// (the byte after the state is uninitialised padding in the tool).
const CREATE_ATTRS: [u8; 144] = [
    0x34, 0x00, 0x01, 0x80, 0x14, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x01,
    0x08, 0x00, 0x02, 0x00, 0x02, 0x02, 0x02, 0x02, 0x1c, 0x00, 0x02, 0x80, 0x05, 0x00, 0x01, 0x00,
    0x06, 0x00, 0x00, 0x00, 0x06, 0x00, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x06, 0x00, 0x03, 0x00,
    0x00, 0x02, 0x00, 0x00, 0x34, 0x00, 0x02, 0x80, 0x14, 0x00, 0x01, 0x80, 0x08, 0x00, 0x01, 0x00,
    0x02, 0x02, 0x02, 0x02, 0x08, 0x00, 0x02, 0x00, 0x01, 0x01, 0x01, 0x01, 0x1c, 0x00, 0x02, 0x80,
    0x05, 0x00, 0x01, 0x00, 0x06, 0x10, 0x00, 0x00, 0x06, 0x00, 0x02, 0x00, 0x00, 0x02, 0x00, 0x00,
    0x06, 0x00, 0x03, 0x00, 0x00, 0x01, 0x00, 0x00, 0x08, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x64,
    0x20, 0x00, 0x04, 0x80, 0x1c, 0x00, 0x01, 0x80, 0x05, 0x00, 0x01, 0x00, 0x03, 0x72, 0x00, 0x00,
    0x06, 0x00, 0x04, 0x00, 0x0a, 0x0a, 0x00, 0x00, 0x06, 0x00, 0x05, 0x00, 0x0a, 0x0a, 0x00, 0x00,
];

#[test]
fn conntrack_create_request() {
    use ip_conntrack::proto::tcp::TcpState;
    let b = request(msg::CT_NEW, 0x604, 2, &CREATE_ATTRS);
    let r = parse(&b).unwrap();
    let t = Tuple { src: ip_conntrack::tuple::Addr::V4(addr(1, 1, 1, 1)), dst: ip_conntrack::tuple::Addr::V4(addr(2, 2, 2, 2)), proto: 6, l4: L4::Ports { sport: 1, dport: 2 } };
    assert_eq!(r.new_lookup(), Ok(Some(t)));
    let c = r.create().unwrap();
    assert_eq!((c.orig, c.timeout, c.status), (t, 100, 0));
    assert_eq!(c.tcp, Some((TcpState::Established, [0x0a, 0x0a], [0, 0])));
    let e = c.entry(5000, &ip_conntrack::config::Config::DEFAULT);
    assert_eq!(e.deadline, 100_000);
    let ProtoState::Tcp(tcp) = e.proto else { panic!() };
    assert_eq!(tcp.state(), TcpState::Established);
    // Without a timeout: EINVAL; with IPS_DYING asked for: EBUSY.
    let no_timeout: Vec<u8> = [&CREATE_ATTRS[..104], &CREATE_ATTRS[112..]].concat();
    assert_eq!(parse(&request(0, 0x604, 2, &no_timeout)).unwrap().create(), Err(Error::Invalid));
    let mut dying = CREATE_ATTRS.to_vec();
    dying.extend([8, 0, 3, 0, 0, 0, 2, 8]);
    assert_eq!(parse(&request(0, 0x604, 2, &dying)).unwrap().create(), Err(Error::Busy));
    // Status without IPS_CONFIRMED: 6.12 sets it first, so clearing it is EBUSY too.
    let mut unconfirmed = CREATE_ATTRS.to_vec();
    unconfirmed.extend([8, 0, 3, 0, 0, 0, 0, 2]);
    assert_eq!(parse(&request(0, 0x604, 2, &unconfirmed)).unwrap().create(), Err(Error::Busy));
    // A TCP state past the last one: EINVAL.
    let mut bad_state = CREATE_ATTRS.to_vec();
    bad_state[124] = 10;
    assert_eq!(parse(&request(0, 0x604, 2, &bad_state)).unwrap().create(), Err(Error::Invalid));
    assert_eq!(c.nat, None);
}

#[test]
fn conntrack_create_with_source_nat_as_conntrackd_sends_it() {
    use ip_conntrack::nat::range::{flags, Range};
    use ip_conntrack::netlink::request::NatSetup;
    // CTA_NAT_SRC { V4_MINIP 203.0.113.1, PROTO { PORT_MIN 61000 } }
    let mut attrs = CREATE_ATTRS.to_vec();
    attrs.extend([24, 0, 6, 0x80, 8, 0, 1, 0, 203, 0, 113, 1, 12, 0, 3, 0x80, 6, 0, 1, 0, 0xee, 0x48, 0, 0]);
    let c = parse(&request(0, 0x604, 2, &attrs)).unwrap().create().unwrap();
    let want = Range {
        flags: flags::MAP_IPS | flags::PROTO_SPECIFIED,
        min_addr: addr(203, 0, 113, 1),
        max_addr: addr(203, 0, 113, 1),
        min_proto: 61000,
        max_proto: 61000,
        base_proto: 0,
    };
    assert_eq!(c.nat, Some(NatSetup { dst: None, src: Some(want) }));
    // A truncated address: ERANGE, nla_parse's length check.
    let mut bad = CREATE_ATTRS.to_vec();
    bad.extend([12, 0, 13, 0x80, 6, 0, 1, 0, 203, 0, 0, 0]);
    assert_eq!(parse(&request(0, 0x604, 2, &bad)).unwrap().create(), Err(Error::Range));
}

#[test]
fn updates_apply_as_6_12_checks_them() {
    use ip_conntrack::entry::Status;
    use ip_conntrack::proto::tcp::TcpState;
    let mut t = tracker(64, 100);
    let mut c = Conn::new(41000, 80);
    t.packet(&c.c(SYN, 0), 0);
    let mut e = entry_of(&t, &c.tuple(), 1);
    // Timeout 60 s and SEEN_REPLY|ASSURED (with CONFIRMED, as the tool sends).
    let attrs = [&GET_ATTRS[..52], &[8, 0, 7, 0, 0, 0, 0, 60, 8, 0, 3, 0, 0, 0, 0, 0x0e]].concat();
    let ch = parse(&request(0, 0x4, 2, &attrs)).unwrap().change().unwrap();
    assert_eq!(ch.apply(&mut e, 10_000), Ok(()));
    assert_eq!(e.deadline, 70_000);
    assert!(e.status.has(Status::SEEN_REPLY | Status::ASSURED));
    // Clearing ASSURED again: EBUSY.
    let attrs = [&GET_ATTRS[..52], &[8, 0, 3, 0, 0, 0, 0, 0x0a]].concat();
    let ch = parse(&request(0, 0x4, 2, &attrs)).unwrap().change().unwrap();
    assert_eq!(ch.apply(&mut e, 10_000), Err(Error::Busy));
    // A TCP state through CTA_PROTOINFO (the -G request's protoinfo plus a state).
    let pi = [32, 0, 4, 0x80, 28, 0, 1, 0x80, 5, 0, 1, 0, 7, 0, 0, 0, 6, 0, 4, 0, 0x0a, 0x0a, 0, 0, 6, 0, 5, 0, 0x0a, 0x0a, 0, 0];
    let attrs = [&GET_ATTRS[..52], &pi[..]].concat();
    let ch = parse(&request(0, 0x4, 2, &attrs)).unwrap().change().unwrap();
    assert_eq!(ch.apply(&mut e, 10_000), Ok(()));
    let ProtoState::Tcp(tcp) = e.proto else { panic!() };
    assert_eq!(tcp.state(), TcpState::TimeWait);
    assert!(tcp.peer(Dir::Reply).flags().has(0x0a));
    // A mark: replaces the old one; with CTA_MARK_MASK only the masked
    // bits change, 6.12's `(old & ~mask) ^ mark`.
    let attrs = [&GET_ATTRS[..52], &[8, 0, 8, 0, 0, 0, 0x12, 0x34]].concat();
    let ch = parse(&request(0, 0x4, 2, &attrs)).unwrap().change().unwrap();
    assert_eq!(ch.apply(&mut e, 10_000), Ok(()));
    assert_eq!(e.mark, 0x1234);
    let attrs = [&GET_ATTRS[..52], &[8, 0, 8, 0, 0, 0, 0, 0x05, 8, 0, 21, 0, 0, 0, 0, 0x0f]].concat();
    let ch = parse(&request(0, 0x4, 2, &attrs)).unwrap().change().unwrap();
    assert_eq!(ch.apply(&mut e, 10_000), Ok(()));
    assert_eq!(e.mark, 0x1235);
    // A mask without a mark changes nothing.
    let attrs = [&GET_ATTRS[..52], &[8, 0, 21, 0, 0, 0, 0, 0x0f]].concat();
    let ch = parse(&request(0, 0x4, 2, &attrs)).unwrap().change().unwrap();
    assert_eq!(ch.apply(&mut e, 10_000), Ok(()));
    assert_eq!(e.mark, 0x1235);
    // A change that fails before the mark (6.12 sets it last) leaves it.
    let attrs = [&GET_ATTRS[..52], &[8, 0, 3, 0, 0, 0, 0, 0x0a, 8, 0, 8, 0, 0, 0, 0, 9]].concat();
    let ch = parse(&request(0, 0x4, 2, &attrs)).unwrap().change().unwrap();
    assert_eq!(ch.apply(&mut e, 10_000), Err(Error::Busy));
    assert_eq!(e.mark, 0x1235);
}

#[test]
fn malformed_marks_get_6_12_errnos() {
    // NLA_U32 in a liberal parse: short is ERANGE, long is read as its
    // first four bytes.
    for ty in [8u8, 21] {
        let short = request(0, 0x4, 2, &[6, 0, ty, 0, 0, 1, 0, 0]);
        assert_eq!(parse(&short).err(), Some(Error::Range), "type {ty}");
        let empty = request(1, 0x300, 2, &[4, 0, ty, 0]);
        assert_eq!(parse(&empty).err(), Some(Error::Range), "type {ty}");
    }
    let long = request(1, 0x300, 2, &[12, 0, 8, 0, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(parse(&long).unwrap().dump_filter().unwrap().unwrap().mark, (7, u32::MAX));
}

#[test]
fn create_sets_the_mark() {
    let mut attrs = CREATE_ATTRS.to_vec();
    attrs.extend([8, 0, 8, 0, 0, 0, 0x01, 0x02]);
    let c = parse(&request(msg::CT_NEW, 0x604, 2, &attrs)).unwrap().create().unwrap();
    assert_eq!(c.entry(0, &ip_conntrack::config::Config::DEFAULT).mark, 0x0102);
    // A mask on a new entry: applied to mark 0.
    attrs.extend([8, 0, 21, 0, 0, 0, 0, 0x02]);
    let c = parse(&request(msg::CT_NEW, 0x604, 2, &attrs)).unwrap().create().unwrap();
    assert_eq!(c.entry(0, &ip_conntrack::config::Config::DEFAULT).mark, 0x0102);
}

/// An entry with a mark and counters: CTA_MARK in its place, the two
/// counter nests (be64 packets, bytes; no pad on x86-64) after the
/// protocol info, as `ctnetlink_dump_extinfo` appends them.
#[test]
fn mark_and_counters_in_6_12_layout() {
    let mut t = tracker(64, 100);
    t.packet(&udp(CLIENT, 5353, SERVER, 53, b"q"), 0);
    let mut e = entry_of(&t, &udp_tuple(CLIENT, 5353, SERVER, 53), 1);
    e.mark = 0xdead_beef;
    let m = Meta {
        counters: Some([Counters { packets: 3, bytes: 0x1_0000_0102 }, Counters { packets: 0, bytes: 0 }]),
        ..META
    };
    let mut buf = [0u8; 512];
    let mut w = Writer::new(&mut buf);
    ctnetlink::put_entry(&mut w, 4242, 7, 0, &e, &m).unwrap();
    let mut want = headers(20 + 52 + 52 + 40 + 2 * 28);
    want.extend(tuple_nest(1, CLIENT, SERVER, 17, &ports(5353, 53)));
    want.extend(tuple_nest(2, SERVER, CLIENT, 17, &ports(53, 5353)));
    let mut i = info(0x08);
    i[12..16].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    want.extend(i);
    want.extend([28, 0, 9, 0x80, 12, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    want.extend([12, 0, 2, 0, 0, 0, 0, 1, 0, 0, 1, 2]);
    want.extend([28, 0, 10, 0x80, 12, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    want.extend([12, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(w.bytes(), &want[..]);
}
