//! ctnetlink requests naming IPv6 tuples, and IPv6 entries' tuples, in
//! the bytes 6.12's ctnetlink reads and sends (conntrack-tools builds
//! these requests with libnetfilter_conntrack's attribute order).

mod common;

use common::ctnl::{parse, request};
use ip_conntrack::entry::{Entry, Status};
use ip_conntrack::netlink::attr::Writer;
use ip_conntrack::netlink::ctnetlink::{self, cta, msg, Meta};
use ip_conntrack::netlink::request::{Delete, Filter};
use ip_conntrack::netlink::Error;
use ip_conntrack::proto::ProtoState;
use ip_conntrack::tuple::{Addr, Dir, Tuple, L4};

const AF_INET6: u8 = 10;

/// 2001:db8::`n`.
fn a6(n: u8) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    b[15] = n;
    b
}

fn addr(n: u8) -> Addr {
    Addr::v6_from_bytes(&a6(n))
}



/// The tuple nest `ty` of `conntrack -G -f ipv6 -p udp -s 2001:db8::1
/// -d 2001:db8::2 --sport 1 --dport 2`, written out byte by byte.
fn udp_nest(ty: u8, s: u8, d: u8, sport: u16, dport: u16) -> Vec<u8> {
    // CTA_TUPLE_IP { CTA_IP_V6_SRC, CTA_IP_V6_DST }
    let mut v = vec![0x4c, 0, ty, 0x80, 0x2c, 0, 0x01, 0x80, 0x14, 0, 0x03, 0];
    v.extend(a6(s));
    v.extend([0x14, 0, 0x04, 0]);
    v.extend(a6(d));
    // CTA_TUPLE_PROTO { NUM 17, SRC_PORT, DST_PORT }
    v.extend([0x1c, 0, 0x02, 0x80, 5, 0, 1, 0, 17, 0, 0, 0]);
    let (sp, dp) = (sport.to_be_bytes(), dport.to_be_bytes());
    v.extend([6, 0, 2, 0, sp[0], sp[1], 0, 0, 6, 0, 3, 0, dp[0], dp[1], 0, 0]);
    assert_eq!(v.len(), 0x4c);
    v
}

fn udp_tuple(s: u8, d: u8, sport: u16, dport: u16) -> Tuple {
    Tuple { src: addr(s), dst: addr(d), proto: 17, l4: L4::Ports { sport, dport } }
}

/// An IPv6 entry of original tuple `t` and the meta its messages carry.
fn entry(t: &Tuple) -> (Entry, Meta) {
    let e = Entry::new(*t, Status(Status::CONFIRMED), 30_000, ProtoState::Icmp);
    let m = Meta { id: 1, uses: 1, timeout: 30, counters: None, portid: 0, nat_reply: None, addrs6: t.addrs6() };
    (e, m)
}

#[test]
fn get_and_delete_name_an_ipv6_tuple() {
    let b = request(msg::CT_GET, 0x4, AF_INET6, &udp_nest(1, 1, 2, 1, 2));
    let want = udp_tuple(1, 2, 1, 2);
    assert_eq!(parse(&b).unwrap().get_one(), Ok(Some(want)));
    let d = request(msg::CT_DELETE, 0x4, AF_INET6, &udp_nest(2, 2, 1, 2, 1));
    assert_eq!(parse(&d).unwrap().delete(), Ok(Delete::One(want.invert(), None)));
    // A 15-byte address: ERANGE (the policy's minimum length).
    let mut short = udp_nest(1, 1, 2, 1, 2);
    short[8] = 0x13;
    assert_eq!(parse(&request(msg::CT_GET, 0x4, AF_INET6, &short)).unwrap().get_one(), Err(Error::Range));
    // IPv4 addresses in an IPv6 request: EINVAL (ipv6_nlattr_to_tuple).
    let mut v4 = udp_nest(1, 1, 2, 1, 2);
    v4[10] = 1;
    v4[30] = 2;
    assert_eq!(parse(&request(msg::CT_GET, 0x4, AF_INET6, &v4)).unwrap().get_one(), Err(Error::Invalid));
}

