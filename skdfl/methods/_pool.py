"""A solution pool: decisions seen so far, and "solving" by picking the best of them.

Solution caching (Mulamba et al., IJCAI 2021): an exact solve is expensive
for an integer program, while the decisions seen during training (the
training set's optima, then every solve's result) are a good inner
approximation of the feasible set. With ``solve_ratio < 1`` a batch is
solved by the optimizer only with that probability; otherwise each instance
takes the pool's best decision under its parameters, which for a linear
objective is one batched product and an arg-max.
"""

import numbers

import numpy as np
import torch

from .._tensor import converted
from .._validation import check_scalar
from ..optimizers._instance import take_rows


class SolutionPool:
    """Distinct decisions, stored as one tensor on a device.

    Parameters
    ----------
    decisions : Tensor of shape (n_decisions, n_vars)
        The initial decisions (typically the training set's true optima);
        duplicates are dropped.

    Attributes
    ----------
    decisions : Tensor of shape (n_distinct, n_vars)
        The pool.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import SolutionPool
    >>> pool = SolutionPool(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))
    >>> len(pool)
    2
    >>> pool.best(torch.tensor([[3.0, 1.0], [-1.0, 2.0]]), sign=-1.0)  # maximize
    tensor([[1., 0.],
            [0., 1.]])
    """

    def __init__(self, decisions):
        self._rows = _GrowingRows(_distinct(decisions.detach()))
        # An integer decision's key: its product with a fixed random integer
        # vector, in exact (wrapping) int64 arithmetic, so the same decision
        # always gets the same key; distinct ones collide with a chance of
        # about 2**-64. The keys live in a Python set: checking a batch
        # against it is a few microseconds, where a tensor membership test
        # (torch.isin sorts) cost more than the batch's solve.
        probe = torch.Generator().manual_seed(0)
        self._probe = torch.randint(1, 2 ** 62, (self.decisions.shape[1],), generator=probe,
                                    dtype=torch.int64).to(self.decisions.device)
        self._seen = self._key_set(self.decisions)
        self._cast = (None, None)

    @property
    def decisions(self):
        return self._rows.rows

    def decisions_like(self, tensor):
        """The pool in ``tensor``'s dtype and device (a copy kept and grown with the pool)."""
        if self.decisions.dtype == tensor.dtype and self.decisions.device == tensor.device:
            return self.decisions
        # The pool only grows at the end until it is replaced (a new _rows):
        # the copy converts the new rows only.
        source, cast = self._cast
        if source is not self._rows or cast.rows.dtype != tensor.dtype \
                or cast.rows.device != tensor.device:
            cast = _GrowingRows(self.decisions.to(tensor))
            self._cast = (self._rows, cast)
        elif len(cast.rows) < len(self):
            cast.append(self.decisions[len(cast.rows):].to(tensor))
        return cast.rows

    def _key_set(self, decisions):
        """The set of keys of integer decisions, or None when some entry is fractional."""
        rounded = decisions.round()
        if not bool((decisions == rounded).all()):
            return None
        return set(self._keys(rounded).tolist())

    def _keys(self, rounded):
        return (rounded.to(torch.int64) * self._probe).sum(-1)

    def __len__(self):
        return self.decisions.shape[0]

    def to(self, device):
        """Move the pool to ``device`` (in place); returns the pool."""
        self._rows = _GrowingRows(self.decisions.to(device))
        self._probe = self._probe.to(device)
        return self

    def add(self, decisions):
        """Add decisions (rows with NaN, from diverging predictions, are skipped)."""
        decisions = converted(decisions.detach(), self.decisions.dtype, self.decisions.device)
        rounded = decisions.round()
        # One test for both: a NaN row is not equal to its rounding either.
        if not torch.equal(decisions, rounded):
            integral = (decisions == rounded).all(-1)
            finite = torch.isfinite(decisions).all(-1)
            decisions, rounded, integral = decisions[finite], rounded[finite], integral[finite]
            if not len(decisions):
                return
            if not bool(integral.all()):
                self._seen = None
        if self._seen is None:                   # fractional decisions: sort them all
            self._rows = _GrowingRows(_distinct(torch.cat([self.decisions, decisions])))
            self._seen = self._key_set(self.decisions)
            return
        new = []
        for row, key in enumerate(self._keys(rounded).tolist()):
            if key not in self._seen:            # a batch repeats decisions: keep one each
                self._seen.add(key)
                new.append(row)
        if new:
            self._rows.append(decisions[torch.tensor(new, device=decisions.device)])

    def best(self, theta, sign, feasible=None):
        """The pool's best decision for each row of ``theta`` under ``sign * theta @ x``.

        Parameters
        ----------
        theta : Tensor of shape (B, n_vars)
        sign : float
            +1 for a minimization, -1 for a maximization.
        feasible : Tensor of shape (B, n_decisions) of bool, optional
            Which pool entries each row may take (per-instance constraints).

        Returns
        -------
        x : Tensor of shape (B, n_vars)
            The best entries; a row with no feasible entry gets NaN.
        """
        scores = sign * (theta.to(self.decisions) @ self.decisions.T)
        if feasible is not None:
            scores = scores.masked_fill(~feasible, float("inf"))
        index = scores.argmin(-1)
        x = self.decisions[index].to(theta.dtype)
        if feasible is not None:
            none = ~feasible.any(-1, keepdim=True)
            x = torch.where(none, float("nan"), x)
        return x


