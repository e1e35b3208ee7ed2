#!/usr/bin/env python3
"""SVG plots of a benchmark CSV (scripts/bench-report.py's), written by hand.

    scripts/bench-plot.py RESULTS.csv OUTDIR

Writes OUTDIR/forwarding.svg (packets per second by flow count and vCPUs;
the MASQUERADE configurations nfnat and ipnat too when the CSV has them),
OUTDIR/extra-cost.svg (extra ns per packet of each tracker),
OUTDIR/new-connections.svg, OUTDIR/memory.svg (IPv6 entries too when the CSV
has them), OUTDIR/dump.svg, OUTDIR/gc.svg.
Bars are medians; a thin line spans the rounds' minimum to maximum.
"""
import csv
import os
import sys
from collections import defaultdict

COLORS = {"none": "#8c8c8c", "nf": "#d9822b", "ip": "#2b6cd9", "nfnat": "#f2b77e", "ipnat": "#86aef0"}
NAMES = {"none": "no tracker", "nf": "nf_conntrack", "ip": "ip_conntrack",
         "nfnat": "nf_conntrack+nf_nat", "ipnat": "ip_conntrack NAT"}


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def load(path):
    """(config, metric, flows, vcpus) -> {'median': v, 'rounds': [...]}."""
    d = defaultdict(lambda: {"median": None, "rounds": []})
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["config"] == "engine":
                continue
            k = (r["config"], r["metric"], int(r["flows"]), int(r["vcpus"]))
            v = float(r["value"])
            if r["round"] == "median":
                d[k]["median"] = v
            elif r["round"] != "spread":
                d[k]["rounds"].append(v)
    return d


def nice_max(v):
    if v <= 0:
        return 1.0
    p = 10 ** len(str(int(v)))
    for m in (0.1, 0.2, 0.25, 0.5, 1.0):
        if v <= p * m:
            return p * m
    return p


