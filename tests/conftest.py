import jax
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)

# Property tests: the default profile runs a fixed set of examples (derandomised, no example database), so a
# CI run is reproducible and bounded in time; `pytest --hypothesis-profile=explore` searches further.
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_SLOW_IS_FINE)
settings.register_profile("explore", max_examples=500, deadline=None, suppress_health_check=_SLOW_IS_FINE)
settings.load_profile("ci")


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
