//! The fuzz targets' bodies, shared by `fuzz/fuzz_targets/*` (libFuzzer)
//! and `tests/fuzz_regressions.rs` (replays every kept input), so a
//! regression test runs exactly what the fuzzer ran. Host only (`std`).
//!
//! Each function takes the fuzzer's raw bytes and panics when an
//! invariant breaks: here a panic is the report, so the engine's
//! no-panic, no-indexing and no-overflow lints are relaxed for this file.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::vec;
use std::vec::Vec;

use crate::config::Config;
use crate::entry::Status;
use crate::hash::HashKey;
use crate::host::{Attached, Tracked, Tracker};
use crate::packet::{parse, L4Info};
use crate::procfmt::{format_entry, format_nf_entry, parse_line, Family, MAX_LINE_LEN};
use crate::wire::MAX_HEAD_LEN;

mod ipv6_exthdr;
mod nat;
pub use ipv6_exthdr::ipv6_exthdr_input;
pub use nat::nat_input;

/// A fuzz target's body: takes the fuzzer's bytes, panics on a finding.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, as in `fuzz/fuzz_targets/NAME.rs`.
pub const TARGETS: [(&str, Target); 5] = [
    ("parse", parse_input),
    ("track", track_input),
    ("ctnetlink", ctnetlink_input),
    ("nat", nat_input),
    ("ipv6_exthdr", ipv6_exthdr_input),
];

/// Runs target `name` on `data`; false when there is no such target.
pub fn run(name: &str, data: &[u8]) -> bool {
    match TARGETS.iter().find(|(n, _)| *n == name) {
        Some((_, f)) => {
            f(data);
            true
        }
        None => false,
    }
}

/// Target `parse`: [`parse`] with arbitrary bytes and frame lengths.
///
/// Input: two bytes little-endian `extra`, then the packet's first bytes
/// (`head`). It is parsed with `frame_len = head.len() + extra` and with
/// `frame_len = extra`, and must never panic. On success the summary must
/// be consistent with the header bytes, and parsing only the first
/// `MAX_HEAD_LEN` bytes must give the same answer (the kernel passes a
/// prefix of the packet).
pub fn parse_input(data: &[u8]) {
    let Some((extra, head)) = data.split_first_chunk::<2>() else { return };
    let extra = usize::from(u16::from_le_bytes(*extra));
    check_parse(head, head.len() + extra);
    check_parse(head, extra);
}

fn check_parse(head: &[u8], frame_len: usize) {
    if head.first().is_some_and(|b| b >> 4 == 6) {
        check_parse6(head, frame_len);
    }
    let full = parse(head, frame_len);
    let prefix = &head[..head.len().min(MAX_HEAD_LEN)];
    assert_eq!(parse(prefix, frame_len), full, "a {MAX_HEAD_LEN}-byte prefix parses differently");
    let Ok(p) = full else { return };
    let ip_len = usize::from(p.ip_len);
    assert!(ip_len <= frame_len, "total length {ip_len} beyond frame {frame_len}");
    assert!(ip_len >= 20);
    assert_eq!(p.tuple.proto, head[9]);
    assert_eq!(p.tuple.src, u32::from_be_bytes([head[12], head[13], head[14], head[15]]));
    if let L4Info::Tcp(seg) = p.l4 {
        let ihl = usize::from(head[0] & 0x0f) * 4;
        assert!(seg.payload_len as usize + ihl + 20 <= ip_len);
        assert!(!matches!(seg.wscale, Some(w) if w > 14));
    }
}

