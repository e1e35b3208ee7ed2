//! The ctnetlink protocol (`nfnetlink_conntrack.h`) as Linux 6.12 speaks
//! it: attribute streams ([`attr`]), netlink message headers
//! ([`message`]), entries and statistics encoded as `ctnetlink_fill_info`
//! lays them out ([`ctnetlink`]) and requests parsed with 6.12's policies
//! and errors ([`request`]).
//!
//! Everything works on caller-owned byte slices: the kernel shell hands
//! in the received message and a buffer (an skb's tail room) to fill.

pub mod attr;
pub mod ctnetlink;
pub mod dump;
pub mod message;
pub mod request;

/// Why a request is refused, as the errno 6.12 returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// `EINVAL`: malformed or contradictory.
    Invalid,
    /// `ERANGE`: an attribute shorter (or longer) than its policy allows.
    Range,
    /// `EOPNOTSUPP`: a feature this tracker lacks (zones, an unknown
    /// family in a tuple).
    NotSupported,
    /// `ENOENT`: no such entry.
    NoEntry,
    /// `EEXIST`: the entry to create is there already.
    Exists,
    /// `EBUSY`: a status bit that cannot be set from user space.
    Busy,
    /// `ENOMEM`: no room (the table is full) or no memory.
    NoMemory,
}

impl Error {
    /// The (positive) errno.
    pub fn errno(self) -> i32 {
        match self {
            Error::Invalid => 22,
            Error::Range => 34,
            Error::NotSupported => 95,
            Error::NoEntry => 2,
            Error::Exists => 17,
            Error::Busy => 16,
            Error::NoMemory => 12,
        }
    }
}
