"""What deciding and scoring share: per-instance data, chunked solves and scores, checks.

Used by the decision-focused estimators and by ``PredictThenOptimize``.
"""

import numpy as np

from .._validation import check_numeric
from ..metrics._regret import normalized_regret_in_chunks
from ..optimizers._instance import take_rows

#: Instances per chunk in predict, decide and score (bounded working memory).
CHUNK_SIZE = 65536


def request_instance_params(requests, optimizer, methods):
    """Metadata requests with ``optimizer``'s per-instance parameters requested.

    A request the user set explicitly (``set_fit_request``) is kept.
    """
    for method in methods:
        method_requests = getattr(requests, method)
        for name in getattr(optimizer, "instance_params", ()):
            if name not in method_requests.requests:
                method_requests.add_request(param=name, alias=True)
    return requests


def checked_instance_params(estimator, params, n_instances, method):
    """The per-instance parameters of ``decide`` or ``score``, checked (CPU tensors).

    Those given to ``fit`` are required: without them the optimizer would
    decide silently with its constructor's values.
    """
    missing = [name for name in estimator.instance_params_ if params.get(name) is None]
    if missing:
        raise ValueError(
            f"{missing[0]} was given per instance to fit, so {method} needs it too: pass "
            f"{method}(X, ..., {missing[0]}=...) with one entry per row of X. In "
            "GridSearchCV, cross_validate or a Pipeline, enable metadata routing with "
            "sklearn.set_config(enable_metadata_routing=True); the estimator requests it "
            "by default and it is then split per fold.")
    return estimator.optimizer_.check_params(params, n_instances)


def regret_score(y, theta_hat, optimizer, params=None, sample_weight=None):
    """Minus the normalized regret of deciding with ``theta_hat``, ``CHUNK_SIZE`` rows at a time.

    ``sample_weight``: checked weights (float64, one per row) or None.
    """
    y = check_numeric(y, "y")
    if y.ndim != 2 or y.shape != theta_hat.shape:
        raise ValueError(f"y must have shape {theta_hat.shape} (n_samples, n_params); "
                         f"got {y.shape}.")
    return -normalized_regret_in_chunks(y, theta_hat, optimizer, CHUNK_SIZE,
                                        sample_weight=sample_weight, **(params or {}))


def solve_in_chunks(optimizer, theta_hat, params=None):
    """``optimizer.solve`` on ``CHUNK_SIZE`` rows at a time (bounded working memory)."""
    decisions = np.empty((len(theta_hat), optimizer.n_vars))
    for i in range(0, len(theta_hat), CHUNK_SIZE):
        part = slice(i, i + CHUNK_SIZE)
        decisions[part] = optimizer.solve(theta_hat[part], **take_rows(params or {}, part))
    return decisions


def item_count(optimizer, n_features):
    """Items per row for ``per_item=True``: the optimizer's ``n_items`` or ``n_params``."""
    n_items = getattr(optimizer, "n_items", None) or optimizer.n_params
    if n_features % n_items or optimizer.n_params % n_items:
        raise ValueError(
            f"per_item=True needs X's width to split into {n_items} items; got "
            f"{n_features} features, which is not a multiple of {n_items}.")
    return n_items


def check_predictions(theta_hat, offset=0):
    """Refuse NaN or inf predictions: the model's weights, not the input, are broken."""
    bad = ~np.isfinite(theta_hat).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"the model predicted non-finite parameters for {len(rows)} instance(s), the "
            f"first at row {offset + rows[0]} of X; its weights are not finite (a diverged "
            "or corrupted fit). Fit it again, e.g. with a lower learning_rate_init.")
    return theta_hat


def check_signs(theta_hat, optimizer, offset=0):
    """Refuse to decide on negative predictions where the optimizer solves only positive ones.

    A shortest path on a graph with a cycle: the model's link let it predict
    negative costs, which have no shortest path.
    """
    if not optimizer.any_sign:
        negative = (theta_hat < 0).any(axis=1)
        if negative.any():
            rows = np.flatnonzero(negative)
            raise ValueError(
                f"the model predicted negative parameters for {len(rows)} instance(s), the "
                f"first at row {offset + rows[0]} of X, and {type(optimizer).__name__} "
                "solves only non-negative ones here (a graph with a cycle). Fit with "
                "out_activation='softplus' to keep the predictions positive.")
    return theta_hat
