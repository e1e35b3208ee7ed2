// SPDX-License-Identifier: GPL-2.0

//! IPv4 netfilter hooks: safe [`Hook`] implementations, the adapter that
//! turns one into a C hook function, and their registration in every
//! network namespace.

use crate::ffi;
use crate::ktable::Table;
use crate::skb::SkbMut;
use core::ffi::c_void;
use kernel::error::to_result;
use kernel::ffi::c_uint;
use kernel::prelude::*;

/// Where a hook runs (`enum nf_inet_hooks`).
#[derive(Clone, Copy)]
pub(crate) enum HookPoint {
    /// Every packet arriving, before routing.
    PreRouting,
    /// Packets delivered to a local socket, after routing.
    LocalIn,
    /// Packets sent by local sockets, before routing.
    LocalOut,
    /// Every packet leaving, after routing.
    PostRouting,
}

impl HookPoint {
    fn hooknum(self) -> c_uint {
        match self {
            Self::PreRouting => ffi::nf_inet_hooks_NF_INET_PRE_ROUTING,
            Self::LocalIn => ffi::nf_inet_hooks_NF_INET_LOCAL_IN,
            Self::LocalOut => ffi::nf_inet_hooks_NF_INET_LOCAL_OUT,
            Self::PostRouting => ffi::nf_inet_hooks_NF_INET_POST_ROUTING,
        }
    }
}

/// Hook priorities (`enum nf_ip_hook_priorities`): lower runs first.
pub(crate) mod priority {
    use crate::ffi;

    /// Connection tracking, after defragmentation (-400).
    pub(crate) const CONNTRACK: i32 = ffi::nf_ip_hook_priorities_NF_IP_PRI_CONNTRACK;
    /// Confirmation of new connections: after every other hook.
    pub(crate) const CONNTRACK_CONFIRM: i32 =
        ffi::nf_ip_hook_priorities_NF_IP_PRI_CONNTRACK_CONFIRM;
}

/// What a hook tells netfilter to do with a packet.
#[derive(Clone, Copy)]
pub(crate) struct Verdict(c_uint);

impl Verdict {
    /// Let the packet continue.
    pub(crate) const ACCEPT: Self = Self(ffi::IPCT_NF_ACCEPT);
    /// Drop the packet.
    pub(crate) const DROP: Self = Self(ffi::IPCT_NF_DROP);

    /// The C value (`NF_ACCEPT`, `NF_DROP`).
    pub(crate) fn raw(self) -> c_uint {
        self.0
    }
}

/// The packet a hook runs on, valid for the duration of one hook call.
///
/// # Invariants
///
/// `skb` is the hook's packet, owned by the hook for the call, and `state`
/// its valid hook state (whose `net` is a live namespace).
pub(crate) struct Packet<'a> {
    state: &'a ffi::nf_hook_state,
    skb: *mut ffi::sk_buff,
}

impl<'a> Packet<'a> {
    /// The hook point the packet is at (`enum nf_inet_hooks` value).
    pub(crate) fn hooknum(&self) -> u8 {
        self.state.hook
    }

    /// The packet, which the hook may modify (its `_nfct`).
    pub(crate) fn skb(&mut self) -> Option<SkbMut<'_>> {
        // SAFETY: the hook owns its packet for the call (type invariant);
        // `&mut self` keeps a second view from being made meanwhile.
        unsafe { SkbMut::from_raw(self.skb) }
    }

    /// The table of the namespace the packet is in, if it has one.
    pub(crate) fn table(&self) -> Option<&'a Table> {
        // SAFETY: the hook runs in `self.net()`, a live namespace (type
        // invariant) whose table is torn down only after the hooks are
        // unregistered there (pernet order) and the hook calls in flight
        // have returned (`Table::shutdown` starts with `synchronize_net`).
        unsafe { Table::for_net(self.state.net) }
    }
}

/// A netfilter hook function written in safe Rust.
pub(crate) trait Hook {
    /// Where the hook runs.
    const POINT: HookPoint;
    /// Order among the hooks at the same point: lower runs first.
    const PRIORITY: i32;
    /// Decides the fate of one packet. Runs in softirq or process context
    /// under `rcu_read_lock()`: must not sleep.
    fn run(pkt: &mut Packet<'_>) -> Verdict;
}

/// The C hook function of `H`.
///
/// # Safety
///
/// Only netfilter calls it, through an `nf_hook_ops` built by [`ops`]:
/// `state` points to a valid `nf_hook_state` for the duration of the call.
unsafe extern "C" fn adapter<H: Hook>(
    _priv: *mut c_void,
    skb: *mut ffi::sk_buff,
    state: *const ffi::nf_hook_state,
) -> c_uint {
    // SAFETY: the caller (nf_hook_slow) passes a valid state that outlives
    // this call and is not written while the hook runs.
    let state = unsafe { &*state };
    // INVARIANT: netfilter hands the hook its packet for the call.
    H::run(&mut Packet { state, skb }).0
}

/// The C description of hook `H` for IPv4.
pub(crate) fn ops<H: Hook>() -> ffi::nf_hook_ops {
    ffi::nf_hook_ops {
        hook: Some(adapter::<H>),
        pf: ffi::IPCT_NFPROTO_IPV4,
        hooknum: H::POINT.hooknum(),
        priority: H::PRIORITY,
        ..Default::default()
    }
}

/// A set of hooks registered in every current and future network namespace.
///
/// # Invariants
///
/// `ops` is registered with `ipct_hooks_register()` from creation until
/// drop, and stays at the same heap address meanwhile.
pub(crate) struct Registration<const N: usize> {
    ops: KBox<[ffi::nf_hook_ops; N]>,
}

// SAFETY: after registration the hook descriptions are only read, by
// netfilter; Rust never touches them again except to unregister them on
// drop, which may happen on any thread.
unsafe impl<const N: usize> Send for Registration<N> {}
// SAFETY: `Registration` has no methods taking `&self`.
unsafe impl<const N: usize> Sync for Registration<N> {}

impl<const N: usize> Registration<N> {
    /// Registers `ops` in every network namespace. Fails with `EBUSY` if
    /// another `Registration` exists.
    pub(crate) fn new(ops: [ffi::nf_hook_ops; N]) -> Result<Self> {
        let count = c_uint::try_from(N).map_err(|_| EINVAL)?;
        let ops = KBox::new(ops, GFP_KERNEL)?;
        // SAFETY: `ops` holds `count` valid hook descriptions on the heap;
        // it is kept alive and unmoved until `drop` unregisters them.
        to_result(unsafe { ffi::ipct_hooks_register(ops.as_ptr(), count) })?;
        Ok(Self { ops })
    }

    /// The hook descriptions, as registered.
    pub(crate) fn count(&self) -> usize {
        self.ops.len()
    }
}

impl<const N: usize> Drop for Registration<N> {
    fn drop(&mut self) {
        // SAFETY: `self.ops` is registered (type invariant). The helper
        // unregisters, then waits for hook calls in flight
        // (`synchronize_net`), so `self.ops` may be freed right after.
        unsafe { ffi::ipct_hooks_unregister() };
    }
}
