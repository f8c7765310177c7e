"""Shared cases for the pool losses (contrastive, ranking): tiny problems and plain loops."""

import itertools

import numpy as np
import torch

from skdfl.optimizers import KSubset, ShortestPath


def k_subsets(n, k):
    """Every k-subset of n items as 0/1 rows, shape (C(n, k), n)."""
    return np.array([[1.0 if i in c else 0.0 for i in range(n)]
                     for c in itertools.combinations(range(n), k)])


def brute_force_k_subset(theta, k):
    """Best k-subset of each row by enumeration (maximize): the independent oracle."""
    subsets = k_subsets(theta.shape[1], k)
    return subsets[np.argmax(theta @ subsets.T, axis=1)]


def as_set(rows):
    return {tuple(float(v) for v in row) for row in np.asarray(rows)}


def tiny_case(sense, seed):
    """(optimizer, theta, theta_hat, x_true, initial pool, expected pool) of a tiny problem.

    The expected pool holds the initial entries, the true decisions and the
    decisions under ``theta_hat``, each once: what the pool is after one call.
    """
    rng = np.random.RandomState(seed)
    if sense == "maximize":
        optimizer = KSubset(k=2, n_items=5)
        theta = rng.normal(size=(4, 5))
        theta_hat = rng.normal(size=(4, 5))
        initial = k_subsets(5, 2)[rng.choice(10, size=4, replace=False)]
        x_true = brute_force_k_subset(theta, 2)
        x_hat = brute_force_k_subset(theta_hat, 2)
    else:
        optimizer = ShortestPath(grid=(3, 3))
        theta = rng.uniform(0.5, 2.0, size=(4, 12))
        theta_hat = rng.uniform(0.5, 2.0, size=(4, 12))
        initial = np.asarray(optimizer.solve(rng.uniform(0.5, 2.0, size=(3, 12))))
        x_true = np.asarray(optimizer.solve(theta))
        x_hat = np.asarray(optimizer.solve(theta_hat))
    expected = np.array(sorted(as_set(np.vstack([initial, x_true, x_hat]))))
    return optimizer, theta, theta_hat, x_true, initial, expected


def mixed_pool_case(seed, n=5):
    """Per-row k and a pool of subsets of every size: the mask must matter."""
    rng = np.random.RandomState(seed)
    k = rng.randint(1, n, size=6)
    theta = rng.normal(size=(6, n))
    theta_hat = rng.normal(size=(6, n))
    x_true = np.array([brute_force_k_subset(theta[i:i + 1], k[i])[0] for i in range(6)])
    x_hat = np.array([brute_force_k_subset(theta_hat[i:i + 1], k[i])[0] for i in range(6)])
    initial = np.vstack([k_subsets(n, size)[:3] for size in range(1, n)])
    pool = np.array(sorted(as_set(np.vstack([initial, x_true, x_hat]))))
    feasible = pool.sum(1)[None, :] == k[:, None]
    return k, theta, theta_hat, x_true, initial, pool, feasible


def per_row_loop(row_loss, theta_hat, theta, x_true, pool, feasible=None):
    """Mean over instances of ``row_loss(theta_hat_i, theta_i, x_true_i, entries_i)``.

    ``entries_i`` lists the pool entries that suit row i (all when
    ``feasible`` is None), one plain loop over instances.
    """
    values = []
    for i in range(len(theta_hat)):
        entries = [d for j, d in enumerate(pool) if feasible is None or feasible[i][j]]
        values.append(row_loss(theta_hat[i], theta[i], x_true[i], entries))
    return float(np.mean(values))


def call(loss, theta_hat, theta, x_true, **params):
    """The loss at numpy inputs, with its gradient wrt ``theta_hat`` (numpy)."""
    t = torch.tensor(theta_hat, requires_grad=True)
    value = loss(t, torch.as_tensor(theta), torch.as_tensor(x_true), **params)
    value.backward()
    return float(value.detach()), t.grad.numpy()


def pool_rows(loss):
    return loss.pool.decisions.numpy()
