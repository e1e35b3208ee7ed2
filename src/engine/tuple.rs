//! Connection tuples: what identifies one direction of a flow.
//!
//! Without NAT the reply tuple is always the exact inverse of the original
//! one, so an entry stores only its original tuple. The flow hash is
//! symmetric (a tuple and its inverse hash alike), so both directions of a
//! flow live in one bucket and an entry is linked into the table once.

use crate::hash::{siphash_slice, siphash_words, HashKey};

/// IP protocol numbers the engine knows by name.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// DCCP.
    pub const DCCP: u8 = 33;
    /// SCTP.
    pub const SCTP: u8 = 132;
    /// UDP-Lite.
    pub const UDPLITE: u8 = 136;

    /// Whether tuples of protocol `p` carry ports (as 6.12's trackers
    /// for TCP, UDP, UDP-Lite, SCTP and DCCP).
    pub const fn has_ports(p: u8) -> bool {
        matches!(p, TCP | UDP | DCCP | SCTP | UDPLITE)
    }
}

/// Direction of a packet relative to the entry that tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Same direction as the packet that created the entry.
    Original = 0,
    /// The other way.
    Reply = 1,
}

impl Dir {
    /// The opposite direction.
    pub fn other(self) -> Dir {
        match self {
            Dir::Original => Dir::Reply,
            Dir::Reply => Dir::Original,
        }
    }

    /// 0 for original, 1 for reply: an index into per-direction arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The layer-4 part of a tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum L4 {
    /// Ports (TCP, UDP, UDP-Lite, SCTP, DCCP).
    Ports {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// ICMP query: type, code and identifier.
    Icmp {
        /// ICMP type.
        ty: u8,
        /// ICMP code.
        code: u8,
        /// Query identifier.
        id: u16,
    },
    /// Any other protocol: addresses only.
    None,
}

/// An address of either family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Addr {
    /// IPv4, as the number `a.b.c.d` = `a << 24 | ... | d`.
    V4(u32),
    /// IPv6, as four big-endian words in address order.
    V6([u32; 4]),
}

impl Addr {
    /// The IPv6 address of 16 bytes in network order.
    pub fn v6_from_bytes(b: &[u8; 16]) -> Addr {
        let w = |i: usize| {
            b.get(i..).and_then(|x| x.first_chunk::<4>()).map_or(0, |x| u32::from_be_bytes(*x))
        };
        Addr::V6([w(0), w(4), w(8), w(12)])
    }

    /// The address as 16 bytes (IPv4 in the first 4, as `nf_inet_addr`).
    pub fn to_bytes(self) -> [u8; 16] {
        let words = match self {
            Addr::V4(a) => [a, 0, 0, 0],
            Addr::V6(w) => w,
        };
        let mut out = [0u8; 16];
        for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// The IPv4 address, if this is one.
    #[inline]
    pub fn v4(self) -> Option<u32> {
        match self {
            Addr::V4(a) => Some(a),
            Addr::V6(_) => None,
        }
    }

    /// The IPv4 address, 0 for IPv6: for code that only ever sees IPv4
    /// tuples (NAT, `/proc/net/ip_conntrack`).
    #[inline]
    pub fn v4_or_zero(self) -> u32 {
        self.v4().unwrap_or(0)
    }

    /// Whether this is an IPv6 address.
    #[inline]
    pub fn is_v6(self) -> bool {
        matches!(self, Addr::V6(_))
    }
}

impl From<u32> for Addr {
    fn from(a: u32) -> Addr {
        Addr::V4(a)
    }
}

impl PartialEq<u32> for Addr {
    fn eq(&self, other: &u32) -> bool {
        *self == Addr::V4(*other)
    }
}

/// One direction of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tuple {
    /// Source address.
    pub src: Addr,
    /// Destination address (of the same family).
    pub dst: Addr,
    /// IP protocol number.
    pub proto: u8,
    /// Ports, ICMP query fields or nothing.
    pub l4: L4,
}

