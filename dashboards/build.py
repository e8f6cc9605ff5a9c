"""The static report index: `<reports_dir>/index.html`, listing every report with its key figures and
trend plots over runs (inline SVG, so the page works offline and from a file:// URL).

Usage: `chatrec dashboards build` (the monitor flow runs it after each monitor), or
`python -m dashboards.build`.
"""

from __future__ import annotations

import html
import json
import os
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from chatrec.settings import Settings
from chatrec.warehouse import read_only_connection

QUERIES = Path(__file__).parent / "queries"
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
KIND_TITLES = {
    "data_drift": "Data drift",
    "recsys_quality": "Recommendation quality",
    "llm_health": "LLM health",
}
# (section, title, [(scope, subject, metric-prefix, legend)]) of each trend plot
TRENDS: list[tuple[str, str, list[tuple[str, str, str, str]]]] = [
    ("data_drift", "Share of drifted columns", [("drift", d, "drift_share", d) for d in ("interactions", "users", "items")]),
    ("recsys_quality", "Ranking quality at k", [("recs", "recsys_quality", m, m) for m in ("ndcg_at_", "precision_at_", "recall_at_", "map_at_", "mrr_at_", "hit_rate_at_")]),
    ("recsys_quality", "Beyond accuracy", [("recs", "recsys_quality", m, m) for m in ("personalization", "diversity", "serendipity", "novelty")]),
    ("llm_health", "Output validity and explanation fallback", [("llm", "llm_health", m, m) for m in ("valid_output_rate", "explanation_fallback_rate", "explanation_check_pass_rate")]),
    ("llm_health", "Latency (ms per user)", [("llm", "llm_health", "latency_ms_per_user", "latency_ms_per_user")]),
    ("llm_health", "Blend weight and prompt length", [("llm", "llm_health", m, m) for m in ("blend_weight", "prompt_tokens_mean")]),
]  # fmt: skip


def query(con: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, Any]]:
    return con.sql((QUERIES / f"{name}.sql").read_text()).pl().to_dicts()


