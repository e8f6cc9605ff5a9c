"""The Evidently workspace's dashboards, read back from a running `evidently ui`: every panel gets data
for every data set (not only the first one), and the quality project plots the ranking metrics at k."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from chatrec.monitoring.drift import DATASETS, run_drift_report
from chatrec.monitoring.reports import ReportArtifact
from chatrec.monitoring.workspace import DRIFT_DATASETS, PROJECT_NAMES, RANKING_FIGURES, add_snapshot, open_workspace
from tests.evidently_ui import evidently_ui, served_panels


def drift_frame(columns: tuple[str, ...], categorical: tuple[str, ...], shift: float, rows: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    data: dict[str, object] = {c: rng.normal(shift, 1.0, rows) for c in columns}
    data.update({c: rng.choice(["a", "b", "c"], rows) for c in categorical})
    return pd.DataFrame(data)


def artifact(run_id: str, kind: str, tmp: Path, **fields: object) -> ReportArtifact:
    return ReportArtifact(
        report_id=f"{run_id}:{kind}" + (f":{fields['dataset']}" if fields.get("dataset") else ""),
        run_id=run_id, kind=kind, html_path=tmp / "r.html", json_path=tmp / "r.json",
        passed=True, reason="", **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def test_every_panel_serves_every_data_sets_series(tmp_path: Path) -> None:
    workspace = open_workspace(tmp_path / "evidently")
    for n, run_id in enumerate(("run-1", "run-2")):
        for dataset in DATASETS:
            reference = drift_frame(dataset.numerical, dataset.categorical, 0.0)
            current = drift_frame(dataset.numerical, dataset.categorical, 2.0 * n)
            snapshot, _ = run_drift_report(reference, current, dataset, 0.5)
            add_snapshot(
                workspace,
                artifact(run_id, "data_drift", tmp_path, dataset=dataset.name, snapshot=snapshot, key_figures={}),
                None,
            )
        figures = {f"{name}_at_5": 0.1 * (n + 1) for name in RANKING_FIGURES}
        quality = artifact(run_id, "recsys_quality", tmp_path, snapshot=snapshot, key_figures={"k": 5}, metrics=figures)
        add_snapshot(workspace, quality, None)
        add_snapshot(workspace, quality, quality.snapshot_id)  # a re-run of the monitor replaces, never adds
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with evidently_ui(tmp_path / "evidently") as base:
        served = served_panels(base)
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before  # the UI stopped with the test

    drift = served[PROJECT_NAMES["data_drift"]]
    for dataset in DATASETS:
        share = len(dataset.numerical) / (len(dataset.numerical) + len(dataset.categorical))
        served_share = drift[f"{dataset.name}: share of drifted columns"][dataset.name]
        assert np.allclose(served_share, [0.0, share]), (dataset.name, served_share)  # run 2 shifts the numbers
    for dataset in DRIFT_DATASETS:
        rows = drift[f"{dataset}: rows in the current window"][dataset]
        assert rows == [120.0, 120.0], dataset  # one point per run
    assert all(series for panel in drift.values() for series in panel.values())
    ranking = served[PROJECT_NAMES["recsys_quality"]]["Ranking metrics at k over runs"]
    assert set(ranking) == set(RANKING_FIGURES)
    assert all(np.allclose(values, [0.1, 0.2]) for values in ranking.values()), ranking  # no duplicate points