/// ICMP query types and the type that answers each (echo, timestamp,
/// information, address mask).
const ICMP_QUERY_PAIRS: [(u8, u8); 4] = [(8, 0), (13, 14), (15, 16), (17, 18)];

/// The answering type of an ICMP query type, or the asking type of an
/// answer; `None` for types that are not part of a query exchange.
pub fn icmp_inverse_type(ty: u8) -> Option<u8> {
    ICMP_QUERY_PAIRS.iter().find_map(|&(req, rep)| {
        if ty == req {
            Some(rep)
        } else if ty == rep {
            Some(req)
        } else {
            None
        }
    })
}

/// Whether `ty` is an ICMP query type that may open an entry.
pub fn icmp_is_request(ty: u8) -> bool {
    ICMP_QUERY_PAIRS.iter().any(|&(req, _)| req == ty)
}

impl Tuple {
    /// The tuple of the other direction; `None` for ICMP types that have no
    /// answer (such tuples never get an entry).
    pub fn invert(&self) -> Option<Tuple> {
        let l4 = match self.l4 {
            L4::Ports { sport, dport } => L4::Ports { sport: dport, dport: sport },
            L4::Icmp { ty, code, id } => {
                let inv = if self.proto == proto::ICMPV6 {
                    crate::wire::icmpv6::inverse_type(ty)
                } else {
                    icmp_inverse_type(ty)
                };
                L4::Icmp { ty: inv?, code, id }
            }
            L4::None => L4::None,
        };
        Some(Tuple { src: self.dst, dst: self.src, proto: self.proto, l4 })
    }

    /// The IPv4 addresses (source, destination), if the tuple is IPv4.
    #[inline]
    pub fn v4(&self) -> Option<(u32, u32)> {
        Some((self.src.v4()?, self.dst.v4()?))
    }

    /// Whether the tuple is IPv6.
    #[inline]
    pub fn is_v6(&self) -> bool {
        self.src.is_v6()
    }

    /// The layer-4 word of the key without the family bit: protocol,
    /// kind, ports or ICMP fields.
    #[inline(always)]
    fn l4_word(&self) -> u64 {
        let l4 = match self.l4 {
            L4::Ports { sport, dport } => 1u64 << 32 | u64::from(sport) << 16 | u64::from(dport),
            L4::Icmp { ty, code, id } => {
                2u64 << 32 | u64::from(ty) << 24 | u64::from(code) << 16 | u64::from(id)
            }
            L4::None => 0,
        };
        l4 | u64::from(self.proto) << 40
    }

    /// The tuple as two machine words, equal exactly when the tuples are
    /// (for IPv6, together with [`Tuple::addrs6`]): lookups compare these
    /// instead of the fields one by one. IPv4: the addresses and the
    /// layer-4 word; IPv6: a fold of the addresses and the layer-4 word
    /// with [`KEY_V6`].
    #[inline(always)]
    pub fn key(&self) -> [u64; 2] {
        match (self.src, self.dst) {
            (Addr::V4(s), Addr::V4(d)) => [u64::from(s) << 32 | u64::from(d), self.l4_word()],
            _ => self.key6(),
        }
    }

    #[inline(never)]
    #[cold]
    fn key6(&self) -> [u64; 2] {
        [fold6(&self.addrs6().unwrap_or_default()), self.l4_word() | KEY_V6]
    }

    /// The four address words of an IPv6 tuple (source high, source low,
    /// destination high, destination low), `None` for IPv4.
    #[inline]
    pub fn addrs6(&self) -> Option<[u64; 4]> {
        let w = |a: Addr| match a {
            Addr::V6([a, b, c, d]) => [u64::from(a) << 32 | u64::from(b), u64::from(c) << 32 | u64::from(d)],
            Addr::V4(x) => [u64::from(x), 0],
        };
        if !self.is_v6() {
            return None;
        }
        let ([s0, s1], [d0, d1]) = (w(self.src), w(self.dst));
        Some([s0, s1, d0, d1])
    }

