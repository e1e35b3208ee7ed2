//! What `-m state` and `-m conntrack` mean: Linux 6.12's `xt_state` and
//! `xt_conntrack` (`state_mt`, `conntrack_mt`, `conntrack_mt_check`) for
//! IPv4, without NAT. The kernel shell only turns the rule data userspace
//! wrote (`struct xt_state_info`, `struct xt_conntrack_mtinfo1..3`) into a
//! [`Rule`] and the packet into a [`PacketState`] and [`EntryView`].
//!
//! Constants are the uapi values (`linux/netfilter/xt_state.h`,
//! `xt_conntrack.h`, `nf_conntrack_common.h`); the shell checks them
//! against the kernel's headers at build time.

use core::fmt;

use crate::ctinfo::CtInfo;
use crate::entry::Entry;
use crate::tuple::{Addr, Dir, Tuple, L4};
use crate::Millis;

pub use crate::ctinfo::{STATE_INVALID, STATE_UNTRACKED};
/// ESTABLISHED 2, RELATED 4, NEW 8: `NF_CT_STATE_BIT(ctinfo)`, the same
/// in `xt_state` and `xt_conntrack`.
pub const STATE_BITS_TRACKED: u16 = 2 | 4 | 8;
/// Every `statemask` bit iptables can set.
const STATE_KNOWN: u32 = STATE_INVALID | STATE_BITS_TRACKED as u32 | STATE_UNTRACKED;

/// `state_mask` bits of `-m conntrack --ctstate`.
pub mod ctstate {
    /// INVALID.
    pub const INVALID: u16 = 1 << 0;
    /// SNAT: the entry's source is translated (`IPS_SRC_NAT`).
    pub const SNAT: u16 = 1 << 6;
    /// DNAT: the entry's destination is translated (`IPS_DST_NAT`).
    pub const DNAT: u16 = 1 << 7;
    /// UNTRACKED.
    pub const UNTRACKED: u16 = 1 << 8;
    /// Every bit iptables can set.
    pub(crate) const KNOWN: u16 = INVALID | super::STATE_BITS_TRACKED | SNAT | DNAT | UNTRACKED;
}

/// `--ctstatus` bits (`IPS_*`); EXPECTED is never set here (no helpers).
pub mod ctstatus {
    /// IPS_EXPECTED.
    pub const EXPECTED: u32 = 1 << 0;
    /// IPS_SEEN_REPLY.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// IPS_ASSURED.
    pub const ASSURED: u32 = 1 << 2;
    /// IPS_CONFIRMED.
    pub const CONFIRMED: u32 = 1 << 3;
    /// Every bit iptables can set.
    pub(crate) const KNOWN: u32 = EXPECTED | SEEN_REPLY | ASSURED | CONFIRMED;
}

/// Option flags (`match_flags`, `invert_flags`).
pub mod flag {
    /// `--ctstate`.
    pub const STATE: u16 = 1 << 0;
    /// `--ctproto`.
    pub const PROTO: u16 = 1 << 1;
    /// `--ctorigsrc`.
    pub const ORIGSRC: u16 = 1 << 2;
    /// `--ctorigdst`.
    pub const ORIGDST: u16 = 1 << 3;
    /// `--ctreplsrc`.
    pub const REPLSRC: u16 = 1 << 4;
    /// `--ctrepldst`.
    pub const REPLDST: u16 = 1 << 5;
    /// `--ctstatus`.
    pub const STATUS: u16 = 1 << 6;
    /// `--ctexpire`.
    pub const EXPIRES: u16 = 1 << 7;
    /// `--ctorigsrcport`.
    pub const ORIGSRC_PORT: u16 = 1 << 8;
    /// `--ctorigdstport`.
    pub const ORIGDST_PORT: u16 = 1 << 9;
    /// `--ctreplsrcport`.
    pub const REPLSRC_PORT: u16 = 1 << 10;
    /// `--ctrepldstport`.
    pub const REPLDST_PORT: u16 = 1 << 11;
    /// `--ctdir`.
    pub const DIRECTION: u16 = 1 << 12;
    /// Set by iptables when it maps `-m state` onto this match; no effect.
    pub const STATE_ALIAS: u16 = 1 << 13;

    /// Options that can be inverted with `!`.
    pub(crate) const INVERTIBLE: u16 = STATE
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
    /// Every option implemented here.
    pub(crate) const KNOWN: u16 = INVERTIBLE | STATE_ALIAS;
    /// Options that read the entry itself, not just the packet's ctinfo:
    /// all but the state and the direction.
    pub(crate) const NEED_ENTRY: u16 = INVERTIBLE & !(STATE | DIRECTION);
}

