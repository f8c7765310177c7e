"""The multilinear extension of probabilistic coverage: value, derivatives, relaxation.

For one instance with item-by-target probabilities ``theta`` (n, m), target
weights ``w`` (m,) and a fractional decision ``x`` in ``[0, 1]^n``,

    F(x) = sum_j w_j (1 - prod_i q_ij),    q_ij = 1 - x_i theta_ij,

is the multilinear extension of the coverage function in closed form. Its
gradient and Hessian need products that leave one or two items out:

    dF/dx_a       =  sum_j w_j theta_aj prod_{i != a} q_ij,
    d2F/dx_a dx_b = -sum_j w_j theta_aj theta_bj prod_{i != a, b} q_ij  (a != b),

and 0 on the diagonal (F is linear in each coordinate). These are computed
without dividing by zero: per target, ``P_j`` is the product of the non-zero
factors and ``Z_j`` counts the zero factors (``q_ij = 0`` exactly when
``x_i = theta_ij = 1``; otherwise ``q_ij >= 2**-53`` in float64, so an exact
test is the right one). A product that leaves out a set ``S`` of items is
``P_j / prod_{i in S, q_ij != 0} q_ij`` when every zero factor is in ``S``,
and 0 otherwise; the sums over targets are split by ``Z_j`` (0, 1 or 2; more
zeros give 0), which keeps every term an einsum.

``relax_coverage`` maximizes ``F(x) - gamma ||x||^2`` over
``{0 <= x <= 1, sum x <= k}`` by projected gradient ascent (deterministic
full gradient, adaptive step, exact projection, safeguarded Newton steps on
the face it settles on; for ``gamma > 0`` a Newton step at every iteration,
see ``ascend`` and ``_coverage_newton``) and differentiates the KKT conditions
at the point it reaches (see ``_CoverageRelaxation``). Everything is batched
over instances and runs in float64 on the input's device.

Per-instance data: the weights ``w`` are ``(m,)`` (shared) or ``(B, m)`` (one
row per instance) everywhere they appear, and the budget ``k`` is an int or a
``(B,)`` tensor; the shared forms keep their original code path.
"""

import torch
from sklearn.exceptions import ConvergenceWarning

from .._warnings import warn

_TILT = 1e-6        # relative tilt of the starting point, against ties of identical items
_TOL = 1e-10        # stop when a trial ascent step moves no coordinate further
_MAX_ITER = 5000    # ascent iterations before giving up (with a ConvergenceWarning)
_STEP_GROW = 2.0    # step factor after an accepted step (and 1 / factor after a rejected one)
_STEP_MAX = 1e4     # largest step length ``s * max|g|`` (keeps the projection exact to ~1e-12)
_NEWTON_WAIT = 4    # gradient steps before the next proposal after a refused one
_NEWTON_TRUST = 1e-6  # Newton steps this short are taken without checking the gain
_PINV_RTOL = 1e-10  # eigenvalues below this fraction of the largest are dropped (KKT solves)
_SUM_TOL = 1e-9     # sum(x) >= k - _SUM_TOL counts as an active budget
_ROUNDING = 1e-10   # relative size below which differences of values are left to the gradients
_TINY = 1e-100      # stands in for a zero factor: products of 3 such stay in range


def _w(w):
    """The einsum subscript of the weights: shared (m,) or per instance (B, m)."""
    return "m" if w.ndim == 1 else "bm"


def _budget(k, index):
    """The budget of the instances ``index``: an int as it is, a (B,) tensor's rows."""
    return k[index] if isinstance(k, torch.Tensor) else k


def _rows(w, k, index):
    """The weights and budget of the instances ``index`` (shared ones as they are)."""
    return (w[index] if w.ndim == 2 else w), _budget(k, index)


def _complements(x, theta):
    """The factors ``q_ij = 1 - x_i theta_ij``, (B, n, m)."""
    return torch.addcmul(theta.new_ones(()), x.unsqueeze(-1), theta, value=-1.0)


def _factors(q):
    """Zero-safe form of the factors ``q``.

    Returns ``zero`` (B, n, m) bool, ``r`` (the factors with zeros replaced by
    1), ``P`` (B, m) the product of the non-zero factors and ``Z`` (B, m) the
    number of zero factors of each target.
    """
    zero = q == 0
    r = torch.where(zero, 1.0, q)
    return zero, r, r.prod(1), zero.sum(1)


