//! Target `nat`: the NAT engine (`crate::nat`) on arbitrary bytes.
//!
//! Input: a mode byte, then the mode's bytes.
//! - mode % 4 == 0, options: a target byte, a revision byte, the option
//!   bytes. Parsing never panics; an error names itself; a revision-0
//!   range that parsed encodes and parses back to itself.
//! - 1, rewrite: a flags byte (bit 0: destination manip; bits 1-2: the
//!   frame length is the packet's, shorter or longer), a new address and
//!   port or id, then the packet. On an error the bytes are unchanged; on
//!   success the length is unchanged and, for a packet that parsed
//!   before, it parses to the target tuple and every checksum that
//!   verified still verifies.
//! - 2, ICMP error: a flags byte (bit 0: manip), a tuple (addresses,
//!   ports), then the packet. On an error the bytes are unchanged; on
//!   success the ICMP checksum verifies and an IP checksum that verified
//!   still verifies.
//! - 3, tuple choice: a range, an original tuple, taken ports, random
//!   bits. Never panics; with addresses and ports given, the result is in
//!   the range.

use std::string::ToString;
use std::vec::Vec;

use super::Input;
use crate::nat::icmp_error::translate;
use crate::nat::options::{encode_compat, parse as parse_options, Target};
use crate::nat::range::{flags, manip_key, with_addr, with_key, Range};
use crate::nat::fast::{rewrite as fast_rewrite, Target as FastTarget};
use crate::nat::rewrite::{manip_packet, manip_packet_partial};
use crate::nat::unique::{unique_tuple, Clash};
use crate::nat::unique4::unique_tuple4;
use crate::nat::Manip;
use crate::packet::parse;
use crate::tuple::{icmp_inverse_type, proto, Tuple, L4};
use crate::wire::checksum;

/// The body of target `nat`.
pub fn nat_input(data: &[u8]) {
    let mut inp = Input(data);
    match inp.u8() % 4 {
        0 => options(&mut inp),
        1 => rewrite(&mut inp),
        2 => icmp_error(&mut inp),
        _ => choice(&mut inp),
    }
}

const TARGETS: [Target; 5] =
    [Target::Snat, Target::Dnat, Target::Masquerade, Target::Redirect, Target::Netmap];

