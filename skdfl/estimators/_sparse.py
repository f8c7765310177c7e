"""Sparse features: kept sparse in memory, densified one batch at a time.

A one-hot or text feature matrix can be far larger dense than sparse; the
network needs dense rows only for the batch it is working on.
"""

import numpy as np
import scipy.sparse as sp
import torch


class SparseRows:
    """Rows of a CSR matrix that index like a tensor and densify when moved to a device.

    ``rows[index]`` is again a ``SparseRows`` (no copy of the other rows);
    ``dense_tensor(rows, device)`` gives the float32 tensor the network takes.

    Parameters
    ----------
    matrix : scipy.sparse matrix or array
        The features, one instance per row.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from skdfl.estimators._sparse import SparseRows, dense_tensor
    >>> rows = SparseRows(sp.eye(4, format="csr"))
    >>> len(rows), rows.shape
    (4, (4, 4))
    >>> dense_tensor(rows[[1, 3]])
    tensor([[0., 1., 0., 0.],
            [0., 0., 0., 1.]])
    """

    def __init__(self, matrix):
        self.matrix = sp.csr_matrix(matrix, dtype=np.float32)

    def __len__(self):
        return self.matrix.shape[0]

    @property
    def shape(self):
        return self.matrix.shape

    def __getitem__(self, index):
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        return SparseRows(self.matrix[index])


def as_features(X):
    """The network's input for validated ``X``: a float32 tensor, or ``SparseRows``."""
    if sp.issparse(X):
        return SparseRows(X)
    return torch.tensor(X, dtype=torch.float32)


def dense_tensor(X, device=None):
    """``X`` (tensor, ``SparseRows``, scipy sparse or ndarray) as a dense float32 tensor."""
    if isinstance(X, SparseRows):
        X = X.matrix
    if sp.issparse(X):
        X = X.toarray()
    if not isinstance(X, torch.Tensor):
        X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    return X if device is None else X.to(device)
