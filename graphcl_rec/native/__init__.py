"""Optional C kernels, compiled on first use with the host's C compiler.

- :mod:`~graphcl_rec.native.topk`: full-catalogue top-K of dot products, fused
  (the evaluator's ``ranker="native"``).
- :mod:`~graphcl_rec.native.nce`: the softmax terms of an all-candidate InfoNCE,
  fused (:func:`graphcl_rec.losses.info_nce` on float32 CPU tensors).

:func:`status` says whether they are usable here and, if not, why; without them the
library uses torch operators (``GRAPHCL_REC_NATIVE=0`` forces that).
"""

from graphcl_rec.native.build import AVX2_FLAGS, FLAGS, NativeUnavailable, load, status

__all__ = ["AVX2_FLAGS", "FLAGS", "NativeUnavailable", "load", "status"]
