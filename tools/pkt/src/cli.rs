//! Command line: turns `--flag value` pairs into a `build::Spec` and a way
//! to deliver it.

use std::net::IpAddr;

use crate::build::{self, Spec, PROTO_DCCP, PROTO_ICMP, PROTO_SCTP, PROTO_TCP, PROTO_UDP, PROTO_UDPLITE, TCP_FLAGS};
use crate::build6::{self, Ext, ExtKind, Ip6};

pub const USAGE: &str = "\
usage: pkt --src ADDR --dst ADDR [options]

Builds IPv4 or IPv6 packets (the family of the addresses) and sends them through a raw IP socket (default) or,
with --iface, as Ethernet frames on that interface (AF_PACKET), or prints
them with --dump.

delivery:
  --iface NAME        send as Ethernet frames on NAME (bytes reach the wire
                      unchanged; see README.md for what the raw socket rewrites)
  --dst-mac MAC       destination MAC with --iface (default ff:ff:ff:ff:ff:ff;
                      a router only forwards frames sent to its own MAC)
  --count N           send the packet N times (default 1)
  --netns NAME        send from network namespace NAME (/run/netns/NAME, as
                      `ip netns exec NAME` would, without its cost)
  --batch             send one packet per line of standard input: a line's
                      options follow (and override) the command line's;
                      blank lines and lines starting with # are skipped
  --dump              print the IP packet as hex instead of sending
  -v, --verbose       say what was sent

IPv4:
  --src ADDR, --dst ADDR   addresses (both required)
  --proto P           tcp, udp, icmp, sctp, dccp, udplite or a number
                      (default tcp)
  --tos N  --ttl N (64)  --id N (0: the raw socket picks one)
  --df  --mf          set Don't Fragment / More Fragments
  --frag-offset N     fragment offset in 8-byte units
  --frag-slice S:L    send only bytes S..S+L of the layer-4 data (S a multiple
                      of 8) as that fragment: offset S/8, MF unless it ends
                      the datagram; the datagram is built whole first
  --ihl N             header length field override (32-bit words)
  --total-length N    total length field override
  --ip-options HEX    raw option bytes (zero-padded to a multiple of 4)
  --bad-ip-csum       break the header checksum (survives only with --iface)
  --truncate N        send only the first N bytes of the packet

IPv6 (--src and --dst IPv6 addresses; --tos is the traffic class, --ttl the
hop limit, --proto icmp means ICMPv6; --mf, --frag-offset, --frag-slice and
--id (32 bits) add a fragment header after the --ext chain):
  --flow-label N      flow label (20 bits)
  --payload-length N  payload length field override
  --next-header N     the fixed header's next-header field override
  --ext SPEC          an extension header, in order (repeatable): KIND with
                      comma-separated KEY=VALUE overrides. Kinds: hop, dest,
                      rt (type=N segleft=N), ah, frag (off=N m=0|1 id=N),
                      raw (type=N hex=BYTES: exactly those bytes). Keys for
                      all: len=N (bytes built; default 8, ah 16),
                      hdrlen=N (length field), next=N (next-header field).
                      e.g. --ext hop --ext dest,len=16 --ext rt,segleft=0
                      --ext dest,next=60 (names a header that is not there)
  --inner-ext SPEC    the same for the packet an ICMPv6 error quotes

TCP / UDP:
  --sport N (12345)  --dport N (80)
  --seq N (1000)  --ack N (0)  --window N (64240)  --urgent N (0)
  --flags LETTERS     any of F S R P A U E C, 'none', or the flag byte as a
                      number (default S)
  --doff N            data offset field override (32-bit words)
  --mss N  --wscale N  --sackperm    TCP options
  --tcp-options HEX   raw TCP option bytes, after the named ones
  --udp-len N         UDP length field override

