//! Translating an ICMP error about a NATed connection
//! (`nf_nat_icmp_reply_translation`): the quoted packet is rewritten as
//! the host it goes to sent or received it (inner addresses, ports or
//! ids, with the inner IP and layer-4 checksums), the ICMP checksum is
//! recomputed over the whole message, and the outer header is rewritten
//! like any packet of the connection.
//!
//! Example: a LAN host 192.0.2.2:40000 masqueraded as 203.0.113.1:61000
//! talks to a server. The server's port-unreachable quotes
//! 203.0.113.1:61000 -> server; at PREROUTING the quote becomes
//! 192.0.2.2:40000 -> server and the outer destination 192.0.2.2.

use crate::nat::rewrite::{copy, plan, NewEnd, RewriteError};
use crate::nat::Manip;
use crate::tuple::{proto, Dir, Tuple};
use crate::wire::ipv4::{self, Ipv4};
use crate::wire::{checksum, icmp};

/// The NAT bits of a connection's status (`IPS_SRC_NAT`, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatStatus {
    /// The source is rewritten (`IPS_SRC_NAT`).
    pub src_nat: bool,
    /// The destination is rewritten (`IPS_DST_NAT`).
    pub dst_nat: bool,
    /// Source NAT was decided, even as a null binding.
    pub src_done: bool,
    /// Destination NAT was decided.
    pub dst_done: bool,
}

/// What to do with an ICMP error related to a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpAction {
    /// Rewrite it with [`translate`].
    Translate,
    /// Let it pass unchanged: this hook's NAT does not apply to it.
    Leave,
    /// Drop it.
    Drop,
}

/// The decision at the start of `nf_nat_icmp_reply_translation`: an ICMP
/// redirect is dropped unless both bindings are decided and neither
/// rewrites anything (a redirect cannot be translated); otherwise the
/// error is translated when the connection has the NAT this hook undoes,
/// i.e. `manip` for an error in the original direction, the other manip
/// for one in the reply direction.
pub fn action(icmp_type: u8, status: NatStatus, dir: Dir, manip: Manip) -> IcmpAction {
    let untranslatable = !(status.src_done && status.dst_done) || status.src_nat || status.dst_nat;
    if icmp_type == icmp::types::REDIRECT && untranslatable {
        return IcmpAction::Drop;
    }
    let wanted = match dir {
        Dir::Original => manip,
        Dir::Reply => manip.other(),
    };
    let has = match wanted {
        Manip::Src => status.src_nat,
        Manip::Dst => status.dst_nat,
    };
    if has {
        IcmpAction::Translate
    } else {
        IcmpAction::Leave
    }
}

