"""Estimators: the scikit-learn face of skdfl."""

from ._classifier import DecisionFocusedClassifier
from ._regressor import DecisionFocusedRegressor
from ._two_stage import PredictThenOptimize

__all__ = ["DecisionFocusedClassifier", "DecisionFocusedRegressor", "PredictThenOptimize"]
