"""Batched Euclidean projection onto a polytope, with an analytic KKT backward.

The regularized linear program of Wilder et al. (2019),
``max theta @ x - gamma * ||x||^2`` subject to ``A x = b, G x <= h`` and
bounds, is the Euclidean projection of ``z = theta / (2 gamma)`` onto the
polytope (``z = -theta / (2 gamma)`` for a minimization). This module solves
that projection for a whole batch in torch, in float64, on the input's device.

Forward, per batch:

1. **ADMM** (Douglas-Rachford splitting) on ``v = (x, s)`` with slacks
   ``G x + s = h``: an affine step ``v <- P(w - u)`` onto
   ``{A x = b, G x + s = h}`` alternates with a separable step on the box
   ``lo <= x <= hi, s >= 0`` that also carries the objective
   ``||x - z||^2 / 2``. The affine projector ``P`` is built once per problem
   (from a pseudo-inverse, so redundant rows such as flow conservation are
   fine) and cached per device: an iteration is one matrix product and a few
   element-wise operations for the whole batch. The step size ``rho`` is per
   instance (it enters only element-wise), started at ``sqrt(|z|_inf)`` and
   adapted every few iterations by residual balancing.
   The kernel is dense: meant for polytopes of up to a few thousand
   variables and rows.
2. **Polish** every ``_CHECK_EVERY`` iterations: the active bounds and
   inequality rows are read off the box step (the clipped coordinates), the
   variables at an active bound are fixed, and the projection onto the affine
   hull of that face, ``x_F = z_F - G_F' nu`` with
   ``(G_act D_F G_act') nu = G_act x_0 - d``, is solved exactly by a batched
   masked Cholesky factorization. Rank-deficient active sets are handled by a
   small ridge with iterated refinement (which converges to the
   pseudo-inverse solution).
3. **Certificate**: a polished point is accepted only if it is feasible and
   has multipliers of the right signs: the ADMM multipliers moved onto the
   affine set of exact multipliers of the face (at a degenerate vertex many
   multiplier vectors are exact, and the minimum-norm one can have wrong
   signs). A point with sign violation ``v`` is the exact projection of a
   point ``||C' v||`` away from ``z``, so an accepted instance is within
   ``_TOL * max(1, |z|)`` of the projection. Accepted instances leave the
   batch; the others iterate on.

Per-instance data: ``PolytopeTensors.for_rows`` gives each row of the batch
its own right-hand sides ``b``, ``h`` and upper bounds ``min(hi, upper)``.
The projector ``P`` depends only on the matrices and stays shared; the offset
of the affine step, the row bounds and the box become per row (one extra
matrix product per batch). Rows whose data make the polytope empty are
reported: inconsistent equalities at once, the others by a Farkas
certificate read off the ADMM residual (which tends to the displacement
between the affine set and the box when they do not meet).

Backward: implicit differentiation of the KKT system at the solution. With
the active rows ``C_act`` (active bounds and rows of ``A``, ``G``),
``dx/dz = I - C_act' (C_act C_act')^+ C_act``, the projector onto the
directions of the optimal face, applied to the incoming gradient with the
per-instance active masks. No iteration is unrolled.
"""

import copy

import numpy as np
import torch

_ALPHA = 1.6                 # over-relaxation of ADMM
_RHO_COEF, _RHO_POWER = 1.0, 0.5   # initial rho = coef * |z|_inf ** power
_RIDGE = 1e-9                # ridge of the masked KKT solves (rows have unit norm)
_REFINE = 2                  # ridge solves per pseudo-inverse application
_CHECK_EVERY = 20            # ADMM iterations between polishes
_POLISH_STEPS = 3            # active-set corrections of a polish
_MAX_ITER = 20000            # ADMM iterations before giving up
_TOL = 1e-9                  # feasibility and certificate tolerance, times max(1, |z|)
_KEEP_FACTORS_UP_TO = 512    # rows up to which the face factors are kept for the backward
_DATA_TOL = 1e-7             # inconsistency of per-row data reported as empty, times its size
_CERTIFY_AFTER = 100         # ADMM iterations before residuals are read as Farkas certificates


