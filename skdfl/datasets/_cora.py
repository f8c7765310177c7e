"""Bipartite matching on the Cora citation network (Wilder, Dilkina and Tambe 2019)."""

from functools import lru_cache
from importlib import resources
import numbers

import networkx as nx
import numpy as np
import scipy.sparse as sp
from networkx.algorithms.community import kernighan_lin_bisection
from sklearn.decomposition import TruncatedSVD
from sklearn.utils import Bunch

from .._validation import check_option, check_scalar
from ..optimizers import LinearProgram

PAIR_FEATURES = ("concatenate", "product", "both")


@lru_cache(maxsize=1)
def _read_cora():
    """The undirected citation graph (CSR, 0/1, no self-links) and the binary word matrix.

    Cached (read only, never modified): repeated loads skip the file and the SVD.
    """
    folder = resources.files("skdfl.datasets") / "data"
    with resources.as_file(folder / "cora.npz") as path, np.load(path) as raw:
        links = sp.csr_matrix((raw["adj_data"], raw["adj_indices"], raw["adj_indptr"]),
                              shape=tuple(raw["adj_shape"]))
        words = sp.csr_matrix((raw["attr_data"], raw["attr_indices"], raw["attr_indptr"]),
                              shape=tuple(raw["attr_shape"]))
        names = raw["node_names"]
    # A citation is a link whichever paper cites which.
    graph = ((links + links.T) > 0).astype(np.int8).tolil()
    graph.setdiag(0)
    graph = graph.tocsr()
    graph.eliminate_zeros()
    return graph, words.astype(np.float64), names


