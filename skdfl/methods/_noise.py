"""Noise distributions for perturbation methods, drawn from an explicit generator.

Every draw takes a ``torch.Generator`` so that a seeded estimator is
reproducible without touching torch's global random state. Gamma draws use
the Marsaglia-Tsang method on generator-driven normals and uniforms: it is
several times faster than torch's own sampler on CPU and takes any tensor of
shape parameters.
"""

import functools
import math
import numbers

import numpy as np
import torch

from .._validation import check_option, check_scalar

NOISES = ("sog", "gumbel", "normal")
_MAX_ROUNDS = 1000   # rejection rounds of the Gamma sampler (each accepts over 95%)
_MIXTURE_TAIL = 1e-13     # probability left out of the sum-of-Gamma mixture
_MAX_MIXTURE_TERMS = 20000


def _check_dtype(dtype):
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating torch dtype; got {dtype!r}.")


def _uniform(shape, generator, device, dtype):
    # Open interval (0, 1): log(0) must never happen.
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return u.clamp_(torch.finfo(dtype).tiny, 1.0 - torch.finfo(dtype).eps)


def standard_gamma(concentration, shape, *, generator=None, device=None, dtype=torch.float32):
    """Gamma(concentration, scale=1) draws of the given shape (Marsaglia & Tsang, 2000).

    Parameters
    ----------
    concentration : float
        Shape parameter ``alpha > 0``.
    shape : tuple of int
        Shape of the result.
    generator : torch.Generator, optional
        Source of randomness; torch's global generator when None.
    device, dtype : optional
        Placement and floating type of the result.

    Returns
    -------
    draws : Tensor of the given shape

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import standard_gamma
    >>> g = torch.Generator().manual_seed(0)
    >>> x = standard_gamma(0.5, (20000,), generator=g)
    >>> round(float(x.mean()), 1), bool((x > 0).all())
    (0.5, True)
    """
    alpha = float(check_scalar(concentration, "concentration", low=0.0, low_inclusive=False))
    _check_dtype(dtype)
    return _standard_gamma(alpha, shape, generator, device, _working(dtype)).to(dtype)


def _working(dtype):
    # Half precision cannot hold the sampler's intermediate values (d * v
    # overflows for a concentration above ~65000): it draws in float32.
    return dtype if torch.finfo(dtype).bits >= 32 else torch.float32


def _standard_gamma(concentration, shape, generator, device, dtype, *, any_below_one=True):
    """Gamma(concentration) draws; ``concentration`` is a float or a tensor of ``shape``.

    Below 1, Gamma(a + 1) is drawn and scaled by ``U^(1/a)``. For a tensor
    of concentrations, ``any_below_one=False`` says that none is (which
    skips the check and the scaling).
    """
    if isinstance(concentration, torch.Tensor):
        concentration = concentration.reshape(-1)
        boost = concentration < 1.0 if any_below_one else None
        a = concentration if boost is None else torch.where(boost, concentration + 1.0,
                                                            concentration)
        d = a - 1.0 / 3.0
        out = _marsaglia_tsang(d, torch.rsqrt(9.0 * d), len(d), generator, device, dtype)
        if boost is not None:
            scale = _uniform(out.shape, generator, out.device, dtype) ** (1.0 / concentration)
            out = torch.where(boost, out * scale, out)
        return out.view(shape)
    boost = concentration < 1.0
    d = concentration + float(boost) - 1.0 / 3.0
    out = _marsaglia_tsang(d, 1.0 / math.sqrt(9.0 * d), math.prod(shape), generator, device,
                           dtype)
    if boost:
        out *= _uniform(out.shape, generator, out.device, dtype) ** (1.0 / concentration)
    return out.view(shape)


# Candidates per rejected draw in the repeat rounds: one round almost always suffices.
_RETRIES = 4


