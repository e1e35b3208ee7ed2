// SPDX-License-Identifier: GPL-2.0

//! The classic sysctls: `net.ipv4.ip_conntrack_max` (the one users know)
//! and `net.ipv4.netfilter.ip_conntrack_*` (limits, counters, TCP knobs and
//! every timeout, in seconds).
//!
//! They live in the initial network namespace only, as 6.12's
//! `net.nf_conntrack_max` does, and set global [`settings`]. The read-only
//! `ip_conntrack_count` shows the initial namespace's table (what
//! `/proc/net/ip_conntrack` lists there): entries allocated, as 6.12's
//! count, so it also includes new entries attached to packets not yet
//! confirmed and entries removed from the table (expired, early-dropped)
//! that packets still hold; at rest it equals the line count.
//! `ip_conntrack_max` limits each namespace's table separately, as
//! `nf_conntrack_max` does in 6.12; lowering it below the count removes
//! nothing, new flows then go through early drop.
//!
//! Writes go through `proc_dointvec_minmax`, which stores a value only
//! after parsing it and checking its range, so a bad write (negative, not a
//! number, out of range, empty, too many digits) fails with `EINVAL` and
//! leaves the old value. Ranges:
//!
//! | knob | range |
//! |------|-------|
//! | `ip_conntrack_max` | 0 (no limit, as 2.6 and 6.12) ..= 2^27 |
//! | `tcp_loose`, `tcp_be_liberal`, `checksum`, `acct` | 0 ..= 1 |
//! | `log_invalid` | 0 ..= 255 (a protocol number; 255 = all) |
//! | `tcp_max_retrans` | 0 ..= 255 (a `u8` in 6.12) |
//! | timeouts | 1 ..= 2^31 - 1 seconds (0 would expire entries at once) |
//!
//! `ip_conntrack_count` and `ip_conntrack_buckets` are mode 0444: opening
//! them for writing fails (`EACCES`, root included), and their handler
//! refuses writes (`EPERM`) in any case.

use crate::config::{Timeout, TIMEOUTS};
use crate::ffi;
use crate::settings::{self, Knob};
use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::c_str;
use kernel::ffi::c_int;
use kernel::prelude::*;
use kernel::fmt;
use kernel::str::{CStr, CString};

/// Bounds of a writable knob, pointed to by `extra1`/`extra2` of its entry
/// (which `proc_dointvec_minmax` reads as `int *`).
#[repr(C)]
struct Range {
    min: c_int,
    max: c_int,
}

static BOOL: Range = Range { min: 0, max: 1 };
static CONNTRACK_MAX: Range = Range {
    min: 0,
    max: settings::MAX_CONNTRACK_MAX,
};
static LOG_INVALID: Range = Range {
    min: 0,
    max: settings::MAX_LOG_INVALID,
};
static RETRANS: Range = Range {
    min: 0,
    max: settings::MAX_TCP_MAX_RETRANS,
};
static TIMEOUT: Range = Range {
    min: settings::MIN_TIMEOUT_SECS,
    max: settings::MAX_TIMEOUT,
};

/// A value computed on each read.
trait Computed {
    /// The value to show.
    fn value() -> u32;
}

/// `ip_conntrack_count`: entries in the initial namespace's table.
struct Count;

impl Computed for Count {
    fn value() -> u32 {
        crate::procfs::init_net_count()
    }
}

/// `ip_conntrack_buckets`: the hash table size chosen at load.
struct Buckets;

impl Computed for Buckets {
    fn value() -> u32 {
        settings::buckets()
    }
}

/// What one sysctl shows and accepts.
#[derive(Clone, Copy)]
enum Value {
    /// A knob: read as an `int`, written with values in `range`.
    Knob(&'static Knob, &'static Range),
    /// Read-only, computed by this handler on each read.
    Computed(ffi::proc_handler),
}

/// A sysctl's name.
#[derive(Clone, Copy)]
enum Name {
    /// Given here.
    Fixed(&'static CStr),
    /// The timeout's name in the engine's table ([`TIMEOUTS`]).
    Of(Timeout),
}

/// One sysctl: its name under the table's directory and its value.
#[derive(Clone, Copy)]
struct Spec {
    name: Name,
    value: Value,
}

const fn knob(name: &'static CStr, knob: &'static Knob, range: &'static Range) -> Spec {
    Spec {
        name: Name::Fixed(name),
        value: Value::Knob(knob, range),
    }
}

const fn computed<C: Computed>(name: &'static CStr) -> Spec {
    Spec {
        name: Name::Fixed(name),
        value: Value::Computed(Some(computed_handler::<C>)),
    }
}

/// The sysctl of timeout `t`: name, default and knob from the engine's
/// table, in seconds within [`TIMEOUT`].
const fn timeout(t: Timeout) -> Spec {
    Spec {
        name: Name::Of(t),
        value: Value::Knob(&settings::TIMEOUTS[t.index()], &TIMEOUT),
    }
}

/// Size of an `int` sysctl's data, the `maxlen` of its entry.
const INT_LEN: c_int = core::mem::size_of::<c_int>() as c_int;

impl Spec {
    /// The name as a C string: a 'static one, or one made into `names`
    /// (whose heap buffers stay put for as long as `names` lives).
    fn c_name(&self, names: &mut KVec<CString>) -> Result<*const kernel::ffi::c_char> {
        match self.name {
            Name::Fixed(n) => Ok(n.as_char_ptr()),
            Name::Of(t) => {
                let name = TIMEOUTS
                    .get(t.index())
                    .and_then(|s| s.sysctl)
                    .ok_or(EINVAL)?;
                let c = CString::try_from_fmt(fmt!("{}", name))?;
                let p = c.as_char_ptr();
                names.push(c, GFP_KERNEL)?;
                Ok(p)
            }
        }
    }

