//! The per-packet rewrite of a bound connection: what each direction's
//! packets become at each end, computed once when the entry is bound
//! ([`targets`]), and a straight-line rewrite of the common packet (IPv4
//! without options, TCP or UDP, not a fragment): one incremental checksum
//! update per field, no plan. Every other packet takes the general path
//! ([`rewrite::manip_end`]), which writes the same bytes where both apply.

use crate::nat::bind::Binding;
use crate::nat::checksum::{replace2, replace4};
use crate::nat::rewrite::{self, NewEnd, RewriteError};
use crate::nat::Manip;
use crate::tuple::{proto, Dir, Tuple};

/// One end's new address and port (or ICMP id) with the protocol, packed
/// in 64 bits so that the shell keeps it in one atomic word: bits 0–31 the
/// address, 32–47 the key, 48–55 the protocol, bit 56 "has a key", bit 57
/// "present". 0 ([`Target::NONE`]): nothing to rewrite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Target(u64);

const HAS_KEY: u64 = 1 << 56;
const PRESENT: u64 = 1 << 57;

impl Target {
    /// Nothing to rewrite.
    pub const NONE: Target = Target(0);

    /// The target that makes end `new` of a packet of protocol `protocol`.
    pub(crate) fn new(protocol: u8, new: NewEnd) -> Target {
        let key = new.key.map_or(0, |k| (u64::from(k) << 32) | HAS_KEY);
        Target(PRESENT | (u64::from(protocol) << 48) | key | u64::from(new.addr))
    }

    /// The target that makes end `manip` of a packet carry `t`'s address
    /// and port or id there.
    pub fn of(t: &Tuple, manip: Manip) -> Target {
        Target::new(t.proto, NewEnd::of(t, manip))
    }

    /// [`Target::of`] the tuple of IPv4 key `key` (a [`Tuple::key`]),
    /// read from the key's words with no tuple decoded.
    #[inline]
    pub fn of_key4(key: [u64; 2], manip: Manip) -> Target {
        let [addrs, l4] = key;
        let bits = |at: u32, mask: u64| l4.checked_shr(at).unwrap_or(0) & mask;
        let protocol = u8::try_from(bits(40, 0xff)).unwrap_or(0);
        let half = |at: u32| u16::try_from(bits(at, 0xffff)).unwrap_or(0);
        let (addr, port_at) = match manip {
            Manip::Src => (addrs >> 32, 16),
            Manip::Dst => (addrs & 0xffff_ffff, 0),
        };
        // The key kinds of `Tuple::key`: 1 ports, 2 ICMP (the id low).
        let key = match (bits(32, 0xff), protocol) {
            (1, proto::TCP | proto::UDP | proto::UDPLITE | proto::DCCP) => Some(half(port_at)),
            (2, proto::ICMP) => Some(half(0)),
            _ => None,
        };
        Target::new(protocol, NewEnd { addr: u32::try_from(addr).unwrap_or(0), key })
    }

    /// The packed word (see the type).
    pub fn raw(self) -> u64 {
        self.0
    }

    /// A word from [`Target::raw`].
    pub fn from_raw(v: u64) -> Target {
        Target(v)
    }

    /// Whether there is something to rewrite.
    pub fn is_some(self) -> bool {
        self.0 & PRESENT != 0
    }

    fn addr(self) -> u32 {
        u32::try_from(self.0 & 0xffff_ffff).unwrap_or(0)
    }

    fn key(self) -> Option<u16> {
        (self.0 & HAS_KEY != 0).then_some(u16::try_from((self.0 >> 32) & 0xffff).unwrap_or(0))
    }

    fn protocol(self) -> u8 {
        u8::try_from((self.0 >> 48) & 0xff).unwrap_or(0)
    }

    fn end(self) -> NewEnd {
        NewEnd { addr: self.addr(), key: self.key() }
    }
}

/// The slot of [`targets`] for end `manip` of packets of direction `dir`.
pub fn slot(manip: Manip, dir: Dir) -> usize {
    match (manip, dir) {
        (Manip::Src, Dir::Original) => 0,
        (Manip::Src, Dir::Reply) => 1,
        (Manip::Dst, Dir::Original) => 2,
        (Manip::Dst, Dir::Reply) => 3,
    }
}