    /// The tuple of a [`Tuple::key`] (every IPv4 key made by `key` decodes
    /// to its tuple); an IPv6 key needs its address words
    /// ([`Tuple::from_keys`]) and decodes here with zero addresses.
    #[inline]
    pub fn from_key(key: [u64; 2]) -> Tuple {
        Tuple::from_keys(key, None)
    }

    /// The tuple of a key and, for IPv6, its four address words.
    #[inline]
    pub fn from_keys(key: [u64; 2], addrs: Option<[u64; 4]>) -> Tuple {
        let [addrs4, l4] = key;
        let byte = |at: u32| u8::try_from(l4.checked_shr(at).unwrap_or(0) & 0xff).unwrap_or(0);
        let half = |at: u32| u16::try_from(l4.checked_shr(at).unwrap_or(0) & 0xffff).unwrap_or(0);
        let l4v = match byte(32) {
            1 => L4::Ports { sport: half(16), dport: half(0) },
            2 => L4::Icmp { ty: byte(24), code: byte(16), id: half(0) },
            _ => L4::None,
        };
        let lo = |w: u64| u32::try_from(w & 0xffff_ffff).unwrap_or(0);
        let hi = |w: u64| u32::try_from(w >> 32).unwrap_or(0);
        let (src, dst) = if l4 & KEY_V6 != 0 {
            let [s0, s1, d0, d1] = addrs.unwrap_or_default();
            (
                Addr::V6([hi(s0), lo(s0), hi(s1), lo(s1)]),
                Addr::V6([hi(d0), lo(d0), hi(d1), lo(d1)]),
            )
        } else {
            (Addr::V4(hi(addrs4)), Addr::V4(lo(addrs4)))
        };
        Tuple { src, dst, proto: byte(40), l4: l4v }
    }

    /// The key of [`Tuple::invert`], or `None` when there is no inverse;
    /// for ports and other protocols, shuffled from `key` without
    /// rebuilding the tuple.
    #[inline(always)]
    pub fn inverse_key(&self, key: [u64; 2]) -> Option<[u64; 2]> {
        let [addrs, l4] = key;
        let addrs = match (self.src, self.dst) {
            (Addr::V4(_), Addr::V4(_)) => addrs.rotate_left(32),
            _ => self.inverse_fold6(),
        };
        match self.l4 {
            L4::Ports { .. } => {
                // Swap the ports: rotate the low 32 bits by 16.
                let ports = u64::from(u32::try_from(l4 & 0xffff_ffff).unwrap_or(0).rotate_left(16));
                Some([addrs, l4 & !0xffff_ffff | ports])
            }
            L4::None => Some([addrs, l4]),
            L4::Icmp { .. } => self.invert().map(|i| i.key()),
        }
    }

    #[inline(never)]
    #[cold]
    fn inverse_fold6(&self) -> u64 {
        fold6(&swap6(&self.addrs6().unwrap_or_default()))
    }

    /// The keys of this tuple and of its inverse, for a lookup that hashes
    /// and then searches.
    #[inline(always)]
    pub fn keys(&self) -> Keys {
        // IPv4 with one look at the family; IPv6 out of line.
        let (Addr::V4(s), Addr::V4(d)) = (self.src, self.dst) else {
            return self.keys6();
        };
        self.keys_of4(s, d)
    }

    /// [`Tuple::keys`] of an IPv4 tuple, with no look at the family: the
    /// IPv4 hooks' lookups (an IPv6 address reads as 0 here).
    #[inline(always)]
    pub fn keys4(&self) -> Keys {
        self.keys_of4(self.src.v4_or_zero(), self.dst.v4_or_zero())
    }

