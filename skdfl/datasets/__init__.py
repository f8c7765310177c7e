"""Datasets: synthetic generators and real data."""

from ._shortest_path import make_shortest_path

__all__ = ["make_shortest_path"]
