import jax
import pytest

jax.config.update("jax_enable_x64", True)


def _has_gpu():
    try:
        return any(d.platform == "gpu" for d in jax.devices())
    except RuntimeError:
        return False


def pytest_collection_modifyitems(config, items):
    if _has_gpu():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU; none visible to JAX")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip_gpu)
