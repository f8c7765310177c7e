"""Choose exactly k of n items with the largest values."""

import numbers

import numpy as np
import torch
from sklearn.base import clone

from .._validation import check_scalar
from ._base import Optimizer
from ._instance import instance_tensor
from ._linear_program import LinearProgram

# Widest batch whose per-row budgets read a cached (n + 1, n) 0/1 staircase.
_STAIRS_MAX = 512


class KSubset(Optimizer):
    """Choose exactly ``k`` of ``n`` items, maximizing ``theta @ x``.

    Parameters
    ----------
    k : int
        The number of items to choose.
    n_items : int, optional
        The number of items. When ``None`` it is taken from the data: the
        width of ``y`` in ``fit``, or of ``theta`` in ``solve``.

    Notes
    -----
    Per-instance parameter (``instance_params``): ``k`` of shape
    ``(n_instances,)``, whole numbers from 0 to the number of items, this
    instance's budget. A batch with budgets per row is solved by one ``topk``
    of the batch's largest budget and a per-row threshold on the ranks; among
    equal values, which items a row takes is ``topk``'s choice (a row whose
    budget is the batch's largest gets the fixed path's decision).

    Examples
    --------
    >>> import numpy as np
    >>> from skdfl.optimizers import KSubset
    >>> KSubset(k=2).solve(np.array([[3.0, -1.0, 2.0, 0.5]]))
    array([[1., 0., 1., 0.]])
    >>> KSubset(k=2).solve(np.array([[3.0, -1.0, 2.0], [3.0, -1.0, 2.0]]), k=[1, 3])
    array([[1., 0., 0.],
           [1., 1., 1.]])
    """

    sense = "maximize"
    is_linear = True
    instance_params = ("k",)

    def __init__(self, k, n_items=None):
        self.k = k
        self.n_items = n_items

    @property
    def n_params(self):
        if self.n_items is not None:
            check_scalar(self.n_items, "n_items", kind=numbers.Integral, low=1)
        return self.n_items

    @property
    def n_vars(self):
        return self.n_params

    def with_n_params(self, n_params, name="y"):
        if self.n_items is None:
            return self._bound(n_params, name)
        return super().with_n_params(n_params, name)

    def _bound(self, n_items, name):
        # Cached, so that what the bound copy derives (its relaxation's
        # factors) is built once per width rather than once per call.
        bound = self._cached(("bound", n_items), lambda: clone(self).set_params(n_items=n_items))
        bound._check_k(name)
        return bound

    def _check_k(self, name):
        check_scalar(self.k, "k", kind=numbers.Integral, low=1)
        if self.k > self.n_items:
            raise ValueError(f"k must be at most the number of items; got k={self.k} and "
                             f"{self.n_items} items (the columns of {name}).")

    def _check_instance_params(self, params, n_instances, device):
        n_items = self.n_params
        if n_items is None:
            raise ValueError("a per-instance k needs n_items (or the width of the data); got "
                             "n_items=None.")
        return {"k": instance_tensor(params["k"], "k", n_instances, integer=True, low=0,
                                     high=n_items, high_note="the number of items",
                                     device=device, dtype=torch.long)}

    def _solve(self, theta, k=None):
        if self.n_items is None:
            return self._bound(theta.shape[1], "theta")._solve(theta, k=k)
        if k is None:
            self._check_k("theta")
            top = theta.topk(self.k, dim=-1).indices
            return theta.new_zeros(theta.shape).scatter_(-1, top, 1.0)
        # A budget per row: the batch's largest budget by the same topk as
        # the fixed path (a row with that budget gets exactly its decision),
        # of which each row keeps its first k, in topk's order.
        k = k.to(theta.device)
        most = int(k.max()) if k.numel() else 0
        top = theta.topk(most, dim=-1).indices
        return theta.new_zeros(theta.shape).scatter_(-1, top, self._leading_ones(k, theta))

    def _leading_ones(self, k, like):
        """0/1 rows in ``like``'s dtype and width, ``k[i]`` leading ones in row ``i``.

        Up to ``_STAIRS_MAX`` items, rows of a cached staircase (one index
        read, no comparison and cast per call: this is most of a small
        batch's cost).
        """
        n, device = like.shape[1], like.device
        if n > _STAIRS_MAX:
            return (torch.arange(n, device=device) < k.unsqueeze(-1)).to(like.dtype)
        stairs = self._cached(("stairs", n, like.dtype, device), lambda: (
            torch.arange(n, device=device) < torch.arange(n + 1, device=device).unsqueeze(-1)
        ).to(like.dtype))
        return stairs.index_select(0, k)

    def pool_feasible(self, decisions, k=None):
        """A pooled decision suits a row when it takes exactly that row's k items."""
        if k is None:
            return None
        return decisions.sum(-1).unsqueeze(0) == k.to(decisions).unsqueeze(-1)

    def _lp_params(self, params):
        if "k" in params:
            return {"b_eq": params["k"].to(torch.float64).unsqueeze(-1)}
        return {}

    def lp_form(self):
        """The linear program ``max theta @ x, sum(x) = k, 0 <= x <= 1``.

        Its polytope is integral, so its vertices are the k-subsets; ``relax``
        uses its quadratic relaxation. Needs ``n_items`` (``relax`` binds it to
        the width of ``theta``).

        Returns
        -------
        lp : LinearProgram
        """
        if self.n_items is None:
            raise ValueError("lp_form needs n_items; got n_items=None (relax and fit take "
                             "it from the data).")
        self._check_k("n_items")
        return LinearProgram(A_eq=np.ones((1, self.n_items)), b_eq=[float(self.k)],
                             bounds=(0, 1), sense="maximize")