def _leave_one_out(zero, Z):
    """Where ``prod_{i != a} q_ij = P_j / r_aj``: every zero factor of target j (if any) is
    item a's. Elsewhere the product is 0. ``Z`` is (B, 1, m)."""
    return torch.where(zero, Z == 1, Z == 0)


def coverage_value(x, theta, w):
    """``F(x) = sum_j w_j (1 - prod_i (1 - x_i theta_ij))`` for each row, shape (B,).

    Differentiable by autograd in ``x`` and ``theta``; ``theta`` is (B, n, m).
    """
    return ((1.0 - torch.prod(1.0 - x.unsqueeze(-1) * theta, dim=1)) * w).sum(-1)


def _value_and_gradient(x, theta, w):
    q = _complements(x, theta)
    if not bool((q == 0).any()):
        P = q.prod(1)
        return ((1.0 - P) * w).sum(-1), torch.einsum("bnm,bm->bn", theta / q, P * w)
    zero, r, P, Z = _factors(q)
    value = ((1.0 - torch.where(Z == 0, P, 0.0)) * w).sum(-1)
    alone = _leave_one_out(zero, Z.unsqueeze(1))
    return value, torch.einsum("bnm,bm->bn", torch.where(alone, theta / r, 0.0), P * w)


def coverage_gradient(x, theta, w):
    """``dF/dx`` (B, n) in closed form, exact when some factor ``1 - x_i theta_ij`` is 0."""
    return _value_and_gradient(x, theta, w)[1]


def coverage_hessian(x, theta, w, items=None):
    """The exact Hessian of ``F`` in ``x``, (B, n, n), zero on the diagonal.

    ``H_ab = -sum_j w_j theta_aj theta_bj prod_{i != a, b} (1 - x_i theta_ij)``
    ``= -sum_j w_j P_j u_aj u_bj`` with ``P_j = prod_i q_ij`` and ``u = theta / q``:
    one batched product. A zero factor (``x_i = theta_ij = 1``) is replaced by
    ``_TINY``, which leaves the products that leave it out exact and makes the
    others (truly 0) of the order of ``_TINY``. Cost ``B n^2 m``.

    ``items`` (B, s), distinct item indices per row, restricts the result to
    the (B, s, s) block of those items (cost ``B s^2 m``).
    """
    q = _complements(x, theta).clamp_min_(_TINY)
    weighted_P = q.prod(1).mul_(w)
    u = torch.div(theta, q, out=q)
    if items is not None:
        u = u.gather(1, items.unsqueeze(-1).expand(-1, -1, theta.shape[2]))
    hess = (u * weighted_P.unsqueeze(1)) @ u.transpose(1, 2)
    hess.diagonal(dim1=1, dim2=2).zero_()
    return hess.neg_()


def coverage_gradient_vjp(x, theta, w, v):
    """``d/dtheta (v . dF/dx)`` at fixed ``x``: the mixed second derivative applied to ``v``.

    ``d/dtheta_cj = w_j (v_c prod_{i != c} q_ij - x_c sum_{a != c} v_a theta_aj
    prod_{i != a, c} q_ij)``; the inner sum is formed once per target (``S_j``
    over all items, ``S0_j`` over the zero items) and corrected for ``a = c``,
    so the cost is ``B n m``. Returns (B, n, m). Where no zero factor meets a
    non-zero ``v_c`` (the backward's case), the factors are those of
    ``coverage_hessian`` and the split by zero factors is skipped.
    """
    w = w if w.ndim == 1 else w.unsqueeze(1)
    q = _complements(x, theta)
    zero = q == 0
    if not bool((zero & (v.unsqueeze(-1) != 0)).any()):
        # Zero factors (replaced by _TINY) only where v is 0, as at the relaxation's
        # points (their items sit at 1): then S_j - v_c u_cj has no cancellation and
        # every product leaving out one or two items is P / q (see coverage_hessian).
        q.clamp_min_(_TINY)
        vu = v.unsqueeze(-1) * theta.div(q)
        scale = q.prod(1, keepdim=True).mul_(w).div(q)        # w_j prod_{i != c} q_ij
        inner = (vu.sum(1, keepdim=True) - vu).mul_(x.unsqueeze(-1))
        return scale.mul_(inner.neg_().add_(v.unsqueeze(-1)))
    zero, r, P, Z = _factors(q)
    zf = zero.to(theta.dtype)
    Z = Z.unsqueeze(1)
    u = theta / r
    vu = v.unsqueeze(-1) * u
    S = vu.sum(1, keepdim=True)
    S0 = (vu * zf).sum(1, keepdim=True)
    scale = P.unsqueeze(1) / r
    leave_one = torch.where(_leave_one_out(zero, Z), scale, 0.0)
    others = S - vu
    inner = torch.where(Z == 0, others,
                        torch.where(Z == 1, zf * others + (1.0 - zf) * S0,
                                    torch.where(Z == 2, zf * (S0 - vu), 0.0)))
    return w * (v.unsqueeze(-1) * leave_one - x.unsqueeze(-1) * scale * inner)


