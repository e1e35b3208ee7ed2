// SPDX-License-Identifier: GPL-2.0

//! `/proc/net/ip_conntrack` (the connection list),
//! `/proc/net/stat/ip_conntrack` (statistics),
//! `/proc/net/stat/ip_conntrack_ext` (what the classic statistics have no
//! column for), and the same list and statistics in Linux 6.12's layouts
//! as `/proc/net/nf_conntrack` and `/proc/net/stat/nf_conntrack`, in every
//! network namespace, each showing its own namespace's table.
//!
//! # The connection list
//!
//! One seq_file record per hash bucket, formatted while that bucket's
//! stripe lock is held (one lock at a time, never a table-wide lock). The
//! position seq_file keeps between `read()` calls is a [`DumpPos`]: a
//! stripe and a flow position in it, below which everything was listed.
//! A record lists the bucket holding its position, from that position on,
//! and `show` leaves where the next record starts for `next`:
//!
//! - a bucket's lines are one snapshot, taken under its lock, and reach
//!   user space whole or not at all: when they do not fit in what is left
//!   of seq_file's buffer, seq_file throws the partial record away and
//!   calls `start` again at the same position later (growing its buffer if
//!   the record alone does not fit), which re-reads the bucket;
//! - an entry's position never changes (it is a hash of its tuple), even
//!   when the table is resized (`hashsize`) during the dump, so no entry is
//!   listed twice, and an entry present during the whole dump is listed
//!   exactly once; entries inserted or deleted during the dump may or may
//!   not appear, as with any live table;
//! - empty buckets are empty records, which seq_file skips.
//!
//! The record handle passed from `start`/`next` to `show` is the position
//! plus one, as a pointer value (never null, never an error pointer: a
//! position is below 2^42).
//!
//! `/proc/net/nf_conntrack` is the same dump with 6.12's lines (the
//! engine's `procfmt::format_nf_entry`). Its `use=` counts one more
//! reference than the classic file's: 6.12 takes a reference on each
//! entry to print it (`ct_seq_show`) and prints the count with it, where
//! this dump reads under the bucket's lock instead; an idle entry shows
//! `use=2` in both kernels' files.
//!
//! # The statistics file
//!
//! 2.6's header, then one row per possible CPU with that CPU's counters of
//! the namespace's table; `entries`, the namespace's entry count, repeats
//! on every row (the engine's `stats::format_row`).
//! `/proc/net/stat/nf_conntrack` is 6.12's header and rows
//! (`stats::format_nf_row`) of the same counters.
//!
//! # The extra statistics file
//!
//! `ip_conntrack_ext`: a header line and one line of decimal values for
//! the namespace (the engine's `stats::format_ext`): `entries`, `buckets`,
//! `longest_chain` (entries in the longest bucket chain, found by walking
//! every chain, one stripe lock at a time: a hash flood shows here),
//! `clash_resolve` (new entries that lost a confirmation race to an
//! identical one and were merged into it, the packet kept) and
//! `chaintoolong` (inserts refused because the chain was already
//! `track::MAX_CHAIN_LEN` long), both summed over the CPUs.

use crate::conn;
use crate::ffi;
use crate::sys;
use crate::kstats::possible_cpus;
use crate::ktable::Table;
use crate::procfmt::{format_entry, format_nf_entry, Family, TooSmall, MAX_LINE_LEN};
use crate::table::DumpPos;
use crate::stats::{
    format_ext, format_nf_row, format_row, Ext, Stats, EXT_HEADER,
    EXT_ROW_LEN, HEADER, NF_HEADER, NF_ROW_LEN, ROW_LEN,
};
use core::ffi::c_void;
use core::ptr;
use kernel::error::to_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// Buckets walked between two chances for the scheduler to run something
/// else (a dump of a huge, mostly empty table must not hog the CPU).
const RESCHED_EVERY: u32 = 1024;

// --- What the files need from the data path -----------------------------------

/// The table of `net`, for the duration of a `/proc` callback in `net`.
///
/// # Safety
///
/// Only from a callback of one of this module's files in `net`: the files
/// hold a reference on `net`, and they are removed (waiting for callbacks
/// in flight) before any table is torn down, at namespace exit and at
/// module unload.
unsafe fn table_of<'a>(net: *mut ffi::net) -> Option<&'a Table> {
    // SAFETY: `net` is live and its table outlives this callback (caller).
    unsafe { Table::for_net(net) }
}

