"""Optimizers: WHAT is decided. Batched torch solvers, one module a problem."""

from ._base import Optimizer
from ._coverage import CoverageMaximizer
from ._k_subset import KSubset
from ._knapsack import Knapsack
from ._linear_program import LinearProgram
from ._milp import MixedIntegerProgram
from ._shortest_path import ShortestPath

__all__ = ["Optimizer", "CoverageMaximizer", "KSubset", "Knapsack", "LinearProgram",
           "MixedIntegerProgram", "ShortestPath"]
