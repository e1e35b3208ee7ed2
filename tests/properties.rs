//! Property tests: random packet sequences over a small address and port
//! space, with random time steps, unconfirmed packets the filter drops or
//! confirms late, sweeps and garbage. After every step:
//! - nothing panicked;
//! - the count never exceeds the limit, and equals linked + unconfirmed
//!   entries (nothing leaks);
//! - every live confirmed entry is found from both directions;
//! - no lookup or dump returns an expired entry;
//! - every dump line parses back and matches its entry;
//! - resizing (whole, or one stripe in the middle of it) loses nothing.
//!
//! And a dump that resumes by position lists every entry that stays in the
//! table exactly once while the table is resized and grows under it.

mod common;

use common::*;
use ip_conntrack::entry::{Entry, Status};
use ip_conntrack::host::{Attached, Tracked, Tracker, Verdict};
use ip_conntrack::nat::range::{flags, Range};
use ip_conntrack::nat::Manip;
use ip_conntrack::procfmt::parse_line;
use ip_conntrack::proto::ProtoState;
use ip_conntrack::tuple::{Dir, Tuple};
use proptest::prelude::*;

const ADDRS: [u32; 3] = [CLIENT, SERVER, ROUTER];
const PORTS: [u16; 3] = [53, 1024, 40000];
const SEQS: [u32; 6] = [0, 1, 1000, 1001, 5000, 0x8000_0000];
const TCP_FLAGS: [u8; 9] = [
    SYN,
    SYN | ACK,
    ACK,
    PSH | ACK,
    FIN | ACK,
    RST,
    RST | ACK,
    SYN | FIN,
    0,
];
const ICMP_TYPES: [u8; 7] = [8, 0, 13, 14, 9, 3, 11];

/// IPv6 hosts (`2001:db8::1..3`) and ICMPv6 types (echo, node
/// information, a neighbour solicitation).
const ADDRS6: [common::ipv6::A6; 3] = [common::ipv6::db8(1), common::ipv6::db8(2), common::ipv6::db8(3)];
const ICMP6_TYPES: [u8; 5] = [128, 129, 139, 140, 135];

#[derive(Clone, Debug)]
enum Pkt {
    Udp6 {
        src: usize,
        dst: usize,
        sport: usize,
        dport: usize,
    },
    Icmp6 {
        src: usize,
        dst: usize,
        ty: usize,
        id: u8,
    },
    Udp {
        src: usize,
        dst: usize,
        sport: usize,
        dport: usize,
    },
    Tcp {
        src: usize,
        dst: usize,
        sport: usize,
        dport: usize,
        flags: usize,
        seq: usize,
        ack: usize,
        len: u8,
    },
    Icmp {
        src: usize,
        dst: usize,
        ty: usize,
        id: u8,
    },
    Generic {
        src: usize,
        dst: usize,
        proto: u8,
    },
    UdpLite {
        src: usize,
        dst: usize,
        sport: usize,
        dport: usize,
        cscov: usize,
    },
    Sctp {
        src: usize,
        dst: usize,
        sport: usize,
        dport: usize,
        vtag: usize,
        chunk: usize,
        tag: usize,
    },
    Dccp {
        src: usize,
        dst: usize,
        sport: usize,
        dport: usize,
        ty: u8,
        seq: u8,
        ack: u8,
    },
    Garbage(Vec<u8>),
}

/// SCTP tags (0 and two others, so tags match often) and chunk types.
const VTAGS: [u32; 3] = [0, 0x0101_0101, 0x0202_0202];
const CHUNKS: [u8; 12] = [1, 2, 10, 11, 0, 3, 4, 5, 6, 7, 8, 14];
const CSCOVS: [u16; 4] = [0, 8, 12, 7];

