"""Methods: HOW gradients pass through the decision (torch autograd)."""

from ._base import DecisionLoss
from ._blackbox import BlackboxDifferentiation, BlackboxRegret
from ._spo import SPOPlus
from ._two_stage import SquaredError

__all__ = ["DecisionLoss", "BlackboxDifferentiation", "BlackboxRegret", "SPOPlus",
           "SquaredError"]
