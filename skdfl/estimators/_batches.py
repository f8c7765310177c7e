"""Mini-batches by slicing whole tensors, instead of a DataLoader collating samples."""

import torch

from ._sparse import dense_tensor


class TensorBatches:
    """Iterate over ``(X, y)`` mini-batches of a skorch ``Dataset`` of tensors.

    skorch's default ``DataLoader`` fetches and collates one sample at a time,
    which costs more than a whole training step of a small model. Slicing the
    tensors once per batch gives the same batches at a fraction of the cost.
    The order is drawn from torch's global generator, which the estimator
    seeds inside a forked random state, so runs stay reproducible.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Holds tensors ``X`` and ``y`` (``X`` may be sparse rows, densified per batch).
    batch_size : int
        Rows per batch (the last batch may be smaller).
    shuffle : bool, default=False
        Draw a new random order on every pass.
    """

    def __init__(self, dataset, batch_size, shuffle=False, **kwargs):
        self.X = dataset.X
        self.y = dataset.y
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return -(-len(self.X) // self.batch_size)

    def __iter__(self):
        X, y = self.X, self.y
        if self.shuffle:
            # Reorder once per pass and slice views: one gather of the whole
            # data costs less than a small gather per batch.
            order = torch.randperm(len(X))
            X, y = _reordered(X, order), _reordered(y, order)
        for start in range(0, len(X), self.batch_size):
            stop = start + self.batch_size
            yield dense_tensor(X[start:stop]), y[start:stop]


def _reordered(rows, order):
    """``rows[order]``: a tensor gathered on its device, or reindexed ``SparseRows``."""
    if isinstance(rows, torch.Tensor):
        return rows.index_select(0, order.to(rows.device))
    return rows[order]
