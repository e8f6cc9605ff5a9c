import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="chatrec: warehouse tour")


@app.cell
def _():
    import marimo as mo
    import plotly.express as px

    from chatrec.analysis.notebooks import open_warehouse, row_count

    return mo, open_warehouse, px, row_count


@app.cell
def _(mo, open_warehouse):
    con, problem = open_warehouse()
    mo.stop(con is None, mo.callout(mo.md(f"**No warehouse to read.** {problem}"), kind="warn"))
    mo.md(
        """
        # The chatrec warehouse

        A read-only tour of the DuckDB warehouse (the live file, or its published snapshot while a
        pipeline writes, exactly as `chatrec sql` reads it). Every table and column is documented in
        `docs/warehouse.md`; the SQL cells below are yours to edit.
        """
    )
    return (con,)


@app.cell
def _(con, mo, row_count):
    _loads = row_count(con, "raw.loads")
    mo.stop(
        _loads == 0,
        mo.callout(
            mo.md("**Nothing ingested yet.** Run `chatrec ingest movielens` (or `chatrec run nightly`)."), kind="warn"
        ),
    )
    mo.md(f"## Loads and quarantine\n\n{_loads} loads so far; `rows_balance` is false only if a row was lost.")
    return


@app.cell
def _(con, mo):
    load_history = mo.sql(
        """
        SELECT load_id, source, status, started_at, rows_in, rows_loaded, rows_unchanged, rows_quarantined, rows_balance
        FROM marts.load_history
        """,
        engine=con,
    )
    return (load_history,)


@app.cell
def _(con, mo):
    rejected_by_reason = mo.sql(
        """
        -- every rejected row is kept with its reason: what went wrong, per load and entity
        SELECT load_id, entity, reason, count(*) AS rows
        FROM quarantine.rejected_rows
        GROUP BY ALL
        ORDER BY rows DESC
        """,
        engine=con,
    )
    return (rejected_by_reason,)


@app.cell
def _(con, mo, px, row_count):
    mo.stop(row_count(con, "core.interactions") == 0, mo.callout("No interactions in core yet.", kind="warn"))
    _weekly = con.sql(
        """SELECT date_trunc('week', ts) AS week, event, count(*) AS interactions
           FROM core.interactions GROUP BY ALL ORDER BY week"""
    ).pl()
    _figure = px.line(
        _weekly.to_pandas(), x="week", y="interactions", color="event", markers=True,
        title="Interactions per week, one line per event type",
    )  # fmt: skip
    mo.vstack([mo.md("## Interactions over time"), _figure])
    return


@app.cell
def _(con, mo):
    interactions_summary = mo.sql(
        """
        SELECT event, count(*) AS interactions, count(DISTINCT user_id) AS users, count(DISTINCT item_id) AS items,
               round(avg(rating), 3) AS mean_rating, min(ts) AS first, max(ts) AS last
        FROM core.interactions
        GROUP BY event
        """,
        engine=con,
    )
    return (interactions_summary,)


@app.cell
def _(con, mo, px, row_count):
    mo.stop(row_count(con, "core.items") == 0, mo.callout("No catalogue (core.items) yet.", kind="warn"))
    _genres = con.sql(
        """SELECT genre, count(*) AS items FROM (SELECT unnest(genres) AS genre FROM core.items)
           GROUP BY genre ORDER BY items DESC"""
    ).pl()
    _parts = [mo.md(f"## Catalogue\n\n{row_count(con, 'core.items')} items.")]
    if _genres.is_empty():
        _parts.append(
            mo.callout("This data set has no genres: genre charts and genre evidence are skipped.", kind="info")
        )
    else:
        _parts.append(px.bar(_genres.to_pandas(), x="genre", y="items", title="Items per genre"))
    mo.vstack(_parts)
    return


@app.cell
def _(con, mo):
    most_interacted_items = mo.sql(
        """
        SELECT i.item_id, i.title, i.release_year, i.genres, count(*) AS interactions, round(avg(x.rating), 2) AS mean_rating
        FROM core.interactions x JOIN core.items i USING (item_id)
        GROUP BY ALL ORDER BY interactions DESC LIMIT 20
        """,
        engine=con,
    )
    return (most_interacted_items,)


@app.cell
def _(con, mo, px):
    _attributes = con.sql(
        """SELECT count(*) AS users, count(age) AS with_age, count(gender) AS with_gender,
                  count(occupation) AS with_occupation FROM core.users"""
    ).pl()
    _users, _with_age, _with_gender, _with_occupation = _attributes.row(0)
    _parts = [mo.md("## Users")]
    if _users == 0 or (_with_age + _with_gender + _with_occupation) == 0:
        _parts.append(
            mo.callout(
                mo.md(
                    f"This data set has **no user attributes** ({_users} rows in core.users): models use "
                    "interactions only and the user-drift report is skipped."
                ),
                kind="info",
            )
        )
    else:
        _occupations = con.sql(
            "SELECT occupation, gender, count(*) AS users FROM core.users WHERE occupation IS NOT NULL GROUP BY ALL"
        ).pl()
        _parts.append(mo.md(f"{_users} users; {_with_age} with an age, {_with_occupation} with an occupation."))
        _parts.append(
            px.bar(_occupations.to_pandas(), x="occupation", y="users", color="gender", title="Users per occupation")
        )
    mo.vstack(_parts)
    return


@app.cell
def _(mo):
    mo.md(
        """
        ## Your query

        Edit the SQL below (the connection is read-only, so writes fail). The analyst views are in
        `marts` (`marts.latest_recommendations`, `marts.model_leaderboard`, `marts.run_history`,
        `marts.report_history`, `marts.drift_history`, `marts.load_history`).
        """
    )
    return


@app.cell
def _(con, mo):
    your_query = mo.sql(
        """
        SELECT table_schema, table_name, table_type, table_comment
        FROM information_schema.tables
        WHERE table_schema NOT IN ('main', 'information_schema', 'pg_catalog')
        ORDER BY table_schema, table_name
        """,
        engine=con,
    )
    return (your_query,)


if __name__ == "__main__":
    app.run()
