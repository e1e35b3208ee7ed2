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
//! Rust type into a `struct xt_match`, then the four matches. Rule data
//! that a match cannot honour is refused in `checkentry` (EINVAL and a log
//! line naming the option), never ignored.

use crate::conn::{self, PktState};
use crate::entry::Entry;
use crate::ffi;
use crate::skb::Skb;
use crate::tuple::{Dir, Tuple, L4};
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
    fn state(&self) -> PktState {
        conn::state(&self.skb)
    }

    /// What the conntrack match reads of the packet's entry, taken under
    /// the entry's lock; `None` without an entry.
    fn entry_view(&self) -> Option<EntryView> {
        let (c, _) = conn::from_skb(&self.skb)?;
        let now = conn::now();
        Some(c.with_entry(|e| EntryView::of(e, now)))
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
    let mut matches = KVec::with_capacity(4, GFP_KERNEL)?;
    matches.push(xt_match_of::<StateV0>()?, GFP_KERNEL)?;
    // SAFETY: reads a module parameter (a plain bool, read-only at runtime).
    if unsafe { ffi::ipct_xt_param_conntrack_match() } {
        matches.push(xt_match_of::<ConntrackV1>()?, GFP_KERNEL)?;
        matches.push(xt_match_of::<ConntrackV2>()?, GFP_KERNEL)?;
        matches.push(xt_match_of::<ConntrackV3>()?, GFP_KERNEL)?;
    } else {
        pr_info!("conntrack_match=0: only the state match (revision 0) is registered\n");
    }
    Registration::new(matches)
}

// ---- the packet's entry ---------------------------------------------------

/// One direction's tuple as the conntrack match compares it.
#[derive(Clone, Copy)]
struct TupleView {
    /// Source address, host order (`a.b.c.d` = `a << 24 | ... | d`).
    src: u32,
    /// Destination address, host order.
    dst: u32,
    /// The kernel's `src.u.all`: source port, ICMP id, 0 otherwise.
    src_all: u16,
    /// The kernel's `dst.u.all`: destination port, ICMP `type << 8 | code`,
    /// 0 otherwise.
    dst_all: u16,
}

impl TupleView {
    fn of(t: &Tuple) -> Self {
        let (src_all, dst_all) = match t.l4 {
            L4::Ports { sport, dport } => (sport, dport),
            // `dst.u.all` overlays the type and code bytes, read as a
            // big-endian number.
            L4::Icmp { ty, code, id } => (id, u16::from_be_bytes([ty, code])),
            L4::None => (0, 0),
        };
        Self {
            src: t.src,
            dst: t.dst,
            src_all,
            dst_all,
        }
    }
}

/// What the conntrack match reads of a packet's entry.
#[derive(Clone, Copy)]
struct EntryView {
    orig: TupleView,
    reply: TupleView,
    /// IP protocol number.
    proto: u8,
    /// Status bits (`IPS_*` values).
    status: u32,
    /// Whole seconds until the entry expires, as `nf_ct_expires(ct) / HZ`.
    expires_secs: u64,
}

impl EntryView {
    fn of(e: &Entry, now: crate::Millis) -> Self {
        Self {
            orig: TupleView::of(&e.orig()),
            reply: TupleView::of(&e.tuple(Dir::Reply)),
            proto: e.orig().proto,
            status: e.status.0,
            expires_secs: conn::time_left(e, now) / 1000,
        }
    }
}

// ---- state, revision 0 ----------------------------------------------------

/// `-m state --state ...` (`struct xt_state_info`).
struct StateV0;

/// Every `statemask` bit iptables can set.
const STATE_KNOWN: u32 = ffi::IPCT_XT_STATE_INVALID
    | STATE_BITS_TRACKED as u32 // lossless: u16 to u32
    | ffi::IPCT_XT_STATE_UNTRACKED;

/// ESTABLISHED 2, RELATED 4, NEW 8: `NF_CT_STATE_BIT(ctinfo)`, the same
/// in `xt_state` and `xt_conntrack`.
const STATE_BITS_TRACKED: u16 = 2 | 4 | 8;

impl Match for StateV0 {
    const NAME: &'static [u8] = b"state";
    const REVISION: u8 = 0;
    type Info = ffi::xt_state_info;

    fn check(info: &Self::Info) -> Result {
        let unknown = info.statemask & !STATE_KNOWN;
        if unknown != 0 {
            pr_info!("state match: unknown --state bits {:#x} refused\n", unknown);
            return Err(EINVAL);
        }
        Ok(())
    }

