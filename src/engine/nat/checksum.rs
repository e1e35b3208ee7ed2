//! Incremental Internet checksum updates (RFC 1624, equation 3), as the
//! kernel's `csum_replace4`, `inet_proto_csum_replace4` and `..._replace2`
//! do for a packet whose checksum is not offloaded: the new checksum is
//! `~(~old + ~m + m')` for each 16-bit word `m` replaced by `m'`. The
//! words are summed in 32 bits and folded once at the end (ones'
//! complement addition is associative).

/// Folds a sum of at most eight 16-bit words (below 2^19) to 16 bits,
/// the end-around carries added back: two folds are enough (the first
/// leaves at most 0x10006, the second at most 0xffff).
#[inline(always)]
fn fold(sum: u32) -> u16 {
    let once = (sum & 0xffff).wrapping_add(sum >> 16);
    u16::try_from((once & 0xffff).wrapping_add(once >> 16)).unwrap_or(u16::MAX)
}

/// The checksum `check` after the 16-bit field `old` became `new`.
#[inline(always)]
pub fn replace2(check: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!check).wrapping_add(u32::from(!old)).wrapping_add(u32::from(new)))
}

/// The checksum `check` after the 32-bit field `old` became `new` (an
/// address, in the header or in the pseudo-header).
#[inline(always)]
pub fn replace4(check: u16, old: u32, new: u32) -> u16 {
    let old = !old;
    let sum = u32::from(!check)
        .wrapping_add(old >> 16)
        .wrapping_add(old & 0xffff)
        .wrapping_add(new >> 16)
        .wrapping_add(new & 0xffff);
    !fold(sum)
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
    use crate::wire::checksum;

    /// Sets the checksum at `at` to the full checksum of `data`.
    fn full(data: &mut [u8], at: usize) {
        data[at..at + 2].copy_from_slice(&[0, 0]);
        let c = checksum(data);
        data[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn incremental_equals_full() {
        let mut d = [0x45u8, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 0x40, 1, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2];
        full(&mut d, 10);
        let old = u16::from_be_bytes([d[10], d[11]]);
        let new_src = 0xcb00_7101u32;
        let c = replace4(old, 0xc000_0201, new_src);
        d[12..16].copy_from_slice(&new_src.to_be_bytes());
        d[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&d), 0);
        let c2 = replace2(c, 0x1234, 0xbeef);
        d[4..6].copy_from_slice(&[0xbe, 0xef]);
        d[10..12].copy_from_slice(&c2.to_be_bytes());
        assert_eq!(checksum(&d), 0);
    }

    /// The step-by-step sum (a fold after every word) the single fold
    /// replaces.
    fn reference(check: u16, old: &[u16], new: &[u16]) -> u16 {
        let add = |s: u32, w: u16| {
            let s = s + u32::from(w);
            (s & 0xffff) + (s >> 16)
        };
        let mut s = u32::from(!check);
        for w in old {
            s = add(s, !w);
        }
        for w in new {
            s = add(s, *w);
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    #[test]
    fn one_fold_equals_a_fold_per_word() {
        let words = [0u16, 1, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x1234, 0xedcb];
        for &c in &words {
            for &a in &words {
                for &b in &words {
                    assert_eq!(replace2(c, a, b), reference(c, &[a], &[b]), "{c:#x} {a:#x} {b:#x}");
                    for &d in &words {
                        let (old, new) = ((u32::from(a) << 16) | u32::from(b), (u32::from(d) << 16) | u32::from(c));
                        assert_eq!(replace4(c, old, new), reference(c, &[a, b], &[d, c]), "{c:#x} {old:#x} {new:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn no_change_keeps_a_valid_checksum_valid() {
        for check in [0u16, 1, 0x7fff, 0xfffe, 0xffff] {
            let c = replace2(check, 0xabcd, 0xabcd);
            // 0 and 0xffff are the same number in ones' complement.
            let same = c == check || (c, check) == (0, 0xffff) || (c, check) == (0xffff, 0);
            assert!(same, "{check:#x} -> {c:#x}");
        }
    }
}