UDP-Lite (--proto udplite; ports as above):
  --udp-len N         the checksum coverage field (default 0: everything)
  --csum-proto N      protocol number in the checksum's pseudo-header
                      (default 136; Linux's conntrack verifies with 17)

SCTP (--proto sctp; ports as above):
  --vtag N            verification tag (default 0)
  --init-tag N        initiate tag of INIT / INIT ACK chunks (default 1)
  --chunk T[:F][:HEX] a chunk (repeatable, in order): T one of data, init,
                      init-ack, sack, heartbeat, heartbeat-ack, abort,
                      shutdown, shutdown-ack, error, cookie-echo, cookie-ack,
                      shutdown-complete or a number; F flags (a number, or t
                      for the T bit); HEX the body (default: the usual fixed
                      part). A payload goes in one more DATA chunk.
  --bad-csum breaks the CRC32c.

DCCP (--proto dccp; ports as above):
  --dccp-type T       request, response, data, ack, dataack, closereq, close,
                      reset, sync, syncack or a number (default request)
  --dccp-seq N (1)  --dccp-ack N (0)
  --dccp-short        24-bit sequence numbers (X clear)
  --cscov N           the CsCov field (0: the checksum covers everything)
  --dccp-doff N       data offset field override (32-bit words)

ICMP / ICMPv6:
  --icmp-type N (8; ICMPv6 128)  --icmp-code N (0)  --icmp-id N (1)  --icmp-seq N (1)
  Error types (3, 4, 5, 11, 12; ICMPv6 0-127) quote an inner packet instead
  of a payload (ICMPv6: the whole inner packet, at most 1232 bytes):
  --inner-proto P (tcp)  --inner-src ADDR (outer dst)  --inner-dst ADDR (outer src)
  --inner-sport N  --inner-dport N  --inner-seq N  --inner-flags LETTERS
  --inner-icmp-type N (8; ICMPv6 128)  --inner-icmp-code N  --inner-icmp-id N  --inner-icmp-seq N
  --inner-truncate N  bytes of the inner packet quoted (default: IP header + 8)

payload:
  --payload-hex HEX   payload bytes, e.g. 48656c6c6f
  --payload TEXT      payload as text
  --payload-len N     N bytes of 'x'
  --bad-csum          break the TCP/UDP/ICMP checksum

Numbers are decimal or 0x-prefixed hex.";

/// How the built packet leaves the tool.
#[derive(Debug, PartialEq)]
pub enum Delivery {
    Dump,
    Raw,
    Packet { iface: String, dst_mac: [u8; 6] },
}

#[derive(Debug)]
pub struct Args {
    pub spec: Spec,
    pub delivery: Delivery,
    pub count: u32,
    pub verbose: bool,
    /// Network namespace to send from (a name under /run/netns).
    pub netns: Option<String>,
}

/// Splits `--batch` off the command line: the remaining arguments, and
/// whether it was there.
pub fn take_batch(argv: &[String]) -> (Vec<String>, bool) {
    let rest: Vec<String> = argv.iter().filter(|a| *a != "--batch").cloned().collect();
    let batch = rest.len() != argv.len();
    (rest, batch)
}

/// The arguments of one `--batch` line after the command line's: `None`
/// for a blank line or a comment.
pub fn batch_line(base: &[String], line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    Some(base.iter().cloned().chain(line.split_whitespace().map(String::from)).collect())
}

/// Parses the arguments after the program name. `Err` holds a message for
/// the user; `Ok(None)` means help was asked for.
pub fn parse(argv: &[String]) -> Result<Option<Args>, String> {
    let mut spec = Spec::default();
    let mut inner = Spec { truncate: None, ..Spec::default() };
    let mut inner_src = None;
    let mut inner_dst = None;
    let (mut src, mut dst) = (None, None);
    let mut iface = None;
    let mut netns = None;
    let mut dst_mac = [0xff; 6];
    let mut dump = false;
    let mut count = 1;
    let mut verbose = false;
    let (mut icmp_id, mut icmp_seq) = (None, None);
    let mut init_tag = 1u32;
    let mut chunks: Vec<String> = Vec::new();
    let (mut icmp_type, mut inner_icmp_type) = (None, None);
    let mut id: u32 = 0;
    let mut v6 = Ip6::default();
    let mut inner_ext = Vec::new();

    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().cloned().ok_or(format!("{flag} needs a value")),
            }
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "-v" | "--verbose" => verbose = true,
            "--dump" => dump = true,
            "--iface" => iface = Some(value()?),
            "--netns" => netns = Some(value()?),
            "--dst-mac" => dst_mac = mac(&value()?)?,
            "--count" => count = num(flag, &value()?)?,
            "--batch" => return Err("--batch: give it once, on the command line".into()),

            "--src" => src = Some(addr(&value()?)?),
            "--dst" => dst = Some(addr(&value()?)?),
            "--proto" => spec.proto = proto(&value()?)?,
            "--tos" => spec.tos = num(flag, &value()?)?,
            "--ttl" => spec.ttl = num(flag, &value()?)?,
            "--id" => id = num(flag, &value()?)?,
            "--df" => spec.df = true,
            "--mf" => spec.mf = true,
            "--frag-offset" => spec.frag_offset = bounded(flag, &value()?, 0x1fff)?,
            "--frag-slice" => spec.frag_slice = Some(slice(&value()?)?),
            "--ihl" => spec.ihl = Some(bounded(flag, &value()?, 15)?),
            "--total-length" => spec.total_length = Some(num(flag, &value()?)?),
            "--ip-options" => spec.ip_options = hex(&value()?)?,
            "--bad-ip-csum" => spec.bad_ip_csum = true,
            "--truncate" => spec.truncate = Some(num(flag, &value()?)?),
            "--flow-label" => v6.flow_label = bounded(flag, &value()?, 0xfffff)?,
            "--payload-length" => v6.payload_length = Some(num(flag, &value()?)?),
            "--next-header" => v6.next_header = Some(num(flag, &value()?)?),
            "--ext" => v6.ext.push(ext(&value()?)?),
            "--inner-ext" => inner_ext.push(ext(&value()?)?),

            "--sport" => spec.sport = num(flag, &value()?)?,
            "--dport" => spec.dport = num(flag, &value()?)?,
            "--seq" => spec.tcp.seq = num(flag, &value()?)?,
            "--ack" => spec.tcp.ack = num(flag, &value()?)?,
            "--window" => spec.tcp.window = num(flag, &value()?)?,
            "--urgent" => spec.tcp.urgent = num(flag, &value()?)?,
            "--flags" => spec.tcp.flags = tcp_flags(&value()?)?,
            "--doff" => spec.tcp.doff = Some(bounded(flag, &value()?, 15)?),
            "--mss" => spec.tcp.mss = Some(num(flag, &value()?)?),
            "--wscale" => spec.tcp.wscale = Some(num(flag, &value()?)?),
            "--sackperm" => spec.tcp.sackperm = true,
            "--tcp-options" => spec.tcp.options = hex(&value()?)?,
            "--udp-len" => spec.udp.len = Some(num(flag, &value()?)?),
            "--csum-proto" => spec.udp.csum_proto = Some(num(flag, &value()?)?),

            "--vtag" => spec.sctp.vtag = num(flag, &value()?)?,
            "--init-tag" => init_tag = num(flag, &value()?)?,
            "--chunk" => chunks.push(value()?),
            "--dccp-type" => spec.dccp.ty = crate::dccp::parse_type(&value()?)?,
            "--dccp-seq" => spec.dccp.seq = num(flag, &value()?)?,
            "--dccp-ack" => spec.dccp.ack = num(flag, &value()?)?,
            "--dccp-short" => spec.dccp.x = false,
            "--cscov" => spec.dccp.cscov = bounded(flag, &value()?, 15)?,
            "--dccp-doff" => spec.dccp.doff = Some(num(flag, &value()?)?),

            "--icmp-type" => icmp_type = Some(num(flag, &value()?)?),
            "--icmp-code" => spec.icmp.code = num(flag, &value()?)?,
            "--icmp-id" => icmp_id = Some(num(flag, &value()?)?),
            "--icmp-seq" => icmp_seq = Some(num(flag, &value()?)?),
            "--inner-proto" => inner.proto = proto(&value()?)?,
            "--inner-src" => inner_src = Some(addr(&value()?)?),
            "--inner-dst" => inner_dst = Some(addr(&value()?)?),
            "--inner-sport" => inner.sport = num(flag, &value()?)?,
            "--inner-dport" => inner.dport = num(flag, &value()?)?,
            "--inner-seq" => inner.tcp.seq = num(flag, &value()?)?,
            "--inner-flags" => inner.tcp.flags = tcp_flags(&value()?)?,
            "--inner-icmp-type" => inner_icmp_type = Some(num(flag, &value()?)?),
            "--inner-icmp-code" => inner.icmp.code = num(flag, &value()?)?,
            "--inner-icmp-id" => inner.icmp.id = num(flag, &value()?)?,
            "--inner-icmp-seq" => inner.icmp.seq = num(flag, &value()?)?,
            "--inner-truncate" => inner.truncate = Some(num(flag, &value()?)?),

            "--payload-hex" => spec.payload = hex(&value()?)?,
            "--payload" => spec.payload = value()?.into_bytes(),
            "--payload-len" => spec.payload = vec![b'x'; num(flag, &value()?)?],
            "--bad-csum" => spec.bad_csum = true,
            _ => return Err(format!("unknown option {arg:?} (try --help)")),
        }
    }

    // Chunks are read once --init-tag is known, wherever it was given.
    for c in &chunks {
        spec.sctp.chunks.push(crate::sctp::parse_chunk(c, init_tag)?);
    }
    let src = src.ok_or("--src is required")?;
    let dst = dst.ok_or("--dst is required")?;
    let is_v6 = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            (spec.src, spec.dst) = (s.octets(), d.octets());
            false
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            (v6.src, v6.dst) = (s.octets(), d.octets());
            true
        }
        _ => return Err("--src and --dst must be of the same family".into()),
    };
    let (icmp_proto, echo) = if is_v6 { (build6::PROTO_ICMPV6, 128) } else { (PROTO_ICMP, 8) };
    spec.icmp.icmp_type = icmp_type.unwrap_or(echo);
    inner.icmp.icmp_type = inner_icmp_type.unwrap_or(echo);
    // In IPv6, "icmp" (protocol 1) means ICMPv6.
    for s in [&mut spec, &mut inner] {
        if is_v6 && s.proto == PROTO_ICMP {
            s.proto = build6::PROTO_ICMPV6;
        }
    }
    let is_error = if is_v6 {
        build6::icmpv6_is_error(spec.icmp.icmp_type)
    } else {
        build::icmp_is_error(spec.icmp.icmp_type)
    };
    // Echo-style messages default to id 1, seq 1; errors to an unused word of 0.
    let unset = if is_error { 0 } else { 1 };
    spec.icmp.id = icmp_id.unwrap_or(unset);
    spec.icmp.seq = icmp_seq.unwrap_or(unset);
    if is_v6 {
        v6.frag_id = id;
    } else {
        spec.id = u16::try_from(id).map_err(|_| format!("--id: {id} is more than 65535"))?;
        if !v6.ext.is_empty() || !inner_ext.is_empty() {
            return Err("--ext and --inner-ext need IPv6 addresses".into());
        }
    }
    if spec.proto == icmp_proto && is_error {
        let family = |a: Option<IpAddr>| match a {
            Some(a) if a.is_ipv6() != is_v6 => Err("inner addresses must be of the outer family"),
            a => Ok(a),
        };
        match (family(inner_src)?, family(inner_dst)?) {
            (s, d) if is_v6 => {
                let as6 = |a: Option<IpAddr>, or: [u8; 16]| match a {
                    Some(IpAddr::V6(a)) => a.octets(),
                    _ => or,
                };
                inner.ip6 = Some(Ip6 {
                    src: as6(s, v6.dst),
                    dst: as6(d, v6.src),
                    ext: inner_ext,
                    ..Ip6::default()
                });
            }
            (s, d) => {
                let as4 = |a: Option<IpAddr>, or: [u8; 4]| match a {
                    Some(IpAddr::V4(a)) => a.octets(),
                    _ => or,
                };
                inner.src = as4(s, spec.dst);
                inner.dst = as4(d, spec.src);
                if inner.truncate.is_none() {
                    inner.truncate = Some(build::default_quote_len(&inner));
                }
            }
        }
        spec.icmp.quote = Some(Box::new(inner));
    }
    if is_v6 {
        spec.ip6 = Some(v6);
    }
    let delivery = match (dump, iface) {
        (true, _) => Delivery::Dump,
        (false, Some(iface)) => Delivery::Packet { iface, dst_mac },
        (false, None) => Delivery::Raw,
    };
    Ok(Some(Args { spec, delivery, count, verbose, netns }))
}

