"""DecisionFocusedRegressor: predict real parameters, trained for the decisions."""

from sklearn.base import RegressorMixin

from ._base import DecisionFocusedBase
from ._docs import fill_shared_doc


@fill_shared_doc
class DecisionFocusedRegressor(RegressorMixin, DecisionFocusedBase):
    """A neural regressor of optimization parameters, trained for low regret.

    The model predicts the unknown parameters ``theta`` of an optimization
    problem (edge costs, item values) from features; the optimizer decides
    with the predictions. With a decision-focused ``method`` the model is
    trained through the optimizer for the quality of those decisions rather
    than for the accuracy of ``theta``.

    Parameters
    ----------
    %(parameters)s

    Attributes
    ----------
    %(attributes)s

    See Also
    --------
    DecisionFocusedClassifier : The same for 0/1 parameters predicted as probabilities.
    PredictThenOptimize : The two-stage baseline with any scikit-learn regressor.
    skdfl.metrics.regret : The regret that ``score`` reports.

    Examples
    --------
    >>> from skdfl import DecisionFocusedRegressor
    >>> from skdfl.datasets import make_shortest_path
    >>> from skdfl.optimizers import ShortestPath
    >>> X, C = make_shortest_path(200, degree=4, noise_width=0.5, random_state=0)
    >>> est = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method="spo+",
    ...                                max_iter=5, n_iter_no_change=5, random_state=0)
    >>> est.fit(X[:150], C[:150]).decide(X[150:]).shape
    (50, 40)
    >>> score = est.score(X[150:], C[150:])   # minus the normalized regret
    >>> bool(-0.5 < score <= 0)
    True
    """

    # Minus the regret, not the R^2 of RegressorMixin.
    score = DecisionFocusedBase.score

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def predict(self, X):
        """Predicted parameters ``theta_hat``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        theta_hat : ndarray of shape (n_samples, n_params)
        """
        return self._decision_parameters(X)
