// SPDX-License-Identifier: GPL-2.0

//! A packet (`struct sk_buff`) as the data path sees it: its first bytes
//! and its `_nfct` word (entry pointer | ctinfo, the kernel's per-packet
//! conntrack state).

use crate::ffi;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
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
    #[inline]
    pub(crate) fn nfct(&self) -> usize {
        let at = usize::try_from(ffi::IPCT_SKB_NFCT_OFFSET).unwrap_or(0);
        // SAFETY: `ptr` is a valid skb (type invariant) and `_nfct`, an
        // `unsigned long`, sits at `IPCT_SKB_NFCT_OFFSET` in it (computed
        // by the C compiler for this kernel); nobody changes it during
        // `'a` but us (type invariant).
        unsafe { self.ptr.as_ptr().cast::<u8>().add(at).cast::<usize>().read() }
    }

    /// The packet from its network header on: up to `buf.len()` bytes, in
    /// place when they are linear, else copied into `buf`
    /// (`skb_header_pointer`); and the length from the network header to
    /// the end of the packet. `None` when nothing can be read.
    pub(crate) fn head<'b>(&'b self, buf: &'b mut [MaybeUninit<u8>]) -> Option<(&'b [u8], usize)> {
        let cap = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let mut len: u32 = 0;
        let mut frame: u32 = 0;
        // SAFETY: `ptr` is a valid skb (type invariant); `buf` is writable
        // for `cap` bytes; `len` and `frame` are valid `u32`s.
        let p = unsafe {
            ffi::ipct_skb_head(self.ptr.as_ptr(), buf.as_mut_ptr().cast(), cap, &mut len, &mut frame)
        };
        if p.is_null() {
            return None;
        }
        let len = usize::try_from(len).ok()?;
        // SAFETY: the helper returned `len` readable bytes at `p`: either
        // the packet's own linear data, which stays put while we borrow the
        // packet, or `buf`, which it filled (and which we borrow for 'b).
        let head = unsafe { core::slice::from_raw_parts(p.cast::<u8>(), len) };
        Some((head, usize::try_from(frame).ok()?))
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