    /// The keys of this tuple with the IPv4 addresses `s` and `d`.
    #[inline(always)]
    fn keys_of4(&self, s: u32, d: u32) -> Keys {
        let addrs = u64::from(s) << 32 | u64::from(d);
        let l4 = self.l4_word();
        let inv = match self.l4 {
            L4::Ports { .. } => {
                let ports = u64::from(u32::try_from(l4 & 0xffff_ffff).unwrap_or(0).rotate_left(16));
                Some([addrs.rotate_left(32), l4 & !0xffff_ffff | ports])
            }
            L4::None => Some([addrs.rotate_left(32), l4]),
            L4::Icmp { .. } => self.invert().map(|i| i.key()),
        };
        Keys { key: [addrs, l4], inv, addrs6: None }
    }

    #[inline(never)]
    #[cold]
    fn keys6(&self) -> Keys {
        Keys::of6(self.addrs6().unwrap_or_default(), self.l4_word() | KEY_V6)
    }

    /// Keyed hash of the flow, the same for both directions.
    #[inline]
    pub fn flow_hash(&self, key: &HashKey) -> u64 {
        self.keys().flow_hash(key)
    }
}

/// Bit of a key's layer-4 word that marks an IPv6 tuple: no IPv4 key
/// equals an IPv6 one on the two in-entry words.
pub const KEY_V6: u64 = 1 << 48;

/// The in-entry word of IPv6 address words: a fold of all four.
#[inline]
pub fn fold6(a: &[u64; 4]) -> u64 {
    let [s0, s1, d0, d1] = *a;
    s0 ^ s1.rotate_left(17) ^ d0.rotate_left(31) ^ d1.rotate_left(47)
}

/// IPv6 address words of the inverse tuple (source and destination
/// swapped).
#[inline]
pub fn swap6(a: &[u64; 4]) -> [u64; 4] {
    let [s0, s1, d0, d1] = *a;
    [d0, d1, s0, s1]
}

/// The key of the inverse of the IPv4 tuple of key `key` (`None` for an
/// ICMP type with no answer): addresses swapped, ports swapped, an ICMP
/// query's type inverted.
#[inline(always)]
pub fn inverse_key4(key: [u64; 2]) -> Option<[u64; 2]> {
    let [addrs, l4] = key;
    Some([addrs.rotate_left(32), inverse_l4(l4)?])
}

/// The layer-4 word of the inverse tuple's key (either family): ports
/// swapped, an ICMP query's type inverted (`None` for a type with no
/// answer), anything else unchanged.
#[inline(always)]
fn inverse_l4(l4: u64) -> Option<u64> {
    match (l4 >> 32) & 0xff {
        1 => {
            let ports = u64::from(u32::try_from(l4 & 0xffff_ffff).unwrap_or(0).rotate_left(16));
            Some(l4 & !0xffff_ffff | ports)
        }
        2 => {
            let ty = u8::try_from((l4 >> 24) & 0xff).unwrap_or(0);
            let inv = if (l4 >> 40) & 0xff == u64::from(proto::ICMPV6) {
                crate::wire::icmpv6::inverse_type(ty)
            } else {
                icmp_inverse_type(ty)
            }?;
            Some(l4 & !(0xff << 24) | u64::from(inv) << 24)
        }
        _ => Some(l4),
    }
}

/// The key of [`crate::table::source_tuple`] of the IPv4 tuple of key
/// `key`: the source address, protocol and source port (or ICMP id).
#[inline]
pub fn source_key4(key: [u64; 2]) -> [u64; 2] {
    let [addrs, l4] = key;
    let l4 = match (l4 >> 32) & 0xff {
        1 => l4 & !0xffff,
        2 => l4 & !0xffff_0000,
        _ => l4,
    };
    [addrs & !0xffff_ffff, l4]
}

/// A tuple's [`Tuple::key`] and its inverse's, computed once per lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keys {
    /// The tuple's key.
    pub key: [u64; 2],
    /// The inverse tuple's key, if there is an inverse.
    pub inv: Option<[u64; 2]>,
    /// The tuple's IPv6 address words ([`Tuple::addrs6`]; the inverse's
    /// are [`swap6`] of them); `None` for IPv4.
    pub addrs6: Option<[u64; 4]>,
}

