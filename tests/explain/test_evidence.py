"""Explanation evidence counts people who liked both items, and the sentence says exactly that."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from chatrec.explain.evidence import EvidenceIndex, template_explanation

# "me" liked A and B. X (the recommendation) is liked by p1, p2, p3; A by p2, p3, p4 (p2 twice); B by
# p3 and p5; p5 rated X 2 (not liked). So 2 people liked both A and X (p2, p3), 1 liked both B and X (p3).
ROWS = [
    ("me", "A", 5.0), ("me", "B", 4.0),
    ("p1", "X", 5.0), ("p2", "X", 4.0), ("p3", "X", 5.0),
    ("p2", "A", 4.0), ("p2", "A", 5.0), ("p3", "A", 5.0), ("p4", "A", 4.0),
    ("p3", "B", 4.0), ("p5", "B", 5.0), ("p5", "X", 2.0),
]  # fmt: skip


def test_evidence_counts_people_who_liked_both_and_says_so() -> None:
    interactions = pl.DataFrame(ROWS, schema=["user_id", "item_id", "rating"], orient="row").with_columns(
        pl.lit(datetime(2024, 1, 1)).alias("ts"), pl.lit("rating").alias("event")
    )
    items = pl.DataFrame(
        {"item_id": ["A", "B", "X"], "title": ["Alpha", "Beta", "Xenon"], "genres": [["Drama"], ["Drama"], ["Drama"]]}
    )
    evidence = EvidenceIndex(interactions, items).evidence("me", "X")
    counts = {h["item_id"]: h["co_likers"] for h in evidence.similar_history}
    assert counts == {"A": 2, "B": 1}
    sentence = template_explanation(evidence)
    assert "2 people liked both Alpha and Xenon" in sentence
    assert "1 person liked both Beta and Xenon" in sentence
    assert "also liked" not in sentence


def test_most_similar_history_first_ties_in_history_order_and_the_genre_share_over_all_liked() -> None:
    # cosine to X: C 2/sqrt(2*5) = 0.63; A and B 1/sqrt(2*2) = 0.5 each (a tie: A is older, so first);
    # "me" also liked Z, which the catalogue lacks (no similarity, but it counts in the genre share),
    # and rated Y 2 (not liked)
    rows = [
        ("me", "A", 5.0), ("me", "B", 5.0), ("me", "C", 5.0), ("me", "Z", 5.0), ("me", "Y", 2.0),
        ("p1", "X", 5.0), ("p2", "X", 5.0), ("p1", "A", 5.0), ("p2", "B", 5.0),
        ("p1", "C", 5.0), ("p2", "C", 5.0), ("p3", "C", 5.0), ("p4", "C", 5.0), ("p3", "Y", 5.0),
    ]  # fmt: skip
    interactions = pl.DataFrame(rows, schema=["user_id", "item_id", "rating"], orient="row").with_columns(
        pl.Series("ts", [datetime(2024, 1, day) for day in range(1, len(rows) + 1)]), pl.lit("rating").alias("event")
    )
    items = pl.DataFrame(
        {
            "item_id": ["A", "B", "C", "X", "Y"],
            "title": ["Alpha", "Beta", "Gamma", "Xenon", "Yotta"],
            "genres": [["Drama"], ["Comedy"], ["Drama"], ["Drama", "Horror"], ["Horror"]],
        }
    )
    index = EvidenceIndex(interactions, items)
    evidence = index.evidence("me", "X")
    assert [h["item_id"] for h in evidence.similar_history] == ["C", "A"]
    assert [h["similarity"] for h in evidence.similar_history] == [0.6325, 0.5]
    assert evidence.shared_genres == ["Drama"]
    assert evidence.favourite_genre_share == 0.5  # A and C of A, B, C, Z
    # another user's evidence in between leaves no trace of the first user's
    other = index.evidence("p3", "X").to_json()
    assert index.evidence("me", "X").to_json() == evidence.to_json()
    assert EvidenceIndex(interactions, items).evidence("p3", "X").to_json() == other
    assert index.evidence("nobody", "X").similar_history == []


def test_rows_prepared_together_are_the_rows_computed_one_by_one(ml100k_warehouse_path) -> None:
    """MovieLens 100K, the 200 most popular items (most of them costly enough to batch) and 100 rarer
    ones: `prepare` leaves exactly the similarity and co-like rows, and the evidence, of lazy computing."""
    import duckdb
    import numpy as np

    from chatrec.data.frames import interactions_frame, items_frame

    con = duckdb.connect(str(ml100k_warehouse_path), read_only=True)
    interactions, items = interactions_frame(con), items_frame(con)
    con.close()
    popular = interactions.group_by("item_id").len().sort(["len", "item_id"], descending=[True, False])["item_id"]
    targets = popular.head(200).to_list() + popular.slice(600, 100).to_list()
    prepared, lazy = EvidenceIndex(interactions, items), EvidenceIndex(interactions, items)
    prepared.prepare(targets)
    batched = set(prepared._similarity_rows)
    assert 50 < len(batched) < len(targets)  # the popular ones together, the rare ones left for later
    for item in targets:
        position = lazy.position[item]
        assert np.array_equal(prepared.similarity_row(position), lazy.similarity_row(position)), item
        for other in (0, position, len(lazy.item_ids) - 1):
            assert prepared.co_likers(position, other) == lazy.co_likers(position, other)
        assert np.array_equal(prepared._co_like_rows[position], lazy._co_like_rows[position]), item
    users = interactions["user_id"].unique().sort().head(30).to_list()
    for user in users:
        for item in targets[::25]:
            assert prepared.evidence(user, item).to_json() == lazy.evidence(user, item).to_json()


def test_a_saved_index_loads_mapped_with_the_costly_rows_and_gives_the_same_evidence(ml100k_warehouse_path, tmp_path):
    """What a Dask worker loads (`EvidenceIndex.save` in the flow's process, `load` on the worker): the
    same users, items and evidence as the index built from the frames, its arrays memory-mapped, and
    the costly items' rows already there, equal to the rows computed one by one."""
    import duckdb
    import numpy as np

    from chatrec.data.frames import interactions_frame, items_frame

    con = duckdb.connect(str(ml100k_warehouse_path), read_only=True)
    interactions, items = interactions_frame(con), items_frame(con)
    con.close()
    built = EvidenceIndex(interactions, items)
    built.save(tmp_path / "index")
    # two workers' shares of the costly rows, each computed by an index loaded before the other's existed
    first, second = EvidenceIndex.load(tmp_path / "index"), EvidenceIndex.load(tmp_path / "index")
    first.save_rows(tmp_path / "index", 0, 2)
    first_share = set(first._similarity_rows)
    second.save_rows(tmp_path / "index", 1, 2)  # and maps the first share, saved by then
    assert first_share < set(second._similarity_rows)
    first.map_rows(tmp_path / "index")  # the other worker's share, once it is saved
    assert set(first._similarity_rows) == set(second._similarity_rows)
    loaded = EvidenceIndex.load(tmp_path / "index")
    for array in (loaded._seen_csc.indices, loaded._liked.data, next(iter(loaded._similarity_rows.values()))):
        assert not array.flags.owndata and not array.flags.writeable  # the file's pages, not a copy
    assert loaded.liked_users == built.liked_users and loaded.item_ids == built.item_ids
    assert loaded.rated and loaded.titles == built.titles and loaded.genres == built.genres
    costly = set(loaded._similarity_rows)
    assert 50 < len(costly) < len(built.item_ids)  # the popular items' rows, computed by the shares
    assert costly == set(first._similarity_rows) and not built._similarity_rows
    for position in sorted(costly)[::10]:
        assert np.array_equal(loaded.similarity_row(position), built.similarity_row(position))
    for position in sorted(loaded._co_like_rows)[::10]:
        assert loaded.co_likers(position, 0) == built.co_likers(position, 0)
        assert np.array_equal(loaded._co_like_rows[position], built._co_like_rows[position])
    for user in built.liked_users[::90]:
        assert loaded.liked(user) == built.liked(user)
        for item in built.item_ids[::60]:
            assert loaded.evidence(user, item).to_json() == built.evidence(user, item).to_json()


def test_a_saved_index_of_implicit_events_loads_with_or_without_its_rows(tmp_path) -> None:
    """No ratings (every event counts as liked); three costly items, one product: the second of two
    shares has none to save, and an index without them computes them when asked."""
    interactions = pl.DataFrame(ROWS, schema=["user_id", "item_id", "rating"], orient="row").with_columns(
        pl.lit(None, dtype=pl.Float64).alias("rating")
    )
    items = pl.DataFrame({"item_id": ["A", "B", "X", "W"], "title": ["Alpha", "Beta", "Xenon", "Wolf"],
                          "genres": [["Drama"], None, ["Drama"], []]})  # fmt: skip
    built = EvidenceIndex(interactions, items)
    built.save(tmp_path / "index")
    built.save_rows(tmp_path / "index", 1, 2)
    without_rows = EvidenceIndex.load(tmp_path / "index")
    assert not without_rows._similarity_rows and not list((tmp_path / "index").glob("*.rows.*"))
    built.save_rows(tmp_path / "index", 0, 2)
    loaded = EvidenceIndex.load(tmp_path / "index")
    assert len(loaded._similarity_rows) == 3 and not loaded.rated and loaded.genres == built.genres
    for user in ("me", "p1", "p5", "nobody"):
        for item in ("A", "B", "X", "W", "unknown"):
            expected = built.evidence(user, item).to_json()
            assert loaded.evidence(user, item).to_json() == without_rows.evidence(user, item).to_json() == expected


def test_the_index_of_the_warehouses_numbering_is_the_index_of_the_frames(tmp_path) -> None:
    """`user_events` (DuckDB numbers users and items and orders the rows) gives the index the frames
    give: the same liked histories in time order (ties by item id), items the catalogue lacks kept in
    the histories, repeated events counted once; with ratings and with implicit events only; saved and
    loaded as a Dask worker maps it."""
    import duckdb
    import numpy as np

    from chatrec.data.frames import interactions_frame, user_events

    rows = [*ROWS, ("me", "Z", 5.0), ("p5", "Z", 4.0), ("p4", "W", 1.0), ("me", "0", 4.0), ("p2", "A", 4.0)]
    catalogue = {"item_id": ["A", "B", "W", "X"], "title": ["Alpha", "Beta", "Wolf", "Xenon"],
                 "genres": [["Drama"], None, [], ["Drama", "Horror"]]}  # fmt: skip
    for implicit in (False, True):
        con = duckdb.connect()
        con.execute("CREATE SCHEMA core")
        con.execute("CREATE TABLE core.interactions (user_id VARCHAR, item_id VARCHAR, rating DOUBLE, event VARCHAR, ts TIMESTAMP)")  # fmt: skip
        con.execute("CREATE TABLE core.items (item_id VARCHAR, title VARCHAR, release_year INTEGER, genres VARCHAR[], description VARCHAR)")  # fmt: skip
        # "me"'s A, B and 0 at the same moment (ties broken by item id), the rest a day apart, inserted shuffled
        for n, (user, item, rating) in sorted(enumerate(rows), key=lambda row: (row[0] * 7) % len(rows)):
            day = 1 if user == "me" and item in ("A", "B", "0") else n + 2
            con.execute(
                "INSERT INTO core.interactions VALUES (?, ?, ?, ?, ?)",
                [user, item, None if implicit else rating, "click" if implicit else "rating", datetime(2024, 1, day)],
            )
        con.execute("INSERT INTO core.items SELECT * FROM (SELECT unnest(?) AS item_id, unnest(?), NULL, unnest(?), NULL)",
                    [catalogue["item_id"], catalogue["title"], catalogue["genres"]])  # fmt: skip
        events = user_events(con)
        assert events.outside_items == ["0", "Z"] and events.item_ids == ["A", "B", "W", "X", "0", "Z"]
        numbered = EvidenceIndex.of_user_events(events)
        built = EvidenceIndex(interactions_frame(con), pl.DataFrame(catalogue))
        numbered.save(tmp_path / f"index-{implicit}")
        loaded = EvidenceIndex.load(tmp_path / f"index-{implicit}")
        assert numbered.rated is built.rated is not implicit
        assert numbered.liked("me") == built.liked("me") == loaded.liked("me")
        assert [item for item, _ in numbered.liked("me")] == ["0", "A", "B", "Z"]
        for index in (numbered, loaded):
            assert index.liked_users == built.liked_users and index.item_ids == built.item_ids
            assert (index._seen != built._seen).nnz == 0 and (index._liked != built._liked).nnz == 0
            assert np.array_equal(index._norms, built._norms)
            for user in ("me", "p1", "p2", "p4", "p5", "nobody"):
                assert index.liked(user) == built.liked(user)
                for item in ("A", "B", "W", "X", "Z", "unknown"):
                    assert index.evidence(user, item).to_json() == built.evidence(user, item).to_json()
        con.close()
