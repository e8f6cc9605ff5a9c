"""The report index: `<reports_dir>/index.html`, the monitoring notebook (notebooks/monitoring.py)
exported to static HTML: drift, quality and LLM-health trends per run with one line per data set,
alerts marked, and every report linked.

Usage: `chatrec dashboards build` (the monitor flow runs it after each monitor), or
`python -m dashboards.build`; `chatrec dashboards index` serves the page on 127.0.0.1 (the page is a
JavaScript app, which browsers do not run from a file:// URL).

The export reads the warehouse from a separate process (read-only, as `chatrec sql` does), so callers
must not hold a read-write connection to it meanwhile; a warehouse it cannot open is an error here,
not a page saying so.
"""

from __future__ import annotations

from pathlib import Path

from chatrec.analysis.notebooks import export_html
from chatrec.settings import Settings


def build_index(settings: Settings) -> Path:
    """Write `<reports_dir>/index.html` from monitoring.* (atomically); returns its path."""
    return export_html("monitoring", settings.reports_dir / "index.html", settings, args={"require-warehouse": "yes"})


def main() -> None:
    print(build_index(Settings()))


if __name__ == "__main__":
    main()
