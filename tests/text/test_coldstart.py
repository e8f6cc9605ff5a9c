"""Cold start through text: items with no interactions, users with only a request (real MiniLM)."""

from __future__ import annotations

import polars as pl
import pytest

from chatrec.data.frames import interactions_frame, items_frame
from chatrec.text.coldstart import TextMatcher, new_items
from chatrec.text.encoder import ItemTextEncoder

HELD_OUT = ["181", "172", "1", "98"]  # Return of the Jedi, Empire Strikes Back, Toy Story, Silence of the Lambs


@pytest.fixture(scope="module")
def matcher_and_data(ml100k_warehouse_path, tmp_path_factory):
    import duckdb

    con = duckdb.connect(str(ml100k_warehouse_path), read_only=True)
    items, interactions = items_frame(con), interactions_frame(con)
    con.close()
    encoder = ItemTextEncoder("all-MiniLM-L6-v2", cache_dir=tmp_path_factory.mktemp("emb"))
    # the held-out items lose every interaction: as far as the models know, they are brand new
    return TextMatcher(items, encoder), items, interactions.filter(~pl.col("item_id").is_in(HELD_OUT))


def test_new_items_are_those_without_interactions(matcher_and_data) -> None:
    _, items, interactions = matcher_and_data
    assert set(HELD_OUT) <= set(new_items(items, interactions))


def test_a_text_request_finds_new_items(matcher_and_data) -> None:
    matcher, _items, _interactions = matcher_and_data
    ranked = matcher.rank(
        matcher.request("Star Wars sequel: a space opera with the Empire and Luke Skywalker"), HELD_OUT, 2
    )
    assert set(ranked["item_id"]) == {"181", "172"}
    assert matcher.rank(matcher.request("animated film about toys for children"), HELD_OUT, 1)["item_id"][0] == "1"


def test_a_users_taste_ranks_new_items(matcher_and_data) -> None:
    matcher, items, _interactions = matcher_and_data
    # a user who loves children's animation, from their ratings only
    kids = items.filter(pl.col("genres").list.contains("Animation"))["item_id"].to_list()[:8]
    fan = pl.DataFrame({"user_id": ["fan"] * len(kids), "item_id": kids, "rating": [5.0] * len(kids)})
    taste = matcher.taste(fan, "fan")
    assert taste is not None and matcher.rank(taste, HELD_OUT, 1)["item_id"][0] == "1"
    assert matcher.taste(fan, "nobody") is None


def test_bad_requests_are_named(matcher_and_data) -> None:
    matcher, _, _ = matcher_and_data
    with pytest.raises(ValueError, match="empty request"):
        matcher.request("  ")
    with pytest.raises(ValueError, match="none of the items"):
        matcher.rank(matcher.request("x"), ["no-such-item"], 1)