#[derive(Clone, Debug)]
enum Op {
    /// A packet that passes the filter.
    Send(Pkt),
    /// A packet tracked but not confirmed yet (held for `Release`).
    Hold(Pkt),
    /// Confirm (true) or discard (false) the oldest held packet.
    Release(bool),
    /// An ICMP error quoting packet `Pkt` sent by one of the hosts.
    Error { about: Pkt, from: usize, ty: usize },
    /// Time passes.
    Wait(u32),
    /// A garbage-collection run with this budget.
    Sweep(u16),
    /// Change the limit.
    SetMax(u8),
    /// Resize the whole table to this many buckets.
    Resize(u16),
    /// Give one stripe (modulo the count) a new array of this length.
    ResizeStripe(u16, u8),
    /// A packet tracked, then NATed (source NAT to the third address when
    /// true, else destination NAT to it; ports from a 2-port range when
    /// `range`), held for `Release` like `Hold`.
    HoldNat { p: Pkt, src: bool, range: bool },
}

fn idx(n: usize) -> impl Strategy<Value = usize> {
    0..n
}

/// An address or port index, mostly the first two (so flows repeat and
/// get replies), sometimes the third.
fn host() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0usize), 4 => Just(1usize), 1 => Just(2usize)]
}

fn pkt() -> BoxedStrategy<Pkt> {
    prop_oneof![
        4 => (host(), host(), host(), host()).prop_map(|(src, dst, sport, dport)| Pkt::Udp { src, dst, sport, dport }),
        4 => (host(), host(), host(), host(), idx(TCP_FLAGS.len()), idx(SEQS.len()), idx(SEQS.len()), 0u8..3)
            .prop_map(|(src, dst, sport, dport, flags, seq, ack, len)| Pkt::Tcp { src, dst, sport, dport, flags, seq, ack, len }),
        3 => (host(), host(), idx(ICMP_TYPES.len()), 0u8..2).prop_map(|(src, dst, ty, id)| Pkt::Icmp { src, dst, ty, id }),
        1 => (host(), host(), prop_oneof![Just(47u8), Just(50u8)]).prop_map(|(src, dst, proto)| Pkt::Generic { src, dst, proto }),
        1 => (host(), host(), host(), host(), idx(CSCOVS.len()))
            .prop_map(|(src, dst, sport, dport, cscov)| Pkt::UdpLite { src, dst, sport, dport, cscov }),
        1 => (host(), host(), host(), host(), idx(VTAGS.len()), idx(CHUNKS.len()), idx(VTAGS.len()))
            .prop_map(|(src, dst, sport, dport, vtag, chunk, tag)| Pkt::Sctp { src, dst, sport, dport, vtag, chunk, tag }),
        1 => (host(), host(), host(), host(), 0u8..10, 0u8..3, 0u8..3)
            .prop_map(|(src, dst, sport, dport, ty, seq, ack)| Pkt::Dccp { src, dst, sport, dport, ty, seq, ack }),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Pkt::Garbage),
        3 => (host(), host(), host(), host()).prop_map(|(src, dst, sport, dport)| Pkt::Udp6 { src, dst, sport, dport }),
        2 => (host(), host(), idx(ICMP6_TYPES.len()), 0u8..2).prop_map(|(src, dst, ty, id)| Pkt::Icmp6 { src, dst, ty, id }),
    ]
    .boxed()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => pkt().prop_map(Op::Send),
        2 => pkt().prop_map(Op::Hold),
        2 => any::<bool>().prop_map(Op::Release),
        2 => (pkt(), host(), idx(2)).prop_map(|(about, from, ty)| Op::Error { about, from, ty }),
        4 => prop_oneof![8 => 0u32..3000, 1 => 0u32..200_000].prop_map(Op::Wait),
        1 => (1u16..200).prop_map(Op::Sweep),
        1 => (0u8..12).prop_map(Op::SetMax),
        1 => prop_oneof![1u16..8, 8u16..300].prop_map(Op::Resize),
        1 => (any::<u16>(), 1u8..20).prop_map(|(s, n)| Op::ResizeStripe(s, n)),
        3 => (pkt(), any::<bool>(), any::<bool>()).prop_map(|(p, src, range)| Op::HoldNat { p, src, range }),
    ]
}

