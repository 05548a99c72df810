"""The platform JAX computes on by default: that of `jax.default_device` when one is set (e.g. the CPU on a
GPU machine, as the CPU half of the tests runs), else the default backend's. Features that exist on one
platform only (the CPU's AO tables) decide with this, not with jax.default_backend() alone."""
import jax


def default_platform() -> str:
    default = jax.config.jax_default_device
    if default is None:
        return jax.default_backend()
    return default if isinstance(default, str) else default.platform
