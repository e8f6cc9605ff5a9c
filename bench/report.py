"""Render the result JSONs of bench/results/ as the markdown tables pasted into docs/benchmarks.md.

python -m bench.report quality_chatrec quality_full quality_rating
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
COLUMNS = {
    "chatrec": ["precision_at_5", "recall_at_5", "ndcg_at_5", "candidate_recall_at_20"],
    "full": ["map_at_10", "ndcg_at_10", "precision_at_10", "recall_at_10", "coverage", "novelty", "diversity"],
    "rating": ["rmse", "mae", "temporal_rmse", "temporal_mae"],
}


def fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("–" if value is None else str(value))


def table(name: str) -> str:
    result = json.loads((RESULTS / f"{name}.json").read_text())
    columns = COLUMNS[result["protocol"]]
    lines = [
        "| model | chosen params | " + " | ".join(columns) + " | fit s | peak RSS rise MB |",
        "|---|---|" + "---|" * (len(columns) + 2),
    ]
    for row in result["rows"]:
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items()) or "–"
        lines.append(
            f"| {row['model']} | {params} | "
            + " | ".join(fmt(row.get(c)) for c in columns)
            + f" | {row['train_seconds']:.1f} | {row['peak_rss_increase_mb']:.0f} |"
        )
    for anchor, values in result["anchors"].items():
        lines.append(f"| *{anchor}* | published | " + " | ".join(fmt(values.get(c)) for c in columns) + " | | |")
    machine = result["machine"]
    lines.append("")
    lines.append(
        f"Seed {result['seed']}; {machine['cpu_count']} CPU cores, torch {machine['torch']} "
        f"({machine['torch_threads']} threads, CUDA: {machine['cuda']}); run {machine['when']}; "
        f"whole protocol incl. tuning {result['seconds']:.0f} s."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    for name in sys.argv[1:] or ["quality_chatrec", "quality_full", "quality_rating"]:
        print(f"### {name}\n\n{table(name)}\n")
