"""``sample_weight`` checked the same way by the estimators and the regret."""

import numbers

import numpy as np


def check_sample_weight(sample_weight, n_samples, name="sample_weight"):
    """``sample_weight`` as a float64 array of shape (n_samples,), or None when not given.

    A number is one weight for every row. Weights must be finite, non-negative
    and not all zero; a ``ValueError`` names the first bad row.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        weights = np.full(n_samples, float(sample_weight))
    else:
        if hasattr(sample_weight, "to_numpy"):   # pandas, without its index
            sample_weight = sample_weight.to_numpy()
        try:
            weights = np.asarray(sample_weight, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric, one weight per row; got "
                             f"{type(sample_weight).__name__} that is not.") from exc
        if weights.shape != (n_samples,):
            raise ValueError(f"{name} must have shape ({n_samples},), one weight per row of "
                             f"X; got shape {weights.shape}.")
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite and non-negative; got {weights[row]} at "
                         f"row {row}.")
    if n_samples and not weights.any():
        raise ValueError(f"{name} must not be all zero: no instance would count.")
    return weights
