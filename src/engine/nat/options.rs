//! The target options iptables sends for the NAT targets, in 6.12's uapi
//! layouts, parsed into a [`Range`] and checked as the targets'
//! `checkentry` functions do.
//!
//! Layouts (`include/uapi/linux/netfilter/nf_nat.h`; `unsigned int` in the
//! CPU's byte order, addresses and ports in network order):
//! - `nf_nat_ipv4_multi_range_compat` (20 bytes): `rangesize`, then one
//!   `nf_nat_ipv4_range` (`flags`, `min_ip`, `max_ip`, `min`, `max`).
//!   SNAT and DNAT revision 0, MASQUERADE, REDIRECT and NETMAP (IPv4 has
//!   only revision 0 of these three).
//! - `nf_nat_range` (40 bytes): `flags`, 16-byte `min_addr` and
//!   `max_addr` (IPv4 in the first 4), `min_proto`, `max_proto`. SNAT and
//!   DNAT revision 1.
//! - `nf_nat_range2` (44 bytes with padding): `nf_nat_range` plus
//!   `base_proto`. SNAT and DNAT revision 2.
//!
//! iptables asks the kernel for the highest revision it knows (2 for
//! SNAT/DNAT, 0 for the others) and falls back to lower ones, so all of
//! them are accepted.

use core::fmt;

use crate::nat::range::{flags, Range};
use crate::nat::{hook, Manip};

/// A NAT target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `SNAT --to-source`.
    Snat,
    /// `DNAT --to-destination`.
    Dnat,
    /// `MASQUERADE [--to-ports]`.
    Masquerade,
    /// `REDIRECT [--to-ports]`.
    Redirect,
    /// `NETMAP --to`.
    Netmap,
}

/// `sizeof(struct nf_nat_ipv4_multi_range_compat)`.
pub const COMPAT_SIZE: usize = 20;
/// `sizeof(struct nf_nat_range)`.
pub const RANGE_SIZE: usize = 40;
/// `sizeof(struct nf_nat_range2)` (42 bytes of fields, padded to 4).
pub const RANGE2_SIZE: usize = 44;

/// `XT_ALIGN`: target data sizes are rounded up to 8 bytes.
pub const fn xt_align(size: usize) -> usize {
    (size.saturating_add(7)) & !7
}

impl Target {
    /// The name iptables uses.
    pub fn name(self) -> &'static str {
        match self {
            Target::Snat => "SNAT",
            Target::Dnat => "DNAT",
            Target::Masquerade => "MASQUERADE",
            Target::Redirect => "REDIRECT",
            Target::Netmap => "NETMAP",
        }
    }

    /// The target of an iptables name.
    pub fn from_name(name: &str) -> Option<Target> {
        [Target::Snat, Target::Dnat, Target::Masquerade, Target::Redirect, Target::Netmap]
            .into_iter()
            .find(|t| t.name() == name)
    }

    /// The revisions 6.12 registers for IPv4, lowest first.
    pub fn revisions(self) -> &'static [u8] {
        match self {
            Target::Snat | Target::Dnat => &[0, 1, 2],
            Target::Masquerade | Target::Redirect | Target::Netmap => &[0],
        }
    }

    /// `targetsize` of a revision (before [`xt_align`]); `None` if 6.12
    /// has no such revision.
    pub fn target_size(self, revision: u8) -> Option<usize> {
        match (self, revision) {
            (_, 0) => Some(COMPAT_SIZE),
            (Target::Snat | Target::Dnat, 1) => Some(RANGE_SIZE),
            (Target::Snat | Target::Dnat, 2) => Some(RANGE2_SIZE),
            _ => None,
        }
    }

    /// The hooks (bit `1 << hook`) a rule with this target may sit in.
    pub fn hooks(self) -> u32 {
        let bit = |h: u32| 1u32 << h;
        match self {
            Target::Snat => bit(hook::POST_ROUTING) | bit(hook::LOCAL_IN),
            Target::Dnat | Target::Redirect => bit(hook::PRE_ROUTING) | bit(hook::LOCAL_OUT),
            Target::Masquerade => bit(hook::POST_ROUTING),
            Target::Netmap => {
                bit(hook::PRE_ROUTING) | bit(hook::POST_ROUTING) | bit(hook::LOCAL_OUT) | bit(hook::LOCAL_IN)
            }
        }
    }

    /// The end SNAT and DNAT rewrite; the others rewrite a fixed end
    /// (MASQUERADE the source, REDIRECT the destination) or follow the
    /// hook (NETMAP).
    pub fn manip(self) -> Option<Manip> {
        match self {
            Target::Snat | Target::Masquerade => Some(Manip::Src),
            Target::Dnat | Target::Redirect => Some(Manip::Dst),
            Target::Netmap => None,
        }
    }
}

