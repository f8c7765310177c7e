"""From the estimator's ``method=`` string to a training loss."""

from ._blackbox import BlackboxRegret
from ._imle import ImleRegret
from ._perturbed import PerturbedFenchelYoung
from ._relaxation import RelaxationRegret, has_relaxation
from ._spo import SPOPlus
from ._two_stage import LogLoss, SquaredError

METHODS = ("auto", "two-stage", "spo+", "dbb", "imle", "fy", "relaxation", "taskmet")


def resolve_method(method, optimizer):
    """The concrete method name for ``method`` on ``optimizer``."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}.")
    if method == "auto":
        if optimizer.is_linear and optimizer.any_sign:
            return "spo+"
        if has_relaxation(optimizer):
            return "relaxation"
        raise ValueError(f"method='auto' has no method for the non-linear optimizer "
                         f"{type(optimizer).__name__}, which has no continuous relaxation; "
                         "use method='two-stage'.")
    return method


def make_loss(method, optimizer, *, probabilities=False, gamma=0.1, lambd=10.0, noise="sog",
              tau=1.0, n_samples=1, sigma=1.0, solution_size=None, generator=None):
    """Build the training loss of a resolved method.

    Parameters
    ----------
    method : str
        A resolved method name (not ``"auto"``).
    optimizer : Optimizer
        The decision problem.
    probabilities : bool, default=False
        Whether the model predicts probabilities of 0/1 parameters (a
        classifier): its two-stage loss is then the log-loss.
    gamma : float, default=0.1
        Weight of the quadratic term of ``"relaxation"``.
    lambd : float, default=10.0
        Scale of ``"dbb"`` and ``"imle"``.
    noise, tau, n_samples : optional
        Perturbation of ``"imle"`` (``n_samples`` also of ``"fy"``).
    sigma : float, default=1.0
        Gaussian scale of ``"fy"``.
    solution_size : float, optional
        Non-zeros of a solution, for the sum-of-Gamma noise.
    generator : torch.Generator, optional
        Source of the perturbations.

    Returns
    -------
    loss : DecisionLoss
    """
    if method == "two-stage":
        return LogLoss(optimizer) if probabilities else SquaredError(optimizer)
    if method == "spo+":
        return SPOPlus(optimizer)
    if method == "dbb":
        return BlackboxRegret(optimizer, lambd=lambd)
    if method == "imle":
        return ImleRegret(optimizer, lambd=lambd, noise=noise, tau=tau, n_samples=n_samples,
                          k=solution_size, generator=generator)
    if method == "fy":
        return PerturbedFenchelYoung(optimizer, sigma=sigma, n_samples=n_samples,
                                     generator=generator)
    if method == "relaxation":
        return RelaxationRegret(optimizer, gamma=gamma)
    raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}.")
