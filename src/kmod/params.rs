// SPDX-License-Identifier: GPL-2.0

//! Load-time parameters: the `hashsize` module parameter (declared in
//! `helpers.c`) and the machine's memory size, turned into a bucket count
//! and a default `ip_conntrack_max` by the engine's 2.6 rule
//! ([`crate::sizing`]). The live `ip_conntrack_max` is in
//! [`crate::settings`].

use crate::ffi;
use crate::settings;
use crate::sizing::{self, HashsizeError, BUCKET_HEAD_SIZE, RAM_SHARE};
use kernel::prelude::*;

/// Bucket count and entry limit chosen at load.
#[derive(Clone, Copy)]
pub(crate) struct Sizing(sizing::Sizing);

impl Sizing {
    /// The sizing for this load, from the `hashsize` parameter and this
    /// machine's memory (present pages). `EINVAL`, logged, for a
    /// `hashsize` above [`sizing::max_hashsize`] of that memory.
    pub(crate) fn at_load() -> Result<Self> {
        // SAFETY: both helpers only read (a module parameter, the memory
        // size) and may be called at any time.
        let (hashsize, memory) = unsafe { (ffi::ipct_param_hashsize(), ffi::ipct_physmem_bytes()) };
        let ram = u64::try_from(memory).unwrap_or(u64::MAX);
        match sizing::sizing(hashsize, ram) {
            Ok(s) => Ok(Self(s)),
            Err(HashsizeError::TooLarge { max }) => {
                pr_err!(
                    "hashsize={} is too large (at most {} here: each network namespace's table takes {} bytes per bucket, at most 1/{} of memory)\n",
                    hashsize,
                    max,
                    BUCKET_HEAD_SIZE,
                    RAM_SHARE
                );
                Err(EINVAL)
            }
        }
    }

    /// Number of hash buckets of every namespace's table.
    pub(crate) fn buckets(self) -> u32 {
        self.0.buckets
    }

    /// Default `ip_conntrack_max`.
    pub(crate) fn max(self) -> u32 {
        self.0.max
    }

    /// Publishes the bucket count and the default `ip_conntrack_max`.
    pub(crate) fn apply(self) {
        settings::set_buckets(self.0.buckets);
        settings::set_max(self.0.max);
    }
}
