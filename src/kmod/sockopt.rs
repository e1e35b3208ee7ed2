// SPDX-License-Identifier: GPL-2.0

//! `getsockopt(SOL_IP, SO_ORIGINAL_DST)` on IPv4 sockets: the original
//! destination of a redirected connection (answered by 2.6 ip_conntrack
//! and by 6.12 nf_conntrack), and `getsockopt(SOL_IPV6,
//! IP6T_SO_ORIGINAL_DST)` on IPv6 ones (6.12's `ipv6_getorigdst`).
//!
//! Holding this sockopt is also what keeps ip_conntrack and the kernel's
//! nf_conntrack apart: nf_conntrack registers the same range in its module
//! init (`nf_conntrack_proto_init`), and `nf_register_sockopt` refuses an
//! overlapping range with `EBUSY`. Whichever module loads second fails.

use crate::conn;
use crate::ffi;
use crate::ktable::Table;
use crate::tuple::{proto, Addr, Dir, Tuple, L4};
use core::ffi::c_void;
use kernel::error::to_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// Answers `SO_ORIGINAL_DST` as 6.12's `getorigdst`: the original
/// destination of the entry whose tuple the socket's addresses make (a
/// redirected connection's reply tuple); `ENOPROTOOPT` for sockets other
/// than TCP and SCTP, `EINVAL` for a buffer smaller than a `sockaddr_in`, `ENOENT`
/// without an entry.
///
/// # Safety
///
/// Called by the sockopt core with a live socket, the user buffer and a
/// kernel pointer to its length.
unsafe extern "C" fn get_original_dst(
    sk: *mut ffi::sock,
    _optval: c_int,
    user: *mut c_void,
    len: *mut c_int,
) -> c_int {
    let mut st = ffi::ipct_sock_tuple::default();
    // SAFETY: a live socket (caller); `st` is ours to fill.
    unsafe { ffi::ipct_sock_tuple(sk, &mut st) };
    if st.proto != proto::TCP && st.proto != proto::SCTP {
        return -(kernel::bindings::ENOPROTOOPT as c_int);
    }
    // SAFETY: `len` points to the caller's length (kernel memory).
    let have = unsafe { len.read() };
    let need = c_int::try_from(ffi::IPCT_SOCKADDR_IN_LEN).unwrap_or(c_int::MAX);
    if have < need {
        return EINVAL.to_errno();
    }
    let t = Tuple { src: st.src.into(), dst: st.dst.into(), proto: st.proto, l4: L4::Ports { sport: st.sport, dport: st.dport } };
    // SAFETY: the socket's namespace lives while the socket is in use,
    // and its table while the module is (the sockopt holds a module
    // reference during the call).
    let Some(table) = (unsafe { Table::for_net(st.net) }) else {
        return ENOENT.to_errno();
    };
    let Some(orig) = table.lookup_with(&t, conn::now(), |e, _| e.orig()) else {
        return ENOENT.to_errno();
    };
    let L4::Ports { dport, .. } = orig.l4 else {
        return ENOENT.to_errno();
    };
    // SAFETY: `user` is the caller's buffer, at least `need` bytes long
    // (checked above); the helper copies with copy_to_user.
    unsafe { ffi::ipct_put_sockaddr_in(user, orig.dst.v4_or_zero(), dport) }
}

