"""Real electricity prices for the energy-aware knapsack benchmark."""

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

N_SLOTS = 48
SLOT_FEATURES = 8


def load_energy_knapsack(*, return_X_y=False):
    """Load the energy-price knapsack data: one row per day, 48 half-hour slots.

    Each day is one decision instance: 48 slots with 8 features each
    (flattened slot-major, ready for ``per_item=True``) and the 48 prices to
    predict. The benchmark decision picks slots maximizing the total price
    under ``sum(weights * x) <= capacity``, i.e. ``Knapsack(weights,
    capacity)``. Read more in ``DESCR``.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (789, 384) features; ``target`` (789, 48) prices;
        ``weights`` (48,) integer slot weights; ``train_mask`` (789,) the
        days of the original training period; ``feature_names`` (384,);
        ``DESCR`` the description with the licence attribution.
    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skdfl.datasets import load_energy_knapsack
    >>> energy = load_energy_knapsack()
    >>> energy.data.shape, energy.target.shape, energy.weights.shape
    ((789, 384), (789, 48), (48,))
    >>> int(energy.train_mask.sum())
    552
    """
    folder = resources.files("skdfl.datasets") / "data"
    with resources.as_file(folder / "energy_knapsack.npz") as path, np.load(path) as raw:
        X_slots = np.concatenate([raw["X_1gtrain"], raw["X_1gtest"]])[:, 1:]
        prices = np.concatenate([raw["y_train"], raw["y_test"]])
        weights = raw["weights"].astype(np.int64)
        n_train_days = len(raw["y_train"]) // N_SLOTS
    n_days = len(prices) // N_SLOTS
    data = X_slots.reshape(n_days, N_SLOTS * SLOT_FEATURES)
    target = prices.reshape(n_days, N_SLOTS)
    if return_X_y:
        return data, target
    names = np.array([f"slot{s}_feature{f}" for s in range(N_SLOTS)
                      for f in range(SLOT_FEATURES)], dtype=object)
    return Bunch(data=data, target=target, weights=weights,
                 train_mask=np.arange(n_days) < n_train_days, feature_names=names,
                 DESCR=(folder / "energy_knapsack.rst").read_text())
