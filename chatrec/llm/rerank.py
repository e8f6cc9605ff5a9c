"""Re-ranking first-stage candidates with the LLM, and blending its scores with the first stage.

Three modes, none of which can produce an unparseable answer or an item outside the candidates:
- `listwise`: the model writes the top-k as candidate letters, decoded under a grammar that only
  admits unused candidate letters (score = k..1 by position, 0 for the rest).
- `choice`: one forward pass; the score of a candidate is the probability of its letter as the
  answer to "which one will the user enjoy most?" (a verbalizer: nothing to parse).
- `yesno`: one prompt per candidate; the score is P("Yes") against P("No") (TALLRec-style).

The final score is (1 - w) * first-stage + w * LLM, both min-max normalised per user. `fit_blend_weight`
picks the best w on validation users by NDCG@k, then keeps it only when a paired bootstrap over those
users puts the whole confidence interval of its gain over the first stage above 0 (95%, Bonferroni-
corrected for the grid's weights); otherwise w = 0
(ignore the LLM), the default outcome. A grid maximum on a few dozen users is mostly noise: the
interval is what says whether the LLM measurably helps.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl

from chatrec.evaluation.metrics.ndcg import ndcg_per_user
from chatrec.llm.backends.base import LLMBackend
from chatrec.llm.context import ContextBuilder
from chatrec.llm.prompts import PromptBuilder, Turn, candidate_labels

RerankMode = Literal["listwise", "choice", "yesno"]
RERANK_MODES: tuple[RerankMode, ...] = ("listwise", "choice", "yesno")
BLEND_GRID = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))


@dataclass
class LLMScores:
    """The LLM's view of one user's candidates, plus what the health report needs."""

    user_id: str
    item_ids: list[str]
    scores: np.ndarray
    valid: bool = True
    invented: int = 0
    duplicates: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0
    history_dropped: int = 0


@dataclass
class RerankStats:
    users: int = 0
    valid: int = 0
    invented: int = 0
    duplicates: int = 0
    prompt_tokens: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, scores: LLMScores) -> None:
        self.users += 1
        self.valid += scores.valid
        self.invented += scores.invented
        self.duplicates += scores.duplicates
        self.prompt_tokens.append(scores.prompt_tokens)

    def as_metrics(self) -> dict[str, float]:
        tokens = self.prompt_tokens or [0]
        return {
            "valid_output_rate": self.valid / self.users if self.users else float("nan"),
            "invalid_items": float(self.invented),
            "duplicate_items": float(self.duplicates),
            "latency_ms_per_user": 1000 * self.seconds / self.users if self.users else float("nan"),
            "prompt_tokens_mean": float(np.mean(tokens)),
            "prompt_tokens_max": float(np.max(tokens)),
            "users": float(self.users),
        }


class LLMReranker:
    def __init__(
        self, backend: LLMBackend, builder: PromptBuilder, contexts: ContextBuilder, mode: RerankMode = "choice"
    ):
        if mode not in RERANK_MODES:
            raise ValueError(f"unknown LLM re-rank mode {mode!r}; choose one of {', '.join(RERANK_MODES)}")
        self.backend = backend
        self.builder = builder
        self.contexts = contexts
        self.mode = mode

    def score(
        self,
        candidates: pl.DataFrame,
        k: int,
        conversations: dict[str, Sequence[Turn]] | None = None,
    ) -> tuple[list[LLMScores], RerankStats]:
        """LLM scores for each user's candidates (frame: user_id, rank, item_id, ...)."""
        conversations = conversations or {}
        groups = [
            (user, group.sort("rank")["item_id"].to_list())
            for (user,), group in candidates.group_by("user_id", maintain_order=True)
        ]
        stats = RerankStats()
        started = time.perf_counter()
        if self.mode == "yesno":
            results = self._yesno(groups, conversations)
        else:
            results = self._letters(groups, k, conversations)
        stats.seconds = time.perf_counter() - started
        for result in results:
            stats.add(result)
        return results, stats

    def _letters(
        self, groups: list[tuple[str, list[str]]], k: int, conversations: dict[str, Sequence[Turn]]
    ) -> list[LLMScores]:
        chats, budgets = [], []
        for user, items in groups:
            infos = [self.contexts.catalogue[i] for i in items]
            context = self.contexts.user(user)
            turns = conversations.get(user, ())
            chat, budget = (
                self.builder.listwise(context, infos, min(k, len(items)), turns)
                if self.mode == "listwise"
                else self.builder.choice(context, infos, turns)
            )
            chats.append(chat)
            budgets.append(budget)
        labels = [candidate_labels(len(items)) for _, items in groups]
        results = []
        if self.mode == "listwise":
            rankings = self.backend.rank(chats, labels, k)
            for (user, items), ranking, budget, user_labels in zip(groups, rankings, budgets, labels, strict=True):
                position = {label: n for n, label in enumerate(ranking.labels)}
                scores = np.asarray([float(k - position[lab]) if lab in position else 0.0 for lab in user_labels])
                results.append(LLMScores(user, items, scores, ranking.valid, ranking.invented, ranking.duplicates,
                                         budget.tokens, history_dropped=budget.history_dropped))  # fmt: skip
        else:
            logprobs = self.backend.option_logprobs(chats, labels)
            for (user, items), values, budget in zip(groups, logprobs, budgets, strict=True):
                results.append(LLMScores(user, items, np.exp(values), prompt_tokens=budget.tokens,
                                         history_dropped=budget.history_dropped))  # fmt: skip
        return results

    def _yesno(self, groups: list[tuple[str, list[str]]], conversations: dict[str, Sequence[Turn]]) -> list[LLMScores]:
        prompts, tokens = [], []
        for user, items in groups:
            turns = conversations.get(user, ())
            infos = [self.contexts.catalogue[i] for i in items]
            # cut the history once, for the longest candidate, so all of a user's prompts share one
            # prefix (the backend then computes that prefix once)
            longest = max(infos, key=lambda info: len(info.line()))
            context = self.builder.yesno(self.contexts.user(user), longest, turns)[1].user
            assert context is not None
            fitted = [self.builder.yesno(context, info, turns) for info in infos]
            prompts.append([chat for chat, _ in fitted])
            tokens.append(sum(budget.tokens for _, budget in fitted))
        logprobs = self.backend.option_logprobs_grouped(prompts, ("Yes", "No"))
        return [
            LLMScores(user, items, np.exp([values[0] for values in user_logprobs]), prompt_tokens=n_tokens)
            for (user, items), user_logprobs, n_tokens in zip(groups, logprobs, tokens, strict=True)
        ]


