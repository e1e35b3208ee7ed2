//! Binding a new connection to its NAT tuples and deciding, per packet,
//! what the NAT hooks do: 6.12's `nf_nat_setup_info`,
//! `nf_nat_alloc_null_binding`, `nf_nat_inet_fn` and `nf_nat_packet`.
//!
//! A binding changes the entry's reply tuple, which lives in the entry's
//! reply node (the shell's; here an `Option<[u64; 2]>` key, `None` while
//! the reply is the inverse of the original tuple), and sets the
//! entry's `SRC_NAT`/`DST_NAT` and `*_NAT_DONE` status bits. Bindings are
//! made only before the entry is confirmed, under its stripe lock.

use crate::ctinfo::CtInfo;
use crate::entry::{Entry, Status};
use crate::nat::range::{flags, Range};
use crate::nat::unique::Clash;
use crate::nat::unique4::unique_tuple4;
use crate::nat::Manip;
use crate::tuple::{inverse_key4, Dir, Keys, Tuple};

/// The `*_NAT_DONE` bit of `manip`.
fn done_bit(manip: Manip) -> u32 {
    match manip {
        Manip::Src => Status::SRC_NAT_DONE,
        Manip::Dst => Status::DST_NAT_DONE,
    }
}

/// The `SRC_NAT`/`DST_NAT` bit of `manip`.
fn nat_bit(manip: Manip) -> u32 {
    match manip {
        Manip::Src => Status::SRC_NAT,
        Manip::Dst => Status::DST_NAT,
    }
}

/// The key NAT gave `e`'s reply tuple (its reply node's), if a binding
/// changed it ([`Entry::tuple_nat`]).
fn nat_key(e: &Entry, nat_reply: Option<[u64; 2]>) -> Option<[u64; 2]> {
    nat_reply.filter(|_| e.status.has_any(Status::NAT_MASK))
}

/// The key of `e`'s reply tuple ([`Entry::tuple_nat`]'s), computed on the
/// keys: no tuple is built.
fn reply_key(e: &Entry, nat_reply: Option<[u64; 2]>) -> [u64; 2] {
    nat_key(e, nat_reply).unwrap_or_else(|| Keys::of_key(e.key(), None).inv.unwrap_or(e.key()))
}

/// `nf_nat_initialized`: the binding for `manip` is decided.
pub fn initialized(e: &Entry, manip: Manip) -> bool {
    e.status.has(done_bit(manip))
}

/// Why a binding was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindError {
    /// The binding for this end is decided already (6.12 warns and drops).
    AlreadyBound,
}

/// `nf_nat_setup_info`: binds the end `manip` of the unconfirmed entry `e`
/// (whose reply node holds `nat_reply`) to a tuple chosen in `range`,
/// unique in `table`. A confirmed entry is left alone. `random` gives 16
/// random bits for the port search.
pub fn setup(
    e: &mut Entry,
    nat_reply: &mut Option<[u64; 2]>,
    manip: Manip,
    range: &Range,
    table: &impl Clash,
    random: &mut dyn FnMut() -> u16,
) -> Result<(), BindError> {
    // No IPv6 NAT (6.12's reference build has none): an IPv6 entry is
    // never bound.
    if e.status.has(Status::CONFIRMED) || e.is_v6() {
        return Ok(());
    }
    if initialized(e, manip) {
        return Err(BindError::AlreadyBound);
    }
    // What the packets look like so far: the inverse of the reply, which
    // an earlier binding (DNAT before SNAT) may have changed; without one,
    // the original tuple.
    // On the keys' words ([`unique_tuple4`]): the entry is IPv4.
    let curr = match nat_key(e, *nat_reply) {
        Some(k) => inverse_key4(k).unwrap_or(e.key()),
        None => e.key(),
    };
    let new = unique_tuple4(curr, range, manip, table, random);
    if new != curr {
        if let Some(r) = inverse_key4(new) {
            *nat_reply = Some(r);
            e.status.set(nat_bit(manip));
        }
    }
    e.status.set(done_bit(manip));
    Ok(())
}

