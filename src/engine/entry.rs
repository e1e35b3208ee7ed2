//! One tracked connection: its original tuple, status bits, deadline and
//! protocol state. Plain data; the table and the kernel shell decide where
//! it lives.

use crate::proto::ProtoState;
use crate::tuple::{Dir, Tuple};
use crate::Millis;

/// Status bits, with the kernel's `IPS_*` bit values so the shell can
/// mirror them where other kernel code looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Status(pub u32);

impl Status {
    /// A packet was seen in the reply direction.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// The entry is assured: never early-dropped.
    pub const ASSURED: u32 = 1 << 2;
    /// The entry is in the table (not just attached to a first packet).
    pub const CONFIRMED: u32 = 1 << 3;
    /// Source NAT applies: the reply tuple's destination differs from the
    /// original source.
    pub const SRC_NAT: u32 = 1 << 4;
    /// Destination NAT applies.
    pub const DST_NAT: u32 = 1 << 5;
    /// Either NAT: the reply tuple is not the inverse of the original.
    pub const NAT_MASK: u32 = Self::SRC_NAT | Self::DST_NAT;
    /// The source NAT binding is decided (maybe a null one).
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    /// The destination NAT binding is decided.
    pub const DST_NAT_DONE: u32 = 1 << 8;
    /// The entry is being removed.
    pub const DYING: u32 = 1 << 9;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u32) -> bool {
        self.0 & mask == mask
    }

    /// Whether any bit of `mask` is set.
    pub fn has_any(self, mask: u32) -> bool {
        self.0 & mask != 0
    }

    /// Sets the bits of `mask`.
    pub fn set(&mut self, mask: u32) {
        self.0 |= mask;
    }

    /// Clears the bits of `mask`.
    pub fn clear(&mut self, mask: u32) {
        self.0 &= !mask;
    }
}

/// One direction's packets and bytes (`struct nf_conn_counter`), kept
/// by entries created while accounting is on (`ip_conntrack_acct`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes: the IP total lengths of those packets (`skb->len` at the
    /// tracking hook).
    pub bytes: u64,
}

/// A tracked connection.
///
/// Laid out in declaration order so that what a lookup reads (tuple,
/// status, deadline) comes first, in one cache line with the start of the
/// protocol state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Entry {
    /// Tuple of the original direction, as its two-word key (what lookups
    /// compare); the reply tuple is its inverse.
    key: [u64; 2],
    /// Status bits.
    pub status: Status,
    /// The connection mark (`CTA_MARK`, `mark=` in /proc); in what would
    /// be padding before `deadline`.
    pub mark: u32,
    /// When the entry expires unless another packet refreshes it.
    pub deadline: Millis,
    /// Protocol state.
    pub proto: ProtoState,
}

impl Entry {
    /// An entry for the flow whose original tuple is `orig`.
    pub fn new(orig: Tuple, status: Status, deadline: Millis, proto: ProtoState) -> Entry {
        Entry {
            key: orig.key(),
            status,
            mark: 0,
            deadline,
            proto,
        }
    }

    /// Tuple of the original direction.
    #[inline]
    pub fn orig(&self) -> Tuple {
        Tuple::from_key(self.key)
    }

    /// Whether the entry is IPv6 (its address words are in the store).
    #[inline]
    pub fn is_v6(&self) -> bool {
        self.key[1] & crate::tuple::KEY_V6 != 0
    }

    /// [`Tuple::key`] of the original tuple.
    #[inline]
    pub fn key(&self) -> [u64; 2] {
        self.key
    }

    /// Replaces the original tuple.
    pub fn set_orig(&mut self, orig: Tuple) {
        self.key = orig.key();
    }

    /// The tuple of direction `dir`.
    pub fn tuple(&self, dir: Dir) -> Tuple {
        let orig = self.orig();
        match dir {
            Dir::Original => orig,
            // Entries are only created for invertible tuples.
            Dir::Reply => orig.invert().unwrap_or(orig),
        }
    }

    /// The tuple of direction `dir` when NAT gave the entry the reply
    /// tuple of key `nat_reply` (its reply node's; `None` without NAT).
    pub fn tuple_nat(&self, dir: Dir, nat_reply: Option<[u64; 2]>) -> Tuple {
        match (dir, nat_reply) {
            (Dir::Reply, Some(k)) if self.status.has_any(Status::NAT_MASK) => Tuple::from_key(k),
            _ => self.tuple(dir),
        }
    }

    /// [`Entry::tuple_nat`] with the entry's IPv6 address words
    /// ([`crate::table::Store::addrs6`]; `None` for IPv4).
    pub fn tuple_nat6(&self, dir: Dir, nat_reply: Option<[u64; 2]>, addrs6: Option<[u64; 4]>) -> Tuple {
        match addrs6 {
            None => self.tuple_nat(dir, nat_reply),
            Some(a) => {
                let orig = Tuple::from_keys(self.key, Some(a));
                match dir {
                    Dir::Original => orig,
                    Dir::Reply => orig.invert().unwrap_or(orig),
                }
            }
        }
    }

    /// Which direction `t` is for this entry, if it belongs to it (the
    /// entry's reply tuple being that of key `nat_reply` under NAT).
    /// `addrs6`: an IPv6 entry's address words.
    pub fn direction_of(&self, t: &Tuple, nat_reply: Option<[u64; 2]>, addrs6: Option<[u64; 4]>) -> Option<Dir> {
        if *t == self.tuple_nat6(Dir::Original, nat_reply, addrs6) {
            Some(Dir::Original)
        } else if *t == self.tuple_nat6(Dir::Reply, nat_reply, addrs6) {
            Some(Dir::Reply)
        } else {
            None
        }
    }

    /// Whether the entry has expired at `now` (only confirmed entries
    /// are looked at this way: those in the table).
    pub fn expired(&self, now: Millis) -> bool {
        now >= self.deadline
    }

    // The timeout rule, in one place: until the entry is confirmed, its
    // `deadline` holds the timeout itself, which runs from confirmation
    // (Linux's rule, so a packet queued for a while does not confirm an
    // already expired entry); from confirmation on, the absolute deadline.

    /// Milliseconds left at `now`: to the deadline once confirmed, the
    /// whole timeout before.
    pub fn time_left(&self, now: Millis) -> Millis {
        if self.status.has(Status::CONFIRMED) {
            self.deadline.saturating_sub(now)
        } else {
            self.deadline
        }
    }

    /// Whole seconds left at `now` (0 once expired), as /proc shows them.
    pub fn seconds_left(&self, now: Millis) -> u64 {
        self.time_left(now) / 1000
    }

    /// The entry now has `timeout` to live, from `now` once confirmed.
    pub fn set_timeout(&mut self, now: Millis, timeout: Millis) {
        self.deadline = if self.status.has(Status::CONFIRMED) {
            now.saturating_add(timeout)
        } else {
            timeout
        };
    }

    /// Marks the entry confirmed at `now`: its timeout starts running.
    pub fn confirm(&mut self, now: Millis) {
        if !self.status.has(Status::CONFIRMED) {
            self.status.set(Status::CONFIRMED);
            self.deadline = now.saturating_add(self.deadline);
        }
    }
}
