"""Synthetic versions of the three domains of Wilder, Dilkina and Tambe (AAAI 2019).

Budget allocation (probabilistic coverage of customers by channels), diverse
recommendation (0/1 coverage of topics by items) and bipartite matching
(0/1 presence of edges). One row is one decision instance; the features of
the instance's items (channels, items, edges) are flattened item-major, so
that an estimator with ``per_item=True`` shares one model across the items,
as in the paper.
"""

import numbers
from statistics import NormalDist

import numpy as np
from sklearn.utils import check_random_state

from .._validation import check_scalar

def _check_common(n_samples, n_features, n_features_name="n_features"):
    check_scalar(n_samples, "n_samples", kind=numbers.Integral, low=1)
    check_scalar(n_features, n_features_name, kind=numbers.Integral, low=1)


def _threshold_labels(scores, rate, noise, rng):
    """0/1 labels ``1[score + noise * eps > t]``, ``t`` giving each label probability ``rate``.

    ``scores`` are standard normal in distribution (a product of two
    independent standard normal latent vectors, divided by the square root
    of their length, has variance 1); with ``eps ~ N(0, 1)`` the sum has
    variance ``1 + noise**2``, and ``t`` is its ``1 - rate`` quantile.
    """
    total = scores + noise * rng.normal(size=scores.shape)
    threshold = np.sqrt(1.0 + noise ** 2) * NormalDist().inv_cdf(1.0 - rate)
    return (total > threshold).astype(np.int64)