class Polytope:
    """``A x = b``, ``G x <= h``, ``lo <= x <= hi``: the host-side structure.

    Built once per problem. Rows are scaled to unit norm; all-zero rows are
    dropped (the caller checks feasibility first).

    Parameters
    ----------
    A_eq, b_eq, A_ub, b_ub : ndarray or None
        Dense float64 equality and inequality systems.
    lo, hi : ndarray of shape (n_vars,)
        Variable bounds, ``-inf`` and ``inf`` where absent.
    """

    def __init__(self, A_eq, b_eq, A_ub, b_ub, lo, hi):
        n = len(lo)
        A, b, self.eq_rows = _unit_rows(A_eq, b_eq, n)
        G, h, self.ub_rows = _unit_rows(A_ub, b_ub, n)
        self.n_vars, self.n_eq, self.n_ub = n, len(A), len(G)
        self.rows = np.vstack([A, G])                  # (m_g, n): equality rows first
        self.lower = np.concatenate([b, np.full(len(G), -np.inf)])
        self.upper = np.concatenate([b, h])
        self.lo = np.asarray(lo, dtype=np.float64)
        self.hi = np.asarray(hi, dtype=np.float64)
        # The affine set of v = (x, s): [A 0; G I] v = [b; h], and its projector.
        p = len(G)
        M = np.block([[A, np.zeros((len(A), p))], [G, np.eye(p)]])
        M_pinv = np.linalg.pinv(M, rcond=1e-10) if len(M) else np.zeros((n + p, 0))
        self.projector = np.eye(n + p) - M_pinv @ M
        self.offset = M_pinv @ np.concatenate([b, h])
        self.offset_map = M_pinv                     # offset of per-row right-hand sides
        # Equality multipliers that best explain a dual vector: pinv(A').
        self.eq_multipliers = np.linalg.pinv(A.T, rcond=1e-10) if len(A) else np.zeros((0, n))

    def tensors(self, device):
        """The structure as float64 tensors on ``device``."""
        return PolytopeTensors(self, device)


def _unit_rows(A, b, n):
    """Rows scaled to unit norm, zero rows dropped; and ``(kept, norms)`` to map a
    per-row right-hand side of the original rows onto them."""
    if A is None or len(A) == 0:
        return np.zeros((0, n)), np.zeros(0), (np.zeros(0, dtype=np.int64), np.zeros(0))
    norms = np.linalg.norm(A, axis=1)
    keep = norms > 0
    kept = np.flatnonzero(keep)
    return A[keep] / norms[keep, None], b[keep] / norms[keep], (kept, norms[keep])


