"""The Chat-Rec prompt constructor: templates in `templates/`, filled from a `UserContext`, kept
within a token budget by dropping the oldest history first, then candidate descriptions, then the
oldest conversation turns.

Every prompt is a system message (fixed, ours) and one user message whose data part is wrapped in
<data> tags; item texts and chat messages are cleaned before they get there (see `clean_text`).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2

from chatrec.llm.backends.base import Chat
from chatrec.llm.context import ItemInfo, UserContext, clean_text

TEMPLATE_DIR = Path(__file__).parent / "templates"
LABELS = list(string.ascii_uppercase)


def candidate_labels(n: int) -> list[str]:
    """One letter per candidate: the model answers with a single token per item it picks."""
    if n > len(LABELS):
        raise ValueError(f"{n} candidates is more than the {len(LABELS)} one-letter labels the LLM ranker uses")
    return LABELS[:n]


def _rating(value: float | None) -> str:
    return "liked (no rating)" if value is None else f"{value:g}/5"


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    content: str


@dataclass
class PromptBudget:
    """How a prompt was fitted to the budget: its token count and what was cut."""

    tokens: int
    history_dropped: int = 0
    descriptions_dropped: bool = False
    turns_dropped: int = 0
    over_budget: bool = False
    user: UserContext | None = None  # the user context as cut down to fit


@dataclass
class PromptBuilder:
    count_tokens: Callable[[str], int]
    token_budget: int = 1024
    template_dir: Path = TEMPLATE_DIR
    max_message_chars: int = 300
    _env: jinja2.Environment = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.template_dir),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,  # prompts are plain text, not HTML
        )
        self._env.filters["rating"] = _rating
        self.system = self._env.get_template("system.j2").render().strip()

    def _chat(self, template: str, variables: dict[str, Any]) -> Chat:
        text = self._env.get_template(template).render(**variables).strip()
        return [{"role": "system", "content": self.system}, {"role": "user", "content": text}]

    def _tokens(self, chat: Chat) -> int:
        return sum(self.count_tokens(m["content"]) for m in chat) + 8  # + chat-template markers

    def fit(
        self, template: str, user: UserContext, conversation: Sequence[Turn] = (), **extra: Any
    ) -> tuple[Chat, PromptBudget]:
        """The prompt for `template`, cut down until it fits the budget (history first)."""
        user = replace(user, recent=list(user.recent), top_rated=list(user.top_rated))
        turns = [Turn(t.role, clean_text(t.content, self.max_message_chars)) for t in conversation]
        budget = PromptBudget(tokens=0)
        with_descriptions = True
        while True:
            variables = {
                "user": _UserView(user), "conversation": turns, "with_descriptions": with_descriptions, **extra,
            }  # fmt: skip
            chat = self._chat(template, variables)
            budget.tokens = self._tokens(chat)
            budget.user = user
            if budget.tokens <= self.token_budget:
                return chat, budget
            if user.recent or user.top_rated:
                # drop from the longer list: the oldest recent ratings, or the lowest top-rated ones;
                # a history line is ~15-25 tokens, so drop several at once when far over budget
                for _ in range(max(1, (budget.tokens - self.token_budget) // 25)):
                    if not (user.recent or user.top_rated):
                        break
                    (user.recent if len(user.recent) >= len(user.top_rated) else user.top_rated).pop()
                    budget.history_dropped += 1
            elif with_descriptions:
                with_descriptions = False
                budget.descriptions_dropped = True
            elif len(turns) > 1:
                turns.pop(0)
                budget.turns_dropped += 1
            else:
                budget.over_budget = True
                return chat, budget

    # --- one method per task ----------------------------------------------------------------------
    def listwise(
        self, user: UserContext, candidates: Sequence[ItemInfo], k: int, conversation: Sequence[Turn] = ()
    ) -> tuple[Chat, PromptBudget]:
        labels = candidate_labels(len(candidates))
        example = ", ".join(labels[i] for i in (2, 0, 5, 1, 3, 4)[: min(k, len(labels))] if i < len(labels))
        return self.fit("rerank_listwise.j2", user, conversation,
                        candidates=list(zip(labels, candidates, strict=True)), k=k, example=example)  # fmt: skip

    def choice(
        self, user: UserContext, candidates: Sequence[ItemInfo], conversation: Sequence[Turn] = ()
    ) -> tuple[Chat, PromptBudget]:
        labels = candidate_labels(len(candidates))
        return self.fit("rerank_choice.j2", user, conversation, candidates=list(zip(labels, candidates, strict=True)))

    def yesno(
        self, user: UserContext, candidate: ItemInfo, conversation: Sequence[Turn] = ()
    ) -> tuple[Chat, PromptBudget]:
        return self.fit("rerank_yesno.j2", user, conversation, candidate=candidate)

    def rate(self, user: UserContext, candidate: ItemInfo) -> tuple[Chat, PromptBudget]:
        return self.fit("rate.j2", user, (), candidate=candidate)

    def explain(self, title: str, facts: Sequence[str]) -> Chat:
        return self._chat("explain.j2", {"title": title, "facts": list(facts)})

    def explain_claims(self, title: str, claims: Sequence[str]) -> Chat:
        """The slot-filling prompt: the instruction before the evidence, so a batch shares it as prefix."""
        return self._chat("explain_claims.j2", {"title": title, "facts": list(claims)})

    def explain_items(self, items: Sequence[tuple[str, Sequence[str]]]) -> Chat:
        """One prompt for several recommended items (title, facts): one numbered sentence each."""
        return self._chat("explain_items.j2", {"items": [(t, list(f)) for t, f in items]})


class _UserView:
    """The template's view of a user: the context plus a one-line profile."""

    def __init__(self, user: UserContext) -> None:
        self._user = user

    def __getattr__(self, name: str) -> Any:
        return getattr(self._user, name)

    @property
    def profile_line(self) -> str:
        profile = self._user.profile
        parts = [f"{profile['age']} years old" if "age" in profile else ""]
        parts += [str(profile[k]) for k in ("gender", "occupation") if k in profile]
        parts.append(
            f"{self._user.n_ratings} ratings" + (f", mean {self._user.mean_rating:g}" if self._user.mean_rating else "")
        )
        return ", ".join(p for p in parts if p)
