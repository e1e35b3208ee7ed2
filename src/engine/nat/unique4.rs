//! [`crate::nat::unique`]'s tuple choice on the two words of an IPv4
//! tuple's key ([`crate::tuple::Tuple::key`]: the addresses, then
//! protocol, kind and ports or ICMP fields), as the bind path holds it:
//! no 48-byte `Tuple` is decoded, inverted or encoded per candidate. It
//! decides exactly as [`unique_tuple`](crate::nat::unique::unique_tuple)
//! for any IPv4 tuple and range (tested below on random ones); the table
//! is asked through [`Clash`]'s key methods.

use crate::nat::range::{flags, Range};
use crate::nat::unique::{best_addr_of, candidate_key, span, start, Clash, MAX_ATTEMPTS};
use crate::nat::Manip;
use crate::tuple::{inverse_key4, proto};

// The key's layer-4 word: protocol at bit 40, kind at 32 (1 ports, 2
// ICMP), then source port above destination port, or type, code, id.
const KIND_PORTS: u64 = 1;
const KIND_ICMP: u64 = 2;

/// The protocol byte of a key's layer-4 word.
#[inline(always)]
fn proto_of(l4: u64) -> u8 {
    u8::try_from((l4 >> 40) & 0xff).unwrap_or(0)
}

/// Where the port or id `manip` rewrites sits in the layer-4 word (its
/// shift), for the protocols whose ports NAT maps and ICMP
/// ([`crate::nat::range::manip_key`]); `None` otherwise.
#[inline(always)]
fn key_shift(l4: u64, manip: Manip) -> Option<u32> {
    match (proto_of(l4), (l4 >> 32) & 0xff, manip) {
        (proto::TCP | proto::UDP | proto::UDPLITE | proto::DCCP, KIND_PORTS, Manip::Src) => Some(16),
        (proto::TCP | proto::UDP | proto::UDPLITE | proto::DCCP, KIND_PORTS, Manip::Dst) => Some(0),
        (proto::ICMP, KIND_ICMP, _) => Some(0),
        _ => None,
    }
}

/// [`crate::nat::range::manip_key`] of the tuple of `key`.
#[inline(always)]
pub fn manip_key4(key: [u64; 2], manip: Manip) -> Option<u16> {
    let at = key_shift(key[1], manip)?;
    u16::try_from(key[1].checked_shr(at).unwrap_or(0) & 0xffff).ok()
}

/// [`crate::nat::range::with_key`] on the key.
#[inline(always)]
pub fn with_key4(key: [u64; 2], manip: Manip, k: u16) -> [u64; 2] {
    let [addrs, l4] = key;
    match key_shift(l4, manip) {
        Some(at) => [addrs, l4 & !(0xffff_u64 << at) | u64::from(k) << at],
        None => key,
    }
}

/// [`crate::nat::range::with_addr`] on the key.
#[inline(always)]
pub fn with_addr4(key: [u64; 2], manip: Manip, addr: u32) -> [u64; 2] {
    let [addrs, l4] = key;
    match manip {
        Manip::Src => [addrs & 0xffff_ffff | u64::from(addr) << 32, l4],
        Manip::Dst => [addrs & !0xffff_ffff | u64::from(addr), l4],
    }
}

/// The source and destination addresses of a key.
#[inline(always)]
fn addrs(key: [u64; 2]) -> (u32, u32) {
    let hi = u32::try_from(key[0] >> 32).unwrap_or(0);
    let lo = u32::try_from(key[0] & 0xffff_ffff).unwrap_or(0);
    (hi, lo)
}

/// [`Range::proto_in_range`] on the key.
#[inline(always)]
fn proto_in_range4(range: &Range, key: [u64; 2], manip: Manip) -> bool {
    match manip_key4(key, manip) {
        Some(k) => k >= range.min_proto && k <= range.max_proto,
        None => true,
    }
}

/// [`Range::src_in_range`] on the key.
#[inline(always)]
fn src_in_range4(range: &Range, key: [u64; 2]) -> bool {
    let (src, _) = addrs(key);
    if range.has(flags::MAP_IPS) && !(src >= range.min_addr && src <= range.max_addr) {
        return false;
    }
    !range.has(flags::PROTO_SPECIFIED) || proto_in_range4(range, key, Manip::Src)
}