class PolytopeTensors:
    """The polytope on one device.

    Shared by every instance, except after :meth:`for_rows`: the fields named
    in ``per_row`` then have a leading batch axis (``take`` subsets them).
    """

    per_row = ()

    def __init__(self, polytope, device):
        as_t = lambda a: torch.as_tensor(a, dtype=torch.float64, device=device)  # noqa: E731
        n, p = polytope.n_vars, polytope.n_ub
        self.n_vars, self.n_eq, self.n_ub = n, polytope.n_eq, p
        self.rows = as_t(polytope.rows)
        self.lower, self.upper = as_t(polytope.lower), as_t(polytope.upper)
        self.is_eq = self.lower == self.upper
        self.lo, self.hi = as_t(polytope.lo), as_t(polytope.hi)
        self.fixed_var = self.lo == self.hi
        self.projector = as_t(polytope.projector)
        self.offset = as_t(polytope.offset)
        self.eq_multipliers = as_t(polytope.eq_multipliers)
        # The box of v = (x, s), and where the objective acts (on x only).
        zeros, inf = torch.zeros(p, dtype=torch.float64, device=device), float("inf")
        self.box_lo = torch.cat([self.lo, zeros])
        self.box_hi = torch.cat([self.hi, zeros + inf])
        self.on_x = torch.cat([torch.ones(n, dtype=torch.float64, device=device), zeros])
        # For per-row data: the kept rows and their norms, and the offset map.
        index = lambda a: torch.as_tensor(a, dtype=torch.long, device=device)  # noqa: E731
        self.eq_kept, self.eq_norms = index(polytope.eq_rows[0]), as_t(polytope.eq_rows[1])
        self.ub_kept, self.ub_norms = index(polytope.ub_rows[0]), as_t(polytope.ub_rows[1])
        self.offset_map = as_t(polytope.offset_map)

    def for_rows(self, b_eq=None, b_ub=None, upper=None):
        """The polytope with per-instance right-hand sides and variable upper bounds.

        Parameters
        ----------
        b_eq : Tensor of shape (B, n_eq_rows), optional
            Equality right-hand sides, one row per instance, of the original
            (unscaled) rows, zero rows included; None keeps the shared ones.
        b_ub : Tensor of shape (B, n_ub_rows), optional
            Inequality right-hand sides, likewise.
        upper : Tensor of shape (B, n_vars), optional
            Extra upper bounds of the variables: instance ``i`` has
            ``x <= min(hi, upper[i])`` (``upper`` equal to the lower bound
            fixes a variable there; ``inf`` adds nothing). It must be at least
            the lower bound.

        Returns
        -------
        rows : PolytopeTensors
            A view whose ``per_row`` fields have one row per instance.

        Raises
        ------
        ValueError
            If some instance's data are inconsistent at once (a dropped zero
            row with a right-hand side it cannot meet, equalities without a
            solution), naming the first such instance.
        """
        rows = copy.copy(self)
        per_row = []
        if b_eq is not None or b_ub is not None:
            batch = (b_eq if b_eq is not None else b_ub).shape[0]
            b = self._scaled(b_eq, self.eq_kept, self.eq_norms, "b_eq", batch,
                             self.upper[:self.n_eq], must_be_zero=True)
            h = self._scaled(b_ub, self.ub_kept, self.ub_norms, "b_ub", batch,
                             self.upper[self.n_eq:], must_be_zero=False)
            c = torch.cat([b, h], dim=1)
            rows.offset = c @ self.offset_map.T
            rows.lower = torch.cat([b, torch.full_like(h, -float("inf"))], dim=1)
            rows.upper = c
            # A x = b has a solution exactly when the least-squares point meets it.
            gap = rows.offset[:, :self.n_vars] @ self.rows[:self.n_eq].T - b
            tol = _DATA_TOL * c.abs().amax(1, keepdim=True).clamp_min(1.0) if c.numel() else 0
            _raise_empty(gap.abs() > tol, "its equality rows have no common solution")
            per_row += ["offset", "lower", "upper"]
        if upper is not None:
            # Internal callers map their own checked data here (closed arcs): an
            # upper bound below the lower one (or NaN) is their bug, not the user's.
            assert bool((upper >= self.lo).all()), "upper must be at least the lower bounds"
            rows.hi = torch.minimum(self.hi, upper)
            rows.fixed_var = self.lo == rows.hi
            rows.box_hi = torch.cat([rows.hi, self.box_hi[self.n_vars:].expand(
                len(upper), -1)], dim=1)
            per_row += ["hi", "fixed_var", "box_hi"]
        rows.per_row = tuple(per_row)
        return rows

    def _scaled(self, values, kept, norms, name, batch, shared, must_be_zero):
        """Per-row right-hand sides of the kept unit rows (``shared`` when not given)."""
        if values is None:
            return shared.expand(batch, -1)
        values = values.to(dtype=torch.float64, device=self.rows.device)
        dropped = torch.ones(values.shape[1], dtype=torch.bool, device=values.device)
        dropped[kept] = False
        if bool(dropped.any()):         # all-zero rows: 0 = b (or 0 <= b) must hold
            rest = values[:, dropped]
            bad = rest.abs() > _DATA_TOL if must_be_zero else rest < -_DATA_TOL
            _raise_empty(bad, f"a zero row of its constraints has a nonzero {name}"
                         if must_be_zero else f"a zero row of its constraints has {name} < 0")
        return values[:, kept] / norms

    def take(self, index):
        """The per-row fields of the instances ``index`` (the shared ones unchanged)."""
        if not self.per_row:
            return self
        rows = copy.copy(self)
        for name in self.per_row:
            setattr(rows, name, getattr(self, name)[index])
        return rows


