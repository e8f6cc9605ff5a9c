"""The scripted dialogue set (dialogues.json: 40 turns, 4 users, one of them new): every turn is
understood as expected and does what it should, by the rules alone (fast tier) and with the packaged
LLM reading the turns the rules do not recognise and phrasing the "why" answers (slow tier)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from chatrec.chat import ChatSession
from chatrec.chat.script import load_dialogues, run_dialogue
from chatrec.chat.understanding import Shown, TurnIntent, understand
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.models import make_model
from chatrec.models.base import Recommender
from chatrec.settings import Settings

DIALOGUES = load_dialogues(Path(__file__).parent / "dialogues.json")


@pytest.fixture(scope="module")
def ease(ml100k_warehouse_path: Path) -> Recommender:
    con = duckdb.connect(str(ml100k_warehouse_path), read_only=True)
    model = make_model("ease", Settings()).fit(interactions_frame(con), items_frame(con))
    con.close()
    assert isinstance(model, Recommender)
    return model


def test_the_set_covers_what_the_issue_asks() -> None:
    turns = [t for d in DIALOGUES for t in d.turns]
    kinds = {t.intent for t in turns}
    assert len(turns) >= 30 and len({d.user for d in DIALOGUES}) >= 4
    assert {"refine", "reference", "more_like", "why", "feedback", "new_request", "off_topic"} <= kinds


# turns the rules are known to get wrong (a phrasing their word lists do not hold); a fix or a new
# miss both show up here
KNOWN_RULE_MISSES = {("typos and ordinals", "ugh, the second pick looks dull")}


def test_every_scripted_turn_by_the_rules(ml100k_warehouse, settings: Settings, ease: Recommender) -> None:
    failures = []
    for dialogue in DIALOGUES:
        session = ChatSession(ml100k_warehouse, settings, dialogue.user, model=ease)
        failures += [r for r in run_dialogue(session, dialogue) if not r.passed]
    assert {(r.dialogue, r.say) for r in failures} == KNOWN_RULE_MISSES, [r.to_json() for r in failures]


def test_a_failed_llm_reading_falls_back_to_the_rules() -> None:
    from chatrec.chat.intents import TitleIndex

    titles = TitleIndex({"1": "Toy Story", "8": "Babe"})
    why = TurnIntent(kind="why")  # a "why" with no item to point at fails validation
    assert why.problem({"1", "8"}) == "a 'why' turn needs an item and none could be resolved"
    assert TurnIntent(kind="why", target="999").problem({"1"}) == "target '999' is not in the catalogue"
    intent = understand(
        "why the second one?", Shown(["1", "8"], ["Toy Story", "Babe"]), titles, {"1", "8"}, None, "llm"
    )
    assert (intent.kind, intent.target, intent.parsed_by) == ("why", "8", "rules")


@pytest.mark.slow
def test_the_set_with_the_packaged_llm(ml100k_warehouse, settings: Settings, ease: Recommender, smollm2) -> None:
    llm_settings = settings.model_copy(update={"llm_rerank_mode": "off", "chat_understanding": "hybrid"})
    results = []
    for dialogue in DIALOGUES:
        session = ChatSession(ml100k_warehouse, llm_settings, dialogue.user, model=ease, backend=smollm2)
        results += run_dialogue(session, dialogue)
    passed = sum(r.passed for r in results)
    assert passed >= 0.9 * len(results), [r.to_json() for r in results if not r.passed]
