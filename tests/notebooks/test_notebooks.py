"""Every notebook runs headless (`marimo export html`) against small warehouses built here, with no
error cell: on an empty warehouse and on one lacking optional data it says what is missing instead."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from chatrec.analysis.notebooks import NOTEBOOKS, cell_errors, export_html, exported_cells, exported_figures
from chatrec.settings import Settings
from dashboards.build import build_index

pytestmark = pytest.mark.slow

RUN_EXPERIMENT = {"run": "yes", "models": "popularity,itemknn", "protocol": "temporal"}


def shown(page: str) -> str:
    """Everything the cells displayed, as one text (outputs only; --no-include-code leaves the code out)."""
    return "\n".join(json.dumps(output.get("data")) for cell in exported_cells(page) for output in cell["outputs"])


def run(name: str, settings: Settings, tmp_path: Path, args: dict[str, str] | None = None) -> str:
    page = export_html(name, tmp_path / f"{name}.html", settings, args=args).read_text()
    assert cell_errors(page) == []
    return page


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_each_notebook_explains_an_empty_warehouse(name: str, empty_warehouse: Settings, tmp_path: Path) -> None:
    text = shown(run(name, empty_warehouse, tmp_path, RUN_EXPERIMENT))
    expected = {
        "tour": "Nothing ingested yet",
        "recommendations": "No complete recommendation run yet",
        "monitoring": "No monitoring figures yet",
        "experiments": "No interactions to evaluate on",
    }
    assert expected[name] in text


def test_a_missing_warehouse_file_is_explained(tmp_path: Path) -> None:
    settings = Settings(warehouse_path=tmp_path / "nowhere.duckdb")
    imported = "marimo" in sys.modules
    assert "No warehouse to read" in shown(run("tour", settings, tmp_path))
    # the export runs marimo in a child process and does not import it here: with marimo in
    # sys.modules transformers takes the process for a notebook, and a later text encoder failed
    assert ("marimo" in sys.modules) == imported


def test_notebooks_adapt_to_a_data_set_without_user_attributes_monitoring_or_llm(
    sparse_warehouse: Settings, tmp_path: Path
) -> None:
    tour = shown(run("tour", sparse_warehouse, tmp_path))
    assert "no user attributes" in tour and "Interactions per week" in tour
    recommendations = shown(run("recommendations", sparse_warehouse, tmp_path))
    assert "First-stage candidates" in recommendations and "The LLM did not re-rank this user" in recommendations
    monitoring = shown(run("monitoring", sparse_warehouse, tmp_path))
    assert "No monitoring figures yet" in monitoring and "marimo-plotly" not in monitoring


def test_notebooks_show_a_monitored_warehouse(monitored_warehouse: Settings, tmp_path: Path) -> None:
    tour = shown(run("tour", monitored_warehouse, tmp_path))
    assert "Users per occupation" in tour and "Items per genre" in tour
    explorer = shown(run("recommendations", monitored_warehouse, tmp_path, {"user": "42"}))
    assert "data-initial-value='[&quot;42&quot;]'" in explorer  # the dropdown picked the user asked for
    for section in ("First-stage candidates", "Final top-k", "First-stage rank vs final rank", "check passed"):
        assert section in explorer, section
    experiments = shown(run("experiments", monitored_warehouse, tmp_path, RUN_EXPERIMENT))
    assert "this notebook" in experiments and "ndcg_at_10" in experiments and "Not evaluated" not in experiments
    assert "warm_ndcg_at_10" in experiments and "cold_ndcg_at_10" in experiments  # the leaderboard's gate scores


def test_the_monitor_index_is_the_monitoring_notebook_with_one_series_per_data_set(
    monitored_warehouse: Settings,
) -> None:
    page = build_index(monitored_warehouse).read_text()
    assert cell_errors(page) == []
    figures = {figure["title"]: figure["series"] for figure in exported_figures(page)}
    drift = figures["Share of drifted columns per data set"]
    assert set(drift) == {"interactions", "users", "items", "alert (report failed)"}
    assert all(len(values) == 2 for values in drift.values())  # one point per monitored run
    assert drift["alert (report failed)"] == drift["users"]  # users drift in MovieLens 100K: marked as alerts
    ranking = figures["Ranking quality at k"]
    assert set(ranking) == {f"{m}_at_5" for m in ("ndcg", "precision", "recall", "map", "mrr", "hit_rate")}
    assert "Alert: latest run" in shown(page) and "Alarm checks per run" in shown(page)
    assert not any(title.startswith("LLM") for title in figures)  # no LLM run: said in a note instead
    assert "No run used the LLM yet" in shown(page)
    assert (monitored_warehouse.reports_dir / "_marimo" / "index.html").is_file()  # the frontend is served locally
    assert "cdn.jsdelivr.net/npm/@marimo-team" not in page


def test_a_failing_cell_is_reported_and_stops_the_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import chatrec.analysis.notebooks as notebooks

    (tmp_path / "broken.py").write_text(
        "import marimo\napp = marimo.App()\n\n\n@app.cell\ndef _():\n    1 / 0\n    return\n"
    )
    monkeypatch.setattr(notebooks, "NOTEBOOKS", {"broken": "broken.py"})
    monkeypatch.setattr(notebooks, "notebook_dir", lambda: tmp_path)
    with pytest.raises(notebooks.NotebookError, match=r"ZeroDivisionError|division by zero"):
        export_html("broken", tmp_path / "out" / "broken.html", Settings())
    assert not (tmp_path / "out" / "broken.html").exists()  # nothing half-written is left as the page
