//! DCCP packets (RFC 4340 5): the generic header with 48-bit (X set) or
//! 24-bit sequence numbers, the acknowledgement subheader, the service
//! code of Request and Response, the Reset code, and the checksum over
//! the coverage CsCov names.

use crate::csum;

/// Packet type names the command line knows, with their numbers.
pub const TYPES: [(&str, u8); 10] = [
    ("request", 0),
    ("response", 1),
    ("data", 2),
    ("ack", 3),
    ("dataack", 4),
    ("closereq", 5),
    ("close", 6),
    ("reset", 7),
    ("sync", 8),
    ("syncack", 9),
];

/// What a DCCP packet is made of.
#[derive(Clone, Debug)]
pub struct Dccp {
    pub ty: u8,
    /// X: 48-bit sequence numbers (default on).
    pub x: bool,
    pub seq: u64,
    pub ack: u64,
    /// The 4-bit CsCov field (0: the checksum covers everything).
    pub cscov: u8,
    /// Data offset override, in 32-bit words.
    pub doff: Option<u8>,
}

impl Default for Dccp {
    fn default() -> Self {
        Dccp { ty: 0, x: true, seq: 1, ack: 0, cscov: 0, doff: None }
    }
}

/// A type from a name of [`TYPES`] or a number.
pub fn parse_type(s: &str) -> Result<u8, String> {
    match TYPES.iter().find(|(n, _)| *n == s) {
        Some((_, t)) => Ok(*t),
        None => s.parse::<u8>().map_err(|_| format!("--dccp-type: unknown type {s:?}")),
    }
}

/// The length of the DCCP packet `d` with `payload_len` payload bytes.
pub fn len(d: &Dccp, payload_len: usize) -> usize {
    let generic = if d.x { 16 } else { 12 };
    let sub = match d.ty {
        2 => 0,
        0 => 4,
        1 | 7 => if d.x { 12 } else { 8 },
        _ => if d.x { 8 } else { 4 },
    };
    generic + sub + payload_len
}

/// The DCCP packet with `payload`; `pseudo` is the pseudo-header sum of
/// the packet's family (protocol 33, [`len`] bytes).
pub fn packet(d: &Dccp, pseudo: u32, sport: u16, dport: u16, payload: &[u8], bad_csum: bool) -> Vec<u8> {
    let mut p = Vec::with_capacity(28 + payload.len());
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&[0, d.cscov & 0x0f, 0, 0, (d.ty & 0x0f) << 1 | u8::from(d.x)]);
    if d.x {
        p.push(0);
        p.extend_from_slice(&((d.seq >> 32) as u16).to_be_bytes());
        p.extend_from_slice(&(d.seq as u32).to_be_bytes());
    } else {
        p.extend_from_slice(&(d.seq as u32).to_be_bytes()[1..]);
    }
    match d.ty {
        2 => {}
        0 => p.extend_from_slice(&[0, 0, 0, 0]),
        _ => {
            if d.x {
                p.extend_from_slice(&[0, 0]);
                p.extend_from_slice(&((d.ack >> 32) as u16).to_be_bytes());
                p.extend_from_slice(&(d.ack as u32).to_be_bytes());
            } else {
                p.push(0);
                p.extend_from_slice(&(d.ack as u32).to_be_bytes()[1..]);
            }
            match d.ty {
                1 => p.extend_from_slice(&[0, 0, 0, 0]),
                // Reset code 2, "Aborted".
                7 => p.extend_from_slice(&[2, 0, 0, 0]),
                _ => {}
            }
        }
    }
    p[4] = d.doff.unwrap_or((p.len() / 4) as u8);
    p.extend_from_slice(payload);
    let covered = match d.cscov {
        0 => p.len(),
        c => (usize::from(c) - 1).saturating_mul(4).min(p.len()),
    };
    let mut sum = csum::finish(csum::add(pseudo, &p[..covered]));
    if bad_csum {
        sum = csum::broken(sum);
    }
    p[6..8].copy_from_slice(&sum.to_be_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout_and_checksum() {
        let d = Dccp { seq: 0x1_0000_0002, ..Dccp::default() };
        let pseudo = csum::pseudo([192, 0, 2, 1], [198, 51, 100, 2], 33, 20);
        let p = packet(&d, pseudo, 40000, 5001, b"", false);
        assert_eq!((p.len(), len(&d, 0)), (20, 20));
        assert_eq!(p[4], 5);
        assert_eq!(p[8], 1); // Request, X
        assert_eq!(&p[10..16], &[0, 1, 0, 0, 0, 2]);
        assert_eq!(csum::finish(csum::add(pseudo, &p)), 0);
        let a = Dccp { ty: 3, ack: 7, ..Dccp::default() };
        let ack = packet(&a, 0, 1, 2, b"", false);
        assert_eq!((ack.len(), ack[4], ack[23], len(&a, 0)), (24, 6, 7, 24));
        for ty in 0..10 {
            for x in [true, false] {
                let d = Dccp { ty, x, ..Dccp::default() };
                assert_eq!(packet(&d, 0, 1, 2, b"abc", false).len(), len(&d, 3), "{ty} {x}");
            }
        }
        assert_eq!(parse_type("closereq"), Ok(5));
        assert!(parse_type("x").is_err());
    }
}
