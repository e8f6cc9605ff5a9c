"""Intra-list diversity: mean pairwise (1 - Jaccard similarity of genres) within each user's list."""

from itertools import combinations

import polars as pl


def intra_list_diversity(
    recommended: pl.DataFrame,
    items: pl.DataFrame,
    *,
    col_user: str = "user_id",
    col_item: str = "item_id",
    col_features: str = "genres",
) -> float:
    features = {row[col_item]: set(row[col_features] or ()) for row in items.iter_rows(named=True)}
    per_user = []
    for _user, group in recommended.group_by(col_user):
        listed = [features.get(item, set()) for item in group.get_column(col_item).to_list()]
        pairs = list(combinations(listed, 2))
        if not pairs:
            continue
        distances = [1.0 - (len(a & b) / len(a | b) if a | b else 1.0) for a, b in pairs]
        per_user.append(sum(distances) / len(distances))
    return sum(per_user) / len(per_user) if per_user else 0.0