/// What a packet carries, as the matches see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketState {
    /// An entry, with this classification.
    Tracked(CtInfo),
    /// Marked untracked (the raw table's NOTRACK/CT target).
    Untracked,
    /// No entry: INVALID.
    Invalid,
}

impl PacketState {
    /// The bit of `xt_state_info.statemask` this state matches.
    pub fn state_bit(self) -> u32 {
        match self {
            PacketState::Tracked(c) => c.state_bit(),
            PacketState::Untracked => STATE_UNTRACKED,
            PacketState::Invalid => STATE_INVALID,
        }
    }

    /// The bit of `--ctstate` this state matches, before the entry's NAT
    /// bits add SNAT and DNAT.
    fn ctstate_bit(self) -> u16 {
        match self {
            // At most 8: fits.
            PacketState::Tracked(c) => u16::try_from(c.state_bit()).unwrap_or(0),
            PacketState::Untracked => ctstate::UNTRACKED,
            PacketState::Invalid => ctstate::INVALID,
        }
    }
}

/// Why rule data is refused at insertion; `Display` names the option, as
/// the log line the shell writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    /// `-m state`: `--state` bits that do not exist.
    UnknownStates(u32),
    /// `-m conntrack`: option flags that do not exist.
    UnknownOptions(u16),
    /// `-m conntrack`: inversion flags for options that cannot be inverted.
    UnknownInversions(u16),
    /// `--ctstate` bits that do not exist.
    UnknownCtStates(u16),
    /// `--ctstatus` bits that do not exist.
    UnknownCtStatus(u32),
    /// `--ctexpire MIN:MAX` with MIN above MAX.
    EmptyExpire(u32, u32),
    /// A port option (named) whose range is empty.
    EmptyPorts(&'static str, u16, u16),
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RuleError::UnknownStates(b) => write!(f, "state match: unknown --state bits {b:#x} refused"),
            RuleError::UnknownOptions(b) => {
                write!(f, "conntrack match: unknown option flags {b:#x} refused")
            }
            RuleError::UnknownInversions(b) => {
                write!(f, "conntrack match: unknown inversion flags {b:#x} refused")
            }
            RuleError::UnknownCtStates(b) => {
                write!(f, "conntrack match: unknown --ctstate bits {b:#x} refused")
            }
            RuleError::UnknownCtStatus(b) => {
                write!(f, "conntrack match: unknown --ctstatus bits {b:#x} refused")
            }
            RuleError::EmptyExpire(lo, hi) => {
                write!(f, "conntrack match: --ctexpire {lo}:{hi} is an empty range")
            }
            RuleError::EmptyPorts(opt, lo, hi) => {
                write!(f, "conntrack match: {opt} {lo}:{hi} is an empty range")
            }
        }
    }
}

/// `-m state`: refuses unknown `--state` bits.
pub fn state_check(statemask: u32) -> Result<(), RuleError> {
    match statemask & !STATE_KNOWN {
        0 => Ok(()),
        unknown => Err(RuleError::UnknownStates(unknown)),
    }
}

/// `-m state`: whether the packet's state is one of `statemask`.
#[inline]
pub fn state_matches(statemask: u32, state: PacketState) -> bool {
    statemask & state.state_bit() != 0
}

/// The port options, in `match_flags` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortOpt {
    /// `--ctorigsrcport`.
    OrigSrc,
    /// `--ctorigdstport`.
    OrigDst,
    /// `--ctreplsrcport`.
    ReplSrc,
    /// `--ctrepldstport`.
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrOpt {
    /// `--ctorigsrc`.
    OrigSrc,
    /// `--ctorigdst`.
    OrigDst,
    /// `--ctreplsrc`.
    ReplSrc,
    /// `--ctrepldst`.
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

    fn of(self, e: &EntryView) -> [u32; 4] {
        match self {
            AddrOpt::OrigSrc => e.orig.src,
            AddrOpt::OrigDst => e.orig.dst,
            AddrOpt::ReplSrc => e.reply.src,
            AddrOpt::ReplDst => e.reply.dst,
        }
    }
}

