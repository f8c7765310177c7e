import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdfl.preprocessing import PerItemStandardScaler


@parametrize_with_checks([PerItemStandardScaler(n_items=1)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_statistics_are_shared_across_items():
    rng = np.random.RandomState(0)
    X = rng.normal(3.0, 2.0, size=(50, 4 * 3))
    scaled = PerItemStandardScaler(n_items=4).fit_transform(X)
    expected = StandardScaler().fit_transform(X.reshape(-1, 3)).reshape(X.shape)
    np.testing.assert_allclose(scaled, expected)
    # an item-specific offset survives: items stay distinguishable
    X[:, :3] += 100.0
    scaled = PerItemStandardScaler(n_items=4).fit_transform(X)
    assert scaled[:, :3].mean() > scaled[:, 3:].mean() + 1


def test_inverse_transform_round_trip():
    X = np.random.RandomState(1).normal(size=(10, 6))
    scaler = PerItemStandardScaler(n_items=3).fit(X)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(X)), X)


def test_width_must_divide():
    with pytest.raises(ValueError, match="multiple of n_items=4.*got 10"):
        PerItemStandardScaler(n_items=4).fit(np.zeros((3, 10)))
