"""Defaults chosen from the problem and the data: the output link and ``gamma="auto"``.

A fixed relaxation weight cannot suit every problem: the quadratic term
``gamma * ||x||^2`` competes with the objective's gradient in ``x``, which is
the (rescaled) parameter vector for a linear program but, for coverage, the
marginal gain of each item, from below 1 to about 100 depending on the
number of targets and their probabilities. Too small a ``gamma`` and the
relaxed decision sits at a vertex, where its gradient is exactly zero.
"""

import numpy as np
import torch

from ..nn import MLP, PerItem

#: The output link of a regressor for each ``Optimizer.theta_domain``. A
#: sigmoid regressor starts at the mean target (see ``start_at_mean_target``).
DOMAIN_LINKS = {"real": "identity", "nonnegative": "softplus", "probability": "sigmoid"}

#: ``lambd="auto"`` for imle, per instance of a batch (see ``resolve_lambd``).
LAMBD_PER_INSTANCE = 3.0
#: The same for dbb on the regret, which perturbs the predictions projected to a root
#: mean square of 1.
DBB_LAMBD_PER_INSTANCE = 1.0
#: ``lambd="auto"`` for aimle: its initial relative step, which then adapts.
AIMLE_LAMBD = 10.0

#: Probabilities the initial sigmoid output is kept within.
PROBABILITY_FLOOR = 1e-3

#: Instances used to measure the objective's gradient (a sample is enough).
GRADIENT_SAMPLE = 256


def default_out_activation(optimizer):
    """The output link that keeps predictions in ``optimizer.theta_domain``.

    Parameters
    ----------
    optimizer : Optimizer

    Returns
    -------
    out_activation : {"identity", "softplus", "sigmoid"}

    Examples
    --------
    >>> from skdfl.estimators._defaults import default_out_activation
    >>> from skdfl.optimizers import CoverageMaximizer, ShortestPath
    >>> default_out_activation(ShortestPath(grid=(3, 3)))
    'identity'
    >>> default_out_activation(CoverageMaximizer(k=1, n_items=2, n_targets=2))
    'sigmoid'
    """
    domain = getattr(optimizer, "theta_domain", "real")
    if domain not in DOMAIN_LINKS:
        raise ValueError(f"{type(optimizer).__name__}.theta_domain must be one of "
                         f"{sorted(DOMAIN_LINKS)}; got {domain!r}.")
    return DOMAIN_LINKS[domain]


def objective_gradient_scale(optimizer, theta, x_true, params, weights=None):
    """Mean ``|d objective / dx|`` at the mean true decision, under the true parameters.

    The mean of the training optima is a fractional point inside the convex
    hull of the decisions, typical of where a relaxation is evaluated; the
    gradient there is ``theta`` itself for a linear objective and the
    marginal gains of the items for coverage.

    Parameters
    ----------
    optimizer : Optimizer
        The fitted optimizer.
    theta : Tensor of shape (n_samples, n_params)
        The training targets, as the model is trained on them (rescaled).
    x_true : Tensor of shape (n_samples, n_vars)
        Their optimal decisions.
    params : dict of Tensor
        Per-instance parameters of the rows.
    weights : ndarray of shape (n_samples,), default=None
        Sample weights: a row of weight 2 counts as two rows.

    Returns
    -------
    scale : float
        Non-negative; 0 when every gradient is 0.
    """
    rows = slice(0, min(len(theta), GRADIENT_SAMPLE))
    theta = theta[rows].detach().to(torch.float64)
    w = (torch.ones(theta.shape[0], dtype=torch.float64) if weights is None
         else torch.as_tensor(weights[rows], dtype=torch.float64))
    if theta.numel() == 0 or float(w.sum()) == 0:
        return 0.0
    w = w / w.sum()
    if optimizer.is_linear:
        return float(w @ theta.abs().mean(1))
    params = {name: value[rows] for name, value in params.items()}
    x = (w @ x_true[rows].to(torch.float64)).expand(theta.shape[0], -1).clone()
    x.requires_grad_(True)
    with torch.enable_grad():
        value = optimizer._objective(x, theta, **params).sum()
        (grad,) = torch.autograd.grad(value, x)
    return float(w @ grad.abs().mean(1))


def resolve_gamma(gamma, optimizer, theta, x_true, params, weights=None):
    """The relaxation weight a fit uses: ``gamma`` itself, or the data's scale for "auto".

    ``"auto"`` is the mean size of the objective's gradient in ``x`` (see
    :func:`objective_gradient_scale`): 1 for a linear problem on rescaled
    targets, the mean label for 0/1 targets, the mean marginal gain of an
    item for coverage. With it the quadratic term's gradient ``2 gamma x`` is
    of the objective's size, so that relaxed decisions are interior (and
    informative) for typical predictions.

    Parameters
    ----------
    gamma : float or "auto"
    optimizer, theta, x_true, params
        As in :func:`objective_gradient_scale`.

    Returns
    -------
    gamma : float

    Examples
    --------
    >>> import torch
    >>> from skdfl.estimators._defaults import resolve_gamma
    >>> from skdfl.optimizers import KSubset
    >>> theta = torch.tensor([[0.5, -1.5, 1.0]])
    >>> resolve_gamma(0.3, KSubset(k=1), theta, None, {})
    0.3
    >>> resolve_gamma("auto", KSubset(k=1), theta, torch.tensor([[0.0, 0.0, 1.0]]), {})
    1.0
    """
    if not (isinstance(gamma, str) and gamma == "auto"):
        return float(gamma)
    scale = objective_gradient_scale(optimizer, theta, x_true, params, weights)
    return scale if scale > 0 else 1.0


