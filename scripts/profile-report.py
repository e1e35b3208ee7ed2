#!/usr/bin/env python3
"""Fold the TCG plugin's per-block counts into instructions per packet per
function (scripts/profile.sh runs this).

Inputs: the plugin's window file (tools/tcg-profile/tb-profile.c), the
guest's output (tests/bench/guest.sh profile: one `PROFILE window` line per
configuration, then the modules and module symbols loaded at that time)
and the kernel's System.map (the guest booted with nokaslr, so its core
kernel addresses are the link-time ones).

Output: per configuration the kernel instructions per packet; the
functions whose cost differs from "no tracker" (what a tracker adds to one
established forwarded packet) side by side; per configuration the top
functions; ip_conntrack's hottest blocks as symbol+offset.
"""
import argparse
import bisect
import re
import shutil
import subprocess
import sys

NAMES = {"none": "no tracker", "nf": "nf_conntrack", "ip": "ip_conntrack",
         "nfnat": "nf_conntrack + nf_nat (MASQUERADE)", "ipnat": "ip_conntrack (MASQUERADE)"}
TEXT_TYPES = set("tTwW")


def read_system_map(path):
    syms = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] in TEXT_TYPES:
                syms.append((int(parts[0], 16), parts[2], ""))
    return syms


def read_guest(path):
    """[(conf, packets, forwarded, [module symbols], {module: (base, size)})]"""
    runs = []
    with open(path, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) < 2 or p[0] != "PROFILE":
                continue
            if p[1] == "window":
                runs.append({"conf": p[2], "packets": int(p[3]), "forwarded": int(p[4]),
                             "syms": [], "modules": {}})
            elif p[1] == "ksym" and runs and len(p) >= 6 and p[3] in TEXT_TYPES:
                runs[-1]["syms"].append((int(p[2], 16), p[4], p[5].strip("[]")))
            elif p[1] == "module" and runs and len(p) >= 5:
                runs[-1]["modules"][p[2]] = (int(p[4], 16), int(p[3]))
    return runs


def read_windows(path):
    windows = []
    cur = None
    with open(path) as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            if p[0] == "window":
                cur = {"kernel": int(p[3]), "user": int(p[5]), "lost": int(p[7]), "tbs": {},
                       "sizes": {}}
            elif p[0] == "end" and cur is not None:
                windows.append(cur)
                cur = None
            elif cur is not None and len(p) in (2, 3):
                cur["tbs"][int(p[0], 16)] = int(p[1])
                if len(p) == 3:
                    cur["sizes"][int(p[0], 16)] = int(p[2])
    return windows


def demangler():
    tool = shutil.which("llvm-cxxfilt") or shutil.which("c++filt")
    cache = {}

    def run(names):
        todo = [n for n in names if n not in cache and n.startswith(("_R", "_Z"))]
        if tool and todo:
            out = subprocess.run([tool], input="\n".join(todo), capture_output=True,
                                 text=True).stdout.splitlines()
            if len(out) == len(todo):
                cache.update(zip(todo, out))
        return {n: short(cache.get(n, n)) for n in names}

    return run


def short(name):
    # Crate hashes and long generic arguments say little in a table.
    name = re.sub(r"\[[0-9a-f]{16}\]", "", name)
    if len(name) > 72:
        name = name[:69] + "..."
    return name


class Folder:
    def __init__(self, syms):
        syms = sorted(syms)
        self.addrs = [s[0] for s in syms]
        self.syms = syms

    def symbol(self, pc):
        i = bisect.bisect_right(self.addrs, pc) - 1
        if i < 0:
            return None
        return self.syms[i]

    def fold(self, tbs):
        per_fn = {}
        for pc, n in tbs.items():
            s = self.symbol(pc)
            key = (s[1], s[2]) if s else ("?", "")
            per_fn[key] = per_fn.get(key, 0) + n
        return per_fn


def label(key, names):
    name, mod = key
    return f"{names.get(name, name)}" + (f" [{mod}]" if mod else "")


