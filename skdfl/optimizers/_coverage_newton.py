"""The coverage relaxation's ascent for ``gamma > 0``: a Newton step on a face at every iteration.

Each iteration takes, for every instance, the projected gradient step of
``gradient_ascent`` (adaptive length, from the smallest) and a Newton step to
the stationary point of the face that gradient step lands on: items it puts
at 0 or 1 go there, the free items solve the linearized stationarity
conditions (with the budget where it binds). The Newton point is kept where
it is a strict local maximum of that face (a Cholesky factor of ``2 gamma I -
H_ff``, or of that matrix on the directions that keep the budget) and the
objective does not decrease; elsewhere the gradient step, where it gains
enough. Near a strict local maximum this is a semismooth Newton method on
the fixed-point equation ``x = P(x + s grad)``: it converges quadratically,
in about 10-20 iterations per batch where the plain gradient loop takes
20-40. A row without a Newton step for ``_STUCK`` iterations sits near a
saddle point of its face; it moves along the direction of negative
curvature to the edge of the box, which gradient steps take tens of
iterations to do. (Starting with the natural step ``1 / (2 gamma)`` and
moving along negative curvature at once halve the iterations again, but
reach a worse local maximum than SLSQP 3-4x more often on strongly
non-concave instances, 16 against 4 in 336 for the gradient loop; as it is,
1 in 336, and on the budget-allocation and recommendation batches of
``benchmarks/coverage_relaxation.py`` the gradient loop's points but for 4
rows in 3840, where its local maximum is the better one.)

Costs are kept to a few large operations per iteration: the value, the
gradient and the Hessian share the factors ``q = 1 - x theta`` (a zero
factor, ``x_i = theta_ij = 1``, is replaced by ``_TINY``, which changes the
leave-one-out and leave-two-out products by nothing and the others by about
``_TINY``: no zero-safe branches), the Cholesky solve works on the full
(B, n, n) matrix with identity rows for the items that are not free (no
gathers), and only the rows that need it get a second evaluation (the
gradient step), a projection of the Newton point, or an eigendecomposition.
"""

import warnings

import torch
from sklearn.exceptions import ConvergenceWarning

from . import _coverage_relax as kernel

_STUCK = 8          # iterations without a Newton step before a move along negative curvature
_FIRST_STEP = 4.0    # the first step, in units of the smallest one (see newton_ascent)
_TINY = 1e-100      # stands in for a zero factor: products of 3 such stay in range


def _evaluate(x, theta, w, gamma, out, zeros):
    """Value (B,), gradient (B, n) and Hessian (B, n, n) of ``F(x) - gamma ||x||^2``.

    ``theta`` is (B, n, m); ``out``, a kept (B, n, m) buffer (fresh large tensors at
    every iteration cost more, in page faults, than the arithmetic), receives the factors
    ``q = 1 - x theta``; where ``zeros`` (some ``theta_ij = 1``), a zero factor is
    replaced by ``_TINY``. The Hessian is ``H_ab - 2 gamma [a = b]`` with
    ``H_ab = -sum_j w_j theta_aj theta_bj prod_{i != a, b} q_ij``: ``u = theta / q``
    weighted by ``w P`` gives the gradient by a sum and ``H`` by a batched product.
    """
    q = torch.mul(x.unsqueeze(-1), theta, out=out).neg_().add_(1.0)
    if zeros:
        q.clamp_min_(_TINY)
    wP = q.prod(1).mul_(w)
    value = (w - wP).sum(-1) - gamma * (x * x).sum(1)
    u = torch.div(theta, q, out=q)
    weighted = u * wP.unsqueeze(1)
    grad = weighted.sum(-1) - 2.0 * gamma * x
    hess = weighted @ u.transpose(1, 2)
    hess.diagonal(dim1=1, dim2=2).fill_(2.0 * gamma)
    return value, grad, hess.neg_()


