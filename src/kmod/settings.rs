// SPDX-License-Identifier: GPL-2.0
#![forbid(unsafe_code)]

//! The run-time settings behind the sysctls: one atomic `int` per knob,
//! written by the sysctl core (`proc_dointvec_minmax` stores through
//! [`Knob::as_ptr`] with `WRITE_ONCE`, only values inside the knob's range)
//! and read by the packet path with relaxed loads.
//!
//! The settings are global, as 6.12's `nf_conntrack_max` and 2.6's
//! `ip_conntrack_*` knobs: the sysctls live in the initial network
//! namespace only, and every namespace's table follows them.
//! `ip_conntrack_max` limits each namespace's table separately (6.12
//! compares `nf_conntrack_max` with the namespace's own count).
//!
//! Relaxed loads suffice: each knob is an independent value, a reader that
//! sees an old value for a moment behaves as if the write came a moment
//! later, and no other memory is published through them.

use crate::config::{Config, Settings, Timeout, Timeouts, MAX_TIMEOUT_SECS, TIMEOUT_COUNT};
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// One knob: an `int` the sysctl core may write at any time.
#[repr(transparent)]
pub(crate) struct Knob(AtomicI32);

impl Knob {
    const fn new(v: i32) -> Self {
        Self(AtomicI32::new(v))
    }

    /// The current value (never below the knob's minimum, which is at
    /// least 0, so the conversion cannot fail).
    #[inline]
    fn get(&self) -> u32 {
        u32::try_from(self.0.load(Ordering::Relaxed)).unwrap_or(0)
    }

    /// Where the sysctl core reads and writes the value.
    pub(crate) fn as_ptr(&self) -> *mut i32 {
        self.0.as_ptr()
    }
}

/// Seconds as an `int` knob value (every default fits).
const fn secs(s: u32) -> i32 {
    if s > i32::MAX as u32 {
        i32::MAX
    } else {
        s as i32
    }
}

/// Largest `ip_conntrack_max`: 8 entries per bucket of the largest table
/// `hashsize=` allows (2^24 buckets). 0 means no limit (as in 2.6 and 6.12).
pub(crate) const MAX_CONNTRACK_MAX: i32 = 1 << 27;

/// Largest `ip_conntrack_log_invalid`: a protocol number, 255 (IPPROTO_RAW)
/// meaning every protocol.
pub(crate) const MAX_LOG_INVALID: i32 = 255;

/// Largest `ip_conntrack_tcp_max_retrans` (6.12 keeps it in a `u8`).
pub(crate) const MAX_TCP_MAX_RETRANS: i32 = 255;

/// Smallest timeout: 0 would expire entries before their first reply.
pub(crate) const MIN_TIMEOUT_SECS: i32 = 1;

/// Largest timeout, in seconds.
pub(crate) const MAX_TIMEOUT: i32 = secs(MAX_TIMEOUT_SECS);

/// `ip_conntrack_max`. Set at load from the table sizing ([`set_max`]).
pub(crate) static MAX: Knob = Knob::new(0);
/// `ip_conntrack_log_invalid`: protocol whose INVALID packets are logged
/// (0 none, 255 all).
pub(crate) static LOG_INVALID: Knob = Knob::new(0);
/// `ip_conntrack_checksum`: verify checksums before tracking (0/1).
pub(crate) static CHECKSUM: Knob = Knob::new(1);
/// `ip_conntrack_acct`: entries created from now on count packets and
/// bytes (0/1; 0 as 6.12's `nf_conntrack_acct`).
pub(crate) static ACCT: Knob = Knob::new(0);
/// `ip_conntrack_tcp_loose` (0/1).
pub(crate) static TCP_LOOSE: Knob = Knob::new(Config::DEFAULT.tcp_loose as i32);
/// `ip_conntrack_tcp_be_liberal` (0/1).
pub(crate) static TCP_BE_LIBERAL: Knob = Knob::new(Config::DEFAULT.tcp_be_liberal as i32);
/// `ip_conntrack_tcp_max_retrans`.
pub(crate) static TCP_MAX_RETRANS: Knob = Knob::new(secs(Config::DEFAULT.tcp_max_retrans));

/// Every timeout knob, in [`Timeout`] order, with the defaults of the
/// engine's table ([`crate::config::TIMEOUTS`]); the sysctl files are
/// derived from the same table.
pub(crate) static TIMEOUTS: [Knob; TIMEOUT_COUNT] = {
    let defaults = Timeouts::DEFAULT.secs();
    let mut knobs = [const { Knob::new(0) }; TIMEOUT_COUNT];
    let mut i = 0;
    while i < TIMEOUT_COUNT {
        knobs[i] = Knob::new(secs(defaults[i]));
        i += 1;
    }
    knobs
};

/// The settings as the engine reads them: straight from the knobs, one
/// value at a time, when a packet needs it.
pub(crate) struct Knobs;

impl Settings for Knobs {
    #[inline]
    fn timeout_secs(&self, t: Timeout) -> u32 {
        TIMEOUTS.get(t.index()).map_or(0, Knob::get)
    }

    #[inline]
    fn tcp_loose(&self) -> bool {
        TCP_LOOSE.get() != 0
    }

    #[inline]
    fn tcp_be_liberal(&self) -> bool {
        TCP_BE_LIBERAL.get() != 0
    }

    #[inline]
    fn tcp_max_retrans(&self) -> u32 {
        TCP_MAX_RETRANS.get()
    }
}

/// `ip_conntrack_max`: the most entries one namespace's table may hold;
/// 0 means no limit (as in 2.6 and 6.12).
pub(crate) fn max() -> u32 {
    MAX.get()
}

/// Sets `ip_conntrack_max` (at load, from the table sizing), clamped to
/// the sysctl's range.
pub(crate) fn set_max(max: u32) {
    let v = i32::try_from(max).unwrap_or(i32::MAX).min(MAX_CONNTRACK_MAX);
    MAX.0.store(v, Ordering::Relaxed);
}

/// The bucket count chosen at load (`ip_conntrack_buckets`).
static BUCKETS: AtomicU32 = AtomicU32::new(0);

/// `ip_conntrack_buckets`: the hash table size chosen at load.
pub(crate) fn buckets() -> u32 {
    BUCKETS.load(Ordering::Relaxed)
}

/// Records the bucket count chosen at load.
pub(crate) fn set_buckets(buckets: u32) {
    BUCKETS.store(buckets, Ordering::Relaxed);
}

/// `ip_conntrack_log_invalid`: the protocol number whose INVALID packets
/// are logged; 0 logs none, 255 (IPPROTO_RAW) every protocol.
pub(crate) fn log_invalid() -> u8 {
    u8::try_from(LOG_INVALID.get()).unwrap_or(u8::MAX)
}

/// Whether INVALID packets of protocol `proto` are logged.
pub(crate) fn logs_invalid(proto: u8) -> bool {
    match log_invalid() {
        0 => false,
        u8::MAX => true,
        p => p == proto,
    }
}

/// `ip_conntrack_acct`: whether a new entry gets counters.
pub(crate) fn acct() -> bool {
    ACCT.get() != 0
}

/// `ip_conntrack_checksum`: whether to verify checksums before tracking
/// (packets with bad checksums are INVALID).
pub(crate) fn checksum() -> bool {
    CHECKSUM.get() != 0
}
