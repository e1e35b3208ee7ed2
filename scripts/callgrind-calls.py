#!/usr/bin/env python3
"""Calls and inclusive instructions per call of functions in a callgrind
output file: scripts/callgrind-calls.py FILE SUBSTRING...

callgrind_annotate prints costs but not call counts; the file has both
(`calls=N` lines, each followed by the inclusive cost of those calls), so
this prints, for every function whose name contains a SUBSTRING, how often
it was called and what one call costs on average, callees included.
"""
import re
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.split("\n\n")[0])
    names = {}
    calls = {}
    cost = {}
    callee = None
    pending = None
    with open(sys.argv[1]) as f:
        for line in f:
            m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                # Names are given once, then referred to by number.
                if m.group(3):
                    names[m.group(2)] = m.group(3)
                if m.group(1) == "cfn":
                    callee = m.group(2)
                continue
            if line.startswith("calls="):
                pending = (callee, int(line.split()[0][len("calls="):]))
                continue
            if pending:
                fields = line.split()
                fid, n = pending
                calls[fid] = calls.get(fid, 0) + n
                cost[fid] = cost.get(fid, 0) + (int(fields[1]) if len(fields) > 1 else 0)
                pending = None
    rows = [(names.get(fid, "?"), n, cost[fid]) for fid, n in calls.items()]
    for name, n, c in sorted(rows, key=lambda r: -r[2]):
        if any(s in name for s in sys.argv[2:]):
            print(f"{c / n:10,.0f} Ir per call  {n:>10,} calls  {name}")


if __name__ == "__main__":
    main()
