//! Target `ipv6_exthdr`: the IPv6 extension-header walk
//! (`crate::wire::ipv6_exthdr`) and the ICMPv6 quote on arbitrary bytes.
//!
//! Input: two bytes little-endian, the packet length the walk is told
//! (`packet_len`, independent of the bytes: shorter is padding, longer is
//! a prefix), then the bytes from the IPv6 header on. Checked:
//! - the walk never panics and terminates (it visits at most
//!   `packet_len / 8` headers, each at least 8 bytes, inside the packet);
//! - it agrees with a line-by-line model of 6.12's `ipv6_get_l4proto`
//!   (`ipv6_skip_exthdr`): the kernel finds protocol P at offset O inside
//!   the packet exactly when the walk does, and P past the packet's end
//!   exactly when the walk says `TransportBeyondPacket { proto: P }`;
//! - given a prefix, it asks for more bytes ([`ExtError::NeedBytes`]) with
//!   a growing, bounded count, and fed that many it ends with the answer
//!   the whole packet gives (the kernel shell's protocol);
//! - the ICMPv6 view and the quoted-packet walk over the same bytes never
//!   panic, and what they return lies inside the bytes.

use crate::wire::icmpv6::{parse_quoted, Icmpv6, Quote};
use crate::wire::ipv6::HEADER_LEN;
use crate::wire::ipv6_exthdr::{walk, Chain, End, ExtError};

/// The body of target `ipv6_exthdr`.
pub fn ipv6_exthdr_input(data: &[u8]) {
    let Some((len, buf)) = data.split_first_chunk::<2>() else { return };
    let packet_len = usize::from(u16::from_le_bytes(*len));
    let full = walk(buf, packet_len);
    check_bounds(buf, packet_len, full);
    if buf.len() >= packet_len && packet_len >= HEADER_LEN {
        check_against_kernel(&buf[..packet_len], full);
    }
    check_prefixes(buf, packet_len, full);
    check_icmpv6(buf);
}

fn check_bounds(
    buf: &[u8],
    packet_len: usize,
    full: Result<crate::wire::ipv6_exthdr::Walk, ExtError>,
) {
    match full {
        Ok(w) => {
            let end = match w.end {
                End::Transport { offset, .. } => offset,
                End::LaterFragment { offset } => offset + 8,
            };
            assert!(end >= HEADER_LEN && end <= packet_len, "walk ends at {end} of {packet_len}");
            assert!(w.headers * 8 <= end - HEADER_LEN, "{} headers in {end} bytes", w.headers);
        }
        Err(ExtError::NeedBytes(n)) => {
            assert!(
                n > buf.len() && n <= packet_len,
                "asks for {n}: has {}, packet {packet_len}",
                buf.len()
            );
        }
        Err(_) => {}
    }
    if packet_len >= HEADER_LEN && buf.len() > 6 {
        // The headers one by one: strictly increasing, inside the packet.
        let mut last_end = HEADER_LEN;
        let mut n = 0usize;
        for h in Chain::new(buf, packet_len, HEADER_LEN, buf[6]) {
            let Ok(h) = h else { break };
            assert_eq!(h.offset, last_end, "headers are contiguous");
            assert!(h.len >= 8 && h.offset + h.len <= packet_len);
            last_end = h.offset + h.len;
            n += 1;
            assert!(n <= packet_len / 8, "more headers than the packet holds");
        }
    }
}

/// 6.12's `ipv6_get_l4proto` on an skb holding exactly `skb`, line by line.
fn kernel_l4proto(skb: &[u8]) -> Option<(u8, usize)> {
    let header = |at: usize, n: usize| skb.get(at..at.checked_add(n)?);
    let mut nexthdr = *skb.get(6)?;
    let mut start = 40usize;
    let mut frag_off = 0u16;
    while matches!(nexthdr, 0 | 43 | 44 | 51 | 59 | 60) {
        if nexthdr == 59 {
            return None;
        }
        let hp = header(start, 2)?;
        let hdrlen = if nexthdr == 44 {
            let fp = header(start + 2, 2)?;
            frag_off = u16::from_be_bytes([fp[0], fp[1]]);
            if frag_off & !0x7 != 0 {
                break;
            }
            8
        } else if nexthdr == 51 {
            (usize::from(hp[1]) + 2) << 2
        } else {
            (usize::from(hp[1]) + 1) << 3
        };
        nexthdr = hp[0];
        start += hdrlen;
    }
    if frag_off & !0x7 != 0 {
        return None;
    }
    Some((nexthdr, start))
}

fn check_against_kernel(skb: &[u8], ours: Result<crate::wire::ipv6_exthdr::Walk, ExtError>) {
    match kernel_l4proto(skb) {
        Some((proto, off)) if off <= skb.len() => {
            assert_eq!(ours.map(|w| w.l4()), Ok(Some((proto, off))), "6.12 finds {proto} at {off}");
        }
        Some((proto, off)) => {
            assert_eq!(
                ours,
                Err(ExtError::TransportBeyondPacket { proto }),
                "6.12 finds {proto} at {off}"
            );
        }
        None => {
            assert!(
                ours.map_or(true, |w| w.l4().is_none()),
                "6.12 finds nothing, the walk {ours:?}"
            );
            assert!(!matches!(ours, Err(ExtError::TransportBeyondPacket { .. })));
        }
    }
}

/// Feeds the walk growing prefixes as the kernel shell would.
fn check_prefixes(
    buf: &[u8],
    packet_len: usize,
    full: Result<crate::wire::ipv6_exthdr::Walk, ExtError>,
) {
    let mut have = 0usize;
    loop {
        let r = walk(&buf[..have.min(buf.len())], packet_len);
        match r {
            Err(ExtError::NeedBytes(n)) if n <= buf.len() => {
                assert!(n > have, "asks for {n} bytes with {have}");
                have = n;
            }
            _ => {
                assert_eq!(r, full, "a prefix of {have} bytes ends differently");
                return;
            }
        }
    }
}

fn check_icmpv6(buf: &[u8]) {
    if let Ok(m) = Icmpv6::new_checked(buf) {
        if let Quote::Packet(q) = m.quote() {
            assert!(q.len() <= buf.len());
            assert!(
                std::ptr::eq(q.as_ptr_range().end, buf.as_ptr_range().end),
                "a quote runs to the end"
            );
        }
    }
    if let Ok(q) = parse_quoted(buf) {
        assert!(q.l4_len + HEADER_LEN <= buf.len());
        let n = crate::wire::icmpv6::quoted_l4_len(q.proto);
        assert_eq!(q.l4[..n], buf[buf.len() - q.l4_len..][..n]);
    }
}
