"""DecisionFocusedClassifier: predict 0/1 parameters as probabilities, trained for decisions."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import type_of_target

from ._base import DecisionFocusedBase
from ._docs import fill_shared_doc


@fill_shared_doc
class DecisionFocusedClassifier(ClassifierMixin, DecisionFocusedBase):
    """A neural multilabel classifier of 0/1 parameters, trained for low regret.

    Each instance has ``n_params`` binary parameters (a target covered or not,
    an edge present or not); ``y`` holds them as a 0/1 matrix. The model
    predicts their probabilities, and the optimizer decides with the
    probabilities (e.g. the expected coverage). ``score`` is minus the
    normalized regret with ``y`` as the true parameters. With
    ``method="two-stage"`` the model is fitted by log-loss; with
    ``"relaxation"`` (Wilder et al. 2019) or the linear methods it is
    trained through the optimizer.

    Parameters
    ----------
    %(parameters)s

    Attributes
    ----------
    %(attributes)s
    classes_ : list of ndarray
        ``[array([0, 1])] * n_params``: the labels of each output.

    Examples
    --------
    >>> import numpy as np
    >>> from skdfl import DecisionFocusedClassifier
    >>> from skdfl.optimizers import KSubset
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (X @ rng.normal(size=(4, 6)) + rng.normal(size=(200, 6)) > 0).astype(int)
    >>> clf = DecisionFocusedClassifier(KSubset(k=2), method="spo+", max_iter=5,
    ...                                 n_iter_no_change=5, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape, clf.predict(X[:2]).shape, clf.decide(X[:2]).sum(1)
    ((2, 6), (2, 6), array([2., 2.]))
    """

    _probabilities = True
    # Minus the regret, not the accuracy of ClassifierMixin.
    score = DecisionFocusedBase.score

    _out_activations = ("sigmoid",)

    def _default_out_activation(self):
        return "sigmoid"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.multi_class = False
        return tags

    def _validate_Xy(self, X, y):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target "
                             "y is None.")
        labels = np.asarray(y)
        kind = type_of_target(labels, input_name="y", raise_unknown=True)
        if kind not in ("binary", "multilabel-indicator") or not np.isin(labels, (0, 1)).all():
            bad = labels[~np.isin(labels, (0, 1))][:3]
            raise ValueError(
                "Only binary classification is supported: y must hold 0/1 labels, one column "
                f"per binary parameter; got a {kind} target with values such as "
                f"{bad.tolist()}.")
        X, y = super()._validate_Xy(X, y)
        self.classes_ = [np.array([0, 1])] * y.shape[1]
        return X, y

    def predict_proba(self, X):
        """Probabilities that each parameter is 1.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_params)
        """
        return self._decision_parameters(X)

    def predict(self, X):
        """0/1 labels: probabilities thresholded at 0.5.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples, n_params)
        """
        return (self.predict_proba(X) >= 0.5).astype(np.int64)
