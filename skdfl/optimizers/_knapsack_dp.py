"""Exact batched dynamic programs of the 0-1 knapsack.

Three kernels share one table layout: ``best[b, c]``, the largest value of
instance ``b`` within weight ``c`` (a flat index over the product of the
capacities for several dimensions), and a trace back that starts at each
row's own capacity, its ``room``. A per-row capacity is therefore only a
per-row read of the table; the table itself runs to the largest capacity of
the pass.

- ``solve_by_classes``: weights shared by the batch, one dimension. Items of
  equal weight enter the table in one step (the fast path).
- ``solve_by_row_classes``: weights per row, one dimension, few distinct
  values. The same steps, one per weight value of the batch, with the
  members of a class given per row.
- ``solve_by_items``: any number of dimensions, weights shared or per row.
  One plain 0-1 step per item, shifting each row's table by that row's
  weight (a gather).
"""

import functools
from dataclasses import dataclass

import numpy as np
import torch

# Largest table of one instance (entries, less one: the capacity in one
# dimension). A row of it per instance, and one boolean copy per item for the
# trace back, must fit in memory.
MAX_TABLE_CAPACITY = 10 ** 7
# Entries of a DP table (rows x capacities) per solver pass: small tables
# stay in cache, and tiny operations below torch's intra-op grain size
# (32768 elements) do not pay for synchronizing threads.
_PASS_ENTRIES = 1 << 15
# Entries of the candidate windows of one class step (rows x capacities x
# counts) at a time: beyond a few MiB they fall out of cache.
_WINDOW_ENTRIES = 1 << 19
# Entries of the member and rank tables (rows x items x weight values) of a
# pass with weights per row, at most (long: 32 MiB).
_CLASS_TABLE_ENTRIES = 1 << 22


# ----------------------------------------------------------------------
# Passes: rows solved together share one table
# ----------------------------------------------------------------------

def in_passes(values, rooms, solve_pass):
    """Solve the rows of ``values`` in passes of bounded table size.

    Parameters
    ----------
    values : Tensor of shape (B, n)
    rooms : Tensor of shape (B, d)
        Each row's capacity per dimension (already capped by its total
        weight): the pass's table runs to the largest of its rows.
    solve_pass : callable
        ``solve_pass(rows, dims)`` returns the decisions of the rows
        ``rows`` (a slice or an index tensor) with a table of capacities
        ``dims`` (a tuple of ints, one per dimension).

    Returns
    -------
    decisions : Tensor of shape (B, n)
    """
    batch = len(values)
    if batch == 0:
        return values.new_zeros(values.shape)
    host = rooms.cpu().numpy()                           # one synchronization
    dims = host.max(0)
    if batch * np.prod(dims + 1, dtype=np.float64) <= _PASS_ENTRIES:
        return solve_pass(slice(None), tuple(int(c) for c in dims))
    # Rows sorted by the size of their own table, so that a pass of small
    # rows does not run to the capacity of a large one.
    order = np.argsort(np.prod(host + 1, axis=1, dtype=np.float64), kind="stable")
    host = host[order]
    index = torch.as_tensor(order, device=values.device)
    decisions = values.new_empty(values.shape)
    start = 0
    while start < batch:
        end = _pass_end(host, start)
        rows = index[start:end]
        decisions[rows] = solve_pass(rows, tuple(int(c) for c in host[start:end].max(0)))
        start = end
    return decisions


def _pass_end(host, start):
    """End of the pass that starts at ``start``: as many rows as fit ``_PASS_ENTRIES``."""
    ahead = host[start:start + _PASS_ENTRIES]
    # The table of the first k rows runs to their running maximum per dimension.
    table = np.prod(np.maximum.accumulate(ahead, axis=0) + 1, axis=1, dtype=np.float64)
    entries = np.arange(1, len(ahead) + 1) * table       # increasing in k
    return start + max(1, int(np.searchsorted(entries, _PASS_ENTRIES, side="right")))


# ----------------------------------------------------------------------
# Shared weights, one dimension: one step per weight class
# ----------------------------------------------------------------------

@dataclass
class WeightClass:
    """Items of one weight."""

    weight: int
    first: int                 # index of its first item
    items: torch.Tensor        # (n,) item indices
    steps: torch.Tensor        # (n + 1,): weight of taking m of them, m = 0..n
    most: torch.Tensor         # (capacity + 1,): how many of them fit in c, for c up to
                               # the capacity the classes were built for