/// What `b`'s packets become, by [`slot`]: [`Binding::rewrite_target`]
/// for every end and direction, decoded once.
pub fn targets(b: &Binding) -> [Target; 4] {
    let mut out = [Target::NONE; 4];
    for dir in [Dir::Original, Dir::Reply] {
        let ends = [Manip::Src, Manip::Dst].map(|m| b.rewrites(m, dir));
        if ends == [false, false] {
            continue;
        }
        let Some(k) = b.target_key(dir) else { continue };
        for (manip, rewritten) in [Manip::Src, Manip::Dst].into_iter().zip(ends) {
            if let (true, Some(o)) = (rewritten, out.get_mut(slot(manip, dir))) {
                *o = Target::of_key4(k, manip);
            }
        }
    }
    out
}

/// Rewrites end `manip` of the packet whose first bytes are `head` (the
/// whole packet is `frame_len` bytes long) as `target` says, its layer-4
/// checksum left to the device when `partial` (`CHECKSUM_PARTIAL`):
/// [`rewrite::manip_packet_partial`]'s result with `target`'s end, by the
/// straight path when the packet allows. Whether the address changed; on
/// an error nothing is written.
pub fn rewrite(
    head: &mut [u8],
    frame_len: usize,
    manip: Manip,
    target: Target,
    partial: bool,
) -> Result<bool, RewriteError> {
    if let Some(changed) = straight(head, frame_len, manip, target, partial) {
        return Ok(changed);
    }
    rewrite::manip_end(head, frame_len, manip, target.protocol(), target.end(), partial)
}

/// The layer-4 checksum `check` after the address `old_addr` became
/// `new_addr` and the port `old_port` became `new_port` (`partial`: only
/// the pseudo-header sum, which follows the address alone).
#[inline(always)]
fn l4_sum(check: u16, old_addr: u32, new_addr: u32, old_port: u16, new_port: u16, partial: bool) -> u16 {
    if partial {
        !replace4(!check, old_addr, new_addr)
    } else {
        replace2(replace4(check, old_addr, new_addr), old_port, new_port)
    }
}

