//! SCTP, DCCP and UDP-Lite through the host tracker with real packet
//! bytes: each association its own entry with ports, 6.12's states,
//! timeouts and INVALID verdicts.

mod common;

use common::*;
use ip_conntrack::ctinfo::CtInfo;
use ip_conntrack::entry::Status;
use ip_conntrack::invalid::Invalid;
use ip_conntrack::procfmt::parse_line;
use ip_conntrack::proto::dccp::DccpState;
use ip_conntrack::proto::sctp::SctpState;
use ip_conntrack::proto::ProtoState;
use ip_conntrack::tuple::{proto, Tuple, L4};

fn tuple(p: u8, src: u32, sport: u16, dst: u32, dport: u16) -> Tuple {
    Tuple { src: ip_conntrack::tuple::Addr::V4(src), dst: ip_conntrack::tuple::Addr::V4(dst), proto: p, l4: L4::Ports { sport, dport } }
}

// ---------------------------------------------------------------- SCTP

const CT: u32 = 0xc1c1_c1c1; // the client's tag
const ST: u32 = 0x5e5e_5e5e; // the server's tag

fn sctp_state(t: &ip_conntrack::host::Tracker, tup: &Tuple, now: u64) -> Option<SctpState> {
    match t.lookup(tup, now)?.0.proto {
        ProtoState::Sctp(s) => Some(s.state()),
        _ => None,
    }
}

#[test]
fn sctp_association_has_its_own_entry_and_states() {
    let mut t = tracker(64, 100);
    let c = |vtag, chunks: &[(u8, u8, &[u8])]| sctp(CLIENT, 5000, SERVER, 36412, vtag, chunks);
    let s = |vtag, chunks: &[(u8, u8, &[u8])]| sctp(SERVER, 36412, CLIENT, 5000, vtag, chunks);
    let tup = tuple(proto::SCTP, CLIENT, 5000, SERVER, 36412);
    assert_eq!(ct(t.packet(&c(0, &[(1, 0, &init_body(CT))]), 0)), CtInfo::New);
    assert_eq!(sctp_state(&t, &tup, 0), Some(SctpState::Closed));
    assert_eq!(t.lookup(&tup, 0).unwrap().0.deadline, s_(10));
    assert_eq!(ct(t.packet(&s(CT, &[(2, 0, &init_body(ST))]), 1)), CtInfo::EstablishedReply);
    assert_eq!(sctp_state(&t, &tup, 1), Some(SctpState::CookieWait));
    assert_eq!(ct(t.packet(&c(ST, &[(10, 0, &[7; 20]), (0, 3, &[1; 16])]), 2)), CtInfo::Established);
    assert_eq!(sctp_state(&t, &tup, 2), Some(SctpState::CookieEchoed));
    t.packet(&s(CT, &[(11, 0, &[])]), 3);
    let (e, _) = t.lookup(&tup, 3).unwrap();
    assert_eq!(sctp_state(&t, &tup, 3), Some(SctpState::Established));
    assert!(e.status.has(Status::ASSURED));
    assert_eq!(e.deadline, 3 + s_(210));
    // DATA with the peer's tag is fine; with a wrong tag INVALID.
    assert_eq!(ct(t.packet(&c(ST, &[(0, 3, &[1; 16])]), 4)), CtInfo::Established);
    assert_eq!(invalid(t.packet(&c(CT, &[(0, 3, &[1; 16])]), 5)), Invalid::SctpBadVtag);
    // A second association between the same hosts: another entry.
    let other = sctp(CLIENT, 5001, SERVER, 36412, 0, &[(1, 0, &init_body(CT))]);
    assert_eq!(ct(t.packet(&other, 6)), CtInfo::New);
    assert_eq!(t.count(), 2);
    // The /proc line.
    let d = t.dump(6);
    let lines: Vec<_> = d.iter().filter_map(|l| parse_line(l)).collect();
    assert!(lines.iter().any(|p| p.name == "sctp" && p.state == Some("ESTABLISHED") && p.orig == tup));
    // Shutdown.
    t.packet(&c(ST, &[(7, 0, &[0; 4])]), 7);
    assert_eq!(sctp_state(&t, &tup, 7), Some(SctpState::ShutdownSent));
    t.packet(&s(CT, &[(8, 0, &[])]), 8);
    assert_eq!(sctp_state(&t, &tup, 8), Some(SctpState::ShutdownAckSent));
    t.packet(&c(ST, &[(14, 0, &[])]), 9);
    assert_eq!(sctp_state(&t, &tup, 9), Some(SctpState::Closed));
    assert_eq!(t.lookup(&tup, 9).unwrap().0.deadline, 9 + s_(10));
}

