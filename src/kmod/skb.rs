// SPDX-License-Identifier: GPL-2.0

//! A packet (`struct sk_buff`) as the data path sees it: its first bytes
//! and its `_nfct` word (entry pointer | ctinfo, the kernel's per-packet
//! conntrack state).

use crate::ffi;
use crate::wire::source::ByteSource;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use kernel::prelude::*;
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

    /// The field of type `T` at byte offset `at` of the `sk_buff`.
    ///
    /// # Safety
    ///
    /// `at` must be the offset of a field of type `T` in `struct sk_buff`
    /// (one of the `IPCT_SKB_*_OFFSET` constants, whose sizes
    /// conn_helpers.c checks).
    #[inline]
    unsafe fn field<T: Copy>(&self, at: usize) -> T {
        // SAFETY: `ptr` is a valid skb (type invariant) with a `T` at `at`
        // (caller); nobody changes the fields we read during `'a` but us
        // (type invariant: the hook or match owns the packet).
        unsafe { self.ptr.as_ptr().cast::<u8>().add(at).cast::<T>().read() }
    }

    /// The `_nfct` word: entry pointer | ctinfo (0: no entry).
    #[inline]
    pub(crate) fn nfct(&self) -> usize {
        // SAFETY: `_nfct` is an `unsigned long` there.
        unsafe { self.field::<usize>(ffi::IPCT_SKB_NFCT_OFFSET) }
    }

    /// `skb->len`: at the tracking hooks, where the data starts at the IP
    /// header, the IP total length (what 6.12's counters add).
    pub(crate) fn len(&self) -> usize {
        // SAFETY: `len` is an `unsigned int` there.
        usize::try_from(unsafe { self.field::<u32>(ffi::IPCT_SKB_LEN_OFFSET) }).unwrap_or(usize::MAX)
    }

    /// Where the packet lies: its data pointer, the network header's
    /// offset from it, the length from the network header to the end, and
    /// the end of the linear part (from the data pointer).
    #[inline(always)]
    fn layout(&self) -> Option<Layout> {
        // SAFETY: each offset names a field of the read type.
        let (head, data, len, data_len, nh) = unsafe {
            (
                self.field::<*const u8>(ffi::IPCT_SKB_HEAD_OFFSET),
                self.field::<*const u8>(ffi::IPCT_SKB_DATA_OFFSET),
                self.field::<u32>(ffi::IPCT_SKB_LEN_OFFSET),
                self.field::<u32>(ffi::IPCT_SKB_DATA_LEN_OFFSET),
                self.field::<u16>(ffi::IPCT_SKB_NETWORK_HEADER_OFFSET),
            )
        };
        // skb_network_offset(): head + network_header - data.
        let off = (head as usize)
            .wrapping_add(usize::from(nh))
            .wrapping_sub(data as usize);
        let frame = usize::try_from(len).ok()?.checked_sub(off)?;
        let linear = usize::try_from(len.wrapping_sub(data_len)).ok()?;
        Some(Layout { data, off, frame, linear })
    }

    /// The packet from its network header on: up to `buf.len()` bytes, in
    /// place when they are linear, else copied into `buf` (as
    /// `skb_header_pointer` does); and the length from the network header
    /// to the end of the packet. `None` when nothing can be read.
    #[inline]
    pub(crate) fn head<'b>(&'b self, buf: &'b mut [MaybeUninit<u8>]) -> Option<(&'b [u8], usize)> {
        let l = self.layout()?;
        let n = l.frame.min(buf.len());
        if n == 0 {
            return None;
        }
        if l.off.checked_add(n)? <= l.linear {
            // SAFETY: the first `len - data_len` bytes at `data` are the
            // packet's linear part, which stays put while we borrow the
            // packet; `off + n` lies inside it.
            let bytes = unsafe { core::slice::from_raw_parts(l.data.add(l.off), n) };
            return Some((bytes, l.frame));
        }
        self.copy_head(buf)
    }

    /// The packet from its network header on as the engine's
    /// [`ByteSource`]: read where its bytes lie, so a parse can follow an
    /// IPv6 extension-header chain to the packet's end. `None` when
    /// nothing can be read.
    pub(crate) fn bytes(&self) -> Option<SkbBytes<'_>> {
        let l = self.layout()?;
        if l.frame == 0 {
            return None;
        }
        let n = l.linear.saturating_sub(l.off).min(l.frame);
        let linear = if n == 0 {
            &[][..]
        } else {
            // SAFETY: the first `len - data_len` bytes at `data` are the
            // packet's linear part, which stays put while we borrow the
            // packet; `off + n` lies inside it.
            unsafe { core::slice::from_raw_parts(l.data.add(l.off), n) }
        };
        Some(SkbBytes { ptr: self.ptr, linear, frame: l.frame, _life: PhantomData })
    }

    /// Whether the layer-4 checksum of protocol `proto`, whose header
    /// starts `l4off` bytes after the network header, is wrong, as
    /// `nf_checksum` decides at hook `hook` (using and caching the
    /// packet's checksum state).
    pub(crate) fn l4_checksum_bad(&self, hook: u8, l4off: u32, proto: u8) -> bool {
        // SAFETY: `ptr` is a valid skb, ours for `'a` (type invariant); the
        // helper reads it and may cache its checksum state, which the
        // owner of the packet may do.
        unsafe { ffi::ipct_skb_l4_csum_bad(self.ptr.as_ptr(), u32::from(hook), l4off, proto) }
    }

    /// [`Self::l4_checksum_bad`] for IPv6.
    pub(crate) fn l4_checksum_bad6(&self, hook: u8, l4off: u32, proto: u8) -> bool {
        // SAFETY: as in `l4_checksum_bad`.
        unsafe { ffi::ipct_skb_l4_csum_bad6(self.ptr.as_ptr(), u32::from(hook), l4off, proto) }
    }

    /// [`Self::l4_checksum_partial_bad`] for IPv6.
    pub(crate) fn l4_checksum_partial_bad6(&self, hook: u8, l4off: u32, len: u16, proto: u8) -> bool {
        // SAFETY: as in `l4_checksum_bad`.
        unsafe {
            ffi::ipct_skb_l4_csum_partial_bad6(self.ptr.as_ptr(), u32::from(hook), l4off, u32::from(len), proto)
        }
    }

    /// [`Self::l4_checksum_bad`] over the first `len` bytes of layer 4
    /// (`nf_checksum_partial`).
    pub(crate) fn l4_checksum_partial_bad(&self, hook: u8, l4off: u32, len: u16, proto: u8) -> bool {
        // SAFETY: as in `l4_checksum_bad`.
        unsafe {
            ffi::ipct_skb_l4_csum_partial_bad(self.ptr.as_ptr(), u32::from(hook), l4off, u32::from(len), proto)
        }
    }

    /// Whether the SCTP checksum (CRC32c) of a packet whose SCTP header
    /// starts `l4off` bytes after the network header is wrong (checked
    /// only when the device left it unchecked, as 6.12's `sctp_error`).
    pub(crate) fn sctp_checksum_bad(&self, l4off: u32) -> bool {
        // SAFETY: as in `l4_checksum_bad`; the helper only reads the
        // packet and marks its checksum checked.
        unsafe { ffi::ipct_skb_sctp_csum_bad(self.ptr.as_ptr(), l4off) }
    }

    /// [`Skb::head`] for packets whose headers are not linear: copied.
    #[cold]
    fn copy_head<'b>(&'b self, buf: &'b mut [MaybeUninit<u8>]) -> Option<(&'b [u8], usize)> {
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

/// [`Skb::layout`]'s answer.
struct Layout {
    data: *const u8,
    off: usize,
    frame: usize,
    linear: usize,
}

/// A packet from its network header on, read through
/// `skb_header_pointer` ([`Skb::bytes`]).
///
/// # Invariants
///
/// `ptr` points to a valid `sk_buff` for `'s`; `linear` is its linear
/// data from the network header on (at most `frame` bytes), `frame` its
/// length from the network header to its end.
pub(crate) struct SkbBytes<'s> {
    ptr: NonNull<ffi::sk_buff>,
    linear: &'s [u8],
    frame: usize,
    _life: PhantomData<&'s ffi::sk_buff>,
}

