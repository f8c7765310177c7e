"""The coverage relaxation's ascent for ``gamma > 0``: a Newton step on a face at every iteration.

Each iteration takes, for every instance, the projected gradient step of
``gradient_ascent`` (adaptive length, from a small one) and a Newton step to
the stationary point of the face that gradient step lands on: items it puts at
0 or 1 go there, the free items solve the linearized stationarity conditions
(with the budget where it binds). The Newton point is kept where it is a strict
local maximum of that face (one Cholesky factor of ``2 gamma I - H_ff`` on the
directions that keep the budget) and the objective does not decrease; elsewhere
the gradient step, where it gains enough. Near a strict local maximum this is a
semismooth Newton method on the fixed-point equation ``x = P(x + s grad)``: it
converges quadratically, in about 10-20 iterations per batch where the plain
gradient loop takes 20-40. A row without a Newton step for ``_STUCK``
iterations sits near a saddle point of its face; it moves along the direction
of negative curvature to the edge of the box, which gradient steps take tens of
iterations to do. A Newton point outside the box is projected; after a refusal,
cut at the box instead (``_truncated``). (Starting with the natural step ``1/(2
gamma)`` and moving along negative curvature at once halve the iterations
again, but reach a worse local maximum than SLSQP 3-4x more often on strongly
non-concave instances, 16 against 4 in 336 for the gradient loop; as it is, 1
in 336, and on the budget-allocation and recommendation batches of
``benchmarks/coverage_relaxation.py`` the gradient loop's points but for 4 rows
in 3840, where its local maximum is the better one. Measured in December 2026
on the batches of that benchmark's fits and left out: one evaluation per
iteration (the Newton point or the gradient step, a refused Newton point
followed by the gradient step in the next iteration) or a refused Newton point
proposed again closer to ``x``, in place of the gradient step, saves iterations
on a few rows that otherwise take 60-90 but costs more on the others (16% and
77% more time on the recommendation batches); a first step of 16x the smallest
saves a quarter of the time but lands below SLSQP on 18 of 672 random instances
instead of 4. A first step of at least ``1 / ||H(x0)||_F``, the curvature at
the start, saves 3-15% there and reaches the same points but for 3 rows in 3000
(2 better); against SLSQP on 480 instances shaped like the benchmark's (30
items, 60 targets, gamma 0.1-1) it is below on 29 and above on 28, the first
step of 4x the smallest on 35 and 32. Cutting a refused Newton step at the box:
the same points on all 3000 rows, 0-12% less time and up to 20% fewer
evaluations; cutting every Newton point that leaves the box instead of
projecting it costs 6-24% more on the recommendation and 30x60 batches. Moving
along negative curvature after 6 iterations without a Newton step instead of 8:
3-5% less time on the budget batches, one of the 3000 points better, against
SLSQP below on 29 of the 480 and above on 35; after 4 or 2, 3-7% less but below
SLSQP on 71 and 119.)

Costs are kept to a few large operations per iteration: the value, the gradient
and the Hessian share the factors ``q = 1 - x theta`` (a zero factor, ``x_i =
theta_ij = 1``, is replaced by ``_TINY`` of ``_coverage_relax``, which changes
the leave-one-out and leave-two-out products by nothing and the others by about
``_TINY``: no zero-safe branches), the Cholesky solve works on the full (B, n,
n) matrix with identity rows for the items that are not free (no gathers), and
only the rows that need it get a second evaluation (the gradient step), a
projection of the Newton point, or an eigendecomposition.
"""

import torch
from sklearn.exceptions import ConvergenceWarning

from .._warnings import warn
from . import _coverage_relax as kernel

