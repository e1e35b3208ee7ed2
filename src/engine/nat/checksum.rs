//! Incremental Internet checksum updates (RFC 1624, equation 3), as the
//! kernel's `csum_replace4`, `inet_proto_csum_replace4` and `..._replace2`
//! do for a packet whose checksum is not offloaded: the new checksum is
//! `~(~old + ~m + m')` for each 16-bit word `m` replaced by `m'`.

/// Adds `word` to a ones'-complement running sum kept below 2^17.
fn add(sum: u32, word: u16) -> u32 {
    let s = sum.wrapping_add(u32::from(word));
    (s & 0xffff).wrapping_add(s >> 16)
}

/// Folds a running sum to 16 bits.
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    u16::try_from(sum).unwrap_or(u16::MAX)
}

/// The checksum `check` after the 16-bit field `old` became `new`.
pub fn replace2(check: u16, old: u16, new: u16) -> u16 {
    !fold(add(add(u32::from(!check), !old), new))
}

/// The checksum `check` after the 32-bit field `old` became `new` (an
/// address, in the header or in the pseudo-header).
pub fn replace4(check: u16, old: u32, new: u32) -> u16 {
    let (oh, ol) = split(old);
    let (nh, nl) = split(new);
    let sum = add(add(add(add(u32::from(!check), !oh), !ol), nh), nl);
    !fold(sum)
}

fn split(v: u32) -> (u16, u16) {
    let [a, b, c, d] = v.to_be_bytes();
    (u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))
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