def weight_classes(weights, capacity, device):
    """Group the items by weight (one DP step per group instead of per item)."""
    classes = []
    room = np.arange(capacity + 1)
    as_t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    for weight in np.unique(weights):
        items = np.flatnonzero(weights == weight)
        most = np.minimum(room // weight, len(items)) if weight else np.full_like(room, len(items))
        classes.append(WeightClass(int(weight), int(items[0]), as_t(items),
                                   as_t(np.arange(len(items) + 1) * int(weight)), as_t(most)))
    return classes


def solve_by_classes(values, classes, capacity, rooms=None):
    """Exact 0-1 knapsack for every row of ``values`` (B, n); returns 0/1 decisions.

    Items of equal weight form a class: taking ``m`` of them is best done
    with the ``m`` most valuable, whose sum ``top[m]`` is concave in ``m``.
    So a class enters the dynamic program in one step,
    ``best[c] = max_m best[c - m w] + top[m]``, where ``best[b, c]`` is the
    largest value reachable with total weight at most ``c`` using the
    classes seen so far (a strided view of ``best``, no copy). The first
    class needs no search (concavity: the best count within ``c`` is
    ``min(c // w, number of positive values)``) and the last one only the
    rows' capacities: the real data's 48 items have three weights, hence a
    single full step. Going back from the last class, each class's count is
    the best one at the capacity left, found from the table before it.
    Large batches go through in passes that bound the working memory.

    Parameters
    ----------
    values : Tensor of shape (B, n), float64
    classes : list of WeightClass
    capacity : int
        The capacity of every row, at most the total weight.
    rooms : Tensor of shape (B,), optional
        A capacity per row (each at most the total weight) instead.
    """
    if rooms is not None:
        return in_passes(values, rooms.unsqueeze(1), lambda rows, dims: _class_pass(
            values[rows], classes, dims[0], rooms[rows]))
    if len(values) == 0:
        return values.new_zeros(values.shape)
    per_pass = max(1, _PASS_ENTRIES // (capacity + 1))
    if len(values) <= per_pass:
        return _class_pass(values, classes, capacity)
    return torch.cat([_class_pass(part, classes, capacity)
                      for part in values.split(per_pass)])


def _ranked(values, cls):
    """Descending order of a class's values, the sums of its top m, and its positive count."""
    ranked, order = values[:, cls.items].sort(dim=1, descending=True, stable=True)
    top = torch.cat([ranked.new_zeros(len(values), 1), ranked.cumsum(1)], dim=1)
    return order, top, (ranked > 0).sum(1)


def _first_class(top, n_positive, weight, capacity, most=None):
    """The table of the first class: by concavity, the best count within ``c`` is known.

    ``most[c]``, how many of the class fit in ``c``, is computed unless given.
    """
    if most is None or len(most) <= capacity:
        n = top.shape[1] - 1
        room = torch.arange(capacity + 1, device=top.device)
        most = torch.full_like(room, n) if weight == 0 else torch.clamp_max(room // weight, n)
    count = torch.minimum(most[:capacity + 1].unsqueeze(0), n_positive.unsqueeze(1))
    return top.gather(1, count)


def _add_class(best, top, weight):
    """``max_m best[c - m w] + top[m]`` for every capacity ``c``."""
    n, width = top.shape[1] - 1, best.shape[1]
    if weight >= width:                           # none of them ever fits
        return best
    # Left padding by n * w entries of -inf makes "m items do not fit"
    # impossible; in reversed count order r = n - m the candidates are a
    # view with positive strides: padded[c + r * w].
    padded = torch.cat([best.new_full((len(best), n * weight), -torch.inf), best], dim=1)
    window = padded.as_strided((len(best), width, n + 1), (padded.stride(0), 1, weight))
    return (window + top.flip(1).unsqueeze(1)).amax(-1)


def _add_item(best, value, weight):
    """The 0-1 step of a class of one item: the new table and where the item is taken.

    The item is taken only where it strictly helps (ties keep the lighter
    choice).
    """
    shifted = torch.full_like(best, -torch.inf)
    if weight < best.shape[1]:
        shifted[:, weight:] = best[:, :best.shape[1] - weight] + value
    taken = shifted > best
    return torch.maximum(best, shifted), taken


def _best_count(before, top, room, steps):
    """The count of a class that reaches ``best`` at capacity ``room`` (fewest on ties)."""
    left = room.unsqueeze(1) - steps                       # (B, n + 1)
    values = top if before is None else before.gather(1, left.clamp_min(0)) + top
    return values.masked_fill(left < 0, -torch.inf).argmax(1)


def _chosen(taken, order, width, dtype):
    """0/1 over ``width`` columns: the first ``taken`` of each row's ``order``."""
    ranks = torch.arange(order.shape[1], device=order.device)
    chosen = (ranks < taken.unsqueeze(1)).to(dtype)
    return chosen.new_zeros(len(chosen), width).scatter_(1, order, chosen)


def _class_pass(values, classes, capacity, room=None):
    batch = values.shape[0]
    # What the trace back needs per class: the 0/1 choice table of a single
    # item, or the table before a class of several items and their ranking.
    best, memory = None, []
    for cls in classes[:-1]:
        if best is not None and len(cls.items) == 1:
            best, taken = _add_item(best, values[:, cls.first:cls.first + 1], cls.weight)
            memory.append(taken)
            continue
        order, top, n_positive = _ranked(values, cls)
        memory.append((best, order, top))
        if best is None:
            best = _first_class(top, n_positive, cls.weight, capacity, cls.most)
        else:
            best = _add_class(best, top, cls.weight)
    memory.append((best, *_ranked(values, classes[-1])[:2]))
    decisions = values.new_zeros(values.shape)
    rows = torch.arange(batch, device=values.device)
    if room is None:
        room = torch.full((batch,), capacity, dtype=torch.long, device=values.device)
    for cls, kept in zip(reversed(classes), reversed(memory)):
        if isinstance(kept, torch.Tensor):
            taken = kept[rows, room]
            decisions[:, cls.first] = taken.to(values.dtype)
            room = room - taken.long() * cls.weight
            continue
        before, order, top = kept
        taken = _best_count(before, top, room, cls.steps)
        room = room - taken * cls.weight
        decisions[:, cls.items] = _chosen(taken, order, len(cls.items), values.dtype)
    return decisions


# ----------------------------------------------------------------------
# Weights per row, one dimension: one step per weight value of the batch
# ----------------------------------------------------------------------

def solve_by_row_classes(values, weights, rooms, distinct=None):
    """Exact 0-1 knapsack with a weight vector per row (one dimension).

    The weight classes of :func:`solve_by_classes`, taken over the weight
    values of the whole batch: a class holds, in each row, the items of that
    weight there (possibly none), and its sums ``top[m]`` are ``-inf`` beyond
    the row's count, so that a row never takes more of them than it has.
    One sort of each row serves every class: a class's members keep their
    rank order, so its ``top`` is the running sum of the row's sorted values
    restricted to the members. Worth it when the batch has few distinct
    weights.

    Parameters
    ----------
    values : Tensor of shape (B, n), float64
    weights : Tensor of shape (B, n), long
    rooms : Tensor of shape (B,), long
        Each row's capacity, at most its total weight.
    distinct : Tensor, optional
        The distinct weights of the batch, ascending (computed if not given).
    """
    if distinct is None:
        distinct = torch.unique(weights)
    classes = distinct.tolist()
    return in_passes(values, rooms.unsqueeze(1), lambda rows, dims: _row_class_pass(
        values[rows], weights[rows], dims[0], rooms[rows], classes, distinct))


def _row_class_pass(values, weights, capacity, room, classes, distinct):
    """Every class's ``top`` at once, a step per class present in the pass, one trace back.

    Small batches pay per tensor operation: the classes' members, ranks and
    sums come from one (B, classes, n) table each rather than a loop.
    """
    rows = max(1, _CLASS_TABLE_ENTRIES // (values.shape[1] * len(classes) or 1))
    if len(values) > rows:
        return torch.cat([_row_class_pass(*part, capacity, part_room, classes, distinct)
                          for *part, part_room in zip(values.split(rows), weights.split(rows),
                                                      room.split(rows))])
    ranked, order = values.sort(dim=1, descending=True, stable=True)
    # member[b, k, i]: row b's i-th most valuable item has the k-th weight value
    # (class-major: the scans and the scatter below run along contiguous rows).
    member = weights.gather(1, order).unsqueeze(1) == distinct.unsqueeze(1)
    rank = member.cumsum(2)                              # 1-based rank of a member in its class
    most = rank[:, :, -1].amax(0).tolist()               # a class's largest count in one row
    spare = max(most, default=0) + 1
    # top[:, k, m]: the sum of the row's m best members of class k (-inf past its count);
    # every non-member lands in a spare last column.
    top = ranked.new_full((len(ranked), len(classes), spare + 1), -torch.inf)
    top[:, :, 0] = 0.0
    sums = (ranked.unsqueeze(1) * member).cumsum(2)      # (0 off the members)
    rank = torch.where(member, rank, spare)              # a non-member is never taken
    top.scatter_(2, rank, sums)
    present = [k for k, count in enumerate(most) if count]
    best, befores = None, {}
    for k in present:
        befores[k] = best
        if k == present[-1]:
            break
        top_k = top[:, k, :most[k] + 1]
        if best is None:
            # The first max of the running sums is the count of positive values (or an
            # equal sum).
            best = _first_class(top_k, top_k.argmax(1), classes[k], capacity)
        else:
            best = _add_class_by_chunks(best, top_k, classes[k])
    taken = torch.zeros_like(rank[:, :, 0])              # (B, classes): the count of each
    for k in reversed(present):
        steps = torch.arange(most[k] + 1, device=room.device) * classes[k]
        count = _best_count(befores[k], top[:, k, :most[k] + 1], room, steps)
        room = room - count * classes[k]
        taken[:, k] = count
    chosen = (rank <= taken.unsqueeze(2)).any(1)
    return torch.zeros_like(values).scatter_(1, order, chosen.to(values.dtype))


def _add_class_by_chunks(best, top, weight):
    """``_add_class`` on blocks of rows whose candidate windows stay in cache."""
    rows = max(1, _WINDOW_ENTRIES // (best.shape[1] * top.shape[1]))
    if rows >= len(best):
        return _add_class(best, top, weight)
    return torch.cat([_add_class(part, top_part, weight)
                      for part, top_part in zip(best.split(rows), top.split(rows))])


# ----------------------------------------------------------------------
# Any number of dimensions, weights shared or per row: one step per item
# ----------------------------------------------------------------------

def solve_by_items(values, weights, rooms):
    """Exact 0-1 knapsack over the product of the capacities, one item at a time.

    The table of a row has one entry per capacity vector ``(c_1, ..., c_d)``
    (row-major, flat). Adding item ``j`` shifts it by the item's flat weight
    where the item fits in every dimension:
    ``best[s] = max(best[s], best[s - shift_j] + value_j)``, with the shift
    per row (a gather) when the weights are. The item is taken only where
    it strictly helps (ties keep the lighter choice).

    Parameters
    ----------
    values : Tensor of shape (B, n), float64
    weights : Tensor of shape (B, d, n) or (1, d, n), long
        Weights per row, or shared by the batch.
    rooms : Tensor of shape (B, d), long
        Each row's capacity per dimension, at most its total weight there.
    """
    shared = weights.shape[0] == 1
    if weights.shape[1] == 1 and not shared:
        return in_passes(values, rooms, lambda rows, dims: _row_item_pass(
            values[rows], weights[rows, 0], rooms[rows, 0], dims[0]))
    if shared:
        return in_passes(values, rooms, lambda rows, dims: _shared_item_pass(
            values[rows], weights[0], rooms[rows], dims))
    return in_passes(values, rooms, lambda rows, dims: _item_pass(
        values[rows], weights if shared else weights[rows], rooms[rows], dims))


def _row_item_pass(values, weights, room, capacity):
    """One dimension, weights per row: the table sits behind ``capacity + 1`` entries of
    -inf, so that a shift past the capacity reads "does not fit" without a mask."""
    batch, n = values.shape
    width = capacity + 1
    table = values.new_full((batch, 2 * width), -torch.inf)
    best = table[:, width:]
    best.zero_()
    targets = torch.arange(width, 2 * width, device=values.device)
    shifts = weights.clamp_max(width)
    memory = []
    for j in range(n):
        shifted = table.gather(1, targets - shifts[:, j:j + 1]).add_(values[:, j:j + 1])
        taken = shifted > best
        torch.maximum(best, shifted, out=best)
        memory.append(taken)
    return _trace_items(values, memory, _row_starts(batch, width, values.device) + room, shifts)


def _shared_item_pass(values, weights, rooms, dims):
    """Weights shared by the batch: the table as a (c_1 + 1, ..., c_d + 1, B) array.

    Adding an item is a max with the table shifted by its weight along every
    dimension, over the part where the item fits: strided views of the
    table at fixed offsets (no copy, no mask; an item that does not fit in
    some dimension is skipped). The batch runs along the last axis, so that
    these views hold long contiguous runs. Three tensor operations per
    item, the table and the item's "taken" table written in place; the
    views' sizes and offsets are planned once per weights, table and batch.
    """
    batch, n = values.shape
    best = values.new_zeros(*[c + 1 for c in dims], batch)
    # One allocation for every item's "taken" table (an item that never fits is never taken).
    taken = torch.zeros(n, *best.shape, dtype=torch.bool, device=values.device)
    stride, views, shifts = _item_views(tuple(map(tuple, weights.t().tolist())), dims, batch)
    columns = values.t().unbind(0)
    for j, size, shift, taken_offset in views:
        target = best.as_strided(size, stride, shift)
        shifted = best.as_strided(size, stride, 0) + columns[j]
        # Taken only where it strictly helps (ties keep the lighter choice).
        torch.gt(shifted, target, out=taken.as_strided(size, stride, taken_offset))
        torch.maximum(target, shifted, out=target)
    position = ((rooms * rooms.new_tensor(stride[:-1])).sum(1)
                + torch.arange(batch, device=values.device))
    shifts = torch.tensor(shifts, device=values.device)
    return _trace_items(values, taken.reshape(n, -1), position, shifts.expand(batch, -1))


@functools.lru_cache(maxsize=64)
def _item_views(weights, dims, batch):
    """The strided views of ``_shared_item_pass`` for items ``weights`` (n tuples of d ints).

    Returns the table's strides, ``(j, size, offset, taken offset)`` for
    every item ``j`` that fits, and every item's flat shift (its weight
    read through the strides).
    """
    shape = (*[c + 1 for c in dims], batch)
    stride = tuple(int(np.prod(shape[k + 1:])) for k in range(len(shape)))
    layer = int(np.prod(shape))
    shifts = [sum(wk * s for wk, s in zip(w, stride)) for w in weights]
    views = tuple((j, (*[c + 1 - wk for wk, c in zip(w, dims)], batch), shift, j * layer + shift)
                  for j, (w, shift) in enumerate(zip(weights, shifts))
                  if all(map(int.__le__, w, dims)))
    return stride, views, shifts


def _item_pass(values, weights, rooms, dims):
    device = values.device
    sizes = torch.tensor(dims, device=device) + 1
    strides = torch.ones_like(sizes)
    for k in range(len(dims) - 2, -1, -1):
        strides[k] = strides[k + 1] * sizes[k + 1]
    entries = int(np.prod([c + 1 for c in dims]))
    flat = torch.arange(entries, device=device)
    coords = (flat // strides.unsqueeze(1)) % sizes.unsqueeze(1)         # (d, S)
    shifts = (weights * strides[:, None]).sum(1)                         # (B or 1, n)
    batch, n = values.shape
    shared = weights.shape[0] == 1
    best, memory = values.new_zeros(batch, entries), []
    for j in range(n):
        fits = (coords >= weights[:, :, j, None]).all(1)                 # (B or 1, S)
        source = (flat - shifts[:, j:j + 1]).clamp_min(0)
        shifted = best[:, source[0]] if shared else best.gather(1, source)
        shifted = (shifted + values[:, j:j + 1]).masked_fill(~fits, -torch.inf)
        taken = shifted > best
        best = torch.where(taken, shifted, best)
        memory.append(taken)
    return _trace_items(values, memory, _row_starts(batch, entries, device)
                        + (rooms * strides).sum(1), shifts)


def _row_starts(batch, entries, device):
    """Where each row's table starts in a flat (B, entries) table."""
    return torch.arange(batch, device=device) * entries


def _trace_items(values, memory, position, shifts):
    """Back from the last item: taken where its table says so at the room left.

    ``memory[j]`` is item ``j``'s 0/1 table, read flat at ``position``, each
    row's entry for its capacity; taking item ``j`` moves a row's entry back
    by ``shifts[:, j]``, the item's flat weight. One read (``take``) and one
    update of the positions per item.
    """
    if position.device.type == "cpu":
        return _trace_items_on_host(values, memory, position, shifts)
    chosen = []
    for table, shift in zip(reversed(memory), reversed(shifts.t().unbind(0))):
        taken = table.take(position)
        position = torch.addcmul(position, taken, shift, value=-1)
        chosen.append(taken)
    if not chosen:
        return values.new_zeros(values.shape)
    return torch.stack(chosen[::-1], dim=1).to(values.dtype)


def _trace_items_on_host(values, memory, position, shifts):
    """``_trace_items`` in numpy, for tables in host memory: the walk is two
    tiny operations per item, where numpy's call costs a third of torch's."""
    position = position.numpy().copy()
    shifts = shifts.numpy()
    chosen = np.zeros(values.shape[::-1], dtype=bool)
    for j in range(len(memory) - 1, -1, -1):
        taken = memory[j].numpy().take(position)
        position -= taken * shifts[:, j]
        chosen[j] = taken
    return torch.from_numpy(chosen.T).to(values.dtype)