/// [`check_parse`] for IPv6: the kernel reads the whole packet through a
/// byte source that may hold it in two parts (an skb's linear bytes, the
/// rest copied on demand), so a packet split anywhere parses like the
/// slice; and the summary agrees with the header.
fn check_parse6(head: &[u8], frame_len: usize) {
    use crate::packet::parse6;
    use crate::wire::parse6::parse_packet6_over;
    let full = parse6(head, frame_len);
    if frame_len <= head.len() {
        let whole = &head[..frame_len];
        for linear in [0, 40, frame_len / 2, frame_len.saturating_sub(1)] {
            let split = Split { bytes: whole, linear };
            assert_eq!(parse_packet6_over(&split), full, "split at {linear} parses differently");
        }
    }
    let Ok(p) = full else { return };
    assert!(usize::from(p.ip_len) <= frame_len.max(usize::from(u16::MAX)));
    assert!(usize::from(p.l4_off) <= frame_len);
    let src: [u8; 16] = head[8..24].try_into().expect("16 bytes");
    assert_eq!(p.tuple.src, crate::tuple::Addr::v6_from_bytes(&src));
    assert!(p.tuple.is_v6() && p.tuple.dst.is_v6());
}

const ADDRS: [u32; 4] = [0xc000_0201, 0xc633_6402, 0xcb00_7101, 0x0a00_0001];
const PORTS: [u16; 4] = [53, 80, 1024, 40000];

/// Reads input bytes; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a.to_vec()
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn ipv4(src: u32, dst: u32, proto: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut p = Vec::with_capacity(20 + l4.len());
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    p.extend_from_slice(&src.to_be_bytes());
    p.extend_from_slice(&dst.to_be_bytes());
    p.extend_from_slice(l4);
    p
}

/// A packet from a few input bytes: mostly well formed, so that flows get
/// replies and move through their states.
fn packet(inp: &mut Input) -> Vec<u8> {
    let sel = inp.u8();
    let ends = inp.u8();
    let src = ADDRS[usize::from(ends & 3)];
    let dst = ADDRS[usize::from((ends >> 2) & 3)];
    let sport = PORTS[usize::from((ends >> 4) & 3)];
    let dport = PORTS[usize::from(ends >> 6)];
    match sel % 6 {
        0 => {
            let mut l4 = Vec::with_capacity(16);
            l4.extend_from_slice(&sport.to_be_bytes());
            l4.extend_from_slice(&dport.to_be_bytes());
            l4.extend_from_slice(&12u16.to_be_bytes());
            l4.extend_from_slice(&[0, 0, 1, 2, 3, 4]);
            ipv4(src, dst, 17, &l4)
        }
        1 | 2 => {
            let flags = inp.u8();
            let seq = inp.u32();
            let ack = inp.u32();
            let window = inp.u16();
            let opts = inp.u8();
            let len = usize::from(inp.u8() & 0x3f) * 8;
            let mut l4 = Vec::with_capacity(32 + len);
            l4.extend_from_slice(&sport.to_be_bytes());
            l4.extend_from_slice(&dport.to_be_bytes());
            l4.extend_from_slice(&seq.to_be_bytes());
            l4.extend_from_slice(&ack.to_be_bytes());
            let with_opts = opts & 0x80 != 0;
            l4.push(if with_opts { 0x80 } else { 0x50 });
            l4.push(flags);
            l4.extend_from_slice(&window.to_be_bytes());
            l4.extend_from_slice(&[0, 0, 0, 0]);
            if with_opts {
                // MSS, SACK-permitted, window scale, NOP.
                l4.extend_from_slice(&[2, 4, 5, 0xb4, 4, 2, 3, 3, opts & 0x0f, 1, 1, 1]);
            }
            l4.resize(l4.len() + len, 0x61);
            ipv4(src, dst, 6, &l4)
        }
        3 => {
            let ty = [8u8, 0, 13, 14, 15, 16, 17, 18, 9, 42][usize::from(inp.u8() % 10)];
            let id = u16::from(inp.u8() & 3);
            let mut l4 = vec![ty, 0, 0, 0];
            l4.extend_from_slice(&id.to_be_bytes());
            l4.extend_from_slice(&[0, 1, 9, 9, 9, 9]);
            ipv4(src, dst, 1, &l4)
        }
        4 => {
            // An ICMP error quoting a packet built from the next bytes.
            let ty = [3u8, 4, 5, 11, 12][usize::from(inp.u8() % 5)];
            let quoted = packet(inp);
            let mut l4 = vec![ty, inp.u8() & 3, 0, 0, 0, 0, 0, 0];
            l4.extend_from_slice(&quoted[..quoted.len().min(28 + usize::from(inp.u8() & 7))]);
            ipv4(src, dst, 1, &l4)
        }
        _ => {
            if sel & 0x80 != 0 {
                let n = usize::from(inp.u8() & 0x7f);
                inp.bytes(n)
            } else {
                match (sel >> 4) & 7 {
                    0 | 1 => ipv4(src, dst, [47u8, 50][usize::from(sel >> 4) & 1], &[0, 0, 8, 0]),
                    2 | 3 | 7 => ipv4(src, dst, 132, &sctp(inp, sport, dport)),
                    4 | 5 => ipv4(src, dst, 33, &dccp(inp, sport, dport)),
                    _ => ipv4(src, dst, 136, &udplite(inp, sport, dport)),
                }
            }
        }
    }
}

