//! Hashes a NATed entry carries from its binding to its confirmation and
//! unlinking: the flow hash of its reply tuple (where its reply node is)
//! and the source hash of its original tuple (where its source chain
//! node is). Binding computed both already, in its last taken check and
//! its same-source walk; carrying them saves two SipHashes at
//! confirmation and two at eviction.
//!
//! A carried hash is only ever kept next to the key it was computed for
//! ([`Hashed`]), and the table's hash key never changes (a resize keeps
//! it and re-derives positions from hashes), so a carried hash stays
//! valid for the entry's life. Debug host builds check every use against
//! a fresh hash: a wrong one would put a node in the wrong bucket.

use crate::entry::Status;
use crate::hash::HashKey;
use crate::nat::bind::Binding;
use crate::tuple::Keys;

/// A key with a hash computed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hashed {
    /// The key.
    pub key: [u64; 2],
    hash: u64,
}

/// The flow hash of the tuple of IPv4 key `key` (symmetric: the same for
/// its inverse).
#[inline(always)]
fn flow_of(key: [u64; 2], hk: &HashKey) -> u64 {
    Keys::of_key(key, None).flow_hash(hk)
}

impl Hashed {
    /// `key` with its flow hash, computed now.
    #[inline]
    pub fn flow(key: [u64; 2], hk: &HashKey) -> Hashed {
        Hashed { key, hash: flow_of(key, hk) }
    }

    /// `key` (an original tuple's) with its source hash, computed now.
    #[inline]
    pub fn source(key: [u64; 2], hk: &HashKey) -> Hashed {
        Hashed { key, hash: crate::table::source_hash(key, hk) }
    }

    /// `key` with `hash` as stored next to it by [`Hashed::raw`].
    #[inline]
    pub const fn stored(key: [u64; 2], hash: u64) -> Hashed {
        Hashed { key, hash }
    }

    /// The hash, to store next to the key.
    #[inline]
    pub const fn raw(&self) -> u64 {
        self.hash
    }

    /// The flow hash of the key, as carried.
    #[inline(always)]
    pub fn flow_hash(&self, hk: &HashKey) -> u64 {
        checked(self.hash, || flow_of(self.key, hk))
    }

    /// The source hash of the key, as carried.
    #[inline(always)]
    pub fn source_hash(&self, hk: &HashKey) -> u64 {
        checked(self.hash, || crate::table::source_hash(self.key, hk))
    }
}

/// `carried`, checked against `fresh` in debug builds: host builds fail
/// at once, a debug kernel uses the fresh one (no panics in the kernel).
#[inline(always)]
pub(crate) fn checked(carried: u64, fresh: impl FnOnce() -> u64) -> u64 {
    #[cfg(debug_assertions)]
    {
        let f = fresh();
        #[cfg(any(test, feature = "std"))]
        assert_eq!(carried, f, "a carried hash does not match its key");
        #[cfg(not(any(test, feature = "std")))]
        let _ = carried;
        f
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = fresh;
        carried
    }
}

/// The hashes binding computed last: the flow hash of its last taken
/// check, the source hash of its same-source walk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The last taken check's (reply) tuple key and flow hash.
    pub taken: Option<Hashed>,
    /// The last same-source walk's original key and source hash.
    pub source: Option<Hashed>,
}

/// The hashes a NATed entry carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatHashes {
    /// The reply tuple's key and flow hash.
    pub reply: Hashed,
    /// The original tuple's key and source hash, once source NAT bound it
    /// (only source-NATed entries are in the source chains).
    pub source: Option<Hashed>,
}