    fn matches(info: &Self::Info, pkt: &Packet<'_>) -> bool {
        info.statemask & pkt.state().state_bit() != 0
    }
}

// ---- conntrack, revisions 1-3 -----------------------------------------------

/// Option flags (`match_flags`, `invert_flags`).
mod flag {
    use crate::ffi;
    pub(super) const STATE: u16 = ffi::IPCT_XT_CT_STATE;
    pub(super) const PROTO: u16 = ffi::IPCT_XT_CT_PROTO;
    pub(super) const ORIGSRC: u16 = ffi::IPCT_XT_CT_ORIGSRC;
    pub(super) const ORIGDST: u16 = ffi::IPCT_XT_CT_ORIGDST;
    pub(super) const REPLSRC: u16 = ffi::IPCT_XT_CT_REPLSRC;
    pub(super) const REPLDST: u16 = ffi::IPCT_XT_CT_REPLDST;
    pub(super) const STATUS: u16 = ffi::IPCT_XT_CT_STATUS;
    pub(super) const EXPIRES: u16 = ffi::IPCT_XT_CT_EXPIRES;
    pub(super) const ORIGSRC_PORT: u16 = ffi::IPCT_XT_CT_ORIGSRC_PORT;
    pub(super) const ORIGDST_PORT: u16 = ffi::IPCT_XT_CT_ORIGDST_PORT;
    pub(super) const REPLSRC_PORT: u16 = ffi::IPCT_XT_CT_REPLSRC_PORT;
    pub(super) const REPLDST_PORT: u16 = ffi::IPCT_XT_CT_REPLDST_PORT;
    pub(super) const DIRECTION: u16 = ffi::IPCT_XT_CT_DIRECTION;
    /// Set by iptables when it maps `-m state` onto this match; no effect.
    pub(super) const STATE_ALIAS: u16 = ffi::IPCT_XT_CT_STATE_ALIAS;

    /// Options that can be inverted with `!`.
    pub(super) const INVERTIBLE: u16 = STATE
        | PROTO
        | ORIGSRC
        | ORIGDST
        | REPLSRC
        | REPLDST
        | STATUS
        | EXPIRES
        | ORIGSRC_PORT
        | ORIGDST_PORT
        | REPLSRC_PORT
        | REPLDST_PORT
        | DIRECTION;
    /// Every option this module implements.
    pub(super) const KNOWN: u16 = INVERTIBLE | STATE_ALIAS;
    /// Options that read the entry itself, not just the packet's ctinfo.
    pub(super) const NEED_ENTRY: u16 = PROTO
        | ORIGSRC
        | ORIGDST
        | REPLSRC
        | REPLDST
        | STATUS
        | EXPIRES
        | ORIGSRC_PORT
        | ORIGDST_PORT
        | REPLSRC_PORT
        | REPLDST_PORT;
}

/// Every `state_mask` bit iptables can set: INVALID, ESTABLISHED, RELATED,
/// NEW, SNAT, DNAT, UNTRACKED. SNAT and DNAT are accepted but never
/// match: this tracker does no NAT.
const CT_STATE_KNOWN: u16 = ffi::IPCT_XT_CT_STATE_INVALID
    | STATE_BITS_TRACKED
    | ffi::IPCT_XT_CT_STATE_SNAT
    | ffi::IPCT_XT_CT_STATE_DNAT
    | ffi::IPCT_XT_CT_STATE_UNTRACKED;

/// Every `--ctstatus` bit iptables can set (EXPECTED is never set here:
/// there are no expectations without helpers).
const CT_STATUS_KNOWN: u32 = ffi::IPCT_XT_IPS_EXPECTED
    | ffi::IPCT_XT_IPS_SEEN_REPLY
    | ffi::IPCT_XT_IPS_ASSURED
    | ffi::IPCT_XT_IPS_CONFIRMED;

/// The port options, in `match_flags` order.
#[derive(Clone, Copy)]
enum PortOpt {
    OrigSrc,
    OrigDst,
    ReplSrc,
    ReplDst,
}

impl PortOpt {
    const ALL: [PortOpt; 4] = [
        PortOpt::OrigSrc,
        PortOpt::OrigDst,
        PortOpt::ReplSrc,
        PortOpt::ReplDst,
    ];

    fn flag(self) -> u16 {
        match self {
            PortOpt::OrigSrc => flag::ORIGSRC_PORT,
            PortOpt::OrigDst => flag::ORIGDST_PORT,
            PortOpt::ReplSrc => flag::REPLSRC_PORT,
            PortOpt::ReplDst => flag::REPLDST_PORT,
        }
    }