/// Why target options were refused, with the kernel's log line (6.12
/// answers `EINVAL` to each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionError {
    /// No such revision of the target (6.12 logs nothing; iptables asks
    /// for revisions before it uses one).
    NoRevision {
        /// The target.
        target: Target,
        /// The revision asked for.
        revision: u8,
    },
    /// The data is not the size of the revision's layout.
    BadSize {
        /// The target.
        target: Target,
        /// The revision.
        revision: u8,
        /// The size the kernel expects (`XT_ALIGN(targetsize)`).
        expected: usize,
        /// The size given.
        got: usize,
    },
    /// SNAT/DNAT revision 0 with `rangesize` other than 1.
    MultipleRanges,
    /// MASQUERADE, REDIRECT or NETMAP with `rangesize` other than 1.
    BadRangesize {
        /// The target.
        target: Target,
        /// The `rangesize` given.
        rangesize: u32,
    },
    /// MASQUERADE or REDIRECT with `NF_NAT_RANGE_MAP_IPS` set, or NETMAP
    /// without it.
    BadMapIps {
        /// The target.
        target: Target,
    },
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OptionError::NoRevision { target, revision } => {
                write!(f, "ip_tables: {}.{revision} target: no such revision", target.name())
            }
            OptionError::BadSize { target, revision, expected, got } => write!(
                f,
                "ip_tables: {}.{revision} target: invalid size {expected} (kernel) != (user) {got}",
                target.name()
            ),
            OptionError::MultipleRanges => f.write_str("xt_nat: multiple ranges no longer supported"),
            // xt_MASQUERADE prints its module prefix and no final dot;
            // xt_REDIRECT and xt_NETMAP print no prefix and a dot.
            OptionError::BadRangesize { target: Target::Masquerade, rangesize } => {
                write!(f, "xt_MASQUERADE: bad rangesize {rangesize}")
            }
            OptionError::BadRangesize { rangesize, .. } => write!(f, "bad rangesize {rangesize}."),
            OptionError::BadMapIps { target: Target::Masquerade } => {
                f.write_str("xt_MASQUERADE: bad MAP_IPS.")
            }
            OptionError::BadMapIps { .. } => f.write_str("bad MAP_IPS."),
        }
    }
}

impl OptionError {
    /// The errno 6.12 returns (positive): `EPROTOTYPE` for a revision
    /// the target does not have (`xt_find_target`), `EINVAL` for the rest.
    pub fn errno(&self) -> i32 {
        match self {
            OptionError::NoRevision { .. } => 91,
            _ => 22,
        }
    }
}

/// Target options after their checks: the range, and for NETMAP the
/// netmask the range's two addresses define.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// The target.
    pub target: Target,
    /// The revision the rule was written with.
    pub revision: u8,
    /// The range, as the target function builds it from the options
    /// (revisions 0 and 1 have `base_proto` 0; MASQUERADE and REDIRECT
    /// take only flags and ports, their address comes per packet).
    pub range: Range,
}

fn u32_ne(data: &[u8], at: usize) -> u32 {
    data.get(at..).and_then(|b| b.first_chunk::<4>()).map_or(0, |b| u32::from_ne_bytes(*b))
}

fn u32_be(data: &[u8], at: usize) -> u32 {
    data.get(at..).and_then(|b| b.first_chunk::<4>()).map_or(0, |b| u32::from_be_bytes(*b))
}

fn u16_be(data: &[u8], at: usize) -> u16 {
    data.get(at..).and_then(|b| b.first_chunk::<2>()).map_or(0, |b| u16::from_be_bytes(*b))
}

/// The compat layout: (`rangesize`, the range).
fn parse_compat(data: &[u8]) -> (u32, Range) {
    let range = Range {
        flags: u32_ne(data, 4),
        min_addr: u32_be(data, 8),
        max_addr: u32_be(data, 12),
        min_proto: u16_be(data, 16),
        max_proto: u16_be(data, 18),
        base_proto: 0,
    };
    (u32_ne(data, 0), range)
}

