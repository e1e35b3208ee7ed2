#!/usr/bin/env python3
"""Writes the seed corpus (corpus/nat/) and hand-made nasty inputs
(regressions/nat/hand-*) of the `nat` fuzz target. Run from fuzz/:
    python3 gen_nat.py
Input layout: see src/engine/fuzzing/nat.rs (a mode byte, then the
mode's fields; options 0, rewrite 1, ICMP error 2, tuple choice 3).
"""
import os
import struct

from gen_corpus import ip, tcp, udp, icmp, A, B, DNS, PACKETS

PUB = [203, 0, 113, 1]


def addr(a):
    return bytes(a)


def compat(rangesize, flags, lo, hi, plo, phi):
    return struct.pack("<II", rangesize, flags) + bytes(lo) + bytes(hi) + struct.pack("!HH", plo, phi) + bytes(4)


def range2(flags, lo, hi, plo, phi, base):
    return (struct.pack("<I", flags) + bytes(lo) + bytes(12) + bytes(hi) + bytes(12)
            + struct.pack("!HHH", plo, phi, base) + bytes(6))


def options(target, rev, data):
    return bytes([0, target, rev]) + data


def rewrite(flags, new, port, pkt):
    return bytes([1, flags]) + addr(new) + struct.pack("!H", port) + pkt


def icmp_err(flags, protocol, src, dst, sport, dport, pkt):
    return bytes([2, flags, protocol]) + addr(src) + addr(dst) + struct.pack("!HH", sport, dport) + pkt


def choice(flags, lo, hi, plo, phi, base, manip, protocol, src, dst, sport, dport, taken, seed):
    return (bytes([3, flags]) + addr(lo) + addr(hi) + struct.pack("!HHH", plo, phi, base)
            + bytes([manip, protocol]) + addr(src) + addr(dst) + struct.pack("!HH", sport, dport)
            + bytes([len(taken)]) + b"".join(struct.pack("!H", t) for t in taken) + struct.pack("!H", seed))


def seeds():
    quote = PACKETS["UDP_DNS"]
    err_about_nat = ip(DNS, PUB, 1, icmp(3, 3, bytes(4), ip(PUB, DNS, 17, udp(PUB, DNS, 61000, 53, b"\xde\xad\xbe\xef"))))
    ttl = ip(B, PUB, 1, icmp(11, 0, bytes(4), ip(PUB, B, 6, tcp(PUB, B, 61000, 22, 1, 0, 0x02, 64240))))
    return {
        "options-snat-v0": options(0, 0, compat(1, 3, PUB, PUB, 1024, 2047)),
        "options-dnat-v2": options(1, 2, range2(0x23, A, A, 8080, 8090, 80)),
        "options-masq": options(2, 0, compat(1, 2, [0] * 4, [0] * 4, 5000, 5001)),
        "options-redirect": options(3, 0, compat(1, 2, [0] * 4, [0] * 4, 3128, 3128)),
        "options-netmap": options(4, 0, compat(1, 1, [198, 51, 100, 0], [198, 51, 100, 255], 0, 0)),
        "rewrite-tcp-src": rewrite(0, PUB, 61000, PACKETS["TCP_SYN"]),
        "rewrite-tcp-dst": rewrite(1, A, 8080, PACKETS["TCP_ACK_SACK"]),
        "rewrite-udp": rewrite(0, PUB, 1, PACKETS["UDP_DNS"]),
        "rewrite-udp-opts": rewrite(1, PUB, 9, PACKETS["UDP_WITH_IP_OPTIONS"]),
        "rewrite-echo": rewrite(0, PUB, 77, PACKETS["ICMP_ECHO"]),
        "rewrite-icmp-error": rewrite(1, A, 0, PACKETS["ICMP_PORT_UNREACH"]),
        "rewrite-gre": rewrite(0, PUB, 0, PACKETS["GRE"]),
        "icmp-port-unreach": icmp_err(1, 1, A, DNS, 53000, 53, err_about_nat),
        "icmp-time-exceeded": icmp_err(1, 0, A, B, 40000, 22, ttl),
        "icmp-plain": icmp_err(0, 1, A, DNS, 53000, 53, PACKETS["ICMP_PORT_UNREACH"]),
        "choice-masq": choice(3, PUB, PUB, 1024, 1030, 0, 0, 1, A, B, 40000, 80, [1024, 1025, 40000], 7),
        "choice-dnat": choice(0x23, A, A, 2000, 2100, 1000, 1, 1, B, PUB, 40000, 1005, [], 1),
        "choice-icmp": choice(1, PUB, [203, 0, 113, 9], 0, 0, 0, 0, 2, A, B, 77, 0, [77], 3),
    }


def nasty():
    syn = PACKETS["TCP_SYN"]
    return {
        "hand-empty": b"",
        "hand-options-short": options(0, 2, bytes(10)),
        "hand-options-bad-revision": options(2, 3, bytes(24)),
        "hand-rewrite-cut-tcp": rewrite(0, PUB, 1, syn[:30]),
        "hand-rewrite-short-frame": rewrite(2, PUB, 1, syn),
        "hand-rewrite-ihl-15": rewrite(0, PUB, 1, bytes([0x4F]) + syn[1:]),
        "hand-icmp-truncated-quote": icmp_err(1, 1, A, DNS, 1, 2, PACKETS["ICMP_PORT_UNREACH"][:40]),
        "hand-icmp-bad-checksum": icmp_err(1, 1, A, DNS, 1, 2, PACKETS["ICMP_PORT_UNREACH"][:22] + b"\0\0" + PACKETS["ICMP_PORT_UNREACH"][24:]),
        "hand-choice-reversed": choice(0x07, PUB, A, 9000, 10, 0, 0, 1, A, B, 1, 2, list(range(20)), 0),
        "hand-choice-full-range": choice(0x02, [0] * 4, [255] * 4, 0, 65535, 0, 0, 2, A, B, 1, 2, [], 0xffff),
    }


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    for sub, inputs in (("corpus", seeds()), ("regressions", nasty())):
        out = os.path.join(here, sub, "nat")
        os.makedirs(out, exist_ok=True)
        for name, data in inputs.items():
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
