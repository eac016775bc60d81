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
    """1-based ranks, tied values sharing the average of their ranks (vectorised)."""
    order = np.argsort(values, kind="mergesort")
    _, inverse, counts = np.unique(values[order], return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average = (ends - counts + ends + 1) / 2.0
    ranks = np.empty(len(values))
    ranks[order] = average[inverse]
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


def card_precision_at_k(
    days: np.ndarray, cards: np.ndarray, scores: np.ndarray, labels: np.ndarray, k: int = 100
) -> tuple[float, list[tuple[int, float]]]:
    """Daily Card Precision@k and its mean over days.

    Each day, every card (user) is ranked by its highest score of that day; of the top ``k``
    cards, the share that had at least one fraud that day (divided by ``k`` even on a day with
    fewer cards). Cards tied at the cut-off count in expectation, as a random tie-break would.
    Returns ``(mean over days, [(day, precision), ...])``; NaN and ``[]`` with no rows.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    days = np.asarray(days, dtype=np.int64)
    if len(days) == 0:
        return float("nan"), []
    _, card_ix = np.unique(np.asarray(cards), return_inverse=True)
    pairs = np.stack([days, card_ix.reshape(-1).astype(np.int64)], axis=1)
    groups, group_of = np.unique(pairs, axis=0, return_inverse=True)
    group_of = group_of.reshape(-1)
    best = np.full(len(groups), -np.inf)
    np.maximum.at(best, group_of, np.asarray(scores, dtype=np.float64))
    fraud = np.zeros(len(groups), dtype=bool)
    np.logical_or.at(fraud, group_of, np.asarray(labels).astype(bool))
    daily = []
    for day in np.unique(groups[:, 0]).tolist():
        mine = groups[:, 0] == day
        daily.append((int(day), _precision_at_k(best[mine], fraud[mine], k)))
    return float(np.mean([p for _, p in daily])), daily


def _precision_at_k(scores: np.ndarray, fraud: np.ndarray, k: int) -> float:
    if len(scores) <= k:
        return int(fraud.sum()) / k
    cut = np.sort(scores)[::-1][k - 1]
    above, tied = scores > cut, scores == cut
    slots = k - int(above.sum())
    hits = int(fraud[above].sum()) + slots * int(fraud[tied].sum()) / int(tied.sum())
    return hits / k
