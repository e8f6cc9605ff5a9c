"""Printing text that came from data or from a user, so it can neither break nor hijack the terminal.

Everything the CLI prints from the warehouse, a file, a model or the user's own input goes through
`safe_markup` (inside a rich markup string) or `safe_cell` (a table cell): control characters (ESC,
NUL, carriage return, bidirectional overrides ...) are removed, long values are cut once with a note
of how much was left out, and rich markup in the text ("[/bold]") is printed as written instead of
being interpreted (or raising rich's MarkupError).
"""

from __future__ import annotations

import re

from rich.markup import escape
from rich.text import Text

# C0 controls except tab and newline, DEL, C1 controls, zero-width and bidirectional-override
# characters: the ones that move the cursor, clear the screen or reorder what a reader sees.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
DEFAULT_LIMIT = 500


def clean_text(value: object, *, limit: int | None = DEFAULT_LIMIT) -> str:
    """`value` as text without control characters, cut to `limit` characters (None = no cut)."""
    text = CONTROL_CHARACTERS.sub("", "NULL" if value is None else str(value))
    if limit is not None and len(text) > limit:
        return f"{text[:limit]}… (+{len(text) - limit:,} characters)"
    return text


def safe_markup(value: object, *, limit: int | None = DEFAULT_LIMIT) -> str:
    """`value` cleaned and escaped, to embed in a rich markup string: f"[red]{safe_markup(x)}[/red]"."""
    return escape(clean_text(value, limit=limit))


def safe_cell(value: object, *, limit: int | None = DEFAULT_LIMIT) -> Text:
    """`value` cleaned as a rich Text, which rich never parses for markup or emoji codes."""
    return Text(clean_text(value, limit=limit))
