"""The reference SCF solver against PySCF's converged RKS, and the differentiable iteration block."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from systems import pyscf_rks, system

from qpt.dft import dft_iterations, energy_and_fock, run_scf
from qpt.ops import reference


@pytest.mark.parametrize("xc", ["lda", "pbe", "b3lyp5", "b3lyp"])
def test_converged_energy_and_fock_match_pyscf(xc):
    sys_ = system("water", "6-31g*")
    mf = pyscf_rks("water", "6-31g*", xc)
    mf.conv_tol = 1e-12
    pyscf_energy = mf.kernel()
    result = run_scf(sys_, xc, energy_tolerance=1e-11, commutator_tolerance=1e-8)
    assert result.converged
    assert abs(result.energy - pyscf_energy) < 1e-6
    np.testing.assert_allclose(result.fock, mf.get_fock(), atol=1e-6)
    occupied = slice(0, sys_.n_occ)
    np.testing.assert_allclose(result.orbital_energies[occupied], mf.mo_energy[occupied], atol=1e-6)


def test_converged_energy_matches_pyscf_for_a_larger_molecule():
    sys_ = system("uracil", "def2-svp")
    mf = pyscf_rks("uracil", "def2-svp", "b3lyp5")
    mf.conv_tol = 1e-11
    pyscf_energy = mf.kernel()
    result = run_scf(sys_, "b3lyp5")
    assert result.converged
    assert abs(result.energy - pyscf_energy) < 1e-6
    np.testing.assert_allclose(result.fock, mf.get_fock(), atol=1e-6)


def test_scf_reports_progress_and_rejects_bad_settings():
    sys_ = system("water", "sto-3g", grid_level=0)
    seen = []
    result = run_scf(sys_, "lda", callback=lambda i, e, g: seen.append((i, e, g)))
    assert result.converged and len(seen) == result.iterations
    with pytest.raises(ValueError, match="max_iterations"):
        run_scf(sys_, "lda", max_iterations=0)


def test_iterations_from_converged_fock_stay_converged():
    sys_ = system("water", "6-31g*")
    result = run_scf(sys_, "b3lyp5", energy_tolerance=1e-11, commutator_tolerance=1e-8)
    out = dft_iterations(sys_, result.fock, "b3lyp5")
    assert abs(float(out.terms.total) - result.energy) < 1e-8
    np.testing.assert_allclose(out.fock, result.fock, atol=1e-6)


def test_iterations_match_the_paper_scheme_written_out():
    sys_ = system("water", "6-31g", grid_level=0)
    _, h_init = energy_and_fock(sys_, sys_.minao_density, "b3lyp5")
    out = dft_iterations(sys_, h_init, "b3lyp5")

    def dm(f):
        eps, c = np.linalg.eigh(np.asarray(sys_.orthogonalizer).T @ np.asarray(f) @ np.asarray(sys_.orthogonalizer))
        c = np.asarray(sys_.orthogonalizer) @ c[:, :sys_.n_occ]
        return 2 * c @ c.T

    def f_of(d):
        return energy_and_fock(sys_, d, "b3lyp5")[1]

    d1 = dm(h_init)
    d2 = 0.5 * (d1 + dm(f_of(d1)))
    d3 = dm(f_of(d2))
    terms, f3 = energy_and_fock(sys_, d3, "b3lyp5")
    np.testing.assert_allclose(out.density, d3, atol=1e-9)
    assert abs(float(out.terms.total - terms.total)) < 1e-9


def test_energy_through_iterations_is_differentiable_in_the_fock_matrix():
    sys_ = system("water", "sto-3g", grid_level=0)
    _, h_init = energy_and_fock(sys_, sys_.minao_density, "b3lyp5")
    h_init = np.asarray(h_init)

    def loss(h):
        return dft_iterations(sys_, (h + h.T) / 2, "b3lyp5").terms.total

    check_grads(loss, (h_init,), order=1, modes=["rev"], atol=1e-5, rtol=1e-5)
    kernel_gradient = jax.grad(loss)(h_init)
    reference_gradient = jax.grad(
        lambda h: dft_iterations(sys_, (h + h.T) / 2, "b3lyp5", ops=reference).terms.total)(h_init)
    np.testing.assert_allclose(kernel_gradient, reference_gradient, atol=1e-8)


def test_second_order_through_iterations():
    sys_ = system("water", "sto-3g", grid_level=0)
    _, h_init = energy_and_fock(sys_, sys_.minao_density, "lda")
    check_grads(lambda h: dft_iterations(sys_, (h + h.T) / 2, "lda", mixing=(0.5,)).terms.total,
                (np.asarray(h_init),), order=2, modes=["rev"], atol=1e-4, rtol=1e-4)


def test_iteration_settings_are_checked():
    sys_ = system("water", "sto-3g", grid_level=0)
    with pytest.raises(ValueError, match="mixing"):
        dft_iterations(sys_, sys_.core_hamiltonian, "lda", mixing=(1.5,))
    with pytest.raises(ValueError, match="hamiltonian"):
        dft_iterations(sys_, jnp.zeros((2, 2)), "lda")