def project_capped_simplex(z, k):
    """Exact Euclidean projection of each row of ``z`` onto ``{0 <= x <= 1, sum x <= k}``.

    ``k`` is an int, or a (B,) tensor: one budget per row.

    The projection is ``clamp(z - tau, 0, 1)`` with the smallest ``tau >= 0``
    that satisfies the sum constraint. ``phi(tau) = sum_i clamp(z_i - tau, 0, 1)``
    is piecewise linear and non-increasing with breakpoints ``z_i - 1`` and
    ``z_i``: it is evaluated at the sorted breakpoints by cumulative sums, the
    crossing of ``k`` is interpolated on its segment, and ``tau`` is recomputed
    from the free coordinates of that segment to remove the rounding of the
    sums. Cost ``B n log n``.

    Returns
    -------
    x : Tensor (B, n)
    tau : Tensor (B,)
        The shift (0 where the budget is slack); ``tau / s`` is the budget's
        multiplier when ``z = x + s * gradient`` at a fixed point ``x``.
    """
    batch, n = z.shape
    tau = z.new_zeros(batch)
    per_row = isinstance(k, torch.Tensor)
    if per_row:
        k = k.to(z.dtype)
    elif k >= n:
        return z.clamp(0.0, 1.0), tau
    points, order = torch.cat([z - 1.0, z], 1).sort(1)
    change = torch.cat([-torch.ones_like(z), torch.ones_like(z)], 1).gather(1, order)
    slope = change.cumsum(1)        # slope of phi right of each breakpoint
    phi = n + torch.cat([z.new_zeros(batch, 1),
                         (slope[:, :-1] * points.diff(dim=1)).cumsum(1)], 1)
    seg = ((phi > (k.unsqueeze(1) if per_row else k)).sum(1, keepdim=True) - 1).clamp(
        0, 2 * n - 2)
    start = points.gather(1, seg)[:, 0]
    tau = start + (phi.gather(1, seg)[:, 0] - k) / (-slope.gather(1, seg)[:, 0]).clamp_min(1.0)
    shifted = z - tau.unsqueeze(1)
    free = (shifted > 0) & (shifted < 1)
    n_free = free.sum(1)
    exact = (torch.where(free, z, 0.0).sum(1) + (shifted >= 1).sum(1) - k) / n_free.clamp_min(1)
    tau = torch.where(n_free > 0, exact, tau).clamp_min(0.0)
    if per_row:                     # a budget of every item never binds
        tau = torch.where(k >= n, 0.0, tau)
    return (z - tau.unsqueeze(1)).clamp(0.0, 1.0), tau


def curvature_bound(theta, w, gamma):
    """An upper bound ``L`` (B,) on the spectral norm of the Hessian of ``F - gamma ||x||^2``.

    ``|H_ab| <= sum_j w_j theta_aj theta_bj``, so the largest row sum of that
    matrix (diagonal left out) bounds ``||H||``.
    """
    rows = torch.einsum(f"bam,{_w(w)},bm->ba", theta, w, theta.sum(1)) \
        - torch.einsum(f"bam,{_w(w)},bam->ba", theta, w, theta)
    return rows.amax(1) + 2.0 * gamma