    fn option(self) -> &'static str {
        match self {
            PortOpt::OrigSrc => "--ctorigsrcport",
            PortOpt::OrigDst => "--ctorigdstport",
            PortOpt::ReplSrc => "--ctreplsrcport",
            PortOpt::ReplDst => "--ctrepldstport",
        }
    }

    /// The entry's value for this option: the kernel's `u.all` (port,
    /// ICMP id, or ICMP type and code), in host order.
    fn of(self, e: &EntryView) -> u16 {
        match self {
            PortOpt::OrigSrc => e.orig.src_all,
            PortOpt::OrigDst => e.orig.dst_all,
            PortOpt::ReplSrc => e.reply.src_all,
            PortOpt::ReplDst => e.reply.dst_all,
        }
    }
}

/// The address options, in `match_flags` order.
#[derive(Clone, Copy)]
enum AddrOpt {
    OrigSrc,
    OrigDst,
    ReplSrc,
    ReplDst,
}

impl AddrOpt {
    const ALL: [AddrOpt; 4] = [
        AddrOpt::OrigSrc,
        AddrOpt::OrigDst,
        AddrOpt::ReplSrc,
        AddrOpt::ReplDst,
    ];

    fn flag(self) -> u16 {
        match self {
            AddrOpt::OrigSrc => flag::ORIGSRC,
            AddrOpt::OrigDst => flag::ORIGDST,
            AddrOpt::ReplSrc => flag::REPLSRC,
            AddrOpt::ReplDst => flag::REPLDST,
        }
    }

    /// The entry's address for this option, host order.
    fn of(self, e: &EntryView) -> u32 {
        match self {
            AddrOpt::OrigSrc => e.orig.src,
            AddrOpt::OrigDst => e.orig.dst,
            AddrOpt::ReplSrc => e.reply.src,
            AddrOpt::ReplDst => e.reply.dst,
        }
    }
}

/// An IPv4 address of rule data, host order.
fn ipv4(addr: &ffi::nf_inet_addr) -> u32 {
    // SAFETY: every member of the union is plain integers, so reading the
    // first four bytes as `ip` is valid whatever userspace wrote.
    u32::from_be(unsafe { addr.ip })
}

