#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the bench VM's raw.csv into the side-by-side table.

    summarize.py RAW_CSV OUTDIR

Per row (scenario and parameter), over the passes: the median throughput
of each implementation, their ratio rust/C (higher is better; below 1.0
ours is slower) and the range of the per-pass ratios, the median p50 and
p99 latencies, the cost of one fault as a multiple of a bare ioctl (the
floor row) and the delivery errors summed over the passes. Writes
OUTDIR/summary.csv, OUTDIR/table.txt and OUTDIR/plot.dat (for plot.gp),
prints the table, and exits 1 if any row lost, duplicated or timed out a
group, or failed to run.

The dma rows run on rust_iommufd only (their test op is its own), so they
get a table of their own: time per page of a demand-paged DMA, of the
same DMA pre-mapped and of a userfaultfd fault, and their ratios; no C
column, no plot.
"""
import csv
import statistics
import sys
from collections import defaultdict

IMPLS = ("C", "rust")
ORDER = {"floor": 0, "rt": 1, "batch": 2, "scale": 3, "map": 4, "dma": 5}
# Scenarios only rust_iommufd runs: no C rows expected.
RUST_ONLY = {"dma"}


def row_key(scenario, param):
    """Floor, round trip, batches by K, scaling by T then H."""
    nums = [int("".join(c for c in p if c.isdigit()) or 0)
            for p in param.split("/")]
    return (ORDER.get(scenario, 9), nums, param)


def label(scenario, param):
    if scenario == "floor":
        return "floor (bare ioctl)"
    if scenario == "rt":
        return "round trip"
    if scenario == "batch":
        return f"batch K={param}"
    if scenario == "scale":
        t, h = param.split("/")
        return f"scale T={t[1:]} H={h[1:]}"
    if scenario == "map":
        return {"4k": "map+unmap 4 KiB", "4kx256": "map 4 KiB x256, one unmap",
                "2m": "map+unmap 2 MiB"}.get(param, f"map {param}")
    if scenario == "dma":
        kind, _, pages = param.partition("/")
        return {"demand": f"DMA demand-paged x{pages}", "mapped": f"DMA pre-mapped x{pages}",
                "uffd": f"userfaultfd x{pages}"}.get(kind, f"dma {param}")
    return f"{scenario} {param}"


def dma_table(summary, runs):
    """The rust-only dma rows: time per page and the ratios between them."""
    rows = [s for s in summary if s["scenario"] == "dma"]
    if not rows:
        return []
    lines = ["", "demand-paged DMA, rust_iommufd only (IOMMU_TEST_OP_RUST_DMA is its own test op, so",
             "there is no C column): compared with the same DMA pre-mapped and with a userfaultfd fault",
             "", f"{'row':<26} {'pages/s':>9} {'us/page':>8} {'p50':>8} {'p99':>8}  lost/dup/timeout (check)"]
    lines.append("-" * len(lines[-1]))
    for s in rows:
        per_page = s["rust_us_per_page"]
        status = "" if s["rust_status"] == "ok" else f"  FAILED {s['rust_status']}"
        lines.append(f"{s['row']:<26} {s['rust_rate']:>9.0f} {per_page:>8.2f} {s['rust_p50_us']:>8.2f}"
                     f" {s['rust_p99_us']:>8.2f}  {s['rust_lost']}/{s['rust_dup']}/{s['rust_timeout']}"
                     f" ({s['rust_check']}){status}")

    def by_kind(kind):
        for s in rows:
            if s["param"].split("/")[0] == kind:
                return s
        return None

    def per_pass(s):
        return {r["pass"]: float(r["rate"]) for r in runs[(s["scenario"], s["param"])].get("rust", [])}

    demand = by_kind("demand")
    lines.append("")
    for other, what in (("mapped", "the pre-mapped DMA's"), ("uffd", "a userfaultfd fault's")):
        peer = by_kind(other)
        if not demand or not peer or not demand["rust_rate"]:
            continue
        ratio = peer["rust_rate"] / demand["rust_rate"]
        a, b = per_pass(demand), per_pass(peer)
        ratios = [b[p] / a[p] for p in a if p in b and a[p]]
        rng = f" (per pass {min(ratios):.2f}-{max(ratios):.2f})" if ratios else ""
        lines.append(f"demand-paged time per page = {ratio:.2f} x {what}{rng}")
    lines.append("us/page: 1/rate (DMA time only; the unmap and MADV_DONTNEED between rounds are not timed);")
    lines.append("p50/p99: per page of one DMA (its time over its pages), per fault for userfaultfd")
    return lines


def main():
    raw, outdir = sys.argv[1], sys.argv[2]
    runs = defaultdict(lambda: defaultdict(list))   # key -> impl -> [row]
    with open(raw, newline="") as f:
        for r in csv.DictReader(f):
            runs[(r["scenario"], r["param"])][r["impl"]].append(r)

    floor = {}
    for impl in IMPLS:
        rows = runs.get(("floor", "destroy"), {}).get(impl, [])
        rates = [float(r["rate"]) for r in rows if float(r["rate"]) > 0]
        floor[impl] = statistics.median(rates) if rates else 0.0

    summary, bad = [], False
    for key in sorted(runs, key=lambda k: row_key(*k)):
        s = {"row": label(*key), "scenario": key[0], "param": key[1]}
        by_pass = {}
        for impl in IMPLS:
            if impl == "C" and key[0] in RUST_ONLY:
                s.update({"C_rate": 0.0, "C_p50_us": 0.0, "C_p99_us": 0.0, "C_xfloor": 0.0,
                          "C_lost": 0, "C_dup": 0, "C_timeout": 0, "C_check": "-",
                          "C_status": "ok"})
                by_pass[impl] = {}
                continue
            rows = runs[key].get(impl, [])
            rate = [float(r["rate"]) for r in rows]
            med = statistics.median(rate) if rate else 0.0
            s[f"{impl}_rate"] = med
            for q in ("p50_us", "p99_us"):
                v = [float(r[q]) for r in rows]
                s[f"{impl}_{q}"] = statistics.median(v) if v else 0.0
            s[f"{impl}_xfloor"] = floor[impl] / med if med else 0.0
            for e in ("lost", "dup", "timeout"):
                s[f"{impl}_{e}"] = sum(int(r[e]) for r in rows)
            s[f"{impl}_check"] = rows[0]["check"] if rows else "missing"
            failed = [r["status"] for r in rows if r["status"] != "ok"]
            s[f"{impl}_status"] = failed[0] if failed else ("ok" if rows else "missing")
            if failed or not rows or any(s[f"{impl}_{e}"] for e in ("lost", "dup", "timeout")):
                bad = True
            by_pass[impl] = {r["pass"]: float(r["rate"]) for r in rows}
        s["ratio"] = s["rust_rate"] / s["C_rate"] if s["C_rate"] else 0.0
        ratios = [by_pass["rust"][p] / by_pass["C"][p]
                  for p in by_pass["C"] if p in by_pass["rust"] and by_pass["C"][p]]
        s["ratio_min"] = min(ratios) if ratios else 0.0
        s["ratio_max"] = max(ratios) if ratios else 0.0
        s["passes"] = len(ratios)
        if key[0] in RUST_ONLY:
            s["rust_us_per_page"] = 1e6 / s["rust_rate"] if s["rust_rate"] else 0.0
        summary.append(s)

    fields = ["row", "scenario", "param", "C_rate", "rust_rate", "ratio",
              "ratio_min", "ratio_max", "passes", "rust_us_per_page"]
    for impl in IMPLS:
        fields += [f"{impl}_{x}" for x in ("p50_us", "p99_us", "xfloor", "lost",
                                           "dup", "timeout", "check", "status")]
    with open(f"{outdir}/summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for s in summary:
            w.writerow({k: (f"{v:.3f}" if isinstance(v, float) else v)
                        for k, v in s.items()})

    head = (f"{'row':<19} {'C /s':>9} {'rust /s':>9} {'rust/C':>6} {'(range)':>11}"
            f" {'C p50':>8} {'C p99':>8} {'rust p50':>8} {'rust p99':>8} {'x floor C/rust':>14}"
            f"  lost/dup/timeout C | rust (check)")
    lines = [head, "-" * len(head)]
    for s in summary:
        if s["scenario"] in RUST_ONLY:
            continue
        err = " | ".join(f"{s[f'{i}_lost']}/{s[f'{i}_dup']}/{s[f'{i}_timeout']}"
                         for i in IMPLS)
        checks = "/".join(s[f"{i}_check"] for i in IMPLS)
        status = "; ".join(f"{i}: {s[f'{i}_status']}" for i in IMPLS
                           if s[f"{i}_status"] != "ok")
        lines.append(
            f"{s['row']:<19} {s['C_rate']:>9.0f} {s['rust_rate']:>9.0f} {s['ratio']:>6.2f}"
            f" {s['ratio_min']:>5.2f}-{s['ratio_max']:<5.2f}"
            f" {s['C_p50_us']:>8.0f} {s['C_p99_us']:>8.0f} {s['rust_p50_us']:>8.0f} {s['rust_p99_us']:>8.0f}"
            f" {s['C_xfloor']:>6.1f}/{s['rust_xfloor']:<7.1f}  {err} ({checks})"
            + (f"  FAILED {status}" if status else ""))
    lines.append("")
    lines.append("rates are faults/s (ops/s for the floor, maps/s for map), medians over passes; rust/C > 1: ours is faster;")
    lines.append("p50/p99 in microseconds: per fault (rt, scale), per batch of K (batch), per ioctl (floor), per map and its share of the unmap (map);")
    lines.append("x floor: time per fault over time per bare ioctl; check: device = the mock device's")
    lines.append("response record (rust_iommufd), user = what user space read and wrote (upstream's mock keeps none)")
    lines += dma_table(summary, runs)
    table = "\n".join(lines)
    with open(f"{outdir}/table.txt", "w") as f:
        f.write(table + "\n")
    print(table)

    # plot.gp: one line per row, index, label, C rate, rust rate, ratio.
    with open(f"{outdir}/plot.dat", "w") as f:
        for i, s in enumerate(x for x in summary if x["scenario"] not in RUST_ONLY):
            f.write(f'{i} "{s["row"]}" {s["C_rate"]:.1f} {s["rust_rate"]:.1f} {s["ratio"]:.3f}\n')
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
