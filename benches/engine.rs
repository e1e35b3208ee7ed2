//! Host benchmarks of the tracking engine (`cargo bench --features std`;
//! `scripts/bench-host.sh` records the results).
//!
//! - established: lookup + protocol update of packets of flows already in
//!   the table, in random flow order (TCP data/ACK alternating with window
//!   tracking; UDP), through the same `prepare` → hash → `process` path
//!   the kernel runs, on pre-parsed packets;
//! - new flow: `track` + `confirm` of flows not in the table;
//! - parse: `packet::parse` of a TCP segment, for the full per-packet cost;
//! - nat: `nat::rewrite::manip_packet` of a TCP segment (address, port and
//!   both checksums) and the same through `nat::fast::rewrite` (a bound
//!   connection's per-packet path), the per-packet cost NAT adds; and the tuple choice
//!   of a new masqueraded connection whose port is taken;
//! - memory per entry.
//!
//! One core, single-threaded; packets per second are per core. Set
//! `BENCH_CSV=path` to also write the rows as CSV, `BENCH_QUICK=1` for a
//! short run (1k and 100k only), `BENCH_ENTRIES=1000,...` and
//! `BENCH_PACKETS=N` for other sizes and counts, `BENCH_ONLY=parse|tcp|udp|new|nat`
//! for one kind (callgrind runs, `scripts/profile-host.sh`).

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use ip_conntrack::config::{Config, Timeout};
use ip_conntrack::entry::Entry;
use ip_conntrack::hash::HashKey;
use ip_conntrack::host::{Tracked, Tracker};
use ip_conntrack::packet::{parse, L4Info, Packet, Segment, TcpFlags};
use ip_conntrack::tuple::{proto, Tuple, L4};

const CLIENT_NET: u32 = 0x0a00_0000;
const SERVER: u32 = 0xc633_6402;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Flow `i`: client 10.x.y.z:port -> SERVER:443.
fn client(i: u32) -> (u32, u16) {
    (CLIENT_NET | (i >> 8), 1024 + (i & 0xff) as u16)
}

#[allow(clippy::too_many_arguments)]
fn tcp_packet(
    src: u32,
    sport: u16,
    dst: u32,
    dport: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    len: u32,
    wscale: Option<u8>,
) -> Packet {
    let seg = Segment {
        seq,
        ack,
        window: 502,
        flags: TcpFlags(flags),
        payload_len: len,
        wscale,
        sack_perm: wscale.is_some(),
        sack_edge: None,
    };
    Packet {
        tuple: Tuple {
            src: ip_conntrack::tuple::Addr::V4(src),
            dst: ip_conntrack::tuple::Addr::V4(dst),
            proto: proto::TCP,
            l4: L4::Ports { sport, dport },
        },
        l4: L4Info::Tcp(seg),
        ip_len: (40 + len) as u16,
        l4_off: 20,
        quoted: None,
    }
}

fn udp_packet(src: u32, sport: u16, dst: u32, dport: u16) -> Packet {
    Packet {
        tuple: Tuple {
            src: ip_conntrack::tuple::Addr::V4(src),
            dst: ip_conntrack::tuple::Addr::V4(dst),
            proto: proto::UDP,
            l4: L4::Ports { sport, dport },
        },
        l4: L4Info::Udp,
        ip_len: 128,
        l4_off: 20,
        quoted: None,
    }
}

const CISN: u32 = 1_000_000;
const SISN: u32 = 7_000_000;
const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;

fn tracker(n: usize, load: usize) -> Tracker {
    let buckets = (n / load).max(1) as u32;
    let mut cfg = Config::DEFAULT;
    cfg.timeouts.set(Timeout::Udp, 400_000);
    cfg.timeouts.set(Timeout::UdpStream, 400_000);
    Tracker::new(buckets, 0, HashKey::new(0x1234_5678, 0x9abc_def0), cfg)
}

fn accept(t: &mut Tracker, p: &Packet, now: u64) {
    match t.track_packet(p, now) {
        Tracked::Attached(a) => {
            t.confirm(a, now);
        }
        other => panic!("setup packet not tracked: {other:?}"),
    }
}

