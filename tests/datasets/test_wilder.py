"""The synthetic domains of Wilder, Dilkina and Tambe (2019)."""

import numpy as np
import pytest

from skdfl.datasets import (make_bipartite_matching, make_budget_allocation,
                            make_diverse_recommendation)
from skdfl.optimizers import CoverageMaximizer, LinearProgram


def test_budget_allocation_shapes_ranges_and_sparsity():
    X, y = make_budget_allocation(40, n_channels=7, n_customers=50, n_features=3,
                                  edge_probability=0.3, max_probability=0.25, random_state=0)
    assert X.shape == (40, 7 * 3) and y.shape == (40, 7 * 50)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert np.isfinite(X).all()
    assert y.min() >= 0.0 and y.max() <= 0.25
    assert abs((y > 0).mean() - 0.3) < 0.03          # 14000 Bernoulli(0.3) draws
    nonzero = y[y > 0]
    assert abs(nonzero.mean() - 0.125) < 0.01        # U[0, 0.25] on the edges
    assert CoverageMaximizer(k=2, n_items=7, n_targets=50).n_params == y.shape[1]


def test_budget_allocation_features_describe_their_own_channel():
    """Channel-major layout: a channel's features describe its own row of theta."""
    X, y = make_budget_allocation(200, n_channels=5, n_customers=8, n_features=6,
                                  random_state=1)
    feats = X.reshape(-1, 6)                         # one row per channel, channel-major
    rows = y.reshape(-1, 8)                          # the matching rows of theta
    # a channel that reaches nobody has all-zero features (ReLU network, no biases)
    empty = ~rows.any(1)
    assert empty.any()
    np.testing.assert_array_equal(feats[empty], 0.0)
    assert (np.abs(feats[~empty]).sum(1) > 0).all()

    def r2(target):
        design = np.hstack([feats, np.ones((len(feats), 1))])
        coef = np.linalg.lstsq(design, target, rcond=None)[0]
        return 1.0 - ((design @ coef - target) ** 2).sum() / ((target - target.mean()) ** 2).sum()

    total = rows.sum(1)
    assert r2(total) > 0.5                           # its own reach: well explained
    assert r2(np.roll(total, 1)) < 0.05              # a neighbour's: not at all


def test_budget_allocation_feature_noise_and_determinism():
    X0, y0 = make_budget_allocation(10, n_channels=3, n_customers=6, random_state=2)
    X1, y1 = make_budget_allocation(10, n_channels=3, n_customers=6, feature_noise=0.5,
                                    random_state=2)
    np.testing.assert_array_equal(y0, y1)            # noise is drawn last
    assert not np.allclose(X0, X1)
    X2, _ = make_budget_allocation(10, n_channels=3, n_customers=6,
                                   random_state=np.random.RandomState(2))
    np.testing.assert_array_equal(X0, X2)
    X3, _ = make_budget_allocation(10, n_channels=3, n_customers=6, random_state=3)
    assert not np.allclose(X0, X3)


def test_budget_allocation_default_draws_are_pinned():
    """New options leave the default draws as they were (values from before they existed)."""
    X, y = make_budget_allocation(5, n_channels=4, n_customers=6, n_features=3, random_state=0)
    np.testing.assert_allclose(X[0, :4], [0.438903, -0.972969, -0.677176, 0.636579], atol=1e-6)
    np.testing.assert_allclose(y[0, :6], [0.0, 0.0, 0.035055, 0.0, 0.0, 0.155831], atol=1e-6)
    np.testing.assert_allclose([X.sum(), y.sum()], [-22.815895808205482, 2.3336248621666735])


def test_budget_allocation_heavy_tailed_degrees_at_the_papers_scale():
    X, y = make_budget_allocation(4, n_channels=100, n_customers=500, n_features=5,
                                  edge_probability=0.05, degree_shape=1.8, hidden_width=40,
                                  random_state=0)
    assert X.shape == (4, 100 * 5) and y.shape == (4, 100 * 500)
    heavy = (y.reshape(-1, 500) > 0).sum(1)
    _, y0 = make_budget_allocation(4, n_channels=100, n_customers=500, n_features=5,
                                   edge_probability=0.05, random_state=0)
    even = (y0.reshape(-1, 500) > 0).sum(1)
    # the mean degree stays near 25 (capping at 500 loses a little), the spread does not
    assert 18 < heavy.mean() < 27 and 23 < even.mean() < 27
    assert heavy.std() > 3 * even.std()
    assert heavy.max() > 4 * heavy.mean() and even.max() < 2 * even.mean()
    # Pareto tail: the 1% largest degrees hold far more than 1% of the edges
    top = np.sort(heavy)[-4:].sum() / heavy.sum()
    assert top > 0.05


def test_budget_allocation_hidden_width_changes_only_the_features():
    X0, y0 = make_budget_allocation(6, n_channels=3, n_customers=8, random_state=5)
    X1, y1 = make_budget_allocation(6, n_channels=3, n_customers=8, hidden_width=7,
                                    random_state=5)
    assert X0.shape == X1.shape and not np.allclose(X0, X1)
    assert y0.shape == y1.shape