class _GrowingRows:
    """Rows of a tensor, appended in place into storage that doubles when full.

    Copying a whole pool for each batch's few new decisions cost as much as
    the rest of a pool loss. ``rows`` is a prefix of the storage; a
    previous ``rows`` stays valid, since appending never writes its rows.
    """

    def __init__(self, rows):
        self.rows = self._storage = rows

    def append(self, new):
        n, total = len(self.rows), len(self.rows) + len(new)
        if total > len(self._storage):
            storage = self.rows.new_empty((2 * total, self.rows.shape[1]))
            storage[:n] = self.rows
            self._storage = storage
        self._storage[n:total] = new
        self.rows = self._storage[:total]


def _distinct(decisions):
    return torch.unique(decisions, dim=0) if len(decisions) > 1 else decisions


class PooledSolver:
    """An optimizer whose ``_solve`` answers from a solution pool part of the time.

    Each call solves exactly with probability ``solve_ratio`` (and adds the
    results to the pool); otherwise every instance takes its best pool entry.
    Everything else is the wrapped optimizer's. Per-instance parameters are
    honoured: pool entries infeasible for a row (checked by the optimizer's
    ``pool_feasible``) are excluded, and rows left without one are solved.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    pool : SolutionPool
    solve_ratio : float
        Probability, in ``[0, 1]``, that a call solves exactly.
    random_state : int or numpy.random.RandomState
        Source of the solve-or-pool draws.
    """

    def __init__(self, optimizer, pool, solve_ratio, random_state=None):
        self.optimizer = optimizer
        self.pool = pool
        self.solve_ratio = float(solve_ratio)
        self.random_state = (random_state if isinstance(random_state, np.random.RandomState)
                             else np.random.RandomState(random_state))

    def __getattr__(self, name):
        # Called only for names not found on the instance; during unpickling
        # "optimizer" itself is not there yet.
        if name == "optimizer":
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def _solve(self, theta, **params):
        if self.random_state.uniform() < self.solve_ratio:
            x = self.optimizer._solve(theta, **params)
            self.pool.add(x)
            return x
        feasible = self.optimizer.pool_feasible(self.pool.decisions, **params) \
            if params else None
        x = self.pool.best(theta, self.optimizer.sign, feasible)
        missing = ~torch.isfinite(x).all(-1)
        if bool(missing.any()):
            rows = torch.nonzero(missing)[:, 0]
            solved = self.optimizer._solve(theta[rows], **take_rows(params, rows))
            self.pool.add(solved)
            x[rows] = solved
        return x


def check_solve_ratio(solve_ratio):
    """Check ``solve_ratio`` (a probability) and return it as a float."""
    return float(check_scalar(solve_ratio, "solve_ratio", kind=numbers.Real, low=0.0,
                              high=1.0))
