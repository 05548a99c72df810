"""E(D) and F(D) against PySCF's RKS energy functional and Fock matrix at the same density and grid."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from systems import pyscf_rks, system

from qpt import ops
from qpt.dft import energy, energy_and_fock, fock
from qpt.ops import reference

FUNCTIONALS = ["lda", "pbe", "b3lyp5", "b3lyp"]
MOLECULES = ["water", "ethanol", "benzene", "uracil"]
BASES = ["sto-3g", "6-31g*", "def2-svp"]


def _compare_with_pyscf(name, basis, backend):
    sys_ = system(name, basis)
    d0 = np.asarray(sys_.minao_density)
    for xc in FUNCTIONALS:
        mf = pyscf_rks(name, basis, xc)
        terms, f = jax.jit(lambda s, d: energy_and_fock(s, d, xc, ops=backend))(sys_, d0)
        assert abs(float(terms.total) - mf.energy_tot(dm=d0)) < 1e-6, (name, basis, xc)
        np.testing.assert_allclose(f, mf.get_fock(dm=d0), atol=1e-6, err_msg=f"{name} {basis} {xc}")


@pytest.mark.parametrize("basis", BASES)
@pytest.mark.parametrize("name", MOLECULES)
def test_energy_and_fock_match_pyscf(name, basis):
    _compare_with_pyscf(name, basis, ops)


def test_reference_ops_give_the_same_energy_and_fock():
    sys_ = system("water", "6-31g*")
    d0 = sys_.minao_density
    kernel_terms, kernel_fock = energy_and_fock(sys_, d0, "b3lyp5", ops=ops)
    reference_terms, reference_fock = energy_and_fock(sys_, d0, "b3lyp5", ops=reference)
    assert abs(float(kernel_terms.total - reference_terms.total)) < 1e-10
    np.testing.assert_allclose(kernel_fock, reference_fock, atol=1e-10)


def test_fock_is_the_gradient_of_the_energy():
    sys_ = system("water", "6-31g*")
    d0 = sys_.minao_density
    gradient = jax.grad(lambda d: energy(sys_, (d + d.T) / 2, "pbe"))(d0)
    np.testing.assert_allclose(gradient, fock(sys_, d0, "pbe"), atol=1e-9)


@pytest.mark.parametrize("xc", ["lda", "b3lyp5"])
def test_energy_gradients_to_second_order(xc):
    sys_ = system("water", "sto-3g", grid_level=0)
    d0 = np.asarray(sys_.minao_density)
    check_grads(lambda d: energy(sys_, (d + d.T) / 2, xc), (d0,), order=2, modes=["rev"],
                atol=1e-5, rtol=1e-5)


def test_batched_densities():
    sys_ = system("water", "6-31g")
    d0 = np.asarray(sys_.minao_density)
    batch = np.stack([d0, 0.9 * d0])
    terms, f = energy_and_fock(sys_, batch, "b3lyp5")
    for b in range(2):
        single_terms, single_f = energy_and_fock(sys_, batch[b], "b3lyp5")
        assert abs(float(terms.total[b] - single_terms.total)) < 1e-10
        np.testing.assert_allclose(f[b], single_f, atol=1e-10)


def test_float32_policy():
    sys_ = system("water", "6-31g*")
    d0 = sys_.minao_density
    terms64, f64 = energy_and_fock(sys_, d0, "b3lyp5")
    terms32, f32 = energy_and_fock(sys_, d0, "b3lyp5", dtype=jnp.float32)
    assert f32.dtype == jnp.float32 and terms32.total.dtype == jnp.float32
    # float32 keeps ~7 digits: a 76 Ha energy to ~1e-4 Ha, Fock entries to ~1e-5.
    assert abs(float(terms32.total) - float(terms64.total)) < 1e-3
    assert float(jnp.max(jnp.abs(f32 - f64))) < 1e-4


@pytest.mark.parametrize("make,error,match", [
    (lambda d: d[:-1], ValueError, "must be"),
    (lambda d: d + np.triu(np.ones_like(d), 1), ValueError, "symmetric"),
    (lambda d: d.astype(np.int64), TypeError, "float"),
    (lambda d: np.zeros((3, 3)), ValueError, "basis functions"),
])
def test_bad_density_raises(make, error, match):
    sys_ = system("water", "sto-3g", grid_level=0)
    with pytest.raises(error, match=match):
        energy(sys_, make(np.asarray(sys_.minao_density)), "lda")


def test_unknown_functional_and_dtype_raise():
    sys_ = system("water", "sto-3g", grid_level=0)
    with pytest.raises(ValueError, match="unknown|Unknown"):
        energy(sys_, sys_.minao_density, "m06-2x-not-here")
    with pytest.raises(TypeError, match="float32 or float64"):
        energy(sys_, sys_.minao_density, "lda", dtype=jnp.int32)