def _step_scale(theta, w, gamma):
    """``1 / max(L, G)``, the smallest ascent step, with ``G`` a bound on the gradient.

    Any bound above the curvature ``L`` keeps the ascent guarantee; taking at
    least ``G >= |grad F - 2 gamma x|`` keeps the smallest step within a unit
    of the box (``L`` alone can be 0: items that share no target).
    """
    gradient = torch.einsum(f"bam,{_w(w)}->ba", theta, w).amax(1) + 2.0 * gamma
    bound = torch.maximum(curvature_bound(theta, w, gamma), gradient)
    return 1.0 / bound.clamp_min(1e-300)


class _Face:
    """The KKT matrix of the relaxation on the face of ``x``, eigendecomposed.

    The face fixes the items at 0 or 1 and, where ``sum x = k``, the budget.
    On the free items ``f`` the matrix is ``[[H_ff - 2 gamma I, c 1], [c 1', 0]]``
    (without the budget row and column where the budget is slack), with
    ``H`` the exact Hessian of ``F`` on the free items only (gathered, free
    items first, padded to the largest count of the batch). ``c``, the
    largest entry of ``H_ff - 2 gamma I``, scales the border, the padding and
    a slack budget row (identity rows) like the rest, so that the relative
    cut of the pseudo-inverse means the same everywhere.

    ``exact=False`` (the ascent's Newton proposals, which only need the
    test of a strict local maximum and the solve where it holds) factors
    it by Bunch-Kaufman ``L D L'`` instead, several times cheaper than
    ``eigh`` on small batched matrices; so does the backward where every
    row's face is a strict local maximum, else it takes ``eigh``.

    The matrix is symmetric, indefinite and may be singular (``gamma = 0``
    and items that cover nothing), so systems are solved with a
    pseudo-inverse from a batched ``eigh``: eigenvalues below ``_PINV_RTOL``
    times the largest are dropped, giving the minimum-norm least-squares
    solution (no NaN, and no ``1 / ridge`` blow-up along a null direction).
    """

    def __init__(self, x, theta, w, k, gamma, exact=True):
        batch, n = x.shape
        free = (x > 0) & (x < 1)
        n_free = free.sum(1)
        size = int(n_free.max())
        self.n = n
        self.items = (~free).to(torch.uint8).argsort(dim=1, stable=True)[:, :size]
        valid = free.gather(1, self.items).to(x.dtype)
        self.valid = valid
        self.on_sum = ((x.sum(1) >= k - _SUM_TOL) & (n_free > 0)).to(x.dtype)
        A = coverage_hessian(x, theta, w, self.items)
        A.diagonal(dim1=1, dim2=2).sub_(2.0 * gamma)
        A = valid.unsqueeze(2) * A * valid.unsqueeze(1)
        scale = A.abs().amax((1, 2))
        self.scale = torch.where(scale > 0, scale, 1.0)
        K = x.new_zeros(batch, size + 1, size + 1)
        K[:, :size, :size] = A
        K[:, :size, :size].diagonal(dim1=1, dim2=2).add_((1.0 - valid) * self.scale.unsqueeze(1))
        border = (self.scale * self.on_sum).unsqueeze(1) * valid
        K[:, :size, size] = border
        K[:, size, :size] = border
        K[:, size, size] = (1.0 - self.on_sum) * self.scale
        if not exact:
            self._factor(K, n_free)
            return
        self.ldl = None
        self.evals, self.evecs = torch.linalg.eigh(K)
        cut = _PINV_RTOL * self.evals.abs().amax(1, keepdim=True)
        self.kept = self.evals.abs() > cut
        # A strict local maximum on the face: H_ff - 2 gamma I negative definite
        # on the directions that keep the budget, i.e. exactly n_free negative
        # eigenvalues (the budget row adds one of each sign), none dropped.
        self.definite = ((self.evals < -cut).sum(1) == n_free) & self.kept.all(1)

    def _factor(self, K, n_free):
        """Bunch-Kaufman ``L D L'`` instead of ``eigh`` (several times cheaper): the
        inertia of ``K`` is that of the 1x1 and 2x2 blocks of ``D`` (Sylvester's law)."""
        LD, pivots, info = torch.linalg.ldl_factor_ex(K)
        self.ldl = LD, pivots
        d = LD.diagonal(dim1=1, dim2=2)
        paired = pivots < 0                 # 2x2 blocks: consecutive negative pivots
        first = (paired & ((paired.cumsum(1) - paired.long()) % 2 == 0))[:, :-1]
        a, c, b = d[:, :-1], d[:, 1:], LD.diagonal(offset=-1, dim1=1, dim2=2)
        det = a * c - b * b
        negative = ((~paired) & (d < 0)).sum(1) + torch.where(
            first, torch.where(det < 0, 1, torch.where(a + c < 0, 2, 0)), 0).sum(1)
        cut = _PINV_RTOL * self.scale.unsqueeze(1)
        singular = ((~paired) & (d.abs() <= cut)).any(1) \
            | (first & (det.abs() <= cut * (a.abs() + b.abs() + c.abs()))).any(1)
        self.definite = (negative == n_free) & ~singular & (info == 0)

    def solve(self, rhs_items, rhs_sum):
        """Solve for the free items with right-hand side ``rhs_items`` (B, n) on them
        and ``rhs_sum`` (B,) for the budget row; returns (B, n), 0 off the free items."""
        rhs = torch.cat([rhs_items.gather(1, self.items) * self.valid,
                         (rhs_sum * self.scale * self.on_sum).unsqueeze(1)], 1)
        if self.ldl is not None:
            sol = torch.linalg.ldl_solve(*self.ldl, rhs.unsqueeze(2))[:, :-1, 0] * self.valid
            sol = torch.where(self.definite.unsqueeze(1), sol, 0.0)
            return sol.new_zeros(sol.shape[0], self.n).scatter(1, self.items, sol)
        inverse = torch.where(self.kept, 1.0 / torch.where(self.kept, self.evals, 1.0), 0.0)
        coef = inverse * torch.einsum("bij,bi->bj", self.evecs, rhs)
        sol = torch.einsum("bij,bj->bi", self.evecs, coef)[:, :-1] * self.valid
        return sol.new_zeros(sol.shape[0], self.n).scatter(1, self.items, sol)


