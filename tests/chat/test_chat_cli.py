"""`chatrec chat` end to end in a subprocess, non-interactive turns."""

from __future__ import annotations

import os
import subprocess
import sys

from chatrec.data.frames import interactions_frame, items_frame
from chatrec.models.training import set_status, train_and_register


def test_chat_cli_answers_each_turn_and_stores_feedback(ml100k_warehouse, settings) -> None:
    settings.candidate_model = "popularity"
    version = train_and_register(ml100k_warehouse, settings, "popularity",
                                 interactions=interactions_frame(ml100k_warehouse), items=items_frame(ml100k_warehouse))  # fmt: skip
    set_status(ml100k_warehouse, version.model_id, "production", "test")
    ml100k_warehouse.close()  # the CLI process is the writer now
    env = {**os.environ, "CHATREC_WAREHOUSE_PATH": str(settings.warehouse_path), "CHATREC_CANDIDATE_MODEL": "popularity",
           "CHATREC_ARTIFACTS_DIR": str(settings.artifacts_dir), "COLUMNS": "200"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "chatrec", "chat", "--user", "1", "--no-llm", "-m", "no drama", "-m", "not for me"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        "understood: no drama" in result.stdout
        and "Drama" not in result.stdout.split("understood: dislike")[0].split("no drama")[1]
    )
    assert "saved 1 feedback row(s) for the next nightly run" in result.stdout
    missing = subprocess.run([sys.executable, "-m", "chatrec", "chat", "--user", "nobody", "--no-llm", "-m", "hi"],
                             capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert missing.returncode == 2 and "user 'nobody' is not in the warehouse" in missing.stdout