/// A table of `n` established TCP flows (handshake done, ASSURED).
fn tcp_table(n: u32, load: usize) -> Tracker {
    let mut t = tracker(n as usize, load);
    for i in 0..n {
        let (c, cp) = client(i);
        accept(
            &mut t,
            &tcp_packet(c, cp, SERVER, 443, SYN, CISN, 0, 0, Some(7)),
            0,
        );
        accept(
            &mut t,
            &tcp_packet(SERVER, 443, c, cp, SYN | ACK, SISN, CISN + 1, 0, Some(7)),
            0,
        );
        accept(
            &mut t,
            &tcp_packet(c, cp, SERVER, 443, ACK, CISN + 1, SISN + 1, 0, None),
            0,
        );
    }
    assert_eq!(t.count(), n as usize);
    t
}

/// A table of `n` two-way UDP flows.
fn udp_table(n: u32, load: usize) -> Tracker {
    let mut t = tracker(n as usize, load);
    for i in 0..n {
        let (c, cp) = client(i);
        accept(&mut t, &udp_packet(c, cp, SERVER, 53), 0);
        accept(&mut t, &udp_packet(SERVER, 53, c, cp), 0);
    }
    t
}

/// Packets made ahead per timed run.
const CHUNK: usize = 1 << 16;

struct Row {
    name: String,
    entries: usize,
    buckets: u32,
    packets: u64,
    secs: f64,
}

impl Row {
    fn mpps(&self) -> f64 {
        self.packets as f64 / self.secs / 1e6
    }
    fn ns(&self) -> f64 {
        self.secs * 1e9 / self.packets as f64
    }
}

/// Established TCP: alternating client data (100 bytes) and server ACK.
/// Flows are picked at random, each for `burst` packets in a row (1: every
/// packet hits a random flow, the cache-cold worst case; 8: a flow sends a
/// few segments back to back, as real traffic does).
fn bench_tcp_established(n: u32, load: usize, burst: u64, packets: u64) -> Row {
    let mut t = tcp_table(n, load);
    let mut cseq = vec![CISN + 1; n as usize];
    let mut server_turn = vec![false; n as usize];
    let mut rng = Rng(42);
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut secs = 0.0;
    let mut k = 0u64;
    while k < packets {
        // Packets are made ahead (untimed), as a NIC would hand them over.
        chunk.clear();
        let mut f = 0usize;
        for j in 0..CHUNK as u64 {
            if (k + j).is_multiple_of(burst) {
                f = (rng.next() % u64::from(n)) as usize;
            }
            let (c, cp) = client(f as u32);
            let p = if server_turn[f] {
                tcp_packet(SERVER, 443, c, cp, ACK, SISN + 1, cseq[f], 0, None)
            } else {
                let p = tcp_packet(c, cp, SERVER, 443, ACK, cseq[f], SISN + 1, 100, None);
                cseq[f] = cseq[f].wrapping_add(100);
                p
            };
            server_turn[f] = !server_turn[f];
            chunk.push(p);
        }
        let start = Instant::now();
        for p in &chunk {
            let r = t.track_packet(black_box(p), 1000);
            debug_assert!(matches!(r, Tracked::Attached(_)), "{r:?}");
            black_box(r);
        }
        secs += start.elapsed().as_secs_f64();
        k += CHUNK as u64;
    }
    let packets = k;
    assert_eq!(t.stats().invalid, 0, "established packets turned INVALID");
    let name = format!("tcp established, burst {burst}");
    Row {
        name,
        entries: t.count(),
        buckets: t.layout().buckets(),
        packets,
        secs,
    }
}

