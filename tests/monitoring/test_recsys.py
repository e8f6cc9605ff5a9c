import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from chatrec.batch.recommend import recommend_batch
from chatrec.monitoring import monitor
from chatrec.monitoring.recsys import Evaluation, evaluation_frame, figures, quality_drops, recsys_snapshot
from chatrec.retrain import retrain
from chatrec.settings import Settings


def test_recall_counts_relevant_items_that_were_not_recommended() -> None:
    # user a: served [x, y], relevant {x, z}; user b: served [p, q], relevant {q}; user c: nothing relevant
    recommended = pl.DataFrame(
        {"user_id": ["a", "a", "b", "b", "c", "c"], "rank": [1, 2, 1, 2, 1, 2],
         "item_id": ["x", "y", "p", "q", "x", "q"], "score": [2.0, 2.0, 0.9, 0.5, 1.0, 0.1]}
    )  # fmt: skip
    relevant = pl.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "z", "q"]})
    rows = evaluation_frame(recommended, relevant, 2)
    assert set(rows.get_column("user_id")) == {"a", "b"}  # users without feedback are not scored
    assert rows.filter(pl.col("item_id") == "z").get_column("target").to_list() == [1]
    current = rows.with_columns(pl.lit(1.0).alias("genre_x")).to_pandas()
    train = pl.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "p"], "genre_x": [1.0, 1.0]}).to_pandas()
    evaluation = Evaluation("run", "m@1", 2, "newly_arrived", "test", current, train, 2)
    result = figures(recsys_snapshot(evaluation, None, ["genre_x"]), 2)
    assert result["precision_at_2"] == pytest.approx(0.5)
    assert result["recall_at_2"] == pytest.approx(0.75)  # 1/2 for a (z was missed) and 1/1 for b
    assert result["hit_rate_at_2"] == pytest.approx(1.0)
    assert result["mrr_at_2"] == pytest.approx(0.75)  # a hits at rank 1 (despite the tied scores), b at rank 2


def test_quality_drops_name_the_metric_and_size() -> None:
    drops = quality_drops({"ndcg_at_5": 0.09, "novelty": 1.0}, {"ndcg_at_5": 0.10, "novelty": 9.0}, 0.05)
    assert drops == ["ndcg_at_5 dropped 10.0% (0.1000 -> 0.0900) > 5% tolerance"]
    assert quality_drops({"ndcg_at_5": 0.097}, {"ndcg_at_5": 0.10}, 0.05) == []


@pytest.fixture
def popularity_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"candidate_model": "popularity", "candidate_models": ["popularity"], "torch_threads": 1}
    )


@pytest.mark.slow  # ~40 s: three monitors over MovieLens 100K; `make test` runs it on its slow line
def test_monitor_on_movielens_saves_indexes_and_reruns_without_duplicates(
    ml100k_warehouse: duckdb.DuckDBPyConnection, popularity_settings: Settings
) -> None:
    con, settings = ml100k_warehouse, popularity_settings
    retrain(con, settings, ["popularity"])
    first_run = recommend_batch(con, settings).run_id
    summary = monitor(con, settings)
    assert summary.run_id == first_run
    kinds = sorted((r.kind, r.dataset) for r in summary.reports)
    assert kinds == [("data_drift", "interactions"), ("data_drift", "items"), ("data_drift", "users"),
                     ("llm_health", None), ("recsys_quality", None)]  # fmt: skip
    for report in summary.reports:
        assert report.html_path.stat().st_size > 1_000_000  # self-contained Evidently HTML
        assert json.loads(report.json_path.read_text())["metrics"]
        assert report.snapshot_id is not None
    quality = next(r for r in summary.reports if r.kind == "recsys_quality")
    figures_ = quality.key_figures
    assert figures_["evaluated_on"] == "temporal_holdout" and "holdout" in figures_["evaluation"]
    for name in ("precision_at_5", "recall_at_5", "ndcg_at_5", "map_at_5", "mrr_at_5", "hit_rate_at_5",
                 "personalization", "popularity_bias_arp", "novelty", "diversity", "serendipity"):  # fmt: skip
        assert figures_[name] is not None, name
    assert 0 < figures_["ndcg_at_5"] < 1 and figures_["previous_run_id"] is None

    def counts() -> tuple:
        return (
            con.execute("SELECT count(*) FROM monitoring.reports").fetchall()[0][0],
            con.execute("SELECT count(*) FROM monitoring.metrics").fetchall()[0][0],
            con.execute("SELECT count(*) FROM monitoring.drift_results").fetchall()[0][0],
            sum(1 for _ in Path(settings.evidently_workspace).glob("*/snapshots/*.json")),
        )

    before = counts()
    assert before[0] == 5 and before[3] == 6  # 5 reports + the quality project's ranking snapshot (workspace.py)
    monitor(con, settings, run_id=first_run)  # re-run for the same run: replaced, not duplicated
    assert counts() == before

    # a second run whose ranking quality is worse than the first's recorded figures fails with the reason
    con.execute(
        "UPDATE monitoring.metrics SET value = value * 2 WHERE run_id = ? AND scope = 'recs' AND metric = 'ndcg_at_5'",
        [first_run],
    )
    second_run = recommend_batch(con, settings).run_id
    second = monitor(con, settings)
    assert second.run_id == second_run and not second.passed
    assert any("ndcg_at_5 dropped 50.0%" in reason and first_run in reason for reason in second.reasons)
    stored = con.execute(
        "SELECT passed, reason FROM monitoring.reports WHERE run_id = ? AND kind = 'recsys_quality'", [second_run]
    ).fetchall()
    assert stored[0][0] is False and "ndcg_at_5 dropped" in stored[0][1]