/// The straight path of [`rewrite`]; `None` (nothing written) for any
/// packet it does not take: IP options, a fragment, another protocol
/// than the target's or than TCP and UDP, a TCP header shorter than 20
/// bytes, lengths the general path checks further.
fn straight(head: &mut [u8], frame_len: usize, manip: Manip, target: Target, partial: bool) -> Option<bool> {
    let key = target.key()?;
    let new_addr = target.addr();
    let (ip, rest) = head.split_first_chunk_mut::<20>()?;
    let (fixed, addrs) = ip.split_first_chunk_mut::<12>()?;
    let (src, dst) = addrs.split_first_chunk_mut::<4>()?;
    let dst = dst.first_chunk_mut::<4>()?;
    let [ver_ihl, _, total_hi, total_lo, _, _, frag_hi, frag_lo, _, protocol, check_hi, check_lo] = fixed;
    let total = usize::from(u16::from_be_bytes([*total_hi, *total_lo]));
    let fragment = u16::from_be_bytes([*frag_hi, *frag_lo]) & 0x1fff != 0;
    if *ver_ihl != 0x45 || *protocol != target.protocol() || total > frame_len || fragment {
        return None;
    }
    // What lies past the total length (link-layer padding) is not the
    // packet's.
    let l4_len = total.checked_sub(20)?;
    let l4 = rest.get_mut(..l4_len.min(rest.len()))?;
    let (ports, after) = l4.split_first_chunk_mut::<4>()?;
    let (check_at, udp) = match *protocol {
        proto::TCP => (12, false),
        proto::UDP => (2, true),
        _ => return None,
    };
    // TCP: only with the whole 20-byte header (a shorter one has no
    // checksum to update; the general path knows that case).
    let header_rest = if udp { 4 } else { 16 };
    if after.len() < header_rest {
        return None;
    }
    let [l4_hi, l4_lo] = after.get_mut(check_at..)?.first_chunk_mut::<2>()?;
    let [sport_hi, sport_lo, dport_hi, dport_lo] = ports;
    let (port_hi, port_lo, addr) = match manip {
        Manip::Src => (sport_hi, sport_lo, src),
        Manip::Dst => (dport_hi, dport_lo, dst),
    };
    let old_addr = u32::from_be_bytes(*addr);
    let check = u16::from_be_bytes([*l4_hi, *l4_lo]);
    // A UDP checksum of 0 is none, and stays none.
    if !udp || check != 0 || partial {
        let c = l4_sum(check, old_addr, new_addr, u16::from_be_bytes([*port_hi, *port_lo]), key, partial);
        // CSUM_MANGLED_0: a UDP checksum of 0 would mean none.
        [*l4_hi, *l4_lo] = if udp && c == 0 { 0xffff } else { c }.to_be_bytes();
    }
    [*port_hi, *port_lo] = key.to_be_bytes();
    *addr = new_addr.to_be_bytes();
    let ip_check = replace4(u16::from_be_bytes([*check_hi, *check_lo]), old_addr, new_addr);
    [*check_hi, *check_lo] = ip_check.to_be_bytes();
    Some(old_addr != new_addr)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;
    use crate::entry::{Entry, Status};
    use crate::nat::bind::setup;
    use crate::nat::hook;
    use crate::nat::model::ModelTable;
    use crate::nat::range::{flags, with_addr, with_key, Range};
    use crate::packet::parse;
    use crate::proto::ProtoState;
    use crate::tuple::L4;
    use crate::wire::checksum;
    use crate::wire::tests::{TCP_ACK_SACK, TCP_SYN, UDP_DNS};
    use proptest::prelude::*;

    const PUB: u32 = 0xcb00_7101;

    proptest! {
        // Read from the key's words, a target is the one of the tuple.
        #[test]
        fn target_of_key_is_target_of_tuple(
            protocol in prop_oneof![Just(proto::TCP), Just(proto::UDP), Just(proto::UDPLITE), Just(proto::DCCP),
                Just(proto::SCTP), Just(proto::ICMP), any::<u8>()],
            src in any::<u32>(), dst in any::<u32>(), a in any::<u16>(), b in any::<u16>(),
            ty in any::<u8>(), code in any::<u8>(),
        ) {
            let l4 = match protocol {
                proto::ICMP => L4::Icmp { ty, code, id: a },
                proto::TCP | proto::UDP | proto::UDPLITE | proto::DCCP | proto::SCTP => L4::Ports { sport: a, dport: b },
                _ => L4::None,
            };
            let t = Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: protocol, l4 };
            for manip in [Manip::Src, Manip::Dst] {
                prop_assert_eq!(Target::of_key4(t.key(), manip), Target::of(&t, manip));
            }
        }

        // Any IPv4 key, as `targets` decoded it before.
        #[test]
        fn target_of_any_key_is_target_of_its_tuple(k in any::<[u64; 2]>()) {
            let k = [k[0], k[1] & !crate::tuple::KEY_V6];
            for manip in [Manip::Src, Manip::Dst] {
                prop_assert_eq!(Target::of_key4(k, manip), Target::of(&Tuple::from_key(k), manip));
            }
        }
    }

    /// Whether the layer-4 checksum of a whole TCP or UDP packet verifies
    /// (a UDP checksum of 0 is none).
    fn l4_ok(p: &[u8]) -> bool {
        let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
        let l4 = &p[20..total];
        if p[9] == proto::UDP && l4[6..8] == [0, 0] {
            return true;
        }
        let mut b = p[12..20].to_vec();
        b.extend_from_slice(&[0, p[9]]);
        b.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        b.extend_from_slice(l4);
        checksum(&b) == 0
    }

    fn target(protocol: u8, addr: u32, key: u16) -> Target {
        Target::new(protocol, NewEnd { addr, key: Some(key) })
    }

    #[test]
    fn packing_keeps_every_field() {
        for (protocol, addr, key) in [(proto::TCP, PUB, 61000), (proto::ICMP, u32::MAX, 0), (255, 0, u16::MAX)] {
            let t = target(protocol, addr, key);
            assert!(t.is_some());
            assert_eq!((t.protocol(), t.addr(), t.key()), (protocol, addr, Some(key)));
            assert_eq!(Target::from_raw(t.raw()), t);
        }
        let t = Target::new(47, NewEnd { addr: PUB, key: None });
        assert_eq!((t.protocol(), t.addr(), t.key()), (47, PUB, None));
        assert!(!Target::NONE.is_some());
    }

    #[test]
    fn straight_rewrite_parses_and_verifies() {
        for pkt in [&TCP_SYN[..], &TCP_ACK_SACK[..], &UDP_DNS[..]] {
            for manip in [Manip::Src, Manip::Dst] {
                let mut p = pkt.to_vec();
                let t = target(p[9], PUB, 61000);
                assert_eq!(straight(&mut p, pkt.len(), manip, t, false), Some(true));
                assert_eq!(checksum(&p[..20]), 0);
                assert!(l4_ok(&p));
                let before = parse(pkt, pkt.len()).unwrap().tuple;
                let L4::Ports { sport, dport } = before.l4 else { unreachable!() };
                let want = match manip {
                    Manip::Src => Tuple { src: crate::tuple::Addr::V4(PUB), l4: L4::Ports { sport: 61000, dport }, ..before },
                    Manip::Dst => Tuple { dst: crate::tuple::Addr::V4(PUB), l4: L4::Ports { sport, dport: 61000 }, ..before },
                };
                let after = parse(&p, p.len()).unwrap();
                assert_eq!(after.tuple, want);
                assert_eq!(after.ip_len, parse(pkt, pkt.len()).unwrap().ip_len);
            }
        }
    }

    #[test]
    fn other_packets_take_the_general_path() {
        let t = target(proto::TCP, PUB, 1);
        // A non-first fragment, another protocol, a short frame.
        let mut frag = TCP_SYN.to_vec();
        frag[7] = 0x10;
        let before = frag.clone();
        assert_eq!(straight(&mut frag, TCP_SYN.len(), Manip::Src, t, false), None);
        assert_eq!(frag, before);
        let mut udp = UDP_DNS.to_vec();
        assert_eq!(straight(&mut udp, UDP_DNS.len(), Manip::Src, t, false), None);
        assert_eq!(rewrite(&mut udp, UDP_DNS.len(), Manip::Src, t, false), Err(RewriteError::Mismatch));
        assert_eq!(udp, UDP_DNS);
        let mut short = TCP_SYN.to_vec();
        assert_eq!(rewrite(&mut short, 40, Manip::Src, t, false), Err(RewriteError::BadIpHeader));
        assert_eq!(short, TCP_SYN);
    }

    #[test]
    fn targets_are_the_bindings_rewrite_targets() {
        let udp = |src, sport, dst, dport| Tuple { src, dst, proto: proto::UDP, l4: L4::Ports { sport, dport } };
        let lan = 0xc000_0202;
        let server = 0xcb00_7102;
        let mut e = Entry::new(udp(crate::tuple::Addr::V4(lan), 40000, crate::tuple::Addr::V4(server), 53), Status::default(), 30_000, ProtoState::Generic);
        let mut reply = None;
        let masq = Range { flags: flags::MAP_IPS, min_addr: PUB, max_addr: PUB, ..Range::default() };
        setup(&mut e, &mut reply, Manip::Src, &masq, &ModelTable::default(), &mut || 7).unwrap();
        let b = Binding::of(&e, reply);
        let t = targets(&b);
        assert_eq!(t[slot(Manip::Src, Dir::Original)], target(proto::UDP, PUB, 40000));
        assert_eq!(t[slot(Manip::Dst, Dir::Reply)], target(proto::UDP, lan, 40000));
        assert_eq!(t[slot(Manip::Dst, Dir::Original)], Target::NONE);
        assert_eq!(t[slot(Manip::Src, Dir::Reply)], Target::NONE);
        // Every NAT status and kind of tuple: what the binding's
        // rewrite_target says, for every hook.
        let icmp = Tuple { src: crate::tuple::Addr::V4(lan), dst: crate::tuple::Addr::V4(server), proto: proto::ICMP, l4: L4::Icmp { ty: 8, code: 0, id: 9 } };
        let gre = Tuple { src: crate::tuple::Addr::V4(lan), dst: crate::tuple::Addr::V4(server), proto: 47, l4: L4::None };
        let err = Tuple { src: crate::tuple::Addr::V4(lan), dst: crate::tuple::Addr::V4(server), proto: proto::ICMP, l4: L4::Icmp { ty: 3, code: 0, id: 0 } };
        let mut bindings = std::vec![b];
        for orig in [udp(crate::tuple::Addr::V4(lan), 40000, crate::tuple::Addr::V4(server), 53), icmp, gre, err] {
            for reply in [udp(crate::tuple::Addr::V4(server), 8080, crate::tuple::Addr::V4(PUB), 1024), icmp, gre, err] {
                for status in 0..4u32 {
                    let status = ((status & 1) * Status::SRC_NAT) | ((status >> 1) * Status::DST_NAT);
                    bindings.push(Binding { status, orig: orig.key(), reply: reply.key() });
                }
            }
        }
        for b in bindings {
            let t = targets(&b);
            for hooknum in [hook::PRE_ROUTING, hook::LOCAL_IN, hook::LOCAL_OUT, hook::POST_ROUTING] {
                for dir in [Dir::Original, Dir::Reply] {
                    let manip = Manip::for_hook(hooknum).unwrap();
                    let want = b.rewrite_target(dir, hooknum).map(|(m, t)| Target::new(t.proto, NewEnd::of(&t, m)));
                    assert_eq!(Some(t[slot(manip, dir)]).filter(|t| t.is_some()), want, "{b:?}");
                }
            }
        }
    }

    /// A TCP or UDP packet from a template with its fields replaced, its
    /// checksums right or not.
    #[allow(clippy::too_many_arguments)]
    fn packet(
        tcp: bool,
        src: u32,
        dst: u32,
        sport: u16,
        dport: u16,
        payload: &[u8],
        fix_l4: bool,
        extra: usize,
    ) -> std::vec::Vec<u8> {
        let mut p = if tcp { TCP_SYN[..40].to_vec() } else { UDP_DNS[..28].to_vec() };
        p[0] = 0x45;
        p.extend_from_slice(payload);
        let total = p.len() as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        if !tcp {
            p[24..26].copy_from_slice(&(total - 20).to_be_bytes());
        }
        p[12..16].copy_from_slice(&src.to_be_bytes());
        p[16..20].copy_from_slice(&dst.to_be_bytes());
        p[20..22].copy_from_slice(&sport.to_be_bytes());
        p[22..24].copy_from_slice(&dport.to_be_bytes());
        p[10..12].copy_from_slice(&[0, 0]);
        let c = checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        if fix_l4 {
            let at = if tcp { 36 } else { 26 };
            p[at..at + 2].copy_from_slice(&[0, 0]);
            let mut b = p[12..20].to_vec();
            b.extend_from_slice(&[0, p[9]]);
            b.extend_from_slice(&(total - 20).to_be_bytes());
            b.extend_from_slice(&p[20..]);
            let c = checksum(&b);
            p[at..at + 2].copy_from_slice(&c.to_be_bytes());
        }
        p.resize(p.len() + extra, 0xee);
        p
    }

    proptest! {
        /// The straight path writes what the general path writes, and a
        /// rewritten packet parses to the target with its checksums right.
        #[test]
        fn straight_equals_general(
            tcp: bool,
            src: u32, dst: u32, sport: u16, dport: u16,
            payload in proptest::collection::vec(any::<u8>(), 0..24),
            fix_l4: bool, extra in 0usize..4,
            src_nat: bool, addr: u32, key: u16, partial: bool,
            frag in prop_oneof![Just(0u16), Just(0x2000), any::<u16>()],
            ihl in prop_oneof![Just(0x45u8), any::<u8>()],
            zero_udp_check: bool,
        ) {
            let mut p = packet(tcp, src, dst, sport, dport, &payload, fix_l4, extra);
            p[6..8].copy_from_slice(&frag.to_be_bytes());
            p[0] = ihl;
            // Right IP checksums mostly.
            if frag % 3 != 0 {
                p[10..12].copy_from_slice(&[0, 0]);
                let c = checksum(&p[..20]);
                p[10..12].copy_from_slice(&c.to_be_bytes());
            }
            if !tcp && zero_udp_check {
                p[26..28].copy_from_slice(&[0, 0]);
            }
            let manip = if src_nat { Manip::Src } else { Manip::Dst };
            let t = target(p[9], addr, key);
            let frame = p.len();
            let mut general = p.clone();
            let g = rewrite::manip_end(&mut general, frame, manip, t.protocol(), t.end(), partial);
            let mut fast = p.clone();
            let f = straight(&mut fast, frame, manip, t, partial);
            if let Some(changed) = f {
                prop_assert_eq!(Ok(changed), g);
                prop_assert_eq!(&fast, &general);
                // (A first fragment does not parse: the tracker sees
                // reassembled packets.)
                if let Ok(before) = parse(&p, frame) {
                    let after = parse(&fast, frame).unwrap();
                    prop_assert_eq!(after.ip_len, before.ip_len);
                    let want = with_key(&with_addr(&before.tuple, manip, addr), manip, key);
                    prop_assert_eq!(after.tuple, want);
                }
                if checksum(&p[..20]) == 0 {
                    prop_assert_eq!(checksum(&fast[..20]), 0);
                }
                if fix_l4 && !partial {
                    prop_assert!(l4_ok(&fast));
                }
            } else {
                prop_assert_eq!(&fast, &p);
            }
            let mut both = p.clone();
            prop_assert_eq!(rewrite(&mut both, frame, manip, t, partial), g);
            prop_assert_eq!(&both, &general);
        }
    }
}
