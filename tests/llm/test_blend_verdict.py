"""The blend's interval is shown where the weight is: the verdict in the run summary (issue 19, point 3),
on per-user NDCG arrays of a made-up validation set (no MovieLens, no LLM decoding)."""

from __future__ import annotations

import numpy as np

from chatrec.llm.pipeline import BlendRecord
from chatrec.llm.rerank import BlendFit, decide_blend_weight
from flows.nightly import llm_lines


def record(fit: BlendFit) -> BlendRecord:
    gain = fit.gain
    interval = (gain.mean, gain.low, gain.high, gain.confidence) if gain else (None, None, None, None)
    return BlendRecord("blend-1", fit.weight, "choice", "some-llm", fit.users, fit.ndcg_stage1,
                       fit.ndcg_by_weight[1.0], fit.ndcg_by_weight[fit.weight], False, fit.best_weight,
                       *interval)  # fmt: skip


def test_the_run_summary_shows_the_weight_with_its_interval() -> None:
    rng = np.random.default_rng(11)
    stage1 = rng.uniform(0, 1, 120)
    helped = record(decide_blend_weight({0.0: stage1, 0.4: stage1 + rng.normal(0.06, 0.05, 120), 1.0: stage1 - 0.1},
                                        seed=0, users=120))  # fmt: skip
    assert helped.weight == 0.4 and helped.gain_ci_low is not None and helped.gain_ci_low > 0
    assert "weight 0.4: validation NDCG" in helped.verdict
    assert f"CI {helped.gain_ci_low:+.4f}..{helped.gain_ci_high:+.4f} over 120 validation users" in helped.verdict
    summary = "\n".join(llm_lines({"llm_users": 20, "llm_metrics": {}, "blend": helped.verdict}))
    assert helped.verdict in summary

    noise = rng.normal(0, 0.2, 120)
    noise -= noise.mean() - 0.005  # the grid's best by a hair, and noise
    ignored = record(decide_blend_weight({0.0: stage1, 0.7: stage1 + noise, 1.0: stage1 - 0.1}, seed=0, users=120))
    assert ignored.weight == 0.0 and ignored.best_weight == 0.7
    assert ignored.verdict.startswith("weight 0: the LLM did not measurably improve validation NDCG (w=0.7 gains")
    assert f"CI {ignored.gain_ci_low:+.4f}..{ignored.gain_ci_high:+.4f}" in ignored.verdict
    assert ignored.gain_ci_low < 0 < ignored.gain_ci_high  # type: ignore[operator]
