"""Bipartite graph construction, normalisation and propagation."""

from graphcl_rec.graph.bipartite import to_edge_index
from graphcl_rec.graph.normalize import adjacency, sym_norm
from graphcl_rec.graph.propagate import spmm, spmm_rows, to_backend

__all__ = ["adjacency", "spmm", "spmm_rows", "sym_norm", "to_backend", "to_edge_index"]