/// Established UDP, both directions alternating; flows as for TCP.
fn bench_udp_established(n: u32, load: usize, burst: u64, packets: u64) -> Row {
    let mut t = udp_table(n, load);
    let mut rng = Rng(7);
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut secs = 0.0;
    let mut k = 0u64;
    while k < packets {
        chunk.clear();
        let mut f = 0u32;
        for j in 0..CHUNK as u64 {
            if (k + j).is_multiple_of(burst) {
                f = (rng.next() % u64::from(n)) as u32;
            }
            let (c, cp) = client(f);
            chunk.push(if j & 1 == 0 {
                udp_packet(c, cp, SERVER, 53)
            } else {
                udp_packet(SERVER, 53, c, cp)
            });
        }
        let start = Instant::now();
        for p in &chunk {
            black_box(t.track_packet(black_box(p), 5000));
        }
        secs += start.elapsed().as_secs_f64();
        k += CHUNK as u64;
    }
    let packets = k;
    let name = format!("udp established, burst {burst}");
    Row {
        name,
        entries: t.count(),
        buckets: t.layout().buckets(),
        packets,
        secs,
    }
}

/// New UDP flows (track + confirm) into a table of `n` flows, in rounds of
/// `n / 4` (at least 256) new flows that are then expired and swept
/// (untimed), so the table stays between n and 1.25 n.
fn bench_new_flows(n: u32, load: usize, total: u64) -> Row {
    let mut t = udp_table(n, load);
    let round = (n / 4).max(256);
    let mut now = 0u64;
    let mut next = n;
    let mut done = 0u64;
    let mut secs = 0.0;
    while done < total {
        t.config_mut().timeouts.set(Timeout::Udp, 1);
        let start = Instant::now();
        for _ in 0..round {
            let (c, cp) = client(next);
            next = next.wrapping_add(1) % 0x00ff_ffff;
            if next < n {
                next = n;
            }
            let p = udp_packet(c, cp, SERVER, 5353);
            if let Tracked::Attached(a) = t.track_packet(&p, now) {
                black_box(t.confirm(a, now));
            }
        }
        secs += start.elapsed().as_secs_f64();
        done += u64::from(round);
        now += 1001;
        t.config_mut().timeouts.set(Timeout::Udp, 400_000);
        t.sweep(now, usize::MAX);
        assert_eq!(t.count(), n as usize);
    }
    Row {
        name: "udp new flow (track+confirm)".into(),
        entries: n as usize,
        buckets: t.layout().buckets(),
        packets: done,
        secs,
    }
}

fn bench_parse(packets: u64) -> Row {
    // A 40-byte TCP/IP header plus 100 bytes of data, as on the wire.
    let mut b = vec![
        0x45, 0, 0, 140, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 198, 51, 100, 2,
    ];
    b.extend_from_slice(&[
        0x04, 0x00, 0x01, 0xbb, 0, 0x0f, 0x42, 0x41, 0, 0x6a, 0xcf, 0xc1, 0x50, 0x10, 0x01, 0xf6,
        0, 0, 0, 0,
    ]);
    b.resize(140, 0x61);
    let start = Instant::now();
    for _ in 0..packets {
        black_box(parse(black_box(&b), 140)).ok();
    }
    Row {
        name: "parse tcp segment".into(),
        entries: 0,
        buckets: 0,
        packets,
        secs: start.elapsed().as_secs_f64(),
    }
}

fn tcp_segment() -> Vec<u8> {
    let mut b = vec![0x45, 0, 0, 140, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 198, 51, 100, 2];
    b.extend_from_slice(&[
        0x04, 0x00, 0x01, 0xbb, 0, 0x0f, 0x42, 0x41, 0, 0x6a, 0xcf, 0xc1, 0x50, 0x10, 0x01, 0xf6, 0, 0, 0, 0,
    ]);
    b.resize(140, 0x61);
    b
}

fn bench_nat_rewrite(packets: u64) -> Row {
    use ip_conntrack::nat::{rewrite::manip_packet, Manip};
    let mut b = tcp_segment();
    let t = parse(&b, b.len()).expect("bench packet parses").tuple;
    // Alternate between two mappings so every call changes the bytes.
    let targets = [Tuple { src: ip_conntrack::tuple::Addr::V4(0xcb00_7101), l4: L4::Ports { sport: 61000, dport: 443 }, ..t }, t];
    let start = Instant::now();
    for i in 0..packets {
        let target = &targets[(i & 1) as usize];
        black_box(manip_packet(black_box(&mut b), 140, Manip::Src, target)).ok();
    }
    Row { name: "nat rewrite tcp segment".into(), entries: 0, buckets: 0, packets, secs: start.elapsed().as_secs_f64() }
}

