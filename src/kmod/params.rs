// SPDX-License-Identifier: GPL-2.0

//! Load-time parameters: the `hashsize` module parameter (declared in
//! `helpers.c`), the machine's memory size, the bucket count and default
//! `ip_conntrack_max` derived from them (2.6's rule, also implemented by
//! the engine's `sizing.rs`). The live `ip_conntrack_max` is in
//! [`crate::settings`].

use crate::ffi;
use crate::settings;
use kernel::prelude::*;

/// Memory per bucket in 2.6's formula.
const BYTES_PER_BUCKET_UNIT: u64 = 16384;
/// `sizeof(struct list_head)` on 64-bit, the divisor in 2.6's formula.
const LIST_HEAD_SIZE: u64 = 16;
/// Bucket count used on machines with more than 1 GiB.
const BIG_MACHINE_BUCKETS: u32 = 8192;
/// Smallest automatic bucket count.
const MIN_BUCKETS: u32 = 16;
/// `ip_conntrack_max` defaults to this many entries per bucket.
const ENTRIES_PER_BUCKET: u32 = 8;
/// Largest `hashsize` accepted (as the engine's `sizing::MAX_HASHSIZE`).
const MAX_HASHSIZE: u32 = 1 << 24;

/// Bucket count and entry limit chosen at load.
#[derive(Clone, Copy)]
pub(crate) struct Sizing {
    /// Number of hash buckets.
    pub(crate) buckets: u32,
    /// Default `ip_conntrack_max`.
    pub(crate) max: i32,
}

impl Sizing {
    /// 2.6's rule: `hashsize` when given; otherwise memory / 16384 / 16
    /// buckets (8192 above 1 GiB, at least 16); `max` is 8 per bucket.
    /// `None` when `hashsize` exceeds [`MAX_HASHSIZE`].
    fn new(hashsize: u32, memory_bytes: u64) -> Option<Self> {
        if hashsize > MAX_HASHSIZE {
            return None;
        }
        let buckets = if hashsize != 0 {
            hashsize
        } else if memory_bytes > 1 << 30 {
            BIG_MACHINE_BUCKETS
        } else {
            let by_memory = memory_bytes / BYTES_PER_BUCKET_UNIT / LIST_HEAD_SIZE;
            u32::try_from(by_memory)
                .unwrap_or(u32::MAX)
                .max(MIN_BUCKETS)
        };
        let max = buckets.saturating_mul(ENTRIES_PER_BUCKET);
        Some(Self {
            buckets,
            max: i32::try_from(max).unwrap_or(i32::MAX),
        })
    }

    /// The sizing for this load, from the `hashsize` parameter and this
    /// machine's memory (present pages). `EINVAL`, logged, for a
    /// `hashsize` above [`MAX_HASHSIZE`].
    pub(crate) fn at_load() -> Result<Self> {
        // SAFETY: both helpers only read (a module parameter, the memory
        // size) and may be called at any time.
        let (hashsize, memory) = unsafe { (ffi::ipct_param_hashsize(), ffi::ipct_physmem_bytes()) };
        Self::new(hashsize, u64::try_from(memory).unwrap_or(u64::MAX)).ok_or_else(|| {
            pr_err!(
                "hashsize={} is too large (at most {})\n",
                hashsize,
                MAX_HASHSIZE
            );
            EINVAL
        })
    }

    /// Publishes the bucket count and the default `ip_conntrack_max`.
    pub(crate) fn apply(self) {
        settings::set_buckets(self.buckets);
        settings::set_max(u32::try_from(self.max).unwrap_or(0));
    }
}