def test_newly_arrived_interactions_are_preferred_over_the_holdout(
    ml100k_warehouse: duckdb.DuckDBPyConnection, popularity_settings: Settings
) -> None:
    from chatrec.monitoring.recsys import evaluate_run, item_genres, run_row

    con, settings = ml100k_warehouse, popularity_settings
    retrain(con, settings, ["popularity"])
    run_id = recommend_batch(con, settings, user_ids=[str(u) for u in range(1, 51)]).run_id
    # every one of these users goes on to watch their first recommendation the day after training
    con.execute(
        "INSERT INTO core.interactions (user_id, item_id, rating, event, ts, load_id)"
        " SELECT user_id, item_id, 5, 'rating', TIMESTAMP '1998-04-24', 'later' FROM recs.recommendations"
        " WHERE run_id = ? AND rank = 1",
        [run_id],
    )
    evaluation = evaluate_run(con, settings, run_row(con, "latest_run", run_id), item_genres(con))
    assert evaluation.source == "newly_arrived" and evaluation.users_evaluated == 50
    result = figures(recsys_snapshot(evaluation, None, ["genre_drama"]), evaluation.k)
    assert result["hit_rate_at_5"] == pytest.approx(1.0) and result["mrr_at_5"] == pytest.approx(1.0)


def test_diversity_is_left_out_past_its_size_limits_and_the_report_says_why(
    ml100k_warehouse: duckdb.DuckDBPyConnection, popularity_settings: Settings
) -> None:
    from chatrec.monitoring.recsys import diversity_skipped, recsys_report, run_row

    con, settings = ml100k_warehouse, popularity_settings
    retrain(con, settings, ["popularity"])
    run = run_row(con, "latest_run", recommend_batch(con, settings).run_id)
    assert run is not None
    assert diversity_skipped(con, settings, run) is None  # ML-100K: 1,682 items, 100K rows, within the defaults
    by_rows = diversity_skipped(con, settings.model_copy(update={"monitor_diversity_max_train_rows": 50_000}), run)
    assert by_rows is not None and "> monitor_diversity_max_train_rows 50,000" in by_rows
    small = settings.model_copy(update={"monitor_diversity_max_items": 1_000})
    report = recsys_report(con, small, run)
    assert "diversity and serendipity not computed: 1,6" in report.reason
    assert "items > monitor_diversity_max_items 1,000" in report.reason and "GB" in report.reason
    assert report.key_figures.get("diversity") is None and report.key_figures.get("serendipity") is None
    for name in ("ndcg_at_5", "personalization", "popularity_bias_arp", "novelty"):
        assert report.key_figures[name] is not None, name