def _marsaglia_tsang(d, c, size, generator, device, dtype):
    """``size`` Gamma draws by Marsaglia & Tsang's method; ``d``, ``c`` floats or (size,) tensors.

    One full round accepts over 95% of the draws; the rest get ``_RETRIES``
    candidates each per further round, of which the first accepted is kept.
    """
    tiny = torch.finfo(dtype).tiny

    def propose(d, c, shape):
        z = torch.randn(shape, generator=generator, device=device, dtype=dtype)
        u = _uniform(shape, generator, device, dtype)
        v = (1.0 + c * z) ** 3
        log_v = torch.log(v.clamp_min(tiny))
        accept = (v > 0) & (torch.log(u) < 0.5 * z * z + d - d * v + d * log_v)
        return d * v, accept

    per_entry = isinstance(d, torch.Tensor)
    out, accept = propose(d, c, (size,))
    rejected = torch.nonzero(~accept)[:, 0]
    for _ in range(_MAX_ROUNDS):
        if not rejected.numel():
            return out
        if per_entry:
            value, ok = propose(d[rejected, None], c[rejected, None], (len(rejected), _RETRIES))
        else:
            value, ok = propose(d, c, (len(rejected), _RETRIES))
        first = ok.to(torch.uint8).argmax(1, keepdim=True)     # 0 when none is accepted
        value, ok = value.gather(1, first)[:, 0], ok.gather(1, first)[:, 0]
        out[rejected[ok]] = value[ok]
        rejected = rejected[~ok]
    d_max = float(d.max()) if per_entry else d
    raise ValueError(f"concentration={d_max + 1 / 3:g} is too large for Gamma draws in "
                     f"{dtype} (no draw accepted in {_MAX_ROUNDS} rounds); use float64.")


def sum_of_gamma_noise(shape, k, tau=1.0, n_terms=10, generator=None, *, device=None,
                       dtype=torch.float32):
    """Sum-of-Gamma noise of Niepert et al. (2021), Eq. 13.

    ``SoG(k, tau, s) = tau / k * (sum_{i=1..s} Gamma(1/k, scale=k/i) - log s)``.
    Summed over the ``k`` entries of a solution, the noise is (as
    ``s`` grows) a Gumbel(0, tau) variable: perturbing ``theta`` with it makes
    MAP states of k-sparse problems behave like Gumbel-max samples.

    The sum of the ``s`` Gamma terms is drawn exactly as a mixture of
    Gammas (Moschopoulos, 1985): one Gamma draw per entry rather than ``s``.

    Parameters
    ----------
    shape : tuple of int
        Shape of the result.
    k : float
        Number of non-zeros of a solution (``k`` of a k-subset, the path length
        of a shortest path); positive.
    tau : float, default=1.0
        Temperature.
    n_terms : int, default=10
        Number of Gamma terms ``s``.
    generator : torch.Generator, optional
        Source of randomness.
    device, dtype : optional
        Placement and floating type of the result.

    Returns
    -------
    noise : Tensor of the given shape

    References
    ----------
    M. Niepert, P. Minervini, L. Franceschi, "Implicit MLE: Backpropagating
    Through Discrete Exponential Family Distributions", NeurIPS 2021.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import sum_of_gamma_noise
    >>> g = torch.Generator().manual_seed(0)
    >>> eps = sum_of_gamma_noise((50000, 5), k=5, generator=g)
    >>> total = eps.sum(-1)  # Gumbel(0, 1) as n_terms grows: mean 0.577, variance 1.645
    >>> # with n_terms=10: mean H_10 - log 10 = 0.626, variance sum_{i<=10} 1/i^2 = 1.550
    >>> abs(float(total.mean()) - 0.626) < 0.03, abs(float(total.var()) - 1.550) < 0.1
    (True, True)
    """
    check_scalar(k, "k", low=0.0, low_inclusive=False)
    check_scalar(tau, "tau", low=0.0, low_inclusive=False)
    check_scalar(n_terms, "n_terms", kind=numbers.Integral, low=1)
    _check_dtype(dtype)
    k, n_terms, work = float(k), int(n_terms), _working(dtype)
    mixture = _gamma_sum_mixture(k, n_terms)
    if mixture is not None:
        # One Gamma draw per entry instead of n_terms (see _gamma_sum_mixture).
        rho, probability, alias = mixture
        extra = _alias_draws(probability, alias, shape, generator, device)
        total = _standard_gamma(rho + extra.to(work), shape, generator, device, work,
                                any_below_one=rho < 1.0)
        total = total * (k / n_terms)
    else:
        # All terms share the concentration 1/k: one draw, scaled term by term.
        draws = _standard_gamma(1.0 / k, (n_terms, *shape), generator, device, work)
        scales = k / torch.arange(1, n_terms + 1, device=draws.device, dtype=work)
        total = (draws * scales.view(-1, *([1] * len(shape)))).sum(0)
    return (tau / k * (total - math.log(n_terms))).to(dtype)


