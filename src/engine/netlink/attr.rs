//! Netlink attributes (`struct nlattr`): a checked reader that parses an
//! attribute stream the way Linux 6.12's `nla_parse` does, and a writer that
//! lays attributes out the way `nla_put`/`nla_nest_start` do.
//!
//! ```text
//!   0  u16 nla_len    header + payload, without the padding
//!   2  u16 nla_type   type, plus the NESTED (15) and BYTEORDER (14) flags
//!   4  payload, zero-padded to a multiple of 4
//! ```
//!
//! Header fields are in host byte order, payload integers in network order
//! (`nla_put_be32`); `u8` needs no order.

use super::Error;

/// Size of the attribute header.
pub const HDRLEN: usize = 4;
/// Flag of a nested attribute (`NLA_F_NESTED`).
pub const F_NESTED: u16 = 1 << 15;
/// Flag of a payload in network byte order (`NLA_F_NET_BYTEORDER`).
pub const F_NET_BYTEORDER: u16 = 1 << 14;
/// The type bits (`NLA_TYPE_MASK`).
pub const TYPE_MASK: u16 = !(F_NESTED | F_NET_BYTEORDER);

/// `NLA_ALIGN`: `n` rounded up to a multiple of 4 (`None` on overflow).
pub fn align(n: usize) -> Option<usize> {
    Some(n.checked_add(3)? & !3)
}

/// One attribute of a received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    raw_type: u16,
    payload: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The type without its flags.
    pub fn kind(&self) -> u16 {
        self.raw_type & TYPE_MASK
    }

    /// Whether the sender set `NLA_F_NESTED`.
    pub fn nested_flag(&self) -> bool {
        self.raw_type & F_NESTED != 0
    }

    /// The payload (`nla_data`, `nla_len` bytes).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The first byte (`nla_get_u8`; the policy checked the length).
    pub fn u8(&self) -> u8 {
        self.payload.first().copied().unwrap_or(0)
    }

    /// A big-endian `u16` (`nla_get_be16`).
    pub fn be16(&self) -> u16 {
        match self.payload {
            [a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        }
    }

    /// A big-endian `u32` (`nla_get_be32`).
    pub fn be32(&self) -> u32 {
        match self.payload {
            [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => 0,
        }
    }

    /// A host-order `u32` (`nla_get_u32`).
    pub fn ne32(&self) -> u32 {
        match self.payload {
            [a, b, c, d, ..] => u32::from_ne_bytes([*a, *b, *c, *d]),
            _ => 0,
        }
    }
}

/// The attributes of a stream, in order, as `nla_for_each_attr` walks them:
/// the walk ends at the first header that is short or claims more bytes
/// than are left; what is left then is [`Attrs::rest`].
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    /// The attributes of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Attrs { rest: bytes }
    }

    /// Bytes not consumed by the walk so far.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Attr<'a>;

    fn next(&mut self) -> Option<Attr<'a>> {
        let (len, raw_type) = match self.rest {
            [l0, l1, t0, t1, ..] => (
                usize::from(u16::from_ne_bytes([*l0, *l1])),
                u16::from_ne_bytes([*t0, *t1]),
            ),
            _ => return None,
        };
        if len < HDRLEN || len > self.rest.len() {
            return None;
        }
        let payload = self.rest.get(HDRLEN..len)?;
        let step = align(len)?.min(self.rest.len());
        self.rest = self.rest.get(step..).unwrap_or_default();
        Some(Attr { raw_type, payload })
    }
}

/// What one attribute type must look like (a `struct nla_policy` entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Not in the policy: accepted as is (`NLA_UNSPEC` without a length).
    Any,
    /// `NLA_U8`.
    U8,
    /// `NLA_U16` (also `NLA_BE16`).
    U16,
    /// `NLA_U32` (also `NLA_BE32`).
    U32,
    /// `NLA_U32` whose value may only have bits of the mask
    /// (`NLA_POLICY_MASK`).
    U32Mask(u32),
    /// `NLA_NESTED`.
    Nested,
    /// `NLA_UNSPEC` with a minimum length (`.len`).
    MinLen(usize),
    /// `NLA_BINARY` with a maximum length.
    Binary(usize),
}

/// How strictly a stream is parsed: `nla_parse_deprecated` (liberal, what
/// ctnetlink uses for its own attributes) or `nla_parse` (strict, what it
/// uses for `CTA_FILTER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Unknown types, odd lengths and trailing bytes are tolerated.
    Liberal,
    /// Unknown types, wrong lengths, wrong nesting flags and trailing
    /// bytes are `EINVAL`.
    Strict,
}