/// `nf_nat_range` and `nf_nat_range2` (`with_base`).
fn parse_range(data: &[u8], with_base: bool) -> Range {
    Range {
        flags: u32_ne(data, 0),
        min_addr: u32_be(data, 4),
        max_addr: u32_be(data, 20),
        min_proto: u16_be(data, 36),
        max_proto: u16_be(data, 38),
        base_proto: if with_base { u16_be(data, 40) } else { 0 },
    }
}

/// Parses and checks the options of a rule: `data` is the target's data
/// as `ip_tables` hands it over, `XT_ALIGN(targetsize)` bytes (the exact
/// struct size is accepted too). The checks are 6.12's `checkentry`
/// functions, in their order.
pub fn parse(target: Target, revision: u8, data: &[u8]) -> Result<Options, OptionError> {
    let size = target.target_size(revision).ok_or(OptionError::NoRevision { target, revision })?;
    if data.len() != size && data.len() != xt_align(size) {
        return Err(OptionError::BadSize { target, revision, expected: xt_align(size), got: data.len() });
    }
    let range = match revision {
        0 => {
            let (rangesize, range) = parse_compat(data);
            check_compat(target, rangesize, &range)?;
            match target {
                // masquerade_tg and redirect_tg4 copy only flags and ports.
                Target::Masquerade | Target::Redirect => Range {
                    flags: range.flags,
                    min_proto: range.min_proto,
                    max_proto: range.max_proto,
                    ..Range::default()
                },
                _ => range,
            }
        }
        1 => parse_range(data, false),
        _ => parse_range(data, true),
    };
    Ok(Options { target, revision, range })
}

fn check_compat(target: Target, rangesize: u32, range: &Range) -> Result<(), OptionError> {
    match target {
        Target::Snat | Target::Dnat if rangesize != 1 => Err(OptionError::MultipleRanges),
        Target::Snat | Target::Dnat => Ok(()),
        Target::Masquerade | Target::Redirect if range.has(flags::MAP_IPS) => {
            Err(OptionError::BadMapIps { target })
        }
        Target::Netmap if !range.has(flags::MAP_IPS) => Err(OptionError::BadMapIps { target }),
        _ if rangesize != 1 => Err(OptionError::BadRangesize { target, rangesize }),
        _ => Ok(()),
    }
}

/// The bytes of the compat layout for `range` (what iptables sends for
/// revision 0), `XT_ALIGN`ed; for tests, fuzzing and the kernel's
/// `iptables -L` round trip.
pub fn encode_compat(rangesize: u32, range: &Range) -> [u8; xt_align(COMPAT_SIZE)] {
    let mut out = [0u8; xt_align(COMPAT_SIZE)];
    let fields: [(usize, &[u8]); 6] = [
        (0, &rangesize.to_ne_bytes()),
        (4, &range.flags.to_ne_bytes()),
        (8, &range.min_addr.to_be_bytes()),
        (12, &range.max_addr.to_be_bytes()),
        (16, &range.min_proto.to_be_bytes()),
        (18, &range.max_proto.to_be_bytes()),
    ];
    put(&mut out, &fields);
    out
}

/// The bytes of `nf_nat_range2` for `range`, `XT_ALIGN`ed (the first
/// [`RANGE_SIZE`] bytes are `nf_nat_range`).
pub fn encode_range2(range: &Range) -> [u8; xt_align(RANGE2_SIZE)] {
    let mut out = [0u8; xt_align(RANGE2_SIZE)];
    let fields: [(usize, &[u8]); 6] = [
        (0, &range.flags.to_ne_bytes()),
        (4, &range.min_addr.to_be_bytes()),
        (20, &range.max_addr.to_be_bytes()),
        (36, &range.min_proto.to_be_bytes()),
        (38, &range.max_proto.to_be_bytes()),
        (40, &range.base_proto.to_be_bytes()),
    ];
    put(&mut out, &fields);
    out
}

