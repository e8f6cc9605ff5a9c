"""`chatrec run FLOW`: run a Prefect flow in this process (a temporary local API when no server is set)."""

from __future__ import annotations

import importlib
import os

import typer

from chatrec.cli.locking import exits_when_busy
from chatrec.cli.safe_text import clean_text

FLOWS = {
    "ingest": "flows.ingest:ingest_flow",
    "features": "flows.features:features_flow",
    "retrain": "flows.retrain:retrain_flow",
    "recommend": "flows.recommend:recommend_flow",
    "monitor": "flows.monitor:monitor_flow",
    "nightly": "flows.nightly:nightly_flow",
}


def run(flow: str = typer.Argument(..., help=f"one of: {', '.join(FLOWS)}")) -> None:
    """Run a pipeline flow now (the same code the scheduled deployments run)."""
    if flow not in FLOWS:
        typer.echo(f"unknown flow {flow!r}; choose one of: {', '.join(FLOWS)}", err=True)
        raise typer.Exit(2)
    # Prefect's telemetry otherwise races the temporary SQLite API ('database is locked').
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # the temporary API takes 12-23 s to start on 2 idle cores; Prefect's 20 s default fails a busy machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    module_name, function_name = FLOWS[flow].split(":")
    flow_function = getattr(importlib.import_module(module_name), function_name)
    # the lock is taken before Prefect starts, so a second writer says who holds the warehouse
    # instead of timing out against a busy temporary Prefect API
    with exits_when_busy(f"chatrec run {flow}"):
        state = flow_function(return_state=True)
    if not state.is_completed():
        typer.echo(f"flow {flow} ended {state.type.value}: {clean_text(state.message, limit=2000)}", err=True)
        raise typer.Exit(1)