fn bytes(p: &Pkt) -> Vec<u8> {
    match *p {
        Pkt::Udp {
            src,
            dst,
            sport,
            dport,
        } => udp(ADDRS[src], PORTS[sport], ADDRS[dst], PORTS[dport], b"data"),
        Pkt::Tcp {
            src,
            dst,
            sport,
            dport,
            flags,
            seq,
            ack,
            len,
        } => {
            let mut s = Seg::new(TCP_FLAGS[flags], SEQS[seq], SEQS[ack]);
            s.len = usize::from(len) * 100;
            tcp(ADDRS[src], PORTS[sport], ADDRS[dst], PORTS[dport], s)
        }
        Pkt::Icmp { src, dst, ty, id } => {
            icmp_query(ADDRS[src], ADDRS[dst], ICMP_TYPES[ty], u16::from(id), 1)
        }
        Pkt::Generic { src, dst, proto } => other(ADDRS[src], ADDRS[dst], proto),
        Pkt::UdpLite { src, dst, sport, dport, cscov } => {
            udplite(ADDRS[src], PORTS[sport], ADDRS[dst], PORTS[dport], CSCOVS[cscov], b"data")
        }
        Pkt::Sctp { src, dst, sport, dport, vtag, chunk, tag } => {
            let ty = CHUNKS[chunk];
            let body = if matches!(ty, 1 | 2) { init_body(VTAGS[tag]) } else { Vec::new() };
            sctp(ADDRS[src], PORTS[sport], ADDRS[dst], PORTS[dport], VTAGS[vtag], &[(ty, (tag & 1) as u8, &body)])
        }
        Pkt::Dccp { src, dst, sport, dport, ty, seq, ack } => {
            dccp(ADDRS[src], PORTS[sport], ADDRS[dst], PORTS[dport], ty, u64::from(seq), u64::from(ack))
        }
        Pkt::Garbage(ref b) => b.clone(),
        Pkt::Udp6 { src, dst, sport, dport } => {
            common::ipv6::udp6(&ADDRS6[src], PORTS[sport], &ADDRS6[dst], PORTS[dport], b"data")
        }
        Pkt::Icmp6 { src, dst, ty, id } => {
            common::ipv6::echo6(&ADDRS6[src], &ADDRS6[dst], ICMP6_TYPES[ty], u16::from(id), 1)
        }
    }
}

struct World {
    t: Tracker,
    now: u64,
    held: Vec<Attached>,
}