def _newton_point(x, grad, hess, trial, tau, k, stuck):
    """The stationary point of the face of ``trial``, linearized at ``x``, where it is a
    strict local maximum of that face; and the rows where it is one. ``hess`` is the
    Hessian of ``F - gamma ||x||^2``.

    Items at a bound of ``trial`` move there (``d_N``); the free ones solve
    ``(2 gamma I - H_ff) d_f = grad_f + H_fN d_N - lambda 1``, with ``lambda`` set so
    that ``sum(x + d) = k`` where the budget binds in ``trial`` (``tau > 0``), else 0.
    A Cholesky factor solves it where ``2 gamma I - H_ff`` is positive definite; the
    other rows go to ``_curvature_step``.
    """
    free = (trial > 0) & (trial < 1)
    fixed_move = torch.where(free, 0.0, trial - x)
    rhs = (grad + (hess @ fixed_move.unsqueeze(-1)).squeeze(-1)) * free
    matrix = torch.where(free.unsqueeze(2) & free.unsqueeze(1), -hess, 0.0)
    matrix.diagonal(dim1=1, dim2=2).add_((~free).to(x.dtype))
    factor, info = torch.linalg.cholesky_ex(matrix)
    defined = info == 0
    factor = torch.where(defined.view(-1, 1, 1), factor, torch.eye(x.shape[1], dtype=x.dtype,
                                                                   device=x.device))
    ones = free.to(x.dtype)
    solved = torch.cholesky_solve(torch.stack([rhs, ones], 2), factor)
    along_rhs, along_ones = solved[..., 0], solved[..., 1]
    budget = k - x.sum(1) - fixed_move.sum(1)       # what the free items must add
    on_sum = (tau > 0) & free.any(1)
    lam = torch.where(on_sum, (along_rhs.sum(1) - budget)
                      / along_ones.sum(1).clamp_min(1e-300), 0.0)
    step = torch.where(free, along_rhs - lam.unsqueeze(1) * along_ones, fixed_move)
    if not bool(defined.all()):
        rows = torch.nonzero(~defined)[:, 0]
        step[rows], defined[rows] = _curvature_step(
            x[rows] + fixed_move[rows], grad[rows], matrix[rows], rhs[rows], free[rows],
            on_sum[rows], budget[rows], k[rows] if isinstance(k, torch.Tensor) else k,
            stuck[rows])
        step[rows] += fixed_move[rows]
    return x + step, defined


def _curvature_step(base, grad, matrix, rhs, free, on_sum, budget, k, stuck):
    """The Newton step of the face where ``M = 2 gamma I - H_ff`` is not positive
    definite but is on the free directions that keep the budget (where it binds): ``M``
    is eigendecomposed on those directions. Where it has a negative eigenvalue and the
    row is ``stuck`` (no Newton step for a few iterations: near a saddle point, which
    gradient steps leave in tens of iterations), a move from ``base`` along its
    eigenvector, signed to ascend, to the edge of the box. Returns the step and where
    it is defined."""
    f = free.to(matrix.dtype)
    count = f.sum(1, keepdim=True).clamp_min(1.0)
    along = f * on_sum.to(matrix.dtype).unsqueeze(1) / count.sqrt()   # unit, or 0 if slack
    outer = along.unsqueeze(2) * along.unsqueeze(1)
    keep = torch.eye(matrix.shape[1], dtype=matrix.dtype, device=matrix.device) - outer
    reduced = keep @ matrix @ keep + matrix.abs().amax((1, 2)).view(-1, 1, 1) * outer
    start = along * budget.unsqueeze(1) / count.sqrt()                # meets the budget
    target = keep @ (rhs - (matrix @ start.unsqueeze(-1)).squeeze(-1)).unsqueeze(-1)
    factor, info = torch.linalg.cholesky_ex(reduced)
    definite = info == 0
    factor = torch.where(definite.view(-1, 1, 1), factor, torch.eye(
        matrix.shape[1], dtype=matrix.dtype, device=matrix.device))
    step = start + torch.cholesky_solve(target, factor)[..., 0]
    escape = stuck & ~definite
    if bool(escape.any()):
        rows = torch.nonzero(escape)[:, 0]
        step[rows], escape[rows] = _escape(base[rows], grad[rows], reduced[rows], f[rows],
                                           on_sum[rows], k[rows] if torch.is_tensor(k) else k)
    return step * f, definite | escape


def _escape(base, grad, reduced, f, on_sum, k):
    """A move from ``base`` along the eigenvector of the most negative eigenvalue of
    ``reduced``, signed to ascend, to the edge of the box (and of the budget where it is
    slack); and where there is one."""
    evals, evecs = torch.linalg.eigh(reduced)
    down = evecs[..., 0] * f
    down = down * torch.where((grad * down).sum(1) < 0, -1.0, 1.0).unsqueeze(1)
    reach = torch.where(down > 1e-12, (1.0 - base) / down,
                        torch.where(down < -1e-12, base / -down, float("inf"))).amin(1)
    rise = down.sum(1)
    room = torch.where(~on_sum & (rise > 1e-12),
                       (k - base.sum(1)) / rise.clamp_min(1e-12), float("inf"))
    reach = torch.minimum(reach, room)
    cut = kernel._PINV_RTOL * evals.abs().amax(1)
    escape = (evals[:, 0] < -cut) & torch.isfinite(reach) & (reach > 1e-12)
    return down * torch.where(escape, reach, 0.0).unsqueeze(1), escape


def _select(rows, new, old):
    """Per row (``rows`` (B,) bool): ``new`` where set, else ``old``."""
    return torch.where(rows.view((-1,) + (1,) * (old.ndim - 1)), new, old)