/// `nf_nat_alloc_null_binding`'s range for hook `hooknum`: the address the
/// end keeps (the reply's destination for source NAT, its source for
/// destination NAT), any port. Through [`setup`] it still moves the port
/// when the tuple is taken, so an unNATed connection cannot clash with a
/// NATed one's mapping.
pub fn null_range(e: &Entry, nat_reply: Option<[u64; 2]>, manip: Manip) -> Range {
    // The reply key's address word is its source above its destination.
    let [addrs, _] = reply_key(e, nat_reply);
    let addr = match (e.is_v6(), manip) {
        (true, _) => 0,
        (false, Manip::Src) => u32::try_from(addrs & 0xffff_ffff).unwrap_or(0),
        (false, Manip::Dst) => u32::try_from(addrs >> 32).unwrap_or(0),
    };
    Range {
        flags: flags::MAP_IPS,
        min_addr: addr,
        max_addr: addr,
        ..Range::default()
    }
}

/// What a NAT hook does with a packet carrying an entry (`nf_nat_inet_fn`
/// before the rewrite).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookStep {
    /// The connection is new (or related) and unbound for this hook's
    /// end: run the nat lookups (the nat table's chain), then a null
    /// binding if none bound it, then [`rewrite_target`].
    Lookup(Manip),
    /// Just [`rewrite_target`].
    Rewrite,
    /// Not a hook NAT runs at (FORWARD).
    Nothing,
}

/// The step at hook `hooknum` for a packet with `ctinfo` on entry `e`.
pub fn hook_step(e: &Entry, ctinfo: CtInfo, hooknum: u32) -> HookStep {
    let Some(manip) = Manip::for_hook(hooknum) else {
        return HookStep::Nothing;
    };
    let fresh = matches!(ctinfo, CtInfo::New | CtInfo::Related | CtInfo::RelatedReply);
    if fresh && !initialized(e, manip) {
        HookStep::Lookup(manip)
    } else {
        HookStep::Rewrite
    }
}

/// `nf_nat_packet`: the tuple a packet of direction `dir` must carry after
/// hook `hooknum`'s rewrite of end `manip`, or `None` when this hook
/// changes nothing. The target is the inverse of the other direction's
/// tuple.
pub fn rewrite_target(e: &Entry, nat_reply: Option<[u64; 2]>, dir: Dir, hooknum: u32) -> Option<(Manip, Tuple)> {
    Binding::of(e, nat_reply).rewrite_target(dir, hooknum)
}

/// What the NAT hooks read of an entry: its NAT status bits and both
/// tuples' keys. Fixed once the entry is confirmed, so the shell keeps a
/// copy with a NATed entry's reply tuple and reads it without a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The `SRC_NAT`/`DST_NAT` and `*_NAT_DONE` bits.
    pub status: u32,
    /// The original tuple's key.
    pub orig: [u64; 2],
    /// The reply tuple's key.
    pub reply: [u64; 2],
}

impl Binding {
    /// The binding of `e`, whose reply tuple NAT made that of key
    /// `nat_reply` (if any).
    pub fn of(e: &Entry, nat_reply: Option<[u64; 2]>) -> Binding {
        Binding {
            status: e.status.0 & (Status::NAT_MASK | Status::SRC_NAT_DONE | Status::DST_NAT_DONE),
            orig: e.key(),
            reply: reply_key(e, nat_reply),
        }
    }

    /// Whether the end `manip` is bound ([`initialized`]).
    pub fn initialized(&self, manip: Manip) -> bool {
        self.status & done_bit(manip) != 0
    }

    /// The tuple of direction `dir`.
    pub fn tuple(&self, dir: Dir) -> Tuple {
        Tuple::from_key(self.key(dir))
    }

    /// The key of direction `dir`'s tuple.
    fn key(&self, dir: Dir) -> [u64; 2] {
        match dir {
            Dir::Original => self.orig,
            Dir::Reply => self.reply,
        }
    }

    /// [`rewrite_target`].
    pub fn rewrite_target(&self, dir: Dir, hooknum: u32) -> Option<(Manip, Tuple)> {
        let manip = Manip::for_hook(hooknum)?;
        if !self.rewrites(manip, dir) {
            return None;
        }
        Some((manip, self.target_tuple(dir)?))
    }