/// Whether a candidate clashes: its reply is taken ([`inverse_key4`];
/// ICMP types without an inverse never clash).
#[inline(always)]
fn used4(table: &impl Clash, key: [u64; 2]) -> bool {
    inverse_key4(key).is_some_and(|r| table.taken4(r))
}

/// [`crate::nat::unique::unique_tuple`] of the IPv4 tuple of key `orig`:
/// the key of the chosen tuple.
pub fn unique_tuple4(
    orig: [u64; 2],
    range: &Range,
    manip: Manip,
    table: &impl Clash,
    random: &mut dyn FnMut() -> u16,
) -> [u64; 2] {
    // 1) Source NAT: keep or reuse a mapping.
    if manip == Manip::Src && !range.has_any(flags::PROTO_RANDOM_ALL) {
        if src_in_range4(range, orig) {
            if !inverse_key4(orig).is_some_and(|r| table.taken_new4(r)) {
                return orig;
            }
        } else if let Some(t) = same_source_mapping4(orig, range, table) {
            if !used4(table, t) {
                return t;
            }
        }
    }

    // 2) The address.
    let (src, dst) = addrs(orig);
    let tuple = match best_addr_of(src, dst, range) {
        Some(addr) => with_addr4(orig, manip, addr),
        None => orig,
    };

    // 3) The port, unless it is already in range and free.
    if !range.has_any(flags::PROTO_RANDOM_ALL) {
        if range.has(flags::PROTO_SPECIFIED) {
            if !range.has(flags::PROTO_OFFSET)
                && proto_in_range4(range, tuple, manip)
                && (range.min_proto == range.max_proto || !used4(table, tuple))
            {
                return tuple;
            }
        } else if key_fixed4(tuple, range, manip) || !used4(table, tuple) {
            return tuple;
        }
    }
    unique_key4(tuple, range, manip, table, random)
}

/// `unique::key_fixed` on the key.
#[inline(always)]
fn key_fixed4(t: [u64; 2], range: &Range, manip: Manip) -> bool {
    match manip_key4(t, manip) {
        None => true,
        Some(_) => manip == Manip::Dst && proto_of(t[1]) != proto::ICMP && !range.has(flags::PROTO_SPECIFIED),
    }
}

/// `unique::same_source_mapping` on keys: the source part of the inverse
/// of a same-source entry's reply, with `orig`'s destination.
fn same_source_mapping4(orig: [u64; 2], range: &Range, table: &impl Clash) -> Option<[u64; 2]> {
    let mut found = None;
    table.same_source4(orig, &mut |reply: [u64; 2]| {
        let (_, reply_dst) = addrs(reply);
        let mut t = with_addr4(orig, Manip::Src, reply_dst);
        if let Some(key) = manip_key4(reply, Manip::Dst) {
            t = with_key4(t, Manip::Src, key);
        }
        let fits = src_in_range4(range, t);
        if fits {
            found = Some(t);
        }
        fits
    });
    found
}

