//! Rewriting a packet's address and port (or ICMP id) for NAT, as 6.12's
//! `nf_nat_ipv4_manip_pkt` and the per-protocol `*_manip_pkt` do, over a
//! byte slice, with incremental checksum updates:
//! - the IPv4 header checksum for the address;
//! - TCP: the checksum for the pseudo-header address and the port, when
//!   the packet holds a full 20-byte header past that point (an ICMP
//!   error's quote may hold only the 8 bytes with the ports; then only
//!   the port changes);
//! - UDP: likewise, unless the checksum is 0 (none); an updated checksum
//!   of 0 is written as 0xffff;
//! - ICMP queries and answers: the id and the ICMP checksum (as in 6.12,
//!   an echo reply left all zero gets checksum 0, not 0xffff); other ICMP
//!   types are left as they are;
//! - other protocols: only the address.
//!
//! A non-first fragment carries no layer-4 header: only its IP header
//! changes. (6.12 never sees one: fragments are reassembled before
//! conntrack and NAT.)
//!
//! Every check runs before the first byte is written: on an error the
//! bytes are unchanged.

use core::fmt;

use crate::nat::checksum::{replace2, replace4};
use crate::nat::range::manip_key;
use crate::nat::Manip;
use crate::tuple::{icmp_inverse_type, proto, Tuple};
use crate::wire::ipv4::{self, Ipv4};
use crate::wire::{dccp, icmp, read_u16, read_u8, tcp, udp};

/// Why a packet could not be rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewriteError {
    /// The IPv4 header is truncated, not version 4, or its lengths do not
    /// fit the packet.
    BadIpHeader,
    /// The layer-4 header the rewrite needs is not all there.
    Truncated,
    /// The target tuple is for another protocol than the packet.
    Mismatch,
    /// An ICMP error to translate is a fragment.
    Fragment,
    /// Not an ICMP error.
    NotIcmpError,
    /// The ICMP error's checksum is wrong.
    BadChecksum,
    /// The header the ICMP error quotes is truncated or malformed.
    BadInner,
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RewriteError::BadIpHeader => "bad ip header",
            RewriteError::Truncated => "truncated layer-4 header",
            RewriteError::Mismatch => "tuple of another protocol",
            RewriteError::Fragment => "fragmented icmp error",
            RewriteError::NotIcmpError => "not an icmp error",
            RewriteError::BadChecksum => "bad icmp checksum",
            RewriteError::BadInner => "bad quoted header",
        })
    }
}

/// A write of a big-endian 16- or 32-bit field at an offset (kept small:
/// a plan is built and copied once per rewritten packet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Edit {
    at: usize,
    /// The new bytes: `wide` all four, else the first two.
    bytes: [u8; 4],
    wide: bool,
}

impl Edit {
    fn u16(at: usize, v: u16) -> Edit {
        let [a, b] = v.to_be_bytes();
        Edit { at, bytes: [a, b, 0, 0], wide: false }
    }

    fn u32(at: usize, v: u32) -> Edit {
        Edit { at, bytes: v.to_be_bytes(), wide: true }
    }
}

/// The writes of one header rewrite, checked to fit the buffer they were
/// planned for: a key, a layer-4 checksum, an address, the IP checksum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Edits {
    list: [Edit; 4],
    n: usize,
}

impl Edits {
    fn push(&mut self, e: Edit) {
        if let Some(slot) = self.list.get_mut(self.n) {
            *slot = e;
            self.n = self.n.saturating_add(1);
        }
    }

    /// Writes the edits (planned for this buffer, so they fit): one
    /// store each rather than a byte loop.
    pub(crate) fn apply(&self, buf: &mut [u8]) {
        for e in self.list.iter().take(self.n) {
            let Some(dst) = buf.get_mut(e.at..) else {
                continue;
            };
            if e.wide {
                if let Some(d) = dst.first_chunk_mut::<4>() {
                    *d = e.bytes;
                }
            } else if let (Some(d), Some(b)) = (dst.first_chunk_mut::<2>(), e.bytes.first_chunk::<2>()) {
                *d = *b;
            }
        }
    }
}

