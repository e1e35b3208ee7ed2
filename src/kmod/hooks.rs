// SPDX-License-Identifier: GPL-2.0

//! IPv4 netfilter hooks: safe [`Hook`] implementations, the adapter that
//! turns one into a C hook function, and their registration in every
//! network namespace.

use crate::conn::Conn;
use crate::ctinfo::CtInfo;
use crate::ffi;
use crate::ktable::Table;
use crate::nat::icmp_error;
use crate::nat::fast::{self, Target};
use crate::nat::Manip;
use crate::skb::{Skb, SkbMut};
use crate::tuple::Tuple;
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

    /// A verdict another hook function returned, passed on as it is.
    pub(crate) fn from_raw(v: c_uint) -> Self {
        Self(v)
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

    /// The entry the packet carries and its classification. The packet's
    /// reference keeps the entry alive for the hook call: nothing a hook
    /// or the lookups it runs do changes `_nfct` meanwhile (only the
    /// tracking hooks attach entries, and they have run).
    pub(crate) fn entry(&self) -> Option<(&'a Conn, CtInfo)> {
        // SAFETY: the hook's packet, valid for the call (type invariant),
        // whose `_nfct` stays as it is (see above).
        let skb: Skb<'a> = unsafe { Skb::from_raw(self.skb) }?;
        let (c, ctinfo) = crate::conn::from_skb(&skb)?;
        Some((c, ctinfo))
    }

    /// The IPv4 protocol number of the packet.
    pub(crate) fn ip_protocol(&self) -> Option<u8> {
        self.first_bytes::<20>().map(|b| b[9])
    }

    /// The ICMP type of an ICMP packet (the byte after the IP header).
    pub(crate) fn icmp_type(&self) -> Option<u8> {
        let b = self.first_bytes::<64>()?;
        let ihl = usize::from(b[0] & 0x0f).saturating_mul(4);
        b.get(ihl).copied()
    }

    /// The first `N` bytes of the packet (from the IP header), if it has
    /// that many (copied).
    fn first_bytes<const N: usize>(&self) -> Option<[u8; N]> {
        // SAFETY: the hook's packet, valid for the call (type invariant).
        let skb = unsafe { Skb::from_raw(self.skb) }?;
        let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); N];
        let (head, _) = skb.head(&mut buf)?;
        let mut out = [0u8; N];
        crate::nat::rewrite::copy(&mut out, head);
        // An ICMP type beyond a short packet reads as 0: callers check
        // lengths where it matters (the engine does).
        (head.len() >= N.min(20)).then_some(out)
    }

    /// Runs the namespace's NAT lookup `i` of this hook on the packet: its
    /// verdict, `None` past the last one.
    pub(crate) fn run_nat_lookup(&mut self, i: c_uint) -> Option<c_uint> {
        let mut v: c_uint = 0;
        // SAFETY: the hook's state and packet, valid for the call; under
        // the RCU read lock netfilter holds around hooks.
        unsafe { ffi::ipct_nat_run_lookup(self.state, self.skb, i, &mut v) }.then_some(v)
    }

    /// Rewrites the end `manip` of the packet as `target` says
    /// (`nf_nat_manip_pkt`). Whether the address changed; `None` when the
    /// packet cannot be rewritten (then it is dropped, as 6.12 does).
    #[inline]
    pub(crate) fn rewrite(&mut self, manip: Manip, target: Target) -> Option<bool> {
        // SAFETY: the hook's packet, valid for the call.
        let len = unsafe { Skb::from_raw(self.skb) }?.len();
        // The largest IP header and layer-4 header a rewrite touches (TCP's
        // 20 bytes; options are never changed): no need to read the header
        // length first.
        let n = len.min(60 + 20);
        let want = c_uint::try_from(n).ok()?;
        let mut partial = false;
        // SAFETY: the hook's packet, owned by the hook for the call;
        // `partial` is valid for the write.
        let p = unsafe { ffi::ipct_nat_writable(self.skb, want, &mut partial) };
        if p.is_null() {
            return None;
        }
        // SAFETY: `skb_ensure_writable` made `want` bytes from `p` (the
        // packet's data) linear and private to this packet; nothing else
        // touches them during the call, and the slice does not outlive it.
        let buf = unsafe { core::slice::from_raw_parts_mut(p, n) };
        fast::rewrite(buf, len, manip, target, partial).ok()
    }

    /// Translates the ICMP error the packet is (`nf_nat_icmp_reply_translation`
    /// after its decision): false when it cannot be.
    pub(crate) fn translate_icmp(&mut self, manip: Manip, other: &Tuple) -> bool {
        // SAFETY: the hook's packet, valid for the call.
        let Some(len) = (unsafe { Skb::from_raw(self.skb) }).map(|s| s.len()) else {
            return false;
        };
        let ok = self.with_writable(len, |buf| icmp_error::translate(buf, manip, other).is_ok()) == Some(true);
        if ok {
            // SAFETY: the hook's packet, whose checksums were just changed.
            unsafe { ffi::ipct_skb_csum_changed(self.skb) };
        }
        ok
    }

    /// Runs `f` on the first `len` bytes of the packet, made writable and
    /// linear (`skb_ensure_writable`); `None` when they cannot be.
    fn with_writable<R>(&mut self, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        let n = c_uint::try_from(len).ok()?;
        // SAFETY: the hook's packet, owned by the hook for the call.
        let p = unsafe { ffi::ipct_skb_writable(self.skb, n) };
        if p.is_null() {
            return None;
        }
        // SAFETY: `skb_ensure_writable` made `len` bytes from `p` (the
        // packet's data) linear and private to this packet; nothing else
        // touches them during the call, and the slice does not outlive it.
        Some(f(unsafe { core::slice::from_raw_parts_mut(p, len) }))
    }

    /// The index of the device the packet leaves by, 0 before routing.
    #[inline]
    pub(crate) fn out_ifindex(&self) -> i32 {
        let dev = self.state.out;
        if dev.is_null() {
            return 0;
        }
        // SAFETY: a non-null `out` is the device the packet leaves by,
        // valid for the hook call (type invariant: a valid hook state),
        // whose `ifindex` is an `int` at this offset (nat_helpers.c checks
        // its size); a device's index does not change while it is up.
        unsafe { dev.cast::<u8>().add(ffi::IPCT_NETDEV_IFINDEX_OFFSET).cast::<i32>().read() }
    }

    /// Drops the packet's cached route: destination NAT changed where it
    /// goes (`nf_nat_ipv4_pre_routing`).
    pub(crate) fn drop_route(&mut self) {
        // SAFETY: the hook's packet.
        unsafe { ffi::ipct_skb_dst_drop(self.skb) };
    }

    /// Routes a locally generated packet again after destination NAT
    /// (`nf_nat_ipv4_local_fn`).
    pub(crate) fn reroute(&mut self) -> Result {
        // SAFETY: the hook's state and packet, valid for the call.
        to_result(unsafe { ffi::ipct_nat_reroute(self.state, self.skb) })
    }

    /// Forgets the socket early demux attached for the packet's old source
    /// (`nf_nat_ipv4_local_in`).
    pub(crate) fn orphan_demuxed(&mut self) {
        // SAFETY: the hook's packet.
        unsafe { ffi::ipct_nat_local_in_orphan(self.skb) };
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

/// The C description of hook `H` for IPv6.
pub(crate) fn ops6<H: Hook>() -> ffi::nf_hook_ops {
    ffi::nf_hook_ops { pf: ffi::IPCT_NFPROTO_IPV6, ..ops::<H>() }
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
