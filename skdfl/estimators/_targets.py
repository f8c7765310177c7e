"""The one target tensor skorch carries: true parameters, their decisions, the row.

skorch slices a single target tensor into mini-batches. It holds, side by
side, the true parameters, their optimal decisions and each row's index in
the training data; the index finds the batch's per-instance problem data
(a capacity per row, say) and its rows' weights (``sample_weight``), which
stay in their own dtype on the device. When training from observed
decisions (``targets="decisions"``) there are no parameters: ``theta`` has
width 0 and unpacks as None.
"""

import torch

from ..optimizers._instance import take_rows

# Row indices travel as float32, exact up to 2**24.
MAX_ROWS = 1 << 24


def pack_target(theta, x_true):
    """``[theta, x_true, row index]`` as one float32 tensor (``theta`` may be None)."""
    n = x_true.shape[0]
    if n > MAX_ROWS:
        raise ValueError(f"fit takes at most {MAX_ROWS} instances (rows) at once; got {n}.")
    dtype = x_true.dtype if theta is None else theta.dtype
    rows = torch.arange(n, dtype=dtype, device=x_true.device).unsqueeze(1)
    parts = [x_true.to(dtype), rows] if theta is None else [theta, x_true.to(dtype), rows]
    return torch.cat(parts, dim=1).float()


class TargetLayout:
    """Where theta, the decisions and the row index sit in a packed target.

    Parameters
    ----------
    n_params, n_vars : int
        Widths of theta (0 when there are none) and of a decision.
    params : dict of Tensor
        The per-instance parameters of every training row, on the device.
    weights : Tensor of shape (n_rows,) or None
        The weight of every training row (``sample_weight``), on the device.
    """

    def __init__(self, n_params, n_vars, params, weights=None):
        self.n_params, self.n_vars, self.params = n_params, n_vars, params
        self.weights = weights

    def unpack(self, target):
        """``theta, x_true, params`` of a batch of packed targets."""
        theta = target[:, :self.n_params] if self.n_params else None
        x_true = target[:, self.n_params:self.n_params + self.n_vars]
        if not self.params:
            return theta, x_true, {}
        rows = target[:, -1].long()
        return theta, x_true, take_rows(self.params, rows.to(_device_of(self.params)))

    def row_weights(self, target):
        """The weights of a batch's rows, or None without ``sample_weight``."""
        if self.weights is None:
            return None
        return self.weights[target[:, -1].long().to(self.weights.device)]

    def batch_loss(self, loss, theta_hat, target, solver):
        """``loss`` on a batch of packed targets: weighted by its rows' weights where given."""
        theta, x_true, params = self.unpack(target)
        weight = self.row_weights(target)
        if weight is not None:
            return loss.weighted_loss(weight, theta_hat, theta, x_true, solver, **params)
        return loss.batch_loss(theta_hat, theta, x_true, solver, **params)


def _device_of(params):
    return next(iter(params.values())).device