/// The IPv6 form of a packet [`packet`] built: addresses
/// `2001:db8::a.b.c.d`, ICMP as ICMPv6 (queries to echo and node
/// information, errors to their ICMPv6 kinds quoting the IPv6 form of
/// their quote, any other type to one of neighbour discovery's), and with
/// `ext` a hop-by-hop and a destination options header in front. Bytes
/// too short for an IPv4 header stay as they are.
fn to_ipv6(p: &[u8], ext: bool) -> Vec<u8> {
    let ihl = usize::from(p.first().map_or(0, |b| b & 0x0f)) * 4;
    if p.len() < 20 || ihl < 20 || p.len() < ihl {
        return p.to_vec();
    }
    let addr6 = |at: usize| {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[12..].copy_from_slice(&p[at..at + 4]);
        a
    };
    let mut proto = p[9];
    let mut l4 = p[ihl..].to_vec();
    if proto == 1 {
        proto = 58;
        let ty = l4.first().copied().unwrap_or(0);
        let ty6 = match ty {
            8 => 128,
            0 => 129,
            13 => 139,
            14 => 140,
            3 => 1,
            4 => 2,
            11 => 3,
            12 => 4,
            5 => 137,
            t => 130 + t % 7,
        };
        if let Some(b) = l4.first_mut() {
            *b = ty6;
        }
        if ty6 < 128 && l4.len() > 8 {
            let inner = to_ipv6(&l4[8..], false);
            l4.truncate(8);
            l4.extend_from_slice(&inner);
        }
    }
    let mut rest = Vec::with_capacity(16 + l4.len());
    let first = if ext {
        rest.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        rest.extend_from_slice(&[proto, 0, 1, 4, 0, 0, 0, 0]);
        0
    } else {
        proto
    };
    rest.extend_from_slice(&l4);
    let mut v6 = vec![0x60, 0, 0, 0];
    v6.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    v6.extend_from_slice(&[first, 64]);
    v6.extend_from_slice(&addr6(12));
    v6.extend_from_slice(&addr6(16));
    v6.extend_from_slice(&rest);
    v6
}