fn options(inp: &mut Input) {
    let target = TARGETS[usize::from(inp.u8()) % TARGETS.len()];
    let revision = inp.u8() % 4;
    let bytes = inp.bytes(64);
    match parse_options(target, revision, &bytes) {
        Ok(o) => {
            if revision == 0 && matches!(target, Target::Snat | Target::Dnat | Target::Netmap) {
                let again = parse_options(target, 0, &encode_compat(1, &o.range)).expect("own encoding");
                assert_eq!(again.range, o.range);
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

fn manip_of(b: u8) -> Manip {
    if b & 1 == 0 {
        Manip::Src
    } else {
        Manip::Dst
    }
}

/// Whether the IPv4 header checksum of `p` verifies.
fn ip_ok(p: &[u8]) -> bool {
    let ihl = usize::from(p.first().copied().unwrap_or(0) & 0x0f) * 4;
    p.len() >= ihl && ihl >= 20 && checksum(&p[..ihl]) == 0
}

/// The IPv4 total length field of `p` (which is at least 4 bytes long).
fn total_len(p: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([p[2], p[3]]))
}

/// Whether the layer-4 checksum of a whole, parsed packet verifies (TCP
/// and UDP with the pseudo-header; a UDP checksum of 0 is none).
fn l4_ok(p: &[u8]) -> bool {
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    let l4 = &p[ihl..total];
    match p[9] {
        // An all-zero message has 0xffff as its only right checksum; the
        // incremental update (6.12's too) gives 0 there.
        proto::ICMP => checksum(l4) == 0 || l4.iter().all(|&b| b == 0),
        proto::UDP if l4[6..8] == [0, 0] => true,
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

fn rewrite(inp: &mut Input) {
    let fl = inp.u8();
    let manip = manip_of(fl);
    let (addr, key) = (inp.u32(), inp.u16());
    let mut p = inp.bytes(usize::MAX);
    let frame = match (fl >> 1) & 3 {
        0 | 3 => p.len(),
        1 => p.len() / 2,
        _ => p.len() + 100,
    };
    let before = p.clone();
    let parsed = parse(&before, before.len()).ok().filter(|_| frame >= before.len());
    let target = match parsed {
        Some(pk) => {
            let moved = with_addr(&pk.tuple, manip, addr);
            match pk.tuple.l4 {
                // Only queries and answers carry an id to rewrite.
                L4::Icmp { ty, .. } if icmp_inverse_type(ty).is_none() => moved,
                _ => with_key(&moved, manip, key),
            }
        }
        None => {
            let protocol = before.get(9).copied().unwrap_or(0);
            let l4 = match protocol {
                proto::TCP | proto::UDP => L4::Ports { sport: key, dport: key },
                proto::ICMP => L4::Icmp { ty: 8, code: 0, id: key },
                _ => L4::None,
            };
            Tuple { src: crate::tuple::Addr::V4(addr), dst: crate::tuple::Addr::V4(addr), proto: protocol, l4 }
        }
    };
    // The per-packet path of a bound connection writes the same bytes,
    // straight path or not, with or without checksum offload.
    let fast_target = FastTarget::of(&target, manip);
    for partial in [false, true] {
        let mut general = before.clone();
        let g = manip_packet_partial(&mut general, frame, manip, &target, partial);
        let mut fast = before.clone();
        let f = fast_rewrite(&mut fast, frame, manip, fast_target, partial);
        assert_eq!(f.map(|_| ()), g, "the per-packet rewrite decides otherwise");
        assert_eq!(fast, general, "the per-packet rewrite writes other bytes");
    }
    match manip_packet(&mut p, frame, manip, &target) {
        Err(_) => assert_eq!(p, before, "a refused rewrite wrote bytes"),
        Ok(()) => {
            assert_eq!(p.len(), before.len());
            assert_eq!(
                p[total_len(&p).min(p.len())..],
                before[total_len(&p).min(p.len())..],
                "padding written"
            );
            if ip_ok(&before) {
                assert!(ip_ok(&p), "IP checksum broken");
            }
            if let Some(pk) = parsed {
                let again = parse(&p, p.len()).expect("a rewritten packet parses");
                assert_eq!(again.tuple, target);
                assert_eq!(again.ip_len, pk.ip_len);
                if l4_ok(&before) {
                    assert!(l4_ok(&p), "layer-4 checksum broken");
                }
            }
        }
    }
}

fn icmp_error(inp: &mut Input) {
    let manip = manip_of(inp.u8());
    let protocol = [proto::TCP, proto::UDP, proto::ICMP, 47][usize::from(inp.u8() % 4)];
    let (src, dst, sport, dport) = (inp.u32(), inp.u32(), inp.u16(), inp.u16());
    let l4 = match protocol {
        proto::TCP | proto::UDP => L4::Ports { sport, dport },
        proto::ICMP => L4::Icmp { ty: 8, code: 0, id: sport },
        _ => L4::None,
    };
    let other = Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: protocol, l4 };
    let mut p = inp.bytes(usize::MAX);
    let before = p.clone();
    match translate(&mut p, manip, &other) {
        Err(_) => assert_eq!(p, before, "a refused translation wrote bytes"),
        Ok(()) => {
            assert_eq!(p.len(), before.len());
            let ihl = usize::from(p[0] & 0x0f) * 4;
            let total = total_len(&p);
            assert_eq!(checksum(&p[ihl..total]), 0, "ICMP checksum");
            assert_eq!(p[total..], before[total..], "padding written");
            if ip_ok(&before) {
                assert!(ip_ok(&p));
            }
        }
    }
}

/// Taken reply tuples, as ports on one address pair.
struct Taken(Vec<Tuple>);

impl Clash for Taken {
    fn taken(&self, reply: &Tuple) -> bool {
        self.0.contains(reply)
    }
}

fn choice(inp: &mut Input) {
    let range = Range {
        flags: u32::from(inp.u8()) & flags::MASK,
        min_addr: inp.u32(),
        max_addr: inp.u32(),
        min_proto: inp.u16(),
        max_proto: inp.u16(),
        base_proto: inp.u16(),
    };
    let manip = manip_of(inp.u8());
    let protocol = [proto::TCP, proto::UDP, proto::ICMP, 47][usize::from(inp.u8() % 4)];
    let (src, dst, sport, dport) = (inp.u32(), inp.u32(), inp.u16(), inp.u16());
    let l4 = match protocol {
        proto::TCP | proto::UDP => L4::Ports { sport, dport },
        proto::ICMP => L4::Icmp { ty: 8, code: 0, id: sport },
        _ => L4::None,
    };
    let orig = Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: protocol, l4 };
    let n = usize::from(inp.u8() % 32);
    let taken: Vec<Tuple> = (0..n)
        .filter_map(|_| {
            let k = inp.u16();
            let addr = if range.has(flags::MAP_IPS) { range.min_addr } else { 0 };
            with_key(&with_addr(&orig, manip, addr), manip, k).invert()
        })
        .collect();
    let seed = inp.u16();
    let mut state = seed;
    let mut random = || {
        state = state.wrapping_mul(25173).wrapping_add(13849);
        state
    };
    let table = Taken(taken);
    let got = unique_tuple(&orig, &range, manip, &table, &mut random);
    // The bind path's form on the key's words decides the same.
    let mut state = seed;
    let mut random = || {
        state = state.wrapping_mul(25173).wrapping_add(13849);
        state
    };
    assert_eq!(unique_tuple4(orig.key(), &range, manip, &table, &mut random), got.key(), "key form differs");
    assert_eq!(got.proto, orig.proto);
    let ordered = range.min_addr <= range.max_addr && range.min_proto <= range.max_proto;
    if range.has(flags::MAP_IPS) && ordered {
        let a = if manip == Manip::Src { got.src } else { got.dst };
        assert!(a >= crate::tuple::Addr::V4(range.min_addr) && a <= crate::tuple::Addr::V4(range.max_addr), "address outside the range");
    }
    let in_range = range.has(flags::PROTO_SPECIFIED) && ordered && !range.has(flags::PROTO_OFFSET);
    if in_range && protocol != 47 && got != orig {
        let k = manip_key(&got, manip).expect("ports or id");
        assert!(k >= range.min_proto && k <= range.max_proto, "port outside the range");
    }
}
