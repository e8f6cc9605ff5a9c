"""The marimo notebooks of `notebooks/`: where they are, the command that opens one, and exporting one
to HTML headless (how the monitor flow writes the reports' index page, and how the tests run them).

Each notebook reads `Settings()` from the environment, so the settings of the caller travel as
CHATREC_* variables to the marimo process.
"""

from __future__ import annotations

import html
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from chatrec.settings import ENV_PREFIX, Settings
from chatrec.warehouse import read_only_connection

NOTEBOOKS = {
    "tour": "warehouse_tour.py",
    "recommendations": "recommendations.py",
    "monitoring": "monitoring.py",
    "experiments": "experiments.py",
}

# the exported page loads marimo's frontend from here (copied from the marimo wheel) instead of its CDN
ASSETS_DIR = "_marimo"


class NotebookError(RuntimeError):
    """A notebook is unknown, missing, or ran with a failing cell."""


def notebook_dir() -> Path:
    """`notebooks/`: packaged inside the wheel, or the repository checkout."""
    packaged = Path(__file__).resolve().parents[1] / "_notebooks"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "notebooks"


def notebook_path(name: str) -> Path:
    if name not in NOTEBOOKS:
        raise NotebookError(f"unknown notebook {name!r}; known: {', '.join(NOTEBOOKS)}")
    path = notebook_dir() / NOTEBOOKS[name]
    if not path.is_file():
        raise NotebookError(f"notebook {path} is missing (the notebooks live in the repository checkout)")
    return path


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as CHATREC_* variables (complex values as JSON, as pydantic-settings reads them)."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        env[f"{ENV_PREFIX}{name.upper()}"] = json.dumps(value) if isinstance(value, dict | list) else str(value)
    return env


def marimo_executable() -> str:
    found = shutil.which("marimo", path=str(Path(sys.executable).parent)) or shutil.which("marimo")
    if found is None:
        raise NotebookError("the `marimo` command is not installed in this environment (pip install marimo)")
    return found


def open_command(name: str, *, edit: bool, port: int | None = None, headless: bool = False) -> list[str]:
    """`marimo edit|run NOTEBOOK` bound to 127.0.0.1 (the notebooks read the warehouse: not for the network).
    `edit` keeps marimo's access token (it prints the URL with it): an editor runs code."""
    command = [marimo_executable(), "edit" if edit else "run", str(notebook_path(name)), "--host", "127.0.0.1"]
    if port is not None:
        command += ["--port", str(port)]
    if headless:
        command.append("--headless")
    return command


def marimo_env(settings: Settings) -> dict[str, str]:
    """The marimo process's environment: the settings, no update check or telemetry (everything here runs
    offline), and a pycache prefix under settings.cache_dir, which is where marimo then keeps its session
    cache (cell outputs, i.e. warehouse data) instead of notebooks/__marimo__/ beside the source."""
    return {
        **os.environ,
        **settings_env(settings),
        "MARIMO_SKIP_UPDATE_CHECK": "1",
        "DO_NOT_TRACK": "1",
        "PYTHONPYCACHEPREFIX": str((settings.cache_dir / "pycache").resolve()),
    }


def export_html(
    name: str, target: Path, settings: Settings, *, args: dict[str, str] | None = None, timeout: float = 600
) -> Path:
    """Run the notebook headless and write it as static HTML at `target`, atomically.

    The page loads marimo's frontend from `<target folder>/_marimo/` (copied from the installed marimo)
    rather than its CDN, so it needs no network; `args` reach the notebook as `mo.cli_args()`; like any ES-module app it must be opened over HTTP
    (`chatrec dashboards index`), not as a file:// URL. Raises NotebookError naming the failing cells.
    """
    # marimo's version and its frontend files, without importing it into this process: once "marimo"
    # is in sys.modules, transformers takes the process for a notebook and its Trainer (imported by
    # sentence-transformers) then needs IPython, so a later text encoder in the same process failed
    version = importlib.metadata.version("marimo")
    spec = importlib.util.find_spec("marimo")
    if spec is None or not spec.submodule_search_locations:
        raise NotebookError("marimo is not installed (it ships with chatrec: reinstall the package)")
    static = Path(spec.submodule_search_locations[0]) / "_static"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.{os.getpid()}.tmp.html")
    result = subprocess.run(
        [marimo_executable(), "export", "html", str(notebook_path(name)), "-o", str(partial), "-f", "--no-include-code",
         "--", *(part for key, value in (args or {}).items() for part in (f"--{key}", value))],
        env=marimo_env(settings), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise NotebookError(f"notebook {name} failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")
    cdn = f"https://cdn.jsdelivr.net/npm/@marimo-team/frontend@{version}/dist"
    assets = target.parent / ASSETS_DIR
    stamp = assets / ".version"
    if not stamp.is_file() or stamp.read_text() != version:
        shutil.rmtree(assets, ignore_errors=True)
        shutil.copytree(static, assets)
        stamp.write_text(version)
    partial.write_text(partial.read_text().replace(cdn, f"./{ASSETS_DIR}"))
    os.replace(partial, target)  # a reader never sees half a page
    return target


def open_warehouse(settings: Settings | None = None) -> tuple[duckdb.DuckDBPyConnection | None, str | None]:
    """A read-only connection as `chatrec sql` opens it (live file, else the published snapshot), or
    None and the reason, which a notebook shows instead of failing."""
    try:
        return read_only_connection(settings or Settings()), None
    except (FileNotFoundError, RuntimeError) as exc:
        return None, str(exc)


def row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Rows in `schema.table` (a fixed name from the notebook, never user input)."""
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def exported_cells(page: str) -> list[dict[str, Any]]:
    """The cells of a page written by `export_html`, as marimo embeds them: [{id, outputs, console}].

    Why: the tests check what each cell showed (a chart's series, an explanation) without a browser."""
    found = re.search(r'"__MARIMO_MOUNT_CONFIG__", \{\s*value: Object\.freeze\((.*?)\),\s*writable', page, re.S)
    if found is None:
        raise NotebookError("not a marimo HTML export (no __MARIMO_MOUNT_CONFIG__)")
    return list(json.loads(found.group(1))["session"]["cells"])


def cell_errors(page: str) -> list[str]:
    """Every error output of an exported page; empty when every cell ran, or stopped on purpose with an
    explanation (`mo.stop`, whose descendants marimo records as "ancestor-stopped", not as errors)."""
    return [
        f"{cell['id']}: {output.get('ename')}: {output.get('evalue')}"
        for cell in exported_cells(page)
        for output in cell.get("outputs", [])
        if output.get("type") == "error" and output.get("ename") != "ancestor-stopped"
    ]


def exported_figures(page: str) -> list[dict[str, Any]]:
    """The plotly figures an exported page shows: [{title, series: {name: y values}}] in page order."""
    figures = []
    for cell in exported_cells(page):
        for output in cell.get("outputs", []):
            text = (output.get("data") or {}).get("text/html", "")
            for encoded in re.findall(r"<marimo-plotly data-figure='([^']*)'", text):
                figure = json.loads(html.unescape(encoded).replace("&#92;", "\\"))
                title = (figure.get("layout", {}).get("title") or {}).get("text")
                series = {trace.get("name"): trace.get("y") for trace in figure.get("data", [])}
                figures.append({"title": title, "series": series})
    return figures
