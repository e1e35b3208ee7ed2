// SPDX-License-Identifier: GPL-2.0

//! The NAT core: 6.12's `nf_nat_core.c`/`nf_nat_proto.c` for IPv4 on
//! top of this module's table, over the engine's decisions
//! ([`crate::nat::bind`], [`crate::nat::unique`], [`crate::nat::rewrite`],
//! [`crate::nat::icmp_error`]).
//!
//! * **Lookups.** What decides a new connection's NAT (the iptables `nat`
//!   table's chains, nft chains of type `nat`) registers with
//!   [`register_lookup`], per namespace and hook; the first one registers
//!   the four NAT hooks in that namespace and the last one gone removes
//!   them (nat_helpers.c), so a router without NAT rules pays nothing.
//! * **Hooks** (PRE_ROUTING and LOCAL_OUT at -100, POST_ROUTING and
//!   LOCAL_IN at 100): a new or related connection not yet bound for the
//!   hook's end runs the lookups until one binds it (a target calls
//!   [`setup`]), else gets a null binding; then the packet is rewritten as
//!   its entry's bindings say. ICMP errors about a connection are
//!   translated, quote included.
//! * **Bindings** are made on a copy of the unconfirmed entry without any
//!   lock (the tuple choice asks other stripes whether tuples are taken,
//!   one lock at a time), then written back under the entry's lock: the
//!   status bits and the reply tuple, which the entry's NAT state
//!   ([`crate::conn`]) holds until confirmation links its reply node.

use crate::conn::{self, Conn};
use crate::ctinfo::CtInfo;
use crate::entry::{Entry, Status};
use crate::ffi;
use crate::hooks::{self, HookPoint, Packet, Verdict};
use crate::ktable::Table;
use crate::nat::bind::{self, Binding, HookStep};
use crate::nat::carried::{Hashed, NatHashes, Seen};
use crate::nat::fast::Target;
use crate::nat::icmp_error::{self, IcmpAction, NatStatus};
use crate::nat::range::Range;
use crate::netlink::request::NatSetup;
use crate::nat::targets::{self, MasqEvent};
use crate::nat::unique::Clash;
use crate::nat::{hook, Manip};
use crate::skb::Skb;
use crate::tuple::{proto, Dir, Keys, Tuple};
use crate::Millis;
use core::cell::Cell;
use kernel::error::to_result;
use kernel::ffi::{c_int, c_uint};
use kernel::prelude::*;

/// `NF_IP_PRI_NAT_DST`: destination NAT, before the filter.
const PRI_NAT_DST: i32 = -100;
/// `NF_IP_PRI_NAT_SRC`: source NAT, after the filter.
const PRI_NAT_SRC: i32 = 100;

/// The four NAT hooks' descriptions and the lookup lists, set up for the
/// module's life; torn down on drop (every lookup is gone by then: their
/// owners are dropped first).
///
/// # Invariants
///
/// `ops` is handed to `ipct_nat_init` from creation until drop, at the
/// same heap address.
pub(crate) struct Registration {
    ops: KBox<[ffi::nf_hook_ops; 4]>,
}

// SAFETY: the descriptions are only read by netfilter after creation.
unsafe impl Send for Registration {}
// SAFETY: no method takes `&self`.
unsafe impl Sync for Registration {}

impl Registration {
    /// Sets up the lookup lists of every namespace and MASQUERADE's
    /// interface events.
    pub(crate) fn new() -> Result<Self> {
        let ops = KBox::new(
            [
                hooks::ops::<NatPre>(),
                hooks::ops::<NatPost>(),
                hooks::ops::<NatOut>(),
                hooks::ops::<NatIn>(),
            ],
            GFP_KERNEL,
        )?;
        let n = c_uint::try_from(ops.len()).map_err(|_| EINVAL)?;
        // SAFETY: `ops` holds `n` valid descriptions, kept at this address
        // until `drop` (type invariant).
        to_result(unsafe { ffi::ipct_nat_init(ops.as_ptr(), n) })?;
        // SAFETY: `masq_event` is a function of this module, unregistered
        // in `drop` before the module goes.
        if let Err(e) = to_result(unsafe { ffi::ipct_nat_masq_register(Some(masq_event)) }) {
            // SAFETY: set up just above; nothing registered a lookup yet.
            unsafe { ffi::ipct_nat_exit() };
            return Err(e);
        }
        Ok(Self { ops })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `new`; waits for callbacks in flight.
        unsafe { ffi::ipct_nat_masq_unregister() };
        // SAFETY: set up in `new`; every lookup was unregistered by its
        // owner (dropped before this), so no namespace has the hooks.
        unsafe { ffi::ipct_nat_exit() };
        let _ = self.ops.len();
    }
}

