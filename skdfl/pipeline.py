"""A scikit-learn Pipeline that can also decide."""

from sklearn import pipeline
from sklearn.utils.metaestimators import available_if


def _final_step_decides(self):
    final = self.steps[-1][1]
    if not hasattr(final, "decide"):
        raise AttributeError(f"the final step {type(final).__name__} has no decide method")
    return True


class DecisionPipeline(pipeline.Pipeline):
    """A :class:`sklearn.pipeline.Pipeline` with ``decide``.

    ``decide(X)`` transforms ``X`` through every step but the last, then
    returns the last step's decisions. Everything else is the plain
    scikit-learn Pipeline: ``fit``, ``predict``, ``score`` (minus the regret
    when the last step is a decision-focused estimator), ``set_params``,
    grid-search keys such as ``decisionfocusedregressor__lambd``.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        As in :class:`sklearn.pipeline.Pipeline`.
    memory : str or object with the joblib.Memory interface, default=None
        As in :class:`sklearn.pipeline.Pipeline`.
    verbose : bool, default=False
        As in :class:`sklearn.pipeline.Pipeline`.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skdfl import DecisionFocusedRegressor
    >>> from skdfl.datasets import make_shortest_path
    >>> from skdfl.optimizers import ShortestPath
    >>> from skdfl.pipeline import DecisionPipeline
    >>> X, C = make_shortest_path(100, random_state=0)
    >>> pipe = DecisionPipeline([
    ...     ("scale", StandardScaler()),
    ...     ("dfl", DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), max_iter=2,
    ...                                      n_iter_no_change=5, random_state=0))])
    >>> pipe.fit(X, C).decide(X[:3]).sum(axis=1)   # 8 arcs on every 5x5 path
    array([8., 8., 8.])
    """

    @available_if(_final_step_decides)
    def decide(self, X, **params):
        """Transform ``X`` through the steps, then decide with the final estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        **params : array-like of shape (n_samples, ...)
            Per-instance problem data (the optimizer's ``instance_params``),
            passed to the final estimator's ``decide``.

        Returns
        -------
        decisions : ndarray of shape (n_samples, n_vars)
        """
        Xt = self[:-1].transform(X) if len(self.steps) > 1 else X
        return self.steps[-1][1].decide(Xt, **params)


def make_pipeline(*steps, memory=None, verbose=False):
    """Build a :class:`DecisionPipeline` from estimators, naming the steps automatically.

    Parameters
    ----------
    *steps : estimators
        The steps, the last one usually a decision-focused estimator.
    memory : str or object with the joblib.Memory interface, default=None
        As in :func:`sklearn.pipeline.make_pipeline`.
    verbose : bool, default=False
        As in :func:`sklearn.pipeline.make_pipeline`.

    Returns
    -------
    pipe : DecisionPipeline

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skdfl import DecisionFocusedRegressor
    >>> from skdfl.optimizers import KSubset
    >>> from skdfl.pipeline import make_pipeline
    >>> pipe = make_pipeline(StandardScaler(), DecisionFocusedRegressor(KSubset(k=2)))
    >>> [name for name, _ in pipe.steps]
    ['standardscaler', 'decisionfocusedregressor']
    """
    plain = pipeline.make_pipeline(*steps, memory=memory, verbose=verbose)
    return DecisionPipeline(plain.steps, memory=memory, verbose=verbose)
