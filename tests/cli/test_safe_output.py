"""Text from data or from the user is printed as written: rich markup is not interpreted, control
characters never reach the terminal, and long input is echoed once, cut."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from chatrec.cli.safe_text import clean_text, safe_cell, safe_markup
from chatrec.data.frames import interactions_frame, items_frame
from chatrec.data.ingest import ingest_table
from chatrec.models.training import set_status, train_and_register
from tests.cli.test_cli import chatrec

CORPUS = Path(__file__).parents[1] / "data" / "bad_input" / "interactions.csv"


def rendered(*objects: object) -> str:
    console = Console(width=200, force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(*objects)
    return capture.get()


def test_helpers_strip_controls_escape_markup_and_cut() -> None:
    assert clean_text("a\x1b[2Jb\x00c\rd\u202ee\tf\ng") == "a[2Jbcde\tf\ng"
    assert clean_text("x" * 30, limit=10) == "x" * 10 + "… (+20 characters)"
    assert clean_text(None) == "NULL"
    assert rendered(f"[bold]{safe_markup('[/bold] [red]hi')}[/bold]").strip() == "[/bold] [red]hi"
    assert rendered(safe_cell(":thumbs_up: [b]x[/b]")).strip() == ":thumbs_up: [b]x[/b]"


def test_sql_prints_markup_and_escapes_from_data_safely(tmp_path: Path) -> None:
    assert chatrec("warehouse", "migrate", cwd=tmp_path).returncode == 0
    result = chatrec("sql", "SELECT '[/bold]' AS t, chr(27) || '[2J' AS e, 'x[/red]' AS \"[bold]col\"", cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "[/bold]" in result.stdout and "x[/red]" in result.stdout and "[bold]col" in result.stdout
    assert "\x1b" not in result.stdout and "[2J" in result.stdout
    failed = chatrec("sql", "SELECT [/bold] FROM nowhere", cwd=tmp_path)
    assert failed.returncode == 1 and "query failed" in failed.stdout


def test_ingest_summary_prints_reasons_from_data_safely(tmp_path: Path) -> None:
    mapping = "user=uid,item=mid,rating=stars,timestamp=ts,title=title,rating_min=1,rating_max=5"
    result = chatrec("ingest", "csv", str(CORPUS), "--map", mapping, cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "\x1b" not in result.stdout and "\x00" not in result.stdout
    assert "quarantined: timestamp outside plausible window" in result.stdout
    assert "timestamps read as epoch seconds (21) and ISO 8601 (5)" in result.stdout


def test_chat_echoes_markup_once_and_cut(ml100k_warehouse, settings, tmp_path: Path) -> None:
    settings.candidate_model = "popularity"
    version = train_and_register(ml100k_warehouse, settings, "popularity",
                                 interactions=interactions_frame(ml100k_warehouse), items=items_frame(ml100k_warehouse))  # fmt: skip
    set_status(ml100k_warehouse, version.model_id, "production", "test")
    # a title from data carrying markup and a terminal escape
    path = tmp_path / "t.csv"
    path.write_text(
        'u,i,r,t,title\n1,1,5,1997-12-04 15:55:49,Toy Story\n1,99999,5,1997-12-04 15:55:49,"[/bold]\x1b[2J"\n'
    )
    ingest_table(
        ml100k_warehouse, path, "user=u,item=i,rating=r,timestamp=t,title=title,rating_min=1,rating_max=5", append=True
    )
    ml100k_warehouse.close()
    env = {**os.environ, "CHATREC_WAREHOUSE_PATH": str(settings.warehouse_path), "CHATREC_CANDIDATE_MODEL": "popularity",
           "CHATREC_ARTIFACTS_DIR": str(settings.artifacts_dir), "COLUMNS": "200"}  # fmt: skip
    long_message = "a heist " + "z" * 100_000
    result = subprocess.run(
        [sys.executable, "-m", "chatrec", "chat", "--user", "1", "--no-llm", "-m", "[/bold] hi", "-m", long_message],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "> [/bold] hi" in result.stdout
    assert "\x1b" not in result.stdout
    assert len(result.stdout) < 20_000  # the 100 KB message is never printed whole
    assert result.stdout.count("(+99,8") >= 1  # echoed cut, with a note of what was left out
