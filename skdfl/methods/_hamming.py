"""Learning from observed decisions: the Hamming loss through a solver layer (Niepert et al.)."""

from .._tensor import as_batch
from ._base import DecisionLoss, check_layer_inputs


class HammingLoss(DecisionLoss):
    """Hamming distance between a solver layer's decisions and observed 0/1 decisions.

    The loss of an instance is ``sum_j |x_hat_j - x_j|`` with ``x_hat`` the
    layer's decision (``x_hat * (1 - x) + (1 - x_hat) * x`` summed, which
    stays linear in ``x_hat`` for a mean of perturbed decisions): it needs
    no true parameters, only the decision that was taken, and trains
    through the layer's own gradient estimator (blackbox differentiation,
    I-MLE, ...), as in the Warcraft shortest-path experiments of Pogancic
    et al. 2020 and Niepert et al. 2021. The estimators build it for
    ``targets="decisions"``.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    layer : torch.nn.Module
        A solver layer (``BlackboxDifferentiation``, ``IMLE``, ...) whose
        ``decide_batch(theta_hat, solver, **params)`` returns decisions.
    method_name : str, optional
        The name in messages (the estimators pass the method: ``"dbb"``,
        ``"imle"``, ...); by default the layer's class name.

    References
    ----------
    M. Niepert, P. Minervini, L. Franceschi, "Implicit MLE: Backpropagating
    Through Discrete Exponential Family Distributions", NeurIPS 2021.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import BlackboxDifferentiation, HammingLoss
    >>> from skdfl.optimizers import KSubset
    >>> loss = HammingLoss(KSubset(k=1), BlackboxDifferentiation(KSubset(k=1), lambd=1.0))
    >>> theta_hat = torch.tensor([[0.0, 1.0]], requires_grad=True)
    >>> observed = torch.tensor([[1.0, 0.0]])        # item 0 was chosen
    >>> value = loss(theta_hat, observed)
    >>> float(value.detach())                         # item 1 predicted: two entries differ
    2.0
    >>> value.backward()
    >>> theta_hat.grad                                # raise item 0, lower item 1
    tensor([[-1.,  1.]])
    """

    needs_linear = True
    needs_parameters = False

    def __init__(self, optimizer, layer, method_name=None):
        # Read by the optimizer check of DecisionLoss.__init__.
        self._method_name = method_name or type(layer).__name__
        # Multiplicative noise keeps each parameter's sign (see DecisionLoss.keeps_sign).
        self._keeps_sign = bool(getattr(layer, "multiplicative", False))
        super().__init__(optimizer)
        self.layer = layer

    @property
    def method_name(self):
        return self._method_name

    @property
    def keeps_sign(self):
        return self._keeps_sign

    def forward(self, theta_hat, x_true, **params):
        """Mean Hamming distance of the layer's decisions on ``theta_hat`` to ``x_true``.

        Parameters
        ----------
        theta_hat : Tensor of shape (n_instances, n_params)
        x_true : array-like of shape (n_instances, n_vars)
            Observed 0/1 decisions.
        **params
            Per-instance parameters of the optimizer.

        Returns
        -------
        loss : Tensor of shape ()
        """
        theta_hat, solver, params, _ = check_layer_inputs(self.optimizer, theta_hat, params)
        x_true, _ = as_batch(x_true, "x_true", width=solver.n_vars, device=theta_hat.device)
        if x_true.shape[0] != theta_hat.shape[0]:
            raise ValueError(f"x_true and theta_hat must have the same number of instances "
                             f"(rows); got {x_true.shape[0]} and {theta_hat.shape[0]}.")
        if not bool(((x_true == 0) | (x_true == 1)).all()):
            raise ValueError("x_true must hold 0/1 decisions for the Hamming loss.")
        return self.batch_loss(theta_hat, None, x_true.to(theta_hat.dtype), solver, **params)

    def instance_losses(self, theta_hat, theta, x_true, solver, **params):
        x_hat = self.layer.decide_batch(theta_hat, solver, **params)
        x_true = x_true.to(x_hat.dtype)
        return (x_hat * (1 - 2 * x_true) + x_true).sum(-1)


__all__ = ["HammingLoss"]