/// An SCTP packet: a tag from a small set (so that tags match), one to
/// three chunks of the types the tracker tells apart, INIT and INIT ACK
/// with their fixed part.
fn sctp(inp: &mut Input, sport: u16, dport: u16) -> Vec<u8> {
    const TYPES: [u8; 14] = [1, 2, 10, 11, 0, 3, 4, 5, 6, 7, 8, 14, 9, 200];
    let tags = [0u32, 0x0101_0101, 0x0202_0202, 0x0303_0303];
    let mut l4 = Vec::with_capacity(64);
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&tags[usize::from(inp.u8() & 3)].to_be_bytes());
    l4.extend_from_slice(&[0; 4]);
    let n = 1 + inp.u8() % 3;
    for _ in 0..n {
        let ty = TYPES[usize::from(inp.u8()) % TYPES.len()];
        let flags = inp.u8() & 1;
        let body: Vec<u8> = if matches!(ty, 1 | 2) {
            let mut b = tags[usize::from(inp.u8() & 3)].to_be_bytes().to_vec();
            b.extend_from_slice(&[0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1]);
            b
        } else {
            vec![0x61; usize::from(inp.u8() & 7)]
        };
        l4.extend_from_slice(&[ty, flags]);
        l4.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
        l4.extend_from_slice(&body);
        l4.resize(l4.len().next_multiple_of(4), 0);
    }
    l4
}

/// A DCCP packet: any type, X mostly set, sequence and acknowledgement
/// numbers from a small set, coverage field from the input.
fn dccp(inp: &mut Input, sport: u16, dport: u16) -> Vec<u8> {
    let b = inp.u8();
    let ty = b % 11;
    let x = b & 0x80 == 0 || matches!(ty, 2..=4);
    let seq = u64::from(inp.u8() & 3);
    let ack = u64::from(inp.u8() & 3);
    let mut l4 = Vec::with_capacity(28);
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&[0, inp.u8() & 0x0f, 0, 0, ty << 1 | u8::from(x), 0]);
    if x {
        l4.extend_from_slice(&[0, 0, 0, 0, 0, seq as u8]);
    } else {
        l4.extend_from_slice(&[0, seq as u8]);
    }
    match ty {
        2 => {}
        0 => l4.extend_from_slice(&[0, 0, 0, 1]),
        _ => {
            l4.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, ack as u8]);
            if matches!(ty, 1 | 7) {
                l4.extend_from_slice(&[0, 0, 0, 1]);
            }
        }
    }
    l4[4] = (l4.len() / 4) as u8;
    l4
}

/// A UDP-Lite datagram with a coverage field from a small set.
fn udplite(inp: &mut Input, sport: u16, dport: u16) -> Vec<u8> {
    let cscov = [0u16, 8, 12, 7, 40][usize::from(inp.u8() % 5)];
    let mut l4 = Vec::with_capacity(12);
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    l4.extend_from_slice(&cscov.to_be_bytes());
    l4.extend_from_slice(&[0x12, inp.u8() & 1, 1, 2, 3, 4]);
    l4
}

struct World {
    t: Tracker,
    now: u64,
    held: Vec<Attached>,
    max: usize,
}

impl World {
    /// The cheap invariant, after every step: the count stays within the
    /// limit.
    fn check_count(&self, bound: usize) {
        let t = &self.t;
        assert!(t.count() <= bound, "count {} above {}", t.count(), bound);
    }