/// Registers a lookup at `ops->hooknum` of `net` (`nf_nat_ipv4_register_fn`,
/// and nft's `ops_register` for chains of type nat).
///
/// # Safety
///
/// `net` is a live namespace and `ops` a valid description that stays
/// valid until [`unregister_lookup`]; process context.
pub(crate) unsafe extern "C" fn register_lookup(net: *mut ffi::net, ops: *const ffi::nf_hook_ops) -> c_int {
    // SAFETY: guaranteed by the caller.
    unsafe { ffi::ipct_nat_register_lookup(net, ops) }
}

/// Undoes [`register_lookup`]; waits for hook calls in flight.
///
/// # Safety
///
/// `ops` was registered in `net` with [`register_lookup`]; process context.
pub(crate) unsafe extern "C" fn unregister_lookup(net: *mut ffi::net, ops: *const ffi::nf_hook_ops) {
    // SAFETY: guaranteed by the caller.
    unsafe { ffi::ipct_nat_unregister_lookup(net, ops) }
}

/// An interface of `net` went down (`addr` 0) or lost its address `addr`
/// (host order): the connections MASQUERADE mapped out of it go, as
/// 6.12's `masq_device_event`/`masq_inet_event` decide
/// ([`targets::masq_flush`]).
///
/// # Safety
///
/// Called by nat_helpers.c's notifiers in process context with a live
/// namespace, while the module's tables exist (the notifiers are removed
/// before the tables, and a namespace's interfaces go before its table).
unsafe extern "C" fn masq_event(net: *mut ffi::net, ifindex: c_int, addr: u32) {
    // SAFETY: see above.
    let Some(table) = (unsafe { Table::for_net(net) }) else {
        return;
    };
    if table.closing() {
        return;
    }
    let event = if addr == 0 {
        MasqEvent::DeviceDown { ifindex }
    } else {
        MasqEvent::AddressRemoved { ifindex, addr }
    };
    table.remove_where(
        |e, c| {
            let index = c.masq_index();
            index != 0 && targets::masq_flush(event, index, e.tuple_nat(Dir::Reply, c.nat_reply()).dst.v4_or_zero())
        },
        true,
    );
}

/// `nf_nat_setup_info` for the entry `skb` carries: binds its end `manip`
/// to a tuple in `range`. NF_ACCEPT once bound (or when there is nothing
/// to bind: no entry, a confirmed one); NF_DROP when the end is bound
/// already (6.12 warns and drops) or out of memory. `masq_ifindex`:
/// MASQUERADE's outgoing interface, whose going down flushes the entry.
pub(crate) fn setup(skb: *mut ffi::sk_buff, manip: Manip, range: &Range, masq_ifindex: Option<i32>) -> u32 {
    // SAFETY: targets are called with their packet, valid for the call,
    // whose `_nfct` nobody changes meanwhile.
    let Some(skb) = (unsafe { Skb::from_raw(skb) }) else {
        return Verdict::ACCEPT.raw();
    };
    let Some((c, _)) = conn::from_skb(&skb) else {
        return Verdict::ACCEPT.raw();
    };
    bind_conn(c, manip, range, masq_ifindex.unwrap_or(0)).raw()
}