def test_diverse_recommendation_shapes_labels_and_ratings():
    X, y = make_diverse_recommendation(60, n_items=12, n_topics=40, n_users=6,
                                       coverage_rate=0.2, random_state=0)
    assert X.shape == (60, 12 * 6) and y.shape == (60, 12 * 40)
    assert y.dtype == np.int64 and set(np.unique(y)) == {0, 1}
    assert abs(y.mean() - 0.2) < 0.05                # the threshold's target rate
    assert set(np.unique(X)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert CoverageMaximizer(k=3, n_items=12, n_targets=40).n_params == y.shape[1]
    X2, y2 = make_diverse_recommendation(60, n_items=12, n_topics=40, n_users=6,
                                         coverage_rate=0.2, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_diverse_recommendation_ratings_predict_coverage():
    """Item-major layout: an item's ratings carry information about its own topics."""
    X, y = make_diverse_recommendation(200, n_items=10, n_topics=20, n_users=8,
                                       label_noise=0.1, rating_noise=0.1, random_state=0)
    ratings = X.reshape(-1, 8)
    topics = y.reshape(-1, 20)
    # least squares from an item's ratings to its labels beats predicting the mean
    design = np.hstack([ratings, np.ones((len(ratings), 1))])
    coef = np.linalg.lstsq(design, topics, rcond=None)[0]
    residual = ((design @ coef - topics) ** 2).mean()
    assert residual < 0.8 * topics.var(0).mean()


def test_bipartite_matching_shapes_labels_and_edge_features():
    n_left, n_right, p = 3, 4, 2
    X, y = make_bipartite_matching(25, n_left=n_left, n_right=n_right, n_features=p,
                                   edge_probability=0.3, random_state=0)
    assert X.shape == (25, n_left * n_right * 3 * p) and y.shape == (25, n_left * n_right)
    assert y.dtype == np.int64 and set(np.unique(y)) <= {0, 1}
    assert LinearProgram.bipartite_matching(n_left, n_right).n_params == y.shape[1]
    edges = X.reshape(25, n_left, n_right, 3 * p)
    left, right, product = edges[..., :p], edges[..., p:2 * p], edges[..., 2 * p:]
    # edge (i, j) holds left node i's features, right node j's and their product
    np.testing.assert_array_equal(left, np.broadcast_to(left[:, :, :1], left.shape))
    np.testing.assert_array_equal(right, np.broadcast_to(right[:, :1], right.shape))
    np.testing.assert_allclose(product, left * right)


def test_bipartite_matching_rate_and_determinism():
    X, y = make_bipartite_matching(100, n_left=10, n_right=10, edge_probability=0.2,
                                   random_state=4)
    assert abs(y.mean() - 0.2) < 0.03
    X2, y2 = make_bipartite_matching(100, n_left=10, n_right=10, edge_probability=0.2,
                                     random_state=4)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    x = LinearProgram.bipartite_matching(10, 10).solve(y[:3]).reshape(3, 10, 10)
    assert (x.sum(1) <= 1).all() and (x.sum(2) <= 1).all()


@pytest.mark.parametrize("maker, kwargs, message", [
    (make_budget_allocation, dict(n_samples=0), "n_samples must be >= 1"),
    (make_budget_allocation, dict(n_samples=2.5), "n_samples must be an integer"),
    (make_budget_allocation, dict(n_samples=5, n_channels=0), "n_channels must be >= 1"),
    (make_budget_allocation, dict(n_samples=5, n_customers=0), "n_customers must be >= 1"),
    (make_budget_allocation, dict(n_samples=5, n_features=0), "n_features must be >= 1"),
    (make_budget_allocation, dict(n_samples=5, edge_probability=0.0),
     "edge_probability must be > 0.0"),
    (make_budget_allocation, dict(n_samples=5, max_probability=1.5),
     "max_probability must be <= 1.0"),
    (make_budget_allocation, dict(n_samples=5, feature_noise=-1.0),
     "feature_noise must be >= 0.0"),
    (make_budget_allocation, dict(n_samples=5, degree_shape=1.0), "degree_shape must be > 1.0"),
    (make_budget_allocation, dict(n_samples=5, hidden_width=0), "hidden_width must be >= 1"),
    (make_diverse_recommendation, dict(n_samples=5, n_items=0), "n_items must be >= 1"),
    (make_diverse_recommendation, dict(n_samples=5, n_topics=0), "n_topics must be >= 1"),
    (make_diverse_recommendation, dict(n_samples=5, n_users=0), "n_users must be >= 1"),
    (make_diverse_recommendation, dict(n_samples=5, n_latent=0), "n_latent must be >= 1"),
    (make_diverse_recommendation, dict(n_samples=5, coverage_rate=1.0),
     "coverage_rate must be < 1.0"),
    (make_diverse_recommendation, dict(n_samples=5, label_noise=-0.1),
     "label_noise must be >= 0.0"),
    (make_diverse_recommendation, dict(n_samples=5, rating_noise=float("nan")),
     "rating_noise must be finite"),
    (make_bipartite_matching, dict(n_samples=5, n_left=0), "n_left must be >= 1"),
    (make_bipartite_matching, dict(n_samples=5, n_right=0), "n_right must be >= 1"),
    (make_bipartite_matching, dict(n_samples=5, edge_probability=1.0),
     "edge_probability must be < 1.0"),
    (make_bipartite_matching, dict(n_samples=5, feature_noise=-2.0),
     "feature_noise must be >= 0.0"),
])
def test_argument_errors(maker, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        maker(**kwargs)
