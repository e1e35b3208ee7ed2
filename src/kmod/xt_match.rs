// SPDX-License-Identifier: GPL-2.0

//! The iptables matches `state` (revision 0) and `conntrack` (revisions
//! 1, 2 and 3), for IPv4 only, with the semantics of Linux 6.12's
//! `xt_state` and `xt_conntrack`.
//!
//! Registering both names means the kernel never tries to load its own
//! `xt_state`/`xt_conntrack` (they depend on nf_conntrack, which cannot
//! load next to us) for IPv4 rules. IPv6 rules find neither, so
//! `ip6tables -m state` is refused instead of seeing every IPv6 packet as
//! INVALID. iptables 1.8 turns `-m state` into `conntrack` revision 3 with
//! the `STATE_ALIAS` flag; `state` revision 0 is what it falls back to when
//! the kernel has no `conntrack` match.
//!
//! Layout: the generic adapter ([`Match`], [`Registration`]) that turns a
//! Rust type into a `struct xt_match`, then the four matches, which only
//! read the rule data for the engine ([`crate::ctmatch`] holds what the
//! options mean). Rule data that a match cannot honour is refused in
//! `checkentry` (EINVAL and a log line naming the option), never ignored.

use crate::conn;
use crate::ctmatch::{self, AddrOpt, EntryView, PacketState, PortOpt, Rule, RuleError};
use crate::ffi;
use crate::skb::Skb;
use kernel::error::to_result;
use kernel::ffi::{c_char, c_int, c_uint};
use kernel::prelude::*;

// ---- the generic adapter --------------------------------------------------

/// Rule data of a match: the C struct userspace fills in.
///
/// # Safety
///
/// Implementors are `#[repr(C)]` structs of integers (and unions of
/// integers) for which every bit pattern is valid, so a reference to one
/// may be made from any suitably aligned bytes of the right size.
pub(crate) unsafe trait MatchInfo: Sized {}

// SAFETY: integers only (uapi struct).
unsafe impl MatchInfo for ffi::xt_state_info {}
// SAFETY: integers and unions of integers only (uapi struct).
unsafe impl MatchInfo for ffi::xt_conntrack_mtinfo1 {}
// SAFETY: integers and unions of integers only (uapi struct).
unsafe impl MatchInfo for ffi::xt_conntrack_mtinfo2 {}
// SAFETY: integers and unions of integers only (uapi struct).
unsafe impl MatchInfo for ffi::xt_conntrack_mtinfo3 {}

/// An xtables match written in safe Rust.
pub(crate) trait Match {
    /// Name userspace asks for (`-m NAME`), at most 28 bytes.
    const NAME: &'static [u8];
    /// Revision of the rule data layout.
    const REVISION: u8;
    /// The rule data.
    type Info: MatchInfo;
    /// Decides at rule insertion whether the rule data is acceptable. An
    /// error refuses the rule; log why first.
    fn check(info: &Self::Info) -> Result;
    /// [`Match::check`] for an `ip6tables` rule.
    fn check6(info: &Self::Info) -> Result {
        Self::check(info)
    }
    /// Whether the packet matches. Runs in softirq or process context
    /// under `rcu_read_lock()`: must not sleep.
    fn matches(info: &Self::Info, pkt: &Packet<'_>) -> bool;
}

/// The packet a match runs on, valid for the duration of one call.
pub(crate) struct Packet<'a> {
    skb: Skb<'a>,
}

impl Packet<'_> {
    /// The packet's classification (`skb->_nfct`'s ctinfo), without
    /// touching its entry.
    fn state(&self) -> PacketState {
        conn::state(&self.skb)
    }

    /// What the conntrack match reads of the packet's entry, taken under
    /// the entry's lock; `None` without an entry.
    fn entry_view(&self) -> Option<EntryView> {
        let (c, _) = conn::from_skb(&self.skb)?;
        let now = conn::now();
        Some(c.with_entry(|e| EntryView::of(e, e.time_left(now), c.nat_reply(), c.addrs6())))
    }
}