    /// Everything, every [`FULL_CHECK_EVERY`] steps and at the end: the
    /// table's structure (linked + held = count, lookups from both
    /// directions) and the dump (formatting and parsing every line is
    /// what costs most, so it is not done after every step: a broken
    /// table stays broken until the next full check finds it).
    fn check(&self, bound: usize) {
        let t = &self.t;
        self.check_count(bound);
        let linked = t.linked_entries();
        assert_eq!(t.count(), linked.len() + self.held.len());
        // One reply node per linked NATed entry, none other.
        let mut nodes = t.reply_nodes();
        nodes.sort_unstable();
        let mut nated: Vec<_> = linked
            .iter()
            .filter(|(_, e)| e.status.has_any(Status::NAT_MASK))
            .map(|(r, _)| (*r, t.reply_of(*r).expect("linked").key()))
            .collect();
        nated.sort_unstable();
        assert_eq!(nodes, nated, "reply nodes and NATed entries");
        for (r, e) in &linked {
            let reply = t.reply_of(*r).expect("linked");
            for tuple in [t.orig_of(*r).expect("linked"), reply] {
                let found = t.lookup(&tuple, self.now);
                if let Some((f, _)) = found {
                    assert!(!f.expired(self.now));
                }
                if !e.expired(self.now) && !e.status.has(Status::DYING) {
                    assert_eq!(found.map(|x| x.0), Some(*e));
                }
            }
        }
        // What `Tracker::dump` shows, formatted into one reused buffer.
        let mut buf = [0u8; MAX_LINE_LEN];
        for (r, e) in t.entries(self.now).into_iter().filter(|(_, e)| !e.is_v6()) {
            let nat = t.reply_of(r).map(|x| x.key()).filter(|_| e.status.has_any(Status::NAT_MASK));
            let n = format_entry(&mut buf, &e, self.now, 1, None, nat).expect("a line fits MAX_LINE_LEN");
            let line = core::str::from_utf8(&buf[..n]).expect("a line is text");
            assert!(parse_line(line).is_some(), "unparsable {line:?}");
            let mut nf = [0u8; MAX_LINE_LEN];
            let m = format_nf_entry(&mut nf, Family::Ipv4, &e, self.now, 1, None, nat, None).expect("a line fits");
            // The classic line behind "ipv4     2 ", 6.12's protocol name
            // in the same nine columns.
            let name = crate::procfmt::nf_proto_name(e.orig().proto);
            let want = std::format!("ipv4     2 {name:<8} {}", &line[9..]);
            assert_eq!(core::str::from_utf8(&nf[..m]), Ok(want.as_str()));
        }
    }
}

/// Binds the held entry `a` as a NAT target would: source or destination
/// NAT (bit 0 of `sel`) to one of the addresses, with a port range from
/// the input when bit 1 is set, `--random` with bit 2.
fn bind(w: &mut World, a: &Attached, sel: u8, inp: &mut Input<'_>) {
    use crate::nat::range::{flags, Range};
    use crate::nat::Manip;
    let manip = if sel & 1 == 0 { Manip::Src } else { Manip::Dst };
    let addr = ADDRS[usize::from(inp.u8() & 3)];
    let mut r = Range { flags: flags::MAP_IPS, min_addr: addr, max_addr: addr, ..Range::default() };
    if sel & 2 != 0 {
        let lo = PORTS[usize::from(inp.u8() & 3)];
        r.flags |= flags::PROTO_SPECIFIED;
        r.min_proto = lo;
        r.max_proto = lo.saturating_add(u16::from(inp.u8() & 3));
    }
    if sel & 4 != 0 {
        r.flags |= flags::PROTO_RANDOM;
    }
    let mut seed = u16::from(sel);
    let mut random = || {
        seed = seed.wrapping_mul(31421).wrapping_add(6927);
        seed
    };
    // A second binding of one end is refused, never a panic.
    let _ = w.t.nat_setup(a, manip, &r, w.now, &mut random);
}

/// Steps between two full checks of the table ([`World::check`]).
const FULL_CHECK_EVERY: usize = 32;