def make_budget_allocation(n_samples, n_channels=30, n_customers=60, n_features=8,
                           edge_probability=0.2, max_probability=0.2, feature_noise=0.0,
                           degree_shape=None, hidden_width=32, random_state=None):
    """Budget allocation: which channels reach which customers, from channel features.

    The synthetic domain of Wilder, Dilkina and Tambe (2019). An instance is
    a bipartite graph of ``n_channels`` advertising channels and
    ``n_customers`` customers; ``theta[i, j]`` is the probability that
    channel ``i`` reaches customer ``j``. Each pair is an edge with
    probability ``edge_probability`` (otherwise ``theta[i, j] = 0``), and an
    edge's probability is drawn uniformly from ``[0, max_probability]``. The
    features of channel ``i`` are its row ``theta[i] / max_probability``
    (scaled to unit mean square) passed through a fixed random network with ReLU activations (three
    linear layers, ``n_customers -> hidden_width -> hidden_width ->
    n_features``, Gaussian weights with variance ``2 / fan_in``, no biases),
    plus optional Gaussian noise: they carry information about the row but
    do not determine it. The network is drawn once per call and shared by
    all instances.

    With ``degree_shape`` set, the channels' degrees are heavy-tailed, as in
    the paper's graphs (a few channels reach many customers, most reach
    few): channel ``i`` gets a weight ``w_i`` drawn from a Pareto
    distribution of tail index ``degree_shape``, scaled to mean 1, and
    reaches each customer with probability ``min(1, edge_probability *
    w_i)``, so that the mean degree stays near ``edge_probability *
    n_customers``.

    Choosing ``k`` channels that maximize the expected number of customers
    reached is :class:`~skdfl.optimizers.CoverageMaximizer` ``(k,
    n_items=n_channels, n_targets=n_customers)``.

    The paper's instances are larger; the defaults here are small so that
    decision-focused training runs in seconds on a CPU. The sizes, the
    width of the hidden layers, the number of features and the scaling of
    the network's input are our choices. Closer to the paper's (100
    channels, 500 customers, heavy-tailed degrees, a feature network of
    width 500): ``make_budget_allocation(n, n_channels=100,
    n_customers=500, degree_shape=2.0, hidden_width=500)``; the authors'
    network also has biases and a ReLU after its last layer, and as many
    features as customers.

    Parameters
    ----------
    n_samples : int
        Number of instances (rows).
    n_channels : int, default=30
        Number of channels (items) per instance.
    n_customers : int, default=60
        Number of customers (targets) per instance.
    n_features : int, default=8
        Number of features of each channel.
    edge_probability : float, default=0.2
        Probability that a channel can reach a given customer at all, in
        ``(0, 1]``; the rest of ``theta`` is 0 (sparsity).
    max_probability : float, default=0.2
        Upper end of the uniform distribution of the probabilities of the
        edges, in ``(0, 1]``.
    feature_noise : float, default=0.0
        Standard deviation of Gaussian noise added to the features.
    degree_shape : float or None, default=None
        Tail index (> 1) of the Pareto distribution of the channels' expected
        degrees: smaller is heavier-tailed (2.0 has a finite mean and an
        infinite variance). None gives every channel the same expected degree
        ``edge_probability * n_customers`` (binomial degrees).
    hidden_width : int, default=32
        Width of the two hidden layers of the feature network.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws (the network and the instances).

    Returns
    -------
    X : ndarray of shape (n_samples, n_channels * n_features)
        Channel features, flattened channel-major (channel 0's features,
        then channel 1's, ...): the layout of ``per_item=True``.
    y : ndarray of shape (n_samples, n_channels * n_customers)
        ``theta``, the channel-by-customer probability matrix flattened
        row-major, values in ``[0, max_probability]``.

    See Also
    --------
    make_diverse_recommendation : 0/1 coverage of topics by items.
    make_bipartite_matching : 0/1 edges of a bipartite matching.

    References
    ----------
    B. Wilder, B. Dilkina, M. Tambe. Melding the data-decisions pipeline:
    decision-focused learning for combinatorial optimization. AAAI 2019.

    Examples
    --------
    >>> from skdfl.datasets import make_budget_allocation
    >>> from skdfl.optimizers import CoverageMaximizer
    >>> X, y = make_budget_allocation(100, n_channels=10, n_customers=20, random_state=0)
    >>> X.shape, y.shape
    ((100, 80), (100, 200))
    >>> bool(y.min() >= 0.0 and y.max() <= 0.2)
    True
    >>> cover = CoverageMaximizer(k=3, n_items=10, n_targets=20)
    >>> cover.n_params == y.shape[1]
    True
    >>> cover.solve(y[:2]).sum(1)
    array([3., 3.])

    Heavy-tailed channel degrees, as in the paper's graphs:

    >>> X, y = make_budget_allocation(10, n_channels=100, n_customers=500,
    ...                               degree_shape=2.0, hidden_width=64, random_state=0)
    >>> degrees = (y.reshape(10, 100, 500) > 0).sum(2)
    >>> bool(degrees.max() > 3 * degrees.mean())
    True
    """
    _check_common(n_samples, n_features)
    check_scalar(n_channels, "n_channels", kind=numbers.Integral, low=1)
    check_scalar(n_customers, "n_customers", kind=numbers.Integral, low=1)
    check_scalar(edge_probability, "edge_probability", low=0.0, low_inclusive=False,
                 high=1.0)
    check_scalar(max_probability, "max_probability", low=0.0, low_inclusive=False, high=1.0)
    check_scalar(feature_noise, "feature_noise", low=0.0)
    check_scalar(degree_shape, "degree_shape", low=1.0, low_inclusive=False, allow_none=True)
    check_scalar(hidden_width, "hidden_width", kind=numbers.Integral, low=1)
    rng = check_random_state(random_state)
    widths = [n_customers, hidden_width, hidden_width, n_features]
    layers = [rng.normal(0.0, np.sqrt(2.0 / a), (a, b)) for a, b in zip(widths[:-1], widths[1:])]

    reach = edge_probability
    if degree_shape is not None:
        # Pareto weights of mean 1 (numpy's pareto is Lomax: 1 + it is Pareto with x_m = 1).
        weight = (1.0 + rng.pareto(degree_shape, (n_samples, n_channels, 1))) * (
            (degree_shape - 1.0) / degree_shape)
        reach = np.minimum(1.0, edge_probability * weight)
    edges = rng.uniform(size=(n_samples, n_channels, n_customers)) < reach
    theta = edges * rng.uniform(0.0, max_probability, (n_samples, n_channels, n_customers))
    # Inputs scaled to unit mean square (an entry is 0, or U[0, 1] with mean square 1/3),
    # which the ReLU layers with variance-2/fan_in weights keep: features of unit scale.
    h = theta / (max_probability * np.sqrt(edge_probability / 3.0))
    for i, W in enumerate(layers):
        h = h @ W
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    if feature_noise > 0:
        h = h + feature_noise * rng.normal(size=h.shape)
    return h.reshape(n_samples, -1), theta.reshape(n_samples, -1)