/// Rule data of `-m conntrack`, read through one interface whatever the
/// revision (the kernel reads revisions 1 and 2 through the revision 2
/// layout; only the masks' widths and revision 3's port ranges differ).
/// Values in host order.
pub trait Rule {
    /// Revision 3 carries port ranges; 1 and 2 one port.
    const PORT_RANGES: bool;
    /// Options given.
    fn match_flags(&self) -> u16;
    /// Options inverted with `!`.
    fn invert_flags(&self) -> u16;
    /// `--ctstate` bits.
    fn state_mask(&self) -> u16;
    /// `--ctstatus` bits.
    fn status_mask(&self) -> u32;
    /// `--ctproto`.
    fn l4proto(&self) -> u16;
    /// `--ctexpire MIN:MAX`, seconds.
    fn expires(&self) -> (u32, u32);
    /// Address and mask of an address option, as `nf_inet_addr` words in
    /// host order (IPv4 in the first).
    fn addr(&self, opt: AddrOpt) -> ([u32; 4], [u32; 4]);
    /// The accepted values of a port option, inclusive.
    fn port_range(&self, opt: PortOpt) -> (u16, u16);
}

/// One direction of an entry as the match reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TupleView {
    /// Source address, as `nf_inet_addr` words (IPv4 in the first).
    pub src: [u32; 4],
    /// Destination address.
    pub dst: [u32; 4],
    /// The kernel's `src.u.all`: source port, ICMP id, 0 otherwise.
    pub src_all: u16,
    /// The kernel's `dst.u.all`: destination port, ICMP `type << 8 |
    /// code`, 0 otherwise.
    pub dst_all: u16,
}

impl TupleView {
    /// The view of `t`.
    pub fn of(t: &Tuple) -> TupleView {
        let (src_all, dst_all) = match t.l4 {
            L4::Ports { sport, dport } => (sport, dport),
            // `dst.u.all` overlays the type and code bytes, read as a
            // big-endian number.
            L4::Icmp { ty, code, id } => (id, u16::from_be_bytes([ty, code])),
            L4::None => (0, 0),
        };
        let words = |a: Addr| match a {
            Addr::V4(x) => [x, 0, 0, 0],
            Addr::V6(w) => w,
        };
        TupleView {
            src: words(t.src),
            dst: words(t.dst),
            src_all,
            dst_all,
        }
    }
}

/// What the conntrack match reads of a packet's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryView {
    /// The original direction.
    pub orig: TupleView,
    /// The reply direction.
    pub reply: TupleView,
    /// IP protocol number.
    pub proto: u8,
    /// Status bits (`IPS_*` values).
    pub status: u32,
    /// Whole seconds until the entry expires (`nf_ct_expires(ct) / HZ`).
    pub expires_secs: u64,
    /// An IPv6 entry: addresses compare on all four words (IPv4: the
    /// first, as 6.12's `conntrack_addrcmp`).
    pub v6: bool,
}

impl EntryView {
    /// The view of `e`, which has `left` milliseconds to live and the
    /// reply tuple of key `nat_reply` if NAT gave it one; `addrs6`: an
    /// IPv6 entry's address words.
    pub fn of(e: &Entry, left: Millis, nat_reply: Option<[u64; 2]>, addrs6: Option<[u64; 4]>) -> EntryView {
        let orig = e.tuple_nat6(Dir::Original, nat_reply, addrs6);
        EntryView {
            orig: TupleView::of(&orig),
            reply: TupleView::of(&e.tuple_nat6(Dir::Reply, nat_reply, addrs6)),
            proto: orig.proto,
            status: e.status.0,
            expires_secs: left / 1000,
            v6: addrs6.is_some(),
        }
    }
}

/// `-m conntrack`: refuses rule data the match cannot honour, naming the
/// option (`conntrack_mt_check` plus the checks of what this module
/// implements).
pub fn check<R: Rule>(r: &R) -> Result<(), RuleError> {
    let unknown = r.match_flags() & !flag::KNOWN;
    if unknown != 0 {
        return Err(RuleError::UnknownOptions(unknown));
    }
    let unknown = r.invert_flags() & !flag::INVERTIBLE;
    if unknown != 0 {
        return Err(RuleError::UnknownInversions(unknown));
    }
    let set = |f: u16| r.match_flags() & f != 0;
    if set(flag::STATE) {
        let unknown = r.state_mask() & !ctstate::KNOWN;
        if unknown != 0 {
            return Err(RuleError::UnknownCtStates(unknown));
        }
    }
    if set(flag::STATUS) {
        let unknown = r.status_mask() & !ctstatus::KNOWN;
        if unknown != 0 {
            return Err(RuleError::UnknownCtStatus(unknown));
        }
    }
    if set(flag::EXPIRES) {
        let (min, max) = r.expires();
        if min > max {
            return Err(RuleError::EmptyExpire(min, max));
        }
    }
    if R::PORT_RANGES {
        for opt in PortOpt::ALL {
            let (low, high) = r.port_range(opt);
            if set(opt.flag()) && low > high {
                return Err(RuleError::EmptyPorts(opt.option(), low, high));
            }
        }
    }
    Ok(())
}

