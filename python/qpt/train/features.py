"""The network's inputs for one geometry: AO tokens plus the quantum bias matrices, and H_init.

Everything here is a constant of the geometry (no parameter enters), computed inside the jitted training
step with the same `ops` as the loss. One Fock build at the minao density D0 (qpt.dft.energy.fock_terms, the
one qpt.dft itself uses) gives both the bias matrices and F(D0) = h + J - a/2 K + V_xc, which is H_init in
the paper's scheme (qpt.train.scheme has the others).
"""
from typing import NamedTuple

import jax
import jax.numpy as jnp

from qpt.dft import precision
from qpt.dft.energy import fock_terms
from qpt.model import ModelInputs, normalised_bias_stack
from qpt.train.scheme import PAPER_SCHEME, initial_hamiltonian


class QuantumFeatures(NamedTuple):
    inputs: ModelInputs                # what the Transformer reads
    initial_hamiltonian: jnp.ndarray   # H_init [N, N] of the loss scheme (paper: F(D0)), DFT dtype


def quantum_features(system, token_ids, positions, functional, *, ops, dtype=None,
                     scheme=PAPER_SCHEME, token_mask=None) -> QuantumFeatures:
    """Features of `system` (one geometry, no batch axis); token_ids [N], positions [N, 3] from
    qpt.model.TokenLayout. `functional` is a qpt.dft.functionals Functional, `scheme` a
    qpt.train.scheme.LossScheme (which H_init). token_mask [N] bool: the real AOs of a padded System
    (qpt.data.padding), so that the ghosts change neither the biases nor the network's output."""
    dtype = precision.resolve(dtype)
    system = precision.cast_floats(system, dtype)
    d0 = system.minao_density
    h = system.core_hamiltonian
    x = system.orthogonalizer
    # K is a bias input even for functionals without exact exchange.
    j, k, _, v_xc, fock_d0 = fock_terms(system, d0, functional, ops, with_k=True)
    positions = jnp.asarray(positions, dtype)
    if token_mask is not None:
        if scheme.initial_hamiltonian == "perturbed":
            raise ValueError("a padded System needs H_init 'minao' or 'core': a random perturbation of its "
                             "shape would couple the ghost AOs to the molecule")
        token_mask = jnp.asarray(token_mask, bool)
    h_init = initial_hamiltonian(scheme, h, fock_d0, positions)
    biases = normalised_bias_stack({
        "core_hamiltonian": h,
        "position_gram": positions @ positions.T,
        "orthogonal_core_hamiltonian": x.T @ h @ x,
        "minao_density": d0,
        "coulomb_exchange": j - 0.5 * k,
        "xc_potential": v_xc,
        "initial_hamiltonian": h_init,
    }, token_mask)
    inputs = ModelInputs(jnp.asarray(token_ids, jnp.int32), positions, biases, token_mask)
    # Constants of the geometry: nothing upstream of the network is differentiated.
    return jax.lax.stop_gradient(QuantumFeatures(inputs, h_init))