@functools.lru_cache(maxsize=64)
def _gamma_sum_mixture(k, n_terms):
    """``sum_i Gamma(1/k, scale=k/i)``, i = 1..n_terms, as a mixture of Gammas.

    A sum of independent Gamma variables with shapes ``a_i`` and scales
    ``b_i`` is exactly a mixture of ``Gamma(rho + K, scale=b_min)``, with
    ``rho = sum a_i`` and a random integer ``K >= 0`` of known law
    (Moschopoulos, 1985): ``P(K = j) = C delta_j``, ``C = prod (b_min / b_i)^a_i``,
    ``delta_0 = 1``, ``delta_{j+1} = sum_{i=1..j+1} i g_i delta_{j+1-i} / (j+1)``,
    ``g_i = sum_l a_l (1 - b_min / b_l)^i / i``. Drawing ``K`` (by the alias
    method) and one Gamma per entry costs a tenth of summing ten Gamma
    draws. The law of ``K`` is cut where the remaining probability falls
    below ``_MIXTURE_TAIL`` (its last entry takes the rest).

    Returns
    -------
    rho : float
    probability, alias : ndarray
        The alias table of ``K = 0, 1, ...`` (see :func:`_alias_table`).
    None when the series is too long (many terms) or ``C`` underflows.

    References
    ----------
    P. G. Moschopoulos, "The distribution of the sum of independent gamma
    random variables", Annals of the Institute of Statistical Mathematics
    37, 1985.
    """
    shape = 1.0 / k
    ratios = np.arange(1, n_terms + 1) / n_terms     # b_min / b_i with b_i = k / i
    log_c = shape * np.log(ratios).sum()
    if log_c < -700.0:
        return None
    c, rest = math.exp(log_c), 1.0 - ratios
    weights, deltas, g, total = [c], [1.0], [0.0], c
    while 1.0 - total > _MIXTURE_TAIL:
        j = len(deltas)
        if j > _MAX_MIXTURE_TERMS:
            return None
        g.append(shape * float((rest ** j).sum()))   # j * g_j
        deltas.append(float(np.dot(g[1:], deltas[::-1])) / j)
        weights.append(c * deltas[-1])
        total += weights[-1]
    weights[-1] += 1.0 - total
    return (n_terms * shape, *_alias_table(np.asarray(weights)))


def _alias_table(weights):
    """Walker's alias table of a discrete law (Vose's construction).

    Column ``j`` keeps ``j`` with probability ``probability[j]`` and gives
    ``alias[j]`` otherwise: a uniform column and one comparison draw from
    ``weights`` exactly.
    """
    n = len(weights)
    scaled = weights * (n / weights.sum())
    probability, alias = np.ones(n), np.arange(n)
    small = [j for j in range(n) if scaled[j] < 1.0]
    large = [j for j in range(n) if scaled[j] >= 1.0]
    while small and large:
        less, more = small.pop(), large.pop()
        probability[less], alias[less] = scaled[less], more
        scaled[more] -= 1.0 - scaled[less]
        (small if scaled[more] < 1.0 else large).append(more)
    return probability, alias


def _alias_draws(probability, alias, shape, generator, device):
    """Draws of ``K`` from its alias table, one per entry of ``shape``."""
    n = len(probability)
    u = torch.rand(shape, generator=generator, device=device, dtype=torch.float64) * n
    column = u.long().clamp_max_(n - 1)
    keep = (u - column) < torch.as_tensor(probability, device=device)[column]
    return torch.where(keep, column, torch.as_tensor(alias, device=device)[column])


def gumbel_noise(shape, tau=1.0, generator=None, *, device=None, dtype=torch.float32):
    """Gumbel(0, tau) draws: ``-tau * log(-log U)``.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import gumbel_noise
    >>> g = torch.Generator().manual_seed(0)
    >>> round(float(gumbel_noise((50000,), generator=g).mean()), 1)
    0.6
    """
    check_scalar(tau, "tau", low=0.0, low_inclusive=False)
    _check_dtype(dtype)
    u = _uniform(shape, generator, device, dtype)
    return -tau * torch.log(-torch.log(u))


def draw_noise(kind, shape, *, scale=1.0, k=1.0, generator=None, device=None,
               dtype=torch.float32):
    """Noise of a named kind: ``"sog"``, ``"gumbel"``, ``"normal"`` or None (zeros)."""
    if kind is None:
        return torch.zeros(shape, device=device, dtype=dtype)
    check_option(kind, "noise", NOISES)
    if kind == "sog":
        return sum_of_gamma_noise(shape, k, scale, generator=generator, device=device,
                                  dtype=dtype)
    if kind == "gumbel":
        return gumbel_noise(shape, scale, generator, device=device, dtype=dtype)
    return scale * torch.randn(shape, generator=generator, device=device, dtype=dtype)
