//! A checked view over an ICMPv6 message (RFC 4443), and what Linux 6.12's
//! `nf_conntrack_proto_icmpv6.c` makes of each type.
//!
//! ```text
//!  0               1               2               3
//!  |     type      |     code      |           checksum            |
//!  |  identifier (echo, NI)        |   sequence number (echo)      |
//!  |  errors: the offending packet, as much as fits the minimum MTU |
//! ```
//!
//! Types 0..=127 are errors, which quote the packet they are about and are
//! RELATED to its entry; 128..=255 are informational. Of those, echo and
//! node-information queries open entries, their replies answer them, and
//! neighbour discovery, MLD and multicast router discovery are left
//! UNTRACKED (6.12's `noct_valid_new`). A redirect (137) is handled like
//! an error when it carries a redirected-header option.

use super::ipv6::{self, Addr, Ipv6};
use super::ipv6_exthdr::{Chain, ExtError};
use super::source::{read_array, ByteSource, Prefix};
use super::{read_u16, read_u32, read_u8, Malformed};

/// Byte offsets of the header fields.
pub mod field {
    /// Message type.
    pub const TYPE: usize = 0;
    /// Code.
    pub const CODE: usize = 1;
    /// Checksum (u16, with the IPv6 pseudo-header).
    pub const CHECKSUM: usize = 2;
    /// Identifier of echo and node-information messages (u16).
    pub const IDENT: usize = 4;
    /// Sequence number of echo messages (u16).
    pub const SEQ: usize = 6;
}

/// Size of the header (type, code, checksum and 4 type-specific bytes).
pub const HEADER_LEN: usize = 8;

/// IPv6 next-header value of ICMPv6.
pub const PROTOCOL: u8 = 58;

/// Message types (include/uapi/linux/icmpv6.h, include/net/ndisc.h).
pub mod types {
    /// Destination unreachable (error).
    pub const DEST_UNREACH: u8 = 1;
    /// Packet too big (error; the MTU in the type-specific word).
    pub const PKT_TOOBIG: u8 = 2;
    /// Time exceeded (error).
    pub const TIME_EXCEED: u8 = 3;
    /// Parameter problem (error; the pointer in the type-specific word).
    pub const PARAMPROB: u8 = 4;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// MLD query.
    pub const MGM_QUERY: u8 = 130;
    /// MLDv1 report.
    pub const MGM_REPORT: u8 = 131;
    /// MLDv1 done.
    pub const MGM_REDUCTION: u8 = 132;
    /// Router solicitation.
    pub const ROUTER_SOLICITATION: u8 = 133;
    /// Router advertisement.
    pub const ROUTER_ADVERTISEMENT: u8 = 134;
    /// Neighbour solicitation.
    pub const NEIGHBOUR_SOLICITATION: u8 = 135;
    /// Neighbour advertisement.
    pub const NEIGHBOUR_ADVERTISEMENT: u8 = 136;
    /// Redirect.
    pub const REDIRECT: u8 = 137;
    /// Node information query.
    pub const NI_QUERY: u8 = 139;
    /// Node information reply.
    pub const NI_REPLY: u8 = 140;
    /// MLDv2 report.
    pub const MLD2_REPORT: u8 = 143;
    /// Multicast router advertisement.
    pub const MRDISC_ADV: u8 = 151;
    /// Multicast router solicitation.
    pub const MRDISC_SOL: u8 = 152;
}

/// Whether `ty` is an error message (0..=127), one that quotes a packet.
pub fn is_error(ty: u8) -> bool {
    ty < 128
}

/// Whether `ty` is informational (128..=255).
pub fn is_informational(ty: u8) -> bool {
    !is_error(ty)
}

/// Whether 6.12 leaves a message of type `ty` untracked (neighbour
/// discovery, MLD, multicast router discovery: `noct_valid_new`).
pub fn is_untracked(ty: u8) -> bool {
    use types::*;
    matches!(
        ty,
        MGM_QUERY
            | MGM_REPORT
            | MGM_REDUCTION
            | ROUTER_SOLICITATION
            | ROUTER_ADVERTISEMENT
            | NEIGHBOUR_SOLICITATION
            | NEIGHBOUR_ADVERTISEMENT
            | MLD2_REPORT
            | MRDISC_ADV
            | MRDISC_SOL
    )
}

/// The type of the answer to `ty`, for the types 6.12 can invert (its
/// `invmap`): echo and node information, either way.
pub fn inverse_type(ty: u8) -> Option<u8> {
    use types::*;
    match ty {
        ECHO_REQUEST => Some(ECHO_REPLY),
        ECHO_REPLY => Some(ECHO_REQUEST),
        NI_QUERY => Some(NI_REPLY),
        NI_REPLY => Some(NI_QUERY),
        _ => None,
    }
}