fn icmpv6_nest(ty: u8) -> Vec<u8> {
    let mut w = [0u8; 256];
    let mut wr = Writer::new(&mut w);
    let o = wr.nest_start(cta::TUPLE_ORIG).unwrap();
    let i = wr.nest_start(cta::TUPLE_IP).unwrap();
    wr.put(cta::IP_V6_SRC, &a6(1)).unwrap();
    wr.put(cta::IP_V6_DST, &a6(2)).unwrap();
    wr.nest_end(i).unwrap();
    let p = wr.nest_start(cta::TUPLE_PROTO).unwrap();
    wr.put_u8(cta::PROTO_NUM, 58).unwrap();
    wr.put_be16(cta::PROTO_ICMPV6_ID, 0x1234).unwrap();
    wr.put_u8(cta::PROTO_ICMPV6_TYPE, ty).unwrap();
    wr.put_u8(cta::PROTO_ICMPV6_CODE, 0).unwrap();
    wr.nest_end(p).unwrap();
    wr.nest_end(o).unwrap();
    wr.bytes().to_vec()
}

#[test]
fn icmpv6_tuples_use_their_own_attributes() {
    let echo = Tuple { src: addr(1), dst: addr(2), proto: 58, l4: L4::Icmp { ty: 128, code: 0, id: 0x1234 } };
    let b = request(msg::CT_GET, 0x4, AF_INET6, &icmpv6_nest(128));
    assert_eq!(parse(&b).unwrap().get_one(), Ok(Some(echo)));
    // Only echo and node information have a tuple: EINVAL otherwise.
    for ty in [1, 127, 133, 200] {
        let b = request(msg::CT_GET, 0x4, AF_INET6, &icmpv6_nest(ty));
        assert_eq!(parse(&b).unwrap().get_one(), Err(Error::Invalid), "type {ty}");
    }
    // An entry's protocol nest: CTA_PROTO_ICMPV6_ID, _TYPE, _CODE.
    let (e, m) = entry(&echo);
    let mut buf = [0u8; 512];
    let mut w = Writer::new(&mut buf);
    ctnetlink::put_entry(&mut w, 1, 1, 0, &e, &m).unwrap();
    let bytes = w.bytes();
    let proto_nest = [
        0x24, 0, 0x02, 0x80, 5, 0, 1, 0, 58, 0, 0, 0, 6, 0, 7, 0, 0x12, 0x34, 0, 0, 5, 0, 8, 0, 128, 0, 0, 0, 5,
        0, 9, 0, 0, 0, 0, 0,
    ];
    assert!(bytes.windows(proto_nest.len()).any(|x| x == proto_nest));
    assert_eq!(bytes.get(16), Some(&AF_INET6));
    // Parsed back as a request: the same tuples.
    let mut req = bytes.to_vec();
    req[4] = 1;
    req[5] = 1;
    let r = parse(&req).unwrap();
    let back = |ty| r.tuple(ty).unwrap().unwrap().lookup_key().unwrap();
    assert_eq!(back(cta::TUPLE_ORIG), echo);
    assert_eq!(back(cta::TUPLE_REPLY), e.tuple_nat6(Dir::Reply, None, m.addrs6));
}

/// `CTA_FILTER` with flags `flags` for the tuple of `tuple` (its nest
/// type: original 1, reply 2), then `tuple`.
fn filter_attrs(flags: u32, tuple: &[u8]) -> Vec<u8> {
    let dir = tuple.get(2).copied().unwrap_or(1);
    let mut v = vec![12, 0, 25, 0x80, 8, 0, dir, 0];
    v.extend(flags.to_ne_bytes());
    v.extend(tuple);
    v
}

