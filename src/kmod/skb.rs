// SPDX-License-Identifier: GPL-2.0

//! A packet (`struct sk_buff`) as the data path sees it: its first bytes
//! and its `_nfct` word (entry pointer | ctinfo, the kernel's per-packet
//! conntrack state).

use crate::ffi;
use core::marker::PhantomData;
use core::ptr::NonNull;

/// A packet borrowed for `'a`, read-only.
///
/// # Invariants
///
/// `ptr` points to a valid `sk_buff` for `'a`, whose `_nfct` word nobody
/// changes during `'a` except through the [`SkbMut`] this view may belong
/// to.
pub(crate) struct Skb<'a> {
    ptr: NonNull<ffi::sk_buff>,
    _life: PhantomData<&'a ffi::sk_buff>,
}

impl<'a> Skb<'a> {
    /// A read-only view (e.g. the packet of an xtables match).
    ///
    /// # Safety
    ///
    /// `ptr` must be null or point to an `sk_buff` that stays valid for
    /// `'a` and whose `_nfct` nobody changes during `'a` (true for the
    /// packet a netfilter hook or match is called with, for the call).
    pub(crate) unsafe fn from_raw(ptr: *const ffi::sk_buff) -> Option<Self> {
        // INVARIANT: guaranteed by the caller.
        Some(Self {
            ptr: NonNull::new(ptr.cast_mut())?,
            _life: PhantomData,
        })
    }

    /// The raw pointer, for C calls that take the packet.
    pub(crate) fn as_ptr(&self) -> *mut ffi::sk_buff {
        self.ptr.as_ptr()
    }

    /// The `_nfct` word: entry pointer | ctinfo (0: no entry).
    pub(crate) fn nfct(&self) -> usize {
        // SAFETY: `ptr` is a valid skb (type invariant).
        unsafe { ffi::ipct_skb_nfct(self.ptr.as_ptr()) }
    }

    /// Copies the packet's first bytes, from the network header on, into
    /// `buf`: `(bytes copied, bytes from the network header to the end)`,
    /// or `None` when nothing could be copied.
    pub(crate) fn head(&self, buf: &mut [u8]) -> Option<(usize, usize)> {
        let cap = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let mut frame: u32 = 0;
        // SAFETY: `ptr` is a valid skb (type invariant); `buf` is writable
        // for `cap` bytes; `frame` is a valid `u32`.
        let n = unsafe {
            ffi::ipct_skb_head(self.ptr.as_ptr(), buf.as_mut_ptr().cast(), cap, &mut frame)
        };
        if n == 0 {
            return None;
        }
        Some((usize::try_from(n).ok()?, usize::try_from(frame).ok()?))
    }
}

/// A packet owned for `'a`: its `_nfct` may be set.
///
/// # Invariants
///
/// As [`Skb`], and nobody else reads or writes the packet's `_nfct`
/// during `'a`.
pub(crate) struct SkbMut<'a>(Skb<'a>);

impl<'a> SkbMut<'a> {
    /// A view that may set the packet's entry.
    ///
    /// # Safety
    ///
    /// `ptr` must be null or point to an `sk_buff` valid for `'a` that the
    /// caller owns for `'a` (a netfilter hook's packet during the hook
    /// call, or a packet being built), so that nobody else reads or writes
    /// its `_nfct` meanwhile.
    pub(crate) unsafe fn from_raw(ptr: *mut ffi::sk_buff) -> Option<Self> {
        // SAFETY: guaranteed by the caller (a stronger requirement).
        Some(Self(unsafe { Skb::from_raw(ptr) }?))
    }

    /// Sets the `_nfct` word. conn.rs moves the references the old and
    /// new words stand for.
    pub(crate) fn set_nfct(&mut self, v: usize) {
        // SAFETY: `ptr` is valid and ours for `'a` (type invariant).
        unsafe { ffi::ipct_skb_set_nfct(self.0.as_ptr(), v) };
    }
}

impl<'a> core::ops::Deref for SkbMut<'a> {
    type Target = Skb<'a>;

    fn deref(&self) -> &Skb<'a> {
        &self.0
    }
}
