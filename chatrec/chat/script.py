"""Scripted dialogues: each turn says what it should be understood as and what it should do.

A dialogue file (JSON) holds dialogues, each a user (or null: a new user) and turns:
    {"say": "more like the second one", "intent": "more_like", "target": "shown:2",
     "effects": ["similar", "years:1990-1999"]}
`target`: `shown:N` (the N-th item of the list shown before the turn), `title:NAME` (a catalogue
title), `focus` (the item the previous turn was about), or absent (no item). `feedback`: like,
dislike, seen or rating, when the intent is feedback. Effects, checked on the reply and the session:
- `list_unchanged` / `list_changed`;
- `gone`: the target is not in the new list;
- `similar`: at least 3 of the new list are among the target's 50 nearest items (item-item cosine) of
  those the session may show (not seen, within its filters);
- `genre:G>=N` / `genre_any:G1|G2>=N`: at least N shown items have genre G (any of G1, G2);
- `no_genre:G`; `years:LO-HI` (either side may be empty);
- `no_title_word:W`: no shown title contains the word W (requests are not matched on title words);
- `answer_names_target`: the answer names the target's title;
- `stored` (feedback stored or pending in the warehouse) / `not_stored`; `excluded` (the target is
  excluded for the rest of the session); `note` (the reply carries a note).
Every turn, whatever it expects, also fails on an answer or explanation that states a zero count or a
description the item does not have (`false_claim`).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatrec.chat.session import ChatSession, Reply, false_claim

NEIGHBOURS = 50


@dataclass(frozen=True)
class ScriptedTurn:
    say: str
    intent: str
    target: str | None = None
    feedback: str | None = None
    effects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dialogue:
    name: str
    user: str | None
    turns: list[ScriptedTurn]


@dataclass
class TurnResult:
    dialogue: str
    number: int
    say: str
    expected_intent: str
    intent: str
    parsed_by: str
    intent_ok: bool
    effect_failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.intent_ok and not self.effect_failures

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "passed": self.passed}


def load_dialogues(path: Path) -> list[Dialogue]:
    data = json.loads(Path(path).read_text())
    dialogues = []
    for entry in data["dialogues"]:
        turns = [
            ScriptedTurn(t["say"], t["intent"], t.get("target"), t.get("feedback"), tuple(t.get("effects", [])))
            for t in entry["turns"]
        ]
        dialogues.append(Dialogue(entry["name"], entry.get("user"), turns))
    return dialogues


def _resolve_target(spec: str | None, session: ChatSession, shown: list[str], focus: str | None) -> str | None:
    if spec is None:
        return None
    kind, _, value = spec.partition(":")
    if kind == "shown":
        number = int(value)
        return shown[number - 1] if 0 < number <= len(shown) else None
    if kind == "title":
        return session.title_index.find(value)
    if kind == "focus":
        return focus
    raise ValueError(f"unknown target {spec!r}: use shown:N, title:NAME or focus")


def _genres_at_least(reply: Reply, wanted: set[str], minimum: int) -> bool:
    return sum(bool(set(r.genres) & wanted) for r in reply.recommendations) >= minimum


def check_effect(effect: str, reply: Reply, session: ChatSession, target: str | None, before: list[str]) -> str | None:
    """None when `effect` holds for this reply, else what is wrong."""
    shown = [r.item_id for r in reply.recommendations]
    name, _, value = effect.partition(":")
    if name == "list_unchanged":
        return None if shown == before else "the list changed"
    if name == "list_changed":
        return None if reply.list_changed and shown != before else "the list did not change"
    if name == "gone":
        return None if target is not None and target not in shown else f"{target} is still shown"
    if name == "similar":
        if target is None:
            return "no target to be similar to"
        # the nearest of the items the session may show (not seen, within the filters)
        row = np.where(session.allowed(), session.index.similarity_row(session.position[target]), -np.inf)
        nearest = {session.item_ids[i] for i in np.argsort(-row, kind="stable")[:NEIGHBOURS]}
        hits = sum(item in nearest for item in shown)
        return None if hits >= 3 else f"only {hits} shown items among the {NEIGHBOURS} nearest to {target}"
    if name in ("genre", "genre_any"):
        genres, _, minimum = value.partition(">=")
        ok = _genres_at_least(reply, set(genres.split("|")), int(minimum or 1))
        return None if ok else f"fewer than {minimum} shown items of {genres}"
    if name == "no_genre":
        return None if not _genres_at_least(reply, {value}, 1) else f"{value} is shown"
    if name == "years":
        lo, _, hi = value.partition("-")
        bad = [r.title for r in reply.recommendations if r.year is None or (lo and r.year < int(lo)) or (hi and r.year > int(hi))]  # fmt: skip
        return None if not bad else f"outside {value}: {bad}"
    if name == "no_title_word":
        bad = [r.title for r in reply.recommendations if re.search(rf"\b{re.escape(value)}", r.title, re.IGNORECASE)]
        return None if not bad else f"titles matched on the word {value!r}: {bad}"
    if name == "answer_names_target":
        ok = target is not None and reply.answer is not None and session.titles[target] in reply.answer
        return None if ok else "the answer does not name the target"
    if name == "stored":
        return None if reply.feedback_stored + reply.feedback_pending >= 1 else "no feedback stored"
    if name == "not_stored":
        return None if reply.feedback_stored + reply.feedback_pending == 0 else "feedback stored"
    if name == "excluded":
        return None if target in session.excluded or target in session.state.disliked else f"{target} not excluded"
    if name == "note":
        return None if reply.notes else "no note"
    raise ValueError(f"unknown effect {effect!r}")


def claims_in(reply: Reply, session: ChatSession) -> list[str]:
    """Every false claim in the reply's answer and explanations."""
    problems = []
    for rec in reply.recommendations if reply.list_changed else []:
        problem = false_claim(rec.explanation, session.has_description[session.position[rec.item_id]])
        if problem:
            problems.append(problem)
    if reply.answer and reply.intent is not None and reply.intent.target is not None:
        problem = false_claim(reply.answer, session.has_description[session.position[reply.intent.target]])
        if problem:
            problems.append(problem)
    return problems


def run_dialogue(session: ChatSession, dialogue: Dialogue) -> list[TurnResult]:
    results = []
    focus: str | None = None
    for number, turn in enumerate(dialogue.turns, start=1):
        before = list(session.state.shown)
        expected_target = _resolve_target(turn.target, session, before, focus)
        started = time.perf_counter()
        reply = session.send(turn.say)
        seconds = time.perf_counter() - started
        intent = reply.intent
        assert intent is not None
        intent_ok = intent.kind == turn.intent and (turn.target is None or intent.target == expected_target)
        if turn.feedback is not None:
            intent_ok = intent_ok and intent.feedback == turn.feedback
        failures = [f for f in (check_effect(e, reply, session, expected_target, before) for e in turn.effects) if f]
        failures += claims_in(reply, session)
        if not intent_ok:
            failures.insert(0, f"understood {intent.kind} {intent.target} {intent.feedback or ''}".strip())
        results.append(TurnResult(dialogue.name, number, turn.say, turn.intent, intent.kind, intent.parsed_by,
                                  intent_ok, failures, seconds))  # fmt: skip
        focus = intent.target if intent.target is not None else focus
    return results
