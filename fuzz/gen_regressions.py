#!/usr/bin/env python3
"""Writes the hand-made nasty inputs of fuzz/regressions/TARGET/ (hand-*).

tests/fuzz_regressions.rs replays every file there through the fuzz
targets' bodies (src/engine/fuzzing.rs); scripts/fuzz.sh adds the inputs
of any crash the fuzzer finds (crash-*). Run from fuzz/:
    python3 gen_regressions.py
Input layouts: see src/engine/fuzzing.rs (parse: 2 bytes little-endian
`extra`, then the packet head; track: setup bytes, then operations).
"""
import os
import struct

from gen_corpus import ip, tcp, udp, A, B  # noqa: F401 (addresses)


def le16(n):
    return struct.pack("<H", n)


def parse_inputs():
    syn = ip(A, B, 6, tcp(A, B, 40000, 80, 1, 0, 0x02, 65535))
    dns = ip(A, B, 17, udp(A, B, 40000, 53, b"\x12\x34" + b"\0" * 10))
    quoted = ip(B, A, 17, udp(B, A, 53, 40000, b"x"))
    err = ip(B, A, 1, bytes([3, 3, 0, 0, 0, 0, 0, 0]) + quoted[:24])
    return {
        "hand-empty": b"",
        "hand-one-byte": b"\x05",
        "hand-extra-only": b"\xff\xff",
        "hand-all-ff-64": b"\xff" * 64,
        "hand-all-ff-300": b"\xff" * 300,
        "hand-all-zero-100": b"\0" * 100,
        # IPv4 header cut at 10 bytes, frame claims 64 KiB more.
        "hand-truncated-ip-huge-frame": le16(0xFFFF) + syn[:10],
        # IHL 15 (60 bytes) in a 20-byte packet.
        "hand-ihl-beyond-packet": le16(0) + bytes([0x4F]) + syn[1:20],
        # IHL 4 (< 5).
        "hand-ihl-below-5": le16(0) + bytes([0x44]) + syn[1:],
        # Total length 65535, frame as long as the bytes.
        "hand-total-len-huge": le16(0) + syn[:2] + b"\xff\xff" + syn[4:],
        # Total length 0 and 19.
        "hand-total-len-zero": le16(0) + syn[:2] + b"\0\0" + syn[4:],
        "hand-total-len-19": le16(0) + syn[:2] + b"\0\x13" + syn[4:],
        # TCP data offset 15 in a 20-byte TCP header; data offset 0.
        "hand-tcp-doff-15": le16(0) + syn[:32] + bytes([0xF0]) + syn[33:],
        "hand-tcp-doff-0": le16(0) + syn[:32] + bytes([0x00]) + syn[33:],
        # TCP header cut after the ports; UDP header cut at 4 bytes.
        "hand-tcp-truncated": le16(0) + syn[:24],
        "hand-udp-truncated": le16(0) + dns[:24],
        # UDP length field 0xffff and 0.
        "hand-udp-len-huge": le16(0) + dns[:24] + b"\xff\xff" + dns[26:],
        "hand-udp-len-zero": le16(0) + dns[:24] + b"\0\0" + dns[26:],
        # ICMP error whose quoted header is cut at 4 bytes, and one quoting
        # an ICMP error quoting a UDP packet.
        "hand-icmp-error-truncated-inner": le16(0) + err[:32],
        "hand-icmp-error-in-error": le16(0) + ip(A, B, 1, bytes([11, 0, 0, 0, 0, 0, 0, 0]) + err[:56]),
        # Fragment: more-fragments set, offset 8191, length huge.
        "hand-fragment-max-offset": le16(0xFFFF) + syn[:6] + b"\x3f\xff" + syn[8:],
        # A full packet followed by 4000 bytes of 0xff (beyond MAX_HEAD_LEN).
        "hand-long-tail": le16(0) + syn + b"\xff" * 4000,
    }


def track_inputs():
    return {
        "hand-empty": b"",
        "hand-all-ff-256": b"\xff" * 256,
        "hand-all-ff-4096": b"\xff" * 4096,
        "hand-all-zero-512": b"\0" * 512,
        # One bucket, max 1, then raw packets (selector 5 with the high bit:
        # 0x85) of 0x7f bytes of 0xff, each tracked and held (op 3).
        "hand-raw-ff-held": b"\x00\x01\x00" + (b"\x03\x85\x00\x7f" + b"\xff" * 0x7f) * 8,
        # Huge time steps (op 5) between TCP packets, then held entries
        # confirmed (op 4) after max is lowered to 0 and 1 (op 7).
        "hand-time-jumps": b"\x03\x1f\x02"
        + b"".join(bytes([3, 1, i, 0x02]) + b"\xff" * 12 + bytes([5, 0xFF, 0xFF, 0x0F]) for i in range(16))
        + b"\x07\x00\x07\x01" + b"\x04\x00\x00" * 8 + b"\x06\xff",
        # ICMP errors quoting ICMP errors quoting ... (selector 4, nested).
        "hand-nested-icmp-errors": b"\x01\x04\x00" + b"\x00" + b"\x04\x55\x01" * 60,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for target, inputs in (("parse", parse_inputs()), ("track", track_inputs())):
        d = os.path.join(here, "regressions", target)
        os.makedirs(d, exist_ok=True)
        for name, data in inputs.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
