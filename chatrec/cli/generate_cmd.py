"""`chatrec generate synthetic`: MovieLens-shaped data of any size, for tests and the scale benchmark."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Generate data sets (synthetic, deterministic by seed).", no_args_is_help=True)


@app.command("synthetic")
def synthetic(
    users: int = typer.Option(..., "--users", min=1, help="number of users"),
    items: int = typer.Option(..., "--items", min=2, help="catalogue size (some items get no interaction)"),
    interactions: int = typer.Option(..., "--interactions", min=1, help="number of (user, item) interactions"),
    out: Path = typer.Option(..., "--out", help="folder for interactions.parquet and items.parquet"),
    seed: int = typer.Option(42, "--seed", help="same seed, same data"),
    implicit: bool = typer.Option(False, "--implicit", help="click/purchase events, no ratings"),
    no_titles: bool = typer.Option(False, "--no-titles", help="no item titles, years or genres"),
    string_ids: bool = typer.Option(False, "--string-ids", help="ids like u17/i42 instead of 17/42"),
    chunk_users: int = typer.Option(20_000, "--chunk-users", min=1, help="users per chunk (bounds memory)"),
) -> None:
    """Zipf item popularity, log-normal user activity, biased ratings, timestamps over 10 years; Parquet."""
    from chatrec.data.synthetic import SyntheticSpec, write_parquet

    try:
        spec = SyntheticSpec(
            users=users, items=items, interactions=interactions, seed=seed, implicit=implicit,
            titles=not no_titles, string_ids=string_ids, chunk_users=chunk_users,
        )  # fmt: skip
    except ValueError as exc:
        typer.echo(f"cannot generate: {exc}", err=True)
        raise typer.Exit(2) from exc
    written = write_parquet(spec, out)
    typer.echo(f"{written.rows:,} interactions -> {written.interactions_path}; {items:,} items -> {written.items_path}")
    typer.echo(f"load it: chatrec ingest csv {written.interactions_path} --map '{written.mapping}'")
