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

    A network of one's own (``module``, here a class built from its
    ``module__*`` parameters), trained from the observed shortest paths
    only (``targets="decisions"``), with twice the weight on some instances
    (``sample_weight``):

    >>> import numpy as np
    >>> import torch
    >>> class TwoLayers(torch.nn.Module):
    ...     def __init__(self, width=16):
    ...         super().__init__()
    ...         self.body = torch.nn.Sequential(torch.nn.Linear(5, width), torch.nn.ReLU(),
    ...                                         torch.nn.Linear(width, 40))
    ...     def forward(self, X):
    ...         return self.body(X)
    >>> paths = ShortestPath(grid=(5, 5)).solve(C)        # what was decided, not the costs
    >>> weights = np.where(X[:, 0] > 0, 2.0, 1.0)
    >>> est = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method="imle",
    ...                                targets="decisions", module=TwoLayers,
    ...                                module__width=8, max_iter=5, n_iter_no_change=None,
    ...                                random_state=0)
    >>> est = est.fit(X[:150], paths[:150], sample_weight=weights[:150])
    >>> share = est.score(X[150:], paths[150:])   # share of the observed paths reproduced
    >>> bool(0 <= share <= 1), est.net_.module_.body[0].out_features
    (True, 8)
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
