import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="chatrec monitoring")


@app.cell
def _():
    import marimo as mo

    from chatrec.analysis import monitoring as trends_lib
    from chatrec.analysis.notebooks import open_warehouse

    return mo, open_warehouse, trends_lib


@app.cell
def _(mo, open_warehouse):
    con, problem = open_warehouse()
    if con is None and mo.cli_args().get("require-warehouse") == "yes":
        raise RuntimeError(f"the monitoring index needs the warehouse: {problem}")  # the export fails, loudly
    mo.stop(con is None, mo.callout(mo.md(f"**No warehouse to read.** {problem}"), kind="warn"))
    mo.md(
        """
        # chatrec monitoring

        Drift, recommendation quality and LLM health over the monitored runs, from `monitoring.*`:
        one line per data set or metric, alarms (failed reports) marked with a red cross, drift above
        its threshold that is information only (`drift_alarm` off) with a grey circle. The Evidently
        reports themselves are linked per run below; `chatrec dashboards serve` opens the Evidently UI.
        """
    )
    return (con,)


@app.cell
def _(con, mo, trends_lib):
    trend = trends_lib.trends(con)
    _notes = trends_lib.missing_notes(trend)
    mo.callout(mo.md("\n".join(f"- {note}" for note in _notes)), kind="info") if _notes else None
    return (trend,)


@app.cell
def _(con, mo, trend, trends_lib):
    _latest = con.sql(
        """SELECT run_id, kind, dataset, passed, verdict, reason FROM marts.report_history
           WHERE run_id = (SELECT run_id FROM recs.runs r JOIN monitoring.reports USING (run_id)
                           ORDER BY r.finished_at DESC, run_id DESC LIMIT 1)
           ORDER BY kind, dataset"""
    ).pl()
    mo.stop(_latest.is_empty())
    _failed = _latest.filter(~_latest.get_column("passed"))
    _information = _latest.filter(_latest.get_column("verdict") == "information")
    _info_lines = "\n".join(
        f"- {kind}{' (' + dataset + ')' if dataset else ''}: {reason}"
        for kind, dataset, reason in _information.select("kind", "dataset", "reason").iter_rows()
    )
    _info_note = f"\n\nInformation, not alarms ({_information.height}):\n\n{_info_lines}" if _information.height else ""
    _run = _latest.get_column("run_id")[0]
    _alarms = trends_lib.alarm_frame(trend)
    _latest_alarms = _alarms.filter(_alarms.get_column("run_id") == _run) if not _alarms.is_empty() else _alarms
    _fired = (
        int(_latest_alarms.get_column("alarms_fired")[0] or 0)
        if "alarms_fired" in _latest_alarms.columns and _latest_alarms.height
        else 0
    )
    if _failed.is_empty() and _fired == 0:
        _verdict = mo.callout(
            mo.md(f"**Latest run `{_run}`: no alarm fired, no report failed ({_latest.height} reports).**{_info_note}"),
            kind="success",
        )
    else:
        _lines = "\n".join(
            f"- **{kind}{' (' + dataset + ')' if dataset else ''}**: {reason}"
            for kind, dataset, reason in _failed.select("kind", "dataset", "reason").iter_rows()
        )
        _verdict = mo.callout(
            mo.md(
                f"**Alert: latest run `{_run}`: {_fired} alarm(s) fired, {_failed.height} report(s) failed.**"
                f"\n\n{_lines}{_info_note}"
            ),
            kind="danger",
        )
    _parts = [_verdict]
    if not _alarms.is_empty():
        _parts += [
            mo.md(
                "## Alarm checks per run\n\nThe night against the reference period (rating shift in stars, "
                "popularity shock and new-item flood as shares); thresholds in `docs/monitoring.md`."
            ),
            _alarms,
        ]
    mo.vstack(_parts)
    return


@app.cell
def _(mo, trend, trends_lib):
    mo.stop(trends_lib.drift_frame(trend).is_empty())
    mo.vstack([mo.md("## Data drift"), trends_lib.drift_chart(trend)])
    return


@app.cell
def _(mo, trend, trends_lib):
    mo.stop(trends_lib.quality_frame(trend).is_empty())
    mo.vstack(
        [mo.md("## Recommendation quality"), trends_lib.ranking_chart(trend), trends_lib.beyond_accuracy_chart(trend)]
    )
    return


@app.cell
def _(mo, trend, trends_lib):
    _charts = trends_lib.llm_charts(trend)
    mo.stop(not _charts)
    mo.vstack([mo.md("## LLM health"), *_charts])
    return


@app.cell
def _(con, mo):
    _reports = con.sql(
        """SELECT run_id, kind, coalesce(dataset, '') AS dataset, verdict, reason, html_path
           FROM marts.report_history ORDER BY run_finished_at DESC, kind, dataset"""
    ).pl()
    mo.stop(_reports.is_empty())
    _shown = {"failed": "**FAILED**", "information": "information"}
    _rows = "\n".join(
        f"| {run} | {kind} | {dataset} | {_shown.get(verdict, verdict or '')} | {reason} | "
        f"[HTML]({run}/{html_path.rsplit('/', 1)[-1]}) |"
        for run, kind, dataset, verdict, reason, html_path in _reports.iter_rows()
    )
    mo.md(
        "## Every report\n\nLinks are relative to the reports folder (they work on the exported index page).\n\n"
        "| run | report | data set | verdict | reason | file |\n|---|---|---|---|---|---|\n" + _rows
    )
    return


@app.cell
def _(con, mo):
    drifted_columns = mo.sql(
        """
        -- the columns behind the drift share, newest run first: edit to dig into one data set
        SELECT rep.run_id, d.dataset, d.column_name, d.stattest, round(d.drift_score, 4) AS drift_score, d.drifted
        FROM monitoring.drift_results d JOIN monitoring.reports rep USING (report_id)
        ORDER BY rep.created_at DESC, d.dataset, d.drifted DESC, d.column_name
        """,
        engine=con,
    )
    return (drifted_columns,)


if __name__ == "__main__":
    app.run()