def svg_line_chart(
    title: str, runs: list[str], series: dict[str, list[float | None]], width: int = 460, empty: str = "no values yet"
) -> str:
    """A small line chart over runs (x = run order); points with no value are gaps. Plain SVG, no scripts."""
    height, left, right, top, bottom = 220, 56, 12, 28, 54
    values = [v for points in series.values() for v in points if v is not None]
    parts = [
        f'<svg class="trend" role="img" aria-label="{html.escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>',
    ]
    if not values or not runs:
        parts.append(f'<text x="{left}" y="{height // 2}" font-size="12" fill="#777">{html.escape(empty)}</text></svg>')
        return "".join(parts)
    low, high = min(values), max(values)
    if high == low:
        low, high = low - (abs(low) * 0.1 or 1.0), high + (abs(high) * 0.1 or 1.0)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (plot_w * i / (len(runs) - 1) if len(runs) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>')
    for value in (low, (low + high) / 2, high):
        parts.append(f'<text x="{left - 4}" y="{y(value) + 4:.1f}" font-size="10" text-anchor="end">{value:.3g}</text>')
    for i, run in enumerate(runs):
        if len(runs) <= 8 or i in (0, len(runs) - 1):
            label = html.escape(run.removeprefix("run-")[:15])
            # the first and last labels hug the plot edges so the SVG box does not clip them
            anchor = (
                "start" if i == 0 and len(runs) > 1 else "end" if i == len(runs) - 1 and len(runs) > 1 else "middle"
            )
            parts.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 14}" font-size="9" text-anchor="{anchor}">{label}</text>'
            )
    for n, (name, points) in enumerate(series.items()):
        color = COLORS[n % len(COLORS)]
        segment: list[str] = []
        for i, value in enumerate(points):
            if value is None:
                if len(segment) > 1:
                    parts.append(
                        f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(segment)}"/>'
                    )
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(value):.1f}")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3" fill="{color}"><title>{html.escape(name)} {value:.4g}</title></circle>'
            )
        if len(segment) > 1:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(segment)}"/>')
        legend_x = left + (n % 3) * (plot_w // 3)
        legend_y = height - 18 + (n // 3) * 12
        parts.append(f'<rect x="{legend_x}" y="{legend_y - 8}" width="10" height="3" fill="{color}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{legend_y - 4}" font-size="10">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def trend_series(rows: list[dict[str, Any]]) -> tuple[list[str], dict[tuple[str, str, str], list[float | None]]]:
    """Runs in order, and each (scope, subject, metric)'s value per run (None where not measured)."""
    runs = list(dict.fromkeys(row["run_id"] for row in rows))
    position = {run: i for i, run in enumerate(runs)}
    series: dict[tuple[str, str, str], list[float | None]] = defaultdict(lambda: [None] * len(runs))
    for row in rows:
        series[(row["scope"], row["subject"], row["metric"])][position[row["run_id"]]] = row["value"]
    return runs, series


def short_figures(kind: str, figures: dict[str, Any]) -> str:
    """The few numbers worth reading in the table (everything else is in the report and its JSON)."""
    if kind == "data_drift":
        keys = ("drift_share", "drifted_columns", "columns_tested", "current_rows", "reference_rows")
    elif kind == "recsys_quality":
        k = figures.get("k")
        keys = (
            f"ndcg_at_{k}",
            f"precision_at_{k}",
            f"recall_at_{k}",
            f"hit_rate_at_{k}",
            "personalization",
            "novelty",
            "evaluated_on",
        )
    else:
        keys = ("llm_used", "valid_output_rate", "explanation_fallback_rate", "latency_ms_per_user", "blend_weight")
    shown = []
    for key in keys:
        value = figures.get(key)
        text = "n/a" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))
        shown.append(f"{html.escape(key)}={html.escape(text)}")
    return ", ".join(shown)


def link(path: str, base: Path, text: str) -> str:
    target = Path(path)
    href = os.path.relpath(target.resolve(), base.resolve()) if target.exists() else None
    if href is None:
        return f'<span class="missing">{html.escape(text)} (file missing)</span>'
    return f'<a href="{html.escape(Path(href).as_posix())}">{html.escape(text)}</a>'


STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
h1{margin-bottom:4px} .sub{color:#555;margin-top:0}
.verdict{padding:8px 12px;border-radius:4px;display:inline-block;margin:8px 0}
.pass{background:#e6f4ea;color:#1e6b34} .fail{background:#fde7e9;color:#a11d2b}
.plots{display:flex;flex-wrap:wrap;gap:12px} .trend{border:1px solid #eee;background:#fff}
table{border-collapse:collapse;width:100%;font-size:13px;margin-top:8px}
th,td{border-bottom:1px solid #e4e4e4;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa} .missing{color:#a11d2b}
"""


def render_index(settings: Settings, reports: list[dict[str, Any]], trend_rows: list[dict[str, Any]]) -> str:
    base = settings.reports_dir
    runs, series = trend_series(trend_rows)
    latest_run = reports[0]["run_id"] if reports else None
    latest = [r for r in reports if r["run_id"] == latest_run]
    body = [
        "<h1>chatrec monitoring</h1>",
        f'<p class="sub">{len(reports)} reports over {len({r["run_id"] for r in reports})} runs; built '
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Evidently UI over the same snapshots: "
        f"<code>chatrec dashboards serve</code> (http://127.0.0.1:{settings.dashboards_port}).</p>",
    ]
    if latest:
        failed = [r for r in latest if r["passed"] is False]
        verdict = "FAILED: " + "; ".join(r["reason"] for r in failed) if failed else "all reports passed"
        body.append(
            f'<div id="verdict" class="verdict {"fail" if failed else "pass"}">Latest run {html.escape(latest_run or "")}: '
            f"{html.escape(verdict)}</div>"
        )
    else:
        body.append('<div id="verdict" class="verdict">No reports yet: run <code>chatrec run monitor</code>.</div>')
    for kind, title in KIND_TITLES.items():
        body.append(f'<section id="{kind}"><h2>{html.escape(title)}</h2><div class="plots">')
        for section, plot_title, lines in TRENDS:
            if section != kind:
                continue
            plotted: dict[str, list[float | None]] = {}
            for scope, subject, prefix, legend in lines:
                for (s, subj, metric), points in series.items():
                    if s == scope and subj == subject and metric.startswith(prefix):
                        plotted[metric if prefix.endswith("_") else legend] = points
            # LLM figures are null for runs without the LLM: say why such a plot is empty
            empty = "no run used the LLM yet" if kind == "llm_health" else "no values yet"
            body.append(svg_line_chart(plot_title, runs, plotted, empty=empty))
        body.append("</div>")
        rows = [r for r in reports if r["kind"] == kind]
        body.append(
            "<table><thead><tr><th>run</th><th>data set</th><th>verdict</th><th>key figures</th>"
            "<th>reason</th><th>files</th></tr></thead><tbody>"
        )
        for r in rows:
            figures = json.loads(r["key_figures"] or "{}")
            verdict = "passed" if r["passed"] else "FAILED"
            body.append(
                f'<tr class="report"><td>{html.escape(r["run_id"])}</td><td>{html.escape(r["dataset"] or "")}</td>'
                f'<td class="{"pass" if r["passed"] else "fail"}">{verdict}</td>'
                f"<td>{short_figures(kind, figures)}</td><td>{html.escape(r['reason'] or '')}</td>"
                f"<td>{link(r['html_path'], base, 'HTML')} · {link(r['json_path'], base, 'JSON')}</td></tr>"
            )
        if not rows:
            body.append('<tr><td colspan="6">no reports yet</td></tr>')
        body.append("</tbody></table></section>")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>chatrec monitoring</title>'
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )


def build_index(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """Write `<reports_dir>/index.html` from monitoring.reports and monitoring.metrics; returns its path."""
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    page = render_index(settings, query(con, "reports"), query(con, "trends"))
    target = settings.reports_dir / "index.html"
    partial = target.with_name(f".index.{os.getpid()}.tmp")
    partial.write_text(page)
    os.replace(partial, target)  # a reader never sees half a page
    return target


def main() -> None:
    settings = Settings()
    con = read_only_connection(settings)
    try:
        print(build_index(con, settings))
    finally:
        con.close()


if __name__ == "__main__":
    main()
