import platform

import pytest

from graphcl_rec import native
from graphcl_rec.native.build import _host

PORTABLE = ("-O2", "-shared", "-fPIC")  # plain C: neither AVX-512 nor AVX2
AVX2 = native.AVX2_FLAGS

_flags = f" {_host()} "
_x86 = platform.machine().lower() in ("x86_64", "amd64")
BUILDS = [
    pytest.param(native.FLAGS, id="default"),
    pytest.param(PORTABLE, id="plain"),
    pytest.param(AVX2, id="avx2", marks=pytest.mark.skipif(
        not (_x86 and " avx2 " in _flags and " fma " in _flags),
        reason="the host has no AVX2 + FMA")),
]
"""Every build of the kernels that this host can run."""


@pytest.fixture(scope="module")
def kernel() -> None:
    """Skips the module's tests where the native kernels cannot be built."""
    try:
        native.load()
    except native.NativeUnavailable as err:
        pytest.skip(f"native kernel unavailable: {err}")
