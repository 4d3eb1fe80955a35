import pytest

from graphcl_rec import native


@pytest.fixture(scope="module")
def kernel() -> None:
    """Skips the module's tests where the native kernels cannot be built."""
    try:
        native.load()
    except native.NativeUnavailable as err:
        pytest.skip(f"native kernel unavailable: {err}")
