"""Preprocessing for rows that hold several items' features."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import check_finite, check_scalar


class PerItemStandardScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardize item features with statistics shared by all items.

    Rows hold the features of ``n_items`` items flattened item-major (the
    layout of ``per_item=True``). A plain ``StandardScaler`` would center
    every item's copy of a feature on its own, erasing what distinguishes
    the items (a time-of-day feature becomes constant per slot); this scaler
    computes one mean and one scale per feature over all items and rows, so a
    model shared across items sees the items on one scale.

    Parameters
    ----------
    n_items : int
        Number of items per row; the width of ``X`` must be a multiple.

    Attributes
    ----------
    mean_ : ndarray of shape (n_item_features,)
    scale_ : ndarray of shape (n_item_features,)
        Standard deviation per feature (1 where it is 0).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skdfl.preprocessing import PerItemStandardScaler
    >>> X = np.array([[0.0, 10.0, 2.0, 30.0], [4.0, 50.0, 6.0, 70.0]])  # 2 items x 2 features
    >>> scaler = PerItemStandardScaler(n_items=2).fit(X)
    >>> scaler.mean_, scaler.scale_
    (array([ 3., 40.]), array([ 2.236..., 22.360...]))
    """

    def __init__(self, n_items):
        self.n_items = n_items

    def _item_width(self, n_features):
        check_scalar(self.n_items, "n_items", kind=numbers.Integral, low=1)
        if n_features % self.n_items:
            raise ValueError(f"X's width must be a multiple of n_items={self.n_items} "
                             f"(features flattened item-major); got {n_features} features.")
        return n_features // self.n_items

    def fit(self, X, y=None):
        """Compute the per-feature mean and scale over all items and rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_items * n_item_features)
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite=False)
        check_finite(X, "X")
        items = X.reshape(-1, self._item_width(X.shape[1]))
        self.mean_ = items.mean(axis=0)
        scale = items.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, X):
        """Standardize ``X`` with the fitted statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_items * n_item_features)

        Returns
        -------
        X_scaled : ndarray of the same shape
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False, ensure_all_finite=False)
        check_finite(X, "X")
        width = len(self.mean_)
        return ((X.reshape(-1, width) - self.mean_) / self.scale_).reshape(X.shape)

    def inverse_transform(self, X):
        """Map standardized features back to the original scale."""
        check_is_fitted(self)
        X = np.asarray(X, dtype=np.float64)
        width = len(self.mean_)
        return (X.reshape(-1, width) * self.scale_ + self.mean_).reshape(X.shape)