/// [`crate::nat::unique::unique_key`] on the key.
pub fn unique_key4(
    tuple: [u64; 2],
    range: &Range,
    manip: Manip,
    table: &impl Clash,
    random: &mut dyn FnMut() -> u16,
) -> [u64; 2] {
    let Some(key) = manip_key4(tuple, manip) else { return tuple };
    let Some((min, range_size)) = span(proto_of(tuple[1]) == proto::ICMP, key, range, manip) else { return tuple };
    let mut off = start(key, range, manip, random);
    let mut attempts = range_size.min(MAX_ATTEMPTS);
    let mut candidate = tuple;
    loop {
        for i in 0..attempts {
            candidate = with_key4(tuple, manip, candidate_key(min, range_size, off));
            let free = !inverse_key4(candidate).is_some_and(|r| table.taken_harder4(r, attempts.wrapping_sub(i)));
            if free {
                return candidate;
            }
            off = off.wrapping_add(1);
        }
        if attempts >= range_size || attempts < 16 {
            return candidate;
        }
        attempts /= 2;
        off = random();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::nat::model::ModelTable;
    use crate::nat::unique::unique_tuple;
    use crate::tuple::{Addr, Tuple, L4};
    use core::cell::RefCell;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// The model table, with every question it is asked noted.
    struct Noted {
        model: ModelTable,
        asked: RefCell<Vec<(u8, [u64; 2], u32)>>,
    }

    impl Clash for Noted {
        fn taken(&self, reply: &Tuple) -> bool {
            self.asked.borrow_mut().push((0, reply.key(), 0));
            self.model.taken(reply)
        }
        fn taken_new(&self, reply: &Tuple) -> bool {
            self.asked.borrow_mut().push((1, reply.key(), 0));
            self.model.taken(reply)
        }
        fn taken_harder(&self, reply: &Tuple, left: u32) -> bool {
            self.asked.borrow_mut().push((2, reply.key(), left));
            self.model.taken(reply)
        }
        fn same_source(&self, orig: &Tuple, visit: &mut dyn FnMut(&Tuple) -> bool) {
            self.asked.borrow_mut().push((3, orig.key(), 0));
            self.model.same_source(orig, visit);
        }
    }

    /// A small pool of addresses, ports and ids, so that ranges, taken
    /// tuples and same-source mappings meet.
    const ADDRS: [u32; 4] = [0xc000_0202, 0xc000_0203, 0xc633_6402, 0xcb00_7101];

    fn tuple(protocol: u8, kind: u8, s: usize, d: usize, a: u16, b: u16, ty: u8) -> Tuple {
        let l4 = match kind % 3 {
            0 => L4::Ports { sport: a, dport: b },
            1 => L4::Icmp { ty, code: 0, id: a },
            _ => L4::None,
        };
        Tuple { src: Addr::V4(ADDRS[s % 4]), dst: Addr::V4(ADDRS[d % 4]), proto: protocol, l4 }
    }

    fn protocol() -> impl Strategy<Value = u8> {
        prop_oneof![
            Just(proto::TCP),
            Just(proto::UDP),
            Just(proto::UDPLITE),
            Just(proto::DCCP),
            Just(proto::SCTP),
            Just(proto::ICMP),
            Just(47u8)
        ]
    }

    /// An ICMP type: queries, replies, an error (no inverse), any.
    fn icmp_type() -> impl Strategy<Value = u8> {
        prop_oneof![Just(8u8), Just(0u8), Just(13u8), Just(3u8), any::<u8>()]
    }

    /// A range from the pool.
    fn range(flag_bits: u8, lo: usize, hi: usize, min_proto: u16, max_proto: u16, base: u16) -> Range {
        Range {
            flags: u32::from(flag_bits) & flags::MASK,
            min_addr: ADDRS[lo % 4],
            max_addr: ADDRS[hi % 4],
            min_proto,
            max_proto,
            base_proto: base,
        }
    }

    /// Runs both forms on `orig` with the same random draws (from
    /// `seed`): the same tuple, questions (`log`) and number of draws.
    fn both_decide_alike<T: Clash>(
        orig: &Tuple,
        range: &Range,
        manip: Manip,
        table: &T,
        log: impl Fn(&T) -> Vec<(u8, [u64; 2], u32)>,
        seed: u16,
    ) -> Result<(), TestCaseError> {
        let run = |form: &mut dyn FnMut(&mut dyn FnMut() -> u16) -> [u64; 2]| {
            let (mut n, mut st) = (0u32, seed);
            let got = form(&mut || {
                n += 1;
                st = st.wrapping_mul(25173).wrapping_add(13849);
                st
            });
            (got, n, log(table))
        };
        let want = run(&mut |r| unique_tuple(orig, range, manip, table, r).key());
        let got = run(&mut |r| unique_tuple4(orig.key(), range, manip, table, r));
        prop_assert_eq!(got, want);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        // On the key's words, the choice is the tuple form's: the same
        // tuple, the same questions to the table in the same order, the
        // same random draws.
        #[test]
        fn key_form_decides_as_the_tuple_form(
            p in protocol(), kind in prop_oneof![3 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
            s in 0usize..4, d in 0usize..4, a in 1000u16..1006, b in 1000u16..1006, ty in icmp_type(),
            flag_bits in any::<u8>(), lo in 0usize..4, hi in 0usize..4,
            min_proto in 998u16..1008, max_proto in 998u16..1008, base in 995u16..1005,
            src_nat in any::<bool>(),
            mapped in proptest::collection::vec(
                (0usize..4, 0usize..4, 1000u16..1006, 1000u16..1006, 0usize..4, 1000u16..1006), 0..12),
            seed in any::<u16>(),
        ) {
            let manip = if src_nat { Manip::Src } else { Manip::Dst };
            let range = range(flag_bits, lo, hi, min_proto, max_proto, base);
            let orig = tuple(p, kind, s, d, a, b, ty);
            // Entries in the table: a flow from the pool mapped (source
            // address and port, or id) onto the pool.
            let mut model = ModelTable::default();
            for (ms, md, ma, mb, to, tp) in mapped {
                let o = tuple(p, kind, ms, md, ma, mb, ty);
                let m = crate::nat::range::with_key(&crate::nat::range::with_addr(&o, Manip::Src, ADDRS[to]), Manip::Src, tp);
                model.add(&o, &m);
            }
            let table = Noted { model, asked: RefCell::new(Vec::new()) };
            both_decide_alike(&orig, &range, manip, &table, |t| t.asked.take(), seed)?;
        }

        // Wide ranges on a crowded table: the search's shrinking rounds.
        #[test]
        fn key_form_searches_as_the_tuple_form(
            p in protocol(), kind in prop_oneof![3 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
            s in 0usize..4, d in 0usize..4, a in any::<u16>(), b in any::<u16>(), ty in icmp_type(),
            flag_bits in any::<u8>(), lo in 0usize..4, hi in 0usize..4,
            min_proto in any::<u16>(), max_proto in any::<u16>(), base in any::<u16>(),
            src_nat in any::<bool>(), free_one_in in 0u64..600, seed in any::<u16>(),
        ) {
            let manip = if src_nat { Manip::Src } else { Manip::Dst };
            let range = range(flag_bits, lo, hi, min_proto, max_proto, base);
            let orig = tuple(p, kind, s, d, a, b, ty);
            // Taken unless a mix of the key falls on 0 (never with 0).
            struct Crowded(u64, RefCell<Vec<(u8, [u64; 2], u32)>>);
            impl Clash for Crowded {
                fn taken(&self, reply: &Tuple) -> bool {
                    self.1.borrow_mut().push((0, reply.key(), 0));
                    let [w0, w1] = reply.key();
                    let mix = (w0 ^ w1.rotate_left(17)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
                    self.0 == 0 || mix % self.0 != 0
                }
                fn taken_harder(&self, reply: &Tuple, left: u32) -> bool {
                    self.1.borrow_mut().push((2, reply.key(), left));
                    self.taken(reply)
                }
            }
            let table = Crowded(free_one_in, RefCell::new(Vec::new()));
            both_decide_alike(&orig, &range, manip, &table, |t| t.1.take(), seed)?;
        }

        // The word helpers are the tuple ones, on any IPv4 key.
        #[test]
        fn word_helpers_are_the_tuple_ones(k in any::<[u64; 2]>(), v in any::<u16>(), addr in any::<u32>()) {
            use crate::nat::range::{manip_key, with_addr, with_key};
            let k = [k[0], k[1] & 0x0000_ffff_ffff_ffff];
            let t = Tuple::from_key(k);
            let k = t.key();
            for manip in [Manip::Src, Manip::Dst] {
                prop_assert_eq!(manip_key4(k, manip), manip_key(&t, manip));
                prop_assert_eq!(with_key4(k, manip, v), with_key(&t, manip, v).key());
                prop_assert_eq!(with_addr4(k, manip, addr), with_addr(&t, manip, addr).key());
            }
        }
    }
}
