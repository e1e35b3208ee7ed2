//! The per-packet driver (`ip_conntrack::driver`) under a shell that
//! behaves as the kernel's can and the single-threaded host tracker's
//! cannot: a count slot freed by an eviction taken by another CPU before
//! this packet reserves it, a clone of the packet
//! confirming the entry first, a confirmation given the wrong stripe.

mod common;

use common::*;
use ip_conntrack::config::Config;
use ip_conntrack::ctinfo::CtInfo;
use ip_conntrack::driver::{self, Confirmed, DropReason, Shell, Tracked};
use ip_conntrack::entry::{Entry, Status};
use ip_conntrack::hash::HashKey;
use ip_conntrack::host::{Ref, VecStore};
use ip_conntrack::nat::carried::Hashed;
use ip_conntrack::packet::{parse, Packet};
use ip_conntrack::stats::Stats;
use ip_conntrack::table::{Layout, Store, Stripe};

/// A table like the kernel's, with knobs for what other CPUs do.
struct Racy {
    layout: Layout,
    key: HashKey,
    buckets: Vec<Option<Ref>>,
    store: VecStore,
    count: usize,
    max: usize,
    /// Reservations that fail although a slot is free (another CPU took
    /// it first).
    stolen: usize,
    /// Entries released by the driver (table references put).
    released: Vec<Ref>,
    /// Of those, the ones the packet in hand killed, with their status
    /// when released.
    killed: Vec<(Ref, Status)>,
}

impl Racy {
    fn new(max: usize) -> Racy {
        // One stripe of 4 buckets: early drop (which looks at the buckets
        // near the new flow's, within its stripe) sees every entry.
        let layout = Layout::new(4, 1).expect("a valid layout");
        Racy {
            layout,
            key: HashKey::new(7, 9),
            buckets: vec![None; layout.buckets() as usize],
            store: VecStore::default(),
            count: 0,
            max,
            stolen: 0,
            released: Vec::new(),
            killed: Vec::new(),
        }
    }

    fn entry(&self, r: Ref) -> Option<&Entry> {
        self.store.entry(r)
    }
}

impl Shell for Racy {
    type Ref = Ref;
    type Held = Ref;
    type Store<'l> = VecStore;

    fn layout(&self) -> Layout {
        self.layout
    }

    fn key(&self) -> HashKey {
        self.key
    }