impl World {
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Send(p) => {
                let v = self.t.packet(&bytes(p), self.now);
                self.check_verdict(v);
            }
            Op::Hold(p) => match self.t.track(&bytes(p), self.now) {
                Tracked::Attached(a) if a.unconfirmed => self.held.push(a),
                _ => {}
            },
            Op::HoldNat { p, src, range } => {
                if let Tracked::Attached(a) = self.t.track(&bytes(p), self.now) {
                    if a.unconfirmed {
                        let manip = if *src { Manip::Src } else { Manip::Dst };
                        let mut r = Range { flags: flags::MAP_IPS, min_addr: ADDRS[2], max_addr: ADDRS[2], ..Range::default() };
                        if *range {
                            r.flags |= flags::PROTO_SPECIFIED;
                            (r.min_proto, r.max_proto) = (PORTS[0], PORTS[0] + 1);
                        }
                        let mut seed = self.now as u16;
                        let mut random = || {
                            seed = seed.wrapping_mul(31421).wrapping_add(6927);
                            seed
                        };
                        assert!(self.t.nat_setup(&a, manip, &r, self.now, &mut random).is_ok());
                        self.held.push(a);
                    }
                }
            }
            Op::Release(confirm) => {
                if !self.held.is_empty() {
                    let a = self.held.remove(0);
                    if *confirm {
                        let v = self.t.confirm(a, self.now);
                        self.check_verdict(v);
                    } else {
                        self.t.discard(a);
                    }
                }
            }
            Op::Error { about, from, ty } if matches!(about, Pkt::Udp6 { .. } | Pkt::Icmp6 { .. }) => {
                // ICMPv6 destination unreachable or time exceeded, to the
                // quoted packet's source.
                let original = bytes(about);
                let to: common::ipv6::A6 = original[8..24].try_into().unwrap_or(ADDRS6[0]);
                let b = common::ipv6::error6(&ADDRS6[*from], &to, [1u8, 3][*ty], 0, &original);
                let v = self.t.packet(&b, self.now);
                self.check_verdict(v);
            }
            Op::Error { about, from, ty } => {
                let original = bytes(about);
                let b = icmp_error(
                    ADDRS[*from],
                    original
                        .get(12..16)
                        .map_or(CLIENT, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]])),
                    [3u8, 11][*ty],
                    0,
                    &original,
                );
                let v = self.t.packet(&b, self.now);
                self.check_verdict(v);
            }
            Op::Wait(ms) => self.now += u64::from(*ms),
            Op::Sweep(budget) => {
                let p = self.t.sweep(self.now, usize::from(*budget));
                assert!(p.visited <= usize::from(*budget));
            }
            Op::SetMax(m) => self.t.set_max(usize::from(*m).max(1)),
            Op::Resize(n) => {
                let linked = self.t.linked();
                self.t.resize(u32::from(*n));
                assert_eq!(self.t.linked(), linked);
                assert_eq!(self.t.buckets(), usize::from(*n).max(self.t.layout().stripes() as usize));
            }
            Op::ResizeStripe(s, n) => {
                let linked = self.t.linked();
                let s = u32::from(*s) % self.t.layout().stripes();
                self.t.resize_stripe(s, usize::from(*n));
                assert_eq!(self.t.linked(), linked);
            }
        }
    }

    fn check_verdict(&self, v: Verdict) {
        if let Verdict::Accept { entry, .. } = v {
            // Killed entries are freed at once on the host; others exist.
            if let Some(e) = self.t.entry(entry) {
                assert!(
                    e.status.has(Status::CONFIRMED) || self.held.iter().any(|a| a.entry == entry)
                );
            }
        }
    }

    fn check(&self, bound: usize) {
        let t = &self.t;
        let now = self.now;
        assert!(t.count() <= bound, "count {} > bound {}", t.count(), bound);
        let linked = t.linked_entries();
        assert_eq!(
            t.count(),
            linked.len() + self.held.len(),
            "leak or double free"
        );
        for a in &self.held {
            assert!(t
                .entry(a.entry)
                .is_some_and(|e| !e.status.has(Status::CONFIRMED)));
        }
        // Every linked NATed entry has its reply node linked, and no other
        // node is: none outlives its entry.
        let mut nodes = t.reply_nodes();
        nodes.sort();
        let mut nated: Vec<(u32, [u64; 2])> = linked
            .iter()
            .filter(|(_, e)| e.status.has_any(Status::NAT_MASK))
            .map(|(r, _)| (*r, t.reply_of(*r).expect("linked").key()))
            .collect();
        nated.sort();
        assert_eq!(nodes, nated, "reply nodes and NATed entries");
        let snated = linked.iter().filter(|(_, e)| e.status.has(Status::SRC_NAT)).count();
        assert_eq!(t.source_nodes(), snated, "source nodes and source-NATed entries");
        for (r, e) in &linked {
            assert!(e.status.has(Status::CONFIRMED));
            let reply = t.reply_of(*r).expect("linked");
            let orig = t.orig_of(*r).expect("linked");
            if !e.expired(now) {
                check_found(t, e, &orig, &reply, now);
            }
            // Looking an expired entry's tuples up never yields an expired entry.
            for tuple in [orig, reply] {
                if let Some((found, _)) = t.lookup(&tuple, now) {
                    assert!(!found.expired(now));
                }
            }
        }
        // /proc/net/ip_conntrack shows the IPv4 entries.
        let live: Vec<_> = t.entries(now).into_iter().filter(|(_, e)| !e.is_v6()).collect();
        let lines = t.dump(now);
        assert_eq!(lines.len(), live.len());
        for ((r, e), line) in live.iter().zip(&lines) {
            assert!(!e.expired(now));
            check_line(e, &t.reply_of(*r).expect("live"), line, now);
        }
    }
}