impl NatHashes {
    /// The hashes for binding `b`: those of `prev` (what the entry carried
    /// before this binding) or `seen` (what this binding computed) where
    /// their keys are `b`'s, else computed now.
    pub fn of(b: &Binding, prev: Option<NatHashes>, seen: &Seen, hk: &HashKey) -> NatHashes {
        let reply = prev
            .map(|p| p.reply)
            .into_iter()
            .chain(seen.taken)
            .find(|h| h.key == b.reply)
            .unwrap_or_else(|| Hashed::flow(b.reply, hk));
        let source = (b.status & Status::SRC_NAT != 0).then(|| {
            prev.and_then(|p| p.source)
                .into_iter()
                .chain(seen.source)
                .find(|h| h.key == b.orig)
                .unwrap_or_else(|| Hashed::source(b.orig, hk))
        });
        NatHashes { reply, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuple::Tuple;

    const HK: HashKey = HashKey::new(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);

    fn tcp(s: u32, sp: u16, d: u32, dp: u16) -> Tuple {
        use crate::tuple::{Addr, L4};
        Tuple { src: Addr::V4(s), dst: Addr::V4(d), proto: crate::tuple::proto::TCP, l4: L4::Ports { sport: sp, dport: dp } }
    }

    fn binding(orig: &Tuple, reply: &Tuple, status: u32) -> Binding {
        Binding { status, orig: orig.key(), reply: reply.key() }
    }

    #[test]
    fn hashes_binding_computed_are_carried() {
        let orig = tcp(0xc000_0202, 40000, 0xcb00_7102, 80);
        let reply = tcp(0xcb00_7102, 80, 0xc633_6401, 40000);
        let b = binding(&orig, &reply, Status::SRC_NAT);
        let fresh = Hashed::flow(b.reply, &HK).raw();
        let seen = Seen { taken: Some(Hashed::flow(reply.key(), &HK)), source: Some(Hashed::source(b.orig, &HK)) };
        let h = NatHashes::of(&b, None, &seen, &HK);
        assert_eq!(h.reply.raw(), fresh);
        assert_eq!(h.reply.flow_hash(&HK), fresh);
        assert_eq!(h.source.map(|s| s.source_hash(&HK)), Some(crate::table::source_hash(b.orig, &HK)));
    }

    #[test]
    fn hashes_of_other_keys_are_not_carried() {
        let orig = tcp(0xc000_0202, 40000, 0xcb00_7102, 80);
        let reply = tcp(0xcb00_7102, 80, 0xc633_6401, 40001);
        let other = tcp(0xcb00_7102, 80, 0xc633_6401, 40000).keys();
        let b = binding(&orig, &reply, Status::SRC_NAT);
        // Wrong hashes next to other keys: never taken for `b`'s.
        let seen = Seen { taken: Some(Hashed::stored(other.key, 1)), source: Some(Hashed::stored(reply.key(), 2)) };
        let prev = NatHashes { reply: Hashed::stored(other.key, 3), source: Some(Hashed::stored(other.key, 4)) };
        let h = NatHashes::of(&b, Some(prev), &seen, &HK);
        assert_eq!(h.reply, Hashed::flow(b.reply, &HK));
        assert_eq!(h.source, Some(Hashed::source(b.orig, &HK)));
        // Destination NAT alone: no source node, no source hash.
        let d = NatHashes::of(&binding(&orig, &reply, Status::DST_NAT), None, &seen, &HK);
        assert_eq!(d.source, None);
    }

    #[test]
    #[should_panic(expected = "carried hash")]
    fn a_wrong_carried_hash_is_caught() {
        let k = tcp(0xc000_0202, 40000, 0xcb00_7102, 80).key();
        let h = Hashed::flow(k, &HK);
        let _ = Hashed::stored(k, h.raw() ^ 1).flow_hash(&HK);
    }

    proptest::proptest! {
        // Whatever binding computed last and the entry carried before,
        // each carried hash is the fresh hash of the key it sits with.
        #[test]
        fn carried_hashes_match_their_keys(
            s in proptest::prelude::any::<u32>(), sp in proptest::prelude::any::<u16>(),
            d in proptest::prelude::any::<u32>(), dp in proptest::prelude::any::<u16>(),
            np in proptest::prelude::any::<u16>(), other in proptest::prelude::any::<u16>(),
            snat in proptest::prelude::any::<bool>(), prev_same in proptest::prelude::any::<bool>(),
        ) {
            let orig = tcp(s, sp, d, dp);
            let reply = tcp(d, dp, 0xc633_6401, np);
            let status = if snat { Status::SRC_NAT } else { Status::DST_NAT };
            let b = binding(&orig, &reply, status);
            let cand = tcp(0xc633_6401, other, d, dp).keys();
            let seen = Seen { taken: Some(Hashed::flow(cand.key, &HK)), source: Some(Hashed::source(orig.key(), &HK)) };
            let prev_reply = if prev_same { reply.key() } else { cand.key };
            let prev = NatHashes { reply: Hashed::flow(prev_reply, &HK), source: Some(Hashed::source(orig.key(), &HK)) };
            let h = NatHashes::of(&b, Some(prev), &seen, &HK);
            proptest::prop_assert_eq!(h.reply.key, b.reply);
            proptest::prop_assert_eq!(h.reply.raw(), Keys::of_key(b.reply, None).flow_hash(&HK));
            proptest::prop_assert_eq!(h.source.is_some(), snat);
            if let Some(src) = h.source {
                proptest::prop_assert_eq!(src.key, b.orig);
                proptest::prop_assert_eq!(src.raw(), crate::table::source_hash(b.orig, &HK));
            }
        }
    }
}