/// The layout of a connection list's lines.
#[derive(Clone, Copy)]
enum Layout {
    /// `/proc/net/ip_conntrack`, 2.6's.
    Classic,
    /// `/proc/net/nf_conntrack`, 6.12's.
    Nf,
}

/// Writes the lines of the bucket holding `at` into `seq`, formatted
/// under its stripe's lock, and returns where the next record starts.
/// Stops early once `seq` overflows: seq_file throws the record away and
/// asks for it again. `None` past the last stripe.
fn show_record(seq: &mut SeqFile, table: &Table, at: DumpPos, layout: Layout) -> Option<DumpPos> {
    let now = conn::now();
    let mut line = [0u8; MAX_LINE_LEN];
    let (_, next) = table.dump_step(at, 0, now, |e, c| {
        let (uses, counters, nat) = (c.use_count(), c.read_counters(), c.nat_reply());
        let r = match layout {
            // The classic file is IPv4 only.
            Layout::Classic if c.is_v6() => return true,
            Layout::Classic => format_entry(&mut line, e, now, uses, counters.as_ref(), nat),
            // `use=` with the reference 6.12's reader would hold (see
            // above).
            Layout::Nf => format_nf_entry(
                &mut line,
                if c.is_v6() { Family::Ipv6 } else { Family::Ipv4 },
                e,
                now,
                uses.saturating_add(1),
                counters.as_ref(),
                nat,
                c.addrs6(),
            ),
        };
        match r {
            Ok(n) => seq.write(line.get(..n).unwrap_or_default()),
            // Cannot happen: MAX_LINE_LEN bytes hold any line.
            Err(TooSmall) => true,
        }
    })?;
    Some(next)
}

/// Entries in the initial network namespace's table (`ip_conntrack_count`,
/// whose sysctl lives there).
///
/// Only from a sysctl handler of this module: the sysctls are unregistered
/// (waiting for handlers in flight) before the tables are torn down.
pub(crate) fn init_net_count() -> u32 {
    // SAFETY: init_net lives forever; its table outlives the sysctls
    // (see above).
    let table = unsafe { Table::for_net(ffi::ipct_init_net()) };
    table.map_or(0, Table::count)
}

// --- seq_file -------------------------------------------------------------------

/// A `seq_file` being filled by one `show` call.
///
/// # Invariants
///
/// `ptr` points to a valid `seq_file` that the current thread may write to.
struct SeqFile {
    ptr: *mut ffi::seq_file,
}

impl SeqFile {
    /// # Safety
    ///
    /// `ptr` must point to a valid `seq_file` that the caller may write to
    /// until the returned value is dropped (true inside seq_file callbacks).
    unsafe fn from_raw(ptr: *mut ffi::seq_file) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self { ptr }
    }

    /// Appends `bytes`. On overflow seq_file throws this record away and
    /// calls `show` again later (with a bigger buffer if needed); returns
    /// `false` then, so the caller can stop early.
    fn write(&mut self, bytes: &[u8]) -> bool {
        // SAFETY: `self.ptr` is valid and writable (type invariant);
        // `bytes` is valid for `bytes.len()` bytes. seq_write only copies
        // (it may run under a spinlock).
        unsafe { ffi::seq_write(self.ptr, bytes.as_ptr().cast(), bytes.len()) == 0 }
    }
}

/// The record handle of position `at`.
fn handle(at: DumpPos) -> *mut c_void {
    let n = usize::try_from(at.to_u64()).unwrap_or(usize::MAX).saturating_add(1);
    ptr::null_mut::<c_void>().wrapping_byte_add(n)
}

/// The position of a record handle made by [`handle`].
fn pos_of(v: *mut c_void) -> Option<DumpPos> {
    let n = (v as usize).checked_sub(1)?;
    Some(DumpPos::from_u64(u64::try_from(n).ok()?))
}

/// The record at position `pos` of `table`'s list, or null past the end.
fn record_at(table: Option<&Table>, pos: ffi::loff_t) -> *mut c_void {
    let Ok(v) = u64::try_from(pos) else { return ptr::null_mut() };
    let at = DumpPos::from_u64(v);
    match table {
        Some(t) if at.stripe < t.layout().stripes() => handle(at),
        _ => ptr::null_mut(),
    }
}

