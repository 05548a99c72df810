"""The QPT loss: no labels, the DFT energy itself.

H = H_init + W(params); D1 = dm(H); D2 = (D1 + dm(F(D1)))/2; D3 = dm(F(D2)); loss = E(D3). E is
variational, so E(D3) is lowest when D3 is the self-consistent density, and the network learns the W
that makes two cheap Fock iterations land there. That is the paper's scheme; a LossScheme
(qpt.train.scheme) sets H_init and the iterations (count and mixing) otherwise. The DFT runs only through `ops` (qpt.ops or
qpt.ops.reference), in `dtype` (float64 unless asked), whatever the network's own dtype.
"""
import functools

import jax
import jax.numpy as jnp

from qpt.dft import precision
from qpt.dft.iterations import dft_iterations
from qpt.dft.xc import tabulate_within
from qpt.model import hamiltonian_correction
from qpt.train.features import quantum_features
from qpt.train.scheme import PAPER_SCHEME


def predicted_hamiltonian(params, model_config, features, *, dtype=None):
    """H = H_init + W in the DFT dtype; params None gives the no-network baseline H = H_init (W = 0)."""
    dtype = precision.resolve(dtype)
    h_init = jnp.asarray(features.initial_hamiltonian, dtype)
    if params is None:
        return h_init
    return h_init + hamiltonian_correction(params, model_config, features.inputs).astype(dtype)


def qpt_iterations(params, model_config, system, features, functional, *, ops, dtype=None,
                   scheme=PAPER_SCHEME):
    """qpt.dft.IterationResult (E(D3) terms, F(D3), D3) for the network's H (params None: W = 0)."""
    hamiltonian = predicted_hamiltonian(params, model_config, features, dtype=dtype)
    return dft_iterations(system, hamiltonian, functional, mixing=scheme.mixing, ops=ops, dtype=dtype)


def qpt_loss(params, model_config, system, features, functional, *, ops, dtype=None, scheme=PAPER_SCHEME):
    """(E(D3) in Hartree, IterationResult) — use with jax.value_and_grad(..., has_aux=True). `features`
    must come from quantum_features with the same scheme."""
    result = qpt_iterations(params, model_config, system, features, functional, ops=ops, dtype=dtype,
                            scheme=scheme)
    return result.terms.total, result


def geometry_prediction(model_config, functional, *, ops, dtype=None, scheme=PAPER_SCHEME, grid_table_bytes=0):
    """(params, system, token_ids, positions) -> IterationResult of one geometry, features included (not
    jitted, so that callers can vmap it over conformers first); params None is the W = 0 baseline. With
    grid_table_bytes, a geometry whose AO table fits is tabulated once for its XC passes (the same results;
    qpt.dft.xc.tabulate_within); a caller that vmaps over B conformers passes its budget divided by B."""
    def predict(params, system, token_ids, positions):
        system = tabulate_within(system, ops, dtype, grid_table_bytes)
        features = quantum_features(system, token_ids, positions, functional, ops=ops, dtype=dtype, scheme=scheme)
        return qpt_iterations(params, model_config, system, features, functional, ops=ops, dtype=dtype,
                              scheme=scheme)

    return predict


@functools.lru_cache(maxsize=8)  # one compiled predictor per configuration, shared by trainer and evaluation
def make_predictor(model_config, functional, *, ops, dtype=None, scheme=PAPER_SCHEME, grid_table_bytes=0):
    """jitted geometry_prediction: one geometry per call."""
    return jax.jit(geometry_prediction(model_config, functional, ops=ops, dtype=dtype, scheme=scheme,
                                       grid_table_bytes=grid_table_bytes))
