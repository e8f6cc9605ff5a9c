"""The scripted chat dialogues (tests/chat/dialogues.json) run by the rules alone and with the packaged
LLM, side by side in one process: % of turns with the expected intent and effect, % with the expected
intent, median and 90th-percentile turn latency.

python -m bench.chat [--threads 1] [--model SmolLM2-135M-Instruct] [--modes rules hybrid llm llm-uncalibrated]
                     [--rerank]

Configurations (settings.chat_understanding):
- rules: no LLM loaded; the rules read every turn, "why" answers are template sentences;
- hybrid (the default when an LLM is loaded): the rules read a turn when they recognise it, the LLM
  (constrained choices) otherwise; "why" answers are phrased by the LLM and checked;
- llm: the LLM reads every turn first; the rules only when its reading fails validation;
- llm-uncalibrated: as llm, without the contextual calibration the understander applies by default
  (each choice corrected by the model's choice for the same prompt with an empty message).
The first stage is EASE (default settings) fitted on all of MovieLens 100K (as tests/chat); the LLM re-rank of each new
list is off unless --rerank (it is what makes a turn slow, and it does not change what a turn is
understood as). Each configuration gets a fresh copy of the warehouse (feedback is stored into it).
The text encoder's cache is warmed first, so no configuration pays the MiniLM load in its latencies.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.common import ml100k_warehouse, write_result
from chatrec.chat import ChatSession
from chatrec.chat.script import TurnResult, load_dialogues, run_dialogue
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.llm.backends.base import LLMBackend
from chatrec.logs import quiet_third_party
from chatrec.models import make_model
from chatrec.models.base import Recommender
from chatrec.settings import Settings
from chatrec.warehouse import connect

DIALOGUES = Path(__file__).resolve().parents[1] / "tests" / "chat" / "dialogues.json"


def run_config(
    warehouse: Path, settings: Settings, model: Recommender, backend: LLMBackend | None, mode: str
) -> tuple[list[TurnResult], int]:
    """The dialogues in one configuration: (turn results, turns the LLM was asked to read)."""
    scratch = Path(tempfile.mkdtemp(prefix="chatrec-bench-chat-")) / "chat.duckdb"
    shutil.copyfile(warehouse, scratch)
    understanding = mode.removesuffix("-uncalibrated")
    config = settings.model_copy(update={"warehouse_path": scratch, "chat_understanding": understanding})
    con = connect(config)
    results: list[TurnResult] = []
    asked = 0
    try:
        for dialogue in load_dialogues(DIALOGUES):
            session = ChatSession(con, config, dialogue.user, model=model, backend=backend)
            if session.understander is not None:
                session.understander.calibrate = not mode.endswith("-uncalibrated")
            results += run_dialogue(session, dialogue)
            asked += session.understander.calls if session.understander is not None else 0
    finally:
        con.close()
        shutil.rmtree(scratch.parent, ignore_errors=True)
    return results, asked


def summary(results: list[TurnResult], asked: int) -> dict[str, Any]:
    seconds = [r.seconds for r in results]
    return {
        "turns": len(results),
        "llm_asked_turns": asked,
        "passed": sum(r.passed for r in results),
        "pass_rate": round(sum(r.passed for r in results) / len(results), 4),
        "intent_rate": round(sum(r.intent_ok for r in results) / len(results), 4),
        "llm_read_turns": sum(r.parsed_by == "llm" for r in results),
        "median_turn_s": round(statistics.median(seconds), 3),
        "p90_turn_s": round(sorted(seconds)[int(0.9 * (len(seconds) - 1))], 3),
        "max_turn_s": round(max(seconds), 3),
        "failures": [
            {
                "dialogue": r.dialogue,
                "turn": r.number,
                "say": r.say,
                "expected": r.expected_intent,
                "got": r.intent,
                "by": r.parsed_by,
                "why": r.effect_failures,
            }
            for r in results
            if not r.passed
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the LLM (1 is fastest here)")
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["rules", "hybrid", "llm", "llm-uncalibrated"],
        choices=["rules", "hybrid", "llm", "llm-uncalibrated"],
    )
    parser.add_argument("--rerank", action="store_true", help="also re-rank each new list with the LLM (choice)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quiet_third_party()
    warehouse = ml100k_warehouse()
    cache = Path(tempfile.mkdtemp(prefix="chatrec-bench-chat-cache-"))
    settings = Settings(
        cache_dir=cache, artifacts_dir=cache / "artifacts", llm_model=args.model,
        llm_rerank_mode="choice" if args.rerank else "off", llm_explanations="llm",
    )  # fmt: skip
    con = connect(path=warehouse)
    model = make_model("ease", settings).fit(interactions_frame(con), items_frame(con))
    con.close()
    assert isinstance(model, Recommender)
    backend: LLMBackend | None = None
    loaded_s = 0.0
    if any(mode != "rules" for mode in args.modes):
        from chatrec.llm.backends.transformers_backend import TransformersBackend

        started = time.perf_counter()
        backend = TransformersBackend(args.model, cache_dir=Path(tempfile.gettempdir()) / "chatrec-bench-llm")
        loaded_s = time.perf_counter() - started
    run_config(warehouse, settings, model, None, "rules")  # warms the text encoder's cache: not measured
    results: dict[str, Any] = {}
    for mode in args.modes:
        turns, asked = run_config(warehouse, settings, model, None if mode == "rules" else backend, mode)
        results[mode] = summary(turns, asked)
        print(f"{mode:>6}: {results[mode]['passed']}/{results[mode]['turns']} turns as expected "
              f"({results[mode]['pass_rate']:.0%}), intent {results[mode]['intent_rate']:.0%}, "
              f"LLM asked {asked}, taken {results[mode]['llm_read_turns']}, median {results[mode]['median_turn_s']} s, "
              f"p90 {results[mode]['p90_turn_s']} s")  # fmt: skip
        for failure in results[mode]["failures"]:
            print(f"        fail: {failure}")
    path = write_result(
        "chat",
        {"model": args.model, "threads": args.threads, "rerank": args.rerank, "llm_load_s": round(loaded_s, 1),
         "dialogues": str(DIALOGUES.name), "results": results},
    )  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
