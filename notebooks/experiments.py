import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="chatrec: experiments")


@app.cell
def _():
    import json

    import marimo as mo
    import plotly.express as px
    import polars as pl

    from chatrec.analysis.benchmarks import benchmark_table
    from chatrec.analysis.notebooks import open_warehouse, row_count
    from chatrec.evaluation.run import Protocol, chosen_params, run_protocol
    from chatrec.models import CANDIDATE_MODELS, RATING_MODELS
    from chatrec.settings import Settings

    return (
        CANDIDATE_MODELS, Protocol, RATING_MODELS, Settings, benchmark_table, json, mo, open_warehouse, pl, px,
        row_count, run_protocol, chosen_params,
    )  # fmt: skip


@app.cell
def _(mo, open_warehouse, row_count):
    con, problem = open_warehouse()
    mo.stop(con is None, mo.callout(mo.md(f"**No warehouse to read.** {problem}"), kind="warn"))
    mo.stop(
        row_count(con, "core.interactions") == 0,
        mo.callout(mo.md("**No interactions to evaluate on.** Run `chatrec ingest movielens` first."), kind="warn"),
    )
    mo.md(
        """
        # Experiments

        Run an evaluation protocol (`chatrec evaluate`'s) on chosen models over the warehouse data,
        then compare with the model leaderboard and with the measured tables and published anchors
        of `docs/benchmarks.md`. Fitting runs in this process: on 2 CPU cores EASE/DLAE take about a
        second, BPR and the MF models several.
        """
    )
    return (con,)


@app.cell
def _(CANDIDATE_MODELS, Protocol, RATING_MODELS, mo):
    _args = mo.cli_args()
    protocol = mo.ui.dropdown(
        options=[p.value for p in Protocol], value=_args.get("protocol", "temporal"), label="protocol"
    )
    models = mo.ui.multiselect(
        options=sorted({*CANDIDATE_MODELS, *RATING_MODELS}),
        value=[m for m in str(_args.get("models", "popularity,ease")).split(",") if m],
        label="models",
    )
    params = mo.ui.text_area(
        value=_args.get("params", "{}"), label='hyper-parameters per model as JSON, e.g. {"ease": {"l2": 400}}'
    )
    run_button = mo.ui.run_button(label="evaluate")
    mo.vstack([mo.hstack([protocol, models]), params, run_button])
    return models, params, protocol, run_button


@app.cell
def _(Protocol, Settings, chosen_params, con, json, mo, models, params, pl, protocol, run_button, run_protocol):
    mo.stop(
        not (run_button.value or mo.cli_args().get("run") == "yes"),
        mo.md("_Choose a protocol and models, then press **evaluate**._"),
    )
    _settings = Settings()
    _hyper = json.loads(params.value or "{}")
    _rows, _errors = [], []
    for _name in models.value:
        # as `chatrec evaluate`: bench.quality's chosen parameters for the protocol, overridden key by key
        _picked, _where = chosen_params(protocol.value, _name)
        try:
            _result = run_protocol(
                con, _settings, Protocol(protocol.value), _name, {**_picked, **_hyper.get(_name, {})}
            )
        except (ValueError, TypeError, KeyError) as _exc:
            _errors.append(f"- **{_name}**: {_exc}")
            continue
        _rows.append(
            {
                "model": _result.model,
                "params": json.dumps(_result.params),
                "params from": _where,
                **_result.metrics,
                "fit s": round(_result.train_seconds, 2),
            }
        )
    results = pl.DataFrame(_rows) if _rows else pl.DataFrame()
    _parts = [mo.md(f"## This evaluation ({protocol.value})"), results]
    if _errors:
        _parts.append(mo.callout(mo.md("Not evaluated:\n" + "\n".join(_errors)), kind="warn"))
    mo.vstack(_parts)
    return (results,)


@app.cell
def _(con, mo):
    leaderboard = mo.sql(
        """
        -- the registered versions, scored on the nightly holdout (temporal) by the retrain flow; the
        -- gate compares the warm users' score (with training history), the cold users' is reported
        SELECT model_id, kind, status, warm_ndcg_at_10, cold_ndcg_at_10, ndcg_at_10, warm_rmse, cold_rmse, rmse,
               warm_users, cold_users, precision_at_10, recall_at_10, train_seconds, status_reason
        FROM marts.model_leaderboard
        """,
        engine=con,
    )
    return (leaderboard,)


@app.cell
def _(benchmark_table, mo, pl, protocol, px, results):
    try:
        _doc = benchmark_table(protocol.value)
    except (ValueError, FileNotFoundError) as _exc:
        _doc = None
        _note = mo.callout(f"No benchmark table to compare with: {_exc}", kind="info")
    mo.stop(_doc is None, _note if _doc is None else None)
    _shared = [c for c in results.columns if c in _doc.columns and c not in ("model", "params")]
    _compared = (
        pl.concat(
            [
                _doc.select("model", "source", *_shared).with_columns(pl.col(_shared).cast(pl.Float64)),
                results.select("model", *_shared)
                .with_columns(pl.lit("this notebook").alias("source"), pl.col(_shared).cast(pl.Float64))
                .select("model", "source", *_shared),
            ]
        )
        if _shared
        else _doc
    )
    _metric = next((c for c in _shared if c.startswith("ndcg")), _shared[0] if _shared else None)
    _parts = [
        mo.md(f"## Against docs/benchmarks.md ({protocol.value}): measured tables and published anchors"),
        _compared,
    ]
    if _metric:
        _parts.append(
            px.bar(
                _compared.to_pandas(),
                x="model",
                y=_metric,
                color="source",
                title=f"{_metric}: this run vs the benchmark doc",
            )
        )
    mo.vstack(_parts)
    return


if __name__ == "__main__":
    app.run()
