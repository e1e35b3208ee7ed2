//! The kernel's `jhash2` (Bob Jenkins' lookup3, `include/linux/jhash.h`).
//! `find_best_ips_proto` hashes addresses with it, unkeyed, so the address
//! a range gives a client is the same across reboots and machines; the
//! engine computes it bit for bit so a range maps clients as 6.12 does.

/// `JHASH_INITVAL`.
const INITVAL: u32 = 0xdead_beef;

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

fn last(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// `jhash2(k, k.len(), initval)`.
pub fn jhash2(k: &[u32], initval: u32) -> u32 {
    // The kernel adds `length << 2` in u32 arithmetic.
    let len = u32::try_from(k.len()).unwrap_or(u32::MAX);
    let start = INITVAL.wrapping_add(len.wrapping_shl(2)).wrapping_add(initval);
    let (mut a, mut b, mut c) = (start, start, start);
    let mut rest = k;
    while let [k0, k1, k2, tail @ ..] = rest {
        if tail.is_empty() {
            break;
        }
        a = a.wrapping_add(*k0);
        b = b.wrapping_add(*k1);
        c = c.wrapping_add(*k2);
        mix(&mut a, &mut b, &mut c);
        rest = tail;
    }
    match rest {
        [k0, k1, k2] => {
            c = c.wrapping_add(*k2);
            b = b.wrapping_add(*k1);
            a = a.wrapping_add(*k0);
        }
        [k0, k1] => {
            b = b.wrapping_add(*k1);
            a = a.wrapping_add(*k0);
        }
        [k0] => a = a.wrapping_add(*k0),
        _ => return c,
    }
    last(&mut a, &mut b, &mut c);
    c
}

/// An IPv4 address as the kernel's `u32` view of its `__be32` holds it
/// (the bytes in wire order, loaded in the CPU's order), which is what
/// `find_best_ips_proto` feeds to `jhash2` and XORs into the seed.
pub fn raw_be32(addr: u32) -> u32 {
    u32::from_ne_bytes(addr.to_be_bytes())
}

/// `reciprocal_scale(val, ep_ro)`: `val` scaled into `0..ep_ro`.
pub fn reciprocal_scale(val: u32, ep_ro: u32) -> u32 {
    let scaled = u64::from(val).wrapping_mul(u64::from(ep_ro)) >> 32;
    u32::try_from(scaled).unwrap_or(0)
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

    #[test]
    fn empty_key_is_the_seeded_start() {
        assert_eq!(jhash2(&[], 0), INITVAL);
        assert_eq!(jhash2(&[], 1), INITVAL.wrapping_add(1));
    }

    #[test]
    fn known_values() {
        // Computed with the kernel's macros compiled in C (gcc, x86-64).
        assert_eq!(jhash2(&[0, 0, 0, 0], 0), 0xbaf9_078c);
        assert_eq!(jhash2(&[1, 2, 3, 4], 0), 0x6649_1246);
        assert_eq!(jhash2(&[0x0102_0304], 0x1111_1111), 0x670a_25a7);
        // find_best_ips_proto's call for 10.0.2.1 -> 10.0.2.3 on x86-64.
        let (src, dst) = (0x0a00_0201, 0x0a00_0203);
        if cfg!(target_endian = "little") {
            assert_eq!(jhash2(&[raw_be32(src), 0, 0, 0], raw_be32(dst)), 0xe71b_2691);
        }
    }

    #[test]
    fn reciprocal_scale_stays_below_the_bound() {
        assert_eq!(reciprocal_scale(u32::MAX, 10), 9);
        assert_eq!(reciprocal_scale(0, 10), 0);
        assert_eq!(reciprocal_scale(u32::MAX, 0), 0);
    }
}
