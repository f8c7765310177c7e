"""The two-stage baseline: fit theta for accuracy, ignore the decisions."""

from torch.nn import functional as F

from ._base import DecisionLoss


class SquaredError(DecisionLoss):
    """Mean squared error between predicted and true parameters.

    The loss of ``method="two-stage"`` for regressors: the model learns
    ``theta`` for accuracy and decides with it afterwards.

    Parameters
    ----------
    optimizer : Optimizer
        The decision problem (not used by the loss; kept for a uniform
        signature across methods).

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import SquaredError
    >>> from skdfl.optimizers import KSubset
    >>> loss = SquaredError(KSubset(k=1))
    >>> float(loss(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 0.0]])))
    2.0
    """

    method_name = "two-stage"
    needs_decisions = False

    def batch_loss(self, theta_hat, theta, x_true, solver, **params):
        return ((theta_hat - theta) ** 2).mean()

    def instance_losses(self, theta_hat, theta, x_true, solver, **params):
        return ((theta_hat - theta) ** 2).mean(-1)


class LogLoss(DecisionLoss):
    """Binary log-loss (cross-entropy) of predicted probabilities against true ones.

    The loss of ``method="two-stage"`` for classifiers (0/1 parameters) and
    for regressors of probabilities through a sigmoid (coverage
    probabilities in [0, 1]: minimized where the predictions equal them). It
    takes the model's logits (``takes_logits = True``), for numerical
    stability.

    Parameters
    ----------
    optimizer : Optimizer
        The decision problem (not used by the loss).

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import LogLoss
    >>> from skdfl.optimizers import KSubset
    >>> loss = LogLoss(KSubset(k=1))
    >>> round(float(loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]]))), 4)
    0.6931

    Against probabilities it is least where the predicted ones equal them:

    >>> theta = torch.tensor([[0.2, 0.05]])
    >>> at_theta = loss(torch.logit(theta), theta)
    >>> bool(at_theta < loss(torch.logit(theta) + 0.1, theta))
    True
    """

    method_name = "two-stage"
    takes_logits = True
    needs_decisions = False
    prediction_name = "logits"

    def batch_loss(self, logits, theta, x_true, solver, **params):
        return F.binary_cross_entropy_with_logits(logits, theta.to(logits.dtype))

    def instance_losses(self, logits, theta, x_true, solver, **params):
        return F.binary_cross_entropy_with_logits(logits, theta.to(logits.dtype),
                                                  reduction="none").mean(-1)
