//! Netlink message headers: `struct nlmsghdr` (host byte order) followed
//! by nfnetlink's `struct nfgenmsg`.
//!
//! ```text
//!   0  u32 nlmsg_len     whole message
//!   4  u16 nlmsg_type    subsystem << 8 | message type
//!   6  u16 nlmsg_flags
//!   8  u32 nlmsg_seq
//!  12  u32 nlmsg_pid
//!  16  u8  nfgen_family
//!  17  u8  version       NFNETLINK_V0
//!  18  be16 res_id       (the CPU of a per-CPU statistics message)
//!  20  attributes
//! ```

use super::attr::{TooSmall, Writer};
use super::Error;

/// Length of both headers: where the attributes start.
pub const HDRLEN: usize = 20;

/// `NLM_F_MULTI`: part of a multipart answer.
pub const F_MULTI: u16 = 0x2;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`): a dump request.
pub const F_DUMP: u16 = 0x300;
/// `NLM_F_DUMP_FILTERED`: the dump applied the request's filter.
pub const F_DUMP_FILTERED: u16 = 0x20;

/// `NFNETLINK_V0`.
pub const NFNETLINK_V0: u8 = 0;

/// The header fields of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Header {
    /// `nlmsg_type`.
    pub kind: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`: the receiving socket's port for an answer.
    pub pid: u32,
    /// `nfgen_family`.
    pub family: u8,
    /// `version`.
    pub version: u8,
    /// `res_id` (host order here, big-endian on the wire).
    pub res_id: u16,
}

impl Header {
    /// The subsystem (`NFNL_SUBSYS_ID`).
    pub fn subsys(&self) -> u8 {
        self.kind.to_be_bytes()[0]
    }

    /// The message type within the subsystem (`NFNL_MSG_TYPE`).
    pub fn msg(&self) -> u8 {
        self.kind.to_be_bytes()[1]
    }

    /// Whether it asks for a dump.
    pub fn is_dump(&self) -> bool {
        self.flags & F_DUMP != 0
    }
}

/// A received nfnetlink message: headers and attribute bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The headers.
    pub header: Header,
    /// The attributes (`nlmsg_len - HDRLEN` bytes).
    pub attrs: &'a [u8],
}

fn ne16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at.saturating_add(2)) {
        Some([x, y]) => u16::from_ne_bytes([*x, *y]),
        _ => 0,
    }
}

fn ne32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at.saturating_add(4)) {
        Some([a, c, d, e]) => u32::from_ne_bytes([*a, *c, *d, *e]),
        _ => 0,
    }
}

impl<'a> Message<'a> {
    /// Checks `bytes` holds one message with both headers (nfnetlink drops
    /// shorter ones before any subsystem sees them: `EINVAL` here).
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, Error> {
        let len = usize::try_from(ne32(bytes, 0)).map_err(|_| Error::Invalid)?;
        if len < HDRLEN || len > bytes.len() {
            return Err(Error::Invalid);
        }
        let attrs = bytes.get(HDRLEN..len).ok_or(Error::Invalid)?;
        let header = Header {
            kind: ne16(bytes, 4),
            flags: ne16(bytes, 6),
            seq: ne32(bytes, 8),
            pid: ne32(bytes, 12),
            family: bytes.get(16).copied().unwrap_or(0),
            version: bytes.get(17).copied().unwrap_or(0),
            res_id: u16::from_be_bytes([
                bytes.get(18).copied().unwrap_or(0),
                bytes.get(19).copied().unwrap_or(0),
            ]),
        };
        Ok(Message { header, attrs })
    }
}

/// Starts a message with header `h` (`nfnl_msg_put`); finish it with
/// [`end`]. Returns the message's offset.
pub fn begin(w: &mut Writer<'_>, h: &Header) -> Result<usize, TooSmall> {
    let at = w.reserve(HDRLEN)?;
    w.write_at(at.saturating_add(4), &h.kind.to_ne_bytes());
    w.write_at(at.saturating_add(6), &h.flags.to_ne_bytes());
    w.write_at(at.saturating_add(8), &h.seq.to_ne_bytes());
    w.write_at(at.saturating_add(12), &h.pid.to_ne_bytes());
    w.write_at(at.saturating_add(16), &[h.family, h.version]);
    w.write_at(at.saturating_add(18), &h.res_id.to_be_bytes());
    Ok(at)
}

/// Sets the length of the message begun at `at` (`nlmsg_end`).
pub fn end(w: &mut Writer<'_>, at: usize) -> Result<(), TooSmall> {
    let len = u32::try_from(w.len().saturating_sub(at)).map_err(|_| TooSmall)?;
    w.write_at(at, &len.to_ne_bytes());
    Ok(())
}

/// Builds a request (tests, fuzzing seeds): headers, then `attrs`.
pub fn build(buf: &mut [u8], h: &Header, attrs: &[u8]) -> Result<usize, TooSmall> {
    let mut w = Writer::new(buf);
    let at = begin(&mut w, h)?;
    w.raw(attrs)?;
    end(&mut w, at)?;
    Ok(w.len())
}
