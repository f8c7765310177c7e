"""What every training method shares: the loss signature and capability checks."""

from torch import nn


class DecisionLoss(nn.Module):
    """A training loss that compares predicted parameters with the truth.

    ``forward(theta_hat, theta, x_true)`` returns the mean loss over the
    batch. ``x_true`` holds the optimal decisions under the true ``theta``;
    estimators compute them once before training, and the layers solve for
    them when they are not given.
    """

    #: Whether the method needs ``optimizer.is_linear``.
    needs_linear = False

    def __init__(self, optimizer):
        super().__init__()
        if self.needs_linear and not optimizer.is_linear:
            raise ValueError(
                f"method {self.method_name!r} needs a linear optimizer (objective theta @ x); "
                f"{type(optimizer).__name__} is not linear. Use method='relaxation' or "
                "'two-stage'.")
        self.optimizer = optimizer

    method_name = None

    def true_decisions(self, theta, x_true):
        """``x_true`` when given, else the exact decisions under ``theta``."""
        if x_true is not None:
            return x_true
        return self.optimizer._solve(theta.detach())
