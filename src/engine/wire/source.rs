//! [`ByteSource`]: a packet read where its bytes lie, as Linux's
//! `skb_header_pointer` reads an skb. The IPv6 parse reads each extension
//! header, the transport header and an ICMPv6 error's quote through it, so
//! a chain of any length is walked without copying the packet: the host
//! and the tests read a slice ([`Prefix`]), the kernel its skb (linear
//! bytes in place, the rest copied into a small buffer).

/// A packet whose bytes are read on demand.
pub trait ByteSource {
    /// The packet's length: no byte at or past it exists.
    fn packet_len(&self) -> usize;

    /// The `buf.len()` bytes at `at`: in place when they are contiguous,
    /// else copied into `buf`. `None` when they end past
    /// [`Self::packet_len`] (or past what this source holds of it).
    fn get<'b>(&'b self, at: usize, buf: &'b mut [u8]) -> Option<&'b [u8]>;

    /// The `n` bytes at `at` where they lie, when they are contiguous
    /// there; `None` otherwise (then [`Self::get`] copies them). Spares a
    /// caller the buffer, and zeroing it, when no copy is needed.
    #[inline]
    fn in_place(&self, at: usize, n: usize) -> Option<&[u8]> {
        let _ = (at, n);
        None
    }
}

impl<T: ByteSource + ?Sized> ByteSource for &T {
    #[inline]
    fn packet_len(&self) -> usize {
        (**self).packet_len()
    }

    #[inline]
    fn get<'b>(&'b self, at: usize, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        (**self).get(at, buf)
    }

    #[inline]
    fn in_place(&self, at: usize, n: usize) -> Option<&[u8]> {
        (**self).in_place(at, n)
    }
}

/// The first bytes of a packet of `len` bytes (all of them when `bytes`
/// is as long): what lies past `bytes` cannot be read. Bytes past `len`
/// (link-layer padding) are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix<'a> {
    bytes: &'a [u8],
    len: usize,
}

impl<'a> Prefix<'a> {
    /// `bytes` as the start of a packet of `len` bytes.
    pub fn new(bytes: &'a [u8], len: usize) -> Prefix<'a> {
        Prefix { bytes: bytes.get(..len).unwrap_or(bytes), len }
    }

    /// A whole packet.
    pub fn whole(bytes: &'a [u8]) -> Prefix<'a> {
        Prefix { bytes, len: bytes.len() }
    }

    /// `n` bytes at `at` as a slice of the packet.
    pub fn slice(&self, at: usize, n: usize) -> Option<&'a [u8]> {
        let end = at.checked_add(n)?;
        if end > self.len {
            return None;
        }
        self.bytes.get(at..end)
    }
}

impl ByteSource for Prefix<'_> {
    #[inline]
    fn packet_len(&self) -> usize {
        self.len
    }

    #[inline]
    fn get<'b>(&'b self, at: usize, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        self.slice(at, buf.len())
    }

    #[inline]
    fn in_place(&self, at: usize, n: usize) -> Option<&[u8]> {
        self.slice(at, n)
    }
}

/// The bytes of `src` from `start` to its end, as a packet of their own
/// (the packet an ICMPv6 error quotes).
#[derive(Clone, Copy, Debug)]
pub struct Tail<S> {
    src: S,
    start: usize,
}

impl<S: ByteSource> Tail<S> {
    /// `src` from `start` on (nothing when `start` is past its end).
    pub fn new(src: S, start: usize) -> Tail<S> {
        Tail { src, start }
    }
}

impl<S: ByteSource> ByteSource for Tail<S> {
    #[inline]
    fn packet_len(&self) -> usize {
        self.src.packet_len().saturating_sub(self.start)
    }

    #[inline]
    fn get<'b>(&'b self, at: usize, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        if self.start > self.src.packet_len() {
            return None;
        }
        self.src.get(self.start.checked_add(at)?, buf)
    }

    #[inline]
    fn in_place(&self, at: usize, n: usize) -> Option<&[u8]> {
        if self.start > self.src.packet_len() {
            return None;
        }
        self.src.in_place(self.start.checked_add(at)?, n)
    }
}

/// The `N` bytes at `at` of `src`, copied.
pub fn read_array<const N: usize, S: ByteSource + ?Sized>(src: &S, at: usize) -> Option<[u8; N]> {
    let mut buf = [0u8; N];
    let got = src.get(at, &mut buf)?;
    <[u8; N]>::try_from(got).ok()
}

/// The first `min(n, packet_len - at)` bytes at `at` of `src` where they
/// lie, if they are contiguous there ([`ByteSource::in_place`]).
pub fn window_in_place<S: ByteSource + ?Sized>(src: &S, at: usize, n: usize) -> Option<&[u8]> {
    src.in_place(at, src.packet_len().saturating_sub(at).min(n))
}

/// The first `min(N, packet_len - at)` bytes at `at` of `src`, copied
/// into `buf` when not in place; empty when `at` is past the end or the
/// source cannot serve them.
pub fn window<'b, const N: usize, S: ByteSource + ?Sized>(src: &'b S, at: usize, buf: &'b mut [u8; N]) -> &'b [u8] {
    let n = src.packet_len().saturating_sub(at).min(N);
    let (part, _) = buf.split_at_mut(n);
    src.get(at, part).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn prefix_reads_inside_the_packet_only() {
        let p = Prefix::new(&[1, 2, 3, 4, 5, 6], 4);
        assert_eq!(p.packet_len(), 4);
        assert_eq!(p.get(2, &mut [0; 2]), Some(&[3u8, 4][..]));
        assert_eq!(p.get(3, &mut [0; 2]), None);
        assert_eq!(p.get(usize::MAX, &mut [0; 2]), None);
        // A prefix of a longer packet: what it lacks cannot be read.
        let p = Prefix::new(&[1, 2], 10);
        assert_eq!(p.packet_len(), 10);
        assert_eq!(p.get(1, &mut [0; 2]), None);
        assert_eq!(p.get(0, &mut [0; 2]), Some(&[1u8, 2][..]));
    }

    #[test]
    fn tail_and_window() {
        let bytes = [0u8, 1, 2, 3, 4, 5, 6, 7];
        let t = Tail::new(Prefix::whole(&bytes), 3);
        assert_eq!(t.packet_len(), 5);
        assert_eq!(read_array::<2, _>(&t, 3), Some([6, 7]));
        assert_eq!(read_array::<2, _>(&t, 4), None);
        let mut w = [0u8; 4];
        assert_eq!(window(&t, 2, &mut w), &[5, 6, 7]);
        assert_eq!(window(&t, 9, &mut w), &[] as &[u8]);
        let past = Tail::new(Prefix::whole(&bytes), 9);
        assert_eq!(past.packet_len(), 0);
        assert_eq!(past.get(0, &mut []), None);
        let s = crate::fuzzing::Split { bytes: &bytes, linear: 3 };
        assert_eq!(window(&s, 1, &mut w), &[1, 2, 3, 4]);
        assert_eq!(read_array::<2, _>(&s, 6), Some([6, 7]));
    }
}