/// Whether an option lets the packet through: not given, or its condition
/// differs from its inversion flag (`cond ^ !invert` rejects, as in the
/// kernel).
fn passes<R: Rule>(r: &R, f: u16, cond: impl FnOnce() -> bool) -> bool {
    r.match_flags() & f == 0 || cond() != (r.invert_flags() & f != 0)
}

/// `-m conntrack`: `conntrack_mt()` of Linux 6.12 for IPv4.
/// `entry` gives the packet's entry when an option needs it (the shell
/// reads it only then).
pub fn matches<R: Rule>(
    r: &R,
    state: PacketState,
    entry: impl FnOnce() -> Option<EntryView>,
) -> bool {
    // The entry is read once, and only when an option needs it: the
    // SNAT/DNAT states read its NAT bits.
    let mut entry = Some(entry);
    let mut view: Option<Option<EntryView>> = None;
    let mut get = || *view.get_or_insert_with(|| entry.take().and_then(|f| f()));
    let nat_states = r.state_mask() & (ctstate::SNAT | ctstate::DNAT) != 0;
    let statebit = |get: &mut dyn FnMut() -> Option<EntryView>| {
        let mut bit = state.ctstate_bit();
        if nat_states && matches!(state, PacketState::Tracked(_)) {
            if let Some(e) = get() {
                if e.status & crate::entry::Status::SRC_NAT != 0 {
                    bit |= ctstate::SNAT;
                }
                if e.status & crate::entry::Status::DST_NAT != 0 {
                    bit |= ctstate::DNAT;
                }
            }
        }
        bit
    };
    if !passes(r, flag::STATE, || r.state_mask() & statebit(&mut get) != 0) {
        return false;
    }
    let PacketState::Tracked(ctinfo) = state else {
        // Without an entry only a state option can match.
        return r.match_flags() & flag::STATE != 0;
    };
    if !passes(r, flag::DIRECTION, || ctinfo.dir() == Dir::Original) {
        return false;
    }
    if r.match_flags() & flag::NEED_ENTRY == 0 {
        return true;
    }
    let Some(e) = get() else {
        return false;
    };
    for opt in AddrOpt::ALL {
        let ok = passes(r, opt.flag(), || {
            let (addr, mask) = r.addr(opt);
            let words = if e.v6 { 4 } else { 1 };
            opt.of(&e).iter().zip(addr).zip(mask).take(words).all(|((v, a), m)| (v ^ a) & m == 0)
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::entry::Status;
    use crate::proto::ProtoState;
    use crate::tuple::proto;

    /// Rule data as plain fields (what the shell reads from the uapi
    /// structs).
    #[derive(Default)]
    struct R {
        flags: u16,
        invert: u16,
        state: u16,
        status: u32,
        proto: u16,
        expires: (u32, u32),
        addrs: [(u32, u32); 4],
        addrs6: [Option<([u32; 4], [u32; 4])>; 4],
        ports: [(u16, u16); 4],
    }

    impl Rule for R {
        const PORT_RANGES: bool = true;
        fn match_flags(&self) -> u16 {
            self.flags
        }
        fn invert_flags(&self) -> u16 {
            self.invert
        }
        fn state_mask(&self) -> u16 {
            self.state
        }
        fn status_mask(&self) -> u32 {
            self.status
        }
        fn l4proto(&self) -> u16 {
            self.proto
        }
        fn expires(&self) -> (u32, u32) {
            self.expires
        }
        fn addr(&self, opt: AddrOpt) -> ([u32; 4], [u32; 4]) {
            match self.addrs6[opt as usize] {
                Some(a) => a,
                None => {
                    let (a, m) = self.addrs[opt as usize];
                    ([a, 0, 0, 0], [m, 0, 0, 0])
                }
            }
        }
        fn port_range(&self, opt: PortOpt) -> (u16, u16) {
            self.ports[opt as usize]
        }
    }

    fn view() -> EntryView {
        let t = Tuple {
            src: crate::tuple::Addr::V4(0xc000_0202),
            dst: crate::tuple::Addr::V4(0xc633_6402),
            proto: proto::TCP,
            l4: L4::Ports { sport: 40000, dport: 80 },
        };
        let e = Entry::new(t, Status(Status::SEEN_REPLY | Status::ASSURED), 0, ProtoState::Generic);
        EntryView::of(&e, 299_999, None, None)
    }

    const EST: PacketState = PacketState::Tracked(CtInfo::Established);
    const REPLY: PacketState = PacketState::Tracked(CtInfo::EstablishedReply);

    #[test]
    fn ports_of_sctp_dccp_udplite_entries_match() {
        for p in [proto::SCTP, proto::DCCP, proto::UDPLITE] {
            let t = Tuple { src: crate::tuple::Addr::V4(0xc000_0202), dst: crate::tuple::Addr::V4(0xc633_6402), proto: p, l4: L4::Ports { sport: 5000, dport: 36412 } };
            let e = Entry::new(t, Status(Status::SEEN_REPLY), 0, ProtoState::Generic);
            let v = || Some(EntryView::of(&e, 1000, None, None));
            let hit = R { flags: flag::ORIGSRC_PORT, ports: [(5000, 5000), (0, 0), (0, 0), (0, 0)], ..R::default() };
            let miss = R { flags: flag::ORIGSRC_PORT, ports: [(5001, 6000), (0, 0), (0, 0), (0, 0)], ..R::default() };
            let repl = R { flags: flag::REPLDST_PORT, ports: [(0, 0), (0, 0), (0, 0), (5000, 5000)], ..R::default() };
            assert!(matches(&hit, EST, v) && !matches(&miss, EST, v) && matches(&repl, EST, v), "{p}");
        }
    }

    #[test]
    fn state_match_follows_the_mask() {
        assert!(state_matches(2 | 4, EST));
        assert!(!state_matches(8, EST));
        assert!(state_matches(STATE_INVALID, PacketState::Invalid));
        assert!(state_matches(STATE_UNTRACKED, PacketState::Untracked));
        assert_eq!(state_check(1 << 7), Err(RuleError::UnknownStates(1 << 7)));
        assert_eq!(state_check(STATE_KNOWN), Ok(()));
    }

    #[test]
    fn checks_name_the_option() {
        let bad = R { flags: flag::ORIGDST_PORT, ports: [(0, 0), (90, 80), (0, 0), (0, 0)], ..R::default() };
        let err = check(&bad).unwrap_err();
        assert_eq!(err, RuleError::EmptyPorts("--ctorigdstport", 90, 80));
        let mut text = std::string::String::new();
        core::fmt::write(&mut text, format_args!("{err}")).unwrap();
        assert_eq!(text, "conntrack match: --ctorigdstport 90:80 is an empty range");
        assert_eq!(check(&R { flags: 1 << 15, ..R::default() }), Err(RuleError::UnknownOptions(1 << 15)));
        assert_eq!(check(&R { invert: flag::STATE_ALIAS, ..R::default() }), Err(RuleError::UnknownInversions(flag::STATE_ALIAS)));
        assert_eq!(check(&R { flags: flag::EXPIRES, expires: (5, 4), ..R::default() }), Err(RuleError::EmptyExpire(5, 4)));
        assert_eq!(check(&R { flags: flag::STATUS, status: 16, ..R::default() }), Err(RuleError::UnknownCtStatus(16)));
        assert_eq!(check(&R { flags: flag::STATE, state: 1 << 3 | 1 << 11, ..R::default() }), Err(RuleError::UnknownCtStates(1 << 11)));
        assert_eq!(check(&R { flags: flag::STATE, state: ctstate::KNOWN, ..R::default() }), Ok(()));
    }

    #[test]
    fn conntrack_match_options_and_inversions() {
        let e = || Some(view());
        let st = R { flags: flag::STATE | flag::STATE_ALIAS, state: 2 | 4, ..R::default() };
        assert!(matches(&st, EST, e));
        assert!(!matches(&st, PacketState::Tracked(CtInfo::New), e));
        // Without an entry only the state can match.
        let inv = R { flags: flag::STATE, state: ctstate::INVALID, ..R::default() };
        assert!(matches(&inv, PacketState::Invalid, || None));
        let dir = R { flags: flag::DIRECTION, invert: flag::DIRECTION, ..R::default() };
        assert!(matches(&dir, REPLY, e) && !matches(&dir, EST, e));
        let port = R { flags: flag::REPLSRC_PORT, ports: [(0, 0), (0, 0), (80, 80), (0, 0)], ..R::default() };
        assert!(matches(&port, EST, e));
        let addr = R { flags: flag::ORIGSRC, addrs: [(0xc000_0200, 0xffff_ff00), (0, 0), (0, 0), (0, 0)], ..R::default() };
        assert!(matches(&addr, EST, e));
        let not_addr = R { invert: flag::ORIGSRC, ..addr };
        assert!(!matches(&not_addr, EST, e));
        let status = R { flags: flag::STATUS, status: ctstatus::ASSURED, ..R::default() };
        assert!(matches(&status, EST, e));
        let expire = R { flags: flag::EXPIRES, expires: (299, 300), ..R::default() };
        assert!(matches(&expire, EST, e));
        let proto = R { flags: flag::PROTO, proto: 17, ..R::default() };
        assert!(!matches(&proto, EST, e));
        // An option that needs the entry fails without one.
        assert!(!matches(&status, EST, || None));
    }

    #[test]
    fn snat_and_dnat_states_read_the_entry_once() {
        let t = Tuple { src: crate::tuple::Addr::V4(0xc000_0202), dst: crate::tuple::Addr::V4(0xcb00_7102), proto: proto::UDP, l4: L4::Ports { sport: 1, dport: 53 } };
        let mut e = Entry::new(t, Status(Status::SRC_NAT | Status::SRC_NAT_DONE), 0, ProtoState::Generic);
        // The reply goes to the router's address.
        let reply = Tuple { src: crate::tuple::Addr::V4(0xcb00_7102), dst: crate::tuple::Addr::V4(0xcb00_7101), proto: proto::UDP, l4: L4::Ports { sport: 53, dport: 1 } };
        let nat = Some(reply.key());
        let reads = core::cell::Cell::new(0);
        let get = || {
            reads.set(reads.get() + 1);
            Some(EntryView::of(&e, 1000, nat, None))
        };
        let snat = R { flags: flag::STATE, state: ctstate::SNAT, ..R::default() };
        assert!(matches(&snat, EST, get));
        let dnat = R { flags: flag::STATE, state: ctstate::DNAT, ..R::default() };
        assert!(!matches(&dnat, EST, get));
        let snat_repl = R { flags: flag::STATE | flag::REPLDST, state: ctstate::SNAT, addrs: [(0, 0), (0, 0), (0, 0), (0xcb00_7101, !0)], ..R::default() };
        assert!(matches(&snat_repl, EST, get));
        assert_eq!(reads.get(), 3, "one read per match");
        // Without NAT bits, no SNAT state; established still matches.
        e.status = Status(Status::SRC_NAT_DONE);
        let either = R { flags: flag::STATE, state: ctstate::SNAT | 2, ..R::default() };
        assert!(!matches(&snat, EST, || Some(EntryView::of(&e, 1000, None, None))));
        assert!(matches(&either, EST, || Some(EntryView::of(&e, 1000, None, None))));
    }

    #[test]
    fn ipv6_addresses_compare_all_four_words() {
        let a6 = |w3| crate::tuple::Addr::V6([0x2001_0db8, 0, 0, w3]);
        let t = Tuple { src: a6(2), dst: crate::tuple::Addr::V6([0x2001_0db8, 1, 0, 2]), proto: proto::UDP, l4: L4::Ports { sport: 1, dport: 2 } };
        let e = Entry::new(t, Status(Status::SEEN_REPLY), 0, ProtoState::Generic);
        let v = || Some(EntryView::of(&e, 1000, None, t.addrs6()));
        let p64 = [!0, !0, 0, 0];
        let rule = |net: [u32; 4]| R { flags: flag::ORIGSRC, addrs6: [Some((net, p64)), None, None, None], ..R::default() };
        assert!(matches(&rule([0x2001_0db8, 0, 0, 0]), EST, v));
        assert!(!matches(&rule([0x2001_0db8, 1, 0, 0]), EST, v));
        // The reply's source is the original destination, in 2001:db8:1::/64.
        let repl = R { flags: flag::REPLSRC, addrs6: [None, None, Some(([0x2001_0db8, 1, 0, 0], p64)), None], ..R::default() };
        assert!(matches(&repl, EST, v));
        // An IPv4 entry compares the first word only.
        let v4 = view();
        let r4 = R { flags: flag::ORIGSRC, addrs6: [Some(([0xc000_0200, 7, 7, 7], [0xffff_ff00, !0, !0, !0])), None, None, None], ..R::default() };
        assert!(matches(&r4, EST, || Some(v4)));
    }
}