def start_at_mean_target(module, y, weights=None, link="sigmoid"):
    """Set the output bias of an MLP so that its output link starts at the mean of ``y``.

    With a zero bias a sigmoid predicts 0.5 for every parameter. Coverage
    probabilities are often far smaller (budget allocation: about 0.02), and
    at 0.5 the relaxation of a coverage problem saturates at a vertex, where
    its gradient is zero: the fit never moves (measured: a flat loss). From
    the mean probability of each output it trains, and it stays fast (a
    clipped link instead puts many predictions at exactly 0). A classifier
    starts at the base rate of its labels: from 0.5 a two-stage fit of
    Cora's rare links (1.6%) spent its few steps pulling every prediction
    down, the linked pairs' most, and ranked them below the others; and the
    relaxation and fy decided better from there on bipartite matchings and
    diverse recommendations (``benchmarks/defaults.py``). spo+ through the
    sigmoid did worse from there on Cora's product features (4.4 linked pairs
    against 7.8).

    An identity link starts at the mean target too (a zero bias before): a
    loss whose smoothing has a fixed scale then meets the targets' scale from
    the first step instead of growing to it. Measured (4 seeds, each fit
    stopped by its own rule, ``benchmarks/defaults.py``'s problems): knapsack
    ``fy`` 0.0486 -> 0.0405, within 10% of its grid's best where it missed;
    spo+ and two-stage on the knapsack and the shortest path within 0.001 of
    before (0.0339 / 0.0397 / 0.0961 / 0.1035 -> 0.0344 / 0.0394 / 0.0956 /
    0.1035).

    Parameters
    ----------
    module : torch.nn.Module
        The estimator's network: an :class:`~skdfl.nn.MLP`, or a
        :class:`~skdfl.nn.PerItem` sharing one over the items; any other
        module is left as it is.
    y : ndarray of shape (n_samples, n_params)
        Training targets (in [0, 1] for the sigmoid).
    weights : ndarray of shape (n_samples,), optional
        ``sample_weight``: the mean is weighted as the fit's loss is.
    link : {"sigmoid", "identity"}, default="sigmoid"
        The output link the bias is inverted through.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skdfl.nn import MLP
    >>> from skdfl.estimators._defaults import start_at_mean_target
    >>> net = MLP(3, 2)
    >>> start_at_mean_target(net, np.array([[0.1, 0.5], [0.3, 0.5]]))
    >>> torch.sigmoid(net[-1].bias).detach()
    tensor([0.2000, 0.5000])
    >>> start_at_mean_target(net, np.array([[1.0, -4.0], [3.0, 2.0]]), link="identity")
    >>> net[-1].bias.detach()
    tensor([ 2., -1.])
    """
    shared = module.module if isinstance(module, PerItem) else module
    if not isinstance(shared, MLP):
        return      # a user's own module keeps its own initialization
    last = shared[-1]
    y = np.asarray(y, dtype=np.float64)
    rows = y.reshape(-1, last.bias.shape[0])
    if weights is not None:      # each instance's weight on each of its items' rows
        weights = np.repeat(np.asarray(weights, dtype=np.float64), len(rows) // len(y))
    mean = np.average(rows, axis=0, weights=weights)
    if link == "sigmoid":
        mean = np.clip(mean, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
        mean = np.log(mean / (1 - mean))
    with torch.no_grad():
        last.bias.copy_(torch.as_tensor(mean, dtype=last.bias.dtype))


def resolve_lambd(lambd, method, batch_size, decisions=False):
    """The smoothing scale a fit uses: ``lambd`` itself, or ``"auto"`` resolved.

    dbb and imle solve again at ``theta_hat + lambd * dL/dx``; the loss is a
    mean over the batch, so ``dL/dx`` is about ``theta / batch_size`` and the
    perturbation, relative to the (rescaled) parameters, is about
    ``lambd / batch_size``. ``"auto"`` makes it 3 for imle: ``3 * batch_size``
    (measured on the shipped shortest-path and knapsack generators: 10 to 30
    was best at batch size 8, about 100 at 32; see ``benchmarks/defaults.py``),
    and 1 for dbb trained on the regret, whose predictions are projected to a
    root mean square of 1 before the shift (at ``3 * batch_size`` the energy
    knapsack's regret was 22% above the grid's best, 8 seeds; at
    ``batch_size`` the shortest path, the knapsack and the energy knapsack
    are all within 6%). From decisions dbb is the paper's layer: 3.
    For aimle, whose ``lambd`` is an initial relative step that adapts,
    ``"auto"`` is 10.

    Parameters
    ----------
    lambd : float or "auto"
    method : str
        The resolved method.
    batch_size : int
    decisions : bool, default=False
        Whether the fit trains from decisions (``targets="decisions"``).

    Returns
    -------
    lambd : float

    Examples
    --------
    >>> from skdfl.estimators._defaults import resolve_lambd
    >>> [resolve_lambd("auto", method, 32) for method in ("imle", "dbb", "aimle")]
    [96.0, 32.0, 10.0]
    >>> resolve_lambd("auto", "dbb", 32, decisions=True)
    96.0
    >>> resolve_lambd(5, "dbb", 32)
    5.0
    """
    if not (isinstance(lambd, str) and lambd == "auto"):
        return float(lambd)
    if method == "aimle":
        return AIMLE_LAMBD
    projected = method == "dbb" and not decisions
    per_instance = DBB_LAMBD_PER_INSTANCE if projected else LAMBD_PER_INSTANCE
    return per_instance * float(batch_size)
