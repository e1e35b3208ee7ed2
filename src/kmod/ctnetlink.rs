// SPDX-License-Identifier: GPL-2.0

//! ctnetlink: the `NFNL_SUBSYS_CTNETLINK` and `NFNL_SUBSYS_CTNETLINK_EXP`
//! subsystems of nfnetlink, so that conntrack-tools list, get, delete,
//! flush and count this tracker's entries as they do nf_conntrack's.
//!
//! nfnetlink owns the sockets and checks `CAP_NET_ADMIN` in the socket's
//! namespace before any callback runs; every callback works on the table
//! of that namespace. Parsing and encoding are the engine's
//! ([`crate::netlink`]); this file only moves bytes and takes locks.
//!
//! # Dumps
//!
//! A table dump runs in rounds, one per buffer the reader asks for; the
//! engine's `netlink::dump` decides what goes next, what is taken back
//! and where the next round starts (flow positions and entry keys kept in
//! `cb->args`: entries that stay are listed once while others come and go
//! and while the table is resized). Each round lists buckets, one under
//! its stripe lock at a time, encoding entries straight into the outgoing
//! skb. No lock is held between rounds, nor while the reader copies the
//! buffer out.
//!
//! Expectations, dying and unconfirmed lists are empty here: their dumps
//! end at once, as 6.12's do when it has none.

use crate::conn::{self, Conn, ConnPtr};
use crate::entry::{Counters, Entry};
use crate::ffi;
use crate::kstats::{nr_cpu_ids, possible_cpus};
use crate::ktable::Table;
use crate::netlink::attr::Writer;
use crate::netlink::ctnetlink::{self as wire, msg, Event, Meta, SUBSYS_CTNETLINK, SUBSYS_CTNETLINK_EXP};
use crate::netlink::message::{Message, F_DUMP_FILTERED};
use crate::netlink::request::{CtRequest, Delete, Filter};
use crate::netlink::Error;
use crate::netlink::dump::{self, Cursor};
use core::ffi::c_void;
use kernel::error::to_result;
use kernel::ffi::{c_int, c_ulong};
use kernel::prelude::*;

/// Buckets walked between two chances for the scheduler to run something
/// else within one dump round.
const RESCHED_EVERY: u32 = 1024;

/// Entries of one bucket whose counters a zeroing dump remembers until
/// the bucket is known to stay in the buffer.
const ZERO_BATCH: usize = 32;

/// Room for one answer that is not a dump (an entry is about 220 bytes).
const ANSWER_LEN: usize = 512;

/// Requests this tracker does not serve (6.12 without the dying list).
const EOPNOTSUPP: c_int = -95;

/// `NLM_F_EXCL`: create only.
const F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE`: create if missing.
const F_CREATE: u16 = 0x400;

/// The ctnetlink subsystems, registered from creation until drop.
///
/// # Invariants
///
/// `ipct_ctnl_register(&OPS)` succeeded and is undone only by `drop`.
pub(crate) struct Registration {
    _private: (),
}

impl Registration {
    /// Registers both subsystems.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: `OPS` and its functions are 'static and stay valid
        // until `drop` unregisters them.
        to_result(unsafe { ffi::ipct_ctnl_register(&OPS) })?;
        Ok(Self { _private: () })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant). Unregistering waits for
        // callbacks in flight; a dump in progress holds a reference on the
        // module, so none is left by the time the module is dropped.
        unsafe { ffi::ipct_ctnl_unregister() };
    }
}

static OPS: ffi::ipct_ctnl_ops = ffi::ipct_ctnl_ops {
    request: Some(request),
    dump_start: Some(dump_start),
    dump: Some(dump),
};

/// The message nfnetlink handed over.
///
/// # Safety
///
/// `msg` points to `len` readable bytes that stay valid for `'a`.
unsafe fn bytes<'a>(msg: *const c_void, len: u32) -> &'a [u8] {
    let len = usize::try_from(len).unwrap_or(0);
    if msg.is_null() {
        return &[];
    }
    // SAFETY: guaranteed by the caller.
    unsafe { core::slice::from_raw_parts(msg.cast::<u8>(), len) }
}

