import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="chatrec: recommendations explorer")


@app.cell
def _():
    import json

    import marimo as mo
    import plotly.graph_objects as go
    import polars as pl

    from chatrec.analysis.explorer import first_stage_candidates
    from chatrec.analysis.notebooks import open_warehouse
    from chatrec.models.artifacts import ArtifactError
    from chatrec.settings import Settings

    return ArtifactError, Settings, first_stage_candidates, go, json, mo, open_warehouse, pl


@app.cell
def _(mo, open_warehouse):
    con, problem = open_warehouse()
    mo.stop(con is None, mo.callout(mo.md(f"**No warehouse to read.** {problem}"), kind="warn"))
    _run = con.sql(
        "SELECT run_id, finished_at, model_id, llm_model, k FROM recs.runs WHERE status = 'complete' ORDER BY finished_at DESC, run_id DESC LIMIT 1"
    ).pl()
    mo.stop(
        _run.is_empty(),
        mo.callout(
            mo.md("**No complete recommendation run yet.** Run `chatrec run recommend` (or `chatrec run nightly`)."),
            kind="warn",
        ),
    )
    run = _run.row(0, named=True)
    mo.md(
        f"""
        # Recommendations explorer

        Run `{run["run_id"]}` (finished {run["finished_at"]:%Y-%m-%d %H:%M}), first stage `{run["model_id"]}`,
        LLM `{run["llm_model"] or "off"}`, top {run["k"]} per user. Pick a user to see their history, the
        first-stage candidates, the final top-k with LLM and first-stage ranks, and each explanation with
        its evidence and check result.
        """
    )
    return con, run


@app.cell
def _(con, mo, run):
    _users = [u for (u,) in con.execute(
        "SELECT DISTINCT user_id FROM recs.recommendations WHERE run_id = ? ORDER BY try_cast(user_id AS BIGINT), user_id", [run["run_id"]]
    ).fetchall()]  # fmt: skip
    _wanted = mo.cli_args().get("user")
    user = mo.ui.dropdown(
        options=_users, value=str(_wanted) if str(_wanted) in _users else _users[0], searchable=True, label="user"
    )
    user
    return (user,)


@app.cell
def _(con, mo, user):
    history = mo.sql(
        f"""
        -- the user's history, newest first
        SELECT x.ts, x.event, x.rating, x.item_id, i.title, i.genres
        FROM core.interactions x LEFT JOIN core.items i USING (item_id)
        WHERE x.user_id = '{user.value}'
        ORDER BY x.ts DESC
        LIMIT 30
        """,
        engine=con,
    )
    return (history,)


@app.cell
def _(ArtifactError, Settings, con, first_stage_candidates, mo, run, user):
    _settings = Settings()
    try:
        candidates = first_stage_candidates(con, run["run_id"], user.value, _settings)
        _shown = mo.vstack([mo.md("## First-stage candidates (re-scored by the run's model)"), candidates])
    except (KeyError, OSError, ArtifactError) as _exc:  # model archived, artifact missing or changed
        candidates = None
        _shown = mo.callout(
            mo.md(f"**First-stage candidates unavailable:** the run's model artifact could not be loaded ({_exc})."),
            kind="info",
        )
    _shown
    return (candidates,)


@app.cell
def _(candidates, con, go, mo, pl, run, user):
    final = con.sql(
        """SELECT r.rank AS final_rank, r.item_id, i.title, r.score, r.stage1_score, r.llm_score
           FROM recs.recommendations r LEFT JOIN core.items i USING (item_id)
           WHERE r.run_id = ? AND r.user_id = ? ORDER BY r.rank""",
        params=[run["run_id"], user.value],
    ).pl()
    if candidates is not None:
        final = final.join(candidates.select("item_id", "stage1_rank"), on="item_id", how="left")
    else:  # without the artifact, the first-stage rank among the final items still follows from stage1_score
        final = final.with_columns(
            pl.col("stage1_score").rank("ordinal", descending=True).cast(pl.Int64).alias("stage1_rank")
        )
    _parts = [mo.md("## Final top-k"), final]
    if final.get_column("llm_score").is_null().all():
        _parts.append(
            mo.callout(
                "The LLM did not re-rank this user in this run (LLM off, or the user was not sent to it): final = first-stage order.",
                kind="info",
            )
        )
    _figure = go.Figure()
    for _title, _first, _last in final.select("title", "stage1_rank", "final_rank").iter_rows():
        _figure.add_trace(
            go.Scatter(
                x=["first stage", "final (after LLM)"],
                y=[_first, _last],
                mode="lines+markers+text",
                name=_title,
                text=["", _title],
                textposition="middle right",
            )
        )
    _figure.update_layout(
        title="First-stage rank vs final rank",
        yaxis={"autorange": "reversed", "title": "rank"},
        height=360,
        showlegend=False,
    )
    _parts.append(_figure)
    mo.vstack(_parts)
    return (final,)


@app.cell
def _(con, json, mo, run, user):
    _rows = con.execute(
        """SELECT r.rank, i.title, e.text, e.source, e.check_passed, e.check_failure, e.evidence
           FROM recs.explanations e JOIN recs.recommendations r USING (run_id, user_id, item_id)
           LEFT JOIN core.items i USING (item_id)
           WHERE e.run_id = ? AND e.user_id = ? ORDER BY r.rank""",
        [run["run_id"], user.value],
    ).fetchall()
    mo.stop(not _rows, mo.callout("No explanations stored for this user in this run.", kind="info"))
    _cards = []
    for _rank, _title, _text, _source, _passed, _failure, _evidence in _rows:
        _check = "check passed" if _passed else f"check FAILED: {_failure}"
        _facts = json.dumps(json.loads(_evidence), indent=1) if _evidence else "(no evidence recorded)"
        _cards.append(
            mo.callout(
                mo.md(f"**{_rank}. {_title}** — {_text}\n\n_source: {_source}; {_check}_\n\n```json\n{_facts}\n```"),
                kind="success" if _passed else "warn",
            )
        )
    mo.vstack([mo.md("## Explanations, their evidence and check result"), *_cards])
    return


if __name__ == "__main__":
    app.run()
