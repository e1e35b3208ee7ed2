// SPDX-License-Identifier: GPL-2.0

//! Parameters: the `hashsize` module parameter (declared in `helpers.c`;
//! writable at run time, which resizes the tables: [`check_resize`]) and the machine's memory size, turned into a bucket count
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
            Err(e) => {
                log_refused(hashsize, e);
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

    /// Publishes the bucket count (also as the `hashsize` parameter's
    /// value) and the default `ip_conntrack_max`.
    pub(crate) fn apply(self) {
        settings::set_buckets(self.0.buckets);
        settings::set_max(self.0.max);
        // SAFETY: a plain store into the parameter's variable.
        unsafe { ffi::ipct_param_set_hashsize(self.0.buckets) };
    }
}

/// Whether the tables may be resized to `buckets` buckets at run time
/// ([`sizing::resize`]): `EINVAL`, logged, if not. `ip_conntrack_max`
/// stays as set.
pub(crate) fn check_resize(buckets: u32) -> Result {
    // SAFETY: reads the memory size; callable at any time.
    let memory = unsafe { ffi::ipct_physmem_bytes() };
    match sizing::resize(buckets, u64::try_from(memory).unwrap_or(u64::MAX)) {
        Ok(_) => Ok(()),
        Err(e) => {
            log_refused(buckets, e);
            Err(EINVAL)
        }
    }
}

/// Logs why `hashsize` was refused.
fn log_refused(hashsize: u32, e: HashsizeError) {
    match e {
        HashsizeError::TooLarge { max } => pr_err!(
            "hashsize={} is too large (at most {} here: each network namespace's table takes {} bytes per bucket, at most 1/{} of memory)\n",
            hashsize,
            max,
            BUCKET_HEAD_SIZE,
            RAM_SHARE
        ),
        HashsizeError::Zero => pr_err!("hashsize=0 is only valid at load (automatic size)\n"),
    }
}