/// The table of `net` during a ctnetlink callback.
///
/// # Safety
///
/// Only from a ctnetlink callback in `net`: the requesting socket holds
/// `net`, and the subsystems are unregistered (waiting for callbacks, and
/// dumps holding the module) before any table is torn down at unload; at
/// namespace exit no socket of the namespace is left.
unsafe fn table_of<'a>(net: *mut ffi::net) -> Option<&'a Table> {
    // SAFETY: see above.
    unsafe { Table::for_net(net) }
}

/// Tells the listeners of `c`'s namespace about `ev`, if anybody listens
/// to its group: a new entry joined the table, one changed, one left.
/// The entry is read under its stripe lock, so none may be held. Any
/// context (the message is sent with an atomic allocation); a listener
/// that cannot keep up loses events, packets never wait.
#[inline]
pub(crate) fn notify(c: &Conn, ev: Event) {
    // The check inline: every new connection asks, and nobody listens on
    // most routers; the message's frame is built out of line.
    if listening(c, ev) {
        send_event(c, ev, 0, |_| {});
    }
}

/// [`notify`] of a change a ctnetlink request from `portid` made (0: a
/// packet's; see [`Meta::portid`]), reporting the entry as `adjust`
/// changes a copy of it.
pub(crate) fn notify_as(c: &Conn, ev: Event, portid: u32, adjust: impl FnOnce(&mut Entry)) {
    if listening(c, ev) {
        send_event(c, ev, portid, adjust);
    }
}

/// Whether anybody listens to `ev`'s group in `c`'s namespace.
#[inline(always)]
fn listening(c: &Conn, ev: Event) -> bool {
    // SAFETY: the table's namespace is live while the table is; only
    // reads which groups netlink sockets joined.
    unsafe { ffi::ipct_ctnl_listening(c.table().net(), ev.group()) }
}

/// [`notify_as`] once somebody listens.
#[inline(never)]
fn send_event(c: &Conn, ev: Event, portid: u32, adjust: impl FnOnce(&mut Entry)) {
    let table = c.table();
    let net = table.net();
    let now = conn::now();
    let mut buf = [0u8; ANSWER_LEN];
    let mut w = Writer::new(&mut buf);
    let ok = c.with_entry(|e| {
        let mut e = *e;
        adjust(&mut e);
        let m = Meta { portid, ..meta(table, &e, c, now) };
        wire::put_event(&mut w, ev, &e, &m).is_ok()
    });
    if ok {
        let bytes = w.bytes();
        let len = u32::try_from(bytes.len()).unwrap_or(0);
        // SAFETY: as above; `bytes` is valid for `len` bytes and copied
        // before the call returns. A lost event is not an error here.
        let _ = unsafe { ffi::ipct_ctnl_event(net, ev.group(), bytes.as_ptr().cast(), len) };
    }
}

/// What an entry message says besides the entry.
fn meta(table: &Table, e: &Entry, c: &Conn, now: crate::Millis) -> Meta {
    let secs = e.time_left(now) / 1000;
    Meta {
        id: wire::entry_id(table.key(), c as *const Conn as u64),
        uses: c.use_count(),
        timeout: u32::try_from(secs).unwrap_or(u32::MAX),
        counters: c.read_counters(),
        portid: 0,
        nat_reply: c.nat_reply(),
        addrs6: c.addrs6(),
    }
}

/// Writes the message of entry `e` (object `c`); for
/// `IPCTNL_MSG_CT_GET_CTRZERO` (`zero`), zeroes the counters it reports
/// once it is written.
#[allow(clippy::too_many_arguments)]
fn put_entry(
    w: &mut Writer<'_>,
    table: &Table,
    portid: u32,
    seq: u32,
    flags: u16,
    e: &Entry,
    c: &Conn,
    now: crate::Millis,
    zero: bool,
) -> bool {
    let m = meta(table, e, c, now);
    let ok = wire::put_entry(w, portid, seq, flags, e, &m).is_ok();
    if let (true, true, Some(seen)) = (ok, zero, &m.counters) {
        c.zero_counters(seen);
    }
    ok
}

