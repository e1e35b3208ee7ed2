// SPDX-License-Identifier: GPL-2.0

//! `nf_ct_hook`: how the rest of the kernel reaches the tracker without
//! depending on it. The core calls its six members without NULL checks:
//!
//! * `destroy`: the last reference to an entry was dropped
//!   (`nf_conntrack_put` on a packet's `_nfct`): free it.
//! * `attach`: `icmp_send` and the REJECT targets attach the packet they
//!   answer's entry to the answer, as RELATED in the other direction
//!   (Linux's `nf_conntrack_attach`).
//! * `set_closing`: REJECT sent a RST for the connection: TCP goes to CLOSE.
//! * `get_tuple_skb`: the tuple of a packet's entry in the packet's
//!   direction (sch_cake).
//! * `confirm`: confirm the packet's entry now (bridge netfilter).
//! * `update`: re-evaluate NAT for a queued packet (nfnetlink_queue);
//!   nothing to do without NAT.
//!
//! Installed at load (refusing to load when another tracker installed
//! one) and removed at unload after every entry is gone, followed by
//! `synchronize_rcu` so no caller still runs this module's code.

use crate::conn::{self, Conn};
use crate::ctinfo::CtInfo;
use crate::ffi;
use crate::packet_path;
use crate::settings;
use crate::skb::{Skb, SkbMut};
use crate::track;
use crate::tuple::{Dir, L4};
use kernel::ffi::c_int;
use kernel::prelude::*;

/// `update`: nothing to redo without NAT.
///
/// # Safety
///
/// Called by nfnetlink_queue with a valid namespace and packet (unused).
unsafe extern "C" fn update(_net: *mut ffi::net, _skb: *mut ffi::sk_buff) -> c_int {
    0
}

/// `destroy`: the count of `ct` reached zero.
///
/// # Safety
///
/// Called by `nf_conntrack_destroy` for an entry of this module whose last
/// reference was just dropped.
unsafe extern "C" fn destroy(ct: *mut ffi::nf_conntrack) {
    // SAFETY: see above; only this module's entries are reachable through
    // `_nfct` while this hook is installed.
    unsafe { conn::destroy(ct) };
}

/// `get_tuple_skb`: the tuple of the packet's entry in its direction.
///
/// # Safety
///
/// `dst` points to a writable tuple and `skb` to a valid packet, for the
/// call.
unsafe extern "C" fn get_tuple_skb(
    dst: *mut ffi::nf_conntrack_tuple,
    skb: *const ffi::sk_buff,
) -> bool {
    // SAFETY: `skb` is valid and its `_nfct` stays as it is during the
    // call (the caller holds the packet).
    let Some(skb) = (unsafe { Skb::from_raw(skb) }) else {
        return false;
    };
    let Some((c, ctinfo)) = conn::from_skb(&skb) else {
        return false;
    };
    let dir = ctinfo.dir();
    let t = c.with_entry(|e| e.tuple_nat(dir, c.nat_reply()));
    let mut v = ffi::ipct_tuple {
        src: t.src.v4_or_zero(),
        dst: t.dst.v4_or_zero(),
        proto: t.proto,
        dir: match dir {
            Dir::Original => 0,
            Dir::Reply => 1,
        },
        ..Default::default()
    };
    match t.l4 {
        L4::Ports { sport, dport } => {
            v.sport = sport;
            v.dport = dport;
        }
        L4::Icmp { ty, code, id } => {
            v.icmp_type = ty;
            v.icmp_code = code;
            v.icmp_id = id;
        }
        L4::None => {}
    }
    // SAFETY: `dst` is writable (caller); `v` is a valid description.
    unsafe { ffi::ipct_fill_tuple(dst, &v) };
    true
}

/// `attach`: `nskb` answers `skb` (an ICMP error or a RST the stack
/// builds): it carries `skb`'s entry, RELATED, in the other direction.
///
/// # Safety
///
/// `nskb` is a packet being built by the caller, `skb` a valid packet.
unsafe extern "C" fn attach(nskb: *mut ffi::sk_buff, skb: *const ffi::sk_buff) {
    // SAFETY: `skb` is valid and unchanged during the call.
    let Some(skb) = (unsafe { Skb::from_raw(skb) }) else {
        return;
    };
    let Some((c, ctinfo)) = conn::from_skb(&skb) else {
        return;
    };
    let related = match ctinfo.dir() {
        Dir::Original => CtInfo::RelatedReply,
        Dir::Reply => CtInfo::Related,
    };
    let r = c.new_ref();
    // SAFETY: the caller builds `nskb` and owns it.
    if let Some(mut n) = unsafe { SkbMut::from_raw(nskb) } {
        drop(conn::attach(&mut n, r, related));
    }
}

/// `set_closing`: a RST was sent for the connection of `ct`.
///
/// # Safety
///
/// `ct` is the `_nfct` entry of a packet the caller holds.
unsafe extern "C" fn set_closing(ct: *mut ffi::nf_conntrack) {
    if ct.is_null() {
        return;
    }
    // SAFETY: the caller's packet keeps the entry alive for the call.
    let c: &Conn = unsafe { Conn::from_nfct(ct) };
    let cfg = settings::Knobs;
    let now = conn::now();
    c.with_entry_mut(|e| track::set_closing(e, now, &cfg));
}

/// `confirm`: confirm the packet's entry now.
///
/// # Safety
///
/// `skb` is a valid packet the caller owns.
unsafe extern "C" fn confirm(skb: *mut ffi::sk_buff) -> c_int {
    // SAFETY: the caller owns the packet for the call.
    match unsafe { SkbMut::from_raw(skb) } {
        Some(mut s) => packet_path::confirm(&mut s).raw() as c_int,
        None => ffi::IPCT_NF_ACCEPT as c_int,
    }
}

/// The hook, with every member set.
static HOOK: ffi::nf_ct_hook = ffi::nf_ct_hook {
    update: Some(update),
    destroy: Some(destroy),
    get_tuple_skb: Some(get_tuple_skb),
    attach: Some(attach),
    set_closing: Some(set_closing),
    confirm: Some(confirm),
};

/// `nf_ct_hook`, installed; removed on drop.
///
/// # Invariants
///
/// `nf_ct_hook` points to [`HOOK`] from creation until drop.
pub(crate) struct Registration {
    _private: (),
}

impl Registration {
    /// Installs the hook; `EBUSY` (logged) when another tracker has one.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: `HOOK` is 'static and complete.
        let r = unsafe { ffi::ipct_nf_ct_hook_install(&HOOK) };
        if r != 0 {
            pr_err!("another connection tracker owns nf_ct_hook (nf_conntrack loaded?); refusing to load\n");
            return Err(EBUSY);
        }
        Ok(Self { _private: () })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: installed (type invariant); waits for callers in flight.
        unsafe { ffi::ipct_nf_ct_hook_remove(&HOOK) };
    }
}
