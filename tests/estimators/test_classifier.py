"""DecisionFocusedClassifier: probabilities of 0/1 parameters, trained for decisions."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdfl import DecisionFocusedClassifier
from skdfl.metrics import regret
from skdfl.optimizers import KSubset

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

LABELS_REASON = ("the check builds labels other than 0/1 (e.g. 2 or strings); the targets of "
                 "this classifier are the optimizer's 0/1 parameters")
EXPECTED_FAILED_CHECKS = {
    "check_estimators_dtypes": LABELS_REASON,
    "check_classifier_data_not_an_array": LABELS_REASON,
    "check_classifiers_classes": LABELS_REASON,
    "check_fit2d_1feature": LABELS_REASON,
    "check_sample_weights_not_an_array": LABELS_REASON,
    "check_sample_weights_shape": LABELS_REASON,
    "check_sample_weights_not_overwritten": LABELS_REASON,
    "check_sample_weights_pandas_series": LABELS_REASON,
    "check_estimator_sparse_array": LABELS_REASON,
    "check_estimator_sparse_matrix": LABELS_REASON,
    "check_classifiers_one_label_sample_weights": LABELS_REASON,
    "check_classifiers_one_label": (
        "a column of y with a single label is a valid binary parameter (a target nobody "
        "covers), so fitting succeeds"),
    "check_classifiers_train": (
        "score is minus the regret (at most 0), not an accuracy above 0.83; decisions, not "
        "labels, are what the model is trained for"),
}


@parametrize_with_checks(
    [DecisionFocusedClassifier(KSubset(k=1), max_iter=3, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def labels():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5))
    logits = np.tanh(X @ rng.normal(size=(5, 8))) * 3 + X[:, :1] ** 2
    y = (logits + rng.logistic(size=logits.shape) > 0.5).astype(int)
    return X[:200], y[:200], X[200:], y[200:]


@pytest.mark.parametrize("method", ["two-stage", "spo+", "dbb"])
def test_outputs(labels, method):
    X, y, X_test, y_test = labels
    clf = DecisionFocusedClassifier(KSubset(k=3), method=method, max_iter=10,
                                    random_state=0).fit(X, y)
    proba = clf.predict_proba(X_test)
    assert proba.shape == y_test.shape and proba.min() >= 0 and proba.max() <= 1
    np.testing.assert_array_equal(clf.predict(X_test), (proba >= 0.5).astype(int))
    np.testing.assert_array_equal(clf.decide(X_test), KSubset(k=3).solve(proba))
    assert clf.score(X_test, y_test) == pytest.approx(
        -regret(y_test, proba, optimizer=KSubset(k=3)))
    assert clf.target_scale_ == 1.0
    assert len(clf.classes_) == y.shape[1]


def test_two_stage_log_loss_learns_probabilities(labels):
    X, y, X_test, y_test = labels
    clf = DecisionFocusedClassifier(KSubset(k=3), method="two-stage", max_iter=60,
                                    learning_rate_init=0.05, random_state=0).fit(X, y)
    accuracy = (clf.predict(X_test) == y_test).mean()
    assert accuracy > 0.7
    untrained = DecisionFocusedClassifier(KSubset(k=3), method="two-stage", max_iter=1,
                                          learning_rate_init=1e-9, random_state=0).fit(X, y)
    assert clf.score(X_test, y_test) > untrained.score(X_test, y_test)


@pytest.mark.parametrize("y_bad, match", [
    (np.full((10, 4), 0.5), "Only binary classification is supported.*continuous"),
    (np.tile([0, 1, 2, 1], (10, 1)), "Only binary classification is supported"),
])
def test_non_binary_targets_are_rejected(y_bad, match):
    X = np.random.RandomState(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match=match):
        DecisionFocusedClassifier(KSubset(k=1), max_iter=1).fit(X, y_bad)
