//! The connection table: buckets of singly linked chains, split into
//! stripes that the kernel shell locks independently.
//!
//! The flow hash is symmetric (see `crate::tuple`), so an entry is linked
//! once, into the bucket of its flow, and found from both directions. A
//! bucket belongs to exactly one stripe, so everything reachable from a
//! stripe's buckets is protected by that stripe's lock alone.
//!
//! Memory is the caller's: entries live in a [`Store`] (a `Vec` on the host,
//! slab objects in the kernel) and are named by a copyable reference.

use crate::entry::Entry;

/// Where entries live. One `Store` view serves one stripe; the kernel
/// implements it over slab objects reached under the stripe lock.
pub trait Store {
    /// Names an entry (an index on the host, a pointer in the kernel).
    type Ref: Copy + Eq;

    /// The entry `r` names, if it is live.
    fn entry(&self, r: Self::Ref) -> Option<&Entry>;
    /// Mutable access to the entry `r` names, if it is live.
    fn entry_mut(&mut self, r: Self::Ref) -> Option<&mut Entry>;
    /// The next entry in `r`'s chain.
    fn next(&self, r: Self::Ref) -> Option<Self::Ref>;
    /// Sets the next entry in `r`'s chain.
    fn set_next(&mut self, r: Self::Ref, next: Option<Self::Ref>);
}