def make_diverse_recommendation(n_samples, n_items=50, n_topics=100, n_users=10, n_latent=4,
                                coverage_rate=0.05, label_noise=0.5, rating_noise=0.5,
                                random_state=None):
    """Diverse recommendation: which topics each item covers, from its ratings.

    A synthetic stand-in for the recommendation domain of Wilder, Dilkina
    and Tambe (2019), where items (movies) cover topics and the features of
    an item are ratings by users. Topics and users are fixed across
    instances; every instance draws ``n_items`` new items. Each item,
    topic and user has a standard normal latent vector of length
    ``n_latent`` (``z_i``, ``u_j``, ``v_u``). Item ``i`` covers topic ``j``
    when ``z_i . u_j / sqrt(n_latent) + label_noise * eps > t`` (``eps``
    standard normal, ``t`` chosen so that a pair is covered with
    probability ``coverage_rate``). User ``u`` rates item ``i``
    ``round(3 + z_i . v_u / sqrt(n_latent) + rating_noise * eps)``, clipped
    to ``1..5``: the ``n_users`` ratings are the item's features.

    Recommending ``k`` items that cover as many topics as possible is
    :class:`~skdfl.optimizers.CoverageMaximizer` ``(k, n_items=n_items,
    n_targets=n_topics)``; the coverage labels are 0/1, so the model is
    a :class:`~skdfl.DecisionFocusedClassifier`, which decides with the
    predicted probabilities (the expected number of topics covered).

    Parameters
    ----------
    n_samples : int
        Number of instances (rows).
    n_items : int, default=50
        Number of candidate items per instance.
    n_topics : int, default=100
        Number of topics.
    n_users : int, default=10
        Number of users who rate the items: the number of features per item.
    n_latent : int, default=4
        Length of the latent vectors.
    coverage_rate : float, default=0.05
        Probability that an item covers a given topic, in ``(0, 1)``.
    label_noise : float, default=0.5
        Noise of the coverage labels, relative to the latent score (>= 0).
    rating_noise : float, default=0.5
        Standard deviation of the noise of the ratings before rounding (>= 0).
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.

    Returns
    -------
    X : ndarray of shape (n_samples, n_items * n_users)
        Ratings (1.0 to 5.0), flattened item-major: the layout of
        ``per_item=True``.
    y : ndarray of shape (n_samples, n_items * n_topics)
        0/1 item-by-topic coverage matrix flattened row-major (int64).

    See Also
    --------
    make_budget_allocation : Probabilistic coverage of customers by channels.

    References
    ----------
    B. Wilder, B. Dilkina, M. Tambe. Melding the data-decisions pipeline:
    decision-focused learning for combinatorial optimization. AAAI 2019.

    Examples
    --------
    >>> from skdfl.datasets import make_diverse_recommendation
    >>> from skdfl.optimizers import CoverageMaximizer
    >>> X, y = make_diverse_recommendation(50, n_items=20, n_topics=10, random_state=0)
    >>> X.shape, y.shape
    ((50, 200), (50, 200))
    >>> sorted(set(y.ravel().tolist())), float(X.min()), float(X.max())
    ([0, 1], 1.0, 5.0)
    >>> cover = CoverageMaximizer(k=5, n_items=20, n_targets=10)
    >>> cover.n_params == y.shape[1]
    True
    >>> cover.solve(y[:2]).shape
    (2, 20)
    """
    _check_common(n_samples, n_users, "n_users")
    check_scalar(n_items, "n_items", kind=numbers.Integral, low=1)
    check_scalar(n_topics, "n_topics", kind=numbers.Integral, low=1)
    check_scalar(n_latent, "n_latent", kind=numbers.Integral, low=1)
    check_scalar(coverage_rate, "coverage_rate", low=0.0, low_inclusive=False, high=1.0)
    if coverage_rate == 1.0:
        raise ValueError("coverage_rate must be < 1.0 (every item would cover every topic); "
                         "got 1.0.")
    check_scalar(label_noise, "label_noise", low=0.0)
    check_scalar(rating_noise, "rating_noise", low=0.0)
    rng = check_random_state(random_state)
    scale = 1.0 / np.sqrt(n_latent)
    topics = rng.normal(size=(n_latent, n_topics))
    users = rng.normal(size=(n_latent, n_users))
    items = rng.normal(size=(n_samples, n_items, n_latent))
    y = _threshold_labels(scale * items @ topics, coverage_rate, label_noise, rng)
    ratings = 3.0 + scale * items @ users + rating_noise * rng.normal(
        size=(n_samples, n_items, n_users))
    X = np.clip(np.round(ratings), 1.0, 5.0)
    return X.reshape(n_samples, -1), y.reshape(n_samples, -1)