/// Target `track`: sequences of packets (built from a few input bytes
/// over a small address and port space, or raw), time steps, packets held
/// unconfirmed (some NAT-bound, as the NAT targets do) then confirmed or
/// dropped, sweeps, limit changes and
/// resizes (whole, or of one stripe), fed to
/// [`Tracker`]. Must never panic, and after every step:
/// - the count stays within the limit (or does not grow past it after the
///   limit was lowered);
///
/// and after every [`FULL_CHECK_EVERY`] steps and the last one:
/// - the count equals linked + held entries;
/// - one reply node per linked NATed entry, and none once all is swept;
/// - every live entry is found from both directions, and no lookup or
///   dump shows an expired entry;
/// - every dump line parses back.
pub fn track_input(data: &[u8]) {
    let mut inp = Input(data);
    let buckets = [1u32, 4, 16, 64][usize::from(inp.u8() & 3)];
    let max = usize::from(inp.u8() & 0x1f);
    let mut cfg = Config::DEFAULT;
    let knobs = inp.u8();
    cfg.tcp_loose = knobs & 1 == 0;
    cfg.tcp_be_liberal = knobs & 2 != 0;
    let t = Tracker::new(buckets, max, HashKey::new(1, 2), cfg);
    let mut w = World { t, now: 0, held: Vec::new(), max: if max == 0 { usize::MAX } else { max } };
    let mut steps = 0;
    while !inp.is_empty() && steps < 256 {
        steps += 1;
        let before = w.t.count();
        let op = inp.u8();
        // The high bits of a packet step: the packet's IPv6 form, with
        // extension headers.
        let family = |p: Vec<u8>| if op & 0x80 != 0 { to_ipv6(&p, op & 0x40 != 0) } else { p };
        match op % 8 {
            0..=2 => {
                let p = family(packet(&mut inp));
                w.t.packet(&p, w.now);
            }
            3 => {
                let p = family(packet(&mut inp));
                let nat = inp.u8();
                if let Tracked::Attached(a) = w.t.track(&p, w.now) {
                    if a.unconfirmed {
                        if nat & 0x80 != 0 {
                            bind(&mut w, &a, nat, &mut inp);
                        }
                        w.held.push(a);
                    }
                }
            }
            4 => {
                if !w.held.is_empty() {
                    let i = usize::from(inp.u8()) % w.held.len();
                    let a = w.held.swap_remove(i);
                    if inp.u8() & 1 == 0 {
                        w.t.confirm(a, w.now);
                    } else {
                        w.t.discard(a);
                    }
                }
            }
            5 => w.now += u64::from(inp.u16()) * u64::from(inp.u8() & 0x0f).max(1),
            6 => {
                let budget = usize::from(inp.u8());
                let p = w.t.sweep(w.now, budget);
                assert!(p.visited <= budget.max(1));
            }
            _ => {
                let b = inp.u8();
                if b & 0x80 != 0 {
                    // A resize, whole or of one stripe: nothing is lost.
                    let linked = w.t.linked();
                    let n = (b & 0x3f) + 1;
                    if b & 0x40 != 0 {
                        w.t.resize(u32::from(n));
                    } else {
                        let s = u32::from(inp.u8()) % w.t.layout().stripes();
                        w.t.resize_stripe(s, usize::from(n));
                    }
                    assert_eq!(w.t.linked(), linked);
                } else {
                    let m = usize::from(b & 0x1f);
                    w.t.set_max(m);
                    w.max = if m == 0 { usize::MAX } else { m };
                }
            }
        }
        if steps % FULL_CHECK_EVERY == 0 || inp.is_empty() {
            w.check(w.max.max(before));
        } else {
            w.check_count(w.max.max(before));
        }
    }
    // Everything expires; one full pass collects it all.
    w.now += 1 << 40;
    for a in std::mem::take(&mut w.held) {
        w.t.discard(a);
    }
    while !w.t.sweep(w.now, 1000).pass_done {}
    w.t.sweep(w.now, usize::MAX);
    assert_eq!(w.t.count(), 0);
    assert!(w.t.reply_nodes().is_empty(), "a reply node outlived its entry");
}

