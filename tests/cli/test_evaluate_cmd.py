"""`chatrec evaluate` as a user runs it, on a freshly ingested warehouse."""

import re
from pathlib import Path

import pytest

from tests.cli.test_cli import chatrec


@pytest.mark.slow
def test_evaluate_protocols(tmp_path: Path) -> None:
    assert chatrec("ingest", "movielens", cwd=tmp_path).returncode == 0
    full = chatrec("evaluate", "--protocol", "full", "--model", "ease", "--params", '{"l2": 400}', cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    ndcg = float(re.search(r"ndcg_at_10\D+([0-9.]+)", full.stdout).group(1))
    # EASE on ML-100K lands far above popularity (~0.25) in this protocol
    assert ndcg > 0.4
    msr = chatrec("evaluate", "--protocol", "msr", "--model", "popularity", cwd=tmp_path)
    assert msr.returncode == 0 and "ndcg_at_10" in msr.stdout, msr.stderr
    temporal = chatrec("evaluate", "--protocol", "temporal", "--model", "popularity", cwd=tmp_path)
    assert temporal.returncode == 0 and "precision_at_10" in temporal.stdout, temporal.stderr
    unknown_param = chatrec(
        "evaluate", "--protocol", "full", "--model", "ease", "--params", '{"alpha": 1}', cwd=tmp_path
    )
    assert unknown_param.returncode == 2 and "alpha" in unknown_param.stdout


def test_bad_input_exits_2_with_the_reason(tmp_path: Path) -> None:
    wrong_kind = chatrec("evaluate", "--protocol", "rating", "--model", "ease", cwd=tmp_path)
    assert wrong_kind.returncode == 2 and "'ease' is not a rating model" in wrong_kind.stdout
    bad_params = chatrec("evaluate", "--protocol", "full", "--model", "ease", "--params", "{l2", cwd=tmp_path)
    assert bad_params.returncode == 2 and "--params" in bad_params.stdout
    no_warehouse = chatrec("evaluate", "--protocol", "chatrec", cwd=tmp_path)
    assert no_warehouse.returncode == 2 and "error" in no_warehouse.stdout


def test_chosen_params_come_from_the_benchmark_results_of_the_protocol() -> None:
    from chatrec.evaluation.run import chosen_params

    params, where = chosen_params("chatrec", "dlae")
    assert params == {"l2": 200.0, "dropout": 0.5, "weighting": "rating"} and "quality_chatrec.json" in where
    assert chosen_params("msr", "dlae")[0]["l2"] == 800.0
    assert chosen_params("chatrec", "no_such_model") == (
        {},
        "model defaults (no_such_model not in quality_chatrec.json)",
    )


@pytest.mark.slow
def test_readme_chatrec_protocol_number_reproduces_with_the_command_shown(tmp_path: Path) -> None:
    assert chatrec("ingest", "movielens", cwd=tmp_path).returncode == 0
    result = chatrec("evaluate", "--protocol", "chatrec", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"ndcg_at_5\D+0\.3955", result.stdout), result.stdout


@pytest.mark.slow
def test_rating_protocol_on_a_movielens_latest_warehouse(tmp_path: Path) -> None:
    from tests.evaluation.test_protocols import write_ratings_folder

    folder = write_ratings_folder(tmp_path / "latest")
    assert chatrec("ingest", "latest", str(folder), cwd=tmp_path).returncode == 0
    rating = chatrec(
        "evaluate", "--protocol", "rating", "--model", "biasedmf", "--params", '{"epochs": 2}', cwd=tmp_path
    )
    assert rating.returncode == 0 and "5 random folds" in rating.stdout and "rmse_u5" in rating.stdout, rating.stderr
    msr = chatrec("evaluate", "--protocol", "msr", "--model", "popularity", cwd=tmp_path)
    assert msr.returncode == 2 and "--protocol full" in msr.stdout
    demo = chatrec("ingest", "movielens", cwd=tmp_path)  # the demo stays out of a warehouse with other data
    assert demo.returncode == 2 and "never loaded into a warehouse that holds other data" in demo.stdout