/// Whether a message of type `ty` may open an entry (6.12's `valid_new`).
pub fn opens_entry(ty: u8) -> bool {
    matches!(ty, types::ECHO_REQUEST | types::NI_QUERY)
}

/// A view over an ICMPv6 message at the start of a buffer (the buffer is
/// the message: the checksum covers all of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmpv6<'a> {
    buf: &'a [u8],
}

impl<'a> Icmpv6<'a> {
    /// Checks that `buf` holds the 8-byte header.
    pub fn new_checked(buf: &'a [u8]) -> Result<Icmpv6<'a>, Malformed> {
        if buf.len() < HEADER_LEN {
            return Err(Malformed::Truncated);
        }
        Ok(Icmpv6 { buf })
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        read_u8(self.buf, field::TYPE)
    }

    /// Code.
    pub fn code(&self) -> u8 {
        read_u8(self.buf, field::CODE)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buf, field::CHECKSUM)
    }

    /// Whether the checksum is correct for a message sent from `src` to
    /// `dst` (the whole buffer is the message).
    pub fn checksum_valid(&self, src: &Addr, dst: &Addr) -> bool {
        ipv6::upper_layer_checksum(src, dst, PROTOCOL, self.buf) == 0
    }

    /// Identifier (echo and node information).
    pub fn ident(&self) -> u16 {
        read_u16(self.buf, field::IDENT)
    }

    /// Sequence number (echo).
    pub fn seq_number(&self) -> u16 {
        read_u16(self.buf, field::SEQ)
    }

    /// The four type-specific bytes: the MTU of packet too big, the
    /// pointer of parameter problem, flags of neighbour advertisements.
    pub fn rest_of_header(&self) -> u32 {
        read_u32(self.buf, field::IDENT)
    }

    /// The bytes after the header (for errors, the quoted packet).
    pub fn data(&self) -> &'a [u8] {
        self.buf.get(HEADER_LEN..).unwrap_or_default()
    }

    /// What the message quotes and how 6.12 treats it (see [`Quote`]).
    pub fn quote(&self) -> Quote<'a> {
        let ty = self.msg_type();
        if is_error(ty) {
            Quote::Packet(self.data())
        } else if ty == types::REDIRECT {
            redirect_quote(self.code(), self.buf)
        } else {
            Quote::None
        }
    }
}

/// What an ICMPv6 message quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quote<'a> {
    /// Nothing: informational, or a redirect 6.12 lets pass unexamined
    /// (code not 0, first option not a redirected header).
    None,
    /// The quoted packet, from its IPv6 header to the message's end.
    Packet(&'a [u8]),
    /// A redirect too short for its fixed part or whose first option has
    /// length 0: 6.12 counts it INVALID.
    BadRedirect,
}

/// Size of a redirect's fixed part: header, target, destination.
pub const REDIRECT_LEN: usize = HEADER_LEN + 32;
/// Neighbour discovery option type of the redirected header.
pub const ND_OPT_REDIRECT_HDR: u8 = 4;
/// Bytes of a redirected-header option before the quoted packet.
const ND_OPT_REDIRECT_HDR_LEN: usize = 8;

/// As 6.12's `nf_conntrack_icmpv6_redirect`: only the first option is
/// looked at (no full option parse).
fn redirect_quote(code: u8, msg: &[u8]) -> Quote<'_> {
    if msg.len() < REDIRECT_LEN {
        return Quote::BadRedirect;
    }
    if code != 0 {
        return Quote::None;
    }
    let (Some(&opt_type), Some(&opt_len)) =
        (msg.get(REDIRECT_LEN), msg.get(REDIRECT_LEN.wrapping_add(1)))
    else {
        return Quote::BadRedirect;
    };
    if opt_len == 0 {
        return Quote::BadRedirect;
    }
    if opt_type != ND_OPT_REDIRECT_HDR {
        return Quote::None;
    }
    // A cut option quotes nothing; the quote walk then refuses it.
    let start = REDIRECT_LEN.wrapping_add(ND_OPT_REDIRECT_HDR_LEN).min(msg.len());
    Quote::Packet(msg.get(start..).unwrap_or_default())
}

