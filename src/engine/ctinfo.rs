//! The classification each tracked packet carries (the kernel's
//! `enum ip_conntrack_info`), and the bits `-m state` matches on.

use crate::tuple::Dir;

/// How a packet relates to its entry. Values equal the kernel's
/// `IP_CT_*` constants, which the shell stores in `skb->_nfct`'s low bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtInfo {
    /// Part of an entry that has seen traffic both ways (original dir).
    Established = 0,
    /// Related to an entry (an ICMP error about it), original dir.
    Related = 1,
    /// First packets of a new entry (no reply seen yet).
    New = 2,
    /// Established, reply direction.
    EstablishedReply = 3,
    /// Related, reply direction.
    RelatedReply = 4,
}

impl CtInfo {
    /// Established in direction `dir`.
    pub fn established(dir: Dir) -> CtInfo {
        match dir {
            Dir::Original => CtInfo::Established,
            Dir::Reply => CtInfo::EstablishedReply,
        }
    }

    /// Related in direction `dir`.
    pub fn related(dir: Dir) -> CtInfo {
        match dir {
            Dir::Original => CtInfo::Related,
            Dir::Reply => CtInfo::RelatedReply,
        }
    }

    /// The `xt_state` bit: `1 << (ctinfo % 3 + 1)`.
    pub fn state_bit(self) -> u32 {
        1u32 << ((self as u32) % 3).saturating_add(1)
    }

    /// Direction of the packet.
    pub fn dir(self) -> Dir {
        match self {
            CtInfo::EstablishedReply | CtInfo::RelatedReply => Dir::Reply,
            _ => Dir::Original,
        }
    }

    /// From the kernel value; `None` when out of range.
    pub fn from_raw(v: u32) -> Option<CtInfo> {
        Some(match v {
            0 => CtInfo::Established,
            1 => CtInfo::Related,
            2 => CtInfo::New,
            3 => CtInfo::EstablishedReply,
            4 => CtInfo::RelatedReply,
            _ => return None,
        })
    }
}

/// `xt_state` bit for INVALID packets (no entry).
pub const STATE_INVALID: u32 = 1;
/// `xt_state` bit for untracked packets.
pub const STATE_UNTRACKED: u32 = 1 << 6;