fn put(out: &mut [u8], fields: &[(usize, &[u8])]) {
    for &(at, bytes) in fields {
        if let Some(dst) = out.get_mut(at..at.saturating_add(bytes.len())) {
            crate::nat::rewrite::copy(dst, bytes);
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;
    use std::string::ToString;

    const A: u32 = 0xcb00_7101;
    const B: u32 = 0xcb00_7104;

    fn snat_range() -> Range {
        Range {
            flags: flags::MAP_IPS | flags::PROTO_SPECIFIED,
            min_addr: A,
            max_addr: B,
            min_proto: 1024,
            max_proto: 2047,
            base_proto: 0,
        }
    }

    #[test]
    fn sizes_match_the_uapi_structs() {
        assert_eq!(xt_align(COMPAT_SIZE), 24);
        assert_eq!(xt_align(RANGE_SIZE), 40);
        assert_eq!(xt_align(RANGE2_SIZE), 48);
        assert_eq!(Target::Snat.target_size(2), Some(RANGE2_SIZE));
        assert_eq!(Target::Masquerade.target_size(1), None);
    }

    #[test]
    fn revision_0_round_trips() {
        let r = snat_range();
        let o = parse(Target::Snat, 0, &encode_compat(1, &r)).unwrap();
        assert_eq!(o.range, r);
        assert_eq!(parse(Target::Dnat, 0, &encode_compat(1, &r)[..COMPAT_SIZE]).unwrap().range, r);
    }

    #[test]
    fn revisions_1_and_2_read_their_layouts() {
        let r = Range { flags: flags::MAP_IPS | flags::PROTO_OFFSET, base_proto: 80, ..snat_range() };
        let bytes = encode_range2(&r);
        assert_eq!(parse(Target::Dnat, 2, &bytes).unwrap().range, r);
        let v1 = parse(Target::Dnat, 1, &bytes[..RANGE_SIZE]).unwrap().range;
        assert_eq!(v1, Range { base_proto: 0, ..r });
    }

    #[test]
    fn checkentry_rules_and_messages() {
        let r = snat_range();
        let e = parse(Target::Snat, 0, &encode_compat(2, &r)).unwrap_err();
        assert_eq!(e.to_string(), "xt_nat: multiple ranges no longer supported");
        assert_eq!(e.errno(), 22);
        let e = parse(Target::Masquerade, 0, &encode_compat(1, &r)).unwrap_err();
        assert_eq!(e.to_string(), "xt_MASQUERADE: bad MAP_IPS.");
        let ports = Range { flags: flags::PROTO_SPECIFIED, ..r };
        let e = parse(Target::Masquerade, 0, &encode_compat(0, &ports)).unwrap_err();
        assert_eq!(e.to_string(), "xt_MASQUERADE: bad rangesize 0");
        let e = parse(Target::Redirect, 0, &encode_compat(3, &ports)).unwrap_err();
        assert_eq!(e.to_string(), "bad rangesize 3.");
        let e = parse(Target::Redirect, 0, &encode_compat(1, &r)).unwrap_err();
        assert_eq!(e.to_string(), "bad MAP_IPS.");
        let e = parse(Target::Netmap, 0, &encode_compat(1, &ports)).unwrap_err();
        assert_eq!(e, OptionError::BadMapIps { target: Target::Netmap });
        assert!(parse(Target::Netmap, 0, &encode_compat(1, &r)).is_ok());
        // rev 1/2 SNAT has no rangesize; anything parses.
        assert!(parse(Target::Snat, 2, &[0xff; 48]).is_ok());
    }

    #[test]
    fn masquerade_keeps_only_flags_and_ports() {
        let r = Range { flags: flags::PROTO_SPECIFIED | flags::PROTO_RANDOM, min_addr: A, ..snat_range() };
        let o = parse(Target::Masquerade, 0, &encode_compat(1, &r)).unwrap();
        assert_eq!(o.range, Range { min_addr: 0, max_addr: 0, ..r });
    }

    #[test]
    fn sizes_and_revisions_are_checked() {
        let e = parse(Target::Snat, 2, &[0; 40]).unwrap_err();
        assert_eq!(e.to_string(), "ip_tables: SNAT.2 target: invalid size 48 (kernel) != (user) 40");
        assert_eq!(parse(Target::Redirect, 1, &[0; 40]).unwrap_err().errno(), 91);
        assert_eq!(Target::from_name("NETMAP"), Some(Target::Netmap));
        assert_eq!(Target::from_name("nat"), None);
        assert_eq!(Target::Masquerade.hooks(), 1 << hook::POST_ROUTING);
    }
}