def _newton(x, theta, w, k, gamma, grad):
    """A Newton step to the stationary point of the face of ``x``, where it is a local maximum.

    Returns the new point and a mask of the rows where the step is defined
    (the face's KKT matrix has the inertia of a strict local maximum) and
    stays inside the box.
    """
    face = _Face(x, theta, w, k, gamma, exact=False)
    step = face.solve(-grad, k - x.sum(1))
    new = x + step
    # Where the budget is slack the face ignores it: the step must not overspend it.
    inside = ((new >= 0) & (new <= 1)).all(1) & (new.sum(1) <= k + _SUM_TOL)
    return new, face.definite & inside


def _gain(value, new_value, grad, new_grad, move):
    """Increase of the objective along ``move``: the difference of the values while it
    exceeds their rounding, else the trapezoidal rule (exact for quadratics, no cancellation)."""
    gain = new_value - value
    return torch.where(gain.abs() > _ROUNDING * value.abs(), gain,
                       0.5 * ((grad + new_grad) * move).sum(1))


def starting_point(theta, k):
    """``k / n`` for every item, tilted by a relative ``_TILT`` down the item index.

    The uniform point is feasible and treats the items alike; the tilt breaks
    the tie between identical items (equal rows of ``theta``, e.g. 0/1
    labels), which gradient steps would otherwise keep equal forever and
    lead to a saddle point where the maximum separates them.
    """
    batch, n, _ = theta.shape
    tilt = 1.0 - _TILT * torch.arange(n, dtype=theta.dtype, device=theta.device) / n
    if isinstance(k, torch.Tensor):         # a budget per row
        return (k.to(theta.dtype).unsqueeze(1) / n) * tilt
    return (k / n * tilt).expand(batch, n).clone()


def ascend(theta, w, k, gamma):
    """A local maximizer of ``F(x) - gamma ||x||^2`` over ``{0 <= x <= 1, sum x <= k}``.

    For ``gamma > 0``, ``skdfl.optimizers._coverage_newton.newton_ascent``: a
    Newton step on a face at every iteration, about 2x faster per training
    epoch, the same KKT accuracy and, on the benchmark batches, the same points. For ``gamma = 0``
    (where ``2 gamma I - H`` is indefinite on every face) the projected gradient
    ascent of ``gradient_ascent``.
    """
    if gamma > 0:
        from ._coverage_newton import newton_ascent     # (it uses this module's helpers)
        return newton_ascent(theta, w, k, gamma)
    return gradient_ascent(theta, w, k, gamma)


