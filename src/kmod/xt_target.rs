// SPDX-License-Identifier: GPL-2.0

//! The iptables NAT targets for IPv4, as 6.12's `xt_nat` (`SNAT`, `DNAT`,
//! revisions 0, 1 and 2), `xt_MASQUERADE`, `xt_REDIRECT` and `xt_NETMAP`
//! (revision 0): the revisions iptables 1.8.9 probes for, their layouts,
//! `checkentry` rules and log lines, restricted to the `nat` table and
//! their hooks. Both `iptables-legacy` and `iptables-nft` (through
//! nft_compat) find them; the kernel's own modules of these names depend
//! on nf_conntrack and cannot load next to us.
//!
//! Layout: the generic adapter ([`NatTarget`], [`Registration`]) that
//! turns a target revision into a `struct xt_target`, then what each
//! target does with a new connection. The engine parses and checks the
//! rule data ([`crate::nat::options`]) and builds the range
//! ([`crate::nat::targets`]); the NAT core binds it
//! ([`crate::knat::setup`]).

use crate::conn;
use crate::ffi;
use crate::nat::options::{self, OptionError, Target as Kind};
use crate::nat::targets::{self, Setup};
use crate::knat;
use crate::nat::{hook, Manip};
use crate::skb::Skb;
use core::ffi::c_void;
use kernel::error::to_result;
use kernel::ffi::{c_char, c_int, c_uint};
use kernel::prelude::*;

// The engine's constants are the kernel's (checked at build).
const _: () = {
    use core::mem::size_of;
    assert!(size_of::<ffi::nf_nat_ipv4_multi_range_compat>() == options::COMPAT_SIZE);
    assert!(size_of::<ffi::nf_nat_range>() == options::RANGE_SIZE);
    assert!(size_of::<ffi::nf_nat_range2>() == options::RANGE2_SIZE);
    assert!(hook::PRE_ROUTING == ffi::nf_inet_hooks_NF_INET_PRE_ROUTING);
    assert!(hook::LOCAL_IN == ffi::nf_inet_hooks_NF_INET_LOCAL_IN);
    assert!(hook::FORWARD == ffi::nf_inet_hooks_NF_INET_FORWARD);
    assert!(hook::LOCAL_OUT == ffi::nf_inet_hooks_NF_INET_LOCAL_OUT);
    assert!(hook::POST_ROUTING == ffi::nf_inet_hooks_NF_INET_POST_ROUTING);
};

// ---- the generic adapter --------------------------------------------------

/// One revision of a NAT target.
trait NatTarget {
    /// Which target.
    const KIND: Kind;
    /// The revision of its rule data layout.
    const REVISION: u8;
}

/// The size of `T`'s rule data (`targetsize`, before `XT_ALIGN`).
const fn data_size<T: NatTarget>() -> usize {
    match T::REVISION {
        0 => options::COMPAT_SIZE,
        1 => options::RANGE_SIZE,
        _ => options::RANGE2_SIZE,
    }
}

/// The rule data of a rule using `T`.
///
/// # Safety
///
/// `targinfo` points to the rule data of a rule xtables checked against
/// `T`'s `targetsize` (at least [`data_size`] bytes, never written while
/// rules use it), valid for `'a`.
unsafe fn rule_data<'a, T: NatTarget>(targinfo: *const c_void) -> &'a [u8] {
    // SAFETY: as the caller guarantees.
    unsafe { core::slice::from_raw_parts(targinfo.cast::<u8>(), data_size::<T>()) }
}

/// Logs why rule data is refused, as 6.12 does, and gives the errno.
fn refused(e: OptionError) -> c_int {
    match e {
        // xt_nat's pr_info_ratelimited.
        OptionError::MultipleRanges => pr_info!("{}\n", e),
        // xt_MASQUERADE, xt_REDIRECT and xt_NETMAP only pr_debug theirs.
        _ => pr_debug!("{}\n", e),
    }
    -e.errno()
}

/// The C checkentry function of `T`.
///
/// # Safety
///
/// Only xtables calls it, with a valid `par` whose `targinfo` holds
/// `targetsize` bytes of rule data.
unsafe extern "C" fn check_adapter<T: NatTarget>(par: *const ffi::xt_tgchk_param) -> c_int {
    // SAFETY: the caller passes a valid parameter block; we only read it.
    let targinfo = unsafe { (*par).targinfo };
    // SAFETY: xtables checked the data's size against `targetsize`;
    // nothing writes it during the check.
    let data = unsafe { rule_data::<T>(targinfo.cast_const()) };
    match options::parse(T::KIND, T::REVISION, data) {
        Ok(_) => 0,
        Err(e) => refused(e),
    }
}

