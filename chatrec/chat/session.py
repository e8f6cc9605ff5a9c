"""A multi-turn recommendation conversation (`chatrec chat`, or `ChatSession` from Python).

Each turn: the message is parsed into filters, preferences, seed items and feedback (intents.py),
which accumulate in the session state; every catalogue item is scored as the first-stage model's
score plus similarity to the seed and liked items, to any free-text request (MiniLM embeddings:
this also reaches items nobody has rated yet) and the mood asked for; hard filters remove what was
excluded; the top candidates are optionally re-ranked by the LLM with the conversation in its
prompt, and each pick is explained from computed evidence. Feedback updates the session at once and
is written to the warehouse (ingest_feedback) for the next nightly retrain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl

from chatrec.chat.intents import DARK_GENRES, LIGHT_GENRES, Intent, TitleIndex, parse
from chatrec.data.frames import interactions_frame, items_frame, users_frame
from chatrec.data.ingest import ingest_feedback
from chatrec.explain.evidence import EvidenceIndex, template_explanation
from chatrec.llm.backends.base import LLMBackend
from chatrec.llm.prompts import Turn
from chatrec.models.base import Recommender
from chatrec.models.training import load_model, production_model
from chatrec.settings import Settings
from chatrec.text.coldstart import TextMatcher
from chatrec.text.encoder import ItemTextEncoder

SEED_WEIGHT = 2.0
QUERY_WEIGHT = 2.0
MOOD_WEIGHT = 1.0
GENRE_WEIGHT = 1.0


@dataclass
class ChatRecommendation:
    item_id: str
    title: str
    year: int | None
    genres: list[str]
    score: float
    explanation: str
    explanation_source: str


@dataclass
class Reply:
    understood: list[str]
    recommendations: list[ChatRecommendation]
    feedback_stored: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class SessionState:
    exclude_genres: set[str] = field(default_factory=set)
    prefer_genres: set[str] = field(default_factory=set)
    year_range: tuple[int | None, int | None] | None = None
    mood: int = 0
    seeds: list[str] = field(default_factory=list)
    liked: list[str] = field(default_factory=list)
    disliked: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)


def _zscore(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros_like(values)
    mean, std = values[finite].mean(), values[finite].std()
    out = (values - mean) / std if std > 0 else values - mean
    return np.where(finite, out, -3.0)


class ChatSession:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: Settings,
        user_id: str | None = None,
        *,
        model: Recommender | None = None,
        backend: LLMBackend | None = None,
        store_feedback: bool = True,
        k: int | None = None,
    ) -> None:
        self.con = con
        self.settings = settings
        self.k = k or settings.top_k_final
        self.store_feedback = store_feedback
        self.items = items_frame(con)
        if self.items.is_empty():
            raise LookupError("the warehouse has no items: run `chatrec run ingest` first")
        self.item_ids: list[str] = self.items["item_id"].to_list()
        self.position = {item: n for n, item in enumerate(self.item_ids)}
        self.titles = dict(zip(self.item_ids, self.items["title"].to_list(), strict=True))
        self.genres = [list(g or []) for g in self.items["genres"].to_list()]
        self.years = np.asarray([y if y is not None else -1 for y in self.items["release_year"].to_list()])
        interactions = interactions_frame(con, events=("rating", "like", "view"))
        known_users = set(users_frame(con)["user_id"].to_list())
        if user_id is not None and user_id not in known_users:
            raise LookupError(f"user {user_id!r} is not in the warehouse; omit --user to chat as a new user")
        self.user_id = user_id
        self.index = EvidenceIndex(interactions.filter(pl.col("event") == "rating"), self.items)
        self.seen = set(interactions.filter(pl.col("user_id") == user_id)["item_id"].to_list()) if user_id else set()
        counts = interactions.group_by("item_id").len()
        popularity = dict(zip(counts["item_id"], counts["len"], strict=True))
        self.popularity = np.log1p(np.asarray([popularity.get(i, 0) for i in self.item_ids], dtype=np.float64))
        if model is None:
            current = production_model(con, "candidate", settings.candidate_model)
            if current is None:
                raise LookupError(f"no production '{settings.candidate_model}' model: run `chatrec run retrain` first")
            loaded = load_model(con, current.model_id, settings)
            assert isinstance(loaded, Recommender)
            model = loaded
        self.model = model
        self.backend = backend
        self.title_index = TitleIndex(self.titles)
        self.state = SessionState()
        self._matcher: TextMatcher | None = None

    # --- text embeddings (loaded only when a turn needs them) -------------------------------------
    def _text_similarity(self, text: str) -> np.ndarray:
        if self._matcher is None:
            self._matcher = TextMatcher(self.items, ItemTextEncoder.from_settings(self.settings))
        return self._matcher.embeddings @ self._matcher.request(text)

    # --- one turn ---------------------------------------------------------------------------------
    def send(self, message: str) -> Reply:
        if not message.strip():
            raise ValueError("empty message")
        intent = parse(message, self.title_index)
        notes: list[str] = []
        stored = self._apply(intent, notes)
        self.state.turns.append(Turn("user", message))
        recommendations = self._recommend()
        self.state.shown = [r.item_id for r in recommendations]
        self.state.turns.append(Turn("assistant", "; ".join(r.title for r in recommendations)))
        return Reply(intent.describe(self.titles), recommendations, stored, notes)

    def _apply(self, intent: Intent, notes: list[str]) -> int:
        state = self.state
        if intent.reset:
            self.state = state = SessionState(liked=state.liked, disliked=state.disliked)
        state.exclude_genres |= intent.exclude_genres
        state.prefer_genres = (state.prefer_genres | intent.prefer_genres) - state.exclude_genres
        state.exclude_genres -= intent.prefer_genres  # asking for a genre again lifts its exclusion
        if intent.year_range:
            state.year_range = intent.year_range
        if intent.mood:
            state.mood = intent.mood
        state.seeds += [s for s in intent.seeds if s not in state.seeds]
        if intent.free_text:
            state.queries.append(intent.free_text)
        if not intent.feedback:
            return 0
        targets = intent.feedback_items
        if not targets and state.shown:
            reference = intent.reference if intent.reference is not None else 0
            targets = [state.shown[reference]] if -len(state.shown) <= reference < len(state.shown) else []
        if not targets:
            notes.append("feedback ignored: nothing shown yet and no title named")
            return 0
        for item in targets:
            if intent.feedback in ("like", "rating") and (intent.rating or 5) >= 4:
                state.liked.append(item)
            elif intent.feedback in ("dislike", "rating", "view"):
                state.disliked.append(item)
        if self.user_id is None or not self.store_feedback:
            notes.append("feedback kept for this session only" + (" (new user)" if self.user_id is None else ""))
            return 0
        rows = [{"user_id": self.user_id, "item_id": item, "event": intent.feedback, "rating": intent.rating}
                for item in targets]  # fmt: skip
        summary = ingest_feedback(self.con, rows)
        return summary.rows_loaded

    def _scores(self) -> np.ndarray:
        state = self.state
        n = len(self.item_ids)
        if self.user_id is not None:
            base = _zscore(self.model.score([self.user_id] * n, self.item_ids).astype(np.float64))
        else:  # a new user: a popularity prior until the conversation says more
            base = 0.5 * _zscore(self.popularity)
        scores = base.copy()
        anchors = state.seeds + state.liked
        if anchors:
            rows = [self.position[a] for a in anchors]
            co_similarity = self.index.similarity_rows(rows).mean(axis=0)
            text = np.mean([self._text_similarity(self.titles[a]) for a in anchors[-3:]], axis=0)
            scores += SEED_WEIGHT * _zscore(co_similarity + 0.5 * text)
        if state.disliked:
            scores -= 0.5 * _zscore(self.index.similarity_rows([self.position[d] for d in state.disliked]).mean(axis=0))
        if state.queries:
            scores += QUERY_WEIGHT * _zscore(self._text_similarity(". ".join(state.queries[-2:])))
        if state.mood:
            light = np.asarray(
                [len(set(g) & LIGHT_GENRES) - len(set(g) & DARK_GENRES) for g in self.genres], dtype=float
            )
            scores += MOOD_WEIGHT * state.mood * np.clip(light, -1, 1)
        if state.prefer_genres:
            scores += GENRE_WEIGHT * np.asarray([bool(set(g) & state.prefer_genres) for g in self.genres], dtype=float)
        return scores

    def _allowed(self) -> np.ndarray:
        state = self.state
        allowed = np.ones(len(self.item_ids), dtype=bool)
        blocked = self.seen | set(state.seeds) | set(state.liked) | set(state.disliked)
        allowed[[self.position[i] for i in blocked if i in self.position]] = False
        if state.exclude_genres:
            allowed &= np.asarray([not (set(g) & state.exclude_genres) for g in self.genres])
        if state.year_range:
            lo, hi = state.year_range
            if lo is not None:
                allowed &= self.years >= lo
            if hi is not None:
                allowed &= (self.years <= hi) & (self.years >= 0)
        return allowed

    def _recommend(self) -> list[ChatRecommendation]:
        scores = np.where(self._allowed(), self._scores(), -np.inf)
        order = [int(i) for i in np.argsort(-scores, kind="stable") if np.isfinite(scores[i])]
        shortlist = order[: max(self.k, self.settings.top_k_candidates)]
        if self.backend is not None and self.settings.llm_rerank_mode != "off" and len(shortlist) > self.k:
            shortlist = self._llm_rerank(shortlist, scores)
        picks = shortlist[: self.k]
        return [self._explain(i, float(scores[i])) for i in picks]

    def _llm_rerank(self, shortlist: list[int], scores: np.ndarray) -> list[int]:
        from chatrec.llm.context import Catalogue, ContextBuilder
        from chatrec.llm.pipeline import latest_blend
        from chatrec.llm.prompts import PromptBuilder
        from chatrec.llm.rerank import LLMReranker, blend

        assert self.backend is not None
        record = latest_blend(self.con, self.settings)
        weight = record.weight if record is not None else 0.5
        user = self.user_id or "(new user)"
        candidates = pl.DataFrame({
            "user_id": [user] * len(shortlist), "rank": list(range(1, len(shortlist) + 1)),
            "item_id": [self.item_ids[i] for i in shortlist], "score": [float(scores[i]) for i in shortlist],
        }).cast({"rank": pl.Int32})  # fmt: skip
        history = interactions_frame(self.con).filter(pl.col("user_id") == user)
        contexts = ContextBuilder(Catalogue(self.items), history, users_frame(self.con))
        builder = PromptBuilder(self.backend.count_tokens, self.settings.llm_prompt_tokens)
        reranker = LLMReranker(self.backend, builder, contexts, self.settings.llm_rerank_mode)  # type: ignore[arg-type]
        llm_scores, _ = reranker.score(candidates, self.k, {user: self.state.turns[-6:]})
        final = blend(candidates, llm_scores, weight, len(shortlist))
        return [self.position[i] for i in final["item_id"].to_list()]

    def _explain(self, index: int, score: float) -> ChatRecommendation:
        item = self.item_ids[index]
        reasons = []
        if self.user_id is not None:
            evidence = self.index.evidence(self.user_id, item)
            if evidence.similar_history or evidence.shared_genres:
                reasons.append(template_explanation(evidence).removeprefix("Recommended because ").rstrip("."))
        for anchor in (self.state.seeds + self.state.liked)[-2:]:
            both = self.index.co_likers(self.position[anchor], index)
            if both:
                reasons.append(f"{both} people liked both {self.titles[anchor]} and it")
        genres = [g for g in self.genres[index] if g in self.state.prefer_genres]
        if genres:
            reasons.append(f"it is {', '.join(genres).lower()}, as you asked")
        if self.state.year_range and self.years[index] > 0:
            reasons.append(f"it is from {self.years[index]}")
        if self.state.queries:
            reasons.append(f"its description matches '{self.state.queries[-1]}'")
        if not reasons:
            reasons.append(
                "it is popular with people whose ratings resemble yours" if self.user_id else "it is widely liked"
            )
        return ChatRecommendation(
            item, self.titles[item], int(self.years[index]) if self.years[index] > 0 else None, self.genres[index],
            score, "Recommended because " + "; ".join(reasons) + ".", "template",
        )  # fmt: skip