impl Keys {
    /// The keys of the tuple of key `key` (and, for IPv6, address words
    /// `addrs6`): equal to `Tuple::from_keys(key, addrs6).keys()`, but an
    /// IPv4 key's inverse is shuffled from its words, with no tuple built
    /// (NAT's bind and confirm paths, which hold keys).
    #[inline(always)]
    pub fn of_key(key: [u64; 2], addrs6: Option<[u64; 4]>) -> Keys {
        if key[1] & KEY_V6 != 0 {
            return Keys::of6(addrs6.unwrap_or_default(), key[1]);
        }
        Keys { key, inv: inverse_key4(key), addrs6: None }
    }

    /// The keys of an IPv6 tuple from its address words and layer-4 word
    /// (with [`KEY_V6`]), no tuple built: its key's first word is the fold
    /// of the addresses, its inverse's the fold of them swapped.
    #[inline(never)]
    fn of6(a: [u64; 4], l4: u64) -> Keys {
        Keys {
            key: [fold6(&a), l4],
            inv: inverse_l4(l4).map(|l4| [fold6(&swap6(&a)), l4]),
            addrs6: Some(a),
        }
    }

    /// The IP protocol of the tuple.
    #[inline]
    pub fn proto(&self) -> u8 {
        u8::try_from((self.key[1] >> 40) & 0xff).unwrap_or(0)
    }

    /// Keyed hash of the flow, the same for both directions: SipHash-1-3
    /// of the smaller of the two keys (IPv4: the two words; IPv6: the
    /// layer-4 word and the four address words).
    #[inline(always)]
    pub fn flow_hash(&self, key: &HashKey) -> u64 {
        if self.key[1] & KEY_V6 != 0 {
            if let Some(a) = self.addrs6 {
                return self.flow_hash6(key, &a);
            }
        }
        self.flow_hash4(key)
    }

    /// [`Keys::flow_hash`] of IPv4 keys, with no look at the family.
    #[inline(always)]
    pub fn flow_hash4(&self, key: &HashKey) -> u64 {
        let [w0, w1] = match self.inv {
            Some(inv) if inv < self.key => inv,
            _ => self.key,
        };
        siphash_words(key, w0, w1)
    }

    #[inline(never)]
    fn flow_hash6(&self, key: &HashKey, a: &[u64; 4]) -> u64 {
        let [s0, s1, d0, d1] = *a;
        let fwd = [self.key[1], s0, s1, d0, d1];
        let pick = match self.inv {
            Some([_, l4]) => {
                let inv = [l4, d0, d1, s0, s1];
                if inv < fwd {
                    inv
                } else {
                    fwd
                }
            }
            None => fwd,
        };
        siphash_slice(key, &pick)
    }

