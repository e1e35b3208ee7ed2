// SPDX-License-Identifier: GPL-2.0

//! The packet path: what each hook does. For now the hooks count the
//! packets they see per hook point and accept them; tracking comes with the
//! engine.

use crate::ffi;
use crate::hooks::{self, priority, Hook, HookPoint, Packet, Verdict};
use core::sync::atomic::{AtomicU64, Ordering};

/// Packets seen, per hook point (`enum nf_inet_hooks` value).
static PACKETS: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];

fn count(pkt: &Packet<'_>) -> Verdict {
    if let Some(counter) = PACKETS.get(usize::from(pkt.hooknum())) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    Verdict::ACCEPT
}

/// Packets seen so far at all hook points.
pub(crate) fn packets_seen() -> u64 {
    PACKETS
        .iter()
        .fold(0, |sum, c| sum.wrapping_add(c.load(Ordering::Relaxed)))
}

/// Tracks packets arriving from the network.
struct ConntrackIn;

impl Hook for ConntrackIn {
    const POINT: HookPoint = HookPoint::PreRouting;
    const PRIORITY: i32 = priority::CONNTRACK;
    fn run(pkt: &Packet<'_>) -> Verdict {
        count(pkt)
    }
}

/// Tracks locally generated packets.
struct ConntrackLocal;

impl Hook for ConntrackLocal {
    const POINT: HookPoint = HookPoint::LocalOut;
    const PRIORITY: i32 = priority::CONNTRACK;
    fn run(pkt: &Packet<'_>) -> Verdict {
        count(pkt)
    }
}

/// Confirms new connections of packets leaving the host.
struct ConfirmOut;

impl Hook for ConfirmOut {
    const POINT: HookPoint = HookPoint::PostRouting;
    const PRIORITY: i32 = priority::CONNTRACK_CONFIRM;
    fn run(pkt: &Packet<'_>) -> Verdict {
        count(pkt)
    }
}

/// Confirms new connections of packets delivered locally.
struct ConfirmIn;

impl Hook for ConfirmIn {
    const POINT: HookPoint = HookPoint::LocalIn;
    const PRIORITY: i32 = priority::CONNTRACK_CONFIRM;
    fn run(pkt: &Packet<'_>) -> Verdict {
        count(pkt)
    }
}

/// The module's hooks, in the order nf_conntrack registers its own.
pub(crate) fn hook_ops() -> [ffi::nf_hook_ops; 4] {
    [
        hooks::ops::<ConntrackIn>(),
        hooks::ops::<ConntrackLocal>(),
        hooks::ops::<ConfirmOut>(),
        hooks::ops::<ConfirmIn>(),
    ]
}