def _grow_parts(graph, n_nodes):
    """Cut the graph into ``n_papers // n_nodes`` parts of ``n_nodes`` nodes, greedily grown.

    Greedy graph growing (the initial partitioning of METIS, without its
    coarsening): a part starts at the free node with the fewest free
    neighbours (at least one where any has one) and repeatedly takes the free
    neighbour with the most links into the part, among those the one with
    the fewest links left outside (so that growing does not strand small
    fragments for the last parts), then the lowest index. Where the part's
    frontier runs dry (a connected component is used up) it restarts at a new
    seed. Deterministic; the nodes left over (``n_papers % n_nodes``) belong
    to no part.
    """
    n = graph.shape[0]
    neighbours = np.split(graph.indices, graph.indptr[1:-1])
    free = np.ones(n, dtype=bool)
    free_degree = np.diff(graph.indptr).astype(np.int64)
    parts = []
    for _ in range(n // n_nodes):
        part, gain = [], {}
        while len(part) < n_nodes:
            if gain:
                node = max(gain, key=lambda u: (gain[u], -free_degree[u], -u))
                del gain[node]
            else:
                candidates = np.flatnonzero(free)
                degree = free_degree[candidates]
                node = int(candidates[np.argmin(np.where(degree > 0, degree, n))])
            part.append(node)
            free[node] = False
            for u in neighbours[node].tolist():
                free_degree[u] -= 1
                if free[u]:
                    gain[u] = gain.get(u, 0) + 1
        parts.append(np.sort(part))
    return parts


def _split_sides(graph, part, seed):
    """Two sides of ``len(part) / 2`` nodes with as many links across as Kernighan-Lin finds.

    Kernighan-Lin minimizes the weight of the cut; with weight -1 on every
    link it maximizes the number of links across (a balanced max-cut).
    """
    sub = graph[part][:, part].tocoo()
    g = nx.Graph()
    g.add_nodes_from(range(len(part)))
    g.add_edges_from(zip(sub.row.tolist(), sub.col.tolist()))
    left, right = kernighan_lin_bisection(g, max_iter=50, weight=lambda u, v, d: -1, seed=seed)
    return part[sorted(left)], part[sorted(right)]


@lru_cache(maxsize=4)
def _node_features(n_components, random_state):
    words = _read_cora()[1]
    if n_components is None:
        features = words.toarray()
    else:
        svd = TruncatedSVD(n_components, algorithm="randomized", n_iter=7,
                           random_state=random_state)
        reduced = svd.fit_transform(words)
        features = (reduced - reduced.mean(0)) / reduced.std(0)
    features.setflags(write=False)      # shared by the cache
    return features


def load_cora_matching(n_instances=27, *, n_nodes=100, n_components=50,
                       pair_features="both", random_state=0, return_X_y=False):
    """Load Wilder et al.'s bipartite matching instances cut from the Cora citation network.

    The real-data matching domain of Wilder, Dilkina and Tambe (2019).
    Cora has 2708 machine-learning papers, their binary word vectors (1433
    words) and 5278 citation links (5429 citations; a pair citing each
    other is one link). The graph is cut into instances of ``n_nodes``
    papers, and each instance's papers into two sides of ``n_nodes / 2``;
    the decision is which pairs (one paper from each side) to match, each
    paper at most once, and its value is the number of matched pairs that
    are linked. The model predicts from the two papers' words whether a
    pair is linked, and ``LinearProgram.bipartite_matching(n_nodes // 2,
    n_nodes // 2)`` (``optimizer`` in the Bunch) decides with the predicted
    probabilities. Read more in ``DESCR``.

    How the instances are built (deterministic for a given ``random_state``):

    - **parts**: Wilder et al. used METIS; here greedy graph growing (the
      initial partitioning step of METIS, without its multilevel
      coarsening) cuts the graph into ``2708 // n_nodes`` parts that keep
      most links inside (3974 of 5278 for ``n_nodes=100``); instance ``i``
      is part ``i``, whatever ``n_instances`` is. The 8 papers left over
      for ``n_nodes=100`` belong to no instance.
    - **sides**: networkx's ``kernighan_lin_bisection`` (seeded with
      ``random_state``) with weight -1 on every link, so that it maximizes
      the links across the two sides, as Wilder et al. did; a side's papers
      are in the order of the original data.
    - **features of a pair** ``(a, b)``: from each paper's word vector
      reduced to ``n_components`` dimensions by a truncated SVD of the whole
      word matrix (unsupervised: it sees no link), each dimension
      standardized; ``pair_features`` combines the two papers' vectors:
      ``"both"`` ``[f_a, f_b, f_a * f_b]`` (the default, as
      :func:`make_bipartite_matching`), ``"concatenate"`` ``[f_a, f_b]``
      (Wilder et al., whose networks had a hidden layer), or ``"product"``
      ``f_a * f_b``. Whether two papers are linked depends on how alike they
      are: a linear model can read that from the product, not from the
      concatenation (a linear two-stage classifier matched 2.0 linked pairs
      of a test instance, as random decisions do, on concatenated features,
      and 15.6 with both, of 38.8 at best; one split of 22 and 5 instances).

    Parameters
    ----------
    n_instances : int, default=27
        Number of instances, at most ``2708 // n_nodes`` (27 for 100 papers).
    n_nodes : int, default=100
        Papers per instance (even; each side has ``n_nodes // 2``).
    n_components : int or None, default=50
        Dimension of a paper's word vector after the truncated SVD (1 to
        1432). None keeps the 1433 binary words of each paper, which makes
        ``data`` large (both: 27 x 2500 x 4299 values, 2.3 GB).
    pair_features : {"both", "concatenate", "product"}, default="both"
        How a pair's features combine the two papers' vectors.
    random_state : int, default=0
        Seed of the bisections and of the SVD.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` of shape ``(n_instances, n_pairs * n_pair_features)``, the
        pairs' features flattened pair-major with the pairs in row-major
        order (``(0, 0), (0, 1), ...``; ``n_pairs = (n_nodes // 2) ** 2``):
        the layout of ``per_item=True`` and of
        :func:`make_bipartite_matching`. ``target`` of shape ``(n_instances,
        n_pairs)``, 1 where the pair is linked (int64). ``left`` and
        ``right``, each ``(n_instances, n_nodes // 2)``, the papers of each
        side (rows of the original data); ``paper_ids`` of shape
        ``(n_instances, n_nodes)``, the original Cora ids of ``left`` then
        ``right``; ``optimizer``, ``LinearProgram.bipartite_matching(n_nodes
        // 2, n_nodes // 2)``; ``DESCR`` the description with the licence
        and the attribution.
    (data, target) : tuple if ``return_X_y`` is True

    See Also
    --------
    make_bipartite_matching : A synthetic version of the same domain.

    References
    ----------
    B. Wilder, B. Dilkina, M. Tambe. Melding the data-decisions pipeline:
    decision-focused learning for combinatorial optimization. AAAI 2019.

    P. Sen, G. Namata, M. Bilgic, L. Getoor, B. Gallagher, T. Eliassi-Rad.
    Collective classification in network data. AI Magazine 29(3), 2008.

    Examples
    --------
    >>> from skdfl.datasets import load_cora_matching
    >>> cora = load_cora_matching(n_instances=3)
    >>> cora.data.shape, cora.target.shape          # 50 x 50 pairs, 3 x 50 features
    ((3, 375000), (3, 2500))
    >>> x = cora.optimizer.solve(cora.target)        # a maximum matching of the links
    >>> cora.optimizer.objective(x, cora.target)
    array([42., 44., 43.])
    """
    check_scalar(n_nodes, "n_nodes", kind=numbers.Integral, low=2)
    if n_nodes % 2:
        raise ValueError(f"n_nodes must be even (two sides of n_nodes / 2 papers); "
                         f"got {n_nodes}.")
    graph, words, names = _read_cora()
    check_scalar(n_instances, "n_instances", kind=numbers.Integral, low=1,
                 high=graph.shape[0] // n_nodes)
    check_scalar(n_components, "n_components", kind=numbers.Integral, low=1,
                 high=words.shape[1] - 1, allow_none=True)
    check_option(pair_features, "pair_features", PAIR_FEATURES)
    check_scalar(random_state, "random_state", kind=numbers.Integral, low=0)

    parts = _grow_parts(graph, n_nodes)[:n_instances]
    sides = [_split_sides(graph, part, random_state) for part in parts]
    left = np.stack([a for a, _ in sides])
    right = np.stack([b for _, b in sides])
    dense = graph.toarray()
    target = dense[left[:, :, None], right[:, None, :]].astype(np.int64)

    features = _node_features(n_components, random_state)
    n_side = n_nodes // 2
    shape = (n_instances, n_side, n_side, features.shape[1])
    a = np.broadcast_to(features[left][:, :, None, :], shape)
    b = np.broadcast_to(features[right][:, None, :, :], shape)
    blocks = {"concatenate": (a, b), "product": (a * b,), "both": (a, b, a * b)}
    X = np.concatenate(blocks[pair_features], axis=-1).reshape(n_instances, -1)
    y = target.reshape(n_instances, -1)
    if return_X_y:
        return X, y
    folder = resources.files("skdfl.datasets") / "data"
    return Bunch(data=X, target=y, left=left, right=right,
                 paper_ids=np.concatenate([names[left], names[right]], axis=1),
                 optimizer=LinearProgram.bipartite_matching(n_side, n_side),
                 DESCR=(folder / "cora.rst").read_text())