/// `ctnetlink_setup_nat`: binds the entry ctnetlink creates, destination
/// then source, each to its range or with a null binding.
pub(crate) fn bind_made(c: &Conn, nat: &NatSetup) -> core::result::Result<(), ()> {
    for (manip, range) in [(Manip::Dst, nat.dst), (Manip::Src, nat.src)] {
        let range = match range {
            Some(r) => r,
            None => c.with_entry(|e| bind::null_range(e, c.nat_reply(), manip)),
        };
        if bind_conn(c, manip, &range, 0).raw() != Verdict::ACCEPT.raw() {
            return Err(());
        }
    }
    Ok(())
}

/// Binds `c`'s end `manip` to `range` ([`setup`]).
fn bind_conn(c: &Conn, manip: Manip, range: &Range, masq_index: i32) -> Verdict {
    match bind_binding(c, manip, range, masq_index) {
        Ok(_) => Verdict::ACCEPT,
        Err(v) => v,
    }
}

/// [`bind_conn`], with the bindings the entry has then (`None` when it
/// was confirmed meanwhile and left alone).
fn bind_binding(c: &Conn, manip: Manip, range: &Range, masq_index: i32) -> Result<Option<Binding>, Verdict> {
    if c.is_confirmed() {
        return Ok(None);
    }
    bind_copy(c, &mut c.snapshot(), manip, range, masq_index)
}

/// [`bind_binding`] on `e`, a copy of the unconfirmed entry `c` taken
/// under its lock after its last change (only the packet carrying it
/// changes it).
fn bind_copy(c: &Conn, e: &mut Entry, manip: Manip, range: &Range, masq_index: i32) -> Result<Option<Binding>, Verdict> {
    let now = conn::now();
    let mut reply = c.nat_reply();
    let table = c.table();
    let mut random = || sys_random_u16();
    let taken = Taken { table, now, taken: Cell::new(None), source: Cell::new(None) };
    if bind::setup(e, &mut reply, manip, range, &taken, &mut random).is_err() {
        return Err(Verdict::DROP);
    }
    let b = Binding::of(e, reply);
    // Only with NAT state to carry them (or one to update).
    let hashes = (reply.is_some() || c.nat_state().is_some())
        .then(|| NatHashes::of(&b, c.nat_hashes(), &Seen { taken: taken.taken.get(), source: taken.source.get() }, table.key()));
    let stored = c.with_entry_mut(|live| {
        live.status.set(b.status);
        match &hashes {
            Some(h) => c.set_nat(&b, h, reply.is_some(), masq_index),
            None => Ok(()),
        }
    });
    match stored {
        Ok(()) => Ok(Some(b)),
        Err(_) => Err(Verdict::DROP),
    }
}

/// 16 random bits.
fn sys_random_u16() -> u16 {
    // SAFETY: callable in any context.
    unsafe { ffi::ipct_random_u16() }
}

/// The table's answers to the tuple choice: each question locks the
/// stripe of the tuple asked about, alone.
/// The hashes they compute are noted for the entry to carry.
struct Taken<'t> {
    table: &'t Table,
    now: Millis,
    /// [`Seen::taken`], [`Seen::source`].
    taken: Cell<Option<Hashed>>,
    source: Cell<Option<Hashed>>,
}

impl Clash for Taken<'_> {
    fn taken(&self, reply: &Tuple) -> bool {
        self.taken4(reply.key())
    }

    // NAT binds IPv4 entries only: the bind path asks on keys.
    fn taken4(&self, reply: [u64; 2]) -> bool {
        let keys = Keys::of_key(reply, None);
        let hash = keys.flow_hash4(self.table.key());
        self.taken.set(Some(Hashed::stored(keys.key, hash)));
        self.table.keys_taken(&keys, hash, self.now)
    }

    fn taken_new4(&self, reply: [u64; 2]) -> bool {
        self.taken4(reply)
    }

    fn taken_harder4(&self, reply: [u64; 2], _attempts_left: u32) -> bool {
        self.taken4(reply)
    }

    fn same_source(&self, orig: &Tuple, visit: &mut dyn FnMut(&Tuple) -> bool) {
        self.same_source4(orig.key(), &mut |r| visit(&Tuple::from_key(r)));
    }

    fn same_source4(&self, orig: [u64; 2], visit: &mut dyn FnMut([u64; 2]) -> bool) {
        let h = Hashed::source(orig, self.table.key());
        self.source.set(Some(h));
        self.table.same_source(orig, h.raw(), visit);
    }
}

