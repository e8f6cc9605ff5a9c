"""Choosing the reference and current windows of interactions that the drift report compares.

The current window is the last `monitor_window_days` of data, ending at the newest interaction
(data time, not wall-clock time: a replayed or historical data set such as MovieLens 100K still
gets meaningful windows). The reference is either the period of the same length just before it, or
the production model's train window (what the model learned from), minus any overlap with the
current window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from chatrec.settings import Settings


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime  # exclusive

    def describe(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class Windows:
    reference: Window
    current: Window
    how: str  # which reference was used and why, shown in the reports

    def params(self, which: str) -> dict[str, object]:
        window = self.current if which == "current" else self.reference
        return {
            "start": window.start,
            "end": window.end,
            "ref_start": self.reference.start,
            "ref_end": self.reference.end,
        }


def choose_windows(con: duckdb.DuckDBPyConnection, settings: Settings) -> Windows:
    """The reference and current windows for the configured `monitor_reference`."""
    rows = con.execute("SELECT min(ts), max(ts) FROM core.interactions").fetchall()
    first, last = rows[0]
    if last is None:
        raise LookupError("core.interactions is empty: nothing to monitor")
    if not (isinstance(first, datetime) and isinstance(last, datetime)):
        # DuckDB hands back text for years Python cannot hold (an epoch in ms read as seconds);
        # ingest quarantines those now, but a warehouse loaded before that check may hold some
        raise ValueError(
            f"core.interactions holds timestamps outside Python's range (oldest {first}, newest {last}); "
            "they predate ingest's plausible-window check: delete them or re-ingest the file"
        )
    length = timedelta(days=settings.monitor_window_days)
    end = last + timedelta(microseconds=1)  # the newest interaction belongs to the current window
    current = Window(max(end - length, first), end)
    previous = Window(max(current.start - length, first), current.start)
    previous_how = f"previous period ({settings.monitor_window_days} days before the current window)"
    if settings.monitor_reference == "training_window":
        model = con.execute(
            "SELECT model_id, train_start, train_end FROM models.registry"
            " WHERE status = 'production' AND kind = 'candidate' AND name = ? ORDER BY created_at DESC LIMIT 1",
            [settings.candidate_model],
        ).fetchall()
        if model and model[0][1] is not None:
            model_id, train_start, train_end = model[0]
            # a model retrained tonight has seen the current window too: compare with what came before it
            reference = Window(train_start, min(train_end + timedelta(microseconds=1), current.start))
            if reference.end > reference.start:
                return Windows(reference, current, f"training window of {model_id} (before the current window)")
        previous_how += f"; no production {settings.candidate_model} train window before the current window"
    if previous.end <= previous.start:
        raise LookupError("all interactions fall in the current window: there is no reference period to compare with")
    return Windows(previous, current, previous_how)