/// Copies `src` into `dst` byte by byte, as far as both go: unlike
/// `copy_from_slice`, without a panic path for unequal lengths (the kernel
/// build rejects code that could panic).
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

/// What one end becomes: its address and, for protocols with one, its
/// port or ICMP id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NewEnd {
    pub(crate) addr: u32,
    pub(crate) key: Option<u16>,
}

impl NewEnd {
    /// The end `manip` rewrites, taken from `target` (the tuple the packet
    /// should carry afterwards).
    pub(crate) fn of(target: &Tuple, manip: Manip) -> NewEnd {
        let addr = match manip {
            Manip::Src => target.src.v4_or_zero(),
            Manip::Dst => target.dst.v4_or_zero(),
        };
        NewEnd { addr, key: manip_key(target, manip) }
    }
}

/// Whether an ICMP type carries an id (`icmp_manip_pkt`'s list).
fn icmp_has_id(ty: u8) -> bool {
    icmp_inverse_type(ty).is_some()
}

/// Plans `nf_nat_ipv4_manip_pkt` for the IPv4 header at `ip_off` in
/// `buf`, whose packet ends at `pkt_end` (what `skb->len` is to the
/// kernel: it decides whether a TCP checksum can be reached).
pub(crate) fn plan(
    buf: &[u8],
    ip_off: usize,
    pkt_end: usize,
    manip: Manip,
    new: NewEnd,
    partial: bool,
) -> Result<Edits, RewriteError> {
    let ip = buf.get(ip_off..).and_then(|b| Ipv4::new_checked(b).ok()).ok_or(RewriteError::BadIpHeader)?;
    plan_ip(buf, &ip, ip_off, pkt_end, manip, new, partial)
}

/// [`plan`] with the header at `ip_off` already checked as `ip` (a view of
/// the same bytes, whose buffer may run past `buf`'s end).
fn plan_ip(
    buf: &[u8],
    ip: &Ipv4<'_>,
    ip_off: usize,
    pkt_end: usize,
    manip: Manip,
    new: NewEnd,
    partial: bool,
) -> Result<Edits, RewriteError> {
    if ip.version() != 4 {
        return Err(RewriteError::BadIpHeader);
    }
    let (addr_at, old_addr) = match manip {
        Manip::Src => (ipv4::field::SRC, ip.src()),
        Manip::Dst => (ipv4::field::DST, ip.dst()),
    };
    let hdroff = ip_off.saturating_add(ip.header_len());
    let mut edits = Edits::default();
    if ip.frag_offset() == 0 {
        let l4 = L4Edit { protocol: ip.protocol(), hdroff, pkt_end, manip, old_addr, new, partial };
        plan_l4(buf, &l4, &mut edits)?;
    }
    edits.push(Edit::u32(ip_off.saturating_add(addr_at), new.addr));
    let check = replace4(ip.checksum(), old_addr, new.addr);
    edits.push(Edit::u16(ip_off.saturating_add(ipv4::field::CHECKSUM), check));
    Ok(edits)
}

/// What [`plan_l4`] changes: the header at `hdroff` of a packet ending at
/// `pkt_end`, whose end `manip` goes from `old_addr` to `new`. `partial`:
/// the checksum is left to the device (`CHECKSUM_PARTIAL`), so its field
/// holds only the pseudo-header sum, uncomplemented, which follows the
/// address and not the ports (`inet_proto_csum_replace*`).
struct L4Edit {
    protocol: u8,
    hdroff: usize,
    pkt_end: usize,
    manip: Manip,
    old_addr: u32,
    new: NewEnd,
    partial: bool,
}

