"""PredictThenOptimize: any scikit-learn regressor, then the optimizer."""

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils.metadata_routing import (MetadataRouter, MethodMapping, _routing_enabled,
                                            process_routing)
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

from .._validation import check_finite, check_numeric
from ..optimizers import Optimizer
from ._regressors import densify_unless_accepted, multi_output
from ._deciding import (checked_instance_params, item_count, regret_score,
                        request_instance_params, solve_in_chunks)
from ._weights import check_sample_weight


class PredictThenOptimize(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """The two-stage baseline with any scikit-learn regressor.

    The regressor is fitted for accuracy on the parameters ``theta``
    (``fit(X, y)``), and the optimizer decides with its predictions. It has
    the same ``decide`` and ``score`` (minus the normalized regret) as the
    decision-focused estimators, so it compares with them side by side in
    ``cross_validate`` or a grid search.

    Parameters
    ----------
    regressor : estimator
        A scikit-learn regressor of ``y`` of shape ``(n_samples, n_params)``,
        e.g. a random forest. One that predicts a single output (gradient
        boosting, ``SVR``: its ``multi_output`` tag is false) is wrapped in
        :class:`sklearn.multioutput.MultiOutputRegressor`, one model per
        parameter. A sparse ``X`` reaches it sparse where it accepts sparse
        input (its ``input_tags.sparse``), dense otherwise.
    optimizer : Optimizer
        The decision problem.
    per_item : bool, default=False
        Rows hold the features of the optimizer's items flattened item-major;
        the regressor is fitted on one row per item (weight sharing), mapping
        an item's features to that item's parameters.

    Attributes
    ----------
    regressor_ : estimator
        The fitted clone of ``regressor`` (inside a ``MultiOutputRegressor``
        for a single-output one).
    optimizer_ : Optimizer
        The fitted copy of ``optimizer``, sized to the data.
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from skdfl.datasets import make_shortest_path
    >>> from skdfl.estimators import PredictThenOptimize
    >>> from skdfl.optimizers import ShortestPath
    >>> X, C = make_shortest_path(200, degree=4, random_state=0)
    >>> model = PredictThenOptimize(RandomForestRegressor(n_estimators=10, random_state=0),
    ...                             ShortestPath(grid=(5, 5)))
    >>> model.fit(X[:150], C[:150]).decide(X[150:]).shape
    (50, 40)
    >>> bool(-0.5 < model.score(X[150:], C[150:]) <= 0)
    True
    """

    def __init__(self, regressor, optimizer, *, per_item=False):
        self.regressor = regressor
        self.optimizer = optimizer
        self.per_item = per_item

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        tags.input_tags.sparse = True   # passed on sparse, or densified for the regressor
        return tags

    def _get_metadata_request(self):
        requests = request_instance_params(super()._get_metadata_request(), self.optimizer,
                                           ("fit", "score"))
        # fit's sample_weight is the regressor's, routed to it (its own request decides)
        if requests.fit.requests.get("sample_weight") is None:
            requests.fit.add_request(param="sample_weight", alias=False)
        return requests

    def get_metadata_routing(self):
        """Metadata routing: its own requests, and ``fit``'s metadata to the regressor.

        Returns
        -------
        routing : MetadataRouter
        """
        return (MetadataRouter(owner=self).add_self_request(self)
                .add(regressor=self.regressor,
                     method_mapping=MethodMapping().add(caller="fit", callee="fit")))

    def _regressor_fit_params(self, sample_weight):
        """What the regressor's ``fit`` gets: routed metadata, or ``sample_weight``."""
        if _routing_enabled():
            given = {} if sample_weight is None else {"sample_weight": sample_weight}
            routed = dict(process_routing(self, "fit", **given).regressor.fit)
            if sample_weight is not None and "sample_weight" not in routed:
                raise ValueError(
                    "sample_weight was given to fit, but the regressor does not request it, "
                    "so it would be dropped: with metadata routing enabled, pass "
                    f"{type(self.regressor).__name__}().set_fit_request(sample_weight=True) "
                    "as the regressor.")
            return routed
        if sample_weight is None:
            return {}
        if not has_fit_parameter(self.regressor, "sample_weight"):
            raise ValueError(f"sample_weight was given, but the regressor "
                             f"{type(self.regressor).__name__} takes no sample_weight in "
                             "its fit; use a regressor that does, or none.")
        return {"sample_weight": sample_weight}

    def fit(self, X, y, sample_weight=None, **params):
        """Fit the regressor on the parameters.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Sparse only where the regressor accepts it, else densified.
        y : array-like of shape (n_samples, n_params)
            True parameters per instance.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the regressor's ``fit`` (each row's weight, repeated
            for its items with ``per_item=True``). With metadata routing
            enabled it goes where the regressor requests it
            (``regressor.set_fit_request(sample_weight=True)``).
        **params : array-like of shape (n_samples, ...)
            Per-instance problem data named in the optimizer's
            ``instance_params``. The regressor does not use them; they are
            checked, and ``decide`` and ``score`` then need them too.

        Returns
        -------
        self : object
        """
        if not isinstance(self.optimizer, Optimizer):
            raise TypeError(f"optimizer must be an skdfl Optimizer; got {self.optimizer!r}.")
        self.optimizer.check_param_names(params)
        if y is not None:   # else scikit-learn's own "requires y" error
            y = check_numeric(y, "y")
            check_finite(y, "y")
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             ensure_all_finite=False, accept_sparse="csr")
        check_finite(X, "X")
        X = densify_unless_accepted(X, self.regressor)
        if y.ndim != 2:
            raise ValueError("y must be 2-D, shape (n_samples, n_params); got shape "
                             f"{y.shape}.")
        self.optimizer_ = clone(self.optimizer).with_n_params(y.shape[1], name="y")
        self.instance_params_ = tuple(sorted(self.optimizer_.check_params(params, X.shape[0])))
        self.optimizer_.check_theta(y, "y")
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        fit_params = self._regressor_fit_params(sample_weight)
        if self.per_item:
            n_items = item_count(self.optimizer_, X.shape[1])
            item_y = y.reshape(len(y) * n_items, -1)
            if fit_params.get("sample_weight") is not None:
                fit_params["sample_weight"] = np.repeat(fit_params["sample_weight"], n_items)
            # one parameter per item: a plain single-output target
            X, y = _item_rows(X, n_items), item_y[:, 0] if item_y.shape[1] == 1 else item_y
        self.regressor_ = multi_output(clone(self.regressor), y)
        self.regressor_.fit(X, y, **fit_params)
        return self

    def predict(self, X):
        """Predicted parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        theta_hat : ndarray of shape (n_samples, n_params)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite=False, accept_sparse="csr")
        check_finite(X, "X")
        X = densify_unless_accepted(X, self.regressor)
        if self.per_item:
            n_items = item_count(self.optimizer_, X.shape[1])
            flat = self.regressor_.predict(_item_rows(X, n_items))
            return np.asarray(flat, dtype=np.float64).reshape(X.shape[0], -1)
        return np.asarray(self.regressor_.predict(X), dtype=np.float64).reshape(X.shape[0], -1)

    def decide(self, X, **params):
        """Decisions of the optimizer on the predicted parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        **params : array-like of shape (n_samples, ...)
            Per-instance problem data, as in ``fit``.

        Returns
        -------
        decisions : ndarray of shape (n_samples, n_vars)
        """
        theta_hat = self.predict(X)
        params = checked_instance_params(self, params, len(theta_hat), "decide")
        return solve_in_chunks(self.optimizer_, theta_hat, params)

    def score(self, X, y, sample_weight=None, **params):
        """Minus the normalized regret of the decisions on ``X`` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples, n_params)
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each instance in the normalized regret, as in
            :func:`skdfl.metrics.regret`.
        **params : array-like of shape (n_samples, ...)
            Per-instance problem data, as in ``fit``.

        Returns
        -------
        score : float
        """
        theta_hat = self.predict(X)
        params = checked_instance_params(self, params, len(theta_hat), "score")
        weights = check_sample_weight(sample_weight, len(theta_hat))
        return regret_score(y, theta_hat, self.optimizer_, params, weights)


def _item_rows(X, n_items):
    """One row per item: ``X`` reshaped item-major (sparse stays sparse)."""
    rows = X.reshape(X.shape[0] * n_items, -1)
    return rows.tocsr() if hasattr(rows, "tocsr") else rows
