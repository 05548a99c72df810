"""The QPT iteration block: a fixed number of differentiable Kohn-Sham iterations from a Fock matrix.

From H (the network's Hamiltonian in QPT): D1 = dm(H), then for each mixing weight alpha
D <- alpha D + (1 - alpha) dm(F(D)), and finally E(D) and F(D). The paper's scheme is
mixing = (0.5, 0.0): D2 = (D1 + dm(F(D1)))/2, D3 = dm(F(D2)), loss E(D3), output F(D3).
Every step goes through `ops`, so with qpt.ops the kernels carry the forward and backward cost.
"""
from typing import NamedTuple

import jax.numpy as jnp

from qpt import ops as kernel_ops
from qpt.dft import precision
from qpt.dft.energy import EnergyTerms, assemble_energy_and_fock
from qpt.dft.functionals import resolve_functional
from qpt.dft.two_electron import closed_shell_factor, mixed_factor
from qpt.dft.validation import check_matrix

PAPER_MIXING = (0.5, 0.0)


class IterationResult(NamedTuple):
    terms: EnergyTerms   # energy of the final density
    fock: jnp.ndarray    # F of the final density (QPT's output Hamiltonian)
    density: jnp.ndarray


def dft_iterations(system, hamiltonian, xc="b3lyp5", *, mixing=PAPER_MIXING, ops=kernel_ops,
                   dtype=None, **density_matrix_options) -> IterationResult:
    """len(mixing) + 1 Fock builds starting from `hamiltonian` [..., n, n]; differentiable in it.

    The System and the Hamiltonian are checked and cast to `dtype` once, here; the Fock builds in between
    take them as they are (qpt.dft.energy.assemble_energy_and_fock)."""
    dtype = precision.resolve(dtype)
    functional = resolve_functional(xc)
    check_matrix(system, hamiltonian, "hamiltonian")
    mixing = tuple(float(alpha) for alpha in mixing)
    if any(not 0.0 <= alpha < 1.0 for alpha in mixing):
        raise ValueError(f"dft_iterations: mixing weights must lie in [0, 1), got {mixing}")
    cast_system = precision.cast_floats(system, dtype)
    x = cast_system.orthogonalizer

    # With integer occupations every density here is D = F F^T for a factor F known from the orbitals (a
    # mixture's factor stacks its parts'), which the density-fitted engine uses for K.
    integer_occupations = density_matrix_options.get("smearing_temperature") is None

    def density_of(f):
        d, _, orbitals = ops.density_matrix(f, x, system.n_occ, **density_matrix_options)
        return d, (closed_shell_factor(orbitals, system.n_occ) if integer_occupations else None)

    density, factor = density_of(precision.cast_input(hamiltonian, dtype, "hamiltonian"))
    for alpha in mixing:
        _, f = assemble_energy_and_fock(cast_system, density, functional, ops, factor)
        new_density, new_factor = density_of(f)
        density = alpha * density + (1.0 - alpha) * new_density
        factor = None if factor is None else mixed_factor(alpha, factor, new_factor)
    terms, f = assemble_energy_and_fock(cast_system, density, functional, ops, factor)
    return IterationResult(terms, f, density)
