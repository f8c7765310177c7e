"""Default prediction modules (linear, MLP, per-item shared)."""

from ._modules import MLP, PerItem

__all__ = ["MLP", "PerItem"]