/// The table of the namespace of an open `/proc/net/ip_conntrack`.
///
/// # Safety
///
/// `m` must be a seq_file of this module's connection list, inside one
/// of its callbacks.
unsafe fn list_table<'a>(m: *mut ffi::seq_file) -> Option<&'a Table> {
    // SAFETY: `m` is a seq_file opened by proc_create_net (its private
    // data starts with a seq_net_private); the namespace is held while it
    // is open.
    let net = unsafe { ffi::ipct_seq_net(m) };
    // SAFETY: a callback of /proc/net/ip_conntrack in `net`.
    unsafe { table_of(net) }
}

/// # Safety
///
/// Only the seq_file core calls it, with a valid `seq_file` of
/// `/proc/net/ip_conntrack` and a valid position.
unsafe extern "C" fn list_start(m: *mut ffi::seq_file, pos: *mut ffi::loff_t) -> *mut c_void {
    // SAFETY: see the function contract.
    let table = unsafe { list_table(m) };
    // SAFETY: `pos` is valid (function contract).
    record_at(table, unsafe { *pos })
}

/// # Safety
///
/// As [`list_start`], with the record `show` just listed.
unsafe extern "C" fn list_next(
    m: *mut ffi::seq_file,
    _v: *mut c_void,
    pos: *mut ffi::loff_t,
) -> *mut c_void {
    // SAFETY: the iterator state of this open file (function contract);
    // `show` stored where the record it listed ends.
    let next = unsafe { *ffi::ipct_seq_list_next(m) };
    let next = ffi::loff_t::try_from(next).unwrap_or(ffi::loff_t::MAX);
    // SAFETY: `pos` is valid and ours to update (function contract).
    let old = unsafe { core::mem::replace(&mut *pos, next) };
    // Records move forward: a stale stored position cannot send the
    // dump back.
    if next <= old {
        // SAFETY: as above.
        unsafe { *pos = old.saturating_add(1) };
    }
    // SAFETY: as in `list_start`.
    let records = unsafe { ffi::ipct_seq_list_tick(m) };
    if records % RESCHED_EVERY == 0 {
        sys::cond_resched();
    }
    // SAFETY: as in `list_start`.
    let table = unsafe { list_table(m) };
    // SAFETY: `pos` is valid (function contract).
    record_at(table, unsafe { *pos })
}

extern "C" fn list_stop(_m: *mut ffi::seq_file, _v: *mut c_void) {}

/// # Safety
///
/// Only the seq_file core calls it, with a valid `seq_file` of
/// `/proc/net/ip_conntrack` and a record from `list_start`/`list_next`.
unsafe extern "C" fn list_show(m: *mut ffi::seq_file, v: *mut c_void) -> c_int {
    // SAFETY: as required of `show_list`.
    unsafe { show_list(m, v, Layout::Classic) }
}

/// # Safety
///
/// As [`list_show`], for `/proc/net/nf_conntrack` (same iterator).
unsafe extern "C" fn nf_list_show(m: *mut ffi::seq_file, v: *mut c_void) -> c_int {
    // SAFETY: as required of `show_list`.
    unsafe { show_list(m, v, Layout::Nf) }
}

/// The `show` of either connection list.
///
/// # Safety
///
/// A valid `seq_file` of one of the lists and a record from
/// `list_start`/`list_next`, from the seq_file core.
unsafe fn show_list(m: *mut ffi::seq_file, v: *mut c_void, layout: Layout) -> c_int {
    // SAFETY: as in `list_start`.
    let table = unsafe { list_table(m) };
    // SAFETY: the seq_file core passes a valid seq_file, ours to write
    // during this call.
    let mut seq = unsafe { SeqFile::from_raw(m) };
    if let (Some(t), Some(at)) = (table, pos_of(v)) {
        let next = show_record(&mut seq, t, at, layout).unwrap_or(DumpPos {
            stripe: t.layout().stripes(),
            pos: 0,
        });
        // SAFETY: the iterator state of this open file, which only this
        // file's callbacks touch, one at a time (seq_file's mutex).
        unsafe { *ffi::ipct_seq_list_next(m) = next.to_u64() };
    }
    0
}

static LIST_OPS: ffi::seq_operations = ffi::seq_operations {
    start: Some(list_start),
    stop: Some(list_stop),
    next: Some(list_next),
    show: Some(list_show),
};