def _raise_empty(bad, why, rows=None):
    """ValueError naming the first instance whose polytope is empty (``bad`` per row)."""
    per_row = bad.reshape(bad.shape[0], -1).any(1)
    if not bool(per_row.any()):
        return
    first = torch.nonzero(per_row)[:, 0]
    found = first if rows is None else rows[first]
    raise ValueError(
        f"the polytope of instance {int(found[0])} (row {int(found[0])} of theta) is empty: "
        f"{why}, under its per-instance right-hand sides (b_eq, b_ub) or upper bounds; "
        f"{int(per_row.sum())} such instance(s), the first {found[:10].tolist()}.")


def project(poly, z):
    """Euclidean projection of every row of ``z`` onto the polytope.

    Parameters
    ----------
    poly : PolytopeTensors
    z : Tensor of shape (B, n_vars), float64, on ``poly``'s device

    Returns
    -------
    x : Tensor of shape (B, n_vars)
        The projections.
    face : tuple of Tensor
        What the backward pass needs: the free variables (B, n_vars) and active
        rows (B, n_eq + n_ub) of each projection, and the Cholesky factors of
        their face systems (None when ``n_eq + n_ub`` is large: recomputed).
    """
    batch, n = z.shape
    m = poly.rows.shape[0]
    x_out = z.clone()
    free_out = torch.ones_like(z, dtype=torch.bool)
    active_out = torch.zeros(batch, m, dtype=torch.bool, device=z.device)
    factor_out = None
    if 0 < m <= _KEEP_FACTORS_UP_TO:
        factor_out = torch.zeros(batch, m, m, dtype=z.dtype, device=z.device)
    if m == 0:                    # a box (or all of R^n): clipping is the projection
        return z.clamp(poly.lo, poly.hi), ((z > poly.lo) & (z < poly.hi), active_out, None)
    scale = z.abs().amax(1).clamp_min(1.0)
    todo = torch.arange(batch, device=z.device)
    z_box = torch.cat([z, z.new_zeros(batch, poly.n_ub)], dim=1)
    rho = _initial_rho(z)
    w = z_box.clamp(poly.box_lo, poly.box_hi)
    e = -w                        # e = u - w, with the scaled dual u = 0
    rows = poly
    for iterations in range(_CHECK_EVERY, _MAX_ITER + 1, _CHECK_EVERY):
        scaled = rho + poly.on_x
        weight, target = rho / scaled, z_box / scaled
        for _ in range(_CHECK_EVERY):
            w_old = w
            v = torch.addmm(poly.offset, e, poly.projector, alpha=-1.0)     # P(w - u)
            q = torch.add(e, w, alpha=2.0 - _ALPHA).add_(v, alpha=_ALPHA)   # relaxed v + u
            pre = torch.addcmul(target, weight, q)      # box step before clipping
            w = pre.clamp(poly.box_lo, poly.box_hi)
            e = torch.add(q, w, alpha=-2.0)             # new u = q - w
        u = e + w
        x, free, active, factor, ok = _polish(poly, z_box[:, :n], pre, rho * u, scale)
        if poly.per_row and iterations >= _CERTIFY_AFTER:
            _raise_empty(~ok & _separated(poly, v - w), "its constraints and bounds have no "
                         "common point (a Farkas certificate separates them)", rows=todo)
        if todo.numel() == batch and bool(ok.all()):      # all done at the first polish
            return x, (free, active, factor if factor_out is not None else None)
        if bool(ok.any()):
            done = todo[ok]
            x_out[done], free_out[done], active_out[done] = x[ok], free[ok], active[ok]
            if factor_out is not None:
                factor_out[done] = factor[ok]
            keep = ~ok
            todo, z_box, rho, w, u, v, w_old, scale = (
                t[keep] for t in (todo, z_box, rho, w, u, v, w_old, scale))
            poly = poly.take(keep)
            if todo.numel() == 0:
                return x_out, (free_out, active_out, factor_out)
        rho, u = _adapt_rho(rho, u, v, w, w_old)
        e = u - w
    hint = (" or that their per-instance right-hand sides (b_eq, b_ub) and upper bounds leave "
            "a feasible point" if rows.per_row else "")
    raise ValueError(
        f"the projection onto the polytope did not converge within {_MAX_ITER} ADMM "
        f"iterations for instance(s) {todo[:10].tolist()} (rows of theta); check that "
        f"theta has a moderate size{hint}, or increase gamma.")