#[test]
fn address_filters_match_ipv6_entries() {
    let t = udp_tuple(1, 2, 1000, 53);
    let (e, m) = entry(&t);
    let (other, om) = entry(&udp_tuple(3, 2, 1000, 53));
    let f = |fam: u8, attrs: &[u8]| -> Filter { parse(&request(1, 0x300, fam, attrs)).unwrap().dump_filter().unwrap().unwrap() };
    let matches = |f: &Filter, e: &Entry, m: &Meta| f.matches_nat(e, None, m.addrs6);
    // conntrack -L -f ipv6 -s 2001:db8::1: source address flag only.
    let src = f(AF_INET6, &filter_attrs(1, &udp_nest(1, 1, 2, 1, 2)));
    assert!(matches(&src, &e, &m));
    assert!(!matches(&src, &other, &om));
    // The same filter as IPv4 excludes IPv6 entries by family.
    assert!(!matches(&f(2, &[]), &e, &m));
    assert!(matches(&f(AF_INET6, &[]), &e, &m));
    // Reply direction (conntrack -L -f ipv6 -r 2001:db8::2, reply source).
    let r = f(AF_INET6, &filter_attrs(1, &udp_nest(2, 2, 1, 53, 1000)));
    assert!(matches(&r, &e, &m) && matches(&r, &other, &om));
    let rd = f(AF_INET6, &filter_attrs(2, &udp_nest(2, 2, 1, 53, 1000)));
    assert!(matches(&rd, &e, &m) && !matches(&rd, &other, &om));
    // Flush by family and source (conntrack -D -f ipv6 -s ...).
    let d = request(msg::CT_DELETE, 0x4, AF_INET6, &filter_attrs(1, &udp_nest(1, 1, 2, 1, 2)));
    let Ok(Delete::Flush(Some(df))) = parse(&d).unwrap().delete() else { panic!() };
    assert!(matches(&df, &e, &m) && !matches(&df, &other, &om));
    // A source flag without the address: EINVAL.
    let mut no_ip = filter_attrs(1, &[]);
    no_ip.extend([0x20, 0, 1, 0x80, 0x1c, 0, 2, 0x80, 5, 0, 1, 0, 17, 0, 0, 0]);
    no_ip.extend([6, 0, 2, 0, 0, 1, 0, 0, 6, 0, 3, 0, 0, 2, 0, 0]);
    assert_eq!(parse(&request(1, 0x300, AF_INET6, &no_ip)).unwrap().dump_filter(), Err(Error::Invalid));
}

#[test]
fn create_of_an_ipv6_flow_and_no_ipv6_nat() {
    let mut attrs = udp_nest(1, 1, 2, 1000, 53);
    attrs.extend(udp_nest(2, 2, 1, 53, 1000));
    attrs.extend([8, 0, 7, 0, 0, 0, 0, 120]);
    let b = request(msg::CT_NEW, 0x604, AF_INET6, &attrs);
    let r = parse(&b).unwrap();
    let t = Tuple { src: addr(1), dst: addr(2), proto: 17, l4: L4::Ports { sport: 1000, dport: 53 } };
    assert_eq!(r.new_lookup(), Ok(Some(t)));
    let c = r.create().unwrap();
    assert_eq!((c.orig, c.timeout, c.nat), (t, 120, None));
    let e = c.entry(0, &ip_conntrack::config::Config::DEFAULT);
    assert!(e.is_v6());
    assert_eq!(e.tuple_nat6(Dir::Original, None, t.addrs6()), t);
    // A reply tuple that is not the inverse would be NAT: EOPNOTSUPP.
    let mut natted = udp_nest(1, 1, 2, 1000, 53);
    natted.extend(udp_nest(2, 3, 1, 53, 1000));
    natted.extend([8, 0, 7, 0, 0, 0, 0, 120]);
    assert_eq!(parse(&request(0, 0x604, AF_INET6, &natted)).unwrap().create(), Err(Error::NotSupported));
    // CTA_NAT_SRC on an IPv6 entry: EOPNOTSUPP, as 6.12 without NAT.
    let mut nat = attrs.clone();
    nat.extend([24, 0, 6, 0x80, 20, 0, 4, 0]);
    nat.extend(a6(9));
    assert_eq!(parse(&request(0, 0x604, AF_INET6, &nat)).unwrap().create(), Err(Error::NotSupported));
}

#[test]
fn the_fuzz_target_takes_ipv6_requests() {
    let mut attrs = udp_nest(1, 1, 2, 1000, 53);
    attrs.extend(udp_nest(2, 2, 1, 53, 1000));
    attrs.extend([8, 0, 7, 0, 0, 0, 0, 120]);
    for m in [msg::CT_GET, msg::CT_NEW, msg::CT_DELETE] {
        ip_conntrack::fuzzing::ctnetlink_input(&request(m, 0x604, AF_INET6, &attrs));
    }
    ip_conntrack::fuzzing::ctnetlink_input(&request(msg::CT_GET, 0x4, AF_INET6, &icmpv6_nest(128)));
    let filter = filter_attrs(3, &udp_nest(1, 1, 2, 1, 2));
    ip_conntrack::fuzzing::ctnetlink_input(&request(msg::CT_GET, 0x300, AF_INET6, &filter));
    ip_conntrack::fuzzing::ctnetlink_input(&request(msg::CT_DELETE, 0x4, AF_INET6, &filter));
}
