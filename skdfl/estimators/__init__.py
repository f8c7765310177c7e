"""Estimators: the scikit-learn face of skdfl."""

from ._regressor import DecisionFocusedRegressor

__all__ = ["DecisionFocusedRegressor"]