/// The C match function of `M`.
///
/// # Safety
///
/// Only xtables calls it, through a `struct xt_match` built by
/// [`xt_match_of`]: `skb` and `par` are valid for the call, and
/// `par->matchinfo` points to rule data of `matchsize` bytes that
/// `check_adapter::<M>` accepted.
unsafe extern "C" fn match_adapter<M: Match>(
    skb: *const ffi::sk_buff,
    par: *mut ffi::xt_action_param,
) -> bool {
    // SAFETY: the caller passes a valid parameter block; we only read it.
    let matchinfo = unsafe { (*par).__bindgen_anon_2.matchinfo };
    // SAFETY: rule data is `size_of::<M::Info>()` bytes (xtables checked it against
    // `matchsize`), aligned for any C struct (XT_ALIGN) and never written while rules
    // run; any bit pattern is valid (`MatchInfo`).
    let info = unsafe { &*matchinfo.cast::<M::Info>() };
    // SAFETY: the packet of a match call stays valid for the call, and
    // its `_nfct` only changes in the hooks that own the packet, not while
    // a rule looks at it.
    let Some(skb) = (unsafe { Skb::from_raw(skb) }) else {
        return false;
    };
    M::matches(info, &Packet { skb })
}

/// The C checkentry function of `M`.
///
/// # Safety
///
/// Only xtables calls it, with a valid `par` whose `matchinfo` holds
/// `matchsize` bytes of rule data.
unsafe extern "C" fn check_adapter<M: Match>(par: *const ffi::xt_mtchk_param) -> c_int {
    // SAFETY: the caller passes a valid parameter block; we only read it.
    let matchinfo = unsafe { (*par).matchinfo };
    // SAFETY: as in `match_adapter`: `matchsize` bytes, aligned, any bit
    // pattern valid; nothing writes it during the check.
    let info = unsafe { &*matchinfo.cast_const().cast::<M::Info>() };
    match M::check(info) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// [`check_adapter`] of the IPv6 registration ([`Match::check6`]).
///
/// # Safety
///
/// As [`check_adapter`].
unsafe extern "C" fn check_adapter6<M: Match>(par: *const ffi::xt_mtchk_param) -> c_int {
    // SAFETY: as in `check_adapter`.
    let matchinfo = unsafe { (*par).matchinfo };
    // SAFETY: as in `check_adapter`.
    let info = unsafe { &*matchinfo.cast_const().cast::<M::Info>() };
    match M::check6(info) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// [`xt_match_of`] for `ip6tables`.
fn xt_match6_of<M: Match>() -> Result<ffi::xt_match> {
    Ok(ffi::xt_match {
        family: ffi::IPCT_NFPROTO_IPV6.into(),
        checkentry: Some(check_adapter6::<M>),
        ..xt_match_of::<M>()?
    })
}

/// The C description of match `M` for IPv4 (`.me` is set at registration).
fn xt_match_of<M: Match>() -> Result<ffi::xt_match> {
    let mut name: [c_char; 29] = [0; 29];
    // Keep the last byte NUL.
    if M::NAME.len() >= name.len() {
        return Err(EINVAL);
    }
    for (d, s) in name.iter_mut().zip(M::NAME) {
        *d = *s;
    }
    Ok(ffi::xt_match {
        name,
        revision: M::REVISION,
        match_: Some(match_adapter::<M>),
        checkentry: Some(check_adapter::<M>),
        matchsize: c_uint::try_from(core::mem::size_of::<M::Info>()).map_err(|_| EINVAL)?,
        family: ffi::IPCT_NFPROTO_IPV4.into(),
        ..Default::default()
    })
}

/// A set of matches registered with xtables.
///
/// # Invariants
///
/// `matches` is registered with `ipct_xt_register_matches()` from
/// creation until drop, and its buffer stays at the same heap address
/// meanwhile (the vector is never changed after registration).
pub(crate) struct Registration {
    matches: KVec<ffi::xt_match>,
}

// SAFETY: after registration xtables owns the list links and reads the
// rest; Rust touches the array again only to unregister it on drop, which
// may happen on any thread.
unsafe impl Send for Registration {}
// SAFETY: `Registration` has no methods taking `&self`.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers `matches`, owned by this module: every rule using one
    /// holds a module reference, so `rmmod` refuses while rules exist.
    fn new(mut matches: KVec<ffi::xt_match>) -> Result<Self> {
        let count = c_uint::try_from(matches.len()).map_err(|_| EINVAL)?;
        // SAFETY: `matches` holds `count` valid descriptions on the heap;
        // the vector is kept alive and unchanged until `drop` unregisters
        // them.
        to_result(unsafe { ffi::ipct_xt_register_matches(matches.as_mut_ptr(), count) })?;
        Ok(Self { matches })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let count = c_uint::try_from(self.matches.len()).unwrap_or(0);
        // SAFETY: `self.matches` is registered (type invariant). No rule
        // uses them: each rule holds a module reference, and the module is
        // being unloaded. Unregistering only unlinks them.
        unsafe { ffi::ipct_xt_unregister_matches(self.matches.as_mut_ptr(), count) };
    }
}

/// Registers the module's matches: `state` revision 0 and, unless the
/// `conntrack_match=0` parameter says otherwise, `conntrack` revisions
/// 1-3. Without `conntrack`, iptables 1.8 falls back to `state` revision 0
/// for `-m state` (how the tests exercise that path).
pub(crate) fn register() -> Result<Registration> {
    let mut matches = KVec::with_capacity(8, GFP_KERNEL)?;
    matches.push(xt_match_of::<StateV0>()?, GFP_KERNEL)?;
    matches.push(xt_match6_of::<StateV0>()?, GFP_KERNEL)?;
    // SAFETY: reads a module parameter (a plain bool, read-only at runtime).
    if unsafe { ffi::ipct_xt_param_conntrack_match() } {
        matches.push(xt_match_of::<ConntrackV1>()?, GFP_KERNEL)?;
        matches.push(xt_match_of::<ConntrackV2>()?, GFP_KERNEL)?;
        matches.push(xt_match_of::<ConntrackV3>()?, GFP_KERNEL)?;
        matches.push(xt_match6_of::<ConntrackV1>()?, GFP_KERNEL)?;
        matches.push(xt_match6_of::<ConntrackV2>()?, GFP_KERNEL)?;
        matches.push(xt_match6_of::<ConntrackV3>()?, GFP_KERNEL)?;
    } else {
        pr_info!("conntrack_match=0: only the state match (revision 0) is registered\n");
    }
    Registration::new(matches)
}

// ---- state, revision 0 ----------------------------------------------------

/// `-m state --state ...` (`struct xt_state_info`).
struct StateV0;

impl Match for StateV0 {
    const NAME: &'static [u8] = b"state";
    const REVISION: u8 = 0;
    type Info = ffi::xt_state_info;

    fn check(info: &Self::Info) -> Result {
        ctmatch::state_check(info.statemask).map_err(refused)
    }

    fn matches(info: &Self::Info, pkt: &Packet<'_>) -> bool {
        ctmatch::state_matches(info.statemask, pkt.state())
    }
}

// ---- conntrack, revisions 1-3 -----------------------------------------------

// The engine's uapi constants are the kernel headers' (checked at build).
const _: () = {
    use ctmatch::{ctstate, ctstatus, flag};
    assert!(ctmatch::STATE_INVALID == ffi::IPCT_XT_STATE_INVALID);
    assert!(ctmatch::STATE_UNTRACKED == ffi::IPCT_XT_STATE_UNTRACKED);
    assert!(ctstate::INVALID == ffi::IPCT_XT_CT_STATE_INVALID);
    assert!(ctstate::SNAT == ffi::IPCT_XT_CT_STATE_SNAT);
    assert!(ctstate::DNAT == ffi::IPCT_XT_CT_STATE_DNAT);
    assert!(ctstate::UNTRACKED == ffi::IPCT_XT_CT_STATE_UNTRACKED);
    assert!(ctstatus::EXPECTED == ffi::IPCT_XT_IPS_EXPECTED);
    assert!(ctstatus::SEEN_REPLY == ffi::IPCT_XT_IPS_SEEN_REPLY);
    assert!(ctstatus::ASSURED == ffi::IPCT_XT_IPS_ASSURED);
    assert!(ctstatus::CONFIRMED == ffi::IPCT_XT_IPS_CONFIRMED);
    assert!(flag::STATE == ffi::IPCT_XT_CT_STATE);
    assert!(flag::PROTO == ffi::IPCT_XT_CT_PROTO);
    assert!(flag::ORIGSRC == ffi::IPCT_XT_CT_ORIGSRC);
    assert!(flag::ORIGDST == ffi::IPCT_XT_CT_ORIGDST);
    assert!(flag::REPLSRC == ffi::IPCT_XT_CT_REPLSRC);
    assert!(flag::REPLDST == ffi::IPCT_XT_CT_REPLDST);
    assert!(flag::STATUS == ffi::IPCT_XT_CT_STATUS);
    assert!(flag::EXPIRES == ffi::IPCT_XT_CT_EXPIRES);
    assert!(flag::ORIGSRC_PORT == ffi::IPCT_XT_CT_ORIGSRC_PORT);
    assert!(flag::ORIGDST_PORT == ffi::IPCT_XT_CT_ORIGDST_PORT);
    assert!(flag::REPLSRC_PORT == ffi::IPCT_XT_CT_REPLSRC_PORT);
    assert!(flag::REPLDST_PORT == ffi::IPCT_XT_CT_REPLDST_PORT);
    assert!(flag::DIRECTION == ffi::IPCT_XT_CT_DIRECTION);
    assert!(flag::STATE_ALIAS == ffi::IPCT_XT_CT_STATE_ALIAS);
};

/// An address of rule data (`nf_inet_addr`), as four host-order words
/// (IPv4 in the first).
fn inet_addr(addr: &ffi::nf_inet_addr) -> [u32; 4] {
    // SAFETY: every member of the union is plain integers, so reading its
    // sixteen bytes as `all` is valid whatever userspace wrote.
    unsafe { addr.all }.map(u32::from_be)
}

/// The rule data every revision shares, read for the engine's [`Rule`].
macro_rules! ct_rule_common {
    () => {
        fn match_flags(&self) -> u16 {
            self.match_flags
        }
        fn invert_flags(&self) -> u16 {
            self.invert_flags
        }
        fn status_mask(&self) -> u32 {
            self.status_mask.into()
        }
        fn state_mask(&self) -> u16 {
            self.state_mask.into()
        }
        fn l4proto(&self) -> u16 {
            self.l4proto
        }
        fn expires(&self) -> (u32, u32) {
            (self.expires_min, self.expires_max)
        }
        fn addr(&self, opt: AddrOpt) -> ([u32; 4], [u32; 4]) {
            let (a, m) = match opt {
                AddrOpt::OrigSrc => (&self.origsrc_addr, &self.origsrc_mask),
                AddrOpt::OrigDst => (&self.origdst_addr, &self.origdst_mask),
                AddrOpt::ReplSrc => (&self.replsrc_addr, &self.replsrc_mask),
                AddrOpt::ReplDst => (&self.repldst_addr, &self.repldst_mask),
            };
            (inet_addr(a), inet_addr(m))
        }
    };
}

/// Revisions 1 and 2: one port, network order.
macro_rules! ct_rule_single_port {
    () => {
        const PORT_RANGES: bool = false;
        fn port_range(&self, opt: PortOpt) -> (u16, u16) {
            let p = u16::from_be(match opt {
                PortOpt::OrigSrc => self.origsrc_port,
                PortOpt::OrigDst => self.origdst_port,
                PortOpt::ReplSrc => self.replsrc_port,
                PortOpt::ReplDst => self.repldst_port,
            });
            (p, p)
        }
    };
}

impl Rule for ffi::xt_conntrack_mtinfo1 {
    ct_rule_common!();
    ct_rule_single_port!();
}

impl Rule for ffi::xt_conntrack_mtinfo2 {
    ct_rule_common!();
    ct_rule_single_port!();
}

impl Rule for ffi::xt_conntrack_mtinfo3 {
    ct_rule_common!();
    const PORT_RANGES: bool = true;
    fn port_range(&self, opt: PortOpt) -> (u16, u16) {
        match opt {
            PortOpt::OrigSrc => (self.origsrc_port, self.origsrc_port_high),
            PortOpt::OrigDst => (self.origdst_port, self.origdst_port_high),
            PortOpt::ReplSrc => (self.replsrc_port, self.replsrc_port_high),
            PortOpt::ReplDst => (self.repldst_port, self.repldst_port_high),
        }
    }
}

/// Logs why rule data is refused (naming the option) and refuses it.
fn refused(e: RuleError) -> Error {
    pr_info!("{}\n", e);
    EINVAL
}

/// Declares the `-m conntrack` revision `$rev` over its uapi info struct;
/// the revisions differ only in mask widths and port ranges, which the
/// engine reads through [`Rule`].
macro_rules! conntrack_revision {
    ($(#[$doc:meta])* $name:ident, $rev:literal, $info:ty) => {
        $(#[$doc])*
        struct $name;

        impl Match for $name {
            const NAME: &'static [u8] = b"conntrack";
            const REVISION: u8 = $rev;
            type Info = $info;

            fn check(info: &Self::Info) -> Result {
                ctmatch::check(info).map_err(refused)
            }

            fn matches(info: &Self::Info, pkt: &Packet<'_>) -> bool {
                ctmatch::matches(info, pkt.state(), || pkt.entry_view())
            }
        }
    };
}

conntrack_revision!(
    /// `-m conntrack`, revision 1 (`struct xt_conntrack_mtinfo1`: 8-bit masks).
    ConntrackV1, 1, ffi::xt_conntrack_mtinfo1
);
conntrack_revision!(
    /// `-m conntrack`, revision 2 (`struct xt_conntrack_mtinfo2`: 16-bit masks).
    ConntrackV2, 2, ffi::xt_conntrack_mtinfo2
);
conntrack_revision!(
    /// `-m conntrack`, revision 3 (`struct xt_conntrack_mtinfo3`: port
    /// ranges); what iptables 1.8 uses, also for `-m state`.
    ConntrackV3, 3, ffi::xt_conntrack_mtinfo3
);