fn num<T: TryFrom<u64>>(flag: &str, s: &str) -> Result<T, String> {
    let n = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse::<u64>(),
    }
    .map_err(|_| format!("{flag}: not a number: {s:?}"))?;
    T::try_from(n).map_err(|_| format!("{flag}: {n} is out of range"))
}

fn bounded<T: TryFrom<u64>>(flag: &str, s: &str, max: u64) -> Result<T, String> {
    let n: u64 = num(flag, s)?;
    if n > max {
        return Err(format!("{flag}: {n} is more than {max}"));
    }
    num(flag, s)
}

/// `START:LEN` of `--frag-slice`; START a multiple of 8.
fn slice(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s.split_once(':').ok_or(format!("--frag-slice: want START:LEN, got {s:?}"))?;
    let start: usize = num("--frag-slice", a)?;
    if !start.is_multiple_of(8) || start / 8 > 0x1fff {
        return Err(format!("--frag-slice: START {start} is not a fragment offset (multiple of 8)"));
    }
    Ok((start, num("--frag-slice", b)?))
}

fn addr(s: &str) -> Result<IpAddr, String> {
    s.parse::<IpAddr>().map_err(|_| format!("not an IP address: {s:?}"))
}

/// An `--ext` header: `KIND[,KEY=VALUE]...` (see USAGE).
fn ext(s: &str) -> Result<Ext, String> {
    let mut parts = s.split(',');
    let kind = parts.next().unwrap_or_default();
    let mut keys = Vec::new();
    for p in parts {
        let (k, v) = p.split_once('=').ok_or(format!("--ext {s:?}: want KEY=VALUE, got {p:?}"))?;
        keys.push((k, v));
    }
    let get = |key: &str| keys.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let n = |key: &str, default: u64, max: u64| -> Result<u64, String> {
        match get(key) {
            Some(v) => bounded(&format!("--ext {kind},{key}"), v, max),
            None => Ok(default),
        }
    };
    let kind = match kind {
        "hop" => ExtKind::Hop,
        "dest" => ExtKind::Dest,
        "rt" => ExtKind::Routing {
            routing_type: n("type", 0, 255)? as u8,
            segments_left: n("segleft", 0, 255)? as u8,
        },
        "ah" => ExtKind::Auth,
        "frag" => ExtKind::Frag {
            offset: n("off", 0, 0x1fff)? as u16,
            more: n("m", 0, 1)? == 1,
            id: n("id", 0, u64::from(u32::MAX))? as u32,
        },
        "raw" => ExtKind::Raw {
            ty: n("type", 0, 255)? as u8,
            bytes: hex(get("hex").ok_or(format!("--ext {s:?}: raw needs hex=BYTES"))?)?,
        },
        _ => return Err(format!("--ext {s:?}: unknown kind {kind:?} (hop, dest, rt, ah, frag, raw)")),
    };
    let known = ["len", "hdrlen", "next", "type", "segleft", "off", "m", "id", "hex"];
    if let Some((k, _)) = keys.iter().find(|(k, _)| !known.contains(k)) {
        return Err(format!("--ext {s:?}: unknown key {k:?}"));
    }
    let mut e = Ext::new(kind);
    e.len = get("len").map(|v| bounded("--ext len", v, 0xffff)).transpose()?;
    e.hdrlen = get("hdrlen").map(|v| bounded("--ext hdrlen", v, 255)).transpose()?;
    e.next = get("next").map(|v| bounded("--ext next", v, 255)).transpose()?;
    Ok(e)
}