    /// Whether end `manip` of packets of direction `dir` is rewritten.
    #[inline]
    pub fn rewrites(&self, manip: Manip, dir: Dir) -> bool {
        // Source NAT rewrites sources in the original direction and
        // destinations in the reply direction, and the other way round.
        let bit = match (manip, dir) {
            (Manip::Src, Dir::Original) | (Manip::Dst, Dir::Reply) => Status::SRC_NAT,
            (Manip::Dst, Dir::Original) | (Manip::Src, Dir::Reply) => Status::DST_NAT,
        };
        self.status & bit != 0
    }

    /// What packets of direction `dir` become where rewritten: the
    /// inverse of the other direction's tuple.
    #[inline]
    pub fn target_tuple(&self, dir: Dir) -> Option<Tuple> {
        self.target_key(dir).map(Tuple::from_key)
    }

    /// The key of [`Binding::target_tuple`].
    #[inline]
    pub fn target_key(&self, dir: Dir) -> Option<[u64; 2]> {
        let other = match dir {
            Dir::Original => Dir::Reply,
            Dir::Reply => Dir::Original,
        };
        // Inverted on the key: NAT's tuples are IPv4.
        inverse_key4(self.key(other))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;
    use crate::nat::hook;
    use crate::nat::model::ModelTable;
    use crate::proto::ProtoState;
    use crate::tuple::{proto, L4};

    const LAN: u32 = 0xc000_0202; // 192.0.2.2
    const PUBLIC: u32 = 0xcb00_7101; // 203.0.113.1
    const SERVER: u32 = 0xcb00_7102; // 203.0.113.2

    fn udp(src: u32, sport: u16, dst: u32, dport: u16) -> Tuple {
        Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: proto::UDP, l4: L4::Ports { sport, dport } }
    }

    fn entry(orig: Tuple) -> Entry {
        Entry::new(orig, Status::default(), 30_000, ProtoState::Generic)
    }

    fn masq() -> Range {
        Range { flags: flags::MAP_IPS, min_addr: PUBLIC, max_addr: PUBLIC, ..Range::default() }
    }

    #[test]
    fn source_nat_changes_the_reply_and_keeps_a_free_port() {
        let mut e = entry(udp(LAN, 40000, SERVER, 53));
        let mut reply = None;
        let table = ModelTable::default();
        setup(&mut e, &mut reply, Manip::Src, &masq(), &table, &mut || 7).unwrap();
        assert_eq!(e.tuple_nat(Dir::Reply, reply), udp(SERVER, 53, PUBLIC, 40000));
        assert!(e.status.has(Status::SRC_NAT | Status::SRC_NAT_DONE));
        assert!(!e.status.has_any(Status::DST_NAT | Status::DST_NAT_DONE));
        assert_eq!(setup(&mut e, &mut reply, Manip::Src, &masq(), &table, &mut || 7), Err(BindError::AlreadyBound));
        // Packets: the original direction leaves with the public source,
        // replies come back to the LAN host.
        let (m, t) = rewrite_target(&e, reply, Dir::Original, hook::POST_ROUTING).unwrap();
        assert_eq!((m, t), (Manip::Src, udp(PUBLIC, 40000, SERVER, 53)));
        let (m, t) = rewrite_target(&e, reply, Dir::Reply, hook::PRE_ROUTING).unwrap();
        assert_eq!((m, t), (Manip::Dst, udp(SERVER, 53, LAN, 40000)));
        assert_eq!(rewrite_target(&e, reply, Dir::Original, hook::PRE_ROUTING), None);
        assert_eq!(rewrite_target(&e, reply, Dir::Reply, hook::POST_ROUTING), None);
    }

