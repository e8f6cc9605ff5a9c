"""One interface over every language model chatrec can use.

A backend turns chat-formatted prompts into (a) free text, (b) a ranking constrained to given labels
(the listwise re-ranker: no parse failures, no invented or duplicate items by construction where the
backend can constrain decoding), (c) log-probabilities of given one-token options (the verbalizer
scorers: "Yes"/"No", candidate letters, rating digits), (d) embeddings, and (e) guided text: free
text kept, token by token, to what a `TextConstraint` allows (explanations whose titles, genres and
numbers can only be the evidence's). Everything is batched: callers pass lists, backends decide how
many go to the model at once.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

Chat = list[dict[str, str]]  # OpenAI-style messages: [{"role": "system"|"user"|"assistant", "content": ...}]


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    raw: str = ""  # generate_guided: what was decoded when `text` had to be cut back (else "")


@dataclass(frozen=True)
class Ranking:
    """A ranking of labels. `valid` is False when the model's raw output broke the contract (parse
    failure, invented or duplicate labels, wrong length) and `labels` had to be repaired."""

    labels: list[str]
    valid: bool
    invented: int
    duplicates: int
    prompt_tokens: int
    raw: str


class TextConstraint(ABC):
    """What a guided generation may say, judged on text (so one constraint serves every tokenizer).

    `start` is the text the answer is made to begin with (fed to the model after the prompt and part
    of the answer); `allows(text)` says whether an answer beginning with `text` can still end up
    acceptable; `complete(text)` whether `text` is an acceptable whole answer (only then may it end).
    """

    start: str = ""

    @abstractmethod
    def allows(self, text: str) -> bool:
        """False once `text` can no longer be completed into an acceptable answer."""

    @abstractmethod
    def complete(self, text: str) -> bool:
        """True when `text` is an acceptable whole answer."""

    def continuations(self, text: str) -> list[str] | None:
        """Every text that may come next (a grammar's remaining words), when the constraint can list
        them: a decoder then picks among their first tokens and never walks into a dead end that a
        mid-word prefix leads to ("in a" of "in addition" with no token to go on). None: unknown."""
        return None


def choose_guided_token(
    constraint: TextConstraint,
    text: str,
    scores: np.ndarray,
    extend: Callable[[int], str],
    first_token: Callable[[str], int],
    eos_ids: set[int],
    search_width: int,
) -> int | None:
    """The most likely next token the constraint allows after `text` (`extend(token)`: the text with
    the token appended); end-of-sequence only where the text is complete. Candidates: the first tokens
    of the constraint's `continuations` when it lists them, else (or when none of those fits) the
    `search_width` most likely tokens. None: a dead end."""
    complete: bool | None = None
    tried: set[int] = set()

    def first_allowed(pool: Sequence[int]) -> int | None:
        nonlocal complete
        for token in pool:
            if token in tried:
                continue  # judged in the listed pool already
            tried.add(token)
            if token in eos_ids:
                if complete is None:
                    complete = constraint.complete(text)
                if complete:
                    return int(token)
            elif constraint.allows(extend(token)):
                return int(token)
        return None

    listed = constraint.continuations(text)
    if listed:
        chosen = first_allowed(sorted({first_token(c) for c in listed if c} | eos_ids, key=lambda t: -scores[t]))
        if chosen is not None:
            return chosen
    # the most likely tokens, only when the listed continuations gave none (every step would pay otherwise)
    width = min(search_width, len(scores))
    top = np.argpartition(-scores, width - 1)[:width]
    return first_allowed(top[np.argsort(-scores[top], kind="stable")].tolist())


def longest_complete_prefix(texts: Sequence[str], constraint: TextConstraint) -> str:
    """The longest of `texts` (successive prefixes of one answer) the constraint accepts as a whole
    answer; "" when none is."""
    return next((text for text in reversed(texts) if constraint.complete(text)), "")


class LLMError(RuntimeError):
    """A backend failed after its retries (unreachable endpoint, bad response, model not found)."""


class LLMBackend(ABC):
    """Base class of the transformers and OpenAI-compatible backends."""

    name: str

    @abstractmethod
    def generate(self, chats: Sequence[Chat], *, max_new_tokens: int = 64) -> list[Generation]:
        """Greedy continuation of each chat."""

    @abstractmethod
    def rank(self, chats: Sequence[Chat], labels: Sequence[Sequence[str]], k: int) -> list[Ranking]:
        """For each chat, `k` distinct labels out of its own label list, best first."""

    @abstractmethod
    def option_logprobs(self, chats: Sequence[Chat], options: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """For each chat, the log-probability of each option being the first token of the answer,
        renormalised over the options (so scores are comparable across prompts)."""

    def option_logprobs_grouped(
        self, groups: Sequence[Sequence[Chat]], options: Sequence[str]
    ) -> list[list[np.ndarray]]:
        """`option_logprobs` for groups of chats that share a long prefix (one user's pointwise
        prompts). Backends that can reuse the shared prefix's computation override this."""
        flat = [chat for group in groups for chat in group]
        scores = iter(self.option_logprobs(flat, [options] * len(flat)))
        return [[next(scores) for _ in group] for group in groups]

    def generate_guided(
        self, chats: Sequence[Chat], constraints: Sequence[TextConstraint], *, max_new_tokens: int = 64
    ) -> list[Generation]:
        """Greedy continuation of each chat after its constraint's `start`, every token the most likely
        one whose text the constraint `allows`, ending only where the text is `complete`.

        Returned text: the start plus the continuation, cut back to its longest complete prefix when
        decoding stopped elsewhere (dead end, token limit); "" when no prefix is complete. So the text
        is always one the constraint accepts, or empty. Backends that can steer decoding token by token
        (transformers: a logits processor) override this. This default, for those that cannot, generates
        freely (the start stated in the request) and applies the same cut-back to the free text, so the
        contract holds on every backend, only with fewer answers that get through.
        """
        requests = []
        for chat, constraint in zip(chats, constraints, strict=True):
            if constraint.start:
                chat = [*chat[:-1], {**chat[-1], "content": f'{chat[-1]["content"]}\nBegin with: "{constraint.start}"'}]
            requests.append(chat)
        results = []
        for generation, constraint in zip(
            self.generate(requests, max_new_tokens=max_new_tokens), constraints, strict=True
        ):
            words = re.findall(r"\S+\s*", generation.text)
            prefixes = ["".join(words[:n]) for n in range(len(words) + 1)]
            kept = longest_complete_prefix(prefixes, constraint).strip()
            results.append(replace(generation, text=kept, raw="" if kept == generation.text else generation.text))
        return results

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised vector per text."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens the model would read for `text` (the prompt builder keeps prompts within budget)."""


def repair_ranking(raw_labels: Sequence[str], allowed: Sequence[str], k: int) -> tuple[list[str], int, int]:
    """Keep the first occurrence of each allowed label, drop invented ones, and fill up to `k` from
    `allowed` in its order (the first-stage order): returns (labels, invented, duplicates)."""
    allowed_set = set(allowed)
    seen: list[str] = []
    invented = duplicates = 0
    for label in raw_labels:
        if label not in allowed_set:
            invented += 1
        elif label in seen:
            duplicates += 1
        else:
            seen.append(label)
    for label in allowed:
        if len(seen) >= k:
            break
        if label not in seen:
            seen.append(label)
    return seen[:k], invented, duplicates


def normalise_logprobs(values: np.ndarray) -> np.ndarray:
    """Log-softmax over the options only (a model that puts mass elsewhere still ranks the options)."""
    finite = np.where(np.isfinite(values), values, -1e9)
    shifted = finite - finite.max()
    return shifted - np.log(np.exp(shifted).sum())