/// Fuzzes ctnetlink request parsing: `data` is one netlink message as a
/// socket would send it. Whatever the bytes, parsing returns (no panic);
/// a filter that parsed can be applied; a tuple a request names survives
/// an encode of an entry with that tuple and a parse back.
pub fn ctnetlink_input(data: &[u8]) {
    use crate::entry::Entry;
    use crate::netlink::attr::Writer;
    use crate::netlink::ctnetlink::{cta, put_entry, Meta};
    use crate::netlink::message::Message;
    use crate::netlink::request::{CtRequest, Delete};
    use crate::proto::ProtoState;

    let Ok(m) = Message::new_checked(data) else { return };
    let Ok(r) = CtRequest::parse(&m) else { return };
    let _ = r.id();
    let probe = |t: crate::tuple::Tuple| Entry::new(t, Status(Status::CONFIRMED), 1000, ProtoState::Generic);
    if let Ok(Some(f)) = r.dump_filter() {
        let e = probe(crate::tuple::Tuple { src: crate::tuple::Addr::V4(1), dst: crate::tuple::Addr::V4(2), proto: 17, l4: crate::tuple::L4::Ports { sport: 3, dport: 4 } });
        let _ = f.matches(&e);
        let t6 = crate::tuple::Tuple { src: crate::tuple::Addr::V6([1, 2, 3, 4]), dst: crate::tuple::Addr::V6([5, 6, 7, 8]), proto: 58, l4: crate::tuple::L4::Icmp { ty: 128, code: 0, id: 9 } };
        let _ = f.matches_nat(&probe(t6), None, t6.addrs6());
    }
    let _ = r.delete();
    if let Ok(Some(t)) = r.get_one() {
        if t.invert().is_some() {
            let mut e = probe(t);
            e.mark = r.id().unwrap_or(0);
            let max = crate::entry::Counters { packets: u64::MAX, bytes: u64::MAX };
            let m = Meta { id: 1, uses: 1, timeout: 1, counters: Some([max, max]), portid: 0, nat_reply: None, addrs6: t.addrs6() };
            let mut buf = [0u8; 512];
            let mut w = Writer::new(&mut buf);
            put_entry(&mut w, 1, 1, 0, &e, &m).expect("an entry fits in 512 bytes");
            let back = Message::new_checked(w.bytes()).expect("own message");
            let again = CtRequest::parse(&back).expect("own attributes");
            let o = again.tuple(cta::TUPLE_ORIG).expect("orig").expect("parses");
            assert_eq!(o.lookup_key(), Some(t));
            assert_eq!(again.get(cta::MARK).map(|a| a.be32()), Some(e.mark));
        }
    }
    let _ = r.new_lookup();
    if let Ok(ch) = r.change() {
        let mut e = probe(crate::tuple::Tuple { src: crate::tuple::Addr::V4(1), dst: crate::tuple::Addr::V4(2), proto: 6, l4: crate::tuple::L4::Ports { sport: 3, dport: 4 } });
        let _ = ch.apply(&mut e, 5000);
    }
    if let Ok(c) = r.create() {
        let e = c.entry(1000, &Config::DEFAULT);
        assert_eq!(e.orig().invert().and_then(|i| i.invert()), Some(e.orig()));
        assert_eq!(e.mark, c.mark.map_or(0, |m| m.value));
    }
    if let Ok(Delete::Flush(Some(f))) = r.delete() {
        let _ = f.matches(&probe(crate::tuple::Tuple { src: crate::tuple::Addr::V4(5), dst: crate::tuple::Addr::V4(6), proto: 1, l4: crate::tuple::L4::Icmp { ty: 8, code: 0, id: 9 } }));
    }
}

/// A packet in two parts, as a non-linear skb: the first `linear` bytes
/// are read in place, reads reaching past them are copied.
pub struct Split<'a> {
    /// The whole packet.
    pub bytes: &'a [u8],
    /// Bytes read in place.
    pub linear: usize,
}

impl crate::wire::source::ByteSource for Split<'_> {
    fn packet_len(&self) -> usize {
        self.bytes.len()
    }

    fn get<'b>(&'b self, at: usize, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        let whole = self.bytes.get(at..at.checked_add(buf.len())?)?;
        if at + buf.len() <= self.linear {
            return Some(whole);
        }
        buf.copy_from_slice(whole);
        Some(buf)
    }

    fn in_place(&self, at: usize, n: usize) -> Option<&[u8]> {
        let end = at.checked_add(n)?;
        if end > self.linear {
            return None;
        }
        self.bytes.get(at..end)
    }
}