/// Answers `IP6T_SO_ORIGINAL_DST` as 6.12's `ipv6_getorigdst`: as
/// [`get_original_dst`] for an IPv6 TCP or SCTP socket, the answer a
/// `sockaddr_in6` (with the socket's flow label and, for a link-local
/// address, its bound device as the scope).
///
/// # Safety
///
/// Called by the sockopt core with a live socket, the user buffer and a
/// kernel pointer to its length.
unsafe extern "C" fn get_original_dst6(
    sk: *mut ffi::sock,
    _optval: c_int,
    user: *mut c_void,
    len: *mut c_int,
) -> c_int {
    let mut st = ffi::ipct_sock_tuple6::default();
    // SAFETY: a live socket (caller); `st` is ours to fill.
    unsafe { ffi::ipct_sock_tuple6(sk, &mut st) };
    if st.proto != proto::TCP && st.proto != proto::SCTP {
        return -(kernel::bindings::ENOPROTOOPT as c_int);
    }
    // SAFETY: `len` points to the caller's length (kernel memory).
    let have = unsafe { len.read() };
    let need = c_int::try_from(ffi::IPCT_SOCKADDR_IN6_LEN).unwrap_or(c_int::MAX);
    if have < need {
        return EINVAL.to_errno();
    }
    let t = Tuple {
        src: Addr::v6_from_bytes(&st.src),
        dst: Addr::v6_from_bytes(&st.dst),
        proto: st.proto,
        l4: L4::Ports { sport: st.sport, dport: st.dport },
    };
    // SAFETY: as in `get_original_dst`.
    let Some(table) = (unsafe { Table::for_net(st.net) }) else {
        return ENOENT.to_errno();
    };
    let found = table.lookup_with(&t, conn::now(), |e, c| e.tuple_nat6(Dir::Original, c.nat_reply(), c.addrs6()));
    let Some(orig) = found else {
        return ENOENT.to_errno();
    };
    let L4::Ports { dport, .. } = orig.l4 else {
        return ENOENT.to_errno();
    };
    let addr = orig.dst.to_bytes();
    // SAFETY: `user` is the caller's buffer, at least `need` bytes long
    // (checked above); `addr` is 16 bytes; the helper copies with
    // copy_to_user.
    unsafe { ffi::ipct_put_sockaddr_in6(user, addr.as_ptr(), dport, st.flow_label, st.bound_dev_if) }
}

/// The registered `SO_ORIGINAL_DST` and `IP6T_SO_ORIGINAL_DST` ranges;
/// unregistered on drop.
///
/// # Invariants
///
/// `ops` and `ops6` are registered with `ipct_sockopt_register()` from
/// creation until drop, and stay at the same heap addresses meanwhile.
pub(crate) struct Registration {
    ops: KBox<ffi::nf_sockopt_ops>,
    ops6: KBox<ffi::nf_sockopt_ops>,
}

// SAFETY: while registered, `ops` is only touched by the sockopt core under
// its mutex; Rust only unregisters it on drop, which may happen on any
// thread.
unsafe impl Send for Registration {}
// SAFETY: `Registration` has no methods taking `&self`.
unsafe impl Sync for Registration {}

impl Registration {
    /// Claims `SO_ORIGINAL_DST` for PF_INET and `IP6T_SO_ORIGINAL_DST`
    /// for PF_INET6. `EBUSY` means another module (nf_conntrack) holds
    /// them.
    pub(crate) fn new() -> Result<Self> {
        let mut ops = KBox::new(
            ffi::nf_sockopt_ops {
                pf: ffi::IPCT_PF_INET,
                get_optmin: ffi::IPCT_SO_ORIGINAL_DST,
                get_optmax: ffi::IPCT_SO_ORIGINAL_DST + 1,
                get: Some(get_original_dst),
                ..Default::default()
            },
            GFP_KERNEL,
        )?;
        let mut ops6 = KBox::new(
            ffi::nf_sockopt_ops {
                pf: ffi::IPCT_PF_INET6,
                get_optmin: ffi::IPCT_IP6T_SO_ORIGINAL_DST,
                get_optmax: ffi::IPCT_IP6T_SO_ORIGINAL_DST + 1,
                get: Some(get_original_dst6),
                ..Default::default()
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `ops` is a valid, unregistered description on the heap;
        // it stays alive and unmoved until `drop` unregisters it.
        to_result(unsafe { ffi::ipct_sockopt_register(&mut *ops) })?;
        // SAFETY: as for `ops`.
        if let Err(e) = to_result(unsafe { ffi::ipct_sockopt_register(&mut *ops6) }) {
            // SAFETY: `ops` was registered just above.
            unsafe { ffi::ipct_sockopt_unregister(&mut *ops) };
            return Err(e);
        }
        // INVARIANT: both registered just above.
        Ok(Self { ops, ops6 })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: `self.ops` is registered (type invariant). Callers in
        // flight hold a reference on this module (ops->owner), so none can
        // still be running when the module is torn down.
        unsafe { ffi::ipct_sockopt_unregister(&mut *self.ops) };
        // SAFETY: as for `self.ops`.
        unsafe { ffi::ipct_sockopt_unregister(&mut *self.ops6) };
    }
}
