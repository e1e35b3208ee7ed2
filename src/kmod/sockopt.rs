// SPDX-License-Identifier: GPL-2.0

//! `getsockopt(SOL_IP, SO_ORIGINAL_DST)` on IPv4 sockets: the original
//! destination of a redirected connection (answered by 2.6 ip_conntrack
//! and by 6.12 nf_conntrack).
//!
//! Holding this sockopt is also what keeps ip_conntrack and the kernel's
//! nf_conntrack apart: nf_conntrack registers the same range in its module
//! init (`nf_conntrack_proto_init`), and `nf_register_sockopt` refuses an
//! overlapping range with `EBUSY`. Whichever module loads second fails.

use crate::ffi;
use core::ffi::c_void;
use kernel::error::to_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// Answers `SO_ORIGINAL_DST`. Nothing is tracked yet, so no socket has an
/// entry: `ENOENT`, as nf_conntrack answers for an untracked socket.
extern "C" fn get_original_dst(
    _sk: *mut ffi::sock,
    _optval: c_int,
    _user: *mut c_void,
    _len: *mut c_int,
) -> c_int {
    ENOENT.to_errno()
}

/// The registered `SO_ORIGINAL_DST` range; unregistered on drop.
///
/// # Invariants
///
/// `ops` is registered with `ipct_sockopt_register()` from creation until
/// drop, and stays at the same heap address meanwhile.
pub(crate) struct Registration {
    ops: KBox<ffi::nf_sockopt_ops>,
}

// SAFETY: while registered, `ops` is only touched by the sockopt core under
// its mutex; Rust only unregisters it on drop, which may happen on any
// thread.
unsafe impl Send for Registration {}
// SAFETY: `Registration` has no methods taking `&self`.
unsafe impl Sync for Registration {}

impl Registration {
    /// Claims `SO_ORIGINAL_DST` for PF_INET. `EBUSY` means another module
    /// (nf_conntrack) holds it.
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
        // SAFETY: `ops` is a valid, unregistered description on the heap;
        // it stays alive and unmoved until `drop` unregisters it.
        to_result(unsafe { ffi::ipct_sockopt_register(&mut *ops) })?;
        // INVARIANT: registered just above.
        Ok(Self { ops })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: `self.ops` is registered (type invariant). Callers in
        // flight hold a reference on this module (ops->owner), so none can
        // still be running when the module is torn down.
        unsafe { ffi::ipct_sockopt_unregister(&mut *self.ops) };
    }
}
