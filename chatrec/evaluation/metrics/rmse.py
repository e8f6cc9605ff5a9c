"""Root mean squared error of predicted ratings."""

import numpy as np


def rmse(truth: np.ndarray, predicted: np.ndarray) -> float:
    truth, predicted = np.asarray(truth, dtype=float), np.asarray(predicted, dtype=float)
    if truth.shape != predicted.shape or truth.size == 0:
        raise ValueError("truth and predictions must be non-empty and of the same shape")
    return float(np.sqrt(np.mean((truth - predicted) ** 2)))