_STUCK = 6          # iterations without a Newton step before a move along negative curvature
_MIN_CUT = 0.05     # the shortest part of a refused Newton step that is cut at the box
_FIRST_STEP = 4.0    # the first step, in units of the smallest one (see newton_ascent)


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
        q.clamp_min_(kernel._TINY)
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
    ``M d_f = grad_f + H_fN d_N - lambda 1`` with ``M = 2 gamma I - H_ff`` and
    ``lambda`` set so that ``sum(x + d) = k`` where the budget binds in ``trial``
    (``tau > 0``), else 0. With the unit vector ``a`` along the free items (0 where the
    budget is slack) and ``K = I - a a'``, that is ``d_f = s + z``: ``s`` along ``a``
    meets the budget and ``(K M K + c a a') z = K (rhs - M s)`` for the rest. One
    Cholesky factor of that matrix solves it where it is positive definite, i.e. where
    ``M`` is on the directions that keep the budget: a strict local maximum of the
    face. Where it is not and the row is ``stuck`` (no Newton step for a few
    iterations: near a saddle point, which gradient steps leave in tens of
    iterations), a move along its direction of negative curvature (``_escape``).
    """
    free = (trial > 0) & (trial < 1)
    f = free.to(x.dtype)
    fixed_move = (trial - x).mul_(1.0 - f)
    rhs = torch.baddbmm(grad.unsqueeze(-1), hess, fixed_move.unsqueeze(-1)).squeeze(-1).mul_(f)
    matrix = torch.mul(hess, f.unsqueeze(2) * f.unsqueeze(1)).neg_()
    matrix.diagonal(dim1=1, dim2=2).add_(1.0 - f)
    root = f.sum(1, keepdim=True).sqrt_().clamp_min_(1.0)
    along = f.div(root).mul_(tau.unsqueeze(1) > 0)                  # unit, or 0
    budget = (k - x.sum(1) - fixed_move.sum(1)).unsqueeze(1)    # what the free items must add
    start = budget.div_(root)                           # s = start * along
    # K M K + c a a' = M - a v' - v a' with v = M a - (a'M a + c) a / 2, c = 1 (any c > 0)
    Ma = (matrix @ along.unsqueeze(-1)).squeeze(-1)
    target = rhs.sub_(Ma * start)                       # rhs - M s, then without its a part
    target = target.sub_(along * (target * along).sum(1, keepdim=True))
    half = (Ma * along).sum(1, keepdim=True).add_(1.0).div_(2.0)
    v = Ma.sub_(along * half)
    reduced = torch.baddbmm(matrix, torch.stack([along, v], 2), torch.stack([v, along], 1),
                            alpha=-1.0)
    factor, info = torch.linalg.cholesky_ex(reduced)
    defined = info == 0
    # where the factorization failed the solve runs on an incomplete factor: its step
    # is never taken (and is zeroed, not to carry infinities)
    step = torch.cholesky_solve(target.unsqueeze(-1), factor)[..., 0].addcmul_(
        along, start).mul_(f)
    if bool(defined.all()):
        return x + step + fixed_move, defined
    step = torch.where(defined.unsqueeze(1), step, 0.0)
    escape = stuck & ~defined
    if bool(escape.any()):
        rows = torch.nonzero(escape)[:, 0]
        on_sum = along[rows].any(1)
        step[rows], escape[rows] = _escape(x[rows] + fixed_move[rows], grad[rows], reduced[rows],
                                           f[rows], on_sum, kernel._budget(k, rows))
    return x + step + fixed_move, defined | escape


def _reach(base, move, k, tol=0.0, budget=None):
    """The longest step ``t`` (B,) with ``base + t move`` in the box and, on the rows
    ``budget`` (every row if None), within the budget ``k``; moves of at most ``tol``
    (in an item, or in the sum) count as none."""
    reach = torch.where(move > tol, (1.0 - base) / move,
                        torch.where(move < -tol, base / -move, torch.inf)).amin(1)
    rise = move.sum(1)
    spends = rise > tol if budget is None else budget & (rise > tol)
    room = torch.where(spends, (k - base.sum(1)).clamp_min(0.0) / rise.clamp_min(max(tol, 1e-300)),
                       torch.inf)
    return torch.minimum(reach, room)


def _escape(base, grad, reduced, f, on_sum, k):
    """A move from ``base`` along the eigenvector of the most negative eigenvalue of
    ``reduced``, signed to ascend, to the edge of the box (and of the budget where it is
    slack); and where there is one."""
    evals, evecs = torch.linalg.eigh(reduced)
    down = evecs[..., 0] * f
    down = down * torch.where((grad * down).sum(1) < 0, -1.0, 1.0).unsqueeze(1)
    reach = _reach(base, down, k, tol=1e-12, budget=~on_sum)
    cut = kernel._PINV_RTOL * evals.abs().amax(1)
    escape = (evals[:, 0] < -cut) & torch.isfinite(reach) & (reach > 1e-12)
    return down * torch.where(escape, reach, 0.0).unsqueeze(1), escape


def _truncated(x, newton, k, rows, projected):
    """On ``rows`` (bool), the Newton step cut where it leaves the box (or overspends a
    slack budget), where that keeps at least ``_MIN_CUT`` of it; elsewhere ``projected``.

    After a projected Newton point was refused: an item near a bound that the
    face still counts as free sends the Newton point just past the bound, and its
    projection (a shift of every item) loses, while the cut step lands that item on
    the bound, where the next face fixes it. Gradient steps would take tens of
    iterations to get there.
    """
    move = newton - x
    reach = _reach(x, move, k).clamp_max(1.0)
    cut = torch.addcmul(x, reach.unsqueeze(1), move).clamp_(0.0, 1.0)
    return _select(rows & (reach >= _MIN_CUT), cut, projected)


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
    buffer = torch.empty_like(theta)
    idle = torch.zeros(batch, dtype=torch.long, device=theta.device)
    refused = torch.zeros(batch, dtype=torch.bool, device=theta.device)   # last proposal
    state = (x,) + _evaluate(x, theta, w, gamma, buffer, zeros)   # x, value, grad, Hessian
    # Starting from a small step and doubling follows the ascent path from the start
    # closely: 4x the smallest, or 1 / ||Hessian at the start|| (the curvature there:
    # the smallest step's global bound can be 15-90x larger), at most the natural
    # 1 / (2 gamma). A first step of 1 / (2 gamma) takes 2x fewer iterations but lands
    # in a worse local maximum than SLSQP 3-4x more often (16x the smallest: 2x more
    # often); the local one reaches the same points (see the module docstring).
    step = torch.maximum(_FIRST_STEP * min_step, torch.linalg.matrix_norm(state[3]).reciprocal())
    step = torch.minimum(step, torch.full_like(min_step, 0.5 / gamma))
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
            row_k = kernel._budget(k, rows)
            inside = kernel.project_capped_simplex(newton[rows], row_k)[0]
            again = refused[rows]
            if bool(again.any()):
                inside = _truncated(x[rows], newton[rows], row_k, again, inside)
            newton[rows] = inside
        new = (newton,) + _evaluate(newton, theta, w, gamma, buffer, zeros)
        newton_move = newton - x
        # A short Newton step needs no gain check: its gain is below the values' rounding.
        taken = defined & ((kernel._gain(value, new[1], grad, new[2], newton_move) >= 0)
                           | (newton_move.abs().amax(1) <= kernel._NEWTON_TRUST))
        state = tuple(_select(taken, after, before) for after, before in zip(new, state))
        idle = torch.where(taken, 0, idle + 1)
        refused = defined & ~taken
        if not bool(taken.all()):
            _gradient_steps(torch.nonzero(~taken)[:, 0], state, trial, move, step, min_step,
                            theta, w, gamma, buffer, zeros)
        if bool(done.any()):
            out[todo[done]] = state[0][done]
            keep = ~done
            todo, theta, step, min_step = todo[keep], theta[keep], step[keep], min_step[keep]
            idle, refused = idle[keep], refused[keep]
            state = tuple(part[keep] for part in state)
            buffer = buffer[:len(todo)]
            w, k = kernel._rows(w, k, keep)
            if todo.numel() == 0:
                return out
    warn(
        f"the coverage relaxation did not reach a fixed point within {kernel._MAX_ITER} "
        f"iterations for {todo.numel()} instance(s) (rows {todo[:10].tolist()} of theta); "
        "the last iterate is used. A larger gamma makes the problem better conditioned.",
        ConvergenceWarning)
    out[todo] = state[0]
    return out