impl ByteSource for SkbBytes<'_> {
    #[inline]
    fn packet_len(&self) -> usize {
        self.frame
    }

    #[inline]
    fn get<'b>(&'b self, at: usize, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        let end = at.checked_add(buf.len())?;
        if end > self.frame {
            return None;
        }
        match self.linear.get(at..end) {
            Some(bytes) => Some(bytes),
            None => self.copy(at, buf),
        }
    }

    #[inline]
    fn in_place(&self, at: usize, n: usize) -> Option<&[u8]> {
        let end = at.checked_add(n)?;
        if end > self.frame {
            return None;
        }
        self.linear.get(at..end)
    }
}

impl SkbBytes<'_> {
    /// [`ByteSource::get`] for bytes past the linear part: copied.
    #[cold]
    fn copy<'b>(&'b self, at: usize, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        let off = u32::try_from(at).ok()?;
        let n = u32::try_from(buf.len()).ok()?;
        // SAFETY: `ptr` is a valid skb (type invariant); `buf` is writable
        // for `n` bytes.
        let p = unsafe { ffi::ipct_skb_bytes(self.ptr.as_ptr(), off, n, buf.as_mut_ptr().cast()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: the helper returned `n` readable bytes at `p`: either
        // the packet's linear data, which stays put while we borrow the
        // packet, or `buf`, which it filled (and which we borrow for 'b).
        Some(unsafe { core::slice::from_raw_parts(p.cast::<u8>(), buf.len()) })
    }
}