    /// The IPv6 address words a direction's entry holds when it matches
    /// these keys in that direction.
    #[inline]
    pub fn addrs6_for(&self, dir: Dir) -> Option<[u64; 4]> {
        let a = self.addrs6?;
        Some(match dir {
            Dir::Original => a,
            Dir::Reply => swap6(&a),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(src: u32, sport: u16, dst: u32, dport: u16) -> Tuple {
        Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: proto::TCP, l4: L4::Ports { sport, dport } }
    }

    #[test]
    fn invert_swaps_addresses_and_ports() {
        let t = tcp(0xc000_0202, 40000, 0xc633_6402, 80);
        assert_eq!(t.invert(), Some(tcp(0xc633_6402, 80, 0xc000_0202, 40000)));
    }

    #[test]
    fn icmp_query_types_pair_up() {
        for (req, rep) in ICMP_QUERY_PAIRS {
            let t = Tuple { src: crate::tuple::Addr::V4(1), dst: crate::tuple::Addr::V4(2), proto: proto::ICMP, l4: L4::Icmp { ty: req, code: 0, id: 7 } };
            let inv = t.invert();
            assert_eq!(inv.map(|i| i.l4), Some(L4::Icmp { ty: rep, code: 0, id: 7 }));
            assert_eq!(inv.and_then(|i| i.invert()), Some(t));
        }
        let err = Tuple { src: crate::tuple::Addr::V4(1), dst: crate::tuple::Addr::V4(2), proto: proto::ICMP, l4: L4::Icmp { ty: 3, code: 1, id: 0 } };
        assert_eq!(err.invert(), None);
    }

    #[test]
    fn keys_are_equal_exactly_when_tuples_are() {
        let a = tcp(0xc000_0202, 40000, 0xc633_6402, 80);
        let icmp = |ty, code, id| Tuple { src: a.src, dst: a.dst, proto: proto::ICMP, l4: L4::Icmp { ty, code, id } };
        let none = |p| Tuple { src: a.src, dst: a.dst, proto: p, l4: L4::None };
        let all = [
            a,
            a.invert().unwrap_or(a),
            tcp(0xc000_0202, 40000, 0xc633_6402, 81),
            Tuple { proto: proto::UDP, ..a },
            icmp(8, 0, 80),
            icmp(0, 0, 80),
            icmp(8, 1, 80),
            none(47),
            none(50),
            Tuple { src: a.dst, dst: a.src, ..none(47) },
        ];
        for x in &all {
            for y in &all {
                assert_eq!(x.key() == y.key(), x == y, "{x:?} {y:?}");
            }
            assert_eq!(x.inverse_key(x.key()), x.invert().map(|i| i.key()), "{x:?}");
            assert_eq!(Tuple::from_key(x.key()), *x);
        }
    }

    #[test]
    fn hash_is_symmetric_and_keyed() {
        let t = tcp(0xc000_0202, 40000, 0xc633_6402, 80);
        let k1 = HashKey::new(1, 2);
        let k2 = HashKey::new(3, 4);
        let inv = t.invert().unwrap_or(t);
        assert_eq!(t.flow_hash(&k1), inv.flow_hash(&k1));
        assert_ne!(t.flow_hash(&k1), t.flow_hash(&k2));
        assert_ne!(t.flow_hash(&k1), tcp(0xc000_0202, 40001, 0xc633_6402, 80).flow_hash(&k1));
    }

    fn v6(last: u32) -> Addr {
        Addr::V6([0x2001_0db8, 0, 0, last])
    }

    fn tcp6(src: Addr, sport: u16, dst: Addr, dport: u16) -> Tuple {
        Tuple { src, dst, proto: proto::TCP, l4: L4::Ports { sport, dport } }
    }

    #[test]
    fn v6_keys_are_equal_exactly_when_tuples_are() {
        let a = tcp6(v6(1), 40000, v6(2), 80);
        let icmp6 = |ty, id| Tuple { src: v6(1), dst: v6(2), proto: proto::ICMPV6, l4: L4::Icmp { ty, code: 0, id } };
        let all = [
            a,
            a.invert().unwrap_or(a),
            tcp6(v6(1), 40000, v6(3), 80),
            tcp6(Addr::V6([0x2001_0db8, 1, 0, 1]), 40000, v6(2), 80),
            Tuple { proto: proto::UDP, ..a },
            icmp6(128, 7),
            icmp6(129, 7),
            icmp6(139, 7),
            Tuple { src: v6(1), dst: v6(2), proto: 47, l4: L4::None },
            // The IPv4 tuple with the same low words.
            tcp(1, 40000, 2, 80),
        ];
        for x in &all {
            for y in &all {
                let same = x.key() == y.key() && x.addrs6() == y.addrs6();
                assert_eq!(same, x == y, "{x:?} {y:?}");
            }
            assert_eq!(x.inverse_key(x.key()), x.invert().map(|i| i.key()), "{x:?}");
            assert_eq!(Tuple::from_keys(x.key(), x.addrs6()), *x);
        }
        // IPv4 and IPv6 keys never meet on the in-entry words.
        assert_ne!(tcp(1, 40000, 2, 80).key()[1], a.key()[1]);
        // ICMPv6 inverts by its own types; an ICMPv6 error has no inverse.
        assert_eq!(icmp6(128, 7).invert().map(|t| t.l4), Some(L4::Icmp { ty: 129, code: 0, id: 7 }));
        assert_eq!(icmp6(1, 0).invert(), None);
        assert_eq!(icmp6(8, 0).invert(), None);
    }

    #[test]
    fn v6_hash_is_symmetric() {
        let k = HashKey::new(5, 6);
        let t = tcp6(v6(1), 40000, v6(2), 80);
        let inv = t.invert().unwrap_or(t);
        assert_eq!(t.flow_hash(&k), inv.flow_hash(&k));
        assert_ne!(t.flow_hash(&k), tcp6(v6(1), 40000, v6(3), 80).flow_hash(&k));
        let e = Tuple { src: v6(1), dst: v6(2), proto: proto::ICMPV6, l4: L4::Icmp { ty: 128, code: 0, id: 9 } };
        assert_eq!(e.flow_hash(&k), e.invert().unwrap_or(e).flow_hash(&k));
        assert_eq!(t.keys().addrs6_for(Dir::Reply), inv.addrs6());
    }

    #[test]
    fn addr_bytes_round_trip() {
        let b: [u8; 16] = core::array::from_fn(|i| u8::try_from(i).unwrap_or(0));
        assert_eq!(Addr::v6_from_bytes(&b).to_bytes(), b);
        assert_eq!(Addr::V4(0xc000_0201).to_bytes()[..4], [192, 0, 2, 1]);
    }

    proptest::proptest! {
        /// Over both families: a key (with its address words) names its
        /// tuple, the inverse key is the inverse's key, the hash is
        /// symmetric.
        #[test]
        fn keys_round_trip_both_families(v6f in proptest::bool::ANY,
                                         s in proptest::array::uniform4(proptest::num::u32::ANY),
                                         d in proptest::array::uniform4(proptest::num::u32::ANY),
                                         p in proptest::num::u8::ANY,
                                         sp in proptest::num::u16::ANY, dp in proptest::num::u16::ANY,
                                         ty in proptest::num::u8::ANY) {
            let (src, dst) = if v6f { (Addr::V6(s), Addr::V6(d)) } else { (Addr::V4(s[0]), Addr::V4(d[0])) };
            let l4 = if proto::has_ports(p) {
                L4::Ports { sport: sp, dport: dp }
            } else if p == proto::ICMP || p == proto::ICMPV6 {
                L4::Icmp { ty, code: 0, id: sp }
            } else {
                L4::None
            };
            let t = Tuple { src, dst, proto: p, l4 };
            proptest::prop_assert_eq!(Tuple::from_keys(t.key(), t.addrs6()), t);
            proptest::prop_assert_eq!(t.inverse_key(t.key()), t.invert().map(|i| i.key()));
            if let Some(i) = t.invert() {
                let k = HashKey::new(u64::from(s[1]), u64::from(d[2]));
                proptest::prop_assert_eq!(t.flow_hash(&k), i.flow_hash(&k));
                proptest::prop_assert_eq!(t.keys().addrs6_for(Dir::Reply), i.addrs6());
            }
            // The IPv4 hooks' keys and hash are the generic ones.
            if !v6f {
                let k = HashKey::new(u64::from(s[2]), u64::from(d[3]));
                proptest::prop_assert_eq!(t.keys4(), t.keys());
                proptest::prop_assert_eq!(t.keys4().flow_hash4(&k), t.flow_hash(&k));
                proptest::prop_assert_eq!(
                    source_key4(t.key()),
                    crate::table::source_tuple(&t).key()
                );
            }
            // Keys made from a key are the tuple's, and the tuple's are
            // its key, its inverse's key and its address words.
            proptest::prop_assert_eq!(Keys::of_key(t.key(), t.addrs6()), t.keys());
            proptest::prop_assert_eq!(
                t.keys(),
                Keys { key: t.key(), inv: t.invert().map(|i| i.key()), addrs6: t.addrs6() }
            );
        }
    }
}