/// The NAT hook of PRE_ROUTING: destination NAT of arriving packets.
struct NatPre;

impl hooks::Hook for NatPre {
    const POINT: HookPoint = HookPoint::PreRouting;
    const PRIORITY: i32 = PRI_NAT_DST;
    fn run(pkt: &mut Packet<'_>) -> Verdict {
        nat_hook(pkt)
    }
}

/// The NAT hook of POST_ROUTING: source NAT of leaving packets.
struct NatPost;

impl hooks::Hook for NatPost {
    const POINT: HookPoint = HookPoint::PostRouting;
    const PRIORITY: i32 = PRI_NAT_SRC;
    fn run(pkt: &mut Packet<'_>) -> Verdict {
        nat_hook(pkt)
    }
}

/// The NAT hook of LOCAL_OUT: destination NAT of local packets.
struct NatOut;

impl hooks::Hook for NatOut {
    const POINT: HookPoint = HookPoint::LocalOut;
    const PRIORITY: i32 = PRI_NAT_DST;
    fn run(pkt: &mut Packet<'_>) -> Verdict {
        nat_hook(pkt)
    }
}

/// The NAT hook of LOCAL_IN: source NAT of delivered packets.
struct NatIn;

impl hooks::Hook for NatIn {
    const POINT: HookPoint = HookPoint::LocalIn;
    const PRIORITY: i32 = PRI_NAT_SRC;
    fn run(pkt: &mut Packet<'_>) -> Verdict {
        nat_hook(pkt)
    }
}

/// What every NAT hook does (`nf_nat_ipv4_fn` and the per-hook wrappers).
#[inline(always)]
fn nat_hook(pkt: &mut Packet<'_>) -> Verdict {
    let Some((c, ctinfo)) = pkt.entry() else {
        return Verdict::ACCEPT;
    };
    if c.is_confirmed() {
        // Bindings are made before confirmation: from here on they are
        // fixed and read without a lock, each hook's rewrite decoded;
        // most entries have none.
        let Some(n) = c.nat_state() else {
            return Verdict::ACCEPT;
        };
        let related = matches!(ctinfo, CtInfo::Related | CtInfo::RelatedReply);
        let hooknum = u32::from(pkt.hooknum());
        if related {
            return confirmed_related(pkt, c, ctinfo, hooknum);
        }
        let Some(manip) = Manip::for_hook(hooknum) else {
            return Verdict::ACCEPT;
        };
        let dir = ctinfo.dir();
        let target = n.target(manip, dir);
        if hooknum == hook::POST_ROUTING && dir == Dir::Original {
            let index = n.masq_index();
            if index != 0 && index != pkt.out_ifindex() {
                return masq_moved(c);
            }
        }
        if !target.is_some() {
            return Verdict::ACCEPT;
        }
        return rewrite(pkt, manip, target, hooknum);
    }
    unconfirmed(pkt, c, ctinfo)
}

/// [`nat_hook`] for a related packet of a confirmed NATed entry: an ICMP
/// error about it is translated; other related packets are their own
/// entries' business.
#[inline(never)]
fn confirmed_related(pkt: &mut Packet<'_>, c: &Conn, ctinfo: CtInfo, hooknum: u32) -> Verdict {
    let Some(b) = c.confirmed_binding() else {
        return Verdict::ACCEPT;
    };
    if masq_moved_at(pkt, c, ctinfo.dir(), hooknum) {
        return drop_moved(c, &b);
    }
    if pkt.ip_protocol() == Some(proto::ICMP) {
        return icmp_reply(pkt, &b, ctinfo, hooknum);
    }
    rewrite_bound(pkt, &b, ctinfo.dir(), hooknum)
}