/// Rule data of the three conntrack revisions, read through one interface
/// (the kernel reads revisions 1 and 2 through the revision 2 layout; only
/// the masks' widths and revision 3's port ranges differ).
trait CtRule: MatchInfo {
    /// Revision 3 carries port ranges in host order; 1 and 2 one port in
    /// network order.
    const PORT_RANGES: bool;
    fn match_flags(&self) -> u16;
    fn invert_flags(&self) -> u16;
    fn state_mask(&self) -> u16;
    fn status_mask(&self) -> u32;
    fn l4proto(&self) -> u16;
    fn expires(&self) -> (u32, u32);
    /// Address and mask of an address option, host order.
    fn addr(&self, opt: AddrOpt) -> (u32, u32);
    /// The accepted values of a port option, inclusive, host order.
    fn port_range(&self, opt: PortOpt) -> (u16, u16);
}

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
        fn addr(&self, opt: AddrOpt) -> (u32, u32) {
            let (a, m) = match opt {
                AddrOpt::OrigSrc => (&self.origsrc_addr, &self.origsrc_mask),
                AddrOpt::OrigDst => (&self.origdst_addr, &self.origdst_mask),
                AddrOpt::ReplSrc => (&self.replsrc_addr, &self.replsrc_mask),
                AddrOpt::ReplDst => (&self.repldst_addr, &self.repldst_mask),
            };
            (ipv4(a), ipv4(m))
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

impl CtRule for ffi::xt_conntrack_mtinfo1 {
    ct_rule_common!();
    ct_rule_single_port!();
}

impl CtRule for ffi::xt_conntrack_mtinfo2 {
    ct_rule_common!();
    ct_rule_single_port!();
}

impl CtRule for ffi::xt_conntrack_mtinfo3 {
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

/// Refuses rule data the match cannot honour, naming the option.
fn ct_check<R: CtRule>(r: &R) -> Result {
    let unknown = r.match_flags() & !flag::KNOWN;
    if unknown != 0 {
        pr_info!("conntrack match: unknown option flags {:#x} refused\n", unknown);
        return Err(EINVAL);
    }
    let unknown = r.invert_flags() & !flag::INVERTIBLE;
    if unknown != 0 {
        pr_info!("conntrack match: unknown inversion flags {:#x} refused\n", unknown);
        return Err(EINVAL);
    }
    let set = |f: u16| r.match_flags() & f != 0;
    if set(flag::STATE) {
        let unknown = r.state_mask() & !CT_STATE_KNOWN;
        if unknown != 0 {
            pr_info!("conntrack match: unknown --ctstate bits {:#x} refused\n", unknown);
            return Err(EINVAL);
        }
    }
    if set(flag::STATUS) {
        let unknown = r.status_mask() & !CT_STATUS_KNOWN;
        if unknown != 0 {
            pr_info!("conntrack match: unknown --ctstatus bits {:#x} refused\n", unknown);
            return Err(EINVAL);
        }
    }
    if set(flag::EXPIRES) {
        let (min, max) = r.expires();
        if min > max {
            pr_info!("conntrack match: --ctexpire {}:{} is an empty range\n", min, max);
            return Err(EINVAL);
        }
    }
    if R::PORT_RANGES {
        for opt in PortOpt::ALL {
            let (low, high) = r.port_range(opt);
            if set(opt.flag()) && low > high {
                pr_info!(
                    "conntrack match: {} {}:{} is an empty range\n",
                    opt.option(),
                    low,
                    high
                );
                return Err(EINVAL);
            }
        }
    }
    Ok(())
}

/// Whether an option lets the packet through: not given, or its condition
/// differs from its inversion flag (`cond ^ !invert` rejects, as in the
/// kernel).
fn passes<R: CtRule>(r: &R, f: u16, cond: impl FnOnce() -> bool) -> bool {
    r.match_flags() & f == 0 || cond() != (r.invert_flags() & f != 0)
}

/// `conntrack_mt()` of Linux 6.12 for IPv4, without NAT.
fn ct_match<R: CtRule>(r: &R, pkt: &Packet<'_>) -> bool {
    let state = pkt.state();
    let statebit: u16 = match state {
        // At most 8: fits. SNAT/DNAT bits are never set: no NAT.
        PktState::Tracked(c) => c.state_bit().try_into().unwrap_or(0),
        PktState::Untracked => ffi::IPCT_XT_CT_STATE_UNTRACKED,
        PktState::Invalid => ffi::IPCT_XT_CT_STATE_INVALID,
    };
    if !passes(r, flag::STATE, || r.state_mask() & statebit != 0) {
        return false;
    }
    let PktState::Tracked(ctinfo) = state else {
        // Without an entry only a state option can match.
        return r.match_flags() & flag::STATE != 0;
    };
    if !passes(r, flag::DIRECTION, || ctinfo.dir() == Dir::Original) {
        return false;
    }
    if r.match_flags() & flag::NEED_ENTRY == 0 {
        return true;
    }
    let Some(e) = pkt.entry_view() else {
        return false;
    };
    for opt in AddrOpt::ALL {
        let ok = passes(r, opt.flag(), || {
            let (addr, mask) = r.addr(opt);
            (opt.of(&e) ^ addr) & mask == 0
        });
        if !ok {
            return false;
        }
    }
    if !passes(r, flag::PROTO, || u16::from(e.proto) == r.l4proto()) {
        return false;
    }
    for opt in PortOpt::ALL {
        let ok = passes(r, opt.flag(), || {
            let (low, high) = r.port_range(opt);
            (low..=high).contains(&opt.of(&e))
        });
        if !ok {
            return false;
        }
    }
    if !passes(r, flag::STATUS, || r.status_mask() & e.status != 0) {
        return false;
    }
    passes(r, flag::EXPIRES, || {
        let (min, max) = r.expires();
        (u64::from(min)..=u64::from(max)).contains(&e.expires_secs)
    })
}

/// Declares the `-m conntrack` revision `$rev` over its uapi info struct;
/// the revisions differ only in mask widths and port ranges, which
/// `ct_check`/`ct_match` handle through the info trait.
macro_rules! conntrack_revision {
    ($(#[$doc:meta])* $name:ident, $rev:literal, $info:ty) => {
        $(#[$doc])*
        struct $name;

        impl Match for $name {
            const NAME: &'static [u8] = b"conntrack";
            const REVISION: u8 = $rev;
            type Info = $info;

            fn check(info: &Self::Info) -> Result {
                ct_check(info)
            }

            fn matches(info: &Self::Info, pkt: &Packet<'_>) -> bool {
                ct_match(info, pkt)
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