/// The C target function of `T`.
///
/// # Safety
///
/// Only xtables calls it (ip_tables or nft_compat), for a rule of the
/// `nat` table at one of `T`'s hooks whose data `check_adapter::<T>`
/// accepted: `skb` and `par` (with its hook state) are valid for the call.
unsafe extern "C" fn target_adapter<T: NatTarget>(
    skb: *mut ffi::sk_buff,
    par: *const ffi::xt_action_param,
) -> c_uint {
    // SAFETY: the caller passes a valid parameter block; we only read it.
    let (targinfo, state) = unsafe { ((*par).__bindgen_anon_2.targinfo, &*(*par).state) };
    // SAFETY: the rule's data, checked at insertion, unchanged since.
    let data = unsafe { rule_data::<T>(targinfo) };
    let Ok(opts) = options::parse(T::KIND, T::REVISION, data) else {
        return ffi::IPCT_NF_DROP;
    };
    let pkt = Packet { skb, state };
    match T::KIND {
        Kind::Snat => knat::setup(skb, Manip::Src, &opts.range, None),
        Kind::Dnat => knat::setup(skb, Manip::Dst, &opts.range, None),
        Kind::Masquerade => masquerade(&pkt, &opts.range),
        Kind::Redirect => verdict(&pkt, targets::redirect(&opts.range, pkt.hooknum(), pkt.in_addr()), None),
        Kind::Netmap => {
            let (src, dst) = pkt.addrs();
            match targets::netmap(&opts.range, pkt.hooknum(), src, dst) {
                Some(s) => verdict(&pkt, s, None),
                None => ffi::IPCT_NF_DROP,
            }
        }
    }
}

/// The C description of target `T` for IPv4 (`.me` is set at
/// registration).
fn xt_target_of<T: NatTarget>() -> Result<ffi::xt_target> {
    let mut name: [c_char; 29] = [0; 29];
    let src = T::KIND.name().as_bytes();
    // Keep the last byte NUL.
    if src.len() >= name.len() {
        return Err(EINVAL);
    }
    for (d, s) in name.iter_mut().zip(src) {
        *d = *s;
    }
    Ok(ffi::xt_target {
        name,
        revision: T::REVISION,
        target: Some(target_adapter::<T>),
        checkentry: Some(check_adapter::<T>),
        table: c"nat".as_ptr().cast(),
        targetsize: c_uint::try_from(data_size::<T>()).map_err(|_| EINVAL)?,
        hooks: T::KIND.hooks(),
        family: ffi::IPCT_NFPROTO_IPV4.into(),
        ..Default::default()
    })
}

/// A set of targets registered with xtables.
///
/// # Invariants
///
/// `targets` is registered with `ipct_nat_register_targets()` from
/// creation until drop, and its buffer stays at the same heap address
/// meanwhile (the vector is never changed after registration).
pub(crate) struct Registration {
    targets: KVec<ffi::xt_target>,
}

// SAFETY: after registration xtables owns the list links and reads the
// rest (the table name points to a static string); Rust touches the array
// again only to unregister it on drop, which may happen on any thread.
unsafe impl Send for Registration {}
// SAFETY: no method of `Registration` reads or writes through `&self`.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers `targets`, owned by this module: every rule using one
    /// holds a module reference, so `rmmod` refuses while rules exist.
    fn new(mut targets: KVec<ffi::xt_target>) -> Result<Self> {
        let count = c_uint::try_from(targets.len()).map_err(|_| EINVAL)?;
        // SAFETY: `targets` holds `count` valid descriptions on the heap;
        // the vector is kept alive and unchanged until `drop` unregisters
        // them.
        to_result(unsafe { ffi::ipct_nat_register_targets(targets.as_mut_ptr(), count) })?;
        Ok(Self { targets })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let count = c_uint::try_from(self.targets.len()).unwrap_or(0);
        // SAFETY: `self.targets` is registered (type invariant). No rule
        // uses them: each rule holds a module reference, and the module is
        // being unloaded. Unregistering only unlinks them.
        unsafe { ffi::ipct_nat_unregister_targets(self.targets.as_mut_ptr(), count) };
    }
}