#[test]
fn sctp_invalid_first_packets_and_chunk_layouts() {
    let mut t = tracker(64, 100);
    let c = |vtag, chunks: &[(u8, u8, &[u8])]| sctp(CLIENT, 5000, SERVER, 36412, vtag, chunks);
    // Out of the blue: DATA, ABORT, COOKIE ACK; INIT with a tag.
    assert_eq!(invalid(t.packet(&c(5, &[(0, 3, &[1; 16])]), 0)), Invalid::SctpNotNew);
    assert_eq!(invalid(t.packet(&c(5, &[(6, 0, &[])]), 0)), Invalid::SctpNotNew);
    assert_eq!(invalid(t.packet(&c(5, &[(11, 0, &[])]), 0)), Invalid::SctpNotNew);
    assert_eq!(invalid(t.packet(&c(5, &[(1, 0, &init_body(CT))]), 0)), Invalid::SctpBadVtag);
    // INIT bundled with another chunk; COOKIE ECHO not first; no chunks.
    assert_eq!(invalid(t.packet(&c(0, &[(1, 0, &init_body(CT)), (0, 0, &[])]), 0)), Invalid::SctpBadChunks);
    assert_eq!(invalid(t.packet(&c(0, &[(3, 0, &[0; 12]), (10, 0, &[])]), 0)), Invalid::SctpBadChunks);
    assert_eq!(invalid(t.packet(&c(0, &[]), 0)), Invalid::SctpBadChunks);
    assert_eq!(t.count(), 0);
    // A HEARTBEAT opens an entry (a secondary path).
    assert_eq!(ct(t.packet(&c(9, &[(4, 0, &[0, 1, 0, 8, 1, 2, 3, 4])]), 1)), CtInfo::New);
    let tup = tuple(proto::SCTP, CLIENT, 5000, SERVER, 36412);
    assert_eq!(sctp_state(&t, &tup, 1), Some(SctpState::HeartbeatSent));
    assert_eq!(t.lookup(&tup, 1).unwrap().0.deadline, 1 + s_(30));
}

#[test]
fn sctp_retransmitted_init_does_not_refresh() {
    let mut t = tracker(64, 100);
    let init = sctp(CLIENT, 5000, SERVER, 36412, 0, &[(1, 0, &init_body(CT))]);
    t.packet(&init, 0);
    let tup = tuple(proto::SCTP, CLIENT, 5000, SERVER, 36412);
    assert_eq!(ct(t.packet(&init, s_(5))), CtInfo::New);
    assert_eq!(t.lookup(&tup, s_(5)).unwrap().0.deadline, s_(10));
}

// ---------------------------------------------------------------- DCCP

fn dccp_state(t: &ip_conntrack::host::Tracker, tup: &Tuple, now: u64) -> Option<DccpState> {
    match t.lookup(tup, now)?.0.proto {
        ProtoState::Dccp(d) => Some(d.state()),
        _ => None,
    }
}

#[test]
fn dccp_connection_through_its_states() {
    let mut t = tracker(64, 100);
    let c = |ty, seq, ack| dccp(CLIENT, 40000, SERVER, 5001, ty, seq, ack);
    let s = |ty, seq, ack| dccp(SERVER, 5001, CLIENT, 40000, ty, seq, ack);
    let tup = tuple(proto::DCCP, CLIENT, 40000, SERVER, 5001);
    // Only a Request opens.
    assert_eq!(invalid(t.packet(&c(3, 1, 0), 0)), Invalid::DccpBadTransition);
    assert_eq!(ct(t.packet(&c(0, 100, 0), 0)), CtInfo::New);
    assert_eq!(dccp_state(&t, &tup, 0), Some(DccpState::Request));
    assert_eq!(t.lookup(&tup, 0).unwrap().0.deadline, s_(240));
    t.packet(&s(1, 900, 100), 1);
    assert_eq!(dccp_state(&t, &tup, 1), Some(DccpState::Respond));
    // An Ack of another sequence number: PARTOPEN, not assured.
    t.packet(&c(3, 101, 899), 2);
    assert_eq!(dccp_state(&t, &tup, 2), Some(DccpState::PartOpen));
    assert!(!t.lookup(&tup, 2).unwrap().0.status.has(Status::ASSURED));
    // The client's Data in PARTOPEN is INVALID; the server's opens.
    assert_eq!(invalid(t.packet(&c(2, 102, 0), 3)), Invalid::DccpBadTransition);
    t.packet(&s(4, 901, 101), 4);
    assert_eq!(dccp_state(&t, &tup, 4), Some(DccpState::Open));
    assert_eq!(t.lookup(&tup, 4).unwrap().0.deadline, 4 + s_(43_200));
    // CloseReq, Close, Reset.
    t.packet(&s(5, 902, 101), 5);
    assert_eq!(dccp_state(&t, &tup, 5), Some(DccpState::CloseReq));
    t.packet(&c(6, 103, 902), 6);
    assert_eq!(dccp_state(&t, &tup, 6), Some(DccpState::Closing));
    t.packet(&s(7, 903, 103), 7);
    assert_eq!(dccp_state(&t, &tup, 7), Some(DccpState::TimeWait));
    let d = t.dump(7);
    let p = parse_line(&d[0]).unwrap();
    assert_eq!((p.name, p.proto, p.state), ("dccp", 33, Some("TIMEWAIT")));
}

