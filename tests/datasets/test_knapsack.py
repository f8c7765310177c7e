import numpy as np
import pytest

from skdfl.datasets import load_energy_knapsack, make_knapsack
from skdfl.optimizers import Knapsack


def test_make_knapsack_shapes_and_determinism():
    X, C, w = make_knapsack(30, n_items=12, n_features=4, degree=3, noise_width=0.2,
                            random_state=5)
    assert X.shape == (30, 4) and C.shape == (30, 12) and w.shape == (12,)
    assert w.dtype.kind == "i" and w.min() >= 300 and w.max() < 800
    assert np.all(C == np.ceil(C)) and C.min() >= 1
    X2, C2, w2 = make_knapsack(30, n_items=12, n_features=4, degree=3, noise_width=0.2,
                               random_state=5)
    np.testing.assert_array_equal(C, C2)
    np.testing.assert_array_equal(w, w2)


def test_make_knapsack_equals_pyepo():
    pyepo = pytest.importorskip("pyepo")
    weights, x, c = pyepo.data.knapsack.genData(25, 5, 10, dim=1, deg=4, noise_width=0.5,
                                                seed=7)
    X, C, w = make_knapsack(25, n_items=10, n_features=5, degree=4, noise_width=0.5,
                            random_state=7)
    np.testing.assert_allclose(X, x)
    np.testing.assert_allclose(C, c)
    np.testing.assert_allclose(w, weights[0] * 100)


def test_make_knapsack_parameter_errors():
    with pytest.raises(ValueError, match="n_items must be >= 1"):
        make_knapsack(5, n_items=0)
    with pytest.raises(ValueError, match="noise_width must be <= 1.0"):
        make_knapsack(5, noise_width=2.0)


def test_load_energy_knapsack():
    energy = load_energy_knapsack()
    assert energy.data.shape == (789, 384) and energy.target.shape == (789, 48)
    assert energy.weights.dtype.kind == "i" and energy.weights.shape == (48,)
    assert energy.train_mask.sum() == 552 and energy.train_mask[:552].all()
    assert "MIT" in energy.DESCR and "PredOpt" in energy.DESCR
    assert energy.feature_names[8] == "slot1_feature0"
    assert np.isfinite(energy.data).all() and np.isfinite(energy.target).all()
    # the first slot of the first day equals the raw file's first row (index column dropped)
    X, y = load_energy_knapsack(return_X_y=True)
    np.testing.assert_array_equal(X, energy.data)
    raw = np.load(__import__("skdfl").datasets.__path__[0] + "/data/energy_knapsack.npz")
    np.testing.assert_array_equal(X[0, :8], raw["X_1gtrain"][0, 1:])
    np.testing.assert_array_equal(y[1], raw["y_train"][48:96])
    assert Knapsack(energy.weights, 120).solve(y[:3]).shape == (3, 48)


def test_make_knapsack_capacity_per_instance():
    X, C, w = make_knapsack(200, n_items=8, random_state=3)
    X2, C2, w2, capacity = make_knapsack(200, n_items=8, random_state=3, capacity=(900, 905))
    # the other draws are unchanged (the capacities come last)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(C, C2)
    np.testing.assert_array_equal(w, w2)
    assert capacity.shape == (200,) and capacity.dtype.kind == "i"
    assert set(np.unique(capacity)) == set(range(900, 906))   # both ends included
    _, _, _, again = make_knapsack(200, n_items=8, random_state=3, capacity=(900, 905))
    np.testing.assert_array_equal(capacity, again)
    _, _, _, fixed = make_knapsack(5, capacity=(700, 700), random_state=0)
    np.testing.assert_array_equal(fixed, 700)
    x = Knapsack(w2, 1000).solve(C2, capacity=capacity)
    assert np.all(x @ w2 <= capacity)


def test_make_knapsack_several_dimensions_follow_pyepo_draws():
    X, C, w = make_knapsack(20, n_items=6, n_dims=3, degree=2, random_state=4)
    assert w.shape == (3, 6) and w.min() >= 300 and w.max() < 800
    # PyEPO's genData(dim=3): weights first, then B, the features and the noise
    rng = np.random.RandomState(4)
    np.testing.assert_array_equal(w, rng.choice(range(300, 800), size=(3, 6)))
    B = rng.binomial(1, 0.5, (6, 5))
    np.testing.assert_array_equal(X, rng.normal(0, 1, (20, 5)))
    expected = np.ceil(5 * ((X @ B.T / np.sqrt(5) + 3) ** 2 + 1) / 3.5 ** 2
                       * rng.uniform(1, 1, (20, 6)))
    np.testing.assert_array_equal(C, expected)
    # in hundredths the product of three capacities is far too large a table: whole units
    x = Knapsack(w // 100, [15, 15, 15]).solve(C)
    assert np.all((w // 100) @ x.T <= 15)


def test_make_knapsack_several_dimensions_equal_pyepo():
    pyepo = pytest.importorskip("pyepo")
    weights, x, c = pyepo.data.knapsack.genData(10, 5, 6, dim=2, deg=2, noise_width=0.1, seed=2)
    X, C, w = make_knapsack(10, n_items=6, n_dims=2, degree=2, noise_width=0.1, random_state=2)
    np.testing.assert_allclose(X, x)
    np.testing.assert_allclose(C, c)
    np.testing.assert_allclose(w, weights * 100)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"capacity": 5}, ValueError, r"capacity must be a pair \(low, high\)"),
    ({"capacity": (5, 3)}, ValueError, r"capacity must be a pair.*got \(5, 3\)"),
    ({"capacity": (-1, 3)}, ValueError, r"capacity must be a pair.*0 <= low <= high"),
    ({"capacity": (1.5, 3)}, ValueError, r"capacity must be a pair \(low, high\) of integers"),
    ({"capacity": (1, 2, 3)}, ValueError, r"capacity must be a pair"),
    ({"n_dims": 0}, ValueError, "n_dims must be >= 1"),
    ({"n_dims": 1.5}, TypeError, "n_dims must be an integer"),
])
def test_make_knapsack_new_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_knapsack(5, **kwargs)