def _separated(poly, direction):
    """Rows whose polytope a Farkas certificate built from ``direction`` proves empty.

    The polytope is the affine set ``{M v = c}`` met with the box of ``v = (x, s)``.
    A ``y`` in the range of ``M'`` takes one value ``y @ v0`` on the whole affine set;
    if the box lies strictly on one side (its support ``sup y @ v`` is below it, for
    ``y`` or ``-y``), the two do not meet. ADMM's residual ``v - w`` tends to the
    displacement between them when they do not, which is such a ``y``; any
    direction gives a valid proof, so a poor guess only fails to certify.
    """
    y = direction - direction @ poly.projector
    norm = y.norm(dim=1, keepdim=True)
    y = torch.where(y.abs() > 1e-12 * norm, y, 0.0) / norm.clamp_min(1e-300)
    level = (y * poly.offset).sum(1)
    lo, hi = poly.box_lo.expand_as(y), poly.box_hi.expand_as(y)

    def support(y):
        return torch.where(y > 0, y * hi, torch.where(y < 0, y * lo, 0.0)).sum(1)

    finite = lambda t: torch.where(t.isfinite(), t.abs(), 0.0).amax(1)  # noqa: E731
    size = torch.stack([finite(lo), finite(hi), finite(poly.offset.expand_as(y)),
                        torch.ones_like(level)]).amax(0)
    gap = torch.maximum(level - support(y), -level - support(-y))
    return (gap > _DATA_TOL * size) & (norm[:, 0] > 0)


def _initial_rho(z):
    # The best step grows with the distance of z from the polytope, about as
    # sqrt(|z|) (measured on shortest-path polytopes over gamma in 0.01 .. 2).
    return _RHO_COEF * z.abs().amax(1, keepdim=True).clamp(1e-3, 1e6) ** _RHO_POWER


def _adapt_rho(rho, u, v, w, w_old):
    """Residual balancing per instance (Boyd et al. 2011, section 3.4.1)."""
    tiny = 1e-30
    primal = (v - w).norm(dim=1) / torch.maximum(v.norm(dim=1), w.norm(dim=1)).clamp_min(tiny)
    dual = (w - w_old).norm(dim=1) / u.norm(dim=1).clamp_min(tiny)
    ratio = torch.sqrt(primal.clamp_min(tiny) / dual.clamp_min(tiny))
    factor = torch.where((ratio > 5.0) | (ratio < 0.2), ratio.clamp(0.01, 100.0), 1.0)
    factor = factor.unsqueeze(1)
    return rho * factor, u / factor


