//! Fuzzes `packet::parse` with arbitrary bytes and frame lengths.
//!
//! Input: two bytes little-endian `extra`, then the packet's first bytes
//! (`head`). It is parsed with `frame_len = head.len() + extra` and with
//! `frame_len = extra`, and must never panic. On success the summary must
//! be consistent with the header bytes, and parsing only the first
//! `MAX_HEAD_LEN` bytes must give the same answer (the kernel passes a
//! prefix of the packet).
#![no_main]

use ip_conntrack::packet::{parse, L4Info};
use ip_conntrack::wire::MAX_HEAD_LEN;
use libfuzzer_sys::fuzz_target;

fn check(head: &[u8], frame_len: usize) {
    let full = parse(head, frame_len);
    let prefix = &head[..head.len().min(MAX_HEAD_LEN)];
    assert_eq!(parse(prefix, frame_len), full, "a {MAX_HEAD_LEN}-byte prefix parses differently");
    let Ok(p) = full else { return };
    let ip_len = usize::from(p.ip_len);
    assert!(ip_len <= frame_len, "total length {ip_len} beyond frame {frame_len}");
    assert!(ip_len >= 20);
    assert_eq!(p.tuple.proto, head[9]);
    assert_eq!(p.tuple.src, u32::from_be_bytes([head[12], head[13], head[14], head[15]]));
    if let L4Info::Tcp(seg) = p.l4 {
        let ihl = usize::from(head[0] & 0x0f) * 4;
        assert!(seg.payload_len as usize + ihl + 20 <= ip_len);
        assert!(seg.wscale.map_or(true, |w| w <= 14));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((extra, head)) = data.split_first_chunk::<2>() else { return };
    let extra = usize::from(u16::from_le_bytes(*extra));
    check(head, head.len() + extra);
    check(head, extra);
});
