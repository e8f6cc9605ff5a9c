"""A multi-turn recommendation conversation (`chatrec chat`, or `ChatSession` from Python).

Each turn is understood as a typed intent (`chatrec.chat.understanding`: the LLM's constrained
choices, the rules as the fallback) and acted on:
- refine / new request: filters, mood and request words accumulate in the session state and a new
  list is shown. Every catalogue item is scored as the production model's score plus similarity to
  the seed and liked items and to a request in words (MiniLM embeddings of each item's genres and
  description: titles are not matched word by word); hard filters remove what was excluded;
- "more like X": X becomes the seed; items are ranked by item-item similarity to X (cosine over who
  watched what, the evidence the explanations cite; the text embeddings join in for items with little
  history), the user's own scores only breaking ties;
- "why X" and a bare reference ("the second one?"): an answer from X's evidence (the user's similar
  liked items, people who liked both, shared genres, what the session asked for), phrased by the LLM
  and checked like batch explanations when an LLM is loaded, the template otherwise; the shown list
  stays as it is, so "the second one" keeps meaning the same item;
- feedback: at once in this session (a dislike removes the item and pushes down items similar to it,
  removing the very similar ones), and lasting: stored for the next retrain and as exclusions the
  next batch run applies (`chatrec.chat.feedback`), through a sink that never holds the warehouse;
- off-topic or an instruction to the system: a short answer, nothing changes.
Every sentence states only what was computed: no zero counts, no description that does not exist.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import polars as pl

from chatrec.chat.feedback import (
    ConnectionSink,
    Exclusion,
    FeedbackBatch,
    FeedbackSink,
    exclusions_of,
    now_text,
    similar_exclusions,
)
from chatrec.chat.intents import DARK_GENRES, LIGHT_GENRES, TitleIndex
from chatrec.chat.understanding import LLMUnderstander, Shown, TurnIntent, understand
from chatrec.data.frames import interactions_frame, items_frame, tagged_items, users_frame
from chatrec.explain.evidence import Evidence, EvidenceIndex, people, template_explanation
from chatrec.llm.backends.base import LLMBackend
from chatrec.llm.prompts import Turn
from chatrec.models.base import Recommender
from chatrec.models.training import load_serving_model
from chatrec.settings import Settings
from chatrec.text.encoder import ItemTextEncoder

SEED_WEIGHT = 3.0
LIKED_WEIGHT = 1.0
QUERY_WEIGHT = 2.0
MOOD_WEIGHT = 1.0
GENRE_TIER = 100.0  # larger than any sum of the other terms
DISLIKE_WEIGHT = 4.0  # times the raw cosine similarity to a disliked item
MAX_QUOTED = 120  # characters of a request quoted back in explanations
FEW_INTERACTIONS = 20  # a seed with fewer than this is also matched through its text embedding
OFF_TOPIC_ANSWER = (
    "I can only help you find films: ask for a genre, a decade, something lighter, 'more like <title>', "
    "'why the second one?', or tell me what you liked or disliked."
)


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
    intent: TurnIntent | None = None
    answer: str | None = None  # why / reference / off-topic turns answer in words
    answer_source: str | None = None  # template | llm
    feedback_pending: int = 0  # rows kept in a pending file (the pipeline held the warehouse)
    list_changed: bool = True


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
    focus: str | None = None  # the item the conversation is on (why / reference / named feedback)
    turns: list[Turn] = field(default_factory=list)


@functools.cache
def _encoder_for(model: str, device: str, cache_dir: str) -> ItemTextEncoder:
    return ItemTextEncoder(model, device=device, cache_dir=Path(cache_dir) / "embeddings")


def shared_encoder(settings: Settings) -> ItemTextEncoder:
    """One text encoder per model, device and cache in a process: sessions share the loaded model."""
    return _encoder_for(str(settings.embedding_model), settings.torch_device(), str(settings.cache_dir))


def _zscore(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros_like(values)
    mean, std = values[finite].mean(), values[finite].std()
    out = (values - mean) / std if std > 0 else values - mean
    return np.where(finite, out, -3.0)


_ZERO_COUNT = re.compile(r"\b(0|zero|no)\s+(other\s+)?(people|persons?|users|viewers)\b", re.IGNORECASE)


def false_claim(text: str, has_description: bool) -> str | None:
    """What an answer or explanation must never say: a zero count, or a description that does not exist."""
    if _ZERO_COUNT.search(text):
        return f"states a zero count: {text!r}"
    if not has_description and re.search(r"\bdescription\b", text, re.IGNORECASE):
        return f"cites a description the item does not have: {text!r}"
    return None


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
        sink: FeedbackSink | None = None,
        understanding: Literal["hybrid", "llm", "rules"] | None = None,
    ) -> None:
        """Everything the conversation needs is read from `con` here, once: afterwards the session
        reads nothing from the warehouse, and writes only through `sink` (default: `con` itself), so
        the caller may close `con` (`chatrec chat` does: the pipeline is never kept waiting)."""
        self.settings = settings
        self.k = k or settings.top_k_final
        self.store_feedback = store_feedback
        self.items = items_frame(con)
        if self.items.is_empty():
            raise LookupError("the warehouse has no items: run `chatrec run ingest` first")
        self.item_ids: list[str] = self.items["item_id"].to_list()
        self.catalogue = set(self.item_ids)
        self.position = {item: n for n, item in enumerate(self.item_ids)}
        self.titles = dict(zip(self.item_ids, self.items["title"].to_list(), strict=True))
        self.genres = [list(g or []) for g in self.items["genres"].to_list()]
        self.years = np.asarray([y if y is not None else -1 for y in self.items["release_year"].to_list()])
        self.has_description = [bool((d or "").strip()) for d in self.items["description"].to_list()]
        interactions = interactions_frame(con, events=("rating", "like", "view"))
        users = users_frame(con)
        if user_id is not None and user_id not in set(users["user_id"].to_list()):
            raise LookupError(f"user {user_id!r} is not in the warehouse; omit --user to chat as a new user")
        self.user_id = user_id
        self.index = EvidenceIndex(interactions.filter(pl.col("event") == "rating"), self.items)
        self.seen: set[str] = set()
        self.excluded: set[str] = set()  # said no to in earlier chats (recs.exclusions)
        if user_id is not None:
            self.seen = set(interactions.filter(pl.col("user_id") == user_id)["item_id"].to_list())
            if settings.tagged_items_seen:  # as the batch run: a tagged item is one the user knows
                self.seen |= set(tagged_items(con, [user_id]).get(user_id, []))
            self.excluded = set(exclusions_of(con, [user_id]).get(user_id, []))
        counts = interactions.group_by("item_id").len()
        self.interaction_counts = dict(zip(counts["item_id"], counts["len"], strict=True))
        self.popularity = np.log1p(
            np.asarray([self.interaction_counts.get(i, 0) for i in self.item_ids], dtype=np.float64)
        )
        if model is None:
            serving = load_serving_model(con, settings, "candidate", settings.candidate_model)
            if serving is None:
                raise LookupError(f"no production '{settings.candidate_model}' model: run `chatrec run retrain` first")
            if not isinstance(serving.model, Recommender):
                raise TypeError(f"{serving.version.model_id} is not a candidate recommender")
            model = serving.model
        self.model = model
        self.backend = backend
        self.understander = LLMUnderstander(backend) if backend is not None else None
        self.mode = understanding or settings.chat_understanding
        self._rerank_inputs: tuple[float, pl.DataFrame, pl.DataFrame] | None = None
        if backend is not None and settings.llm_rerank_mode != "off":
            from chatrec.llm.pipeline import latest_blend

            record = latest_blend(con, settings)
            history = interactions_frame(con).filter(pl.col("user_id") == (user_id or ""))
            self._rerank_inputs = (record.weight if record is not None else 0.5, history, users)
        self.sink: FeedbackSink = sink or ConnectionSink(con)
        self.title_index = TitleIndex(self.titles)
        self.state = SessionState()
        self.last: list[ChatRecommendation] = []
        self._encoder: ItemTextEncoder | None = None
        self._content: np.ndarray | None = None
        self._requests: dict[str, np.ndarray] = {}
        self._content_lock = threading.Lock()
        self._checker = None

    # --- text embeddings (loaded only when a turn needs them) -------------------------------------
    def _content_text(self, index: int) -> str:
        """What a request is matched against: genres and description, not the title's words."""
        genres = ", ".join(g for g in self.genres[index] if g != "unknown")
        description = (self.items["description"][index] or "").strip()
        return " ".join(p for p in (f"Genres: {genres}." if genres else "", description) if p)

    def warm_up(self) -> threading.Thread:
        """Load the text encoder and the item embeddings in the background (`chatrec chat` calls this at
        start, so the first request in words does not pay the model load while the user types)."""

        def load() -> None:
            with self._content_lock:
                self._load_content_embeddings()
                assert self._encoder is not None
                self._encoder.model  # noqa: B018 (loads the model)

        thread = threading.Thread(target=load, name="chat-warm-up", daemon=True)
        thread.start()
        return thread

    def _content_embeddings(self) -> np.ndarray:
        with self._content_lock:
            return self._load_content_embeddings()

    def _load_content_embeddings(self) -> np.ndarray:
        if self._content is None:
            self._encoder = shared_encoder(self.settings)
            texts = [self._content_text(i) for i in range(len(self.item_ids))]
            unique = sorted(set(texts) - {""})
            vectors = self._encoder.encode(unique)
            row = {text: n for n, text in enumerate(unique)}
            # an item with neither genres nor a description has nothing a request could match: zeros
            self._content = np.vstack([vectors[row[t]] if t else np.zeros(vectors.shape[1]) for t in texts])
        return self._content

    def _request_similarity(self, text: str) -> np.ndarray:
        if text not in self._requests:
            with self._content_lock:  # the warm-up thread may be loading the model
                embeddings = self._load_content_embeddings()
                assert self._encoder is not None
                self._requests[text] = embeddings @ self._encoder.encode([text])[0]
        return self._requests[text]

    def _matches_request(self, index: int) -> bool:
        """Whether item `index` is among the closest tenth of the catalogue to the latest request."""
        similarity = self._request_similarity(self.state.queries[-1])
        return bool(similarity[index] > 0 and similarity[index] >= np.quantile(similarity, 0.9))

    def _item_similarity(self, item: str) -> np.ndarray:
        """Similarity of every item to `item`: co-occurrence cosine (who watched both), joined by the
        text embeddings when `item` has little history or a description."""
        position = self.position[item]
        similarity = self.index.similarity_row(position).astype(np.float64)
        if self.interaction_counts.get(item, 0) < FEW_INTERACTIONS or self.has_description[position]:
            content = self._content_embeddings()
            similarity = similarity + 0.5 * (content @ content[position])
        similarity[position] = 0.0
        return similarity

    # --- one turn ---------------------------------------------------------------------------------
    def send(self, message: str) -> Reply:
        if not message.strip():
            raise ValueError("empty message")
        shown = Shown(self.state.shown, [self.titles[i] for i in self.state.shown], self.state.focus)
        intent = understand(message, shown, self.title_index, self.catalogue, self.understander, self.mode)
        self.state.turns.append(Turn("user", message))
        reply = self._act(intent, message)
        reply.intent = intent
        if reply.list_changed:
            self.last = reply.recommendations
            self.state.shown = [r.item_id for r in reply.recommendations]
            self.state.focus = None
        said = reply.answer or "; ".join(r.title for r in reply.recommendations)
        self.state.turns.append(Turn("assistant", said))
        return reply

    def _unchanged(self, understood: list[str], **extra: object) -> Reply:
        return Reply(understood, self.last, list_changed=False, **extra)  # type: ignore[arg-type]

    def _act(self, intent: TurnIntent, message: str) -> Reply:
        state = self.state
        target = intent.target
        name = self.titles.get(target or "", "")
        if intent.kind == "off_topic":
            return self._unchanged(["off-topic"], answer=OFF_TOPIC_ANSWER, answer_source="template")
        if intent.kind == "reset":
            self.state = SessionState(liked=state.liked, disliked=state.disliked)
            return Reply(["starting over"], self._recommend())
        if intent.kind in ("why", "reference"):
            if target is None:
                return self._unchanged([intent.kind], notes=["nothing is shown yet: ask for something first"])
            state.focus = target
            answer, source = self._why(target)
            return self._unchanged([f"{'why' if intent.kind == 'why' else 'about'} {name}"], answer=answer,
                                   answer_source=source)  # fmt: skip
        if intent.kind == "more_like":
            if target is None:
                what = intent.unknown_title or "that"
                return self._unchanged([f"no title matches '{what}'"], notes=[f"no title matches '{what}'"])
            state.seeds = [s for s in state.seeds if s != target] + [target]
            self._apply_slots(intent, message)
            return Reply([f"like {name}", *intent.slots.describe(self.titles)], self._recommend())
        if intent.kind == "feedback":
            return self._feedback(intent)
        if intent.kind == "new_request":  # a new want in words replaces the earlier ones and the seeds
            state.seeds, state.queries = [], []
        self._apply_slots(intent, message)
        return Reply(intent.slots.describe(self.titles), self._recommend())

    def _apply_slots(self, intent: TurnIntent, message_text: str) -> None:
        state, slots = self.state, intent.slots
        state.exclude_genres |= slots.exclude_genres
        if slots.prefer_genres:  # the genres named now replace the earlier wish
            state.prefer_genres = slots.prefer_genres - state.exclude_genres
        state.prefer_genres -= state.exclude_genres
        state.exclude_genres -= slots.prefer_genres  # asking for a genre again lifts its exclusion
        if slots.year_range:
            state.year_range = slots.year_range
        if slots.mood:
            state.mood = slots.mood
        if slots.free_text:  # matched (and quoted) as the user wrote it, not as the leftover words
            state.queries.append(re.sub(r"\s+", " ", message_text).strip()[:MAX_QUOTED])

    def _feedback(self, intent: TurnIntent) -> Reply:
        state, item = self.state, intent.target
        if item is None:
            return self._unchanged([f"{intent.feedback} feedback"], notes=["feedback ignored: nothing shown yet and no title named"])  # fmt: skip
        kind, rating, title = intent.feedback, intent.rating, self.titles[item]
        understood = [f"{kind} {title}" + (f" ({rating}/5)" if rating else "")]
        user = self.user_id or ""
        batch = FeedbackBatch()
        event = {"like": "like", "dislike": "dislike", "seen": "view", "rating": "rating"}[kind or "like"]
        batch.rows.append({"user_id": user, "item_id": item, "event": event, "rating": rating, "ts": now_text()})
        if kind == "like" or (kind == "rating" and (rating or 0) >= 4):
            state.liked = [i for i in state.liked if i != item] + [item]
            state.disliked = [i for i in state.disliked if i != item]
            batch.lifted.append((user, item))
            if kind == "rating":
                batch.exclusions.append(Exclusion(user, item, "seen", item, 1.0))
        elif kind == "dislike" or (kind == "rating" and (rating or 0) <= 2):
            state.disliked = [i for i in state.disliked if i != item] + [item]
            similarity = self.index.similarity_row(self.position[item])
            near = np.flatnonzero(similarity >= self.settings.chat_dislike_similar_min)
            batch.exclusions += similar_exclusions(
                user, item, [(self.item_ids[i], float(similarity[i])) for i in near], self.settings.chat_dislike_similar_min
            )  # fmt: skip
        else:  # seen, or a middling rating: known to the user, so not recommended again
            self.seen.add(item)
            batch.exclusions.append(Exclusion(user, item, "seen", item, 1.0))
        self.excluded |= {e.item_id for e in batch.exclusions}
        self.excluded -= {i for _, i in batch.lifted}
        notes: list[str] = []
        stored = pending = 0
        if self.user_id is None or not self.store_feedback:
            notes.append("feedback kept for this session only" + (" (new user)" if self.user_id is None else ""))
        else:
            outcome = self.sink.store(batch)
            stored, pending = outcome.rows_stored, (len(batch.rows) if outcome.pending else 0)
            if outcome.pending:
                notes.append("the pipeline is writing the warehouse: feedback saved to be stored by its next step")
        return Reply(understood, self._recommend(), stored, notes, feedback_pending=pending)

    # --- scoring ----------------------------------------------------------------------------------
    def _scores(self) -> np.ndarray:
        state = self.state
        n = len(self.item_ids)
        if self.user_id is not None:
            base = _zscore(self.model.score([self.user_id] * n, self.item_ids).astype(np.float64))
        else:  # a new user: a popularity prior until the conversation says more
            base = 0.5 * _zscore(self.popularity)
        scores = base.copy()
        if state.seeds:  # the latest "more like" leads; earlier seeds count half
            similarity = self._item_similarity(state.seeds[-1])
            for older in state.seeds[-3:-1]:
                similarity = similarity + 0.5 * self._item_similarity(older)
            scores = 0.5 * base + SEED_WEIGHT * _zscore(similarity)
        if state.liked:
            liked = np.mean([self.index.similarity_row(self.position[i]) for i in state.liked[-3:]], axis=0)
            scores += LIKED_WEIGHT * _zscore(liked.astype(np.float64))
        for item in state.disliked:
            scores -= DISLIKE_WEIGHT * self.index.similarity_row(self.position[item]).astype(np.float64)
        if state.queries:
            scores += QUERY_WEIGHT * _zscore(self._request_similarity(". ".join(state.queries[-2:])))
        if state.mood:
            light = np.asarray(
                [len(set(g) & LIGHT_GENRES) - len(set(g) & DARK_GENRES) for g in self.genres], dtype=float
            )
            scores += MOOD_WEIGHT * state.mood * np.clip(light, -1, 1)
        if state.prefer_genres:  # a genre asked for comes first; the other scores order within it
            scores += GENRE_TIER * np.asarray([bool(set(g) & state.prefer_genres) for g in self.genres], dtype=float)
        return scores

    def allowed(self) -> np.ndarray:
        """Which items the session may show now: not seen or excluded, within the filters."""
        state = self.state
        allowed = np.ones(len(self.item_ids), dtype=bool)
        blocked = self.seen | self.excluded | set(state.seeds) | set(state.liked) | set(state.disliked)
        allowed[[self.position[i] for i in blocked if i in self.position]] = False
        for item in state.disliked:  # the very similar ones go with it
            allowed &= self.index.similarity_row(self.position[item]) < self.settings.chat_dislike_similar_min
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
        scores = np.where(self.allowed(), self._scores(), -np.inf)
        order = [int(i) for i in np.argsort(-scores, kind="stable") if np.isfinite(scores[i])]
        shortlist = order[: max(self.k, self.settings.top_k_candidates)]
        if self._rerank_inputs is not None and len(shortlist) > self.k:
            shortlist = self._llm_rerank(shortlist, scores)
        return [self._recommendation(i, float(scores[i])) for i in shortlist[: self.k]]

    def _llm_rerank(self, shortlist: list[int], scores: np.ndarray) -> list[int]:
        from chatrec.llm.context import Catalogue, ContextBuilder
        from chatrec.llm.prompts import PromptBuilder
        from chatrec.llm.rerank import LLMReranker, blend

        assert self.backend is not None and self._rerank_inputs is not None
        weight, history, users = self._rerank_inputs
        user = self.user_id or "(new user)"
        candidates = pl.DataFrame({
            "user_id": [user] * len(shortlist), "rank": list(range(1, len(shortlist) + 1)),
            "item_id": [self.item_ids[i] for i in shortlist], "score": [float(scores[i]) for i in shortlist],
        }).cast({"rank": pl.Int32})  # fmt: skip
        contexts = ContextBuilder(Catalogue(self.items), history, users)
        builder = PromptBuilder(self.backend.count_tokens, self.settings.llm_prompt_tokens)
        reranker = LLMReranker(self.backend, builder, contexts, self.settings.llm_rerank_mode)  # type: ignore[arg-type]
        llm_scores, _ = reranker.score(candidates, self.k, {user: self.state.turns[-6:]})
        final = blend(candidates, llm_scores, weight, len(shortlist))
        return [self.position[i] for i in final["item_id"].to_list()]

    # --- explanations: only what was computed -----------------------------------------------------
    def _evidence(self, item: str) -> Evidence:
        return (
            self.index.evidence(self.user_id, item) if self.user_id is not None else Evidence(item, self.titles[item])
        )

    def _session_reasons(self, index: int) -> list[str]:
        """Why the conversation so far points at item `index`, each a checkable fact (no zero counts)."""
        state, item, reasons = self.state, self.item_ids[index], []
        for anchor in state.seeds[-1:] + state.liked[-1:]:
            both = self.index.co_likers(self.position[anchor], index)
            shared = [g for g in self.genres[index] if g in self.genres[self.position[anchor]] and g != "unknown"]
            if both > 0:
                reasons.append(f"{people(both)} liked both {self.titles[anchor]} and {self.titles[item]}")
            elif shared:
                reasons.append(f"it shares {', '.join(shared).lower()} with {self.titles[anchor]}")
        genres = [g for g in self.genres[index] if g in state.prefer_genres]
        if genres:
            reasons.append(f"it is {', '.join(genres).lower()}, as you asked")
        if state.year_range and self.years[index] > 0:
            reasons.append(f"it is from {self.years[index]}")
        if state.queries and self._matches_request(index):
            if self.has_description[index]:
                reasons.append(f"its description is close in meaning to '{state.queries[-1]}'")
            else:
                genres_known = [g for g in self.genres[index] if g != "unknown"]
                if genres_known:
                    reasons.append(f"its genres ({', '.join(genres_known).lower()}) are close in meaning to "
                                   f"'{state.queries[-1]}'")  # fmt: skip
        return reasons

    def _fallback_reason(self, item: str) -> str:
        count = self.interaction_counts.get(item, 0)
        if count > 0:
            return f"{people(count)} have rated or watched it" if count > 1 else "1 person has rated or watched it"
        return "it fits what you asked for"

    def _recommendation(self, index: int, score: float) -> ChatRecommendation:
        item = self.item_ids[index]
        reasons = []
        evidence = self._evidence(item)
        if evidence.similar_history or evidence.shared_genres:
            reasons.append(template_explanation(evidence).removeprefix("Recommended because ").rstrip("."))
        reasons += self._session_reasons(index)
        if not reasons:
            reasons.append(self._fallback_reason(item))
        year = int(self.years[index]) if self.years[index] > 0 else None
        return ChatRecommendation(item, self.titles[item], year, self.genres[index], score,
                                  "Recommended because " + "; ".join(reasons) + ".", "template")  # fmt: skip

    def _why(self, item: str) -> tuple[str, str]:
        """The answer to "why X": X's evidence, LLM-phrased and checked when an LLM is loaded."""
        index = self.position[item]
        title = self.titles[item]
        evidence = self._evidence(item)
        session = self._session_reasons(index)
        place = f"#{self.state.shown.index(item) + 1} on the list" if item in self.state.shown else "not on the list"
        lead, source = "", "template"
        if evidence.similar_history or evidence.shared_genres:
            lead = template_explanation(evidence).removeprefix("Recommended because ")
            if self.backend is not None and self.settings.llm_explanations == "llm" and self.user_id is not None:
                phrased = self._llm_phrase(evidence)
                if phrased is not None:
                    lead, source = phrased, "llm"
        parts = [p for p in (lead.rstrip("."), *session) if p]
        if not parts:
            parts = [self._fallback_reason(item)]
        return f"{title} ({place}): " + "; ".join(parts) + ".", source

    def _llm_phrase(self, evidence: Evidence) -> str | None:
        from chatrec.llm.explain import ExplanationChecker, LLMExplainer
        from chatrec.llm.prompts import PromptBuilder

        assert self.backend is not None
        if self._checker is None:
            self._checker = ExplanationChecker.from_items(self.items)
        builder = PromptBuilder(self.backend.count_tokens, self.settings.llm_prompt_tokens)
        explainer = LLMExplainer(self.backend, builder, self._checker)
        result = explainer.explain([(self.user_id or "", evidence.item_id, evidence)])[0]
        return result.text if result.source == "llm" else None
