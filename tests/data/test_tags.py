"""Tags as data, on a MovieLens-latest folder written by the test (not ML-100K)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from chatrec.batch.recommend import recommend_batch
from chatrec.data.frames import interactions_frame, items_frame, tagged_items
from chatrec.data.ingest import ingest_movielens_latest
from chatrec.models.training import set_status, train_and_register
from chatrec.settings import Settings
from tests.data.test_data_sources import write_latest

# user 1 gives movie 3 two tags at one second, and tags movie 4 (which nobody rated) once
TAGS = ["userId,movieId,tag,timestamp", "1,3,funny,1600000200", "1,3,classic,1600000200", '1,4,"dark, slow",1600000300']


def write_tagged(folder: Path) -> Path:
    write_latest(folder, titles=("Jumanji", "Heat", "Sabrina", "Casino", "Nixon"))
    # movie 4 is liked by everyone but user 1: the most popular item user 1 has not rated
    extra = [f"{u},4,5.0,{1_600_000_500 + u}" for u in (2, 3, 4)]
    (folder / "ratings.csv").write_text((folder / "ratings.csv").read_text() + "\n".join(extra) + "\n")
    (folder / "tags.csv").write_text("\n".join(TAGS) + "\n")
    return folder


def test_several_tags_of_one_item_are_kept_with_their_text(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    folder = write_tagged(tmp_path / "tagged")
    summary = ingest_movielens_latest(warehouse, folder)
    assert summary.quarantined_by_reason == {} and summary.balanced
    tags = warehouse.execute("SELECT user_id, item_id, tag FROM core.tags ORDER BY item_id, tag").fetchall()
    assert tags == [("1", "3", "classic"), ("1", "3", "funny"), ("1", "4", "dark, slow")]
    events = warehouse.execute("SELECT count(*) FROM core.interactions WHERE event = 'tag'").fetchall()
    assert events == [(2,)]  # one tag event per user, item and time
    # a new tag at the same second is loaded; the ones already there are unchanged; an exact repeat
    # within one file is still a duplicate
    (folder / "tags.csv").write_text("\n".join([*TAGS, "1,3,quotable,1600000200", "1,3,quotable,1600000200"]) + "\n")
    again = ingest_movielens_latest(warehouse, folder)
    assert again.loaded_by_entity["interaction"] == 1
    assert again.quarantined_by_reason == {"duplicate event in this load": 1}
    assert warehouse.execute("SELECT count(*) FROM core.tags").fetchall() == [(4,)]
    assert warehouse.execute("SELECT count(*) FROM core.interactions WHERE event = 'tag'").fetchall() == [(2,)]


@pytest.mark.parametrize("tagged_seen", [True, False])
def test_a_tagged_item_counts_as_seen(
    warehouse: duckdb.DuckDBPyConnection, settings: Settings, tmp_path: Path, tagged_seen: bool
) -> None:
    ingest_movielens_latest(warehouse, write_tagged(tmp_path / "tagged"))
    assert tagged_items(warehouse, ["1", "2"]) == {"1": ["3", "4"]}
    version = train_and_register(
        warehouse, settings, "popularity", interactions=interactions_frame(warehouse), items=items_frame(warehouse)
    )
    set_status(warehouse, version.model_id, "production", "test")
    run = recommend_batch(
        warehouse,
        settings.model_copy(update={"tagged_items_seen": tagged_seen, "candidate_model": "popularity"}),
        user_ids=["1"],
    )
    recommended = [
        row[0]
        for row in warehouse.execute(
            "SELECT item_id FROM recs.recommendations WHERE run_id = ? ORDER BY rank", [run.run_id]
        ).fetchall()
    ]
    # user 1 rated 1..3; movie 4 is the most popular other item, and user 1 tagged it
    assert ("4" in recommended) is not tagged_seen