static NF_LIST_OPS: ffi::seq_operations = ffi::seq_operations {
    start: Some(list_start),
    stop: Some(list_stop),
    next: Some(list_next),
    show: Some(nf_list_show),
};

/// # Safety
///
/// Only the seq_file core calls it, with a valid `seq_file` of
/// `/proc/net/stat/ip_conntrack`.
unsafe extern "C" fn stat_show(m: *mut ffi::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: as required of `show_stats`.
    unsafe { show_stats::<ROW_LEN>(m, HEADER, format_row) }
}

/// # Safety
///
/// Only the seq_file core calls it, with a valid `seq_file` of
/// `/proc/net/stat/nf_conntrack`.
unsafe extern "C" fn nf_stat_show(m: *mut ffi::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: as required of `show_stats`.
    unsafe { show_stats::<NF_ROW_LEN>(m, NF_HEADER, format_nf_row) }
}

/// A statistics file: `header`, then one row per possible CPU made by
/// `row_of` (rows of at most `LEN` bytes).
///
/// # Safety
///
/// A valid `seq_file` of one of the per-CPU statistics files, from the
/// seq_file core.
unsafe fn show_stats<const LEN: usize>(
    m: *mut ffi::seq_file,
    header: &str,
    row_of: fn(&mut [u8], u32, &Stats) -> Result<usize, TooSmall>,
) -> c_int {
    // SAFETY: `m` is a seq_file opened by proc_create_net_single (its
    // private data is the namespace, held while the file is open).
    let net = unsafe { ffi::ipct_seq_single_net(m) };
    // SAFETY: a callback of a statistics file in `net`.
    let table = unsafe { table_of(net) };
    // SAFETY: the seq_file core passes a valid seq_file, ours to write
    // during this call.
    let mut seq = unsafe { SeqFile::from_raw(m) };
    seq.write(header.as_bytes());
    let Some(table) = table else { return 0 };
    // `entries`: the namespace's count, on every CPU's row.
    let entries = table.count();
    let mut row = [0u8; LEN];
    for cpu in possible_cpus() {
        if let Ok(n) = row_of(&mut row, entries, &table.stats().cpu(cpu)) {
            seq.write(row.get(..n).unwrap_or_default());
        }
    }
    0
}

/// # Safety
///
/// Only the seq_file core calls it, with a valid `seq_file` of
/// `/proc/net/stat/ip_conntrack_ext`, in process context.
unsafe extern "C" fn ext_show(m: *mut ffi::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: as in `stat_show`.
    let net = unsafe { ffi::ipct_seq_single_net(m) };
    // SAFETY: a callback of /proc/net/stat/ip_conntrack_ext in `net`.
    let table = unsafe { table_of(net) };
    // SAFETY: as in `stat_show`.
    let mut seq = unsafe { SeqFile::from_raw(m) };
    seq.write(EXT_HEADER.as_bytes());
    let Some(table) = table else { return 0 };
    let sum = table.stats().sum();
    let x = Ext {
        entries: table.count(),
        buckets: table.buckets(),
        longest_chain: u32::try_from(table.longest_chain().1).unwrap_or(u32::MAX),
        clash_resolve: sum.clash_resolve,
        chaintoolong: sum.chaintoolong,
    };
    let mut row = [0u8; EXT_ROW_LEN];
    if let Ok(n) = format_ext(&mut row, &x) {
        seq.write(row.get(..n).unwrap_or_default());
    }
    0
}

/// The five /proc files, in every network namespace; removed on drop.
///
/// # Invariants
///
/// The files are registered with `ipct_proc_register()` from creation
/// until drop.
pub(crate) struct Files {
    _private: (),
}

impl Files {
    /// Creates the files in every current and future network namespace.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: the operations and show functions are 'static, so they
        // outlive the registration.
        to_result(unsafe {
            ffi::ipct_proc_register(
                &LIST_OPS,
                Some(stat_show),
                Some(ext_show),
                &NF_LIST_OPS,
                Some(nf_stat_show),
            )
        })?;
        Ok(Self { _private: () })
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant). Removal waits for readers in
        // flight (remove_proc_entry), so no callback runs afterwards.
        unsafe { ffi::ipct_proc_unregister() };
    }
}
