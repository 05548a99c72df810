"""What the QPT loss iterates: the Hamiltonian the network corrects, and the Kohn-Sham iterations after it.

The paper's scheme (the default): H_init = F(D0) at the minao density, then two iterations with mixing
(0.5, 0.0) (qpt.dft.iterations). The experiments of the benchmark vary both: the number of iterations
(1, 2, 4, 8, 16, with `default_mixing`), the core Hamiltonian as H_init (no J, K or V_xc of a guess
density: the network must learn all of it), and F(D0) plus a random symmetric perturbation (how much of
the network's work is undoing a bad start).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from qpt.dft.iterations import PAPER_MIXING

INITIAL_HAMILTONIANS = ("minao", "core", "perturbed")
DEFAULT_PERTURBATION_HA = 0.01  # std of the perturbation's off-diagonal elements
MAX_ITERATIONS = 64


def default_mixing(iterations: int) -> tuple:
    """The paper's scheme extended to `iterations` Fock builds after D1: half mixing, then none in the
    last, so iterations = 2 gives the paper's (0.5, 0.0) and the output is always a pure dm(F(D))."""
    return (0.5,) * (iterations - 1) + (0.0,)


@dataclass(frozen=True)
class LossScheme:
    """Hashable (the compiled step and predictor are cached per scheme)."""

    mixing: tuple = PAPER_MIXING       # one weight per iteration (qpt.dft.dft_iterations)
    initial_hamiltonian: str = "minao"  # "minao": F(D0); "core": h; "perturbed": F(D0) + P
    perturbation_ha: float = DEFAULT_PERTURBATION_HA  # "perturbed": std of P's off-diagonal elements
    seed: int = 0                       # "perturbed": P is a fixed function of (seed, geometry)

    def __post_init__(self):
        try:
            mixing = tuple(float(alpha) for alpha in self.mixing)
        except (TypeError, ValueError):
            raise ValueError(f"loss scheme: mixing must be a sequence of numbers, got {self.mixing!r}") from None
        if not 1 <= len(mixing) <= MAX_ITERATIONS or any(not 0.0 <= alpha < 1.0 for alpha in mixing):
            raise ValueError(f"loss scheme: mixing needs 1 to {MAX_ITERATIONS} weights in [0, 1), got {self.mixing!r}")
        object.__setattr__(self, "mixing", mixing)
        if self.initial_hamiltonian not in INITIAL_HAMILTONIANS:
            raise ValueError(f"loss scheme: initial_hamiltonian must be one of {INITIAL_HAMILTONIANS}, got "
                             f"{self.initial_hamiltonian!r}")
        if not (isinstance(self.perturbation_ha, (int, float)) and math.isfinite(self.perturbation_ha)
                and self.perturbation_ha > 0):
            raise ValueError(f"loss scheme: perturbation_ha must be a positive number, got {self.perturbation_ha!r}")

    @property
    def iterations(self) -> int:
        return len(self.mixing)

    def describe(self) -> str:
        start = {"minao": "H_init = F(D0, minao)", "core": "H_init = core Hamiltonian",
                 "perturbed": f"H_init = F(D0) + P (std {self.perturbation_ha:g} Ha)"}[self.initial_hamiltonian]
        return f"{start}, {self.iterations} iterations, mixing {self.mixing}"


PAPER_SCHEME = LossScheme()


def _geometry_key(seed: int, positions):
    """A PRNG key that is a fixed function of (seed, the geometry's AO positions): the same geometry gets
    the same perturbation in training, evaluation and prediction, and different geometries differ."""
    bits = jax.lax.bitcast_convert_type(jnp.asarray(positions, jnp.float32), jnp.uint32).ravel()
    weights = 2 * jnp.arange(bits.size, dtype=jnp.uint32) + 1  # odd, so every bit of every value counts
    return jax.random.fold_in(jax.random.key(seed), jnp.sum(bits * weights))  # uint32 sums wrap


def initial_hamiltonian(scheme: LossScheme, core_hamiltonian, minao_fock, positions):
    """The H_init of `scheme` for one geometry (no batch axis)."""
    if scheme.initial_hamiltonian == "core":
        return core_hamiltonian
    if scheme.initial_hamiltonian == "minao":
        return minao_fock
    n = minao_fock.shape[-1]
    noise = jax.random.normal(_geometry_key(scheme.seed, positions), (n, n), minao_fock.dtype)
    return minao_fock + scheme.perturbation_ha * (noise + noise.T) / math.sqrt(2.0)