/// Rewrites the ICMP error in `buf` (the whole packet: the ICMP checksum
/// covers all of it) at a hook doing `manip`. `other` is the connection's
/// tuple for the direction opposite to the error's
/// (`ct->tuplehash[!dir]`): the quote is made to look like a packet of
/// it, and the outer header like a packet towards it.
///
/// Checks first (nothing is written on an error): a valid IPv4 header,
/// not a fragment, the whole packet present, ICMP, an error type, a
/// correct ICMP checksum, a quoted IPv4 header of `other`'s protocol with
/// the layer-4 bytes the rewrite needs.
pub fn translate(buf: &mut [u8], manip: Manip, other: &Tuple) -> Result<(), RewriteError> {
    let ip = Ipv4::new_checked(buf).map_err(|_| RewriteError::BadIpHeader)?;
    let hdrlen = ip.header_len();
    let total = usize::from(ip.total_len());
    if ip.version() != 4 || total > buf.len() || total < hdrlen {
        return Err(RewriteError::BadIpHeader);
    }
    if ip.is_fragment() {
        return Err(RewriteError::Fragment);
    }
    if ip.protocol() != proto::ICMP {
        return Err(RewriteError::NotIcmpError);
    }
    // Link-layer padding past the total length is not the packet's.
    let buf = buf.get_mut(..total).ok_or(RewriteError::BadIpHeader)?;
    let inner_off = hdrlen.saturating_add(icmp::HEADER_LEN);
    if total < inner_off.saturating_add(ipv4::HEADER_LEN) {
        return Err(RewriteError::BadInner);
    }
    let message = buf.get(hdrlen..total).ok_or(RewriteError::BadIpHeader)?;
    if !message.first().is_some_and(|&ty| icmp::is_error(ty)) {
        return Err(RewriteError::NotIcmpError);
    }
    if checksum(message) != 0 {
        return Err(RewriteError::BadChecksum);
    }
    let quoted =
        buf.get(inner_off..total).and_then(|q| Ipv4::new_checked(q).ok()).ok_or(RewriteError::BadInner)?;
    if quoted.protocol() != other.proto {
        return Err(RewriteError::Mismatch);
    }

    // The quote: as a packet of `other`, rewritten at the other end.
    let inner_manip = manip.other();
    let inner =
        plan(buf, inner_off, total, inner_manip, NewEnd::of(other, inner_manip), false).map_err(|e| match e {
            RewriteError::BadIpHeader | RewriteError::Truncated => RewriteError::BadInner,
            e => e,
        })?;
    // The outer header: as a packet towards `other`'s source (the inverse
    // of `other`); an ICMP error has no id to change.
    let outer_addr = match manip {
        Manip::Src => other.dst.v4_or_zero(),
        Manip::Dst => other.src.v4_or_zero(),
    };
    let outer = plan(buf, 0, total, manip, NewEnd { addr: outer_addr, key: None }, false)?;

    inner.apply(buf);
    if let Some(message) = buf.get_mut(hdrlen..total) {
        let at = icmp::field::CHECKSUM;
        if let Some(field) = message.get_mut(at..at.saturating_add(2)) {
            copy(field, &[0, 0]);
        }
        let sum = checksum(message);
        if let Some(field) = message.get_mut(at..at.saturating_add(2)) {
            copy(field, &sum.to_be_bytes());
        }
    }
    outer.apply(buf);
    Ok(())
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
    use crate::packet::{parse, Icmp as IcmpInfo, L4Info};
    use crate::tuple::L4;
    use std::vec::Vec;

    const LAN: u32 = 0xc000_0202;
    const PUB: u32 = 0xcb00_7101;
    const SERVER: u32 = 0xc633_6402;

    fn ipv4(src: u32, dst: u32, protocol: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&[0x45, 0, 0, 0, 0, 1, 0, 0, 64, protocol, 0, 0]);
        p.extend_from_slice(&src.to_be_bytes());
        p.extend_from_slice(&dst.to_be_bytes());
        let len = (20 + payload.len()) as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        let c = checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn udp_header(sport: u16, dport: u16, sum: u16) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&sport.to_be_bytes());
        h.extend_from_slice(&dport.to_be_bytes());
        h.extend_from_slice(&[0, 8]);
        h.extend_from_slice(&sum.to_be_bytes());
        h
    }

    fn icmp_error(src: u32, dst: u32, quote: &[u8]) -> Vec<u8> {
        let mut m = std::vec![3, 3, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(quote);
        let c = checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        ipv4(src, dst, proto::ICMP, &m)
    }

    fn udp_tuple(src: u32, sport: u16, dst: u32, dport: u16) -> Tuple {
        Tuple { src: crate::tuple::Addr::V4(src), dst: crate::tuple::Addr::V4(dst), proto: proto::UDP, l4: L4::Ports { sport, dport } }
    }

    #[test]
    fn port_unreachable_reaches_the_lan_host() {
        // LAN:40000 -> SERVER:53 masqueraded as PUB:61000.
        let orig = udp_tuple(LAN, 40000, SERVER, 53);
        let reply = udp_tuple(SERVER, 53, PUB, 61000);
        assert_eq!(
            action(3, NatStatus { src_nat: true, ..NatStatus::default() }, Dir::Reply, Manip::Dst),
            IcmpAction::Translate
        );
        let quote = ipv4(PUB, SERVER, proto::UDP, &udp_header(61000, 53, 0x1234));
        let mut p = icmp_error(SERVER, PUB, &quote);
        let len = p.len();
        // PREROUTING (destination manip) for an error in the reply direction.
        translate(&mut p, Manip::Dst, &orig).unwrap();
        assert_eq!(p.len(), len);
        let parsed = parse(&p, p.len()).unwrap();
        assert_eq!(parsed.tuple.dst, LAN);
        assert_eq!((parsed.l4, parsed.quoted), (L4Info::Icmp(IcmpInfo::Error), Some(orig)));
        assert_eq!(checksum(&p[..20]), 0);
        assert_eq!(checksum(&p[20..]), 0);
        assert_eq!(checksum(&p[28..48]), 0, "inner ip checksum");
        let _ = reply;
    }

    #[test]
    fn bad_input_is_refused_unchanged() {
        let orig = udp_tuple(LAN, 40000, SERVER, 53);
        let quote = ipv4(PUB, SERVER, proto::UDP, &udp_header(61000, 53, 0));
        let good = icmp_error(SERVER, PUB, &quote);
        let mut bad = good.clone();
        bad[22] ^= 1;
        assert_eq!(translate(&mut bad.clone(), Manip::Dst, &orig), Err(RewriteError::BadChecksum));
        // A quote cut inside the UDP header.
        let short = icmp_error(SERVER, PUB, &quote[..24]);
        let mut s = short.clone();
        assert_eq!(translate(&mut s, Manip::Dst, &orig), Err(RewriteError::BadInner));
        assert_eq!(s, short);
        let mut g = good.clone();
        let tcp = Tuple { proto: proto::TCP, ..orig };
        assert_eq!(translate(&mut g, Manip::Dst, &tcp), Err(RewriteError::Mismatch));
        assert_eq!(translate(&mut g[..40], Manip::Dst, &orig), Err(RewriteError::BadIpHeader));
        assert_eq!(g, good);
    }

    #[test]
    fn decisions() {
        let snat = NatStatus { src_nat: true, src_done: true, dst_done: true, ..NatStatus::default() };
        assert_eq!(action(11, snat, Dir::Reply, Manip::Dst), IcmpAction::Translate);
        assert_eq!(action(11, snat, Dir::Reply, Manip::Src), IcmpAction::Leave);
        assert_eq!(action(11, snat, Dir::Original, Manip::Src), IcmpAction::Translate);
        assert_eq!(action(5, snat, Dir::Reply, Manip::Dst), IcmpAction::Drop);
        let none = NatStatus { src_done: true, dst_done: true, ..NatStatus::default() };
        assert_eq!(action(5, none, Dir::Reply, Manip::Dst), IcmpAction::Leave);
        assert_eq!(action(5, NatStatus::default(), Dir::Reply, Manip::Dst), IcmpAction::Drop);
    }
}
