"""What ``PredictThenOptimize`` needs of its regressor: many outputs, and maybe sparse input."""

import warnings

import scipy.sparse as sp
from sklearn.multioutput import MultiOutputRegressor
from sklearn.utils import get_tags


def _tags(regressor):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # a third-party estimator without tags
            return get_tags(regressor)
    except (AttributeError, TypeError, ValueError):
        return None


def predicts_many_outputs(regressor):
    """Whether ``regressor`` fits a 2-D ``y`` itself (its ``multi_output`` tag).

    Examples
    --------
    >>> from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    >>> from skdfl.estimators._regressors import predicts_many_outputs
    >>> predicts_many_outputs(RandomForestRegressor()), predicts_many_outputs(
    ...     GradientBoostingRegressor())
    (True, False)
    """
    tags = _tags(regressor)
    return bool(tags is not None and tags.target_tags.multi_output)


def accepts_sparse(regressor):
    """Whether ``regressor`` takes a sparse ``X`` (its ``input_tags.sparse``)."""
    tags = _tags(regressor)
    return bool(tags is not None and tags.input_tags.sparse)


def multi_output(regressor, y):
    """``regressor``, wrapped in ``MultiOutputRegressor`` when it fits one output and
    ``y`` has columns.

    One model per column is what a single-output regressor (gradient boosting,
    SVR) can do for many parameters; an untagged regressor is wrapped too,
    which is always correct, if slower than its own multi-output fit.
    """
    if y.ndim == 2 and not predicts_many_outputs(regressor):
        return MultiOutputRegressor(regressor)
    return regressor


def densify_unless_accepted(X, regressor):
    """``X`` as the regressor takes it: sparse only where it accepts sparse input."""
    if sp.issparse(X) and not accepts_sparse(regressor):
        return X.toarray()
    return X
