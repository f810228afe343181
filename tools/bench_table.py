"""The speed table of bench/README.md: every benchmark group of a pytest-benchmark
run, its entries' median times and the ratio of each to the group's pyvanish entry.

    python -m pytest bench/bench_lean.py --benchmark-json=run.json   # once per SIMD path
    python tools/bench_table.py avx2=run-avx2.json avx512=run-avx512.json

Prints a Markdown table: a row per group and entry, a column of median time and of
ratio (other entry's time / pyvanish's time, so > 1 means pyvanish is faster) per
run. The pyvanish entry of a group is the one whose name contains "cpp" (or
"engine-call" for the report-cost group, whose ratio is then report / engine call).
"""

from __future__ import annotations

import json
import sys


def load(path: str) -> tuple[dict, dict]:
    """{group: {entry: median seconds}} and the machine info of one JSON run."""
    with open(path) as f:
        data = json.load(f)
    groups: dict = {}
    for b in data["benchmarks"]:
        entry = b["name"].split("[", 1)[-1].rstrip("]")
        groups.setdefault(b["group"], {})[entry] = b["stats"]["median"]
    return groups, data.get("machine_info", {})


def base_of(entries: dict) -> str:
    for name in entries:
        if name.endswith("cpp") or name == "engine-call":
            return name
    return next(iter(entries))


def ratio(entry: str, t: float, base: float) -> str:
    return f"{base / t:.2f}x (speed-up)" if "threads" in entry else f"{t / base:.2f}x"


def fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def main(argv: list[str]) -> int:
    if not argv or any("=" not in a for a in argv):
        print(__doc__)
        return 2
    runs = [(label, *load(path)) for label, path in (a.split("=", 1) for a in argv)]
    for label, _, info in runs:
        cpu = info.get("cpu", {})
        blas = info.get("pyvanish_blas", {})
        print(f"{label}: {cpu.get('brand_raw', 'unknown CPU')} (family {cpu.get('family')}, model "
              f"{cpu.get('model')}), {cpu.get('count')} cores; pyvanish path {info.get('pyvanish_simd_path')}, "
              f"OpenBLAS core {blas.get('corename')}")
    print()
    head = "| group | entry | " + " | ".join(f"{lab} median | {lab} ratio" for lab, _, _ in runs) + " |"
    print(head)
    print("|" + "---|" * (2 + 2 * len(runs)))
    for group in sorted(runs[0][1]):
        entries = runs[0][1][group]
        base = base_of(entries)
        for entry in sorted(entries, key=lambda e: e != base):
            cells = []
            for _, groups, _ in runs:
                g = groups.get(group, {})
                t, b = g.get(entry), g.get(base)
                r = "" if t is None or b is None or entry == base else ratio(entry, t, b)
                cells += [fmt(t) if t is not None else "", r]
            print(f"| {group} | {entry} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
