//! Hostile and malformed packets found while testing the module in the
//! guest (tests/vm/hostile.sh), checked here against Linux 6.12's
//! classification.

mod common;

use common::*;
use ip_conntrack::ctinfo::CtInfo;
use ip_conntrack::host::Verdict;
use ip_conntrack::invalid::Invalid;

/// An ICMP error quoting only the inner IP header and the two ports of a
/// tracked UDP flow is RELATED: Linux reads no more than the ports
/// (`nf_ct_get_tuple_ports`). With fewer bytes it is INVALID.
#[test]
fn icmp_error_quoting_just_the_ports_is_related() {
    let mut t = tracker(64, 100);
    let q = udp(CLIENT, 40000, SERVER, 53, b"query");
    t.packet(&q, 0);
    let four = icmp_raw(SERVER, CLIENT, 3, 3, [0; 4], &q[..24]);
    assert_eq!(t.packet(&four, 1).ctinfo(), Some(CtInfo::RelatedReply));
    let three = icmp_raw(SERVER, CLIENT, 3, 3, [0; 4], &q[..23]);
    assert_eq!(t.packet(&three, 2), Verdict::Invalid(Invalid::IcmpErrorBadInner));
    // The same about a TCP flow.
    let mut c = Conn::new(41000, 80);
    let syn = c.c(SYN, 0);
    t.packet(&syn, 3);
    let err = icmp_raw(ROUTER, CLIENT, 3, 1, [0; 4], &syn[..24]);
    assert_eq!(t.packet(&err, 4).ctinfo(), Some(CtInfo::RelatedReply));
    // A quoted echo request needs its whole 8-byte header.
    let req = icmp_query(CLIENT, SERVER, 8, 7, 1);
    t.packet(&req, 5);
    let seven = icmp_raw(SERVER, CLIENT, 3, 1, [0; 4], &req[..27]);
    assert_eq!(t.packet(&seven, 6), Verdict::Invalid(Invalid::IcmpErrorBadInner));
    let eight = icmp_raw(SERVER, CLIENT, 3, 1, [0; 4], &req[..28]);
    assert_eq!(t.packet(&eight, 7).ctinfo(), Some(CtInfo::RelatedReply));
}