def _gradient_steps(rows, state, trial, move, step, min_step, theta, w, gamma, buffer, zeros):
    """The projected gradient step ``trial`` on ``rows`` (where no Newton point was
    taken), where it gains at least ``||move||^2 / (2 step)`` (sure for the smallest
    step); the step length doubles where it does, else halves. Updates ``state``
    (x, value, gradient, Hessian) and ``step`` in place."""
    trial, move, row_step, low = trial[rows], move[rows], step[rows], min_step[rows]
    new = (trial,) + _evaluate(trial, theta[rows], w[rows] if w.ndim == 2 else w, gamma,
                               buffer[:len(rows)], zeros)
    old = [part[rows] for part in state]
    accept = (kernel._gain(old[1], new[1], old[2], new[2], move)
              >= (move * move).sum(1) / (2.0 * row_step)) | (row_step <= low)
    for part, before, after in zip(state, old, new):
        part[rows] = _select(accept, after, before)
    longest = (kernel._STEP_MAX / state[2][rows].abs().amax(1).clamp_min(1e-300)).maximum(low)
    step[rows] = torch.where(accept, (row_step * kernel._STEP_GROW).minimum(longest),
                             (row_step / kernel._STEP_GROW).maximum(low))


def newton_ascent(theta, w, k, gamma):
    """``ascend`` for ``gamma > 0``: see the module docstring. Returns x (B, n)."""
    batch, n, _ = theta.shape
    out = theta.new_empty(batch, n)
    if batch == 0:
        return out
    todo = torch.arange(batch, device=theta.device)
    zeros = bool((theta == 1).any())        # only then can a factor 1 - x theta be 0
    x = kernel.starting_point(theta, k)
    min_step = kernel._step_scale(theta, w, gamma)
    # Starting from a small step (4x the smallest, at most the natural 1 / (2 gamma)) and
    # doubling follows the ascent path from the start closely: a first step of 1 / (2
    # gamma) takes 2x fewer iterations but lands in a worse local maximum than SLSQP
    # 3-4x more often (16x the smallest: 2x more often).
    step = torch.minimum(_FIRST_STEP * min_step, torch.full_like(min_step, 0.5 / gamma))
    buffer = torch.empty_like(theta)
    idle = torch.zeros(batch, dtype=torch.long, device=theta.device)
    state = (x,) + _evaluate(x, theta, w, gamma, buffer, zeros)   # x, value, grad, Hessian
    for _ in range(kernel._MAX_ITER):
        x, value, grad, hess = state
        trial, tau = kernel.project_capped_simplex(x + step.unsqueeze(1) * grad, k)
        move = trial - x
        # A fixed point of the gradient step (to _TOL): it leaves after one more Newton
        # step, which takes it to rounding.
        done = move.abs().amax(1) <= kernel._TOL
        newton, defined = _newton_point(x, grad, hess, trial, tau, k, idle >= _STUCK)
        outside = ((newton < 0) | (newton > 1)).any(1) | (newton.sum(1) > k + kernel._SUM_TOL)
        if bool(outside.any()):
            rows = torch.nonzero(outside)[:, 0]
            newton[rows] = kernel.project_capped_simplex(
                newton[rows], k[rows] if torch.is_tensor(k) else k)[0]
        new = (newton,) + _evaluate(newton, theta, w, gamma, buffer, zeros)
        newton_move = newton - x
        # A short Newton step needs no gain check: its gain is below the values' rounding.
        taken = defined & ((kernel._gain(value, new[1], grad, new[2], newton_move) >= 0)
                           | (newton_move.abs().amax(1) <= kernel._NEWTON_TRUST))
        state = tuple(_select(taken, after, before) for after, before in zip(new, state))
        idle = torch.where(taken, 0, idle + 1)
        if not bool(taken.all()):
            _gradient_steps(torch.nonzero(~taken)[:, 0], state, trial, move, step, min_step,
                            theta, w, gamma, buffer, zeros)
        if bool(done.any()):
            out[todo[done]] = state[0][done]
            keep = ~done
            todo, theta, step, min_step = todo[keep], theta[keep], step[keep], min_step[keep]
            idle = idle[keep]
            state = tuple(part[keep] for part in state)
            buffer = buffer[:len(todo)]
            w, k = kernel._rows(w, k, keep)
            if todo.numel() == 0:
                return out
    warnings.warn(
        f"the coverage relaxation did not reach a fixed point within {kernel._MAX_ITER} "
        f"iterations for {todo.numel()} instance(s) (rows {todo[:10].tolist()} of theta); "
        "the last iterate is used. A larger gamma makes the problem better conditioned.",
        ConvergenceWarning, stacklevel=4)
    out[todo] = state[0]
    return out