/// Declares target revisions: `Name = (target, revision)`.
macro_rules! nat_targets {
    ($($(#[$doc:meta])* $name:ident = ($kind:expr, $rev:literal);)*) => {$(
        $(#[$doc])*
        struct $name;

        impl NatTarget for $name {
            const KIND: Kind = $kind;
            const REVISION: u8 = $rev;
        }
    )*};
}

nat_targets! {
    /// `SNAT`, revision 0 (`nf_nat_ipv4_multi_range_compat`).
    SnatV0 = (Kind::Snat, 0);
    /// `SNAT`, revision 1 (`nf_nat_range`).
    SnatV1 = (Kind::Snat, 1);
    /// `SNAT`, revision 2 (`nf_nat_range2`: shifted port ranges).
    SnatV2 = (Kind::Snat, 2);
    /// `DNAT`, revision 0.
    DnatV0 = (Kind::Dnat, 0);
    /// `DNAT`, revision 1.
    DnatV1 = (Kind::Dnat, 1);
    /// `DNAT`, revision 2.
    DnatV2 = (Kind::Dnat, 2);
    /// `MASQUERADE` (the outgoing interface's address).
    Masquerade = (Kind::Masquerade, 0);
    /// `REDIRECT` (to this host).
    Redirect = (Kind::Redirect, 0);
    /// `NETMAP` (one prefix onto another).
    Netmap = (Kind::Netmap, 0);
}

/// Registers the NAT targets, in 6.12's order within each name.
pub(crate) fn register() -> Result<Registration> {
    let mut targets = KVec::with_capacity(9, GFP_KERNEL)?;
    for t in [
        xt_target_of::<SnatV0>()?,
        xt_target_of::<DnatV0>()?,
        xt_target_of::<SnatV1>()?,
        xt_target_of::<DnatV1>()?,
        xt_target_of::<SnatV2>()?,
        xt_target_of::<DnatV2>()?,
        xt_target_of::<Masquerade>()?,
        xt_target_of::<Redirect>()?,
        xt_target_of::<Netmap>()?,
    ] {
        targets.push(t, GFP_KERNEL)?;
    }
    Registration::new(targets)
}

// ---- what the targets do ---------------------------------------------------

/// The packet a target runs on, valid for one target call.
///
/// # Invariants
///
/// `skb` is the packet of the call and `state` its hook state (`out` is
/// the outgoing device after routing), both valid for the call, which runs
/// under `rcu_read_lock()`.
struct Packet<'a> {
    skb: *mut ffi::sk_buff,
    state: &'a ffi::nf_hook_state,
}

impl Packet<'_> {
    fn hooknum(&self) -> u32 {
        self.state.hook.into()
    }

    /// The IPv4 source and destination address, host order.
    fn addrs(&self) -> (u32, u32) {
        let (mut src, mut dst) = (0u32, 0u32);
        // SAFETY: an IPv4 packet at a netfilter hook has its network
        // header set and pulled (type invariant).
        unsafe { ffi::ipct_nat_ip_addrs(self.skb, &mut src, &mut dst) };
        (u32::from_be(src), u32::from_be(dst))
    }

    /// The first address of the incoming device (REDIRECT on
    /// PREROUTING), host order; `None` without one.
    fn in_addr(&self) -> Option<u32> {
        if self.hooknum() == hook::LOCAL_OUT {
            return None;
        }
        // SAFETY: `skb` is valid and the call runs under RCU (type invariant).
        let a = u32::from_be(unsafe { ffi::ipct_nat_redirect_dest(self.skb) });
        (a != 0).then_some(a)
    }

    /// The original source address of the packet's entry, host order
    /// (the packet's own source without an entry: then the NAT core does
    /// nothing anyway).
    fn orig_src(&self) -> u32 {
        // SAFETY: the packet of a target call stays valid for the call,
        // and its `_nfct` only changes in the hooks that own it.
        let entry = unsafe { Skb::from_raw(self.skb) }
            .and_then(|skb| conn::from_skb(&skb).map(|(c, _)| c.with_entry(|e| e.orig().src.v4_or_zero())));
        entry.unwrap_or_else(|| self.addrs().0)
    }
}

/// Hands a target's decision to the NAT core.
fn verdict(pkt: &Packet<'_>, setup: Setup, masq_ifindex: Option<i32>) -> c_uint {
    match setup {
        Setup::Map(range, manip) => knat::setup(pkt.skb, manip, &range, masq_ifindex),
        Setup::Accept => ffi::IPCT_NF_ACCEPT,
        Setup::Drop => ffi::IPCT_NF_DROP,
    }
}

/// `nf_nat_masquerade_ipv4`: source NAT to the address the outgoing
/// device uses towards the next hop; the entry remembers the device.
fn masquerade(pkt: &Packet<'_>, rule: &crate::nat::range::Range) -> c_uint {
    let out = pkt.state.out;
    let orig_src = pkt.orig_src();
    let out_addr = if orig_src == 0 {
        None
    } else {
        // SAFETY: at POSTROUTING `skb` has its route and `out` is the
        // device it leaves by, both valid for the call (type invariant).
        Some(u32::from_be(unsafe { ffi::ipct_nat_masq_source(pkt.skb, out) }))
    };
    let setup = targets::masquerade(rule, orig_src, out_addr);
    if setup == Setup::Drop {
        // SAFETY: `out` is valid for the call (or NULL, which the helper
        // accepts).
        unsafe { ffi::ipct_nat_masq_no_address(out) };
    }
    // SAFETY: as above.
    let ifindex = unsafe { ffi::ipct_nat_ifindex(out) };
    verdict(pkt, setup, Some(ifindex))
}
