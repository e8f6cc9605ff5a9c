"""`chatrec chat`: a multi-turn conversation that refines recommendations."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from chatrec.cli.safe_text import safe_cell, safe_markup
from chatrec.settings import Settings

EXIT_WORDS = {"quit", "exit", "bye", ":q"}
ECHO_LIMIT = 200  # a pasted 100 KB message is echoed once, cut to this many characters


def chat(
    user: str | None = typer.Option(None, "--user", help="user id; omit to chat as a new user (text requests)"),
    llm: bool = typer.Option(True, "--llm/--no-llm", help="use the LLM (settings.llm_*): reading turns, phrasing answers, re-ranking"),
    message: list[str] = typer.Option(None, "--message", "-m", help="send these turns and exit (non-interactive)"),
    store_feedback: bool = typer.Option(True, "--store-feedback/--no-store-feedback",
                                        help="write likes/dislikes to the warehouse for the next nightly run"),
) -> None:  # fmt: skip
    """Chat for recommendations: "something lighter", "from the 90s", "no horror", "more like Fargo",
    "liked it", "not for me", free text like "a heist with a twist". Type quit to leave."""
    from chatrec.chat import ChatSession
    from chatrec.chat.feedback import WarehouseSink
    from chatrec.warehouse import read_only_connection

    settings = Settings()
    console = Console()
    backend = None
    if llm and settings.llm_backend != "none":
        from chatrec.llm import make_backend

        with console.status("loading the language model…"):
            backend = make_backend(settings)
    # the chat reads the warehouse once, read-only (its snapshot while the pipeline writes), and
    # closes it: a chat left open never holds a lock the nightly needs; feedback is written in short
    # transactions under the warehouse lock, or kept pending for the pipeline's next step
    con = read_only_connection(settings)
    try:
        session = ChatSession(
            con, settings, user, backend=backend, store_feedback=store_feedback, sink=WarehouseSink(settings)
        )
    except LookupError as exc:
        console.print(f"[red]{safe_markup(exc)}[/red]")
        raise typer.Exit(2) from exc
    finally:
        con.close()
    warming = session.warm_up()  # the text encoder loads while the first message is typed
    turns = iter(message) if message else None
    console.print(f"chatting as {'user ' + user if user else 'a new user'}; type quit to leave")
    while True:
        if turns is not None:
            text = next(turns, None)
            if text is None:
                break
            console.print(f"[bold]> {safe_markup(text, limit=ECHO_LIMIT)}[/bold]")
        else:
            try:
                text = console.input("[bold]> [/bold]") if sys.stdin.isatty() else input()
            except EOFError:
                break
        if text.strip().casefold() in EXIT_WORDS:
            break
        if not text.strip():
            continue
        with console.status("thinking…"):
            reply = session.send(text)
        if reply.understood:
            console.print(
                "[dim]understood: " + "; ".join(safe_markup(u, limit=ECHO_LIMIT) for u in reply.understood) + "[/dim]"
            )
        if reply.answer:
            console.print(safe_markup(reply.answer, limit=2000))
        for note in reply.notes:
            console.print(f"[yellow]{safe_markup(note, limit=ECHO_LIMIT)}[/yellow]")
        if reply.feedback_stored:
            console.print(f"[green]saved {reply.feedback_stored} feedback row(s) for the next nightly run[/green]")
        if not reply.list_changed:
            continue
        table = Table(show_header=True, header_style="bold")
        for column in ("#", "movie", "genres", "why"):
            table.add_column(column)
        for n, rec in enumerate(reply.recommendations, start=1):
            title = f"{rec.title}" + (f" ({rec.year})" if rec.year and str(rec.year) not in rec.title else "")
            table.add_row(str(n), safe_cell(title), safe_cell(", ".join(rec.genres)), safe_cell(rec.explanation))
        console.print(
            table if reply.recommendations else "[yellow]nothing matches all of that; try 'start over'[/yellow]"
        )
    warming.join(timeout=120)  # never leave the interpreter while a model is half loaded