/// Whether a redirect's sender is one 6.12 accepts: hop limit 255 and a
/// link-local source (fe80::/10); otherwise INVALID. Checked after the
/// code: a redirect with code not 0 passes whatever its sender.
pub fn redirect_sender_valid(hop_limit: u8, src: &Addr) -> bool {
    hop_limit == 255 && src[0] == 0xfe && src[1] & 0xc0 == 0x80
}

/// Why a quoted packet cannot be matched to an entry (6.12: INVALID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuoteError {
    /// Shorter than an IPv6 header.
    Truncated,
    /// Its extension-header chain leads to no transport header (including
    /// a non-first fragment).
    Chain(ExtError),
    /// No fragment header stops it, but a later fragment's data has no
    /// transport header.
    LaterFragment,
    /// Fewer transport bytes than 6.12 reads ([`quoted_l4_len`]).
    ShortTransport,
    /// A quoted ICMPv6 message 6.12 cannot invert (an error, neighbour
    /// discovery, anything but echo and node information).
    NotInvertible,
}

/// Layer-4 bytes 6.12 reads from a quoted packet to build its tuple: the
/// ports of TCP, UDP, UDP-Lite, SCTP and DCCP (4), the ICMPv6 header (8),
/// nothing for other protocols (their tuple is the addresses).
pub fn quoted_l4_len(proto: u8) -> usize {
    match proto {
        6 | 17 | 33 | 132 | 136 => 4,
        PROTOCOL => HEADER_LEN,
        _ => 0,
    }
}

/// A quoted packet, walked to its transport header: what its tuple is
/// made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted {
    /// The quoted source address.
    pub src: Addr,
    /// The quoted destination address.
    pub dst: Addr,
    /// Its transport protocol.
    pub proto: u8,
    /// Its first transport bytes (at least [`quoted_l4_len`] of them are
    /// the packet's; the rest, if the quote ends first, zero).
    pub l4: [u8; HEADER_LEN],
    /// How many transport bytes the quote holds.
    pub l4_len: usize,
}

/// Walks the packet an error quotes (as 6.12's `nf_ct_get_tuplepr` on the
/// inner header): the quote's length bounds the chain, not the quoted
/// payload length, which describes the original packet.
pub fn parse_quoted(quote: &[u8]) -> Result<Quoted, QuoteError> {
    parse_quoted_over(Prefix::whole(quote))
}