impl L4Edit {
    /// The layer-4 checksum `check` after the address and port change.
    fn checksum(&self, check: u16, old_port: u16, new_port: u16) -> u16 {
        if self.partial {
            !replace4(!check, self.old_addr, self.new.addr)
        } else {
            replace2(replace4(check, self.old_addr, self.new.addr), old_port, new_port)
        }
    }
}

/// The layer-4 part of [`plan`].
fn plan_l4(buf: &[u8], l: &L4Edit, edits: &mut Edits) -> Result<(), RewriteError> {
    let L4Edit { protocol, hdroff, pkt_end, manip, new, .. } = *l;
    let have = |n: usize| hdroff.checked_add(n).is_some_and(|end| end <= buf.len());
    let port_at = match manip {
        Manip::Src => hdroff,
        Manip::Dst => hdroff.saturating_add(2),
    };
    match protocol {
        proto::TCP | proto::DCCP => {
            let key = new.key.ok_or(RewriteError::Mismatch)?;
            // Only a full header has the checksum (6.12: "TCP connection
            // tracking guarantees" the first 8 bytes; DCCP's the same).
            let (hlen, check_at) = if protocol == proto::TCP {
                (tcp::HEADER_LEN, tcp::field::CHECKSUM)
            } else {
                (dccp::HEADER_LEN, dccp::field::CHECKSUM)
            };
            let full = hdroff.checked_add(hlen).is_some_and(|end| pkt_end >= end);
            if !have(if full { hlen } else { 8 }) {
                return Err(RewriteError::Truncated);
            }
            let old = read_u16(buf, port_at);
            edits.push(Edit::u16(port_at, key));
            if full {
                let at = hdroff.saturating_add(check_at);
                edits.push(Edit::u16(at, l.checksum(read_u16(buf, at), old, key)));
            }
        }
        proto::UDP | proto::UDPLITE => {
            let key = new.key.ok_or(RewriteError::Mismatch)?;
            if !have(udp::HEADER_LEN) {
                return Err(RewriteError::Truncated);
            }
            let old = read_u16(buf, port_at);
            let at = hdroff.saturating_add(udp::field::CHECKSUM);
            let check = read_u16(buf, at);
            // UDP-Lite always has a checksum.
            if check != 0 || l.partial || protocol == proto::UDPLITE {
                let c = l.checksum(check, old, key);
                // CSUM_MANGLED_0: 0 would mean "no checksum".
                edits.push(Edit::u16(at, if c == 0 { 0xffff } else { c }));
            }
            edits.push(Edit::u16(port_at, key));
        }
        proto::ICMP => {
            if !have(icmp::HEADER_LEN) {
                return Err(RewriteError::Truncated);
            }
            if icmp_has_id(read_u8(buf, hdroff.saturating_add(icmp::field::TYPE))) {
                let key = new.key.ok_or(RewriteError::Mismatch)?;
                let id_at = hdroff.saturating_add(icmp::field::IDENT);
                let at = hdroff.saturating_add(icmp::field::CHECKSUM);
                if !l.partial {
                    edits.push(Edit::u16(at, replace2(read_u16(buf, at), read_u16(buf, id_at), key)));
                }
                edits.push(Edit::u16(id_at, key));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Rewrites the end `manip` of the packet whose first bytes are `head`
/// (the whole packet is `frame_len` bytes long) so that it carries
/// `target`'s address and port or id at that end: `nf_nat_manip_pkt`
/// with `target` the inverse of the other direction's tuple. The headers
/// to change must lie in `head`; on an error nothing is written.
pub fn manip_packet(
    head: &mut [u8],
    frame_len: usize,
    manip: Manip,
    target: &Tuple,
) -> Result<(), RewriteError> {
    manip_packet_partial(head, frame_len, manip, target, false)
}

/// [`manip_packet`] for a packet whose layer-4 checksum is left to the
/// device when `partial` (`CHECKSUM_PARTIAL`, as locally generated TCP
/// and UDP crossing veth are): its checksum field then follows the
/// pseudo-header address only.
pub fn manip_packet_partial(
    head: &mut [u8],
    frame_len: usize,
    manip: Manip,
    target: &Tuple,
    partial: bool,
) -> Result<(), RewriteError> {
    manip_end(head, frame_len, manip, target.proto, NewEnd::of(target, manip), partial).map(|_| ())
}

/// [`manip_packet_partial`] for a target given as the protocol and the
/// end `new` it makes: the general path of [`crate::nat::fast::rewrite`].
/// Whether the address changed.
pub(crate) fn manip_end(
    head: &mut [u8],
    frame_len: usize,
    manip: Manip,
    protocol: u8,
    new: NewEnd,
    partial: bool,
) -> Result<bool, RewriteError> {
    let ip = Ipv4::new_checked(head).map_err(|_| RewriteError::BadIpHeader)?;
    let total = usize::from(ip.total_len());
    if total < ip.header_len() || total > frame_len {
        return Err(RewriteError::BadIpHeader);
    }
    if ip.protocol() != protocol {
        return Err(RewriteError::Mismatch);
    }
    let old_addr = match manip {
        Manip::Src => ip.src(),
        Manip::Dst => ip.dst(),
    };
    // Bytes past the total length (link-layer padding) are not the
    // packet's: the kernel has trimmed them away.
    let end = total.min(head.len());
    let pkt = head.get(..end).ok_or(RewriteError::BadIpHeader)?;
    // The header lies within `end` (total >= header length), so `ip`
    // views the same header bytes as `pkt` holds.
    let edits = plan_ip(pkt, &ip, 0, total, manip, new, partial)?;
    edits.apply(head.get_mut(..end).ok_or(RewriteError::BadIpHeader)?);
    Ok(old_addr != new.addr)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;
    use crate::packet::parse;
    use crate::tuple::L4;
    use crate::wire::checksum;
    use crate::wire::tests::{TCP_ACK_SACK, TCP_SYN, UDP_DNS};

    const PUB: u32 = 0xcb00_7101;

    fn whole(p: &mut [u8], manip: Manip, target: &Tuple) -> Result<(), RewriteError> {
        let n = p.len();
        manip_packet(p, n, manip, target)
    }

    fn l4_sum_ok(pkt: &[u8]) -> bool {
        let ihl = usize::from(pkt[0] & 0xf) * 4;
        let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
        let l4 = &pkt[ihl..total];
        let mut pseudo = std::vec::Vec::new();
        pseudo.extend_from_slice(&pkt[12..20]);
        pseudo.extend_from_slice(&[0, pkt[9]]);
        pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(l4);
        checksum(&pseudo) == 0
    }

    fn retarget(pkt: &[u8], manip: Manip, addr: u32, port: u16) -> Tuple {
        let t = parse(pkt, pkt.len()).unwrap().tuple;
        let L4::Ports { sport, dport } = t.l4 else { unreachable!() };
        match manip {
            Manip::Src => Tuple { src: crate::tuple::Addr::V4(addr), l4: L4::Ports { sport: port, dport }, ..t },
            Manip::Dst => Tuple { dst: crate::tuple::Addr::V4(addr), l4: L4::Ports { sport, dport: port }, ..t },
        }
    }

    /// The pseudo-header sum a device finishes (`CHECKSUM_PARTIAL`): the
    /// ones' complement sum of addresses, protocol and length, folded,
    /// not complemented.
    fn pseudo_sum(pkt: &[u8]) -> u16 {
        let ihl = usize::from(pkt[0] & 0xf) * 4;
        let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
        let mut pseudo = std::vec::Vec::new();
        pseudo.extend_from_slice(&pkt[12..20]);
        pseudo.extend_from_slice(&[0, pkt[9]]);
        pseudo.extend_from_slice(&((total - ihl) as u16).to_be_bytes());
        !checksum(&pseudo)
    }

    #[test]
    fn partial_checksums_follow_the_address_only() {
        for (pkt, at) in [(&TCP_SYN[..], 20 + 16), (&UDP_DNS[..], 20 + 6)] {
            let mut p = pkt.to_vec();
            let before = pseudo_sum(&p);
            p[at..at + 2].copy_from_slice(&before.to_be_bytes());
            let target = retarget(pkt, Manip::Src, PUB, 61000);
            manip_packet_partial(&mut p, pkt.len(), Manip::Src, &target, true).unwrap();
            assert_eq!(checksum(&p[..20]), 0);
            let field = u16::from_be_bytes([p[at], p[at + 1]]);
            assert_eq!(field, pseudo_sum(&p), "the device's sum of the new header");
            assert_ne!(field, before);
            assert_eq!(parse(&p, p.len()).unwrap().tuple, target);
        }
    }

    #[test]
    fn udplite_and_dccp_ports_and_checksums() {
        // UDP-Lite, full coverage, and a DCCP Request (checksums over the
        // pseudo-header and everything).
        let with_sum = |proto: u8, mut l4: std::vec::Vec<u8>, at: usize| {
            let mut p = std::vec![0x45, 0, 0, (20 + l4.len()) as u8, 0, 0, 0x40, 0, 64, proto, 0, 0];
            p.extend_from_slice(&0xc000_0201u32.to_be_bytes());
            p.extend_from_slice(&0xc633_6402u32.to_be_bytes());
            let ip_sum = checksum(&p);
            p[10..12].copy_from_slice(&ip_sum.to_be_bytes());
            let sum = {
                let mut ps = p[12..20].to_vec();
                ps.extend_from_slice(&[0, proto]);
                ps.extend_from_slice(&(l4.len() as u16).to_be_bytes());
                ps.extend_from_slice(&l4);
                checksum(&ps)
            };
            l4[at..at + 2].copy_from_slice(&sum.to_be_bytes());
            p.truncate(20);
            p.extend_from_slice(&l4);
            p
        };
        let ulite = with_sum(proto::UDPLITE, [&[0x9c, 0x40, 0, 53, 0, 0, 0, 0][..], b"hi"].concat(), 6);
        let dccp_req = with_sum(
            proto::DCCP,
            std::vec![0x9c, 0x40, 0x13, 0x89, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 42],
            6,
        );
        for pkt in [ulite, dccp_req] {
            assert!(l4_sum_ok(&pkt));
            let mut p = pkt.clone();
            let target = retarget(&pkt, Manip::Src, PUB, 61000);
            whole(&mut p, Manip::Src, &target).unwrap();
            assert!(l4_sum_ok(&p));
            assert_eq!(parse(&p, p.len()).unwrap().tuple, target);
        }
    }

    #[test]
    fn tcp_source_nat() {
        for pkt in [&TCP_SYN[..], &TCP_ACK_SACK[..]] {
            let mut p = pkt.to_vec();
            assert!(l4_sum_ok(&p));
            let target = retarget(pkt, Manip::Src, PUB, 61000);
            manip_packet(&mut p, pkt.len(), Manip::Src, &target).unwrap();
            assert_eq!(checksum(&p[..20]), 0);
            assert!(l4_sum_ok(&p));
            assert_eq!(parse(&p, p.len()).unwrap().tuple, target);
        }
    }

    #[test]
    fn udp_destination_nat_and_zero_checksum() {
        let mut p = UDP_DNS.to_vec();
        let target = retarget(&UDP_DNS, Manip::Dst, 0x0a00_0001, 5353);
        whole(&mut p, Manip::Dst, &target).unwrap();
        assert!(l4_sum_ok(&p));
        assert_eq!(parse(&p, p.len()).unwrap().tuple, target);
        // No checksum stays none.
        let mut z = UDP_DNS.to_vec();
        z[26] = 0;
        z[27] = 0;
        whole(&mut z, Manip::Dst, &target).unwrap();
        assert_eq!(&z[26..28], &[0, 0]);
        assert_eq!(checksum(&z[..20]), 0);
    }

    #[test]
    fn udp_checksum_of_zero_is_sent_as_ffff() {
        let check = u16::from_be_bytes([UDP_DNS[26], UDP_DNS[27]]);
        let old_port = u16::from_be_bytes([UDP_DNS[22], UDP_DNS[23]]);
        let after_addr = replace4(check, 0xc633_6435, PUB);
        let port = (0..=u16::MAX).find(|&p| replace2(after_addr, old_port, p) == 0).unwrap();
        let mut p = UDP_DNS.to_vec();
        whole(&mut p, Manip::Dst, &retarget(&UDP_DNS, Manip::Dst, PUB, port)).unwrap();
        assert_eq!(&p[26..28], &[0xff, 0xff]);
        assert!(l4_sum_ok(&p));
    }

    /// RFC 1624's equation 3, like 6.12's `inet_proto_csum_replace2`,
    /// gives 0 instead of 0xffff when everything the checksum covers ends
    /// up zero: an echo reply with id, sequence and data all 0. Kept as the
    /// kernel does it; it is the one case where a rewritten checksum does
    /// not verify.
    #[test]
    fn all_zero_echo_reply_is_updated_as_the_kernel_does() {
        let mut p = std::vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2];
        let c = checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0xff, 0xfe, 0, 1, 0, 0]);
        let target = Tuple {
            src: crate::tuple::Addr::V4(0xc000_0201),
            dst: crate::tuple::Addr::V4(0xc633_6402),
            proto: proto::ICMP,
            l4: L4::Icmp { ty: 0, code: 0, id: 0 },
        };
        whole(&mut p, Manip::Src, &target).unwrap();
        assert_eq!(&p[20..], &[0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn errors_leave_bytes_alone() {
        let target = retarget(&TCP_SYN, Manip::Src, PUB, 1);
        // Cut inside the TCP header.
        let mut p = TCP_SYN[..30].to_vec();
        assert_eq!(manip_packet(&mut p, TCP_SYN.len(), Manip::Src, &target), Err(RewriteError::Truncated));
        assert_eq!(p, &TCP_SYN[..30]);
        let mut p = TCP_SYN.to_vec();
        assert_eq!(manip_packet(&mut p, 40, Manip::Src, &target), Err(RewriteError::BadIpHeader));
        let udp_target = Tuple { proto: proto::UDP, ..target };
        assert_eq!(whole(&mut p, Manip::Src, &udp_target), Err(RewriteError::Mismatch));
        assert_eq!(p, TCP_SYN);
    }

    #[test]
    fn padding_is_not_part_of_the_packet() {
        // Total length 36: the UDP header is cut at 16 bytes, padding follows.
        let mut p = UDP_DNS.to_vec();
        p[2] = 0;
        p[3] = 24;
        p[10] = 0;
        p[11] = 0;
        let c = checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let before = p.clone();
        let target = retarget(&UDP_DNS, Manip::Dst, PUB, 1);
        assert_eq!(whole(&mut p, Manip::Dst, &target), Err(RewriteError::Truncated));
        assert_eq!(p, before);
    }

    #[test]
    fn non_first_fragment_changes_only_the_ip_header() {
        let mut p = TCP_SYN.to_vec();
        p[6] = 0x00;
        p[7] = 0x10; // offset 128 bytes
        p[10] = 0;
        p[11] = 0;
        let c = checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let before = p.clone();
        let target = retarget(&TCP_SYN, Manip::Src, PUB, 1);
        whole(&mut p, Manip::Src, &target).unwrap();
        assert_eq!(&p[20..], &before[20..]);
        assert_eq!(u32::from_be_bytes([p[12], p[13], p[14], p[15]]), PUB);
        assert_eq!(checksum(&p[..20]), 0);
    }
}
