"""Conversion between the numpy world of scikit-learn and the torch kernels."""

import numpy as np
import torch

from ._validation import check_finite


def converted(tensor, dtype=None, device=None):
    """``tensor.to(dtype, device)``, or ``tensor`` itself where that would change nothing.

    A ``to`` that changes nothing still costs a dispatch, and the kernels that
    call this run once per batch on small tensors.

    Examples
    --------
    >>> import torch
    >>> from skdfl._tensor import converted
    >>> t = torch.zeros(2)
    >>> converted(t, torch.float32) is t, converted(t, torch.float64).dtype
    (True, torch.float64)
    """
    if (dtype is None or tensor.dtype == dtype) and (device is None or tensor.device == device):
        return tensor
    return tensor.to(device=device, dtype=dtype)


def as_batch(values, name, *, width=None, dtype=None, device=None, finite=True):
    """Turn a numpy or torch array of instances into a 2-D float tensor.

    Parameters
    ----------
    values : array-like or Tensor of shape (n_instances, width) or (width,)
        One instance per row; a 1-D input is a single instance.
    name : str
        The argument's name, used in error messages.
    width : int, optional
        The required number of columns.
    dtype : torch.dtype, optional
        The floating dtype of the result; default keeps a tensor's float
        dtype and takes float64 for numpy input.
    device : torch.device, optional
        Where the result lives; default keeps a tensor's device.
    finite : bool, default=True
        Whether NaN and inf raise ``ValueError`` (False leaves them to the
        caller: a model's predictions, which training layers propagate).

    Returns
    -------
    batch : Tensor of shape (n_instances, width)
    restore : callable
        Maps a result tensor with one row per instance back to the kind and
        dimensionality of ``values`` (numpy in, numpy out).
    """
    is_tensor = isinstance(values, torch.Tensor)
    if is_tensor:
        batch = values
        if batch.is_complex():
            raise TypeError(f"{name} must be a real tensor; got dtype {batch.dtype}.")
    else:
        array = np.asarray(values)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real numeric array; got dtype {array.dtype}.")
        batch = torch.tensor(array, dtype=torch.float64)  # a copy: inputs stay untouched
    if batch.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (one instance) or 2-D (one instance per row); "
                         f"got an array with shape {tuple(batch.shape)}.")
    single = batch.ndim == 1
    if single:
        batch = batch.unsqueeze(0)
    if width is not None and batch.shape[1] != width:
        raise ValueError(f"{name} must have {width} columns (one per parameter); "
                         f"got shape {tuple(batch.shape)}.")
    if not batch.is_floating_point():
        batch = batch.to(torch.float64)
    if dtype is not None or device is not None:
        batch = batch.to(dtype=dtype or batch.dtype, device=device or batch.device)
    if finite:
        check_finite(batch, name)

    def restore(result):
        if single:
            result = result[0]
        if is_tensor:
            return result
        return result.detach().cpu().numpy()

    return batch, restore