/// Where the `slow_gro` bit of `sk_buff` is: its byte's offset and mask.
pub(crate) struct SlowGro {
    at: AtomicUsize,
    mask: AtomicU8,
}

/// Found once at load ([`SlowGro::find`]), before any hook runs.
static SLOW_GRO: SlowGro = SlowGro {
    at: AtomicUsize::new(0),
    mask: AtomicU8::new(0),
};

impl SlowGro {
    /// Finds the bit; `EINVAL` (the module does not load) if it cannot.
    pub(crate) fn find() -> Result<()> {
        let mut at: usize = 0;
        let mut mask: u8 = 0;
        // SAFETY: both pointers are valid for one write.
        if !unsafe { ffi::ipct_skb_slow_gro_bit(&mut at, &mut mask) } || mask == 0 {
            pr_err!("cannot find sk_buff's slow_gro bit\n");
            return Err(EINVAL);
        }
        SLOW_GRO.at.store(at, Ordering::Relaxed);
        SLOW_GRO.mask.store(mask, Ordering::Relaxed);
        Ok(())
    }

    #[inline]
    fn get(&self) -> (usize, u8) {
        (self.at.load(Ordering::Relaxed), self.mask.load(Ordering::Relaxed))
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

    /// The same packet for a shorter borrow, passed by value (a callee
    /// out of line then needs no copy of the view in memory).
    #[inline]
    pub(crate) fn reborrow(&mut self) -> SkbMut<'_> {
        // INVARIANT: the packet stays ours for the shorter borrow, during
        // which `self` cannot be used.
        SkbMut(Skb {
            ptr: self.0.ptr,
            _life: PhantomData,
        })
    }

    /// Sets the `_nfct` word. conn.rs moves the references the old and
    /// new words stand for.
    #[inline]
    pub(crate) fn set_nfct(&mut self, v: usize) {
        let nfct = self.0.ptr.as_ptr().cast::<u8>();
        if v != 0 {
            let (at, mask) = SLOW_GRO.get();
            // SAFETY: `ptr` is valid and ours for `'a` (type invariant);
            // `at` is the offset of the byte holding `slow_gro` and `mask`
            // its bit (`SlowGro::find`), set as skb_set_nfct() does.
            unsafe { *nfct.add(at) |= mask };
        }
        // SAFETY: as above; `_nfct` is an `unsigned long` at this offset.
        unsafe { nfct.add(ffi::IPCT_SKB_NFCT_OFFSET).cast::<usize>().write(v) };
    }
}

impl<'a> core::ops::Deref for SkbMut<'a> {
    type Target = Skb<'a>;

    fn deref(&self) -> &Skb<'a> {
        &self.0
    }
}