    /// The C entry, named `procname`. Every other pointer in it is 'static.
    fn entry(&self, procname: *const kernel::ffi::c_char) -> ffi::ctl_table {
        match self.value {
            Value::Knob(knob, range) => ffi::ctl_table {
                procname,
                data: knob.as_ptr().cast::<c_void>(),
                maxlen: INT_LEN,
                mode: 0o644,
                proc_handler: Some(knob_handler),
                extra1: core::ptr::addr_of!(range.min).cast_mut().cast::<c_void>(),
                extra2: core::ptr::addr_of!(range.max).cast_mut().cast::<c_void>(),
                ..Default::default()
            },
            Value::Computed(handler) => ffi::ctl_table {
                procname,
                maxlen: INT_LEN,
                mode: 0o444,
                proc_handler: handler,
                ..Default::default()
            },
        }
    }
}

/// Handler of every knob: `proc_dointvec_minmax`, plus `EINVAL` for an
/// empty write (which `proc_dointvec_minmax` takes as a successful no-op).
///
/// # Safety
///
/// Only the sysctl core calls it, with the arguments of a `proc_handler`:
/// `table` is one of our knob entries, `lenp` and `ppos` are valid, and
/// `buffer` holds `*lenp` bytes.
unsafe extern "C" fn knob_handler(
    table: *const ffi::ctl_table,
    write: c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut ffi::loff_t,
) -> c_int {
    // SAFETY: `lenp` is valid for reads (function contract).
    if write != 0 && unsafe { *lenp } == 0 {
        return EINVAL.to_errno();
    }
    // SAFETY: forwarded unchanged from the sysctl core; `table.data` is a
    // knob's `int`, `extra1`/`extra2` point to the `int` bounds of a
    // `Range`, all 'static.
    unsafe { ffi::proc_dointvec_minmax(table, write, buffer, lenp, ppos) }
}

/// Handler of the read-only sysctl computed by `C`.
///
/// # Safety
///
/// Only the sysctl core calls it, with the arguments of a `proc_handler`:
/// `table` is valid, `lenp` and `ppos` are valid, and `buffer` holds
/// `*lenp` bytes.
unsafe extern "C" fn computed_handler<C: Computed>(
    table: *const ffi::ctl_table,
    write: c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut ffi::loff_t,
) -> c_int {
    if write != 0 {
        return EPERM.to_errno();
    }
    let mut value = c_int::try_from(C::value()).unwrap_or(c_int::MAX);
    // SAFETY: `table` is valid for reads (function contract).
    let mut shown = unsafe { *table };
    shown.data = core::ptr::addr_of_mut!(value).cast::<c_void>();
    // SAFETY: `shown` is a valid entry whose data is the `int` `value`,
    // both alive for the call; the rest is forwarded from the sysctl core.
    // A read only writes into `buffer`.
    unsafe { ffi::proc_dointvec(&shown, write, buffer, lenp, ppos) }
}

/// `net.ipv4.*`.
const IPV4: [Spec; 1] = [knob(c_str!("ip_conntrack_max"), &settings::MAX, &CONNTRACK_MAX)];

/// `net.ipv4.netfilter.*`, in 2.6's order (then SCTP's, as 2.6's
/// `ip_conntrack_proto_sctp` added them, and DCCP's after the same
/// pattern; `ip_conntrack_acct`, which 2.6 set at build time, last).
const NETFILTER: [Spec; 38] = [
    knob(c_str!("ip_conntrack_max"), &settings::MAX, &CONNTRACK_MAX),
    computed::<Count>(c_str!("ip_conntrack_count")),
    computed::<Buckets>(c_str!("ip_conntrack_buckets")),
    knob(
        c_str!("ip_conntrack_checksum"),
        &settings::CHECKSUM,
        &BOOL,
    ),
    knob(
        c_str!("ip_conntrack_log_invalid"),
        &settings::LOG_INVALID,
        &LOG_INVALID,
    ),
    timeout(Timeout::TcpSynSent),
    timeout(Timeout::TcpSynRecv),
    timeout(Timeout::TcpEstablished),
    timeout(Timeout::TcpFinWait),
    timeout(Timeout::TcpCloseWait),
    timeout(Timeout::TcpLastAck),
    timeout(Timeout::TcpTimeWait),
    timeout(Timeout::TcpClose),
    timeout(Timeout::TcpMaxRetrans),
    knob(
        c_str!("ip_conntrack_tcp_loose"),
        &settings::TCP_LOOSE,
        &BOOL,
    ),
    knob(
        c_str!("ip_conntrack_tcp_be_liberal"),
        &settings::TCP_BE_LIBERAL,
        &BOOL,
    ),
    knob(
        c_str!("ip_conntrack_tcp_max_retrans"),
        &settings::TCP_MAX_RETRANS,
        &RETRANS,
    ),
    timeout(Timeout::Udp),
    timeout(Timeout::UdpStream),
    timeout(Timeout::Icmp),
    timeout(Timeout::Generic),
    timeout(Timeout::SctpClosed),
    timeout(Timeout::SctpCookieWait),
    timeout(Timeout::SctpCookieEchoed),
    timeout(Timeout::SctpEstablished),
    timeout(Timeout::SctpShutdownSent),
    timeout(Timeout::SctpShutdownRecd),
    timeout(Timeout::SctpShutdownAckSent),
    timeout(Timeout::SctpHeartbeatSent),
    timeout(Timeout::DccpRequest),
    timeout(Timeout::DccpRespond),
    timeout(Timeout::DccpPartOpen),
    timeout(Timeout::DccpOpen),
    timeout(Timeout::DccpCloseReq),
    timeout(Timeout::DccpClosing),
    timeout(Timeout::DccpTimeWait),
    timeout(Timeout::Icmpv6),
    knob(c_str!("ip_conntrack_acct"), &settings::ACCT, &BOOL),
];

/// One registered directory of sysctls; unregistered on drop.
///
/// # Invariants
///
/// `header` is the live registration (in the initial namespace) of
/// `_entries`, which stays at the same heap address until drop (`_entries`
/// only keeps it alive).
struct Table<const N: usize> {
    header: NonNull<ffi::ctl_table_header>,
    _entries: KBox<[ffi::ctl_table; N]>,
    _names: KVec<CString>,
}

// SAFETY: after registration the entries are only read, by the sysctl core;
// Rust only unregisters them on drop, which may happen on any thread.
unsafe impl<const N: usize> Send for Table<N> {}
// SAFETY: `Table` has no methods taking `&self`.
unsafe impl<const N: usize> Sync for Table<N> {}

impl<const N: usize> Table<N> {
    /// Registers `specs` under `/proc/sys/<path>` in the initial namespace.
    fn register(path: &'static CStr, specs: &[Spec; N]) -> Result<Self> {
        let mut names = KVec::new();
        let mut procnames = [core::ptr::null(); N];
        for (p, s) in procnames.iter_mut().zip(specs) {
            *p = s.c_name(&mut names)?;
        }
        let mut entries = KBox::new(
            core::array::from_fn(|i| specs[i].entry(procnames[i])),
            GFP_KERNEL,
        )?;
        // SAFETY: the path is a valid C string; `entries` holds `N` valid
        // entries whose pointers are 'static (knobs, ranges, handlers) or
        // into `names` (kept with them); both stay alive and unmoved until
        // `drop` unregisters them.
        let header = unsafe {
            ffi::ipct_sysctl_register(path.as_char_ptr(), entries.as_mut_ptr(), entries.len())
        };
        let header = NonNull::new(header).ok_or(ENOMEM)?;
        // INVARIANT: `header` registers `entries`.
        Ok(Self {
            header,
            _entries: entries,
            _names: names,
        })
    }
}

impl<const N: usize> Drop for Table<N> {
    fn drop(&mut self) {
        // SAFETY: `self.header` is live (type invariant). Unregistering
        // waits for handlers in flight, and afterwards the sysctl core no
        // longer reads `self._entries`, which are freed right after.
        unsafe { ffi::ipct_sysctl_unregister(self.header.as_ptr()) };
    }
}

/// Every sysctl of the module, registered until drop.
pub(crate) struct Sysctls {
    _ipv4: Table<1>,
    _netfilter: Table<{ NETFILTER.len() }>,
}

impl Sysctls {
    /// Registers `net.ipv4.ip_conntrack_max` and `net.ipv4.netfilter.*`
    /// in the initial network namespace.
    pub(crate) fn new() -> Result<Self> {
        let ipv4 = Table::register(c_str!("net/ipv4"), &IPV4)?;
        let netfilter = Table::register(c_str!("net/ipv4/netfilter"), &NETFILTER)?;
        Ok(Self {
            _ipv4: ipv4,
            _netfilter: netfilter,
        })
    }
}
