"""Test-wide setup: float64, and one suite for every platform (the CPU always, a CUDA GPU when JAX sees one).

A test that asks for the `platform` fixture runs once per platform: `test_x[cpu]` and `test_x[cuda]`. The
fixture makes that platform's first device JAX's default device for the test, so every array the test
creates from numpy, and every op it calls, lives and runs there, and the ops lower to that platform's FFI
targets (qpt_kernels registers each target for "cpu" and for "CUDA"). The cuda variant carries the `cuda`
mark: `pytest -m cuda` runs the CUDA half, and without a GPU it is skipped with the reason below.

The op tests (tests/ops) and the dft and train tests that go through the ops ask for it through an autouse
fixture in their directory's conftest.py, so a new test file there runs per platform with nothing to add.
`@pytest.mark.platforms("cpu")` keeps a test to the platforms it names (a test that builds CPU devices of
its own, or checks a lowering for a platform named in the test).
"""
import jax
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)

PLATFORMS = ("cpu", "cuda")
_JAX_PLATFORM = {"cpu": "cpu", "cuda": "gpu"}  # JAX calls a CUDA device's platform "gpu"
NO_GPU_REASON = "needs a CUDA GPU; none visible to JAX"

# Property tests: the default profile runs a fixed set of examples (derandomised, no example database), so a
# CI run is reproducible and bounded in time; `pytest --hypothesis-profile=explore` searches further. The
# platform fixture is function-scoped but holds no state an example could change (only the default device).
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                 HealthCheck.function_scoped_fixture]
settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_SLOW_IS_FINE)
settings.register_profile("explore", max_examples=500, deadline=None, suppress_health_check=_SLOW_IS_FINE)
settings.load_profile("ci")


def _has_gpu():
    try:
        return any(d.platform == "gpu" for d in jax.devices())
    except RuntimeError:
        return False


def pytest_generate_tests(metafunc):
    if "platform" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("platforms")
    names = marker.args if marker else PLATFORMS
    unknown = set(names) - set(PLATFORMS)
    if unknown:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown platforms {sorted(unknown)}")
    metafunc.parametrize("platform", [pytest.param(name, id=name, marks=[pytest.mark.cuda] if name == "cuda" else [])
                                      for name in names], indirect=True)


@pytest.fixture
def platform(request):
    """The platform this variant runs on ("cpu" or "cuda"), JAX's default device for the test's duration."""
    name = request.param
    device = jax.devices(_JAX_PLATFORM[name])[0]
    with jax.default_device(device):
        yield name


def pytest_collection_modifyitems(config, items):
    if _has_gpu():
        return
    skip_gpu = pytest.mark.skip(reason=NO_GPU_REASON)
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip_gpu)
