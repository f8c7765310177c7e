"""Per-instance problem data: checks and row bookkeeping shared by the optimizers.

An optimizer lists in ``instance_params`` the constructor arguments that an
instance may override (today's capacity, this campaign's budget ``k``). They
travel as keyword arrays whose first axis is the instance; these helpers turn
one into a checked tensor and report the first bad row, never the whole array.
"""

import numpy as np
import torch


def instance_tensor(value, name, n_instances, *, tail=(), integer=False, boolean=False,
                    low=None, high=None, high_note=None, device=None,
                    dtype=torch.float64):
    """Check one per-instance array and return it as a tensor.

    Parameters
    ----------
    value : array-like or Tensor of shape (n_instances, *tail)
        The values, one row per instance.
    name : str
        The argument's name, used in error messages.
    n_instances : int
        The number of instances (rows of ``theta``).
    tail : tuple of int, default=()
        The shape of one instance's value (``()`` for a scalar per instance).
    integer : bool, default=False
        Whether the values must be whole numbers.
    boolean : bool, default=False
        Whether the values are True/False flags (0/1 are accepted too).
    low, high : float, optional
        Inclusive bounds of every entry.
    high_note : str, optional
        What ``high`` is, for the message ("the number of items").
    device : torch.device, optional
        Where the result lives (default: where a tensor already is, else CPU).
    dtype : torch.dtype, default=torch.float64
        The result's dtype (``torch.bool`` for flags).

    Returns
    -------
    values : Tensor of shape (n_instances, *tail)
    """
    expected = (n_instances, *tail)
    if isinstance(value, torch.Tensor):
        array = value.detach()
        kind = "b" if array.dtype == torch.bool else (
            "f" if array.is_floating_point() else ("c" if array.is_complex() else "i"))
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be an array of shape {expected} (one row per "
                             f"instance); got {type(value).__name__}.") from exc
        kind = array.dtype.kind
    if kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, one row per instance; got dtype "
                         f"{array.dtype}.")
    if tuple(array.shape) != expected:
        what = "one entry" if not tail else f"one value of shape {tail}"
        raise ValueError(f"{name} must have shape {expected}: {what} per instance "
                         f"({n_instances} instances); got shape {tuple(array.shape)}.")
    tensor = torch.as_tensor(array, device=device)
    if boolean:
        if tensor.dtype != torch.bool:        # flags given as numbers: 0/1 only
            bad = (tensor != 0) & (tensor != 1)
            _raise_first(bad, name, tensor, "must hold True/False (or 0/1) flags")
        return tensor.to(dtype=torch.bool)
    # Integer input is finite and whole already: only its range needs a look.
    if kind == "b":
        tensor = tensor.to(torch.long)
    if kind not in "biu":
        tensor = tensor.to(torch.float64)
        _raise_first(~torch.isfinite(tensor), name, tensor, "must be finite")
        if integer:
            _raise_first(tensor != tensor.round(), name, tensor, "must hold whole numbers")
    if (low is not None or high is not None) and tensor.numel():
        # One reduction for both bounds; the rows are searched only when one is crossed.
        smallest, largest = (float(v) for v in torch.aminmax(tensor))
        if low is not None and smallest < low:
            _raise_first(tensor < low, name, tensor, f"must be >= {low:g}")
        if high is not None and largest > high:
            note = f" ({high_note})" if high_note else ""
            _raise_first(tensor > high, name, tensor, f"must be <= {high:g}{note}")
    return tensor.to(dtype)


def first_bad_row(bad):
    """Index of the first instance (row) where the boolean ``bad`` has a True, or None."""
    per_row = bad.reshape(bad.shape[0], -1).any(1) if bad.ndim > 1 else bad
    rows = torch.nonzero(per_row)
    return None if rows.numel() == 0 else int(rows[0, 0])


def _raise_first(bad, name, values, requirement):
    if not bool(bad.any()):                   # one cheap reduction in the common case
        return
    row = first_bad_row(bad)
    if row is None:
        return
    entry = values[row] if values.ndim == 1 else values[row][bad[row]][0]
    raise ValueError(f"{name} {requirement}; got {_number(entry)} in row {row} (instance "
                     f"{row}), the first bad one of {int(bad.reshape(len(bad), -1).any(1).sum())}"
                     f" bad row(s).")


def _number(value):
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def take_rows(params, index):
    """The per-instance parameters of the rows ``index`` (a slice or index tensor)."""
    return {name: value[index] for name, value in params.items()}


def repeat_rows(params, times):
    """Parameters for a batch stacked ``times`` times (sample-major, as ``reshape``)."""
    if times == 1:
        return params
    return {name: value.repeat(times, *([1] * (value.ndim - 1)))
            for name, value in params.items()}


def params_to(params, device):
    """Move every per-instance tensor to ``device``."""
    return {name: value.to(device) for name, value in params.items()}