/// [`parse_quoted`] over a byte source (the quote is the source's whole
/// packet): its chain is read header by header, whatever its length.
pub fn parse_quoted_over<S: ByteSource>(quote: S) -> Result<Quoted, QuoteError> {
    let hdr = read_array::<{ ipv6::HEADER_LEN }, S>(&quote, 0).ok_or(QuoteError::Truncated)?;
    let ip = Ipv6::new_checked(&hdr).map_err(|_| QuoteError::Truncated)?;
    let (src, dst, next) = (ip.src(), ip.dst(), ip.next_header());
    let len = quote.packet_len();
    let (proto, offset) = match Chain::over(&quote, ipv6::HEADER_LEN, next).finish() {
        Ok(walk) => walk.l4().ok_or(QuoteError::LaterFragment)?,
        // 6.12 reads nothing of a header-less protocol: its tuple is whole.
        Err(ExtError::TransportBeyondPacket { proto }) if quoted_l4_len(proto) == 0 => (proto, len),
        Err(e) => return Err(QuoteError::Chain(e)),
    };
    let l4_len = len.saturating_sub(offset);
    let need = quoted_l4_len(proto);
    if l4_len < need {
        return Err(QuoteError::ShortTransport);
    }
    let mut l4 = [0u8; HEADER_LEN];
    let (head, _) = l4.split_at_mut(need);
    let mut buf = [0u8; HEADER_LEN];
    let (part, _) = buf.split_at_mut(need);
    let got = quote.get(offset, part).ok_or(QuoteError::ShortTransport)?;
    for (d, s) in head.iter_mut().zip(got) {
        *d = *s;
    }
    if proto == PROTOCOL && inverse_type(read_u8(&l4, field::TYPE)).is_none() {
        return Err(QuoteError::NotInvertible);
    }
    Ok(Quoted { src, dst, proto, l4, l4_len })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::super::ipv6::tests::ICMPV6_ECHO;
    use super::super::ipv6_exthdr::nexthdr;
    use super::*;
    use std::vec::Vec;

    const SRC: Addr = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const DST: Addr = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    /// The IPv6 header of a packet SRC -> DST with `next` and `rest`.
    fn ip6(next: u8, rest: &[u8]) -> Vec<u8> {
        let mut p = std::vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(rest.len() as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&SRC);
        p.extend_from_slice(&DST);
        p.extend_from_slice(rest);
        p
    }

    #[test]
    fn golden_echo() {
        let m = Icmpv6::new_checked(&ICMPV6_ECHO[40..]).unwrap();
        assert_eq!((m.msg_type(), m.code()), (types::ECHO_REQUEST, 0));
        assert_eq!(m.checksum(), 0x05fa);
        assert!(m.checksum_valid(&SRC, &DST));
        assert!(!m.checksum_valid(&DST, &SRC.map(|b| b ^ 1)));
        assert_eq!((m.ident(), m.seq_number()), (0x1234, 1));
        assert_eq!(m.rest_of_header(), 0x1234_0001);
        assert_eq!(m.data(), &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(m.quote(), Quote::None);
        let mut bad = ICMPV6_ECHO;
        bad[50] ^= 0x40;
        assert!(!Icmpv6::new_checked(&bad[40..]).unwrap().checksum_valid(&SRC, &DST));
    }

    #[test]
    fn type_classes_for_every_type() {
        let untracked = [130u8, 131, 132, 133, 134, 135, 136, 143, 151, 152];
        for ty in 0..=255u8 {
            assert_eq!(is_error(ty), ty < 128, "type {ty}");
            assert_eq!(is_informational(ty), ty >= 128);
            assert_eq!(is_untracked(ty), untracked.contains(&ty), "type {ty}");
            assert_eq!(opens_entry(ty), ty == 128 || ty == 139, "type {ty}");
            let inv = match ty {
                128 => Some(129),
                129 => Some(128),
                139 => Some(140),
                140 => Some(139),
                _ => None,
            };
            assert_eq!(inverse_type(ty), inv, "type {ty}");
            // No class overlaps another: errors quote, the rest do not.
            assert!(!(is_untracked(ty) && (is_error(ty) || inverse_type(ty).is_some())));
        }
        // The redirect is neither untracked nor invertible.
        assert!(!is_untracked(types::REDIRECT) && inverse_type(types::REDIRECT).is_none());
    }

    #[test]
    fn error_quotes_the_rest() {
        let inner = ip6(17, &[0x9c, 0x40, 0, 53, 0, 8, 0, 0]);
        for ty in [1u8, 2, 3, 4, 0, 100, 127] {
            let mut msg = std::vec![ty, 4, 0, 0, 0, 0, 0x05, 0x00];
            msg.extend_from_slice(&inner);
            let m = Icmpv6::new_checked(&msg).unwrap();
            assert_eq!(m.quote(), Quote::Packet(&inner[..]), "type {ty}");
        }
        // An error with nothing quoted quotes nothing (the walk refuses it).
        let m = Icmpv6::new_checked(&[1, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(m.quote(), Quote::Packet(&[]));
        assert_eq!(parse_quoted(&[]), Err(QuoteError::Truncated));
    }

    fn redirect(code: u8, opts: &[u8]) -> Vec<u8> {
        let mut m = std::vec![137, code, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&DST); // target
        m.extend_from_slice(&SRC); // destination
        m.extend_from_slice(opts);
        m
    }

    #[test]
    fn redirects() {
        let inner = ip6(6, &[0x9c, 0x40, 0, 22, 0, 0, 0, 1]);
        let mut opt = std::vec![4, 1 + (inner.len() / 8) as u8, 0, 0, 0, 0, 0, 0];
        opt.extend_from_slice(&inner);
        let msg = redirect(0, &opt);
        assert_eq!(Icmpv6::new_checked(&msg).unwrap().quote(), Quote::Packet(&inner[..]));
        // Code not 0: passes unexamined, even without options.
        assert_eq!(Icmpv6::new_checked(&redirect(1, &[])).unwrap().quote(), Quote::None);
        // First option not a redirected header (target link-layer address).
        let mut tlla = std::vec![2, 1, 2, 0, 0, 0, 0, 1];
        tlla.extend_from_slice(&opt);
        assert_eq!(Icmpv6::new_checked(&redirect(0, &tlla)).unwrap().quote(), Quote::None);
        // No option, an option of length 0, a short fixed part: INVALID.
        assert_eq!(Icmpv6::new_checked(&redirect(0, &[])).unwrap().quote(), Quote::BadRedirect);
        assert_eq!(Icmpv6::new_checked(&redirect(0, &[4])).unwrap().quote(), Quote::BadRedirect);
        let zero = redirect(0, &[4, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Icmpv6::new_checked(&zero).unwrap().quote(), Quote::BadRedirect);
        let short = &redirect(0, &opt)[..39];
        assert_eq!(Icmpv6::new_checked(short).unwrap().quote(), Quote::BadRedirect);
        // An option header but fewer than 8 option bytes: an empty quote.
        let cut = redirect(0, &[4, 1, 0]);
        assert_eq!(Icmpv6::new_checked(&cut).unwrap().quote(), Quote::Packet(&[]));
    }

    #[test]
    fn redirect_senders() {
        let ll = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert!(redirect_sender_valid(255, &ll));
        assert!(!redirect_sender_valid(254, &ll));
        assert!(!redirect_sender_valid(255, &SRC));
        let mut febf = ll;
        febf[1] = 0xbf;
        assert!(redirect_sender_valid(255, &febf));
        let mut fec0 = ll;
        fec0[1] = 0xc0;
        assert!(!redirect_sender_valid(255, &fec0));
    }

    #[test]
    fn quoted_packets() {
        // UDP straight after the header, then behind two extension headers.
        let q = ip6(17, &[0x9c, 0x40, 0, 53]);
        let p = parse_quoted(&q).unwrap();
        assert_eq!((p.proto, p.l4_len, &p.l4[..4]), (17, 4, &q[40..]));
        assert_eq!((p.src, p.dst), (SRC, DST));
        let mut rest = std::vec![nexthdr::DEST, 0, 0, 0, 0, 0, 0, 0];
        rest.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 0]);
        rest.extend_from_slice(&[0x9c, 0x40, 0, 22]);
        let q = ip6(nexthdr::HOP, &rest);
        assert_eq!(parse_quoted(&q).map(|p| (p.proto, p.l4_len)), Ok((6, 4)));
        // The quoted payload length is ignored (the original was longer).
        let mut long = q.clone();
        long[4] = 0x05;
        assert_eq!(parse_quoted(&long).map(|p| p.proto), Ok(6));
        // Too few port bytes; a chain cut short by the quote's end.
        assert_eq!(parse_quoted(&q[..q.len() - 1]), Err(QuoteError::ShortTransport));
        assert_eq!(parse_quoted(&q[..45]), Err(QuoteError::Chain(ExtError::BadLength)));
        let beyond = |proto| Err(QuoteError::Chain(ExtError::TransportBeyondPacket { proto }));
        assert_eq!(parse_quoted(&q[..53]), beyond(6));
        // A header-less protocol past the quote's end: its tuple is whole.
        let mut g = q.clone();
        g[48] = 47; // the destination options header names GRE
        assert_eq!(parse_quoted(&g[..53]).map(|p| (p.proto, p.l4_len)), Ok((47, 0)));
        assert_eq!(parse_quoted(&q[..41]), Err(QuoteError::Chain(ExtError::CutShort)));
        assert_eq!(parse_quoted(&q[..39]), Err(QuoteError::Truncated));
        // A protocol without ports needs no transport bytes.
        assert_eq!(parse_quoted(&ip6(47, &[])).map(|p| p.proto), Ok(47));
        // A later fragment carries no transport header.
        let q = ip6(nexthdr::FRAGMENT, &[17, 0, 0, 0x09, 0, 0, 0, 1, 0, 53, 0, 53]);
        assert_eq!(parse_quoted(&q), Err(QuoteError::LaterFragment));
        let q = ip6(nexthdr::NONE, &[0; 8]);
        assert_eq!(parse_quoted(&q), Err(QuoteError::Chain(ExtError::NoNextHeader)));
    }

    #[test]
    fn quoted_icmpv6_must_be_invertible() {
        for ty in 0..=255u8 {
            let q = ip6(PROTOCOL, &[ty, 0, 0, 0, 0x12, 0x34, 0, 1]);
            let want = if inverse_type(ty).is_some() {
                Ok(PROTOCOL)
            } else {
                Err(QuoteError::NotInvertible)
            };
            assert_eq!(parse_quoted(&q).map(|p| p.proto), want, "type {ty}");
            assert_eq!(parse_quoted(&q[..47]), Err(QuoteError::ShortTransport));
        }
    }

    #[test]
    fn quoted_l4_lengths() {
        for proto in 0..=255u8 {
            let want = match proto {
                6 | 17 | 33 | 132 | 136 => 4,
                58 => 8,
                _ => 0,
            };
            assert_eq!(quoted_l4_len(proto), want);
        }
    }

    #[test]
    fn truncated() {
        assert_eq!(Icmpv6::new_checked(&ICMPV6_ECHO[40..47]), Err(Malformed::Truncated));
        assert!(Icmpv6::new_checked(&ICMPV6_ECHO[40..48]).unwrap().data().is_empty());
    }
}
