"""Catalogue coverage: share of catalogue items that appear in anyone's recommendations."""

import polars as pl


def catalogue_coverage(recommended: pl.DataFrame, n_catalogue_items: int, *, col_item: str = "item_id") -> float:
    if n_catalogue_items < 1:
        raise ValueError("the catalogue must hold at least one item")
    return recommended.get_column(col_item).n_unique() / n_catalogue_items
