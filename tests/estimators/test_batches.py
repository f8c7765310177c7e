"""TensorBatches: the estimators' mini-batches, sliced from whole tensors."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from skorch.dataset import Dataset

from skdfl.estimators._batches import TensorBatches
from skdfl.estimators._sparse import SparseRows, dense_tensor


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_cover_every_row_once_with_features_and_targets_aligned(sparse, shuffle):
    X = np.arange(23 * 3, dtype=np.float32).reshape(23, 3)
    y = torch.arange(23, dtype=torch.float32).unsqueeze(-1) * 10
    rows = SparseRows(sp.csr_matrix(X)) if sparse else torch.as_tensor(X)
    batches = TensorBatches(Dataset(rows, y), batch_size=5, shuffle=shuffle)
    torch.manual_seed(0)
    seen = list(batches)
    assert len(seen) == len(batches) == 5
    assert [len(b[0]) for b in seen] == [5, 5, 5, 5, 3]
    features = torch.cat([b[0] for b in seen])
    targets = torch.cat([b[1] for b in seen])[:, 0]
    order = (targets / 10).long()
    # Every row once, each batch's features the rows of its targets.
    assert sorted(order.tolist()) == list(range(23))
    np.testing.assert_array_equal(features.numpy(), X[order.numpy()])
    if shuffle:
        assert order.tolist() != list(range(23))
        # The order is torch's random permutation: the same seed, the same batches.
        torch.manual_seed(0)
        assert torch.equal(torch.cat([b[1] for b in batches]), targets.unsqueeze(-1))
        torch.manual_seed(0)
        assert torch.equal(order, torch.randperm(23))   # one draw of torch's global generator
    else:
        assert order.tolist() == list(range(23))
    assert all(isinstance(dense_tensor(b[0]), torch.Tensor) for b in seen)