    #[test]
    fn a_taken_mapping_moves_the_port_and_null_bindings_too() {
        let mut table = ModelTable::default();
        // Another connection already answers to PUBLIC:40000.
        assert!(table.add(&udp(LAN + 5, 40000, SERVER, 53), &udp(PUBLIC, 40000, SERVER, 53)));
        let mut e = entry(udp(LAN, 40000, SERVER, 53));
        let mut reply = None;
        setup(&mut e, &mut reply, Manip::Src, &masq(), &table, &mut || 7).unwrap();
        let r = e.tuple_nat(Dir::Reply, reply);
        assert_eq!(r.dst, PUBLIC);
        assert_ne!(r, udp(SERVER, 53, PUBLIC, 40000));
        // The router's own flow with that tuple gets a null binding that
        // moves its port.
        let mut own = entry(udp(PUBLIC, 40000, SERVER, 53));
        let mut own_reply = None;
        let range = null_range(&own, own_reply, Manip::Src);
        setup(&mut own, &mut own_reply, Manip::Src, &range, &table, &mut || 7).unwrap();
        assert!(own.status.has(Status::SRC_NAT));
        assert_ne!(own.tuple_nat(Dir::Reply, own_reply), udp(SERVER, 53, PUBLIC, 40000));
        // A free tuple's null binding changes nothing.
        let mut free = entry(udp(PUBLIC, 40001, SERVER, 53));
        let mut free_reply = None;
        let range = null_range(&free, free_reply, Manip::Src);
        setup(&mut free, &mut free_reply, Manip::Src, &range, &table, &mut || 7).unwrap();
        assert_eq!(free_reply, None);
        assert!(free.status.has(Status::SRC_NAT_DONE) && !free.status.has(Status::SRC_NAT));
    }

    #[test]
    fn destination_then_source_nat_compose() {
        // Hairpin: a LAN host reaches the public address, DNATed to
        // another LAN host and SNATed to the router.
        let lan2 = LAN + 1;
        let mut e = entry(udp(LAN, 5000, PUBLIC, 8080));
        let mut reply = None;
        let table = ModelTable::default();
        let dnat = Range {
            flags: flags::MAP_IPS | flags::PROTO_SPECIFIED,
            min_addr: lan2,
            max_addr: lan2,
            min_proto: 80,
            max_proto: 80,
            base_proto: 0,
        };
        setup(&mut e, &mut reply, Manip::Dst, &dnat, &table, &mut || 7).unwrap();
        let snat = Range { flags: flags::MAP_IPS, min_addr: 0xc000_0201, max_addr: 0xc000_0201, ..Range::default() };
        setup(&mut e, &mut reply, Manip::Src, &snat, &table, &mut || 7).unwrap();
        assert_eq!(e.tuple_nat(Dir::Reply, reply), udp(lan2, 80, 0xc000_0201, 5000));
        // (Only the manip's end of a target is written.)
        assert_eq!(
            rewrite_target(&e, reply, Dir::Original, hook::PRE_ROUTING),
            Some((Manip::Dst, udp(0xc000_0201, 5000, lan2, 80)))
        );
        assert_eq!(
            rewrite_target(&e, reply, Dir::Original, hook::POST_ROUTING),
            Some((Manip::Src, udp(0xc000_0201, 5000, lan2, 80)))
        );
        assert_eq!(
            rewrite_target(&e, reply, Dir::Reply, hook::PRE_ROUTING),
            Some((Manip::Dst, udp(PUBLIC, 8080, LAN, 5000)))
        );
        assert_eq!(
            rewrite_target(&e, reply, Dir::Reply, hook::POST_ROUTING),
            Some((Manip::Src, udp(PUBLIC, 8080, LAN, 5000)))
        );
    }

    #[test]
    fn hooks_look_up_only_for_new_unbound_connections() {
        let mut e = entry(udp(LAN, 1, SERVER, 2));
        assert_eq!(hook_step(&e, CtInfo::New, hook::POST_ROUTING), HookStep::Lookup(Manip::Src));
        assert_eq!(hook_step(&e, CtInfo::Related, hook::PRE_ROUTING), HookStep::Lookup(Manip::Dst));
        assert_eq!(hook_step(&e, CtInfo::Established, hook::POST_ROUTING), HookStep::Rewrite);
        assert_eq!(hook_step(&e, CtInfo::New, hook::FORWARD), HookStep::Nothing);
        e.status.set(Status::SRC_NAT_DONE);
        assert_eq!(hook_step(&e, CtInfo::New, hook::POST_ROUTING), HookStep::Rewrite);
    }
}
