"""Regret: how much worse the decisions on predictions are than the best ones."""

import numpy as np
import torch
from sklearn.metrics._scorer import _Scorer

from .._sample_weight import check_sample_weight
from .._tensor import as_batch
from .._validation import check_option
from ..optimizers import Optimizer
from ..optimizers._instance import take_rows

REDUCTIONS = ("normalized", "mean", "none")


def regret(y_true, y_pred, *, optimizer, reduction="normalized", sample_weight=None,
           **params):
    """Regret of deciding with predicted instead of true parameters.

    Per instance, ``regret_i = f(x_hat_i, theta_i) - f(x*_i, theta_i)`` for a
    minimization (the other way round for a maximization), where
    ``x_hat_i = solve(y_pred_i)`` and ``x*_i = solve(y_true_i)``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_params)
        True parameters, one instance per row.
    y_pred : array-like of shape (n_samples, n_params)
        Predicted parameters.
    optimizer : Optimizer
        The decision problem.
    reduction : {"normalized", "mean", "none"}, default="normalized"
        ``"normalized"``: ``sum_i regret_i / sum_i |f(x*_i, theta_i)|`` (PyEPO's
        definition); ``"mean"``: the mean regret; ``"none"``: one value per
        instance.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each instance in both sums (``"normalized"``:
        ``sum_i w_i regret_i / sum_i w_i |f(x*_i, theta_i)|``) or in the mean
        (``"mean"``): an integer weight counts a row as that many copies.
        Finite, non-negative, not all zero. ``"none"`` takes no weights.
    **params : array-like of shape (n_samples, ...)
        Per-instance problem data named in ``optimizer.instance_params``
        (a capacity per row, say): both decisions of a row are taken with
        its values.

    Returns
    -------
    regret : float or ndarray of shape (n_samples,)
        With no instances (0 rows), ``"none"`` gives an empty array and the
        other reductions raise ``ValueError``, as scikit-learn's metrics do.

    Examples
    --------
    >>> from skdfl.metrics import regret
    >>> from skdfl.optimizers import KSubset
    >>> y_true = [[3.0, 1.0, 2.0], [1.0, 1.0, 4.0]]
    >>> y_pred = [[1.0, 3.0, 2.0], [0.0, 1.0, 9.0]]
    >>> regret(y_true, y_pred, optimizer=KSubset(k=1), reduction="none")
    array([2., 0.])
    >>> regret(y_true, y_pred, optimizer=KSubset(k=1))
    0.2857...
    >>> regret(y_true, y_pred, optimizer=KSubset(k=1), k=[3, 2], reduction="none")
    array([0., 0.])
    >>> regret(y_true, y_pred, optimizer=KSubset(k=1), sample_weight=[1, 3])  # 2 / (3 + 3 * 4)
    0.1333...
    """
    weights = _weights(sample_weight, y_true, reduction)
    per_instance, optimum = _regret_terms(y_true, y_pred, optimizer, reduction, params)
    return _reduce(per_instance, optimum, reduction, weights)


def _weights(sample_weight, y_true, reduction):
    """Checked weights (numpy float64) or None; ``"none"`` takes none."""
    if sample_weight is None:
        return None
    if reduction == "none":
        raise ValueError("sample_weight weighs the instances in a sum or a mean; "
                         "reduction='none' returns one regret per instance and takes no "
                         "weights (multiply them yourself).")
    return check_sample_weight(sample_weight, len(y_true))


def _regret_terms(y_true, y_pred, optimizer, reduction, params):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an skdfl Optimizer; got {type(optimizer).__name__}.")
    check_option(reduction, "reduction", REDUCTIONS)
    theta, _ = as_batch(y_true, "y_true", dtype=torch.float64)
    theta_hat, _ = as_batch(y_pred, "y_pred", dtype=torch.float64, device=theta.device)
    if theta.shape != theta_hat.shape:
        raise ValueError(f"y_true and y_pred must have the same shape; got "
                         f"{tuple(theta.shape)} and {tuple(theta_hat.shape)}.")
    if theta.shape[0] == 0 and reduction != "none":
        raise ValueError(f"y_true must hold at least one instance (row) for "
                         f"reduction={reduction!r}; got shape {tuple(theta.shape)} "
                         "(reduction='none' gives an empty array).")
    solver = optimizer.with_n_params(theta.shape[1], name="y_true")
    params = solver.check_params(params, theta.shape[0], theta.device)
    solver.check_theta(theta, "y_true")
    solver.check_theta(theta_hat, "y_pred")
    return decision_regret(solver, theta, solver._solve(theta_hat, **params),
                           solver._solve(theta, **params), **params)


def decision_regret(optimizer, theta, x_hat, x_star, **params):
    """Per-instance regret and optimal objective on tensors (no validation)."""
    optimum = optimizer._objective(x_star, theta, **params)
    achieved = optimizer._objective(x_hat, theta, **params)
    if optimizer.sense == "minimize":
        return achieved - optimum, optimum
    return optimum - achieved, optimum