def make_bipartite_matching(n_samples, n_left=10, n_right=10, n_features=6, n_latent=4,
                            edge_probability=0.1, label_noise=0.5, feature_noise=0.5,
                            random_state=None):
    """Bipartite matching: which edges exist, from the features of their endpoints.

    A synthetic stand-in for the matching domain of Wilder, Dilkina and
    Tambe (2019) (there: pairs of papers of a citation network that cite
    each other). Every instance draws ``n_left + n_right`` new nodes with
    standard normal latent vectors of length ``n_latent``. Edge ``(i, j)``
    is present when ``a_i . b_j / sqrt(n_latent) + label_noise * eps > t``
    (``t`` chosen so that an edge is present with probability
    ``edge_probability``). A node's ``n_features`` observed features are
    its latent vector through a fixed random linear map (standard normal
    entries divided by ``sqrt(n_latent)``, shared by all instances) plus
    Gaussian noise of standard deviation ``feature_noise``. An edge's
    features are ``[f_i, f_j, f_i * f_j]``: the two endpoints' features and
    their elementwise product (``3 * n_features`` values).

    Matching as many present edges as possible is
    ``LinearProgram.bipartite_matching(n_left, n_right)``
    (:class:`~skdfl.optimizers.LinearProgram`), deciding with the predicted
    probabilities of the edges (a :class:`~skdfl.DecisionFocusedClassifier`).

    Parameters
    ----------
    n_samples : int
        Number of instances (rows).
    n_left, n_right : int, default=10
        Numbers of nodes on the two sides.
    n_features : int, default=6
        Number of observed features of a node.
    n_latent : int, default=4
        Length of the latent vectors.
    edge_probability : float, default=0.1
        Probability that an edge is present, in ``(0, 1)``.
    label_noise : float, default=0.5
        Noise of the presence of the edges, relative to the latent score (>= 0).
    feature_noise : float, default=0.5
        Standard deviation of the noise of the node features (>= 0).
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.

    Returns
    -------
    X : ndarray of shape (n_samples, n_left * n_right * 3 * n_features)
        Edge features, flattened edge-major with the edges in row-major
        order (``(0, 0), (0, 1), ...``): the layout of ``per_item=True``.
    y : ndarray of shape (n_samples, n_left * n_right)
        0/1 presence of the edges, row-major (int64): the variables of
        ``LinearProgram.bipartite_matching(n_left, n_right)``.

    See Also
    --------
    make_diverse_recommendation : 0/1 coverage of topics by items.

    References
    ----------
    B. Wilder, B. Dilkina, M. Tambe. Melding the data-decisions pipeline:
    decision-focused learning for combinatorial optimization. AAAI 2019.

    Examples
    --------
    >>> from skdfl.datasets import make_bipartite_matching
    >>> from skdfl.optimizers import LinearProgram
    >>> X, y = make_bipartite_matching(20, n_left=4, n_right=5, n_features=3, random_state=0)
    >>> X.shape, y.shape
    ((20, 180), (20, 20))
    >>> lp = LinearProgram.bipartite_matching(4, 5)
    >>> x = lp.solve(y[:3])
    >>> bool((x.reshape(3, 4, 5).sum(2) <= 1).all() and (x.reshape(3, 4, 5).sum(1) <= 1).all())
    True
    """
    _check_common(n_samples, n_features)
    check_scalar(n_left, "n_left", kind=numbers.Integral, low=1)
    check_scalar(n_right, "n_right", kind=numbers.Integral, low=1)
    check_scalar(n_latent, "n_latent", kind=numbers.Integral, low=1)
    check_scalar(edge_probability, "edge_probability", low=0.0, low_inclusive=False, high=1.0)
    if edge_probability == 1.0:
        raise ValueError("edge_probability must be < 1.0 (every edge would be present); "
                         "got 1.0.")
    check_scalar(label_noise, "label_noise", low=0.0)
    check_scalar(feature_noise, "feature_noise", low=0.0)
    rng = check_random_state(random_state)
    scale = 1.0 / np.sqrt(n_latent)
    projection = scale * rng.normal(size=(n_latent, n_features))
    left = rng.normal(size=(n_samples, n_left, n_latent))
    right = rng.normal(size=(n_samples, n_right, n_latent))
    y = _threshold_labels(scale * left @ right.transpose(0, 2, 1), edge_probability,
                          label_noise, rng)
    f_left = left @ projection + feature_noise * rng.normal(size=(n_samples, n_left, n_features))
    f_right = right @ projection + feature_noise * rng.normal(
        size=(n_samples, n_right, n_features))
    shape = (n_samples, n_left, n_right, n_features)
    a = np.broadcast_to(f_left[:, :, None, :], shape)
    b = np.broadcast_to(f_right[:, None, :, :], shape)
    X = np.concatenate([a, b, a * b], axis=-1)
    return X.reshape(n_samples, -1), y.reshape(n_samples, -1)
