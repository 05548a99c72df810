"""qpt.dft with every two-electron engine: density fitting against PySCF's density-fitted RKS, the
integral-direct SCF against the packed one, and the iterations' orbital path for K."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pyscf import dft as pyscf_dft

from qpt import ops
from qpt.dft import dft_iterations, energy_and_fock, run_scf
from qpt.dft.two_electron import coulomb_exchange
from qpt.ops import reference
from qpt.system import Molecule, System

JKFIT = "def2-universal-jkfit"


@functools.lru_cache(maxsize=None)
def _system(name, basis, jk, grid_level=1):
    return System.from_molecule(Molecule.from_catalog(name), basis=basis, grid_level=grid_level, jk=jk)


def _pyscf_df_rks(name, basis, xc, grid_level=1):
    mf = pyscf_dft.RKS(Molecule.from_catalog(name).to_pyscf(basis)).density_fit(auxbasis=JKFIT)
    mf.xc, mf.grids.level, mf.verbose = xc, grid_level, 0
    mf.grids.build()
    return mf


@pytest.mark.parametrize("name", ["water", "ethanol"])
def test_density_fitted_energy_and_fock_match_pyscf(name):
    system = _system(name, "def2-svp", "df")
    assert system.two_electron.auxbasis == JKFIT
    d0 = np.asarray(system.minao_density)
    for xc in ("b3lyp5", "pbe"):
        mf = _pyscf_df_rks(name, "def2-svp", xc)
        terms, fock = jax.jit(lambda s, d: energy_and_fock(s, d, xc))(system, d0)
        assert abs(float(terms.total) - mf.energy_tot(dm=d0)) < 1e-8, (name, xc)
        np.testing.assert_allclose(fock, mf.get_fock(dm=d0), rtol=0, atol=1e-8, err_msg=f"{name} {xc}")


def test_density_fitted_scf_matches_pyscf():
    system = _system("water", "def2-svp", "df")
    mf = _pyscf_df_rks("water", "def2-svp", "b3lyp5")
    mf.conv_tol = 1e-12
    pyscf_energy = mf.kernel()
    result = run_scf(system, "b3lyp5", energy_tolerance=1e-11, commutator_tolerance=1e-8)
    assert result.converged
    assert abs(result.energy - pyscf_energy) < 1e-8
    np.testing.assert_allclose(result.fock, mf.get_fock(), atol=1e-6)


def test_integral_direct_scf_matches_packed_scf():
    energies = {}
    for jk in ("packed", "direct"):
        result = run_scf(_system("water", "def2-svp", jk), "b3lyp5", energy_tolerance=1e-11,
                         commutator_tolerance=1e-8)
        assert result.converged
        energies[jk] = result.energy
    assert abs(energies["direct"] - energies["packed"]) < 1e-8


def test_every_engine_gives_the_same_j_and_k_within_its_accuracy():
    packed, df, direct = (_system("water", "def2-svp", jk, grid_level=0) for jk in ("packed", "df", "direct"))
    d0 = jnp.asarray(packed.minao_density)
    j_packed, k_packed = coulomb_exchange(packed, d0)
    j_direct, k_direct = coulomb_exchange(direct, d0)
    np.testing.assert_allclose(j_direct, j_packed, atol=1e-10)
    np.testing.assert_allclose(k_direct, k_packed, atol=1e-10)
    j_df, k_df = coulomb_exchange(df, d0)
    assert 1e-7 < np.max(np.abs(j_df - j_packed)) < 1e-2  # the fitting error: small, but not round-off


def test_iterations_use_the_orbitals_for_k_and_agree_with_the_general_path():
    """dft_iterations passes the orbitals' factor to the density-fitted K; the result must be what the
    same iterations give from the densities alone (written out here without factors)."""
    system = _system("water", "def2-svp", "df", grid_level=0)
    _, h_init = energy_and_fock(system, system.minao_density, "b3lyp5")
    out = dft_iterations(system, h_init, "b3lyp5")

    def dm(f):
        return ops.density_matrix(f, system.orthogonalizer, system.n_occ)[0]

    d1 = dm(h_init)
    d2 = 0.5 * d1 + 0.5 * dm(energy_and_fock(system, d1, "b3lyp5")[1])
    d3 = dm(energy_and_fock(system, d2, "b3lyp5")[1])
    terms, fock = energy_and_fock(system, d3, "b3lyp5")
    assert abs(float(out.terms.total) - float(terms.total)) < 1e-10
    np.testing.assert_allclose(out.fock, fock, atol=1e-9)
    twin = dft_iterations(system, h_init, "b3lyp5", ops=reference)
    assert abs(float(out.terms.total) - float(twin.terms.total)) < 1e-10


def test_gradient_through_iterations_matches_the_twin_for_density_fitting():
    system = _system("water", "sto-3g", "df", grid_level=0)
    _, h_init = energy_and_fock(system, system.minao_density, "b3lyp5")

    def loss(h, backend):
        return dft_iterations(system, (h + h.T) / 2, "b3lyp5", ops=backend).terms.total

    grad = jax.grad(loss)(h_init, ops)
    np.testing.assert_allclose(grad, jax.grad(loss)(h_init, reference), atol=1e-9)
    assert np.all(np.isfinite(grad)) and np.max(np.abs(grad)) > 1e-4


def test_the_direct_engine_has_no_pure_jax_twin():
    system = _system("water", "sto-3g", "direct", grid_level=0)
    with pytest.raises(ValueError, match="no pure-JAX twin"):
        energy_and_fock(system, system.minao_density, "b3lyp5", ops=reference)
