//! Table size at load time: the classic 2.6 defaults from the amount of
//! RAM, and the `hashsize=` module parameter.
//!
//! 2.6's `ip_conntrack_init` gave the bucket array 1/16384 of RAM:
//! `RAM / 16384 / sizeof(struct list_head)` buckets, `RAM / 16384 / 16` on
//! 64-bit; 8192 buckets on machines with more than 1 GiB;
//! at least 16; and room for 8 entries per bucket (`ip_conntrack_max`). A
//! 512 MiB machine gets 2048 buckets and a maximum of 16384 entries. The
//! "8192 for 128 MB" often quoted is the same formula with 32-bit's 8-byte
//! list head.
//!
//! `hashsize=` may ask for more, within two bounds: [`MAX_HASHSIZE`], and
//! bucket heads of at most 1/64 of RAM per table. Unlike 6.12's single
//! hash table, every network namespace has a table of its own, so a huge
//! `hashsize=` costs its memory once per namespace (2^24 buckets took
//! 128 MiB each: a 512 MiB machine ran out of memory at its third
//! namespace).
//!
//! How buckets are split into lock stripes is the table's business
//! (`crate::table::Layout`).

/// Bytes of RAM per bucket byte (2.6: `/ 16384`).
const RAM_PER_BUCKET_BYTE: u64 = 16384;
/// Size of the bucket head 2.6 divided by on 64-bit (`struct list_head`).
const LIST_HEAD_SIZE: u64 = 16;
/// Above this much RAM, 2.6 used a fixed bucket count.
const LARGE_RAM: u64 = 1 << 30;
/// The fixed bucket count for more than 1 GiB.
pub const LARGE_RAM_BUCKETS: u32 = 8192;
/// The fewest buckets the automatic size picks.
pub const MIN_BUCKETS: u32 = 16;
/// Entries allowed per bucket by default (`ip_conntrack_max = 8 *
/// buckets`).
pub const ENTRIES_PER_BUCKET: u32 = 8;
/// The largest `hashsize=` accepted: 16 Mi buckets (128 MiB of chain heads
/// at 8 bytes each, a default maximum of 128 Mi entries). Far beyond any
/// useful size, yet small enough that the bucket array allocation and
/// `8 * buckets` cannot overflow.
pub const MAX_HASHSIZE: u32 = 1 << 24;

/// Bytes of one bucket head in the kernel's table (a pointer).
pub const BUCKET_HEAD_SIZE: u64 = 8;
/// A `hashsize=` table's bucket heads may take at most 1/`RAM_SHARE` of RAM.
pub const RAM_SHARE: u64 = 64;

/// A table size: bucket count and default maximum number of entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizing {
    /// Number of hash buckets (`ip_conntrack_buckets`).
    pub buckets: u32,
    /// Default maximum number of entries (`ip_conntrack_max`).
    pub max: u32,
}

/// Why a `hashsize=` value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashsizeError {
    /// Larger than [`max_hashsize`] for this machine's RAM.
    TooLarge {
        /// The largest value accepted here.
        max: u32,
    },
    /// 0 written at run time (0 means automatic only at load).
    Zero,
}

/// 2.6's default bucket count for `ram_bytes` of RAM.
pub fn default_buckets(ram_bytes: u64) -> u32 {
    if ram_bytes > LARGE_RAM {
        return LARGE_RAM_BUCKETS;
    }
    // At most 1 GiB / 16 KiB / 16 = 4096 here, so the conversion holds.
    let buckets = ram_bytes / RAM_PER_BUCKET_BYTE / LIST_HEAD_SIZE;
    u32::try_from(buckets).unwrap_or(LARGE_RAM_BUCKETS).max(MIN_BUCKETS)
}

/// The default maximum number of entries for `buckets` buckets.
pub fn default_max(buckets: u32) -> u32 {
    buckets.saturating_mul(ENTRIES_PER_BUCKET)
}

/// The largest `hashsize=` for `ram_bytes` of RAM: bucket heads of at
/// most 1/[`RAM_SHARE`] of it, never less than the default size, never
/// more than [`MAX_HASHSIZE`].
pub fn max_hashsize(ram_bytes: u64) -> u32 {
    let by_ram = ram_bytes / RAM_SHARE / BUCKET_HEAD_SIZE;
    u32::try_from(by_ram)
        .unwrap_or(MAX_HASHSIZE)
        .max(default_buckets(ram_bytes))
        .min(MAX_HASHSIZE)
}