/// Sends `bytes` to `portid` of `net`.
fn unicast(net: *mut ffi::net, portid: u32, bytes: &[u8]) -> c_int {
    let len = u32::try_from(bytes.len()).unwrap_or(0);
    // SAFETY: `net` is the live namespace of the request being answered;
    // `bytes` is valid for `len` bytes and copied before the call returns.
    unsafe { ffi::ipct_ctnl_unicast(net, portid, bytes.as_ptr().cast(), len) }
}

fn errno(e: Error) -> c_int {
    -e.errno()
}

/// # Safety
///
/// Called by ctnl_helpers.c for a request of `net` (see `ipct_ctnl_ops`):
/// `msg` holds `len` bytes of the request.
unsafe extern "C" fn request(net: *mut ffi::net, portid: u32, msg: *const c_void, len: u32) -> c_int {
    // SAFETY: the request's bytes, valid during this call (caller).
    let bytes = unsafe { bytes(msg, len) };
    // SAFETY: a ctnetlink callback in `net`.
    let Some(table) = (unsafe { table_of(net) }) else {
        return errno(Error::NoEntry);
    };
    let m = match Message::new_checked(bytes) {
        Ok(m) => m,
        Err(e) => return errno(e),
    };
    let h = m.header;
    if h.subsys() == SUBSYS_CTNETLINK_EXP {
        return match h.msg() {
            // No expectations: a flush (no attributes) succeeds, anything
            // naming one finds nothing.
            2 if m.attrs.is_empty() => 0,
            3 => 0,
            _ => errno(Error::NoEntry),
        };
    }
    if h.subsys() != SUBSYS_CTNETLINK {
        return errno(Error::Invalid);
    }
    let r = match CtRequest::parse(&m) {
        Ok(r) => r,
        Err(e) => return errno(e),
    };
    let now = conn::now();
    match h.msg() {
        msg::CT_GET | msg::CT_GET_CTRZERO => {
            let t = match r.get_one() {
                Ok(Some(t)) => t,
                Ok(None) => return errno(Error::NoEntry),
                Err(e) => return errno(e),
            };
            let mut buf = [0u8; ANSWER_LEN];
            let mut w = Writer::new(&mut buf);
            let zero = h.msg() == msg::CT_GET_CTRZERO;
            let found = table.lookup_with(&t, now, |e, c| put_entry(&mut w, table, portid, h.seq, 0, e, c, now, zero));
            match found {
                None => errno(Error::NoEntry),
                Some(false) => errno(Error::NoMemory),
                Some(true) => unicast(net, portid, w.bytes()),
            }
        }
        msg::CT_DELETE => match r.delete() {
            Err(e) => errno(e),
            Ok(Delete::One(None, _)) => errno(Error::NoEntry),
            Ok(Delete::One(Some(t), id)) => {
                let ok = table.remove_tuple(&t, now, |c| {
                    id.map_or(true, |id| id == wire::entry_id(table.key(), c as *const Conn as u64))
                });
                if ok {
                    0
                } else {
                    errno(Error::NoEntry)
                }
            }
            Ok(Delete::Flush(filter)) => {
                table.remove_where(|e, c| filter.as_ref().map_or(true, |f| f.matches_nat(e, c.nat_reply(), c.addrs6())), true);
                0
            }
        },
        msg::CT_GET_STATS => {
            let mut buf = [0u8; 64];
            let mut w = Writer::new(&mut buf);
            match wire::put_stats(&mut w, portid, h.seq, table.count(), crate::settings::max()) {
                Ok(()) => unicast(net, portid, w.bytes()),
                Err(_) => errno(Error::NoMemory),
            }
        }
        msg::CT_NEW => {
            let key = match r.new_lookup() {
                Ok(k) => k,
                Err(e) => return errno(e),
            };
            if let Some(t) = key.filter(|t| table.lookup_with(t, now, |_, _| ()).is_some()) {
                if h.flags & F_EXCL != 0 {
                    return errno(Error::Exists);
                }
                let ch = match r.change() {
                    Ok(ch) => ch,
                    Err(e) => return errno(e),
                };
                let done = table.update_with(&t, now, |e, c| {
                    let res = ch.apply(e, now);
                    let _ = c.note_change(e);
                    (res, c.new_ref())
                });
                return match done {
                    None => errno(Error::NoEntry),
                    Some((res, c)) => {
                        // 6.12 reports every update, changed or not.
                        notify_as(&c, Event::Update { protoinfo: true }, portid, |_| {});
                        res.map_or_else(errno, |()| 0)
                    }
                };
            }
            if h.flags & F_CREATE == 0 {
                return errno(Error::NoEntry);
            }
            let c = match r.create() {
                Ok(c) => c,
                Err(e) => return errno(e),
            };
            let e = c.entry(now, &crate::settings::Knobs);
            let nat = c.nat;
            let bind = |conn: &Conn| match nat {
                Some(n) => crate::knat::bind_made(conn, &n).map_err(|()| Error::NoMemory),
                None => Ok(()),
            };
            match table.insert_made(e, c.orig.addrs6(), crate::settings::max(), now, bind) {
                Ok(conn) => {
                    notify_as(&conn, Event::New, portid, |_| {});
                    0
                }
                Err(e) => errno(e),
            }
        }
        // Only as dumps (handled in C); 6.12 answers a plain request so.
        msg::CT_GET_STATS_CPU => 0,
        _ => EOPNOTSUPP,
    }
}

