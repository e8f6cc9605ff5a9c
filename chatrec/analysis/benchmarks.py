"""The measured tables and published anchors of docs/benchmarks.md, read back as frames so the
experiments notebook compares a new evaluation with them (the doc stays the one place they live)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

BENCHMARKS_DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
# the heading (its start) of each protocol's results table in docs/benchmarks.md
SECTIONS = {
    "chatrec": "### 1. Chat-Rec protocol",
    "msr": "#### 2a.",
    "full": "#### 2b.",
    "temporal": "### 3. Temporal",
    "rating": "### 4. Rating prediction",
}
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def benchmark_table(protocol: str, doc: Path | None = None) -> pl.DataFrame:
    """The first table under the protocol's heading: one row per model, `source` = measured | published
    (published anchors are the italic rows), figures as floats (None where the doc has '–')."""
    path = doc or BENCHMARKS_DOC
    if protocol not in SECTIONS:
        raise ValueError(f"no benchmark section for protocol {protocol!r}; known: {', '.join(SECTIONS)}")
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (it ships with the repository checkout)")
    lines = path.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(SECTIONS[protocol])), None)
    if start is None:
        raise ValueError(f"{path.name} has no heading starting with {SECTIONS[protocol]!r}")
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif table:
            break
    if len(table) < 3:
        raise ValueError(f"no results table under {SECTIONS[protocol]!r} in {path.name}")
    header, rows = table[0], table[2:]
    records = []
    for row in rows:
        record: dict[str, object] = {"source": "published" if row[0].startswith("*") else "measured"}
        for name, cell in zip(header, row, strict=False):
            if name == "model":
                record[name] = cell.strip("*")
            elif NUMBER.match(cell):
                record[name] = float(cell)
            elif cell in ("–", "-", ""):
                record[name] = None
            else:
                record[name] = cell
        records.append(record)
    return pl.DataFrame(records, infer_schema_length=None)
