"""The CLI side of the warehouse lock: hold it for a writing command, or exit with one line and code 75."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from chatrec.settings import Settings


@contextmanager
def exits_when_busy(command: str, settings: Settings | None = None) -> Iterator[None]:
    """Run the block holding the warehouse lock; when another writer keeps it past the wait, print
    who holds it and exit with EXIT_WAREHOUSE_BUSY (75)."""
    from chatrec.warehouse.lock import EXIT_WAREHOUSE_BUSY, WarehouseBusy, warehouse_lock  # lazy: CLI start-up

    try:
        with warehouse_lock(settings or Settings(), command):
            yield
    except WarehouseBusy as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_WAREHOUSE_BUSY) from exc
