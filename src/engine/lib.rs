//! The tracking engine of `ip_conntrack`.
//!
//! Plain `no_std` Rust without `unsafe`: packet views, tuples, protocol state
//! machines, the hash table, expiry, early drop, `/proc` formatting and
//! statistics. The same files build as this host crate (tests, fuzzing,
//! benchmarks) and, mounted by `#[path]`, into the kernel module, so every
//! module refers to its siblings as `crate::name`.
//!
//! Allocation, locking, time and randomness come from the caller: time is a
//! plain millisecond count ([`Millis`]), the hash key is a parameter, and the
//! table works on caller-owned storage through [`table::Store`].

#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented,
    clippy::cast_possible_truncation
)]
#![warn(missing_docs, unreachable_pub)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod config;
pub mod ctinfo;
pub mod ctmatch;
pub mod driver;
pub mod entry;
pub mod expiry;
pub mod flow_note;
#[cfg(feature = "std")]
pub mod fuzzing;
pub mod hash;
#[cfg(feature = "std")]
pub mod host;
pub mod invalid;
pub mod nat;
pub mod netlink;
pub mod packet;
pub mod procfmt;
pub mod proto;
pub mod sizing;
pub mod stats;
pub mod table;
pub mod track;
pub mod tuple;
pub mod wire;

/// Time in milliseconds on a monotonic clock (the kernel passes jiffies
/// converted to milliseconds). It never wraps in practice.
pub type Millis = u64;