/// [`bench_nat_rewrite`] through the per-packet path of a bound
/// connection (`nat::fast::rewrite`, its straight path).
fn bench_nat_fast(packets: u64) -> Row {
    use ip_conntrack::nat::{fast, Manip};
    let mut b = tcp_segment();
    let t = parse(&b, b.len()).expect("bench packet parses").tuple;
    let targets = [Tuple { src: ip_conntrack::tuple::Addr::V4(0xcb00_7101), l4: L4::Ports { sport: 61000, dport: 443 }, ..t }, t]
        .map(|t| fast::Target::of(&t, Manip::Src));
    let start = Instant::now();
    for i in 0..packets {
        let target = targets[(i & 1) as usize];
        black_box(fast::rewrite(black_box(&mut b), 140, Manip::Src, target, false)).ok();
    }
    Row { name: "nat rewrite tcp, straight path".into(), entries: 0, buckets: 0, packets, secs: start.elapsed().as_secs_f64() }
}

/// Reply tuples of `n` masqueraded flows, for the tuple choice.
struct Replies(std::collections::HashSet<Tuple>);

impl ip_conntrack::nat::unique::Clash for Replies {
    fn taken(&self, reply: &Tuple) -> bool {
        self.0.contains(reply)
    }
}

fn bench_nat_choice(n: u32, total: u64) -> Row {
    use ip_conntrack::nat::range::{flags, Range};
    use ip_conntrack::nat::unique::unique_tuple;
    use ip_conntrack::nat::Manip;
    const PUBLIC: u32 = 0xcb00_7101;
    let range = Range { flags: flags::MAP_IPS, min_addr: PUBLIC, max_addr: PUBLIC, ..Range::default() };
    // n flows already mapped to PUBLIC:1024.. towards SERVER:443.
    let taken: std::collections::HashSet<Tuple> = (0..n)
        .map(|i| Tuple {
            src: ip_conntrack::tuple::Addr::V4(SERVER),
            dst: ip_conntrack::tuple::Addr::V4(PUBLIC),
            proto: proto::TCP,
            l4: L4::Ports { sport: 443, dport: 1024 + (i % 64512) as u16 },
        })
        .collect();
    let table = Replies(taken);
    let mut r = Rng(7);
    let mut random = || (r.next() >> 48) as u16;
    let start = Instant::now();
    for i in 0..total {
        // A new client whose own port (1024 + i) is usually taken.
        let orig = Tuple {
            src: ip_conntrack::tuple::Addr::V4(CLIENT_NET | (i as u32 & 0xffff)),
            dst: ip_conntrack::tuple::Addr::V4(SERVER),
            proto: proto::TCP,
            l4: L4::Ports { sport: 1024 + (i % 64512) as u16, dport: 443 },
        };
        black_box(unique_tuple(&orig, &range, Manip::Src, &table, &mut random));
    }
    Row {
        name: "nat tuple choice (masquerade)".into(),
        entries: n as usize,
        buckets: 0,
        packets: total,
        secs: start.elapsed().as_secs_f64(),
    }
}

