"""``sample_weight``: checked once, then a weight per row travels with the training data.

In training each instance's loss is multiplied by its weight and a batch's
loss is the weighted mean ``sum_i w_i l_i / sum_i w_i`` (as
``sklearn.neural_network.MLPRegressor`` does), through
:meth:`skdfl.methods.DecisionLoss.weighted_loss`; in scoring each
instance's regret is.
"""

import numpy as np

from .._sample_weight import check_sample_weight

__all__ = ["check_sample_weight", "weighted_mean_abs"]


def weighted_mean_abs(y, weights):
    """Mean ``|y|``, each row counted by its weight (the plain mean without weights)."""
    if weights is None:
        return float(np.mean(np.abs(y)))
    return float(np.average(np.abs(y).mean(axis=1), weights=weights))
