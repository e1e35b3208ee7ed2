// SPDX-License-Identifier: GPL-2.0

//! Table sizing at load time: the bucket count (the `hashsize` parameter,
//! or derived from memory size) and the default of `ip_conntrack_max`.

use crate::ffi;
use core::sync::atomic::{AtomicI32, Ordering};

/// `ip_conntrack_max`: the table size limit. Written by the sysctl core
/// through [`AtomicI32::as_ptr`] (with `WRITE_ONCE`), read with atomic loads.
pub(crate) static CONNTRACK_MAX: AtomicI32 = AtomicI32::new(0);

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
    pub(crate) fn new(hashsize: u32, memory_bytes: u64) -> Self {
        let buckets = if hashsize != 0 {
            hashsize
        } else if memory_bytes > 1 << 30 {
            BIG_MACHINE_BUCKETS
        } else {
            let by_memory = memory_bytes / BYTES_PER_BUCKET_UNIT / LIST_HEAD_SIZE;
            u32::try_from(by_memory).unwrap_or(u32::MAX).max(MIN_BUCKETS)
        };
        let max = buckets.saturating_mul(ENTRIES_PER_BUCKET);
        Self {
            buckets,
            max: i32::try_from(max).unwrap_or(i32::MAX),
        }
    }

    /// The sizing for this load: the `hashsize` parameter and this
    /// machine's memory.
    pub(crate) fn at_load() -> Self {
        // SAFETY: plain reads of a module parameter and of the memory size.
        let (hashsize, memory) = unsafe { (ffi::ipct_param_hashsize(), ffi::ipct_physmem_bytes()) };
        Self::new(hashsize, u64::try_from(memory).unwrap_or(u64::MAX))
    }

    /// Publishes the default `ip_conntrack_max`.
    pub(crate) fn apply(self) {
        CONNTRACK_MAX.store(self.max, Ordering::Relaxed);
    }
}