def gradient_ascent(theta, w, k, gamma):
    """Projected gradient ascent on ``F(x) - gamma ||x||^2`` over ``{0 <= x <= 1, sum x <= k}``.

    Starts every instance at ``x = k / n`` (see ``starting_point``) and uses
    the deterministic full gradient. The step ``s`` of each instance adapts: an
    ascent step ``x+ = P(x + s g)`` is accepted when it gains at least
    ``||x+ - x||^2 / (2 s)`` (always true for ``s <= 1 / L``, ``L`` a bound on
    the curvature, see ``_step_scale``: the smallest step used), and ``s``
    then doubles; a rejected step halves ``s``. Steps grow until
    ``s * max|g| = _STEP_MAX``: long steps let flat instances (``gamma = 0``,
    where ``F`` is convex along ``e_i - e_j`` and the iterates drift to a
    vertex) finish in a few iterations, and the bound keeps the rounding of
    ``x + s g`` far below ``_TOL``.

    Whenever an accepted step keeps an instance's free items, a Newton step
    on that face is proposed (exact Hessian) and taken when the face's KKT
    matrix shows a strict local maximum, the point stays feasible (box and
    budget) and the objective does not decrease
    (or the step is within ``_NEWTON_TRUST``, where that gain is lost in
    rounding); a refused proposal waits ``_NEWTON_WAIT`` gradient steps. This
    turns the linear convergence of gradient steps on ill-conditioned faces
    into a few iterations.

    An instance stops when a trial gradient step (accepted or not: its
    step is at least ``1 / L``) moves no coordinate by more than ``_TOL``;
    since ``||x - P(x + s g)||`` grows with ``s``, the fixed-point residual
    ``||x - P(x + g / L)||`` is then below ``_TOL`` as well. A last Newton step on
    the face of the final point (same safeguards) takes it from within ``_TOL``
    to rounding of the stationary point, so that finite differences of the
    solution are clean. Finished
    instances leave the batch.

    Returns
    -------
    x : Tensor (B, n)
    """
    batch, n, _ = theta.shape
    out = theta.new_empty(batch, n)
    if batch == 0:
        return out
    todo = torch.arange(batch, device=theta.device)
    x = starting_point(theta, k)
    min_step = _step_scale(theta, w, gamma)
    step = min_step.clone()
    free = (x > 0) & (x < 1)
    wait = torch.zeros(batch, dtype=torch.long, device=theta.device)

    def value_grad(x, theta, w):
        value, grad = _value_and_gradient(x, theta, w)
        return value - gamma * (x * x).sum(1), grad - 2.0 * gamma * x

    value, grad = value_grad(x, theta, w)
    for _ in range(_MAX_ITER):
        trial = project_capped_simplex(x + step.unsqueeze(1) * grad, k)[0]
        move = trial - x
        trial_value, trial_grad = value_grad(trial, theta, w)
        accept = (_gain(value, trial_value, grad, trial_grad, move)
                  >= (move * move).sum(1) / (2.0 * step)) | (step <= min_step)
        trial_free = (trial > 0) & (trial < 1)
        size = move.abs().amax(1)
        settled = accept & (trial_free == free).all(1) & (wait <= 0)
        x = torch.where(accept.unsqueeze(1), trial, x)
        value = torch.where(accept, trial_value, value)
        grad = torch.where(accept.unsqueeze(1), trial_grad, grad)
        free = torch.where(accept.unsqueeze(1), trial_free, free)
        longest = (_STEP_MAX / grad.abs().amax(1).clamp_min(1e-300)).maximum(min_step)
        step = torch.where(accept, (step * _STEP_GROW).minimum(longest),
                           (step / _STEP_GROW).maximum(min_step))
        wait = wait - 1
        done = size <= _TOL     # ||x - P(x + s g)|| grows with s >= 1 / L
        # Newton on a settled face, and once more on every finished instance with
        # free items: gradient steps stop within _TOL, Newton then lands at rounding.
        rows = torch.nonzero((settled | done) & free.any(1))[:, 0]
        if rows.numel():
            w_rows, k_rows = _rows(w, k, rows)
            new, ok = _newton(x[rows], theta[rows], w_rows, k_rows, gamma, grad[rows])
            new_value, new_grad = value_grad(new, theta[rows], w_rows)
            move = new - x[rows]
            # A short step needs no gain check: the quadratic model is exact there,
            # and its gain (second order) is below the rounding of the values.
            ok &= (_gain(value[rows], new_value, grad[rows], new_grad, move) >= 0) \
                | (move.abs().amax(1) <= _NEWTON_TRUST)
            x[rows] = torch.where(ok.unsqueeze(1), new, x[rows])
            value[rows] = torch.where(ok, new_value, value[rows])
            grad[rows] = torch.where(ok.unsqueeze(1), new_grad, grad[rows])
            wait[rows[~ok]] = _NEWTON_WAIT
        if bool(done.any()):
            out[todo[done]] = x[done]
            keep = ~done
            todo, theta, x, value, grad = todo[keep], theta[keep], x[keep], value[keep], grad[keep]
            w, k = _rows(w, k, keep)
            step, min_step, free, wait = step[keep], min_step[keep], free[keep], wait[keep]
            if todo.numel() == 0:
                return out
    warn(
        f"the coverage relaxation did not reach a fixed point within {_MAX_ITER} projected "
        f"gradient steps for {todo.numel()} instance(s) (rows {todo[:10].tolist()} of theta); "
        "the last iterate is used. A larger gamma makes the problem better conditioned.",
        ConvergenceWarning)
    out[todo] = x
    return out


