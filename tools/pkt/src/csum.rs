//! The Internet checksum (RFC 1071) and the IPv4 pseudo-header.

/// Adds `data` as big-endian 16-bit words to a running 32-bit sum; an odd
/// last byte is padded with zero.
pub fn add(mut sum: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([w[0], w[1]])));
    }
    if let [last] = words.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    sum
}

/// Folds the carries back in and complements: the value to store.
pub fn finish(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sum of the pseudo-header TCP and UDP checksums cover.
pub fn pseudo(src: [u8; 4], dst: [u8; 4], proto: u8, len: u16) -> u32 {
    let mut sum = add(0, &src);
    sum = add(sum, &dst);
    sum = add(sum, &[0, proto]);
    add(sum, &len.to_be_bytes())
}

/// A checksum that is certainly wrong: differs from `good` and from its
/// one's-complement twin (0x0000 and 0xffff are the same value), and is not
/// 0 (which means "no checksum" in UDP).
pub fn broken(good: u16) -> u16 {
    match good.wrapping_add(0x1111) {
        0 => 0x2222,
        bad => bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of these words is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(finish(add(0, &data)), !0xddf2);
    }

    #[test]
    fn broken_is_never_equivalent() {
        for good in [0u16, 0xffff, 0xeeef, 0xeeee, 0x1234] {
            let bad = broken(good);
            assert_ne!(bad, good);
            assert_ne!(bad, 0);
            if good == 0 || good == 0xffff {
                assert!(bad != 0 && bad != 0xffff);
            }
        }
    }
}