/// Checks one attribute against its policy (6.12's `validate_nla`).
fn validate(a: &Attr<'_>, p: Policy, mode: Mode) -> Result<(), Error> {
    let len = a.payload.len();
    let exact = match p {
        Policy::U8 => Some(1),
        Policy::U16 => Some(2),
        Policy::U32 | Policy::U32Mask(_) => Some(4),
        _ => None,
    };
    if mode == Mode::Strict {
        if exact.is_some_and(|n| n != len) {
            return Err(Error::Invalid);
        }
        let nested = p == Policy::Nested;
        if nested != a.nested_flag() && (nested || p != Policy::Any) {
            return Err(Error::Invalid);
        }
    }
    match p {
        Policy::Any => {}
        Policy::U8 | Policy::U16 | Policy::U32 | Policy::U32Mask(_) => {
            if len < exact.unwrap_or(0) {
                return Err(Error::Range);
            }
        }
        Policy::Nested => {
            // Empty is allowed; otherwise at least one header.
            if len != 0 && len < HDRLEN {
                return Err(Error::Range);
            }
        }
        Policy::MinLen(n) => {
            if len < n {
                return Err(Error::Range);
            }
        }
        Policy::Binary(max) => {
            if len > max {
                return Err(Error::Range);
            }
        }
    }
    if let Policy::U32Mask(mask) = p {
        if a.ne32() & !mask != 0 {
            return Err(Error::Invalid);
        }
    }
    Ok(())
}

