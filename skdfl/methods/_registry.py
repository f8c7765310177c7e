"""From the estimator's ``method=`` string to a training loss."""

from ._blackbox import BlackboxRegret
from ._spo import SPOPlus
from ._two_stage import SquaredError

METHODS = ("auto", "two-stage", "spo+", "dbb")


def resolve_method(method, optimizer):
    """The concrete method name for ``method`` on ``optimizer``."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}.")
    if method == "auto":
        if not optimizer.is_linear:
            raise ValueError(f"method='auto' has no method for the non-linear optimizer "
                             f"{type(optimizer).__name__}; use method='two-stage'.")
        return "spo+"
    return method


def make_loss(method, optimizer, *, lambd=10.0):
    """Build the training loss of a resolved method.

    Parameters
    ----------
    method : str
        A resolved method name (not ``"auto"``).
    optimizer : Optimizer
        The decision problem.
    lambd : float, default=10.0
        Interpolation scale of ``"dbb"``.

    Returns
    -------
    loss : DecisionLoss
    """
    if method == "two-stage":
        return SquaredError(optimizer)
    if method == "spo+":
        return SPOPlus(optimizer)
    if method == "dbb":
        return BlackboxRegret(optimizer, lambd=lambd)
    raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}.")
