"""Draws the report's PNG plots from its JSON figures (run by `bench all`).

One PNG per workload (a bar chart per metric, one bar per system, the range over
the repetitions as error bars) and a headline PNG with the figures the README shows.

Usage: python plot.py RESULTS.json
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OURS = "#d9480f"
SPIN = "#f08c00"  # our components in real Spin (`spin…` systems)
PEER = "#4c6ef5"
FLOOR = "#868e96"

HEADLINE = [
    ("predict 1 row", "req/s", "predict, 1 row: requests/s"),
    ("predict 1 row", "p99", "predict, 1 row: p99 latency (ms)"),
    ("log-batch", "metrics/s", "log-batch ingest: metrics/s"),
    ("resources (prediction)", "RSS idle", "prediction server memory, idle (MiB)"),
]


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def color(system):
    if system.startswith("spinflow"):
        return OURS
    if system == "spin" or system.startswith(("spin-", "spin (")):
        return SPIN
    if system.startswith("floor"):
        return FLOOR
    return PEER


def bars(ax, figures, title):
    systems = [f["system"] for f in figures]
    meds = [median(f["values"]) for f in figures]
    lo = [m - min(f["values"]) for m, f in zip(meds, figures)]
    hi = [max(f["values"]) - m for m, f in zip(meds, figures)]
    ax.bar(range(len(systems)), meds, yerr=[lo, hi], capsize=3, color=[color(s) for s in systems])
    ax.set_xticks(range(len(systems)))
    ax.set_xticklabels(systems, rotation=30, ha="right", fontsize=8)
    ax.set_title(title, fontsize=10)
    positive = [m for m in meds if m > 0]
    if positive and max(positive) / min(positive) > 50:
        ax.set_yscale("log")
    for i, m in enumerate(meds):
        ax.annotate(f"{m:.3g}", (i, m), ha="center", va="bottom", fontsize=7)


def draw(figures, panels, path):
    panels = [(w, m, t) for w, m, t in panels if select(figures, w, m)]
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
    for ax, (workload, metric, title) in zip(axes[0], panels):
        bars(ax, select(figures, workload, metric), title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def select(figures, workload, metric):
    return [f for f in figures if f["workload"] == workload and f["metric"] == metric]


def main(json_path):
    data = json.loads(Path(json_path).read_text())
    figures = data["results"]["figures"]
    out_dir = Path(json_path).parent
    for workload, file_name in data["plots"]:
        if workload == "headline":
            panels = HEADLINE
        else:
            metrics = []
            for f in figures:
                # Error counts are in the report's tables; a bar of zeros says nothing.
                if f["metric"] == "errors":
                    continue
                if f["workload"] == workload and f["metric"] not in metrics:
                    metrics.append(f["metric"])
            units = {f["metric"]: f["unit"] for f in figures if f["workload"] == workload}
            panels = [(workload, m, f"{workload}: {m}" + ("" if units[m] == m else f" ({units[m]})")) for m in metrics]
        draw(figures, panels, out_dir / file_name)
        print(f"plot: {out_dir / file_name}")


if __name__ == "__main__":
    main(sys.argv[1])