fn check_found(t: &Tracker, e: &Entry, orig: &Tuple, reply: &Tuple, now: u64) {
    let (o, d) = t
        .lookup(orig, now)
        .expect("live entry not found by its original tuple");
    assert_eq!((o, d), (*e, Dir::Original));
    let (r, d) = t
        .lookup(reply, now)
        .expect("live entry not found by its reply tuple");
    // A flow whose tuple is its own inverse (same address and port on both
    // ends) matches as original.
    let want = if reply == orig {
        Dir::Original
    } else {
        Dir::Reply
    };
    assert_eq!((r, d), (*e, want));
}

fn check_line(e: &Entry, reply: &Tuple, line: &str, now: u64) {
    let p = parse_line(line).unwrap_or_else(|| panic!("unparsable line {line:?}"));
    assert_eq!(p.proto, e.orig().proto);
    assert_eq!(p.orig, e.orig());
    assert_eq!(p.reply, *reply);
    assert_eq!(p.unreplied, !e.status.has(Status::SEEN_REPLY));
    assert_eq!(p.assured, e.status.has(Status::ASSURED));
    assert_eq!(p.seconds, e.seconds_left(now));
    match e.proto {
        ProtoState::Tcp(tcp) => assert_eq!(p.state, Some(tcp.state().name())),
        ProtoState::Sctp(s) => assert_eq!(p.state, Some(s.state().name())),
        ProtoState::Dccp(d) => assert_eq!(p.state, Some(d.state().name())),
        _ => assert_eq!(p.state, None),
    }
}