def _minmax(values: np.ndarray) -> np.ndarray:
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def blend(candidates: pl.DataFrame, llm: Sequence[LLMScores], weight: float, k: int) -> pl.DataFrame:
    """The final top-k per user: (user_id, rank, item_id, score, stage1_score, llm_score).

    Ties (e.g. w = 0 with equal normalised scores) keep the first-stage order."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend weight must be in [0, 1], got {weight}")
    by_user = {s.user_id: s for s in llm}
    rows = []
    for (user,), group in candidates.group_by("user_id", maintain_order=True):
        group = group.sort("rank")
        stage1 = group["score"].to_numpy().astype(np.float64)
        scores = by_user.get(user)
        llm_values = scores.scores if scores is not None else np.zeros_like(stage1)
        final = (1 - weight) * _minmax(stage1) + weight * _minmax(llm_values)
        order = np.argsort(-final, kind="stable")[:k]
        for rank, index in enumerate(order, start=1):
            rows.append((user, rank, group["item_id"][int(index)], float(final[index]), float(stage1[index]),
                         float(llm_values[index]) if scores is not None else None))  # fmt: skip
    return pl.DataFrame(
        rows,
        schema={"user_id": pl.Utf8, "rank": pl.Int32, "item_id": pl.Utf8, "score": pl.Float64,
                "stage1_score": pl.Float64, "llm_score": pl.Float64},
        orient="row",
    )  # fmt: skip


BOOTSTRAP_RESAMPLES = 4000
# family-wise: the best of the grid's non-zero weights is tested, so the interval's level is
# Bonferroni-corrected over them (0.95 over 10 weights = a 99.5% interval): picking the best of ten
# and then testing it at 95% would let a chance-level LLM through more often than 5% of the time
BOOTSTRAP_CONFIDENCE = 0.95


@dataclass(frozen=True)
class GainInterval:
    """A paired bootstrap interval of the mean per-user gain (candidate - baseline)."""

    mean: float
    low: float
    high: float
    confidence: float
    users: int

    @property
    def above_zero(self) -> bool:
        return self.low > 0.0


def paired_bootstrap_gain(
    baseline: np.ndarray,
    candidate: np.ndarray,
    *,
    seed: int,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = BOOTSTRAP_CONFIDENCE,
) -> GainInterval:
    """Percentile bootstrap of mean(candidate - baseline), resampling users (each user's pair together).

    Percentile, not BCa: with few users the differences are often all 0, where BCa is undefined."""
    from scipy.stats import bootstrap

    baseline, candidate = np.asarray(baseline, dtype=np.float64), np.asarray(candidate, dtype=np.float64)
    if baseline.shape != candidate.shape or baseline.ndim != 1:
        raise ValueError(f"paired scores need two 1-d arrays of one length, got {baseline.shape} and {candidate.shape}")
    if baseline.size < 2:
        raise ValueError(f"a bootstrap interval needs at least 2 users, got {baseline.size}")
    gains = candidate - baseline
    if np.all(gains == gains[0]):  # no spread: every resample has the same mean
        return GainInterval(float(gains[0]), float(gains[0]), float(gains[0]), confidence, gains.size)
    result = bootstrap(
        (gains,), np.mean, n_resamples=resamples, confidence_level=confidence, method="percentile",
        random_state=np.random.default_rng(seed),
    )  # fmt: skip
    interval = result.confidence_interval
    return GainInterval(float(gains.mean()), float(interval.low), float(interval.high), confidence, gains.size)


@dataclass(frozen=True)
class BlendFit:
    """`weight` is what serving uses; `best_weight` the grid's NDCG maximum, `gain` its interval."""

    weight: float
    ndcg_by_weight: dict[float, float]
    users: int
    best_weight: float = 0.0
    gain: GainInterval | None = None

    @property
    def ndcg_stage1(self) -> float:
        return self.ndcg_by_weight[0.0]

    @property
    def ndcg_llm(self) -> float:
        return self.ndcg_by_weight[1.0]

    @property
    def ndcg_blend(self) -> float:
        return self.ndcg_by_weight[self.weight]


def fit_blend_weight(
    candidates: pl.DataFrame,
    llm: Sequence[LLMScores],
    relevant: pl.DataFrame,
    k: int,
    grid: Sequence[float] = BLEND_GRID,
    *,
    seed: int = 0,
) -> BlendFit:
    """The grid weight with the best NDCG@k on validation users (ties go to the smaller weight), kept
    only if the paired bootstrap interval of its per-user gain over w = 0 lies above 0."""
    if relevant.is_empty():
        raise ValueError("no relevant validation interactions to fit the blend weight on")
    per_user = {float(w): ndcg_per_user(blend(candidates, llm, float(w), k), relevant, k)["ndcg"] for w in grid}
    return decide_blend_weight({w: values.to_numpy() for w, values in per_user.items()}, seed=seed, users=len(llm))


def decide_blend_weight(
    per_user_ndcg: dict[float, np.ndarray],
    *,
    seed: int,
    users: int | None = None,
    confidence: float = BOOTSTRAP_CONFIDENCE,
) -> BlendFit:
    """The decision on given per-user NDCG arrays (same users, same order, for each weight; 0.0 = the
    first stage alone): the best weight by mean if its gain's interval is above 0, else 0. The
    interval's level is `confidence` corrected for the number of non-zero weights it was picked from."""
    if 0.0 not in per_user_ndcg:
        raise ValueError("the weight grid must include 0.0 (the first stage alone) to measure a gain against")
    means = {w: float(np.mean(values)) if len(values) else 0.0 for w, values in per_user_ndcg.items()}
    best = max(means.values())
    best_weight = min(w for w, value in means.items() if value >= best - 1e-12)
    n_users = len(per_user_ndcg[0.0]) if users is None else users
    if best_weight == 0.0 or len(per_user_ndcg[0.0]) < 2:
        return BlendFit(0.0, means, n_users, best_weight, None)
    tried = sum(1 for w in per_user_ndcg if w != 0.0)
    level = 1 - (1 - confidence) / tried
    gain = paired_bootstrap_gain(per_user_ndcg[0.0], per_user_ndcg[best_weight], seed=seed, confidence=level)
    return BlendFit(best_weight if gain.above_zero else 0.0, means, n_users, best_weight, gain)
