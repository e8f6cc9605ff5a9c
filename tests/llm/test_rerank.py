"""Blending and the blend-weight fit, and the three LLM re-rank modes on the real SmolLM2."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from chatrec.data.frames import interactions_frame, items_frame, users_frame
from chatrec.llm.context import Catalogue, ContextBuilder
from chatrec.llm.prompts import PromptBuilder
from chatrec.llm.rerank import (
    RERANK_MODES,
    LLMReranker,
    LLMScores,
    blend,
    decide_blend_weight,
    fit_blend_weight,
    paired_bootstrap_gain,
)


def candidates_frame(users: dict[str, list[str]]) -> pl.DataFrame:
    rows = [(u, r, i, float(10 - r)) for u, items in users.items() for r, i in enumerate(items, start=1)]
    return pl.DataFrame(rows, schema=["user_id", "rank", "item_id", "score"], orient="row").cast({"rank": pl.Int32})


CANDIDATES = candidates_frame({"u1": ["a", "b", "c", "d"], "u2": ["e", "f", "g", "h"]})
# the held-out items each user liked: the last two first-stage candidates
RELEVANT = pl.DataFrame({"user_id": ["u1", "u1", "u2", "u2"], "item_id": ["c", "d", "g", "h"]})


def llm(values: dict[str, list[float]]) -> list[LLMScores]:
    items = {u: g["item_id"].to_list() for (u,), g in CANDIDATES.group_by("user_id")}
    return [LLMScores(u, items[u], np.asarray(v)) for u, v in values.items()]


def test_weight_zero_keeps_first_stage_order_and_one_follows_the_llm() -> None:
    scores = llm({"u1": [0, 1, 2, 3], "u2": [3, 2, 1, 0]})
    stage1 = blend(CANDIDATES, scores, 0.0, 2)
    assert stage1.filter(pl.col("user_id") == "u1")["item_id"].to_list() == ["a", "b"]
    assert stage1["stage1_score"].to_list()[:2] == [9.0, 8.0] and stage1["llm_score"].to_list()[:2] == [0.0, 1.0]
    assert blend(CANDIDATES, scores, 1.0, 2).filter(pl.col("user_id") == "u1")["item_id"].to_list() == ["d", "c"]


def test_an_informative_llm_gets_weight_and_an_uninformative_one_gets_zero() -> None:
    oracle = fit_blend_weight(CANDIDATES, llm({"u1": [0, 0, 1, 1], "u2": [0, 0, 1, 1]}), RELEVANT, 2)
    assert oracle.weight > 0.5 and oracle.ndcg_blend == pytest.approx(1.0) and oracle.ndcg_stage1 == 0.0
    flat = fit_blend_weight(CANDIDATES, llm({"u1": [1, 1, 1, 1], "u2": [1, 1, 1, 1]}), RELEVANT, 2)
    assert flat.weight == 0.0  # ties go to "ignore the LLM"
    harmful = fit_blend_weight(
        CANDIDATES, llm({"u1": [0, 0, 1, 1], "u2": [0, 0, 1, 1]}),
        pl.DataFrame({"user_id": ["u1", "u2"], "item_id": ["a", "e"]}), 2,
    )  # fmt: skip
    assert harmful.weight == 0.0 and harmful.ndcg_llm < harmful.ndcg_stage1


def test_a_grid_maximum_from_noise_keeps_weight_zero() -> None:
    # 40 validation users whose per-user NDCG at w = 0.7 is the first stage's plus zero-mean noise: the
    # grid maximum lands on 0.7 by chance, but the gain's interval straddles 0, so the LLM is ignored
    rng = np.random.default_rng(3)
    stage1 = rng.uniform(0, 1, 40)
    noise = rng.normal(0, 0.2, 40)
    noise -= noise.mean() - 0.01  # a +0.01 mean "gain": the best of the grid, and pure noise
    per_user = {0.0: stage1, 0.5: stage1 - 0.02, 0.7: stage1 + noise, 1.0: stage1 - 0.1}
    fit = decide_blend_weight(per_user, seed=0)
    assert fit.best_weight == 0.7 and fit.weight == 0.0
    assert fit.gain is not None and fit.gain.low < 0 < fit.gain.high
    assert fit.gain.mean == pytest.approx(0.01)


def test_a_gain_whose_interval_is_above_zero_keeps_its_weight() -> None:
    rng = np.random.default_rng(4)
    stage1 = rng.uniform(0, 1, 200)
    per_user = {0.0: stage1, 0.3: stage1 + rng.normal(0.05, 0.1, 200), 1.0: stage1 - 0.2}
    fit = decide_blend_weight(per_user, seed=0)
    assert fit.weight == 0.3 and fit.gain is not None and 0 < fit.gain.low < fit.gain.mean < fit.gain.high
    assert fit.ndcg_by_weight[0.3] > fit.ndcg_by_weight[0.0]
    # the interval is reproducible for a seed, and is the paired one: shifting every user's baseline
    # by a common amount changes nothing
    again = paired_bootstrap_gain(per_user[0.0] + 5, per_user[0.3] + 5, seed=0, confidence=fit.gain.confidence)
    assert fit.gain.confidence == pytest.approx(1 - 0.05 / 2)  # Bonferroni over the 2 non-zero weights
    assert (again.low, again.high) == pytest.approx((fit.gain.low, fit.gain.high))


def test_bootstrap_needs_paired_arrays_and_the_first_stage_in_the_grid() -> None:
    with pytest.raises(ValueError, match="two 1-d arrays of one length"):
        paired_bootstrap_gain(np.zeros(3), np.zeros(4), seed=0)
    with pytest.raises(ValueError, match="at least 2 users"):
        paired_bootstrap_gain(np.zeros(1), np.ones(1), seed=0)
    with pytest.raises(ValueError, match=r"must include 0\.0"):
        decide_blend_weight({0.5: np.zeros(3)}, seed=0)
    no_spread = paired_bootstrap_gain(np.zeros(5), np.full(5, 0.1), seed=0)
    assert (no_spread.low, no_spread.high) == pytest.approx((0.1, 0.1)) and no_spread.above_zero


def test_blend_weight_is_validated_and_needs_validation_data() -> None:
    with pytest.raises(ValueError, match=r"blend weight must be in \[0, 1\]"):
        blend(CANDIDATES, [], 1.5, 2)
    with pytest.raises(ValueError, match="no relevant validation"):
        fit_blend_weight(CANDIDATES, [], RELEVANT.clear(), 2)


@pytest.mark.parametrize("mode", RERANK_MODES)
def test_every_mode_scores_every_candidate_validly(mode: str, smollm2, ml100k_warehouse) -> None:
    items = items_frame(ml100k_warehouse)
    contexts = ContextBuilder(Catalogue(items), interactions_frame(ml100k_warehouse), users_frame(ml100k_warehouse))
    candidates = candidates_frame(
        {"1": ["300", "301", "302", "303", "304", "305"], "2": ["50", "100", "181", "1", "7", "9"]}
    )
    reranker = LLMReranker(smollm2, PromptBuilder(smollm2.count_tokens, 512), contexts, mode)  # type: ignore[arg-type]
    scores, stats = reranker.score(candidates, 3)
    assert [s.user_id for s in scores] == ["1", "2"]
    assert all(s.scores.shape == (6,) and np.all(np.isfinite(s.scores)) for s in scores)
    metrics = stats.as_metrics()
    assert metrics["valid_output_rate"] == 1.0 and metrics["invalid_items"] == 0 and metrics["duplicate_items"] == 0
    assert metrics["prompt_tokens_max"] > 0 and metrics["users"] == 2
    final = blend(candidates, scores, 0.5, 3)
    assert final.group_by("user_id").len()["len"].to_list() == [3, 3]


def test_unknown_mode_is_named() -> None:
    with pytest.raises(ValueError, match="unknown LLM re-rank mode 'pairwise'"):
        LLMReranker(None, None, None, "pairwise")  # type: ignore[arg-type]
