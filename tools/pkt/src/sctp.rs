//! SCTP packets: the common header, chunks with sensible default bodies,
//! and the CRC32c checksum (RFC 9260 appendix B).

/// One chunk: type, flags and body (padded to 4 bytes when built).
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub ty: u8,
    pub flags: u8,
    pub body: Vec<u8>,
}

/// Chunk names the command line knows, with their type numbers.
pub const NAMES: [(&str, u8); 13] = [
    ("data", 0),
    ("init", 1),
    ("init-ack", 2),
    ("sack", 3),
    ("heartbeat", 4),
    ("heartbeat-ack", 5),
    ("abort", 6),
    ("shutdown", 7),
    ("shutdown-ack", 8),
    ("error", 9),
    ("cookie-echo", 10),
    ("cookie-ack", 11),
    ("shutdown-complete", 14),
];

/// A chunk from `TYPE[:FLAGS][:HEX]`: TYPE a name of [`NAMES`] or a
/// number, FLAGS a number or `t` (the T bit), HEX the body (default: the
/// type's usual fixed part; INIT and INIT ACK carry `init_tag`).
pub fn parse_chunk(s: &str, init_tag: u32) -> Result<Chunk, String> {
    let mut parts = s.split(':');
    let name = parts.next().unwrap_or_default();
    let ty = match NAMES.iter().find(|(n, _)| *n == name) {
        Some((_, t)) => *t,
        None => name.parse::<u8>().map_err(|_| format!("--chunk: unknown chunk type {name:?}"))?,
    };
    let flags = match parts.next() {
        None | Some("") => 0,
        Some("t") | Some("T") => 1,
        Some(f) => f.parse::<u8>().map_err(|_| format!("--chunk: bad flags {f:?}"))?,
    };
    let body = match parts.next() {
        Some(h) => crate::cli::hex(h)?,
        None => default_body(ty, init_tag),
    };
    if parts.next().is_some() {
        return Err(format!("--chunk: want TYPE[:FLAGS][:HEX], got {s:?}"));
    }
    Ok(Chunk { ty, flags, body })
}

/// The usual fixed part of a chunk of type `ty`.
fn default_body(ty: u8, init_tag: u32) -> Vec<u8> {
    match ty {
        // TSN 1, stream 0, sequence 0, PPID 0, 4 bytes of data.
        0 => vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, b'd', b'a', b't', b'a'],
        // Initiate tag, a_rwnd 65536, 10 streams each way, initial TSN 1.
        1 | 2 => {
            let mut b = init_tag.to_be_bytes().to_vec();
            b.extend_from_slice(&[0, 1, 0, 0, 0, 10, 0, 10, 0, 0, 0, 1]);
            b
        }
        // Cumulative TSN ack 1, a_rwnd 65536, no gaps.
        3 => vec![0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0],
        // A heartbeat info parameter of 4 bytes.
        4 | 5 => vec![0, 1, 0, 8, 1, 2, 3, 4],
        // Cumulative TSN ack 1.
        7 => vec![0, 0, 0, 1],
        // An 8-byte cookie.
        10 => vec![0xc0, 0x0c, 0x1e, 0, 0, 0, 0, 1],
        _ => Vec::new(),
    }
}

/// The SCTP packet: common header with tag `vtag`, the chunks, and the
/// CRC32c (broken on request).
pub fn packet(sport: u16, dport: u16, vtag: u32, chunks: &[Chunk], bad_csum: bool) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&vtag.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    for c in chunks {
        p.push(c.ty);
        p.push(c.flags);
        let len = u16::try_from(4 + c.body.len()).unwrap_or(u16::MAX);
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&c.body);
        p.resize(p.len().next_multiple_of(4), 0);
    }
    let mut sum = crc32c(&p);
    if bad_csum {
        sum ^= 1;
    }
    // Linux stores the CRC in little-endian byte order (RFC 9260 B).
    p[8..12].copy_from_slice(&sum.to_le_bytes());
    p
}

/// CRC32c (Castagnoli, reflected), as SCTP uses it.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn chunks_from_the_command_line() {
        let c = parse_chunk("init", 7).unwrap();
        assert_eq!((c.ty, c.flags, &c.body[..4]), (1, 0, &[0, 0, 0, 7][..]));
        assert_eq!(parse_chunk("abort:t", 0).unwrap(), Chunk { ty: 6, flags: 1, body: vec![] });
        assert_eq!(parse_chunk("200:3:abcd", 0).unwrap(), Chunk { ty: 200, flags: 3, body: vec![0xab, 0xcd] });
        assert!(parse_chunk("bogus", 0).is_err());
        let p = packet(1, 2, 3, &[parse_chunk("data", 0).unwrap()], false);
        assert_eq!(p.len(), 12 + 20);
        // The CRC over the packet with the field zeroed matches.
        let mut z = p.clone();
        z[8..12].copy_from_slice(&[0; 4]);
        assert_eq!(p[8..12], crc32c(&z).to_le_bytes());
    }
}
