"""Checks of user input to qpt.dft, made before any kernel runs."""
import jax.numpy as jnp

from qpt.ops._checks import require_symmetric


def check_density(system, D, name="D"):
    D = jnp.asarray(D) if not hasattr(D, "shape") else D
    nao = system.nao
    if D.ndim < 2 or D.shape[-2:] != (nao, nao):
        raise ValueError(f"qpt.dft: {name} must be [..., {nao}, {nao}] for this system "
                         f"({nao} basis functions), got shape {D.shape}")
    if not jnp.issubdtype(D.dtype, jnp.floating):
        raise TypeError(f"qpt.dft: {name} must be a float array, got {D.dtype}")
    require_symmetric("qpt.dft", name, D)


def check_matrix(system, M, name):
    check_density(system, M, name)
