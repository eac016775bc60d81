"""Learned scoring: model artifacts (LightGBM), the model store, training."""