/// # Safety
///
/// Called by ctnl_helpers.c before a table dump: `msg` holds `len` bytes
/// of the request.
unsafe extern "C" fn dump_start(msg: *const c_void, len: u32) -> c_int {
    // SAFETY: the request's bytes, valid during this call (caller).
    let bytes = unsafe { bytes(msg, len) };
    let filter = Message::new_checked(bytes)
        .and_then(|m| CtRequest::parse(&m))
        .and_then(|r| r.dump_filter());
    match filter {
        Ok(Some(_)) => 1,
        Ok(None) => 0,
        Err(e) => errno(e),
    }
}

/// # Safety
///
/// Called by ctnl_helpers.c for one round of a dump in `net`: `msg` holds
/// `len` bytes of the request, `pos` six `unsigned long`s of state, `buf`
/// `room` writable bytes.
unsafe extern "C" fn dump(
    net: *mut ffi::net,
    portid: u32,
    msg: *const c_void,
    len: u32,
    pos: *mut c_ulong,
    buf: *mut c_void,
    room: u32,
) -> u32 {
    // SAFETY: the request's bytes, valid during this call (caller).
    let bytes = unsafe { bytes(msg, len) };
    if pos.is_null() || buf.is_null() {
        return 0;
    }
    // SAFETY: `pos` is the dump callback's `args`, six longs owned by
    // this dump, which runs once at a time (netlink's callback mutex).
    let pos = unsafe { core::slice::from_raw_parts_mut(pos, 6) };
    // SAFETY: `buf` is the tail room of the skb being filled: `room`
    // bytes nothing else touches until this call returns.
    let out = unsafe {
        core::slice::from_raw_parts_mut(buf.cast::<u8>(), usize::try_from(room).unwrap_or(0))
    };
    let Ok(m) = Message::new_checked(bytes) else { return 0 };
    // SAFETY: a ctnetlink callback in `net`.
    let Some(table) = (unsafe { table_of(net) }) else { return 0 };
    let mut w = Writer::new(out);
    let h = m.header;
    if h.subsys() == SUBSYS_CTNETLINK {
        match h.msg() {
            msg::CT_GET | msg::CT_GET_CTRZERO => {
                let filter = CtRequest::parse(&m).ok().and_then(|r| r.dump_filter().ok().flatten());
                let zero = h.msg() == msg::CT_GET_CTRZERO;
                dump_table(table, &mut w, portid, h.seq, filter.as_ref(), zero, pos);
            }
            msg::CT_GET_STATS_CPU => dump_cpus(table, &mut w, portid, h.seq, pos),
            _ => {}
        }
    }
    u32::try_from(w.len()).unwrap_or(0)
}

