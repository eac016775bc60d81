"""Detection-quality metrics on scores and labels: pure numpy, exact on ties."""

from __future__ import annotations

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (the probability a fraud outranks a legit; ties count half)."""
    labels = np.asarray(labels).astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = _average_ranks(np.asarray(scores, dtype=np.float64))
    rank_sum = ranks[labels].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    ranks = np.empty(len(values))
    starts = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1]
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0  # ranks are 1-based
    return ranks


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean of the precision at each threshold, weighted by the recall it adds (tied scores
    form one threshold), as scikit-learn computes it."""
    labels = np.asarray(labels).astype(bool)
    total = int(labels.sum())
    if total == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="mergesort")
    sorted_scores, sorted_labels = np.asarray(scores)[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(sorted_scores[1:] != sorted_scores[:-1]), len(order) - 1]
    hits = np.cumsum(sorted_labels)[last_of_tie]
    flagged = last_of_tie + 1
    precision, recall = hits / flagged, hits / total
    gained = np.diff(np.r_[0.0, recall])
    return float((gained * precision).sum())


def precision_recall_f1(labels: np.ndarray, flagged: np.ndarray) -> tuple[float, float, float]:
    labels, flagged = np.asarray(labels).astype(bool), np.asarray(flagged).astype(bool)
    hits = int((labels & flagged).sum())
    precision = hits / int(flagged.sum()) if flagged.any() else 0.0
    recall = hits / int(labels.sum()) if labels.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
