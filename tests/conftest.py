"""Shared fixtures. Every test gets its own settings object pointing into a temporary folder, so no
test touches the developer's `var/` or picks up a `chatrec.toml` from the working directory."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from chatrec.settings import Settings, get_settings

if TYPE_CHECKING:
    from chatrec.llm.backends.transformers_backend import TransformersBackend
from chatrec.warehouse import connect
from tests.processes import SESSION_MARK, is_interpreter_helper, marked_processes, orphans, reap_leftovers

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def _no_process_outlives_the_session() -> Iterator[str]:
    """Mark every process this session starts; at the end, none may still be running (checked in CI)."""
    mark = uuid.uuid4().hex
    os.environ[SESSION_MARK] = mark
    yield mark
    left = reap_leftovers([p for p in marked_processes(mark) if not is_interpreter_helper(p)])
    assert not left, f"processes started by the tests outlived the test session: {left}"


@pytest.fixture(autouse=True)
def _no_orphans_after_each_test(_no_process_outlives_the_session: str) -> Iterator[None]:
    """A process whose parent ended (e.g. a server's child after the server was stopped) fails the
    test that left it, naming it; processes still owned by a fixture are checked at session end."""
    yield
    left = reap_leftovers(orphans(_no_process_outlives_the_session))
    assert not left, f"this test left orphaned processes running: {left}"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run each test in a temp cwd with no CHATREC_* variables from the outer shell."""
    for name in list(os.environ):
        if name.startswith("CHATREC_"):
            monkeypatch.delenv(name)
    # the LLM layer is off unless a test turns it on (tests/llm, the LLM batch and nightly tests):
    # decoding on 2 CPU cores would make every recommend-flow test take minutes
    monkeypatch.setenv("CHATREC_LLM_BACKEND", "none")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose every path lies under the test's temporary folder."""
    var = tmp_path / "var"
    return Settings(
        warehouse_path=var / "chatrec.duckdb",
        landing_dir=var / "landing",
        artifacts_dir=var / "artifacts",
        reports_dir=var / "reports",
        evidently_workspace=var / "evidently",
        cache_dir=var / "cache",
    )


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh, migrated, empty warehouse file."""
    con = connect(settings)
    yield con
    con.close()


# The GGUF -> safetensors conversion of the packaged SmolLM2 is cached under the repository's
# var/test-cache (git-ignored), so only the first test session on a machine pays the ~30 s conversion.
TEST_CACHE = Path(__file__).resolve().parents[1] / "var" / "test-cache"


@pytest.fixture(scope="session")
def smollm2() -> TransformersBackend:
    """One real SmolLM2 backend per test session (the packaged default model, never a stand-in)."""
    import torch

    from chatrec.llm.backends.transformers_backend import TransformersBackend

    torch.set_num_threads(1)  # decode does not gain from the 2nd core; other tests may use it
    return TransformersBackend("SmolLM2-135M-Instruct", cache_dir=TEST_CACHE, batch_size=4)


@pytest.fixture(scope="session")
def ml100k_warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse file holding the packaged MovieLens 100K, built once per test session (~1 s)."""
    from chatrec.data.ingest import ingest_movielens

    path = tmp_path_factory.mktemp("ml100k") / "chatrec.duckdb"
    con = connect(path=path)
    ingest_movielens(con)
    con.close()
    return path


@pytest.fixture
def ml100k_warehouse(ml100k_warehouse_path: Path, settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private read-write copy of the MovieLens 100K warehouse at `settings.warehouse_path`."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ml100k_warehouse_path, settings.warehouse_path)
    con = connect(settings)
    yield con
    con.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless system Chromium driven by playwright (tests/browser.py); closed after the test."""
    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()
