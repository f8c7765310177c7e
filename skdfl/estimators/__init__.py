"""Estimators: the scikit-learn face of skdfl."""

from ._regressor import DecisionFocusedRegressor
from ._two_stage import PredictThenOptimize

__all__ = ["DecisionFocusedRegressor", "PredictThenOptimize"]