/// [`nat_hook`] for an entry not yet confirmed: binds it at this hook's
/// end if it is new and unbound here, then rewrites.
#[inline(never)]
fn unconfirmed(pkt: &mut Packet<'_>, c: &Conn, ctinfo: CtInfo) -> Verdict {
    let hooknum = u32::from(pkt.hooknum());
    let related = matches!(ctinfo, CtInfo::Related | CtInfo::RelatedReply);
    // An ICMP error about a connection: translated, never bound.
    if related && pkt.ip_protocol() == Some(proto::ICMP) {
        let b = c.with_entry(|e| Binding::of(e, c.nat_reply()));
        return icmp_reply(pkt, &b, ctinfo, hooknum);
    }
    // One lock for the step and, when that is all, the bindings (unless
    // the NAT state has them).
    let (step, bound) = c.with_entry(|e| {
        let step = bind::hook_step(e, ctinfo, hooknum);
        let b = (step == HookStep::Rewrite && c.nat_state().is_none()).then(|| Binding::of(e, c.nat_reply()));
        (step, b)
    });
    let found = match step {
        HookStep::Nothing => return Verdict::ACCEPT,
        HookStep::Lookup(manip) => match run_lookups(pkt, c, manip) {
            Ok(b) => b,
            Err(v) => return v,
        },
        HookStep::Rewrite => bound,
    };
    // Every binding that changed a tuple left the NAT state with its
    // targets decoded ([`Conn::set_nat`]): the rewrite reads them.
    if let (Some(n), Some(manip)) = (c.nat_state(), Manip::for_hook(hooknum)) {
        let target = n.target(manip, ctinfo.dir());
        return match target.is_some() {
            true => rewrite(pkt, manip, target, hooknum),
            false => Verdict::ACCEPT,
        };
    }
    let b = found.unwrap_or_else(|| c.with_entry(|e| Binding::of(e, c.nat_reply())));
    rewrite_bound(pkt, &b, ctinfo.dir(), hooknum)
}

/// `nf_nat_oif_changed`: a masqueraded connection's packet leaves by
/// another device than the one MASQUERADE mapped it out of; the mapping
/// is of no use there, the entry goes and the packet is dropped.
#[inline(never)]
fn masq_moved(c: &Conn) -> Verdict {
    match c.confirmed_binding() {
        Some(b) => drop_moved(c, &b),
        None => Verdict::DROP,
    }
}

/// Whether [`masq_moved`] applies to a packet of direction `dir` at
/// `hooknum` and its device moved.
fn masq_moved_at(pkt: &Packet<'_>, c: &Conn, dir: Dir, hooknum: u32) -> bool {
    hooknum == hook::POST_ROUTING && dir == Dir::Original && {
        let index = c.masq_index();
        index != 0 && index != pkt.out_ifindex()
    }
}

/// Removes the entry whose MASQUERADE device moved; the packet is dropped.
fn drop_moved(c: &Conn, b: &Binding) -> Verdict {
    let orig = b.tuple(Dir::Original);
    c.table().remove_tuple(&orig, conn::now(), |x| core::ptr::eq(x, c));
    Verdict::DROP
}