/// Parses `bytes` into a table indexed by type (`N` = max type + 1) as
/// `nla_parse` does: each attribute checked against `policy[type]`, the
/// last of a repeated type wins, types 0 and above the maximum are ignored
/// (liberal) or refused (strict).
pub fn parse<'a, const N: usize>(
    bytes: &'a [u8],
    policy: &[Policy; N],
    mode: Mode,
) -> Result<[Option<Attr<'a>>; N], Error> {
    let mut tb: [Option<Attr<'a>>; N] = [None; N];
    let mut it = Attrs::new(bytes);
    for a in it.by_ref() {
        let t = usize::from(a.kind());
        let (Some(slot), Some(p)) = (tb.get_mut(t), policy.get(t)) else {
            if mode == Mode::Strict {
                return Err(Error::Invalid);
            }
            continue;
        };
        if t == 0 {
            if mode == Mode::Strict {
                return Err(Error::Invalid);
            }
            continue;
        }
        validate(&a, *p, mode)?;
        *slot = Some(a);
    }
    if mode == Mode::Strict && !it.rest().is_empty() {
        return Err(Error::Invalid);
    }
    Ok(tb)
}

/// Out of room in the output buffer (`-EMSGSIZE` in the kernel, where the
/// dump then continues in the next buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooSmall;

/// A nest opened by [`Writer::nest_start`], to close with
/// [`Writer::nest_end`].
#[derive(Debug)]
#[must_use]
pub struct Nest(usize);

/// Writes attributes into a caller's buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// An empty writer over `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Goes back to `len` bytes (`nlmsg_cancel`).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Reserves `n` zeroed bytes; their offset.
    pub fn reserve(&mut self, n: usize) -> Result<usize, TooSmall> {
        let at = self.len;
        let end = at.checked_add(n).ok_or(TooSmall)?;
        let room = self.buf.get_mut(at..end).ok_or(TooSmall)?;
        room.fill(0);
        self.len = end;
        Ok(at)
    }

    /// Writes `bytes` at offset `at` (inside what was reserved).
    pub fn write_at(&mut self, at: usize, bytes: &[u8]) {
        let end = at.saturating_add(bytes.len());
        if end <= self.len {
            if let Some(dst) = self.buf.get_mut(at..end) {
                // Not `copy_from_slice`: its length-mismatch panic path is
                // a noreturn call the kernel's objtool does not know.
                for (d, b) in dst.iter_mut().zip(bytes) {
                    *d = *b;
                }
            }
        }
    }

    /// Appends `bytes` as they are.
    pub fn raw(&mut self, bytes: &[u8]) -> Result<(), TooSmall> {
        let at = self.reserve(bytes.len())?;
        self.write_at(at, bytes);
        Ok(())
    }

    /// An attribute of type `ty` with `data`, zero-padded (`nla_put`).
    pub fn put(&mut self, ty: u16, data: &[u8]) -> Result<(), TooSmall> {
        let len = HDRLEN.checked_add(data.len()).ok_or(TooSmall)?;
        let len16 = u16::try_from(len).map_err(|_| TooSmall)?;
        let at = self.reserve(align(len).ok_or(TooSmall)?)?;
        self.write_at(at, &len16.to_ne_bytes());
        self.write_at(at.saturating_add(2), &ty.to_ne_bytes());
        self.write_at(at.saturating_add(HDRLEN), data);
        Ok(())
    }

    /// `nla_put_u8`.
    pub fn put_u8(&mut self, ty: u16, v: u8) -> Result<(), TooSmall> {
        self.put(ty, &[v])
    }

    /// `nla_put_be16`.
    pub fn put_be16(&mut self, ty: u16, v: u16) -> Result<(), TooSmall> {
        self.put(ty, &v.to_be_bytes())
    }

    /// `nla_put_be32`.
    pub fn put_be32(&mut self, ty: u16, v: u32) -> Result<(), TooSmall> {
        self.put(ty, &v.to_be_bytes())
    }

    /// Opens a nest of type `ty` (`nla_nest_start`: sets `NLA_F_NESTED`).
    pub fn nest_start(&mut self, ty: u16) -> Result<Nest, TooSmall> {
        let at = self.reserve(HDRLEN)?;
        self.write_at(at.saturating_add(2), &(ty | F_NESTED).to_ne_bytes());
        Ok(Nest(at))
    }

    /// Closes a nest: its length covers everything written since.
    pub fn nest_end(&mut self, n: Nest) -> Result<(), TooSmall> {
        let len = self.len.saturating_sub(n.0);
        let len16 = u16::try_from(len).map_err(|_| TooSmall)?;
        self.write_at(n.0, &len16.to_ne_bytes());
        Ok(())
    }

    /// The bytes written.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn put_pads_and_nests() {
        let mut buf = [0xffu8; 32];
        let mut w = Writer::new(&mut buf);
        let n = w.nest_start(1).unwrap();
        w.put_u8(1, 6).unwrap();
        w.put_be16(2, 80).unwrap();
        w.nest_end(n).unwrap();
        assert_eq!(
            w.bytes(),
            [
                20, 0, 1, 0x80, //
                5, 0, 1, 0, 6, 0, 0, 0, //
                6, 0, 2, 0, 0, 80, 0, 0
            ]
        );
        let mut small = [0u8; 7];
        assert_eq!(Writer::new(&mut small).put_be32(1, 1), Err(TooSmall));
    }

    #[test]
    fn walk_stops_at_a_bad_header() {
        let bytes = [8, 0, 1, 0, 1, 2, 3, 4, 3, 0, 2, 0, 9, 9];
        let mut it = Attrs::new(&bytes);
        assert_eq!(it.next().map(|a| a.be32()), Some(0x0102_0304));
        assert_eq!(it.next(), None);
        assert_eq!(it.rest().len(), 6);
    }

    #[test]
    fn policy_errors_are_linux_errnos() {
        let pol = [Policy::Any, Policy::U32, Policy::Nested, Policy::U32Mask(3)];
        // Short u32: ERANGE.
        assert_eq!(parse(&[6, 0, 1, 0, 1, 2, 0, 0], &pol, Mode::Liberal), Err(Error::Range));
        // Long u32 is only a warning (liberal), EINVAL when strict.
        let long = [9, 0, 1, 0, 1, 2, 3, 4, 5, 0, 0, 0];
        assert!(parse(&long, &pol, Mode::Liberal).is_ok());
        assert_eq!(parse(&long, &pol, Mode::Strict), Err(Error::Invalid));
        // Nested of 1..3 bytes: ERANGE; empty is fine.
        assert_eq!(parse(&[6, 0, 2, 0x80, 0, 0, 0, 0], &pol, Mode::Liberal), Err(Error::Range));
        assert!(parse(&[4, 0, 2, 0x80], &pol, Mode::Liberal).is_ok());
        // Unknown types: ignored or EINVAL.
        assert!(parse(&[4, 0, 9, 0], &pol, Mode::Liberal).unwrap().iter().all(Option::is_none));
        assert_eq!(parse(&[4, 0, 9, 0], &pol, Mode::Strict), Err(Error::Invalid));
        // Mask.
        let m = 4u32.to_ne_bytes();
        let bad = [8, 0, 3, 0, m[0], m[1], m[2], m[3]];
        assert_eq!(parse(&bad, &pol, Mode::Strict), Err(Error::Invalid));
        // Trailing garbage: tolerated or EINVAL.
        assert!(parse(&[1, 2], &pol, Mode::Liberal).is_ok());
        assert_eq!(parse(&[1, 2], &pol, Mode::Strict), Err(Error::Invalid));
    }
}