def _reduce(per_instance, optimum, reduction, weights=None):
    per_instance = per_instance.detach().cpu().numpy()
    if reduction == "none":
        return per_instance
    if reduction == "mean":
        return float(np.average(per_instance, weights=weights))
    return _normalize(*_weighted_sums(per_instance, optimum, weights))


def _weighted_sums(per_instance, optimum, weights):
    """``sum_i w_i regret_i`` and ``sum_i w_i |f(x*_i)|`` (weights 1 when None)."""
    optimum = np.abs(optimum.detach().cpu().numpy())
    if weights is None:
        return float(per_instance.sum()), float(optimum.sum())
    return float(weights @ per_instance), float(weights @ optimum)


def _normalize(total, scale):
    """``total / scale``; 0/0 is no regret, and x/0 has no normalized value."""
    if scale == 0.0:
        if total == 0.0:
            return 0.0
        raise ValueError("normalized regret is undefined: every optimal objective under "
                         "y_true is 0; use reduction='mean'.")
    return total / scale


def normalized_regret_in_chunks(y_true, y_pred, optimizer, chunk_size, sample_weight=None,
                                **params):
    """Normalized regret, ``chunk_size`` instances at a time (bounded working memory).

    Equal to ``regret(y_true, y_pred, optimizer=optimizer,
    sample_weight=sample_weight, **params)`` (``sample_weight``: checked
    weights or None); each chunk is solved once for the predictions and
    once for the truth.
    """
    total, scale = 0.0, 0.0
    for i in range(0, len(y_true), chunk_size):
        part = slice(i, i + chunk_size)
        per_instance, optimum = _regret_terms(y_true[part], y_pred[part], optimizer, "none",
                                              take_rows(params, part))
        weights = None if sample_weight is None else sample_weight[part]
        chunk_total, chunk_scale = _weighted_sums(per_instance.detach().cpu().numpy(),
                                                  optimum, weights)
        total += chunk_total
        scale += chunk_scale
    return _normalize(total, scale)


def make_regret_scorer(optimizer, *, reduction="normalized"):
    """A scorer of regret for ``cross_validate`` and ``GridSearchCV``.

    Lower regret is better, so the scorer returns ``-regret``
    (``greater_is_better=False``), following scikit-learn's convention.
    ``sample_weight`` weighs each instance's regret (see :func:`regret`):
    ``scorer(estimator, X, y, sample_weight=w)``, or, with metadata routing,
    ``make_regret_scorer(optimizer).set_score_request(sample_weight=True)``
    takes each test fold's weights. It requests the optimizer's
    per-instance parameters (``instance_params``)
    through metadata routing by default: with
    ``sklearn.set_config(enable_metadata_routing=True)``, ``GridSearchCV``
    and ``cross_validate`` pass each test fold its own rows. Scoring an
    estimator that was fit with per-instance parameters without them is a
    ``ValueError`` rather than a regret under the constructor's values.

    Parameters
    ----------
    optimizer : Optimizer
        The decision problem.
    reduction : {"normalized", "mean"}, default="normalized"
        How per-instance regrets are combined.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from skdfl.datasets import make_shortest_path
    >>> from skdfl.metrics import make_regret_scorer
    >>> from skdfl.optimizers import ShortestPath
    >>> X, C = make_shortest_path(60, random_state=0)
    >>> scorer = make_regret_scorer(ShortestPath(grid=(5, 5)))
    >>> scores = cross_val_score(LinearRegression(), X, C, scoring=scorer, cv=3)
    >>> bool((scores <= 0).all())
    True
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an skdfl Optimizer; got {type(optimizer).__name__}.")
    check_option(reduction, "reduction", ("normalized", "mean"))
    return _RegretScorer(regret, -1, dict(optimizer=optimizer, reduction=reduction),
                         response_method="predict")


class _RegretScorer(_Scorer):
    """The regret scorer: requests the per-instance parameters, and needs them."""

    def _get_metadata_request(self):
        requests = super()._get_metadata_request()
        for name in self._kwargs["optimizer"].instance_params:
            if name not in requests.score.requests:
                requests.score.add_request(param=name, alias=True)
        return requests

    def _score(self, method_caller, estimator, X, y_true, **kwargs):
        final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
        missing = [name for name in getattr(final, "instance_params_", ())
                   if kwargs.get(name) is None]
        if missing:
            raise ValueError(
                f"the regret scorer needs {missing[0]} per instance: the estimator was fit "
                f"with it. Enable metadata routing (sklearn.set_config("
                "enable_metadata_routing=True)) so that GridSearchCV and cross_validate "
                f"route {missing[0]} to the scorer per fold, or call scorer(estimator, X, y, "
                f"{missing[0]}=...).")
        return super()._score(method_caller, estimator, X, y_true, **kwargs)


__all__ = ["regret", "make_regret_scorer", "decision_regret"]
