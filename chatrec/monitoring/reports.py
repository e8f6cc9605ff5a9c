"""What every monitoring report has in common: its record, and saving it as HTML + JSON."""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from evidently.core.report import Snapshot

QUERIES = Path(__file__).parent / "queries"

KINDS = ("data_drift", "recsys_quality", "llm_health")


def query(name: str) -> str:
    """The SQL of `queries/<name>.sql`."""
    return (QUERIES / f"{name}.sql").read_text()


def frame(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, object]) -> pl.DataFrame:
    """A named query's result as a polars frame (DuckDB 2.0: `con.sql(...).pl()`, not `execute`).

    Only the parameters the query names (`$name`) are passed: DuckDB rejects unused ones, and callers
    hand every query of a family the same set.
    """
    sql = query(name)
    used = {key: value for key, value in params.items() if re.search(rf"\${key}\b", sql)}
    return con.sql(sql, params=used).pl()


def finite(value: object) -> float | None:
    """A float for JSON and SQL, or None for missing / NaN (Evidently reports NaN for empty columns)."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) or math.isinf(number) else number


@dataclass
class ReportArtifact:
    """One saved report: where its files are, its key figures, and whether it passed its thresholds."""

    report_id: str
    run_id: str
    kind: str
    html_path: Path
    json_path: Path
    key_figures: dict[str, Any]
    passed: bool
    reason: str
    dataset: str | None = None
    snapshot: Snapshot | None = field(default=None, repr=False)
    snapshot_id: str | None = None
    evidently_project: str | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)  # rows for monitoring.metrics
    drift_columns: list[dict[str, Any]] = field(default_factory=list)  # rows for monitoring.drift_results

    @property
    def verdict(self) -> str:
        """failed (an alarm), information (drift above its threshold that is not an alarm) or passed;
        the same rule as marts.report_history.verdict."""
        if not self.passed:
            return "failed"
        share, threshold = self.key_figures.get("drift_share"), self.key_figures.get("threshold")
        if self.kind == "data_drift" and share is not None and threshold is not None and share > threshold:
            return "information"
        return "passed"


def report_id(run_id: str, kind: str, dataset: str | None = None) -> str:
    """Stable id from run + kind (+ data set): re-running the monitor replaces rows instead of adding."""
    return f"{run_id}:{kind}" + (f":{dataset}" if dataset else "")


# snapshot metadata key naming the report a snapshot belongs to (workspace.add_snapshot finds by it)
REPORT_ID_KEY = "chatrec_report_id"


def snapshot_metadata(report: str) -> dict[str, str]:
    """Metadata every stored snapshot carries: which report it is, so a later monitor can replace it."""
    return {REPORT_ID_KEY: report}


def save_snapshot(
    snapshot: Snapshot, reports_dir: Path, run_id: str, name: str, banner: list[str]
) -> tuple[Path, Path]:
    """Write `<reports_dir>/<run_id>/<name>.html|.json`; the HTML gets a short header saying what it shows.

    Why the header: Evidently's HTML shows metrics but not which run, windows or evaluation data they
    came from, nor the pass/fail verdict; a reader opening the file alone needs those.
    """
    folder = reports_dir / run_id
    folder.mkdir(parents=True, exist_ok=True)
    html_path, json_path = folder / f"{name}.html", folder / f"{name}.json"
    snapshot.save_json(str(json_path))
    snapshot.save_html(str(html_path))
    header = (
        '<div id="chatrec-header" style="font-family:sans-serif;padding:12px 24px;background:#f4f6f8;'
        'border-bottom:1px solid #d0d7de">'
        + "".join(f"<div>{html.escape(line)}</div>" for line in banner)
        + '<div><a href="../index.html">all reports</a></div></div>'
    )
    text = html_path.read_text()
    html_path.write_text(text.replace("<body>", "<body>" + header, 1))
    return html_path, json_path
