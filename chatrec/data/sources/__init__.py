"""Readers that turn source files into a `SourceBatch`: every row as text with its file and line.

Readers never drop a row. A line they cannot read at all (undecodable bytes, wrong number of
fields) becomes a `RejectedLine` with the reason; everything else is validated in SQL by the loader.
"""

from chatrec.data.sources.base import INTERACTION_COLUMNS, ITEM_COLUMNS, USER_COLUMNS, RejectedLine, SourceBatch

__all__ = ["INTERACTION_COLUMNS", "ITEM_COLUMNS", "USER_COLUMNS", "RejectedLine", "SourceBatch"]
