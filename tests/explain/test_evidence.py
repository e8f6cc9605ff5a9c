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
