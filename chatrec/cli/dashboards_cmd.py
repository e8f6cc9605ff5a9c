"""`chatrec dashboards build|index|serve`: the report index page (the monitoring notebook exported to
HTML), serving it, and the Evidently UI over the workspace."""

from __future__ import annotations

import os
import shutil
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import typer

from chatrec.settings import get_settings

app = typer.Typer(help="Monitoring dashboards: the report index page and the Evidently UI.", no_args_is_help=True)


@app.command("build")
def build() -> None:
    """Write <reports_dir>/index.html: the monitoring notebook's trends and every report, as static HTML."""
    from chatrec.analysis.notebooks import NotebookError
    from dashboards.build import build_index

    try:
        path = build_index(get_settings())
    except NotebookError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"report index: {path.resolve()}")


@app.command("index")
def index(
    port: int | None = typer.Option(None, help="port on 127.0.0.1; default settings.index_port (8010)"),
) -> None:
    """Serve <reports_dir> (the index page and every report) on http://127.0.0.1:PORT (Ctrl-C stops it)."""
    settings = get_settings()
    port = port or settings.index_port
    page = settings.reports_dir / "index.html"
    if not page.is_file():
        typer.echo(f"no index page at {page}: run `chatrec dashboards build` or `chatrec run monitor` first", err=True)
        raise typer.Exit(1)
    server = folder_server(settings.reports_dir, port)
    typer.echo(f"report index on http://127.0.0.1:{server.server_address[1]}/index.html")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # one line per asset would drown the terminal
        pass


def folder_server(folder: Path, port: int) -> ThreadingHTTPServer:
    """A static file server for `folder`, bound to 127.0.0.1 (port 0 = any free port)."""
    return ThreadingHTTPServer(("127.0.0.1", port), partial(QuietHandler, directory=str(folder)))


def evidently_command(workspace: Path, port: int) -> list[str]:
    """`evidently ui` from this environment, bound to 127.0.0.1 only (the workspace is not for the network)."""
    executable = shutil.which("evidently", path=str(Path(sys.executable).parent)) or shutil.which("evidently")
    if executable is None:
        raise FileNotFoundError("the `evidently` command is not installed in this environment")
    return [executable, "ui", "--workspace", str(workspace), "--host", "127.0.0.1", "--port", str(port)]


@app.command("serve")
def serve(
    port: int | None = typer.Option(None, help="port on 127.0.0.1; default settings.dashboards_port (8000)"),
) -> None:
    """Start the Evidently UI over settings.evidently_workspace on http://127.0.0.1:PORT (Ctrl-C stops it)."""
    settings = get_settings()
    workspace = settings.evidently_workspace
    if not workspace.is_dir():
        typer.echo(f"no Evidently workspace at {workspace}: run `chatrec run monitor` first", err=True)
        raise typer.Exit(1)
    chosen = port or settings.dashboards_port
    typer.echo(f"Evidently UI on http://127.0.0.1:{chosen} over {workspace.resolve()}")
    # DO_NOT_TRACK: Evidently otherwise sends usage telemetry; everything here runs offline
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    command = evidently_command(workspace, chosen)
    sys.stdout.flush()
    # exec, not a child process: SIGINT/SIGTERM (or a kill of this PID) reach the server itself,
    # so stopping the command can never leave an orphaned `evidently ui` serving
    os.execve(command[0], command, env)
