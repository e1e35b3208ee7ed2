#!/usr/bin/env python3
"""Writes the inputs of fuzz target ipv6_exthdr (src/engine/fuzzing/ipv6_exthdr.rs):
hand-made nasty chains in regressions/ipv6_exthdr/ (hand-*) and seeds in
corpus/ipv6_exthdr/. Run from fuzz/:  python3 gen_ipv6.py

Input layout: 2 bytes little-endian packet length, then the bytes from
the IPv6 header on.
"""
import hashlib
import os
import struct

SRC = bytes.fromhex("20010db8000000000000000000000001")
DST = bytes.fromhex("20010db8000100000000000000000002")
HOP, ROUTING, FRAG, ESP, AUTH, NONE, DEST = 0, 43, 44, 50, 51, 59, 60


def ip6(first, rest, src=SRC, dst=DST, hlim=64):
    return struct.pack(">IHBB", 0x60000000, len(rest) & 0xFFFF, first, hlim) + src + dst + rest


def opts(nxt, length):
    return bytes([nxt, length // 8 - 1]) + bytes(length - 2)


def auth(nxt, length):
    return bytes([nxt, length // 4 - 2]) + b"\xa5" * (length - 2)


def frag(nxt, offset, more, ident):
    return struct.pack(">BBHI", nxt, 0, (offset << 3) | int(more), ident)


def inp(packet, length=None):
    return struct.pack("<H", len(packet) if length is None else length) + packet


TCP = struct.pack(">HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 65535, 0, 0)
UDP = struct.pack(">HHHH", 40000, 53, 8, 0)


def corpus():
    inner = ip6(17, UDP, DST, SRC)
    echo = bytes([128, 0, 0, 0, 0x12, 0x34, 0, 1])
    return [
        inp(ip6(6, TCP)),
        inp(ip6(HOP, opts(DEST, 8) + opts(ROUTING, 16) + opts(AUTH, 24) + auth(FRAG, 12) + frag(6, 0, False, 7) + TCP)),
        inp(ip6(FRAG, frag(17, 0, True, 1) + UDP)),
        inp(ip6(FRAG, frag(17, 185, False, 1) + b"\xee" * 16)),
        inp(ip6(DEST, opts(ESP, 8) + b"\0" * 16)),
        inp(ip6(58, echo)),
        inp(ip6(58, bytes([1, 4, 0, 0, 0, 0, 0, 0]) + inner)),
        inp(ip6(58, bytes([137, 0, 0, 0, 0, 0, 0, 0]) + DST + SRC + bytes([4, 1 + len(inner) // 8]) + bytes(6) + inner, bytes.fromhex("fe80" + "00" * 13 + "01"), DST, 255)),
        inp(bytes([128, 0, 0, 0, 0, 1, 0, 1])),
        inp(bytes([1, 0, 0, 0, 0, 0, 0, 0]) + ip6(HOP, opts(17, 8) + UDP)),
    ]


def regressions():
    loop = b"".join(opts(DEST, 8) for _ in range(200))
    return {
        "hand-empty": b"",
        "hand-length-only": b"\xff\xff",
        "hand-short-header": inp(ip6(6, b"")[:39]),
        "hand-no-next-header": inp(ip6(NONE, b"\0" * 8)),
        "hand-cut-short": inp(ip6(HOP, b"\x06")),
        "hand-bad-length": inp(ip6(HOP, opts(6, 16)[:8])),
        "hand-frag-cut-short": inp(ip6(FRAG, frag(17, 0, False, 1)[:5])),
        "hand-later-fragment-cut": inp(ip6(FRAG, frag(17, 1, False, 1)[:4])),
        "hand-loop-dest": inp(ip6(DEST, loop)),
        "hand-loop-frag": inp(ip6(FRAG, b"".join(frag(FRAG, 0, False, i) for i in range(200)))),
        "hand-ah-max": inp(ip6(AUTH, auth(AUTH, 1028) * 3)),
        "hand-prefix-of-long-packet": inp(ip6(HOP, opts(DEST, 2048) + opts(6, 8))[:100], 40 + 2048 + 8 + 20),
        "hand-padding": inp(ip6(HOP, opts(6, 8)) + opts(DEST, 8), 48),
        "hand-length-below-header": inp(ip6(6, TCP), 39),
        "hand-redirect-zero-option": inp(bytes([137, 0, 0, 0, 0, 0, 0, 0]) + DST + SRC + bytes([4, 0]) + bytes(6)),
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    reg = os.path.join(here, "regressions", "ipv6_exthdr")
    cor = os.path.join(here, "corpus", "ipv6_exthdr")
    os.makedirs(reg, exist_ok=True)
    os.makedirs(cor, exist_ok=True)
    for name, data in regressions().items():
        with open(os.path.join(reg, name), "wb") as f:
            f.write(data)
    for data in corpus():
        with open(os.path.join(cor, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