def bars(path, title, unit, groups, series, scale=1.0):
    """groups: [label]; series: [(config, [(median, lo, hi) or None per group])]."""
    if not any(x for _, ser in series for x in ser):
        return  # nothing measured (a run with only some phases)
    W, H, L, R, T, B = 900, 360, 70, 20, 50, 74
    pw, ph = W - L - R, H - T - B
    vals = [x[2] if x else 0 for _, s in series for x in s]
    top = nice_max(max(vals + [0]) * scale)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="15">{esc(title)}</text>']
    for i in range(6):
        y = T + ph - ph * i / 5
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        out.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{top * i / 5:g}</text>')
    out.append(f'<text x="14" y="{T + ph / 2}" transform="rotate(-90 14 {T + ph / 2})" '
               f'text-anchor="middle">{esc(unit)}</text>')
    gw = pw / max(len(groups), 1)
    bw = gw * 0.8 / max(len(series), 1)
    for gi, g in enumerate(groups):
        x0 = L + gi * gw + gw * 0.1
        cx = L + gi * gw + gw / 2
        spans = "".join(f'<tspan x="{cx:.1f}" dy="{0 if k == 0 else 14}">{esc(t)}</tspan>'
                        for k, t in enumerate(g.split("\n")))
        out.append(f'<text y="{T + ph + 16}" text-anchor="middle">{spans}</text>')
        for si, (conf, s) in enumerate(series):
            x = s[gi] if gi < len(s) else None
            if not x:
                continue
            m, lo, hi = (v * scale for v in x)
            h = ph * max(m, 0) / top
            bx = x0 + si * bw
            out.append(f'<rect x="{bx:.1f}" y="{T + ph - h:.1f}" width="{bw * 0.9:.1f}" height="{h:.1f}" '
                       f'fill="{COLORS.get(conf, "#555")}"><title>{esc(NAMES.get(conf, conf))}: {m:g}</title></rect>')
            if hi > lo:
                cx = bx + bw * 0.45
                y1, y2 = T + ph - ph * max(lo, 0) / top, T + ph - ph * max(hi, 0) / top
                out.append(f'<line x1="{cx:.1f}" y1="{y1:.1f}" x2="{cx:.1f}" y2="{y2:.1f}" stroke="black"/>')
    lx = L
    for conf, _ in series:
        out.append(f'<rect x="{lx}" y="{H - 22}" width="12" height="12" fill="{COLORS.get(conf, "#555")}"/>')
        out.append(f'<text x="{lx + 16}" y="{H - 12}">{esc(NAMES.get(conf, conf))}</text>')
        lx += 140
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def point(d, conf, metric, flows, vcpus):
    x = d.get((conf, metric, flows, vcpus))
    if not x or x["median"] is None:
        return None
    r = x["rounds"] or [x["median"]]
    return (x["median"], min(r), max(r))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bench-plot.py RESULTS.csv OUTDIR")
    d = load(sys.argv[1])
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    vcpus = sorted({k[3] for k in d if k[1] == "fwd_pps"})
    flows = sorted({k[2] for k in d if k[1] == "fwd_pps"})
    keys = [(f, v) for v in vcpus for f in flows]
    labels = [f"{f:,} flows\n{v} vCPU" for f, v in keys]
    # The configurations the run measured (MASQUERADE ones only if it had them).
    confs = [c for c in ("none", "nf", "ip", "nfnat", "ipnat") if any(k[0] == c for k in d)]
    trackers = [c for c in confs if c != "none"]

    bars(os.path.join(outdir, "forwarding.svg"),
         "Forwarded packets per second, established flows (median of rounds)", "kpps",
         labels, [(c, [point(d, c, "fwd_pps", f, v) for f, v in keys]) for c in confs],
         scale=1e-3)
    bars(os.path.join(outdir, "extra-cost.svg"),
         "Extra CPU time per forwarded packet vs no tracker", "ns per packet",
         labels, [(c, [point(d, c, "extra_ns_per_packet", f, v) for f, v in keys]) for c in trackers])
    v = max(vcpus) if vcpus else max((k[3] for k in d), default=2)
    bars(os.path.join(outdir, "new-connections.svg"),
         f"New connections per second ({v} vCPUs)", "k flows/s",
         ["until 100k entries", "table full\n(early drop)"],
         [(c, [point(d, c, "new_conn_rate", 100000, v), point(d, c, "new_conn_full_rate", 100000, v)])
          for c in confs], scale=1e-3)
    # IPv6 groups when the run had them (nf_conntrack: one cache for both).
    mem_groups = [("slab growth\n/ entries", "slab_bytes_per_entry", 100000, "slab_bytes_per_entry"),
                  ("free memory used\n/ entries", "mem_bytes_per_entry", 100000, "mem_bytes_per_entry"),
                  ("slab object\nsize", "slab_slab_size", 0, "slab_slab_size")]
    if any(k[1].startswith("v6_") for k in d):
        mem_groups += [("IPv6: slab growth\n/ entries", "v6_slab_bytes_per_entry", 100000,
                        "v6_slab_bytes_per_entry"),
                       ("IPv6: free memory\nused / entries", "v6_mem_bytes_per_entry", 100000,
                        "v6_mem_bytes_per_entry"),
                       ("IPv6: slab\nobject size", "slab_slab_size", 0, "slab6_slab_size")]
    bars(os.path.join(outdir, "memory.svg"),
         f"Memory per entry at 100k entries ({v} vCPUs)", "bytes",
         [g[0] for g in mem_groups],
         [(c, [point(d, c, g[1] if c == "nf" else g[3], g[2], v) for g in mem_groups]) for c in ("nf", "ip")])
    bars(os.path.join(outdir, "dump.svg"),
         f"cat of the /proc table at 100k entries ({v} vCPUs)", "seconds",
         ["dump time"], [(c, [point(d, c, "dump_ms", 100000, v)]) for c in ("nf", "ip")], scale=1e-3)
    bars(os.path.join(outdir, "gc.svg"),
         f"100k entries expire (timeout 20 s, {v} vCPUs)", "seconds",
         ["fill end\nto count 0", "after the\nlast deadline", "CPU time\nabove idle"],
         [(c, [point(d, c, m, 100000, v) for m in ("gc_until_empty_ms", "gc_after_deadline_ms", "gc_cpu_ms")])
          for c in ("nf", "ip")], scale=1e-3)

if __name__ == "__main__":
    main()