/// One round of a table dump (see the module documentation). A dump that
/// zeroes counters (`zero`) never takes a written entry back: it splits
/// buckets instead, so every count it zeroed is in what the reader gets.
fn dump_table(
    table: &Table,
    w: &mut Writer<'_>,
    portid: u32,
    seq: u32,
    filter: Option<&Filter>,
    zero: bool,
    pos: &mut [c_ulong],
) {
    let flags = if filter.is_some() { F_DUMP_FILTERED } else { 0 };
    let now = conn::now();
    let mut args = [0u64; 6];
    for (a, p) in args.iter_mut().zip(pos.iter()) {
        *a = u64::try_from(*p).unwrap_or(u64::MAX);
    }
    let mut cursor = Cursor::from_args(args);
    let stripes = table.layout().stripes();
    let mut walked = 0u32;
    let more = dump::round(w, &mut cursor, stripes, |c, w| {
        walked = walked.saturating_add(1);
        if walked % RESCHED_EVERY == 0 {
            // SAFETY: dumps run in process context with no spinlock held
            // (netlink's callback mutex only; `round` calls this between
            // stripe locks).
            unsafe { ffi::ipct_cond_resched() };
        }
        table.with_stripe(c.at.stripe, |st| {
            // A dump that zeroes counters zeroes what it wrote of a bucket
            // only once the bucket stays in the buffer (`round` takes a
            // bucket that does not fit back, to send it again).
            let mut written: [Option<(ConnPtr, [Counters; 2])>; ZERO_BATCH] = [None; ZERO_BATCH];
            let mut n = 0usize;
            let listed = dump::list_bucket(st, c, now, |e, a| table.pos_of(e, a), |r, e| {
                // SAFETY: `r` is linked in this locked stripe: alive.
                let conn = unsafe { r.as_conn() };
                if filter.is_some_and(|f| !f.matches_nat(e, conn.nat_reply(), conn.addrs6())) {
                    return true;
                }
                let m = meta(table, e, conn, now);
                if wire::put_entry(w, portid, seq, flags, e, &m).is_err() {
                    return false;
                }
                if let (true, Some(seen)) = (zero, m.counters) {
                    match written.get_mut(n) {
                        Some(slot) => {
                            *slot = Some((r, seen));
                            n = n.saturating_add(1);
                        }
                        // Past the batch (a chain this long is rare):
                        // zeroed now.
                        None => conn.zero_counters(&seen),
                    }
                }
                true
            });
            let kept = matches!(listed, dump::Listed::All(_)) || c.sorted;
            if kept {
                for (r, seen) in written.iter().flatten() {
                    // SAFETY: listed above under this stripe lock, still
                    // held: linked, alive.
                    unsafe { r.as_conn() }.zero_counters(seen);
                }
            }
            listed
        })
    });
    if !more {
        cursor.at.stripe = stripes;
    }
    for (p, a) in pos.iter_mut().zip(cursor.to_args()) {
        *p = c_ulong::try_from(a).unwrap_or(c_ulong::MAX);
    }
}

/// One round of the per-CPU statistics dump: CPUs from `pos[0]` on.
fn dump_cpus(table: &Table, w: &mut Writer<'_>, portid: u32, seq: u32, pos: &mut [c_ulong]) {
    let from = pos.first().and_then(|c| u32::try_from(*c).ok()).unwrap_or(u32::MAX);
    let mut next = nr_cpu_ids();
    for cpu in possible_cpus().filter(|c| *c >= from) {
        let id = u16::try_from(cpu).unwrap_or(u16::MAX);
        if wire::put_stats_cpu(w, portid, seq, id, &table.stats().cpu(cpu)).is_err() {
            next = cpu;
            break;
        }
    }
    if let Some(p) = pos.get_mut(0) {
        *p = c_ulong::try_from(next).unwrap_or(0);
    }
}
