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


class DecisionRegret(DecisionLoss):
    """Mean regret of the decisions a differentiable solver layer returns.

    ``forward(theta_hat, theta, x_true)`` is the mean over the batch of
    ``f(layer(theta_hat), theta) - f(x*, theta)`` (mirrored for a
    maximization); its gradient reaches ``theta_hat`` through the layer's
    backward pass.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    layer : torch.nn.Module
        Maps ``theta_hat`` to (relaxed or expected) decisions.
    """

    needs_linear = True

    def __init__(self, optimizer, layer):
        super().__init__(optimizer)
        self.layer = layer

    def forward(self, theta_hat, theta, x_true=None):
        x_star = self.true_decisions(theta, x_true)
        x_hat = self.layer(theta_hat)
        return (self.optimizer.sign * (theta * (x_hat - x_star)).sum(-1)).mean()