/// Runs the lookups of the packet's hook until one binds `c`'s end
/// `manip`, then a null binding if none did (`nf_nat_inet_fn`). The
/// entry's bindings then, when known without another lock; the verdict
/// when the packet goes no further.
fn run_lookups(pkt: &mut Packet<'_>, c: &Conn, manip: Manip) -> Result<Option<Binding>, Verdict> {
    // After each lookup one lock tells whether it bound the end and, if
    // not, gives the null binding's range and a copy of the entry to make
    // it on (lookups that bind nothing change nothing these depend on). A
    // binding the lookup made is read from the NAT state, without a lock.
    let mut copy = None;
    let state = |copy: &mut Option<Entry>| {
        if let Some(b) = c.nat_binding().filter(|b| b.initialized(manip)) {
            return Ok(b);
        }
        c.with_entry(|e| match bind::initialized(e, manip) {
            true => Ok(Binding::of(e, c.nat_reply())),
            false => {
                *copy = Some(*e);
                Err(bind::null_range(e, c.nat_reply(), manip))
            }
        })
    };
    let mut null = None;
    let mut i: c_uint = 0;
    while let Some(v) = pkt.run_nat_lookup(i) {
        if v != Verdict::ACCEPT.raw() {
            return Err(Verdict::from_raw(v));
        }
        match state(&mut copy) {
            Ok(b) => return Ok(Some(b)),
            Err(range) => null = Some(range),
        }
        i = i.saturating_add(1);
    }
    let range = match null {
        Some(r) => r,
        None => c.with_entry(|e| {
            copy = Some(*e);
            bind::null_range(e, c.nat_reply(), manip)
        }),
    };
    match copy.as_mut() {
        Some(e) if !c.is_confirmed() => bind_copy(c, e, manip, &range, 0),
        _ => bind_binding(c, manip, &range, 0),
    }
}

/// Rewrites the packet of direction `dir` at `hooknum` as binding `b`
/// says (the path of entries whose targets are not precomputed yet).
fn rewrite_bound(pkt: &mut Packet<'_>, b: &Binding, dir: Dir, hooknum: u32) -> Verdict {
    match b.rewrite_target(dir, hooknum) {
        Some((manip, t)) => rewrite(pkt, manip, Target::of(&t, manip), hooknum),
        None => Verdict::ACCEPT,
    }
}

/// Rewrites end `manip` of the packet as `target` says (`nf_nat_packet`),
/// then what each hook does after a change (re-routing, dropping a stale
/// route, forgetting an early-demuxed socket).
#[inline(always)]
fn rewrite(pkt: &mut Packet<'_>, manip: Manip, target: Target, hooknum: u32) -> Verdict {
    let Some(changed) = pkt.rewrite(manip, target) else {
        return Verdict::DROP;
    };
    if changed {
        return after_change(pkt, hooknum);
    }
    Verdict::ACCEPT
}

/// What hook `hooknum` does once NAT changed the address its end rewrites.
#[inline(always)]
fn after_change(pkt: &mut Packet<'_>, hooknum: u32) -> Verdict {
    match hooknum {
        hook::PRE_ROUTING => pkt.drop_route(),
        hook::LOCAL_OUT => {
            if pkt.reroute().is_err() {
                return Verdict::DROP;
            }
        }
        hook::LOCAL_IN => pkt.orphan_demuxed(),
        _ => {}
    }
    Verdict::ACCEPT
}

/// `nf_nat_icmp_reply_translation`: an ICMP error about the entry whose
/// bindings are `b`.
fn icmp_reply(pkt: &mut Packet<'_>, b: &Binding, ctinfo: CtInfo, hooknum: u32) -> Verdict {
    let Some(manip) = Manip::for_hook(hooknum) else {
        return Verdict::ACCEPT;
    };
    let dir = ctinfo.dir();
    let other = b.tuple(match dir {
        Dir::Original => Dir::Reply,
        Dir::Reply => Dir::Original,
    });
    let status = nat_status(Status(b.status));
    let Some(icmp_type) = pkt.icmp_type() else {
        return Verdict::DROP;
    };
    match icmp_error::action(icmp_type, status, dir, manip) {
        IcmpAction::Leave => Verdict::ACCEPT,
        IcmpAction::Drop => Verdict::DROP,
        IcmpAction::Translate => match pkt.translate_icmp(manip, &other) {
            true => Verdict::ACCEPT,
            false => Verdict::DROP,
        },
    }
}

/// The NAT bits of `status`.
fn nat_status(status: Status) -> NatStatus {
    NatStatus {
        src_nat: status.has(Status::SRC_NAT),
        dst_nat: status.has(Status::DST_NAT),
        src_done: status.has(Status::SRC_NAT_DONE),
        dst_done: status.has(Status::DST_NAT_DONE),
    }
}