fn run(buckets: u32, max: usize, ops: &[Op]) {
    let mut w = World {
        t: tracker(buckets, max),
        now: 0,
        held: Vec::new(),
    };
    // 0: no limit.
    let mut cur_max = if max == 0 { usize::MAX } else { max };
    for op in ops {
        let before = w.t.count();
        w.apply(op);
        if let Op::SetMax(m) = op {
            cur_max = usize::from(*m).max(1);
        }
        // Lowering the limit below the count is allowed: then the count
        // must not grow.
        w.check(cur_max.max(before));
    }
    // Everything expires eventually and one full pass collects it all.
    w.now += 10 * 86_400_000;
    for a in std::mem::take(&mut w.held) {
        w.t.discard(a);
    }
    loop {
        if w.t.sweep(w.now, 64).pass_done {
            break;
        }
    }
    w.t.sweep(w.now, usize::MAX);
    assert_eq!(w.t.count(), 0);
    assert!(w.t.reply_nodes().is_empty(), "a reply node outlived its entry");
    assert_eq!(w.t.source_nodes(), 0, "a source node outlived its entry");
    assert!(w.t.dump(w.now).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_invariants(
        buckets in prop_oneof![Just(1u32), Just(4u32), Just(64u32)],
        max in prop_oneof![1usize..8, 8usize..64, Just(0usize)],
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        run(buckets, max, &ops);
    }
}

/// What happens between two steps of a dump.
#[derive(Clone, Debug)]
enum DumpOp {
    /// One step of the dump.
    Step,
    /// Resize the table.
    Resize(u16),
    /// Resize one stripe only (a resize in progress).
    ResizeStripe(u16, u8),
    /// A new flow joins.
    Add(u16),
}

fn dump_op() -> impl Strategy<Value = DumpOp> {
    prop_oneof![
        6 => Just(DumpOp::Step),
        1 => prop_oneof![1u16..16, 16u16..600].prop_map(DumpOp::Resize),
        1 => (any::<u16>(), 1u8..40).prop_map(|(s, n)| DumpOp::ResizeStripe(s, n)),
        2 => any::<u16>().prop_map(DumpOp::Add),
    ]
}

/// The source port of a flow of the dump test.
fn sport(e: &Entry) -> u16 {
    match e.orig().l4 {
        ip_conntrack::tuple::L4::Ports { sport, .. } => sport,
        _ => 0,
    }
}

/// How a dump of the test reads the table.
#[derive(Clone, Copy, Debug)]
enum Reader {
    /// `/proc`: one bucket per step.
    Proc,
    /// Netlink: rounds into a buffer of this many bytes.
    Netlink(usize),
}

/// Bytes a netlink round of the test spends per entry: its source port,
/// padded.
const RECORD: usize = 40;

fn run_dump(buckets: u32, flows: u16, ops: &[DumpOp], reader: Reader) {
    use ip_conntrack::netlink::attr::Writer;
    use ip_conntrack::netlink::dump::Cursor;
    let mut t = tracker(buckets, 0);
    for p in 0..flows {
        t.packet(&udp(CLIENT, 1000 + p, SERVER, 53, b"q"), 0);
    }
    // (A chain takes at most MAX_CHAIN_LEN entries: count what got in.)
    let mut present: Vec<u16> = t.entries(0).iter().map(|(_, e)| sport(e)).collect();
    present.sort_unstable();
    let mut listed = Vec::new();
    let mut at = Some(ip_conntrack::table::DumpPos::default());
    let mut cursor = Cursor::default();
    let mut more = true;
    let mut ops = ops.iter().chain(std::iter::repeat(&DumpOp::Step));
    while at.is_some() && more {
        match ops.next() {
            Some(DumpOp::Resize(n)) => t.resize(u32::from(*n)),
            Some(DumpOp::ResizeStripe(s, n)) => {
                let s = u32::from(*s) % t.layout().stripes();
                t.resize_stripe(s, usize::from(*n));
            }
            Some(DumpOp::Add(p)) => {
                t.packet(&udp(CLIENT, 30_000 + *p % 30_000, SERVER, 53, b"q"), 0);
            }
            _ => match reader {
                Reader::Proc => {
                    at = at.and_then(|pos| t.dump_step(pos, 0)).map(|(entries, next)| {
                        listed.extend(entries.iter().map(sport));
                        next
                    });
                }
                Reader::Netlink(size) => {
                    let mut buf = vec![0u8; size];
                    let mut w = Writer::new(&mut buf);
                    more = t.dump_round(&mut w, &mut cursor, 0, |w, e| {
                        let mut rec = [0u8; RECORD];
                        rec[..2].copy_from_slice(&sport(e).to_be_bytes());
                        w.raw(&rec).is_ok()
                    });
                    let got = w.bytes().chunks(RECORD).map(|c| u16::from_be_bytes([c[0], c[1]]));
                    listed.extend(got);
                }
            },
        }
    }
    let n = listed.len();
    listed.sort_unstable();
    listed.dedup();
    assert_eq!(listed.len(), n, "an entry was listed twice");
    let stable: Vec<u16> = listed.iter().copied().filter(|p| *p < 30_000).collect();
    assert_eq!(stable, present, "an entry was missed");
    assert!(present.len() >= usize::from(flows.min(64)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn dumps_list_each_entry_once_across_resizes(
        buckets in prop_oneof![Just(1u32), Just(7u32), Just(64u32), Just(500u32)],
        flows in 0u16..300,
        ops in proptest::collection::vec(dump_op(), 0..200),
    ) {
        run_dump(buckets, flows, &ops, Reader::Proc);
    }

    #[test]
    fn netlink_dumps_list_each_entry_once_across_resizes(
        buckets in prop_oneof![Just(1u32), Just(7u32), Just(64u32), Just(500u32)],
        flows in 0u16..300,
        records in 1usize..40,
        ops in proptest::collection::vec(dump_op(), 0..200),
    ) {
        run_dump(buckets, flows, &ops, Reader::Netlink(records * RECORD + RECORD / 2));
    }
}

#[test]
fn tuples_of_one_flow_share_a_bucket() {
    let t = tracker(1024, 0);
    let layout = t.layout();
    let key = ip_conntrack::hash::HashKey::new(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
    for (src, dst) in [(CLIENT, SERVER), (SERVER, ROUTER)] {
        for port in 0..200u16 {
            let a: Tuple = udp_tuple(src, port, dst, 53);
            let b = a.invert().unwrap();
            assert_eq!(
                layout.locate(a.flow_hash(&key)),
                layout.locate(b.flow_hash(&key))
            );
        }
    }
}

// ------------------------------------------------------------------
// A reference model of Linux 6.12's UDP, ICMP-query and generic rules,
// written independently of the engine, compared packet by packet (no
// limit, so no early drop; every packet passes the filter).

#[derive(Clone, Debug)]
enum Simple {
    Udp {
        src: usize,
        dst: usize,
        sport: usize,
        dport: usize,
    },
    Icmp {
        src: usize,
        dst: usize,
        ty: usize,
        id: u8,
    },
    Generic {
        src: usize,
        dst: usize,
    },
}

#[derive(Clone, Debug)]
enum ModelOp {
    Send(Simple),
    /// The previous packet again, or its answer (so that flows get
    /// replies and become streams).
    Again {
        reverse: bool,
    },
    Wait(u32),
    Sweep(u16),
}

fn simple() -> impl Strategy<Value = Simple> {
    prop_oneof![
        3 => (host(), host(), host(), host())
            .prop_map(|(src, dst, sport, dport)| Simple::Udp { src, dst, sport, dport }),
        2 => (host(), host(), idx(5), 0u8..2).prop_map(|(src, dst, ty, id)| Simple::Icmp { src, dst, ty, id }),
        1 => (host(), host()).prop_map(|(src, dst)| Simple::Generic { src, dst }),
    ]
}

fn model_op() -> impl Strategy<Value = ModelOp> {
    prop_oneof![
        6 => simple().prop_map(ModelOp::Send),
        4 => any::<bool>().prop_map(|reverse| ModelOp::Again { reverse }),
        // Exact steps hit the 2 s and timeout boundaries.
        4 => prop_oneof![
            6 => 0u32..2500,
            2 => prop_oneof![Just(500u32), Just(1000), Just(2000), Just(30_000), Just(120_000)],
            1 => 0u32..150_000
        ]
        .prop_map(ModelOp::Wait),
        1 => (1u16..50).prop_map(ModelOp::Sweep),
    ]
}

const MODEL_ICMP: [u8; 5] = [8, 0, 13, 14, 9];

#[derive(Clone, Copy, Debug)]
struct ModelEntry {
    orig: Tuple,
    seen_reply: bool,
    assured: bool,
    deadline: u64,
    stream_ts: u64,
}

fn simple_packet(p: &Simple) -> (Tuple, Vec<u8>) {
    use ip_conntrack::tuple::{proto, L4};
    match *p {
        Simple::Udp {
            src,
            dst,
            sport,
            dport,
        } => (
            udp_tuple(ADDRS[src], PORTS[sport], ADDRS[dst], PORTS[dport]),
            udp(ADDRS[src], PORTS[sport], ADDRS[dst], PORTS[dport], b"m"),
        ),
        Simple::Icmp { src, dst, ty, id } => (
            Tuple {
                src: ip_conntrack::tuple::Addr::V4(ADDRS[src]),
                dst: ip_conntrack::tuple::Addr::V4(ADDRS[dst]),
                proto: proto::ICMP,
                l4: L4::Icmp {
                    ty: MODEL_ICMP[ty],
                    code: 0,
                    id: u16::from(id),
                },
            },
            icmp_query(ADDRS[src], ADDRS[dst], MODEL_ICMP[ty], u16::from(id), 1),
        ),
        Simple::Generic { src, dst } => (
            Tuple {
                src: ip_conntrack::tuple::Addr::V4(ADDRS[src]),
                dst: ip_conntrack::tuple::Addr::V4(ADDRS[dst]),
                proto: 47,
                l4: L4::None,
            },
            other(ADDRS[src], ADDRS[dst], 47),
        ),
    }
}

/// What Linux does with packet `t` at `now`; the model's own rules.
fn model_step(
    model: &mut Vec<ModelEntry>,
    t: Tuple,
    now: u64,
) -> Result<ip_conntrack::ctinfo::CtInfo, ip_conntrack::invalid::Invalid> {
    use ip_conntrack::ctinfo::CtInfo;
    use ip_conntrack::invalid::Invalid;
    use ip_conntrack::tuple::{proto, L4};
    let secs = |n: u64| n * 1000;
    let found = model
        .iter_mut()
        .find(|e| now < e.deadline && (e.orig == t || e.orig.invert() == Some(t)));
    if let Some(e) = found {
        // A self-inverse tuple matches as original.
        let reply = e.orig != t;
        let ctinfo = match (reply, e.seen_reply) {
            (true, _) => CtInfo::EstablishedReply,
            (false, true) => CtInfo::Established,
            (false, false) => CtInfo::New,
        };
        e.deadline = match t.proto {
            proto::UDP if !e.seen_reply => now + secs(30),
            proto::UDP if now > e.stream_ts => {
                e.assured = true;
                now + secs(120)
            }
            proto::UDP => now + secs(30),
            proto::ICMP => now + secs(30),
            _ => now + secs(600),
        };
        if reply {
            e.seen_reply = true;
        }
        return Ok(ctinfo);
    }
    let timeout = match (t.proto, t.l4) {
        (proto::UDP, _) => secs(30),
        (proto::ICMP, L4::Icmp { ty: 8 | 13, .. }) => secs(30),
        (proto::ICMP, L4::Icmp { ty: 0 | 14, .. }) => return Err(Invalid::IcmpNoQuery),
        (proto::ICMP, _) => return Err(Invalid::IcmpNotNew),
        _ => secs(600),
    };
    model.retain(|e| now < e.deadline);
    model.push(ModelEntry {
        orig: t,
        seen_reply: false,
        assured: false,
        deadline: now + timeout,
        stream_ts: now + 2000,
    });
    Ok(CtInfo::New)
}

/// The answer to `p`: endpoints swapped, ICMP request type to reply type.
fn reversed(p: &Simple) -> Simple {
    match *p {
        Simple::Udp {
            src,
            dst,
            sport,
            dport,
        } => Simple::Udp {
            src: dst,
            dst: src,
            sport: dport,
            dport: sport,
        },
        // MODEL_ICMP pairs 8/0 and 13/14 at 0/1 and 2/3.
        Simple::Icmp { src, dst, ty, id } => Simple::Icmp {
            src: dst,
            dst: src,
            ty: if ty < 4 { ty ^ 1 } else { ty },
            id,
        },
        Simple::Generic { src, dst } => Simple::Generic { src: dst, dst: src },
    }
}

fn run_model(ops: &[ModelOp]) {
    let mut t = tracker(16, 0);
    let mut model: Vec<ModelEntry> = Vec::new();
    let mut now = 0u64;
    let mut last: Option<Simple> = None;
    for op in ops {
        let send = match op {
            ModelOp::Send(p) => Some(p.clone()),
            ModelOp::Again { reverse } => last
                .clone()
                .map(|p| if *reverse { reversed(&p) } else { p }),
            _ => None,
        };
        match (op, send) {
            (_, Some(p)) => {
                last = Some(p.clone());
                let p = &p;
                let (tuple, b) = simple_packet(p);
                let want = model_step(&mut model, tuple, now);
                let got = match t.packet(&b, now) {
                    Verdict::Accept { ctinfo, .. } => Ok(ctinfo),
                    Verdict::Invalid(why) => Err(why),
                    other => panic!("dropped without a limit: {other:?}"),
                };
                assert_eq!(got, want, "packet {p:?} at {now}");
            }
            (ModelOp::Wait(ms), None) => now += u64::from(*ms),
            (ModelOp::Sweep(b), None) => {
                t.sweep(now, usize::from(*b));
            }
            (_, None) => {}
        }
        let live: Vec<&ModelEntry> = model.iter().filter(|e| now < e.deadline).collect();
        assert_eq!(t.entries(now).len(), live.len(), "live entries at {now}");
        for e in live {
            let (got, dir) = t.lookup(&e.orig, now).expect("model entry missing");
            assert_eq!(dir, Dir::Original);
            assert_eq!(got.deadline, e.deadline, "deadline of {:?}", e.orig);
            assert_eq!(got.status.has(Status::SEEN_REPLY), e.seen_reply);
            assert_eq!(got.status.has(Status::ASSURED), e.assured);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn udp_icmp_generic_follow_the_reference_model(ops in proptest::collection::vec(model_op(), 1..150)) {
        run_model(&ops);
    }
}