    fn with_stripe<R>(
        &mut self,
        s: u32,
        f: impl for<'a, 'l> FnOnce(&mut Stripe<'a, VecStore>) -> R,
    ) -> Option<R> {
        let range = self.layout.range(s);
        let buckets = self.buckets.get_mut(range)?;
        Some(f(&mut Stripe::new(buckets, &mut self.store)))
    }

    fn hold(_: &VecStore, r: Ref) -> Ref {
        r
    }

    fn stripe_of(&self, _: Ref) -> Option<u32> {
        Some(0)
    }

    fn held_ref(held: &Ref) -> Ref {
        *held
    }

    fn nat_reply(&self, r: Ref) -> Option<Hashed> {
        self.store.reply_key(r).map(|k| Hashed::flow(k, &self.key()))
    }

    fn src_nat_orig(&self, _: Ref) -> Option<Hashed> {
        None
    }

    fn linked(_: &VecStore, _: Ref) {}

    fn closing(_: &VecStore) -> bool {
        false
    }

    fn reserve(&mut self) -> bool {
        if self.count >= self.max {
            return false;
        }
        if self.stolen > 0 {
            // Another CPU's new flow takes the free slot.
            self.stolen -= 1;
            self.count += 1;
            return false;
        }
        self.count += 1;
        true
    }

    fn alloc(&mut self, _: u32, e: Entry, addrs6: Option<[u64; 4]>, _: Option<u64>) -> Option<Ref> {
        Some(self.store.alloc6(e, addrs6))
    }

    fn release(&mut self, r: Ref) {
        self.released.push(r);
        if self.store.release(r) {
            self.count -= 1;
        }
    }

    fn release_killed(&mut self, r: Ref, held: &mut Ref) {
        assert_eq!(*held, r, "the packet holds the entry it killed");
        if let Some(e) = self.store.entry(r) {
            self.killed.push((r, e.status));
        }
        self.release(r);
    }
}

fn pkt(bytes: &[u8]) -> Packet {
    parse(bytes, bytes.len()).expect("a well-formed test packet")
}

/// Tracks and confirms one packet; the attached entry.
fn pass(t: &mut Racy, bytes: &[u8], now: u64, stats: &mut Stats) -> (Ref, CtInfo) {
    let cfg = Config::DEFAULT;
    let Tracked::Attach(r, ctinfo) = driver::track(t, &pkt(bytes), now, &cfg, stats) else {
        panic!("packet not tracked");
    };
    if ctinfo == CtInfo::New && !t.entry(r).unwrap().status.has(Status::CONFIRMED) {
        let s = t.layout.locate(t.entry(r).unwrap().orig().flow_hash(&t.key)).0;
        assert_eq!(driver::confirm(t, s, r, now, stats), Confirmed::Inserted);
    }
    (r, ctinfo)
}

/// A table of `max` unreplied UDP flows (all early-droppable).
fn full(max: usize) -> (Racy, Stats) {
    let mut t = Racy::new(max);
    let mut stats = Stats::default();
    for p in 0..max as u16 {
        pass(&mut t, &udp(CLIENT, 1000 + p, SERVER, 53, b""), 0, &mut stats);
    }
    assert_eq!(t.count, max);
    (t, stats)
}

#[test]
fn an_evicted_slot_taken_by_another_cpu_costs_one_more_eviction() {
    let (mut t, mut stats) = full(8);
    t.stolen = 1;
    let cfg = Config::DEFAULT;
    let p = pkt(&udp(CLIENT, 9, SERVER, 53, b""));
    let got = driver::track(&mut t, &p, 1, &cfg, &mut stats);
    assert!(matches!(got, Tracked::Attach(_, CtInfo::New)), "{got:?}");
    // Two rounds of eviction: the first round's room went to the other
    // CPU, the second's to this flow. Each round evicts every unassured
    // entry of one bucket (6.12's `early_drop_list`), at least one.
    assert_eq!(stats.early_drop as usize, t.released.len());
    assert!(t.released.len() >= 2, "{} evicted", t.released.len());
    assert!(t.count <= t.max, "count {} above {}", t.count, t.max);
}

#[test]
fn one_early_drop_makes_room_for_the_next_new_flows_too() {
    let (mut t, mut stats) = full(8);
    let cfg = Config::DEFAULT;
    let p = pkt(&udp(CLIENT, 9, SERVER, 53, b""));
    assert!(matches!(driver::track(&mut t, &p, 1, &cfg, &mut stats), Tracked::Attach(_, CtInfo::New)));
    let evicted = t.released.len();
    assert!(evicted >= 2, "{evicted} evicted");
    assert_eq!(stats.early_drop as usize, evicted);
    // The bucket's other unassured entries went with the first: as many
    // new flows less one get in without another scan.
    for port in 0..evicted.saturating_sub(1) as u16 {
        let p = pkt(&udp(CLIENT, 20 + port, SERVER, 53, b""));
        assert!(matches!(driver::track(&mut t, &p, 2, &cfg, &mut stats), Tracked::Attach(_, CtInfo::New)));
    }
    assert_eq!(t.released.len(), evicted, "no further eviction");
    assert_eq!(t.count, t.max);
}

#[test]
fn a_flow_that_keeps_losing_its_slot_is_dropped_without_passing_the_limit() {
    let (mut t, mut stats) = full(8);
    t.stolen = 10;
    let cfg = Config::DEFAULT;
    let p = pkt(&udp(CLIENT, 9, SERVER, 53, b""));
    let got = driver::track(&mut t, &p, 1, &cfg, &mut stats);
    assert_eq!(got, Tracked::Drop(DropReason::TableFull));
    assert_eq!(stats.drop, 1);
    // The first round of eviction and two more, then it gives up.
    assert_eq!(stats.early_drop as usize, t.released.len());
    assert!(t.released.len() >= 3, "{} evicted", t.released.len());
    assert!(t.count <= t.max, "count {} above {}", t.count, t.max);
}

#[test]
fn a_table_of_assured_entries_drops_new_flows() {
    let mut t = Racy::new(2);
    let mut stats = Stats::default();
    for p in [1u16, 2] {
        // Reply seen, then a packet after the UDP stream delay: assured.
        pass(&mut t, &udp(CLIENT, p, SERVER, 53, b""), 0, &mut stats);
        pass(&mut t, &udp(SERVER, 53, CLIENT, p, b""), 10, &mut stats);
        pass(&mut t, &udp(CLIENT, p, SERVER, 53, b""), 3000, &mut stats);
    }
    let cfg = Config::DEFAULT;
    let p = pkt(&udp(CLIENT, 3, SERVER, 53, b""));
    assert_eq!(
        driver::track(&mut t, &p, 4000, &cfg, &mut stats),
        Tracked::Drop(DropReason::TableFull)
    );
    assert_eq!(stats.early_drop, 0);
    assert_eq!(t.count, 2);
}

#[test]
fn a_syn_on_time_wait_releases_the_old_entry_and_opens_a_new_one() {
    let mut t = Racy::new(16);
    let mut stats = Stats::default();
    let out = |f, seq, ack| tcp(CLIENT, 40000, SERVER, 80, Seg::new(f, seq, ack));
    let back = |f, seq, ack| tcp(SERVER, 80, CLIENT, 40000, Seg::new(f, seq, ack));
    pass(&mut t, &out(SYN, 100, 0), 0, &mut stats);
    pass(&mut t, &back(SYN | ACK, 500, 101), 1, &mut stats);
    pass(&mut t, &out(ACK, 101, 501), 2, &mut stats);
    pass(&mut t, &out(FIN | ACK, 101, 501), 3, &mut stats);
    pass(&mut t, &back(FIN | ACK, 501, 102), 4, &mut stats);
    let (old, _) = pass(&mut t, &out(ACK, 102, 502), 5, &mut stats);
    let (new, ctinfo) = pass(&mut t, &out(SYN, 90_000, 0), 6, &mut stats);
    assert_eq!(ctinfo, CtInfo::New);
    assert_eq!(t.released, vec![old]);
    assert_eq!(t.count, 1);
    assert!(t.entry(new).is_some());
}

#[test]
fn confirmation_checks_what_the_kernel_can_see() {
    let mut t = Racy::new(16);
    let mut stats = Stats::default();
    let cfg = Config::DEFAULT;
    let p = pkt(&udp(CLIENT, 7, SERVER, 53, b""));
    let Tracked::Attach(r, CtInfo::New) = driver::track(&mut t, &p, 0, &cfg, &mut stats) else {
        panic!("not a new entry");
    };
    let home = t.layout.locate(t.entry(r).unwrap().orig().flow_hash(&t.key)).0;
    // Given the wrong stripe (not the one it was allocated for): refused.
    assert_eq!(driver::confirm(&mut t, home + 1, r, 0, &mut stats), Confirmed::Failed);
    assert_eq!(driver::confirm(&mut t, home, r, 0, &mut stats), Confirmed::Inserted);
    // A clone of the packet confirming it again finds it confirmed.
    assert_eq!(driver::confirm(&mut t, home, r, 0, &mut stats), Confirmed::Already);
    assert_eq!(stats.insert, 1);
}

#[test]
fn an_rst_answering_the_syn_kills_the_entry_through_release_killed() {
    let mut t = Racy::new(16);
    let mut stats = Stats::default();
    let cfg = Config::DEFAULT;
    let (r, _) = pass(&mut t, &tcp(CLIENT, 40000, SERVER, 80, Seg::new(SYN, 100, 0)), 0, &mut stats);
    let p = pkt(&tcp(SERVER, 80, CLIENT, 40000, Seg::new(RST | ACK, 0, 101)));
    let got = driver::track(&mut t, &p, 1, &cfg, &mut stats);
    assert_eq!(got, Tracked::Attach(r, CtInfo::EstablishedReply));
    // Released once, as killed; the shell sees the status with this
    // packet's reply (the kernel shell reports it destroyed without).
    assert_eq!(t.released, vec![r]);
    assert_eq!(t.killed.len(), 1);
    assert!(t.killed.iter().all(|(k, st)| *k == r && st.has(Status::SEEN_REPLY)));
    assert_eq!(t.count, 0);
}
