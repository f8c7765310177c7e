"""Input checks shared by every public entry point.

Each check raises an error that names the argument, what was expected and
what came, so that a user can fix the call without reading the source.
"""

import math
import numbers

import numpy as np
import scipy.sparse as sp
import torch


def check_finite(values, name):
    """Raise ``ValueError`` if ``values`` holds NaN or inf.

    Parameters
    ----------
    values : ndarray, Tensor or scipy sparse matrix
        The array to check (of a sparse matrix, its stored entries).
    name : str
        The argument's name, used in the message.
    """
    if sp.issparse(values):
        coo = sp.coo_matrix(values)
        bad = ~np.isfinite(coo.data)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            _raise_not_finite(name, int(bad.sum()), (int(coo.row[first]), int(coo.col[first])))
        return
    if isinstance(values, torch.Tensor):
        if finite_sum(values):
            return
        bad = ~torch.isfinite(values)
        if bool(bad.any()):
            first = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
            _raise_not_finite(name, int(bad.sum()), first)
        return
    values = np.asarray(values)
    if values.dtype.kind in "fc":
        bad = ~np.isfinite(values)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            _raise_not_finite(name, int(bad.sum()), first)


def finite_sum(values):
    """Whether a tensor's sum is finite, which clears every entry of it.

    NaN and inf reach the sum, and one reduction costs a fraction of a
    boolean mask of the whole tensor. False is not a verdict: a sum of
    finite values can overflow, so look at the entries then. Integer
    tensors are always finite.
    """
    if values.is_complex():
        return bool(torch.isfinite(values.sum()))
    # (math.isfinite of the read sum: torch.isfinite is several operations)
    return not values.is_floating_point() or math.isfinite(values.sum().item())


def _raise_not_finite(name, count, first):
    raise ValueError(
        f"{name} must contain only finite values (no NaN or inf); got {count} "
        f"non-finite entries, the first at index {first}."
    )


def check_scalar(value, name, *, kind=numbers.Real, low=None, high=None,
                 low_inclusive=True, allow_none=False):
    """Check a scalar hyperparameter and return it.

    Parameters
    ----------
    value : object
        The value given by the user.
    name : str
        The parameter's name, used in the message.
    kind : type or tuple of type, default=numbers.Real
        Accepted types (booleans are always rejected).
    low, high : float, optional
        Bounds; ``low`` is inclusive unless ``low_inclusive=False``,
        ``high`` is inclusive.
    low_inclusive : bool, default=True
        Whether ``low`` itself is allowed.
    allow_none : bool, default=False
        Whether ``None`` is accepted.

    Returns
    -------
    value : object
        The value, unchanged.
    """
    if value is None and allow_none:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        kind_name = _kind_name(kind)
        article = "an" if kind_name[0] in "aeiou" else "a"
        raise TypeError(f"{name} must be {article} {kind_name}; got {value!r} "
                        f"of type {type(value).__name__}.")
    if isinstance(value, numbers.Real) and not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        bound = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {bound} {low}; got {value!r}.")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}; got {value!r}.")
    return value


def _kind_name(kind):
    if kind is numbers.Integral:
        return "integer"
    if kind is numbers.Real:
        return "real number"
    if isinstance(kind, tuple):
        return " or ".join(_kind_name(k) for k in kind)
    return kind.__name__


def check_flag(value, name):
    """``value`` itself if it is a bool; a ``TypeError`` naming ``name`` otherwise."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False; got {value!r}.")
    return value


def check_option(value, name, options):
    """Raise ``ValueError`` unless ``value`` is one of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}; got {value!r}.")
    return value


def check_numeric(values, name):
    """``values`` as a float64 ndarray, or a ``ValueError`` naming the first non-number.

    Complex arrays are returned as they are, for scikit-learn's own check.

    Strings are refused even when they spell numbers: a column read as text
    is a mistake to fix where the data are loaded, not to guess at here.

    Examples
    --------
    >>> from skdfl._validation import check_numeric
    >>> check_numeric([[1, 2.5]], "y")
    array([[1. , 2.5]])
    >>> check_numeric([["1.0", "cheap"]], "y")
    Traceback (most recent call last):
    ...
    ValueError: y must hold numbers; got an array of dtype <U5 with '1.0' at index (0, 0).
    """
    if hasattr(values, "to_numpy"):   # pandas
        values = values.to_numpy()
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return array.astype(np.float64, copy=False)
    if array.dtype.kind == "c":
        return array   # scikit-learn's own check refuses complex data
    if array.dtype.kind == "O":
        for index, item in np.ndenumerate(array):
            if isinstance(item, (str, bytes)) or not isinstance(item, numbers.Real):
                raise ValueError(f"{name} must hold numbers; got an array of dtype object with "
                                 f"{item!r} at index {tuple(int(i) for i in index)}.")
        return array.astype(np.float64)
    first = array.flat[0] if array.size else None
    where = " at index " + str((0,) * array.ndim) if array.size else ""
    shown = first.item() if hasattr(first, "item") else first
    raise ValueError(f"{name} must hold numbers; got an array of dtype {array.dtype} with "
                     f"{shown!r}{where}.")
