"""Chat feedback acts at once and lasts: a dislike leaves this session and the user's next batch run
(recs.exclusions, before any retrain), and a chat left open never makes the pipeline's writes fail."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from chatrec.batch.recommend import recommend_batch
from chatrec.chat import ChatSession
from chatrec.chat.feedback import FeedbackBatch, WarehouseSink, apply_pending, pending_dir, write_pending
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.data.ingest import ingest_movielens
from chatrec.models.base import Recommender
from chatrec.models.training import set_status, train_and_register
from chatrec.settings import Settings
from chatrec.warehouse import connect
from chatrec.warehouse.lock import warehouse_lock
from tests.processes import REPO


def production_popularity(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    settings.candidate_model = "popularity"
    version = train_and_register(
        con, settings, "popularity", interactions=interactions_frame(con), items=items_frame(con)
    )
    set_status(con, version.model_id, "production", "test")


def batch_items(con: duckdb.DuckDBPyConnection, run_id: str, user: str) -> list[str]:
    rows = con.execute(
        "SELECT item_id FROM recs.recommendations WHERE run_id = ? AND user_id = ? ORDER BY rank", [run_id, user]
    ).fetchall()
    return [r[0] for r in rows]


def test_a_chat_dislike_leaves_the_session_and_the_next_batch_run(ml100k_warehouse, settings: Settings) -> None:
    production_popularity(ml100k_warehouse, settings)
    first = recommend_batch(ml100k_warehouse, settings, user_ids=["1", "2"])
    top = batch_items(ml100k_warehouse, first.run_id, "1")[0]
    session = ChatSession(ml100k_warehouse, settings, "1")
    title = session.titles[top]
    reply = session.send(f"I did not like {title}")
    assert reply.intent is not None and (reply.intent.kind, reply.intent.target) == ("feedback", top)
    assert reply.feedback_stored == 1 and top not in [r.item_id for r in reply.recommendations]
    # the items very similar to it went with it, in the session and for the batch run
    similar = ml100k_warehouse.execute(
        "SELECT item_id, weight FROM recs.exclusions WHERE user_id = '1' AND reason = 'similar'"
    ).fetchall()
    assert all(w >= settings.chat_dislike_similar_min for _, w in similar)
    second = recommend_batch(ml100k_warehouse, settings, user_ids=["1", "2"])
    after = batch_items(ml100k_warehouse, second.run_id, "1")
    assert top not in after and not {i for i, _ in similar} & set(after)
    # only that user's runs change
    assert batch_items(ml100k_warehouse, second.run_id, "2") == batch_items(ml100k_warehouse, first.run_id, "2")
    # stored as before, for the retrain
    assert ml100k_warehouse.execute(
        "SELECT count(*) FROM core.interactions WHERE user_id = '1' AND item_id = ? AND event = 'dislike'", [top]
    ).fetchall() == [(1,)]
    # liking it after all lifts the exclusion
    session.send(f"actually I loved {title}")
    assert ml100k_warehouse.execute(
        "SELECT count(*) FROM recs.exclusions WHERE user_id = '1' AND item_id = ?", [top]
    ).fetchall() == [(0,)]


def test_pending_feedback_is_stored_once_by_the_next_writer(
    ml100k_warehouse, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = FeedbackBatch(rows=[{"user_id": "1", "item_id": "50", "event": "dislike", "rating": None,
                                 "ts": "2026-12-01 08:00:00"}])  # fmt: skip
    write_pending(settings, batch)
    write_pending(settings, batch)  # the same feedback twice (a retried turn): stored once
    assert apply_pending(ml100k_warehouse, settings) == 1
    assert list(pending_dir(settings).glob("*.json")) == [] and apply_pending(ml100k_warehouse, settings) == 0
    # a malformed file never fails the pipeline step: set aside, named, nothing of it stored
    (pending_dir(settings) / "0-bad.json").write_text("{not json")
    (pending_dir(settings) / "1-unknown-event.json").write_text(
        FeedbackBatch(rows=[{"user_id": "1", "item_id": "50", "event": "shrug", "rating": None, "ts": None}]).to_json()
    )
    write_pending(settings, FeedbackBatch(rows=[{"user_id": "1", "item_id": "1", "event": "like", "rating": None,
                                                 "ts": "2026-12-01 08:01:00"}]))  # fmt: skip
    assert apply_pending(ml100k_warehouse, settings) == 1
    assert sorted(p.name for p in pending_dir(settings).iterdir()) == ["0-bad.json.bad", "1-unknown-event.json.bad"]
    assert capsys.readouterr().err.count("is malformed") == 2


def test_tagged_items_count_as_seen_in_the_chat(ml100k_warehouse, settings: Settings) -> None:
    session = ChatSession(ml100k_warehouse, settings, "1", model=_popularity(ml100k_warehouse))
    shown = [r.item_id for r in session.send("something from the 90s").recommendations]
    ml100k_warehouse.execute(
        "INSERT INTO core.tags (user_id, item_id, tag, ts, load_id) VALUES ('1', ?, 'seen it', now(), 'test')",
        [shown[0]],
    )
    again = ChatSession(ml100k_warehouse, settings, "1", model=session.model)
    assert shown[0] not in [r.item_id for r in again.send("something from the 90s").recommendations]
    off = ChatSession(
        ml100k_warehouse, settings.model_copy(update={"tagged_items_seen": False}), "1", model=session.model
    )
    assert shown[0] in [r.item_id for r in off.send("something from the 90s").recommendations]


def _popularity(con: duckdb.DuckDBPyConnection) -> Recommender:
    from chatrec.models import make_model

    model = make_model("popularity", Settings()).fit(interactions_frame(con), items_frame(con))
    assert isinstance(model, Recommender)
    return model


def _wait_for(path: Path, text: str, process: subprocess.Popen[str], timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = path.read_text()
        if text in out:
            return out
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"chat never printed {text!r}; it printed:\n{path.read_text()}")


def test_an_open_chat_never_makes_the_pipeline_writes_fail(
    ml100k_warehouse, settings: Settings, tmp_path: Path
) -> None:
    production_popularity(ml100k_warehouse, settings)
    ml100k_warehouse.close()
    env = {**os.environ, "CHATREC_WAREHOUSE_PATH": str(settings.warehouse_path), "CHATREC_CANDIDATE_MODEL": "popularity",
           "CHATREC_ARTIFACTS_DIR": str(settings.artifacts_dir), "CHATREC_CACHE_DIR": str(settings.cache_dir),
           "CHATREC_CHAT_WRITE_WAIT_S": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200", "PYTHONPATH": str(REPO)}  # fmt: skip
    output = tmp_path / "chat.out"
    with output.open("w") as sink:
        chat = subprocess.Popen(
            [sys.executable, "-m", "chatrec", "chat", "--user", "1", "--no-llm"],
            stdin=subprocess.PIPE, stdout=sink, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
        )  # fmt: skip
    try:
        assert chat.stdin is not None
        _wait_for(output, "type quit to leave", chat)
        chat.stdin.write("no horror\n")
        chat.stdin.flush()
        _wait_for(output, "understood: no horror", chat)
        # the nightly's write stages, holding the warehouse lock and the file, while the chat is open
        with warehouse_lock(settings, "flow nightly"):
            con = connect(settings)
            assert ingest_movielens(con).already_loaded
            production_popularity(con, settings)
            first = recommend_batch(con, settings, user_ids=["1"])
            chat.stdin.write("not for me\n")  # feedback while the pipeline writes: kept pending
            chat.stdin.flush()
            _wait_for(output, "feedback saved to be stored by its next step", chat)
            con.close()
        assert list(pending_dir(settings).glob("*.json"))
        with warehouse_lock(settings, "flow recommend"):
            con = connect(settings)
            second = recommend_batch(con, settings, user_ids=["1"])  # stores the pending feedback first
            disliked = con.execute(
                "SELECT item_id FROM core.interactions WHERE user_id = '1' AND event = 'dislike'"
            ).fetchall()
            assert len(disliked) == 1 and disliked[0][0] not in batch_items(con, second.run_id, "1")
            assert first.n_recommendations == second.n_recommendations > 0
            con.close()
        chat.stdin.write("I have seen the first one\n")  # the lock is free again: stored at once
        chat.stdin.flush()
        _wait_for(output, "saved 1 feedback row(s)", chat)
        chat.stdin.write("quit\n")
        chat.stdin.flush()
        assert chat.wait(timeout=60) == 0, output.read_text()
    finally:
        if chat.poll() is None:
            chat.kill()
            chat.wait(timeout=30)
    assert not list(pending_dir(settings).glob("*.json"))


def test_feedback_sink_writes_directly_when_the_warehouse_is_free(ml100k_warehouse, settings: Settings) -> None:
    ml100k_warehouse.close()
    outcome = WarehouseSink(settings).store(
        FeedbackBatch(
            rows=[{"user_id": "2", "item_id": "1", "event": "like", "rating": None, "ts": "2026-12-01 09:00:00"}]
        )
    )
    assert outcome.rows_stored == 1 and not outcome.pending
