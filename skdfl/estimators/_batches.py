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
        n = len(self.X)
        order = torch.randperm(n) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            yield dense_tensor(self.X[index]), self.y[index]