fn proto(s: &str) -> Result<u8, String> {
    match s {
        "tcp" => Ok(PROTO_TCP),
        "udp" => Ok(PROTO_UDP),
        "icmp" => Ok(PROTO_ICMP),
        "sctp" => Ok(PROTO_SCTP),
        "dccp" => Ok(PROTO_DCCP),
        "udplite" => Ok(PROTO_UDPLITE),
        "icmpv6" | "icmp6" | "ipv6-icmp" => Ok(build6::PROTO_ICMPV6),
        _ => num("--proto", s),
    }
}

/// `SA`, `FPU`, `none`: letters in any order and case; or the flag byte
/// as a number (`18`, `0x12`).
fn tcp_flags(s: &str) -> Result<u8, String> {
    if s == "none" {
        return Ok(0);
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return num("--flags", s);
    }
    let mut bits = 0;
    for c in s.chars() {
        let c = c.to_ascii_uppercase();
        match TCP_FLAGS.iter().find(|(l, _)| *l == c) {
            Some((_, bit)) => bits |= bit,
            None => return Err(format!("unknown TCP flag {c:?} in {s:?} (use FSRPAUEC or none)")),
        }
    }
    Ok(bits)
}

/// Hex bytes; spaces, colons and a 0x prefix are allowed.
pub fn hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let digits: Vec<u8> = s.bytes().filter(|b| !matches!(b, b' ' | b':')).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {s:?}"));
    }
    digits
        .chunks(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or(format!("not hex: {s:?}"))
        })
        .collect()
}

