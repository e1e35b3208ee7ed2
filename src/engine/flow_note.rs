//! A new entry's flow hash, carried from tracking to confirmation.
//!
//! Tracking hashes a packet's tuple to search for its flow; when none is
//! found, the entry it opens is of that tuple ([`crate::track::open`]),
//! so its confirmation needs the same hash to find its bucket. The driver
//! hands the hash to [`crate::driver::Shell::alloc`]; at confirmation the
//! shell offers what it kept as a [`FlowNote`], and the driver uses it
//! only when it is about the entry being confirmed and its key, else it
//! hashes again. A hash depends on
//! the key and the table's hash key alone, and a table keeps its hash key
//! for life (a resize re-derives positions from hashes), so such a note
//! is right whichever CPU, softirq or resize came between. Debug builds
//! check every carried hash against a fresh one
//! ([`crate::nat::carried`]'s check).

use crate::hash::HashKey;
use crate::nat::carried::checked;
use crate::tuple::Keys;

/// What a shell kept of a new entry's hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowNote<R> {
    /// Kept in the entry itself when it was allocated (the kernel: in
    /// its chain link word, unused until confirmation): about that entry
    /// and its key, which never changes.
    Own(u64),
    /// Kept apart from the entry (one note per CPU, say): about the entry
    /// it names as it was then, which may be gone, its address reused.
    Apart {
        /// The entry the note was written for.
        entry: R,
        /// Its original tuple's key.
        key: [u64; 2],
        /// Its IPv6 address words, `None` for IPv4.
        addrs6: Option<[u64; 4]>,
        /// The flow hash of that key and those words.
        hash: u64,
    },
}

impl<R: Copy + Eq> FlowNote<R> {
    /// The carried hash, if the note is about entry `r` of key `key` and
    /// address words `addrs6`.
    #[inline(always)]
    pub fn hash_of(&self, r: R, key: [u64; 2], addrs6: Option<[u64; 4]>) -> Option<u64> {
        match *self {
            FlowNote::Own(hash) => Some(hash),
            FlowNote::Apart { entry, key: k, addrs6: a, hash } => (entry == r && k == key && a == addrs6).then_some(hash),
        }
    }
}

/// The flow hash of entry `r` of key `key` and address words `addrs6`
/// (asked only when needed): `note`'s if it is about that entry and key,
/// else computed now.
#[inline(always)]
pub fn flow_hash<R: Copy + Eq>(
    note: Option<FlowNote<R>>,
    r: R,
    key: [u64; 2],
    addrs6: impl FnOnce() -> Option<[u64; 4]>,
    hk: &HashKey,
) -> u64 {
    if let Some(FlowNote::Own(h)) = note {
        return checked(h, || Keys::of_key(key, addrs6()).flow_hash(hk));
    }
    let a = addrs6();
    let fresh = || Keys::of_key(key, a).flow_hash(hk);
    match note.and_then(|n| n.hash_of(r, key, a)) {
        Some(h) => checked(h, fresh),
        None => fresh(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tuple::{Addr, Tuple, L4};

    const HK: HashKey = HashKey::new(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);

    fn tcp(s: u32, sp: u16, d: u32, dp: u16) -> Tuple {
        Tuple { src: Addr::V4(s), dst: Addr::V4(d), proto: crate::tuple::proto::TCP, l4: L4::Ports { sport: sp, dport: dp } }
    }

    #[test]
    fn a_note_about_the_entry_and_its_key_is_used() {
        let t = tcp(0xc000_0202, 40000, 0xcb00_7102, 80);
        let h = t.flow_hash(&HK);
        let note = FlowNote::Apart { entry: 7u32, key: t.key(), addrs6: None, hash: h };
        assert_eq!(note.hash_of(7, t.key(), None), Some(h));
        assert_eq!(flow_hash(Some(note), 7, t.key(), || None, &HK), h);
        assert_eq!(flow_hash(Some(FlowNote::Own(h)), 7, t.key(), || None, &HK), h);
    }

    #[test]
    fn a_note_about_anything_else_is_not() {
        let t = tcp(0xc000_0202, 40000, 0xcb00_7102, 80);
        let other = tcp(0xc000_0202, 40001, 0xcb00_7102, 80);
        // Wrong hashes: used, they would fail the debug check.
        let of_other = FlowNote::Apart { entry: 7u32, key: other.key(), addrs6: None, hash: 1 };
        let of_other_entry = FlowNote::Apart { entry: 8u32, key: t.key(), addrs6: None, hash: 2 };
        let of_other_addrs = FlowNote::Apart { entry: 7u32, key: t.key(), addrs6: Some([1, 2, 3, 4]), hash: 3 };
        for n in [of_other, of_other_entry, of_other_addrs] {
            assert_eq!(n.hash_of(7, t.key(), None), None);
            assert_eq!(flow_hash(Some(n), 7, t.key(), || None, &HK), t.flow_hash(&HK));
        }
        assert_eq!(flow_hash(None, 7, t.key(), || None, &HK), t.flow_hash(&HK));
    }

    #[test]
    #[should_panic(expected = "carried hash")]
    fn a_wrong_hash_for_the_right_key_is_caught() {
        let t = tcp(0xc000_0202, 40000, 0xcb00_7102, 80);
        let _ = flow_hash(Some(FlowNote::<u32>::Own(t.flow_hash(&HK) ^ 1)), 7, t.key(), || None, &HK);
    }
}
