"""Ranking, beyond-accuracy and rating metrics, one file each."""

from chatrec.evaluation.metrics.coverage import catalogue_coverage
from chatrec.evaluation.metrics.diversity import intra_list_diversity
from chatrec.evaluation.metrics.hit_rate import hit_rate_at_k
from chatrec.evaluation.metrics.mae import mae
from chatrec.evaluation.metrics.map import map_at_k
from chatrec.evaluation.metrics.mrr import mrr_at_k
from chatrec.evaluation.metrics.ndcg import ndcg_at_k
from chatrec.evaluation.metrics.novelty import novelty
from chatrec.evaluation.metrics.precision import precision_at_k
from chatrec.evaluation.metrics.recall import recall_at_k
from chatrec.evaluation.metrics.rmse import rmse

__all__ = [
    "catalogue_coverage", "hit_rate_at_k", "intra_list_diversity", "mae", "map_at_k", "mrr_at_k",
    "ndcg_at_k", "novelty", "precision_at_k", "recall_at_k", "rmse",
]  # fmt: skip