fn mac(s: &str) -> Result<[u8; 6], String> {
    if s == "broadcast" {
        return Ok([0xff; 6]);
    }
    let bytes = hex(s)?;
    bytes.try_into().map_err(|_| format!("not a MAC address: {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Args {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&v).unwrap().unwrap()
    }

    #[test]
    fn flags_by_letters() {
        assert_eq!(tcp_flags("SA"), Ok(0x12));
        assert_eq!(tcp_flags("fpu"), Ok(0x29));
        assert_eq!(tcp_flags("none"), Ok(0));
        assert_eq!(tcp_flags("FSRPAUEC"), Ok(0xff));
        assert!(tcp_flags("X").is_err());
        assert_eq!(tcp_flags("0x12"), Ok(0x12));
        assert_eq!(tcp_flags("255"), Ok(0xff));
        assert!(tcp_flags("256").is_err());
    }

    #[test]
    fn parses_a_full_line() {
        let a = args("--src 192.0.2.2 --dst=198.51.100.2 --flags SA --seq 0x10 --count 3 --dump");
        assert_eq!(a.spec.tcp.flags, 0x12);
        assert_eq!(a.spec.tcp.seq, 16);
        assert_eq!(a.count, 3);
        assert_eq!(a.netns, None);
        assert_eq!(args("--src 1.2.3.4 --dst 1.2.3.4 --netns client").netns.as_deref(), Some("client"));
        assert_eq!(a.delivery, Delivery::Dump);
    }

    #[test]
    fn icmp_error_gets_a_default_quote() {
        let a = args("--src 192.0.2.1 --dst 192.0.2.2 --proto icmp --icmp-type 3 --inner-dport 22");
        let q = a.spec.icmp.quote.expect("quote");
        assert_eq!(q.src, [192, 0, 2, 2]);
        assert_eq!(q.dst, [192, 0, 2, 1]);
        assert_eq!(q.dport, 22);
        assert_eq!(q.truncate, Some(28));
        assert_eq!((a.spec.icmp.id, a.spec.icmp.seq), (0, 0));
    }

    #[test]
    fn batch_lines_follow_the_command_line() {
        let v = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let (base, batch) = take_batch(&v("--src 192.0.2.2 --batch --dst 198.51.100.2 --dump"));
        assert!(batch);
        assert_eq!(base, v("--src 192.0.2.2 --dst 198.51.100.2 --dump"));
        assert!(!take_batch(&v("--src 1.2.3.4")).1);
        assert_eq!(batch_line(&base, "  "), None);
        assert_eq!(batch_line(&base, " # a comment"), None);
        let line = batch_line(&base, "--flags FA --dst 203.0.113.9").unwrap();
        let a = parse(&line).unwrap().unwrap();
        assert_eq!(a.spec.tcp.flags, 0x11);
        assert_eq!(a.spec.dst, [203, 0, 113, 9]); // the line's value wins
        assert_eq!(a.spec.src, [192, 0, 2, 2]);
        assert!(parse(&v("--src 1.2.3.4 --dst 1.2.3.4 --batch")).is_err());
    }

    #[test]
    fn ipv6_addresses_choose_the_family() {
        let a = args("--src 2001:db8::2 --dst 2001:db8:1::2 --proto icmp --id 0x10000 --flow-label 5 --dump");
        let v6 = a.spec.ip6.as_ref().expect("ipv6");
        assert_eq!(v6.src[..4], [0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(v6.dst[15], 2);
        assert_eq!((v6.frag_id, v6.flow_label), (0x10000, 5));
        assert_eq!(a.spec.proto, 58);
        assert_eq!((a.spec.icmp.icmp_type, a.spec.icmp.id, a.spec.icmp.seq), (128, 1, 1));
        assert!(a.spec.icmp.quote.is_none());
        assert!(args("--src 192.0.2.1 --dst 192.0.2.2").spec.ip6.is_none());
        assert_eq!(args("--src ::1 --dst ::1 --proto ipv6-icmp").spec.proto, 58);
    }

    #[test]
    fn ipv6_extension_headers() {
        let a = args(
            "--src ::1 --dst ::2 --ext hop --ext dest,len=16,next=59 --ext rt,type=4,segleft=1 \
             --ext ah,hdrlen=9 --ext frag,off=3,m=1,id=7 --ext raw,type=60,hex=3b00010400000000",
        );
        let e = &a.spec.ip6.as_ref().unwrap().ext;
        assert_eq!(e.len(), 6);
        assert_eq!(e[0], Ext::new(ExtKind::Hop));
        assert_eq!((e[1].kind.clone(), e[1].len, e[1].next), (ExtKind::Dest, Some(16), Some(59)));
        assert_eq!(e[2].kind, ExtKind::Routing { routing_type: 4, segments_left: 1 });
        assert_eq!((e[3].kind.clone(), e[3].hdrlen), (ExtKind::Auth, Some(9)));
        assert_eq!(e[4].kind, ExtKind::Frag { offset: 3, more: true, id: 7 });
        assert_eq!(e[5].kind, ExtKind::Raw { ty: 60, bytes: vec![59, 0, 1, 4, 0, 0, 0, 0] });
        let v = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        for bad in ["--ext bogus", "--ext hop,len", "--ext hop,color=1", "--ext raw,type=1",
                    "--ext frag,m=2", "--ext hop,hdrlen=256", "--ext rt,type=300"] {
            assert!(parse(&v(&format!("--src ::1 --dst ::2 {bad}"))).is_err(), "{bad}");
        }
        assert!(parse(&v("--src 192.0.2.1 --dst 192.0.2.2 --ext hop")).is_err());
    }

    #[test]
    fn ipv6_error_quotes_in_its_family() {
        let a = args("--src 2001:db8::1 --dst 2001:db8::2 --proto icmp --icmp-type 1 --icmp-code 4 \
                      --inner-proto udp --inner-dport 53 --inner-ext dest");
        let q = a.spec.icmp.quote.as_ref().expect("quote");
        let inner = q.ip6.as_ref().expect("an IPv6 quote");
        assert_eq!((inner.src[15], inner.dst[15]), (2, 1));
        assert_eq!(inner.ext, vec![Ext::new(ExtKind::Dest)]);
        assert_eq!((q.proto, q.dport, q.truncate), (17, 53, None));
        assert_eq!((a.spec.icmp.id, a.spec.icmp.seq), (0, 0));
        let v = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert!(parse(&v("--src ::1 --dst 192.0.2.1")).is_err());
        assert!(parse(&v("--src ::1 --dst ::2 --proto icmp --icmp-type 1 --inner-src 192.0.2.1")).is_err());
        assert!(parse(&v("--src 192.0.2.1 --dst 192.0.2.2 --id 65536")).is_err());
    }

    #[test]
    fn rejects_bad_input() {
        let v = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert!(parse(&v("--dst 1.2.3.4")).is_err());
        assert!(parse(&v("--src 1.2.3.4 --dst 1.2.3.4 --ttl 300")).is_err());
        assert!(parse(&v("--src 1.2.3.4 --dst 1.2.3.4 --ihl 16")).is_err());
        assert!(parse(&v("--src 1.2.3.4 --dst 1.2.3.4 --bogus")).is_err());
        assert!(parse(&v("--src 1.2.3.4 --dst 1.2.3.4 --frag-slice 4:8")).is_err());
        assert_eq!(slice("16:8"), Ok((16, 8)));
        assert_eq!(mac("02:00:00:00:00:01"), Ok([2, 0, 0, 0, 0, 1]));
    }
}