#[test]
fn dccp_handshake_ack_assures_and_reset_answer_kills() {
    let mut t = tracker(64, 100);
    let tup = tuple(proto::DCCP, CLIENT, 40000, SERVER, 5001);
    t.packet(&dccp(CLIENT, 40000, SERVER, 5001, 0, 100, 0), 0);
    t.packet(&dccp(SERVER, 5001, CLIENT, 40000, 1, 900, 100), 1);
    t.packet(&dccp(CLIENT, 40000, SERVER, 5001, 3, 101, 900), 2);
    assert!(t.lookup(&tup, 2).unwrap().0.status.has(Status::ASSURED));
    // A Reset as the only answer removes the entry at once.
    t.packet(&dccp(CLIENT, 40001, SERVER, 5001, 0, 1, 0), 3);
    assert_eq!(t.count(), 2);
    assert_eq!(ct(t.packet(&dccp(SERVER, 5001, CLIENT, 40001, 7, 5, 1), 4)), CtInfo::EstablishedReply);
    assert_eq!(t.count(), 1);
    // A Request without X is refused before any lookup.
    let mut no_x = dccp(CLIENT, 40002, SERVER, 5001, 0, 1, 0);
    no_x[28] &= !1;
    assert_eq!(invalid(t.packet(&no_x, 5)), Invalid::DccpBadType);
}

// ---------------------------------------------------------------- UDP-Lite

#[test]
fn udplite_ports_timeouts_and_coverage() {
    let mut t = tracker(64, 100);
    let tup = tuple(proto::UDPLITE, CLIENT, 7000, SERVER, 7001);
    assert_eq!(ct(t.packet(&udplite(CLIENT, 7000, SERVER, 7001, 8, b"partial!"), 0)), CtInfo::New);
    assert_eq!(t.lookup(&tup, 0).unwrap().0.deadline, s_(30));
    t.packet(&udplite(SERVER, 7001, CLIENT, 7000, 0, b"x"), 1);
    // Replied: the next packet gives the stream timeout and ASSURED at
    // once (no two-second rule, unlike UDP).
    t.packet(&udplite(CLIENT, 7000, SERVER, 7001, 12, b"abcd"), 2);
    let (e, _) = t.lookup(&tup, 2).unwrap();
    assert!(e.status.has(Status::ASSURED));
    assert_eq!(e.deadline, 2 + s_(120));
    // Another port pair is another flow.
    t.packet(&udplite(CLIENT, 7002, SERVER, 7001, 0, b""), 3);
    assert_eq!(t.count(), 2);
    // Coverage below the header or beyond the datagram; no checksum.
    assert_eq!(invalid(t.packet(&udplite(CLIENT, 7000, SERVER, 7001, 7, b"ab"), 4)), Invalid::UdpLiteBadCoverage);
    assert_eq!(invalid(t.packet(&udplite(CLIENT, 7000, SERVER, 7001, 11, b"ab"), 4)), Invalid::UdpLiteBadCoverage);
    let mut none = udplite(CLIENT, 7000, SERVER, 7001, 0, b"ab");
    none[26..28].copy_from_slice(&[0, 0]);
    assert_eq!(invalid(t.packet(&none, 4)), Invalid::UdpLiteNoChecksum);
    let d = t.dump(4);
    let p = parse_line(&d[0]).unwrap();
    assert_eq!((p.name, p.proto), ("udplite", 136));
}

/// Seconds as milliseconds (`s` is taken by the closures above).
const fn s_(secs: u64) -> u64 {
    s(secs)
}
