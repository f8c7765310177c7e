"""Methods: HOW gradients pass through the decision (torch autograd).

Each method is a torch module usable on its own (``SPOPlus``,
``BlackboxDifferentiation``, ``IMLE``, ``PerturbedFenchelYoung``,
``Relaxation``); the estimators' ``method=`` strings build the same modules.
"""

from ._aimle import AdaptiveIMLE, AdaptiveImleRegret
from ._base import DecisionLoss, DecisionRegret
from ._blackbox import BlackboxDifferentiation, BlackboxRegret
from ._contrastive import ContrastiveMAP, NoiseContrastiveEstimation, PoolLoss
from ._hamming import HammingLoss
from ._identity import NegativeIdentity, NegativeIdentityRegret
from ._imle import IMLE, ImleRegret
from ._noise import gumbel_noise, standard_gamma, sum_of_gamma_noise
from ._perturbed import PerturbedFenchelYoung, PerturbedOptimizer, PerturbedRegret
from ._pg import PerturbationGradient
from ._pool import PooledSolver, SolutionPool
from ._ranking import ListwiseRankingLoss, PairwiseRankingLoss, PointwiseRankingLoss
from ._relaxation import Relaxation, RelaxationRegret
from ._spo import SPOPlus
from ._taskmet import (ConditionalMetric, DiagonalMetric, conjugate_gradient,
                       implicit_metric_gradient)
from ._two_stage import LogLoss, SquaredError

__all__ = ["DecisionLoss", "DecisionRegret", "BlackboxDifferentiation", "BlackboxRegret",
           "IMLE", "ImleRegret", "PerturbedFenchelYoung", "PooledSolver", "Relaxation",
           "RelaxationRegret", "SolutionPool",
           "SPOPlus", "SquaredError", "LogLoss",
           "gumbel_noise", "standard_gamma", "sum_of_gamma_noise", "ConditionalMetric",
           "DiagonalMetric", "conjugate_gradient", "implicit_metric_gradient",
           "NoiseContrastiveEstimation", "ContrastiveMAP", "PoolLoss",
           "PointwiseRankingLoss", "PairwiseRankingLoss", "ListwiseRankingLoss",
           "NegativeIdentity", "NegativeIdentityRegret", "AdaptiveIMLE", "AdaptiveImleRegret",
           "PerturbedOptimizer", "PerturbedRegret", "PerturbationGradient", "HammingLoss"]
