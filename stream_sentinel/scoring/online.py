"""The online model: River's running StandardScaler and a LogisticRegression learning by SGD,
one labelled row at a time, with a documented JSON state (never pickle).

Missing values (NaN, and +/-inf, which no feature should produce) are handled deliberately: a
missing feature is left out of the row the scaler and the regression see, so the scaler's
running statistics count only present values and the feature's scaled value is 0 (the
running mean: mean imputation in the scaled space); and an indicator ``missing:{name}`` of 1.0
is added beside the scaled values (not scaled), with its own learned weight, so "absent" can
carry signal of its own (a first transaction has no previous one).

The state (:meth:`OnlineLogReg.state`, what ``river-logreg-json`` artifacts hold)::

    {"format": "river-logreg-json", "format_version": 1, "features": [...],
     "params": {"lr": 0.01, "l2": 0.0, "intercept_lr": 0.01, "clip_gradient": 1e12},
     "scaler": {"counts": {name: n}, "means": {name: m}, "vars": {name: v}},
     "regression": {"weights": {key: w}, "intercept": b, "n_iterations": t},
     "learned": rows, "learned_weight": total sample weight}

:meth:`OnlineLogReg.from_state` rebuilds River objects that predict and keep learning exactly as
the ones serialised (the round-trip test holds it float for float). The sigmoid is River's own
(clamped at +/-30 to 0 and 1).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from river import linear_model, optim, preprocessing, utils

from stream_sentinel.errors import ModelError

FORMAT = "river-logreg-json"
FORMAT_VERSION = 1
MISSING = "missing:"
#: Chosen on generated traffic by benchmarks/bench_online_model.py --compare (docs/learning.md).
PARAMS: dict[str, float] = {"lr": 0.01, "l2": 0.0, "intercept_lr": 0.01, "clip_gradient": 1e12}


class OnlineLogReg:
    """A River StandardScaler and LogisticRegression over a fixed, ordered feature list."""

    def __init__(self, features: Sequence[str], params: Mapping[str, float] | None = None) -> None:
        self.features = tuple(features)
        self.params = {**PARAMS, **(params or {})}
        self.scaler = preprocessing.StandardScaler()
        self.regression = linear_model.LogisticRegression(
            optimizer=optim.SGD(self.params["lr"]),
            l2=self.params["l2"],
            intercept_lr=self.params["intercept_lr"],
            clip_gradient=self.params["clip_gradient"],
        )
        self.learned = 0
        self.learned_weight = 0.0

    # -- one row ---------------------------------------------------------------------------------
    def row(self, values: Sequence[float]) -> dict[str, float]:
        """The present features of one row by name (missing ones left out)."""
        return {
            name: float(v)
            for name, v in zip(self.features, values, strict=True)
            if math.isfinite(v)
        }

    def _input(self, present: dict[str, float]) -> dict[str, float]:
        scaled = self.scaler.transform_one(present)
        for name in self.features:
            if name not in present:
                scaled[MISSING + name] = 1.0
        return scaled

    def predict_one(self, values: Sequence[float]) -> float:
        """The fraud probability of one row (River's own computation)."""
        proba = self.regression.predict_proba_one(self._input(self.row(values)))
        return float(proba[True])

    def learn_one(self, values: Sequence[float], fraud: bool, weight: float = 1.0) -> None:
        """Update the scaler with the row's present values, then the regression with it."""
        present = self.row(values)
        self.scaler.learn_one(present)
        self.regression.learn_one(self._input(present), bool(fraud), w=float(weight))
        self.learned += 1
        self.learned_weight += float(weight)

    # -- the state -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        scaler, regression = self.scaler, self.regression
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "features": list(self.features),
            "params": dict(self.params),
            "scaler": {
                "counts": dict(scaler.counts),
                "means": dict(scaler.means),
                "vars": dict(scaler.vars),
            },
            "regression": {
                "weights": {k: float(v) for k, v in regression._weights.to_dict().items()},
                "intercept": float(regression.intercept),
                "n_iterations": int(regression.optimizer.n_iterations),
            },
            "learned": self.learned,
            "learned_weight": self.learned_weight,
        }

    def to_bytes(self) -> bytes:
        """The state as canonical JSON (sorted keys): equal states are equal bytes."""
        try:
            text = json.dumps(self.state(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        except ValueError as exc:  # a NaN or infinity reached the weights or the scaler
            raise ModelError(f"the online model's state is not finite ({exc}); not saved") from None
        return text.encode()

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> OnlineLogReg:
        if state.get("format") != FORMAT or state.get("format_version") != FORMAT_VERSION:
            raise ModelError(
                f"not a {FORMAT} state of version {FORMAT_VERSION}: format "
                f"{state.get('format')!r} version {state.get('format_version')!r}"
            )
        try:
            model = cls(state["features"], state["params"])
            scaler = state["scaler"]
            model.scaler.counts.update({k: int(v) for k, v in scaler["counts"].items()})
            model.scaler.means.update({k: float(v) for k, v in scaler["means"].items()})
            model.scaler.vars.update({k: float(v) for k, v in scaler["vars"].items()})
            regression = state["regression"]
            weights = {k: float(v) for k, v in regression["weights"].items()}
            model.regression._weights = utils.VectorDict(weights)
            model.regression.intercept = float(regression["intercept"])
            model.regression.optimizer.n_iterations = int(regression["n_iterations"])
            model.learned = int(state["learned"])
            model.learned_weight = float(state["learned_weight"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"a {FORMAT} state is incomplete or malformed: {exc!r}") from exc
        return model

    @classmethod
    def from_bytes(cls, data: bytes) -> OnlineLogReg:
        try:
            state = json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ModelError(f"not a {FORMAT} state (not JSON): {exc}") from exc
        if not isinstance(state, dict):
            raise ModelError(f"not a {FORMAT} state: a JSON {type(state).__name__}")
        return cls.from_state(state)

    # -- many rows at once -----------------------------------------------------------------------
    def coefficients(self) -> Coefficients:
        """The model frozen as arrays, for scoring whole matrices (the detector's path)."""
        scaler, weights = self.scaler, self.regression._weights.to_dict()
        names = self.features
        var = np.array([scaler.vars.get(n, 0.0) for n in names], dtype=np.float64)
        return Coefficients(
            means=np.array([scaler.means.get(n, 0.0) for n in names], dtype=np.float64),
            stds=np.sqrt(var),
            weights=np.array([weights.get(n, 0.0) for n in names], dtype=np.float64),
            missing_weights=np.array(
                [weights.get(MISSING + n, 0.0) for n in names], dtype=np.float64
            ),
            intercept=float(self.regression.intercept),
        )


class Coefficients:
    """Scaler means and deviations, weights of the scaled values and of the missing indicators,
    and the intercept: the logit of a row is ``z @ weights + missing @ missing_weights + b``."""

    def __init__(
        self,
        means: np.ndarray,
        stds: np.ndarray,
        weights: np.ndarray,
        missing_weights: np.ndarray,
        intercept: float,
    ) -> None:
        self.means, self.stds = means, stds
        self.weights, self.missing_weights, self.intercept = weights, missing_weights, intercept
        self._inverse = np.divide(1.0, stds, out=np.zeros_like(stds), where=stds > 0)

    def terms(self, matrix: np.ndarray) -> np.ndarray:
        """Each feature's additive share of the logit, [rows, features] (its scaled value times
        its weight, or its missing indicator's weight where it is missing)."""
        present = np.isfinite(matrix)
        scaled = np.where(present, (np.where(present, matrix, 0.0) - self.means) * self._inverse, 0)
        return np.where(present, scaled * self.weights, self.missing_weights)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        logit = self.terms(matrix).sum(axis=1) + self.intercept
        return sigmoid(logit)


def sigmoid(logit: np.ndarray) -> np.ndarray:
    """River's sigmoid on arrays: 0 below -30, 1 above 30."""
    clipped = np.clip(logit, -30.0, 30.0)
    out = 1.0 / (1.0 + np.exp(-clipped))
    return np.where(logit < -30, 0.0, np.where(logit > 30, 1.0, out))