/// Nanoseconds per dependent random load over `mb` megabytes: the cost of
/// one cache miss on this machine, to read the table-size rows against.
fn load_latency(mb: usize) -> f64 {
    let lines = mb * 1024 * 1024 / 64;
    let mut next = vec![0usize; lines * 8];
    let mut perm: Vec<usize> = (0..lines).collect();
    let mut r = Rng(99);
    for i in (1..lines).rev() {
        perm.swap(i, (r.next() % (i as u64 + 1)) as usize);
    }
    for i in 0..lines {
        next[perm[i] * 8] = perm[(i + 1) % lines] * 8;
    }
    let steps = 2_000_000;
    let mut p = 0usize;
    let start = Instant::now();
    for _ in 0..steps {
        p = next[black_box(p)];
    }
    black_box(p);
    start.elapsed().as_secs_f64() * 1e9 / steps as f64
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let default_sizes: &[u32] = if quick {
        &[1_000, 100_000]
    } else {
        &[1_000, 100_000, 1_000_000]
    };
    // BENCH_ENTRIES (comma-separated table sizes) and BENCH_PACKETS (per
    // benchmark) make runs short enough for callgrind (scripts/profile-host.sh).
    let sizes: Vec<u32> = std::env::var("BENCH_ENTRIES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<u32>| !v.is_empty())
        .unwrap_or_else(|| default_sizes.to_vec());
    let per: u64 = std::env::var("BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 2_000_000 } else { 10_000_000 });
    // BENCH_ONLY=parse|tcp|udp|new: one kind of benchmark (callgrind).
    let only = std::env::var("BENCH_ONLY").ok().filter(|v| !v.is_empty());
    let want = |kind: &str| only.as_deref().is_none_or(|o| o == kind);
    let mut rows = Vec::new();
    if want("parse") {
        rows.push(bench_parse(per));
    }
    if want("nat") {
        rows.push(bench_nat_rewrite(per));
        rows.push(bench_nat_fast(per));
        rows.push(bench_nat_choice(10_000, per.min(500_000)));
    }
    for &n in &sizes {
        for burst in [1, 8] {
            if want("tcp") {
                rows.push(bench_tcp_established(n, 1, burst, per));
            }
            if want("udp") {
                rows.push(bench_udp_established(n, 1, burst, per));
            }
        }
        if want("new") {
            rows.push(bench_new_flows(
                n,
                1,
                per.min(if quick { 500_000 } else { 2_000_000 }),
            ));
        }
        eprintln!("{n} entries done");
    }
    // The classic 2.6 sizing: 8 entries per bucket.
    if want("tcp") && sizes.contains(&100_000) {
        rows.push(bench_tcp_established(100_000, 8, 1, per));
    }

    println!();
    println!(
        "{:<32} {:>9} {:>9} {:>10} {:>9}",
        "benchmark (one core)", "entries", "buckets", "Mpkt/s", "ns/pkt"
    );
    for r in &rows {
        println!(
            "{:<32} {:>9} {:>9} {:>10.2} {:>9.1}",
            r.name,
            r.entries,
            r.buckets,
            r.mpps(),
            r.ns()
        );
    }

    if only.is_none() {
        println!();
        println!(
            "random dependent load (one cache miss): {:.0} ns over 1 MB, {:.0} ns over 16 MB",
            load_latency(1),
            load_latency(16)
        );
    }

    let entry = std::mem::size_of::<Entry>();
    let link = std::mem::size_of::<usize>();
    let header = 32;
    println!();
    println!("memory per entry (kernel estimate):");
    println!("  engine Entry (tuple, status, deadline, protocol state)  {entry:>4} bytes");
    println!("  chain link (next pointer)                               {link:>4} bytes");
    println!("  kernel-facing header budget (refcount, status mirror)   {header:>4} bytes");
    println!(
        "  total                                                   {:>4} bytes",
        entry + link + header
    );
    println!("  (+ bucket heads: 8 bytes per bucket, 1 per entry at the classic 8 entries/bucket)");

    if let Some(path) = std::env::var_os("BENCH_CSV") {
        let mut f = std::fs::File::create(&path).expect("create CSV");
        writeln!(
            f,
            "benchmark,entries,buckets,packets,seconds,mpps,ns_per_packet"
        )
        .ok();
        for r in &rows {
            writeln!(
                f,
                "{},{},{},{},{:.6},{:.3},{:.2}",
                r.name,
                r.entries,
                r.buckets,
                r.packets,
                r.secs,
                r.mpps(),
                r.ns()
            )
            .ok();
        }
        writeln!(
            f,
            "# memory per entry: entry={entry} link={link} header={header} total={}",
            entry + link + header
        )
        .ok();
        eprintln!("wrote {}", path.to_string_lossy());
    }
}
