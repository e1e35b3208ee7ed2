//! Connection tuples: what identifies one direction of a flow.
//!
//! Without NAT the reply tuple is always the exact inverse of the original
//! one, so an entry stores only its original tuple. The flow hash is
//! symmetric (a tuple and its inverse hash alike), so both directions of a
//! flow live in one bucket and an entry is linked into the table once.

use crate::hash::{siphash_words, HashKey};

/// IP protocol numbers the engine knows by name.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
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

/// One direction of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tuple {
    /// Source address, as the number `a.b.c.d` = `a << 24 | ... | d`.
    pub src: u32,
    /// Destination address.
    pub dst: u32,
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
            L4::Icmp { ty, code, id } => L4::Icmp { ty: icmp_inverse_type(ty)?, code, id },
            L4::None => L4::None,
        };
        Some(Tuple { src: self.dst, dst: self.src, proto: self.proto, l4 })
    }

    /// The tuple as two machine words, equal exactly when the tuples are:
    /// lookups compare these instead of the fields one by one.
    #[inline]
    pub fn key(&self) -> [u64; 2] {
        let l4 = match self.l4 {
            L4::Ports { sport, dport } => 1u64 << 32 | u64::from(sport) << 16 | u64::from(dport),
            L4::Icmp { ty, code, id } => {
                2u64 << 32 | u64::from(ty) << 24 | u64::from(code) << 16 | u64::from(id)
            }
            L4::None => 0,
        };
        [
            u64::from(self.src) << 32 | u64::from(self.dst),
            l4 | u64::from(self.proto) << 40,
        ]
    }

    /// The tuple of a [`Tuple::key`] (every key made by `key` decodes to
    /// its tuple).
    #[inline]
    pub fn from_key(key: [u64; 2]) -> Tuple {
        let [addrs, l4] = key;
        let byte = |at: u32| u8::try_from(l4.checked_shr(at).unwrap_or(0) & 0xff).unwrap_or(0);
        let half = |at: u32| u16::try_from(l4.checked_shr(at).unwrap_or(0) & 0xffff).unwrap_or(0);
        let l4v = match byte(32) {
            1 => L4::Ports { sport: half(16), dport: half(0) },
            2 => L4::Icmp { ty: byte(24), code: byte(16), id: half(0) },
            _ => L4::None,
        };
        Tuple {
            src: u32::try_from(addrs >> 32).unwrap_or(0),
            dst: u32::try_from(addrs & 0xffff_ffff).unwrap_or(0),
            proto: byte(40),
            l4: l4v,
        }
    }

    /// The key of [`Tuple::invert`], or `None` when there is no inverse;
    /// for ports and other protocols, shuffled from `key` without
    /// rebuilding the tuple.
    #[inline]
    pub fn inverse_key(&self, key: [u64; 2]) -> Option<[u64; 2]> {
        let [addrs, l4] = key;
        match self.l4 {
            L4::Ports { .. } => {
                // Swap the ports: rotate the low 32 bits by 16.
                let ports = u64::from(u32::try_from(l4 & 0xffff_ffff).unwrap_or(0).rotate_left(16));
                Some([addrs.rotate_left(32), l4 & !0xffff_ffff | ports])
            }
            L4::None => Some([addrs.rotate_left(32), l4]),
            L4::Icmp { .. } => self.invert().map(|i| i.key()),
        }
    }

    /// The keys of this tuple and of its inverse, for a lookup that hashes
    /// and then searches.
    #[inline]
    pub fn keys(&self) -> Keys {
        let key = self.key();
        Keys {
            key,
            inv: self.inverse_key(key),
        }
    }

    /// Keyed hash of the flow, the same for both directions.
    #[inline]
    pub fn flow_hash(&self, key: &HashKey) -> u64 {
        self.keys().flow_hash(key)
    }
}

/// A tuple's [`Tuple::key`] and its inverse's, computed once per lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keys {
    /// The tuple's key.
    pub key: [u64; 2],
    /// The inverse tuple's key, if there is an inverse.
    pub inv: Option<[u64; 2]>,
}

impl Keys {
    /// Keyed hash of the flow, the same for both directions: SipHash-1-3
    /// of the smaller of the two keys.
    #[inline(always)]
    pub fn flow_hash(&self, key: &HashKey) -> u64 {
        let [w0, w1] = match self.inv {
            Some(inv) if inv < self.key => inv,
            _ => self.key,
        };
        siphash_words(key, w0, w1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(src: u32, sport: u16, dst: u32, dport: u16) -> Tuple {
        Tuple { src, dst, proto: proto::TCP, l4: L4::Ports { sport, dport } }
    }

    #[test]
    fn invert_swaps_addresses_and_ports() {
        let t = tcp(0xc000_0202, 40000, 0xc633_6402, 80);
        assert_eq!(t.invert(), Some(tcp(0xc633_6402, 80, 0xc000_0202, 40000)));
    }

    #[test]
    fn icmp_query_types_pair_up() {
        for (req, rep) in ICMP_QUERY_PAIRS {
            let t = Tuple { src: 1, dst: 2, proto: proto::ICMP, l4: L4::Icmp { ty: req, code: 0, id: 7 } };
            let inv = t.invert();
            assert_eq!(inv.map(|i| i.l4), Some(L4::Icmp { ty: rep, code: 0, id: 7 }));
            assert_eq!(inv.and_then(|i| i.invert()), Some(t));
        }
        let err = Tuple { src: 1, dst: 2, proto: proto::ICMP, l4: L4::Icmp { ty: 3, code: 1, id: 0 } };
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
}
