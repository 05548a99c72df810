"""Reference self-consistent field solver (closed-shell Kohn-Sham) for labels and demos.

Pulay DIIS on the commutator FDS - SDF with an optional level shift, from the System's minao guess.
The loop runs in Python around a jitted Fock build, so any `ops` backend and dtype can drive it; it is
not meant to be differentiated (the QPT loss differentiates a fixed number of iterations instead, see
`qpt.dft.iterations`).
"""
import functools
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from qpt import ops as kernel_ops
from qpt.dft import precision
from qpt.dft.energy import EnergyTerms, energy_and_fock
from qpt.dft.functionals import resolve_functional
from qpt.dft.two_electron import closed_shell_factor


class ScfResult(NamedTuple):
    energy: float             # converged total energy (Hartree)
    terms: EnergyTerms
    fock: np.ndarray          # F(D) at the converged density: the label Hamiltonian
    density: np.ndarray
    orbital_energies: np.ndarray
    orbitals: np.ndarray
    iterations: int
    converged: bool


class _Diis:
    """Pulay extrapolation over the last `space` Fock matrices."""

    def __init__(self, space):
        self.space = space
        self.focks, self.errors = [], []

    def extrapolate(self, fock, error):
        self.focks.append(fock)
        self.errors.append(error.ravel())
        if len(self.focks) > self.space:
            self.focks.pop(0)
            self.errors.pop(0)
        count = len(self.focks)
        if count < 2:
            return fock
        b = np.zeros((count + 1, count + 1))
        b[:count, :count] = [[e1 @ e2 for e2 in self.errors] for e1 in self.errors]
        b[count, :count] = b[:count, count] = -1.0
        rhs = np.zeros(count + 1)
        rhs[count] = -1.0
        coefficients = np.linalg.lstsq(b, rhs, rcond=None)[0][:count]
        return sum(c * f for c, f in zip(coefficients, self.focks))


@functools.lru_cache(maxsize=None)
def _jitted_steps(functional, ops, dtype):
    """The jitted Fock build and diagonalisation, shared by every run_scf call with these settings (label
    generation converges one SCF per geometry; re-tracing both functions for each would dominate small cases)."""
    build = jax.jit(lambda s, d, factor: energy_and_fock(s, d, functional, ops=ops, dtype=dtype,
                                                         density_factor=factor))
    diagonalise = jax.jit(lambda f, x, n_occ: ops.density_matrix(f, x, n_occ), static_argnums=2)
    return build, diagonalise


def run_scf(system, xc="b3lyp5", *, ops=kernel_ops, dtype=None, max_iterations: int = 100,
            energy_tolerance: float = 1e-10, commutator_tolerance: float = 1e-7, diis_space: int = 8,
            level_shift: float = 0.0, initial_density: Optional[np.ndarray] = None,
            callback=None) -> ScfResult:
    """Converges the Kohn-Sham equations of `system` with functional `xc`.

    callback(iteration, energy, commutator_norm), if given, is called every iteration (progress output).
    """
    dtype = precision.resolve(dtype)
    if max_iterations < 1:
        raise ValueError(f"run_scf: max_iterations must be >= 1, got {max_iterations}")
    functional = resolve_functional(xc)
    build, diagonalise_with = _jitted_steps(functional, ops, dtype)

    def diagonalise(f, x):
        return diagonalise_with(f, x, system.n_occ)

    overlap = np.asarray(system.overlap, dtype=np.float64)
    orthogonalizer = jnp.asarray(system.orthogonalizer, dtype)
    density = np.asarray(system.minao_density if initial_density is None else initial_density)
    factor = None  # D = F F^T once the density comes from orbitals (qpt.dft.two_electron)
    diis = _Diis(diis_space)
    previous_energy, converged = None, False
    for iteration in range(1, max_iterations + 1):
        terms, fock = build(system, jnp.asarray(density, dtype), factor)
        fock = np.asarray(fock, dtype=np.float64)
        total = float(terms.total)
        commutator = fock @ density @ overlap - overlap @ density @ fock
        x = np.asarray(orthogonalizer, dtype=np.float64)
        commutator_norm = float(np.linalg.norm(x.T @ commutator @ x))
        if callback is not None:
            callback(iteration, total, commutator_norm)
        if (previous_energy is not None and abs(total - previous_energy) < energy_tolerance
                and commutator_norm < commutator_tolerance):
            converged = True
            break
        previous_energy = total
        shifted = diis.extrapolate(fock, x.T @ commutator @ x)
        if level_shift:
            shifted = shifted + level_shift * (overlap - 0.5 * overlap @ density @ overlap)
        density, _, orbitals = diagonalise(jnp.asarray(shifted, dtype), orthogonalizer)
        density, factor = np.asarray(density), closed_shell_factor(orbitals, system.n_occ)

    d_final = jnp.asarray(density, dtype)
    terms, fock = build(system, d_final, factor)
    _, eps, coefficients = diagonalise(fock, orthogonalizer)
    return ScfResult(float(terms.total), terms, np.asarray(fock), np.asarray(density), np.asarray(eps),
                     np.asarray(coefficients), iteration, converged)