/// The size for module parameter `hashsize` (0 = automatic from
/// `ram_bytes`). As in 2.6, the maximum is 8 entries per bucket either way.
pub fn sizing(hashsize: u32, ram_bytes: u64) -> Result<Sizing, HashsizeError> {
    let max = max_hashsize(ram_bytes);
    let buckets = match hashsize {
        0 => default_buckets(ram_bytes),
        n if n > max => return Err(HashsizeError::TooLarge { max }),
        n => n,
    };
    Ok(Sizing { buckets, max: default_max(buckets) })
}

/// The bucket count for `hashsize` written at run time (a resize): as at
/// load, but 0 is refused, as 6.12 refuses it.
pub fn resize(hashsize: u32, ram_bytes: u64) -> Result<u32, HashsizeError> {
    let max = max_hashsize(ram_bytes);
    match hashsize {
        0 => Err(HashsizeError::Zero),
        n if n > max => Err(HashsizeError::TooLarge { max }),
        n => Ok(n),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    #[test]
    fn classic_examples() {
        assert_eq!(sizing(0, 512 * MIB), Ok(Sizing { buckets: 2048, max: 16384 }));
        assert_eq!(sizing(0, 128 * MIB), Ok(Sizing { buckets: 512, max: 4096 }));
        assert_eq!(sizing(0, 256 * MIB), Ok(Sizing { buckets: 1024, max: 8192 }));
        assert_eq!(sizing(0, GIB), Ok(Sizing { buckets: 4096, max: 32768 }));
        // More than 1 GiB: fixed 8192, whatever the amount.
        for ram in [GIB + 1, 2 * GIB, 64 * GIB, u64::MAX] {
            assert_eq!(sizing(0, ram), Ok(Sizing { buckets: 8192, max: 65536 }), "{ram}");
        }
    }

    #[test]
    fn at_least_16_buckets() {
        for ram in [0, 1, 4 * MIB - 1, 4 * MIB] {
            assert_eq!(default_buckets(ram), 16, "{ram}");
        }
        assert_eq!(default_buckets(5 * MIB), 20);
    }

    #[test]
    fn monotonic_up_to_1_gib() {
        let mut last = 0;
        for mib in 0..=1024 {
            let b = default_buckets(mib * MIB);
            assert!(b >= last);
            last = b;
        }
    }

    #[test]
    fn hashsize_parameter() {
        assert_eq!(sizing(1, 512 * MIB), Ok(Sizing { buckets: 1, max: 8 }));
        assert_eq!(sizing(1000, 512 * MIB), Ok(Sizing { buckets: 1000, max: 8000 }));
        let big = 64 * GIB;
        assert_eq!(max_hashsize(big), MAX_HASHSIZE);
        assert_eq!(
            sizing(MAX_HASHSIZE, big),
            Ok(Sizing { buckets: MAX_HASHSIZE, max: MAX_HASHSIZE * 8 })
        );
        let too_large = Err(HashsizeError::TooLarge { max: MAX_HASHSIZE });
        assert_eq!(sizing(MAX_HASHSIZE + 1, big), too_large);
        assert_eq!(sizing(u32::MAX, u64::MAX), too_large);
    }

    #[test]
    fn hashsize_bounded_by_ram() {
        // 512 MiB: 8 MiB of bucket heads, 1 Mi buckets.
        assert_eq!(max_hashsize(512 * MIB), 1 << 20);
        assert_eq!(sizing(1 << 20, 512 * MIB).map(|s| s.buckets), Ok(1 << 20));
        assert_eq!(
            sizing((1 << 20) + 1, 512 * MIB),
            Err(HashsizeError::TooLarge { max: 1 << 20 })
        );
        assert_eq!(
            sizing(MAX_HASHSIZE, 512 * MIB),
            Err(HashsizeError::TooLarge { max: 1 << 20 })
        );
        // Never below the default size, so a tiny machine still loads.
        for ram in [0, 1, 4 * MIB, 64 * MIB] {
            assert!(max_hashsize(ram) >= default_buckets(ram), "{ram}");
            assert_eq!(sizing(max_hashsize(ram), ram).map(|s| s.buckets), Ok(max_hashsize(ram)));
        }
        assert_eq!(max_hashsize(0), MIN_BUCKETS);
    }

    #[test]
    fn max_saturates() {
        assert_eq!(default_max(u32::MAX), u32::MAX);
    }

    #[test]
    fn resize_refuses_zero_and_too_large() {
        assert_eq!(resize(0, GIB), Err(HashsizeError::Zero));
        assert_eq!(resize(16, GIB), Ok(16));
        let max = max_hashsize(GIB);
        assert_eq!(resize(max, GIB), Ok(max));
        assert_eq!(resize(max + 1, GIB), Err(HashsizeError::TooLarge { max }));
    }
}
