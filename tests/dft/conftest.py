import pytest


@pytest.fixture(autouse=True)
def _on_each_platform(platform):
    """Every test here runs once per platform: on the CPU, and on a CUDA GPU when JAX sees one (tests/conftest.py)."""
