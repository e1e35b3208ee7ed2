#!/usr/bin/env python3
"""Builds the golden packets used by the wire tests and the fuzz seed corpus.

Each corpus file is a fuzz input: 2 bytes little-endian `extra` (frame
length = packet length + extra), then the packet. Run from fuzz/:
    python3 gen_corpus.py            # writes corpus/parse/*
    python3 gen_corpus.py --rust     # prints the packets as Rust arrays
"""
import os
import struct
import sys


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip(src, dst, proto, payload, ident=0, flags=0x4000, ttl=64, tos=0, options=b""):
    ihl = 5 + len(options) // 4
    total = ihl * 4 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, total, ident, flags, ttl, proto, 0,
                      bytes(src), bytes(dst)) + options
    c = csum(hdr)
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    return hdr + payload


def pseudo(src, dst, proto, l4):
    return bytes(src) + bytes(dst) + struct.pack("!BBH", 0, proto, len(l4))


def tcp(src, dst, sport, dport, seq, ack, flags, window, options=b"", payload=b""):
    doff = 5 + len(options) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, window, 0, 0) + options
    seg = hdr + payload
    c = csum(pseudo(src, dst, 6, seg) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = csum(pseudo(src, dst, 17, seg) + seg)
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp(ty, code, rest, data):
    msg = struct.pack("!BBH", ty, code, 0) + rest + data
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


A = [192, 0, 2, 1]
B = [198, 51, 100, 2]
DNS = [198, 51, 100, 53]

PACKETS = {}
PACKETS["TCP_SYN"] = ip(A, B, 6, tcp(A, B, 32775, 22, 0x6B8B4567, 0, 0x02, 64240,
                                     bytes([2, 4, 5, 0xB4, 4, 2, 8, 10, 0, 1, 0xE2, 0x40, 0, 0, 0, 0, 1, 3, 3, 7])),
                        ident=0x1C46)
sack = bytes([1, 1, 5, 18]) + struct.pack("!IIII", 0x10, 0x1000, 0x700, 0x800) + bytes(4)
PACKETS["TCP_ACK_SACK"] = ip(B, A, 6, tcp(B, A, 22, 32775, 0x11223344, 0x6B8B4568, 0x18, 501, sack, b"hello"),
                             ident=1)
PACKETS["UDP_DNS"] = ip(A, DNS, 17, udp(A, DNS, 53000, 53, bytes([0xDE, 0xAD, 0xBE, 0xEF])), ident=0xABCD, flags=0)
PACKETS["ICMP_ECHO"] = ip(A, B, 1, icmp(8, 0, struct.pack("!HH", 0x1234, 1), bytes(range(8))), ident=2)
PACKETS["ICMP_PORT_UNREACH"] = ip(DNS, A, 1, icmp(3, 3, bytes(4), PACKETS["UDP_DNS"][:28]), ident=3, flags=0, tos=0xC0)
PACKETS["GRE"] = ip(A, B, 47, bytes([0, 0, 8, 0]), ident=4, flags=0)
PACKETS["UDP_WITH_IP_OPTIONS"] = ip(A, DNS, 17, udp(A, DNS, 53000, 53, bytes([0xDE, 0xAD, 0xBE, 0xEF])),
                                    ident=0xABCE, flags=0, options=bytes([0x94, 4, 0, 0]))


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def sctp(sport, dport, vtag, chunks):
    """An SCTP packet; chunks are (type, flags, body); CRC32c little-endian."""
    p = struct.pack("!HHII", sport, dport, vtag, 0)
    for ty, fl, body in chunks:
        c = struct.pack("!BBH", ty, fl, 4 + len(body)) + body
        p += c + bytes(-len(c) % 4)
    return p[:8] + struct.pack("<I", crc32c(p)) + p[12:]


def dccp(src, dst, sport, dport, ty, seq, sub):
    """A DCCP packet with X set, 48-bit sequence `seq`, subheader `sub`."""
    h = struct.pack("!HHBBHBBHI", sport, dport, (16 + len(sub)) // 4, 0, 0, ty << 1 | 1, 0,
                    seq >> 32, seq & 0xFFFFFFFF) + sub
    c = csum(pseudo(src, dst, 33, h) + h)
    return h[:6] + struct.pack("!H", c) + h[8:]


def udplite(src, dst, sport, dport, cscov, payload):
    """UDP-Lite; the checksum as 6.12's conntrack verifies it (protocol 17
    in the pseudo-header), over the whole datagram when cscov is 0."""
    h = struct.pack("!HHHH", sport, dport, cscov, 0) + payload
    cov = h if cscov == 0 else h[:cscov]
    c = csum(pseudo(src, dst, 17, h) + cov) or 0xFFFF
    return h[:6] + struct.pack("!H", c) + h[8:]


PACKETS["SCTP_INIT"] = ip(A, B, 132, sctp(5000, 36412, 0, [(1, 0, struct.pack("!IIHHI", 0xC1C1C1C1, 65536, 10, 10, 1))]),
                          ident=5)
PACKETS["DCCP_REQUEST"] = ip(A, B, 33, dccp(A, B, 40000, 5001, 0, 100, struct.pack("!I", 42)), ident=6)
PACKETS["UDPLITE_PARTIAL"] = ip(A, B, 136, udplite(A, B, 7000, 7001, 8, b"partial"), ident=7)


def rust(name, data):
    print("    pub(crate) const %s: [u8; %d] = [" % (name, len(data)))
    for i in range(0, len(data), 15):
        print("        " + " ".join("0x%02x," % b for b in data[i:i + 15]))
    print("    ];")


if __name__ == "__main__":
    if "--rust" in sys.argv:
        for n, d in PACKETS.items():
            rust(n, d)
        sys.exit(0)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "parse")
    os.makedirs(out, exist_ok=True)
    for n, d in PACKETS.items():
        with open(os.path.join(out, n.lower()), "wb") as f:
            f.write(struct.pack("<H", 0) + d)
    # The same UDP packet with Ethernet padding and a longer frame.
    with open(os.path.join(out, "udp_dns_padded"), "wb") as f:
        f.write(struct.pack("<H", 14) + PACKETS["UDP_DNS"] + bytes(14))