class _FaceSystem:
    """``G_act D_free G_act'`` of each instance, factored once, with a pseudo-inverse.

    ``G`` holds the equality and inequality rows, ``G_act`` the active ones and
    ``D_free`` selects the variables not at an active bound: the KKT system of
    the projection onto one face, with the bounds eliminated.
    """

    def __init__(self, poly, free, active, factor=None):
        self.rows = poly.rows
        self.free = free.to(self.rows.dtype)
        self.mask = active.to(self.rows.dtype)
        self.ok = torch.ones(free.shape[0], dtype=torch.bool, device=free.device)
        self.factor = factor
        if self.rows.shape[0] and factor is None:
            M = (self.mask[:, :, None] * self.mask[:, None, :]) * (
                (self.rows * self.free[:, None, :]) @ self.rows.T)
            M.diagonal(dim1=-2, dim2=-1).add_(1.0 - (1.0 - _RIDGE) * self.mask)
            self.factor, info = torch.linalg.cholesky_ex(M)
            self.ok = info == 0

    def gram(self, nu):
        """``G_act D_free G_act' nu`` for ``nu`` of shape (B, m, k)."""
        spread = (self.mask.unsqueeze(-1) * nu).mT @ self.rows         # (B, k, n)
        return self.mask.unsqueeze(-1) * ((self.free.unsqueeze(1) * spread) @ self.rows.T).mT

    def pinv(self, r):
        """``(G_act D_free G_act')^+ r`` for ``r`` (B, m, k) in its range (iterated ridge)."""
        if not self.rows.shape[0]:
            return r
        nu = torch.cholesky_solve(r, self.factor)
        for _ in range(_REFINE - 1):
            nu = nu + torch.cholesky_solve(r - self.gram(nu), self.factor)
        return nu * self.mask.unsqueeze(-1)

    def on_face(self, g):
        """``g`` projected onto the directions of the face: ``dx/dz`` applied to ``g``."""
        g = g * self.free
        nu = self.pinv((self.mask * (g @ self.rows.T)).unsqueeze(-1))[..., 0]
        return g - self.free * (nu @ self.rows)


def _polish(poly, z, pre, y, scale):
    """Exact projections onto the faces guessed from the box step, certified.

    ``pre`` is the box step before clipping: a clipped coordinate marks an
    active bound (or, for a slack, an active inequality row); ``y = rho * u``
    is the ADMM multiplier of ``v = w``. A guess that fails its check is
    corrected up to ``_POLISH_STEPS - 1`` times, active-set style: violated
    bounds and rows join the face, those with multipliers of the wrong sign
    leave it.

    Returns
    -------
    x, free, active, factor, ok : Tensor
        Polished points, their free variables, active rows and face factors
        (None without rows), and whether each one is certified.
    """
    n, n_eq = poly.n_vars, poly.n_eq
    lower = (pre[:, :n] < poly.lo) | poly.fixed_var
    upper = (pre[:, :n] > poly.hi) | poly.fixed_var
    active = torch.cat([torch.ones(z.shape[0], n_eq, dtype=torch.bool, device=z.device),
                        pre[:, n:] < 0.0], dim=1)
    # Multipliers of the rows from the ADMM dual: -y_s for an inequality, and
    # for the equalities the least-squares fit of y_x = -(A' mu + G' lam).
    lam = -y[:, n:]
    mu = -(y[:, :n] + lam @ poly.rows[n_eq:]) @ poly.eq_multipliers.T
    prior = torch.cat([mu, lam], dim=1)
    tol = _TOL * scale
    x, ok, face, guess = _polish_face(poly, z, lower, upper, active, prior, tol)
    if bool(ok.all()):
        return x, ~(lower | upper), active, face.factor, ok
    m = poly.rows.shape[0]
    factor = face.factor.clone() if m else None
    todo = torch.nonzero(~ok)[:, 0]
    lower[todo], upper[todo], active[todo] = (t[~ok] for t in guess)
    for _ in range(_POLISH_STEPS - 1):
        x_t, ok_t, face, guess = _polish_face(poly.take(todo), z[todo], lower[todo],
                                              upper[todo], active[todo], prior[todo], tol[todo])
        x[todo], ok[todo] = x_t, ok_t
        if factor is not None:
            factor[todo] = face.factor
        todo, again = todo[~ok_t], ~ok_t
        if todo.numel() == 0:
            break
        lower[todo], upper[todo], active[todo] = (t[again] for t in guess)
    return x, ~(lower | upper), active, factor, ok


