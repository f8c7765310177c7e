"""The one target tensor skorch carries: true parameters, their decisions, the row.

skorch slices a single target tensor into mini-batches. It holds, side by
side, the true parameters, their optimal decisions and each row's index in
the training data; the index finds the batch's per-instance problem data
(a capacity per row, say), which stays in its own dtype on the device.
"""

import torch

from ..optimizers._instance import take_rows

# Row indices travel as float32, exact up to 2**24.
MAX_ROWS = 1 << 24


def pack_target(theta, x_true):
    """``[theta, x_true, row index]`` as one float32 tensor."""
    n = theta.shape[0]
    if n > MAX_ROWS:
        raise ValueError(f"fit takes at most {MAX_ROWS} instances (rows) at once; got {n}.")
    rows = torch.arange(n, dtype=theta.dtype, device=theta.device).unsqueeze(1)
    return torch.cat([theta, x_true.to(theta.dtype), rows], dim=1).float()


class TargetLayout:
    """Where theta, the decisions and the row index sit in a packed target.

    Parameters
    ----------
    n_params, n_vars : int
        Widths of theta and of a decision.
    params : dict of Tensor
        The per-instance parameters of every training row, on the device.
    """

    def __init__(self, n_params, n_vars, params):
        self.n_params, self.n_vars, self.params = n_params, n_vars, params

    def unpack(self, target):
        """``theta, x_true, params`` of a batch of packed targets."""
        theta = target[:, :self.n_params]
        x_true = target[:, self.n_params:self.n_params + self.n_vars]
        if not self.params:
            return theta, x_true, {}
        rows = target[:, -1].long()
        return theta, x_true, take_rows(self.params, rows.to(_device_of(self.params)))


def _device_of(params):
    return next(iter(params.values())).device
