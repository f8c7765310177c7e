"""Metrics: regret of decisions taken on predicted parameters."""

from ._regret import make_regret_scorer, regret

__all__ = ["regret", "make_regret_scorer"]