def fmt(v):
    if abs(v) < 0.05:
        v = 0.0
    return f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--system-map", required=True)
    ap.add_argument("--windows", required=True, help="the plugin's out= file")
    ap.add_argument("--guest", required=True, help="the guest's output")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--lines-ko", help="ip_conntrack.ko with line tables and the same code as the "
                    "one profiled: attribute its instructions to source lines")
    a = ap.parse_args()

    core = read_system_map(a.system_map)
    runs = read_guest(a.guest)
    windows = read_windows(a.windows)
    if not runs:
        sys.exit("profile-report: no PROFILE window lines in the guest output")
    if len(windows) != len(runs):
        sys.exit(f"profile-report: {len(windows)} plugin windows but {len(runs)} profiled sends "
                 "in the guest output: a marker call outside the workload?")

    folded = []
    for run, win in zip(runs, windows):
        folder = Folder(core + run["syms"])
        fns = folder.fold(win["tbs"])
        n = run["packets"]
        folded.append({k: v / n for k, v in fns.items()})
        run["folder"] = folder
        run["win"] = win
    names = demangler()({k[0] for f in folded for k in f})
    confs = [r["conf"] for r in runs]
    base = confs.index("none") if "none" in confs else None

    print("Kernel instructions per packet (plugin window / packets sent):")
    print()
    print("| configuration | packets | forwarded | kernel instr/pkt | extra vs no tracker | user instr in window |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    totals = [r["win"]["kernel"] / r["packets"] for r in runs]
    for i, r in enumerate(runs):
        extra = "" if base is None or i == base else fmt(totals[i] - totals[base])
        lost = f" (lost {r['win']['lost']:,})" if r["win"]["lost"] else ""
        print(f"| {NAMES.get(r['conf'], r['conf'])} | {r['packets']:,} | {r['forwarded']:,} | "
              f"{fmt(totals[i])}{lost} | {extra} | {r['win']['user']:,} |")

    # Per module (core kernel is "vmlinux").
    mods = sorted({k[1] or "vmlinux" for f in folded for k in f})
    print()
    print("Per module, instructions per packet:")
    print()
    print("| module | " + " | ".join(NAMES.get(c, c) for c in confs) + " |")
    print("| --- |" + " ---: |" * len(confs))
    for m in mods:
        vals = [sum(v for k, v in f.items() if (k[1] or "vmlinux") == m) for f in folded]
        print(f"| {m} | " + " | ".join(fmt(v) for v in vals) + " |")

    if base is not None:
        keys = {k for f in folded for k in f}
        diffs = {k: [f.get(k, 0.0) - folded[base].get(k, 0.0) for f in folded] for k in keys}
        order = sorted(keys, key=lambda k: -max(abs(d) for d in diffs[k]))
        others = [i for i in range(len(confs)) if i != base]
        print()
        print(f"What each tracker adds to one packet: functions by largest difference from "
              f"no tracker (top {a.top}), instructions per packet:")
        print()
        print("| function | " + " | ".join(NAMES.get(confs[i], confs[i]) for i in others)
              + " | " + " | ".join(f"{NAMES.get(confs[i], confs[i])} − none" for i in others) + " |")
        print("| --- |" + " ---: |" * (2 * len(others)))
        shown = [0.0] * len(others)
        for k in order[:a.top]:
            for j, i in enumerate(others):
                shown[j] += diffs[k][i]
            print(f"| {label(k, names)} | "
                  + " | ".join(fmt(folded[i].get(k, 0.0)) for i in others) + " | "
                  + " | ".join(fmt(diffs[k][i]) for i in others) + " |")
        print("| (all other functions) | | | "
              + " | ".join(fmt(totals[i] - totals[base] - shown[j]) for j, i in enumerate(others))
              + " |")
        print("| **total** | " + " | ".join(fmt(totals[i]) for i in others) + " | "
              + " | ".join(fmt(totals[i] - totals[base]) for i in others) + " |")

        for i in others:
            extra = totals[i] - totals[base]
            print()
            print(f"What {NAMES.get(confs[i], confs[i])} adds, by function (top {a.top} of "
                  f"{fmt(extra)} instructions per packet):")
            print()
            print("| function | instr/pkt | share of the extra | cumulative |")
            print("| --- | ---: | ---: | ---: |")
            cum = 0.0
            for k in [k for k in sorted(keys, key=lambda k: -diffs[k][i]) if diffs[k][i] >= 0.5][:a.top]:
                cum += diffs[k][i]
                print(f"| {label(k, names)} | {fmt(diffs[k][i])} | "
                      f"{100 * diffs[k][i] / extra:.1f} % | {100 * cum / extra:.1f} % |")

    for i, c in enumerate(confs):
        print()
        print(f"Top {a.top} functions, {NAMES.get(c, c)} (instructions per packet, "
              f"{fmt(totals[i])} in all):")
        print()
        print("| function | instr/pkt | share |")
        print("| --- | ---: | ---: |")
        for k, v in sorted(folded[i].items(), key=lambda kv: -kv[1])[:a.top]:
            print(f"| {label(k, names)} | {fmt(v)} | {100 * v / totals[i]:.1f} % |")

    # ip_conntrack's hottest blocks, for reading the disassembly of
    # functions that inlined most of the path.
    for r in runs:
        if r["conf"] not in ("ip", "ipnat"):
            continue
        blocks = []
        for pc, n in r["win"]["tbs"].items():
            s = r["folder"].symbol(pc)
            if s and s[2] == "ip_conntrack":
                blocks.append((n / r["packets"], s[1], pc - s[0]))
        blocks.sort(reverse=True)
        bnames = demangler()({b[1] for b in blocks[:a.top]})
        print()
        print(f"Hottest ip_conntrack blocks (instructions per packet, block start as "
              f"function+offset; `objdump -d build/normal/ip_conntrack.ko`):")
        print()
        for v, name, off in blocks[:a.top]:
            print(f"    {fmt(v):>8}  {bnames[name]}+{off:#x}")
        if a.lines_ko:
            by_line(r, a.lines_ko, a.top)


def ko_symbols(ko):
    """{symbol: offset in .text} of a module file."""
    out = subprocess.run(["llvm-objdump", "-t", ko], capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        p = line.split()
        if len(p) >= 6 and p[-3] == ".text":
            syms[p[-1]] = int(p[0], 16)
    return syms


def ko_insns(ko):
    """Sorted .text offsets of every instruction of a module file."""
    out = subprocess.run(["llvm-objdump", "-d", "--no-show-raw-insn", "--section=.text", ko],
                         capture_output=True, text=True).stdout
    return sorted({int(m.group(1), 16) for m in re.finditer(r"^\s+([0-9a-f]+):", out, re.M)})


def ko_frames(ko, addrs):
    """{offset: [(function, file:line), ...] innermost first} from line tables;
    each location lies in its own frame's function (outer ones: the call)."""
    out = subprocess.run(["llvm-addr2line", "-a", "-f", "-i", "-C", "-e", ko],
                         input="\n".join(f"{a:#x}" for a in addrs), capture_output=True,
                         text=True).stdout.splitlines()
    frames, cur = {}, None
    i = 0
    while i < len(out):
        if out[i].startswith("0x"):
            cur = int(out[i], 16)
            frames[cur] = []
            i += 1
        elif cur is not None and i + 1 < len(out):
            where = out[i + 1].replace("/kmod/../engine/", "/engine/")
            frames[cur].append((out[i], re.sub(r"^.*/(src/(kmod|engine)/)", r"\1", where)))
            i += 2
        else:
            i += 1
    return frames


def clean(name):
    """A readable function name: no generic arguments, no crate path
    ("<root::table::Stripe<...>>::find_counting" -> "Stripe::find_counting")."""
    prev = None
    while prev != name:
        prev = name
        name = re.sub(r"(?<=[\w>])<[^<>]*>", "", name)
    m = re.match(r"^<(?:[\w:]*::)?(\w+)(?: as [^>]*)?>::(.*)$", name)
    if m:
        return f"{m.group(1)}::{m.group(2)}"
    return name.split("::")[-1]


def ours(frame):
    return frame[1].startswith(("src/kmod/", "src/engine/"))


def by_line(run, ko, top, module="ip_conntrack"):
    """The module's instructions per packet by our source functions and
    lines, inlined code included: each block's executions spread over its
    instructions, each instruction named by the twin's line tables and
    counted at the innermost frame in src/ (library and kernel-header code
    at the line of ours that used it)."""
    syms = ko_symbols(ko)
    insns = ko_insns(ko)
    weight = {}
    for pc, n in run["win"]["tbs"].items():
        s = run["folder"].symbol(pc)
        size = run["win"]["sizes"].get(pc)
        if not s or s[2] != module or s[1] not in syms or not size:
            continue
        start = syms[s[1]] + pc - s[0]
        i = bisect.bisect_left(insns, start)
        for off in insns[i:i + size]:
            weight[off] = weight.get(off, 0.0) + n / size / run["packets"]
    frames = ko_frames(ko, sorted(weight))
    per_fn, per_line, per_chain, incl = {}, {}, {}, {}
    for off, w in weight.items():
        mine = [f for f in frames.get(off, []) if ours(f)] or [("?", "?")]
        for name in {f"{clean(f[0])} ({f[1].rsplit(':', 1)[0]})" for f in mine}:
            incl[name] = incl.get(name, 0.0) + w
        fn = f"{clean(mine[0][0])} ({mine[0][1].rsplit(':', 1)[0]})"
        per_fn[fn] = per_fn.get(fn, 0.0) + w
        key = f"{mine[0][1]} ({clean(mine[0][0])})"
        per_line[key] = per_line.get(key, 0.0) + w
        chain = " > ".join(clean(f[0]) for f in reversed(mine))
        per_chain[chain] = per_chain.get(chain, 0.0) + w
    total = sum(weight.values())
    for title, head, table in (("function of ours, inclusive (callees inlined into it included)",
                                "function (file)", incl),
                               ("function of ours, exclusive (library code inlined into it included)",
                                "function (file)", per_fn),
                               ("source line", "line (function)", per_line),
                               ("inline chain of our functions", "outermost > ... > innermost", per_chain)):
        print()
        print(f"{module} by {title}, top {top} of {fmt(total)} instructions per packet:")
        print()
        print(f"| instr/pkt | {head} |")
        print("| ---: | --- |")
        for k, v in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"| {fmt(v)} | {k} |")


if __name__ == "__main__":
    main()