class _CoverageRelaxation(torch.autograd.Function):
    """``x*(theta)`` of the relaxation, with the implicit-function backward.

    At the point the ascent reaches, the free coordinates satisfy
    ``grad F(x, theta)_f - 2 gamma x_f = lambda 1`` (``lambda = 0`` without an
    active budget); the items at 0 or 1 stay there under small changes of
    ``theta`` (zero derivative). Differentiating in ``theta``,
    ``K [dx_f; -dlambda] = [-(d grad F / d theta) dtheta; 0]`` with ``K`` the
    face's KKT matrix, so the gradient of a loss with incoming ``v = dL/dx``
    is ``-(d grad F / d theta)' u`` with ``K [u; eta] = [v_f; 0]`` (``K`` is
    symmetric), the mixed second derivative applied in closed form.
    """

    @staticmethod
    def forward(ctx, theta, w, k, gamma):
        # The ascent is hundreds of small operations: inference mode skips their
        # version counters (about 10% of its time); the copy is an ordinary tensor.
        with torch.inference_mode():
            x = ascend(theta, w, k, gamma)
        x = x.clone()
        ctx.save_for_backward(x, theta, w)
        ctx.k, ctx.gamma = k, gamma
        return x

    @staticmethod
    def backward(ctx, grad_x):
        x, theta, w = ctx.saved_tensors
        if not bool(((x > 0) & (x < 1)).any()):
            return torch.zeros_like(theta), None, None, None
        face = _Face(x, theta, w, ctx.k, ctx.gamma, exact=False) if ctx.gamma > 0 else None
        if face is None or not bool(face.definite.all()):
            # A singular or indefinite face (gamma = 0, a saddle point): the
            # pseudo-inverse. At strict local maxima, the usual case for gamma > 0,
            # the L D L' solve gives the same solution, several times cheaper.
            face = _Face(x, theta, w, ctx.k, ctx.gamma)
        u = face.solve(grad_x.to(x.dtype), x.new_zeros(x.shape[0]))
        return -coverage_gradient_vjp(x, theta, w, u), None, None, None


def relax_coverage(theta, w, k, gamma):
    """``argmax F(x) - gamma ||x||^2`` over ``{0 <= x <= 1, sum x <= k}``, differentiable.

    Parameters
    ----------
    theta : Tensor of shape (B, n, m)
        Coverage probabilities, any float dtype; computed in float64.
    w : Tensor of shape (m,) or (B, m)
        Non-negative target weights, float64 on ``theta``'s device: shared, or
        one row per instance.
    k : int or Tensor of shape (B,)
        The budget: shared, or one whole number (0 to n) per instance.
    gamma : float, >= 0

    Returns
    -------
    x : Tensor of shape (B, n), of ``theta``'s dtype
    """
    k = k.to(torch.float64) if isinstance(k, torch.Tensor) else int(k)
    x = _CoverageRelaxation.apply(theta.to(torch.float64), w, k, float(gamma))
    return x.to(theta.dtype)