def _polish_face(poly, z, lower, upper, active, prior, tol):
    """Projection onto one guessed face per instance, its check, and a corrected guess."""
    rows = poly.rows
    free = ~(lower | upper)
    face = _FaceSystem(poly, free, active)
    x0 = torch.where(upper, poly.hi, torch.where(lower, poly.lo, z))
    residual = torch.where(active, x0 @ rows.T - poly.upper, 0.0)
    # One solve gives the minimum-norm multipliers nu of the face and the
    # projection of the prior multipliers onto the range of C_act D_free; the
    # prior moved onto the affine set of exact multipliers is then
    # prior + nu - P_range(prior) (at a degenerate vertex many multipliers are
    # exact, and the minimum-norm ones can have wrong signs).
    prior = prior * face.mask
    both = face.pinv(torch.stack([residual, face.gram(prior.unsqueeze(-1))[..., 0]], -1))
    nu = both[..., 0]
    x = x0 - face.free * (nu @ rows)
    mult = prior + nu - both[..., 1]
    # Bound multipliers from stationarity, x - z + C' mult + mult_b = 0.
    mult_b = z - x - mult @ rows
    slack = tol[:, None]
    Cx = x @ rows.T
    row_over = Cx > poly.upper + slack
    var_under, var_over = x < poly.lo - slack, x > poly.hi + slack
    feasible = ~(row_over | (Cx < poly.lower - slack)).any(1) & ~(var_under | var_over).any(1)
    wrong_row = active & ~poly.is_eq & (mult < 0.0)
    wrong_lower = lower & ~poly.fixed_var & (mult_b > 0.0)
    wrong_upper = upper & ~poly.fixed_var & (mult_b < 0.0)
    violation = torch.where(wrong_row, mult, 0.0) @ rows + torch.where(
        wrong_lower | wrong_upper | free, mult_b, 0.0)
    certified = violation.norm(dim=1) <= tol
    guess = ((lower & ~wrong_lower) | (free & var_under),
             (upper & ~wrong_upper) | (free & var_over),
             (active & ~wrong_row) | row_over)
    return x, feasible & certified & face.ok, face, guess


class _Projection(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, poly):
        # Many small operations: inference mode skips their version counters; the
        # saved and returned tensors are ordinary copies (the factor is only read).
        with torch.inference_mode():
            x, (free, active, factor) = project(poly, z.detach())
        ctx.poly, ctx.factor = poly, factor
        ctx.save_for_backward(free.clone(), active.clone())
        return x.clone()

    @staticmethod
    def backward(ctx, grad_x):
        free, active = ctx.saved_tensors
        face = _FaceSystem(ctx.poly, free, active, ctx.factor)
        return face.on_face(grad_x.to(torch.float64)), None


def relax_polytope(poly, theta, gamma, sign):
    """``argmax theta @ x - gamma ||x||^2`` over the polytope, differentiable in theta.

    Parameters
    ----------
    poly : PolytopeTensors
        The polytope, on ``theta``'s device.
    theta : Tensor of shape (B, n_vars)
    gamma : float
        Weight of the quadratic term, positive.
    sign : float
        +1 for a minimization (``theta @ x + gamma ||x||^2`` is minimized), -1
        for a maximization.

    Returns
    -------
    x : Tensor of shape (B, n_vars), of ``theta``'s dtype
    """
    z = theta.to(torch.float64) * (-sign / (2.0 * gamma))
    return _Projection.apply(z, poly).to(theta.dtype)
